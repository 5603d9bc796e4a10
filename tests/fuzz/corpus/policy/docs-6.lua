-- policies/20-review.lua
local T = thresholds

function review(item)
  local minor = item.tags.minor
  if minor and minor.confidence >= 0.8 then
    return "review", { queue = "minors", priority = 90, reason = "possible minor on camera" }
  end
  for name, t in pairs(item.tags) do
    if name:sub(1, 3) == "kw." and t.confidence >= T.keyword_reject then
      return "reject", "keyword list " .. name:sub(4) .. " matched"
    end
  end
  if item.creator.followers >= T.established and item.creator.rejections == 0 then
    return "approve"
  end
  return "review", { queue = "new_creators", reason = "creator without a track record" }
end
