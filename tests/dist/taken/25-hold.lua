-- Fixture: an upload whose title says "hold" goes to people (queue
-- titles); every other upload is judged by the shipped review. Installed
-- after the shipped 20-review; the test deletes it and reloads to approve
-- what it held.

local shipped = review

function review(item)
  if (item.title or ""):find("hold", 1, true) then
    return { verdict = "review", queue = "titles", priority = 50,
             reason = "the title says hold" }
  end
  return shipped(item)
end
