-- Fixture: a review hook that raises an error on every call.
function review(item)
  error("the review hook is broken on purpose")
end
