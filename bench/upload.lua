-- SPDX-License-Identifier: MIT
-- wrk: POST /v1/uploads, each with its own id (run, thread, counter), keeping a sample of acknowledged ids.

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

-- The run tag keeps ids unique across runs on the same state directory.
local run = os.getenv("BENCH_RUN") or tostring(os.time())
-- Every STEP-th acknowledged id goes to the sample, at most CAP per thread,
-- plus each thread's last one: the last are the likeliest to be lost.
local step = tonumber(os.getenv("BENCH_SAMPLE_STEP") or "500")
local cap = 200
local sampled = 0
local counter = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("SLUICE_TOKEN") or "none")

function request()
   counter = counter + 1
   local body = string.format(
      '{"id":"b%s-%d-%d","creator":"bench-creator-%d","title":"bench upload %d",' ..
      '"duration_ms":15000,"city":"lisbon","tags":{"bench":1}}',
      run, tid, counter, counter % 100, counter)
   return wrk.format(nil, nil, nil, body)
end

function on_ok(body)
   local id = string.match(body, '"id"%s*:%s*"([^"]+)"')
   if id == nil then
      return
   end
   acked_last = id
   if (ok - 1) % step == 0 and sampled < cap then
      sampled = sampled + 1
      acked = acked .. " " .. id
   end
end
