/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-notify.c: the webhook payload, and POSTs to a recording HTTP server forked on 127.0.0.1 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "json-util.h"
#include "notify.h"
#include "test-util.h"

#define TOKEN "hook-s3cr3t"
#define SHORT (5 * USEC_PER_SEC)

/* ---- the recording server ---- */

/* the server records each request before it answers: the client has the record once notify_send()
 * returns */
static void serve(int fd, const TestHttpRequest *q) {
        _cleanup_free_ char *echo = NULL;

        if (streq(q->path, "/hook"))
                dprintf(fd, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        else if (streq(q->path, "/text"))
                test_http_respond(fd, 200, "OK", "text/plain", "ok\n");
        else if (streq(q->path, "/fail")) {
                /* a careless receiver that echoes the request's credentials in its error page */
                if (asprintf(&echo, "internal error for %s\n", strempty(q->authorization)) < 0)
                        return;
                test_http_respond(fd, 500, "Internal Server Error", "text/plain", echo);
        } else
                test_http_respond(fd, 404, "Not Found", "text/plain", "unknown path\n");
}

static void server_start(void) {
        test_http_server_start(serve);
}

static void server_stop(void) {
        test_http_server_stop();
}

/* "2026-11-26T10:57:13Z" */
static void assert_timestamp(const char *s) {
        ck_assert_ptr_nonnull(s);
        ck_assert_uint_eq(strlen(s), 20);
        ck_assert_int_eq(s[4], '-');
        ck_assert_int_eq(s[7], '-');
        ck_assert_int_eq(s[10], 'T');
        ck_assert_int_eq(s[13], ':');
        ck_assert_int_eq(s[16], ':');
        ck_assert_int_eq(s[19], 'Z');
}

/* a port on 127.0.0.1 where nothing listens */
static int closed_port(void) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(sa);
        _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &l), 0);
        return ntohs(sa.sin_port); /* bound, never listening: connections are refused */
}

/* ---- the payload ---- */

START_TEST(test_payload_shape) {
        _cleanup_json_ cJSON *fields =
                cJSON_Parse("{\"deployment\":\"default\",\"version\":\"1.5.0\",\"from\":\"1.4.0\","
                            "\"migrations\":[\"a\",\"b\"],\"breaking\":false}");
        _cleanup_json_ cJSON *p = NULL;
        _cleanup_free_ char *s = NULL;

        ck_assert_int_eq(notify_build_payload("succeeded", fields, "2026-11-26T10:57:13Z", &p), 0);
        s = cJSON_PrintUnformatted(p);
        ck_assert_str_eq(
                s,
                "{\"event\":\"succeeded\",\"time\":\"2026-11-26T10:57:13Z\",\"deployment\":\"default\","
                "\"version\":\"1.5.0\",\"from\":\"1.4.0\",\"migrations\":[\"a\",\"b\"],\"breaking\":false}");

        /* copied, not moved: the caller's fields are intact */
        ck_assert_int_eq(cJSON_GetArraySize(fields), 5);
        ck_assert_str_eq(json_get_string(fields, "version"), "1.5.0");
}
END_TEST

START_TEST(test_payload_no_fields) {
        _cleanup_json_ cJSON *p = NULL;
        _cleanup_free_ char *s = NULL;

        ck_assert_int_eq(notify_build_payload("started", NULL, "2026-01-02T03:04:05Z", &p), 0);
        s = cJSON_PrintUnformatted(p);
        ck_assert_str_eq(s, "{\"event\":\"started\",\"time\":\"2026-01-02T03:04:05Z\"}");
}
END_TEST

START_TEST(test_payload_envelope_wins) {
        _cleanup_json_ cJSON *fields =
                cJSON_Parse("{\"event\":\"forged\",\"time\":\"never\",\"reason\":\"x\",\"reason\":\"y\"}");
        _cleanup_json_ cJSON *p = NULL;

        ck_assert_int_eq(notify_build_payload("failed", fields, "2026-01-02T03:04:05Z", &p), 0);
        ck_assert_str_eq(json_get_string(p, "event"), "failed");
        ck_assert_str_eq(json_get_string(p, "time"), "2026-01-02T03:04:05Z");
        ck_assert_str_eq(json_get_string(p, "reason"), "x");
        ck_assert_int_eq(cJSON_GetArraySize(p), 3);
}
END_TEST

