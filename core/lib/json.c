/* SPDX-License-Identifier: MIT */
/* Strict JSON parsing and the field readers that validate request bodies. */
#include "lib/json.h"
#include "lib/json_internal.h"

#include <stdio.h>
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
    json_t *v = sl_json_fast_parse(buf, len, want_object);

    if (v != NULL)
        return v;
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
    int precision;              /* significant digits of reals */
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

/* jansson's format of a real (jsonp_dtostr): "%.*g", then ".0" when that
 * would read back as an integer, and the exponent without its '+' or
 * leading zeros. The daemon never sets a locale: the point is '.'. */
static void canon_real(struct canon *c, double v)
{
    char buf[64];
    size_t len = (size_t)(sl_json_put_g(buf, v, c->precision) - buf);

    if (!memchr(buf, '.', len) && !memchr(buf, 'e', len)) {
        memcpy(buf + len, ".0", 2);
        len += 2;
    }
    char *e = memchr(buf, 'e', len);
    if (e != NULL) {
        char *start = e + 1, *end = start + 1;
        if (*start == '-')
            start++;
        while (end < buf + len && *end == '0')
            end++;
        if (end != start) {
            memmove(start, end, len - (size_t)(end - buf));
            len -= (size_t)(end - start);
        }
    }
    canon_put(c, buf, len);
}

struct member {
    const char *key;
    json_t *value;
};

static int member_order(const void *a, const void *b)
{
    return strcmp(((const struct member *)a)->key, ((const struct member *)b)->key);
}

static void canon_value(struct canon *c, json_t *v)
{
    char num[24];

    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        /* Members with their values, so that none is looked up again; an
         * upload's dozen are put in order by insertion. */
        size_t n = json_object_size(v), i = 0;
        struct member small[32], *m = n <= 32 ? small : malloc(n * sizeof(*m));
        const char *key;
        json_t *x;
        if (m == NULL) {
            c->failed = true;
            return;
        }
        json_object_foreach(v, key, x) {
            size_t j = i++;
            if (m == small) {
                for (; j > 0 && strcmp(m[j - 1].key, key) > 0; j--)
                    m[j] = m[j - 1];
            }
            m[j] = (struct member){ key, x };
        }
        if (m != small)
            qsort(m, n, sizeof(*m), member_order);
        canon_put(c, "{", 1);
        for (i = 0; i < n; i++) {
            if (i)
                canon_put(c, ",", 1);
            canon_string(c, m[i].key, strlen(m[i].key));
            canon_put(c, ":", 1);
            canon_value(c, m[i].value);
        }
        canon_put(c, "}", 1);
        if (m != small)
            free(m);
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
    case JSON_REAL:
        canon_real(c, json_real_value(v));
        break;
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
    return sl_json_sorted(v, 17);
}

char *sl_json_sorted(const json_t *v, int precision)
{
    struct canon c = { .precision = precision };

    if (v == NULL || precision < 1 || precision > 17)
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
        /* Ids, names and most text: plain ASCII, copied as it comes. */
        if (*u >= 0x20 && *u < 0x80 && *u != '"' && *u != '\\') {
            *p++ = (char)*u++;
            continue;
        }
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

/* 10^0 .. 10^15, exact in a double. */
static const double pow10s[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
                                 1e11, 1e12, 1e13, 1e14, 1e15 };

/*
 * The common case without printf: v the double nearest to a decimal D of
 * at most precision (<= 15) significant digits, D at least 1e-4 and below
 * 10^precision. Then "%.*g" writes D: v is within half an ulp of D
 * (2^-53 of it), far less than half a step of precision digits (at least
 * 5e-16 of it), so rounding v to precision digits gives D, and %g writes
 * it in fixed notation without trailing zeros. NULL when v is not such a
 * number.
 */
static char *put_short_g(char *p, double v, int precision)
{
    double a = v < 0 ? -v : v;

    if (precision > 15 || !(a >= 1e-4 && a < pow10s[precision]))
        return NULL;
    for (int m = 0; m <= precision; m++) {
        double s = a * pow10s[m];
        if (s >= pow10s[precision])
            return NULL;                /* more digits than precision */
        double k = (double)(long long)(s + 0.5);
        if (k >= pow10s[precision] || k / pow10s[m] != a)
            continue;
        unsigned long long digits = (unsigned long long)k;
        unsigned long long whole = digits / (unsigned long long)pow10s[m];
        unsigned long long frac = digits % (unsigned long long)pow10s[m];
        if (v < 0)
            *p++ = '-';
        p = sl_json_put_int(p, (long long)whole);
        if (m > 0) {
            *p++ = '.';
            for (int i = m - 1; i >= 0; i--) {
                p[i] = (char)('0' + frac % 10);
                frac /= 10;
            }
            p += m;
        }
        return p;
    }
    return NULL;
}

char *sl_json_put_g(char *p, double v, int precision)
{
    char *end = put_short_g(p, v, precision);

    if (end)
        return end;
    int n = snprintf(p, 32, "%.*g", precision, v);
    return p + (n > 0 && n < 32 ? n : 0);
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

/* {====================== NDJSON bodies ================================ */

int sl_ndjson_begin(struct sl_ndjson *it, const char *body, size_t len, size_t max,
                    const char *what, size_t *lines, struct sl_error *err)
{
    size_t n = 1;

    for (const char *q = body; (q = memchr(q, '\n', (size_t)(body + len - q))) != NULL; q++)
        n++;
    *it = (struct sl_ndjson){ body, body + len, 0 };
    *lines = n;
    if (n > max + 1)
        return sl_error_set(err, 413, "too_large", NULL, "A batch may hold at most %zu %s.",
                            max, what);
    return 0;
}

bool sl_ndjson_next(struct sl_ndjson *it, const char **line, const char **stop)
{
    while (it->p < it->end) {
        const char *nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
        const char *p = it->p, *e = nl ? nl : it->end, *q = p;

        it->p = nl ? nl + 1 : it->end;
        it->line++;
        while (q < e && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        if (q < e) {
            *line = p;
            *stop = e;
            return true;
        }
    }
    return false;
}

void sl_ndjson_name_line(struct sl_error *err, size_t line)
{
    struct sl_error was = *err;
    char field[32];

    snprintf(field, sizeof(field), "line %zu", line);
    sl_error_set(err, was.status, was.code, field, "line %zu: %s%s%s", line, was.field,
                 was.field[0] ? ": " : "", was.message);
}

/* }===================================================================== */
