return "approve"
return "reject", "spam links in the description"
return "review", { queue = "minors", priority = 90, reason = "a child may be on screen" }
return { verdict = "review", queue = "text", priority = 50, reason = "keyword in title" }
