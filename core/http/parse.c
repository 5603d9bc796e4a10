/* SPDX-License-Identifier: MIT */
/* Request heads and chunk sizes, parsed strictly: what two parsers could read two ways is refused. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>

#include "http/internal.h"

/* RFC 9110 tchar: what a method and a field name are made of. */
static bool tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!tchar((unsigned char)*s))
            return false;
    return true;
}

static int method_of(const char *m)
{
    static const struct {
        const char *name;
        int method;
    } methods[] = {
        { "GET", EVHTTP_REQ_GET },         { "POST", EVHTTP_REQ_POST },
        { "PUT", EVHTTP_REQ_PUT },         { "DELETE", EVHTTP_REQ_DELETE },
        { "HEAD", EVHTTP_REQ_HEAD },       { "OPTIONS", EVHTTP_REQ_OPTIONS },
        { "PATCH", EVHTTP_REQ_PATCH },     { "TRACE", EVHTTP_REQ_TRACE },
        { "CONNECT", EVHTTP_REQ_CONNECT },
    };
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(m, methods[i].name) == 0)
            return methods[i].method;
    return 0;
}

/* Cut the line starting at *p (ended by LF, an optional CR before it) and
 * move *p past it; NULL at the end of the buffer. A CR anywhere else, or
 * a NUL, makes the line invalid (*bad). */
static char *next_line(char **p, char *end, bool *bad)
{
    char *line = *p, *lf;

    if (line >= end)
        return NULL;
    lf = memchr(line, '\n', (size_t)(end - line));
    if (!lf)
        return NULL;
    *p = lf + 1;
    if (lf > line && lf[-1] == '\r')
        lf--;
    *lf = '\0';
    if (strlen(line) != (size_t)(lf - line) || strchr(line, '\r'))
        *bad = true;
    return line;
}

/* A field value: no control character but HTAB (obs-text is let through). */
static bool value_ok(const char *v)
{
    for (; *v; v++)
        if (((unsigned char)*v < 0x20 && *v != '\t') || *v == 0x7f)
            return false;
    return true;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* Does the comma-separated list hold tok (case-insensitive)? */
static bool list_has(const char *list, const char *tok)
{
    size_t n = strlen(tok);

    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - p) == n && strncasecmp(p, tok, n) == 0)
            return true;
        p = e;
    }
    return false;
}

static int request_line(char *line, struct sl_http_head *hd, const char **why)
{
    char *sp1 = strchr(line, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;

    if (!sp1 || !sp2 || strchr(sp2 + 1, ' ')) {
        *why = "The request line must be METHOD TARGET HTTP/1.1.";
        return -EINVAL;
    }
    *sp1 = *sp2 = '\0';
    char *target = sp1 + 1, *version = sp2 + 1;
    if (!token(line)) {
        *why = "The request method is not a token.";
        return -EINVAL;
    }
    if (!*target) {
        *why = "The request target is empty.";
        return -EINVAL;
    }
    for (const char *t = target; *t; t++)
        if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f) {
            *why = "The request target has a character that must be percent-encoded.";
            return -EINVAL;
        }
    if (strcmp(version, "HTTP/1.1") == 0) {
        hd->minor = 1;
    } else if (strcmp(version, "HTTP/1.0") == 0) {
        hd->minor = 0;
    } else {
        *why = "Only HTTP/1.0 and HTTP/1.1 are spoken here.";
        return -EINVAL;
    }
    hd->method = method_of(line);
    hd->target = target;
    return 0;
}

/* The fields whose meaning the front needs; both framings at once, or one
 * twice, are refused: a proxy in front might read them the other way.
 * Each is told by its length first: most fields are none of them. */
