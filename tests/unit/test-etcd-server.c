/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-etcd-server.c: a private, throwaway etcd for a test */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "http.h"
#include "spawn.h"
#include "strv.h"
#include "test-etcd-server.h"
#include "test-util.h"
#include "time-util.h"

#define START_TRIES 5
#define START_TIMEOUT (30 * USEC_PER_SEC)

/* a port of 127.0.0.1 bound (not listening) by the returned socket */
static int bound_port(int *ret_port) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
        *ret_port = ntohs(a.sin_port);
        return fd;
}

char *test_etcd_dead_url(int *ret_fd) {
        char *url;
        int port;

        *ret_fd = bound_port(&port);
        ck_assert_int_ge(asprintf(&url, "http://127.0.0.1:%d", port), 0);
        return url;
}

static char *log_text(const TestEtcd *e) {
        _cleanup_free_ char *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        char *s = NULL;
        size_t n = 0;

        if (asprintf(&path, "%s/etcd.log", e->dir) < 0)
                return strdup("(no log)");
        f = fopen(path, "re");
        if (!f || getdelim(&s, &n, 0, f) < 0) {
                free(s);
                return strdup("(no log)");
        }
        return s;
}

/* dir/NAME */
static char *dir_file(const TestEtcd *e, const char *name) {
        char *p;

        ck_assert_int_ge(asprintf(&p, "%s/%s", e->dir, name), 0);
        return p;
}

static void run_or_die(char **argv) {
        char *env[] = { (char *)"PATH=/usr/bin:/bin", NULL };
        int status = -1;

        ck_assert_int_eq(
                spawn_run(argv, &(SpawnOptions){ .env = env, .timeout = 60 * USEC_PER_SEC }, &status), 0);
        ck_assert_msg(status == 0, "%s %s failed with status %d", argv[0], argv[1], status);
}

/* NAME.pem and NAME.key: a P-256 key and a certificate for 127.0.0.1, signed by ca.pem (or the
 * self-signed CA itself, for "ca") */
static void make_certificate(const TestEtcd *e, const char *name) {
        _cleanup_free_ char *key = NULL, *pem = NULL, *ca = dir_file(e, "ca.pem"),
                            *ca_key = dir_file(e, "ca.key"), *subject = NULL;
        bool is_ca = streq(name, "ca");

        ck_assert_int_ge(asprintf(&key, "%s/%s.key", e->dir, name), 0);
        ck_assert_int_ge(asprintf(&pem, "%s/%s.pem", e->dir, name), 0);
        ck_assert_int_ge(asprintf(&subject, "/CN=test-etcd-%s", name), 0);

        char *argv[] = { (char *)"/usr/bin/openssl",
                         (char *)"req",
                         (char *)"-x509",
                         (char *)"-newkey",
                         (char *)"ec",
                         (char *)"-pkeyopt",
                         (char *)"ec_paramgen_curve:prime256v1",
                         (char *)"-nodes",
                         (char *)"-days",
                         (char *)"2",
                         (char *)"-keyout",
                         key,
                         (char *)"-out",
                         pem,
                         (char *)"-subj",
                         subject,
                         /* the CA ends here (NULL); a leaf is signed by it, for this address, for
                          * both ends of a TLS link */
                         is_ca ? NULL : (char *)"-CA",
                         ca,
                         (char *)"-CAkey",
                         ca_key,
                         (char *)"-addext",
                         (char *)"subjectAltName=IP:127.0.0.1",
                         (char *)"-addext",
                         (char *)"basicConstraints=critical,CA:FALSE",
                         (char *)"-addext",
                         (char *)"extendedKeyUsage=serverAuth,clientAuth",
                         NULL };

        ck_assert_msg(access(argv[0], X_OK) == 0, "no openssl: %s is missing", argv[0]);
        run_or_die(argv);
}

