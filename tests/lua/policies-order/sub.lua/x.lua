-- In a subdirectory: must never load.
order = order or {}
order[#order + 1] = "sub.lua/x.lua"
