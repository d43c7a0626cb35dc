/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-haproxy.c: haproxy module: the runtime API against a real HAProxy 2.6 that each test starts
 * (two HTTP servers of the test behind it, health-checked), the socket errors, and the `show stat`
 * parser on a recorded answer and on made-up ones.
 *
 * tests/fixtures/haproxy/show-stat.csv is the answer of this test's HAProxy to `show stat` with be/a
 * draining one open session and be/b failing its health check:
 * CBU_HAPROXY_CAPTURE=PATH build/tests/unit/test-haproxy writes it again. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "haproxy.h"
#include "macro.h"
#include "test-util.h"
#include "time-util.h"

#define HAPROXY_BINARY "/usr/sbin/haproxy"
/* generous: the machine may be loaded */
#define WAIT_USEC (60 * USEC_PER_SEC)

static char *dir = NULL;
static pid_t haproxy_pid = 0;
static pid_t backend_pid[2] = {};
static const char *const backend_name[2] = { "a", "b" };
static int frontend_port = 0;
static char *unix_socket = NULL, *user_socket = NULL, *tcp_socket = NULL;

static char *dir_path(const char *name) {
        char *p;

        ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
        return p;
}

static bool dir_has(const char *name) {
        _cleanup_free_ char *p = dir_path(name);

        return access(p, F_OK) == 0;
}

static void dir_touch(const char *name) {
        _cleanup_free_ char *p = dir_path(name);
        int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

        ck_assert_int_ge(fd, 0);
        close(fd);
}

static void dir_remove(const char *name) {
        _cleanup_free_ char *p = dir_path(name);

        ck_assert_int_eq(unlink(p), 0);
}

/* a socket bound to a free port of 127.0.0.1 */
static int bind_loopback(int *ret_port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &l), 0);
        *ret_port = ntohs(sa.sin_port);
        return fd;
}

/* a port of 127.0.0.1 that nobody listens on (free until someone takes it) */
static int free_port(void) {
        int port;
        _cleanup_close_ int fd = bind_loopback(&port);

        return port;
}

/* a listening socket on a free port of 127.0.0.1 */
static int listen_any(int *ret_port) {
        int fd = bind_loopback(ret_port);

        ck_assert_int_eq(listen(fd, 64), 0);
        return fd;
}

/* ---- the HTTP servers behind HAProxy ---- */

static void respond(int fd, int status, const char *reason, const char *body) {
        dprintf(fd,
                "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                status,
                reason,
                strlen(body),
                body);
}

/* GET /health: 200, or 503 while DIR/sick-NAME exists; GET /hold: answers once DIR/release exists;
 * anything else: the server's name */
static void backend_handle(int fd, const char *name) {
        char buf[8192], path[256] = "";
        size_t size = 0;
        _cleanup_free_ char *sick = NULL;

        while (size < sizeof(buf) - 1) {
                ssize_t n = read(fd, buf + size, sizeof(buf) - 1 - size);

                if (n <= 0)
                        return;
                size += (size_t)n;
                buf[size] = 0;
                if (strstr(buf, "\r\n\r\n"))
                        break;
        }
        if (sscanf(buf, "%*s %255s", path) != 1)
                return;

        ck_assert_int_ge(asprintf(&sick, "sick-%s", name), 0);
        if (streq(path, "/health")) {
                if (dir_has(sick))
                        respond(fd, 503, "Busy, \"sick\"", "");
                else
                        respond(fd, 200, "OK", "");
                return;
        }
        if (streq(path, "/hold")) {
                usec_t deadline = now_monotonic() + 2 * WAIT_USEC;

                while (!dir_has("release") && now_monotonic() < deadline)
                        sleep_until(now_monotonic() + 20 * USEC_PER_MSEC);
        }
        respond(fd, 200, "OK", name);
}

_noreturn_ static void backend_run(int lfd, const char *name) {
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        (void)signal(SIGCHLD, SIG_IGN);
        (void)signal(SIGPIPE, SIG_IGN);

        for (;;) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

                if (fd < 0)
                        continue;
                if (fork() == 0) {
                        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                        backend_handle(fd, name);
                        (void)shutdown(fd, SHUT_WR);
                        _exit(EXIT_SUCCESS);
                }
                close(fd);
        }
}

static pid_t backend_start(const char *name, int *ret_port) {
        _cleanup_close_ int fd = listen_any(ret_port);
        pid_t pid;

        fflush(NULL);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                (void)setpgid(0, 0);
                backend_run(fd, name);
        }
        (void)setpgid(pid, pid);
        return pid;
}

/* ---- HAProxy ---- */

static char *haproxy_log(void) {
        _cleanup_free_ char *p = dir_path("haproxy.log");
        _cleanup_fclose_ FILE *f = fopen(p, "re");
        char *text = NULL;
        size_t n = 0;

        if (!f || getdelim(&text, &n, 0, f) < 0)
                return strdup("(no log)");
        return text;
}

static void write_config(const char *path, int stats_port, const int backend_port[2]) {
        _cleanup_fclose_ FILE *f = fopen(path, "we");

        ck_assert_ptr_nonnull(f);
        fprintf(f,
                "global\n"
                "        stats socket %s mode 600 level admin\n"
                "        stats socket %s mode 600 level user\n"
                "        stats socket ipv4@127.0.0.1:%d level admin\n"
                "        stats timeout 2m\n"
                "defaults\n"
                "        mode http\n"
                "        timeout connect 5s\n"
                "        timeout client 2m\n"
                "        timeout server 2m\n"
                "        timeout check 5s\n"
                /* named as its backend, as operators often do: `show stat be …` would find the frontend */
                "frontend be\n"
                "        bind 127.0.0.1:%d\n"
                "        default_backend be\n"
                "backend be\n"
                "        balance roundrobin\n"
                "        option httpchk GET /health\n"
                "        use-server a if { path_beg /hold }\n"
                "        server a 127.0.0.1:%d check inter 100ms fall 2 rise 2\n"
                "        server b 127.0.0.1:%d check inter 100ms fall 2 rise 2\n",
                unix_socket,
                user_socket,
                stats_port,
                frontend_port,
                backend_port[0],
                backend_port[1]);
        ck_assert_int_eq(fflush(f), 0);
}

