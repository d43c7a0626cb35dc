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

#define TOKEN "hook-s3cr3t"
#define SHORT (5 * USEC_PER_SEC)

static pid_t server_pid = 0;
static int server_port = 0;
static char *server_dir = NULL;    /* a temporary directory for the record */
static char *server_record = NULL; /* one JSON line per request the server answered */

/* ---- the recording server ---- */

static char *header_value(const char *head, const char *name) {
        size_t l = strlen(name);

        for (const char *line = strstr(head, "\r\n"); line && line[2]; line = strstr(line + 2, "\r\n")) {
                const char *p = line + 2, *e;

                if (strncasecmp(p, name, l) != 0 || p[l] != ':')
                        continue;
                p += l + 1;
                p += strspn(p, " ");
                e = strstr(p, "\r\n");
                return strndup(p, e ? (size_t)(e - p) : strlen(p));
        }
        return NULL;
}

/* the whole request: the head, and Content-Length bytes of body */
static int read_request(int fd, char **ret_head, char **ret_body) {
        _cleanup_free_ char *buf = NULL, *length = NULL;
        size_t size = 0, allocated = 0, head = 0 /* 0: the blank line not seen yet */, want = 0;

        while (head == 0 || size < want) {
                ssize_t n;

                if (allocated - size < 2) {
                        char *p;

                        allocated = allocated ? allocated * 2 : 4096;
                        p = realloc(buf, allocated);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                }
                n = read(fd, buf + size, allocated - size - 1);
                if (n <= 0)
                        return -EIO;
                size += (size_t)n;
                buf[size] = 0;

                if (head == 0) {
                        char *e = strstr(buf, "\r\n\r\n");

                        if (!e)
                                continue;
                        head = (size_t)(e - buf);
                        length = header_value(buf, "Content-Length");
                        want = head + 4 + (length ? strtoul(length, NULL, 10) : 0);
                }
        }

        *ret_body = strndup(buf + head + 4, want - head - 4);
        *ret_head = strndup(buf, head);
        return *ret_body && *ret_head ? 0 : -ENOMEM;
}

static void add_string_or_null(cJSON *o, const char *key, const char *value) {
        if (value)
                cJSON_AddStringToObject(o, key, value);
        else
                cJSON_AddNullToObject(o, key);
}

/* append {"method", "path", "authorization", "content_type", "body"} to the record */
static void record(const char *head, const char *body) {
        _cleanup_json_ cJSON *o = cJSON_CreateObject();
        _cleanup_free_ char *method = strndup(head, strcspn(head, " ")), *path = NULL, *line = NULL,
                            *authorization = header_value(head, "Authorization"),
                            *content_type = header_value(head, "Content-Type");
        const char *p = strchr(head, ' ');
        _cleanup_close_ int fd = -EBADF;

        if (p)
                path = strndup(p + 1, strcspn(p + 1, " "));
        add_string_or_null(o, "method", method);
        add_string_or_null(o, "path", path);
        add_string_or_null(o, "authorization", authorization);
        add_string_or_null(o, "content_type", content_type);
        add_string_or_null(o, "body", body);
        line = cJSON_PrintUnformatted(o);

        fd = open(server_record, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0 && line)
                dprintf(fd, "%s\n", line);
}

static void respond(int fd, int status, const char *reason, const char *body) {
        dprintf(fd,
                "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nConnection: "
                "close\r\n\r\n%s",
                status,
                reason,
                strlen(body),
                body);
}

static void serve(int fd) {
        _cleanup_free_ char *head = NULL, *body = NULL, *authorization = NULL, *echo = NULL;

        if (read_request(fd, &head, &body) < 0)
                return;
        /* recorded before the answer: the client has the record once notify_send() returns */
        record(head, body);

        if (strstr(head, " /hook "))
                dprintf(fd, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        else if (strstr(head, " /text "))
                respond(fd, 200, "OK", "ok\n");
        else if (strstr(head, " /fail ")) {
                /* a careless receiver that echoes the request's credentials in its error page */
                authorization = header_value(head, "Authorization");
                if (asprintf(&echo, "internal error for %s\n", strempty(authorization)) < 0)
                        return;
                respond(fd, 500, "Internal Server Error", echo);
        } else
                respond(fd, 404, "Not Found", "unknown path\n");
}

_noreturn_ static void server_run(int lfd) {
        /* keep nothing of the test runner's but the listening socket: Check's message file among
         * others, whose shared offset the runner reads from */
        if (dup2(lfd, 3) < 0)
                _exit(EXIT_FAILURE);
        lfd = 3;
        (void)close_range(4, ~0U, 0);
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        (void)signal(SIGPIPE, SIG_IGN);

        /* one request at a time: the record stays in order */
        for (;;) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

                if (fd < 0)
                        continue;
                serve(fd);
                (void)shutdown(fd, SHUT_WR);
                close(fd);
        }
}

