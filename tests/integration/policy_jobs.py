# SPDX-License-Identifier: MIT
# Policy checks and replays run as jobs off the event loop: /healthz answers
# within 50 ms while a hostile check and a replay of 20,000 stored uploads
# run; jobs are polled, bounded in number and in time, and can be cancelled.
import http.client
import json
import os
import shutil
import sys
import threading
import time
sys.dont_write_bytecode = True
import sluicetest as st

ITEMS = 20000
WRITERS = 8
HEALTHZ_MAX_S = 0.050
IDLE_S = 5.0

# A check whose top level burns its whole budget, twice over: a pattern
# set the matcher scans at every step (7.9 s on the loop before budgets
# counted it, and /healthz waited 7.4 s), then string compares.
HOSTILE = """local s = ("a"):rep(40000)
local p = "[" .. ("b"):rep(40000) .. "]"
for i = 1, 5 do s:find(p) end
"""
HOSTILE_CMP = """local a = ("x"):rep(1000):rep(4000)
local b = a:sub(1, -2) .. "y"
local n = 0
for i = 1, 20000 do if a < b then n = n + 1 end end
"""
# Approves everything, after some honest work: a replay of 20,000 uploads
# under it takes seconds, long enough to watch.
APPROVE_ALL = """function review(item)
  local n = 0
  for i = 1, 20000 do n = n + i end
  return "approve"
end
"""
# Far slower: a replay under it outlasts every bound the tests set.
SLOW = APPROVE_ALL.replace("20000", "400000")


def shipped(d):
    src = os.path.join(st.srcdir(), "policies")
    names = sorted(n for n in os.listdir(src) if n.endswith(".lua"))
    for n in names:
        shutil.copy(os.path.join(src, n), d.policies)
    return {n: open(os.path.join(src, n)).read() for n in names}


def load(t, d, n):
    """n uploads over WRITERS persistent connections; every seventh is
    plainly bad (rejected; their creators are apart, so that the others'
    standing stays clean), every other third borderline (queued)."""
    errors = []

    def writer(w):
        conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=st.HTTP_TIMEOUT)
        hdrs = {"Content-Type": "application/json", "Authorization": "Bearer " + d.token}
        try:
            for i in range(w, n, WRITERS):
                body = {"id": "u%05d" % i, "creator": "c%d" % (i % 97), "title": "clip %d" % i}
                if i % 7 == 0:
                    body["creator"] = "bad%d" % (i % 13)
                    body["signals"] = {"nsfw.score": 0.95}
                elif i % 3 == 0:
                    body["signals"] = {"nsfw.score": 0.6}
                conn.request("POST", "/v1/uploads", json.dumps(body), hdrs)
                r = conn.getresponse()
                r.read()
                if r.status != 202:
                    errors.append((i, r.status))
                    return
        except OSError as e:
            errors.append((w, str(e)))
        finally:
            conn.close()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    t.require(not errors, "%d uploads stored over %d connections" % (n, WRITERS), errors[:5])


def healthz_s(d):
    t0 = time.monotonic()
    r = st.request(d.port, "GET", "/healthz", timeout=5)
    took = time.monotonic() - t0
    return took if r.status == 200 else float("inf")


