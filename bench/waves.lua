-- SPDX-License-Identifier: MIT
-- Shared by event-waves.lua and ndjson-waves.lua: the events they send, over items in running waves.

-- bench/run lists in the file BENCH_WAVE_ITEMS, "ITEM READER" a line, the
-- items in running waves that a feed served to each reader: only a served
-- user's events move a wave. Event k of a cycle is for pair k / 6, of the
-- k mod 6-th type: each pair sends every type once a cycle, impressions
-- included, so waves fill and the policy's wave_done and the next waves run
-- while the bench goes on. A pair's events count in its item's waves the
-- first time round; later cycles repeat them, and the engine sets a repeat
-- aside (counted apart) as it would a platform's. The types are
-- ndjson.lua's: report and follow would start other work.
local types = { "impression", "play", "complete", "like", "share", "skip" }
local threads = tonumber(os.getenv("BENCH_THREADS") or "1")

wave_items = {}
local wave_users = {}

-- Reads the list; in init(), so the main wrk state (setup, done) skips it.
function wave_items_load()
   local path = os.getenv("BENCH_WAVE_ITEMS")
   local f = assert(io.open(path or "", "r"), "BENCH_WAVE_ITEMS names no readable file")
   for line in f:lines() do
      local item, user = line:match("^(%S+) (%S+)$")
      if item then
         table.insert(wave_items, item)
         table.insert(wave_users, user)
      end
   end
   f:close()
   assert(#wave_items > 0, "no pairs in " .. path)
end

-- The k-th event of the cycle (k from 0), one JSON line.
function wave_event(k)
   k = k % (6 * #wave_items)
   local pair = math.floor(k / 6) + 1
   return string.format('{"item":"%s","user":"%s","type":"%s","watch_ms":%d}',
                        wave_items[pair], wave_users[pair], types[k % 6 + 1], (k * 37) % 60000)
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
