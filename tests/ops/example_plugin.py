# SPDX-License-Identifier: MIT
# The example plugin that sluice-plugin-dev ships (docs/examples): its
# Makefile builds it with pkg-config alone against an installed plugin.h and
# sluice-plugin.pc, and sluiced loads it, tags with it, and refuses it with
# its own message when an option is wrong. (tests/ops/package.py does the
# same from the packages.)
import os
import shutil
import sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import opstest as ot  # noqa: E402
st = ot.st


def body(t):
    build, src = st.builddir(), st.srcdir()
    prefix = os.path.join(t.tmp, "prefix")
    for sub in ("include", "dist"):
        r = st.run(["make", "-s", "-C", os.path.join(build, sub), "install",
                    "prefix=" + prefix, "sysconfdir=" + prefix + "/etc",
                    "localstatedir=" + prefix + "/var"], timeout=60)
        t.require(r.returncode == 0, "make -C %s install into a scratch prefix" % sub,
                  r.stderr[-2000:])
    work = os.path.join(t.tmp, "author")
    shutil.copytree(os.path.join(src, "docs", "examples"), work)
    # The .pc names the configured prefix: relocate it, through the
    # Makefile's PKG_CONFIG.
    env = {"PKG_CONFIG_LIBDIR": os.path.join(prefix, "lib", "pkgconfig"),
           "PKG_CONFIG": "pkg-config --define-variable=prefix=" + prefix,
           "CFLAGS": "-O2 -Werror"}
    r = st.run(["make", "-C", work], env=env, timeout=120)
    so = os.path.join(work, "example.so")
    t.require(r.returncode == 0 and os.path.exists(so), "the example builds with its Makefile "
              "and pkg-config", r.stdout[-2000:] + r.stderr[-2000:])
    r = st.run(["make", "-C", os.path.join(t.tmp, "author"), "--no-print-directory"],
               env={"PKG_CONFIG_LIBDIR": os.path.join(t.tmp, "nowhere")})
    t.check(r.returncode != 0 and "sluice-plugin.pc not found" in r.stderr,
            "without sluice-plugin.pc its Makefile says so", r.stderr[-500:])

    d = ot.Daemon(t, 'plugins = { { name = "example", path = "%s", min_letters = "4" } }\n' % so)
    d.start()
    r = d.post("/v1/uploads", st.upload("e1", title="LOUD NOISES"))
    tag = (r.json or {}).get("tags", {}).get("shouting", {})
    t.check(r.status == 202 and tag.get("source") == "example",
            "a title in capitals is tagged shouting by the example", r)
    r = d.post("/v1/uploads", st.upload("e2", title="HEY"))
    t.check(r.status == 202 and "shouting" not in (r.json or {}).get("tags", {}),
            "  ... not one under min_letters", r)
    t.check("sluice_plugin_example_tagged 1" in d.get("/metrics").body.decode(),
            "  ... and counts it in sluice_plugin_example_tagged")
    t.stopped(d)

    for opt, words in (('min_letters = "many"', 'min_letters must be a positive number'),
                       ('colour = "red"', 'unknown option "colour"')):
        conf = os.path.join(t.tmp, "bad.conf")
        with open(conf, "w") as f:
            f.write('plugins = { { name = "example", path = "%s", %s } }\n' % (so, opt))
        state = os.path.join(t.tmp, "bad-state")
        os.makedirs(state, exist_ok=True)
        # At start, not --check-config: that reads the file and loads nothing.
        r = st.run([st.program("sluiced"), "-c", conf, "--state", state,
                    "--listen", "127.0.0.1:%d" % st.free_port()])
        t.check(r.returncode == 1 and words in r.stdout + r.stderr,
                "a start with %s: exit 1, saying %s" % (opt, words), r.stdout + r.stderr)


st.main(body)
