# SPDX-License-Identifier: MIT
# The UNIX socket listener (unix_socket): created 0660, serves the same API
# as TCP with the same tokens, is exempt from the per-address cap (it is a
# local proxy's door, shared by all its clients), replaces a stale socket
# file at start and stops accepting on SIGTERM.
import json
import os
import stat
import sys
import time
sys.dont_write_bytecode = True
import rawhttp as rh
import sluicetest as st


def call(path, method, target, token=None, body=None):
    s = rh.connect(0, path=path)
    try:
        data = json.dumps(body).encode() if body is not None else b""
        h = "%s %s HTTP/1.1\r\nHost: sluice\r\nConnection: close\r\n" % (method, target)
        if token:
            h += "Authorization: Bearer %s\r\n" % token
        if body is not None:
            h += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(data)
        s.sendall(h.encode() + b"\r\n" + data)
        return rh.read_answer(s)
    finally:
        s.close()


def body(t):
    sock = os.path.join(t.tmp, "sluiced.sock")
    # A stale file where the socket goes (a crash left it) is replaced.
    with open(sock, "w") as f:
        f.write("stale")
    d = t.daemon(conf='unix_socket = "%s"\nmax_connections_per_address = 2\n'
                      'log_level = "warn"\n' % sock)
    st_ = os.stat(sock)
    t.check(stat.S_ISSOCK(st_.st_mode), "unix_socket: a socket replaced the stale file")
    t.check(stat.S_IMODE(st_.st_mode) == 0o660, "  ... with mode 0660 (%o)"
            % stat.S_IMODE(st_.st_mode))

    a = call(sock, "GET", "/healthz")
    t.check(a is not None and a.status == 200 and a.json == {"status": "ok"},
            "GET /healthz over the UNIX socket", a)
    a = call(sock, "POST", "/v1/uploads", d.token, st.upload("ux-1"))
    t.check(a is not None and a.status == 202, "POST /v1/uploads over the UNIX socket", a)
    a = call(sock, "GET", "/v1/items/ux-1", d.token)
    t.check(a is not None and a.status == 200 and a.json.get("id") == "ux-1",
            "GET /v1/items/ux-1 over the UNIX socket", a)
    t.status(d.item("ux-1"), 200, "  ... the same item over TCP")
    a = call(sock, "GET", "/v1/status")
    t.check(a is not None and a.status == 401, "a token is still needed there (401)", a)

    # Many connections through the socket: no per-address cap applies.
    held = []
    for i in range(6):
        s = rh.connect(0, path=sock)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: sluice\r\n\r\n")
        held.append((s, rh.read_answer(s)))
    t.check(all(a is not None and a.status == 200 for _, a in held),
            "6 connections at once through the socket, over the per-address cap of 2",
            [a for _, a in held])
    for s, _ in held:
        s.close()

    d.signal(15)
    deadline = time.monotonic() + 10
    refused = False
    while time.monotonic() < deadline and not refused:
        try:
            rh.connect(0, path=sock).close()
            time.sleep(0.05)
        except OSError:
            refused = True
    t.check(refused, "after SIGTERM the socket takes no connection")
    t.check(d.wait() == 0, "sluiced exits 0")


st.main(body)
