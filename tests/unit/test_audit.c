/* SPDX-License-Identifier: MIT */
/* The audit chain, on SQLite or PostgreSQL: plain then keyed records, paged verification, the edits and cuts it must see. */
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

#include "lib/log.h"
#include "lib/sha256.h"
#include "../lua/util.h"
#include "store/store.h"
#include "storetest.h"

/* {====================== Helpers ====================================== */

#define EURO "\xe2\x82\xac"

static const uint8_t KEY[32] = "0123456789abcdef0123456789abcde";

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

static void sql(struct storetest_fx *f, const char *text)
{
    if (storetest_sql(f->where, f->dir, text) < 0)
        fail_msg("%s failed", text);
}

/* What an editor who can write the database but lacks the key can do:
 * recompute every plain SHA-256 from record `from` on, as the store's
 * format 1 does (written out here again, not taken from the store). */
static void rehash_plain(struct storetest_fx *f, int64_t from)
{
    char prev[SL_SHA256_HEX_LEN + 1], edit[512];
    json_t *list = NULL;
    size_t i;
    json_t *rec;

    if (from > 1)
        assert_int_equal(sl_store_audit_hash(f->r, from - 1, prev), 0);
    else
        snprintf(prev, sizeof(prev), "%064d", 0);
    assert_int_equal(sl_store_audit_list(f->r, NULL, from - 1, 1000, &list), 0);
    json_array_foreach(list, i, rec) {
        static const char *const keys[] = { NULL, "seq", "item", "actor", "action", "from",
                                            "to", "reason", "ts_ms" };
        struct sl_sha256 ctx;
        uint8_t d[SL_SHA256_LEN];
        char num[32], hash[SL_SHA256_HEX_LEN + 1];

        sl_sha256_init(&ctx);
        for (int k = 0; k < 9; k++) {
            json_t *v = k ? json_object_get(rec, keys[k]) : NULL;
            const char *t = k == 0 ? prev : json_string_value(v);
            if (json_is_integer(v)) {
                snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
                t = num;
            }
            if (t)
                sl_sha256_update(&ctx, t, strlen(t));
            else
                sl_sha256_update(&ctx, "\x1e", 1);
            sl_sha256_update(&ctx, "\x1f", 1);
        }
        sl_sha256_final(&ctx, d);
        sl_hex(d, sizeof(d), hash);
        snprintf(edit, sizeof(edit), "UPDATE audit SET prev = '%s', hash = '%s', v = 1"
                 " WHERE seq = %lld", prev, hash,
                 (long long)json_integer_value(json_object_get(rec, "seq")));
        sql(f, edit);
        memcpy(prev, hash, sizeof(prev));
    }
    json_decref(list);
}

/* }===================================================================== */

/* A chain written plain, then keyed, verifies whole in pages of any size,
 * and the head is the newest record. */
static void test_plain_then_keyed(void **state)
{
    struct storetest_fx *f = *state;
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
    assert_int_equal(h.format, 3);      /* keyed, packed */
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

/* Edits behind the store's back: a changed field, a record rehashed without the key,
 * the whole chain rehashed without the key, a record deleted. */
static void test_edits_are_seen(void **state)
{
    struct storetest_fx *f = *state;
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
    assert_int_equal(sl_store_open(f->where, f->dir, false, &nokey), 0);
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
    struct storetest_fx *f = *state;
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
    struct storetest_fx *f = *state;
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

    /* Edited by hand into bytes JSON cannot carry: an error, not a gap.
     * (PostgreSQL refuses such bytes in a UTF8 database: no row of it can
     * hold them.) */
    if (!storetest_postgres()) {
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
        sql(f, "UPDATE queue SET reason = 'fine'");
    }
    /* An upload that is not JSON: the item and the queue fail to list. */
    sql(f, "UPDATE items SET upload = '{not json'");
    list = NULL;
    assert_int_equal(sl_store_item_get(f->r, "q1", &list), -EILSEQ);
    assert_int_equal(sl_store_queue_list(f->r, NULL, 10, 1, NULL, &list), -EILSEQ);
    assert_null(list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        storetest_case(test_plain_then_keyed),
        storetest_case(test_edits_are_seen),
        storetest_case(test_deleted_and_cut),
        storetest_case(test_text_in_and_out),
    };

    /* The store warns of what it repairs; the test checks the repair. */
    return storetest_run(tests, SL_LOG_ERROR);
}
