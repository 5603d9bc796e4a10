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
