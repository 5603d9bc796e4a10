-- Thresholds the shipped policies share. Tune here, then reload:
--   sluicectl policy check policies/00-thresholds.lua && sluicectl policy reload
-- Every number is a probability or score in [0, 1] unless it says otherwise.

thresholds = {
  -- A detector's signal must reach this before it becomes a tag.
  tag_min = 0.5,
  -- Two emotions this close are ambiguous (a happy hug or a farewell hug?):
  -- both are tagged, at reduced confidence, and neither is trusted alone.
  emotion_margin = 0.15,

  -- Ages (years) bounding the age tags.
  child_below = 13,
  teen_below = 18,
  senior_from = 65,
  -- A likely child on screen always goes to people in the "minors" queue.
  minor_review = 0.6,

  -- nsfw.score from the upstream detector.
  nsfw_reject = 0.9,
  nsfw_review = 0.5,

  -- Keyword lists carry their own severity (plugins/keyword); at or above
  -- reject_severity the upload is refused, at or above review_severity it
  -- goes to people.
  keyword_reject = 0.9,
  keyword_review = 0.5,

  -- Perceptual-hash matches (plugins/phash): Hamming distance in bits.
  hash_reject_distance = 4,
  hash_review_distance = 8,

  -- A creator with this many rejected uploads has every upload looked at.
  repeat_offender_rejections = 3,
}

-- Queue priorities: higher is taken first.
priority = {
  minors = 90,
  hashes = 80,
  nsfw = 70,
  text = 50,
  repeat_offenders = 40,
}
-- tag(item): turn upstream detector signals into tags a person can read.
--
-- Signals arrive as item.signals["face.age"] = 34, ["emotion.joy"] = 0.82, ...
-- Each tag is set with a confidence; the source is recorded as "policy".

local T = thresholds

-- The strongest two of a family of signals ("emotion.joy", "emotion.sadness"...).
local function top_two(signals, prefix)
  local best, best_v, second, second_v = nil, -1, nil, -1
  for name, v in pairs(signals) do
    if name:sub(1, #prefix) == prefix then
      local short = name:sub(#prefix + 1)
      if v > best_v then
        second, second_v = best, best_v
        best, best_v = short, v
      elseif v > second_v then
        second, second_v = short, v
      end
    end
  end
  return best, best_v, second, second_v
end

local function clamp(x)
  if x < 0 then return 0 elseif x > 1 then return 1 else return x end
end

local function tag_age(item, s)
  local age = s["face.age"]
  if not age then return end
  -- The detector's own confidence in the face, if it gave one.
  local conf = s["face.confidence"] or 0.8
  if age < T.child_below then
    item:tag("age.child", conf)
  elseif age < T.teen_below then
    item:tag("age.teen", conf)
  elseif age >= T.senior_from then
    item:tag("age.senior", conf)
  else
    item:tag("age.adult", conf)
  end
end

local function tag_gender(item, s)
  local male = s["face.male"]
  if not male then return end
  if male >= T.tag_min then
    item:tag("gender.male", clamp(male))
  else
    item:tag("gender.female", clamp(1 - male))
  end
end

-- Emotion is the hardest signal: when the two strongest are close, say so
-- with two weaker tags instead of one confident wrong one.
local function tag_emotion(item, s)
  local best, bv, second, sv = top_two(s, "emotion.")
  if not best or bv < T.tag_min then return end
  if second and bv - sv < T.emotion_margin then
    item:tag("emotion." .. best, clamp(bv * 0.6))
    item:tag("emotion." .. second, clamp(sv * 0.6))
    item:tag("emotion.ambiguous", clamp(1 - (bv - sv) / T.emotion_margin))
  else
    item:tag("emotion." .. best, clamp(bv))
  end
end

local function tag_family(item, s, prefix)
  local best, bv = top_two(s, prefix)
  if best and bv >= T.tag_min then
    item:tag(prefix .. best, clamp(bv))
  end
end

local function tag_music(item, s)
  local bpm = s["music.bpm"]
  if not bpm or bpm <= 0 then return end
  local tempo = bpm < 90 and "slow" or (bpm < 130 and "medium" or "fast")
  item:tag("music." .. tempo, 0.9)
end

local function tag_speed(item, s)
  local speed = s["motion.speed"]
  if not speed then return end
  if speed >= 0.66 then
    item:tag("speed.fast", clamp(speed))
  elseif speed <= 0.33 then
    item:tag("speed.slow", clamp(1 - speed))
  end
end

function tag(item)
  local s = item.signals or {}
  tag_age(item, s)
  tag_gender(item, s)
  tag_emotion(item, s)
  tag_family(item, s, "expression.")
  tag_family(item, s, "scene.")
  tag_music(item, s)
  tag_speed(item, s)
end
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
  wave_seconds = 3600,     -- a wave ends after this long at the latest ...
  fill = 0.6,              -- ... or once this share of its users around saw it
  check = 20,              -- impressions before the first early look, then every doubling

  -- The sequential test: at least this many impressions before judging,
  -- and how sure it must be either way (z of a 90% two-sided interval).
  min_trials = 20,
  z = 1.64,
  -- Until a pool has seen this many impressions, its baseline is a prior.
  baseline_min_trials = 200,
  baseline_prior = 0.10,

  report_threshold = 3,    -- weighed reports that take an item back to people ...
  report_rate = 0.002,     -- ... and two per thousand of its impressions
  active_s = 86400,        -- public waves go first to users seen in the last day
  away_s = 3 * 86400,      -- and never to users away longer; they do not hold a wave
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
local function public_sizes(active)
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

function plan(item)
  local active = math.max(item.platform.active, 1)
  local waves = {
    -- The creator's own audience: no checkpoints, the public waves judge.
    { audience = "followers", size = math.min(math.max(item.creator.followers, 1), D.followers_max),
      limit_s = D.wave_seconds, fill = D.fill },
    { audience = "nearby", size = math.floor(clamp(active * D.nearby_share, D.nearby_min, D.nearby_max)),
      limit_s = D.wave_seconds, fill = D.fill, check = D.check },
  }
  local first = interests(item)[1]
  for i, size in ipairs(public_sizes(active)) do
    waves[#waves + 1] = {
      audience = (first and i <= D.interest_waves) and ("interest:" .. first) or "everyone",
      size = size,
      limit_s = D.wave_seconds,
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
  local rate = base.trials >= D.baseline_min_trials and base.rate or D.baseline_prior
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
  if n < D.min_trials then
    -- Too few looks to judge. When time ran out with hardly anyone around
    -- looking, the audience was wrong rather than the item: try a related
    -- one. A small wave that most of its users saw just goes on.
    if wave.ended_by == "time" and n < wave.present / 4 and #wave.related > 0 then
      return { decision = "switch", audience = "interest:" .. wave.related[1],
               reason = string.format("only %d impressions in %s", n, wave.audience) }
    end
    return { decision = "continue", reason = string.format("only %d impressions: no verdict yet", n) }
  end
  -- Enough looks but not sure: the larger next wave costs more than this
  -- one told, so it goes on only if it did at least as well as its pool.
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
    private = 0.30,        -- at least this share from creators the user follows
    ordinary = 0.70,       -- at least this share of the public part from outside the head
    head = 0.10,           -- the head: the top 10% of creators by followers
    report_threshold = D.report_threshold,
    report_rate = D.report_rate,
    active_s = D.active_s,
    away_s = D.away_s,
  }
end