START_TEST(test_payload_invalid) {
        _cleanup_json_ cJSON *array = cJSON_Parse("[1,2]");
        cJSON *p = (cJSON *)0x1;

        ck_assert_int_eq(notify_build_payload("held", array, "2026-01-02T03:04:05Z", &p), -EINVAL);
        ck_assert_int_eq(notify_build_payload(NULL, NULL, "2026-01-02T03:04:05Z", &p), -EINVAL);
        ck_assert_int_eq(notify_build_payload("", NULL, "2026-01-02T03:04:05Z", &p), -EINVAL);
        ck_assert_int_eq(notify_build_payload("held", NULL, NULL, &p), -EINVAL);
        /* written only on success */
        ck_assert_ptr_eq(p, (cJSON *)0x1);
}
END_TEST

START_TEST(test_url_for_log) {
        static const struct {
                const char *url, *logged;
        } cases[] = {
                { "http://127.0.0.1:8089/hook", "http://127.0.0.1:8089/hook" },
                { "https://user:pa55@hooks.example/codebolt", "https://hooks.example/codebolt" },
                { "https://hooks.example/codebolt?token=abc#frag", "https://hooks.example/codebolt" },
                { "https://u@hooks.example", "https://hooks.example" },
                { "https://hooks.example/a@b", "https://hooks.example/a@b" },
                { "https://hooks.example?k=v", "https://hooks.example" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *s = NULL;

                ck_assert_int_eq(notify_url_for_log(cases[i].url, &s), 0);
                ck_assert_str_eq(s, cases[i].logged);
        }
}
END_TEST

/* ---- sending ---- */

START_TEST(test_send_with_token) {
        _cleanup_free_ char *u = test_http_url("/hook"), *err = NULL;
        _cleanup_json_ cJSON *fields = cJSON_Parse("{\"version\":\"1.5.0\",\"from\":\"1.4.0\"}"),
                             *all = NULL, *body = NULL;
        const cJSON *q;

        ck_assert_int_eq(notify_send(u, TOKEN, "succeeded", fields, SHORT, &err), 0);
        ck_assert_ptr_null(err);

        all = test_http_records();
        ck_assert_int_eq(cJSON_GetArraySize(all), 1);
        q = cJSON_GetArrayItem(all, 0);
        ck_assert_str_eq(json_get_string(q, "method"), "POST");
        ck_assert_str_eq(json_get_string(q, "path"), "/hook");
        ck_assert_str_eq(json_get_string(q, "authorization"), "Bearer " TOKEN);
        ck_assert_str_eq(json_get_string(q, "content_type"), "application/json");

        body = cJSON_Parse(json_get_string(q, "body"));
        ck_assert_ptr_nonnull(body);
        ck_assert_str_eq(json_get_string(body, "event"), "succeeded");
        assert_timestamp(json_get_string(body, "time"));
        ck_assert_str_eq(json_get_string(body, "version"), "1.5.0");
        ck_assert_str_eq(json_get_string(body, "from"), "1.4.0");
        ck_assert_int_eq(cJSON_GetArraySize(body), 4);
}
END_TEST

START_TEST(test_send_without_token) {
        _cleanup_free_ char *u = test_http_url("/hook"), *err = NULL;
        _cleanup_json_ cJSON *all = NULL, *body = NULL;
        const cJSON *q;

        ck_assert_int_eq(notify_send(u, NULL, "downtime", NULL, SHORT, &err), 0);
        ck_assert_ptr_null(err);

        all = test_http_records();
        ck_assert_int_eq(cJSON_GetArraySize(all), 1);
        q = cJSON_GetArrayItem(all, 0);
        ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(q, "authorization")));
        body = cJSON_Parse(json_get_string(q, "body"));
        ck_assert_str_eq(json_get_string(body, "event"), "downtime");
}
END_TEST

START_TEST(test_send_text_answer) {
        _cleanup_free_ char *u = test_http_url("/text"), *err = NULL;

        /* chat webhooks answer 200 "ok": any 2xx is success, JSON or not */
        ck_assert_int_eq(notify_send(u, TOKEN, "started", NULL, SHORT, &err), 0);
        ck_assert_ptr_null(err);
}
END_TEST

