# SPDX-License-Identifier: MIT
# The folders of core/ (and lua/) are layers: a file includes only headers
# of its own layer and those below it. This reads every #include "..." and
# fails on one that reaches up (or sideways) or on a header it cannot find.
import os
import re
import sys

SRC = os.environ.get("SLUICE_SRCDIR", os.path.join(os.path.dirname(__file__), "..", ".."))

# Each layer and what it may include besides itself. server.h is the
# daemon's context: declarations only, open to the engines and above.
ALLOWED = {
    "lib":      set(),
    "audience": {"lib"},
    "store":    {"lib", "server.h"},
    "lua":      {"lib"},
    "policy":   {"lib", "store", "lua", "server.h"},
    "dist":     {"lib", "audience", "store", "lua", "policy", "server.h"},
    "http":     {"lib", "store", "server.h"},
    "api":      {"lib", "audience", "store", "lua", "policy", "dist", "http", "server.h"},
    "ctl":      {"lib"},
    "main":     {"lib", "audience", "store", "lua", "policy", "dist", "http", "api", "server.h"},
    "server.h": {"lib"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(rel):
    """core/dist/waves.c -> dist; lua/sandbox.c -> lua; core/main.c -> main."""
    parts = rel.split("/")
    if parts[0] == "lua":
        return "lua"
    if rel == "core/server.h":
        return "server.h"
    if rel == "core/main.c":
        return "main"
    return parts[1] if len(parts) > 2 else None


def target_of(name):
    if name == "config.h":
        return None
    if name == "server.h":
        return "server.h"
    if name.startswith("sluice/"):
        return "sluice"         # the plugin API: include/sluice/
    first = name.split("/")[0]
    return first if "/" in name else "?"


def main():
    bad, files = [], 0
    for top in ("core", "lua"):
        for dirpath, _, names in os.walk(os.path.join(SRC, top)):
            for n in sorted(names):
                if not n.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, n)
                rel = os.path.relpath(path, SRC).replace(os.sep, "/")
                me = layer_of(rel)
                if me is None:
                    bad.append("%s: not in a layer folder" % rel)
                    continue
                files += 1
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                for m in INCLUDE.finditer(text):
                    name = m.group(1)
                    to = target_of(name)
                    if to is None:
                        continue
                    line = text.count("\n", 0, m.start()) + 1
                    where = "%s:%d: #include \"%s\"" % (rel, line, name)
                    if to == "?":
                        bad.append(where + ": name the folder (\"lib/x.h\")")
                    elif not os.path.exists(os.path.join(
                            SRC, {"lua": "", "sluice": "include"}.get(to, "core"), name)):
                        bad.append(where + ": no such header")
                    elif to != me and to != "sluice" and to not in ALLOWED[me]:
                        bad.append(where + ": %s may not reach %s" % (me, to))
    for b in bad:
        print("FAIL " + b)
    print("layers: %d files, %d bad includes" % (files, len(bad)))
    return 1 if bad else 0


sys.exit(main())