static void haproxy_start(const char *config) {
        _cleanup_free_ char *log = dir_path("haproxy.log");
        usec_t deadline = now_monotonic() + WAIT_USEC;

        fflush(NULL);
        haproxy_pid = fork();
        ck_assert_int_ge(haproxy_pid, 0);
        if (haproxy_pid == 0) {
                int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
                        _exit(EXIT_FAILURE);
                (void)close_range(3, ~0U, 0);
                execl(HAPROXY_BINARY, "haproxy", "-db", "-f", config, (char *)NULL);
                _exit(127);
        }

        /* ready when the admin socket answers */
        for (;;) {
                _cleanup_free_ char *answer = NULL, *error = NULL;
                int status;

                if (waitpid(haproxy_pid, &status, WNOHANG) == haproxy_pid) {
                        _cleanup_free_ char *text = haproxy_log();

                        haproxy_pid = 0;
                        ck_abort_msg("haproxy exited (status %#x) before it answered: %s", status, text);
                }
                if (haproxy_command(unix_socket, "show info", USEC_PER_SEC, &answer, NULL, &error) == 0)
                        break;
                ck_assert_msg(now_monotonic() < deadline, "haproxy did not answer in time: %s", error);
                sleep_until(now_monotonic() + 50 * USEC_PER_MSEC);
        }
}

static void setup(void) {
        char template[] = "/tmp/test-haproxy.XXXXXX";
        _cleanup_free_ char *config = NULL;
        int backend_port[2], stats_port;

        if (access(HAPROXY_BINARY, X_OK) < 0)
                ck_abort_msg(
                        "%s: %s: HAProxy 2.6 is needed (tools/deps.sh installs it)",
                        HAPROXY_BINARY,
                        strerror(errno));

        ck_assert_ptr_nonnull(mkdtemp(template));
        dir = strdup(template);
        ck_assert_ptr_nonnull(dir);
        unix_socket = dir_path("admin.sock");
        user_socket = dir_path("user.sock");
        config = dir_path("haproxy.cfg");

        for (size_t i = 0; i < 2; i++)
                backend_pid[i] = backend_start(backend_name[i], &backend_port[i]);
        frontend_port = free_port();
        stats_port = free_port();
        ck_assert_int_ge(asprintf(&tcp_socket, "tcp:127.0.0.1:%d", stats_port), 0);
        write_config(config, stats_port, backend_port);
        haproxy_start(config);

        /* both servers pass their health checks first */
        for (size_t i = 0; i < 2; i++) {
                _cleanup_free_ char *error = NULL;
                char *sockets[] = { unix_socket, NULL };
                HaproxyServer target = { .sockets = sockets, .backend = "be", .server = backend_name[i] };

                ck_assert_msg(
                        haproxy_wait_up(&target, now_monotonic() + WAIT_USEC, NULL, &error) == 0,
                        "%s",
                        error);
        }
}

static void teardown(void) {
        if (haproxy_pid > 0) {
                (void)kill(haproxy_pid, SIGKILL);
                (void)waitpid(haproxy_pid, NULL, 0);
                haproxy_pid = 0;
        }
        for (size_t i = 0; i < 2; i++)
                if (backend_pid[i] > 0) {
                        (void)kill(-backend_pid[i], SIGKILL);
                        (void)kill(backend_pid[i], SIGKILL);
                        (void)waitpid(backend_pid[i], NULL, 0);
                        backend_pid[i] = 0;
                }
        if (dir)
                rm_rf(dir);
        free(dir);
        free(unix_socket);
        free(user_socket);
        free(tcp_socket);
        dir = unix_socket = user_socket = tcp_socket = NULL;
}

/* ---- a client through HAProxy ---- */

static int client_send(const char *path) {
        struct sockaddr_in sa = {
                .sin_family = AF_INET,
                .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                .sin_port = htons((uint16_t)frontend_port),
        };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_gt(dprintf(fd, "GET %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", path), 0);
        return fd;
}

/* the body of the answer on fd (the name of the server that answered); closes fd */
static char *client_answer(int fd) {
        _cleanup_close_ int closing = fd;
        usec_t deadline = now_monotonic() + WAIT_USEC;
        char buf[65536];
        size_t size = 0;
        const char *body;

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t n;

                ck_assert_msg(now_monotonic() < deadline, "no answer through HAProxy in time");
                if (poll(&p, 1, 100) <= 0)
                        continue;
                n = read(fd, buf + size, sizeof(buf) - 1 - size);
                ck_assert_int_ge(n, 0);
                if (n == 0)
                        break;
                size += (size_t)n;
                ck_assert_int_lt(size, sizeof(buf) - 1);
        }
        buf[size] = 0;
        ck_assert_msg(startswith(buf, "HTTP/1.1 200 "), "through HAProxy: %s", buf);
        body = strstr(buf, "\r\n\r\n");
        ck_assert_ptr_nonnull(body);
        return strdup(body + 4);
}

static char *client_get(const char *path) {
        return client_answer(client_send(path));
}

/* ---- reading a server's row ---- */

static void stat_of(const char *socket, const char *server, HaproxyServerStat *ret) {
        _cleanup_free_ char *error = NULL;

        ck_assert_msg(haproxy_server_stat(socket, "be", server, ret, &error) == 0, "%s", error);
        ck_assert_ptr_null(error);
}

static void assert_status(const char *server, const char *status) {
        HaproxyServerStat s = {};

        stat_of(unix_socket, server, &s);
        ck_assert_str_eq(s.status, status);
        haproxy_server_stat_done(&s);
        stat_of(tcp_socket, server, &s);
        ck_assert_str_eq(s.status, status);
        haproxy_server_stat_done(&s);
}

