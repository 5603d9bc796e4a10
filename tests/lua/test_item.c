/* SPDX-License-Identifier: MIT */
/* core/item.c: the item built from an upload, and its tags, reasons and matches. */
#include "util.h"

#include <errno.h>
#include <math.h>
#include <string.h>

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);

    if (v == NULL)
        fail_msg("bad test JSON: %s", jerr.text);
    return v;
}

static void assert_json(json_t *got, const char *want_text)
{
    json_t *want = parse(want_text);

    if (!json_equal(got, want))
        fail_msg("got %s, wanted %s", json_dumps(got, JSON_SORT_KEYS), want_text);
    json_decref(want);
}

static void test_new_full(void **state)
{
    json_t *upload = parse(
        "{\"id\": \"v1\", \"creator\": \"c1\", \"title\": \"T\", \"description\": \"D\","
        " \"transcript\": \"words\", \"city\": \"Lyon\", \"duration_ms\": 10,"
        " \"tags\": {\"music\": 0.7, \"cats\": 1},"
        " \"signals\": {\"face.age\": 30, \"motion.speed\": -0.5},"
        " \"hashes\": [\"00000000000000ff\", \"FFFFFFFFFFFFFFFF\", \"0123456789abcdef\"]}");
    struct sl_item *item = sl_item_new(upload);

    (void)state;
    assert_non_null(item);
    /* The item keeps its own reference: the caller's may go. */
    json_decref(upload);
    assert_string_equal(item->id, "v1");
    assert_string_equal(item->creator, "c1");
    assert_string_equal(item->title, "T");
    assert_string_equal(item->description, "D");
    assert_string_equal(item->transcript, "words");
    assert_string_equal(item->city, "Lyon");
    assert_int_equal(item->nhashes, 3);
    assert_true(item->hashes[0] == 0xffu);
    assert_true(item->hashes[1] == UINT64_MAX);
    assert_true(item->hashes[2] == 0x0123456789abcdefull);
    assert_json(item->tags, "{\"music\": {\"confidence\": 0.7, \"source\": \"upload\"},"
                            " \"cats\": {\"confidence\": 1.0, \"source\": \"upload\"}}");
    assert_json(item->signals, "{\"face.age\": 30.0, \"motion.speed\": -0.5}");
    assert_json(item->matches, "[]");
    assert_json(item->reasons, "[]");
    assert_json(item->plugin_verdicts, "[]");
    assert_int_equal(item->creator_followers, 0);
    sl_item_free(item);
}

static void test_new_minimal(void **state)
{
    json_t *upload = parse("{\"id\": \"v2\", \"creator\": \"c2\", \"title\": \"x\"}");
    struct sl_item *item = sl_item_new(upload);

    (void)state;
    assert_non_null(item);
    assert_null(item->description);
    assert_null(item->transcript);
    assert_null(item->city);
    assert_null(item->hashes);
    assert_int_equal(item->nhashes, 0);
    assert_json(item->signals, "{}");
    assert_json(item->tags, "{}");
    sl_item_free(item);
    json_decref(upload);
    sl_item_free(NULL);
}

static void test_new_refuses_bad_uploads(void **state)
{
    static const char *const bad[] = {
        "[]",
        "\"text\"",
        "{\"title\": \"x\", \"hashes\": [\"xyz\"]}",
        "{\"title\": \"x\", \"hashes\": [\"00000000000000fg\"]}",
        "{\"title\": \"x\", \"hashes\": [\"00000000000000fff\"]}",
        "{\"title\": \"x\", \"hashes\": [42]}",
        "{\"title\": \"x\", \"hashes\": \"00000000000000ff\"}",
        "{\"title\": \"x\", \"tags\": {\"a\": \"high\"}}",
        "{\"title\": \"x\", \"tags\": [0.5]}",
        "{\"title\": \"x\", \"signals\": {\"a\": true}}",
        "{\"title\": \"x\", \"signals\": 3}",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *upload = parse(bad[i]);

        errno = 0;
        if (sl_item_new(upload) != NULL)
            fail_msg("accepted %s", bad[i]);
        assert_int_equal(errno, EINVAL);
        /* The refused upload is left as it was, with the caller's one reference. */
        assert_int_equal(upload->refcount, 1);
        json_decref(upload);
    }
    assert_null(sl_item_new(NULL));
}

static void test_tag(void **state)
{
    struct sl_item *item = make_item("{\"title\": \"x\", \"tags\": {\"a\": 0.5}}");

    (void)state;
    assert_int_equal(sl_item_tag(item, "a", 0.9, "plugin_x"), 0);
    assert_int_equal(sl_item_tag(item, "high", 1.5, "policy"), 0);
    assert_int_equal(sl_item_tag(item, "low", -2, "policy"), 0);
    assert_json(item->tags, "{\"a\": {\"confidence\": 0.9, \"source\": \"plugin_x\"},"
                            " \"high\": {\"confidence\": 1.0, \"source\": \"policy\"},"
                            " \"low\": {\"confidence\": 0.0, \"source\": \"policy\"}}");
    assert_int_equal(sl_item_tag(item, "n", NAN, "policy"), -EINVAL);
    assert_int_equal(sl_item_tag(item, "", 0.5, "policy"), -EINVAL);
    assert_int_equal(sl_item_tag(item, NULL, 0.5, "policy"), -EINVAL);
    assert_int_equal(sl_item_tag(item, "n", 0.5, NULL), -EINVAL);
    assert_int_equal(sl_item_tag(item, "\xff", 0.5, "policy"), -EINVAL);
    assert_int_equal(sl_item_tag(item, "n", 0.5, "\xff"), -EINVAL);
    assert_int_equal(json_object_size(item->tags), 3);
    sl_item_free(item);
}

static void test_reason_and_match(void **state)
{
    struct sl_item *item = make_item("{\"title\": \"x\"}");

    (void)state;
    assert_int_equal(sl_item_reason(item, "first"), 0);
    assert_int_equal(sl_item_reason(item, ""), -EINVAL);
    assert_int_equal(sl_item_reason(item, NULL), -EINVAL);
    assert_int_equal(sl_item_reason(item, "\xc3"), -EINVAL);
    assert_json(item->reasons, "[\"first\"]");

    assert_int_equal(sl_item_match(item, "keyword", "keyword", "slurs", "bad", 0.8, "title",
                                   4, 3), 0);
    assert_int_equal(sl_item_match(item, "phash", "hash", "csam", NULL, 2, NULL, 0, 0), 0);
    assert_int_equal(sl_item_match(item, "k", "keyword", "l", "d", NAN, "title", 0, 1),
                     -EINVAL);
    assert_int_equal(sl_item_match(item, NULL, "keyword", "l", "d", 1, "title", 0, 1),
                     -EINVAL);
    assert_json(item->matches,
        "[{\"source\": \"keyword\", \"kind\": \"keyword\", \"name\": \"slurs\","
        "  \"detail\": \"bad\", \"score\": 0.8, \"field\": \"title\", \"offset\": 4,"
        "  \"length\": 3},"
        " {\"source\": \"phash\", \"kind\": \"hash\", \"name\": \"csam\", \"detail\": null,"
        "  \"score\": 2.0, \"field\": null, \"offset\": 0, \"length\": 0}]");
    sl_item_free(item);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_full),
        cmocka_unit_test(test_new_minimal),
        cmocka_unit_test(test_new_refuses_bad_uploads),
        cmocka_unit_test(test_tag),
        cmocka_unit_test(test_reason_and_match),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
