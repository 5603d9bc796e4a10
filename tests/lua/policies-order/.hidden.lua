-- Load-order fixture: records that .hidden.lua ran.
order = order or {}
order[#order + 1] = ".hidden.lua"
