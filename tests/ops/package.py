# SPDX-License-Identifier: MIT
# The Debian packages: built from a copy of the tree with dpkg-buildpackage
# (nocheck: make check runs elsewhere), unpacked with dpkg-deb -x into a
# scratch root, never installed on this machine. Checks every file and its
# mode, the conffiles, the unit, what the maintainer scripts do (run against
# the scratch root, systemd's helpers replaced by stubs that log), the purge
# rule README.Debian states, the packaged daemon running from the scratch
# root with its plugins, policies and console, and the example plugin built
# against the packaged header and .pc and loaded.
#
# Needs dpkg-dev and debhelper and takes a minute or two: ./quickstart check
# runs it as a step of its own (SLUICE_REQUIRE_PACKAGE=1 makes a missing
# tool a failure rather than a skip).
import io
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import opstest as ot  # noqa: E402
st = ot.st

BUILD_TIMEOUT = 1200
# Commands a maintainer script may run that would change the host: each is
# replaced by a stub that logs its arguments and succeeds.
STUBS = ("deb-systemd-helper", "deb-systemd-invoke", "systemctl", "invoke-rc.d",
         "update-rc.d", "dpkg-maintscript-helper", "systemd-tmpfiles", "systemd-sysusers",
         "ldconfig", "update-alternatives", "adduser", "addgroup", "deluser", "delgroup",
         "useradd", "userdel", "groupadd", "groupdel", "chown", "chgrp", "setcap")


def need_tools():
    missing = [c for c in ("dpkg-buildpackage", "dpkg-deb", "dh", "dpkg-architecture")
               if not shutil.which(c)]
    if missing:
        why = "%s not found (Debian: dpkg-dev, debhelper)" % ", ".join(missing)
        if os.environ.get("SLUICE_REQUIRE_PACKAGE") == "1":
            raise st.Failed(why)
        ot.skip(why)


def tree_files(src):
    """The tree as git sees it (tracked and new files, not ignored ones), or
    every file but build products when it is not a git checkout."""
    r = subprocess.run(["git", "-C", src, "ls-files", "-z", "--cached", "--others",
                        "--exclude-standard"], capture_output=True)
    if r.returncode == 0:
        return [p for p in r.stdout.decode().split("\0") if p and os.path.isfile(os.path.join(src, p))]
    out = []
    for dirpath, dirs, files in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        dirs[:] = [d for d in dirs if not (rel == "." and (d.startswith("build") or d in
                   ("_local", ".git", "autom4te.cache"))) and d != "node_modules"]
        out += [os.path.normpath(os.path.join(rel, f)) for f in files]
    return out


