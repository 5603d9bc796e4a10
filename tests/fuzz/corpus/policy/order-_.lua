-- Load-order fixture: records that _.lua ran.
order = order or {}
order[#order + 1] = "_.lua"
