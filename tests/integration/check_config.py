# SPDX-License-Identifier: MIT
# sluiced --check-config: the shipped example passes; each broken file exits 1
# with "FILE:LINE:" and the key; the config sandbox refuses os and io.
import os
import re
import sys
sys.dont_write_bytecode = True
import sluicetest as st


def check(t, path):
    return st.run([st.program("sluiced"), "--check-config", "-c", path])


def write(t, name, text):
    path = os.path.join(t.tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def names_line(stderr, path, line):
    """The message reads 'FILE:LINE:' (FILE as given, or its base name)."""
    base = re.escape(os.path.basename(path))
    return re.search(r"%s:%d:" % (base, line), stderr) is not None


def body(t):
    shipped = os.path.join(st.srcdir(), "dist", "sluice.conf")
    t.require(os.path.exists(shipped), "dist/sluice.conf is shipped")
    r = check(t, shipped)
    t.check(r.returncode == 0, "--check-config dist/sluice.conf exits 0",
            (r.returncode, r.stderr))

    for name, text in (
        ("empty.conf", ""),
        ("full.conf",
         'listen = "127.0.0.1:8421"\n'
         'unix_socket = "sluice.sock"\n'
         'state_dir = "state"\n'
         'policies_dir = "policies"\n'
         'plugins_dir = "plugins"\n'
         'body_limit = 4096\n'
         'log_level = "debug"\n'
         'lua_memory_limit = 16 * 1024 * 1024\n'
         'lua_instruction_limit = 100000\n'
         'claim_lease_seconds = 300\n'),
        ("comments.conf", "-- nothing but a comment\n\n"),
    ):
        path = write(t, name, text)
        r = check(t, path)
        t.check(r.returncode == 0, "--check-config %s exits 0" % name,
                (r.returncode, r.stderr))

    marker = os.path.join(t.tmp, "marker")
    broken = (
        # name, text, line, words the message must hold
        ("unknown.conf", 'log_level = "info"\n\nlisen = "127.0.0.1:1"\n', 3, ["lisen"]),
        ("type.conf", '-- size\nbody_limit = "big"\n', 2, ["body_limit"]),
        ("fraction.conf", 'listen = "127.0.0.1:1"\nclaim_lease_seconds = 1.5\n', 2,
         ["claim_lease_seconds"]),
        ("level.conf", 'log_level = "loud"\n', 1, ["log_level"]),
        ("listen.conf", "\n\nlisten = 8420\n", 3, ["listen"]),
        ("nul.conf", 'listen = "127.0.0.1:1\\0junk"\n', 1, ["listen", "NUL"]),
        ("nul-level.conf", 'log_level = "info\\0x"\n', 1, ["log_level"]),
        ("nul-plugin.conf", 'plugins = { { name = "keyword\\0x" } }\n', 1, ["plugins[1]"]),
        ("plugins.conf", 'plugins = "keyword"\n', 1, ["plugins"]),
        ("syntax.conf", 'listen = "127.0.0.1:1"\nbody_limit = = 5\nlog_level = "info"\n',
         2, []),
        ("execute.conf", 'listen = "127.0.0.1:1"\nos.execute("touch %s")\n' % marker,
         2, []),
        ("ioopen.conf", '\nlocal f = io.open("%s", "w")\nf:write("x")\n' % marker, 2, []),
        ("require.conf", 'local os2 = require("os")\nos2.execute("touch %s")\n' % marker,
         1, []),
        # the loop must end with an error, not hang; its line is not asked
        ("loop.conf", 'listen = "127.0.0.1:1"\nwhile true do end\n', None, []),
        # errors Lua gives without the file's name (found by fuzzing)
        ("binary.conf", "\x1bLua\x54", None, ["binary"]),
        ("level0.conf", 'listen = "127.0.0.1:1"\nerror("no place given", 0)\n', None,
         ["no place given"]),
        ("table.conf", "error({})\n", None, ["table"]),
        # a memory budget, as for the loop (gigabytes hit the fuzzer's memory limit)
        ("memory.conf", 'listen = ("x"):rep(3e9)\n', None, ["memory"]),
        ("memory-table.conf", "local t = {}\nfor i = 1, 1e6 do t[i] = ('x'):rep(100) .. i end\n",
         None, ["memory"]),
    )
    for name, text, line, words in broken:
        path = write(t, name, text)
        r = check(t, path)
        t.check(r.returncode == 1, "--check-config %s exits 1" % name,
                (r.returncode, r.stderr))
        if line is None:
            t.check(name in r.stderr, "%s: the error names the file" % name, r.stderr)
        else:
            t.check(names_line(r.stderr, path, line),
                    "%s: the error names the file and line %d" % (name, line), r.stderr)
        for w in words:
            t.check(w in r.stderr, "%s: the error names '%s'" % (name, w), r.stderr)
    t.check(not os.path.exists(marker), "the config sandbox ran no os.execute or io.open")

    # The store: a libpq connection string, checked without connecting.
    with open(os.path.join(st.builddir(), "config.h")) as f:
        libpq = "#define HAVE_LIBPQ 1" in f.read()
    for name, text in (
        ("store-empty.conf", 'store = ""\n'),
        ("store-uri.conf", 'store = "postgresql://sluice@db.invalid/sluice"\n'),
        ("store-kv.conf", 'listen = "127.0.0.1:1"\nstore = "host=/run/postgresql dbname=s"\n'),
    ):
        path = write(t, name, text)
        r = check(t, path)
        if libpq or name == "store-empty.conf":
            t.check(r.returncode == 0, "--check-config %s exits 0" % name,
                    (r.returncode, r.stderr))
        else:
            t.check(r.returncode == 1 and "store" in r.stderr and "libpq" in r.stderr and
                    names_line(r.stderr, path, text.count("\n")),
                    "without libpq: %s exits 1 naming store, libpq and the line" % name,
                    (r.returncode, r.stderr))
    path = write(t, "store-bad.conf", '\nstore = "/var/lib/sluice/sluice.db"\n')
    r = check(t, path)
    t.check(r.returncode == 1 and names_line(r.stderr, path, 2) and "store" in r.stderr,
            "store-bad.conf (a path): exits 1 naming the line and 'store'", r.stderr)
    path = write(t, "store-type.conf", 'store = 5432\n')
    r = check(t, path)
    t.check(r.returncode == 1 and names_line(r.stderr, path, 1), "store = 5432: exits 1",
            r.stderr)

    missing = os.path.join(t.tmp, "no-such.conf")
    r = check(t, missing)
    t.check(r.returncode == 1, "--check-config on a missing file exits 1", r.returncode)
    t.check("no-such.conf" in r.stderr, "the error names the missing file", r.stderr)


st.main(body)
