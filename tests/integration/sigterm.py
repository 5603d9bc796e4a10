# SPDX-License-Identifier: MIT
# SIGTERM under load: stop accepting, finish in-flight writes, exit 0 in
# bounded time; after restart every acknowledged write is there.
import signal
import sys
import time
sys.dont_write_bytecode = True
import sluicetest as st

LOAD_SECONDS = 1.5


def body(t):
    d = t.daemon(conf='log_level = "warn"\n')
    loads = []
    for rnd in (1, 2):
        load = st.Load(d, "s%d" % rnd).start()
        time.sleep(LOAD_SECONDS)
        d.signal(signal.SIGTERM)
        rc = d.wait(st.STOP_TIMEOUT)
        if rc is None:
            d.kill()
            load.stop()
            raise st.Failed("round %d: sluiced still runs %ss after SIGTERM under load"
                            % (rnd, st.STOP_TIMEOUT))
        load.stop()
        t.check(rc == 0, "round %d: SIGTERM under load: exit 0" % rnd, rc)
        t.check(st.port_refuses(d.port), "round %d: connections are refused after the stop" % rnd)
        load.check_answers(t, rnd)
        loads.append(load)
        d.start()
        for i, old in enumerate(loads, 1):
            old.verify(t, d, "after stop %d, round %d's writes" % (rnd, i))
    t.stopped(d, "an idle SIGTERM exits 0")


st.main(body)
