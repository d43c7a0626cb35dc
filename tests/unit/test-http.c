/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-http.c: http module against a canned HTTP server forked on 127.0.0.1, every request through the
 * loopback client (http-loopback.h) and again through libcurl */
#define _GNU_SOURCE
#include <stdbool.h>
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "http.h"
#include "json-util.h"
#include "test-util.h"
#include "time-util.h"

#define TOKEN "s3cr3t-t0ken"
#define SHORT (5 * USEC_PER_SEC)

/* ---- the canned server ---- */

static void serve(int fd, const TestHttpRequest *q) {
        if (streq(q->path, "/json"))
                test_http_respond(
                        fd,
                        200,
                        "OK",
                        "application/json",
                        "{\"status\":\"ok\",\"version\":\"1.5.0\",\"protocol\":7}");
        else if (streq(q->path, "/unauthorized"))
                test_http_respond(
                        fd, 401, "Unauthorized", "application/json", "{\"error\":\"bad credentials\"}");
        else if (streq(q->path, "/unavailable"))
                test_http_respond(fd, 503, "Service Unavailable", "text/plain", "starting\n");
        else if (streq(q->path, "/notjson"))
                test_http_respond(fd, 200, "OK", "text/plain", "hello, world\n");
        else if (streq(q->path, "/empty"))
                dprintf(fd, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        else if (streq(q->path, "/missing"))
                test_http_respond(fd, 404, "Not Found", "text/plain", "no such thing\n");
        else if (streq(q->path, "/redirect"))
                dprintf(fd,
                        "HTTP/1.1 302 Found\r\nLocation: /json\r\nContent-Length: 0\r\n"
                        "Connection: close\r\n\r\n");
        else if (streq(q->path, "/chunked")) {
                /* node's answer to res.write() twice and res.end(): chunks, one with an extension, a
                 * trailer, and the chunks' lines split over several writes */
                dprintf(fd,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: "
                        "chunked\r\n\r\n");
                dprintf(fd, "b\r\n{\"status\":\"\r\n");
                usleep(50 * 1000);
                dprintf(fd, "4;ext=1\r\nok\"}");
                usleep(50 * 1000);
                dprintf(fd, "\r\n0\r\nX-Trailer: yes\r\n\r\n");
        } else if (streq(q->path, "/continue"))
                dprintf(fd,
                        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                        "Connection: close\r\n\r\n{}");
        else if (streq(q->path, "/cut"))
                dprintf(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"a\":");
        else if (streq(q->path, "/hang"))
                sleep(60);
        else if (streq(q->path, "/big"))
                dprintf(fd,
                        "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                        HTTP_BODY_MAX + 1);
        else if (streq(q->path, "/big-stream")) {
                _cleanup_free_ char *chunk = malloc(1024 * 1024);

                memset(chunk, 'x', 1024 * 1024);
                dprintf(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
                for (size_t i = 0; i <= HTTP_BODY_MAX / (1024 * 1024); i++)
                        if (write(fd, chunk, 1024 * 1024) < 0)
                                break;
        } else if (streq(q->path, "/stream")) {
                /* two lines, then one more after a pause, then silence until the client gives up */
                dprintf(fd,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n");
                dprintf(fd, "{\"n\":1}\n{\"n\":2}\n");
                usleep(200 * 1000);
                dprintf(fd, "{\"n\":3}\n");
                sleep(60);
        } else if (streq(q->path, "/echo")) {
                _cleanup_json_ cJSON *o = cJSON_CreateObject();
                _cleanup_free_ char *s = NULL;

                cJSON_AddStringToObject(o, "method", q->method);
                if (q->authorization)
                        cJSON_AddStringToObject(o, "authorization", q->authorization);
                else
                        cJSON_AddNullToObject(o, "authorization");
                if (q->content_type)
                        cJSON_AddStringToObject(o, "content_type", q->content_type);
                else
                        cJSON_AddNullToObject(o, "content_type");
                cJSON_AddStringToObject(o, "body", q->body);
                s = cJSON_PrintUnformatted(o);
                test_http_respond(fd, 200, "OK", "application/json", s);
        } else
                test_http_respond(fd, 404, "Not Found", "text/plain", "unknown path\n");
}

START_TEST(test_chunked) {
        _cleanup_free_ char *u = test_http_url("/chunked"), *c = test_http_url("/continue"),
                            *cut = test_http_url("/cut"), *err = NULL;
        _cleanup_json_ cJSON *j = NULL;
        _cleanup_http_response_ HttpResponse r = {};
        long status = 0;

        ck_assert_int_eq(http_json("GET", u, NULL, NULL, SHORT, &status, &j, &err), 0);
        ck_assert_int_eq(status, 200);
        ck_assert_str_eq(json_get_string(j, "status"), "ok");

        /* an interim answer before the real one */
        ck_assert_int_eq(http_request("GET", c, NULL, NULL, SHORT, &r, &err), 0);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.body, "{}");
        http_response_done(&r);

        /* the connection closed before the promised length: the peer hung up mid-transfer */
        ck_assert_int_eq(http_request("GET", cut, NULL, NULL, SHORT, &r, &err), -ECONNRESET);
        ck_assert_ptr_null(r.body);
}
END_TEST

static void server_start(void) {
        test_http_server_start(serve);
}

static void server_stop(void) {
        test_http_server_stop();
}

/* ---- the tests ---- */

START_TEST(test_get_json) {
        _cleanup_free_ char *u = test_http_url("/json"), *err = NULL;
        _cleanup_json_ cJSON *j = NULL;
        long status = 0;

        ck_assert_int_eq(http_json("GET", u, NULL, NULL, SHORT, &status, &j, &err), 0);
        ck_assert_int_eq(status, 200);
        ck_assert_ptr_null(err);
        ck_assert_str_eq(json_get_string(j, "status"), "ok");
        ck_assert_int_eq(cJSON_GetObjectItem(j, "protocol")->valueint, 7);
}
END_TEST

START_TEST(test_status_401_is_not_an_error) {
        _cleanup_free_ char *u = test_http_url("/unauthorized"), *err = NULL;
        _cleanup_json_ cJSON *j = NULL;
        long status = 0;

        ck_assert_int_eq(http_json("GET", u, TOKEN, NULL, SHORT, &status, &j, &err), 0);
        ck_assert_int_eq(status, 401);
        ck_assert_ptr_null(err);
        ck_assert_str_eq(json_get_string(j, "error"), "bad credentials");
}
END_TEST

START_TEST(test_status_503_text_body) {
        _cleanup_free_ char *u = test_http_url("/unavailable"), *err = NULL;
        cJSON *j = (cJSON *)0x1;
        long status = 0;

        ck_assert_int_eq(http_json("GET", u, NULL, NULL, SHORT, &status, &j, &err), 0);
        ck_assert_int_eq(status, 503);
        ck_assert_ptr_null(j);
}
END_TEST

START_TEST(test_request_raw) {
        _cleanup_free_ char *u = test_http_url("/unavailable"), *err = NULL;
        _cleanup_http_response_ HttpResponse r = {};

        ck_assert_int_eq(http_request("GET", u, NULL, NULL, SHORT, &r, &err), 0);
        ck_assert_int_eq(r.status, 503);
        ck_assert_uint_eq(r.size, strlen("starting\n"));
        ck_assert_str_eq(r.body, "starting\n");
}
END_TEST

START_TEST(test_empty_body) {
        _cleanup_free_ char *u = test_http_url("/empty"), *err = NULL;
        _cleanup_http_response_ HttpResponse r = {};
        cJSON *j = (cJSON *)0x1;
        long status = 0;

        ck_assert_int_eq(http_json("GET", u, NULL, NULL, SHORT, &status, &j, &err), 0);
        ck_assert_int_eq(status, 204);
        ck_assert_ptr_null(j);

        ck_assert_int_eq(http_request("GET", u, NULL, NULL, SHORT, &r, &err), 0);
        ck_assert_ptr_nonnull(r.body);
        ck_assert_uint_eq(r.size, 0);
        ck_assert_str_eq(r.body, "");
}
END_TEST

START_TEST(test_not_json) {
        _cleanup_free_ char *u = test_http_url("/notjson"), *err = NULL;
        cJSON *j = (cJSON *)0x1;
        long status = -1;

        ck_assert_int_eq(http_json("GET", u, NULL, NULL, SHORT, &status, &j, &err), -EBADMSG);
        ck_assert_ptr_nonnull(err);
        /* untouched on failure */
        ck_assert_int_eq(status, -1);
        ck_assert_ptr_eq(j, (cJSON *)0x1);
}
END_TEST

START_TEST(test_bearer_sent) {
        _cleanup_free_ char *u = test_http_url("/echo");
        _cleanup_json_ cJSON *with = NULL, *without = NULL;
        long status = 0;

        ck_assert_int_eq(http_json("GET", u, TOKEN, NULL, SHORT, &status, &with, NULL), 0);
        ck_assert_int_eq(status, 200);
        ck_assert_str_eq(json_get_string(with, "method"), "GET");
        ck_assert_str_eq(json_get_string(with, "authorization"), "Bearer " TOKEN);

        ck_assert_int_eq(http_json("GET", u, NULL, NULL, SHORT, &status, &without, NULL), 0);
        ck_assert(cJSON_IsNull(cJSON_GetObjectItem(without, "authorization")));
}
END_TEST

START_TEST(test_bearer_with_newline_refused) {
        _cleanup_free_ char *u = test_http_url("/echo"), *err = NULL;
        _cleanup_http_response_ HttpResponse r = {};

        ck_assert_int_eq(http_request("GET", u, "abc\r\nX-Evil: 1", NULL, SHORT, &r, &err), -EINVAL);
        ck_assert_ptr_nonnull(err);
        ck_assert_ptr_null(strstr(err, "Evil"));
}
END_TEST

START_TEST(test_post_body_sent) {
        _cleanup_free_ char *u = test_http_url("/echo"), *err = NULL;
        _cleanup_json_ cJSON *body = cJSON_CreateObject(), *echo = NULL, *sent = NULL, *empty = NULL;
        long status = 0;

        cJSON_AddStringToObject(body, "username", "smoke");
        cJSON_AddStringToObject(body, "password", "pw with \"quotes\"");

        ck_assert_int_eq(http_json("POST", u, TOKEN, body, SHORT, &status, &echo, &err), 0);
        ck_assert_int_eq(status, 200);
        ck_assert_str_eq(json_get_string(echo, "method"), "POST");
        ck_assert_str_eq(json_get_string(echo, "authorization"), "Bearer " TOKEN);
        ck_assert_str_eq(json_get_string(echo, "content_type"), "application/json");

        sent = cJSON_Parse(json_get_string(echo, "body"));
        ck_assert(cJSON_Compare(sent, body, true));

        cJSON_Delete(echo);
        echo = NULL;
        ck_assert_int_eq(http_json("POST", u, NULL, NULL, SHORT, &status, &echo, &err), 0);
        ck_assert_str_eq(json_get_string(echo, "body"), "{}");
        ck_assert_ptr_null(err);
}
END_TEST

START_TEST(test_other_methods) {
        _cleanup_free_ char *u = test_http_url("/echo"), *err = NULL;
        _cleanup_http_response_ HttpResponse put = {}, del = {}, bad = {};
        _cleanup_json_ cJSON *j1 = NULL, *j2 = NULL;

        ck_assert_int_eq(http_request("PUT", u, NULL, "[1,2]", SHORT, &put, &err), 0);
        j1 = cJSON_Parse(put.body);
        ck_assert_str_eq(json_get_string(j1, "method"), "PUT");
        ck_assert_str_eq(json_get_string(j1, "body"), "[1,2]");

        ck_assert_int_eq(http_request("DELETE", u, NULL, NULL, SHORT, &del, &err), 0);
        j2 = cJSON_Parse(del.body);
        ck_assert_str_eq(json_get_string(j2, "method"), "DELETE");

        ck_assert_int_eq(http_request("GE T", u, NULL, NULL, SHORT, &bad, &err), -EINVAL);
        ck_assert_int_eq(http_request("GET", u, NULL, "{}", SHORT, &bad, NULL), -EINVAL);
}
END_TEST

START_TEST(test_no_redirect_for_api) {
        _cleanup_free_ char *u = test_http_url("/redirect");
        long status = 0;

        ck_assert_int_eq(http_json("GET", u, TOKEN, NULL, SHORT, &status, NULL, NULL), 0);
        ck_assert_int_eq(status, 302);
}
END_TEST

START_TEST(test_timeout) {
        _cleanup_free_ char *u = test_http_url("/hang"), *err = NULL;
        long status = 0;
        usec_t start = now_monotonic();

        ck_assert_int_eq(http_json("GET", u, TOKEN, NULL, 300 * 1000, &status, NULL, &err), -ETIMEDOUT);
        ck_assert_uint_lt(now_monotonic() - start, 5 * USEC_PER_SEC);
        ck_assert_ptr_nonnull(err);
        ck_assert_ptr_null(strstr(err, TOKEN));
}
END_TEST

START_TEST(test_connection_refused) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(sa);
        _cleanup_free_ char *u = NULL, *err = NULL;
        _cleanup_close_ int fd = -EBADF;
        _cleanup_http_response_ HttpResponse r = {};
        HttpOptions o = { .authorization = TOKEN, .connect_timeout = SHORT };
        long status = -1;

        /* bound but never listening: connect() is refused, and no one can take the port meanwhile */
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &l), 0);
        ck_assert_int_ge(asprintf(&u, "http://127.0.0.1:%d/json", ntohs(sa.sin_port)), 0);

        ck_assert_int_eq(http_json("GET", u, TOKEN, NULL, SHORT, &status, NULL, &err), -ECONNREFUSED);
        ck_assert_int_eq(status, -1);
        ck_assert_ptr_nonnull(err);
        ck_assert_ptr_null(strstr(err, TOKEN));

        /* refused stays refused with a connect timeout (only a connection never made in time is
         * -EHOSTUNREACH) */
        ck_assert_int_eq(http_request_with("POST", u, &o, "{}", SHORT, &r, NULL), -ECONNREFUSED);
        ck_assert_ptr_null(r.body);
}
END_TEST