def idle_window(d):
    """The worst /healthz of IDLE_S seconds of probes."""
    lat, t0 = [], time.monotonic()
    while time.monotonic() - t0 < IDLE_S:
        lat.append(healthz_s(d))
        time.sleep(0.005)
    lat.sort()
    print("# /healthz idle over %d probes: median %.1f ms, worst %.1f ms (load average %.1f)"
          % (len(lat), lat[len(lat) // 2] * 1e3, lat[-1] * 1e3, os.getloadavg()[0]))
    return lat[-1]


def busy_window(t, d, cand):
    """Probe /healthz while a replay of cand runs beside hostile checks;
    (replay job, check jobs, sorted latencies, seconds, progress seen)."""
    replay = start(t, d, "/v1/policies/replay", {"files": cand}, "POST /v1/policies/replay")
    checks, lat, running, seen_progress, busy = [], [], True, False, 0
    t0 = time.monotonic()
    while running and time.monotonic() - t0 < 120:
        # Keep hostile checks running beside the replay.
        if len(checks) < 20 and len(lat) % 5 == 0:
            r = d.post("/v1/policies/check", {"name": "bomb.lua",
                                               "source": (HOSTILE, HOSTILE_CMP)[len(checks) % 2]})
            if r.status == 202:
                checks.append(r.json["job"])
            else:
                busy += r.status == 429
        lat.append(healthz_s(d))
        if len(lat) % 10 == 0:
            g = d.get("/v1/jobs/" + replay)
            running = g.status == 202
            if running:
                seen_progress |= (g.json.get("progress") or {}).get("done", 0) > 0
        time.sleep(0.005)
    took = time.monotonic() - t0
    lat.sort()
    print("# replay of %d uploads: %.1f s beside %d hostile checks (%d refused while full); "
          "/healthz over %d probes: median %.1f ms, worst %.1f ms"
          % (ITEMS, took, len(checks), busy, len(lat), lat[len(lat) // 2] * 1e3, lat[-1] * 1e3))
    return replay, checks, lat, took, seen_progress


def start(t, d, path, body, what):
    r = d.post(path, body)
    t.require(r.status == 202 and (r.json or {}).get("state") == "running"
              and r.json.get("job") and r.headers.get("location") == "/v1/jobs/" + r.json["job"],
              "%s -> 202 {job, state: running} with its Location" % what, r)
    return r.json["job"]


def body(t):
    d = t.daemon("policy_jobs_max = 3\n", start=False)
    live = shipped(d)
    d.start()
    t0 = time.monotonic()
    load(t, d, ITEMS)
    print("# %d uploads in %.1f s" % (ITEMS, time.monotonic() - t0))

    # Let the daemon finish what the uploads started (distribution).
    settled, deadline = 0, time.monotonic() + 20
    while settled < 100 and time.monotonic() < deadline:
        settled = settled + 1 if healthz_s(d) < HEALTHZ_MAX_S / 2 else 0
        time.sleep(0.005)

    # {====== /healthz while a replay and hostile checks run ======
    # On a busy machine the worst probe is slow by itself, whatever the
    # daemon does: what the jobs may add to the worst of idle windows
    # before and after is 50 ms (on the loop, the check alone stalled
    # /healthz for 7.4 s). Two more tries rule out unlucky windows on a
    # machine shared with other work.
    cand = dict(live)
    cand["20-review.lua"] = APPROVE_ALL
    noise = idle_window(d)
    for attempt in (1, 2, 3):
        replay, checks, lat, took, seen_progress = busy_window(t, d, cand)
        noise = max(noise, idle_window(d))
        if lat[-1] < HEALTHZ_MAX_S + noise:
            break
    t.check(took < 120, "the replay ended within 120 s", took)
    t.check(len(lat) >= 100 and len(checks) >= 10 and lat[-1] < HEALTHZ_MAX_S + noise,
            "/healthz answered within 50 ms (+ %.1f ms, the idle worst) the whole time "
            "(worst of %d probes: %.1f ms)" % (noise * 1e3, len(lat), lat[-1] * 1e3),
            (len(checks), lat[-5:]))
    t.check(seen_progress, "GET /v1/jobs/ID showed the replay's progress while it ran")

    wrong = []
    for job in checks:
        r = d.get("/v1/jobs/" + job)
        e = (r.json or {}).get("error", {})
        m = e.get("message", "")
        if not (r.status == 422 and e.get("code") == "policy_error" and e.get("field") == "source"
                and "/bomb.lua:" in m and ("instruction budget exhausted" in m
                                                   or "time limit exceeded" in m)):
            wrong.append(r)
    t.check(checks and not wrong, "every hostile check's job answers 422 policy_error: "
            "bomb.lua:N: instruction budget exhausted (or time limit exceeded)", wrong[:3])
    r = d.get("/v1/jobs/" + replay)
    j = r.json or {}
    t.check(r.status == 200 and j.get("examined") == ITEMS and j.get("current") ==
            d.get("/v1/policies").json["version"], "the replay's job answers 200 with all %d "
            "uploads examined against the running version" % ITEMS, str(r)[:300])
    counts = j.get("counts") or {}
    queued = sum(1 for i in range(ITEMS) if i % 7 and i % 3 == 0)
    rejected = sum(1 for i in range(ITEMS) if i % 7 == 0)
    t.check(counts == {"in_review->approved": queued, "rejected->approved": rejected},
            "  ... counting every verdict the candidate would change", counts)
    t.check(len(j.get("changed", [])) == 500, "  ... listing the first 500",
            len(j.get("changed", [])))
    again = d.get("/v1/jobs/" + replay)
    t.check(again.status == 200 and again.json == j, "a finished job answers the same each time")

    # {====== bounds: how many at once, how long, cancelling ======
    # Three replays fill policy_jobs_max = 3; a fourth job is refused.
    slow = dict(live)
    slow["20-review.lua"] = SLOW
    jobs = [start(t, d, "/v1/policies/replay", {"files": slow}, "replay %d of 3" % (i + 1))
            for i in range(3)]
    r = d.post("/v1/policies/check", {"source": "x = 1"})
    t.error(r, 429, "too_many_jobs", "a fourth job while 3 run")
    t.check(r.headers.get("retry-after", "").isdigit(), "  ... with Retry-After", r.headers)
    t.check("policy_jobs_max" in ((r.json or {}).get("error") or {}).get("message", ""),
            "  ... naming policy_jobs_max", r.json)
    for job in jobs:
        r = d.req("DELETE", "/v1/jobs/" + job)
        t.check(r.status == 200 and r.json == {"job": job, "state": "cancelled"},
                "DELETE /v1/jobs/%s while it runs -> cancelled" % job, r)
        t.status(d.get("/v1/jobs/" + job), 404, "  ... and it is gone")
    # Their threads end at their next item, and give their places back.
    ok, deadline = False, time.monotonic() + 10
    while not ok and time.monotonic() < deadline:
        ok = d.job("/v1/policies/check", {"source": "x = 1"}).status == 200
        time.sleep(0.05)
    t.check(ok, "cancelled jobs give their places back: a check runs again")
    t.status(d.get("/v1/jobs/j0000000000000000"), 404, "GET of an unknown job -> 404")
    t.status(d.req("DELETE", "/v1/jobs/nope"), 404, "DELETE of an unknown job -> 404")
    ing = d.post("/v1/tokens", {"name": "ing", "role": "ingest"}).json["token"]
    t.status(d.get("/v1/jobs/" + replay, token=ing), 403, "an ingest token may not read a job")
    t.stopped(d)

    # A job past policy_job_time_limit_seconds answers 422 time_limit.
    d.write_conf("policy_job_time_limit_seconds = 1\n")
    d.start()
    t0 = time.monotonic()
    r = d.job("/v1/policies/replay", {"files": slow})
    e = (r.json or {}).get("error", {})
    t.check(r.status == 422 and e.get("code") == "time_limit"
            and "policy_job_time_limit_seconds" in e.get("message", ""),
            "a replay longer than policy_job_time_limit_seconds = 1 -> 422 time_limit", r)
    took = time.monotonic() - t0
    t.check(took < 5, "  ... answered soon after the second", took)
    # SIGTERM with a job running: the daemon stops promptly, cancelling it.
    start(t, d, "/v1/policies/replay", {"files": slow}, "a replay, then SIGTERM")
    t0 = time.monotonic()
    t.check(d.stop() == 0 and time.monotonic() - t0 < 5,
            "SIGTERM during a replay: sluiced exits 0 within 5 s", time.monotonic() - t0)


st.main(body)
