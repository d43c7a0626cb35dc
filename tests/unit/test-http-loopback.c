/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-http-loopback.c: which URLs the loopback client takes, and the address, Host header and request
 * target it makes of them (its requests are tested against a canned server in test-http.c) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>

#include "http-loopback.h"
#include "macro.h"

/* which URLs the loopback client takes, and what it makes of them */
START_TEST(test_loopback_target) {
        static const struct {
                const char *url, *host, *target;
                int family;
                unsigned port;
        } taken[] = {
                { "http://127.0.0.1:3456/health", "127.0.0.1:3456", "/health", AF_INET, 3456 },
                { "HTTP://127.0.0.1/", "127.0.0.1", "/", AF_INET, 80 },
                { "http://127.8.9.10", "127.8.9.10", "/", AF_INET, 80 },
                { "http://127.0.0.1:80?x=1#frag", "127.0.0.1:80", "/?x=1", AF_INET, 80 },
                { "http://[::1]:2379/v3/kv/range#f", "[::1]:2379", "/v3/kv/range", AF_INET6, 2379 },
                { "http://127.0.0.1:65535/a%20b?c=d&e", "127.0.0.1:65535", "/a%20b?c=d&e", AF_INET, 65535 },
        };
        static const char *const left[] = {
                "https://127.0.0.1/",        /* TLS */
                "http://localhost:3000/",    /* a name: libcurl resolves it */
                "http://10.0.0.1/",          /* not loopback */
                "http://128.0.0.1/",         /* nor this */
                "http://127.1/",             /* shorthand: libcurl's to judge */
                "http://user:pw@127.0.0.1/", /* user info */
                "http://127.0.0.1:0/",       /* no such port */
                "http://127.0.0.1:65536/",   /* nor this */
                "http://127.0.0.1:/",        /* empty port */
                "http://127.0.0.1:80x/",     /* not a port */
                "http://[::2]/",             /* not loopback */
                "http://[::1/",              /* unclosed */
                "http://[::1]x/",            /* junk after the address */
                "http://127.0.0.1/a b",      /* a space in the target */
                "http://127.0.0.1/\x7f",     /* a control byte */
                "file:///etc/hosts",
                "",
        };

        for (size_t i = 0; i < ELEMENTSOF(taken); i++) {
                _cleanup_(http_loopback_target_done) HttpLoopbackTarget t = {};

                ck_assert_int_eq(http_loopback_target(taken[i].url, &t), 1);
                ck_assert_str_eq(t.host, taken[i].host);
                ck_assert_str_eq(t.target, taken[i].target);
                ck_assert_int_eq(t.addr.sa.sa_family, taken[i].family);
                ck_assert_uint_eq(
                        ntohs(taken[i].family == AF_INET ? t.addr.in.sin_port : t.addr.in6.sin6_port),
                        taken[i].port);
        }
        for (size_t i = 0; i < ELEMENTSOF(left); i++) {
                HttpLoopbackTarget t = {};

                ck_assert_msg(http_loopback_target(left[i], &t) == 0, "%s taken", left[i]);
                ck_assert_ptr_null(t.host);
        }
}
END_TEST

static Suite *http_loopback_suite(void) {
        Suite *s = suite_create("http-loopback");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_loopback_target);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(http_loopback_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
