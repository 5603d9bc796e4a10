-- Load-order fixture: records that 9-a.lua ran.
order = order or {}
order[#order + 1] = "9-a.lua"
