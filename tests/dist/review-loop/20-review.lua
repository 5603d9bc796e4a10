-- Fixture: a review hook that never returns; only the instruction budget ends it.
function review(item)
  while true do end
end