START_TEST(test_body_too_big) {
        _cleanup_free_ char *u1 = test_http_url("/big"), *u2 = test_http_url("/big-stream"), *err = NULL;
        _cleanup_http_response_ HttpResponse r = {};

        ck_assert_int_eq(http_request("GET", u1, NULL, NULL, SHORT, &r, &err), -EFBIG);
        ck_assert_ptr_nonnull(err);
        ck_assert_int_eq(http_request("GET", u2, NULL, NULL, 30 * USEC_PER_SEC, &r, NULL), -EFBIG);
        ck_assert_ptr_null(r.body);
}
END_TEST

START_TEST(test_api_refuses_file_urls) {
        _cleanup_free_ char *err = NULL;
        _cleanup_http_response_ HttpResponse r = {};

        ck_assert_int_eq(
                http_request("GET", "file://" FIXTURES "/http/release.json", NULL, NULL, SHORT, &r, &err),
                -EPROTONOSUPPORT);
        ck_assert_ptr_nonnull(err);
}
END_TEST

static void check_release(const char *body, size_t size) {
        _cleanup_json_ cJSON *j = cJSON_ParseWithLength(body, size);
        const cJSON *v;

        ck_assert_ptr_nonnull(j);
        ck_assert_uint_eq(strlen(body), size);
        ck_assert_str_eq(json_get_string(j, "name"), "@codebolt/server");
        v = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "versions"), "1.5.0");
        ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(v, "codebolt"), "protocol")->valueint, 7);
}

