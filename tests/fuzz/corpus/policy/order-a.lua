-- Load-order fixture: records that a.lua ran.
order = order or {}
order[#order + 1] = "a.lua"

function loaded() return order end
