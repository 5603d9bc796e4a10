# SPDX-License-Identifier: MIT
"""Helpers the review and distribution tests share, on top of the integration
harness (tests/integration/sluicetest.py, imported as is)."""
import glob
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("SLUICE_SRCDIR", "."), "tests", "integration"))
import sluicetest as st  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def shipped_policies():
    return sorted(glob.glob(os.path.join(st.srcdir(), "policies", "*.lua")))


def shipped(d, extra=""):
    """Set up a daemon (not started) as shipped: dist/sluice.conf, the
    shipped policies with their keyword lists, the built keyword and phash
    plugins in a plugins folder of its own, and extra lines of config."""
    with open(os.path.join(st.srcdir(), "dist", "sluice.conf")) as f:
        conf = f.read()
    plugins = os.path.join(d.dir, "plugins")
    os.makedirs(plugins, exist_ok=True)
    for name in ("keyword", "phash"):
        so = plugin(name)
        if not so:
            raise st.Failed("plugins/%s is not built" % name)
        shutil.copy(so, os.path.join(plugins, name + ".so"))
    with open(d.conf, "w") as f:
        f.write(conf + "\nplugins_dir = %s\n%s" % (lua_str(plugins), extra))
    install(d, shipped_policies(), clear=True)
    shutil.copytree(os.path.join(st.srcdir(), "policies", "keywords"),
                    os.path.join(d.policies, "keywords"))


def fixture(name):
    """A fixture folder under tests/dist/ in the source tree."""
    return os.path.join(st.srcdir(), "tests", "dist", name)


def install(d, paths, clear=False):
    """Copy policy files into the daemon's policies directory."""
    if clear:
        for f in glob.glob(os.path.join(d.policies, "*")):
            os.remove(f)
    for p in paths:
        shutil.copy(p, d.policies)


def fixture_files(name):
    return sorted(glob.glob(os.path.join(fixture(name), "*.lua")))


def plugin(name):
    """Path of a built plugin shared object, or None when it is not built."""
    root = os.path.join(st.builddir(), "plugins")
    for dirpath, _, files in os.walk(root):
        if name + ".so" in files:
            return os.path.join(dirpath, name + ".so")
    return None


def lua_str(s):
    """A Lua string literal."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def metric(d, name, labels=None):
    """The value of one sample in /metrics (labels a dict), or None."""
    r = d.get("/metrics")
    if r.status != 200:
        return None
    want = name
    if labels:
        want += "{" + ",".join('%s="%s"' % kv for kv in sorted(labels.items())) + "}"
    for line in r.body.decode("utf-8", "replace").splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^(\S+?(?:\{[^}]*\})?)\s+(\S+)$", line)
        if not m:
            continue
        key = m.group(1)
        if "{" in key:
            base, rest = key.split("{", 1)
            pairs = sorted(re.findall(r'(\w+)="([^"]*)"', rest))
            key = base + "{" + ",".join('%s="%s"' % p for p in pairs) + "}"
        if key == want:
            return float(m.group(2))
    return None


def wait_for(fn, timeout, step=0.1):
    """Call fn until it returns something true or timeout seconds pass;
    returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


def token(t, d, name, role):
    r = d.post("/v1/tokens", {"name": name, "role": role})
    t.require(r.status == 201 and "token" in (r.json or {}),
              "POST /v1/tokens %s (%s) -> 201 with a token" % (name, role), r)
    return r.json["token"]


def state(d, item):
    r = d.item(item)
    return (r.json or {}).get("state") if r.status == 200 else None
