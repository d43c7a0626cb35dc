/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* http-loopback.c: see http-loopback.h */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "errmsg.h"
#include "fd-util.h"
#include "http-loopback.h"
#include "http-parse.h"
#include "macro.h"

void http_loopback_target_done(HttpLoopbackTarget *t) {
        if (!t)
                return;
        free(t->host);
        free(t->target);
        *t = (HttpLoopbackTarget){};
}

/* a port of 1 to 65535 in decimal, nothing else */
static int parse_port(const char *s, size_t n, uint16_t *ret) {
        unsigned v = 0;

        if (n == 0 || n > 5)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (unsigned)(s[i] - '0');
        }
        if (v == 0 || v > 65535)
                return -EINVAL;
        *ret = (uint16_t)v;
        return 0;
}

int http_loopback_target(const char *url, HttpLoopbackTarget *ret) {
        const char *authority, *end, *port = NULL, *target;
        char host[INET6_ADDRSTRLEN + 1];
        size_t host_len;
        uint16_t p = 80;
        HttpLoopbackTarget t = {};

        assert(url);
        assert(ret);

        if (strncasecmp(url, "http://", 7) != 0)
                return 0;
        authority = url + 7;
        end = authority + strcspn(authority, "/?#");
        if (memchr(authority, '@', (size_t)(end - authority)))
                return 0;

        if (authority[0] == '[') {
                const char *close = memchr(authority, ']', (size_t)(end - authority));

                if (!close)
                        return 0;
                host_len = (size_t)(close - authority - 1);
                if (host_len >= sizeof(host))
                        return 0;
                memcpy(host, authority + 1, host_len);
                host[host_len] = 0;
                if (close + 1 < end) {
                        if (close[1] != ':')
                                return 0;
                        port = close + 2;
                }
                t.addr.in6.sin6_family = AF_INET6;
                if (inet_pton(AF_INET6, host, &t.addr.in6.sin6_addr) != 1 ||
                    !IN6_IS_ADDR_LOOPBACK(&t.addr.in6.sin6_addr))
                        return 0;
                t.addr_len = sizeof(t.addr.in6);
        } else {
                const char *colon = memchr(authority, ':', (size_t)(end - authority));

                host_len = (size_t)((colon ?: end) - authority);
                if (host_len >= sizeof(host))
                        return 0;
                memcpy(host, authority, host_len);
                host[host_len] = 0;
                if (colon)
                        port = colon + 1;
                t.addr.in.sin_family = AF_INET;
                /* a dotted quad only: inet_pton() takes no shorthand such as 127.1 */
                if (inet_pton(AF_INET, host, &t.addr.in.sin_addr) != 1 ||
                    (ntohl(t.addr.in.sin_addr.s_addr) >> 24) != 127)
                        return 0;
                t.addr_len = sizeof(t.addr.in);
        }
        if (port && parse_port(port, (size_t)(end - port), &p) < 0)
                return 0;
        if (t.addr.sa.sa_family == AF_INET)
                t.addr.in.sin_port = htons(p);
        else
                t.addr.in6.sin6_port = htons(p);

        /* what a request line may not carry is libcurl's to refuse, or to encode */
        target = end;
        for (const char *c = target; *c && *c != '#'; c++)
                if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
                        return 0;
        t.host = strndup(authority, (size_t)(end - authority));
        if (*target == '?')
                (void)asprintf(&t.target, "/%.*s", (int)strcspn(target, "#"), target);
        else if (*target == '/')
                t.target = strndup(target, strcspn(target, "#"));
        else
                t.target = strdup("/");
        if (!t.host || !t.target) {
                http_loopback_target_done(&t);
                return -ENOMEM;
        }
        *ret = t;
        return 1;
}

/* "127.0.0.1 port 3000", for messages */
static void describe(const HttpLoopbackTarget *t, char *buf, size_t size) {
        char a[INET6_ADDRSTRLEN] = "?";

        if (t->addr.sa.sa_family == AF_INET) {
                (void)inet_ntop(AF_INET, &t->addr.in.sin_addr, a, sizeof(a));
                (void)snprintf(buf, size, "%s port %u", a, ntohs(t->addr.in.sin_port));
        } else {
                (void)inet_ntop(AF_INET6, &t->addr.in6.sin6_addr, a, sizeof(a));
                (void)snprintf(buf, size, "%s port %u", a, ntohs(t->addr.in6.sin6_port));
        }
}

static int connect_to(
        const HttpLoopbackTarget *t, const HttpLoopbackRequest *q, const char *where, char **ret_error) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        fd = socket(t->addr.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return errmsg_set(ret_error, -errno, "socket: %s", strerror(errno));
        r = socket_connect(fd, &t->addr.sa, t->addr_len, usec_min(q->deadline, q->connect_deadline));
        if (r == -ETIMEDOUT)
                /* never connected within the connect timeout is told apart, as http.h says */
                return errmsg_set(
                        ret_error,
                        q->connect_deadline <= q->deadline ? -EHOSTUNREACH : -ETIMEDOUT,
                        "Failed to connect to %s: timed out",
                        where);
        if (r < 0)
                return errmsg_set(
                        ret_error,
                        r == -ECONNREFUSED || r == -EHOSTUNREACH || r == -ENETUNREACH ? r : -ECONNREFUSED,
                        "Failed to connect to %s: %s",
                        where,
                        strerror(-r));
        return TAKE_FD(fd);
}

