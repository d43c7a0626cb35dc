/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* haproxy.c: HAProxy 2.6's runtime API (its admin socket): a server's state set, its `show stat` row
 * read, and the load balancer's drain and undrain of a rolling upgrade */
#define _GNU_SOURCE
#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "errmsg.h"
#include "fd-util.h"
#include "haproxy.h"
#include "macro.h"
#include "strv.h"

#define TCP_PREFIX "tcp:"
/* the least time a wait gives one `show stat` */
#define STAT_TIMEOUT_MIN_USEC (5 * USEC_PER_SEC)

static const char *const state_names[_HAPROXY_STATE_MAX] = {
        [HAPROXY_STATE_READY] = "ready",
        [HAPROXY_STATE_DRAIN] = "drain",
        [HAPROXY_STATE_MAINT] = "maint",
};

static void *mfree(void *p) {
        free(p);
        return NULL;
}

const char *haproxy_state_to_string(HaproxyState state) {
        if ((unsigned)state >= _HAPROXY_STATE_MAX)
                return NULL;
        return state_names[state];
}

void haproxy_server_stat_done(HaproxyServerStat *s) {
        free(s->status);
        free(s->check_status);
        free(s->check_code);
        free(s->last_chk);
        *s = (HaproxyServerStat){};
}

static void haproxy_server_stat_donep(HaproxyServerStat *s) {
        haproxy_server_stat_done(s);
}
#define _cleanup_server_stat_ _cleanup_(haproxy_server_stat_donep)

bool haproxy_name_valid(const char *name) {
        if (!name || !*name)
                return false;
        for (const char *p = name; *p; p++)
                if (!isascii(*p) || !(isalnum(*p) || strchr("-_.:", *p)))
                        return false;
        return true;
}

bool haproxy_status_is_up(const char *status) {
        return status && (streq(status, "UP") || streq(status, "no check"));
}

/* ---- socket names ---- */

/* A socket name split: 0 for a path (*ret_host and *ret_port NULL), 1 for tcp:HOST:PORT (the host
 * without its brackets, the port as digits), or -EINVAL/-ENAMETOOLONG and a message. */
static int socket_parse(const char *socket, char **ret_host, char **ret_port, char **ret_error) {
        _cleanup_free_ char *host = NULL;
        const char *rest, *colon, *port;
        unsigned long n;
        char *end;

        if (!socket || !*socket)
                return errmsg_set(ret_error, -EINVAL, "HAProxy socket: empty name");

        rest = startswith(socket, TCP_PREFIX);
        if (!rest) {
                if (socket[0] != '/')
                        return errmsg_set(
                                ret_error,
                                -EINVAL,
                                "HAProxy socket %s: neither an absolute path nor tcp:HOST:PORT",
                                socket);
                if (strlen(socket) >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
                        return errmsg_set(
                                ret_error,
                                -ENAMETOOLONG,
                                "HAProxy socket %s: path too long for a unix socket",
                                socket);
                *ret_host = *ret_port = NULL;
                return 0;
        }

        if (rest[0] == '[') {
                const char *close = strchr(rest, ']');

                if (!close || close[1] != ':')
                        return errmsg_set(
                                ret_error, -EINVAL, "HAProxy socket %s: expected tcp:[IPV6]:PORT", socket);
                host = strndup(rest + 1, (size_t)(close - rest - 1));
                port = close + 2;
        } else {
                colon = strrchr(rest, ':');
                if (!colon)
                        return errmsg_set(
                                ret_error, -EINVAL, "HAProxy socket %s: expected tcp:HOST:PORT", socket);
                host = strndup(rest, (size_t)(colon - rest));
                port = colon + 1;
        }
        if (!host)
                return errmsg_set(ret_error, -ENOMEM, "HAProxy socket %s: out of memory", socket);
        if (!*host || (rest[0] != '[' && strchr(host, ':')))
                return errmsg_set(
                        ret_error,
                        -EINVAL,
                        "HAProxy socket %s: expected tcp:HOST:PORT (an IPv6 address in brackets)",
                        socket);

        errno = 0;
        n = strtoul(port, &end, 10);
        if (!isdigit((unsigned char)port[0]) || *end || errno != 0 || n == 0 || n > 65535)
                return errmsg_set(ret_error, -EINVAL, "HAProxy socket %s: bad port \"%s\"", socket, port);

        *ret_port = strdup(port);
        if (!*ret_port)
                return errmsg_set(ret_error, -ENOMEM, "HAProxy socket %s: out of memory", socket);
        *ret_host = TAKE_PTR(host);
        return 1;
}

int haproxy_socket_check(const char *socket, char **ret_error) {
        _cleanup_free_ char *host = NULL, *port = NULL;
        int r;

        r = socket_parse(socket, &host, &port, ret_error);
        return r < 0 ? r : 0;
}

/* ---- one command ---- */

static int connect_unix(const char *path, usec_t deadline) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        int r;

        /* socket_parse() checked the length */
        strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        r = socket_connect(fd, (struct sockaddr *)&sa, sizeof(sa), deadline);
        if (r < 0)
                return r;
        return TAKE_FD(fd);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct addrinfo *, freeaddrinfo);

