-- SPDX-License-Identifier: MIT
-- Shared by event-waves.lua and ndjson-waves.lua: the events they send, over items in running waves.

-- bench/run lists the items it saw reach a running wave in the file
-- BENCH_WAVE_ITEMS (one id a line) and created the readers
-- bench-reader-1..BENCH_READERS. Event k of a cycle is for item k / 6, of
-- the k mod 6-th type: each item gets every type once a cycle, impressions
-- included, and an impression from each placed user ends a wave, so the
-- policy's wave_done and the next waves run while the bench goes on. The
-- types are ndjson.lua's: report and follow would start other work.
local types = { "impression", "play", "complete", "like", "share", "skip" }
local readers = tonumber(os.getenv("BENCH_READERS") or "500")
local threads = tonumber(os.getenv("BENCH_THREADS") or "1")

wave_items = {}

-- Reads the list; in init(), so the main wrk state (setup, done) skips it.
function wave_items_load()
   local path = os.getenv("BENCH_WAVE_ITEMS")
   local f = assert(io.open(path or "", "r"), "BENCH_WAVE_ITEMS names no readable file")
   for id in f:lines() do
      if id ~= "" then
         table.insert(wave_items, id)
      end
   end
   f:close()
   assert(#wave_items > 0, "no items in " .. path)
end

-- The k-th event of the cycle (k from 0), one JSON line.
function wave_event(k)
   k = k % (6 * #wave_items)
   return string.format('{"item":"%s","user":"bench-reader-%d","type":"%s","watch_ms":%d}',
                        wave_items[math.floor(k / 6) + 1], (k * 7919) % readers + 1,
                        types[k % 6 + 1], (k * 37) % 60000)
end

-- Thread tid sends units tid-1, tid-1+threads, ... of the n in a cycle
-- (events or batches): together the threads walk the list from its start,
-- so its first items get events in the first requests; bench/run checks
-- those.
function wave_units(n)
   local mine = {}
   for u = tid - 1, math.max(n, threads) - 1, threads do
      table.insert(mine, u % n)
   end
   return mine
end

-- Both scripts POST requests they build once in init() (where wrk.headers
-- has its Host) into wave_requests; request() only hands them out in turn,
-- so wrk spends no more per request than it must.
wave_requests = {}
local served = 0

function wave_post(content_type)
   wrk.method = "POST"
   wrk.headers["Content-Type"] = content_type
   wrk.headers["Authorization"] = "Bearer " .. (os.getenv("SLUICE_TOKEN") or "none")
end

function request()
   served = served % #wave_requests + 1
   return wave_requests[served]
end
