/* SPDX-License-Identifier: MIT */
/* The request head parser and chunk sizes: what is taken, and every ambiguity that is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <event2/http.h>

#include "http/internal.h"

static struct sl_http_head hd;

/* Parse a copy of text (the parser writes into its buffer). */
static int parse(const char *text, const char **why)
{
    static char buf[8192];
    size_t n = strlen(text);

    assert_true(n < sizeof(buf));
    memcpy(buf, text, n);
    *why = NULL;
    return sl_http_parse_head(buf, n, &hd, why);
}

static void refused(const char *text, const char *why_part)
{
    const char *why;
    int rc = parse(text, &why);

    if (rc != -EINVAL || !why || !strstr(why, why_part))
        fail_msg("'%s': got %d (%s), wanted -EINVAL with '%s'", text, rc, why ? why : "-",
                 why_part);
}

static const char *field(const char *name)
{
    for (int i = 0; i < hd.nfields; i++)
        if (strcmp(hd.fields[i].name, name) == 0)
            return hd.fields[i].value;
    return NULL;
}

static void test_plain_requests(void **state)
{
    const char *why;
    (void)state;

    assert_int_equal(parse("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &why), 0);
    assert_int_equal(hd.method, EVHTTP_REQ_GET);
    assert_string_equal(hd.target, "/healthz");
    assert_int_equal(hd.minor, 1);
    assert_int_equal(hd.content_length, -1);
    assert_false(hd.chunked);
    assert_true(hd.keep_alive);
    assert_string_equal(field("Host"), "x");

    /* Bare LF line ends, as many tools send them. */
    assert_int_equal(parse("POST /v1/uploads HTTP/1.1\nContent-Length: 12\n"
                           "Authorization:   Bearer sl_x  \n\n", &why), 0);
    assert_int_equal(hd.method, EVHTTP_REQ_POST);
    assert_int_equal(hd.content_length, 12);
    assert_string_equal(field("Authorization"), "Bearer sl_x");

    /* A method sluice does not know is 0, for a 405 or 404 later. */
    assert_int_equal(parse("BREW /pot HTTP/1.1\r\n\r\n", &why), 0);
    assert_int_equal(hd.method, 0);
}

static void test_keep_alive(void **state)
{
    const char *why;
    (void)state;

    assert_int_equal(parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &why), 0);
    assert_false(hd.keep_alive);
    assert_int_equal(parse("GET / HTTP/1.1\r\nConnection: Upgrade, CLOSE\r\n\r\n", &why), 0);
    assert_false(hd.keep_alive);
    assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &why), 0);
    assert_false(hd.keep_alive);
    assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &why), 0);
    assert_true(hd.keep_alive);
    assert_int_equal(parse("GET / HTTP/1.1\r\nConnection: closed\r\n\r\n", &why), 0);
    assert_true(hd.keep_alive);
}

static void test_framing(void **state)
{
    const char *why;
    (void)state;

    assert_int_equal(parse("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n", &why), 0);
    assert_true(hd.chunked);
    assert_int_equal(parse("POST / HTTP/1.1\r\nExpect: 100-continue\r\n"
                           "Content-Length: 0\r\n\r\n", &why), 0);
    assert_true(hd.expect_continue);
    assert_int_equal(hd.content_length, 0);

    /* What a proxy in front could read another way is refused. */
    refused("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
            "two Content-Length");
    refused("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "both");
    refused("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "chunked");
    refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
            "Transfer-Encoding: chunked\r\n\r\n", "chunked");
    refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP/1.0");
    refused("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "Content-Length");
    refused("POST / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", "Content-Length");
    refused("POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", "Content-Length");
    refused("POST / HTTP/1.1\r\nContent-Length: 9999999999999999\r\n\r\n", "Content-Length");
    refused("POST / HTTP/1.1\r\nContent-Length : 5\r\n\r\n", "token");
    refused("POST / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", "folded");
}

static void test_bad_heads(void **state)
{
    (void)state;

    refused("GET /\r\n\r\n", "request line");
    refused("GET  / HTTP/1.1\r\n\r\n", "request line");
    refused("GET / HTTP/1.1 x\r\n\r\n", "request line");
    refused("GET / HTTP/2.0\r\n\r\n", "HTTP/1.0 and HTTP/1.1");
    refused("PRI * HTTP/2.0\r\n\r\n", "HTTP/1.0 and HTTP/1.1");
    refused("G(T / HTTP/1.1\r\n\r\n", "method");
    refused("GET /a\x01 HTTP/1.1\r\n\r\n", "percent-encoded");
    refused("GET /\xc3\xa9 HTTP/1.1\r\n\r\n", "percent-encoded");
    refused("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", "CR");
    refused("GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", "control");
    refused("GET / HTTP/1.1\r\nno colon\r\n\r\n", "colon");
    refused("GET / HTTP/1.1\r\n: empty name\r\n\r\n", "token");
    refused("GET / HTTP/1.1\r\nHost: x\r\n", "blank line");
}

static void test_nul_in_head(void **state)
{
    char buf[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
    const char *why = NULL;
    (void)state;

    assert_int_equal(sl_http_parse_head(buf, sizeof(buf) - 1, &hd, &why), -EINVAL);
    assert_non_null(strstr(why, "NUL"));
}

static void test_field_count(void **state)
{
    char text[8192];
    size_t n = (size_t)snprintf(text, sizeof(text), "GET / HTTP/1.1\r\n");
    const char *why;
    (void)state;

    for (int i = 0; i < SL_HTTP_MAX_HEADERS; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "X-%d: %d\r\n", i, i);
    snprintf(text + n, sizeof(text) - n, "\r\n");
    assert_int_equal(parse(text, &why), 0);
    assert_int_equal(hd.nfields, SL_HTTP_MAX_HEADERS);
    snprintf(text + n, sizeof(text) - n, "X-more: 1\r\n\r\n");
    refused(text, "more than 100");
}

static void test_chunk_sizes(void **state)
{
    uint64_t size = 0;
    (void)state;

#define OK(s, want)                                                              \
    do {                                                                         \
        assert_int_equal(sl_http_parse_chunk_size(s, strlen(s), &size), 0);     \
        assert_int_equal(size, want);                                            \
    } while (0)
#define BAD(s) assert_int_equal(sl_http_parse_chunk_size(s, strlen(s), &size), -EINVAL)
    OK("0", 0);
    OK("1a", 26);
    OK("FFff", 65535);
    OK("10;name=value", 16);
    OK("10 ;x", 16);
    OK("00000000000001", 1);
    BAD("");
    BAD(";x");
    BAD("g");
    BAD("-1");
    BAD("10 x");
    BAD("1000000000000000");       /* 16 hex digits */
#undef OK
#undef BAD
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_requests),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_framing),
        cmocka_unit_test(test_bad_heads),
        cmocka_unit_test(test_nul_in_head),
        cmocka_unit_test(test_field_count),
        cmocka_unit_test(test_chunk_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