static int build_request(
        const HttpLoopbackTarget *t, const HttpLoopbackRequest *q, char **ret, size_t *ret_size) {
        const char *body = strempty(q->json_body);
        _cleanup_erase_free_ char *auth = NULL;
        char length[64] = "";
        int n;

        if (q->authorization && asprintf(&auth, "Authorization: %s\r\n", q->authorization) < 0)
                return -ENOMEM;
        /* a POST without a body says so, as libcurl does; a GET or HEAD says nothing */
        if (q->json_body || !(streq(q->method, "GET") || streq(q->method, "HEAD")))
                (void)snprintf(length, sizeof(length), "Content-Length: %zu\r\n", strlen(body));
        n = asprintf(
                ret,
                "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: codebolt-upgrade/" PACKAGE_VERSION
                "\r\nAccept: %s\r\n%s%s%sConnection: close\r\n\r\n%s",
                q->method,
                t->target,
                t->host,
                q->accept_json ? "application/json" : "*/*",
                strempty(auth),
                q->json_body ? "Content-Type: application/json\r\n" : "",
                length,
                body);
        if (n < 0)
                return -ENOMEM;
        *ret_size = (size_t)n;
        return 0;
}

int http_loopback_perform(
        const HttpLoopbackTarget *t,
        const HttpLoopbackRequest *q,
        HttpResponse *ret,
        char **ret_location,
        char **ret_error) {

        _cleanup_(http_parse_done)
                HttpParser p = { .head_request = streq(q->method, "HEAD"), .body_max = HTTP_BODY_MAX };
        _cleanup_erase_free_ char *request = NULL;
        _cleanup_close_ int fd = -EBADF;
        char where[INET6_ADDRSTRLEN + 16];
        size_t request_size = 0, seen = 0;
        int stopped = 0, r;

        assert(t);
        assert(q);

        describe(t, where, sizeof(where));
        if (build_request(t, q, &request, &request_size) < 0)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");

        fd = connect_to(t, q, where, ret_error);
        if (fd < 0)
                return fd;
        r = socket_send_all(fd, request, request_size, q->deadline);
        if (r == -ETIMEDOUT)
                return errmsg_set(ret_error, r, "Timed out sending the request to %s", where);
        if (r < 0)
                return errmsg_set(
                        ret_error, -ECONNRESET, "Failed to send the request to %s: %s", where, strerror(-r));

        for (;;) {
                char buf[65536];
                /* until the body's first byte, the first-byte limit holds too */
                usec_t until = p.size == 0 ? usec_min(q->deadline, q->first_byte_deadline) : q->deadline;
                ssize_t n;

                r = fd_wait(fd, POLLIN, until);
                if (r < 0 && r != -ETIMEDOUT)
                        return errmsg_set(
                                ret_error, r, "Failed to read the answer of %s: %s", where, strerror(-r));
                if (r < 0)
                        return errmsg_set(
                                ret_error,
                                -ETIMEDOUT,
                                "Timed out waiting for %s of %s",
                                p.size == 0 && q->first_byte_deadline < q->deadline
                                        ? "the first byte of the answer"
                                        : "the answer",
                                where);
                n = read(fd, buf, sizeof(buf));
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n < 0)
                        return errmsg_set(
                                ret_error,
                                -ECONNRESET,
                                "Failed to read the answer of %s: %s",
                                where,
                                strerror(errno));
                r = n == 0 ? http_parse_eof(&p) : http_parse_feed(&p, buf, (size_t)n);
                if (r == -EFBIG)
                        return errmsg_set(
                                ret_error,
                                r,
                                "response body larger than %zu MiB",
                                HTTP_BODY_MAX / 1024 / 1024);
                if (r == -ENOMEM)
                        return errmsg_set(ret_error, r, "out of memory");
                if (r == -ECONNRESET)
                        return errmsg_set(
                                ret_error,
                                r,
                                "%s closed the connection before the whole answer came",
                                where);
                if (r < 0)
                        return errmsg_set(
                                ret_error, -EBADMSG, "%s sent an answer that is not HTTP/1.x", where);

                if (q->on_data && p.size > seen) {
                        seen = p.size;
                        stopped = q->on_data(
                                &(HttpResponse){ .status = p.status, .body = p.body, .size = p.size },
                                q->userdata);
                        if (stopped < 0)
                                return stopped;
                        if (stopped > 0)
                                break;
                }
                if (r > 0)
                        break;
        }

        if (ret_location)
                *ret_location = TAKE_PTR(p.location);
        if (ret)
                *ret = (HttpResponse){ .status = p.status, .body = TAKE_PTR(p.body), .size = p.size };
        return stopped;
}
