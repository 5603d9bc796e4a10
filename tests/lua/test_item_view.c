/* SPDX-License-Identifier: MIT */
/* The item view shared by an item's hooks: built once, never a channel between hooks. */
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char upload[] =
    "{\"id\": \"v1\", \"creator\": \"c1\", \"title\": \"T\", \"tags\": {\"music\": 0.7},"
    " \"signals\": {\"face.age\": 15, \"emotion.joy\": 0.5},"
    " \"hashes\": [\"00000000000000ff\"]}";

static void assert_json(json_t *got, const char *want_text)
{
    json_error_t jerr;
    json_t *want = json_loads(want_text, JSON_DECODE_ANY, &jerr);

    if (want == NULL)
        fail_msg("bad test JSON %s: %s", want_text, jerr.text);
    if (!json_equal(got, want))
        fail_msg("got %s\nwanted %s", json_dumps(got, JSON_SORT_KEYS | JSON_ENCODE_ANY),
                 want_text);
    json_decref(want);
}

/* hook(item) through sl_lua_call_json; must succeed; the result (decref it). */
static json_t *call_ok(struct sl_lua *sl, const char *hook, struct sl_item *item)
{
    char err[ERRLEN];
    json_t *res = NULL;

    if (sl_lua_call_json(sl, hook, item, NULL, 0, &res, err, sizeof err) != 0)
        fail_msg("%s: %s", hook, err);
    return res;
}

/* What a hook sees of every table field, as JSON. */
static const char see_all[] =
    "local item = ... return {signals = item.signals, tags = item.tags,"
    " matches = item.matches, reasons = item.reasons, hashes = item.hashes,"
    " creator = item.creator, platform = item.platform,"
    " plugin_verdicts = item.plugin_verdicts, plugin_decisions = item.plugin_decisions,"
    " age = math.type(item.signals['face.age']),"
    " meta = getmetatable(item.signals) ~= nil or getmetatable(item.tags.music) ~= nil}";

static const char seen_fresh[] =
    "{\"signals\": {\"face.age\": 15, \"emotion.joy\": 0.5},"
    " \"tags\": {\"music\": {\"confidence\": 0.7, \"source\": \"upload\"}},"
    " \"matches\": [], \"reasons\": [], \"hashes\": [\"00000000000000ff\"],"
    " \"creator\": {\"id\": \"c1\", \"followers\": 0, \"uploads\": 0, \"rejections\": 0},"
    " \"platform\": {\"users\": 0, \"active\": 0},"
    " \"plugin_verdicts\": [], \"plugin_decisions\": [], \"age\": \"float\","
    " \"meta\": false}";

/* A hook that changes every table it is shown, in every way Lua allows,
 * leaves the next hook on the same item the item as it is. */
static void test_changes_do_not_leak(void **state)
{
    static const char *const vandals[] = {
        "local item = ... item.signals['face.age'] = 99 item.signals.extra = 1",
        "local item = ... item.signals['emotion.joy'] = nil",
        "local item = ... item.signals['face.age'] = 15",   /* a float to an integer */
        "local item = ... setmetatable(item.signals, {__index = function() return 1 end})",
        "local item = ... item.tags.music.confidence = 0",
        "local item = ... item.tags.music.source = 'policy'",
        "local item = ... item.tags.music = nil item.tags.other = {confidence = 1}",
        "local item = ... setmetatable(item.tags.music, {})",
        "local item = ... item.tags.music.extra = true",
        "local item = ... table.insert(item.matches, {kind = 'fake'})",
        "local item = ... item.reasons[1] = 'not a reason of the item'",
        "local item = ... item.hashes[1] = 'ffffffffffffffff'",
        "local item = ... item.hashes[2] = '0000000000000000'",
        "local item = ... item.creator.followers = 1e6",
        "local item = ... item.creator.id = 'someone else'",
        "local item = ... item.creator.rejections = nil",
        "local item = ... item.platform.active = 5",
        "local item = ... item.platform[1] = 5",
        "local item = ... item.plugin_verdicts[1] = {verdict = 'approve'}",
        "local item = ... item.plugin_decisions.x = 1",
        /* Changed, then the hook fails: nothing of it stays either. */
        "local item = ... item.signals.extra = 1 error('and then it failed')",
    };
    struct sl_lua *sl = load_fixture("policies-probe", NULL);
    struct sl_item *item = make_item(upload);
    json_t *res, *want = json_loads(seen_fresh, 0, NULL);
    char err[ERRLEN];

    (void)state;
    assert_non_null(want);
    set_hook(sl, "look", see_all);
    for (size_t i = 0; i < sizeof vandals / sizeof vandals[0]; i++) {
        /* Built in one hook, changed in the next, seen by a third. */
        json_decref(call_ok(sl, "look", item));
        set_hook(sl, "vandal", vandals[i]);
        res = NULL;
        sl_lua_call_json(sl, "vandal", item, NULL, 0, &res, err, sizeof err);
        json_decref(res);
        res = call_ok(sl, "look", item);
        if (!json_equal(res, want))
            fail_msg("after \"%s\" the next hook saw %s", vandals[i],
                     json_dumps(res, JSON_SORT_KEYS));
        json_decref(res);
    }
    json_decref(want);
    sl_item_free(item);
    sl_lua_free(sl);
}