START_TEST(test_fetch_file_url) {
        _cleanup_free_ char *body = NULL, *err = NULL;
        size_t size = 0;

        ck_assert_int_eq(http_fetch_file("file://" FIXTURES "/http/release.json", &body, &size, &err), 0);
        ck_assert_ptr_null(err);
        check_release(body, size);
}
END_TEST

START_TEST(test_fetch_local_path) {
        _cleanup_free_ char *body = NULL, *err = NULL;
        size_t size = 0;

        ck_assert_int_eq(http_fetch_file(FIXTURES "/http/release.json", &body, &size, &err), 0);
        check_release(body, size);
}
END_TEST

START_TEST(test_fetch_missing) {
        _cleanup_free_ char *body = NULL, *err = NULL, *u = test_http_url("/missing");

        ck_assert_int_eq(
                http_fetch_file("file://" FIXTURES "/http/nonexistent.json", &body, NULL, &err), -ENOENT);
        ck_assert_ptr_nonnull(err);
        ck_assert_int_eq(http_fetch_file(FIXTURES "/http/nonexistent.json", &body, NULL, NULL), -ENOENT);
        ck_assert_int_eq(http_fetch_file(u, &body, NULL, NULL), -ENOENT);
        ck_assert_int_eq(http_fetch_file(FIXTURES "/http", &body, NULL, NULL), -EISDIR);
        ck_assert_ptr_null(body);
}
END_TEST

