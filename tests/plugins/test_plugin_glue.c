/* SPDX-License-Identifier: MIT */
/* The built keyword and phash plugins, loaded with dlopen under a fake host. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <dlfcn.h>
#include <unistd.h>
#include <cmocka.h>

#include <sluice/plugin.h>

/* {====== A fake host ====== */

struct rec {
    char source[32], kind[16], name[128], detail[512], field[32];
    double score;
    size_t offset, length;
};

/* What the host would hand a plugin; the plugin sees only a pointer. */
struct sl_item {
    const char *title, *description, *transcript, *city;
    const uint64_t *hashes;
    size_t nhashes;
    struct rec tags[64];
    size_t ntags;
    struct rec matches[256];
    size_t nmatches;
};

static char last_log[1024];
static int log_errors;
static double stat_matches;

__attribute__((format(printf, 3, 4)))
static void host_log(int level, const char *plugin, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(last_log, sizeof(last_log), fmt, ap);
    va_end(ap);
    if (level == SL_LOG_ERROR)
        log_errors++;
    assert_non_null(plugin);
}

static const char *host_item_field(const struct sl_item *item, const char *name)
{
    if (strcmp(name, "title") == 0)
        return item->title;
    if (strcmp(name, "description") == 0)
        return item->description;
    if (strcmp(name, "transcript") == 0)
        return item->transcript;
    if (strcmp(name, "city") == 0)
        return item->city;
    return NULL;
}

static int host_item_signal(const struct sl_item *item, const char *name, double *out)
{
    (void)item;
    (void)name;
    (void)out;
    return -ENOENT;
}

static size_t host_item_hashes(const struct sl_item *item, const uint64_t **out)
{
    *out = item->hashes;
    return item->nhashes;
}

static int host_item_tag(struct sl_item *item, const char *name, double confidence,
                         const char *source)
{
    struct rec *r;

    assert_true(item->ntags < 64);
    assert_true(confidence >= 0 && confidence <= 1);
    r = &item->tags[item->ntags++];
    memset(r, 0, sizeof(*r));
    snprintf(r->name, sizeof(r->name), "%s", name);
    snprintf(r->source, sizeof(r->source), "%s", source);
    r->score = confidence;
    return 0;
}

static int host_item_match(struct sl_item *item, const char *source, const char *kind,
                           const char *name, const char *detail, double score,
                           const char *field, size_t offset, size_t length)
{
    struct rec *r;

    assert_true(item->nmatches < 256);
    r = &item->matches[item->nmatches++];
    snprintf(r->source, sizeof(r->source), "%s", source);
    snprintf(r->kind, sizeof(r->kind), "%s", kind);
    snprintf(r->name, sizeof(r->name), "%s", name);
    snprintf(r->detail, sizeof(r->detail), "%s", detail);
    snprintf(r->field, sizeof(r->field), "%s", field ? field : "");
    r->score = score;
    r->offset = offset;
    r->length = length;
    return 0;
}

static void host_stat_add(const char *plugin, const char *name, double v)
{
    (void)plugin;
    if (strcmp(name, "matches") == 0)
        stat_matches += v;
}

static const struct sl_host_api host = {
    .struct_size = sizeof(struct sl_host_api),
    .log = host_log,
    .item_field = host_item_field,
    .item_signal = host_item_signal,
    .item_hashes = host_item_hashes,
    .item_tag = host_item_tag,
    .item_match = host_item_match,
    .stat_add = host_stat_add,
};

static const struct rec *find_tag(const struct sl_item *item, const char *name)
{
    size_t i;

    for (i = 0; i < item->ntags; i++)
        if (strcmp(item->tags[i].name, name) == 0)
            return &item->tags[i];
    return NULL;
}

static size_t count_tags(const struct sl_item *item, const char *name)
{
    size_t i, n = 0;

    for (i = 0; i < item->ntags; i++)
        n += strcmp(item->tags[i].name, name) == 0;
    return n;
}

