/* SPDX-License-Identifier: MIT */
/* The plugin loader: ABI checks, options, hooks in order, failures. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/conf.h"
#include "lib/item.h"
#include "policy/plugin.h"

static char path[4096];

static const char *so(const char *name)
{
    const char *b = getenv("SLUICE_BUILDDIR");
    snprintf(path, sizeof(path), "%s/tests/plugins/.libs/%s.so", b ? b : ".", name);
    return path;
}

static void refuse(const char *name, int expect_rc, const char *want1, const char *want2)
{
    struct sl_plugin p;
    void *h = NULL;
    char err[1024] = "";
    int rc = sl_plugin_open(so(name), &p, &h, err, sizeof(err));
    assert_int_equal(rc, expect_rc);
    assert_null(h);
    assert_non_null(strstr(err, want1));
    if (want2)
        assert_non_null(strstr(err, want2));
}

static void wrong_major_refused(void **state)
{
    (void)state;
    refuse("abi_major2", -EPROTO, "plugin ABI 2.0", "speaks ABI 1.0");
}

static void newer_minor_refused(void **state)
{
    (void)state;
    refuse("abi_minor1", -EPROTO, "plugin ABI 1.1", "speaks ABI 1.0");
}

static void missing_file_refused(void **state)
{
    (void)state;
    refuse("no_such_plugin", -ENOENT, "no_such_plugin", NULL);
}

static void good_plugin_runs(void **state)
{
    struct sl_config cfg;
    struct sl_plugins *ps = NULL;
    char err[1024] = "";
    (void)state;

    sl_config_defaults(&cfg);
    cfg.nplugins = 1;
    cfg.plugins[0].name = strdup("abi_good");
    cfg.plugins[0].path = strdup(so("abi_good"));
    assert_int_equal(sl_plugins_load(&cfg, &ps, err, sizeof(err)), 0);

    json_t *up = json_pack("{s:s, s:s, s:s}", "id", "i1", "creator", "c1",
                           "title", "a plugin-reject title");
    struct sl_item *item = sl_item_new(up);
    json_decref(up);
    assert_non_null(item);
    assert_int_equal(sl_plugins_tag(ps, item, err, sizeof(err)), 0);
    json_t *tag = json_object_get(item->tags, "abi.good");
    assert_non_null(tag);
    assert_string_equal(json_string_value(json_object_get(tag, "source")), "abi_good");
    assert_int_equal(sl_plugins_review(ps, item, err, sizeof(err)), 0);
    assert_int_equal(json_array_size(item->plugin_verdicts), 1);
    json_t *v = json_array_get(item->plugin_verdicts, 0);
    assert_string_equal(json_string_value(json_object_get(v, "verdict")), "reject");
    assert_string_equal(json_string_value(json_object_get(v, "plugin")), "abi_good");

    json_t *desc = sl_plugins_describe(ps);
    assert_int_equal(json_array_size(desc), 1);
    json_decref(desc);
    sl_item_free(item);
    sl_plugins_free(ps);
    sl_config_clear(&cfg);
}

static void load_failure_names_plugin(void **state)
{
    struct sl_config cfg;
    struct sl_plugins *ps = NULL;
    char err[1024] = "";
    (void)state;

    sl_config_defaults(&cfg);
    cfg.nplugins = 2;
    cfg.plugins[0].name = strdup("abi_good");
    cfg.plugins[0].path = strdup(so("abi_good"));
    cfg.plugins[1].name = strdup("abi_major2");
    cfg.plugins[1].path = strdup(so("abi_major2"));
    assert_int_equal(sl_plugins_load(&cfg, &ps, err, sizeof(err)), -EPROTO);
    assert_null(ps);
    assert_non_null(strstr(err, "plugin 'abi_major2'"));
    sl_config_clear(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wrong_major_refused),
        cmocka_unit_test(newer_minor_refused),
        cmocka_unit_test(missing_file_refused),
        cmocka_unit_test(good_plugin_runs),
        cmocka_unit_test(load_failure_names_plugin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