def git_status(src):
    r = subprocess.run(["git", "-C", src, "status", "--porcelain", "--ignored"],
                       capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else None


def members(deb):
    """{path: TarInfo} of a package's data, paths like /usr/sbin/sluiced."""
    p = subprocess.run(["dpkg-deb", "--fsys-tarfile", deb], capture_output=True, check=True)
    out = {}
    with tarfile.open(fileobj=io.BytesIO(p.stdout)) as tf:
        for m in tf.getmembers():
            path = "/" + os.path.normpath(m.name).lstrip("./") if m.name not in (".", "./") else "/"
            out[path] = m
    return out


def stub_dir(where, log):
    os.makedirs(where)
    for name in STUBS:
        path = os.path.join(where, name)
        with open(path, "w") as f:
            f.write('#!/bin/sh\necho "%s $*" >>"%s"\nexit 0\n' % (name, log))
        os.chmod(path, 0o755)
    return where


def maintscript(t, ctl, name, args, root, stubs, log):
    """Run a maintainer script as dpkg would, on the scratch root, with the
    stubs first on PATH; returns (exit status, output, logged commands)."""
    script = os.path.join(ctl, name)
    open(log, "w").close()
    env = {"PATH": stubs + ":/usr/sbin:/usr/bin:/sbin:/bin", "DPKG_ROOT": root,
           "DPKG_MAINTSCRIPT_PACKAGE": "sluice", "DPKG_MAINTSCRIPT_NAME": name,
           "DPKG_MAINTSCRIPT_ARCH": "any", "LC_ALL": "C"}
    r = subprocess.run(["sh", "-e", script] + args, env=env, capture_output=True, text=True,
                       timeout=60)
    with open(log) as f:
        return r.returncode, r.stdout + r.stderr, f.read()


# {====================== What the packages hold ============================

def expected(src, ma):
    """{package: {path: mode}} of the files that must be there."""
    pol = sorted(f for f in os.listdir(os.path.join(src, "policies")) if f.endswith(".lua"))
    kw = sorted(os.listdir(os.path.join(src, "policies", "keywords")))
    daemon = {
        "/usr/sbin/sluiced": 0o755,
        "/usr/bin/sluicectl": 0o755,
        "/etc/sluice/sluice.conf": 0o644,
        "/lib/systemd/system/sluiced.service": 0o644,
        "/usr/lib/%s/sluice/plugins/keyword.so" % ma: 0o644,
        "/usr/lib/%s/sluice/plugins/phash.so" % ma: 0o644,
        "/usr/lib/%s/sluice/plugins/seqtest.so" % ma: 0o644,
        "/usr/share/sluice/grafana-sluice.json": 0o644,
        "/usr/share/sluice/sluice.rules.yml": 0o644,
        "/usr/share/doc/sluice/README.Debian": 0o644,
        "/usr/share/doc/sluice/copyright": 0o644,
        "/usr/share/doc/sluice/examples/nginx-sluice.conf": 0o644,
    }
    daemon.update({"/etc/sluice/policies/" + f: 0o644 for f in pol})
    daemon.update({"/etc/sluice/policies/keywords/" + f: 0o644 for f in kw})
    for man in ("man1/sluicectl.1", "man5/sluice.conf.5", "man7/sluice-policy.7",
                "man8/sluiced.8"):
        daemon["/usr/share/man/%s.gz" % man] = 0o644
    for f in os.listdir(os.path.join(src, "console")):
        if not f.endswith(".am") and not f.startswith("Makefile"):
            daemon["/usr/share/sluice/console/" + f] = 0o644
    dev = {
        "/usr/include/sluice/plugin.h": 0o644,
        "/usr/lib/%s/pkgconfig/sluice-plugin.pc" % ma: 0o644,
        "/usr/share/doc/sluice-plugin-dev/examples/example.c": 0o644,
        "/usr/share/doc/sluice-plugin-dev/examples/Makefile": 0o644,
    }
    return {"sluice": daemon, "sluice-plugin-dev": dev}


def check_contents(t, debs, want):
    for pkg, files in want.items():
        got = members(debs[pkg])
        bad = []
        for path, mode in sorted(files.items()):
            m = got.get(path)
            if m is None:
                bad.append("%s is missing" % path)
            elif not m.isfile() or stat.S_IMODE(m.mode) != mode:
                bad.append("%s: %s %o, want a file %o" % (path, "file" if m.isfile() else "not a file",
                                                         stat.S_IMODE(m.mode), mode))
        t.check(not bad, "%s: its %d files are there with their modes" % (pkg, len(files)), bad)
        owners = sorted({"%s:%s" % (m.uname or m.uid, m.gname or m.gid) for m in got.values()})
        t.check(owners == ["root:root"], "%s: everything belongs to root:root" % pkg, owners)
        stray = sorted(p for p in got if p.endswith(".la") or p.startswith("/var/lib/sluice")
                       or p.startswith("/usr/local"))
        t.check(not stray, "%s: no .la file, no state directory, nothing in /usr/local" % pkg,
                stray)

# }=======================================================================


def body(t):
    need_tools()
    src = st.srcdir()
    ma = subprocess.run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], capture_output=True,
                        text=True, check=True).stdout.strip()
    status_before = git_status(src)

    # {====== build, from a copy ======
    top = os.path.join(t.tmp, "build")
    tree = os.path.join(top, "sluice")
    for rel in tree_files(src):
        dst = os.path.join(tree, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(os.path.join(src, rel), dst, follow_symlinks=False)
    t.require(os.path.exists(os.path.join(tree, "debian", "rules")), "the copy has debian/")
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck parallel=2", DEB_BUILD_PROFILES="nocheck")
    for v in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "SLUICE_BUILDDIR", "SLUICE_SRCDIR"):
        env.pop(v, None)        # make check's own, not the package build's
    logpath = os.path.join(top, "dpkg-buildpackage.log")
    with open(logpath, "w") as log:
        r = subprocess.run(["dpkg-buildpackage", "-b", "-us", "-uc"], cwd=tree, env=env,
                           stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                           timeout=BUILD_TIMEOUT)
    with open(logpath, errors="replace") as f:
        t.require(r.returncode == 0, "dpkg-buildpackage -b -us -uc builds", f.read()[-5000:])
    version = subprocess.run(["dpkg-parsechangelog", "-l", os.path.join(tree, "debian", "changelog"),
                              "-SVersion"], capture_output=True, text=True).stdout.strip()
    arch = subprocess.run(["dpkg-architecture", "-qDEB_HOST_ARCH"], capture_output=True,
                          text=True).stdout.strip()
    debs = {p: os.path.join(top, "%s_%s_%s.deb" % (p, version, arch))
            for p in ("sluice", "sluice-plugin-dev")}
    t.require(all(os.path.exists(p) for p in debs.values()), "  ... into sluice and "
              "sluice-plugin-dev %s (%s)" % (version, arch), sorted(os.listdir(top)))
    if status_before is not None:
        t.check(git_status(src) == status_before, "  ... and the working tree is as it was")

    # {====== files, conffiles, unit, control ======
    check_contents(t, debs, expected(src, ma))
    root = os.path.join(t.tmp, "root")
    ctl = {}
    for pkg, deb in debs.items():
        subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
        ctl[pkg] = os.path.join(t.tmp, "control-" + pkg)
        subprocess.run(["dpkg-deb", "-e", deb, ctl[pkg]], check=True)
    etc = sorted("/" + os.path.relpath(os.path.join(dp, f), root)
                 for dp, _, fs in os.walk(os.path.join(root, "etc")) for f in fs)
    with open(os.path.join(ctl["sluice"], "conffiles")) as f:
        conffiles = sorted(f.read().split())
    t.check(etc and conffiles == etc, "every file under /etc (%d: sluice.conf, policies, "
            "keyword lists) is a conffile" % len(etc), (conffiles, etc))
    with open(os.path.join(root, "etc", "sluice", "sluice.conf")) as f:
        t.check('"/usr/lib/%s/sluice/plugins"' % ma in f.read(),
                "  ... sluice.conf names the packaged plugin directory")
    with open(os.path.join(root, "lib", "systemd", "system", "sluiced.service")) as f:
        unit = f.read()
    for line in ("ExecStart=/usr/sbin/sluiced -c /etc/sluice/sluice.conf --state /var/lib/sluice",
                 "Type=notify", "DynamicUser=yes", "StateDirectory=sluice",
                 "SystemCallFilter=~@privileged @resources", "ProtectProc=invisible",
                 "ProcSubset=pid", "PrivateMounts=yes", "IPAddressAllow=localhost",
                 "IPAddressDeny=any", "WantedBy=multi-user.target"):
        t.check(line in unit.splitlines(), "the unit has %s" % line)
    if shutil.which("systemd-analyze"):
        r = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--root=" + root,
                            "sluiced.service"], capture_output=True, text=True)
        m = re.search(r"Overall exposure level for sluiced.service: ([0-9.]+)", r.stdout)
        t.check(m and float(m.group(1)) <= 1.5, "systemd-analyze security --offline: exposure "
                "%s (1.5 or less)" % (m.group(1) if m else "?"), r.stdout[-500:] + r.stderr[-500:])
    fields = subprocess.run(["dpkg-deb", "-f", debs["sluice"], "Depends"], capture_output=True,
                            text=True).stdout
    t.check(all(lib in fields for lib in ("libevent", "liblua5.4", "libsqlite3", "libjansson")),
            "sluice depends on its libraries (shlibs)", fields)
    rec = subprocess.run(["dpkg-deb", "-f", debs["sluice-plugin-dev"], "Recommends"],
                         capture_output=True, text=True).stdout
    t.check("sluice (= %s)" % version in rec, "sluice-plugin-dev recommends sluice of its "
            "version", rec)

    # {====== maintainer scripts, on the scratch root ======
    log = os.path.join(t.tmp, "stubs.log")
    stubs = stub_dir(os.path.join(t.tmp, "stubs"), log)
    rc, out, ran = maintscript(t, ctl["sluice"], "postinst", ["configure"], root, stubs, log)
    t.check(rc == 0 and "deb-systemd-helper enable sluiced.service" in ran,
            "postinst configure enables sluiced.service", (rc, out, ran))
    with open(os.path.join(ctl["sluice"], "postinst")) as f:
        text = f.read()
    t.check("deb-systemd-invoke $_dh_action 'sluiced.service'" in text and "restart" in text,
            "  ... and starts it (restarts on upgrade) where systemd runs")
    with open(os.path.join(ctl["sluice"], "prerm")) as f:
        t.check("deb-systemd-invoke stop 'sluiced.service'" in f.read(),
                "prerm stops it on remove")
    purge_rule(t, ctl["sluice"], root, stubs, log)

    # {====== the packaged daemon, from the scratch root ======
    sluiced = os.path.join(root, "usr", "sbin", "sluiced")
    r = st.run([sluiced, "--version"])
    t.check(r.returncode == 0 and version.split("-")[0] in r.stdout + r.stderr,
            "sluiced --version runs from the scratch root (%s)" % (r.stdout + r.stderr).strip(),
            (r.returncode, r.stdout, r.stderr))
    # The daemon's built-in defaults (used when sluice.conf leaves them out)
    # are the package's own paths: configure --prefix=/usr --sysconfdir=/etc
    # --localstatedir=/var as dh runs it.
    with open(sluiced, "rb") as f:
        binary = f.read()
    defaults = {"/usr/lib/%s/sluice/plugins" % ma: True, "/usr/share/sluice/console": True,
                "/etc/sluice/policies": True, "/var/lib/sluice": False}
    bad = [p for p, shipped in defaults.items() if b"\0" + p.encode() + b"\0" not in binary
           or shipped != os.path.isdir(root + p)]
    t.check(not bad, "its default plugin, console, policy and state paths are the packaged "
            "ones (the state directory is systemd's)", bad)
    so = example_plugin(t, root, ma)
    packaged_daemon(t, root, ma, so)


