-- SPDX-License-Identifier: MIT
-- wrk: one small JSON event per POST (the bare reference and the single-event bench send the same bytes).

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

-- Item and user exist: bench/run creates bench-item-1.. and bench-user-1.. first.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("SLUICE_TOKEN") or "none")
wrk.body = '{"item":"bench-item-1","user":"bench-user-1","type":"play","watch_ms":1500}'
