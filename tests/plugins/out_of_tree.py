# SPDX-License-Identifier: MIT
"""A plugin built out of tree, as an outside author would: install plugin.h
and sluice-plugin.pc into a scratch prefix, compile with pkg-config's flags
only, and load the result into a real sluiced whose uploads it tags. Then
the same for the decider docs/plugins.md shows ("A decider out of tree"),
taken from that page as it is written: it stops the wave of an item its
viewers dislike."""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ.get("SLUICE_SRCDIR", "."), "tests", "integration"))
import sluicetest as st  # noqa: E402


def body(t):
    build, src = st.builddir(), st.srcdir()
    prefix = os.path.join(t.tmp, "prefix")
    for sub in ("include", "dist"):
        r = st.run(["make", "-s", "-C", os.path.join(build, sub), "install",
                    "prefix=" + prefix, "sysconfdir=" + prefix + "/etc",
                    "localstatedir=" + prefix + "/var"], timeout=60)
        t.require(r.returncode == 0, "make -C %s install into a scratch prefix" % sub,
                  r.stderr[-2000:])
    pcdir = os.path.join(prefix, "lib", "pkgconfig")
    t.require(os.path.exists(os.path.join(pcdir, "sluice-plugin.pc")),
              "sluice-plugin.pc is installed")
    env = dict(os.environ, PKG_CONFIG_PATH=pcdir)
    r = st.run(["pkg-config", "--define-variable=prefix=" + prefix, "--cflags",
                "sluice-plugin"], env=env)
    t.require(r.returncode == 0 and prefix in r.stdout,
              "pkg-config --cflags sluice-plugin points into the prefix", r.stdout + r.stderr)
    cflags = r.stdout.split()
    t.check(os.path.exists(os.path.join(prefix, "include", "sluice", "plugin.h")),
            "plugin.h is installed under include/sluice")

    # Compile from a copy outside the tree, so no project header can leak in.
    work = os.path.join(t.tmp, "author")
    os.makedirs(work)
    shutil.copy(os.path.join(src, "tests", "plugins", "abi_good.c"), work)
    so = os.path.join(work, "abi_good.so")
    cc = os.environ.get("CC", "cc").split()
    r = st.run(cc + ["-shared", "-fPIC", "-Wall", "-Werror", "-fvisibility=hidden"]
               + cflags + ["-o", so, os.path.join(work, "abi_good.c")], timeout=60)
    t.require(r.returncode == 0, "the plugin compiles with pkg-config's flags alone",
              r.stderr[-2000:])

    d = t.daemon('plugins = { { name = "abi_good", path = "%s" } }\n' % so)
    r = d.post("/v1/uploads", {"id": "oot1", "creator": "c1", "title": "hello"})
    t.status(r, 202, "an upload with the out-of-tree plugin loaded")
    tag = (r.json or {}).get("tags", {}).get("abi.good") or {}
    t.check(tag.get("source") == "abi_good", "its tag hook ran (tag abi.good by abi_good)", r.json)
    r = d.post("/v1/uploads", {"id": "oot2", "creator": "c1", "title": "plugin-reject me"})
    t.check(r.status == 202 and (r.json or {}).get("state") == "rejected",
            "its review hook rejects, and no policy can overturn it", r.json)
    pol = d.get("/v1/policies").json or {}
    t.check([p.get("name") for p in pol.get("plugins", [])] == ["abi_good"],
            "GET /v1/policies lists the plugin", pol.get("plugins"))
    t.stopped(d)
    decider(t, cc, cflags, work)


def doc_decider():
    """The C block under "### A decider out of tree" in docs/plugins.md."""
    with open(os.path.join(st.srcdir(), "docs", "plugins.md")) as f:
        page = f.read()
    m = re.search(r"### A decider out of tree\n.*?```c\n(.*?)```", page, re.S)
    return m.group(1) if m else None


def decider(t, cc, cflags, work):
    code = doc_decider()
    t.require(code and "wave_done" in code, "docs/plugins.md shows a decider in C")
    src, so = os.path.join(work, "dislikes.c"), os.path.join(work, "dislikes.so")
    with open(src, "w") as f:
        f.write(code)
    r = st.run(cc + ["-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", "-fPIC",
                     "-fvisibility=hidden"] + cflags + ["-shared", "-o", so, src], timeout=60)
    t.require(r.returncode == 0, "the page's decider compiles with pkg-config's flags alone",
              r.stderr[-2000:])

    d = t.daemon('plugins = { { name = "dislikes", path = "%s", share = 0.3 } }\n' % so,
                 name="decider", start=False)
    for p in sorted(glob.glob(os.path.join(st.srcdir(), "policies", "*.lua")))[:3]:
        shutil.copy(p, d.policies)
    shutil.copy(os.path.join(st.srcdir(), "tests", "plugins", "decider-policy", "30-waves.lua"),
                d.policies)
    d.start()
    users = ["v%02d" % i for i in range(40)]
    bad = [u for u in users + ["maker"] if d.post("/v1/users", {"id": u}).status != 200]
    t.require(not bad, "40 viewers and a creator", bad)
    for item in ("disliked", "liked"):
        r = d.post("/v1/uploads", {"id": item, "creator": "maker", "title": "clip " + item})
        t.require(r.status == 202 and (r.json or {}).get("state") == "approved",
                  "upload %s approved" % item, r.json)
    seen = {"disliked": [], "liked": []}
    for u in users:
        for e in (d.get("/v1/feed/%s?tab=mixed&limit=100" % u).json or {}).get("items", []):
            if e["id"] in seen:
                seen[e["id"]].append(u)
    t.require(all(len(v) == 30 for v in seen.values()), "each item's first wave reached 30",
              {k: len(v) for k, v in seen.items()})
    evs = []
    for u in seen["disliked"][:25]:
        evs += [{"item": "disliked", "user": u, "type": "impression"},
                {"item": "disliked", "user": u, "type": "dislike"}]
    for u in seen["liked"][:25]:
        evs += [{"item": "liked", "user": u, "type": "impression"},
                {"item": "liked", "user": u, "type": "like"}]
    r = d.post("/v1/events", "".join(json.dumps(e) + "\n" for e in evs),
               ctype="application/x-ndjson")
    t.status(r, 202, "25 viewers of each: one dislikes it all, the other likes it")
    # The stop is decided with the batch; the store learns it just after.
    deadline = time.monotonic() + 10
    while (d.item("disliked").json or {}).get("state") != "settled" and time.monotonic() < deadline:
        time.sleep(0.1)
    w = (d.item("disliked").json or {}).get("waves") or []
    t.check(len(w) == 1 and w[0]["decision"] == "stop" and w[0]["ended_by"] == "evidence"
            and w[0]["decided_by"] == "plugin:dislikes"
            and w[0]["reason"] == "25 of 25 viewers disliked it (surely over 30%)",
            "the disliked item stops at its checkpoint, by the plugin, against the policy's "
            "wait", w)
    w = (d.item("liked").json or {}).get("waves") or []
    t.check(len(w) == 1 and w[0]["decision"] == "" and w[0]["checks"] == 1,
            "the liked one: the plugin has no opinion, the policy's wait lets it run on", w)


st.main(body)
