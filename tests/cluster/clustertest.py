# SPDX-License-Identifier: MIT
"""Several sluiced on one PostgreSQL database, for the tests of tests/cluster.

A Node is a sluicetest.Daemon whose store is the cluster's one database
(made by the first node) and whose sluice.conf names it (node_name) and
sets short leases, so that a test sees a dead node's items taken over in
seconds. The admin token is made once, by the first node's start, and
every node is handed it.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.environ["SLUICE_SRCDIR"], "tests", "integration"))
import sluicetest as st  # noqa: E402,F401

LEASE_SECONDS = 3


class Node(st.Daemon):
    def __init__(self, test, name, store, conf=""):
        self.node_name = name
        self.extra = conf
        # The first node gets a new database; the others share it.
        st.Daemon.__init__(self, test, "", name, sqlite=store is not None)
        if store is not None:
            self.store = store
        self.write_conf("")

    def write_conf(self, text):
        text = 'node_name = %s\nlease_seconds = %d\n%s\n%s' % (
            st.lua_str(self.node_name), LEASE_SECONDS, getattr(self, "extra", ""), text)
        st.Daemon.write_conf(self, text)


def cluster(t, n, conf="", start=True):
    """n nodes on one new database, node "n1" first (it makes the schema
    and the admin token), then the others, each handed n1's token."""
    first = Node(t, "n1", None, conf)
    nodes = [first]
    for i in range(2, n + 1):
        nodes.append(Node(t, "n%d" % i, first.store, conf))
    if start:
        first.start()
        for node in nodes[1:]:
            node.start()
            node.token = first.token
    return nodes


def eventually(what, timeout=10.0, every=0.05):
    """what() until it is true, for at most timeout seconds; its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        got = what()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(every)