/* polls until server's status is status and its sessions scur */
static void wait_for(const char *server, const char *status, uint64_t scur) {
        usec_t deadline = now_monotonic() + WAIT_USEC;

        for (;;) {
                HaproxyServerStat s = {};
                bool done;

                stat_of(unix_socket, server, &s);
                done = streq(s.status, status) && s.scur == scur;
                ck_assert_msg(
                        done || now_monotonic() < deadline,
                        "be/%s is %s with %" PRIu64 " sessions, not %s with %" PRIu64,
                        server,
                        s.status,
                        s.scur,
                        status,
                        scur);
                haproxy_server_stat_done(&s);
                if (done)
                        return;
                sleep_until(now_monotonic() + 50 * USEC_PER_MSEC);
        }
}

/* polls until server's last check has its code (while the next one runs, HAProxy shows none) */
static void wait_check_done(const char *socket, const char *server, HaproxyServerStat *ret) {
        usec_t deadline = now_monotonic() + WAIT_USEC;

        for (;;) {
                stat_of(socket, server, ret);
                if (ret->check_code && !streq(ret->check_code, "0"))
                        return;
                ck_assert_msg(now_monotonic() < deadline, "be/%s: no finished check seen", server);
                haproxy_server_stat_done(ret);
                sleep_until(now_monotonic() + 20 * USEC_PER_MSEC);
        }
}

static void assert_answers(const char *path, const char *server, unsigned n) {
        for (unsigned i = 0; i < n; i++) {
                _cleanup_free_ char *body = client_get(path);

                ck_assert_str_eq(body, server);
        }
}

/* a few requests reach both servers again */
static void assert_both_answer(void) {
        bool seen[2] = {};

        for (unsigned i = 0; i < 8; i++) {
                _cleanup_free_ char *body = client_get("/");

                for (size_t k = 0; k < 2; k++)
                        if (streq(body, backend_name[k]))
                                seen[k] = true;
        }
        ck_assert(seen[0] && seen[1]);
}

static void set_state(const char *socket, const char *server, HaproxyState state) {
        _cleanup_free_ char *error = NULL;

        ck_assert_msg(haproxy_set_server_state(socket, "be", server, state, &error) == 0, "%s", error);
        ck_assert_ptr_null(error);
}

/* lets the request that client_send("/hold") left open on be/a end, and reads its answer */
static void release_hold(int hold) {
        _cleanup_free_ char *held = NULL;

        dir_touch("release");
        held = client_answer(hold);
        ck_assert_str_eq(held, "a");
}

/* ---- against HAProxy ---- */

START_TEST(test_drain_keeps_open_sessions) {
        _cleanup_free_ char *error = NULL;
        char *sockets[] = { unix_socket, NULL };
        HaproxyServer be_a = { .sockets = sockets, .backend = "be", .server = "a" };
        int hold;

        /* a request that stays open on be/a until the test releases it */
        hold = client_send("/hold");
        wait_for("a", "UP", 1);

        set_state(tcp_socket, "a", HAPROXY_STATE_DRAIN);
        assert_status("a", "DRAIN");
        /* new requests go to the other server; the open one stays */
        assert_answers("/", "b", 6);
        wait_for("a", "DRAIN", 1);

        ck_assert_int_eq(
                haproxy_wait_idle(&be_a, now_monotonic() + 300 * USEC_PER_MSEC, NULL, &error), -ETIME);
        ck_assert_msg(
                strstr(error, "be/a did not become idle in time: 1 session still open on HAProxy socket") &&
                        strstr(error, unix_socket),
                "%s",
                error);

        release_hold(hold);
        ck_assert_msg(haproxy_wait_idle(&be_a, now_monotonic() + WAIT_USEC, NULL, &error) == 0, "%s", error);
        wait_for("a", "DRAIN", 0);

        set_state(unix_socket, "a", HAPROXY_STATE_MAINT);
        assert_status("a", "MAINT");
        assert_answers("/", "b", 4);

        set_state(tcp_socket, "a", HAPROXY_STATE_READY);
        ck_assert_msg(haproxy_wait_up(&be_a, now_monotonic() + WAIT_USEC, NULL, &error) == 0, "%s", error);
        assert_status("a", "UP");
        assert_both_answer();
}
END_TEST

START_TEST(test_drain_undrain) {
        _cleanup_free_ char *error = NULL;
        char *sockets[] = { unix_socket, tcp_socket, NULL };
        HaproxyServer be_a = { .sockets = sockets, .backend = "be", .server = "a" };
        int hold;

        ck_assert_msg(haproxy_drain(&be_a, now_monotonic() + WAIT_USEC, NULL, &error) == 0, "%s", error);
        assert_status("a", "MAINT");
        assert_answers("/", "b", 4);
        ck_assert_msg(haproxy_undrain(&be_a, now_monotonic() + WAIT_USEC, NULL, &error) == 0, "%s", error);
        assert_status("a", "UP");
        assert_both_answer();

        /* a session that outlives the bound: the server is left draining, undrain takes it back */
        hold = client_send("/hold");
        wait_for("a", "UP", 1);
        ck_assert_int_eq(haproxy_drain(&be_a, now_monotonic() + 500 * USEC_PER_MSEC, NULL, &error), -ETIME);
        ck_assert_msg(strstr(error, "1 session still open"), "%s", error);
        assert_status("a", "DRAIN");
        assert_answers("/", "b", 2);
        ck_assert_msg(haproxy_undrain(&be_a, now_monotonic() + WAIT_USEC, NULL, &error) == 0, "%s", error);
        assert_status("a", "UP");
        release_hold(hold);
}
END_TEST

