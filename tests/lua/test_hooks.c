/* SPDX-License-Identifier: MIT */
/* Hook calls: the item policies see, review answers, failures that leave no trace. */
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sluice/plugin.h"

static const char upload_full[] =
    "{\"id\": \"v1\", \"creator\": \"c1\", \"title\": \"T\", \"description\": \"D\","
    " \"transcript\": \"hello world\", \"duration_ms\": 15000, \"city\": \"Lyon\","
    " \"thumbnail\": \"https://example.com/t.jpg\", \"tags\": {\"music\": 0.7},"
    " \"signals\": {\"face.age\": 15, \"emotion.joy\": 0.5},"
    " \"hashes\": [\"00000000000000ff\", \"FFFFFFFFFFFFFFFF\"]}";

static const char upload_min[] = "{\"id\": \"v2\", \"creator\": \"c2\", \"title\": \"Hi\"}";

static json_t *must_load(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);

    if (v == NULL)
        fail_msg("bad test JSON %s: %s", text, jerr.text);
    return v;
}

static void assert_json(json_t *got, const char *want_text)
{
    json_t *want = must_load(want_text);

    if (!json_equal(got, want))
        fail_msg("got %s\nwanted %s", json_dumps(got, JSON_SORT_KEYS | JSON_ENCODE_ANY),
                 want_text);
    json_decref(want);
}

/* Call hook with the item and JSON-text arguments; returns rc, *out the result. */
static int call(struct sl_lua *sl, const char *hook, struct sl_item *item,
                const char *args_text, json_t **out, char *err)
{
    json_t *args = must_load(args_text ? args_text : "[]");
    json_t *argv[8];
    size_t i, n = json_array_size(args);
    int rc;

    for (i = 0; i < n; i++)
        argv[i] = json_array_get(args, i);
    rc = sl_lua_call_json(sl, hook, item, argv, n, out, err, ERRLEN);
    json_decref(args);
    return rc;
}

/* ====== a realistic policy set ====== */

static void test_good_policies(void **state)
{
    struct sl_lua *sl = load_fixture("policies-good", NULL);
    struct sl_review out;
    struct sl_item *item;
    char err[ERRLEN];

    (void)state;
    /* A minor on camera and a keyword match: tagged, then sent to people. */
    item = make_item("{\"id\": \"a\", \"creator\": \"c\", \"title\": \"Big GIVEAWAY\","
                     " \"tags\": {\"music\": 0.7}, \"signals\": {\"face.age\": 15},"
                     " \"hashes\": [\"00000000000000ff\"]}");
    assert_int_equal(sl_item_match(item, "keyword", "keyword", "slurs", "xx", 0.95, "title",
                                   0, 2), 0);
    if (sl_lua_tag(sl, item, err, sizeof err) != 0)
        fail_msg("tag: %s", err);
    assert_json(item->tags,
                "{\"music\": {\"confidence\": 0.7, \"source\": \"upload\"},"
                " \"minor\": {\"confidence\": 0.9, \"source\": \"policy\"},"
                " \"kw.slurs\": {\"confidence\": 0.95, \"source\": \"policy\"},"
                " \"hashed\": {\"confidence\": 0.5, \"source\": \"policy\"},"
                " \"spam\": {\"confidence\": 0.6, \"source\": \"policy\"}}");
    assert_json(item->reasons, "[\"a face looks younger than 18\"]");
    if (sl_lua_review(sl, item, &out, err, sizeof err) != 0)
        fail_msg("review: %s", err);
    assert_int_equal(out.verdict, SL_VERDICT_REVIEW);
    assert_string_equal(out.queue, "minors");
    assert_int_equal(out.priority, 10);
    assert_string_equal(out.reason, "possible minor on camera");
    sl_item_free(item);

    /* A keyword match alone: rejected with the reason the policy added. */
    item = make_item(upload_min);
    item->creator_rejections = 3;
    assert_int_equal(sl_item_match(item, "keyword", "keyword", "slurs", "xx", 0.95, "title",
                                   0, 2), 0);
    assert_int_equal(sl_lua_tag(sl, item, err, sizeof err), 0);
    assert_non_null(json_object_get(item->tags, "risky_creator"));
    assert_int_equal(sl_lua_review(sl, item, &out, err, sizeof err), 0);
    assert_int_equal(out.verdict, SL_VERDICT_REJECT);
    assert_string_equal(out.reason, "keyword list slurs matched");
    assert_json(item->reasons, "[\"keyword list slurs matched\"]");
    sl_item_free(item);

    /* An established creator: approved. */
    item = make_item(upload_min);
    item->creator_followers = 5000;
    assert_int_equal(sl_lua_tag(sl, item, err, sizeof err), 0);
    assert_int_equal(json_object_size(item->tags), 0);
    assert_int_equal(sl_lua_review(sl, item, &out, err, sizeof err), 0);
    assert_int_equal(out.verdict, SL_VERDICT_APPROVE);
    assert_string_equal(out.reason, "");
    sl_item_free(item);

    /* Anyone else: reviewed in a queue of its own. */
    item = make_item(upload_min);
    item->creator_followers = 5000;
    item->creator_rejections = 1;
    assert_int_equal(sl_lua_review(sl, item, &out, err, sizeof err), 0);
    assert_int_equal(out.verdict, SL_VERDICT_REVIEW);
    assert_string_equal(out.queue, "new_creators");
    assert_int_equal(out.priority, 0);
    assert_string_equal(out.reason, "creator without a track record");
    sl_item_free(item);
    sl_lua_free(sl);
}

