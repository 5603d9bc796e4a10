-- SPDX-License-Identifier: MIT
-- wrk: NDJSON batches of BENCH_BATCH events per POST, as ndjson.lua, for items in running waves (see waves.lua).

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")
dofile(dir .. "waves.lua")

local batch = tonumber(os.getenv("BENCH_BATCH") or "1000")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-ndjson"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("SLUICE_TOKEN") or "none")

-- Batch j holds events j*batch.. of the cycle; built once in init (where
-- wrk.headers has its Host), handed out in turn.
local requests, n = {}, 0

function init(args)
   wave_items_load()
   for _, j in ipairs(wave_units(math.ceil(6 * #wave_items / batch))) do
      local lines = {}
      for i = 0, batch - 1 do
         lines[i + 1] = wave_event(j * batch + i)
      end
      table.insert(requests, wrk.format(nil, nil, nil, table.concat(lines, "\n") .. "\n"))
   end
end

function request()
   n = n % #requests + 1
   return requests[n]
end
