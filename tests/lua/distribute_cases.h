/* SPDX-License-Identifier: MIT */
/* The table of wave decisions of the shipped 30-distribute.lua: stats in, decision out.
 * tests/lua/test_distribute.c checks the policy against it, and
 * tests/plugins/test_seqtest.c the seqtest plugin against the policy. */
#ifndef SL_TEST_DISTRIBUTE_CASES_H
#define SL_TEST_DISTRIBUTE_CASES_H

/* One case: the wave and its statistics in, the decision out. */
struct decision_case {
    const char *what;
    const char *audience;
    const char *ended_by;
    int present;
    const char *related;        /* JSON array */
    int impression, engaged;
    double base_rate;
    int base_trials;
    const char *want;           /* "continue", "stop", "wait", or "switch:AUDIENCE" */
};

static const struct decision_case cases[] = {
    { "the followers wave never judges: the public waves do",
      "followers", "fill", 100, "[]", 60, 0, 0.1, 0, "continue" },
    { "followers, time, nobody looked: still the public waves' call",
      "followers", "time", 100, "[\"cats\"]", 0, 0, 0.1, 0, "continue" },
    { "everyone liked it at the first checkpoint: go on at once",
      "interest:cats", "evidence", 50, "[]", 20, 20, 0.1, 0, "continue" },
    { "nobody liked it at a checkpoint, no related interest: stop at once",
      "everyone", "evidence", 50, "[]", 30, 0, 0.1, 0, "stop" },
    { "nobody liked it, a related interest known: try it once",
      "everyone", "evidence", 50, "[\"dogs\"]", 30, 0, 0.1, 0, "switch:interest:dogs" },
    { "already in an interest group: stop rather than switch again",
      "interest:cats", "evidence", 50, "[\"dogs\"]", 30, 0, 0.1, 0, "stop" },
    { "not sure yet at a checkpoint: wait",
      "everyone", "evidence", 50, "[]", 20, 3, 0.1, 0, "wait" },
    { "too few looks at a checkpoint: wait",
      "everyone", "evidence", 50, "[]", 10, 10, 0.1, 0, "wait" },
    { "ended undecided, at least as good as its pool: continue",
      "everyone", "fill", 50, "[]", 30, 4, 0.1, 0, "continue" },
    { "ended undecided, below its pool: stop",
      "everyone", "fill", 50, "[]", 30, 2, 0.1, 0, "stop" },
    { "ended undecided below its pool, related known: switch",
      "nearby", "size", 50, "[\"dogs\"]", 30, 2, 0.1, 0, "switch:interest:dogs" },
    { "time ran out with nobody looking: the audience was wrong",
      "everyone", "time", 50, "[\"dogs\"]", 0, 0, 0.1, 0, "switch:interest:dogs" },
    { "nobody looked, nothing related: no verdict, go on",
      "nearby", "fill", 20, "[]", 0, 0, 0.1, 0, "continue" },
    { "few looks when time ran out, all liked it: go on",
      "everyone", "time", 50, "[\"dogs\"]", 5, 5, 0.1, 0, "continue" },
    { "few looks on a small wave, below its pool: a related interest once",
      "nearby", "time", 20, "[\"dogs\"]", 15, 1, 0.1, 0, "switch:interest:dogs" },
    { "few looks, nobody engaged, nothing related: stop, not carried on",
      "nearby", "fill", 20, "[]", 12, 0, 0.1, 0, "stop" },
    { "few looks in an interest wave, below its pool: stop",
      "interest:cats", "time", 200, "[\"dogs\"]", 8, 0, 0.3, 500, "stop" },
    { "a learned pool's rate, well below it: stop",
      "everyone", "fill", 100, "[]", 40, 10, 0.5, 1000, "stop" },
    { "a learned pool's rate, above it with 100 looks: continue",
      "everyone", "size", 100, "[]", 100, 60, 0.5, 1000, "continue" },
    { "a young pool's rate is shrunk towards the prior: 0.9 over 50 looks is 0.26",
      "everyone", "fill", 100, "[]", 40, 12, 0.9, 50, "continue" },
    { "below a young pool's shrunk rate, not its prior (0.10): stop",
      "everyone", "fill", 100, "[]", 40, 9, 0.9, 50, "stop" },
};

#endif