/* ====== the item ====== */

static void test_item_fields(void **state)
{
    struct sl_lua *sl = load_fixture("policies-probe", NULL);
    struct sl_item *item = make_item(upload_full);
    json_t *res = NULL, *verdict;
    char err[ERRLEN];

    (void)state;
    item->creator_followers = 10;
    item->creator_uploads = 3;
    item->creator_rejections = 1;
    assert_int_equal(sl_item_match(item, "keyword", "keyword", "slurs", "xx", 0.9, "title",
                                   0, 2), 0);
    assert_int_equal(sl_item_reason(item, "plugin reason"), 0);
    verdict = json_pack("{s:s, s:s, s:s, s:i, s:s}", "plugin", "p", "verdict", "review",
                        "queue", "q", "priority", 1, "reason", "r");
    json_array_append_new(item->plugin_verdicts, verdict);
    set_hook(sl, "fields",
             "local item = ... return {id = item.id, creator = item.creator,"
             " title = item.title, description = item.description,"
             " transcript = item.transcript, city = item.city, thumbnail = item.thumbnail,"
             " duration_ms = item.duration_ms, signals = item.signals, hashes = item.hashes,"
             " tags = item.tags, matches = item.matches, reasons = item.reasons,"
             " plugin_verdicts = item.plugin_verdicts,"
             " nothing = item.nothing, n = item[1]}");
    if (call(sl, "fields", item, NULL, &res, err) != 0)
        fail_msg("%s", err);
    assert_json(res,
        "{\"id\": \"v1\", \"title\": \"T\", \"description\": \"D\","
        " \"transcript\": \"hello world\", \"city\": \"Lyon\","
        " \"thumbnail\": \"https://example.com/t.jpg\", \"duration_ms\": 15000,"
        " \"signals\": {\"face.age\": 15, \"emotion.joy\": 0.5},"
        " \"hashes\": [\"00000000000000ff\", \"ffffffffffffffff\"],"
        " \"tags\": {\"music\": {\"confidence\": 0.7, \"source\": \"upload\"}},"
        " \"matches\": [{\"source\": \"keyword\", \"kind\": \"keyword\", \"name\": \"slurs\","
        "   \"detail\": \"xx\", \"score\": 0.9, \"field\": \"title\", \"offset\": 0,"
        "   \"length\": 2}],"
        " \"reasons\": [\"plugin reason\"],"
        " \"plugin_verdicts\": [{\"plugin\": \"p\", \"verdict\": \"review\", \"queue\": \"q\","
        "   \"priority\": 1, \"reason\": \"r\"}],"
        " \"creator\": {\"id\": \"c1\", \"followers\": 10, \"uploads\": 3,"
        "   \"rejections\": 1}}");
    json_decref(res);
    sl_item_free(item);

    /* Absent fields are nil; empty lists are empty tables. */
    item = make_item(upload_min);
    assert_int_equal(call(sl, "fields", item, NULL, &res, err), 0);
    assert_json(res,
        "{\"id\": \"v2\", \"title\": \"Hi\", \"signals\": [],"
        " \"hashes\": [], \"tags\": [], \"matches\": [], \"reasons\": [],"
        " \"plugin_verdicts\": [],"
        " \"creator\": {\"id\": \"c2\", \"followers\": 0, \"uploads\": 0,"
        "   \"rejections\": 0}}");
    json_decref(res);
    sl_item_free(item);
    sl_lua_free(sl);
}