def purge_rule(t, ctl, root, stubs, log):
    """README.Debian's rule: remove and purge keep /var/lib/sluice, unless
    it holds .purge-me; then purge removes it (and the DynamicUser= copy
    it links to), and only that."""
    with open(os.path.join(root, "usr", "share", "doc", "sluice", "README.Debian")) as f:
        readme = f.read()
    t.check("touch /var/lib/sluice/.purge-me" in readme and "apt purge sluice" in readme,
            "README.Debian states the purge rule (.purge-me)")
    var = os.path.join(root, "var", "lib")
    state, private = os.path.join(var, "sluice"), os.path.join(var, "private", "sluice")

    def dynamic_user_state():
        shutil.rmtree(os.path.join(var, "private"), ignore_errors=True)
        if os.path.lexists(state):
            os.remove(state) if os.path.islink(state) else shutil.rmtree(state)
        os.makedirs(private)
        with open(os.path.join(private, "sluice.db"), "w") as f:
            f.write("a store")
        os.symlink("private/sluice", state)     # as systemd makes it

    dynamic_user_state()
    rc, out, _ = maintscript(t, ctl, "postrm", ["remove"], root, stubs, log)
    t.check(rc == 0 and os.path.exists(os.path.join(state, "sluice.db")),
            "postrm remove keeps /var/lib/sluice", out)
    rc, out, ran = maintscript(t, ctl, "postrm", ["purge"], root, stubs, log)
    t.check(rc == 0 and os.path.exists(os.path.join(private, "sluice.db"))
            and os.path.islink(state) and "kept the state directory" in out,
            "postrm purge keeps it too, and says how to remove it", out)
    t.check("deb-systemd-helper purge sluiced.service" in ran,
            "  ... while purging the unit's enablement state", ran)
    open(os.path.join(state, ".purge-me"), "w").close()
    rc, out, _ = maintscript(t, ctl, "postrm", ["purge"], root, stubs, log)
    t.check(rc == 0 and not os.path.lexists(state) and not os.path.exists(private),
            "with .purge-me, purge removes /var/lib/sluice and /var/lib/private/sluice", out)

    os.makedirs(state)                          # a plain directory (no DynamicUser=)
    open(os.path.join(state, ".purge-me"), "w").close()
    rc, out, _ = maintscript(t, ctl, "postrm", ["purge"], root, stubs, log)
    t.check(rc == 0 and not os.path.exists(state), "  ... a plain directory too", out)

    elsewhere = os.path.join(root, "srv", "store")
    os.makedirs(elsewhere)
    open(os.path.join(elsewhere, ".purge-me"), "w").close()
    os.symlink(elsewhere, state)
    rc, out, _ = maintscript(t, ctl, "postrm", ["purge"], root, stubs, log)
    t.check(rc == 0 and not os.path.lexists(state) and os.path.isdir(elsewhere),
            "  ... and a link to a store elsewhere loses the link, not the store", out)


