/* SPDX-License-Identifier: MIT */
/* The bodies most requests send, parsed into jansson values without jansson's lexer. */
#include "lib/json_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "lib/text.h"

/*
 * jansson reads a body a character at a time through a stream with a
 * buffer for each token: ~25,000 instructions for an upload of 150 bytes.
 * Most bodies are in a plain subset of JSON, and this reads that subset
 * straight into the same jansson values: strings of valid UTF-8 with the
 * two-character escapes (no \u), integers of at most 18 digits, reals
 * strtod reads as finite, true, false, null, objects without a repeated
 * key, nesting within SL_JSON_MAX_DEPTH. Anything else, valid or not, is
 * declined (NULL), and sl_json_parse() takes jansson's road, which accepts
 * what it accepts and words the errors. So this changes what is accepted
 * in no case, only how fast; test_json compares both on random documents.
 */

struct fast {
    const char *p, *end;
    int depth;
};

static void skip_space(struct fast *f)
{
    while (f->p < f->end && (*f->p == ' ' || *f->p == '\n' || *f->p == '\r' || *f->p == '\t'))
        f->p++;
}

/* After the opening quote: the string's text, unescaped into *buf when it
 * has escapes (the caller frees *buf), else pointing into the input. false:
 * declined. */
static bool string_text(struct fast *f, const char **s, size_t *len, char **buf)
{
    const unsigned char *u = (const unsigned char *)f->p, *end = (const unsigned char *)f->end;
    const unsigned char *start = u;
    char *out = NULL;
    size_t n = 0;

    *buf = NULL;
    while (u < end) {
        unsigned char c = *u;
        if (c == '"')
            break;
        if (c < 0x20)
            goto declined;                  /* controls (and NUL) are jansson's to refuse */
        if (c == '\\') {
            if (!out) {
                /* The unescaped text is never longer than the escaped. */
                if (!(out = malloc((size_t)(end - start) + 1)))
                    return false;
                n = (size_t)(u - start);
                memcpy(out, start, n);
            }
            if (++u == end)
                goto declined;
            switch (*u) {
            case '"': out[n++] = '"'; break;
            case '\\': out[n++] = '\\'; break;
            case '/': out[n++] = '/'; break;
            case 'b': out[n++] = '\b'; break;
            case 'f': out[n++] = '\f'; break;
            case 'n': out[n++] = '\n'; break;
            case 'r': out[n++] = '\r'; break;
            case 't': out[n++] = '\t'; break;
            default: goto declined;         /* \u, or no escape at all */
            }
            u++;
            continue;
        }
        size_t k = c < 0x80 ? 1 : sl_utf8_seq(u, (size_t)(end - u));
        if (k == 0)
            goto declined;
        if (out)
            memcpy(out + n, u, k), n += k;
        u += k;
    }
    if (u == end)
        goto declined;
    if (out) {
        *s = *buf = out;
        *len = n;
    } else {
        *s = (const char *)start;
        *len = (size_t)(u - start);
    }
    f->p = (const char *)u + 1;
    return true;
declined:
    free(out);
    return false;
}

static json_t *string_value(struct fast *f)
{
    const char *s;
    size_t len;
    char *buf;

    if (!string_text(f, &s, &len, &buf))
        return NULL;
    json_t *v = json_stringn_nocheck(s, len);
    free(buf);
    return v;
}