static int known_field(struct sl_http_head *hd, const char *name, size_t len,
                       const char *value, bool *connection_close, bool *connection_keep,
                       const char **why)
{
    if (len != 14 && len != 17 && len != 10 && len != 6)
        return 0;
    if (strcasecmp(name, "Content-Length") == 0) {
        size_t n = strlen(value);
        if (hd->content_length >= 0) {
            *why = "The request has two Content-Length fields.";
            return -EINVAL;
        }
        if (n == 0 || n > 15 || strspn(value, "0123456789") != n) {
            *why = "Content-Length must be a number of bytes.";
            return -EINVAL;
        }
        hd->content_length = 0;
        for (const char *v = value; *v; v++)
            hd->content_length = hd->content_length * 10 + (*v - '0');
    } else if (strcasecmp(name, "Transfer-Encoding") == 0) {
        if (hd->chunked || strcasecmp(value, "chunked") != 0) {
            *why = "The only transfer coding taken is a single 'chunked'.";
            return -EINVAL;
        }
        hd->chunked = true;
    } else if (strcasecmp(name, "Connection") == 0) {
        *connection_close |= list_has(value, "close");
        *connection_keep |= list_has(value, "keep-alive");
    } else if (strcasecmp(name, "Expect") == 0) {
        hd->expect_continue |= strcasecmp(value, "100-continue") == 0;
    }
    return 0;
}

int sl_http_parse_head(char *buf, size_t len, struct sl_http_head *hd, const char **why)
{
    char *p = buf, *end = buf + len, *line;
    bool bad = false, close = false, keep = false;

    /* Not the fields: up to a hundred of them, set as they are read. */
    hd->method = hd->minor = hd->nfields = 0;
    hd->target = NULL;
    hd->content_length = -1;
    hd->chunked = hd->keep_alive = hd->expect_continue = false;
    line = next_line(&p, end, &bad);
    if (!line || bad) {
        *why = "The request line has a stray CR or NUL.";
        return -EINVAL;
    }
    if (request_line(line, hd, why) < 0)
        return -EINVAL;
    for (;;) {
        line = next_line(&p, end, &bad);
        if (!line) {
            *why = "The request head does not end with a blank line.";
            return -EINVAL;
        }
        if (bad) {
            *why = "A header field has a stray CR or NUL.";
            return -EINVAL;
        }
        if (!*line)
            break;
        if (*line == ' ' || *line == '\t') {
            *why = "Header fields may not be folded over lines.";
            return -EINVAL;
        }
        char *colon = strchr(line, ':');
        if (!colon) {
            *why = "A header field has no colon.";
            return -EINVAL;
        }
        *colon = '\0';
        size_t name_len = (size_t)(colon - line);
        char *value = trim(colon + 1);
        if (!token(line)) {
            *why = "A header field's name is not a token (no space before the colon).";
            return -EINVAL;
        }
        if (!value_ok(value)) {
            *why = "A header field's value has a control character.";
            return -EINVAL;
        }
        if (hd->nfields == SL_HTTP_MAX_HEADERS) {
            *why = "The request has more than 100 header fields.";
            return -EINVAL;
        }
        hd->fields[hd->nfields++] = (struct sl_http_field){ line, value };
        if (known_field(hd, line, name_len, value, &close, &keep, why) < 0)
            return -EINVAL;
    }
    if (hd->chunked && hd->content_length >= 0) {
        *why = "The request has both Content-Length and Transfer-Encoding.";
        return -EINVAL;
    }
    if (hd->chunked && hd->minor == 0) {
        *why = "HTTP/1.0 has no chunked transfer coding.";
        return -EINVAL;
    }
    hd->keep_alive = hd->minor == 1 ? !close : keep && !close;
    return 0;
}

int sl_http_parse_chunk_size(const char *line, size_t len, uint64_t *size)
{
    uint64_t v = 0;
    size_t i = 0;

    for (; i < len; i++) {
        char c = line[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            break;
        if (i == 15)            /* 2^60 bytes is no body anyone sends */
            return -EINVAL;
        v = v * 16 + (uint64_t)d;
    }
    if (i == 0)
        return -EINVAL;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i < len && line[i] != ';')
        return -EINVAL;
    for (; i < len; i++)
        if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
            return -EINVAL;
    *size = v;
    return 0;
}
