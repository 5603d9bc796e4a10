# SPDX-License-Identifier: MIT
"""C plugins in distribution, over HTTP: the dist_probe test plugin (ABI 1.1,
steered by each item's title) beside a 1.0 plugin and a fixture policy that
says back what the plugin answered. The combination rule each way round
(for waves, plans and traffic settings), every decision saying who made it,
answers the engine must refuse (garbage, a wait at an end, a bad switch, an
error, a call past plugin_budget_ms) holding items for people and counted,
and policy replay replaying plugin decisions."""
import json
import os
import sys

sys.dont_write_bytecode = True    # keep the source tree clean
import disttest as dt  # noqa: E402
from disttest import st  # noqa: E402

USERS = ["w%02d" % i for i in range(40)]
CATS = USERS[:10]
FANS = USERS[30:35]                # follow creator fc
WAIT = 25                          # seconds for a distribution to play out
PROBE = "plugin:dist_probe"
REFUSED = {                        # title -> what the hold's reason says
    "p-garbage": "decision 42",
    "p-noreason": "without a reason",
    "p-waitend": "wait is an answer only at an evidence checkpoint",
    "p-badswitch": "switch needs an audience",
    "p-error": "wave_done failed: Input/output error",
    "p-unterminated": "terminating NUL",
    "p-sleep": "over plugin_budget_ms (100 ms)",
}


def test_plugin(name):
    path = os.path.join(st.builddir(), "tests", "plugins", ".libs", name + ".so")
    if not os.path.exists(path):
        raise st.Failed("%s is not built (make check builds it)" % path)
    return path


def config(traffic="on"):
    return ('plugin_budget_ms = 100\n'
            'plugins = {\n'
            '  { name = "abi10", path = %s },\n'
            '  { name = "dist_probe", path = %s, traffic = "%s" },\n'
            '}\n' % (dt.lua_str(test_plugin("abi10")), dt.lua_str(test_plugin("dist_probe")),
                     traffic))


def waves_of(d, item):
    return (d.item(item).json or {}).get("waves") or []


def audit_of(d, item):
    return (d.item(item).json or {}).get("audit") or []


def settled(d, item, want="settled"):
    return dt.wait_for(lambda: dt.state(d, item) == want, WAIT, 0.2)


def up(t, d, item, title, tags=None):
    body = {"id": item, "creator": "fc", "title": title, "city": "lyon"}
    if tags:
        body["tags"] = tags
    r = d.post("/v1/uploads", body)
    t.require(r.status == 202, "upload %s (%s) -> 202" % (item, title), r)
    t.check("abi10.ran" in (r.json or {}).get("tags", {}),
            "%s: the 1.0 plugin's tag hook ran" % item, r.json)
    return r


def setup(t, d):
    bad = []
    for i, u in enumerate(USERS):
        r = d.post("/v1/users", {"id": u, "city": "lyon" if i % 2 else "paris",
                                 "interests": ["cats"] if u in CATS else ["dogs"]})
        if r.status != 200:
            bad.append(r)
    if d.post("/v1/users", {"id": "fc", "city": "lyon"}).status != 200:
        bad.append("fc")
    for u in FANS:
        if d.req("PUT", "/v1/follows/%s/fc" % u).status != 200:
            bad.append(u)
    t.require(not bad, "40 users, creator fc with 5 followers", bad[:3])


def brief(ws):
    return [(x["n"], x["audience"], x["decision"], x["decided_by"], x["reason"]) for x in ws]


