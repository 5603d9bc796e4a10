#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/sim/sim.py: a simulated platform week against the real sluiced, and its report.

usage: bench/sim/sim.py [--small] [--variant NAME=DIR ...] [--only NAMES] [--out DIR] ...
  (see --help). Python 3 standard library only; gnuplot (Debian gnuplot-nox)
  for the plots.

The platform is generated from --seed; policy variants run side by side,
each on its own sluiced started from one snapshot of the loaded platform.
The report (report.md, PNG plots, figures-*.json) goes to --out.
"""
import argparse
import os
import pickle
import platform as pyplatform
import shutil
import signal
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import daemon as sd  # noqa: E402
import loader  # noqa: E402
import measure  # noqa: E402
import report  # noqa: E402
import week  # noqa: E402
import world as wd  # noqa: E402

VARIANTS = ("shipped", "fixed-threshold", "head-heavy")


def variant_dirs(names, extra=()):
    """[(name, overlay folder or None, whole folder or None)]: the built-in
    variants overlay the shipped policies; --variant folders replace them."""
    out = []
    for n in names:
        overlay = None if n == "shipped" else os.path.join(sd.SIM_DIR, "variants", n)
        if overlay and not os.path.isdir(overlay):
            raise SystemExit("sim: no variant %s (%s)" % (n, overlay))
        out.append((n, overlay, None))
    for spec in extra:
        name, _, folder = spec.partition("=")
        if not folder:
            name, folder = os.path.basename(os.path.normpath(spec)), spec
        if not os.path.isdir(folder):
            raise SystemExit("sim: --variant %s: no folder %s" % (spec, folder))
        out.append((name, None, os.path.abspath(folder)))
    return out


def drive(world, d, toks, name, speed, log, check_served):
    """One variant's week on daemon d; its figures."""
    wk = week.Week(world, d, toks, seed=world.p.seed, check_served=check_served, log=log)
    try:
        week.run(wk, speed, log)
        f = measure.figures(world, wk, name)
        f["policy_version"] = (wk.admin.call("GET", "/v1/policies")[1] or {}).get("version")
        return f
    finally:
        wk.close()