def example_plugin(t, root, ma):
    """The packaged example, built as its Makefile says, against the scratch
    root's header and .pc only."""
    work = os.path.join(t.tmp, "author")
    shutil.copytree(os.path.join(root, "usr", "share", "doc", "sluice-plugin-dev", "examples"),
                    work)
    env = {"PKG_CONFIG_LIBDIR": os.path.join(root, "usr", "lib", ma, "pkgconfig"),
           "PKG_CONFIG_SYSROOT_DIR": root, "CFLAGS": "-O2 -Werror"}
    r = st.run(["pkg-config", "--cflags", "sluice-plugin"], env=env)
    t.check(r.returncode == 0 and "-I%s/usr/include" % root in r.stdout,
            "pkg-config --cflags sluice-plugin points into the scratch root", r.stdout + r.stderr)
    r = st.run(["make", "-C", work], env=env, timeout=120)
    so = os.path.join(work, "example.so")
    t.require(r.returncode == 0 and os.path.exists(so), "the example plugin builds with its "
              "Makefile against the packaged header and .pc", r.stdout[-2000:] + r.stderr[-2000:])
    r = st.run(["make", "-C", work, "install", "DESTDIR=" + os.path.join(t.tmp, "dest")], env=env)
    t.check(r.returncode == 0 and os.path.exists(os.path.join(
        t.tmp, "dest", root.lstrip("/"), "usr", "lib", ma, "sluice", "plugins", "example.so")),
        "  ... and `make install` puts it in the plugin directory", r.stdout + r.stderr)
    return so


