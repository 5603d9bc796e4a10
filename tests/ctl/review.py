# SPDX-License-Identifier: MIT
# sluicectl review on a pseudo-terminal: a moderator approves one item and
# rejects another with a reason (checked through the API), escalates, keeps
# a claim alive by working, loses an idle one, is told plainly when the
# daemon refuses a stale claim, and always gets the terminal back.
import os
import signal
import sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ctltest as ct  # noqa: E402
st = ct.st

LEASE = 5               # the smallest claim_lease_seconds the daemon takes
PROMPT = r"\[a\]pprove \[r\]eject"


def body(t):
    d = t.daemon('claim_lease_seconds = %d\n' % LEASE, start=False)
    ct.shipped_policies(d)
    d.start()
    mod = ct.token(d, "mod1", "moderator")

    def review(*args, tok=mod):
        return ct.Term([ct.ctl(), "--url", d.url, "--token", tok, "review"] + list(args))

    # Not a terminal: refused as a usage error, before anything is claimed.
    ct.upload(d, "r-first", nsfw=0.6)
    r = st.run([ct.ctl(), "--url", d.url, "--token", mod, "review"])
    t.check(r.returncode == 2, "review with stdin not a terminal exits 2", (r.returncode, r.stderr))
    t.check("terminal" in r.stderr, "  ... and says it needs a terminal", r.stderr)
    q = d.get("/v1/queue").json
    t.check(q["items"][0]["claimed_by"] is None, "  ... and claimed nothing", q)

    # {====== approve one, reject another with a typed reason ======
    ct.upload(d, "r-second", nsfw=0.7)
    t.check(ct.state(d, "r-first") == "in_review" and ct.state(d, "r-second") == "in_review",
            "two uploads wait for people under the shipped policies")
    term = review()
    try:
        m = term.expect(r"=== (r-first|r-second) ")
        t.require(m is not None, "review shows a claimed item", term.tail())
        first = m.group(1)
        other = "r-second" if first == "r-first" else "r-first"
        t.check(term.expect(r"title:\s+title of " + first) is not None,
                "  ... with its title", term.tail())
        t.check(term.expect(r"nsfw\.score 0\.[67]") is not None,
                "  ... and the policy's reason", term.tail())
        t.check(term.expect(PROMPT) is not None, "  ... and the keys to press", term.tail())
        t.check(not term.cooked(), "the terminal is in raw mode while reviewing")
        claimed = d.get("/v1/queue").json["items"]
        t.check(any(i["id"] == first and i["claimed_by"] == "mod1" for i in claimed),
                "  ... and the daemon shows the claim by mod1", claimed)

        term.send("a")
        t.check(term.expect(r"=== " + other + " ") is not None,
                "a approves and the next item comes up", term.tail())
        t.check(term.expect("approved " + first + ": now ") is not None,
                "  ... saying what became of the first", term.tail())
        term.expect(PROMPT)
        term.send("r")
        t.check(term.expect(r"1\s+nudity or sexual content") is not None,
                "r lists common reasons", term.tail())
        t.check(term.expect(r"reason: .*Enter sends") is not None, "  ... and asks for one",
                term.tail())
        term.send("blurry clop\x7f\x7fip shown \u00e9x\x7f\r")   # backspace edits the line
        t.check(term.expect("rejected " + other + ": now rejected") is not None,
                "a typed reason rejects it", term.tail())
        t.check(term.expect("nothing to review") is not None,
                "an empty queue is said so", term.tail())
        term.send("q")
        t.check(term.exit_code() == 0, "q quits with exit status 0", term.tail())
        t.check(term.cooked(), "  ... and gives the terminal back in its usual mode")
    finally:
        term.close()

    a = ct.decided_by(d, first, "approve", "token:mod1")
    b = d.item(other).json
    t.check(a is not None and a["to"] == "approved" and ct.state(d, first) in ct.APPROVED,
            "%s is approved by token:mod1, through the API" % first, d.item(first).json)
    t.check(b["state"] == "rejected", "%s is rejected, through the API" % other, b["state"])
    last = b["audit"][-1]
    t.check(last["action"] == "reject" and last["actor"] == "token:mod1"
            and last["reason"] == "blurry clip shown \u00e9",
            "  ... by token:mod1 with the reason as typed and edited", last)

    # {====== a numbered reason; escalation; --json summary ======
    ct.upload(d, "r-third", nsfw=0.6)
    ct.upload(d, "r-fourth", nsfw=0.6)
    term = ct.Term([ct.ctl(), "--json", "--url", d.url, "--token", mod, "review",
                    "--queue", "nsfw"])
    try:
        m = term.expect(r"=== (r-third|r-fourth) ")
        t.require(m is not None, "review --queue nsfw shows an item", term.tail())
        rejected = m.group(1)
        escalated = "r-fourth" if rejected == "r-third" else "r-third"
        term.expect(PROMPT)
        term.send("r")
        term.expect("Enter sends")
        term.send("5\r")
        t.check(term.expect("=== %s " % escalated) is not None, "the next item comes up",
                term.tail())
        t.check(term.expect("rejected %s: now rejected" % rejected) is not None,
                "  ... after the reason numbered 5 rejected the first", term.tail())
        term.expect(PROMPT)
        term.send("e")
        t.check(term.expect(r"why escalate") is not None, "e asks why", term.tail())
        term.send("\x1b")
        t.check(term.expect("not escalated") is not None, "  ... Esc cancels it", term.tail())
        term.expect(PROMPT)
        term.send("e")
        term.expect("why escalate")
        term.send("needs a lawyer\r")
        t.check(term.expect("escalated %s: now in_review" % escalated) is not None,
                "  ... a reason escalates it", term.tail())
        # The escalated item is never offered back to the one who escalated it.
        t.check(term.expect("nothing to review in the queue nsfw") is not None,
                "after both, the nsfw queue is empty for this moderator", term.tail())
        term.send("n")
        t.check(term.expect("nothing to review") is not None, "n asks again", term.tail())
        term.send("?")
        t.check(term.expect("a approve") is not None, "? shows the keys", term.tail())
        term.send("z")
        t.check(term.expect("'z' is no command") is not None, "an unknown key is said so",
                term.tail())
        term.send("q")
        t.check(term.exit_code() == 0, "q quits review --json with 0", term.tail())
        summary = None
        for line in term.out.splitlines():
            if line.startswith('{"decisions"'):
                summary = ct.json.loads(line)
        got = sorted((x["id"], x["decision"]) for x in (summary or {}).get("decisions", []))
        want = sorted([(rejected, "reject"), (escalated, "escalate")])
        t.check(got == want, "--json ends with the decisions made", summary)
    finally:
        term.close()
    rej = d.item(rejected).json
    t.check(rej["state"] == "rejected" and rej["audit"][-1]["reason"] == "spam or scam",
            "the numbered reason is the one stored", rej["audit"][-1])
    q = d.get("/v1/queue?queue=escalated").json
    t.check([i["id"] for i in q["items"]] == [escalated]
            and q["items"][0]["escalated_by"] in ("mod1", "token:mod1"),
            "the escalated item waits in the queue escalated", q)

    # {====== leases ======
    ct.upload(d, "r-lease", nsfw=0.6)
    ct.upload(d, "r-idle", nsfw=0.6)
    term = review("--queue", "nsfw")
    try:
        t.require(term.expect("=== r-lease ") is not None, "r-lease is claimed", term.tail())
        term.expect(PROMPT)
        # Work (keys) for twice the lease: the claim is renewed meanwhile.
        for _ in range(4 * LEASE):
            term.send("\r")
            term.settle(quiet=0.5, timeout=0.5)
        t.check("your claim expired" not in term.out[term.mark:],
                "a working moderator's claim does not expire", term.tail())
        term.send("a")
        t.require(term.expect("=== r-idle ") is not None, "a brings up r-idle", term.tail())
        t.check(term.expect("approved r-lease: now ") is not None,
                "  ... after the approval of r-lease, %ds after its claim" % (2 * LEASE),
                term.tail())
        t.check(ct.decided_by(d, "r-lease", "approve", "token:mod1") is not None,
                "  ... r-lease is approved", d.item("r-lease").json)
        t.check(term.expect("your claim expired; press n to claim again",
                            timeout=4 * LEASE) is not None,
                "an idle claim runs out and is said plainly", term.tail())
        term.send("a")
        t.check(term.expect("no item is yours now; press n") is not None,
                "  ... a then decides nothing", term.tail())
        t.check(ct.state(d, "r-idle") == "in_review", "  ... r-idle still waits")
        term.send("n")
        t.check(term.expect("=== r-idle ") is not None, "n claims it again", term.tail())
        term.expect(PROMPT)
        # Frozen past the lease with a key waiting: the daemon refuses the
        # stale claim and the moderator is told so in plain words.
        term.signal(signal.SIGSTOP)
        try:
            deadline = st.time.monotonic() + LEASE + 1.5
            while st.time.monotonic() < deadline:
                st.time.sleep(0.2)
            term.send("a")
        finally:
            term.signal(signal.SIGCONT)
        t.check(term.expect("your claim expired; press n to claim again") is not None,
                "a decision on an expired claim is refused and said plainly", term.tail())
        t.check(ct.state(d, "r-idle") == "in_review", "  ... and decided nothing")

        # Signals end the loop with the terminal restored.
        term.signal(signal.SIGTERM)
        s = term.wait()
        t.check(s is not None and os.WIFSIGNALED(s) and os.WTERMSIG(s) == signal.SIGTERM,
                "SIGTERM ends review", s)
        t.check(term.cooked(), "  ... with the terminal restored")
    finally:
        term.close()

    term = review()
    try:
        t.require(term.expect("=== r-idle ") is not None, "review claims r-idle once more",
                  term.tail())
        term.expect(PROMPT)
        term.send("\x03")       # Ctrl-C, as the terminal sends it
        s = term.wait()
        t.check(s is not None and os.WIFSIGNALED(s) and os.WTERMSIG(s) == signal.SIGINT,
                "Ctrl-C ends review", s)
        t.check(term.cooked(), "  ... with the terminal restored")
    finally:
        term.close()
    t.check(ct.state(d, "r-idle") == "in_review", "r-idle was never decided")

    # A refused start: exit 1, the terminal as it was.
    term = review(tok="not-a-token")
    try:
        t.check(term.expect("401") is not None, "review with a wrong token says 401", term.tail())
        t.check(term.exit_code() == 1, "  ... and exits 1", term.tail())
        t.check(term.cooked(), "  ... with the terminal restored")
    finally:
        term.close()
    ingest = ct.token(d, "ing1", "ingest")
    term = review(tok=ingest)
    try:
        t.check(term.expect("403") is not None, "review with an ingest token says 403",
                term.tail())
        t.check(term.exit_code() == 1, "  ... and exits 1", term.tail())
    finally:
        term.close()
    term = ct.Term([ct.ctl(), "--url", "http://127.0.0.1:%d" % st.free_port(), "--token", mod,
                    "review"])
    try:
        t.check(term.exit_code() == 1, "review with no daemon there exits 1", term.tail())
        t.check("cannot reach" in term.out, "  ... saying it cannot reach it", term.tail())
    finally:
        term.close()


st.main(body)
