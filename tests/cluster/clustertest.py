# SPDX-License-Identifier: MIT
"""Several sluiced on one PostgreSQL database, for the tests of tests/cluster.

A Node is a sluicetest.Daemon whose store is the cluster's one database
(made by the first node) and whose sluice.conf names it (node_name) and
sets short leases, so that a test sees a dead node's items taken over in
seconds. The first node's first start makes the admin token and the audit
key; every other node is handed both (one chain, one key: docs/scale-out.md).
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.environ["SLUICE_SRCDIR"], "tests", "integration"))
import sluicetest as st  # noqa: E402,F401

LEASE_SECONDS = 3


class Node(st.Daemon):
    def __init__(self, test, name, first=None, conf=""):
        self.node_name = name
        self.extra = conf
        self.first = first
        # The first node gets a new database; the others share it.
        st.Daemon.__init__(self, test, "", name, sqlite=first is not None)
        if first is not None:
            self.store = first.store
        self.write_conf("")

    def write_conf(self, text):
        text = 'node_name = %s\nlease_seconds = %d\n%s\n%s' % (
            st.lua_str(self.node_name), LEASE_SECONDS, getattr(self, "extra", ""), text)
        st.Daemon.write_conf(self, text)

    def start(self):
        if self.first is not None:
            key = os.path.join(self.state, "audit.key")
            if not os.path.exists(key):
                with open(os.path.join(self.first.state, "audit.key"), "rb") as f:
                    data = f.read()
                with open(os.open(key, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
                    f.write(data)
        st.Daemon.start(self)
        if self.first is not None:
            self.token = self.first.token
        return self


def cluster(t, n, conf="", start=True):
    """n nodes on one new database, "n1" first (it makes the schema, the
    admin token and the audit key), then the others."""
    first = Node(t, "n1", None, conf)
    nodes = [first] + [Node(t, "n%d" % i, first, conf) for i in range(2, n + 1)]
    if start:
        for node in nodes:
            node.start()
    return nodes


def eventually(what, timeout=10.0, every=0.05):
    """what() until it is true, for at most timeout seconds; its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        got = what()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(every)
