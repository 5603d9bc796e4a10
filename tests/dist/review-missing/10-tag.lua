-- Fixture: policies with a tag hook and no review hook at all.
function tag(item)
  item:tag("fixture.seen", 1)
end