START_TEST(test_fetch_http) {
        _cleanup_free_ char *body = NULL, *body2 = NULL, *u = test_http_url("/json"),
                            *r = test_http_url("/redirect");
        _cleanup_json_ cJSON *j = NULL;
        size_t size = 0;

        ck_assert_int_eq(http_fetch_file(u, &body, &size, NULL), 0);
        j = cJSON_Parse(body);
        ck_assert_str_eq(json_get_string(j, "version"), "1.5.0");

        /* release metadata may sit behind a redirect */
        ck_assert_int_eq(http_fetch_file(r, &body2, NULL, NULL), 0);
        ck_assert_str_eq(body2, body);
}
END_TEST

START_TEST(test_fetch_unsupported_scheme) {
        _cleanup_free_ char *body = NULL, *err = NULL;

        ck_assert_int_eq(http_fetch_file("ftp://127.0.0.1/x", &body, NULL, &err), -EPROTONOSUPPORT);
        ck_assert_ptr_nonnull(err);
}
END_TEST

START_TEST(test_response_done) {
        HttpResponse r = { .status = 200, .body = strdup("x"), .size = 1 };

        http_response_done(&r);
        ck_assert_ptr_null(r.body);
        ck_assert_int_eq(r.status, 0);
        http_response_done(&r);
        http_response_done(NULL);
}
END_TEST

