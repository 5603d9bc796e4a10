# SPDX-License-Identifier: MIT
"""The figures of one variant's week, from what the simulator saw and what the daemon answered.

Definitions (the report repeats them):
- reach of an item: users it was served to (the daemon serves an item to a
  user at most once); public reach: those served it by a wave other than
  the creator's followers. Items compared are those uploaded at least a day
  before the end, not violating the rules, that were distributed.
- good: hidden quality >= GOOD_Q; poor: < POOR_Q.
- a wave decision is right when a public wave of a good item continues (or
  switches: it keeps spreading) or one of a poor item stops.
- exposure: items served from a creator, over creators with at least one
  distributed item; its Lorenz curve and Gini.
"""
import re

from world import DAY_MS, GOOD_Q, HOUR_MS, POOR_Q

# The shipped traffic()'s report_threshold: reports that take an item out.
REPORTS_NEEDED = 3

CHECKS = (
    # name, what the issue asks, how the figure is read
    ("private", "private share 0.30 to 0.50", lambda f: f["shares"]["private"],
     lambda v, f: 0.30 <= v <= 0.50),
    ("ordinary", "ordinary share of public traffic >= 0.70", lambda f: f["shares"]["ordinary"],
     lambda v, f: v >= 0.70),
    ("reach", "good items reach >= 5x the users poor ones reach (public reach)",
     lambda f: f["reach"]["public_ratio"], lambda v, f: v is not None and v >= 5.0),
    ("zero", ">= 95% of zero-follower creators seen within a simulated day",
     lambda f: f["zero"]["share_1d"], lambda v, f: v is not None and v >= 0.95),
    ("gini", "exposure Gini below the head-heavy variant's", lambda f: f["gini"],
     lambda v, f: None if f.get("gini_head_heavy") is None else v < f["gini_head_heavy"]),
    ("abuse", "abusive accounts take no good item out of the feeds",
     lambda f: f["abuse"]["good_pulled_by_abusers"], lambda v, f: v == 0),
)


def _mean(xs):
    xs = list(xs)
    return sum(xs) / len(xs) if xs else None


def _quantile(xs, q):
    xs = sorted(xs)
    if not xs:
        return None
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def thin(rows, n=300):
    """At most about n rows of a long series, the last one kept (plots
    and the figures file need no more)."""
    if len(rows) <= n:
        return rows
    step = len(rows) / n
    return [rows[int(i * step)] for i in range(n)] + [rows[-1]]


