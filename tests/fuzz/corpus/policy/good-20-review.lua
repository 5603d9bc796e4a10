-- Decide from the tags: people look at anything doubtful.
function review(item)
  local tags = item.tags
  if tags.minor and tags.minor.confidence >= 0.8 then
    return { verdict = "review", queue = "minors", priority = 10,
             reason = "possible minor on camera" }
  end
  for name, t in pairs(tags) do
    if name:sub(1, 3) == "kw." and t.confidence >= 0.9 then
      item:reason("keyword list " .. name:sub(4) .. " matched")
      return "reject"
    end
  end
  local creator = item.creator
  if creator.followers >= 1000 and creator.rejections == 0 then
    return "approve"
  end
  return "review", { queue = "new_creators", reason = "creator without a track record" }
end