/* each address of host in turn until one connects: the fd, or -errno of the last one tried */
static int connect_tcp(const char *host, const char *port, usec_t deadline, bool *ret_resolved) {
        _cleanup_(freeaddrinfop) struct addrinfo *ai = NULL;
        struct addrinfo hints = {
                .ai_family = AF_UNSPEC,
                .ai_socktype = SOCK_STREAM,
                .ai_flags = AI_NUMERICSERV,
        };
        int r;

        *ret_resolved = false;
        r = getaddrinfo(host, port, &hints, &ai);
        if (r == EAI_SYSTEM)
                return negative_errno();
        if (r != 0)
                return r == EAI_MEMORY ? -ENOMEM : -EADDRNOTAVAIL;
        *ret_resolved = true;

        r = -EADDRNOTAVAIL;
        for (struct addrinfo *a = ai; a; a = a->ai_next) {
                _cleanup_close_ int fd =
                        socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

                if (fd < 0) {
                        r = -errno;
                        continue;
                }
                r = socket_connect(fd, a->ai_addr, a->ai_addrlen, deadline);
                if (r >= 0)
                        return TAKE_FD(fd);
                if (r == -ETIMEDOUT)
                        break;
        }
        return r;
}

static int send_line(int fd, const char *command, usec_t deadline) {
        _cleanup_free_ char *line = NULL;

        if (asprintf(&line, "%s\n", command) < 0)
                return -ENOMEM;
        return socket_send_all(fd, line, strlen(line), deadline);
}

/* everything until the other end closes, at most HAPROXY_ANSWER_MAX bytes */
static int read_to_end(int fd, usec_t deadline, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated = 0;

        for (;;) {
                ssize_t n;
                int r;

                if (allocated - size < 4096) {
                        char *p;

                        allocated = allocated ? allocated * 2 : 16384;
                        p = realloc(buf, allocated);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                }
                n = read(fd, buf + size, allocated - size - 1);
                if (n > 0) {
                        size += (size_t)n;
                        if (size > HAPROXY_ANSWER_MAX)
                                return -EFBIG;
                        continue;
                }
                if (n == 0)
                        break;
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN)
                        return -errno;
                r = fd_wait(fd, POLLIN, deadline);
                if (r < 0)
                        return r;
        }
        buf[size] = 0;
        *ret_size = size;
        *ret = TAKE_PTR(buf);
        return 0;
}

int haproxy_command(
        const char *socket,
        const char *command,
        usec_t timeout,
        char **ret_answer,
        size_t *ret_size,
        char **ret_error) {
        _cleanup_free_ char *host = NULL, *port = NULL, *answer = NULL;
        _cleanup_close_ int fd = -EBADF;
        usec_t now = now_monotonic(),
               deadline = timeout >= USEC_INFINITY - now ? USEC_INFINITY : now + timeout;
        bool resolved = true;
        size_t size = 0;
        int r;

        assert(ret_answer);

        r = socket_parse(socket, &host, &port, ret_error);
        if (r < 0)
                return r;
        if (!command || !*command || strchr(command, '\n'))
                return errmsg_set(
                        ret_error, -EINVAL, "HAProxy socket %s: a command must be one line", socket);

        fd = host ? connect_tcp(host, port, deadline, &resolved) : connect_unix(socket, deadline);
        if (fd < 0) {
                if (!resolved)
                        return errmsg_set(
                                ret_error, fd, "HAProxy socket %s: cannot resolve %s", socket, host);
                if (fd == -ETIMEDOUT)
                        return errmsg_set(
                                ret_error,
                                fd,
                                "HAProxy socket %s: no connection within %llums",
                                socket,
                                (unsigned long long)(timeout / USEC_PER_MSEC));
                return errmsg_set(ret_error, fd, "HAProxy socket %s: connect: %s", socket, strerror(-fd));
        }

        r = send_line(fd, command, deadline);
        if (r < 0)
                return errmsg_set(
                        ret_error,
                        r,
                        "HAProxy socket %s: sending \"%s\": %s",
                        socket,
                        command,
                        strerror(-r));

        r = read_to_end(fd, deadline, &answer, &size);
        if (r == -ETIMEDOUT)
                return errmsg_set(
                        ret_error,
                        r,
                        "HAProxy socket %s: no whole answer to \"%s\" within %llums",
                        socket,
                        command,
                        (unsigned long long)(timeout / USEC_PER_MSEC));
        if (r == -EFBIG)
                return errmsg_set(
                        ret_error,
                        r,
                        "HAProxy socket %s: the answer to \"%s\" is larger than %zu bytes",
                        socket,
                        command,
                        HAPROXY_ANSWER_MAX);
        if (r < 0)
                return errmsg_set(
                        ret_error,
                        r,
                        "HAProxy socket %s: reading the answer to \"%s\": %s",
                        socket,
                        command,
                        strerror(-r));

        if (ret_size)
                *ret_size = size;
        *ret_answer = TAKE_PTR(answer);
        return 0;
}