START_TEST(test_send_500) {
        _cleanup_free_ char *u = test_http_url("/fail"), *err = NULL;
        _cleanup_json_ cJSON *all = NULL;

        ck_assert_int_eq(notify_send(u, TOKEN, "failed", NULL, SHORT, &err), -EREMOTEIO);
        ck_assert_ptr_nonnull(err);
        ck_assert_ptr_nonnull(strstr(err, "500"));
        /* the receiver echoed the token in its answer; the error leaves it out */
        ck_assert_ptr_null(strstr(err, TOKEN));

        all = test_http_records();
        ck_assert_int_eq(cJSON_GetArraySize(all), 1);
}
END_TEST

START_TEST(test_send_404) {
        _cleanup_free_ char *u = test_http_url("/nowhere"), *err = NULL;

        ck_assert_int_eq(notify_send(u, NULL, "held", NULL, SHORT, &err), -EREMOTEIO);
        ck_assert_ptr_nonnull(strstr(err, "404"));
}
END_TEST

START_TEST(test_send_in_order) {
        static const char *const events[] = { "started", "downtime", "succeeded" };
        _cleanup_free_ char *u = test_http_url("/hook");
        _cleanup_json_ cJSON *all = NULL;

        for (size_t i = 0; i < ELEMENTSOF(events); i++)
                ck_assert_int_eq(notify_send(u, TOKEN, events[i], NULL, SHORT, NULL), 0);
        all = test_http_records();
        ck_assert_int_eq(cJSON_GetArraySize(all), 3);
        for (size_t i = 0; i < ELEMENTSOF(events); i++) {
                _cleanup_json_ cJSON *body =
                        cJSON_Parse(json_get_string(cJSON_GetArrayItem(all, (int)i), "body"));
                ck_assert_str_eq(json_get_string(body, "event"), events[i]);
        }
}
END_TEST

/* ---- failures without a server ---- */

START_TEST(test_connection_refused) {
        _cleanup_free_ char *u = NULL, *err = NULL;
        int r;

        ck_assert_int_ge(asprintf(&u, "http://127.0.0.1:%d/hook", closed_port()), 0);
        r = notify_send(u, TOKEN, "failed", NULL, SHORT, &err);
        ck_assert_int_lt(r, 0);
        ck_assert_int_eq(r, -ECONNREFUSED);
        ck_assert_ptr_nonnull(err);
        ck_assert_ptr_null(strstr(err, TOKEN));
}
END_TEST

START_TEST(test_refused_inputs) {
        _cleanup_free_ char *err = NULL;

        ck_assert_int_eq(notify_send(NULL, NULL, "failed", NULL, SHORT, &err), -EINVAL);
        ck_assert_ptr_nonnull(err);
        ck_assert_int_eq(notify_send("http://127.0.0.1:1/", NULL, NULL, NULL, SHORT, &err), -EINVAL);
        ck_assert_int_eq(
                notify_send("file:///etc/passwd", NULL, "failed", NULL, SHORT, &err), -EPROTONOSUPPORT);
        /* a token that would split the header is refused, and not repeated */
        ck_assert_int_eq(
                notify_send("http://127.0.0.1:1/", TOKEN "\r\nX: y", "failed", NULL, SHORT, &err), -EINVAL);
        ck_assert_ptr_null(strstr(err, TOKEN));
}
END_TEST

static Suite *notify_suite(void) {
        Suite *s = suite_create("notify");
        TCase *payload = tcase_create("payload"), *server = tcase_create("server"),
              *local = tcase_create("local");

        tcase_add_test(payload, test_payload_shape);
        tcase_add_test(payload, test_payload_no_fields);
        tcase_add_test(payload, test_payload_envelope_wins);
        tcase_add_test(payload, test_payload_invalid);
        tcase_add_test(payload, test_url_for_log);
        suite_add_tcase(s, payload);

        /* per test, and checked: a server forked from the runner itself would share the runner's Check
         * message file */
        tcase_add_checked_fixture(server, server_start, server_stop);
        tcase_set_timeout(server, 60);
        tcase_add_test(server, test_send_with_token);
        tcase_add_test(server, test_send_without_token);
        tcase_add_test(server, test_send_text_answer);
        tcase_add_test(server, test_send_500);
        tcase_add_test(server, test_send_404);
        tcase_add_test(server, test_send_in_order);
        suite_add_tcase(s, server);

        tcase_add_test(local, test_connection_refused);
        tcase_add_test(local, test_refused_inputs);
        suite_add_tcase(s, local);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(notify_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
