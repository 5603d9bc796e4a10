# SPDX-License-Identifier: MIT
"""Integration harness: start the real sluiced on a free port, talk HTTP to it.

Every wait here is bounded: a daemon that hangs makes the test fail, never
makes it hang. Each test file gets its own temporary directory (state,
policies, config, logs) which is removed at exit, after the daemon is stopped.
"""
import atexit
import collections
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

START_TIMEOUT = 30.0     # seconds for a start to answer /healthz (sanitizer builds are slow)
STOP_TIMEOUT = 20.0      # seconds for SIGTERM to end the process
HTTP_TIMEOUT = 15.0      # seconds for one request
RUN_TIMEOUT = 20.0       # seconds for one sluicectl / --check-config run

EVENT_TYPES = ("impression", "play", "complete", "like", "comment", "share",
               "follow", "skip", "dislike", "report")

SKIP = 77


class Failed(Exception):
    """A check that cannot let the test go on (the daemon is gone, ...)."""


def _tree(var):
    path = os.environ.get(var)
    if not path:
        print("%s is not set: run through `make check` or export it" % var)
        sys.exit(99)
    return path


def builddir():
    return _tree("SLUICE_BUILDDIR")


def srcdir():
    return _tree("SLUICE_SRCDIR")


def program(name):
    """Path of a built program (core/sluiced, core/sluicectl)."""
    path = os.path.join(builddir(), "core", name)
    if not os.access(path, os.X_OK):
        raise Failed("%s is not built" % path)
    return path


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def port_refuses(port):
    """True when nothing accepts connections on 127.0.0.1:port any more."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(("127.0.0.1", port))
    except ConnectionRefusedError:
        return True
    except OSError:
        return True
    finally:
        s.close()
    return False


def run(argv, env=None, timeout=RUN_TIMEOUT):
    """Run a program to completion; returns CompletedProcess with str output."""
    full = dict(os.environ)
    # Keep the caller's environment from leaking into sluicectl.
    full.pop("SLUICE_URL", None)
    full.pop("SLUICE_TOKEN", None)
    if env:
        full.update(env)
    try:
        return subprocess.run(argv, env=full, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=timeout,
                              text=True, errors="replace")
    except subprocess.TimeoutExpired:
        raise Failed("%s did not finish within %ss" % (" ".join(argv), timeout))


# {====================== HTTP ============================================

class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # lower-case name -> value
        self.body = body                # bytes
        try:
            self.json = json.loads(body.decode("utf-8")) if body else None
        except (UnicodeDecodeError, ValueError):
            self.json = None

    def __repr__(self):
        text = self.body[:400].decode("utf-8", "replace")
        return "HTTP %d %s" % (self.status, text)


DEFAULT = object()


def request(port, method, path, body=None, token=None, ctype=DEFAULT,
            headers=None, timeout=HTTP_TIMEOUT):
    """One request on a fresh connection. body: dict/list (sent as JSON),
    str or bytes (sent as is). Raises OSError when the daemon is unreachable."""
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        if isinstance(body, (dict, list)):
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        elif isinstance(body, str):
            data = body.encode("utf-8")
        else:
            data = body
    if ctype is DEFAULT:
        ctype = "application/json" if data is not None else None
    if ctype is not None:
        hdrs["Content-Type"] = ctype
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        out = r.read()
        return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, out)
    finally:
        conn.close()

# }=======================================================================


# {====================== The store =======================================
# SQLite under each daemon's state directory, unless SLUICE_TEST_STORE is a
# libpq connection string (tests/pgcluster prints one): then every Daemon
# gets a database of its own on that server, made empty when the Daemon is
# made and dropped at the test's end, and its sluice.conf a `store` line.

STORE = os.environ.get("SLUICE_TEST_STORE", "")
PSQL_TIMEOUT = 60.0
_databases = []


def on_postgres():
    return bool(STORE)


def sqlite_only(why):
    """Skip the whole test (exit 77) when the store is PostgreSQL."""
    if STORE:
        print("SKIP: %s: the store is PostgreSQL here (SLUICE_TEST_STORE)" % why)
        sys.exit(SKIP)


def with_dbname(conninfo, name):
    """conninfo naming database name instead."""
    if conninfo.startswith(("postgresql://", "postgres://")):
        import urllib.parse
        u = urllib.parse.urlsplit(conninfo)
        return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + name, u.query, u.fragment))
    return conninfo + " dbname=" + name     # libpq: the last of a keyword wins


def psql(conninfo, sql, params=()):
    """Run sql (one statement, ? for each parameter) with psql; its rows as
    tuples of str (None for NULL), numbers as int."""
    text, names = "", []
    for i, part in enumerate(sql.split("?")):
        text += part
        if i < len(params):
            text += ":'p%d'" % i
    argv = ["psql", "-X", "-q", "-A", "-t", "-F", "\x1f", "-P", "null=\x1e",
            "-v", "ON_ERROR_STOP=1", conninfo]
    for i, v in enumerate(params):
        argv += ["-v", "p%d=%s" % (i, v)]
    try:
        r = subprocess.run(argv, input=text + ";\n", capture_output=True, text=True,
                           timeout=PSQL_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise Failed("psql did not answer within %ss: %s" % (PSQL_TIMEOUT, sql))
    if r.returncode != 0:
        raise Failed("psql: %s: %s" % (sql, r.stderr.strip()))
    rows = []
    for line in r.stdout.split("\n")[:-1]:     # not splitlines(): it splits at \x1e
        row = []
        for f in line.split("\x1f"):
            if f == "\x1e":
                row.append(None)
            elif f.lstrip("-").isdigit():
                row.append(int(f))
            else:
                row.append(f)
        rows.append(tuple(row))
    return rows


def new_database():
    """A new empty database on the SLUICE_TEST_STORE server; its conninfo."""
    name = "sluice_%d_%d" % (os.getpid(), len(_databases))
    psql(STORE, "DROP DATABASE IF EXISTS %s" % name)
    psql(STORE, "CREATE DATABASE %s" % name)
    _databases.append(name)
    return with_dbname(STORE, name)


def drop_databases():
    while _databases:
        try:
            psql(STORE, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % _databases.pop())
        except Failed as e:
            print("warning: %s" % e)


def lua_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

# }=======================================================================


# {====================== The daemon ======================================

class Daemon:
    """One sluiced process over a state directory that outlives restarts."""

    def __init__(self, test, conf="", name="d", sqlite=False):
        self.test = test
        self.dir = os.path.join(test.tmp, name)
        self.state = os.path.join(self.dir, "state")
        self.policies = os.path.join(self.dir, "policies")
        for d in (self.dir, self.state, self.policies):
            os.makedirs(d, exist_ok=True)
        self.conf = os.path.join(self.dir, "sluice.conf")
        self.store = new_database() if STORE and not sqlite else None
        self.write_conf(conf)
        self.port = free_port()
        self.proc = None
        self.starts = 0
        self.token = None
        self.log_paths = []
        test.daemons.append(self)

    def write_conf(self, text):
        """Replace sluice.conf with text, keeping the daemon's store line:
        a test that rewrites its configuration stays on its store."""
        with open(self.conf, "w") as f:
            f.write(text)
            if self.store:
                f.write("\nstore = %s\n" % lua_str(self.store))

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def _log(self, what):
        return os.path.join(self.dir, "%s.%d" % (what, self.starts))

    def command(self):
        """The command line start() runs (a subclass may wrap it)."""
        return [program("sluiced"), "-c", self.conf,
                "--listen", "127.0.0.1:%d" % self.port,
                "--state", self.state, "--policies", self.policies]

    def environment(self):
        """The environment start() runs it in: None, this process's."""
        return None

    def start(self):
        """Start and wait for /healthz 200; returns (stdout so far)."""
        assert self.proc is None or self.proc.poll() is not None
        self.starts += 1
        self.stdout_path, self.stderr_path = self._log("stdout"), self._log("stderr")
        self.log_paths += [self.stdout_path, self.stderr_path]
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err, env=self.environment())
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise Failed("sluiced exited with %d during start-up:\n%s"
                             % (self.proc.returncode, self.logs()))
            try:
                r = request(self.port, "GET", "/healthz", timeout=2)
                if r.status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise Failed("sluiced did not answer /healthz within %ss:\n%s"
                             % (START_TIMEOUT, self.logs()))
            time.sleep(0.05)
        tok = os.path.join(self.state, "admin.token")
        if os.path.exists(tok):
            with open(tok) as f:
                self.token = f.read().strip()
        return self

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def logs(self, limit=4000):
        """The tail of every start's stdout and stderr."""
        out = []
        for p in self.log_paths:
            if os.path.exists(p):
                with open(p, "rb") as f:
                    text = f.read().decode("utf-8", "replace")
                out.append("--- %s ---\n%s" % (os.path.basename(p), text[-limit:]))
        return "\n".join(out)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.running():
            self.proc.send_signal(sig)

    def wait(self, timeout=STOP_TIMEOUT):
        """Exit status, or None when the process is still alive after timeout."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait; returns the exit status (fails on a hang)."""
        self.signal(signal.SIGTERM)
        rc = self.wait(timeout)
        if rc is None:
            self.kill()
            raise Failed("sluiced did not exit within %ss of SIGTERM:\n%s"
                         % (timeout, self.logs()))
        return rc

    def kill(self):
        if self.running():
            self.proc.kill()
        if self.proc is not None:
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass

    def req(self, method, path, body=None, token=DEFAULT, **kw):
        """A request with the admin token unless token= says otherwise
        (token=None sends no Authorization header)."""
        if token is DEFAULT:
            token = self.token
        return request(self.port, method, path, body, token, **kw)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.req("POST", path, body, **kw)

    def item(self, item_id, **kw):
        return self.get("/v1/items/" + item_id, **kw)

    def sql(self, query, params=()):
        """Run one SQL statement on this daemon's store behind its back (?
        for parameters; quote "user"); the rows as tuples."""
        if self.store:
            return psql(self.store, query, params)
        import sqlite3
        con = sqlite3.connect(os.path.join(self.state, "sluice.db"), timeout=10)
        try:
            with con:
                return [tuple(r) for r in con.execute(query, params)]
        finally:
            con.close()

    def job(self, path, body=None, timeout=120, **kw):
        """POST to a route that answers with a job (policy check, replay)
        and poll GET /v1/jobs/ID until it is over: the job's answer, or the
        POST's own answer when it started no job."""
        r = self.post(path, body, **kw)
        if r.status != 202 or not (r.json or {}).get("job"):
            return r
        where = "/v1/jobs/" + r.json["job"]
        deadline = time.monotonic() + timeout
        while True:
            time.sleep(0.02)
            g = self.get(where, **kw)
            if g.status != 202:
                return g
            if time.monotonic() > deadline:
                raise Failed("%s: not over after %ss: %r" % (where, timeout, g))

