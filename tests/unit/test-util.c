/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-util.c: what the unit tests share: stderr captured, scratch trees removed, a recording HTTP
 * server forked on 127.0.0.1 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "json-util.h"
#include "test-util.h"

/* ---- stderr captured ---- */

static int saved_stderr = -1;
static FILE *capture_file = NULL;

void test_capture_begin(void) {
        fflush(stderr);
        capture_file = tmpfile();
        ck_assert_ptr_nonnull(capture_file);
        saved_stderr = dup(STDERR_FILENO);
        ck_assert_int_ge(saved_stderr, 0);
        ck_assert_int_eq(dup2(fileno(capture_file), STDERR_FILENO), STDERR_FILENO);
}

char *test_capture_end(void) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int c;

        fflush(stderr);
        ck_assert_int_eq(dup2(saved_stderr, STDERR_FILENO), STDERR_FILENO);
        close(saved_stderr);
        saved_stderr = -1;

        rewind(capture_file);
        f = open_memstream(&buf, &size);
        ck_assert_ptr_nonnull(f);
        while ((c = fgetc(capture_file)) != EOF)
                fputc(c, f);
        fclose(f);
        fclose(capture_file);
        capture_file = NULL;
        return buf;
}

/* ---- scratch trees ---- */

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *ftw) {
        return remove(p) < 0 ? -1 : 0;
}

void rm_rf(const char *dir) {
        (void)nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void rm_rf_freep(char **dir) {
        if (*dir)
                rm_rf(*dir);
        free(*dir);
}

/* ---- the HTTP server ---- */

static pid_t server_pid = 0;
static int server_port = 0;
static char *server_dir = NULL;    /* a temporary directory for the record */
static char *server_record = NULL; /* one JSON line per request the server read */

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
static int read_request(int fd, TestHttpRequest *ret) {
        _cleanup_free_ char *buf = NULL, *length = NULL;
        size_t size = 0, allocated = 0, head = 0 /* 0: the blank line not seen yet */, want = 0;
        const char *sp;

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

        buf[head] = 0;
        sp = strchr(buf, ' ');
        *ret = (TestHttpRequest){
                .method = strndup(buf, strcspn(buf, " ")),
                .path = sp ? strndup(sp + 1, strcspn(sp + 1, " ")) : NULL,
                .authorization = header_value(buf, "Authorization"),
                .content_type = header_value(buf, "Content-Type"),
                .body = strndup(buf + head + 4, want - head - 4),
        };
        return ret->method && ret->body ? 0 : -ENOMEM;
}

static void add_string_or_null(cJSON *o, const char *key, const char *value) {
        if (value)
                cJSON_AddStringToObject(o, key, value);
        else
                cJSON_AddNullToObject(o, key);
}

/* appended before the answer: the client has the record once its request returns */
static void record(const TestHttpRequest *q) {
        _cleanup_json_ cJSON *o = cJSON_CreateObject();
        _cleanup_free_ char *line = NULL;
        _cleanup_close_ int fd = -EBADF;

        add_string_or_null(o, "method", q->method);
        add_string_or_null(o, "path", q->path);
        add_string_or_null(o, "authorization", q->authorization);
        add_string_or_null(o, "content_type", q->content_type);
        add_string_or_null(o, "body", q->body);
        line = cJSON_PrintUnformatted(o);

        fd = open(server_record, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0 && line)
                dprintf(fd, "%s\n", line);
}

void test_http_respond(int fd, int status, const char *reason, const char *type, const char *body) {
        dprintf(fd,
                "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                status,
                reason,
                type,
                strlen(body),
                body);
}

_noreturn_ static void server_run(int lfd, TestHttpHandler handler) {
        /* keep nothing of the test runner's but the listening socket: Check's message file among
         * others, whose shared offset the runner reads from */
        if (dup2(lfd, 3) < 0)
                _exit(EXIT_FAILURE);
        lfd = 3;
        (void)close_range(4, ~0U, 0);
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        (void)signal(SIGCHLD, SIG_IGN); /* reap the connection handlers */
        (void)signal(SIGPIPE, SIG_IGN);

        for (;;) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                pid_t pid;

                if (fd < 0)
                        continue;
                pid = fork();
                if (pid == 0) {
                        TestHttpRequest q = {};

                        if (read_request(fd, &q) >= 0 && q.path) {
                                record(&q);
                                handler(fd, &q);
                        }
                        (void)shutdown(fd, SHUT_WR);
                        _exit(EXIT_SUCCESS);
                }
                close(fd);
        }
}

void test_http_server_start(TestHttpHandler handler) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(sa);
        char template[] = "/tmp/test-http-server.XXXXXX";
        int fd;

        ck_assert_ptr_nonnull(mkdtemp(template));
        server_dir = strdup(template);
        ck_assert_ptr_nonnull(server_dir);
        ck_assert_int_ge(asprintf(&server_record, "%s/record.jsonl", server_dir), 0);

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(fd, 64), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &l), 0);
        server_port = ntohs(sa.sin_port);

        fflush(NULL);
        server_pid = fork();
        ck_assert_int_ge(server_pid, 0);
        if (server_pid == 0) {
                (void)setpgid(0, 0);
                server_run(fd, handler);
        }
        (void)setpgid(server_pid, server_pid);
        close(fd);
}

void test_http_server_stop(void) {
        if (server_pid > 0) {
                /* the server and any handler still hanging */
                (void)kill(-server_pid, SIGKILL);
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

char *test_http_url(const char *path) {
        char *s;

        ck_assert_int_ge(asprintf(&s, "http://127.0.0.1:%d%s", server_port, path), 0);
        return s;
}

cJSON *test_http_records(void) {
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

char *test_read_fixture(const char *fixtures, const char *dir, const char *name, size_t *ret_size) {
        _cleanup_free_ char *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        char *text = NULL;
        size_t n = 0;
        ssize_t l;

        ck_assert_int_ge(asprintf(&path, "%s/%s/%s", fixtures, dir, name), 0);
        f = fopen(path, "re");
        ck_assert_msg(f, "%s: %s", path, strerror(errno));
        l = getdelim(&text, &n, 0, f);
        ck_assert_int_gt(l, 0);
        *ret_size = (size_t)l;
        return text;
}

cJSON *test_fixture_json(const char *fixtures, const char *dir, const char *name) {
        size_t size;
        _cleanup_free_ char *text = test_read_fixture(fixtures, dir, name, &size);
        cJSON *j = cJSON_ParseWithLength(text, size);

        ck_assert_msg(j, "%s/%s/%s: not JSON", fixtures, dir, name);
        return j;
}

cJSON *test_json(const char *text) {
        cJSON *j = cJSON_Parse(text);

        ck_assert_msg(j, "not JSON: %s", text);
        return j;
}