/* A table kept past its hook and changed later, by code that runs without
 * the item (another hook, a module's function), does not reach the item's
 * next hook either. */
static void test_kept_tables_do_not_leak(void **state)
{
    struct sl_lua *sl = load_fixture("policies-probe", NULL);
    struct sl_item *item = make_item(upload);
    json_t *res;

    (void)state;
    set_hook(sl, "keep", "local item = ... kept = {item.signals, item.tags, item.creator}");
    json_decref(call_ok(sl, "keep", item));
    json_decref(probe_ok(sl, "kept[1]['face.age'] = 1 kept[2].music.confidence = 1"
                             " kept[3].uploads = 7 return true"));
    set_hook(sl, "look", see_all);
    res = call_ok(sl, "look", item);
    assert_json(res, seen_fresh);
    json_decref(res);
    sl_item_free(item);
    sl_lua_free(sl);
}

/* What is shared is shared: a table no one changed is the same table in
 * the item's next hook (what the view saves), and another item's is not. */
static void test_unchanged_tables_are_shared(void **state)
{
    struct sl_lua *sl = load_fixture("policies-probe", NULL);
    struct sl_item *item = make_item(upload), *other = make_item(upload);
    json_t *res;

    (void)state;
    set_hook(sl, "keep", "local item = ... kept = {item.signals, item.tags, item.matches,"
                         " item.creator, item.platform, item.hashes}");
    set_hook(sl, "same", "local item = ... return {rawequal(kept[1], item.signals),"
                         " rawequal(kept[2], item.tags), rawequal(kept[3], item.matches),"
                         " rawequal(kept[4], item.creator), rawequal(kept[5], item.platform),"
                         " rawequal(kept[6], item.hashes)}");
    json_decref(call_ok(sl, "keep", item));
    res = call_ok(sl, "same", item);
    assert_json(res, "[true, true, true, true, true, true]");
    json_decref(res);
    res = call_ok(sl, "same", other);
    assert_json(res, "[false, false, false, false, false, false]");
    json_decref(res);
    sl_item_free(other);
    sl_item_free(item);
    sl_lua_free(sl);
}

/* item:tag and item:reason are the way from one hook to the next: after a
 * hook that succeeded its changes are there, after one that failed they
 * are not, whichever order it read and tagged in. */