START_TEST(test_health_check_fails) {
        _cleanup_free_ char *error = NULL;
        char *sockets[] = { tcp_socket, NULL };
        HaproxyServer be_b = { .sockets = sockets, .backend = "be", .server = "b" };
        HaproxyServerStat s = {};

        dir_touch("sick-b");
        wait_for("b", "DOWN", 0);
        wait_check_done(tcp_socket, "b", &s);
        ck_assert_str_eq(s.status, "DOWN");
        ck_assert_str_eq(s.check_status, "L7STS");
        ck_assert_str_eq(s.check_code, "503");
        ck_assert_str_eq(s.last_chk, "Busy, \"sick\"");
        haproxy_server_stat_done(&s);
        assert_answers("/", "a", 4);

        ck_assert_int_eq(
                haproxy_wait_up(&be_b, now_monotonic() + 300 * USEC_PER_MSEC, NULL, &error), -ETIME);
        /* the code and text of the check, unless one was running at that moment */
        ck_assert_msg(
                strstr(error, "be/b did not come UP in time: status DOWN, last check L7STS") &&
                        strstr(error, " on HAProxy socket tcp:127.0.0.1:"),
                "%s",
                error);

        dir_remove("sick-b");
        ck_assert_msg(haproxy_wait_up(&be_b, now_monotonic() + WAIT_USEC, NULL, &error) == 0, "%s", error);
        assert_status("b", "UP");
}
END_TEST

/* be/a draining an open session and be/b failing its check, read out of the whole `show stat` */
START_TEST(test_show_stat_live) {
        _cleanup_free_ char *answer = NULL, *error = NULL;
        const char *capture = getenv("CBU_HAPROXY_CAPTURE");
        HaproxyServerStat s = {};
        size_t size;
        int hold;

        hold = client_send("/hold");
        wait_for("a", "UP", 1);
        set_state(unix_socket, "a", HAPROXY_STATE_DRAIN);
        dir_touch("sick-b");
        wait_for("b", "DOWN", 0);

        /* an answer taken between two checks of be/b, which shows the last one's text */
        wait_check_done(unix_socket, "b", &s);
        haproxy_server_stat_done(&s);
        for (usec_t deadline = now_monotonic() + WAIT_USEC;;) {
                ck_assert_msg(
                        haproxy_command(
                                tcp_socket,
                                "show stat",
                                HAPROXY_COMMAND_TIMEOUT_USEC,
                                &answer,
                                &size,
                                &error) == 0,
                        "%s",
                        error);
                ck_assert_int_eq(haproxy_parse_stat(answer, size, "be", "b", &s), 0);
                if (s.last_chk)
                        break;
                ck_assert_msg(now_monotonic() < deadline, "be/b: no finished check seen");
                haproxy_server_stat_done(&s);
                free(answer);
                answer = NULL;
        }
        haproxy_server_stat_done(&s);
        ck_assert_uint_eq(strlen(answer), size);
        if (capture) {
                _cleanup_fclose_ FILE *f = fopen(capture, "we");

                ck_assert_ptr_nonnull(f);
                ck_assert_uint_eq(fwrite(answer, 1, size, f), size);
        }

        ck_assert_int_eq(haproxy_parse_stat(answer, size, "be", "a", &s), 0);
        ck_assert_str_eq(s.status, "DRAIN");
        ck_assert_uint_eq(s.scur, 1);
        ck_assert_str_eq(s.check_status, "L7OK");
        haproxy_server_stat_done(&s);
        ck_assert_int_eq(haproxy_parse_stat(answer, size, "be", "b", &s), 0);
        ck_assert_str_eq(s.status, "DOWN");
        ck_assert_str_eq(s.last_chk, "Busy, \"sick\"");
        haproxy_server_stat_done(&s);
        ck_assert_int_eq(haproxy_parse_stat(answer, size, "be", "FRONTEND", &s), 0);
        ck_assert_str_eq(s.status, "OPEN");
        haproxy_server_stat_done(&s);

        release_hold(hold);
}
END_TEST

START_TEST(test_unknown_names) {
        _cleanup_free_ char *error = NULL;
        HaproxyServerStat s = {};

        ck_assert_int_eq(
                haproxy_set_server_state(unix_socket, "nope", "a", HAPROXY_STATE_DRAIN, &error), -ENOENT);
        ck_assert_msg(
                strstr(error, "set server nope/a state drain: No such backend.") &&
                        strstr(error, unix_socket),
                "%s",
                error);
        ck_assert_int_eq(
                haproxy_set_server_state(tcp_socket, "be", "zz", HAPROXY_STATE_MAINT, &error), -ENOENT);
        ck_assert_msg(
                strstr(error, "set server be/zz state maint: No such server.") && strstr(error, tcp_socket),
                "%s",
                error);

        ck_assert_int_eq(haproxy_server_stat(unix_socket, "nope", "a", &s, &error), -ENOENT);
        ck_assert_msg(strstr(error, "no server nope/a"), "%s", error);
        ck_assert_int_eq(haproxy_server_stat(tcp_socket, "be", "zz", &s, &error), -ENOENT);
        ck_assert_msg(strstr(error, "no server be/zz"), "%s", error);
        ck_assert_ptr_null(s.status);

        /* a name that would smuggle in a second command is never sent */
        ck_assert_int_eq(
                haproxy_set_server_state(unix_socket, "be", "a state maint; x", HAPROXY_STATE_READY, &error),
                -EINVAL);
        ck_assert_int_eq(
                haproxy_set_server_state(unix_socket, "be/a", "a", HAPROXY_STATE_READY, &error), -EINVAL);
        ck_assert_int_eq(
                haproxy_set_server_state(unix_socket, "be", "", HAPROXY_STATE_READY, &error), -EINVAL);
        ck_assert_int_eq(haproxy_server_stat(unix_socket, "be\nshow info", "a", &s, &error), -EINVAL);
        assert_status("a", "UP");

        /* a socket without `level admin`: HAProxy's words, as another error */
        ck_assert_int_eq(
                haproxy_set_server_state(user_socket, "be", "a", HAPROXY_STATE_DRAIN, &error), -EREMOTEIO);
        ck_assert_msg(strstr(error, "Permission denied") && strstr(error, user_socket), "%s", error);
        assert_status("a", "UP");
}
END_TEST

