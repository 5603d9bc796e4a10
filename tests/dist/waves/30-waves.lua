-- Fixture: a plan and a wave_done steered by the item's title, so that one
-- test can walk every path of the wave state machine. Installed next to the
-- shipped 00-thresholds, 10-tag and 20-review.

local function has(item, word)
  return (item.title or ""):find(word, 1, true) ~= nil
end

function plan(item)
  if has(item, "badfill") then
    return { { audience = "followers", size = 10, fill = 1.5 } }
  end
  if has(item, "slow") then
    -- Waves that only end when everyone placed has looked (or in 10 minutes).
    return {
      { audience = "followers", size = 100, limit_s = 600 },
      { audience = "everyone", size = 10, limit_s = 600 },
      { audience = "everyone", size = 10, limit_s = 600 },
    }
  end
  return {
    { audience = "followers", size = 100, limit_s = 1 },
    { audience = "everyone", size = 5, limit_s = 1, review = has(item, "review") },
    { audience = "everyone", size = 5, limit_s = 1 },
  }
end

function wave_done(item, wave, stats)
  if has(item, "explode") then
    error("wave_done is broken on purpose")
  end
  if has(item, "stop") then
    return { decision = "stop", reason = "the title says stop" }
  end
  if has(item, "switch") and wave.n == 1 then
    return { decision = "switch", audience = "interest:cats", reason = "cats will love it" }
  end
  return { decision = "continue", reason = string.format("%d impressions", stats.impression) }
end

function traffic()
  return { private = 0.30, ordinary = 0.70, head = 0.10, report_threshold = 3 }
end
