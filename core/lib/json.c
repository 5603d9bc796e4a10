/* SPDX-License-Identifier: MIT */
/* Strict JSON parsing and the field readers that validate request bodies. */
#include "lib/json.h"

#include <stdlib.h>
#include <string.h>

#include "lib/text.h"

#define STR(x) #x
#define XSTR(x) STR(x)

static int bad_json(struct sl_error *err, size_t line, size_t column, const char *what)
{
    return sl_error_set(err, 400, "bad_json", NULL,
                        "Invalid JSON at line %zu, column %zu: %s.", line, column, what);
}

static bool json_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * One pass over the bytes before jansson sees them. Jansson allows nesting
 * up to 2048 and in places takes a raw NUL for the end of the input ("1\0"
 * parses as 1), so both are refused here. Columns count characters, as
 * jansson's do.
 */
static int prescan(const char *buf, size_t len, bool want_object, struct sl_error *err)
{
    size_t line = 1, column = 0;
    int depth = 0;
    bool in_string = false, escaped = false, seen_value = false;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];

        if (c == '\n') {
            line++;
            column = 0;
        } else if ((c & 0xC0) != 0x80) {
            column++;
        }
        if (c == '\0')
            return bad_json(err, line, column, "a NUL byte is not allowed");

        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (!seen_value && !json_space(c)) {
            seen_value = true;
            if (want_object && c != '{')
                return bad_json(err, line, column, "expected an object");
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > SL_JSON_MAX_DEPTH)
                return bad_json(err, line, column,
                                "nesting deeper than " XSTR(SL_JSON_MAX_DEPTH) " levels");
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    if (!seen_value)
        return bad_json(err, line, column + 1, "no value");
    return 0;
}

json_t *sl_json_parse(const char *buf, size_t len, bool want_object,
                      struct sl_error *err)
{
    json_error_t jerr;
    json_t *v;