START_TEST(test_tcp_form) {
        _cleanup_free_ char *answer = NULL, *error = NULL, *by_name = NULL;
        const char *port = strrchr(tcp_socket, ':') + 1;

        ck_assert_msg(
                haproxy_command(
                        tcp_socket, "show info", HAPROXY_COMMAND_TIMEOUT_USEC, &answer, NULL, &error) == 0,
                "%s",
                error);
        ck_assert_msg(strstr(answer, "Name: HAProxy\n"), "%s", answer);
        free(answer);
        answer = NULL;

        /* a host name: each of its addresses in turn (localhost may be ::1 first) */
        ck_assert_int_ge(asprintf(&by_name, "tcp:localhost:%s", port), 0);
        ck_assert_msg(
                haproxy_command(by_name, "show info", HAPROXY_COMMAND_TIMEOUT_USEC, &answer, NULL, &error) ==
                        0,
                "%s",
                error);
        ck_assert_msg(strstr(answer, "Name: HAProxy\n"), "%s", answer);
}
END_TEST

START_TEST(test_set_all) {
        _cleanup_free_ char *error = NULL, *closed = NULL, *missing = dir_path("missing.sock");
        char *sockets[] = { unix_socket, NULL, tcp_socket, missing, NULL };
        char *none[] = { NULL };
        HaproxyServer be_a = { .sockets = sockets, .backend = "be", .server = "a" },
                      nowhere = { .sockets = none, .backend = "be", .server = "a" };

        ck_assert_int_ge(asprintf(&closed, "tcp:127.0.0.1:%d", free_port()), 0);
        sockets[1] = closed;

        /* every socket is tried; the ones that failed are named */
        ck_assert_int_eq(haproxy_set_server_state_all(&be_a, HAPROXY_STATE_DRAIN, &error), -ECONNREFUSED);
        ck_assert_msg(
                strstr(error, closed) && strstr(error, "missing.sock") && !strstr(error, "admin.sock") &&
                        !strstr(error, tcp_socket),
                "%s",
                error);
        ck_assert_msg(strstr(error, "; "), "%s", error);
        assert_status("a", "DRAIN");

        sockets[1] = NULL;
        ck_assert_msg(haproxy_set_server_state_all(&be_a, HAPROXY_STATE_READY, &error) == 0, "%s", error);
        assert_status("a", "UP");

        ck_assert_int_eq(haproxy_set_server_state_all(&nowhere, HAPROXY_STATE_READY, &error), -EINVAL);
        ck_assert_int_eq(haproxy_wait_up(&nowhere, now_monotonic() + WAIT_USEC, NULL, &error), -EINVAL);
}
END_TEST

START_TEST(test_cancel) {
        _cleanup_free_ char *error = NULL;
        char *sockets[] = { unix_socket, NULL };
        HaproxyServer be_a = { .sockets = sockets, .backend = "be", .server = "a" },
                      be_zz = { .sockets = sockets, .backend = "be", .server = "zz" };
        volatile sig_atomic_t cancel = SIGTERM;
        usec_t start = now_monotonic();

        ck_assert_int_eq(haproxy_wait_up(&be_zz, start + WAIT_USEC, &cancel, &error), -ECANCELED);
        ck_assert_int_eq(haproxy_drain(&be_a, start + WAIT_USEC, &cancel, &error), -ECANCELED);
        ck_assert_msg(strstr(error, "cancelled waiting for be/a to become idle"), "%s", error);
        ck_assert_uint_lt(now_monotonic() - start, WAIT_USEC);
        assert_status("a", "DRAIN");
}
END_TEST

/* ---- socket errors, no HAProxy needed ---- */

static char *scratch = NULL;

static void scratch_setup(void) {
        char template[] = "/tmp/test-haproxy.XXXXXX";

        ck_assert_ptr_nonnull(mkdtemp(template));
        scratch = strdup(template);
        ck_assert_ptr_nonnull(scratch);
}

static void scratch_teardown(void) {
        rm_rf(scratch);
        free(scratch);
        scratch = NULL;
}

static int command(const char *socket, usec_t timeout, char **ret_error) {
        _cleanup_free_ char *answer = NULL;
        int r;

        r = haproxy_command(socket, "show info", timeout, &answer, NULL, ret_error);
        if (r < 0)
                ck_assert_ptr_null(answer);
        return r;
}

START_TEST(test_missing_socket) {
        _cleanup_free_ char *error = NULL, *path = NULL, *refusing = NULL, *closed = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        ck_assert_int_ge(asprintf(&path, "%s/nope.sock", scratch), 0);
        ck_assert_int_eq(command(path, USEC_PER_SEC, &error), -ENOENT);
        ck_assert_msg(strstr(error, path) && strstr(error, "connect"), "%s", error);

        /* a socket file nobody listens on */
        ck_assert_int_ge(asprintf(&refusing, "%s/stale.sock", scratch), 0);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        strcpy(sa.sun_path, refusing);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        close(fd);
        ck_assert_int_eq(command(refusing, USEC_PER_SEC, &error), -ECONNREFUSED);
        ck_assert_msg(strstr(error, refusing), "%s", error);

        ck_assert_int_ge(asprintf(&closed, "tcp:127.0.0.1:%d", free_port()), 0);
        ck_assert_int_eq(command(closed, USEC_PER_SEC, &error), -ECONNREFUSED);
        ck_assert_msg(strstr(error, closed) && strstr(error, "Connection refused"), "%s", error);
        ck_assert_int_eq(
                haproxy_set_server_state(closed, "be", "a", HAPROXY_STATE_DRAIN, &error), -ECONNREFUSED);
        ck_assert_msg(strstr(error, closed), "%s", error);

        ck_assert_int_lt(command("tcp:host.invalid:9999", USEC_PER_SEC, &error), 0);
        ck_assert_msg(strstr(error, "tcp:host.invalid:9999"), "%s", error);
}
END_TEST