static void test_tags_and_reasons_pass_on(void **state)
{
    struct sl_lua *sl = load_fixture("policies-probe", NULL);
    struct sl_item *item = make_item(upload);
    char err[ERRLEN];
    json_t *res;

    (void)state;
    set_hook(sl, "look", "local item = ... return {tags = item.tags, reasons = item.reasons}");
    json_decref(call_ok(sl, "look", item));
    /* Read first, then tagged: the table it read shows the tag at once. */
    set_hook(sl, "tag", "local item = ... local t = item.tags item:tag('a', 0.5)"
                        " item:reason('ra') assert(t.a.confidence == 0.5)"
                        " assert(item.reasons[1] == 'ra')");
    if (sl_lua_tag(sl, item, err, sizeof err) != 0)
        fail_msg("%s", err);
    /* Tagged before reading, with the tables built by an earlier hook. */
    set_hook(sl, "tag", "local item = ... item:tag('b', 0.25) item:reason('rb')"
                        " assert(item.tags.b.source == 'policy')"
                        " assert(#item.reasons == 2)");
    if (sl_lua_tag(sl, item, err, sizeof err) != 0)
        fail_msg("%s", err);
    /* Read, tagged, failed. */
    set_hook(sl, "tag", "local item = ... local t = item.tags item:tag('c', 1)"
                        " item:reason('rc') local r = item.reasons error('no')");
    assert_int_equal(sl_lua_tag(sl, item, err, sizeof err), -EINVAL);
    res = call_ok(sl, "look", item);
    assert_json(res, "{\"tags\": {\"music\": {\"confidence\": 0.7, \"source\": \"upload\"},"
                     " \"a\": {\"confidence\": 0.5, \"source\": \"policy\"},"
                     " \"b\": {\"confidence\": 0.25, \"source\": \"policy\"}},"
                     " \"reasons\": [\"ra\", \"rb\"]}");
    json_decref(res);
    sl_item_free(item);
    sl_lua_free(sl);
}

/* Between hooks the host changes the item (plugins' matches, tags and
 * verdicts, the creator's standing): the next hook sees the item as it is. */
static void test_host_changes_are_seen(void **state)
{
    struct sl_lua *sl = load_fixture("policies-probe", NULL);
    struct sl_item *item = make_item(upload);
    json_t *res;

    (void)state;
    set_hook(sl, "look", "local item = ... return {matches = #item.matches,"
                         " kw = item.tags.kw, uploads = item.creator.uploads,"
                         " reasons = #item.reasons, verdicts = #item.plugin_verdicts,"
                         " users = item.platform.users}");
    res = call_ok(sl, "look", item);
    assert_json(res, "{\"matches\": 0, \"uploads\": 0, \"reasons\": 0, \"verdicts\": 0,"
                     " \"users\": 0}");
    json_decref(res);
    assert_int_equal(sl_item_match(item, "keyword", "keyword", "list", "w", 1, "title", 0, 1),
                     0);
    assert_int_equal(sl_item_tag(item, "kw", 1, "plugin:keyword"), 0);
    assert_int_equal(sl_item_reason(item, "from a plugin"), 0);
    json_array_append_new(item->plugin_verdicts, json_pack("{s:s}", "verdict", "review"));
    item->creator_uploads = 4;
    item->platform_users = 10;
    res = call_ok(sl, "look", item);
    assert_json(res, "{\"matches\": 1, \"kw\": {\"confidence\": 1, \"source\": \"plugin:keyword\"},"
                     " \"uploads\": 4, \"reasons\": 1, \"verdicts\": 1, \"users\": 10}");
    json_decref(res);
    sl_item_free(item);
    sl_lua_free(sl);
}

/* An item made without sl_item_new (a plugin test's item on the stack) has
 * no serial, and every call builds its fields afresh. */
static void test_item_without_serial(void **state)
{
    struct sl_lua *sl = load_fixture("policies-probe", NULL);
    struct sl_item *made = make_item(upload);
    struct sl_item item = *made;
    json_t *res;

    (void)state;
    item.serial = 0;
    set_hook(sl, "keep", "local item = ... kept = item.signals");
    set_hook(sl, "same", "local item = ... return rawequal(kept, item.signals)");
    json_decref(call_ok(sl, "keep", &item));
    res = call_ok(sl, "same", &item);
    assert_true(json_is_false(res));
    json_decref(res);
    sl_item_free(made);
    sl_lua_free(sl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_changes_do_not_leak),
        cmocka_unit_test(test_kept_tables_do_not_leak),
        cmocka_unit_test(test_unchanged_tables_are_shared),
        cmocka_unit_test(test_tags_and_reasons_pass_on),
        cmocka_unit_test(test_host_changes_are_seen),
        cmocka_unit_test(test_item_without_serial),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