static const struct rec *find_match(const struct sl_item *item, const char *detail)
{
    size_t i;

    for (i = 0; i < item->nmatches; i++)
        if (strcmp(item->matches[i].detail, detail) == 0)
            return &item->matches[i];
    return NULL;
}

/* }====== */

/* {====== Loading ====== */

static void *handle;

static const struct sl_plugin *load(const char *name)
{
    const char *b = getenv("SLUICE_BUILDDIR");
    const struct sl_plugin *p;
    char path[1024];

    snprintf(path, sizeof(path), "%s/plugins/%s/.libs/%s.so", b ? b : "..", name, name);
    handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle)
        fail_msg("dlopen %s: %s", path, dlerror());
    p = dlsym(handle, SL_PLUGIN_SYMBOL);
    assert_non_null(p);
    assert_int_equal(p->abi_major, SL_PLUGIN_ABI_MAJOR);
    assert_int_equal(p->abi_minor, SL_PLUGIN_ABI_MINOR);
    assert_int_equal(p->struct_size, sizeof(struct sl_plugin));
    assert_string_equal(p->name, name);
    assert_non_null(p->version);
    assert_non_null(p->init);
    assert_non_null(p->fini);
    assert_non_null(p->tag);
    return p;
}

static int teardown(void **unused)
{
    (void)unused;
    if (handle)
        dlclose(handle);
    handle = NULL;
    return 0;
}

static void test_only_descriptor_exported(void **unused)
{
    static const char *const hidden[] = {
        "ac_new", "ac_scan", "ac_fold", "kw_set_load", "kw_set_parse",
        "ph_index_new", "ph_index_query", "ph_index_update",
    };
    size_t i;

    (void)unused;
    load("keyword");
    for (i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++)
        assert_null(dlsym(handle, hidden[i]));
    teardown(NULL);
    load("phash");
    for (i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++)
        assert_null(dlsym(handle, hidden[i]));
}

/* }====== */

/* {====== keyword ====== */

static char listdir[64];

static void write_list(const char *name, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", listdir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void unlink_list(const char *name)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/%s", listdir, name);
    unlink(path);
}

static int kw_setup(void **unused)
{
    (void)unused;
    strcpy(listdir, "kwglue.XXXXXX");
    if (!mkdtemp(listdir))
        return -1;
    write_list("spam.list", "#! tag=spam severity=0.9\nfree money\n赌博\nÉCOLE\n");
    write_list("mild.list", "hello\n");
    return 0;
}

static int kw_teardown(void **unused)
{
    unlink_list("spam.list");
    unlink_list("mild.list");
    unlink_list("zz.list");
    rmdir(listdir);
    return teardown(unused);
}

static void *kw_init(const struct sl_plugin *p, const char *k2, const char *v2)
{
    struct sl_plugin_option opts[] = {
        { "lists", listdir }, { k2, v2 }, { NULL, NULL },
    };
    void *st = NULL;

    assert_int_equal(p->init(&host, opts, &st), 0);
    assert_non_null(st);
    return st;
}

static void test_keyword_tags_and_matches(void **unused)
{
    const struct sl_plugin *p = load("keyword");
    struct sl_item item = {
        .title = "FREE MONEY at the école",
        .description = "网上赌博",
        .city = "free money city",      /* not scanned by default */
    };
    const struct rec *m, *t;
    void *st = kw_init(p, NULL, NULL);

    (void)unused;
    stat_matches = 0;
    assert_int_equal(p->tag(st, &item), 0);
    assert_int_equal(item.nmatches, 3);
    m = find_match(&item, "free money");
    assert_non_null(m);
    assert_string_equal(m->source, "keyword");
    assert_string_equal(m->kind, "keyword");
    assert_string_equal(m->name, "spam");
    assert_string_equal(m->field, "title");
    assert_int_equal(m->offset, 0);
    assert_int_equal(m->length, 10);
    assert_true(m->score == 0.9);
    m = find_match(&item, "ÉCOLE");
    assert_non_null(m);
    assert_int_equal(m->offset, 18);
    assert_int_equal(m->length, 6);
    m = find_match(&item, "赌博");
    assert_non_null(m);
    assert_string_equal(m->field, "description");
    assert_int_equal(m->offset, 6);
    assert_int_equal(m->length, 6);
    /* one tag per list, none for the list that did not match */
    assert_int_equal(count_tags(&item, "spam"), 1);
    t = find_tag(&item, "spam");
    assert_true(t->score == 0.9);
    assert_string_equal(t->source, "keyword");
    assert_null(find_tag(&item, "keyword.mild"));
    assert_true(stat_matches == 3);

    /* nothing to find: declined, nothing recorded */
    memset(&item, 0, sizeof(item));
    item.title = "a quiet walk";
    assert_int_equal(p->tag(st, &item), SL_DECLINED);
    assert_int_equal(item.nmatches, 0);
    assert_int_equal(item.ntags, 0);
    p->fini(st);
}