# }=======================================================================


# {====================== Checks ==========================================

class Test:
    def __init__(self, name):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="sluice-it-%s-" % name)
        self.daemons = []
        self.passed = 0
        self.failed = 0

    def daemon(self, conf="", name="d", start=True, sqlite=False):
        """A Daemon on the store SLUICE_TEST_STORE says (sqlite: on SQLite
        whatever it says)."""
        d = Daemon(self, conf, name, sqlite)
        return d.start() if start else d

    def check(self, cond, what, detail=None):
        """Record one check; a failure is printed and the test goes on."""
        if cond:
            self.passed += 1
            print("ok   %s" % what)
        else:
            self.failed += 1
            print("FAIL %s" % what)
            if detail is not None:
                print("     got: %s" % (detail,))
        return bool(cond)

    def require(self, cond, what, detail=None):
        """Like check, but the test cannot go on without it."""
        if not self.check(cond, what, detail):
            raise Failed(what)

    def stopped(self, d, what="SIGTERM: sluiced exits 0"):
        """Stop d with SIGTERM and check the exit status is 0."""
        rc = d.stop()
        return self.check(rc == 0, what, "exit status %s" % rc)

    def conf_refused(self, name, text, line, words):
        """sluiced --check-config on text (written as name in the test's
        folder) exits 1, naming name:line and each of words."""
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        r = run([program("sluiced"), "--check-config", "-c", path])
        return self.check(r.returncode == 1 and "%s:%d:" % (name, line) in r.stderr
                          and all(w in r.stderr for w in words),
                          "--check-config %s exits 1 naming line %d and %s" % (name, line, words),
                          (r.returncode, r.stderr))

    def status(self, r, status, what):
        return self.check(r.status == status, "%s -> %d" % (what, status), r)

    def error(self, r, status, code, what, field=None):
        """r is the documented error: status, {"error":{code,message[,field]}}.
        status/code may be tuples of acceptable values; field may be a str
        (exact) or a callable."""
        statuses = status if isinstance(status, tuple) else (status,)
        codes = code if isinstance(code, tuple) else (code,)
        err = r.json.get("error") if isinstance(r.json, dict) else None
        ok = (r.status in statuses and isinstance(err, dict)
              and err.get("code") in codes
              and isinstance(err.get("message"), str) and err.get("message") != "")
        if ok and field is not None:
            got = err.get("field")
            ok = field(got) if callable(field) else got == field
        label = "/".join(str(s) for s in statuses) + " " + "/".join(codes)
        if field is not None and not callable(field):
            label += " field=%s" % field
        return self.check(ok, "%s -> %s" % (what, label), r)

    def cleanup(self):
        for d in self.daemons:
            if d.running():
                d.signal(signal.SIGTERM)
                if d.wait(10) is None:
                    d.kill()
        if STORE:
            drop_databases()
        shutil.rmtree(self.tmp, ignore_errors=True)


