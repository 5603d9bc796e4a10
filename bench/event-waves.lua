-- SPDX-License-Identifier: MIT
-- wrk: one small JSON event per POST, as event.lua, for items in running waves (see waves.lua).

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")
dofile(dir .. "waves.lua")

wave_post("application/json")

function init(args)
   wave_items_load()
   for _, k in ipairs(wave_units(6 * #wave_items)) do
      table.insert(wave_requests, wrk.format(nil, nil, nil, wave_event(k)))
   end
end
