# SPDX-License-Identifier: MIT
"""A plugin built out of tree, as an outside author would: install plugin.h
and sluice-plugin.pc into a scratch prefix, compile with pkg-config's flags
only, and load the result into a real sluiced whose uploads it tags."""
import os
import shutil
import subprocess
import sys

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


st.main(body)