/* A policy sees its own changes at once, whether it looked before or not. */
static void test_item_shows_pending_changes(void **state)
{
    struct sl_lua *sl = load_fixture("policies-probe", NULL);
    struct sl_item *item = make_item(upload_full);
    json_t *res = NULL;
    char err[ERRLEN];

    (void)state;
    set_hook(sl, "look",
             "local item = ... local before = item.tags"
             " item:tag('new', 0.25) item:reason('because') item:tag('music', 1)"
             " return before.new, item.tags.music, item.reasons[1], tostring(item),"
             " getmetatable(item)");
    assert_int_equal(call(sl, "look", item, NULL, &res, err), 0);
    assert_json(res, "[{\"confidence\": 0.25, \"source\": \"policy\"},"
                     " {\"confidence\": 1, \"source\": \"policy\"}, \"because\", \"item v1\","
                     " false]");
    json_decref(res);
    /* ... and, once the hook succeeded, so does the item. */
    assert_json(item->tags, "{\"music\": {\"confidence\": 1.0, \"source\": \"policy\"},"
                            " \"new\": {\"confidence\": 0.25, \"source\": \"policy\"}}");
    assert_json(item->reasons, "[\"because\"]");

    set_hook(sl, "look", "local item = ... item:reason('later') return item.reasons");
    assert_int_equal(call(sl, "look", item, NULL, &res, err), 0);
    assert_json(res, "[\"because\", \"later\"]");
    json_decref(res);
    sl_item_free(item);
    sl_lua_free(sl);
}

static void test_item_read_only_and_stale(void **state)
{
    struct sl_lua *sl = load_fixture("policies-probe", NULL);
    struct sl_item *item = make_item(upload_full);
    json_t *res;
    char err[ERRLEN];

    (void)state;
    set_hook(sl, "tag", "local item = ... item.title = 'changed'");
    assert_int_equal(sl_lua_tag(sl, item, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "tag:1: item fields are read-only"));
    assert_string_equal(item->title, "T");

    /* An item kept past its call refuses to be used. */
    set_hook(sl, "tag", "saved = ...");
    assert_int_equal(sl_lua_tag(sl, item, err, sizeof err), 0);
    res = probe_ok(sl, "return tostring(saved)");
    assert_string_equal(json_string_value(res), "item (expired)");
    json_decref(res);
    probe_fails(sl, "return saved.title", -EINVAL, "item used after its hook returned");
    probe_fails(sl, "saved:tag('x', 1)", -EINVAL, "item used after its hook returned");
    /* ... even while another call runs. */
    set_hook(sl, "tag", "return saved.title");
    assert_int_equal(sl_lua_tag(sl, item, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "item used after its hook returned"));
    sl_item_free(item);
    sl_lua_free(sl);
}

