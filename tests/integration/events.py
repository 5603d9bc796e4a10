# SPDX-License-Identifier: MIT
# Events: one JSON object or NDJSON lines; {accepted: N}; the item's counters
# by type match what was accepted.
import json
import sys
import time
sys.dont_write_bytecode = True
import sluicetest as st

ND = "application/x-ndjson"


def body(t):
    d = t.daemon()
    for n in ("e1", "e2"):
        t.status(d.post("/v1/uploads", st.upload(n)), 202, "upload " + n)
    want = {n: {k: 0 for k in st.EVENT_TYPES} for n in ("e1", "e2")}
    want.update({"m%d" % i: {k: 0 for k in st.EVENT_TYPES} for i in range(22)})

    def counters(n):
        r = d.item(n)
        t.require(r.status == 200, "GET " + n, r)
        return r.json.get("counters")

    # The counters are written behind, items dealt into shards written in
    # turn, each with its mark (store/counters.c): over 24 items every
    # shard has some. A kill -9 a third of a second after the first events
    # finds a shard or two written and the others never: each is added up
    # again from its own mark, or from before any if it has none.
    many = ["e1", "e2"] + ["m%d" % i for i in range(22)]
    for n in many[2:]:
        t.status(d.post("/v1/uploads", st.upload(n)), 202, "upload " + n)
    r = d.post("/v1/events", "".join(json.dumps({"item": n, "user": "first", "type": "skip"})
                                     + "\n" for n in many), ctype=ND)
    t.status(r, 202, "a first batch of events over the 24 items")
    time.sleep(0.3)
    d.kill()
    d.start()
    wrong = [(n, counters(n)) for n in many if counters(n) != dict(want[n], skip=1)]
    t.check(not wrong, "kill -9 with some shards of counters written: every item counts its "
            "first event once", wrong[:3])
    for n in many:
        want[n]["skip"] = 1

    # One JSON event.
    r = d.post("/v1/events", {"item": "e1", "user": "u1", "type": "play", "watch_ms": 1200,
                              "ts": 1764350000000})
    t.status(r, 202, "one play event")
    t.check(r.json == {"accepted": 1}, "  ... {accepted: 1}", r)
    want["e1"]["play"] += 1
    t.check(counters("e1") == want["e1"], "e1 counters: play 1", counters("e1"))

    r = d.post("/v1/events", json.dumps({"item": "e1", "user": "u2", "type": "like"}),
               ctype="application/json; charset=utf-8")
    t.status(r, 202, "one like event sent as application/json; charset=utf-8")
    want["e1"]["like"] += 1

    # Every type once on e2, as NDJSON with blank lines and no final newline.
    lines = [json.dumps({"item": "e2", "user": "u1", "type": k}) for k in st.EVENT_TYPES]
    text = "\n".join(lines[:3]) + "\n\n" + "\n".join(lines[3:]) + "\n\n" + lines[0]
    r = d.post("/v1/events", text, ctype=ND)
    t.status(r, 202, "NDJSON of 11 events and 2 blank lines")
    t.check(r.json == {"accepted": 11}, "  ... {accepted: 11}", r)
    for k in st.EVENT_TYPES:
        want["e2"][k] += 1
    want["e2"]["impression"] += 1
    t.check(counters("e2") == want["e2"], "e2 counters: one of each type, two impressions",
            counters("e2"))

    # CRLF line ends.
    text = "\r\n".join([json.dumps({"item": "e1", "user": "u3", "type": "share"})] * 3) + "\r\n"
    r = d.post("/v1/events", text, ctype=ND)
    t.status(r, 202, "NDJSON with CRLF line ends")
    t.check(r.json == {"accepted": 3}, "  ... {accepted: 3}", r)
    want["e1"]["share"] += 3

    # A larger batch over both items.
    kinds = ("impression", "play", "complete", "skip")
    batch = []
    for i in range(5000):
        n = "e1" if i % 3 else "e2"
        k = kinds[i % len(kinds)]
        batch.append(json.dumps({"item": n, "user": "u%d" % (i % 50), "type": k,
                                 "watch_ms": i}))
        want[n][k] += 1
    r = d.post("/v1/events", "\n".join(batch) + "\n", ctype=ND)
    t.status(r, 202, "NDJSON of 5000 events")
    t.check(r.json == {"accepted": 5000}, "  ... {accepted: 5000}", r)
    for n in ("e1", "e2"):
        t.check(counters(n) == want[n], "%s counters match every accepted event" % n,
                (counters(n), want[n]))

    # An empty NDJSON body accepts nothing (or is refused); counters unchanged.
    r = d.post("/v1/events", "\n\n", ctype=ND)
    t.check((r.status == 202 and r.json == {"accepted": 0}) or r.status in (400, 422),
            "NDJSON of blank lines only -> 202 {accepted:0} or an error", r)

    # Counters persist.
    t.stopped(d, "SIGTERM exits 0")
    d.start()
    for n in ("e1", "e2"):
        t.check(counters(n) == want[n], "%s counters are the same after restart" % n,
                (counters(n), want[n]))

    # Counters are written about once a second, apart from their events:
    # after a kill -9 the batches past the last write are counted again at
    # start, once. Some batches here land before a counter write, some after.
    # A kill finds the shards' marks at different batches.

    def burst(tag, rounds):
        for i in range(rounds):
            lines = [json.dumps({"item": n, "user": "%s%d" % (tag, i), "type": k})
                     for n in many for k in ("impression", "like")]
            r = d.post("/v1/events", "\n".join(lines) + "\n", ctype=ND)
            t.require(r.status == 202, "%s: batch %d accepted" % (tag, i), r)
            for n in many:
                want[n]["impression"] += 1
                want[n]["like"] += 1
            time.sleep(0.05)

    def all_counted(what):
        wrong = [(n, counters(n), want[n]) for n in many if counters(n) != want[n]]
        t.check(not wrong, "%s: the %d items' counters count every accepted event once"
                % (what, len(many)), wrong[:3])

    for rnd in range(3):
        burst("k%d-" % rnd, 30)             # about 1.5 s: spans counter writes
        all_counted("before kill -9 %d" % (rnd + 1))
        d.kill()
        d.start()
        all_counted("kill -9 %d" % (rnd + 1))
    t.stopped(d, "SIGTERM after the kills exits 0")
    d.start()
    all_counted("a clean restart")


st.main(body)
