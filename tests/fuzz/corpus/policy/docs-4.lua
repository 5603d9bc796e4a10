-- policies/util.lua: helpers, loaded with require("util").
local M = {}

function M.clamp(x, lo, hi)
  if x < lo then return lo elseif x > hi then return hi else return x end
end

return M