static void test_tag_and_reason_validation(void **state)
{
    static const struct {
        const char *code;
        const char *want;
    } bad[] = {
        { "item:tag('has space', 0.5)", "tag name" },
        { "item:tag('', 0.5)", "tag name" },
        { "item:tag('.x', 0.5)", "tag name" },
        { "item:tag(string.rep('a', 129), 0.5)", "tag name" },
        { "item:tag('x', 1.5)", "confidence" },
        { "item:tag('x', -0.1)", "confidence" },
        { "item:tag('x', 0/0)", "confidence" },
        { "item:tag('x', '0.5')", "number expected" },
        { "item:tag('x')", "number expected" },
        { "item:tag(42, 0.5)", "string expected" },
        { "item.tag('x', 0.5)", "sluice.item expected" },
        { "for i = 1, 257 do item:tag('t' .. i, 0.5) end", "more than 256 tags" },
        { "item:reason('')", "reason" },
        { "item:reason(string.rep('a', 1001))", "reason" },
        { "item:reason('a\\0b')", "reason" },
        { "item:reason('\\255')", "UTF-8" },
        { "item:reason(42)", "string expected" },
        { "for i = 1, 65 do item:reason('r') end", "more than 64 reasons" },
    };
    struct sl_lua *sl = load_fixture("policies-probe", NULL);
    struct sl_item *item = make_item(upload_full);
    json_t *tags = json_deep_copy(item->tags);
    char code[256], err[ERRLEN];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(code, sizeof code, "local item = ... item:tag('before', 1) %s", bad[i].code);
        set_hook(sl, "tag", code);
        if (sl_lua_tag(sl, item, err, sizeof err) != -EINVAL)
            fail_msg("accepted %s", bad[i].code);
        if (strstr(err, bad[i].want) == NULL)
            fail_msg("%s: error \"%s\" lacks \"%s\"", bad[i].code, err, bad[i].want);
        assert_true(json_equal(item->tags, tags));
        assert_int_equal(json_array_size(item->reasons), 0);
    }
    /* The limits themselves are fine. */
    set_hook(sl, "tag", "local item = ... item:tag(string.rep('a', 128), 1) item:tag('z', 0)"
                        " for i = 1, 254 do item:tag('t' .. i, 0.5) end"
                        " for i = 1, 64 do item:reason(string.rep('r', 1000)) end");
    if (sl_lua_tag(sl, item, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(json_object_size(item->tags), json_object_size(tags) + 256);
    assert_int_equal(json_array_size(item->reasons), 64);
    json_decref(tags);
    sl_item_free(item);
    sl_lua_free(sl);
}

/* ====== failures leave no trace ====== */

static void test_failing_hook_changes_nothing(void **state)
{
    static const struct {
        const char *code;
        int rc;
    } fails[] = {
        { "error('late failure')", -EINVAL },
        { "while true do end", -ETIMEDOUT },
        { "local t = {} for i = 1, 1e8 do t[i] = i end", -ENOMEM },
        { "return string.rep('x', 1 << 30)", -ENOMEM },
        { "local t = nil return t.x", -EINVAL },
    };
    /* What stops these is memory or the budget, as each expects (under
     * AddressSanitizer filling 8 MB reached the default 50 ms of CPU first). */
    struct sl_lua_limits limits = { .memory = 8 << 20, .instructions = 100000000,
                                    .time_ms = PATIENT_MS };
    struct sl_lua *sl = load_fixture("policies-probe", &limits);
    struct sl_item *item = make_item(upload_full);
    json_t *tags = json_deep_copy(item->tags);
    char code[256], err[ERRLEN];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof fails / sizeof fails[0]; i++) {
        snprintf(code, sizeof code,
                 "local item = ... item:tag('a', 0.1) item:tag('music', 0) item:reason('r') %s",
                 fails[i].code);
        set_hook(sl, "tag", code);
        if (sl_lua_tag(sl, item, err, sizeof err) != fails[i].rc)
            fail_msg("%s: %s", fails[i].code, err);
        assert_true(json_equal(item->tags, tags));
        assert_int_equal(json_array_size(item->reasons), 0);
        assert_usable(sl);
    }
    /* The same changes from a hook that succeeds are applied. */
    set_hook(sl, "tag", "local item = ... item:tag('a', 0.1) item:reason('r')");
    assert_int_equal(sl_lua_tag(sl, item, err, sizeof err), 0);
    assert_json(json_object_get(item->tags, "a"), "{\"confidence\": 0.1, \"source\": \"policy\"}");
    assert_json(item->reasons, "[\"r\"]");
    json_decref(tags);
    sl_item_free(item);
    sl_lua_free(sl);
}

static void test_missing_hook_declines(void **state)
{
    struct sl_lua *sl = load_fixture("policies-probe", NULL);
    struct sl_item *item = make_item(upload_full);
    struct sl_review out;
    json_t *res = (json_t *)1;
    char err[ERRLEN];

    (void)state;
    memset(&out, 0x55, sizeof out);
    assert_int_equal(sl_lua_tag(sl, item, err, sizeof err), SL_DECLINED);
    assert_int_equal(sl_lua_review(sl, item, &out, err, sizeof err), SL_DECLINED);
    assert_int_equal(out.verdict, SL_VERDICT_NONE);
    assert_int_equal(call(sl, "plan", item, NULL, &res, err), SL_DECLINED);
    assert_null(res);

    set_hook(sl, "review", "return 'approve'");
    assert_int_equal(sl_lua_review(sl, item, &out, err, sizeof err), 0);
    set_hook(sl, "review", NULL);
    assert_int_equal(sl_lua_review(sl, item, &out, err, sizeof err), SL_DECLINED);

    /* A global of that name that is not a function is a failure, not a decline. */
    json_decref(probe_ok(sl, "review = 'approve' return 1"));
    assert_int_equal(sl_lua_review(sl, item, &out, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "not a hook function"));
    assert_int_equal(out.verdict, SL_VERDICT_NONE);
    sl_item_free(item);
    sl_lua_free(sl);
}

/* ====== review answers ====== */