static pid_t spawn_etcd(const TestEtcd *e, int client_port, int peer_port) {
        _cleanup_free_ char *data = NULL, *log = NULL, *client = NULL, *peer = NULL, *cluster = NULL,
                            *server_cert = NULL, *server_key = NULL;
        pid_t parent = getpid(), pid;
        int fd;

        ck_assert_int_ge(asprintf(&data, "%s/data", e->dir), 0);
        ck_assert_int_ge(asprintf(&log, "%s/etcd.log", e->dir), 0);
        ck_assert_int_ge(asprintf(&client, "%s://127.0.0.1:%d", e->ca ? "https" : "http", client_port), 0);
        ck_assert_int_ge(asprintf(&peer, "http://127.0.0.1:%d", peer_port), 0);
        ck_assert_int_ge(asprintf(&cluster, "test=%s", peer), 0);
        fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
        ck_assert_msg(fd >= 0, "%s: %s", log, strerror(errno));
        if (e->ca) {
                server_cert = dir_file(e, "server.pem");
                server_key = dir_file(e, "server.key");
        }

        const char *argv[] = { TEST_ETCD_BINARY,
                               "--name=test",
                               "--data-dir",
                               data,
                               "--listen-client-urls",
                               client,
                               "--advertise-client-urls",
                               client,
                               "--listen-peer-urls",
                               peer,
                               "--initial-advertise-peer-urls",
                               peer,
                               "--initial-cluster",
                               cluster,
                               "--logger=zap",
                               "--log-outputs=stderr",
                               /* with TLS: the server's certificate, and clients need one of the CA */
                               e->ca ? "--cert-file" : NULL,
                               server_cert,
                               "--key-file",
                               server_key,
                               "--trusted-ca-file",
                               e->ca,
                               "--client-cert-auth",
                               NULL };

        fflush(NULL);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

                if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0 ||
                    dup2(fd, STDERR_FILENO) < 0)
                        _exit(126);
                /* Check's and meson's descriptors stay with the runner: etcd holding them would stall it */
                (void)close_range(3, ~0U, 0);
                (void)signal(SIGPIPE, SIG_DFL);
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(126);
                execv(argv[0], (char *const *)argv);
                _exit(127);
        }
        close(fd);
        return pid;
}

/* etcd answers /health with {"health":"true"} */
static bool healthy(const TestEtcd *e) {
        _cleanup_free_ char *url = NULL;
        _cleanup_http_response_ HttpResponse r = {};

        HttpOptions o = { .ca = e->ca, .certificate = e->certificate, .key = e->key };

        ck_assert_int_ge(asprintf(&url, "%s/health", e->url), 0);
        return http_request_with("GET", url, &o, NULL, 2 * USEC_PER_SEC, &r, NULL) >= 0 && r.status == 200 &&
               strstr(r.body, "\"health\":\"true\"");
}

/* one start on two free ports; false when etcd lost a port to someone else meanwhile */
static bool start_once(TestEtcd *e) {
        int client_port, peer_port, status;
        int client_fd = bound_port(&client_port), peer_fd = bound_port(&peer_port);
        usec_t deadline = now_monotonic() + START_TIMEOUT;

        close(client_fd);
        close(peer_fd);
        free(e->url);
        ck_assert_int_ge(asprintf(&e->url, "%s://127.0.0.1:%d", e->ca ? "https" : "http", client_port), 0);
        e->port = client_port;
        e->pid = spawn_etcd(e, client_port, peer_port);

        while (!healthy(e)) {
                if (waitpid(e->pid, &status, WNOHANG) == e->pid) {
                        _cleanup_free_ char *text = log_text(e);

                        e->pid = 0;
                        if (strstr(text, "address already in use"))
                                return false;
                        ck_abort_msg("etcd exited (status 0x%x):\n%s", (unsigned)status, text);
                }
                if (now_monotonic() > deadline) {
                        _cleanup_free_ char *text = log_text(e);

                        test_etcd_stop(e);
                        ck_abort_msg("etcd does not answer after 30 s:\n%s", text);
                }
                usleep(50 * 1000);
        }
        return true;
}

