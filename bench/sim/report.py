# SPDX-License-Identifier: MIT
"""report.md and its PNG plots (gnuplot), from the figures of every variant of one run."""
import json
import os
import shutil
import subprocess

from world import GOOD_Q, POOR_Q

TERM = 'set terminal pngcairo size 760,440 font "sans,10"\n'


def _fmt(v, nd=2):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if abs(v) >= 1000:
            return "{:,.0f}".format(v)
        return "%.*f" % (nd, v)
    if isinstance(v, int):
        return "{:,}".format(v)
    return str(v)


# {====================== Plots ===========================================

class Plots:
    def __init__(self, out, figs):
        self.out = out
        self.figs = figs
        self.data = os.path.join(out, "data")
        os.makedirs(self.data, exist_ok=True)
        self.made = []
        self.failed = {}
        self.gnuplot = shutil.which("gnuplot")

    def dat(self, name, rows):
        path = os.path.join(self.data, name)
        with open(path, "w") as f:
            for r in rows:
                f.write(" ".join("NaN" if x is None else repr(x) for x in r) + "\n")
        return path

    def run(self, png, script):
        if not self.gnuplot:
            return False
        path = os.path.join(self.data, png.replace(".png", ".gp"))
        with open(path, "w") as f:
            f.write(TERM + 'set output "%s"\n' % os.path.join(self.out, png) + script)
        r = subprocess.run([self.gnuplot, path], capture_output=True, text=True)
        if r.returncode != 0:
            # A plot with nothing to show (a run too short for it) must not
            # cost the report: say why instead.
            lines = [x for x in r.stderr.strip().splitlines() if x.strip()]
            self.failed[png] = lines[-1] if lines else "gnuplot exit %d" % r.returncode
            return False
        self.made.append(png)
        return True

    def lines(self, key_rows, using, title_of, with_="lines lw 2"):
        parts = []
        for k, f in enumerate(self.figs):
            path = self.dat("%s-%s.dat" % (key_rows, f["variant"]), f["_rows"][key_rows])
            parts.append('"%s" using %s with %s lt %d title "%s"'
                         % (path, using, with_, k + 1, title_of(f)))
        return ", \\\n     ".join(parts)

    def all(self):
        for f in self.figs:
            f["_rows"] = {
                "lorenz": f["lorenz"],
                "reach": f["reach_by_q"],
                "private": [[r[0], r[1]] for r in f["shares_series"]],
                "ordinary": [[r[0], r[2]] for r in f["shares_series"] if r[2] is not None],
                "zero": f["zero"]["cdf"],
                "depth": [[r[0], sum(r[1:])] for r in f["queues"]["series"]],
                "decide": f["queues"]["cdf"],
                "rss": [[h, kib / 1024.0] for h, kib in f["memory"]["rss_series"]],
                "funnel": f["funnel_items"]["placed_by_wave"],
            }
        self.run("lorenz.png", 'set title "Exposure of creators: Lorenz curve"\n'
                 'set xlabel "share of creators (least exposed first)"\n'
                 'set ylabel "share of items served"\nset key top left\n'
                 'set xrange [0:1]\nset yrange [0:1]\n'
                 'plot x with lines lt 0 title "equality", \\\n     '
                 + self.lines("lorenz", "1:2", lambda f: "%s (Gini %.3f)"
                              % (f["variant"], f["gini"])) + "\n")
        self.funnel()
        self.run("reach.png", 'set title "Public reach by hidden quality"\n'
                 'set xlabel "hidden quality (decile)"\n'
                 'set ylabel "mean users reached beyond followers"\nset logscale y\n'
                 'set key top left\nset xrange [0:1]\n'
                 'set arrow from %s, graph 0 to %s, graph 1 nohead lt 0\n'
                 'set arrow from %s, graph 0 to %s, graph 1 nohead lt 0\n'
                 % (POOR_Q, POOR_Q, GOOD_Q, GOOD_Q)
                 + "plot " + self.lines("reach", "1:($3 > 0 ? $3 : 1/0)",
                                        lambda f: f["variant"], "linespoints lw 2 pt 7")
                 + "\n")
        self.run("shares.png", 'set multiplot layout 2,1 title "Feed shares per simulated hour"\n'
                 'set ylabel "private share"\nset yrange [0:1]\nset key outside right\n'
                 'set arrow from graph 0, first 0.3 to graph 1, first 0.3 nohead lt 0\n'
                 'set arrow from graph 0, first 0.5 to graph 1, first 0.5 nohead lt 0\n'
                 "plot " + self.lines("private", "1:2", lambda f: f["variant"], "lines lw 1.5")
                 + '\nunset arrow\nset xlabel "simulated hour"\n'
                 'set ylabel "ordinary share of public"\n'
                 'set arrow from graph 0, first 0.7 to graph 1, first 0.7 nohead lt 0\n'
                 "plot " + self.lines("ordinary", "1:2", lambda f: f["variant"], "lines lw 1.5")
                 + "\nunset multiplot\n")
        self.run("zero.png",
                 'set title "Zero-follower creators: upload to first public impression"\n'
                 'set xlabel "hours after upload"\nset ylabel "share of their items seen"\n'
                 'set yrange [0:1]\nset key bottom right\nset logscale x\n'
                 'set arrow from 24, graph 0 to 24, graph 1 nohead lt 0\n'
                 "plot " + self.lines("zero", "($1 > 0.01 ? $1 : 0.01):2",
                                      lambda f: f["variant"], "steps lw 2") + "\n")
        self.run("queues.png", 'set multiplot layout 2,1 title "Review queues"\n'
                 'set xlabel "simulated hour"\nset ylabel "items waiting (all queues)"\n'
                 'set key outside right\n'
                 "plot " + self.lines("depth", "1:2", lambda f: f["variant"], "steps lw 1.5")
                 + '\nset xlabel "minutes from queue to decision"\n'
                 'set ylabel "share of decisions"\nset yrange [0:1]\nset logscale x\n'
                 "plot " + self.lines("decide", "($1 > 0.1 ? $1 : 0.1):2",
                                      lambda f: f["variant"], "steps lw 2")
                 + "\nunset multiplot\n")
        self.run("memory.png", 'set title "sluiced resident memory"\n'
                 'set xlabel "simulated hour"\nset ylabel "MiB"\nset key bottom right\n'
                 "plot " + self.lines("rss", "1:2", lambda f: f["variant"], "lines lw 2") + "\n")
        for f in self.figs:
            f.pop("_rows", None)
        return self.made

    def funnel(self):
        waves = sorted({w for f in self.figs for w, _ in f["funnel_items"]["placed_by_wave"]})
        rows = []
        for w in waves:
            rows.append([w] + [dict(f["funnel_items"]["placed_by_wave"]).get(w, 0)
                               for f in self.figs])
        path = self.dat("funnel.dat", rows)
        cols = ", \\\n     ".join('"%s" using %d:xtic(1) title "%s" lt %d'
                                  % (path, k + 2, f["variant"], k + 1)
                                  for k, f in enumerate(self.figs))
        self.run("funnel.png", 'set title "Wave funnel: items whose k-th wave reached anyone"\n'
                 'set xlabel "wave"\nset ylabel "items"\nset style data histograms\n'
                 'set style histogram clustered gap 1\nset style fill solid 0.8 border -1\n'
                 'set key top right\nset yrange [0:*]\nplot ' + cols + "\n")