def packaged_daemon(t, root, ma, so):
    """The packaged sluiced with the packaged conffile, policies, plugins and
    console, plus the example plugin; the paths under / it would use are
    pointed into the scratch root."""
    with open(os.path.join(root, "etc", "sluice", "sluice.conf")) as f:
        conf = f.read()
    conf += ('\n-- the scratch root in place of /\n'
             'plugins_dir = "%s/usr/lib/%s/sluice/plugins"\n'
             'console_dir = "%s/usr/share/sluice/console"\n'
             'plugins[#plugins + 1] = { name = "example", path = "%s", min_letters = "6" }\n'
             % (root, ma, root, so))
    d = ot.Daemon(t, conf, binary=os.path.join(root, "usr", "sbin", "sluiced"))
    os.rmdir(d.policies)
    shutil.copytree(os.path.join(root, "etc", "sluice", "policies"), d.policies)
    r = st.run([d.binary, "--check-config", "-c", d.conf, "--policies", d.policies])
    t.check(r.returncode == 0, "sluiced --check-config accepts the packaged configuration",
            r.stdout + r.stderr)
    d.start()
    pol = d.get("/v1/policies").json or {}
    t.check([p.get("name") for p in pol.get("plugins", [])] == ["keyword", "phash", "example"],
            "the packaged daemon loads the packaged plugins and the example",
            pol.get("plugins"))
    r = d.post("/v1/uploads", st.upload("p1", title="FREE MONEY NOW!!"))
    tags = (r.json or {}).get("tags", {})
    t.check(r.status == 202 and tags.get("shouting", {}).get("source") == "example"
            and tags.get("spam", {}).get("source") == "keyword",
            "an upload is tagged by the example (shouting) and the keyword plugin (spam)", r)
    r = d.post("/v1/uploads", st.upload("p2", title="a quiet title"))
    t.check(r.status == 202 and "shouting" not in (r.json or {}).get("tags", {}),
            "  ... and a quiet title is not", r)
    r = d.get("/console/", token=None)
    t.check(r.status == 200 and b"<html" in r.body.lower(), "the packaged console is served", r)
    t.stopped(d)


st.main(body)
