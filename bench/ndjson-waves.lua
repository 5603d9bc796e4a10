-- SPDX-License-Identifier: MIT
-- wrk: NDJSON batches of BENCH_BATCH events per POST, as ndjson.lua, for items in running waves (see waves.lua).

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")
dofile(dir .. "waves.lua")

local batch = tonumber(os.getenv("BENCH_BATCH") or "1000")

wave_post("application/x-ndjson")

-- Batch j holds events j*batch.. of the cycle.
function init(args)
   wave_items_load()
   for _, j in ipairs(wave_units(math.ceil(6 * #wave_items / batch))) do
      local lines = {}
      for i = 0, batch - 1 do
         lines[i + 1] = wave_event(j * batch + i)
      end
      table.insert(wave_requests, wrk.format(nil, nil, nil, table.concat(lines, "\n") .. "\n"))
   end
end