def in_child(fn, *args):
    """Run fn(*args) in a forked process; returns (pid, pipe to read the
    pickled ("ok", result) or ("error", traceback) from). The child never
    returns into the caller, nor runs its exit handlers (the test
    harness's would stop the daemons)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        code = 0
        try:
            out = ("ok", fn(*args))
        except BaseException:
            out, code = ("error", traceback.format_exc()), 1
        try:
            with os.fdopen(w, "wb") as f:
                pickle.dump(out, f)
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
    os.close(w)
    return pid, r


def simulate(world, variants, make_daemon, shipped_dir, speed, log=print, check_served=False):
    """Load the platform into a first daemon, snapshot it, run every
    variant's week from the snapshot, each driven by a process of its own so
    that the daemons and drivers share the CPUs. make_daemon(name) gives a
    daemon not yet started (sd.Sluiced or the test harness's). Returns
    (figures per variant, run facts)."""
    timing = {}
    t = time.monotonic()
    base = make_daemon("base")
    sd.assemble(base.policies, shipped_dir)
    base.start()
    toks, load = loader.load(base, world, log)
    snap = os.path.join(os.path.dirname(base.state.rstrip("/")), "platform.db")
    size = loader.snapshot(base, snap)
    admin = base.token
    base.stop()
    with open(os.path.join(base.state, "audit.key"), "rb") as f:
        audit_key = f.read()
    shutil.rmtree(base.state, ignore_errors=True)
    timing["load_s"] = time.monotonic() - t
    log("sim: platform snapshot %.0f MiB" % (size / 1048576))

    daemons, children, figs = [], [], []
    try:
        for name, overlay, whole in variants:
            d = make_daemon(name)
            sd.assemble(d.policies, whole or shipped_dir, None if whole else overlay)
            sd.restore(d, snap, admin, audit_key)
            d.start()
            daemons.append(d)
        sys.stdout.flush()
        t = time.monotonic()
        for k, ((name, _, _), d) in enumerate(zip(variants, daemons)):
            # The first variant tells the progress; the others keep quiet.
            say = (lambda m, n=name: log("%s (%s)" % (m, n))) if k == 0 else (lambda m: None)
            children.append(in_child(drive, world, d, toks, name, speed, say, check_served))
        failures = []
        for (name, _, _), (pid, r) in zip(variants, children):
            with os.fdopen(r, "rb") as f:
                try:
                    status, out = pickle.load(f)
                except EOFError:
                    status, out = "error", "the driver process died"
            os.waitpid(pid, 0)
            if status == "ok":
                figs.append(out)
            else:
                failures.append("%s: %s" % (name, out))
        timing["week_s"] = time.monotonic() - t
        if failures:
            raise RuntimeError("sim: a variant's week failed:\n" + "\n".join(failures))
    finally:
        for pid, _ in children:         # still running only when we are cut short
            try:
                if os.waitpid(pid, os.WNOHANG) == (0, 0):
                    os.kill(pid, signal.SIGTERM)
                    os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        for d in daemons:
            try:
                d.stop()
            except Exception as e:      # a daemon that will not stop: say so, go on
                log("sim: %s" % e)
    os.remove(snap)
    heavy = next((f for f in figs if f["variant"] == "head-heavy"), None)
    for f in figs:
        measure.checks(f, heavy)
    return figs, {"timing": timing, "load": load}


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return "%d CPUs (%s), %s, load average at start %s" % (
        os.cpu_count(), model, pyplatform.python_implementation() + " "
        + pyplatform.python_version(), load)


def load_average():
    with open("/proc/loadavg") as f:
        return "load average " + " ".join(f.read().split()[:3])


def find_builddir(src):
    """build/normal, else the first build/*/ with core/sluiced."""
    top = os.path.join(src, "build")
    dirs = sorted(os.listdir(top)) if os.path.isdir(top) else []
    for d in ["normal"] + dirs:
        path = os.path.join(top, d)
        if os.access(os.path.join(path, "core", "sluiced"), os.X_OK):
            return path
    raise SystemExit("sim: no build with core/sluiced under build/; give --build DIR")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true",
                    help="the small scale (%(users)d users, %(follows)d follows, %(items)d items, "
                         "%(days)d days)" % wd.SMALL)
    for k in ("users", "follows", "items", "days", "seed", "abusers", "moderators", "step_min"):
        ap.add_argument("--" + k.replace("_", "-"), type=int, dest=k)
    ap.add_argument("--only", help="built-in variants to run, comma-separated (default: %s)"
                    % ",".join(VARIANTS))
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=DIR",
                    help="also run this whole policy folder (repeatable)")
    ap.add_argument("--build", help="a configured build tree (default build/normal, else the "
                    "first build/*/ with core/sluiced)")
    ap.add_argument("--out", default="sim-report", help="report folder (default ./sim-report)")
    ap.add_argument("--tmp", help="where the daemons' state goes (default /dev/shm when "
                    "there, else $TMPDIR): a full run writes about 2 GiB a variant")
    ap.add_argument("--speed", type=float, default=0.0,
                    help="at most this many simulated minutes per real second (default 0: "
                    "no limit; moving the clock ends the waves whose time is up)")
    ap.add_argument("--keep", action="store_true", help="keep the state directories")
    ap.add_argument("--report-only", action="store_true",
                    help="remake report.md and the plots from --out's figures")
    a = ap.parse_args(argv)
    # bench/run stops us with SIGTERM: unwind, so the daemons are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    if a.report_only:
        figs, run = report.load(a.out)
        made = report.write(a.out, figs, run)
        print("sim: %s/report.md (%d plots)" % (a.out, len(made)))
        return 0

    kw = dict(wd.SMALL) if a.small else {}
    for k in ("users", "follows", "items", "days", "seed", "abusers", "moderators", "step_min"):
        if getattr(a, k) is not None:
            kw[k] = getattr(a, k)
    params = wd.Params(**kw)
    names = [n for n in (a.only.split(",") if a.only else VARIANTS) if n]
    variants = variant_dirs(names, a.variant)
    build = os.path.abspath(a.build) if a.build else find_builddir(sd.SRC_DIR)
    tmp_root = a.tmp or ("/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir())
    root = tempfile.mkdtemp(prefix="sluice-sim-", dir=tmp_root)
    conf = sd.conf_text(build)
    t_all = time.monotonic()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    mach = machine()
    print("sim: %s; state in %s" % (mach, root))
    try:
        t = time.monotonic()
        w = wd.World(params)
        t_world = time.monotonic() - t
        print("sim: platform generated in %.1f s: %d users, %d follows, %d items, %d sessions"
              % (t_world, params.users, params.follows, len(w.items), len(w.sessions)))
        figs, run = simulate(w, variants, lambda n: sd.Sluiced(build, os.path.join(root, n), conf),
                             os.path.join(sd.SRC_DIR, "policies"), a.speed)
    finally:
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)
    run["timing"]["world_s"] = t_world
    run["timing"]["total_s"] = time.monotonic() - t_all
    run["load_end"] = load_average()
    run.update({"params": params.as_dict(), "world": w.summary(), "variants": [f["variant"]
                for f in figs], "when": when, "machine": mach, "speed": a.speed,
                "command": "bench/sim/sim.py " + " ".join(argv if argv is not None
                                                          else sys.argv[1:])})
    made = report.write(a.out, figs, run)
    for f in figs:
        print("sim: %s: %s" % (f["variant"], ", ".join(
            "%s %s %s" % (c["name"], report._fmt(c["value"], 3), report._verdict(c["ok"]))
            for c in f["checks"])))
    print("sim: %s/report.md (%d plots) in %.0f s" % (a.out, len(made), run["timing"]["total_s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
