-- Helpers the other policies require.
util_runs = (util_runs or 0) + 1

local M = {}

function M.clamp(x, lo, hi)
  if x < lo then return lo end
  if x > hi then return hi end
  return x
end

return M
