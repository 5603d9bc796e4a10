-- SPDX-License-Identifier: MIT
-- wrk: NDJSON batches of BENCH_BATCH events (default 1,000) per POST /v1/events.

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local batch = tonumber(os.getenv("BENCH_BATCH") or "1000")
local items = tonumber(os.getenv("BENCH_ITEMS") or "1")
-- Types that only move counters: report and follow could start other work
-- (review thresholds, follow edges), which is not what this bench measures.
local types = { "impression", "play", "complete", "like", "share", "skip" }

-- Built once: the same batch every time, spread over the items and users
-- bench/run created, so no single counter row takes every update.
local lines = {}
for i = 1, batch do
   local n = (i - 1) % items + 1
   lines[i] = string.format('{"item":"bench-item-%d","user":"bench-user-%d","type":"%s","watch_ms":%d}',
                            n, (i * 7) % items + 1, types[(i - 1) % #types + 1], (i * 37) % 60000)
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-ndjson"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("SLUICE_TOKEN") or "none")
wrk.body = table.concat(lines, "\n") .. "\n"
