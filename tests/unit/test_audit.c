/* SPDX-License-Identifier: MIT */
/* The audit trail and the queue: text that is not UTF-8 stored repaired, rows edited by hand refused loudly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "lib/log.h"
#include "store/store.h"

/* {====================== Helpers ====================================== */

#define EURO "\xe2\x82\xac"

struct fx {
    char dir[32];
    char path[64];
    struct sl_store *w, *r;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "audit.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/sluice.db", f->dir);
    assert_int_equal(sl_store_open(f->dir, true, &f->w), 0);
    assert_int_equal(sl_store_open(f->dir, false, &f->r), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    DIR *d;
    struct dirent *de;
    char path[1024];

    sl_store_free(f->r);
    sl_store_free(f->w);
    d = opendir(f->dir);
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", f->dir, de->d_name);
        assert_int_equal(unlink(path), 0);
    }
    closedir(d);
    assert_int_equal(rmdir(f->dir), 0);
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

static void sql(struct fx *f, const char *text)
{
    sqlite3 *db;
    char *msg = NULL;

    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    if (sqlite3_exec(db, text, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", text, msg);
    sqlite3_close(db);
}

/* }===================================================================== */

/* Text that is not UTF-8 is stored repaired and listed; a row edited into
 * bad UTF-8 fails the listing instead of vanishing from it. */
static void test_text_in_and_out(void **state)
{
    struct fx *f = *state;
    json_t *list = NULL;
    int64_t checked, bad;
    char reason[1024];

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
    assert_int_equal(sl_store_audit_verify(f->r, &checked, &bad), 0);
    assert_int_equal(checked, 2);

    /* The queue's reason likewise. */
    assert_int_equal(sl_store_begin(f->w), 0);
    const struct sl_item_row row = { .id = "q1", .creator = "c", .state = "in_review",
                                     .upload = "{\"title\":\"t\"}", .upload_hash = "00",
                                     .now_ms = 1 };
    assert_int_equal(sl_store_item_insert(f->w, &row), 0);
    assert_int_equal(sl_store_queue_put(f->w, "q1", "default", 0, reason, NULL, 1), 0);
    assert_int_equal(sl_store_commit(f->w), 0);
    assert_int_equal(sl_store_queue_list(f->r, NULL, 10, 1, &list), 0);
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
    assert_int_equal(sl_store_queue_list(f->r, NULL, 10, 1, &list), -EILSEQ);
    assert_null(list);
    assert_int_equal(sl_store_item_get(f->r, "q1", &list), 0);
    json_decref(list);
    sql(f, "UPDATE queue SET reason = 'fine'; UPDATE items SET upload = '{not json';");
    list = NULL;
    assert_int_equal(sl_store_item_get(f->r, "q1", &list), -EILSEQ);
    assert_int_equal(sl_store_queue_list(f->r, NULL, 10, 1, &list), -EILSEQ);
    assert_null(list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_text_in_and_out, setup, teardown),
    };

    /* The store warns of what it repairs; the test checks the repair. */
    sl_log_set_level(SL_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
