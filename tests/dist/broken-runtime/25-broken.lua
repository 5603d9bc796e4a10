-- Fixture: loads fine as text, fails while running on line 3.
local t = nil
local x = t.field
