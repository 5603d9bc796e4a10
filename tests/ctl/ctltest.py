# SPDX-License-Identifier: MIT
"""sluicectl tests' helpers: the integration harness, plus a pseudo-terminal.

The daemon side comes from tests/integration/sluicetest.py. Every wait here is
bounded: a sluicectl that hangs fails the test, it never hangs it.
"""
import codecs
import json
import os
import pty
import re
import select
import shutil
import signal
import sys
import termios
import time

sys.dont_write_bytecode = True
if not os.environ.get("SLUICE_SRCDIR"):
    print("SLUICE_SRCDIR is not set: run through `make check` or export it")
    sys.exit(99)
sys.path.insert(0, os.path.join(os.environ["SLUICE_SRCDIR"], "tests", "integration"))
import sluicetest as st  # noqa: E402

SCREEN_TIMEOUT = 20.0   # seconds for text to appear on the terminal (sanitizer builds)


def ctl():
    return st.program("sluicectl")


def runner(d, token=None):
    """run(args, env=None) -> CompletedProcess of sluicectl against d."""
    def run(args, env=None, tok=token):
        return st.run([ctl(), "--url", d.url, "--token", tok or d.token] + args, env=env)
    return run


def parse(r):
    """stdout as one JSON document, or None."""
    try:
        return json.loads(r.stdout)
    except ValueError:
        return None


def shipped_policies(d):
    """Copy the shipped policies into d's policy directory (before start)."""
    src = os.path.join(st.srcdir(), "policies")
    for name in sorted(os.listdir(src)):
        if name.endswith(".lua"):
            shutil.copy(os.path.join(src, name), os.path.join(d.policies, name))


def token(d, name, role):
    r = d.post("/v1/tokens", {"name": name, "role": role})
    if r.status != 201:
        raise st.Failed("cannot make the %s token %s: %r" % (role, name, r))
    return r.json["token"]


def upload(d, uid, nsfw=None, **extra):
    """One upload; nsfw sets the upstream nsfw.score the shipped policy reads."""
    body = st.upload(uid, **extra)
    if nsfw is not None:
        body["signals"] = {"nsfw.score": nsfw}
    r = d.post("/v1/uploads", body)
    if r.status != 202:
        raise st.Failed("upload %s: %r" % (uid, r))
    return r.json


# An approved item moves on to distribution by itself.
APPROVED = ("approved", "distributing", "settled")


def quiet(d, timeout=10.0):
    """Wait until the store has written every change queued so far: what
    distribution does after an approval's answer lands a moment later."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if d.get("/v1/status").json.get("commit_pending") == 0:
            return
        time.sleep(0.05)
    raise st.Failed("the daemon still had writes pending after %.0f s" % timeout)


def decided_by(d, uid, action, actor):
    """The item's last audit record of action, if actor made it."""
    r = d.item(uid)
    recs = [a for a in (r.json or {}).get("audit", []) if a.get("action") == action]
    return recs[-1] if recs and recs[-1].get("actor") == actor else None


def state(d, uid):
    r = d.item(uid)
    return r.json.get("state") if r.status == 200 else None


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Term:
    """sluicectl on a pseudo-terminal: send keys, read what it shows."""

    def __init__(self, argv, env=None):
        full = dict(os.environ)
        full.pop("SLUICE_URL", None)
        full.pop("SLUICE_TOKEN", None)
        full["TERM"] = "xterm"
        full.update(env or {})
        self.raw = ""
        self.out = ""           # what came, without terminal escapes
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.mark = 0           # expect() looks at what came after this
        self.status = None
        self.pid, self.fd = pty.fork()
        if self.pid == 0:       # the child: the pty is its controlling terminal
            try:
                os.execve(argv[0], argv, full)
            finally:
                os._exit(127)

    def _read(self, timeout):
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return False
        try:
            data = os.read(self.fd, 65536)
        except OSError:         # EIO: the child closed the terminal
            return None
        if not data:
            return None
        # Escapes and characters may straddle reads: clean the whole text.
        self.raw += self.decoder.decode(data)
        self.out = ANSI.sub("", self.raw)
        return True

    def expect(self, pattern, timeout=SCREEN_TIMEOUT):
        """Wait for pattern (a regex) after the mark; move the mark past it.
        Returns the match, or None at the deadline or when the child is gone."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.out, self.mark)
            if m:
                self.mark = m.end()
                return m
            left = deadline - time.monotonic()
            if left <= 0 or self._read(min(left, 0.2)) is None:
                return None

    def settle(self, quiet=0.3, timeout=5.0):
        """Read until the screen has been quiet for a moment."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self._read(quiet)
            if not got:
                return

    def tail(self, n=1500):
        return self.out[-n:]

    def send(self, keys):
        os.write(self.fd, keys.encode("utf-8") if isinstance(keys, str) else keys)

    def signal(self, sig):
        if self.status is None:
            os.kill(self.pid, sig)

    def wait(self, timeout=SCREEN_TIMEOUT):
        """The wait status, or None if the child still runs at the deadline."""
        deadline = time.monotonic() + timeout
        while self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
                # What it wrote last may still sit in the terminal.
                while self._read(0.2):
                    pass
                break
            if time.monotonic() > deadline:
                return None
            self._read(0.1)     # keep the child from blocking on output
        return self.status

    def exit_code(self, timeout=SCREEN_TIMEOUT):
        s = self.wait(timeout)
        if s is None or not os.WIFEXITED(s):
            return None
        return os.WEXITSTATUS(s)

    def cooked(self):
        """True when the terminal is back in its ordinary mode (line editing
        and echo), as sluicectl must leave it however it ends."""
        lflag = termios.tcgetattr(self.fd)[3]
        return bool(lflag & termios.ICANON) and bool(lflag & termios.ECHO)

    def close(self):
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.wait(5)
        try:
            os.close(self.fd)
        except OSError:
            pass
