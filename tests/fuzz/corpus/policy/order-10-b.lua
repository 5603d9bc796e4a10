-- Load-order fixture: records that 10-b.lua ran.
order = order or {}
order[#order + 1] = "10-b.lua"
