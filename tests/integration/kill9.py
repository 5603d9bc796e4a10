# SPDX-License-Identifier: MIT
# Durability: every write acknowledged before a SIGKILL is there after restart.
import signal
import sys
import time
sys.dont_write_bytecode = True
import sluicetest as st

ROUNDS = 3
LOAD_SECONDS = 2.0


def body(t):
    d = t.daemon(conf='log_level = "warn"\n')
    loads = []
    for rnd in range(1, ROUNDS + 1):
        load = st.Load(d, "k%d" % rnd).start()
        time.sleep(LOAD_SECONDS)
        d.signal(signal.SIGKILL)
        rc = d.wait()
        load.stop()
        t.check(rc == -signal.SIGKILL, "round %d: sluiced died of SIGKILL under load" % rnd, rc)
        t.require(len(load.uploads) > 0 and load.batches > 0,
                  "round %d: the load got acknowledgements (%d uploads, %d event batches)"
                  % (rnd, len(load.uploads), load.batches))
        t.check(not load.unexpected, "round %d: every answer was 202 or 503" % rnd,
                load.unexpected[:5])
        loads.append(load)
        d.start()
        for i, old in enumerate(loads, 1):
            old.verify(t, d, "after kill %d, round %d's writes" % (rnd, i))
    t.stopped(d, "a final SIGTERM exits 0")


st.main(body)
