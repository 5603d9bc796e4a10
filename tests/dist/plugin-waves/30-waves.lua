-- Fixture for plugin_waves.py: a plan and a wave_done beside the dist_probe
-- plugin, steered by the item's title, that say back what the plugin
-- answered first (item.plugin_decisions). Installed next to the shipped
-- 00-thresholds, 10-tag and 20-review.

local function has(item, word)
  return (item.title or ""):find(word, 1, true) ~= nil
end

function plan(item)
  if has(item, "lua-small") then
    return { { audience = "followers", size = 100, limit_s = 1 } }
  end
  if has(item, "lua-sees-plan") then
    -- The plugin's plan cut to its first wave: fails if it is not there.
    local first = item.plugin_decisions[1].waves[1]
    return { { audience = first.audience, size = first.size, limit_s = 1 } }
  end
  return {
    { audience = "followers", size = 100, limit_s = 1 },
    { audience = "everyone", size = 5, limit_s = 1 },
    { audience = "everyone", size = 5, limit_s = 1 },
  }
end

function wave_done(item, wave, stats)
  local pd = item.plugin_decisions[1]
  local saw = pd and string.format(" [saw %s: %s]", pd.plugin, pd.decision) or ""
  if has(item, "lua-fail") then
    error("wave_done fails on purpose")
  end
  if has(item, "lua-stop") then
    return { decision = "stop", reason = "the policy says stop" .. saw }
  end
  return { decision = "continue", reason = "the policy says continue" .. saw }
end

function traffic()
  return { private = 0.30, ordinary = 0.70, report_threshold = 3, report_rate = 0.002 }
end
