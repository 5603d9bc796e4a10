-- Variant "fixed-threshold": the shipped policies, with one change: after a
-- wave, an item goes on when its like rate reaches a fixed threshold, and
-- stops otherwise, instead of the shipped sequential test against the
-- pool's baseline. Loaded after 30-distribute.lua, it replaces wave_done
-- only; below the shipped minimum of impressions the shipped answer stands.

local shipped_wave_done = wave_done
local LIKE_RATE = 0.10          -- likes per impression
local MIN_IMPRESSIONS = 20      -- as the shipped D.min_trials

function wave_done(item, wave, stats)
  local n = stats.impression
  if n < MIN_IMPRESSIONS then
    return shipped_wave_done(item, wave, stats)
  end
  local rate = stats.like / n
  if rate >= LIKE_RATE then
    return { decision = "continue",
             reason = string.format("like rate %.3f reaches %.2f", rate, LIKE_RATE) }
  end
  return { decision = "stop",
           reason = string.format("like rate %.3f below %.2f", rate, LIKE_RATE) }
end
