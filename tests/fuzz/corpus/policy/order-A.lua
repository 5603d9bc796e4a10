-- Load-order fixture: records that A.lua ran.
order = order or {}
order[#order + 1] = "A.lua"
