-- Tag an upload from detector signals, plugin matches and the creator's standing.
local util = require("util")

function tag(item)
  local age = item.signals["face.age"]
  if age ~= nil and age < 18 then
    item:tag("minor", 0.9)
    item:reason("a face looks younger than 18")
  end
  for _, m in ipairs(item.matches) do
    if m.kind == "keyword" then
      item:tag("kw." .. m.name, util.clamp(m.score, 0, 1))
    end
  end
  if item.creator.rejections >= 3 then
    item:tag("risky_creator", 1)
  end
  if #item.hashes > 0 then
    item:tag("hashed", 0.5)
  end
  if item.title:lower():find("giveaway", 1, true) then
    item:tag("spam", 0.6)
  end
  -- The policy sees its own tags at once.
  assert(item.tags.hashed == nil or item.tags.hashed.source == "policy")
end
