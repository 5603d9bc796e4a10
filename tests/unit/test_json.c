/* SPDX-License-Identifier: MIT */
/* Strict JSON parsing, the field readers, ids, canonical text and sl_error_set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/json.h"
#include "lib/json_internal.h"
#include "lib/text.h"

/* ====== helpers ====== */

static json_t *parse_ok(const char *buf, size_t len, bool want_object)
{
    struct sl_error err;
    json_t *v = sl_json_parse(buf, len, want_object, &err);

    if (v == NULL)
        fail_msg("refused %.*s: %s", (int)len, buf, err.message);
    return v;
}

/* Refused as bad_json, and the message contains each of want (may be NULL). */
static void parse_bad(const char *buf, size_t len, bool want_object,
                      const char *want, const char *want2)
{
    struct sl_error err;
    json_t *v = sl_json_parse(buf, len, want_object, &err);

    if (v != NULL)
        fail_msg("accepted %.*s", (int)len, buf);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.code, "bad_json");
    assert_string_equal(err.field, "");
    if (strstr(err.message, want) == NULL || (want2 && strstr(err.message, want2) == NULL))
        fail_msg("message \"%s\" lacks \"%s\" / \"%s\"", err.message, want,
                 want2 ? want2 : "");
}

/* Literals may hold NUL bytes, so their length comes from sizeof. */
#define OK(lit, obj) parse_ok(lit, sizeof(lit) - 1, obj)
#define BAD(lit, obj, want, want2) parse_bad(lit, sizeof(lit) - 1, obj, want, want2)

static void check_ok(const char *text, bool want_object)
{
    json_decref(parse_ok(text, strlen(text), want_object));
}

static void assert_invalid(const struct sl_error *err, const char *field, const char *message)
{
    assert_int_equal(err->status, 422);
    assert_string_equal(err->code, "invalid");
    assert_string_equal(err->field, field);
    assert_string_equal(err->message, message);
}

/* n nested arrays, or n nested objects {"k": ... 0 ...}. */
static char *nest(int n, bool objects)
{
    const char *open = objects ? "{\"k\":" : "[";
    size_t k = strlen(open);
    char *s = malloc((size_t)n * (k + 1) + 2), *p = s;

    assert_non_null(s);
    for (int i = 0; i < n; i++, p += k)
        memcpy(p, open, k);
    *p++ = '0';
    for (int i = 0; i < n; i++)
        *p++ = objects ? '}' : ']';
    *p = '\0';
    return s;
}

/* ====== sl_json_parse ====== */

static void test_valid_object(void **state)
{
    json_t *v = OK(" {\"title\": \"t\u00e9\", \"n\": -3, \"x\": {\"a\": [1, 2.5, null, true]}}\r\n\t", true);

    assert_true(json_is_object(v));
    assert_string_equal(json_string_value(json_object_get(v, "title")), "t\xc3\xa9");
    assert_int_equal(json_integer_value(json_object_get(v, "n")), -3);
    assert_int_equal(json_array_size(json_object_get(json_object_get(v, "x"), "a")), 4);
    json_decref(v);
}

static void test_trailing_garbage(void **state)
{
    BAD("{} x", true, "line 1, column 4", "end of file expected");
    BAD("{\"a\": 1}\n{}", true, "line 2, column 1", NULL);
    BAD("{},", true, "line 1, column 3", NULL);
    BAD("1 2", false, "line 1, column 3", NULL);
}

static void test_syntax_errors_name_position(void **state)
{
    BAD("{\n  \"a\": 1,\n  \"b\": }", true, "line 3, column 8", NULL);
    BAD("{\"a\": tru}", true, "line 1", NULL);
    BAD("{'a': 1}", true, "line 1, column 2", NULL);
    BAD("{\"a\": NaN}", true, "line 1", NULL);
    BAD("{\"a\": 1,}", true, "line 1", NULL);
}

static void test_invalid_utf8(void **state)
{
    BAD("{\"a\": \"\xc0\xaf\"}", true, "unable to decode byte 0xc0", NULL);      /* overlong '/' */
    BAD("{\"a\": \"\xe0\x80\xaf\"}", true, "unable to decode byte 0xe0", NULL);  /* overlong, 3 bytes */
    BAD("{\"a\": \"x\x80\"}", true, "unable to decode byte 0x80", NULL);        /* lone continuation */
    BAD("{\"a\": \"\xed\xa0\x80\"}", true, "unable to decode byte 0xed", NULL);  /* U+D800 encoded */
    BAD("{\"a\": \"\xf4\x90\x80\x80\"}", true, "unable to decode", NULL);       /* above U+10FFFF */
    BAD("{\"a\": \"\xe2\x82\"}", true, "unable to decode", NULL);               /* cut short */
    BAD("{\"\xff\": 1}", true, "unable to decode byte 0xff", NULL);             /* in a key */
    BAD("{\"a\": \"\\ud800\"}", true, "invalid Unicode", NULL);                 /* lone escaped surrogate */
}