def main(body, name=None):
    """Run body(t) and exit 0 when every check passed, else 1."""
    name = name or os.path.splitext(os.path.basename(sys.argv[0]))[0]
    t = Test(name)
    atexit.register(t.cleanup)
    code = 0
    try:
        body(t)
    except Failed as e:
        t.failed += 1
        print("FAIL (stopping) %s" % e)
    except Exception:
        t.failed += 1
        print("FAIL (error)")
        traceback.print_exc(file=sys.stdout)
    if t.failed:
        for d in t.daemons:
            print(d.logs())
        code = 1
    print("%s: %d checks passed, %d failed" % (name, t.passed, t.failed))
    sys.stdout.flush()
    t.cleanup()
    sys.exit(code)

# }=======================================================================


# {====================== Load ============================================

class Load:
    """Writers on threads: unique uploads and NDJSON event batches on the
    uploads they saw acknowledged. Records every acknowledgement, so that a
    test can demand it all back after a crash or a stop. A worker ends at
    its request budget, at stop(), or at the first connection error (the
    daemon is gone)."""

    BATCH = 20

    def __init__(self, d, prefix, threads=8, budget=3000):
        self.d, self.prefix, self.budget = d, prefix, budget
        self.lock = threading.Lock()
        self.uploads = set()                     # acknowledged upload ids
        self.events = collections.Counter()      # (item, type) -> acknowledged count
        self.batches = 0
        self.unexpected = []                     # answers other than success or 503
        self.halt = threading.Event()
        self.threads = [threading.Thread(target=self._work, args=(i,), daemon=True)
                        for i in range(threads)]

    def start(self):
        for th in self.threads:
            th.start()
        return self

    def _work(self, w):
        mine = []
        for n in range(self.budget):
            if self.halt.is_set():
                return
            try:
                if n % 3 == 2 and mine:
                    self._events(w, n, mine)
                else:
                    self._upload(w, n, mine)
            except OSError:
                return

    def _upload(self, w, n, mine):
        uid = "%s-%d-%d" % (self.prefix, w, n)
        r = request(self.d.port, "POST", "/v1/uploads", upload(uid), self.d.token)
        if r.status == 202 and (r.json or {}).get("id") == uid:
            with self.lock:
                self.uploads.add(uid)
            mine.append(uid)
        elif r.status != 503:
            with self.lock:
                self.unexpected.append(("upload " + uid, repr(r)))

    def _events(self, w, n, mine):
        batch = collections.Counter()
        lines = []
        for i in range(self.BATCH):
            item = mine[(n + i) % len(mine)]
            kind = EVENT_TYPES[(n + i) % len(EVENT_TYPES)]
            batch[(item, kind)] += 1
            lines.append(json.dumps({"item": item, "user": "w%d" % w, "type": kind}))
        r = request(self.d.port, "POST", "/v1/events", "\n".join(lines) + "\n",
                    self.d.token, ctype="application/x-ndjson")
        if r.status == 202 and r.json == {"accepted": self.BATCH}:
            with self.lock:
                self.events.update(batch)
                self.batches += 1
        elif r.status != 503:
            with self.lock:
                self.unexpected.append(("events", repr(r)))

    def check_answers(self, t, rnd):
        """The round got acknowledgements, and nothing but 202 or 503."""
        t.require(len(self.uploads) > 0 and self.batches > 0,
                  "round %d: the load got acknowledgements (%d uploads, %d event batches)"
                  % (rnd, len(self.uploads), self.batches))
        t.check(not self.unexpected, "round %d: every answer was 202 or 503" % rnd,
                self.unexpected[:5])

    def stop(self, timeout=HTTP_TIMEOUT * 2):
        self.halt.set()
        deadline = time.monotonic() + timeout
        for th in self.threads:
            th.join(max(0.1, deadline - time.monotonic()))
        if any(th.is_alive() for th in self.threads):
            raise Failed("load threads did not stop within %ss" % timeout)

    def verify(self, t, d, what):
        """Every acknowledged upload is there; counters at least acknowledged."""
        missing = [u for u in sorted(self.uploads) if d.item(u).status != 200]
        t.check(not missing, "%s: all %d acknowledged uploads are present"
                % (what, len(self.uploads)), missing[:10])
        per_item = collections.defaultdict(dict)
        for (item, kind), count in self.events.items():
            per_item[item][kind] = count
        short = []
        for item, kinds in sorted(per_item.items()):
            r = d.item(item)
            got = (r.json or {}).get("counters", {}) if r.status == 200 else {}
            for kind, count in kinds.items():
                if got.get(kind, -1) < count:
                    short.append((item, kind, got.get(kind), count))
        t.check(not short, "%s: counters of %d items hold all %d acknowledged batches"
                % (what, len(per_item), self.batches), short[:10])

# }=======================================================================


def upload(n, **extra):
    """A valid upload body."""
    b = {"id": n, "creator": "c1", "title": "title of " + n}
    b.update(extra)
    return b