def lorenz(values, points=200):
    """Lorenz curve points [(share of creators, share of exposure)] and Gini."""
    v = sorted(values)
    n, total = len(v), float(sum(v))
    if n == 0 or total == 0:
        return [[0, 0], [1, 1]], 0.0
    cum, acc, area = [], 0.0, 0.0
    for x in v:
        prev = acc
        acc += x
        area += (prev + acc) / 2
        cum.append(acc / total)
    gini = 1 - 2 * area / (n * total)
    step = max(1, n // points)
    pts = [[0.0, 0.0]] + [[(i + 1) / n, cum[i]] for i in range(step - 1, n, step)]
    if pts[-1][0] < 1:
        pts.append([1.0, 1.0])
    return pts, gini


def figures(world, wk, name):
    obs, items = wk.obs, wk.items
    t0 = wk.t0
    end_ms = wk.now - t0
    f = {"variant": name, "perf": wk.perf, "errors": obs.errors[:20],
         "errors_n": len(obs.errors), "twice": len(obs.twice)}
    distributed = [it for it in world.items
                   if it.id in items and items[it.id]["waves"]]
    st = wk.final_stats or {}
    shares = st.get("shares") or {}
    f["shares"] = {"private": shares.get("private"), "ordinary": shares.get("ordinary"),
                   "gini_daemon": shares.get("gini"), "served": shares.get("served"),
                   "served_public": shares.get("served_public"),
                   "private_sim": obs.served_private / max(1, obs.served_total)}
    f["shares"].update(_private_supply(world, distributed, items, obs))
    f["shares_series"] = _shares_series(obs.samples)
    f["feeds"] = {"pages": obs.pages, "items": obs.page_items, "short": obs.short_pages,
                  "empty": obs.empty_pages, "events": obs.events,
                  "new_follows": obs.new_follows}
    # Exposure over creators with at least one distributed item.
    creators = {it.creator for it in distributed}
    pts, gini = lorenz([obs.exposure.get(c, 0) for c in creators])
    f["lorenz"], f["gini"] = pts, gini
    top = sorted((obs.exposure.get(c, 0) for c in creators), reverse=True)
    head_n = max(1, len(top) // 10)
    f["exposure"] = {"creators": len(creators),
                     "top10pct_share": sum(top[:head_n]) / max(1, sum(top)),
                     "zero_exposure": sum(1 for x in top if x == 0)}
    f["funnel"] = st.get("funnel")
    f["wave_decisions"] = st.get("decisions")
    f["funnel_items"] = _funnel(distributed, items)
    f["reach"], f["reach_by_q"] = _reach(distributed, obs, wk, end_ms)
    f["decisions"] = _decisions(distributed, items)
    f["waves"] = _waves(distributed, items)
    f["zero"] = _zero(world, obs, items, t0, end_ms)
    f["queues"] = _queues(obs, world)
    f["abuse"] = _abuse(world, obs, items, wk)
    f["memory"] = {"hwm_kib": wk.perf.get("hwm_kib"),
                   "rss_series": [[s["sim_ms"] / HOUR_MS, s["rss_kib"]] for s in obs.samples
                                  if s.get("rss_kib")]}
    verdicts = {}
    for v in obs.upload_state:
        verdicts[v] = verdicts.get(v, 0) + 1
    f["items"] = {"uploaded": len(world.items), "distributed": len(distributed),
                  "states": st.get("items"), "upload_verdicts": verdicts}
    return f


def _private_supply(world, distributed, items, obs):
    """Items from followed creators offered to users who ever read a feed
    (the followers waves' placements, scaled by the share of each creator's
    followers who come back): what the private share could be at most."""
    readers = bytearray(world.p.users)
    for _, u in world.sessions:
        readers[u] = 1
    active = {}
    for u, cs in enumerate(world.following):
        if readers[u]:
            for c in cs:
                active[c] = active.get(c, 0) + 1
    offered = 0.0
    for it in distributed:
        fol = world.followers.get(it.creator, 0)
        if not fol:
            continue
        placed = sum(x.get("placed") or 0 for x in items[it.id]["waves"]
                     if x.get("audience") == "followers")
        offered += placed * active.get(it.creator, 0) / fol
    return {"private_offered_readers": offered, "private_served": obs.served_private,
            "private_ceiling": offered / max(1, obs.served_total)}


def _shares_series(samples):
    """Private and ordinary share of what was served in each simulated hour."""
    out = []
    prev = None
    for s in samples:
        sh = s.get("shares") or {}
        if not sh.get("served"):
            continue
        cur = (sh["served"], sh["private"] * sh["served"], sh["served_public"],
               sh["ordinary"] * sh["served_public"])
        if prev:
            d = [a - b for a, b in zip(cur, prev)]
            if d[0] > 0:
                out.append([s["sim_ms"] / HOUR_MS, d[1] / d[0],
                            d[3] / d[2] if d[2] > 0 else None, d[0]])
        prev = cur
    return out


def _funnel(distributed, items):
    """Items whose k-th wave placed anyone, by k; and the audiences of waves."""
    placed = {}
    kinds = {}
    for it in distributed:
        for x in items[it.id]["waves"]:
            if (x.get("placed") or 0) > 0:
                placed[x["n"]] = placed.get(x["n"], 0) + 1
            kind = (x.get("audience") or "?").split(":")[0]
            kinds[kind] = kinds.get(kind, 0) + (x.get("placed") or 0)
    return {"placed_by_wave": sorted(placed.items()), "placed_by_audience": kinds}


def _reach(distributed, obs, wk, end_ms):
    good, poor, mid = [], [], []
    buckets = {}
    for it in distributed:
        if it.violating or obs.upload_ms[it.idx] is None:
            continue
        if obs.upload_ms[it.idx] - wk.t0 > end_ms - DAY_MS:
            continue
        r = (obs.imp[it.idx], obs.imp_pub[it.idx])
        (good if it.q >= GOOD_Q else poor if it.q < POOR_Q else mid).append(r)
        b = min(9, int(it.q * 10))
        buckets.setdefault(b, []).append(r)
    out = {}
    for name, xs in (("good", good), ("mid", mid), ("poor", poor)):
        out[name] = {"n": len(xs), "mean": _mean(x[0] for x in xs),
                     "mean_public": _mean(x[1] for x in xs),
                     "median": _quantile([x[0] for x in xs], 0.5),
                     "median_public": _quantile([x[1] for x in xs], 0.5)}
    g, p = out["good"], out["poor"]
    out["ratio"] = (g["mean"] / p["mean"]) if g["mean"] and p["mean"] else None
    out["public_ratio"] = (g["mean_public"] / p["mean_public"]
                           if g["mean_public"] is not None and p["mean_public"] else None)
    by_q = [[(b + 0.5) / 10, _mean(x[0] for x in xs), _mean(x[1] for x in xs), len(xs)]
            for b, xs in sorted(buckets.items())]
    return out, by_q


def _decisions(distributed, items):
    tp = fp = tn = fn = 0
    for it in distributed:
        if it.violating or POOR_Q <= it.q < GOOD_Q:
            continue
        good = it.q >= GOOD_Q
        for x in items[it.id]["waves"]:
            if x.get("audience") == "followers":
                continue
            d = x.get("decision")
            if d in ("continue", "switch"):
                tp, fp = (tp + 1, fp) if good else (tp, fp + 1)
            elif d == "stop":
                fn, tn = (fn + 1, tn) if good else (fn, tn + 1)
    n = tp + fp + tn + fn

    def div(a, b):
        return a / b if b else None
    return {"n": n, "spread_good": tp, "spread_poor": fp, "stop_poor": tn, "stop_good": fn,
            "accuracy": div(tp + tn, n),
            "precision_spread": div(tp, tp + fp), "recall_spread": div(tp, tp + fn),
            "precision_stop": div(tn, tn + fn), "recall_stop": div(tn, tn + fp)}


def _waves(distributed, items):
    """How waves ended: by time (and how far past their limit the step in
    which it fell let them run), or otherwise."""
    over, timed, other = [], 0, 0
    for it in distributed:
        for x in items[it.id]["waves"]:
            if x.get("ended_ms") is None or x.get("started_ms") is None:
                continue
            ran = x["ended_ms"] - x["started_ms"]
            lim = x.get("limit_ms") or 0
            by = x.get("ended_by")
            if by == "time" or (by is None and lim and ran >= lim):
                timed += 1
                over.append((ran - lim) / 60000.0)
            else:
                other += 1
    return {"time_ended": timed, "other_ended": other,
            "overshoot_median_min": _quantile(over, 0.5),
            "overshoot_p90_min": _quantile(over, 0.9)}


def _zero(world, obs, items, t0, end_ms):
    """Creators nobody followed when they first uploaded: how soon anyone
    outside saw them."""
    first = {}
    per_item = []
    for it in world.items:
        c = it.creator
        if c not in world.zero_at_start or it.id not in items or not items[it.id]["waves"]:
            continue
        up = obs.upload_ms[it.idx] - t0
        seen = obs.first_pub_ms[it.idx]
        h = (seen - t0 - up) / HOUR_MS if seen is not None else None
        per_item.append([up / HOUR_MS, h])
        f = first.setdefault(c, [up, None])
        f[0] = min(f[0], up)
        if seen is not None:
            s = seen - t0
            f[1] = s if f[1] is None else min(f[1], s)
    seen_1d = censored = 0
    for up, seen in first.values():
        if seen is not None and seen - up <= DAY_MS:
            seen_1d += 1
        elif end_ms - up < DAY_MS:
            censored += 1       # less than a day to be seen in, and not seen yet
    n = len(first) - censored
    hours = sorted(h for _, h in per_item if h is not None)
    return {"creators": len(first), "censored": censored, "seen_1d": seen_1d,
            "share_1d": seen_1d / n if n else None, "items": len(per_item),
            "items_seen": len(hours), "median_h": _quantile(hours, 0.5),
            "p90_h": _quantile(hours, 0.9),
            "cdf": thin([[h, (i + 1) / max(1, len(per_item))] for i, h in enumerate(hours)])}


def _queues(obs, world):
    names = sorted({q for s in obs.samples for q in s.get("queues", {})})
    series = [[s["sim_ms"] / HOUR_MS] + [s.get("queues", {}).get(q, 0) for q in names]
              for s in obs.samples]
    by_q, whys = {}, {}
    waits = []
    for d in obs.decisions:
        if d["enqueued_ms"] is None:
            continue
        m = max(0.0, (d["decided_ms"] - d["enqueued_ms"]) / 60000.0)
        waits.append(m)
        q = d["queue"] or "?"
        by_q.setdefault(q, []).append(m)
        # What the item came for, its numbers left out ("nsfw.score N").
        why = re.sub(r"[0-9]+(\.[0-9]+)?", "N", d.get("why", ""))
        whys.setdefault(q, {}).setdefault(why, 0)
        whys[q][why] += 1
    decide = {q: {"n": len(xs), "median_min": _quantile(xs, 0.5), "p90_min": _quantile(xs, 0.9),
                  "max_min": max(xs), "why": max(whys[q].items(), key=lambda kv: kv[1])[0]}
              for q, xs in sorted(by_q.items())}
    right = [d["right"] for d in obs.decisions if d["decision"] != "escalate"]
    waits.sort()
    return {"names": names, "series": series, "decide": decide,
            "decisions": len(obs.decisions), "conflicts": obs.mod_conflicts,
            "right_share": _mean(1.0 if r else 0.0 for r in right),
            "escalated": sum(1 for d in obs.decisions if d["decision"] == "escalate"),
            "cdf": thin([[w, (i + 1) / len(waits)] for i, w in enumerate(waits)]),
            "max_depth": max((sum(r[1:]) for r in series), default=0),
            "moderators": len(world.moderators)}


def _pulled(audit):
    """Holds by reports in an item's audit trail: [(ts, reason)]."""
    return [(ts, reason) for action, to, reason, ts in audit
            if action == "hold" and reason and "report" in reason]


def _abuse(world, obs, items, wk):
    """Good items taken out of the feeds by reports, and whether the
    abusers were needed for it: an item ordinary viewers reported fewer
    than REPORTS_NEEDED times in its whole life came out only because
    abusers reported it too."""
    good_pulled, with_abusers, by_abusers, genuine_only = 0, 0, 0, 0
    for it in world.items:
        j = items.get(it.id)
        if not j or it.violating or it.q < GOOD_Q or not _pulled(j["audit"]):
            continue
        good_pulled += 1
        genuine = obs.genuine_reports.get(it.idx, 0)
        if obs.abuser_reports.get(it.idx):
            with_abusers += 1
            if genuine < REPORTS_NEEDED:
                by_abusers += 1
        else:
            genuine_only += 1
    targets = []
    for k, at in obs.targets:
        it = world.items[_by_idx(world, k)]
        j = items.get(it.id, {})
        targets.append({"item": it.id, "at_h": at / HOUR_MS,
                        "pulled": bool(_pulled(j.get("audit", []))),
                        "state": j.get("state"), "public_reach": obs.imp_pub[k]})
    boosted = sorted(obs.boosted)
    poor_other = [obs.imp_pub[it.idx] for it in world.items
                  if it.q < POOR_Q and it.idx not in obs.boosted and it.id in items
                  and items[it.id]["waves"] and not it.violating]
    return {"reporters": len(world.reporters), "boosters": len(world.boosters),
            "targets": targets, "targets_pulled": sum(1 for t in targets if t["pulled"]),
            "items_reported_by_abusers": len(obs.abuser_reports),
            "good_pulled": good_pulled, "good_pulled_with_abusers": with_abusers,
            "good_pulled_by_abusers": by_abusers, "good_pulled_genuine_only": genuine_only,
            "boosted": len(boosted),
            "boosted_public_reach": _mean(obs.imp_pub[k] for k in boosted),
            "poor_public_reach": _mean(poor_other)}


def _by_idx(world, k):
    if not hasattr(world, "_pos"):
        world._pos = {it.idx: i for i, it in enumerate(world.items)}
    return world._pos[k]


def checks(f, head_heavy=None):
    """The issue's numbers for one variant: [{name, what, value, ok}];
    ok is None when the run cannot tell (no head-heavy variant ran)."""
    f["gini_head_heavy"] = head_heavy["gini"] if head_heavy else None
    out = []
    for name, what, get, ok in CHECKS:
        try:
            v = get(f)
            good = ok(v, f)
            good = None if good is None else bool(good)
        except (KeyError, TypeError):
            v, good = None, False
        out.append({"name": name, "what": what, "value": v, "ok": good})
    f["checks"] = out
    return out