static void server_start(void) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(sa);
        char template[] = "/tmp/test-notify.XXXXXX";
        int fd;

        ck_assert_ptr_nonnull(mkdtemp(template));
        server_dir = strdup(template);
        ck_assert_ptr_nonnull(server_dir);
        ck_assert_int_ge(asprintf(&server_record, "%s/record.jsonl", server_dir), 0);

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(fd, 16), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &l), 0);
        server_port = ntohs(sa.sin_port);

        fflush(NULL);
        server_pid = fork();
        ck_assert_int_ge(server_pid, 0);
        if (server_pid == 0)
                server_run(fd);
        close(fd);
}

static void server_stop(void) {
        if (server_pid > 0) {
                (void)kill(server_pid, SIGKILL);
                (void)waitpid(server_pid, NULL, 0);
                server_pid = 0;
        }
        if (server_record) {
                (void)unlink(server_record);
                free(server_record);
                server_record = NULL;
        }
        if (server_dir) {
                (void)rmdir(server_dir);
                free(server_dir);
                server_dir = NULL;
        }
}

static char *url(const char *path) {
        char *s;

        ck_assert_int_ge(asprintf(&s, "http://127.0.0.1:%d%s", server_port, path), 0);
        return s;
}

/* the record as an array of requests */
static cJSON *records(void) {
        _cleanup_fclose_ FILE *f = fopen(server_record, "re");
        _cleanup_free_ char *line = NULL;
        cJSON *a = cJSON_CreateArray();
        size_t n = 0;

        ck_assert_ptr_nonnull(a);
        if (!f)
                return a;
        while (getline(&line, &n, f) > 0) {
                cJSON *o = cJSON_Parse(line);
                ck_assert_ptr_nonnull(o);
                cJSON_AddItemToArray(a, o);
        }
        return a;
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
        _cleanup_free_ char *u = url("/hook"), *err = NULL;
        _cleanup_json_ cJSON *fields = cJSON_Parse("{\"version\":\"1.5.0\",\"from\":\"1.4.0\"}"),
                             *all = NULL, *body = NULL;
        const cJSON *q;

        ck_assert_int_eq(notify_send(u, TOKEN, "succeeded", fields, SHORT, &err), 0);
        ck_assert_ptr_null(err);

        all = records();
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
        _cleanup_free_ char *u = url("/hook"), *err = NULL;
        _cleanup_json_ cJSON *all = NULL, *body = NULL;
        const cJSON *q;

        ck_assert_int_eq(notify_send(u, NULL, "downtime", NULL, SHORT, &err), 0);
        ck_assert_ptr_null(err);

        all = records();
        ck_assert_int_eq(cJSON_GetArraySize(all), 1);
        q = cJSON_GetArrayItem(all, 0);
        ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(q, "authorization")));
        body = cJSON_Parse(json_get_string(q, "body"));
        ck_assert_str_eq(json_get_string(body, "event"), "downtime");
}
END_TEST

START_TEST(test_send_text_answer) {
        _cleanup_free_ char *u = url("/text"), *err = NULL;

        /* chat webhooks answer 200 "ok": any 2xx is success, JSON or not */
        ck_assert_int_eq(notify_send(u, TOKEN, "started", NULL, SHORT, &err), 0);
        ck_assert_ptr_null(err);
}
END_TEST

START_TEST(test_send_500) {
        _cleanup_free_ char *u = url("/fail"), *err = NULL;
        _cleanup_json_ cJSON *all = NULL;

        ck_assert_int_eq(notify_send(u, TOKEN, "failed", NULL, SHORT, &err), -EREMOTEIO);
        ck_assert_ptr_nonnull(err);
        ck_assert_ptr_nonnull(strstr(err, "500"));
        /* the receiver echoed the token in its answer; the error leaves it out */
        ck_assert_ptr_null(strstr(err, TOKEN));

        all = records();
        ck_assert_int_eq(cJSON_GetArraySize(all), 1);
}
END_TEST

START_TEST(test_send_404) {
        _cleanup_free_ char *u = url("/nowhere"), *err = NULL;

        ck_assert_int_eq(notify_send(u, NULL, "held", NULL, SHORT, &err), -EREMOTEIO);
        ck_assert_ptr_nonnull(strstr(err, "404"));
}
END_TEST

START_TEST(test_send_in_order) {
        static const char *const events[] = { "started", "downtime", "succeeded" };
        _cleanup_free_ char *u = url("/hook");
        _cleanup_json_ cJSON *all = NULL;

        for (size_t i = 0; i < ELEMENTSOF(events); i++)
                ck_assert_int_eq(notify_send(u, TOKEN, events[i], NULL, SHORT, NULL), 0);
        all = records();
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
