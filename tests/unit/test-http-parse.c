/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-http-parse.c: the loopback client's response parser, fed whole and in every split */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http-parse.h"
#include "macro.h"

#define MAX 1024

/* the outcome of feeding text in pieces of step bytes (0: whole), then the end of the connection if the
 * response is not complete by then (eof false: it is not sent) */
typedef struct Outcome {
        int r;
        long status;
        char body[2 * MAX];
        size_t size;
        char location[64];
} Outcome;

static Outcome run(const char *text, size_t len, size_t step, bool head, bool eof) {
        _cleanup_(http_parse_done) HttpParser p = { .head_request = head, .body_max = MAX };
        Outcome o = {};
        size_t off = 0;
        int r = 0;

        while (off < len && r == 0) {
                size_t k = step == 0 || step > len - off ? len - off : step;

                r = http_parse_feed(&p, text + off, k);
                off += k;
        }
        if (r == 0 && eof)
                r = http_parse_eof(&p);
        o.r = r;
        if (r == 1) {
                o.status = p.status;
                ck_assert_ptr_nonnull(p.body);
                ck_assert_uint_eq(strlen(p.body), p.size);
                ck_assert_uint_lt(p.size, sizeof(o.body));
                memcpy(o.body, p.body, p.size);
                o.size = p.size;
                if (p.location)
                        (void)snprintf(o.location, sizeof(o.location), "%s", p.location);
        }
        return o;
}

/* the same outcome whole and in every split of one to a few bytes */
static Outcome parse(const char *text, bool head, bool eof) {
        size_t len = strlen(text);
        Outcome whole = run(text, len, 0, head, eof);

        for (size_t step = 1; step <= 7; step++) {
                Outcome o = run(text, len, step, head, eof);

                ck_assert_msg(o.r == whole.r, "step %zu: %d, whole: %d", step, o.r, whole.r);
                ck_assert_int_eq(o.status, whole.status);
                ck_assert_uint_eq(o.size, whole.size);
                ck_assert_mem_eq(o.body, whole.body, o.size);
        }
        return whole;
}

START_TEST(test_content_length) {
        Outcome o =
                parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello and more", false, false);

        ck_assert_int_eq(o.r, 1);
        ck_assert_int_eq(o.status, 200);
        ck_assert_str_eq(o.body, "hello");

        /* bare LF line ends, no reason phrase, a zero length */
        o = parse("HTTP/1.0 404\nContent-Length: 0\n\n", false, false);
        ck_assert_int_eq(o.r, 1);
        ck_assert_int_eq(o.status, 404);
        ck_assert_uint_eq(o.size, 0);

        /* the same length twice is one length */
        o = parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length:2\r\n\r\nok", false, false);
        ck_assert_int_eq(o.r, 1);
        ck_assert_str_eq(o.body, "ok");
}
END_TEST

START_TEST(test_chunked) {
        Outcome o = parse(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n"
                "5\r\nhello\r\n1;name=value\r\n \r\nA \r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\nignored",
                false,
                false);

        ck_assert_int_eq(o.r, 1);
        ck_assert_str_eq(o.body, "hello 0123456789");

        /* a chain of codings ending in chunked */
        o = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n0\r\n\r\n", false, false);
        ck_assert_int_eq(o.r, 1);
        ck_assert_uint_eq(o.size, 0);
}
END_TEST

START_TEST(test_to_close) {
        /* no length: the body ends with the connection, which completes it */
        Outcome o = parse("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"n\":1}\n", false, true);

        ck_assert_int_eq(o.r, 1);
        ck_assert_str_eq(o.body, "{\"n\":1}\n");

        /* a coding that is not chunked last: the same */
        o = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc", false, true);
        ck_assert_int_eq(o.r, 1);
        ck_assert_str_eq(o.body, "abc");

        /* and without the end, it is not complete */
        o = parse("HTTP/1.1 200 OK\r\n\r\nabc", false, false);
        ck_assert_int_eq(o.r, 0);
}
END_TEST

START_TEST(test_no_body) {
        /* HEAD: the length describes what a GET would get */
        Outcome o = parse("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n", true, false);

        ck_assert_int_eq(o.r, 1);
        ck_assert_uint_eq(o.size, 0);

        o = parse("HTTP/1.1 204 No Content\r\n\r\n", false, false);
        ck_assert_int_eq(o.r, 1);
        ck_assert_int_eq(o.status, 204);
        o = parse("HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n", false, false);
        ck_assert_int_eq(o.r, 1);
        ck_assert_uint_eq(o.size, 0);
}
END_TEST