START_TEST(test_silent_socket) {
        _cleanup_free_ char *error = NULL, *name = NULL;
        int port;
        /* the kernel completes the connection from the backlog; nobody ever answers */
        _cleanup_close_ int fd = listen_any(&port);
        usec_t start = now_monotonic();

        ck_assert_int_ge(asprintf(&name, "tcp:127.0.0.1:%d", port), 0);
        ck_assert_int_eq(command(name, 300 * USEC_PER_MSEC, &error), -ETIMEDOUT);
        ck_assert_msg(strstr(error, name) && strstr(error, "within 300ms"), "%s", error);
        ck_assert_uint_lt(now_monotonic() - start, 30 * USEC_PER_SEC);
}
END_TEST

START_TEST(test_answer_too_large) {
        _cleanup_free_ char *error = NULL, *name = NULL;
        int port;
        _cleanup_close_ int fd = listen_any(&port);
        pid_t pid;

        fflush(NULL);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                static char chunk[65536];
                int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                /* the command first: unread, it would turn the close into a reset */
                if (c < 0 || read(c, chunk, sizeof(chunk)) <= 0)
                        _exit(EXIT_FAILURE);
                memset(chunk, 'x', sizeof(chunk));
                for (size_t sent = 0; sent <= HAPROXY_ANSWER_MAX; sent += sizeof(chunk))
                        if (send(c, chunk, sizeof(chunk), MSG_NOSIGNAL) < 0)
                                break;
                /* until the reader gives up */
                (void)shutdown(c, SHUT_WR);
                while (read(c, chunk, sizeof(chunk)) > 0)
                        ;
                _exit(EXIT_SUCCESS);
        }
        ck_assert_int_ge(asprintf(&name, "tcp:127.0.0.1:%d", port), 0);
        ck_assert_int_eq(command(name, WAIT_USEC, &error), -EFBIG);
        ck_assert_msg(strstr(error, name) && strstr(error, "larger than"), "%s", error);
        (void)kill(pid, SIGKILL);
        (void)waitpid(pid, NULL, 0);
}
END_TEST

START_TEST(test_socket_names) {
        _cleanup_free_ char *error = NULL, *answer = NULL, *longpath = NULL;

        ck_assert_int_eq(haproxy_socket_check("/run/haproxy/admin.sock", &error), 0);
        ck_assert_int_eq(haproxy_socket_check("tcp:127.0.0.10:9999", &error), 0);
        ck_assert_int_eq(haproxy_socket_check("tcp:lb.example.com:1", &error), 0);
        ck_assert_int_eq(haproxy_socket_check("tcp:[::1]:65535", &error), 0);
        ck_assert_ptr_null(error);

        static const char *const bad[] = {
                "",           "run/haproxy.sock", "tcp:",          "tcp:127.0.0.1", "tcp::9999",
                "tcp:h:0",    "tcp:h:65536",      "tcp:h:",        "tcp:h:+1",      "tcp:h:12x",
                "tcp:::1:99", "tcp:[::1]",        "tcp:[::1]9999", "tcp:[]:9999",   "unix:/run/x.sock",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ck_assert_msg(haproxy_socket_check(bad[i], &error) == -EINVAL, "%s", bad[i]);
                ck_assert_ptr_nonnull(error);
        }
        ck_assert_int_eq(haproxy_socket_check(NULL, &error), -EINVAL);

        ck_assert_int_ge(asprintf(&longpath, "/%0200d.sock", 0), 0);
        ck_assert_int_eq(haproxy_socket_check(longpath, &error), -ENAMETOOLONG);
        ck_assert_msg(strstr(error, longpath), "%s", error);

        /* a command is one line */
        ck_assert_int_eq(
                haproxy_command("/x.sock", "show stat\nshow info", USEC_PER_SEC, &answer, NULL, &error),
                -EINVAL);
        ck_assert_int_eq(haproxy_command("/x.sock", "", USEC_PER_SEC, &answer, NULL, &error), -EINVAL);
        ck_assert_ptr_null(answer);
}
END_TEST

/* ---- pure helpers and the parser ---- */

START_TEST(test_names_and_states) {
        ck_assert_str_eq(haproxy_state_to_string(HAPROXY_STATE_READY), "ready");
        ck_assert_str_eq(haproxy_state_to_string(HAPROXY_STATE_DRAIN), "drain");
        ck_assert_str_eq(haproxy_state_to_string(HAPROXY_STATE_MAINT), "maint");
        ck_assert_ptr_null(haproxy_state_to_string(_HAPROXY_STATE_MAX));

        ck_assert(haproxy_name_valid("be_app-1.x:2"));
        ck_assert(haproxy_name_valid("codebolt"));
        ck_assert(!haproxy_name_valid(""));
        ck_assert(!haproxy_name_valid(NULL));
        ck_assert(!haproxy_name_valid("a b"));
        ck_assert(!haproxy_name_valid("a;b"));
        ck_assert(!haproxy_name_valid("a/b"));
        ck_assert(!haproxy_name_valid("a\n"));
        ck_assert(!haproxy_name_valid("\xc3\xa9"));

        ck_assert(haproxy_status_is_up("UP"));
        ck_assert(haproxy_status_is_up("no check"));
        ck_assert(!haproxy_status_is_up("UP 1/2"));
        ck_assert(!haproxy_status_is_up("DOWN 1/2"));
        ck_assert(!haproxy_status_is_up("DRAIN"));
        ck_assert(!haproxy_status_is_up("MAINT"));
        ck_assert(!haproxy_status_is_up("NOLB"));
        ck_assert(!haproxy_status_is_up("up"));
        ck_assert(!haproxy_status_is_up(NULL));
}
END_TEST

