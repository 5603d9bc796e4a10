-- A syntax error on line 3.
function review(item)
  return = "approve"
end
