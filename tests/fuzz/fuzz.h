/* SPDX-License-Identifier: MIT */
/* What the libFuzzer harnesses share: checks that abort (libFuzzer keeps the input). */
#ifndef SL_FUZZ_H
#define SL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib/error.h"

/* Every harness is one of these, called by libFuzzer once per input. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property the code under test promises: when it does not hold, say
 * which and abort, so that libFuzzer reports a crash and keeps the input. */
#define FUZZ_CHECK(cond, ...)                                                   \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__,    \
                    #cond);                                                     \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
            abort();                                                            \
        }                                                                       \
    } while (0)

/* err is what a handler may answer: a status and code of docs/http-api.md,
 * a sentence, and both sentence and field valid UTF-8 that JSON can carry
 * (sl_http_reply_error's very answer is built and must not fail). */
void fuzz_check_error(const struct sl_error *err);

/* The path of a file of the source tree (a static buffer). */
const char *fuzz_source_path(const char *rel);

#endif