# }=======================================================================


def write(out, figs, run, plots=True):
    """report.md (and the plots, when gnuplot is there) in out."""
    os.makedirs(out, exist_ok=True)
    for f in figs:
        with open(os.path.join(out, "figures-%s.json" % f["variant"]), "w") as fh:
            json.dump(f, fh, indent=1, default=str)
    with open(os.path.join(out, "run.json"), "w") as fh:
        json.dump(run, fh, indent=1, default=str)
    plotter = Plots(out, figs)
    made = plotter.all() if plots else []
    text = markdown(figs, run, made, plotter.failed)
    with open(os.path.join(out, "report.md"), "w") as fh:
        fh.write(text)
    return made


def load(out):
    """The figures and run of an earlier write() in out."""
    with open(os.path.join(out, "run.json")) as fh:
        run = json.load(fh)
    figs = []
    for name in run["variants"]:
        with open(os.path.join(out, "figures-%s.json" % name)) as fh:
            figs.append(json.load(fh))
    return figs, run


# {====================== Markdown ========================================

def _verdict(ok):
    return "n/a" if ok is None else "ok" if ok else "MISS"


def _table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(_fmt(x).replace("|", "/") for x in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def markdown(figs, run, made, failed=None):
    def _img(png, alt):
        if png in made:
            return "![%s](%s)\n" % (alt, png)
        return "(%s: no plot: %s)\n" % (png, (failed or {}).get(png, "gnuplot is not installed"))

    names = [f["variant"] for f in figs]
    p = run["params"]
    w = run["world"]
    o = []
    o.append("<!-- SPDX-License-Identifier: MIT -->\n# Simulated week: %s\n" % ", ".join(names))
    o.append("%s users (%s creators), %s follows, %s items over %d simulated days; seed %d; "
             "%s. Policy variants ran side by side on the same platform, the same "
             "sessions and the same uploads, each against its own sluiced.\n"
             % (_fmt(p["users"]), _fmt(w["creators"]), _fmt(w["follows"]), _fmt(p["items"]),
                p["days"], p["seed"], run.get("when", "")))
    o.append("\n## The issue's numbers\n\n")
    rows = []
    for k, c in enumerate(figs[0]["checks"]):
        r = [c["what"]]
        for f in figs:
            x = f["checks"][k]
            r.append("%s %s" % (_fmt(x["value"], 3), _verdict(x["ok"])))
        rows.append(r)
    o.append(_table(["promise"] + names, rows))
    o.append("\nThe promises are the shipped policies' to keep; the other columns show what "
             "each change costs. Reach is counted beyond the creator's followers (every "
             "follower is offered an item whatever its quality); items uploaded in the "
             "last simulated day are left out of it.\n")

    o.append("\n## The platform\n\n")
    act = w["activity"]
    o.append(_table(["", "figure"], [
        ["users: never come back / daily / now and then",
         "%s / %s / %s" % (_fmt(act["never"]), _fmt(act["daily"]), _fmt(act["rare"]))],
        ["sessions over the run", w["sessions"]],
        ["followers of the top 5 creators", ", ".join(_fmt(x) for x in w["followers_top"])],
        ["median followers of a creator", w["followers_median"]],
        ["share of follows held by the top 10% of creators", w["head_followers_share"]],
        ["creators nobody follows at the start", w["zero_follower_creators"]],
        ["interest correlation football-basketball / football-jazz (phi)",
         "%.2f / %.2f" % (w["phi_football_basketball"], w["phi_football_jazz"])],
        ["items good (q >= %.2f) / poor (q < %.2f) / all" % (GOOD_Q, POOR_Q),
         "%s / %s / %s" % (_fmt(w["good_items"]), _fmt(w["poor_items"]), _fmt(w["items"]))],
        ["upload verdicts (shipped): approved / in review / rejected",
         " / ".join(_fmt(figs[0]["items"].get("upload_verdicts", {}).get(k, 0))
                    for k in ("approved", "in_review", "rejected"))],
        ["uploads review sees: explicit / borderline / child / slipped through",
         " / ".join(_fmt(w["kinds"].get(k, 0)) for k in ("explicit", "borderline", "child",
                                                        "slipped"))],
        ["abusive accounts (reporters + boosters), moderators",
         "%d, %d" % (w["abusers"], w["moderators"])],
    ]))

    o.append("\n## Exposure of creators\n\n" + _img("lorenz.png", "Lorenz curves"))
    o.append(_table(["variant", "Gini (simulator)", "Gini (daemon)", "top 10% creators' share",
                     "creators never served"],
                    [[f["variant"], f["gini"], f["shares"]["gini_daemon"],
                      f["exposure"]["top10pct_share"], f["exposure"]["zero_exposure"]]
                     for f in figs]))

    o.append("\n## Wave funnel\n\n" + _img("funnel.png", "wave funnel"))
    rows = []
    for f in figs:
        pb = f["funnel_items"]["placed_by_audience"]
        total = sum(pb.values()) or 1
        served = f["shares"]["served"] or 0
        rows.append([f["variant"], f["items"]["distributed"],
                     " ".join("%s:%d" % tuple(kv) for kv in f["funnel_items"]["placed_by_wave"]),
                     total, served, served / total,
                     f["waves"]["time_ended"], f["waves"]["other_ended"],
                     f["waves"]["overshoot_median_min"]])
    o.append(_table(["variant", "items distributed", "items by wave reached",
                     "users placed", "items served", "served / placed",
                     "waves ended by time", "otherwise", "median minutes past the limit"], rows))
    o.append("\nA wave ended by time ends when the simulation moves the daemon's clock "
             "past its limit (a step at most); the last column is how far past the limit "
             "that was in simulated time.\n")

    o.append("\n## Good against poor\n\n" + _img("reach.png", "reach by quality"))
    rows = []
    for f in figs:
        r, d = f["reach"], f["decisions"]
        rows.append([f["variant"], r["good"]["mean_public"], r["poor"]["mean_public"],
                     r["public_ratio"], r["good"]["mean"], r["poor"]["mean"], r["ratio"],
                     d["accuracy"], d["precision_spread"], d["recall_spread"],
                     d["precision_stop"], d["recall_stop"], d["n"]])
    o.append(_table(["variant", "public reach good", "poor", "ratio", "total reach good",
                     "poor", "ratio", "decisions right", "spread precision", "spread recall",
                     "stop precision", "stop recall", "decisions"], rows))
    o.append("\nDecisions are those of public waves (not followers) of good or poor items; "
             "continue and switch keep an item spreading.\n")

    o.append("\n## Private and ordinary shares over time\n\n" + _img("shares.png", "shares"))
    o.append(_table(["variant", "private (daemon)", "private (simulator)", "ordinary",
                     "items served", "pages", "short pages", "empty pages",
                     "private offered to readers", "of them served", "private share if all"],
                    [[f["variant"], f["shares"]["private"], f["shares"]["private_sim"],
                      f["shares"]["ordinary"], f["shares"]["served"], f["feeds"]["pages"],
                      f["feeds"]["short"], f["feeds"]["empty"],
                      f["shares"]["private_offered_readers"], f["shares"]["private_served"],
                      f["shares"]["private_ceiling"]] for f in figs]))
    o.append("\nPrivate offered to readers: items the followers waves placed with users who "
             "read a feed at least once in the run; the last column is the private share "
             "had every one of them been served.\n")

    o.append("\n## Zero-follower creators\n\n" + _img("zero.png", "zero-follower creators"))
    o.append(_table(["variant", "creators", "seen within a day", "share", "not yet a day old",
                     "items", "items seen", "median hours", "90th percentile hours"],
                    [[f["variant"], f["zero"]["creators"], f["zero"]["seen_1d"],
                      f["zero"]["share_1d"], f["zero"]["censored"], f["zero"]["items"],
                      f["zero"]["items_seen"], f["zero"]["median_h"], f["zero"]["p90_h"]]
                     for f in figs]))

    o.append("\n## Moderation\n\n" + _img("queues.png", "queues"))
    rows = []
    for f in figs:
        q = f["queues"]
        for name, x in q["decide"].items():
            rows.append([f["variant"], name, x["n"], x["median_min"], x["p90_min"], x["max_min"],
                         x.get("why", "")])
    o.append(_table(["variant", "queue", "decisions", "median minutes", "90th percentile",
                     "longest", "most items came for"], rows))
    o.append("\n" + _table(["variant", "moderators", "decisions", "right", "escalated",
                            "stale claims", "deepest queue"],
                           [[f["variant"], f["queues"]["moderators"], f["queues"]["decisions"],
                             f["queues"]["right_share"], f["queues"]["escalated"],
                             f["queues"]["conflicts"], f["queues"]["max_depth"]] for f in figs]))
    o.append("\nModerators work in shifts (fewest at night), take a median %d s a decision, "
             "are wrong %d%% of the time and escalate %d%%. Their claims and decisions reach "
             "the daemon at the time of the %d-minute step; the minutes to decision are the "
             "moderator's own: from when the item was queued (its audit record) or the "
             "moderator was free, plus the time the decision took. Queue depths are read "
             "once a simulated hour.\n"
             % (p["mod_median_s"], round(100 * p["mod_error"]), round(100 * p["mod_escalate"]),
                p["step_min"]))

    o.append("\n## What the abusive accounts achieved\n\n")
    rows = []
    for f in figs:
        a = f["abuse"]
        rows.append([f["variant"], len(a["targets"]), a["targets_pulled"],
                     a["items_reported_by_abusers"], a["good_pulled"],
                     a["good_pulled_with_abusers"], a["good_pulled_by_abusers"],
                     a["good_pulled_genuine_only"], a["boosted"], a["boosted_public_reach"],
                     a["poor_public_reach"]])
    o.append(_table(["variant", "brigade targets", "of them pulled", "items abusers reported",
                     "good items pulled by reports", "abusers among the reporters",
                     "pulled only thanks to abusers", "by viewers alone",
                     "items boosted", "their public reach", "other poor items' public reach"],
                    rows))
    o.append("\nReporters (%d) pick a good item out in public every %d simulated hours and "
             "report it three times each, served or not, and report every good item their own "
             "feeds show; boosters (%d) like, finish and share every fresh item of two poor "
             "creators, served or not. An item pulled only thanks to abusers is one ordinary "
             "viewers reported fewer than 3 times (the shipped threshold) in the whole run.\n"
             % (figs[0]["abuse"]["reporters"], 6, figs[0]["abuse"]["boosters"]))

    o.append("\n## The run\n\n" + _img("memory.png", "memory"))
    rows = []
    for f in figs:
        pf = f["perf"]
        events = sum(f["feeds"]["events"].values())
        rows.append([f["variant"], pf["real_s"], pf["requests"], pf["requests_per_s"],
                     events, events / max(1e-9, pf["real_s"]), pf["daemon_cpu_s"],
                     pf.get("driver_cpu_s"),
                     (pf.get("hwm_kib") or 0) / 1024.0, pf.get("sim_min_per_s"), f["errors_n"]])
    o.append(_table(["variant", "seconds", "requests", "requests/s", "events sent", "events/s",
                     "daemon CPU s", "driver CPU s", "peak memory MiB (VmHWM)",
                     "simulated minutes a second", "unexpected answers"], rows))
    t = run["timing"]
    o.append("\nWall time: world %.0f s, loading users and follows %.0f s (%s requests, "
             "%.0f/s), the week %.0f s, all %.0f s. Simulated minutes per step: %d; %s. "
             "Machine: %s; at the end %s.\n"
             % (t["world_s"], t["load_s"], _fmt(run["load"]["requests"]),
                run["load"]["requests"] / max(1e-9, t["load_s"]), t["week_s"], t["total_s"],
                p["step_min"],
                "at most %s simulated minutes per real second" % _fmt(run["speed"])
                if run.get("speed") else "no pace: as fast as the daemons and drivers went",
                run.get("machine", ""), run.get("load_end", "-")))
    o.append("\nReproduce: `%s`\n" % run.get("command", "bench/sim/sim.py"))
    return "".join(o)

# }=======================================================================
