# SPDX-License-Identifier: MIT
# A creator's standing (item.creator.uploads and .rejections), kept in memory:
# every committed upload, decision, takedown and bulk action moves it, a refused or
# repeated request does not, and after a restart (SIGTERM or SIGKILL) it is
# what the store counted.
import os
import signal
import sys
import time
sys.dont_write_bytecode = True
import sluicetest as st

# Titles say what the review hook does; a "probe" goes to people with the
# standing it saw as its reason, which the upload's answer shows.
POLICY = """
function review(item)
  local t = item.title
  if t == "bad" then return "reject", "bad" end
  if t == "look" then return "review", { queue = "look", reason = "look" } end
  if t == "probe" then
    return "review", { queue = "probe", reason = string.format("standing %d %d",
                       item.creator.uploads, item.creator.rejections) }
  end
  return "approve"
end
"""


class Probe:
    def __init__(self, t, d):
        self.t, self.d, self.n = t, d, 0

    def __call__(self, creator, uploads, rejections, what):
        self.n += 1
        r = self.d.post("/v1/uploads", {"id": "probe-%s-%d" % (creator, self.n),
                                        "creator": creator, "title": "probe"})
        want = "standing %d %d" % (uploads, rejections)
        self.t.check(r.status == 202 and (r.json or {}).get("reasons", [None])[0] == want,
                     "%s: %s's upload sees %s" % (what, creator, want), r)


def up(d, item, title, creator="c1"):
    r = d.post("/v1/uploads", {"id": item, "creator": creator, "title": title})
    if r.status != 202:
        raise st.Failed("upload %s: %r" % (item, r))
    return r


def decide(t, d, mod, item, decision):
    r = d.post("/v1/queue/claim", {"queue": "look", "limit": 1}, token=mod)
    items = (r.json or {}).get("items") or []
    t.require(r.status == 200 and len(items) == 1 and items[0]["id"] == item,
              "a moderator claims %s" % item, r)
    r = d.post("/v1/items/%s/decision" % item, {"decision": decision, "reason": "seen",
                                                "fence": items[0]["fence"]}, token=mod)
    t.require(r.status == 200, "%s is %sd" % (item, decision), r)


def body(t):
    d = t.daemon(start=False, conf='log_level = "warn"\n')
    with open(os.path.join(d.policies, "review.lua"), "w") as f:
        f.write(POLICY)
    d.start()
    mod = d.post("/v1/tokens", {"name": "mod", "role": "moderator"}).json["token"]
    probe = Probe(t, d)

    probe("c0", 0, 0, "a creator never seen")
    up(d, "a1", "fine")
    up(d, "a2", "bad")
    up(d, "a3", "bad")
    up(d, "a4", "look")
    up(d, "a5", "look")
    # The probe itself counts once stored: each probe adds an upload.
    probe("c1", 5, 2, "uploads stored approved, rejected and for review")

    # Repeats and refusals change nothing.
    t.status(d.post("/v1/uploads", {"id": "a2", "creator": "c1", "title": "bad"}), 202,
             "a repeated upload is answered as before")
    t.status(d.post("/v1/uploads", {"id": "a2", "creator": "c1", "title": "other"}), 409,
             "another body under a stored id is refused")
    t.status(d.post("/v1/uploads", {"id": "x1", "creator": "c1", "title": ""}), 422,
             "an invalid upload is refused")
    probe("c1", 6, 2, "after a repeat, a clash and an invalid upload")

    decide(t, d, mod, "a4", "reject")
    probe("c1", 7, 3, "after people rejected one")
    decide(t, d, mod, "a5", "approve")
    probe("c1", 8, 3, "after people approved one")

    t.status(d.post("/v1/items/a2/takedown", {"reason": "gone"}), 200, "a2 (rejected) taken down")
    t.status(d.post("/v1/items/a1/takedown", {"reason": "gone"}), 200, "a1 (approved) taken down")
    t.status(d.post("/v1/items/a2/takedown", {"reason": "again"}), 200,
             "a second takedown of a2 changes nothing")
    probe("c1", 9, 2, "after takedowns of a rejected and an approved item")
    probe("c2", 0, 0, "another creator is untouched")

    # A bulk review sends rejected items back to people: no longer rejected.
    up(d, "r1", "bad", creator="c4")
    up(d, "r2", "bad", creator="c4")
    r = d.post("/v1/bulk", {"action": "review", "reason": "again",
                            "search": {"creator": "c4", "state": ["rejected"]}}, token=mod)
    t.require(r.status == 202, "a bulk review of c4's rejected items is a job", r)
    job, deadline = r.json["id"], time.monotonic() + 30
    while d.get("/v1/bulk/" + job).json["state"] != "done":
        t.require(time.monotonic() < deadline, "the bulk job is done within 30 s")
        time.sleep(0.05)
    t.check(d.get("/v1/bulk/" + job).json["acted"] == 2, "the bulk job acted on both")
    probe("c4", 2, 0, "after a bulk review of its rejected items")

    # What the store counted is what memory held: a SIGKILL, then a start
    # that loads it, then a clean stop and a start again.
    d.signal(signal.SIGKILL)
    t.check(d.wait() == -signal.SIGKILL, "sluiced died of SIGKILL")
    d.start()
    probe("c1", 10, 2, "after SIGKILL and a restart")
    probe("c0", 1, 0, "after SIGKILL and a restart, the first creator")
    probe("c4", 3, 0, "after SIGKILL and a restart, the bulk-reviewed creator")
    up(d, "b1", "bad", creator="c3")
    probe("c3", 1, 1, "a new creator's rejected upload, after the restart")
    t.stopped(d)
    d.start()
    probe("c1", 11, 2, "after SIGTERM and a restart")
    probe("c3", 2, 1, "after SIGTERM and a restart, the new creator")
    t.stopped(d)


st.main(body)
