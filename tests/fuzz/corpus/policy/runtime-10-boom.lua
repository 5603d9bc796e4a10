-- Fails at load, on line 4.
local limit = 10

local x = nope(limit)
