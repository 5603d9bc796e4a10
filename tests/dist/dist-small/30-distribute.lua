-- Fixture: distribution sized for a test population of some hundred users,
-- with waves of one or two seconds so that time limits fire during a test.
-- Installed next to the shipped 00-thresholds, 10-tag and 20-review.

local D = {
  followers = 1000,
  nearby = 15,
  first_public = 15,
  growth = 3,
  public_waves = 3,
  wave_seconds = 2,
  report_threshold = 3,
}

function plan(item)
  local waves = {
    { audience = "followers", size = D.followers, limit_s = D.wave_seconds },
    { audience = "nearby", size = D.nearby, limit_s = D.wave_seconds },
  }
  local size = D.first_public
  for _ = 1, D.public_waves do
    waves[#waves + 1] = { audience = "everyone", size = size, limit_s = D.wave_seconds }
    size = size * D.growth
  end
  return waves
end

-- Laplace's rule of succession: go on while engagement looks at least even.
function wave_done(item, wave, stats)
  local n = stats.impression
  local s = math.min(stats.engaged, n)
  local rate = (s + 1) / (n + 2)
  local why = string.format("%d engaged of %d impressions (%.2f)", s, n, rate)
  if rate >= 0.5 then
    return { decision = "continue", reason = why }
  end
  return { decision = "stop", reason = why }
end

function traffic()
  return { private = 0.30, ordinary = 0.70, head = 0.10,
           report_threshold = D.report_threshold }
end