static void test_review_nonsense_fails(void **state)
{
    static const struct {
        const char *code;
        int rc;
        const char *want;
    } bad[] = {
        { "return nil", -EINVAL, "review: returned nil" },
        { "return 42", -EINVAL, "review: returned 42" },
        { "return true", -EINVAL, "review: returned true" },
        { "return", -EINVAL, "returned nothing" },
        { "return print", -EINVAL, "returned a function" },
        { "return 'maybe'", -EINVAL, "the verdict is \"maybe\"" },
        { "return 'APPROVE'", -EINVAL, "the verdict is \"APPROVE\"" },
        { "return {verdict = 'approve!'}", -EINVAL, "the verdict is \"approve!\"" },
        { "return {verdict = 42}", -EINVAL, "the verdict is 42" },
        { "return {'approve'}", -EINVAL, "unknown field 1" },
        { "return {verdict = 'approve', colour = 'red'}", -EINVAL,
          "unknown field \"colour\"" },
        { "return {queue = 'q', reason = 'r'}", -EINVAL, "no verdict" },
        { "return 'approve', 'x', 'y'", -EINVAL, "returned 3 values" },
        { "return 'review', 42", -EINVAL, "second result is 42" },
        { "return 'review', {verdict = 'approve', reason = 'r'}", -EINVAL,
          "unknown field \"verdict\"" },
        { "return {verdict = 'review', reason = 'x'}, 'y'", -EINVAL, "a table and \"y\"" },
        { "return {verdict = 'approve', queue = 'q'}", -EINVAL, "only with verdict \"review\"" },
        { "return {verdict = 'reject', priority = 3, reason = 'r'}", -EINVAL,
          "only with verdict \"review\"" },
        { "return 'review', {queue = 'bad queue!', reason = 'r'}", -EINVAL, "the queue" },
        { "return 'review', {queue = string.rep('q', 64), reason = 'r'}", -EINVAL,
          "the queue" },
        { "return 'review', {queue = 7, reason = 'r'}", -EINVAL, "the queue is 7" },
        { "return {verdict = 'review', priority = 1.5, reason = 'r'}", -EINVAL, "priority" },
        { "return {verdict = 'review', priority = '3', reason = 'r'}", -EINVAL, "priority" },
        { "return {verdict = 'review', priority = 1e9, reason = 'r'}", -EINVAL, "priority" },
        { "return 'reject'", -EINVAL, "verdict \"reject\" needs a reason" },
        { "return {verdict = 'review'}", -EINVAL, "verdict \"review\" needs a reason" },
        { "return 'reject', ''", -EINVAL, "reason must be non-empty" },
        { "return 'reject', '\\255'", -EINVAL, "UTF-8" },
        { "return 'reject', {reason = false}", -EINVAL, "the reason is false" },
        { "local item = ... item:tag('x', 0.5) item:reason('r') return 42", -EINVAL,
          "returned 42" },
        { "error('boom')", -EINVAL, "review:1: boom" },
        { "while true do end", -ETIMEDOUT, "review:1: instruction budget exhausted" },
        { "return string.rep('x', 1 << 30)", -ENOMEM, "memory budget exhausted" },
    };
    struct sl_lua *sl = load_fixture("policies-probe", NULL);
    struct sl_item *item = make_item(upload_full);
    json_t *tags = json_deep_copy(item->tags);
    struct sl_review out;
    char err[ERRLEN];
    size_t i;
    int rc;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        set_hook(sl, "review", bad[i].code);
        memset(&out, 0x55, sizeof out);
        rc = sl_lua_review(sl, item, &out, err, sizeof err);
        if (rc != bad[i].rc)
            fail_msg("%s: rc %d (%s)", bad[i].code, rc, err);
        if (strstr(err, bad[i].want) == NULL)
            fail_msg("%s: error \"%s\" lacks \"%s\"", bad[i].code, err, bad[i].want);
        /* Never an approval, never a trace on the item. */
        assert_int_equal(out.verdict, SL_VERDICT_NONE);
        assert_string_equal(out.reason, "");
        assert_true(json_equal(item->tags, tags));
        assert_int_equal(json_array_size(item->reasons), 0);
        assert_usable(sl);
    }
    json_decref(tags);
    sl_item_free(item);
    sl_lua_free(sl);
}

/*
 * An error with no line of its own (here the memory budget's) names the
 * hook function: where it is defined is found once per function and kept. A hook replaced at run
 * time, more often than the sandbox keeps such places, is still named
 * right, and so is the one before it when it comes back.
 */
