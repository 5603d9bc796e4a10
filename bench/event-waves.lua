-- SPDX-License-Identifier: MIT
-- wrk: one small JSON event per POST, as event.lua, for items in running waves (see waves.lua).

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")
dofile(dir .. "waves.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("SLUICE_TOKEN") or "none")

-- Built once in init (where wrk.headers has its Host): request() only hands
-- them out, so wrk spends no more per request than it must.
local requests, n = {}, 0

function init(args)
   wave_items_load()
   for _, k in ipairs(wave_units(6 * #wave_items)) do
      table.insert(requests, wrk.format(nil, nil, nil, wave_event(k)))
   end
end

function request()
   n = n % #requests + 1
   return requests[n]
end
