-- SPDX-License-Identifier: MIT
-- wrk: GET /v1/feed/{user}?tab=mixed for users spread over the population
-- bench/run creates (bench-reader-1..BENCH_READERS).

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local readers = tonumber(os.getenv("BENCH_READERS") or "500")
local n = 0

wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("SLUICE_TOKEN") or "none")

function request()
   n = n + 1
   return wrk.format(nil, string.format("/v1/feed/bench-reader-%d?tab=mixed&limit=10",
                                        (n * 7919 + tid) % readers + 1))
end