static void test_hook_where(void **state)
{
    struct sl_lua *sl = load_fixture("policies-probe", NULL);
    struct sl_item *item = make_item(upload_full);
    struct sl_review out;
    char err[ERRLEN], code[160], want[64];

    (void)state;
    for (int i = 0; i < 12; i++) {
        snprintf(code, sizeof code, "site%d = load(\"return string.rep('x', 1 << 30)\", "
                 "\"=site%d\") review = site%d return 0", i, i, i);
        json_decref(probe_ok(sl, code));
        for (int k = 0; k < 2; k++) {
            assert_int_equal(sl_lua_review(sl, item, &out, err, sizeof err), -ENOMEM);
            snprintf(want, sizeof want, "site%d:0: memory budget exhausted", i);
            if (strstr(err, want) == NULL)
                fail_msg("hook %d, call %d: error \"%s\" lacks \"%s\"", i, k, err, want);
        }
    }
    json_decref(probe_ok(sl, "review = site2 return 0"));
    assert_int_equal(sl_lua_review(sl, item, &out, err, sizeof err), -ENOMEM);
    if (strstr(err, "site2:0: memory budget exhausted") == NULL)
        fail_msg("the second hook again: error \"%s\"", err);
    sl_item_free(item);
    sl_lua_free(sl);
}

static void test_review_answer_forms(void **state)
{
    static const struct {
        const char *code;
        int verdict;
        const char *queue;
        int priority;
        const char *reason;
    } good[] = {
        { "return 'approve'", SL_VERDICT_APPROVE, "", 0, "" },
        { "return 'approve', 'fine'", SL_VERDICT_APPROVE, "", 0, "fine" },
        { "return 'approve', nil", SL_VERDICT_APPROVE, "", 0, "" },
        { "return 'reject', 'spam'", SL_VERDICT_REJECT, "", 0, "spam" },
        { "return 'reject', {reason = 'spam'}", SL_VERDICT_REJECT, "", 0, "spam" },
        { "return 'review', {queue = 'q1', priority = 5, reason = 'why'}",
          SL_VERDICT_REVIEW, "q1", 5, "why" },
        { "return {verdict = 'review', queue = 'a.b:c@d-e_f', priority = -3.0, reason = 'x'}",
          SL_VERDICT_REVIEW, "a.b:c@d-e_f", -3, "x" },
        { "return {verdict = 'review', reason = 'x'}", SL_VERDICT_REVIEW, "", 0, "x" },
        { "return {verdict = 'approve'}", SL_VERDICT_APPROVE, "", 0, "" },
        { "local item = ... item:reason('first') item:reason('second') return 'review'",
          SL_VERDICT_REVIEW, "", 0, "first; second" },
    };
    struct sl_lua *sl = load_fixture("policies-probe", NULL);
    struct sl_review out;
    char err[ERRLEN];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct sl_item *item = make_item(upload_full);

        set_hook(sl, "review", good[i].code);
        if (sl_lua_review(sl, item, &out, err, sizeof err) != 0)
            fail_msg("%s: %s", good[i].code, err);
        assert_int_equal(out.verdict, good[i].verdict);
        assert_string_equal(out.queue, good[i].queue);
        assert_int_equal(out.priority, good[i].priority);
        assert_string_equal(out.reason, good[i].reason);
        sl_item_free(item);
    }
    sl_lua_free(sl);
}

/* Without a reason of its own, reject and review use the item's reasons. */
static void test_review_reason_fallback_and_length(void **state)
{
    struct sl_lua *sl = load_fixture("policies-probe", NULL);
    struct sl_item *item = make_item(upload_full);
    struct sl_review out;
    char err[ERRLEN];
    size_t len;

    (void)state;
    assert_int_equal(sl_item_reason(item, "plugin said so"), 0);
    set_hook(sl, "review", "local item = ... item:reason('and the policy') return 'reject'");
    assert_int_equal(sl_lua_review(sl, item, &out, err, sizeof err), 0);
    assert_int_equal(out.verdict, SL_VERDICT_REJECT);
    assert_string_equal(out.reason, "plugin said so; and the policy");

    /* Long reasons are cut on a character boundary. */
    set_hook(sl, "review", "return 'reject', string.rep('\\u{e9}', 300)");
    assert_int_equal(sl_lua_review(sl, item, &out, err, sizeof err), 0);
    len = strlen(out.reason);
    assert_int_equal(len, 254);
    assert_int_equal((unsigned char)out.reason[len - 2], 0xC3);
    set_hook(sl, "review", "return 'review', string.rep('a', 300)");
    assert_int_equal(sl_lua_review(sl, item, &out, err, sizeof err), 0);
    assert_int_equal(strlen(out.reason), 255);
    sl_item_free(item);
    sl_lua_free(sl);
}

