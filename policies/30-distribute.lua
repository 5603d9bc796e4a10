-- Distribution: the waves an approved item travels, and after each wave
-- whether it goes on.
--
--   plan(item)                -> the waves, in order
--   wave_done(item, wave, stats) -> "continue", "stop", or a switch
--   traffic()                 -> the shares the mixed feed keeps
--
-- Sizes suit a platform of some thousands of users; a large one multiplies
-- them (the growth of about x10 a wave is what matters).

local D = {
  followers = 5000,      -- the private domain: everyone who follows, up to this
  nearby = 50,           -- same city
  first_public = 50,     -- every creator's first public wave, followers or not
  growth = 10,           -- each public wave this many times the last
  public_waves = 3,
  wave_seconds = 3600,
  -- The sequential test: at least this many impressions before judging,
  -- and how sure it must be either way.
  min_trials = 20,
  z = 1.64,              -- 90% two-sided Wilson interval
  -- Until a pool has seen this many impressions, its baseline is a prior.
  baseline_min_trials = 200,
  baseline_prior = 0.10,
  report_threshold = 3,
}

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

function plan(item)
  local waves = {
    { audience = "followers", size = D.followers, limit_s = D.wave_seconds },
    { audience = "nearby", size = D.nearby, limit_s = D.wave_seconds },
  }
  -- Public waves go to the item's interest group when it has one, else to
  -- everyone; a creator with no followers still reaches this first wave.
  local first = interests(item)[1]
  local size = D.first_public
  for i = 1, D.public_waves do
    waves[#waves + 1] = {
      audience = first and ("interest:" .. first) or "everyone",
      size = size,
      limit_s = D.wave_seconds * i,
      -- A child on screen was approved by people; look again before the
      -- item goes far beyond the creator's own circle.
      review = (i == 2 and item.tags["age.child"] ~= nil) or nil,
    }
    size = size * D.growth
  end
  return waves
end

function wave_done(item, wave, stats)
  local n = stats.impression
  local s = math.min(stats.engaged, n)
  local base = stats.baseline
  local rate = base.trials >= D.baseline_min_trials and base.rate or D.baseline_prior

  if n < D.min_trials then
    -- Too few looks to judge; when time ran out with this little interest
    -- the audience was wrong rather than the item: try a related one.
    if wave.ended_by == "time" and #wave.related > 0 then
      return { decision = "switch", audience = "interest:" .. wave.related[1],
               reason = string.format("only %d impressions in %s", n, wave.audience) }
    end
    return { decision = "continue", reason = string.format("only %d impressions: no verdict yet", n) }
  end

  -- The sequential test of the engagement rate against the pool's: the
  -- Wilson interval entirely above it, or entirely below it, decides.
  local t = stats.sequential{ successes = s, trials = n, baseline = rate,
                              method = "wilson", z = D.z, min_trials = D.min_trials }
  local lo, hi = t.lower, t.upper
  if t.verdict == "continue" then
    return { decision = "continue",
             reason = string.format("engagement %.3f (lower bound %.3f) beats the pool's %.3f", s / n, lo, rate) }
  end
  if t.verdict == "stop" then
    -- Worse than its pool here; a related audience may still like it once.
    if #wave.related > 0 and not wave.audience:find("^interest:") then
      return { decision = "switch", audience = "interest:" .. wave.related[1],
               reason = string.format("engagement %.3f (upper bound %.3f) below the pool's %.3f; trying %s",
                                      s / n, hi, rate, wave.related[1]) }
    end
    return { decision = "stop",
             reason = string.format("engagement %.3f (upper bound %.3f) below the pool's %.3f", s / n, hi, rate) }
  end
  -- Undecided: a wave the same size again would tell; the plan's growth is
  -- the cheaper next look.
  return { decision = "continue",
           reason = string.format("engagement %.3f within [%.3f, %.3f] of the pool's %.3f", s / n, lo, hi, rate) }
end

function traffic()
  return {
    private = 0.30,        -- at least this share from creators the user follows
    ordinary = 0.70,       -- at least this share of the public part from outside the head
    head = 0.10,           -- the head: the top 10% of creators by followers
    report_threshold = D.report_threshold,
  }
end
