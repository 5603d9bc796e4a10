function review(item)
  if item.tags["kw.slurs"] then
    item:reason("slur in the title")
    return "reject"          -- reason: "slur in the title"
  end
  return "approve"
end
