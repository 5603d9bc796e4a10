-- Fixture of tests/cluster: waves steered by the title, beside the shipped
-- 00-thresholds, 10-tag and 20-review. "slow": waves of ten minutes, which
-- only a takeover moves; "quick": five waves of two seconds each, which go
-- on whichever node runs them.

local function has(item, word)
  return (item.title or ""):find(word, 1, true) ~= nil
end

function plan(item)
  if has(item, "slow") then
    return {
      { audience = "followers", size = 100, limit_s = 600 },
      { audience = "everyone", size = 10, limit_s = 600 },
    }
  end
  local waves = {}
  for i = 1, 5 do
    waves[i] = { audience = "everyone", size = 2, limit_s = 2 }
  end
  return waves
end

function wave_done(item, wave, stats)
  return { decision = "continue", reason = "on" }
end
