-- Fixture for out_of_tree.py: two public waves of 30, the first asked about
-- after 20 impressions; wave_done waits at checkpoints and goes on at ends,
-- so what stops a wave early is the decider plugin.
function plan(item)
  return {
    { audience = "everyone", size = 30, limit_s = 600, check = 20 },
    { audience = "everyone", size = 30, limit_s = 600 },
  }
end

function wave_done(item, wave, stats)
  if wave.ended_by == "evidence" then
    return "wait"
  end
  return { decision = "continue", reason = "the policy goes on" }
end