/* the answer's first line without the blanks around it, for a message (points into answer) */
static char *answer_first_line(char *answer) {
        char *p = answer + strspn(answer, " \t\r\n"), *e;

        e = p + strcspn(p, "\r\n");
        while (e > p && isspace((unsigned char)e[-1]))
                e--;
        *e = 0;
        return p;
}

int haproxy_set_server_state(
        const char *socket, const char *backend, const char *server, HaproxyState state, char **ret_error) {
        _cleanup_free_ char *command = NULL, *answer = NULL;
        const char *name = haproxy_state_to_string(state);
        char *text;
        int r;

        if (!haproxy_name_valid(backend) || !haproxy_name_valid(server) || !name)
                return errmsg_set(
                        ret_error,
                        -EINVAL,
                        "HAProxy socket %s: refusing to set \"%s/%s\": not a valid backend/server",
                        strempty(socket),
                        strempty(backend),
                        strempty(server));

        if (asprintf(&command, "set server %s/%s state %s", backend, server, name) < 0)
                return errmsg_set(ret_error, -ENOMEM, "HAProxy socket %s: out of memory", socket);
        r = haproxy_command(socket, command, HAPROXY_COMMAND_TIMEOUT_USEC, &answer, NULL, ret_error);
        if (r < 0)
                return r;

        text = answer_first_line(answer);
        if (!*text)
                return 0;
        return errmsg_set(
                ret_error,
                streq(text, "No such backend.") || streq(text, "No such server.") ? -ENOENT : -EREMOTEIO,
                "HAProxy socket %s: %s: %s",
                socket,
                command,
                text);
}

int haproxy_set_server_state_all(const HaproxyServer *srv, HaproxyState state, char **ret_error) {
        _cleanup_free_ char *all = NULL;
        size_t all_size = 0;
        _cleanup_fclose_ FILE *f = NULL;
        int first = 0;

        assert(srv);

        if (strv_length(srv->sockets) == 0)
                return errmsg_set(
                        ret_error, -EINVAL, "no HAProxy socket to set %s/%s on", srv->backend, srv->server);

        f = open_memstream(&all, &all_size);
        if (!f)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");

        STRV_FOREACH (s, (char **)srv->sockets) {
                _cleanup_free_ char *error = NULL;
                int r;

                r = haproxy_set_server_state(*s, srv->backend, srv->server, state, &error);
                if (r >= 0)
                        continue;
                fprintf(f, "%s%s", first < 0 ? "; " : "", error ?: strerror(-r));
                if (first == 0)
                        first = r;
        }
        if (fclose(TAKE_PTR(f)) != 0)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        if (first < 0)
                return errmsg_set(ret_error, first, "%s", all);
        return 0;
}

/* ---- show stat ---- */

/* one field of a CSV record, as it stands in the text: quoted ones keep their doubled quotes */
typedef struct Field {
        const char *start;
        size_t len;
        bool quoted;
} Field;

/* Reads the field at *p (before end), moves *p past it and its separator, and sets *ret_last when it
 * ended its record (a newline, or the end of the text). 0, or -EBADMSG for a quote not closed or
 * followed by something else than a separator. */
