-- SPDX-License-Identifier: MIT
-- Shared by the bench/*.lua wrk scripts: thread ids, non-2xx counting, a summary bench/run parses.

-- A figure from a run that got errors is not a figure: every answer is
-- classified here, and done() prints the counts as "bench: KEY VALUE" lines.
-- A script may define on_ok(body) to look at 2xx bodies (upload.lua keeps a
-- sample of acknowledged ids that way); it must not define request() unless
-- each request really differs, since wrk then builds every request in Lua.

-- Globals, not locals: done() reads them from each thread with thread:get().
ok, bad, bad_first = 0, 0, ""
acked, acked_last = "", ""

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      ok = ok + 1
      if on_ok ~= nil then
         on_ok(body)
      end
   else
      bad = bad + 1
      if bad_first == "" then
         -- One line, short: enough to tell a 401 from a 422 and why.
         local text = string.gsub(body or "", "%s+", " ")
         bad_first = status .. " " .. string.sub(string.match(text, "^(.-) ?$"), 1, 300)
      end
   end
end

function done(summary, latency, requests)
   local total_ok, total_bad = 0, 0
   local lines = {}
   for _, t in ipairs(threads) do
      total_ok = total_ok + t:get("ok")
      total_bad = total_bad + t:get("bad")
      local first = t:get("bad_first")
      if first ~= "" and #lines == 0 then
         table.insert(lines, "bench: first_error " .. first)
      end
      for id in string.gmatch(t:get("acked") .. " " .. t:get("acked_last"), "%S+") do
         table.insert(lines, "bench: acked " .. id)
      end
   end
   local e = summary.errors
   local seconds = summary.duration / 1e6
   io.write(string.format("bench: requests %d\n", summary.requests))
   io.write(string.format("bench: seconds %.3f\n", seconds))
   io.write(string.format("bench: rps %.1f\n", summary.requests / seconds))
   io.write(string.format("bench: ok %d\n", total_ok))
   io.write(string.format("bench: non2xx %d\n", total_bad))
   io.write(string.format("bench: socket_errors %d\n", e.connect + e.read + e.write + e.timeout))
   io.write(string.format("bench: socket_detail connect %d read %d write %d timeout %d\n",
                          e.connect, e.read, e.write, e.timeout))
   io.write(string.format("bench: latency_ms p50 %.2f p99 %.2f max %.2f\n",
                          latency:percentile(50) / 1000, latency:percentile(99) / 1000,
                          latency.max / 1000))
   for _, line in ipairs(lines) do
      io.write(line, "\n")
   end
end
