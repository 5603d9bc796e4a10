# SPDX-License-Identifier: MIT
"""Starting sluiced for the simulator: configuration, policy folders, snapshots, memory.

Sluiced here has the attributes the simulator uses of the test harness's
Daemon (tests/integration/sluicetest.py): port, token, state, policies,
proc, start(), stop(). So `make check` hands the simulator daemons started
by the harness, and bench runs hand it these; the simulation is the same.
"""
import glob
import os
import shutil
import signal
import socket
import subprocess
import time

import wire

SIM_DIR = os.path.dirname(os.path.abspath(__file__))
SRC_DIR = os.path.dirname(os.path.dirname(SIM_DIR))


def find_plugin(builddir, name):
    """Path of a built plugin shared object, or None."""
    for dirpath, _, files in os.walk(os.path.join(builddir, "plugins")):
        if name + ".so" in files and dirpath.endswith(".libs"):
            return os.path.join(dirpath, name + ".so")
    return None


def conf_text(builddir):
    """The shipped configuration's plugins, from the build tree, and the
    clock a simulation moves."""
    lines = ["-- written by bench/sim", "simulated_clock = true"]
    plugins = []
    kw = find_plugin(builddir, "keyword")
    if kw:
        plugins.append('{ name = "keyword", path = "%s", lists = "${policies_dir}/keywords" }'
                       % kw)
    ph = find_plugin(builddir, "phash")
    if ph:
        plugins.append('{ name = "phash", path = "%s", distance = 8 }' % ph)
    if plugins:
        lines.append("plugins = {\n  %s,\n}" % ",\n  ".join(plugins))
    return "\n".join(lines) + "\n"


def assemble(dest, base, overlay=None):
    """A policies folder: every file of `base` (the shipped policies and
    their keyword lists), then the overlay's files on top (same name
    replaces, new names add)."""
    os.makedirs(dest, exist_ok=True)
    for src in (base, overlay):
        if not src:
            continue
        for path in sorted(glob.glob(os.path.join(src, "*"))):
            name = os.path.basename(path)
            if os.path.isdir(path):
                if name == "keywords":
                    shutil.copytree(path, os.path.join(dest, name), dirs_exist_ok=True)
            elif name.endswith(".lua"):
                shutil.copy(path, os.path.join(dest, name))
    return dest


def restore(d, db_path, token, audit_key):
    """Put a snapshot of the store (GET /v1/backup) in d's empty state
    directory, with the admin token and the audit key that go with it (the
    trail is keyed: a daemon refuses a store without its key)."""
    os.makedirs(d.state, exist_ok=True)
    shutil.copy(db_path, os.path.join(d.state, "sluice.db"))
    key = os.path.join(d.state, "audit.key")
    with open(key, "wb") as f:
        f.write(audit_key)
    os.chmod(key, 0o600)
    tok = os.path.join(d.state, "admin.token")
    with open(tok, "w") as f:
        f.write(token + "\n")
    os.chmod(tok, 0o600)


def proc_status(pid):
    """VmHWM and VmRSS in KiB from /proc, or {} when the process is gone."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(("VmHWM:", "VmRSS:")):
                    out[line.split(":")[0]] = int(line.split()[1])
    except OSError:
        pass
    return out


def cpu_seconds(pid):
    """User and system CPU seconds the process used so far."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tck = os.sysconf("SC_CLK_TCK")
        return int(fields[11]) / tck, int(fields[12]) / tck
    except (OSError, IndexError, ValueError):
        return 0.0, 0.0


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Sluiced:
    """One sluiced in its own folder (state, policies, config, log)."""

    def __init__(self, builddir, folder, conf):
        self.builddir = builddir
        self.dir = folder
        self.state = os.path.join(folder, "state")
        self.policies = os.path.join(folder, "policies")
        os.makedirs(self.state, exist_ok=True)
        os.chmod(self.state, 0o700)
        os.makedirs(self.policies, exist_ok=True)
        self.conf = os.path.join(folder, "sluice.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.log = os.path.join(folder, "sluiced.log")
        self.port = None
        self.proc = None
        self.token = None

    def start(self, timeout=120.0):
        self.port = free_port()
        argv = [os.path.join(self.builddir, "core", "sluiced"), "-c", self.conf,
                "--listen", "127.0.0.1:%d" % self.port, "--state", self.state,
                "--policies", self.policies]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log)
        deadline = time.monotonic() + timeout
        while not wire.wait_healthy(self.port, 1.0):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("sluiced did not start; the end of %s:\n%s"
                                   % (self.log, self.tail()))
        with open(os.path.join(self.state, "admin.token")) as f:
            self.token = f.read().strip()
        return self

    def tail(self, n=4000):
        try:
            with open(self.log, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, timeout=60.0):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError("sluiced did not stop within %ss of SIGTERM" % timeout)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
