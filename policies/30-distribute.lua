-- Distribution: the waves an approved item travels, and after each wave
-- (or as the evidence comes in) whether it goes on.
--
--   plan(item)                   -> the waves, in order
--   wave_done(item, wave, stats) -> "continue", "stop", a switch, or "wait"
--   traffic()                    -> the shares the mixed feed keeps, reports,
--                                   who counts as around
--
-- Sizes scale with the platform: item.platform.active is how many users
-- were seen in the last day, and the public waves reach a share of them,
-- growing fourfold, so the same file fits some thousands of users or
-- millions. A creator with no followers still gets every public wave.

local D = {
  followers_max = 100000,  -- the private domain: every follower, up to this
  nearby_share = 0.001,    -- same city: this share of the active users ...
  nearby_min = 20,         -- ... at least this many
  nearby_max = 500,        -- ... at most this many
  first_share = 0.002,     -- the first public wave: this share of the active users ...
  first_min = 50,          -- ... at least this many, so it can be judged
  first_max = 2000,
  growth = 4,              -- each public wave this many times the last
  reach = 0.3,             -- public waves stop growing at this share of the active users,
  reach_min = 2000,        -- or this many, whichever is more (a small platform: everyone)
  max_public = 6,
  interest_waves = 2,      -- the first public waves go to the item's interest, if it has one
  wave_seconds = 3600,     -- the followers wave ends after this long at the latest ...
  judged_seconds = 4 * 3600, -- ... a judged wave (nearby, public) after this long:
                           -- long enough for its users to come back and look, since
                           -- a wave that ends with too few looks has told little
  fill = 0.6,              -- ... or once this share of its users around saw it
  check = 20,              -- impressions before the first early look, then every doubling

  -- The sequential test: at least this many impressions before judging,
  -- and how sure it must be either way (z of a 90% two-sided interval).
  min_trials = 20,
  z = 1.64,
  -- A pool's baseline is its rate shrunk towards a prior worth this many
  -- impressions: a young pool's first looks neither set the bar alone nor
  -- leave it at the prior once they say otherwise.
  baseline_min_trials = 200,
  baseline_prior = 0.10,

  report_threshold = 3,    -- weighed reports that take an item back to people ...
  report_rate = 0.01,      -- ... and one per hundred of its audience: viewers report
                           -- what breaks the rules several times as often, and
                           -- everything else several times less often, so that a
                           -- handful of new accounts served one popular item
                           -- cannot pull it on their first reports
  active_s = 86400,        -- public waves go first to users seen in the last day
  away_s = 3 * 86400,      -- and never to users away longer; they do not hold a wave
  catchup_s = 86400,       -- a user back after a day away reads what their followed
                           -- creators posted meanwhile first, until it is read,
  catchup_below = 0.40,    -- while the node's feeds served under 40% from followed
                           -- creators: where followed items are plentiful the page
                           -- floors and private_target keep the share, and the
                           -- catch-up would only push it past half
}

local function clamp(x, lo, hi)
  if x < lo then return lo elseif x > hi then return hi else return x end
end