START_TEST(test_authorization_raw) {
        _cleanup_free_ char *u = test_http_url("/echo"), *err = NULL;
        _cleanup_http_response_ HttpResponse r = {}, bad = {};
        _cleanup_json_ cJSON *j = NULL;
        HttpOptions o = { .authorization = TOKEN, .connect_timeout = SHORT };

        ck_assert_int_eq(http_request_with("POST", u, &o, "{}", SHORT, &r, &err), 0);
        ck_assert_int_eq(r.status, 200);
        j = cJSON_Parse(r.body);
        /* as it is, without "Bearer" */
        ck_assert_str_eq(json_get_string(j, "authorization"), TOKEN);
        ck_assert_str_eq(json_get_string(j, "body"), "{}");

        o.authorization = "abc\r\nX-Evil: 1";
        ck_assert_int_eq(http_request_with("POST", u, &o, "{}", SHORT, &bad, &err), -EINVAL);
        ck_assert_ptr_null(strstr(err, "Evil"));

        /* a certificate without its key */
        o = (HttpOptions){ .certificate = "/nonexistent.pem" };
        ck_assert_int_eq(http_request_with("POST", u, &o, "{}", SHORT, &bad, NULL), -EINVAL);
        ck_assert_ptr_null(bad.body);
}
END_TEST

typedef struct Lines {
        size_t seen;
        int stop_at;
        int lines;
} Lines;

static int count_lines(const HttpResponse *sofar, void *userdata) {
        Lines *l = userdata;

        ck_assert_int_eq(sofar->status, 200);
        ck_assert_uint_eq(strlen(sofar->body), sofar->size);
        for (; l->seen < sofar->size; l->seen++)
                if (sofar->body[l->seen] == '\n' && ++l->lines == l->stop_at)
                        return 7;
        return 0;
}

START_TEST(test_stream_stop) {
        _cleanup_free_ char *u = test_http_url("/stream"), *err = NULL;
        _cleanup_http_response_ HttpResponse r = {};
        Lines l = { .stop_at = 3 };
        usec_t start = now_monotonic();

        /* the third line arrives later, in a read of its own: the callback ends the transfer there */
        ck_assert_int_eq(http_request_stream("POST", u, NULL, "{}", SHORT, count_lines, &l, &r, &err), 7);
        ck_assert_uint_lt(now_monotonic() - start, 4 * USEC_PER_SEC);
        ck_assert_int_eq(l.lines, 3);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.body, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n");
}
END_TEST

START_TEST(test_stream_timeout_and_end) {
        _cleanup_free_ char *u = test_http_url("/stream"), *j = test_http_url("/json"), *err = NULL;
        _cleanup_http_response_ HttpResponse r = {};
        Lines l = { .stop_at = 100 };

        /* the stream goes silent: the timeout, with what arrived seen by the callback */
        ck_assert_int_eq(
                http_request_stream("POST", u, NULL, "{}", 1 * USEC_PER_SEC, count_lines, &l, &r, &err),
                -ETIMEDOUT);
        ck_assert_int_eq(l.lines, 3);
        ck_assert_ptr_null(r.body);

        /* a body that ends: 0, and the whole of it */
        l = (Lines){ .stop_at = 100 };
        ck_assert_int_eq(http_request_stream("GET", j, NULL, NULL, SHORT, count_lines, &l, &r, &err), 0);
        ck_assert_int_eq(r.status, 200);
        ck_assert_ptr_nonnull(strstr(r.body, "1.5.0"));
}
END_TEST

