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
        load.check_answers(t, rnd)
        loads.append(load)
        d.start()
        for i, old in enumerate(loads, 1):
            old.verify(t, d, "after kill %d, round %d's writes" % (rnd, i))
    t.stopped(d, "a final SIGTERM exits 0")


st.main(body)
