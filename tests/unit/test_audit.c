/* SPDX-License-Identifier: MIT */
/* The audit chain: plain then keyed records, paged verification, the edits and cuts it must see. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "lib/log.h"
#include "lib/sha256.h"
#include "../lua/util.h"
#include "store/store.h"

/* {====================== Helpers ====================================== */

#define EURO "\xe2\x82\xac"

static const uint8_t KEY[32] = "0123456789abcdef0123456789abcde";

struct fx {
    char *dir;                  /* a scratch folder (tests/lua/util.c) */
    char path[64];
    struct sl_store *w, *r;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->dir = temp_dir();
    snprintf(f->path, sizeof(f->path), "%s/sluice.db", f->dir);
    assert_int_equal(sl_store_open(f->dir, true, &f->w), 0);
    assert_int_equal(sl_store_open(f->dir, false, &f->r), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    sl_store_free(f->r);
    sl_store_free(f->w);
    remove_dir(f->dir);
    free(f);
    return 0;
}

static void append(struct sl_store *w, int n, const char *reason)
{
    assert_int_equal(sl_store_begin(w), 0);
    for (int i = 0; i < n; i++) {
        char item[16];
        snprintf(item, sizeof(item), "i%d", i);
        struct sl_audit_rec rec = { .item = i % 3 ? item : NULL, .actor = "token:admin",
                                    .action = "approve", .from_state = "in_review",
                                    .to_state = i % 2 ? "approved" : NULL,
                                    .reason = reason, .ts_ms = 1000 + i };
        assert_int_equal(sl_store_audit_append(w, &rec), 0);
    }
    assert_int_equal(sl_store_commit(w), 0);
}

/* Verify the whole chain page by page; the result of the last page. */
static int verify_all(struct sl_store *r, int64_t page, int64_t *checked, int64_t *bad_seq)
{
    struct sl_audit_check c = { .after = 0, .limit = page };
    int rc;

    *checked = 0;
    for (;;) {
        rc = sl_store_audit_verify(r, &c);
        *checked += c.checked;
        if (rc < 0 || !c.more)
            break;
        assert_int_equal(c.checked, page);
        c.after = c.last_seq;
    }
    *bad_seq = c.bad_seq;
    return rc;
}

static void sql(struct fx *f, const char *text)
{
    sqlite3 *db;
    char *msg = NULL;

    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    if (sqlite3_exec(db, text, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", text, msg);
    sqlite3_close(db);
}

/* What an editor who can write the database but lacks the key can do:
 * recompute every plain SHA-256 from record `from` on, as the store's
 * format 1 does. */
static void rehash_plain(struct fx *f, int64_t from)
{
    sqlite3 *db;
    sqlite3_stmt *st, *up;
    char prev[SL_SHA256_HEX_LEN + 1] = { 0 };

    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT seq, item, actor, action, from_state,"
                     " to_state, reason, ts_ms, prev FROM audit WHERE seq >= ? ORDER BY seq",
                     -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "UPDATE audit SET prev = ?, hash = ?, v = 1"
                     " WHERE seq = ?", -1, &up, NULL), SQLITE_OK);
    sqlite3_bind_int64(st, 1, from);
    assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct sl_sha256 ctx;
        uint8_t d[SL_SHA256_LEN];
        char num[32], hash[SL_SHA256_HEX_LEN + 1];
        if (!prev[0])
            snprintf(prev, sizeof(prev), "%s", (const char *)sqlite3_column_text(st, 8));
        sl_sha256_init(&ctx);
        for (int i = 0; i < 9; i++) {
            const char *v;
            if (i == 0) {
                v = prev;
            } else if (i == 1 || i == 8) {
                snprintf(num, sizeof(num), "%lld",
                         (long long)sqlite3_column_int64(st, i == 1 ? 0 : 7));
                v = num;
            } else {
                v = (const char *)sqlite3_column_text(st, i - 1);
            }
            if (v)
                sl_sha256_update(&ctx, v, strlen(v));
            else
                sl_sha256_update(&ctx, "\x1e", 1);
            sl_sha256_update(&ctx, "\x1f", 1);
        }
        sl_sha256_final(&ctx, d);
        sl_hex(d, sizeof(d), hash);
        sqlite3_reset(up);
        sqlite3_bind_text(up, 1, prev, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(up, 2, hash, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(up, 3, sqlite3_column_int64(st, 0));
        assert_int_equal(sqlite3_step(up), SQLITE_DONE);
        memcpy(prev, hash, sizeof(prev));
    }
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_finalize(st);
    sqlite3_finalize(up);
    sqlite3_close(db);
}

/* }===================================================================== */

/* A chain written plain, then keyed, verifies whole in pages of any size,
 * and the head is the newest record. */
static void test_plain_then_keyed(void **state)
{
    struct fx *f = *state;
    struct sl_audit_head h;
    int64_t checked, bad;

    append(f->w, 5, "plain");
    assert_int_equal(sl_store_audit_head(f->r, &h), 0);
    assert_int_equal(h.seq, 5);
    assert_int_equal(h.format, 1);
    assert_int_equal(verify_all(f->r, 100, &checked, &bad), 0);
    assert_int_equal(checked, 5);

    assert_int_equal(sl_store_audit_key(f->w, KEY, sizeof(KEY), 6), 0);
    assert_int_equal(sl_store_audit_key(f->r, KEY, sizeof(KEY), 6), 0);
    append(f->w, 7, "keyed");
    assert_int_equal(sl_store_audit_head(f->r, &h), 0);
    assert_int_equal(h.seq, 12);
    assert_int_equal(h.format, 2);
    for (int64_t page = 1; page <= 13; page++) {
        assert_int_equal(verify_all(f->r, page, &checked, &bad), 0);
        assert_int_equal(checked, 12);
    }
    char hash[SL_SHA256_HEX_LEN + 1];
    assert_int_equal(sl_store_audit_hash(f->r, 12, hash), 0);
    assert_string_equal(hash, h.hash);
    assert_int_equal(sl_store_audit_hash(f->r, 13, hash), -ENOENT);

    /* A page from the head: nothing to check, nothing more; past it: ERANGE. */
    struct sl_audit_check c = { .after = 12, .limit = 10 };
    assert_int_equal(sl_store_audit_verify(f->r, &c), 0);
    assert_int_equal(c.checked, 0);
    assert_false(c.more);
    c.after = 13;
    assert_int_equal(sl_store_audit_verify(f->r, &c), -ERANGE);

    /* The same chain under another key: the first keyed record fails. */
    uint8_t other[32];
    memcpy(other, KEY, sizeof(other));
    other[0] ^= 1;
    assert_int_equal(sl_store_audit_key(f->r, other, sizeof(other), 6), 0);
    assert_int_equal(verify_all(f->r, 100, &checked, &bad), -EBADMSG);
    assert_int_equal(bad, 6);
    assert_int_equal(checked, 5);
}

/* Edits with sqlite3: a changed field, a record rehashed without the key,
 * the whole chain rehashed without the key, a record deleted. */
static void test_edits_are_seen(void **state)
{
    struct fx *f = *state;
    int64_t checked, bad;

    assert_int_equal(sl_store_audit_key(f->w, KEY, sizeof(KEY), 1), 0);
    assert_int_equal(sl_store_audit_key(f->r, KEY, sizeof(KEY), 1), 0);
    append(f->w, 10, "why");
    assert_int_equal(verify_all(f->r, 3, &checked, &bad), 0);

    sql(f, "UPDATE audit SET reason = 'because' WHERE seq = 7");
    assert_int_equal(verify_all(f->r, 3, &checked, &bad), -EBADMSG);
    assert_int_equal(bad, 7);
    assert_int_equal(checked, 6);

    /* Rehashed plain from 7 on: every link holds, but the chain is keyed
     * there. */
    rehash_plain(f, 7);
    assert_int_equal(verify_all(f->r, 3, &checked, &bad), -EBADMSG);
    assert_int_equal(bad, 7);

    /* Rehashed plain from the start: likewise, at the first record. */
    rehash_plain(f, 1);
    assert_int_equal(verify_all(f->r, 4, &checked, &bad), -EBADMSG);
    assert_int_equal(bad, 1);
    assert_int_equal(checked, 0);
    /* A connection without the key takes it for a plain chain: the key,
     * kept apart with the record it starts at, is what tells. */
    struct sl_store *nokey;
    assert_int_equal(sl_store_open(f->dir, false, &nokey), 0);
    assert_int_equal(verify_all(nokey, 4, &checked, &bad), 0);
    sl_store_free(nokey);
    /* Keyed from a record past the newest (a trail cut back): plain
     * records before it are fine. */
    assert_int_equal(sl_store_audit_key(f->r, KEY, sizeof(KEY), 11), 0);
    assert_int_equal(verify_all(f->r, 4, &checked, &bad), 0);
    assert_int_equal(sl_store_audit_key(f->r, KEY, sizeof(KEY), 0), -EINVAL);
}

static void test_deleted_and_cut(void **state)
{
    struct fx *f = *state;
    int64_t checked, bad;
    struct sl_audit_head h;

    assert_int_equal(sl_store_audit_key(f->w, KEY, sizeof(KEY), 1), 0);
    assert_int_equal(sl_store_audit_key(f->r, KEY, sizeof(KEY), 1), 0);
    append(f->w, 8, "why");

    /* Cutting the newest records leaves an intact chain: only an anchor
     * kept elsewhere tells (the API's verify compares it with the head). */
    sql(f, "DELETE FROM audit WHERE seq > 6");
    assert_int_equal(verify_all(f->r, 2, &checked, &bad), 0);
    assert_int_equal(checked, 6);
    assert_int_equal(sl_store_audit_head(f->r, &h), 0);
    assert_int_equal(h.seq, 6);

    /* A record deleted in the middle is a gap. */
    sql(f, "DELETE FROM audit WHERE seq = 4");
    assert_int_equal(verify_all(f->r, 2, &checked, &bad), -EBADMSG);
    assert_int_equal(bad, 5);
    assert_int_equal(checked, 3);
    /* A page that starts at the deleted record says so. */
    struct sl_audit_check c = { .after = 4, .limit = 2 };
    assert_int_equal(sl_store_audit_verify(f->r, &c), -EBADMSG);
    assert_int_equal(c.bad_seq, 4);
}

/* Text that is not UTF-8 is stored repaired and listed; a row edited into
 * bad UTF-8 fails the listing instead of vanishing from it. */
static void test_text_in_and_out(void **state)
{
    struct fx *f = *state;
    json_t *list = NULL;
    int64_t checked, bad;
    char reason[1024];

    assert_int_equal(sl_store_audit_key(f->w, KEY, sizeof(KEY), 1), 0);
    assert_int_equal(sl_store_audit_key(f->r, KEY, sizeof(KEY), 1), 0);
    /* "a" and euros cut into a byte buffer: the last euro is split. */
    snprintf(reason, sizeof(reason), "a" EURO EURO "%.2s", EURO);
    append(f->w, 1, reason);
    append(f->w, 1, "x\xff" "y");
    assert_int_equal(sl_store_audit_list(f->r, NULL, 0, 10, &list), 0);
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "reason")),
                        "a" EURO EURO);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "reason")),
                        "x\xef\xbf\xbd" "y");
    json_decref(list);
    assert_int_equal(verify_all(f->r, 10, &checked, &bad), 0);
    assert_int_equal(checked, 2);

    /* The queue's reason likewise. */
    assert_int_equal(sl_store_begin(f->w), 0);
    const struct sl_item_row row = { .id = "q1", .creator = "c", .state = "in_review",
                                     .upload = "{\"title\":\"t\"}", .upload_hash = "00",
                                     .now_ms = 1 };
    assert_int_equal(sl_store_item_insert(f->w, &row), 0);
    assert_int_equal(sl_store_queue_put(f->w, "q1", "default", 0, reason, NULL, 1), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    assert_int_equal(sl_store_queue_list(f->r, NULL, 10, 1, NULL, &list), 0);
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "reason")),
                        "a" EURO EURO);
    json_decref(list);

    /* Edited by hand into bytes JSON cannot carry: an error, not a gap. */
    sql(f, "UPDATE audit SET reason = CAST(x'61e282' AS TEXT) WHERE seq = 2;"
           "UPDATE queue SET reason = CAST(x'61e282' AS TEXT);");
    list = NULL;
    assert_int_equal(sl_store_audit_list(f->r, NULL, 0, 10, &list), -EILSEQ);
    assert_null(list);
    assert_int_equal(sl_store_audit_list(f->r, NULL, 1, 10, &list), -EILSEQ);
    assert_int_equal(sl_store_audit_list(f->r, NULL, 0, 1, &list), 0);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    list = NULL;
    assert_int_equal(sl_store_queue_list(f->r, NULL, 10, 1, NULL, &list), -EILSEQ);
    assert_null(list);
    assert_int_equal(sl_store_item_get(f->r, "q1", &list), 0);
    json_decref(list);
    sql(f, "UPDATE queue SET reason = 'fine'; UPDATE items SET upload = '{not json';");
    list = NULL;
    assert_int_equal(sl_store_item_get(f->r, "q1", &list), -EILSEQ);
    assert_int_equal(sl_store_queue_list(f->r, NULL, 10, 1, NULL, &list), -EILSEQ);
    assert_null(list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_then_keyed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edits_are_seen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_and_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_in_and_out, setup, teardown),
    };

    /* The store warns of what it repairs; the test checks the repair. */
    sl_log_set_level(SL_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
