# SPDX-License-Identifier: MIT
"""HTTP over raw sockets, for the front's tests: slow clients, many
connections, bodies sent before the answer is read. Every wait is bounded."""
import json
import socket
import time


def connect(port, src=None, timeout=5.0, path=None):
    """A TCP connection to 127.0.0.1:port (from address src if given), or
    to the UNIX socket at path."""
    if path is not None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(path)
        return s
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if src:
        s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers      # lower-case name -> value
        self.body = body
        try:
            self.json = json.loads(body.decode("utf-8")) if body else None
        except (UnicodeDecodeError, ValueError):
            self.json = None

    def __repr__(self):
        return "HTTP %d %r %s" % (self.status, self.headers,
                                  self.body[:300].decode("utf-8", "replace"))


def read_answer(s, timeout=5.0):
    """One answer (status, headers, Content-Length body); skips 1xx. None
    when the connection ends first."""
    deadline = time.monotonic() + timeout
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            chunk = _recv(s, deadline)
            if not chunk:
                return None
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if 100 <= status < 200:
            continue
        need = int(headers.get("content-length", "0"))
        while len(buf) < need:
            chunk = _recv(s, deadline)
            if not chunk:
                return None
            buf += chunk
        return Answer(status, headers, buf[:need])


def _recv(s, deadline):
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("no answer in time")
    s.settimeout(left)
    try:
        return s.recv(65536)
    except ConnectionResetError:
        return b""


def closed_within(s, seconds):
    """True when the peer closes s (EOF or reset) within seconds; whatever
    it sends before (a 408, say) is read and dropped."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        s.settimeout(left)
        try:
            if not s.recv(65536):
                return True
        except ConnectionResetError:
            return True
        except (TimeoutError, socket.timeout):
            return False


def still_open(s):
    """True when s has neither data nor EOF waiting: the peer keeps it."""
    s.settimeout(0.01)
    try:
        return s.recv(1, socket.MSG_PEEK) not in (b"",)
    except (TimeoutError, socket.timeout, BlockingIOError):
        return True
    except OSError:
        return False


def metric(text, name):
    """The value of one sample line of Prometheus text (name with labels)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None