def waves_each_way(t, d, policy):
    up(t, d, "i-pc-ls", "p-cont lua-stop")
    up(t, d, "i-ps", "p-stop")
    up(t, d, "i-plain", "plain")
    up(t, d, "i-pc", "p-cont")
    up(t, d, "i-psw", "p-switch")
    up(t, d, "i-host", "p-host", tags={"interest.cats": 0.9})
    up(t, d, "i-lf", "p-cont lua-fail")

    # The plugin said continue, the policy stop: the more cautious wins.
    t.check(settled(d, "i-pc-ls"), "i-pc-ls settles", dt.state(d, "i-pc-ls"))
    w = waves_of(d, "i-pc-ls")
    t.check(len(w) == 1 and w[0]["decision"] == "stop" and w[0]["decided_by"] == policy
            and "the policy says stop [saw dist_probe: continue]" in w[0]["reason"]
            and "overruling plugin dist_probe, which said continue" in w[0]["reason"],
            "plugin continue, policy stop: the policy's stop decides, having seen the "
            "plugin's answer, and says it overruled it", brief(w))
    t.check(any(a.get("action") == "settle" and a.get("actor") == policy
                for a in audit_of(d, "i-pc-ls")), "its settle record names the policy")

    # The plugin said stop, the policy continue: the policy may not loosen it.
    t.check(settled(d, "i-ps"), "i-ps settles", dt.state(d, "i-ps"))
    w = waves_of(d, "i-ps")
    t.check(len(w) == 1 and w[0]["decision"] == "stop" and w[0]["decided_by"] == PROBE
            and w[0]["reason"] == "the probe says stop",
            "plugin stop, policy continue: the plugin's stop stands, with its reason", brief(w))
    t.check(any(a.get("action") == "settle" and a.get("actor") == PROBE
                for a in audit_of(d, "i-ps")), "its settle record names the plugin")

    # The plugin declines: the policy decides alone and saw nothing.
    t.check(settled(d, "i-plain"), "i-plain settles", dt.state(d, "i-plain"))
    w = waves_of(d, "i-plain")
    t.check(len(w) == 3 and all(x["decision"] == "continue" and x["decided_by"] == policy
                                and x["reason"] == "the policy says continue" for x in w),
            "plugin declines: the policy's continue, three waves", brief(w))

    # Both say continue: the plugin's answer stands as the plugin's.
    t.check(settled(d, "i-pc"), "i-pc settles", dt.state(d, "i-pc"))
    w = waves_of(d, "i-pc")
    t.check(len(w) == 3 and all(x["decision"] == "continue" and x["decided_by"] == PROBE
                                and x["reason"] == "the probe says continue" for x in w),
            "both continue: decided by the plugin", brief(w))

    # A plugin's switch is more cautious than the policy's continue.
    t.check(settled(d, "i-psw"), "i-psw settles", dt.state(d, "i-psw"))
    w = waves_of(d, "i-psw")
    t.check([(x["audience"], x["decision"], x["decided_by"]) for x in w]
            == [("followers", "switch", PROBE), ("interest:cats", "continue", PROBE),
                ("everyone", "continue", PROBE)],
            "plugin switch: wave 2 goes to interest:cats", brief(w))

    # What the host functions told the plugin.
    t.check(settled(d, "i-host"), "i-host settles", dt.state(d, "i-host"))
    w = waves_of(d, "i-host")
    r = w[0]["reason"] if w else ""
    t.check("audience=followers followers=5 cats=0.90" in r and "verdict=1" in r
            and "lower=0.8" in r and w[0]["decided_by"] == PROBE,
            "the plugin saw the wave, the creator's 5 followers, the item's tag and ran the "
            "sequential test", r)

    # The policy fails after the plugin answered: people look.
    t.check(settled(d, "i-lf", "in_review"), "plugin continue, policy fails: held",
            dt.state(d, "i-lf"))
    w = waves_of(d, "i-lf")
    t.check(w and w[0]["decision"] == "review" and w[0]["decided_by"] == policy
            and "wave_done fails on purpose" in w[0]["reason"],
            "the hold names the policy and its error", brief(w))


def refused(t, d, mod):
    before = dt.metric(d, "sluice_policy_failures_total", {"hook": "wave_done"}) or 0
    for i, title in enumerate(REFUSED):
        up(t, d, "i-bad%d" % i, title)
    for i, (title, why) in enumerate(REFUSED.items()):
        item = "i-bad%d" % i
        t.check(settled(d, item, "in_review"), "%s: held for people" % title,
                dt.state(d, item))
        w = waves_of(d, item)
        t.check(len(w) == 1 and w[0]["decision"] == "review" and w[0]["decided_by"] == PROBE
                and w[0]["reason"].startswith("policy_error: wave_done: plugin dist_probe: ")
                and why in w[0]["reason"],
                "%s: wave 1 ends in review, decided by the plugin, the reason says %r"
                % (title, why), brief(w))
    q = d.get("/v1/queue?queue=distribution&limit=100", token=mod)
    ids = [x["id"] for x in (q.json or {}).get("items", [])]
    t.check(all("i-bad%d" % i in ids for i in range(len(REFUSED))),
            "every one waits in queue distribution", ids)
    m = dt.metric(d, "sluice_plugin_failures_total", {"plugin": "dist_probe", "hook": "wave_done"})
    t.check(m == len(REFUSED), "sluice_plugin_failures_total{plugin=dist_probe,hook=wave_done} "
            "counts the %d refusals" % len(REFUSED), m)
    after = dt.metric(d, "sluice_policy_failures_total", {"hook": "wave_done"}) or 0
    t.check(after - before >= len(REFUSED), "and sluice_policy_failures_total{hook=wave_done} "
            "too (its alert fires)", (before, after))
    log = open(d.stderr_path, errors="replace").read()
    t.check("plugin dist_probe: wave_done took" in log,
            "the log names the plugin that ran over its budget")