START_TEST(test_timeout_after_connecting) {
        _cleanup_free_ char *u = test_http_url("/hang"), *err = NULL;
        _cleanup_http_response_ HttpResponse r = {};
        HttpOptions o = { .authorization = TOKEN, .connect_timeout = SHORT };

        /* connected, sent, no answer: a timeout, not an unreachable host */
        ck_assert_int_eq(http_request_with("POST", u, &o, "{}", 300 * 1000, &r, &err), -ETIMEDOUT);
        ck_assert_ptr_null(strstr(err, TOKEN));
}
END_TEST

START_TEST(test_first_byte_timeout) {
        _cleanup_free_ char *u = test_http_url("/hang"), *s = test_http_url("/stream"), *err = NULL;
        _cleanup_http_response_ HttpResponse r = {};
        HttpOptions o = { .first_byte_timeout = 300 * 1000 };
        Lines l = { .stop_at = 3 };
        usec_t start = now_monotonic();

        /* silent: given up on long before the transfer's own timeout */
        ck_assert_int_eq(
                http_request_stream("POST", u, &o, "{}", 60 * USEC_PER_SEC, count_lines, &l, &r, &err),
                -ETIMEDOUT);
        ck_assert_uint_lt(now_monotonic() - start, 10 * USEC_PER_SEC);
        ck_assert_int_eq(l.lines, 0);

        /* a body that started: the limit is over */
        ck_assert_int_eq(
                http_request_stream("POST", s, &o, "{}", 60 * USEC_PER_SEC, count_lines, &l, &r, &err), 7);
}
END_TEST

static void server_start_libcurl(void) {
        http_set_loopback(false);
        test_http_server_start(serve);
}

/* every request to the canned server, through one client or the other */
static TCase *server_tcase(const char *name, void (*start)(void)) {
        TCase *server = tcase_create(name);

        /* per test: a server forked from the runner shares the runner's Check message files */
        tcase_add_checked_fixture(server, start, server_stop);
        tcase_set_timeout(server, 60);
        tcase_add_test(server, test_get_json);
        tcase_add_test(server, test_status_401_is_not_an_error);
        tcase_add_test(server, test_status_503_text_body);
        tcase_add_test(server, test_request_raw);
        tcase_add_test(server, test_empty_body);
        tcase_add_test(server, test_not_json);
        tcase_add_test(server, test_bearer_sent);
        tcase_add_test(server, test_bearer_with_newline_refused);
        tcase_add_test(server, test_post_body_sent);
        tcase_add_test(server, test_other_methods);
        tcase_add_test(server, test_no_redirect_for_api);
        tcase_add_test(server, test_timeout);
        tcase_add_test(server, test_connection_refused);
        tcase_add_test(server, test_body_too_big);
        tcase_add_test(server, test_fetch_missing);
        tcase_add_test(server, test_fetch_http);
        tcase_add_test(server, test_authorization_raw);
        tcase_add_test(server, test_stream_stop);
        tcase_add_test(server, test_stream_timeout_and_end);
        tcase_add_test(server, test_timeout_after_connecting);
        tcase_add_test(server, test_first_byte_timeout);
        tcase_add_test(server, test_chunked);
        return server;
}

static Suite *http_suite(void) {
        Suite *s = suite_create("http");
        TCase *local = tcase_create("local");

        /* the server on 127.0.0.1: the loopback client (the default), then libcurl */
        suite_add_tcase(s, server_tcase("loopback", server_start));
        suite_add_tcase(s, server_tcase("libcurl", server_start_libcurl));

        tcase_add_test(local, test_api_refuses_file_urls);
        tcase_add_test(local, test_fetch_file_url);
        tcase_add_test(local, test_fetch_local_path);
        tcase_add_test(local, test_fetch_unsupported_scheme);
        tcase_add_test(local, test_response_done);
        suite_add_tcase(s, local);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(http_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