static int next_field(const char **p, const char *end, Field *ret, bool *ret_last) {
        const char *s = *p;
        Field f = { .start = s };

        if (s < end && *s == '"') {
                f.quoted = true;
                f.start = ++s;
                for (;;) {
                        if (s >= end)
                                return -EBADMSG;
                        if (*s == '"') {
                                if (s + 1 < end && s[1] == '"') {
                                        s += 2;
                                        continue;
                                }
                                break;
                        }
                        s++;
                }
                f.len = (size_t)(s - f.start);
                s++;
                if (s < end && *s == '\r' && s + 1 < end && s[1] == '\n')
                        s++;
                if (s < end && *s != ',' && *s != '\n')
                        return -EBADMSG;
        } else {
                while (s < end && *s != ',' && *s != '\n')
                        s++;
                f.len = (size_t)(s - f.start);
                if (s < end && *s == '\n' && f.len > 0 && f.start[f.len - 1] == '\r')
                        f.len--;
        }

        *ret_last = s >= end || *s == '\n';
        if (s < end)
                s++;
        *p = s;
        *ret = f;
        return 0;
}

/* whether the field's text (unquoted) is exactly the string s */
static bool field_equal(const Field *f, const char *s) {
        if (!f->quoted)
                return f->len == strlen(s) && memcmp(f->start, s, f->len) == 0;

        for (size_t i = 0; i < f->len; i++, s++) {
                if (!*s || f->start[i] != *s)
                        return false;
                if (f->start[i] == '"')
                        i++; /* the second of a doubled quote */
        }
        return !*s;
}

/* the field's text unquoted, or NULL (ret untouched) when it is empty; 0 or -ENOMEM */
static int field_dup(const Field *f, char **ret) {
        char *s, *d;

        if (f->len == 0) {
                *ret = NULL;
                return 0;
        }
        s = d = malloc(f->len + 1);
        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < f->len; i++) {
                *d++ = f->start[i];
                if (f->quoted && f->start[i] == '"')
                        i++;
        }
        *d = 0;
        *ret = s;
        return 0;
}

/* the columns read, by their header names */
enum {
        COLUMN_PXNAME,
        COLUMN_SVNAME,
        COLUMN_SCUR,
        COLUMN_STATUS,
        COLUMN_CHECK_STATUS,
        COLUMN_CHECK_CODE,
        COLUMN_LAST_CHK,
        _COLUMN_MAX,
        _COLUMN_REQUIRED = COLUMN_CHECK_STATUS, /* the ones before are required */
};

static const char *const column_names[_COLUMN_MAX] = {
        [COLUMN_PXNAME] = "pxname",
        [COLUMN_SVNAME] = "svname",
        [COLUMN_SCUR] = "scur",
        [COLUMN_STATUS] = "status",
        [COLUMN_CHECK_STATUS] = "check_status",
        [COLUMN_CHECK_CODE] = "check_code",
        [COLUMN_LAST_CHK] = "last_chk",
};

static int parse_header(const char **p, const char *end, size_t columns[_COLUMN_MAX]) {
        const char *s = *p;
        bool last = false;

        if (s >= end || *s != '#')
                return -EBADMSG;
        s++;
        while (s < end && *s == ' ')
                s++;

        for (size_t c = 0; c < _COLUMN_MAX; c++)
                columns[c] = SIZE_MAX;
        for (size_t i = 0; !last; i++) {
                Field f;
                int r;

                r = next_field(&s, end, &f, &last);
                if (r < 0)
                        return r;
                for (size_t c = 0; c < _COLUMN_MAX; c++)
                        if (columns[c] == SIZE_MAX && field_equal(&f, column_names[c]))
                                columns[c] = i;
        }
        for (size_t c = 0; c < _COLUMN_REQUIRED; c++)
                if (columns[c] == SIZE_MAX)
                        return -EBADMSG;
        *p = s;
        return 0;
}

