# SPDX-License-Identifier: MIT
"""Operations tests' helpers: the integration harness (tests/integration/
sluicetest.py), plus a daemon started through a wrapper or from another
binary, the built plugins, and a systemd notify socket."""
import os
import shutil
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
if not os.environ.get("SLUICE_SRCDIR"):
    print("SLUICE_SRCDIR is not set: run through `make check` or export it")
    sys.exit(99)
sys.path.insert(0, os.path.join(os.environ["SLUICE_SRCDIR"], "tests", "integration"))
import sluicetest as st  # noqa: E402

SKIP = st.SKIP


def skip(why):
    """Exit 77 (automake's SKIP), saying why first."""
    print("SKIP: %s" % why)
    sys.stdout.flush()
    sys.exit(SKIP)


def plugins_conf(extra=""):
    """Configuration lines loading the shipped plugins as built in this tree,
    the keyword lists beside the policies in force."""
    b = st.builddir()
    return ('plugins = {\n'
            '  { name = "keyword", path = "%s/plugins/keyword/.libs/keyword.so",'
            ' lists = "${policies_dir}/keywords" },\n'
            '  { name = "phash", path = "%s/plugins/phash/.libs/phash.so" },\n'
            '%s}\n' % (b, b, extra))


def shipped_policies(d):
    """The shipped policies and keyword lists into d's policy directory."""
    src = os.path.join(st.srcdir(), "policies")
    for name in sorted(os.listdir(src)):
        if name.endswith(".lua"):
            shutil.copy(os.path.join(src, name), os.path.join(d.policies, name))
    shutil.copytree(os.path.join(src, "keywords"), os.path.join(d.policies, "keywords"),
                    dirs_exist_ok=True)


class Daemon(st.Daemon):
    """sluicetest's daemon, started as `WRAP... BINARY -c CONF --listen ...
    --state ... --policies ...` with an environment of its own. Its start()
    is sluicetest's, with those three changes."""

    def __init__(self, test, conf="", name="d", binary=None, wrap=(), env=None):
        super().__init__(test, conf, name)
        self.binary = binary
        self.wrap = list(wrap)
        self.env = env

    def start(self):
        assert self.proc is None or self.proc.poll() is not None
        self.starts += 1
        self.stdout_path, self.stderr_path = self._log("stdout"), self._log("stderr")
        self.log_paths += [self.stdout_path, self.stderr_path]
        argv = self.wrap + [self.binary or st.program("sluiced"), "-c", self.conf,
                            "--listen", "127.0.0.1:%d" % self.port,
                            "--state", self.state, "--policies", self.policies]
        env = dict(os.environ)
        env.update(self.env or {})
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err, env=env)
        deadline = time.monotonic() + st.START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise st.Failed("sluiced exited with %d during start-up:\n%s"
                                % (self.proc.returncode, self.logs()))
            try:
                if st.request(self.port, "GET", "/healthz", timeout=2).status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise st.Failed("sluiced did not answer /healthz within %ss:\n%s"
                                % (st.START_TIMEOUT, self.logs()))
            time.sleep(0.05)
        tok = os.path.join(self.state, "admin.token")
        if os.path.exists(tok):
            with open(tok) as f:
                self.token = f.read().strip()
        return self

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


class Notify:
    """A systemd notify socket: NOTIFY_SOCKET for a daemon, and the
    messages it sent, in order."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, 0o777)   # for a daemon run as another user
        self.messages = []

    def wait_for(self, line, timeout=st.START_TIMEOUT):
        """True once a message with `line` (e.g. READY=1) arrived after the
        ones already consumed; the messages up to it are consumed."""
        deadline = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.messages):
                if line in m.split("\n"):
                    del self.messages[:i + 1]
                    return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                self.messages.append(self.sock.recv(4096).decode("utf-8", "replace"))
            except socket.timeout:
                return False

    def close(self):
        self.sock.close()


def metric_samples(text):
    """{sample name: [label strings]} of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        labels = line[len(name):].split("}", 1)[0] if line[len(name):].startswith("{") else ""
        out.setdefault(name, []).append(labels)
    return out