def plans(t, d, policy):
    up(t, d, "i-plan", "p-plan")
    up(t, d, "i-plan-small", "p-plan lua-small")
    up(t, d, "i-plan-sees", "p-plan lua-sees-plan")
    up(t, d, "i-plan-bad", "p-plan-bad")
    up(t, d, "i-plan-zero", "p-plan-zero")

    def plan_of(item):
        return [(x["audience"], x["size"]) for x in
                ((d.item(item).json or {}).get("plan") or {}).get("waves", [])]

    def distribute(item):
        return [(a.get("actor"), a.get("reason")) for a in audit_of(d, item)
                if a.get("action") == "distribute"]

    t.check(plan_of("i-plan") == [("followers", 100), ("everyone", 3)]
            and distribute("i-plan") == [(PROBE, "plugin dist_probe's plan")],
            "the plugin's plan stands against the policy's larger one, and the audit says so",
            (plan_of("i-plan"), distribute("i-plan")))
    t.check(plan_of("i-plan-small") == [("followers", 100)]
            and distribute("i-plan-small")
            == [(policy, "the policy's plan, more cautious than plugin dist_probe's")],
            "the policy's smaller plan replaces the plugin's",
            (plan_of("i-plan-small"), distribute("i-plan-small")))
    t.check(plan_of("i-plan-sees") == [("followers", 100)],
            "the policy's plan saw the plugin's in item.plugin_decisions", plan_of("i-plan-sees"))
    t.check(settled(d, "i-plan"), "i-plan settles", dt.state(d, "i-plan"))
    t.check(len(waves_of(d, "i-plan")) == 2, "after the plugin's two waves",
            brief(waves_of(d, "i-plan")))
    for item, why in (("i-plan-bad", "plan wave 1 must be"), ("i-plan-zero", "0 waves")):
        t.check(settled(d, item, "in_review"), "%s: held for people" % item, dt.state(d, item))
        holds = [(a.get("actor"), a.get("reason")) for a in audit_of(d, item)
                 if a.get("action") == "hold"]
        t.check(holds and holds[0][0] == PROBE
                and holds[0][1].startswith("policy_error: plan: plugin dist_probe: ")
                and why in holds[0][1], "%s: the hold names the plugin and says %r" % (item, why),
                holds)
    m = dt.metric(d, "sluice_plugin_failures_total", {"plugin": "dist_probe", "hook": "plan"})
    t.check(m == 2, "two plan failures counted for the plugin", m)


def wait_at_checkpoint(t, d):
    up(t, d, "i-wc", "p-waitcheck")
    holders = [u for u in USERS
               if "i-wc" in [e["id"] for e in (d.get("/v1/feed/%s?tab=mixed&limit=100" % u).json
                                               or {}).get("items", [])]]
    t.require(len(holders) == 5, "the plugin's plan placed i-wc with 5 users", holders)
    r = d.post("/v1/events", {"item": "i-wc", "user": holders[0], "type": "impression"})
    t.status(r, 202, "one impression: the plan's first checkpoint")
    t.check(settled(d, "i-wc"), "i-wc settles at its time", dt.state(d, "i-wc"))
    w = waves_of(d, "i-wc")
    t.check(len(w) == 1 and w[0]["checks"] == 1 and w[0]["ended_by"] == "time"
            and w[0]["decision"] == "continue" and w[0]["reason"] == "ended by 3 after 1 waits"
            and w[0]["decided_by"] == PROBE,
            "the plugin's wait at the checkpoint stood against the policy's continue, and "
            "it decided at the end", brief(w))