START_TEST(test_interim) {
        Outcome o =
                parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                      "HTTP/1.1 302 Found\r\nLocation:  /json \r\nContent-Length: 0\r\n\r\n",
                      false,
                      false);

        ck_assert_int_eq(o.r, 1);
        ck_assert_int_eq(o.status, 302);
        ck_assert_str_eq(o.location, "/json");
}
END_TEST

START_TEST(test_malformed) {
        static const char *const bad[] = {
                "HTTP/2 200 OK\r\n\r\n",
                "HTTP/1.1 20 OK\r\n\r\n",
                "HTTP/1.1 2000 OK\r\n\r\n",
                "HTTP/1.1 600 Odd\r\n\r\n",
                "HTTP/1.1  200 OK\r\n\r\n",
                "ICY 200 OK\r\n\r\n",
                "\r\n\r\n",
                "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
                "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
                "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
                "HTTP/1.1 200 OK\r\nX-A: b\r\n folded\r\n\r\n",
                "HTTP/1.1 200 OK\r\nX-A: b\rc\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456789\r\n\r\n",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1 x\r\n",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                Outcome o = parse(bad[i], false, true);

                ck_assert_msg(o.r == -EBADMSG, "%zu: %d", i, o.r);
        }
}
END_TEST

START_TEST(test_too_big) {
        _cleanup_free_ char *head = NULL, *big = malloc(MAX + 2);
        Outcome o;

        memset(big, 'x', MAX + 1);
        big[MAX + 1] = 0;

        /* a length over the limit is refused at once */
        o = parse("HTTP/1.1 200 OK\r\nContent-Length: 1025\r\n\r\n", false, false);
        ck_assert_int_eq(o.r, -EFBIG);
        /* chunks over it, and a body to the close */
        ck_assert_int_gt(
                asprintf(&head, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n401\r\n%s", big), 0);
        ck_assert_int_eq(run(head, strlen(head), 0, false, true).r, -EFBIG);
        free(head);
        ck_assert_int_gt(asprintf(&head, "HTTP/1.1 200 OK\r\n\r\n%s", big), 0);
        ck_assert_int_eq(run(head, strlen(head), 100, false, true).r, -EFBIG);
        free(head);

        /* a head that never ends */
        head = malloc(HTTP_PARSE_HEAD_MAX + 100);
        memcpy(head, "HTTP/1.1 200 OK\r\nX: ", 20);
        memset(head + 20, 'a', HTTP_PARSE_HEAD_MAX + 79);
        head[HTTP_PARSE_HEAD_MAX + 99] = 0;
        ck_assert_int_eq(run(head, strlen(head), 4096, false, false).r, -EBADMSG);
}
END_TEST

START_TEST(test_cut_short) {
        /* the connection ends inside the body, or before a head */
        ck_assert_int_eq(
                parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false, true).r, -ECONNRESET);
        ck_assert_int_eq(
                parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", false, true).r,
                -ECONNRESET);
        ck_assert_int_eq(
                parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n", false, true).r,
                -ECONNRESET);
        ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-", false, true).r, -EBADMSG);
        ck_assert_int_eq(parse("", false, true).r, -EBADMSG);
}
END_TEST

START_TEST(test_after_the_end) {
        _cleanup_(http_parse_done) HttpParser p = { .body_max = MAX };

        /* a complete response takes nothing more; a failed parser neither */
        ck_assert_int_eq(http_parse_feed(&p, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", 40), 1);
        ck_assert_int_eq(http_parse_feed(&p, "more", 4), 1);
        ck_assert_int_eq(http_parse_eof(&p), 1);
        ck_assert_str_eq(p.body, "a");
        http_parse_done(&p);
        ck_assert_int_eq(http_parse_feed(&p, "junk\r\n\r\n", 8), -EBADMSG);
        ck_assert_int_eq(http_parse_feed(&p, "HTTP/1.1 200 OK\r\n\r\n", 19), -EBADMSG);

        /* nor one that failed after its head: a body over the limit is not complete later */
        http_parse_done(&p);
        ck_assert_int_eq(http_parse_feed(&p, "HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n", 42), -EFBIG);
        ck_assert_int_eq(http_parse_feed(&p, "more", 4), -EBADMSG);
        ck_assert_int_eq(http_parse_eof(&p), -EBADMSG);
}
END_TEST

static Suite *http_parse_suite(void) {
        Suite *s = suite_create("http-parse");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_content_length);
        tcase_add_test(tc, test_chunked);
        tcase_add_test(tc, test_to_close);
        tcase_add_test(tc, test_no_body);
        tcase_add_test(tc, test_interim);
        tcase_add_test(tc, test_malformed);
        tcase_add_test(tc, test_too_big);
        tcase_add_test(tc, test_cut_short);
        tcase_add_test(tc, test_after_the_end);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(http_parse_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
