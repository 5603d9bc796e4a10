-- Fixture: a wave_done hook and no plan hook: the built-in plan applies.
function wave_done(item, wave, stats)
  return "continue"
end