/* ====== generic hooks ====== */

static void test_call_json(void **state)
{
    static const struct {
        const char *code;
        const char *args;
        const char *want;
    } good[] = {
        { "local item, wave, stats = ..."
          " return {waves = {{audience = 'followers', size = 100},"
          " {audience = 'everyone', size = stats.n * 2, review = true}},"
          " id = item.id, wave = wave}",
          "[3, {\"n\": 21}]",
          "{\"waves\": [{\"audience\": \"followers\", \"size\": 100},"
          " {\"audience\": \"everyone\", \"size\": 42, \"review\": true}],"
          " \"id\": \"v1\", \"wave\": 3}" },
        { "return", NULL, "null" },
        { "return nil", NULL, "null" },
        { "return 'switch', 'group:x'", NULL, "[\"switch\", \"group:x\"]" },
        { "return {}", NULL, "[]" },
        { "return {[10] = 'x', y = 1}", NULL, "{\"10\": \"x\", \"y\": 1}" },
        { "return 1.5, true, false, '\\u{e9}'", NULL, "[1.5, true, false, \"\\u00e9\"]" },
        { "return 1e3, 2.0, -0.0, 2^60, 0.25", NULL,
          "[1000, 2, 0, 1152921504606846976.0, 0.25]" },
        { "local _, a, b = ... return a == nil, b", "[null, {\"k\": [1, 2, {\"z\": null}]}]",
          "[true, {\"k\": [1, 2, []]}]" },
    };
    static const struct {
        const char *code;
        const char *want;
    } bad[] = {
        { "return function() end", "cannot convert a function" },
        { "return {f = print}", "cannot convert a function" },
        { "return 0/0", "nan" },
        { "return {1/0}", "nan or inf" },
        { "local t = {} t.t = t return t", "nested more than 32" },
        { "return '\\255'", "not UTF-8" },
        { "return {['\\255'] = 1}", "bad key" },
        { "return {[true] = 1}", "key is a boolean" },
        { "return {[1.5] = 1}", "key is a number" },
        { "return {['a\\0b'] = 1}", "NUL" },
        { "return ...", "cannot convert a userdata" },
    };
    struct sl_lua *sl = load_fixture("policies-probe", NULL);
    struct sl_item *item = make_item(upload_full);
    json_t *res = NULL;
    char err[ERRLEN];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof good / sizeof good[0]; i++) {
        set_hook(sl, "plan", good[i].code);
        if (call(sl, "plan", item, good[i].args, &res, err) != 0)
            fail_msg("%s: %s", good[i].code, err);
        assert_json(res, good[i].want);
        json_decref(res);
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        set_hook(sl, "plan", bad[i].code);
        res = (json_t *)1;
        if (call(sl, "plan", item, NULL, &res, err) != -EINVAL)
            fail_msg("accepted %s", bad[i].code);
        assert_null(res);
        if (strstr(err, bad[i].want) == NULL)
            fail_msg("%s: error \"%s\" lacks \"%s\"", bad[i].code, err, bad[i].want);
        /* The error names the file and line where the hook is defined (the
         * probe fixture's set_hook wrapper). */
        if (strncmp(err, "policies-probe/probe.lua:", 25) != 0)
            fail_msg("%s: error \"%s\" names no file", bad[i].code, err);
        assert_usable(sl);
    }
    /* Without an item, the hook gets just the arguments. */
    set_hook(sl, "groups", "local user = ... return {'g:' .. user}");
    assert_int_equal(call(sl, "groups", NULL, "[\"u1\"]", &res, err), 0);
    assert_json(res, "[\"g:u1\"]");
    json_decref(res);
    /* Item changes from a generic hook apply on success. */
    set_hook(sl, "plan", "local item = ... item:tag('planned', 1) return 1");
    assert_int_equal(call(sl, "plan", item, NULL, &res, err), 0);
    json_decref(res);
    assert_non_null(json_object_get(item->tags, "planned"));
    /* Bad hook names are refused before Lua runs. */
    assert_int_equal(call(sl, "bad name", item, NULL, &res, err), -EINVAL);
    assert_int_equal(call(sl, "", item, NULL, &res, err), -EINVAL);
    sl_item_free(item);
    sl_lua_free(sl);
}

