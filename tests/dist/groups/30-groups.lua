-- Fixture: users grouped by the groups(user) hook, and a plan whose only
-- wave goes to such a group. Installed next to the shipped 00-thresholds,
-- 10-tag and 20-review.

local function has(list, x)
  for _, v in ipairs(list or {}) do
    if v == x then return true end
  end
  return false
end

function groups(user)
  if user.id == "boom" then
    error("groups is broken on purpose for boom")
  end
  if user.id == "junk" then
    return { "not a name" }
  end
  local out = {}
  if user.city == "porto" and has(user.interests, "jazz") then
    out[#out + 1] = "night-owls"
  end
  -- The default groups come in too: a policy may build on them.
  if has(user.groups, "interest:jazz") then
    out[#out + 1] = "jazz-any-city"
  end
  return out
end

function plan(item)
  local group = (item.title or ""):match("^to (%S+)$") or "night-owls"
  return { { audience = "group:" .. group, size = 100, limit_s = 600 } }
end

function wave_done(item, wave, stats)
  return { decision = "stop", reason = "one wave is enough here" }
end