static void test_keyword_cap_and_fields(void **unused)
{
    const struct sl_plugin *p = load("keyword");
    struct sl_item item = {
        .title = "hello hello HELLO hello",
        .city = "free money",
    };
    struct sl_plugin_option opts[] = {
        { "lists", listdir }, { "max_hits", "2" }, { "fields", "title,city" },
        { NULL, NULL },
    };
    void *st = NULL;

    (void)unused;
    assert_int_equal(p->init(&host, opts, &st), 0);
    assert_int_equal(p->tag(st, &item), 0);
    assert_int_equal(item.nmatches, 3);    /* 2 of 4 hellos, 1 free money */
    assert_int_equal(count_tags(&item, "keyword.mild"), 1);
    assert_true(find_tag(&item, "keyword.mild")->score == 0.5);
    assert_int_equal(count_tags(&item, "spam"), 1);
    assert_string_equal(find_match(&item, "free money")->field, "city");
    p->fini(st);
}

static void test_keyword_review(void **unused)
{
    const struct sl_plugin *p = load("keyword");
    struct sl_item item = { .title = "hello", .transcript = "say hello, get free money" };
    struct sl_review rv;
    void *st = kw_init(p, NULL, NULL);

    (void)unused;
    memset(&rv, 0, sizeof(rv));
    assert_int_equal(p->review(st, &item, &rv), SL_DECLINED);   /* off by default */
    assert_int_equal(rv.verdict, SL_VERDICT_NONE);
    p->fini(st);

    st = kw_init(p, "reject_severity", "0.8");
    assert_int_equal(p->review(st, &item, &rv), 0);
    assert_int_equal(rv.verdict, SL_VERDICT_REJECT);
    assert_non_null(strstr(rv.reason, "\"spam\""));
    assert_non_null(strstr(rv.reason, "free money"));
    assert_non_null(strstr(rv.reason, "transcript"));

    memset(&rv, 0, sizeof(rv));
    item.transcript = NULL;     /* only the 0.5 list is left */
    assert_int_equal(p->review(st, &item, &rv), SL_DECLINED);
    assert_int_equal(rv.verdict, SL_VERDICT_NONE);
    p->fini(st);
}

static void test_keyword_reload_keeps_old_on_error(void **unused)
{
    const struct sl_plugin *p = load("keyword");
    struct sl_item item = { .title = "free money, new word" };
    void *st = kw_init(p, NULL, NULL);

    (void)unused;
    write_list("zz.list", "fine\nbroken \xFF\n");
    log_errors = 0;
    assert_int_equal(p->reload(st), -EINVAL);
    assert_int_equal(log_errors, 1);
    assert_non_null(strstr(last_log, "zz.list:2:"));
    assert_int_equal(p->tag(st, &item), 0);
    assert_non_null(find_match(&item, "free money"));   /* the old lists */

    unlink_list("zz.list");
    write_list("spam.list", "#! tag=spam severity=0.9\nnew word\n");
    assert_int_equal(p->reload(st), 0);
    memset(&item, 0, sizeof(item));
    item.title = "free money, new word";
    assert_int_equal(p->tag(st, &item), 0);
    assert_int_equal(item.nmatches, 1);
    assert_non_null(find_match(&item, "new word"));
    p->fini(st);
    write_list("spam.list", "#! tag=spam severity=0.9\nfree money\n赌博\nÉCOLE\n");
}