def traffic(t, d, policy):
    tr = (d.get("/v1/stats").json or {}).get("traffic") or {}
    by = tr.get("set_by") or {}
    got = {k: (tr.get(k), by.get(k)) for k in ("private", "ordinary", "head", "report_threshold",
                                                "report_rate")}
    t.check(got == {"private": (0.45, PROBE), "ordinary": (0.70, policy),
                    "head": (0.10, "default"), "report_threshold": (3, policy),
                    "report_rate": (0.001, PROBE)},
            "traffic: the plugin's private share stands against the policy's; the policy fills "
            "ordinary; a lower report_threshold from the policy wins, a higher report_rate "
            "does not", got)
    card = (d.item("i-plain").json or {}).get("reports") or {}
    t.check(card.get("threshold") == 3, "an item's report card pulls at 3 reports", card)


def replay(t, d, policy):
    base = {os.path.basename(p): open(p).read() for p in dt.shipped_policies()[:3]}
    fixture = open(dt.fixture_files("plugin-waves")[0]).read()

    def run(decision):
        files = dict(base)
        files["30-waves.lua"] = fixture.replace(
            'return { decision = "continue", reason = "the policy says continue" .. saw }',
            'return { decision = "%s", reason = "the candidate says %s" }' % (decision, decision)
        ).replace('if has(item, "lua-stop") then', 'if false then')
        r = d.job("/v1/policies/replay", {"files": files, "since_ms": 0})
        t.require(r.status == 200, "replay of a candidate whose wave_done says %s" % decision, r)
        return r.json.get("version"), {(x["id"], x["wave"]): x for x in r.json["waves"]["changed"]}

    cand, ch = run("stop")
    x = ch.get(("i-pc", 1))
    t.check(x and x["from"] == {"decision": "continue"} and x["to"] == {"decision": "stop"}
            and x["by"] == {"from": PROBE, "to": "policy:" + cand} and x["decided_by"] == PROBE,
            "a candidate that stops: the plugin's continue would become the candidate's stop",
            x)
    t.check(("i-ps", 1) not in ch, "the plugin's stop stays a stop", ch.get(("i-ps", 1)))
    cand, ch = run("continue")
    x = ch.get(("i-pc-ls", 1))
    t.check(x and x["from"] == {"decision": "stop"} and x["to"] == {"decision": "continue"}
            and x["by"] == {"from": policy, "to": PROBE},
            "a candidate that continues: the live policy's stop would give way to the "
            "plugin's continue, replayed with the plugins loaded now", x)
    t.check(not any(k[0] in ("i-ps", "i-pc") for k in ch),
            "where the plugin decided and still decides, nothing changes", sorted(ch))


def traffic_refused(t, d):
    t.stopped(d, "stop to load the plugin with a garbage traffic answer")
    with open(d.conf, "w") as f:
        f.write(config("garbage"))
    d.start()
    tr = (d.get("/v1/stats").json or {}).get("traffic") or {}
    t.check(tr.get("private") == 0.30 and tr["set_by"]["private"].startswith("policy:")
            and tr["set_by"]["report_rate"].startswith("policy:"),
            "a plugin's private share of 1.5 is refused whole: the policy's settings apply", tr)
    m = dt.metric(d, "sluice_plugin_failures_total", {"plugin": "dist_probe", "hook": "traffic"})
    t.check(m == 1, "and counted for the plugin", m)


def body(t):
    d = t.daemon(config(), start=False)
    dt.install(d, dt.shipped_policies()[:3], clear=True)
    dt.install(d, dt.fixture_files("plugin-waves"))
    d.start()
    policy = "policy:" + (d.get("/v1/policies").json or {}).get("version", "")
    plugins = {p["name"]: p["hooks"] for p in (d.get("/v1/policies").json or {}).get("plugins", [])}
    t.check(plugins == {"abi10": ["tag", "review"],
                        "dist_probe": ["plan", "wave_done", "traffic"]},
            "GET /v1/policies lists the 1.0 plugin and the 1.1 one with their hooks", plugins)
    mod = dt.token(t, d, "mod", "moderator")
    setup(t, d)
    r = d.post("/v1/uploads", {"id": "i-old", "creator": "fc", "title": "abi10-reject me"})
    t.check(r.status == 202 and (r.json or {}).get("state") == "rejected",
            "the 1.0 plugin's review hook still rejects", r.json)
    waves_each_way(t, d, policy)
    traffic(t, d, policy)
    refused(t, d, mod)
    plans(t, d, policy)
    wait_at_checkpoint(t, d)
    replay(t, d, policy)
    traffic_refused(t, d)
    t.stopped(d)


if __name__ == "__main__":
    st.main(body, "plugin_waves")
