-- Variant "head-heavy": the shipped policies, with one change: ordinary
-- creators get no share of public traffic. Only creators in the head (the
-- top 10% by followers, as traffic()'s head says) get waves beyond their
-- followers, and the mixed feed keeps no floor for ordinary creators
-- (traffic()'s ordinary = 0). Loaded after 30-distribute.lua, it wraps
-- plan() and traffic().
--
-- A policy sees one creator at a time, so the head is estimated from the
-- creators plan() has met so far: their follower counts, in buckets of a
-- quarter power of two.

local shipped_plan, shipped_traffic = plan, traffic
local HEAD = 0.10
local met, count, buckets = {}, 0, {}

local function bucket(followers)
  return math.floor(4 * math.log(followers + 1, 2))
end

local function in_head(creator)
  local mine = bucket(creator.followers or 0)
  if not met[creator.id] then
    met[creator.id] = true
    count = count + 1
    buckets[mine] = (buckets[mine] or 0) + 1
  end
  local above = 0
  for b, n in pairs(buckets) do
    if b > mine then above = above + n end
  end
  return above < HEAD * count
end

function plan(item)
  local waves = shipped_plan(item)
  if in_head(item.creator) then
    return waves
  end
  local out = {}
  for _, w in ipairs(waves) do
    if w.audience == "followers" then out[#out + 1] = w end
  end
  return out
end

function traffic()
  local t = shipped_traffic()
  t.ordinary = 0
  return t
end