static void test_keyword_bad_options(void **unused)
{
    const struct sl_plugin *p = load("keyword");
    struct sl_plugin_option none[] = { { NULL, NULL } };
    struct sl_plugin_option missing[] = { { "lists", "no-such-dir" }, { NULL, NULL } };
    struct sl_plugin_option unknown[] = {
        { "lists", listdir }, { "list", "x" }, { NULL, NULL },
    };
    struct sl_plugin_option hits[] = {
        { "lists", listdir }, { "max_hits", "0" }, { NULL, NULL },
    };
    struct sl_plugin_option sev[] = {
        { "lists", listdir }, { "reject_severity", "2" }, { NULL, NULL },
    };
    struct sl_plugin_option fields[] = {
        { "lists", listdir }, { "fields", "title,body" }, { NULL, NULL },
    };
    void *st = NULL;

    (void)unused;
    assert_int_equal(p->init(&host, none, &st), -EINVAL);
    assert_non_null(strstr(last_log, "lists"));
    assert_int_equal(p->init(&host, missing, &st), -ENOENT);
    assert_non_null(strstr(last_log, "no-such-dir"));
    assert_int_equal(p->init(&host, unknown, &st), -EINVAL);
    assert_non_null(strstr(last_log, "\"list\""));
    assert_int_equal(p->init(&host, hits, &st), -EINVAL);
    assert_int_equal(p->init(&host, sev, &st), -EINVAL);
    assert_int_equal(p->init(&host, fields, &st), -EINVAL);
    assert_null(st);
    p->fini(NULL);
}

/* }====== */

/* {====== phash ====== */

static void *ph_init(const struct sl_plugin *p, const char *distance)
{
    struct sl_plugin_option opts[] = { { "distance", distance }, { NULL, NULL } };
    void *st = NULL;

    assert_int_equal(p->init(&host, opts, &st), 0);
    return st;
}

static void test_phash_matches(void **unused)
{
    const struct sl_plugin *p = load("phash");
    const uint64_t a = 0x8f3a00ff12345678ull, b = 0x0000111122223333ull;
    const uint64_t bank1[] = { a, b }, item_hashes[] = { a ^ 0x7, ~a, a ^ 0x1 };
    struct sl_item item = { .hashes = item_hashes, .nhashes = 3 };
    const struct rec *m, *t;
    void *st = ph_init(p, "4");

    (void)unused;
    assert_null(p->reload);
    assert_non_null(p->hashbank);
    assert_int_equal(p->tag(st, &item), SL_DECLINED);      /* no banks yet */
    assert_int_equal(p->hashbank(st, "csam", bank1, 2, NULL, 0), 0);
    assert_int_equal(p->hashbank(st, "known.spam", &a, 1, NULL, 0), 0);

    assert_int_equal(p->tag(st, &item), 0);
    /* a is near two item hashes: reported once per bank, at the closer one */
    assert_int_equal(item.nmatches, 2);
    m = find_match(&item, "8f3a00ff12345678");
    assert_non_null(m);
    assert_string_equal(m->source, "phash");
    assert_string_equal(m->kind, "hash");
    assert_true(m->score == 1);
    assert_string_equal(m->field, "");
    t = find_tag(&item, "hash.csam");
    assert_non_null(t);
    assert_true(t->score > 0.79 && t->score < 0.81);    /* 1 - 1/(4+1) */
    assert_string_equal(t->source, "phash");
    assert_non_null(find_tag(&item, "hash.known.spam"));
    assert_int_equal(item.ntags, 2);

    /* removal takes effect for the next item */
    assert_int_equal(p->hashbank(st, "csam", NULL, 0, &a, 1), 0);
    memset(&item, 0, sizeof(item));
    item.hashes = item_hashes;
    item.nhashes = 3;
    assert_int_equal(p->tag(st, &item), 0);
    assert_int_equal(item.ntags, 1);
    assert_non_null(find_tag(&item, "hash.known.spam"));

    /* beyond the distance */
    memset(&item, 0, sizeof(item));
    item.hashes = &b;
    item.nhashes = 1;
    assert_int_equal(p->tag(st, &item), 0);
    item.ntags = item.nmatches = 0;
    item.hashes = item_hashes + 1;
    assert_int_equal(p->tag(st, &item), SL_DECLINED);
    assert_int_equal(item.nmatches, 0);
    p->fini(st);
}

