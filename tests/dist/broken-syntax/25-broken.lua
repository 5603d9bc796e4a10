-- Fixture: a syntax error on line 4, for reload and check.
function review(item)
  local x = 1
  return x +
end