    if (prescan(buf, len, want_object, err) < 0)
        return NULL;
    /* Without JSON_ALLOW_NUL jansson refuses \u0000, and it always refuses
     * invalid UTF-8 (overlong forms, surrogates, stray continuation bytes). */
    v = json_loadb(buf, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (v == NULL)
        bad_json(err, (size_t)jerr.line, (size_t)jerr.column, jerr.text);
    return v;
}

/* Characters, not bytes: the input is known to be valid UTF-8. */
static size_t utf8_length(const char *s, size_t bytes)
{
    size_t n = 0;

    for (size_t i = 0; i < bytes; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

/* The value of key, or NULL with *rc set when it is missing; null counts as missing. */
static json_t *lookup(json_t *obj, const char *key, bool required, int *rc,
                      struct sl_error *err)
{
    json_t *v = json_object_get(obj, key);

    if (v != NULL && !json_is_null(v))
        return v;
    *rc = required ? sl_error_set(err, 422, "invalid", key, "%s is required.", key)
                   : SL_ABSENT;
    return NULL;
}

int sl_json_get_string(json_t *obj, const char *key, bool required,
                       size_t max_len, const char **out, struct sl_error *err)
{
    int rc;
    json_t *v = lookup(obj, key, required, &rc, err);

    if (v == NULL)
        return rc;
    if (!json_is_string(v))
        return sl_error_set(err, 422, "invalid", key, "%s must be a string.", key);
    if (utf8_length(json_string_value(v), json_string_length(v)) > max_len)
        return sl_error_set(err, 422, "invalid", key,
                            "%s must be at most %zu characters long.", key, max_len);
    *out = json_string_value(v);
    return 0;
}

int sl_json_get_id(json_t *obj, const char *key, bool required,
                   const char **out, struct sl_error *err)
{
    int rc;
    json_t *v = lookup(obj, key, required, &rc, err);

    if (v == NULL)
        return rc;
    if (!json_is_string(v) || !sl_id_valid(json_string_value(v)))
        return sl_error_set(err, 422, "invalid", key,
                            "%s must be 1 to %d characters of A-Z a-z 0-9 _ - . : @, "
                            "not starting with '.'.", key, SL_ID_MAX);
    *out = json_string_value(v);
    return 0;
}

int sl_json_get_int(json_t *obj, const char *key, bool required,
                    long long min, long long max, long long *out,
                    struct sl_error *err)
{
    int rc;
    json_t *v = lookup(obj, key, required, &rc, err);

    if (v == NULL)
        return rc;
    if (!json_is_integer(v))
        return sl_error_set(err, 422, "invalid", key, "%s must be an integer.", key);
    if (json_integer_value(v) < min || json_integer_value(v) > max)
        return sl_error_set(err, 422, "invalid", key,
                            "%s must be between %lld and %lld.", key, min, max);
    *out = json_integer_value(v);
    return 0;
}

int sl_json_only_keys(json_t *obj, const char *const *allowed, struct sl_error *err)
{
    const char *key;
    json_t *v;

    json_object_foreach(obj, key, v) {
        const char *const *a = allowed;

        while (*a != NULL && strcmp(*a, key) != 0)
            a++;
        if (*a == NULL)
            return sl_error_set(err, 422, "invalid", key, "Unknown field \"%s\".", key);
    }
    return 0;
}

/*
 * The canonical text, written here rather than by json_dumps (whose sorted
 * dump cost ~18,000 instructions per upload), and byte for byte what
 * json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) writes:
 * stored uploads are hashed in this form, and a retry must hash alike.
 * test_json compares the two on random documents.
 */
struct canon {
    char *p;
    size_t len, cap;
    bool failed;
};

static char *canon_room(struct canon *c, size_t n)
{
    if (c->failed)
        return NULL;
    if (c->cap - c->len < n) {
        size_t cap = c->cap ? c->cap : 256;
        while (cap - c->len < n)
            cap *= 2;
        char *p = realloc(c->p, cap);
        if (p == NULL) {
            c->failed = true;
            return NULL;
        }
        c->p = p;
        c->cap = cap;
    }
    return c->p + c->len;
}

static void canon_put(struct canon *c, const char *s, size_t n)
{
    char *p = canon_room(c, n);
    if (p != NULL) {
        memcpy(p, s, n);
        c->len += n;
    }
}

/* jansson's escapes: \\ \" \b \f \n \r \t, other controls \u00XX
 * (upper case); '/', DEL and UTF-8 as they are (its strings are valid). */
static void canon_string(struct canon *c, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    char *p = canon_room(c, 6 * len + 2);
    if (p == NULL)
        return;
    char *start = p;
    *p++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char u = (unsigned char)s[i];
        if (u >= 0x20 && u != '"' && u != '\\') {
            *p++ = (char)u;
            continue;
        }
        *p++ = '\\';
        switch (u) {
        case '"': *p++ = '"'; break;
        case '\\': *p++ = '\\'; break;
        case '\b': *p++ = 'b'; break;
        case '\f': *p++ = 'f'; break;
        case '\n': *p++ = 'n'; break;
        case '\r': *p++ = 'r'; break;
        case '\t': *p++ = 't'; break;
        default:
            memcpy(p, "u00", 3);
            p[3] = hex[u >> 4];
            p[4] = hex[u & 15];
            p += 5;
        }
    }
    *p++ = '"';
    c->len += (size_t)(p - start);
}

static int key_order(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void canon_value(struct canon *c, json_t *v)
{
    char num[24];

    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(v), i = 0;
        const char *small[32], **keys = n <= 32 ? small : malloc(n * sizeof(*keys));
        const char *key;
        json_t *x;
        if (keys == NULL) {
            c->failed = true;
            return;
        }
        json_object_foreach(v, key, x)
            keys[i++] = key;
        qsort(keys, n, sizeof(*keys), key_order);
        canon_put(c, "{", 1);
        for (i = 0; i < n; i++) {
            if (i)
                canon_put(c, ",", 1);
            canon_string(c, keys[i], strlen(keys[i]));
            canon_put(c, ":", 1);
            canon_value(c, json_object_get(v, keys[i]));
        }
        canon_put(c, "}", 1);
        if (keys != small)
            free(keys);
        break;
    }
    case JSON_ARRAY:
        canon_put(c, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                canon_put(c, ",", 1);
            canon_value(c, json_array_get(v, i));
        }
        canon_put(c, "]", 1);
        break;
    case JSON_STRING:
        canon_string(c, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        canon_put(c, num, (size_t)(sl_json_put_int(num, json_integer_value(v)) - num));
        break;
    case JSON_REAL: {
        /* Rare in uploads (signals), and jansson's number format has its
         * own rules (exponents, a ".0" suffix): its own dump of the one
         * number. */
        char *text = json_dumps(v, JSON_ENCODE_ANY);
        if (text == NULL) {
            c->failed = true;
            return;
        }
        canon_put(c, text, strlen(text));
        free(text);
        break;
    }
    case JSON_TRUE:
        canon_put(c, "true", 4);
        break;
    case JSON_FALSE:
        canon_put(c, "false", 5);
        break;
    case JSON_NULL:
        canon_put(c, "null", 4);
        break;
    }
}

char *sl_json_canonical(const json_t *v)
{
    struct canon c = { 0 };

    if (v == NULL)
        return NULL;
    /* Keys sorted, no white space, UTF-8 kept as is: equal values give equal text. */
    canon_value(&c, (json_t *)v);
    canon_put(&c, "", 1);
    if (c.failed) {
        free(c.p);
        return NULL;
    }
    return c.p;
}

char *sl_json_put_string(char *p, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;

    *p++ = '"';
    while (*u) {
        /* NUL-terminated: a NUL ends a sequence before the 4 bytes. */
        size_t n = sl_utf8_seq(u, 4);
        if (n == 0) {
            memcpy(p, "\xef\xbf\xbd", 3);      /* U+FFFD */
            p += 3;
            u++;
        } else if (*u == '"' || *u == '\\') {
            *p++ = '\\';
            *p++ = (char)*u++;
        } else if (*u < 0x20) {
            memcpy(p, "\\u00", 4);
            p[4] = hex[*u >> 4];
            p[5] = hex[*u & 15];
            p += 6;
            u++;
        } else {
            memcpy(p, u, n);
            p += n;
            u += n;
        }
    }
    *p++ = '"';
    return p;
}

char *sl_json_put_lit(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

char *sl_json_put_int(char *p, long long v)
{
    char tmp[20];
    unsigned long long x = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    int n = 0;

    do
        tmp[n++] = (char)('0' + x % 10);
    while ((x /= 10) != 0);
    if (v < 0)
        *p++ = '-';
    while (n)
        *p++ = tmp[--n];
    return p;
}