static void start(TestEtcd *e, bool tls) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        bool started = false;

        ck_assert_msg(access(TEST_ETCD_BINARY, X_OK) == 0, "no etcd: %s is missing", TEST_ETCD_BINARY);

        *e = (TestEtcd){ .owner = getpid() };
        /* tmpfs where there is one: etcd's fsyncs cost nothing there */
        ck_assert_int_ge(asprintf(&e->dir, "%s/test-etcd.XXXXXX", base), 0);
        ck_assert_ptr_nonnull(mkdtemp(e->dir));

        if (tls) {
                make_certificate(e, "ca");
                make_certificate(e, "server");
                make_certificate(e, "client");
                e->ca = dir_file(e, "ca.pem");
                e->certificate = dir_file(e, "client.pem");
                e->key = dir_file(e, "client.key");
        }

        for (int i = 0; i < START_TRIES && !started; i++)
                started = start_once(e);
        ck_assert_msg(started, "etcd could not bind free ports in %d tries", START_TRIES);
}

void test_etcd_start(TestEtcd *e) {
        start(e, false);
}

void test_etcd_start_tls(TestEtcd *e) {
        start(e, true);
}

void test_etcd_stop(TestEtcd *e) {
        if (!e->owner || e->owner != getpid())
                return;
        if (e->pid > 0) {
                /* the data are thrown away: no need for a clean shutdown */
                (void)kill(e->pid, SIGKILL);
                (void)spawn_reap(e->pid, NULL);
                e->pid = 0;
        }
        if (e->dir) {
                rm_rf(e->dir);
                free(e->dir);
                e->dir = NULL;
        }
        free(e->url);
        free(e->ca);
        free(e->certificate);
        free(e->key);
        e->url = e->ca = e->certificate = e->key = NULL;
        e->owner = 0;
}

void test_etcdctl(const TestEtcd *e, const char *user, ...) {
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *endpoints = NULL, *user_arg = NULL, *command = NULL;
        _cleanup_free_ char *cacert = NULL, *cert = NULL, *key = NULL;
        char *env[] = { (char *)"ETCDCTL_API=3", (char *)"PATH=/usr/bin:/bin", NULL };
        int status = -1;
        va_list ap;

        ck_assert_int_ge(asprintf(&endpoints, "--endpoints=%s", e->url), 0);
        ck_assert_int_eq(strv_push(&argv, TEST_ETCDCTL_BINARY), 0);
        ck_assert_int_eq(strv_push(&argv, endpoints), 0);
        ck_assert_int_eq(strv_push(&argv, "--dial-timeout=10s"), 0);
        if (e->ca) {
                ck_assert_int_ge(asprintf(&cacert, "--cacert=%s", e->ca), 0);
                ck_assert_int_ge(asprintf(&cert, "--cert=%s", e->certificate), 0);
                ck_assert_int_ge(asprintf(&key, "--key=%s", e->key), 0);
                ck_assert_int_eq(strv_push(&argv, cacert), 0);
                ck_assert_int_eq(strv_push(&argv, cert), 0);
                ck_assert_int_eq(strv_push(&argv, key), 0);
        }
        if (user) {
                ck_assert_int_ge(asprintf(&user_arg, "--user=%s", user), 0);
                ck_assert_int_eq(strv_push(&argv, user_arg), 0);
        }
        va_start(ap, user);
        for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *)) {
                ck_assert_int_eq(strv_push(&argv, a), 0);
                if (!command)
                        command = strdup(a);
        }
        va_end(ap);

        ck_assert_msg(
                access(TEST_ETCDCTL_BINARY, X_OK) == 0, "no etcdctl: %s is missing", TEST_ETCDCTL_BINARY);
        ck_assert_int_eq(
                spawn_run(argv, &(SpawnOptions){ .env = env, .timeout = 30 * USEC_PER_SEC }, &status), 0);
        ck_assert_msg(status == 0, "etcdctl %s failed with status %d", strempty(command), status);
}
