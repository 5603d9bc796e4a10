# SPDX-License-Identifier: MIT
# Budgets count real work: a review hook that scans a huge pattern set, or
# compares strings of megabytes, fails within a second with a budget error
# and sends its upload to people; with a budget too large to stop it, the
# time limit (lua_time_limit_ms) does.
import os
import sys
import time
sys.dont_write_bytecode = True
import sluicetest as st

POLICY = """-- Each title picks a way to burn time inside one review call.
local function sets()
  local s = ("a"):rep(40000)
  local p = "[" .. ("b"):rep(40000) .. "]"
  for i = 1, 5 do s:find(p) end
end

local function compares()
  local a = ("x"):rep(1000):rep(4000)
  local b = a:sub(1, -2) .. "y"
  local n = 0
  for i = 1, 20000 do
    if a < b then n = n + 1 end
  end
end

function review(item)
  if item.title == "sets" then
    sets()
  elseif item.title == "compares" then
    compares()
  end
  return "approve"
end
"""

FAST_S = 1.5    # each took seconds before (7.9 s and 1.45 s in the report)


def upload(t, d, uid, title):
    t0 = time.monotonic()
    r = d.post("/v1/uploads", {"id": uid, "creator": "c1", "title": title})
    took = time.monotonic() - t0
    t.require(r.status == 202, "upload %s -> 202" % uid, r)
    return r.json, took


def body(t):
    # A budget-bound daemon: the time limit is far, the instruction budget
    # is what stops the hostile hooks.
    d = t.daemon("lua_time_limit_ms = 60000\n", name="budget", start=False)
    with open(os.path.join(d.policies, "20-review.lua"), "w") as f:
        f.write(POLICY)
    d.start()
    a, _ = upload(t, d, "ok-1", "plain")
    t.check(a["state"] == "approved", "an ordinary upload is approved", a)
    for uid, title, why in (("b-sets", "sets", "instruction budget exhausted"),
                            ("b-cmp", "compares", "of them for the time slow operations took")):
        a, took = upload(t, d, uid, title)
        t.check(a["state"] == "in_review", "%s: the hostile review sends it to people" % title, a)
        reason = " ".join(a.get("reasons", []))
        t.check("policy_error: review:" in reason and "20-review.lua:" in reason
                and why in reason, "  ... the reason names the file and '%s'" % why, reason)
        t.check(took < FAST_S, "  ... and the upload was answered in %.2f s (< %s s)"
                % (took, FAST_S), took)
    r = d.get("/healthz", token=None)
    t.status(r, 200, "the daemon still answers")
    m = d.get("/metrics").body.decode()
    t.check('sluice_policy_failures_total{hook="review"} 2' in m,
            "both failures are counted", [ln for ln in m.splitlines() if "failures" in ln])

    # A daemon whose instruction budget could never stop them: the time
    # limit does.
    d2 = t.daemon("lua_instruction_limit = 1 << 40\nlua_time_limit_ms = 30\n", name="clock",
                  start=False)
    with open(os.path.join(d2.policies, "20-review.lua"), "w") as f:
        f.write(POLICY)
    d2.start()
    a, _ = upload(t, d2, "ok-2", "plain")
    t.check(a["state"] == "approved", "time limit 30 ms: an ordinary upload is approved", a)
    a, took = upload(t, d2, "c-cmp", "compares")
    reason = " ".join(a.get("reasons", []))
    t.check(a["state"] == "in_review" and "time limit exceeded (30 ms of CPU)" in reason,
            "a hook comparing long strings fails on the time limit", a)
    t.check(took < FAST_S, "  ... within %.2f s" % took, took)
    t.stopped(d)
    t.stopped(d2)


st.main(body)