/* a recorded answer (tests/fixtures/haproxy/) */
static char *read_fixture(const char *name, size_t *ret_size) {
        return test_read_fixture(FIXTURES, "haproxy", name, ret_size);
}

/* parses text as a whole for be/a: the result, and *ret when it is 0 */
static int parse(const char *text, HaproxyServerStat *ret) {
        HaproxyServerStat s = { .scur = 12345 };
        int r = haproxy_parse_stat(text, strlen(text), "be", "a", &s);

        if (r < 0) {
                /* nothing written on failure */
                ck_assert_uint_eq(s.scur, 12345);
                ck_assert_ptr_null(s.status);
        } else if (ret)
                *ret = s;
        else
                haproxy_server_stat_done(&s);
        return r;
}

/* a row as the parser should read it; NULL: no such text */
typedef struct Row {
        uint64_t scur;
        const char *status, *check_status, *check_code, *last_chk;
} Row;

/* text parsed as a whole has a row be/a, and it is want, field by field */
static void assert_row(const char *text, Row want) {
        HaproxyServerStat s = {};

        ck_assert_msg(parse(text, &s) == 0, "%s", text);
        ck_assert_uint_eq(s.scur, want.scur);
        ck_assert_pstr_eq(s.status, want.status);
        ck_assert_pstr_eq(s.check_status, want.check_status);
        ck_assert_pstr_eq(s.check_code, want.check_code);
        ck_assert_pstr_eq(s.last_chk, want.last_chk);
        haproxy_server_stat_done(&s);
}

START_TEST(test_parse_recorded) {
        size_t size;
        _cleanup_free_ char *csv = read_fixture("show-stat.csv", &size);
        HaproxyServerStat s = {};

        ck_assert_int_eq(haproxy_parse_stat(csv, size, "be", "a", &s), 0);
        ck_assert_uint_eq(s.scur, 1);
        ck_assert_str_eq(s.status, "DRAIN");
        /* "* L7OK": a check was running at the time */
        ck_assert_str_eq(s.check_status, "L7OK");
        ck_assert_str_eq(s.check_code, "0");
        ck_assert_ptr_null(s.last_chk);
        haproxy_server_stat_done(&s);
        ck_assert_ptr_null(s.status);

        ck_assert_int_eq(haproxy_parse_stat(csv, size, "be", "b", &s), 0);
        ck_assert_uint_eq(s.scur, 0);
        ck_assert_str_eq(s.status, "DOWN");
        ck_assert_str_eq(s.check_status, "L7STS");
        ck_assert_str_eq(s.check_code, "503");
        ck_assert_str_eq(s.last_chk, "Busy, \"sick\"");
        haproxy_server_stat_done(&s);

        ck_assert_int_eq(haproxy_parse_stat(csv, size, "be", "BACKEND", &s), 0);
        ck_assert_uint_eq(s.scur, 1);
        ck_assert_str_eq(s.status, "DOWN");
        ck_assert_ptr_null(s.check_status);
        haproxy_server_stat_done(&s);
        ck_assert_int_eq(haproxy_parse_stat(csv, size, "fe", "FRONTEND", &s), 0);
        ck_assert_str_eq(s.status, "OPEN");
        haproxy_server_stat_done(&s);

        ck_assert_int_eq(haproxy_parse_stat(csv, size, "be", "c", &s), -ENOENT);
        ck_assert_int_eq(haproxy_parse_stat(csv, size, "fe", "a", &s), -ENOENT);
        ck_assert_int_eq(haproxy_parse_stat(csv, size, "b", "a", &s), -ENOENT);
        /* a prefix of the text is read as far as it goes */
        ck_assert_int_eq(haproxy_parse_stat(csv, strcspn(csv, "\n"), "be", "a", &s), -ENOENT);
        ck_assert_int_eq(haproxy_parse_stat(csv, 10, "be", "a", &s), -EBADMSG);
}
END_TEST

START_TEST(test_parse_columns) {
        /* found by name, in any order, with others between */
        assert_row(
                "# status,x,scur,svname,last_chk,pxname,check_code,check_status\n"
                "DOWN,1,7,a,Connection refused,be,,L4CON\n",
                (Row){ .scur = 7,
                       .status = "DOWN",
                       .check_status = "L4CON",
                       .last_chk = "Connection refused" });

        /* the optional columns missing; "#pxname" without the space; no newline at the end */
        assert_row("#pxname,svname,scur,status\nbe,a,0,UP 1/2", (Row){ .status = "UP 1/2" });

        /* a check running now: its "* " is not part of the status */
        assert_row(
                "# pxname,svname,scur,status,check_status\nbe,a,0,UP,* L4CON\n",
                (Row){ .status = "UP", .check_status = "L4CON" });
        assert_row("# pxname,svname,scur,status,check_status\nbe,a,0,UP,* \n", (Row){ .status = "UP" });

        /* a required column missing */
        ck_assert_int_eq(parse("# pxname,svname,status\nbe,a,UP\n", NULL), -EBADMSG);
        ck_assert_int_eq(parse("# pxname,svname,scur\nbe,a,0\n", NULL), -EBADMSG);
        ck_assert_int_eq(parse("# svname,scur,status\na,0,UP\n", NULL), -EBADMSG);
        /* names match in full only */
        assert_row("# pxname,svname,scurx,status,scur\nbe,a,5,UP,3\n", (Row){ .scur = 3, .status = "UP" });
        /* the first of two columns of one name */
        assert_row("# pxname,svname,scur,status,scur\nbe,a,5,UP,3\n", (Row){ .scur = 5, .status = "UP" });
        /* the first matching row */
        assert_row(
                "# pxname,svname,scur,status\nbe,a,1,UP\nbe,a,2,DOWN\n", (Row){ .scur = 1, .status = "UP" });
}
END_TEST

