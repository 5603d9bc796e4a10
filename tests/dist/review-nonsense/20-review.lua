-- Fixture: a review hook that answers something that is not a verdict.
function review(item)
  return { verdict = "maybe", queue = 42 }
end