-- Interests of an item: its "interest.NAME" tags.
local function interests(item)
  local out = {}
  for name, t in pairs(item.tags or {}) do
    local i = name:match("^interest%.(.+)$")
    if i and t.confidence >= 0.5 then out[#out + 1] = i end
  end
  table.sort(out)
  return out
end

-- The public waves' sizes for a platform with `active` users around: from
-- the first, growing, until they reach D.reach of them together (a wave
-- that would leave too little for the next takes the rest).
local function sizes_for(active)
  local sizes, total = {}, 0
  local size = math.floor(clamp(active * D.first_share, D.first_min, D.first_max))
  local goal = math.ceil(math.max(active * D.reach, D.reach_min, size))
  while #sizes < D.max_public and total < goal do
    local n = math.min(size, goal - total)
    if goal - total - n < size * D.growth / 4 or #sizes + 1 == D.max_public then
      n = goal - total
    end
    sizes[#sizes + 1] = n
    total = total + n
    size = size * D.growth
  end
  return sizes
end

-- The active count moves slowly and the sizes follow it alone: the last
-- count's are kept (building them again was a seventh of plan's time).
local last_active, last_sizes

local function public_sizes(active)
  if active ~= last_active then
    last_active, last_sizes = active, sizes_for(active)
  end
  return last_sizes
end

function plan(item)
  local active = math.max(item.platform.active, 1)
  local waves = {
    -- The creator's own audience: no checkpoints, the public waves judge.
    { audience = "followers", size = math.min(math.max(item.creator.followers, 1), D.followers_max),
      limit_s = D.wave_seconds, fill = D.fill },
    { audience = "nearby", size = math.floor(clamp(active * D.nearby_share, D.nearby_min, D.nearby_max)),
      limit_s = D.judged_seconds, fill = D.fill, check = D.check },
  }
  local first = interests(item)[1]
  for i, size in ipairs(public_sizes(active)) do
    waves[#waves + 1] = {
      audience = (first and i <= D.interest_waves) and ("interest:" .. first) or "everyone",
      size = size,
      limit_s = D.judged_seconds,
      fill = D.fill,
      check = D.check,
      -- A child on screen was approved by people; look again before the
      -- item goes far beyond the creator's own circle.
      review = (i == 2 and item.tags["age.child"] ~= nil) or nil,
    }
  end
  return waves
end

-- The engagement rate against the pool's: the Wilson interval entirely
-- above it, or entirely below it, decides (lib/stats' sequential test).
local function sequential(s, n, rate)
  return rates.sequential{ successes = s, trials = n, baseline = rate,
                           method = "wilson", z = D.z, min_trials = D.min_trials }
end

-- The verdict on a wave: "continue", "stop" or "undecided", with the
-- numbers behind it.
local function judge(stats)
  local n = stats.impression
  local s = math.min(stats.engaged, n)
  local base = stats.baseline
  local rate = (base.rate * base.trials + D.baseline_prior * D.baseline_min_trials)
               / (base.trials + D.baseline_min_trials)
  if n < D.min_trials then
    return "undecided", n, s, rate, 0, 1
  end
  local t = sequential(s, n, rate)
  return t.verdict, n, s, rate, t.lower, t.upper
end

local function worse(item, wave, why)
  -- Worse than its pool here; a related audience may still like it once.
  if #wave.related > 0 and not wave.audience:find("^interest:") then
    return { decision = "switch", audience = "interest:" .. wave.related[1],
             reason = why .. "; trying " .. wave.related[1] }
  end
  return { decision = "stop", reason = why }
end

function wave_done(item, wave, stats)
  if wave.audience == "followers" then
    return { decision = "continue",
             reason = string.format("%d of the creator's followers saw it; the public waves judge",
                                    stats.impression) }
  end
  local verdict, n, s, rate, lo, hi = judge(stats)
  local early = wave.ended_by == "evidence"
  if verdict == "continue" then
    return { decision = "continue",
             reason = string.format("engagement %.3f (lower bound %.3f) beats the pool's %.3f%s",
                                    s / n, lo, rate, early and ", early" or "") }
  end
  if verdict == "stop" then
    return worse(item, wave, string.format("engagement %.3f (upper bound %.3f) below the pool's %.3f%s",
                                           s / n, hi, rate, early and ", early" or ""))
  end
  if early then
    return "wait"
  end
  -- The wave ended undecided.
  if n == 0 then
    -- Nobody looked: nothing to judge the item on. When time ran out, the
    -- audience was wrong rather than the item: try a related one.
    if wave.ended_by == "time" and #wave.related > 0 then
      return { decision = "switch", audience = "interest:" .. wave.related[1],
               reason = string.format("no impressions in %s", wave.audience) }
    end
    return { decision = "continue", reason = "no impressions: no verdict" }
  end
  -- Not sure, on many looks or few: the larger next wave costs more than
  -- this one told, so it goes on only if it did at least as well as its
  -- pool. Going on because too few looked would carry a poor item from
  -- wave to wave whenever its users are slow to come back.
  if s / n >= rate then
    return { decision = "continue",
             reason = string.format("engagement %.3f within [%.3f, %.3f], at least the pool's %.3f",
                                    s / n, lo, hi, rate) }
  end
  return worse(item, wave, string.format("engagement %.3f within [%.3f, %.3f], below the pool's %.3f",
                                         s / n, lo, hi, rate))
end

function traffic()
  return {
    -- Floors of each page, above the shares the platform should see overall
    -- (about 30% from followed creators, 70% of public traffic to ordinary
    -- ones): most pages have fewer followed or ordinary items than their
    -- floor, so the pages that have them must carry more.
    -- Heavy readers soon have read every followed item and read public
    -- ones; the share is made by the others: a user whose recent pages had
    -- less than private_target gets the followed items that bring them
    -- back to it, and one back after catchup_s their backlog first.
    private = 0.50,        -- at least this share from creators the user follows
    private_target = 0.50,
    ordinary = 0.80,       -- at least this share of the public part from outside the head
    head = 0.10,           -- the head: the top 10% of creators by followers
    report_threshold = D.report_threshold,
    report_rate = D.report_rate,
    active_s = D.active_s,
    away_s = D.away_s,
    catchup_s = D.catchup_s,
    catchup_below = D.catchup_below,
  }
end
