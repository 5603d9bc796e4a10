-- 1 to 32 waves; audience is followers, nearby, everyone,
-- interest:NAME or group:NAME; size is 0 to 10,000,000; limit_s is
-- 1 to 2,592,000 seconds (default 3600); review asks people first;
-- fill (0 < fill <= 1, default 1) ends the wave once that share of its
-- users around saw it; check (default 0: never) asks wave_done early,
-- first after that many impressions, then at every doubling.
function plan(item)
  return {
    { audience = "followers", size = 1000, limit_s = 3600 },
    { audience = "nearby", size = 100, fill = 0.6 },
    { audience = "everyone", size = 10000, limit_s = 14400, review = true,
      fill = 0.6, check = 50 },
  }
end

-- wave: {n, audience, size, placed, present, fill, checks, elapsed_ms,
--        limit_ms, ended_by, related}
-- stats: how the wave's audience engaged, next to a baseline
function wave_done(item, wave, stats)
  if wave.ended_by == "evidence" and stats.impression < 100 then
    return "wait"                       -- not sure yet: ask again later
  end
  if wave.related[1] then
    return { decision = "switch", audience = "interest:" .. wave.related[1],
             reason = "spreads among a related interest" }
  end
  return "continue"
end

function traffic()
  return { private = 0.30, ordinary = 0.70, head = 0.10,
           report_threshold = 3, report_rate = 0.002, unserved_report_weight = 0,
           active_s = 86400, away_s = 3 * 86400 }
end

function related(interest)
  if interest == "cycling" then return { "running", "outdoors" } end
  return {}
end

-- user: {id, city, interests, followers, following, groups}; groups are
-- the default ones ("circle:ID" from the follow graph, "interest:NAME").
-- Answer at most 32 names (1 to 128 of A-Z a-z 0-9 _ . : @ -); a plan's
-- "group:NAME" wave then goes to the users named in NAME, as it goes to
-- "group:circle:ID" and "group:interest:NAME" without the hook. A user whose
-- call fails is in no group of the hook's (counted, logged with the user).
-- Follows do not call it again: followers and following are as of the
-- user's last change or the last pass.
function groups(user)
  local out = {}
  if user.city == "porto" and user.followers >= 1000 then
    out[#out + 1] = "porto-voices"
  end
  return out
end
