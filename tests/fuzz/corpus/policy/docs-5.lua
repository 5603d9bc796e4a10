-- policies/10-tag.lua
local util = require("util")
local T = thresholds

function tag(item)
  local age = item.signals["face.age"]
  if age and age < T.minor_age then
    item:tag("minor", util.clamp(item.signals["face.confidence"] or 0.8, 0, 1))
    item:reason("a face looks younger than " .. T.minor_age)
  end
  for _, m in ipairs(item.matches) do
    if m.kind == "keyword" then
      item:tag("kw." .. m.name, util.clamp(m.score, 0, 1))
    end
  end
  if item.title:lower():find("giveaway", 1, true) then
    item:tag("spam", 0.6)
  end
end