static void test_phash_distance_confidence(void **unused)
{
    const struct sl_plugin *p = load("phash");
    const uint64_t a = 0x1111222233334444ull, q = a ^ 0xFF;     /* 8 bits away */
    struct sl_item item = { .hashes = &q, .nhashes = 1 };
    void *st = ph_init(p, "8");

    (void)unused;
    assert_int_equal(p->hashbank(st, "b", &a, 1, NULL, 0), 0);
    assert_int_equal(p->tag(st, &item), 0);
    assert_true(item.matches[0].score == 8);
    assert_true(find_tag(&item, "hash.b")->score > 0.1 &&
                find_tag(&item, "hash.b")->score < 0.12);   /* 1 - 8/9 */
    p->fini(st);

    st = ph_init(p, "7");
    assert_int_equal(p->hashbank(st, "b", &a, 1, NULL, 0), 0);
    memset(&item, 0, sizeof(item));
    item.hashes = &q;
    item.nhashes = 1;
    assert_int_equal(p->tag(st, &item), SL_DECLINED);
    p->fini(st);
}

static void test_phash_bad_input(void **unused)
{
    const struct sl_plugin *p = load("phash");
    struct sl_plugin_option far[] = { { "distance", "17" }, { NULL, NULL } };
    struct sl_plugin_option junk[] = { { "distance", "8x" }, { NULL, NULL } };
    struct sl_plugin_option unknown[] = { { "radius", "3" }, { NULL, NULL } };
    uint64_t h = 42;
    void *st = NULL;
    char name[16];
    int i;

    (void)unused;
    assert_int_equal(p->init(&host, far, &st), -EINVAL);
    assert_non_null(strstr(last_log, "distance"));
    assert_int_equal(p->init(&host, junk, &st), -EINVAL);
    assert_int_equal(p->init(&host, unknown, &st), -EINVAL);
    assert_null(st);
    assert_int_equal(p->init(&host, NULL, &st), 0);     /* all defaults */

    assert_int_equal(p->hashbank(st, "bad name", &h, 1, NULL, 0), -EINVAL);
    assert_int_equal(p->hashbank(st, "", &h, 1, NULL, 0), -EINVAL);
    assert_int_equal(p->hashbank(st, "nobank", NULL, 0, &h, 1), 0);
    for (i = 0; i < 64; i++) {
        snprintf(name, sizeof(name), "bank%d", i);
        assert_int_equal(p->hashbank(st, name, &h, 1, NULL, 0), 0);
    }
    assert_int_equal(p->hashbank(st, "one-too-many", &h, 1, NULL, 0), -ENOSPC);
    /* emptying a bank frees its slot */
    assert_int_equal(p->hashbank(st, "bank7", NULL, 0, &h, 1), 0);
    assert_int_equal(p->hashbank(st, "one-too-many", &h, 1, NULL, 0), 0);
    p->fini(st);
}

/* }====== */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_only_descriptor_exported, teardown),
        cmocka_unit_test_teardown(test_keyword_tags_and_matches, teardown),
        cmocka_unit_test_teardown(test_keyword_cap_and_fields, teardown),
        cmocka_unit_test_teardown(test_keyword_review, teardown),
        cmocka_unit_test_teardown(test_keyword_reload_keeps_old_on_error, teardown),
        cmocka_unit_test_teardown(test_keyword_bad_options, teardown),
        cmocka_unit_test_teardown(test_phash_matches, teardown),
        cmocka_unit_test_teardown(test_phash_distance_confidence, teardown),
        cmocka_unit_test_teardown(test_phash_bad_input, teardown),
    };

    return cmocka_run_group_tests(tests, kw_setup, kw_teardown);
}