static void test_valid_utf8(void **state)
{
    json_t *v = OK("{\"a\": \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\", \"b\": \"\\ud83d\\ude00\"}", true);

    assert_string_equal(json_string_value(json_object_get(v, "a")),
                        "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    assert_string_equal(json_string_value(json_object_get(v, "b")), "\xf0\x9f\x98\x80");
    json_decref(v);
}

static void test_escaped_nul(void **state)
{
    BAD("{\"a\": \"x\\u0000y\"}", true, "line 1", "\\u0000");
    BAD("{\"a\\u0000\": 1}", true, "line 1", "NUL");
}

static void test_raw_nul(void **state)
{
    BAD("{\"a\": \"x\0y\"}", true, "line 1, column 9", "NUL byte");
    BAD("{\"a\": 1}\0", true, "line 1, column 9", "NUL byte");
    BAD("{\"\xc3\xa9\": \"x\0\"}", true, "line 1, column 9", NULL);   /* columns count characters */
    BAD("{\n\0}", true, "line 2, column 1", "NUL byte");
    BAD("1\0", false, "line 1, column 2", "NUL byte");      /* jansson alone accepts this */
    BAD("\0", false, "line 1, column 1", "NUL byte");
}

static void test_duplicate_keys(void **state)
{
    BAD("{\"a\": 1, \"a\": 2}", true, "duplicate", NULL);
    BAD("{\"a\": 1, \"\\u0061\": 2}", true, "duplicate", NULL);
    BAD("{\"o\": {\"k\": 1, \"k\": 1}}", true, "duplicate", NULL);
    check_ok("{\"o\": {\"k\": 1}, \"p\": {\"k\": 1}, \"k\": 1}", true);
}

static void test_depth(void **state)
{
    for (int objects = 0; objects <= 1; objects++) {
        char *ok = nest(SL_JSON_MAX_DEPTH, objects);
        char *deep = nest(SL_JSON_MAX_DEPTH + 1, objects);
        char where[32];

        /* The refusal names the 33rd opening bracket. */
        snprintf(where, sizeof where, "column %d", SL_JSON_MAX_DEPTH * (objects ? 5 : 1) + 1);
        check_ok(ok, objects);
        parse_bad(deep, strlen(deep), objects, "nesting deeper than 32 levels", where);
        free(ok);
        free(deep);
    }
}

static void test_depth_mixed(void **state)
{
    /* 16 objects holding 16 arrays is 32; one more array is 33. */
    check_ok("{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
             "[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]}}}}}}}}}}}}}}}}", true);
    BAD("{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
        "[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]}}}}}}}}}}}}}}}}", true, "nesting", NULL);
}

static void test_depth_counts_open_containers(void **state)
{
    /* Two siblings 31 deep inside one array: 63 brackets opened, depth 32. */
    char *inner = nest(SL_JSON_MAX_DEPTH - 1, false);
    char *pair = malloc(2 * strlen(inner) + 4);

    assert_non_null(pair);
    sprintf(pair, "[%s,%s]", inner, inner);
    check_ok(pair, false);
    free(pair);
    free(inner);
}

static void test_brackets_in_strings(void **state)
{
    check_ok("{\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\": "
             "\"{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{[[[[[\"}", true);
    /* An escaped quote does not end the string... */
    check_ok("{\"a\": \"\\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}", true);
    /* ...but an escaped backslash does not escape the quote after it, so the
     * 32 arrays that follow count, and with the object make 33. */
    BAD("{\"a\": \"\\\\\", \"b\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
        "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", true, "nesting", NULL);
    check_ok("{\"a\": \"\\\\\", \"b\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
             "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", true);
}

static void test_top_level(void **state)
{
    BAD("[1]", true, "line 1, column 1", "expected an object");
    BAD("\n  \"x\"", true, "line 2, column 3", "expected an object");
    BAD("", true, "line 1, column 1", "no value");
    BAD(" \n ", false, "line 2, column 2", "no value");
    check_ok(" \r\n{}", true);
    check_ok("[1]", false);
    check_ok("\"x\"", false);
    check_ok("null", false);
}

static void test_empty_null_buffer(void **state)
{
    struct sl_error err;

    assert_null(sl_json_parse(NULL, 0, true, &err));
    assert_int_equal(err.status, 400);
    assert_string_equal(err.code, "bad_json");
}

/* ====== field readers ====== */

static json_t *fields(void)
{
    return OK("{\"title\": \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\", \"num\": 7, \"real\": 7.0,"
              " \"big\": 9223372036854775807, \"neg\": -5, \"flag\": true, \"nil\": null,"
              " \"id\": \"user-1@x.y:z_9\", \"badid\": \".hidden\", \"arr\": [], \"str\": \"7\"}",
              true);
}

static void test_get_string(void **state)
{
    json_t *o = fields();
    struct sl_error err;
    const char *s = "untouched";

    /* Three characters in nine bytes: the limit counts characters. */
    assert_int_equal(sl_json_get_string(o, "title", true, 3, &s, &err), 0);
    assert_string_equal(s, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    assert_int_equal(sl_json_get_string(o, "title", true, 2, &s, &err), -EINVAL);
    assert_invalid(&err, "title", "title must be at most 2 characters long.");

    s = "untouched";
    assert_int_equal(sl_json_get_string(o, "missing", false, 10, &s, &err), SL_ABSENT);
    assert_int_equal(sl_json_get_string(o, "nil", false, 10, &s, &err), SL_ABSENT);
    assert_string_equal(s, "untouched");

    assert_int_equal(sl_json_get_string(o, "missing", true, 10, &s, &err), -EINVAL);
    assert_invalid(&err, "missing", "missing is required.");
    assert_int_equal(sl_json_get_string(o, "nil", true, 10, &s, &err), -EINVAL);
    assert_invalid(&err, "nil", "nil is required.");

    assert_int_equal(sl_json_get_string(o, "num", true, 10, &s, &err), -EINVAL);
    assert_invalid(&err, "num", "num must be a string.");
    assert_int_equal(sl_json_get_string(o, "arr", false, 10, &s, &err), -EINVAL);
    assert_invalid(&err, "arr", "arr must be a string.");
    assert_string_equal(s, "untouched");
    json_decref(o);
}

static void test_get_id(void **state)
{
    json_t *o = fields();
    struct sl_error err;
    const char *s = "untouched";

    assert_int_equal(sl_json_get_id(o, "id", true, &s, &err), 0);
    assert_string_equal(s, "user-1@x.y:z_9");

    s = "untouched";
    assert_int_equal(sl_json_get_id(o, "badid", true, &s, &err), -EINVAL);
    assert_invalid(&err, "badid", "badid must be 1 to 128 characters of A-Z a-z 0-9 _ - . : @, "
                                  "not starting with '.'.");
    assert_int_equal(sl_json_get_id(o, "title", true, &s, &err), -EINVAL);
    assert_string_equal(err.field, "title");
    assert_int_equal(sl_json_get_id(o, "num", true, &s, &err), -EINVAL);
    assert_string_equal(err.field, "num");
    assert_int_equal(sl_json_get_id(o, "nil", false, &s, &err), SL_ABSENT);
    assert_int_equal(sl_json_get_id(o, "missing", true, &s, &err), -EINVAL);
    assert_invalid(&err, "missing", "missing is required.");
    assert_string_equal(s, "untouched");
    json_decref(o);
}

static void test_get_int(void **state)
{
    json_t *o = fields();
    struct sl_error err;
    long long n = 42;

    assert_int_equal(sl_json_get_int(o, "real", true, 0, 10, &n, &err), -EINVAL);
    assert_invalid(&err, "real", "real must be an integer.");
    assert_int_equal(sl_json_get_int(o, "str", true, 0, 10, &n, &err), -EINVAL);
    assert_invalid(&err, "str", "str must be an integer.");
    assert_int_equal(sl_json_get_int(o, "flag", true, 0, 10, &n, &err), -EINVAL);
    assert_invalid(&err, "flag", "flag must be an integer.");
    assert_int_equal(sl_json_get_int(o, "num", true, 0, 6, &n, &err), -EINVAL);
    assert_invalid(&err, "num", "num must be between 0 and 6.");
    assert_int_equal(sl_json_get_int(o, "neg", true, 0, 10, &n, &err), -EINVAL);
    assert_invalid(&err, "neg", "neg must be between 0 and 10.");
    assert_int_equal(sl_json_get_int(o, "missing", false, 0, 10, &n, &err), SL_ABSENT);
    assert_int_equal(sl_json_get_int(o, "nil", false, 0, 10, &n, &err), SL_ABSENT);
    assert_int_equal(sl_json_get_int(o, "nil", true, 0, 10, &n, &err), -EINVAL);
    assert_invalid(&err, "nil", "nil is required.");
    assert_int_equal(n, 42);

    /* Bounds are inclusive. */
    assert_int_equal(sl_json_get_int(o, "num", true, 7, 7, &n, &err), 0);
    assert_int_equal(n, 7);
    assert_int_equal(sl_json_get_int(o, "neg", true, -5, 0, &n, &err), 0);
    assert_int_equal(n, -5);
    assert_int_equal(sl_json_get_int(o, "big", true, 0, 9223372036854775807LL, &n, &err), 0);
    assert_true(n == 9223372036854775807LL);
    json_decref(o);
}

static void test_id_valid(void **state)
{
    char id[SL_ID_MAX + 2];

    memset(id, 'a', SL_ID_MAX);
    id[SL_ID_MAX] = '\0';
    assert_true(sl_id_valid(id));
    id[SL_ID_MAX] = 'a';
    id[SL_ID_MAX + 1] = '\0';
    assert_false(sl_id_valid(id));

    assert_true(sl_id_valid("a"));
    assert_true(sl_id_valid("AZaz09_-.:@"));
    assert_true(sl_id_valid("a.b"));
    assert_true(sl_id_valid("-x"));
    assert_false(sl_id_valid(""));
    assert_false(sl_id_valid("."));
    assert_false(sl_id_valid(".a"));
    assert_false(sl_id_valid("caf\xc3\xa9"));
    assert_false(sl_id_valid("a b"));
    assert_false(sl_id_valid("a/b"));
    assert_false(sl_id_valid("a\"b"));
    assert_false(sl_id_valid("a\nb"));

    /* Every byte: the characters of ids and nothing else. */
    for (int c = 1; c < 256; c++) {
        char one[2] = { (char)c, '\0' };
        bool want = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == ':' || c == '@';
        if (sl_id_valid(one) != want)
            fail_msg("byte %d: %s", c, want ? "refused" : "accepted");
        char two[3] = { 'x', (char)c, '\0' };
        if (sl_id_valid(two) != (want || c == '.'))
            fail_msg("byte %d after x", c);
    }
}

static void test_only_keys(void **state)
{
    static const char *const allowed[] = { "id", "title", "city", NULL };
    json_t *o = OK("{\"title\": \"t\", \"id\": \"x\"}", true);
    json_t *extra = OK("{\"title\": \"t\", \"Title\": 1, \"zz\": 2}", true);
    json_t *empty = OK("{}", true);
    struct sl_error err;

    assert_int_equal(sl_json_only_keys(o, allowed, &err), 0);
    assert_int_equal(sl_json_only_keys(empty, allowed, &err), 0);
    assert_int_equal(sl_json_only_keys(extra, allowed, &err), -EINVAL);
    assert_invalid(&err, "Title", "Unknown field \"Title\".");
    json_decref(o);
    json_decref(extra);
    json_decref(empty);
}

static void test_canonical(void **state)
{
    json_t *a = OK("{\"b\": 1, \"a\": {\"d\": [1, \"x\"], \"c\": \"\xc3\xa9\"}, \"A\": null}", true);
    json_t *b = OK("{\"A\":null,\"a\":{\"c\":\"\\u00e9\",\"d\":[1,\"x\"]},\"b\":1}", true);
    char *ca = sl_json_canonical(a), *cb = sl_json_canonical(b);

    assert_string_equal(ca, "{\"A\":null,\"a\":{\"c\":\"\xc3\xa9\",\"d\":[1,\"x\"]},\"b\":1}");
    assert_string_equal(ca, cb);
    free(ca);
    free(cb);
    json_decref(a);
    json_decref(b);

    a = json_string("s");
    ca = sl_json_canonical(a);
    assert_string_equal(ca, "\"s\"");
    free(ca);
    json_decref(a);
}

/* A random JSON value: nested containers, strings with every escape and
 * multi-byte UTF-8, integers and reals of every magnitude. */
static json_t *random_value(unsigned *seed, int depth)
{
    static const char *const bits[] = { "a", "Z", "0", " ", "\"", "\\", "/", "\b", "\f",
        "\n", "\r", "\t", "\x01", "\x1f", "\x7f", "\xc3\xa9", "\xe4\xbd\xa0",
        "\xf0\x9f\x98\x80", "\xe2\x80\xa8", "key", "_" };
    int kind = rand_r(seed) % (depth < 4 ? 8 : 6);
    char text[64] = "";

    if (kind <= 1 || kind >= 6) {
        for (int i = rand_r(seed) % 6; i > 0; i--)
            strcat(text, bits[rand_r(seed) % (sizeof(bits) / sizeof(bits[0]))]);
    }
    switch (kind) {
    case 0: case 1:
        return json_string(text);
    case 2:
        return json_integer((json_int_t)rand_r(seed) * (rand_r(seed) % 2 ? -1 : 1) *
                            ((json_int_t)1 << (rand_r(seed) % 32)));
    case 3: {
        double m = (double)rand_r(seed) / RAND_MAX * (rand_r(seed) % 2 ? -1 : 1);
        return json_real(ldexp(m, rand_r(seed) % 400 - 200));
    }
    case 4:
        return rand_r(seed) % 2 ? json_true() : json_false();
    case 5:
        return json_null();
    case 6: {
        json_t *o = json_object();
        for (int i = rand_r(seed) % 5; i > 0; i--) {
            char key[80];
            snprintf(key, sizeof(key), "%s%d", text, rand_r(seed) % 3);
            json_object_set_new(o, key, random_value(seed, depth + 1));
        }
        return o;
    }
    default: {
        json_t *a = json_array();
        for (int i = rand_r(seed) % 5; i > 0; i--)
            json_array_append_new(a, random_value(seed, depth + 1));
        return a;
    }
    }
}

/* sl_json_canonical writes what jansson's sorted compact dump writes: the
 * hash of every stored upload depends on it. */
static void test_canonical_is_janssons(void **state)
{
    unsigned seed = 20261129;
    (void)state;
    for (int i = 0; i < 3000; i++) {
        json_t *v = random_value(&seed, 0);
        char *ours = sl_json_canonical(v);
        char *theirs = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        assert_non_null(ours);
        assert_non_null(theirs);
        if (strcmp(ours, theirs) != 0)
            fail_msg("value %d:\n ours   %s\n theirs %s", i, ours, theirs);
        free(ours);
        free(theirs);
        json_decref(v);
    }
    /* Objects of up to 70 members: put in order by insertion up to 32, by
     * sorting beyond. */
    for (int i = 0; i < 300; i++) {
        json_t *o = json_object();
        for (int k = i % 71; k > 0; k--) {
            char key[16];
            snprintf(key, sizeof(key), "%c%d", 'a' + rand_r(&seed) % 26, rand_r(&seed) % 100);
            json_object_set_new(o, key, random_value(&seed, 3));
        }
        char *ours = sl_json_canonical(o);
        char *theirs = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        assert_non_null(ours);
        assert_non_null(theirs);
        if (strcmp(ours, theirs) != 0)
            fail_msg("object %d:\n ours   %s\n theirs %s", i, ours, theirs);
        free(ours);
        free(theirs);
        json_decref(o);
    }
}

/* Equal, with objects' keys in the same order (what iteration shows). */
static bool same_tree(json_t *a, json_t *b)
{
    if (!json_equal(a, b))
        return false;
    if (json_is_object(a)) {
        void *ia = json_object_iter(a), *ib = json_object_iter(b);
        for (; ia && ib; ia = json_object_iter_next(a, ia), ib = json_object_iter_next(b, ib))
            if (strcmp(json_object_iter_key(ia), json_object_iter_key(ib)) != 0 ||
                !same_tree(json_object_iter_value(ia), json_object_iter_value(ib)))
                return false;
        return !ia && !ib;
    }
    if (json_is_array(a))
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!same_tree(json_array_get(a, i), json_array_get(b, i)))
                return false;
    return true;
}

/* The fast road reads what jansson reads, value for value, or declines: on
 * random documents written every way jansson writes them. */
static void test_fast_parse_is_janssons(void **state)
{
    static const size_t flags[] = { JSON_COMPACT, JSON_INDENT(2), JSON_ENSURE_ASCII,
                                    JSON_ESCAPE_SLASH | JSON_COMPACT, JSON_INDENT(1) };
    unsigned seed = 20261206;
    int taken = 0, n = 4000;
    (void)state;
    for (int i = 0; i < n; i++) {
        json_t *v = random_value(&seed, 0);
        char *text = json_dumps(v, JSON_ENCODE_ANY | flags[i % 5]);
        json_t *theirs = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
        json_t *ours = sl_json_fast_parse(text, strlen(text), false);
        assert_non_null(theirs);
        if (ours) {
            taken++;
            if (!same_tree(ours, theirs))
                fail_msg("document %d read otherwise: %s", i, text);
        }
        json_decref(ours);
        json_decref(theirs);
        json_decref(v);
        free(text);
    }
    /* Most of them take the fast road (all but \u escapes, in effect). */
    if (taken < n / 3)
        fail_msg("only %d of %d documents took the fast road", taken, n);
}

/* What it reads and what it leaves to jansson, case by case. */
static void test_fast_parse_cases(void **state)
{
    static const char *const read[] = {
        "{}", " { } ", "[]", "{\"a\":1}", "{\"a\": [1, -2, 0, -0, 1.5, -2e3, 1E-2, 5e-400]}",
        "{\"t\": true, \"f\": false, \"n\": null}", "\"x\"", "12", "-0.0",
        "{\"s\": \"caf\u00e9 \\\" \\\\ \\/ \\b\\f\\n\\r\\t\"}",
        "{\"\xe4\xbd\xa0\": \"\xf0\x9f\x98\x80\"}", "[[[[{\"a\": []}]]]]",
        "{\"big\": 999999999999999999}", "\r\n\t[1]\n",
    };
    static const char *const declined[] = {
        "", " ", "{", "}", "{\"a\":1,}", "[1,]", "{\"a\" 1}", "{\"a\":1 \"b\":2}",
        "{\"a\":1,\"a\":2}", "{\"a\":{\"b\":1,\"b\":1}}", "01", "1.", ".5", "-", "+1",
        "1e", "1x", "tru", "truex", "nul", "[1] 2", "{} x", "\"\\u0041\"", "\"\\x\"",
        "\"\x01\"", "\"a", "\"\xc3\"", "\"\xed\xa0\x80\"", "\"\xc0\xaf\"",
        "1e999", "-1e999", "1234567890123456789", "'a'", "\xef\xbb\xbf{}",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(read) / sizeof(read[0]); i++) {
        json_t *ours = sl_json_fast_parse(read[i], strlen(read[i]), false);
        json_t *theirs = json_loads(read[i], JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
        if (!ours || !theirs || !same_tree(ours, theirs))
            fail_msg("%s: not read as jansson reads it", read[i]);
        json_decref(ours);
        json_decref(theirs);
    }
    for (size_t i = 0; i < sizeof(declined) / sizeof(declined[0]); i++) {
        json_t *ours = sl_json_fast_parse(declined[i], strlen(declined[i]), false);
        if (ours)
            fail_msg("%s: read, where jansson's road should", declined[i]);
    }
    /* One NUL inside; nesting past the limit; an object asked for. */
    assert_null(sl_json_fast_parse("{\"a\":\"x\0y\"}", 11, false));
    char deep[2 * SL_JSON_MAX_DEPTH + 3];
    memset(deep, '[', SL_JSON_MAX_DEPTH + 1);
    memset(deep + SL_JSON_MAX_DEPTH + 1, ']', SL_JSON_MAX_DEPTH + 1);
    assert_null(sl_json_fast_parse(deep, 2 * (SL_JSON_MAX_DEPTH + 1), false));
    json_t *ok = sl_json_fast_parse(deep + 1, 2 * SL_JSON_MAX_DEPTH, false);
    assert_non_null(ok);
    json_decref(ok);
    assert_null(sl_json_fast_parse("[1]", 3, true));
    assert_null(sl_json_fast_parse(" 1", 2, true));
}

/* sl_json_put_g writes what printf's %.*g writes: short decimals (its way
 * without printf), their neighbours, and numbers of every magnitude. */
static void test_put_g(void **state)
{
    unsigned seed = 17;
    char ours[40], theirs[40];
    (void)state;
    for (int i = 0; i < 200000; i++) {
        int precision = 1 + rand_r(&seed) % 17;
        double v;
        switch (i % 4) {
        case 0:     /* a decimal k / 10^m */
            v = (double)(rand_r(&seed) % 2000000) / pow(10, rand_r(&seed) % 12);
            break;
        case 1:     /* the same, one ulp away */
            v = nextafter((double)(rand_r(&seed) % 100000) / pow(10, rand_r(&seed) % 8),
                          rand_r(&seed) % 2 ? 1e300 : -1e300);
            break;
        case 2:     /* anything */
            v = ldexp((double)rand_r(&seed) / RAND_MAX, rand_r(&seed) % 200 - 100);
            break;
        default:    /* halfway-looking cases: x.5 at the last digit */
            v = ((double)(rand_r(&seed) % 1000000) + 0.5) / pow(10, rand_r(&seed) % 10);
        }
        if (rand_r(&seed) % 2)
            v = -v;
        *sl_json_put_g(ours, v, precision) = '\0';
        snprintf(theirs, sizeof(theirs), "%.*g", precision, v);
        if (strcmp(ours, theirs) != 0)
            fail_msg("%.17g at precision %d: ours %s, printf %s", v, precision, ours, theirs);
    }
}

/* ... and with fewer digits to reals, what jansson writes with them. */
static void test_sorted_is_janssons(void **state)
{
    static const double nice[] = { 0, -0.0, 1, 0.7, 0.25, 0.1, 1e20, 1e-5, 123456789012.0,
                                   0.30000000000000004, 1e100, 5e-324, 1.7976931348623157e308,
                                   0.99999999999999, 9.9999999999995e-7 };
    unsigned seed = 20261205;
    (void)state;
    for (int i = 0; i < 3000 + (int)(sizeof(nice) / sizeof(nice[0])); i++) {
        json_t *v = i < 3000 ? random_value(&seed, 0) : json_real(nice[i - 3000]);
        int precision = i < 3000 ? 1 + rand_r(&seed) % 17 : 12;
        char *ours = sl_json_sorted(v, precision);
        char *theirs = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY |
                                      JSON_REAL_PRECISION(precision));
        assert_non_null(ours);
        assert_non_null(theirs);
        if (strcmp(ours, theirs) != 0)
            fail_msg("value %d, precision %d:\n ours   %s\n theirs %s", i, precision, ours,
                     theirs);
        free(ours);
        free(theirs);
        json_decref(v);
    }
    assert_null(sl_json_sorted(NULL, 12));
}

/* ====== sl_error_set ====== */

static void test_error_set(void **state)
{
    struct sl_error err;
    char longfield[300];

    assert_int_equal(sl_error_set(&err, 409, "conflict", NULL, "Item %s exists.", "v1"), -EINVAL);
    assert_int_equal(err.status, 409);
    assert_string_equal(err.code, "conflict");
    assert_string_equal(err.message, "Item v1 exists.");
    assert_string_equal(err.field, "");

    /* Truncation never leaves half a character: longfield is "x" and 149
     * two-byte characters, so one byte further on the cut splits one. */
    longfield[0] = 'x';
    for (int i = 0; i < 149; i++)
        memcpy(longfield + 1 + 2 * i, "\xc3\xa9", 2);
    longfield[299] = '\0';

    sl_error_set(&err, 422, "invalid", longfield, "%s", longfield);
    assert_int_equal(strlen(err.field), sizeof err.field - 1);
    assert_int_equal(strlen(err.message), sizeof err.message - 1);

    sl_error_set(&err, 422, "invalid", longfield + 1, "%s", longfield + 1);
    assert_int_equal(strlen(err.field), sizeof err.field - 2);
    assert_memory_equal(err.field, longfield + 1, sizeof err.field - 2);
    assert_int_equal(strlen(err.message), sizeof err.message - 2);
    assert_memory_equal(err.message, longfield + 1, sizeof err.message - 2);

    /* A sentence quoting the bytes near a JSON error (cut anywhere) is
     * still one JSON can carry: what is not UTF-8 becomes '?'. */
    sl_error_set(&err, 400, "bad_json", "a\xe2\x82", "near '\\%s' x\xff\xc0\xaf", "\xe2\x82");
    assert_string_equal(err.message, "near '\\?" "?' x???");
    assert_string_equal(err.field, "a??");
    const char *bad = "{\"t\":\"\\\xe2\x82\xac\"}";
    json_t *v = sl_json_parse(bad, strlen(bad), true, &err);
    assert_null(v);
    assert_string_equal(err.code, "bad_json");
    assert_true(sl_utf8_valid(err.message, strlen(err.message)));
}

/* Quote s, check the text fits the promised bound, and read it back with
 * jansson; returns the string jansson read (freed by the caller). */
static char *quote_roundtrip(const char *s)
{
    size_t cap = SL_JSON_QUOTED_MAX(strlen(s));
    char *buf = malloc(cap + 1);
    assert_non_null(buf);
    char *end = sl_json_put_string(buf, s);
    assert_true((size_t)(end - buf) <= cap);
    *end = '\0';

    json_error_t jerr;
    json_t *v = json_loads(buf, JSON_DECODE_ANY, &jerr);
    if (v == NULL)
        fail_msg("jansson refused %s: %s", buf, jerr.text);
    assert_true(json_is_string(v));
    char *out = strdup(json_string_value(v));
    json_decref(v);
    free(buf);
    return out;
}

static void test_put_string(void **state)
{
    static const char *const same[] = {
        "", "plain", "quote \" and backslash \\", "\x01\x1f\n\t\x7f",
        "caf\xc3\xa9 \xe5\xbf\xab\xe6\x89\x8b \xf0\x9f\x8e\xac",   /* 2-, 3-, 4-byte */
        "\xef\xbf\xbd already a replacement",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        char *got = quote_roundtrip(same[i]);
        assert_string_equal(got, same[i]);
        free(got);
    }

    /* Bytes that are not UTF-8 each become U+FFFD; the rest is kept. */
    static const struct { const char *in, *want; } bad[] = {
        { "a\xff", "a\xef\xbf\xbd" },
        { "cut \xe5\xbf", "cut \xef\xbf\xbd\xef\xbf\xbd" },          /* truncated */
        { "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },                   /* overlong */
        { "\xed\xa0\x80x", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx" },  /* surrogate */
        { "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *got = quote_roundtrip(bad[i].in);
        assert_string_equal(got, bad[i].want);
        free(got);
    }

    /* The worst case is what the bound is for. */
    char worst[64];
    memset(worst, 0x01, sizeof(worst) - 1);
    worst[sizeof(worst) - 1] = '\0';
    free(quote_roundtrip(worst));
}

static void test_put_int(void **state)
{
    static const long long v[] = { 0, 7, -7, 10, 1234567890123LL, -9223372036854775807LL - 1,
                                   9223372036854775807LL };
    char buf[32];
    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char want[32];
        *sl_json_put_int(buf, v[i]) = '\0';
        snprintf(want, sizeof(want), "%lld", v[i]);
        assert_string_equal(buf, want);
    }
}

/* NDJSON bodies: blank lines (white space, CR) skipped and counted, the
 * last line with or without its newline, the line bound and its 413, a
 * line's error renamed to name the line. */
static void test_ndjson(void **state)
{
    (void)state;
    static const char body[] = "{\"a\":1}\n\n \t\r\n{\"b\":2}\r\n{\"c\":3}";
    struct sl_ndjson it;
    struct sl_error err = { 0 };
    const char *p, *stop;
    size_t lines;

    assert_int_equal(sl_ndjson_begin(&it, body, sizeof(body) - 1, 10, "things", &lines, &err), 0);
    assert_int_equal(lines, 5);
    assert_true(sl_ndjson_next(&it, &p, &stop));
    assert_int_equal(it.line, 1);
    assert_int_equal(stop - p, 7);
    assert_memory_equal(p, "{\"a\":1}", 7);
    assert_true(sl_ndjson_next(&it, &p, &stop));
    assert_int_equal(it.line, 4);
    assert_memory_equal(p, "{\"b\":2}\r", 8);
    assert_int_equal(stop - p, 8);
    assert_true(sl_ndjson_next(&it, &p, &stop));
    assert_int_equal(it.line, 5);
    assert_int_equal(stop - p, 7);
    assert_false(sl_ndjson_next(&it, &p, &stop));
    assert_false(sl_ndjson_next(&it, &p, &stop));

    /* Nothing, or blank lines only: no line. */
    assert_int_equal(sl_ndjson_begin(&it, "", 0, 10, "things", &lines, &err), 0);
    assert_int_equal(lines, 1);
    assert_false(sl_ndjson_next(&it, &p, &stop));
    assert_int_equal(sl_ndjson_begin(&it, "\n \n", 3, 10, "things", &lines, &err), 0);
    assert_false(sl_ndjson_next(&it, &p, &stop));

    /* At most max lines: max newlines pass (max + 1 bound), one more not. */
    assert_int_equal(sl_ndjson_begin(&it, "\n\n\n", 3, 3, "things", &lines, &err), 0);
    assert_int_equal(sl_ndjson_begin(&it, "\n\n\n\n", 4, 3, "things", &lines, &err), -EINVAL);
    assert_int_equal(err.status, 413);
    assert_string_equal(err.code, "too_large");
    assert_string_equal(err.message, "A batch may hold at most 3 things.");

    sl_error_set(&err, 422, "invalid", "user", "user must be an id.");
    sl_ndjson_name_line(&err, 7);
    assert_int_equal(err.status, 422);
    assert_string_equal(err.field, "line 7");
    assert_string_equal(err.message, "line 7: user: user must be an id.");
    sl_error_set(&err, 400, "bad_json", NULL, "Invalid JSON.");
    sl_ndjson_name_line(&err, 2);
    assert_string_equal(err.field, "line 2");
    assert_string_equal(err.message, "line 2: Invalid JSON.");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_object),
        cmocka_unit_test(test_trailing_garbage),
        cmocka_unit_test(test_syntax_errors_name_position),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_valid_utf8),
        cmocka_unit_test(test_escaped_nul),
        cmocka_unit_test(test_raw_nul),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_depth_mixed),
        cmocka_unit_test(test_depth_counts_open_containers),
        cmocka_unit_test(test_brackets_in_strings),
        cmocka_unit_test(test_top_level),
        cmocka_unit_test(test_empty_null_buffer),
        cmocka_unit_test(test_get_string),
        cmocka_unit_test(test_get_id),
        cmocka_unit_test(test_get_int),
        cmocka_unit_test(test_id_valid),
        cmocka_unit_test(test_only_keys),
        cmocka_unit_test(test_canonical),
        cmocka_unit_test(test_canonical_is_janssons),
        cmocka_unit_test(test_sorted_is_janssons),
        cmocka_unit_test(test_put_g),
        cmocka_unit_test(test_fast_parse_is_janssons),
        cmocka_unit_test(test_fast_parse_cases),
        cmocka_unit_test(test_error_set),
        cmocka_unit_test(test_put_string),
        cmocka_unit_test(test_put_int),
        cmocka_unit_test(test_ndjson),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
