-- Fixture: every item goes to the creator's followers, then to everyone;
-- the mixed feed keeps 0.30 from followed creators, and a user back after
-- an hour away reads their followed creators' items first. Installed next
-- to the shipped 00-thresholds, 10-tag and 20-review.

function plan(item)
  return {
    { audience = "followers", size = 1000, limit_s = 60 },
    { audience = "everyone", size = 1000, limit_s = 86400 },
  }
end

function wave_done(item, wave, stats)
  return { decision = "continue", reason = "fixture: every wave" }
end

function traffic()
  return { private = 0.30, ordinary = 0, head = 0, catchup_s = 3600 }
end