/* plan(): the answer read without JSON, as the JSON route would read it. */
static void test_plan_reader(void **state)
{
    struct sl_lua *sl = load_fixture("policies-probe", NULL);
    struct sl_item *item = make_item(upload_full);
    struct sl_lua_wave w[4];
    char err[ERRLEN];
    size_t n;

    (void)state;
    set_hook(sl, "plan", "return {{audience = 'followers', size = 10},"
             " {audience = 'interest:cats', size = 2.0, limit_s = 60, review = true, x = {}}}");
    assert_int_equal(sl_lua_plan(sl, item, w, 4, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(w[0].audience, "followers");
    assert_true(w[0].size_ok);
    assert_int_equal(w[0].size, 10);
    assert_int_equal(w[0].limit, 0);
    assert_int_equal(w[0].review, 0);
    assert_string_equal(w[1].audience, "interest:cats");
    assert_true(w[1].size_ok);
    assert_int_equal(w[1].size, 2);             /* 2.0 is the integer JSON makes */
    assert_int_equal(w[1].limit, 1);
    assert_int_equal(w[1].limit_s, 60);
    assert_int_equal(w[1].review, 1);
    assert_true(w[1].review_on);
    assert_int_equal(w[1].fill, 0);
    assert_int_equal(w[1].check, 0);

    /* fill (a number) and check (an integer), and the wrong kinds of them. */
    set_hook(sl, "plan", "return {{audience = 'everyone', size = 5, fill = 0.6, check = 20},"
             " {audience = 'everyone', size = 5, fill = 'most', check = 2.5}}");
    assert_int_equal(sl_lua_plan(sl, item, w, 4, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(w[0].fill, 1);
    assert_true(w[0].fill_share > 0.599 && w[0].fill_share < 0.601);
    assert_int_equal(w[0].check, 1);
    assert_int_equal(w[0].check_n, 20);
    assert_int_equal(w[1].fill, -1);
    assert_int_equal(w[1].check, -1);

    /* Fields of the wrong kind are reported as such, for the caller to refuse. */
    set_hook(sl, "plan", "return {{audience = 7, size = 1.5, limit_s = '60', review = 'yes'},"
             " 'not a table', {audience = string.rep('a', 200), size = -3}}");
    assert_int_equal(sl_lua_plan(sl, item, w, 4, &n, err, sizeof err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(w[0].audience, "");
    assert_false(w[0].size_ok);
    assert_int_equal(w[0].limit, -1);
    assert_int_equal(w[0].review, -1);
    assert_string_equal(w[1].audience, "");
    assert_false(w[1].size_ok);
    assert_string_equal(w[2].audience, "");     /* too long */
    assert_true(w[2].size_ok);
    assert_int_equal(w[2].size, -3);

    /* Anything but one list of 1..max entries: no waves. */
    static const char *const not_lists[] = {
        "return {}", "return 'followers'", "return nil", "return",
        "return {[2] = {audience = 'followers', size = 1}}",
        "return {{audience = 'followers', size = 1}, y = 1}",
        "return {{}, {}, {}, {}, {}}",
        "return {{audience = 'followers', size = 1}}, 2",
    };
    for (size_t i = 0; i < sizeof not_lists / sizeof not_lists[0]; i++) {
        set_hook(sl, "plan", not_lists[i]);
        n = 99;
        if (sl_lua_plan(sl, item, w, 4, &n, err, sizeof err) != 0 || n != 0)
            fail_msg("%s: rc or n = %zu", not_lists[i], n);
    }
    /* A failing hook fails the call, naming where. */
    set_hook(sl, "plan", "error('no plan today')");
    assert_int_equal(sl_lua_plan(sl, item, w, 4, &n, err, sizeof err), -EINVAL);
    assert_int_equal(n, 0);
    assert_non_null(strstr(err, "no plan today"));
    assert_non_null(strchr(err, ':'));     /* "where: message" */
    assert_usable(sl);
    sl_item_free(item);
    sl_lua_free(sl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_policies),
        cmocka_unit_test(test_item_fields),
        cmocka_unit_test(test_item_shows_pending_changes),
        cmocka_unit_test(test_item_read_only_and_stale),
        cmocka_unit_test(test_tag_and_reason_validation),
        cmocka_unit_test(test_failing_hook_changes_nothing),
        cmocka_unit_test(test_missing_hook_declines),
        cmocka_unit_test(test_review_nonsense_fails),
        cmocka_unit_test(test_hook_where),
        cmocka_unit_test(test_review_answer_forms),
        cmocka_unit_test(test_review_reason_fallback_and_length),
        cmocka_unit_test(test_call_json),
        cmocka_unit_test(test_plan_reader),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