static int parse_u64(const Field *f, uint64_t *ret) {
        uint64_t v = 0;

        if (f->quoted || f->len == 0)
                return -EBADMSG;
        for (size_t i = 0; i < f->len; i++) {
                unsigned d;

                if (!isdigit((unsigned char)f->start[i]))
                        return -EBADMSG;
                d = (unsigned)(f->start[i] - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -EBADMSG;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

static int stat_from_row(
        const Field row[_COLUMN_MAX], const bool seen[_COLUMN_MAX], HaproxyServerStat *ret) {
        _cleanup_server_stat_ HaproxyServerStat s = {};
        char **texts[_COLUMN_MAX] = {
                [COLUMN_STATUS] = &s.status,
                [COLUMN_CHECK_STATUS] = &s.check_status,
                [COLUMN_CHECK_CODE] = &s.check_code,
                [COLUMN_LAST_CHK] = &s.last_chk,
        };
        int r;

        if (!seen[COLUMN_SCUR] || !seen[COLUMN_STATUS] || row[COLUMN_STATUS].len == 0)
                return -EBADMSG;
        r = parse_u64(&row[COLUMN_SCUR], &s.scur);
        if (r < 0)
                return r;
        for (size_t c = 0; c < _COLUMN_MAX; c++)
                if (texts[c] && seen[c]) {
                        r = field_dup(&row[c], texts[c]);
                        if (r < 0)
                                return r;
                }
        if (!s.status || !*s.status) /* a quoted "" or a NUL first */
                return -EBADMSG;
        /* "* L7OK": the check after it is running now */
        if (s.check_status && startswith(s.check_status, "* ")) {
                memmove(s.check_status, s.check_status + 2, strlen(s.check_status + 2) + 1);
                if (!*s.check_status)
                        s.check_status = mfree(s.check_status);
        }

        *ret = s;
        s = (HaproxyServerStat){};
        return 0;
}

int haproxy_parse_stat(
        const char *csv, size_t size, const char *backend, const char *server, HaproxyServerStat *ret) {
        const char *p = csv, *end = csv + size;
        size_t columns[_COLUMN_MAX];
        int r;

        assert(csv || size == 0);
        assert(backend);
        assert(server);
        assert(ret);

        r = parse_header(&p, end, columns);
        if (r < 0)
                return r;

        while (p < end) {
                Field row[_COLUMN_MAX] = {};
                bool seen[_COLUMN_MAX] = {}, last = false;

                for (size_t i = 0; !last; i++) {
                        Field f;

                        r = next_field(&p, end, &f, &last);
                        if (r < 0)
                                return r;
                        for (size_t c = 0; c < _COLUMN_MAX; c++)
                                if (columns[c] == i) {
                                        row[c] = f;
                                        seen[c] = true;
                                }
                }
                if (seen[COLUMN_PXNAME] && seen[COLUMN_SVNAME] &&
                    field_equal(&row[COLUMN_PXNAME], backend) && field_equal(&row[COLUMN_SVNAME], server))
                        return stat_from_row(row, seen, ret);
        }
        return -ENOENT;
}

static int server_stat(
        const char *socket,
        const char *backend,
        const char *server,
        usec_t timeout,
        HaproxyServerStat *ret,
        char **ret_error) {
        _cleanup_free_ char *command = NULL, *answer = NULL;
        size_t size;
        int r;

        if (!haproxy_name_valid(backend) || !haproxy_name_valid(server))
                return errmsg_set(
                        ret_error,
                        -EINVAL,
                        "HAProxy socket %s: refusing to read \"%s/%s\": not a valid backend/server",
                        strempty(socket),
                        strempty(backend),
                        strempty(server));

        /* every proxy (-1), servers only (4): a frontend may bear the backend's name, and `show stat
         * <name>` would then find the frontend, which has no servers. The parser picks the backend's row. */
        if (asprintf(&command, "show stat -1 4 -1") < 0)
                return errmsg_set(ret_error, -ENOMEM, "HAProxy socket %s: out of memory", socket);
        r = haproxy_command(socket, command, timeout, &answer, &size, ret_error);
        if (r < 0)
                return r;

        r = haproxy_parse_stat(answer, size, backend, server, ret);
        if (r == -ENOENT)
                return errmsg_set(
                        ret_error, r, "HAProxy socket %s: no server %s/%s", socket, backend, server);
        if (r == -EBADMSG) {
                const char *text = answer_first_line(answer);

                return errmsg_set(
                        ret_error,
                        r,
                        "HAProxy socket %s: %s: not a show stat table: \"%.200s\"",
                        socket,
                        command,
                        text);
        }
        if (r < 0)
                return errmsg_set(ret_error, r, "HAProxy socket %s: %s: %s", socket, command, strerror(-r));
        return 0;
}

int haproxy_server_stat(
        const char *socket,
        const char *backend,
        const char *server,
        HaproxyServerStat *ret,
        char **ret_error) {
        return server_stat(socket, backend, server, HAPROXY_COMMAND_TIMEOUT_USEC, ret, ret_error);
}

/* ---- the waits ---- */

static bool stat_idle(const HaproxyServerStat *s) {
        return s->scur == 0;
}

static bool stat_up(const HaproxyServerStat *s) {
        return haproxy_status_is_up(s->status);
}

/* what a wait saw last, for its -ETIME message */
static char *describe_idle(const HaproxyServerStat *s) {
        char *t;

        if (asprintf(&t, "%" PRIu64 " session%s still open", s->scur, s->scur == 1 ? "" : "s") < 0)
                return NULL;
        return t;
}

static char *describe_up(const HaproxyServerStat *s) {
        /* 0: no code (a check that is not HTTP, or one running now) */
        const char *code = s->check_code && !streq(s->check_code, "0") ? s->check_code : NULL;
        char *t;

        if (asprintf(
                    &t,
                    "status %s, last check %s%s%s%s%s%s",
                    s->status,
                    s->check_status ?: "none",
                    code ? " " : "",
                    strempty(code),
                    s->last_chk ? " \"" : "",
                    strempty(s->last_chk),
                    s->last_chk ? "\"" : "") < 0)
                return NULL;
        return t;
}

static int wait_all(
        const HaproxyServer *srv,
        usec_t deadline,
        const volatile sig_atomic_t *cancel,
        bool (*done)(const HaproxyServerStat *s),
        char *(*describe)(const HaproxyServerStat *s),
        const char *what,
        char **ret_error) {
        assert(srv);

        if (strv_length(srv->sockets) == 0)
                return errmsg_set(
                        ret_error, -EINVAL, "no HAProxy socket to read %s/%s on", srv->backend, srv->server);

        for (;;) {
                _cleanup_free_ char *pending = NULL;
                const char *pending_socket = NULL;
                usec_t now;

                if (cancel && *cancel)
                        return errmsg_set(
                                ret_error,
                                -ECANCELED,
                                "cancelled waiting for %s/%s to %s",
                                srv->backend,
                                srv->server,
                                what);

                STRV_FOREACH (s, (char **)srv->sockets) {
                        _cleanup_server_stat_ HaproxyServerStat st = {};
                        usec_t left;
                        int r;

                        /* a loaded HAProxy gets a few seconds even at the deadline: the last
                         * reading may end past it by that much */
                        now = now_monotonic();
                        left = deadline > now ? deadline - now : 0;
                        r = server_stat(
                                *s,
                                srv->backend,
                                srv->server,
                                usec_min(
                                        HAPROXY_COMMAND_TIMEOUT_USEC,
                                        left > STAT_TIMEOUT_MIN_USEC ? left : STAT_TIMEOUT_MIN_USEC),
                                &st,
                                ret_error);
                        if (r < 0)
                                return r;
                        if (!done(&st)) {
                                pending = describe(&st);
                                pending_socket = *s;
                                break;
                        }
                }
                if (!pending_socket)
                        return 0;

                now = now_monotonic();
                if (now >= deadline)
                        return errmsg_set(
                                ret_error,
                                -ETIME,
                                "%s/%s did not %s in time: %s on HAProxy socket %s",
                                srv->backend,
                                srv->server,
                                what,
                                pending ?: "out of memory",
                                pending_socket);
                if (!(cancel && *cancel))
                        sleep_until(usec_min(now + HAPROXY_POLL_INTERVAL_USEC, deadline));
        }
}

int haproxy_wait_idle(
        const HaproxyServer *srv, usec_t deadline, const volatile sig_atomic_t *cancel, char **ret_error) {
        return wait_all(srv, deadline, cancel, stat_idle, describe_idle, "become idle", ret_error);
}

int haproxy_wait_up(
        const HaproxyServer *srv, usec_t deadline, const volatile sig_atomic_t *cancel, char **ret_error) {
        return wait_all(srv, deadline, cancel, stat_up, describe_up, "come UP", ret_error);
}

int haproxy_drain(
        const HaproxyServer *srv, usec_t deadline, const volatile sig_atomic_t *cancel, char **ret_error) {
        int r;

        r = haproxy_set_server_state_all(srv, HAPROXY_STATE_DRAIN, ret_error);
        if (r < 0)
                return r;
        r = haproxy_wait_idle(srv, deadline, cancel, ret_error);
        if (r < 0)
                return r;
        return haproxy_set_server_state_all(srv, HAPROXY_STATE_MAINT, ret_error);
}

int haproxy_undrain(
        const HaproxyServer *srv, usec_t deadline, const volatile sig_atomic_t *cancel, char **ret_error) {
        int r;

        r = haproxy_set_server_state_all(srv, HAPROXY_STATE_READY, ret_error);
        if (r < 0)
                return r;
        return haproxy_wait_up(srv, deadline, cancel, ret_error);
}