START_TEST(test_parse_fields) {
        /* quoted fields: commas and doubled quotes inside, a quoted name */
        assert_row(
                "# pxname,svname,scur,status,last_chk,check_status\n"
                "\"be\",\"a\",2,\"UP 1/2\",\"a, \"\"b\"\"\",\"\"\n",
                (Row){ .scur = 2, .status = "UP 1/2", .last_chk = "a, \"b\"" });

        /* a quoted field of another row holding a newline and commas does not end its row */
        assert_row(
                "# pxname,svname,scur,status,last_chk\n"
                "be,x,0,DOWN,\"be,a,9,UP,\nbe,a,9,UP\"\n"
                "be,a,4,MAINT,\n",
                (Row){ .scur = 4, .status = "MAINT" });

        /* CRLF line ends, blank lines, a short row of another server */
        assert_row(
                "# pxname,svname,scur,status,check_status\r\n\r\nbe\r\nbe,a,0,no check,\r\n",
                (Row){ .status = "no check" });
        assert_row(
                "# pxname,svname,scur,status\r\n\"be\",\"a\",1,\"UP\"\r\n",
                (Row){ .scur = 1, .status = "UP" });

        /* scur at the limits */
        assert_row(
                "# pxname,svname,scur,status\nbe,a,18446744073709551615,UP\n",
                (Row){ .scur = UINT64_MAX, .status = "UP" });
        ck_assert_int_eq(
                parse("# pxname,svname,scur,status\nbe,a,18446744073709551616,UP\n", NULL), -EBADMSG);
}
END_TEST

START_TEST(test_parse_garbage) {
        static const char *const bad[] = {
                "",
                "\n",
                "hello",
                "No such proxy.\n\n",
                "pxname,svname,scur,status\nbe,a,0,UP\n",           /* no '#' */
                "# pxname,svname,scur,status\nbe,a,,UP\n",          /* scur empty */
                "# pxname,svname,scur,status\nbe,a,x,UP\n",         /* scur not a number */
                "# pxname,svname,scur,status\nbe,a,-1,UP\n",        /* negative */
                "# pxname,svname,scur,status\nbe,a, 1,UP\n",        /* blank */
                "# pxname,svname,scur,status\nbe,a,\"1\",UP\n",     /* quoted number */
                "# pxname,svname,scur,status\nbe,a,1,\n",           /* status empty */
                "# pxname,svname,scur,status\nbe,a,1,\"\"\n",       /* status empty, quoted */
                "# pxname,svname,scur,status\nbe,a,1\n",            /* the row too short */
                "# pxname,svname,scur,status\nbe,a,1,\"UP\n",       /* a quote not closed */
                "# pxname,svname,scur,status\nbe,\"a\"x,1,UP\n",    /* text after a closing quote */
                "# pxname,svname,scur,status\nbe,x,1,UP\n\"open\n", /* a quote not closed, later */
                "# pxname,\"svname,scur,status\n",                  /* the header's quote */
        };
        HaproxyServerStat s = {};

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(parse(bad[i], NULL) == -EBADMSG, "%s", bad[i]);

        /* only the header, or no row of the server */
        ck_assert_int_eq(parse("# pxname,svname,scur,status\n", NULL), -ENOENT);
        ck_assert_int_eq(
                parse("# pxname,svname,scur,status\nbe,ab,1,UP\nbex,a,1,UP\nbe,,1,UP\n", NULL), -ENOENT);
        /* a bad scur in another row is not looked at */
        ck_assert_int_eq(parse("# pxname,svname,scur,status\nbe,b,x,\nbe,a,3,UP\n", NULL), 0);

        /* a NUL byte is a byte of the text, not its end */
        static const char nul[] = "# pxname,svname,scur,status\nbe,a\0,1,UP\nbe,a,2,DOWN\n";
        ck_assert_int_eq(haproxy_parse_stat(nul, sizeof(nul) - 1, "be", "a", &s), 0);
        ck_assert_uint_eq(s.scur, 2);
        haproxy_server_stat_done(&s);
        static const char nul_status[] = "# pxname,svname,scur,status\nbe,a,1,\0UP\n";
        ck_assert_int_eq(haproxy_parse_stat(nul_status, sizeof(nul_status) - 1, "be", "a", &s), -EBADMSG);
}
END_TEST

static Suite *haproxy_suite(void) {
        Suite *s = suite_create("haproxy");
        TCase *live = tcase_create("live"), *sockets = tcase_create("sockets"), *pure = tcase_create("pure");

        /* each test against a HAProxy of its own */
        tcase_add_checked_fixture(live, setup, teardown);
        tcase_set_timeout(live, 240);
        tcase_add_test(live, test_drain_keeps_open_sessions);
        tcase_add_test(live, test_drain_undrain);
        tcase_add_test(live, test_health_check_fails);
        tcase_add_test(live, test_show_stat_live);
        tcase_add_test(live, test_unknown_names);
        tcase_add_test(live, test_tcp_form);
        tcase_add_test(live, test_set_all);
        tcase_add_test(live, test_cancel);
        suite_add_tcase(s, live);

        tcase_add_checked_fixture(sockets, scratch_setup, scratch_teardown);
        tcase_set_timeout(sockets, 120);
        tcase_add_test(sockets, test_missing_socket);
        tcase_add_test(sockets, test_silent_socket);
        tcase_add_test(sockets, test_answer_too_large);
        tcase_add_test(sockets, test_socket_names);
        suite_add_tcase(s, sockets);

        tcase_add_test(pure, test_names_and_states);
        tcase_add_test(pure, test_parse_recorded);
        tcase_add_test(pure, test_parse_columns);
        tcase_add_test(pure, test_parse_fields);
        tcase_add_test(pure, test_parse_garbage);
        suite_add_tcase(s, pure);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(haproxy_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
