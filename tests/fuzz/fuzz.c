/* SPDX-License-Identifier: MIT */
/* What the libFuzzer harnesses share: error shapes, the source tree. */
#include "config.h"

#include <stdbool.h>
#include <string.h>
#include <jansson.h>

#include "fuzz.h"
#include "lib/text.h"

void fuzz_check_error(const struct sl_error *err)
{
    static const int statuses[] = { 400, 404, 409, 413, 415, 422, 503 };
    bool known = false;

    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        known |= err->status == statuses[i];
    FUZZ_CHECK(known, "status %d", err->status);
    FUZZ_CHECK(err->code != NULL && err->code[0] != '\0', "no code (status %d)", err->status);
    FUZZ_CHECK(err->message[0] != '\0', "no message (code %s)", err->code);
    FUZZ_CHECK(sl_utf8_valid(err->message, strlen(err->message)), "message \"%s\"",
               err->message);
    FUZZ_CHECK(sl_utf8_valid(err->field, strlen(err->field)), "field \"%s\"", err->field);

    /* As sl_http_reply_error builds it. */
    json_t *e = json_pack("{s:s, s:s}", "code", err->code, "message", err->message);
    FUZZ_CHECK(e != NULL, "cannot answer message \"%s\"", err->message);
    if (err->field[0])
        FUZZ_CHECK(json_object_set_new(e, "field", json_string(err->field)) == 0,
                   "cannot answer field \"%s\"", err->field);
    json_decref(e);
}

const char *fuzz_source_path(const char *rel)
{
    static char path[4096];
    const char *top = getenv("SLUICE_SRCDIR");

    snprintf(path, sizeof path, "%s/%s", top ? top : SL_TEST_TOP_SRCDIR, rel);
    return path;
}
