#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/callgrind.py: instructions per request, by thread, under callgrind.

The figures of bench/run move with the machine's load; the number of
instructions a request costs does not. This starts sluiced under
`valgrind --tool=callgrind` with the set-up of bench/run (an ingest token,
16 items and users; for the full-pipeline kinds the shipped policies and
plugins and READERS readers following the creators of the uploads), sends
WARM requests unmeasured, then N measured ones, and prints the instructions
of each thread divided by N:

  loop     the event loop (the main thread)
  commit   the commit thread (SQLite)
  other    any other thread (policy jobs)

usage: bench/callgrind.py [-b BUILDDIR] [-n N] [--warm W] [-c CONNS]
                          [--keep] [--annotate] KIND...
KIND: uploads, uploads-full, events, ndjson, feed, events-waves

With --keep the state and the callgrind files are kept (their directory is
printed), for callgrind_annotate. Needs valgrind (Debian: valgrind).
"""
import argparse
import glob
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
SETUP_ITEMS = 16
TYPES = ("impression", "play", "complete", "like", "share", "skip")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Daemon:
    def __init__(self, args, tmp, full):
        self.tmp = tmp
        self.port = free_port()
        self.state = os.path.join(tmp, "state")
        os.makedirs(self.state, mode=0o700)
        conf = os.path.join(tmp, "sluice.conf")
        pdir = os.path.join(args.builddir, "plugins")
        with open(conf, "w") as f:
            if full:
                f.write('plugins = {\n'
                        '  { name = "keyword", path = "%s/keyword/.libs/keyword.so", '
                        'lists = "%s/policies/keywords" },\n'
                        '  { name = "phash", path = "%s/phash/.libs/phash.so" },\n}\n'
                        % (pdir, SRC, pdir))
        if full:
            policies = os.path.join(SRC, "policies")
        else:
            policies = os.path.join(tmp, "policies")
            os.makedirs(policies)
            with open(os.path.join(policies, "bench.lua"), "w") as f:
                f.write('function review(item)\n  return { verdict = "review", queue = "bench",'
                        ' priority = 0, reason = "bench/run" }\nend\n')
        self.cg = os.path.join(tmp, "callgrind.out")
        cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
               "--separate-threads=yes", "--callgrind-out-file=%s.%%p" % self.cg,
               os.path.join(args.builddir, "core", "sluiced"), "-c", conf,
               "--state", self.state, "--policies", policies,
               "--listen", "127.0.0.1:%d" % self.port]
        self.log = open(os.path.join(tmp, "sluiced.log"), "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                sys.exit("sluiced exited; see %s" % self.log.name)
            try:
                if self.request("GET", "/healthz", token=None)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            sys.exit("sluiced did not answer /healthz in 120 s")
        tokfile = os.path.join(self.state, "admin.token")
        while not os.path.exists(tokfile):
            time.sleep(0.1)
        with open(tokfile) as f:
            self.admin = f.read().strip()
        self.token = self.admin
        code, body = self.request("POST", "/v1/tokens", {"name": "bench-ingest", "role": "ingest"})
        if code != 201:
            sys.exit("cannot create an ingest token: %d %s" % (code, body))
        self.token = json.loads(body)["token"]

    def request(self, method, path, body=None, token="", ctype="application/json", conn=None):
        c = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        headers = {}
        if token is not None:
            headers["Authorization"] = "Bearer " + (token or self.token)
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            headers["Content-Type"] = ctype
        c.request(method, path, body=data, headers=headers)
        r = c.getresponse()
        out = r.read()
        if conn is None:
            c.close()
        return r.status, out

    def callgrind(self, what):
        subprocess.run(["callgrind_control", what, str(self.proc.pid)],
                       stdout=subprocess.DEVNULL, check=True)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def setup(d, readers):
    for i in range(1, SETUP_ITEMS + 1):
        d.request("POST", "/v1/users", {"id": "bench-user-%d" % i, "city": "lisbon"})
        d.request("POST", "/v1/uploads", {"id": "bench-item-%d" % i,
                                          "creator": "bench-creator-%d" % i,
                                          "title": "bench item %d" % i})
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=300)
    for i in range(1, readers + 1):
        d.request("POST", "/v1/users", {"id": "bench-reader-%d" % i, "city": "lisbon",
                                        "interests": ["bench"]}, conn=conn)
        d.request("PUT", "/v1/follows/bench-reader-%d/bench-creator-%d" % (i, i % 100),
                  conn=conn)
    conn.close()


def upload_body(tag, n):
    # bench/upload.lua's body, byte for byte.
    return ('{"id":"b%s-%d","creator":"bench-creator-%d","title":"bench upload %d",'
            '"duration_ms":15000,"city":"lisbon","tags":{"bench":1}}' % (tag, n, n % 100, n))


def ndjson_body(batch):
    lines = []
    for i in range(1, batch + 1):
        n = (i - 1) % SETUP_ITEMS + 1
        lines.append('{"item":"bench-item-%d","user":"bench-user-%d","type":"%s","watch_ms":%d}'
                     % (n, (i * 7) % SETUP_ITEMS + 1, TYPES[(i - 1) % len(TYPES)],
                        (i * 37) % 60000))
    return "\n".join(lines) + "\n"


def served_pairs(d, readers):
    pairs = []
    for i in range(1, readers + 1):
        for _ in range(2):
            code, body = d.request("GET", "/v1/feed/bench-reader-%d?tab=mixed&limit=100" % i)
            if code == 200:
                for it in json.loads(body)["items"]:
                    if not it["id"].startswith("bench-item-"):
                        pairs.append((it["id"], "bench-reader-%d" % i))
    return pairs


class Load:
    """N requests over CONNS keep-alive connections; every answer must be 2xx."""

    def __init__(self, d, conns):
        self.d, self.conns = d, conns

    def run(self, make, n):
        lock = threading.Lock()
        counter = [0]
        errors = []

        def worker():
            conn = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=300)
            while True:
                with lock:
                    if counter[0] >= n or errors:
                        break
                    counter[0] += 1
                    k = counter[0]
                method, path, body, ctype = make(k)
                code, out = self.d.request(method, path, body, ctype=ctype, conn=conn)
                if code // 100 != 2:
                    errors.append("%s %s: %d %s" % (method, path, code, out[:200]))
            conn.close()

        ts = [threading.Thread(target=worker) for _ in range(self.conns)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if errors:
            sys.exit("bench/callgrind.py: " + errors[0])


def requests_for(kind, d, args, tag):
    if kind in ("uploads", "uploads-full"):
        return lambda k: ("POST", "/v1/uploads", upload_body(tag, k), "application/json")
    if kind == "events":
        body = '{"item":"bench-item-1","user":"bench-user-1","type":"play","watch_ms":1500}'
        return lambda k: ("POST", "/v1/events", body, "application/json")
    if kind == "ndjson":
        body = ndjson_body(args.batch)
        return lambda k: ("POST", "/v1/events", body, "application/x-ndjson")
    if kind == "feed":
        # As in bench/run, where uploads-full fills the readers' inboxes first.
        Load(d, args.conns).run(lambda k: ("POST", "/v1/uploads", upload_body(tag + "f", k),
                                           "application/json"), args.fill)
        return lambda k: ("GET", "/v1/feed/bench-reader-%d?tab=mixed&limit=10"
                          % ((k * 7919) % args.readers + 1), None, None)
    if kind == "events-waves":
        Load(d, args.conns).run(lambda k: ("POST", "/v1/uploads", upload_body(tag + "w", k),
                                           "application/json"), 2000)
        pairs = served_pairs(d, args.readers)
        if not pairs:
            sys.exit("bench/callgrind.py: no feed served an item in a running wave")

        def ev(k):
            item, user = pairs[(k // len(TYPES)) % len(pairs)]
            return ("POST", "/v1/events", json.dumps(
                {"item": item, "user": user, "type": TYPES[k % len(TYPES)]}),
                "application/json")
        return ev
    sys.exit("bench/callgrind.py: unknown kind %s" % kind)


def thread_totals(prefix):
    """{thread number: instructions} in the dump of the measured requests."""
    out = {}
    for path in glob.glob(prefix + "*"):
        m = re.search(r"-(\d+)$", path)
        tid = int(m.group(1)) if m else 1
        dump = False
        with open(path) as f:
            for line in f:
                # Only the dump taken right after the measured requests
                # (the file written at exit holds the shutdown).
                if line.startswith("desc: Trigger:"):
                    dump = "dump" in line
                elif line.startswith("totals:") and dump:
                    out[tid] = out.get(tid, 0) + int(line.split()[1])
                    break
    return out


def measure(kind, args):
    tmp = tempfile.mkdtemp(prefix="sluice-cg.")
    full = kind != "uploads" and kind not in ("events", "ndjson") or args.full
    d = Daemon(args, tmp, full)
    try:
        setup(d, args.readers if full else 0)
        tag = "%d" % os.getpid()
        make = requests_for(kind, d, args, tag)
        load = Load(d, args.conns)
        load.run(make, args.warm)
        # The measured requests continue the numbering of the warm-up ones
        # (uploads need new ids).
        base = args.warm
        d.callgrind("--instr=on")
        t0 = time.time()
        load.run(lambda k: make(base + k), args.n)
        d.callgrind("--dump")
        elapsed = time.time() - t0
        d.callgrind("--instr=off")
    finally:
        d.stop()
    totals = thread_totals(d.cg + ".%d" % d.proc.pid)
    names = {1: "loop", 2: "commit"}
    parts = ["%s %s" % (names.get(t, "thread %d" % t), "{:,.0f}".format(v / args.n))
             for t, v in sorted(totals.items())]
    print("%-13s n=%d: instructions per request: %s  (%.0f s under callgrind)"
          % (kind, args.n, ", ".join(parts), elapsed), flush=True)
    if args.keep:
        print("  kept %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-b", "--builddir", default=os.path.join(SRC, "build", "normal"))
    ap.add_argument("-n", type=int, default=1000, help="measured requests (default 1000)")
    ap.add_argument("--warm", type=int, default=300, help="unmeasured requests first")
    ap.add_argument("-c", "--conns", type=int, default=8, help="connections (default 8)")
    ap.add_argument("--readers", type=int, default=500)
    ap.add_argument("--batch", type=int, default=1000, help="events per ndjson request")
    ap.add_argument("--fill", type=int, default=5000,
                    help="uploads before the feed kind, to fill the inboxes")
    ap.add_argument("--full", action="store_true",
                    help="the shipped policies and plugins for every kind")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("kinds", nargs="+")
    args = ap.parse_args()
    args.builddir = os.path.abspath(args.builddir)
    if shutil.which("valgrind") is None:
        sys.exit("bench/callgrind.py: valgrind is missing (Debian package valgrind)")
    for kind in args.kinds:
        measure(kind, args)


if __name__ == "__main__":
    main()
