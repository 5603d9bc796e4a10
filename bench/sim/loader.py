# SPDX-License-Identifier: MIT
"""Put the generated platform into a daemon, once, and keep it as a snapshot for every variant.

Users go in through the public API (POST /v1/users: one request each, as a
platform's sign-up sends them), over many connections so that group commit
batches them; follows as a platform importing its graph sends them,
POST /v1/follows with FOLLOW_CHUNK NDJSON lines a request. The store is
then copied with GET /v1/backup, and each policy variant starts from that
copy instead of loading a million follows again.
"""
import json
import os
import time

import daemon as sd
import wire
from world import CITIES, INTERESTS

LOAD_CONNS = 96     # connections: each waits for its commit, so many batch well
                    # (max_connections_per_address is 128)
LOAD_WINDOW = 2     # requests in flight per connection
FOLLOW_CHUNK = 10000    # follow lines per POST /v1/follows (~450 KB: body_limit is 1 MiB)
FOLLOW_CONNS = 2        # one batch parsed while the one before is written


class LoadError(Exception):
    pass


def make_tokens(pool, world):
    """Tokens the simulation uses: one ingest token for the app's backend,
    one per moderator (their names show in /v1/stats)."""
    out = {}
    names = [("sim-ingest", "ingest")] + [(m, "moderator") for m, _ in world.moderators]
    for name, role in names:
        status, body = pool.call("POST", "/v1/tokens", {"name": name, "role": role})
        if status != 201:
            raise LoadError("POST /v1/tokens %s: %s %s" % (name, status, body))
        out[name] = body["token"]
    return out


def load(d, world, log=print):
    """Users, abusers' accounts and follows into the running daemon d.
    Returns the tokens and timings."""
    t0 = time.monotonic()
    admin = wire.Pool(d.port, d.token)
    toks = make_tokens(admin, world)
    pool = wire.Pool(d.port, toks["sim-ingest"], conns=LOAD_CONNS, window=LOAD_WINDOW)
    bad = []

    def check(what):
        def cb(status, body):
            if status != 200 and len(bad) < 10:
                bad.append((what, status, body[:200]))
        return cb

    for u in range(world.p.users):
        body = json.dumps({"id": world.uid[u], "city": CITIES[world.city[u]],
                           "interests": [INTERESTS[i] for i in world.interests[u]]},
                          separators=(",", ":"))
        pool.submit("POST", "/v1/users", body, check(world.uid[u]))
    for k, x in enumerate(world.abusers):
        # Accounts that look like anyone's: a city, a few interests.
        mine = [INTERESTS[(3 * k + j) % len(INTERESTS)] for j in range(3)]
        body = json.dumps({"id": x, "city": CITIES[k % len(CITIES)], "interests": mine})
        pool.submit("POST", "/v1/users", body, check(x))
    pool.drain()
    t_users = time.monotonic() - t0
    log("sim: %d users in %.1f s" % (world.p.users + len(world.abusers), t_users))
    uid = world.uid
    n = requests = 0
    cpu0, own0 = sum(sd.cpu_seconds(d.proc.pid)), time.process_time()
    fpool = wire.Pool(d.port, toks["sim-ingest"], conns=FOLLOW_CONNS, window=1)

    def counted(first, size):
        def cb(status, body):
            got = json.loads(body) if status == 200 else None
            if (not got or got.get("followed") != size) and len(bad) < 10:
                bad.append(("follows from edge %d" % first, status, body[:200]))
        return cb

    def send(lines):
        fpool.submit("POST", "/v1/follows", "".join(lines), counted(n - len(lines), len(lines)),
                     ctype="application/x-ndjson")

    lines = []
    for u, c in world.edges():
        lines.append('{"follower":"%s","creator":"%s"}\n' % (uid[u], uid[c]))
        n += 1
        if len(lines) == FOLLOW_CHUNK:
            send(lines)
            requests += 1
            lines = []
    if lines:
        send(lines)
        requests += 1
    fpool.drain()
    fpool.close()
    t_follows = time.monotonic() - t0 - t_users
    cpu = (sum(sd.cpu_seconds(d.proc.pid)) - cpu0, time.process_time() - own0)
    log("sim: %d follows in %.1f s (%.0f/s; CPU s: daemon %.1f, loader %.1f)"
        % (n, t_follows, n / max(t_follows, 1e-9), cpu[0], cpu[1]))
    if bad:
        raise LoadError("the platform did not load: %s" % bad)
    pool.close()
    admin.close()
    return toks, {"users_s": t_users, "follows_s": t_follows, "follows": n,
                  "requests": world.p.users + len(world.abusers) + requests}


def snapshot(d, path):
    """GET /v1/backup into path."""
    pool = wire.Pool(d.port, d.token)
    got = []
    pool.submit("GET", "/v1/backup", None, lambda s, b: got.append((s, b)))
    pool.drain()
    pool.close()
    status, body = got[0]
    if status != 200:
        raise LoadError("GET /v1/backup: %s %s" % (status, body[:200]))
    tmp = path + ".part"
    with open(tmp, "wb") as f:
        f.write(body)
    os.replace(tmp, path)
    return len(body)
