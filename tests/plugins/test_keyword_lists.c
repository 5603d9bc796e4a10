/* SPDX-License-Identifier: MIT */
/* Keyword list files: header, comments, errors with file and line, directories. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <cmocka.h>

#include "lists.h"

static char err[512];

static int parse(struct kw_set *set, const char *name, const char *text)
{
    char file[128];

    snprintf(file, sizeof(file), "%s.list", name);
    err[0] = '\0';
    return kw_set_parse(set, name, file, text, strlen(text), err, sizeof(err));
}

/* The error must name the file and line, e.g. "bad.list:3: ...". */
static void expect_error(const char *text, const char *where, const char *what)
{
    struct kw_set *set = kw_set_new();

    assert_non_null(set);
    assert_int_equal(parse(set, "bad", text), -EINVAL);
    if (strncmp(err, where, strlen(where)) != 0 || !strstr(err, what))
        fail_msg("error \"%s\", expected \"%s\" and \"%s\"", err, where, what);
    kw_set_free(set);
}

static void test_header_comments_and_words(void **unused)
{
    struct kw_set *set = kw_set_new();

    (void)unused;
    assert_non_null(set);
    assert_int_equal(parse(set, "spam",
                           "\xEF\xBB\xBF# sample list\r\n"
                           "\n"
                           "#! tag=spam.text severity=0.8\r\n"
                           "  free money  \r\n"
                           "# a comment\n"
                           "FREE MONEY\n"           /* same word folded: once */
                           "\t赌博\n"
                           "click here"),           /* no final newline */
                     0);
    assert_int_equal(set->nlists, 1);
    assert_string_equal(set->lists[0].name, "spam");
    assert_string_equal(set->lists[0].tag, "spam.text");
    assert_true(set->lists[0].severity == 0.8);
    assert_int_equal(set->lists[0].nwords, 3);
    assert_int_equal(set->nwords, 3);
    assert_string_equal(set->words[0], "free money");
    assert_string_equal(set->words[1], "赌博");
    assert_string_equal(set->words[2], "click here");

    /* a second list: defaults, and the same word counts again there */
    assert_int_equal(parse(set, "other", "free money\n"), 0);
    assert_string_equal(set->lists[1].tag, "keyword.other");
    assert_true(set->lists[1].severity == KW_DEFAULT_SEVERITY);
    assert_int_equal(set->nwords, 4);
    assert_int_equal(ac_value(set->ac, 3), 1);
    assert_int_equal(parse(set, "other", "x\n"), -EINVAL);
    assert_non_null(strstr(err, "twice"));
    kw_set_free(set);
    kw_set_free(NULL);
}

static void test_errors_name_file_and_line(void **unused)
{
    char longword[AC_MAX_PATTERN + 16];

    (void)unused;
    expect_error("ok\n# fine\nbad \xC3\x28 word\n", "bad.list:3:", "invalid UTF-8");
    expect_error("# comment \xFF\n", "bad.list:1:", "invalid UTF-8");
    expect_error("#! severity=1.5\n", "bad.list:1:", "severity");
    expect_error("#! severity=abc\n", "bad.list:1:", "severity");
    expect_error("#! severity=nan\n", "bad.list:1:", "severity");
    expect_error("\n#! colour=red\n", "bad.list:2:", "unknown header key");
    expect_error("#! tag\n", "bad.list:1:", "key=value");
    expect_error("#! tag=has/slash\n", "bad.list:1:", "tag");
    expect_error("#! tag=.dot\n", "bad.list:1:", "tag");
    expect_error("word\n#! tag=late\n", "bad.list:2:", "before the first keyword");
    expect_error("#! tag=a\n#! tag=b\n", "bad.list:2:", "second header");
    expect_error("a\nb\x01" "c\n", "bad.list:2:", "control character");
    memset(longword, 'w', AC_MAX_PATTERN + 1);
    strcpy(longword + AC_MAX_PATTERN + 1, "\n");
    expect_error(longword, "bad.list:1:", "longer than");
}

static void test_bad_list_name(void **unused)
{
    struct kw_set *set = kw_set_new();

    (void)unused;
    assert_int_equal(parse(set, "has space", "x\n"), -EINVAL);
    assert_non_null(strstr(err, "list name"));
    kw_set_free(set);
}

/* {====== Directories ====== */

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void remove_file(const char *dir, const char *name)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    unlink(path);
}

static void test_load_dir(void **unused)
{
    char dir[] = "kwlists.XXXXXX";
    struct kw_set *set = NULL;

    (void)unused;
    assert_non_null(mkdtemp(dir));
    write_file(dir, "b.list", "#! tag=bee\nbuzz\n");
    write_file(dir, "a.list", "apple\n");
    write_file(dir, "notes.txt", "\xFF not a list\n");
    write_file(dir, ".hidden.list", "\xFF skipped\n");
    assert_int_equal(kw_set_load(dir, &set, err, sizeof(err)), 0);
    assert_int_equal(set->nlists, 2);
    assert_string_equal(set->lists[0].name, "a");     /* name order */
    assert_string_equal(set->lists[1].name, "b");
    assert_string_equal(set->lists[1].tag, "bee");
    kw_set_free(set);

    write_file(dir, "c.list", "fine\n\xC3\xA9t\xC3\n");
    set = NULL;
    assert_int_equal(kw_set_load(dir, &set, err, sizeof(err)), -EINVAL);
    assert_null(set);
    assert_non_null(strstr(err, "c.list:2: invalid UTF-8"));

    remove_file(dir, "a.list");
    remove_file(dir, "b.list");
    remove_file(dir, "c.list");
    remove_file(dir, "notes.txt");
    remove_file(dir, ".hidden.list");
    assert_int_equal(kw_set_load(dir, &set, err, sizeof(err)), 0);
    assert_int_equal(set->nlists, 0);   /* an empty directory matches nothing */
    kw_set_free(set);
    assert_int_equal(rmdir(dir), 0);

    set = NULL;
    assert_int_equal(kw_set_load(dir, &set, err, sizeof(err)), -ENOENT);
    assert_null(set);
    assert_non_null(strstr(err, dir));
}

static int count_hit(void *ud, uint32_t id, uint32_t value, size_t off, size_t len)
{
    (void)id;
    (void)value;
    (void)off;
    (void)len;
    ++*(int *)ud;
    return 0;
}

static void test_shipped_lists(void **unused)
{
    const char *src = getenv("SLUICE_SRCDIR");
    const char *text = "加我微信 for FREE MONEY";
    struct kw_set *set = NULL;
    char dir[1024];
    int hits = 0;

    (void)unused;
    if (!src)
        src = "..";
    snprintf(dir, sizeof(dir), "%s/policies/keywords", src);
    if (kw_set_load(dir, &set, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_true(set->nlists >= 2);
    assert_int_equal(ac_scan(set->ac, text, strlen(text), count_hit, &hits), 0);
    assert_int_equal(hits, 2);
    kw_set_free(set);
}

/* }====== */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_comments_and_words),
        cmocka_unit_test(test_errors_name_file_and_line),
        cmocka_unit_test(test_bad_list_name),
        cmocka_unit_test(test_load_dir),
        cmocka_unit_test(test_shipped_lists),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
