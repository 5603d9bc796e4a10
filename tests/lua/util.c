/* SPDX-License-Identifier: MIT */
/* Helpers the Lua runtime tests share: fixtures, probes, items, scratch folders. */
#define _POSIX_C_SOURCE 200809L
#include "util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *fixture(const char *name)
{
    static char path[4096];
    const char *top = getenv("SLUICE_SRCDIR");

    if (snprintf(path, sizeof path, "%s/tests/lua/%s", top ? top : SL_TEST_TOP_SRCDIR, name)
        >= (int)sizeof path)
        fail_msg("path too long");
    return path;
}

struct sl_lua *load_fixture(const char *name, const struct sl_lua_limits *limits)
{
    char err[ERRLEN];
    struct sl_lua *sl = sl_lua_new(limits);
    int rc;

    assert_non_null(sl);
    rc = sl_lua_load_dir(sl, fixture(name), err, sizeof err);
    if (rc != 0)
        fail_msg("loading %s: %d %s", name, rc, err);
    return sl;
}

struct sl_lua *load_patient(long long instructions)
{
    struct sl_lua_limits limits = { .time_ms = PATIENT_MS, .instructions = (uint64_t)instructions };

    return load_fixture("policies-probe", &limits);
}

int probe(struct sl_lua *sl, const char *code, json_t **out, char *err)
{
    json_t *arg = json_string(code);
    json_t *res = NULL;
    int rc;

    assert_non_null(arg);
    err[0] = '\0';
    rc = sl_lua_call_json(sl, "probe", NULL, &arg, 1, &res, err, ERRLEN);
    json_decref(arg);
    if (rc == 0)
        assert_non_null(res);
    else
        assert_null(res);
    if (out != NULL)
        *out = res;
    else
        json_decref(res);
    return rc;
}

json_t *probe_ok(struct sl_lua *sl, const char *code)
{
    char err[ERRLEN];
    json_t *res;
    int rc = probe(sl, code, &res, err);

    if (rc != 0)
        fail_msg("probe %s: %d %s", code, rc, err);
    return res;
}

void probe_fails(struct sl_lua *sl, const char *code, int want_rc, const char *want)
{
    char err[ERRLEN];
    int rc = probe(sl, code, NULL, err);

    if (rc != want_rc)
        fail_msg("probe %s: rc %d, wanted %d (%s)", code, rc, want_rc, err);
    if (want != NULL && strstr(err, want) == NULL)
        fail_msg("probe %s: error \"%s\" lacks \"%s\"", code, err, want);
    assert_usable(sl);
}

void set_hook(struct sl_lua *sl, const char *name, const char *code)
{
    json_t *args[2] = { json_string(name), code ? json_string(code) : json_null() };
    json_t *res = NULL;
    char err[ERRLEN];
    int rc = sl_lua_call_json(sl, "set_hook", NULL, args, 2, &res, err, sizeof err);

    if (rc != 0)
        fail_msg("set_hook %s: %s", name, err);
    json_decref(args[0]);
    json_decref(args[1]);
    json_decref(res);
}

void assert_usable(struct sl_lua *sl)
{
    json_t *res = probe_ok(sl, "local t = {} for i = 1, 100 do t[i] = i end return #t * 2");

    assert_true(json_is_integer(res));
    assert_int_equal(json_integer_value(res), 200);
    json_decref(res);
}

struct sl_item *make_item(const char *text)
{
    json_error_t jerr;
    json_t *upload = json_loads(text, 0, &jerr);
    struct sl_item *item;

    if (upload == NULL)
        fail_msg("bad test JSON: %s", jerr.text);
    item = sl_item_new(upload);
    json_decref(upload);
    assert_non_null(item);
    return item;
}

char *temp_dir(void)
{
    char *dir = strdup("lua-tmp-XXXXXX");

    assert_non_null(dir);
    assert_non_null(mkdtemp(dir));
    return dir;
}

void write_file(const char *dir, const char *name, const char *text)
{
    char path[1024];
    FILE *f;

    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        fail_msg("path too long");
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

void copy_fixture_file(const char *dir, const char *fixture_name, const char *name)
{
    char path[4096], text[65536];
    size_t n;
    FILE *f;

    if (snprintf(path, sizeof path, "%s/%s", fixture(fixture_name), name) >= (int)sizeof path)
        fail_msg("path too long");
    f = fopen(path, "rb");
    assert_non_null(f);
    n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    write_file(dir, name, text);
}

void remove_dir(char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[1024];

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path)
            fail_msg("path too long");
        assert_int_equal(unlink(path), 0);
    }
    closedir(d);
    assert_int_equal(rmdir(dir), 0);
    free(dir);
}
