/* SPDX-License-Identifier: MIT */
/* Request bodies: the strict JSON parser, the validators the handlers run, the JSON writers. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <jansson.h>

#include "api/uploads.h"
#include "api/validate.h"
#include "fuzz.h"
#include "lib/item.h"
#include "lib/json.h"
#include "lib/text.h"

/*
 * One input is one body. Whatever it is, each validator either refuses it
 * with an error a client can be sent, or accepts it, and then what the
 * handler does next with it works: an accepted upload makes an item, a
 * decision's tags are JSON. Besides: the canonical text (which stored
 * uploads are hashed in) is byte for byte what jansson writes and reads
 * back as the same value, and the hand-made JSON strings read back as
 * what was written.
 */

/* sl_json_put_string(s) is one JSON string that reads back as s when s is
 * valid UTF-8, and as valid UTF-8 (U+FFFD in place of bad bytes) if not. */
static void check_put_string(const char *s, size_t len)
{
    char *buf = malloc(SL_JSON_QUOTED_MAX(len));
    struct sl_error err = { 0 };

    FUZZ_CHECK(buf != NULL, "out of memory");
    char *end = sl_json_put_string(buf, s);
    FUZZ_CHECK((size_t)(end - buf) <= SL_JSON_QUOTED_MAX(len), "%zu bytes for %zu",
               (size_t)(end - buf), len);
    json_t *v = sl_json_parse(buf, (size_t)(end - buf), false, &err);
    FUZZ_CHECK(v != NULL && json_is_string(v), "\"%.*s\" does not read back: %s",
               (int)(end - buf), buf, err.message);
    if (sl_utf8_valid(s, len))
        FUZZ_CHECK(json_string_length(v) == len && memcmp(json_string_value(v), s, len) == 0,
                   "\"%s\" reads back as \"%s\"", s, json_string_value(v));
    json_decref(v);
    free(buf);
}

/* Every string and key of v through the writer; the canonical text of v. */
static void check_value(json_t *v, int depth)
{
    const char *key;
    json_t *x;
    size_t i;

    FUZZ_CHECK(depth <= SL_JSON_MAX_DEPTH + 1, "nesting %d passed the parser", depth);
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        json_object_foreach(v, key, x) {
            check_put_string(key, strlen(key));
            check_value(x, depth + 1);
        }
        break;
    case JSON_ARRAY:
        json_array_foreach(v, i, x)
            check_value(x, depth + 1);
        break;
    case JSON_STRING:
        /* The parser refuses NUL, so the C string is the whole value. */
        FUZZ_CHECK(strlen(json_string_value(v)) == json_string_length(v), "a NUL inside");
        check_put_string(json_string_value(v), json_string_length(v));
        break;
    default:
        break;
    }
}

static void check_canonical(json_t *v)
{
    struct sl_error err = { 0 };
    char *ours = sl_json_canonical(v);
    char *theirs = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

    FUZZ_CHECK(ours != NULL && theirs != NULL, "out of memory");
    FUZZ_CHECK(strcmp(ours, theirs) == 0, "canonical\n%s\njansson\n%s", ours, theirs);
    json_t *back = sl_json_parse(ours, strlen(ours), false, &err);
    FUZZ_CHECK(back != NULL, "canonical text does not parse: %s\n%s", err.message, ours);
    FUZZ_CHECK(json_equal(back, v), "canonical text reads back otherwise:\n%s", ours);
    json_decref(back);
    free(ours);
    free(theirs);
}

static void check_upload(json_t *body)
{
    struct sl_error err = { 0 };

    if (sl_upload_validate(body, &err) < 0) {
        fuzz_check_error(&err);
        return;
    }
    /* The handler's next step; NULL there answers 503 to a valid upload. */
    struct sl_item *item = sl_item_new(body);
    FUZZ_CHECK(item != NULL, "an accepted upload makes no item");
    FUZZ_CHECK(item->creator != NULL && item->title != NULL, "an item without creator or title");
    sl_item_free(item);
    char *canon = sl_json_canonical(body);
    FUZZ_CHECK(canon != NULL, "out of memory");
    free(canon);
}

static void check_decision(json_t *body)
{
    struct sl_error err = { 0 };
    char *tags = (char *)"unset";

    if (sl_decision_validate(body, "fuzz-moderator", &tags, &err) < 0) {
        FUZZ_CHECK(tags == NULL, "tags left after a refusal");
        fuzz_check_error(&err);
        return;
    }
    if (tags) {
        json_t *t = sl_json_parse(tags, strlen(tags), true, &err);
        FUZZ_CHECK(t != NULL, "stored tags are not JSON: %s", tags);
        FUZZ_CHECK(json_object_size(t) == json_object_size(json_object_get(body, "tags")),
                   "tags lost: %s", tags);
        json_decref(t);
        free(tags);
    }
}

static void check_hashbank(json_t *body)
{
    struct sl_error err = { 0 };
    uint64_t *add, *remove;
    size_t nadd, nremove;

    if (sl_hashbank_validate(body, &add, &nadd, &remove, &nremove, &err) < 0) {
        FUZZ_CHECK(add == NULL && remove == NULL && nadd == 0 && nremove == 0,
                   "lists left after a refusal");
        fuzz_check_error(&err);
        return;
    }
    FUZZ_CHECK(nadd == json_array_size(json_object_get(body, "add")) &&
               nremove == json_array_size(json_object_get(body, "remove")), "hashes lost");
    free(add);
    free(remove);
}

static void check_others(json_t *body)
{
    struct sl_error err = { 0 };
    long long expires;
    int role;

    if (sl_user_validate(body, &err) < 0)
        fuzz_check_error(&err);
    memset(&err, 0, sizeof err);
    if (sl_token_validate(body, &role, &expires, &err) < 0)
        fuzz_check_error(&err);
    else
        FUZZ_CHECK(role > 0 && expires >= 0, "role %d, expires %lld", role, expires);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_error err = { 0 };
    json_t *v = sl_json_parse((const char *)data, size, false, &err);

    if (v == NULL) {
        FUZZ_CHECK(err.status == 400 && strcmp(err.code, "bad_json") == 0, "%d %s",
                   err.status, err.code);
        fuzz_check_error(&err);
        return 0;
    }
    check_value(v, 0);
    check_canonical(v);
    if (json_is_object(v)) {
        check_upload(v);
        check_decision(v);
        check_hashbank(v);
        check_others(v);
    }
    json_decref(v);

    /* The writer on any bytes at all, up to the first NUL. */
    char *s = strndup((const char *)data, size);
    FUZZ_CHECK(s != NULL, "out of memory");
    check_put_string(s, strlen(s));
    free(s);
    return 0;
}
