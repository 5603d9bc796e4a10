-- review(item): approve, reject, or hand the upload to people.
--
-- Reads what the plugins found (item.matches), the tags from tag(), the
-- raw signals and the creator's standing. The first rule that applies
-- decides; every decision carries a reason a moderator can act on.

local T = thresholds
local P = priority

local function strongest(matches, kind)
  local best
  for _, m in ipairs(matches or {}) do
    if m.kind == kind then
      if kind == "hash" then
        if not best or m.score < best.score then best = m end
      elseif not best or m.score > best.score then
        best = m
      end
    end
  end
  return best
end

local function people(queue, prio, reason)
  return { verdict = "review", queue = queue, priority = prio, reason = reason }
end

function review(item)
  local s = item.signals or {}

  local hash = strongest(item.matches, "hash")
  if hash and hash.score <= T.hash_reject_distance then
    return { verdict = "reject",
             reason = string.format("matches known-bad hash %s in bank %s (distance %d)",
                                    hash.detail, hash.name, math.tointeger(hash.score) or 0) }
  end

  local word = strongest(item.matches, "keyword")
  if word and word.score >= T.keyword_reject then
    return { verdict = "reject",
             reason = string.format("%s: '%s' in the %s", word.name, word.detail,
                                    word.field or "text") }
  end

  local nsfw = s["nsfw.score"] or 0
  if nsfw >= T.nsfw_reject then
    return { verdict = "reject", reason = string.format("nsfw.score %.2f", nsfw) }
  end

  local child = item.tags["age.child"]
  if child and child.confidence >= T.minor_review then
    return people("minors", P.minors, "a child may be on screen")
  end

  if hash and hash.score <= T.hash_review_distance then
    return people("hashes", P.hashes,
                  string.format("near known-bad hash in bank %s (distance %d)",
                                hash.name, math.tointeger(hash.score) or 0))
  end

  if nsfw >= T.nsfw_review then
    return people("nsfw", P.nsfw, string.format("nsfw.score %.2f", nsfw))
  end

  if word and word.score >= T.keyword_review then
    return people("text", P.text,
                  string.format("%s: '%s' in the %s", word.name, word.detail,
                                word.field or "text"))
  end

  local c = item.creator or {}
  if (c.rejections or 0) >= T.repeat_offender_rejections then
    return people("repeat_offenders", P.repeat_offenders,
                  string.format("creator has %d rejected uploads", c.rejections))
  end

  return "approve"
end