static json_t *number(struct fast *f)
{
    const char *p = f->p, *start = p, *end = f->end;
    bool neg = p < end && *p == '-', real = false;
    long long whole = 0;
    int digits = 0;

    p += neg;
    if (p == end || *p < '0' || *p > '9')
        return NULL;
    if (*p == '0') {
        p++;
        digits = 1;
    } else {
        /* Past 18 digits the number is jansson's (below): counted, not
         * accumulated, so that a long one cannot overflow. */
        for (; p < end && *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 18)
                whole = whole * 10 + (*p - '0');
    }
    if (p < end && *p == '.') {
        real = true;
        if (++p == end || *p < '0' || *p > '9')
            return NULL;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        real = true;
        if (++p < end && (*p == '+' || *p == '-'))
            p++;
        if (p == end || *p < '0' || *p > '9')
            return NULL;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    /* A letter or digit glued on ("01", "1x") is jansson's to refuse. */
    if (p < end && ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= 'A' && *p <= 'Z') || *p == '.' || *p == '-' || *p == '+'))
        return NULL;
    f->p = p;
    if (!real)
        return digits <= 18 ? json_integer(neg ? -whole : whole) : NULL;
    char text[64];
    size_t len = (size_t)(p - start);
    if (len >= sizeof(text))
        return NULL;
    memcpy(text, start, len);
    text[len] = '\0';
    double d = strtod(text, NULL);
    return isfinite(d) ? json_real(d) : NULL;
}

static json_t *value(struct fast *f);

static json_t *object(struct fast *f)
{
    json_t *obj = json_object();

    skip_space(f);
    if (obj && f->p < f->end && *f->p == '}') {
        f->p++;
        return obj;
    }
    while (obj) {
        const char *key;
        size_t klen;
        char *buf;

        skip_space(f);
        if (f->p == f->end || *f->p != '"')
            break;
        f->p++;
        if (!string_text(f, &key, &klen, &buf))
            break;
        skip_space(f);
        json_t *v = NULL;
        if (f->p < f->end && *f->p == ':') {
            f->p++;
            v = value(f);
        }
        size_t before = json_object_size(obj);
        /* setn takes v even when it fails; a repeated key replaces, and
         * leaves the size as it was. */
        bool added = v && json_object_setn_new_nocheck(obj, key, klen, v) == 0 &&
                     json_object_size(obj) == before + 1;
        free(buf);
        if (!added)
            break;
        skip_space(f);
        if (f->p < f->end && *f->p == ',') {
            f->p++;
            continue;
        }
        if (f->p < f->end && *f->p == '}') {
            f->p++;
            return obj;
        }
        break;
    }
    json_decref(obj);
    return NULL;
}

static json_t *array(struct fast *f)
{
    json_t *arr = json_array();

    skip_space(f);
    if (arr && f->p < f->end && *f->p == ']') {
        f->p++;
        return arr;
    }
    while (arr) {
        json_t *v = value(f);
        if (!v || json_array_append_new(arr, v) < 0)
            break;
        skip_space(f);
        if (f->p < f->end && *f->p == ',') {
            f->p++;
            continue;
        }
        if (f->p < f->end && *f->p == ']') {
            f->p++;
            return arr;
        }
        break;
    }
    json_decref(arr);
    return NULL;
}

static bool literal(struct fast *f, const char *word, size_t n)
{
    if ((size_t)(f->end - f->p) < n || memcmp(f->p, word, n) != 0)
        return false;
    f->p += n;
    return true;
}

static json_t *value(struct fast *f)
{
    json_t *v = NULL;

    skip_space(f);
    if (f->p == f->end)
        return NULL;
    switch (*f->p) {
    case '{':
    case '[':
        if (++f->depth > SL_JSON_MAX_DEPTH)
            return NULL;
        f->p++;
        v = *(f->p - 1) == '{' ? object(f) : array(f);
        f->depth--;
        return v;
    case '"':
        f->p++;
        return string_value(f);
    case 't':
        return literal(f, "true", 4) ? json_true() : NULL;
    case 'f':
        return literal(f, "false", 5) ? json_false() : NULL;
    case 'n':
        return literal(f, "null", 4) ? json_null() : NULL;
    default:
        return number(f);
    }
}

json_t *sl_json_fast_parse(const char *buf, size_t len, bool want_object)
{
    struct fast f = { buf, buf + len, 0 };

    skip_space(&f);
    if (want_object && (f.p == f.end || *f.p != '{'))
        return NULL;
    json_t *v = value(&f);
    skip_space(&f);
    if (v && f.p != f.end) {
        json_decref(v);
        return NULL;
    }
    return v;
}
