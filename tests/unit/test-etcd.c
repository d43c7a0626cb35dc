/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-etcd.c: etcd module: the client against a real etcd (the parsers: test-etcd-parse.c) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <check.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include "etcd.h"
#include "test-etcd-server.h"
#include "test-util.h"
#include "time-util.h"

static TestEtcd server;

START_TEST(test_client_new_invalid) {
        _cleanup_free_ char *err = NULL;
        EtcdClient *c = (EtcdClient *)0x1;
        char *none[] = { NULL }, *good[] = { (char *)"http://127.0.0.1:2379/", NULL };
        char *bad[][2] = {
                { (char *)"ftp://127.0.0.1:2379", NULL },
                { (char *)"http://", NULL },
                { (char *)"127.0.0.1:2379", NULL },
                { (char *)"http://a b", NULL },
                { (char *)"http:///x", NULL },
                { (char *)"http://h/?q", NULL },
        };

        ck_assert_int_eq(etcd_client_new(&(EtcdOptions){ .endpoints = none }, &c, &err), -EINVAL);
        ck_assert_ptr_nonnull(err);
        ck_assert_int_eq(etcd_client_new(&(EtcdOptions){}, &c, NULL), -EINVAL);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(
                        etcd_client_new(&(EtcdOptions){ .endpoints = bad[i] }, &c, NULL) == -EINVAL,
                        "accepted: %s",
                        bad[i][0]);
        ck_assert_int_eq(
                etcd_client_new(&(EtcdOptions){ .endpoints = good, .user = "root" }, &c, NULL), -EINVAL);
        ck_assert_int_eq(
                etcd_client_new(&(EtcdOptions){ .endpoints = good, .certificate = "/c.pem" }, &c, NULL),
                -EINVAL);
        ck_assert_ptr_eq(c, (EtcdClient *)0x1);

        ck_assert_int_eq(etcd_client_new(&(EtcdOptions){ .endpoints = good }, &c, NULL), 0);
        ck_assert_ptr_null(etcd_client_free(c));
        ck_assert_ptr_null(etcd_client_free(NULL));
        etcd_kv_done(NULL);
        etcd_kvs_free(NULL, 0);
}
END_TEST

/* ---- against a real etcd ---- */

static void server_start(void) {
        test_etcd_start(&server);
}

static void server_stop(void) {
        test_etcd_stop(&server);
}

/* a client of the test's etcd (extra endpoints in front of it: dead ones), with a timeout */
static EtcdClient *client_full(
        const char *first, const char *second, const char *user, const char *password) {
        char *endpoints[4] = {}, **e = endpoints;
        _cleanup_free_ char *err = NULL;
        EtcdClient *c = NULL;

        if (first)
                *e++ = (char *)first;
        if (second)
                *e++ = (char *)second;
        *e = server.url;
        ck_assert_msg(
                etcd_client_new(
                        &(EtcdOptions){ .endpoints = endpoints,
                                        .user = user,
                                        .password = password,
                                        .timeout = 10 * USEC_PER_SEC },
                        &c,
                        &err) == 0,
                "%s",
                strempty(err));
        return c;
}

static EtcdClient *client(void) {
        return client_full(NULL, NULL, NULL, NULL);
}

#define ASSERT_OK(expr)                                                                      \
        do {                                                                                 \
                _cleanup_free_ char *_err = NULL;                                            \
                int _r = (expr);                                                             \
                ck_assert_msg(_r >= 0, "%s: %s (%s)", #expr, strerror(-_r), strempty(_err)); \
        } while (0)

START_TEST(test_get_absent) {
        _cleanup_etcd_client_ EtcdClient *c = client();
        _cleanup_free_ char *err = NULL;
        EtcdKv kv = { .version = 99 };

        ck_assert_int_eq(etcd_get(c, "/t/absent/key", &kv, NULL, &err), -ENOENT);
        ck_assert_ptr_nonnull(err);
        ck_assert_int_eq(kv.version, 99);
}
END_TEST

START_TEST(test_put_get_bytes) {
        _cleanup_etcd_client_ EtcdClient *c = client();
        _cleanup_(etcd_kv_done) EtcdKv kv = {}, empty = {};
        char value[256];
        int64_t rev = 0;

        /* every byte but NUL, which a C string cannot hold */
        for (int i = 1; i < 256; i++)
                value[i - 1] = (char)i;
        value[255] = 0;

        ASSERT_OK(etcd_put(c, "/t/bytes/all", value, 0, &_err));
        ASSERT_OK(etcd_get(c, "/t/bytes/all", &kv, &rev, &_err));
        ck_assert_str_eq(kv.key, "/t/bytes/all");
        ck_assert_uint_eq(kv.value_size, 255);
        ck_assert_mem_eq(kv.value, value, 256);
        ck_assert_int_eq(kv.version, 1);
        ck_assert_int_gt(kv.create_revision, 0);
        ck_assert_int_eq(kv.mod_revision, kv.create_revision);
        ck_assert_int_ge(rev, kv.mod_revision);
        ck_assert_int_eq(kv.lease, 0);

        ASSERT_OK(etcd_put(c, "/t/bytes/empty", "", 0, &_err));
        ASSERT_OK(etcd_get(c, "/t/bytes/empty", &empty, NULL, &_err));
        ck_assert_str_eq(empty.value, "");
        ck_assert_uint_eq(empty.value_size, 0);

        /* an existence check only */
        ASSERT_OK(etcd_get(c, "/t/bytes/empty", NULL, NULL, &_err));
        ck_assert_int_eq(etcd_put(c, "", "x", 0, NULL), -EINVAL);
}
END_TEST

START_TEST(test_get_prefix_order) {
        _cleanup_etcd_client_ EtcdClient *c = client();
        const char *keys[] = { "/t/prefix/c",   "/t/prefix/a", "/t/prefix/b",
                               "/t/prefix/a/x", "/t/prefix0",  "/t/prefi" };
        EtcdKv *kvs = (EtcdKv *)0x1;
        size_t n = 99;
        int64_t rev = 0;

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                ASSERT_OK(etcd_put(c, keys[i], keys[i], 0, &_err));

        ASSERT_OK(etcd_get_prefix(c, "/t/prefix/", &kvs, &n, &rev, &_err));
        ck_assert_uint_eq(n, 4);
        ck_assert_str_eq(kvs[0].key, "/t/prefix/a");
        ck_assert_str_eq(kvs[1].key, "/t/prefix/a/x");
        ck_assert_str_eq(kvs[2].key, "/t/prefix/b");
        ck_assert_str_eq(kvs[3].key, "/t/prefix/c");
        ck_assert_str_eq(kvs[3].value, "/t/prefix/c");
        ck_assert_int_ge(rev, kvs[3].mod_revision);
        etcd_kvs_free(kvs, n);

        ASSERT_OK(etcd_get_prefix(c, "/t/nothing-here/", &kvs, &n, NULL, &_err));
        ck_assert_ptr_null(kvs);
        ck_assert_uint_eq(n, 0);

        /* "": every key, this test's among them */
        ASSERT_OK(etcd_get_prefix(c, "", &kvs, &n, NULL, &_err));
        ck_assert_uint_ge(n, ELEMENTSOF(keys));
        for (size_t i = 1; i < n; i++)
                ck_assert_int_lt(strcmp(kvs[i - 1].key, kvs[i].key), 0);
        etcd_kvs_free(kvs, n);
}
END_TEST

START_TEST(test_put_if_version) {
        _cleanup_etcd_client_ EtcdClient *c = client();
        _cleanup_(etcd_kv_done) EtcdKv kv = {};
        _cleanup_free_ char *err = NULL;

        /* 0: create only */
        ck_assert_int_eq(etcd_put_if_version(c, "/t/cas/k", "one", 0, 0, &err), 1);
        ck_assert_int_eq(etcd_put_if_version(c, "/t/cas/k", "again", 0, 0, &err), 0);
        /* the current version wins, once; the stale one loses */
        ck_assert_int_eq(etcd_put_if_version(c, "/t/cas/k", "two", 1, 0, &err), 1);
        ck_assert_int_eq(etcd_put_if_version(c, "/t/cas/k", "stale", 1, 0, &err), 0);
        ck_assert_int_eq(etcd_put_if_version(c, "/t/cas/k", "future", 7, 0, &err), 0);
        ASSERT_OK(etcd_get(c, "/t/cas/k", &kv, NULL, &_err));
        ck_assert_str_eq(kv.value, "two");
        ck_assert_int_eq(kv.version, 2);
        ck_assert_int_eq(etcd_put_if_version(c, "/t/cas/k", "x", -1, 0, NULL), -EINVAL);
}
END_TEST

typedef struct Racer {
        const char *key;
        int n;
        int conflicts;
        int error;
        char *message;
} Racer;

/* n read-then-CAS increments, each retried until it wins */
static void *race(void *userdata) {
        Racer *r = userdata;
        _cleanup_etcd_client_ EtcdClient *c = client();

        for (int done = 0; done < r->n;) {
                _cleanup_(etcd_kv_done) EtcdKv kv = {};
                _cleanup_free_ char *value = NULL;
                int64_t version = 0;
                long count = 0;
                int k;

                k = etcd_get(c, r->key, &kv, NULL, &r->message);
                if (k == 0) {
                        version = kv.version;
                        count = strtol(kv.value, NULL, 10);
                } else if (k != -ENOENT) {
                        r->error = k;
                        break;
                }
                if (asprintf(&value, "%ld", count + 1) < 0) {
                        r->error = -ENOMEM;
                        break;
                }
                k = etcd_put_if_version(c, r->key, value, version, 0, &r->message);
                if (k < 0) {
                        r->error = k;
                        break;
                }
                if (k == 1)
                        done++;
                else
                        r->conflicts++;
        }
        return NULL;
}

START_TEST(test_cas_race) {
        _cleanup_etcd_client_ EtcdClient *c = client();
        _cleanup_(etcd_kv_done) EtcdKv kv = {};
        Racer racers[2] = { { .key = "/t/race/count", .n = 40 }, { .key = "/t/race/count", .n = 40 } };
        pthread_t threads[2];

        for (size_t i = 0; i < ELEMENTSOF(racers); i++)
                ck_assert_int_eq(pthread_create(&threads[i], NULL, race, &racers[i]), 0);
        for (size_t i = 0; i < ELEMENTSOF(racers); i++) {
                ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
                ck_assert_msg(racers[i].error == 0, "racer %zu: %s", i, strempty(racers[i].message));
                free(racers[i].message);
        }

        ASSERT_OK(etcd_get(c, "/t/race/count", &kv, NULL, &_err));
        ck_assert_str_eq(kv.value, "80");
        ck_assert_int_eq(kv.version, 80);
        fprintf(stderr, "race: %d and %d conflicts\n", racers[0].conflicts, racers[1].conflicts);
}
END_TEST

START_TEST(test_delete) {
        _cleanup_etcd_client_ EtcdClient *c = client();
        _cleanup_(etcd_kv_done) EtcdKv kv = {};
        _cleanup_free_ char *err = NULL;

        ASSERT_OK(etcd_put(c, "/t/delete/k", "v", 0, &_err));
        ASSERT_OK(etcd_put(c, "/t/delete/k", "w", 0, &_err));
        ck_assert_int_eq(etcd_delete_if_version(c, "/t/delete/k", 1, &err), 0);
        ASSERT_OK(etcd_get(c, "/t/delete/k", &kv, NULL, &_err));
        ck_assert_str_eq(kv.value, "w");
        ck_assert_int_eq(etcd_delete_if_version(c, "/t/delete/k", 2, &err), 1);
        ck_assert_int_eq(etcd_get(c, "/t/delete/k", NULL, NULL, NULL), -ENOENT);
        /* gone: no version matches any more */
        ck_assert_int_eq(etcd_delete_if_version(c, "/t/delete/k", 2, &err), 0);
        ck_assert_int_eq(etcd_delete_if_version(c, "/t/delete/k", 0, NULL), -EINVAL);

        ASSERT_OK(etcd_put(c, "/t/delete/plain", "v", 0, &_err));
        ASSERT_OK(etcd_delete(c, "/t/delete/plain", &_err));
        ck_assert_int_eq(etcd_get(c, "/t/delete/plain", NULL, NULL, NULL), -ENOENT);
        /* absent is fine */
        ASSERT_OK(etcd_delete(c, "/t/delete/plain", &_err));
}
END_TEST

START_TEST(test_leases) {
        _cleanup_etcd_client_ EtcdClient *c = client();
        _cleanup_(etcd_kv_done) EtcdKv kv = {};
        _cleanup_free_ char *err = NULL;
        int64_t id = 0, ttl = 0;

        ASSERT_OK(etcd_lease_grant(c, 30, &id, &_err));
        ck_assert_int_ne(id, 0);
        ASSERT_OK(etcd_put(c, "/t/lease/k", "v", id, &_err));
        ASSERT_OK(etcd_put_if_version(c, "/t/lease/cas", "v", 0, id, &_err));
        ASSERT_OK(etcd_get(c, "/t/lease/k", &kv, NULL, &_err));
        ck_assert_int_eq(kv.lease, id);

        ASSERT_OK(etcd_lease_keepalive(c, id, &ttl, &_err));
        ck_assert_int_gt(ttl, 0);
        ck_assert_int_le(ttl, 30);

        /* revoked: its keys go, it cannot be kept alive, revoked again or put on */
        ASSERT_OK(etcd_lease_revoke(c, id, &_err));
        ck_assert_int_eq(etcd_get(c, "/t/lease/k", NULL, NULL, NULL), -ENOENT);
        ck_assert_int_eq(etcd_get(c, "/t/lease/cas", NULL, NULL, NULL), -ENOENT);
        ck_assert_int_eq(etcd_lease_keepalive(c, id, &ttl, &err), -ENOENT);
        ck_assert_ptr_nonnull(err);
        ck_assert_int_eq(etcd_lease_revoke(c, id, NULL), -ENOENT);
        ck_assert_int_eq(etcd_put(c, "/t/lease/k", "v", id, NULL), -ENOENT);
        ck_assert_int_eq(etcd_lease_grant(c, 0, &id, NULL), -EINVAL);
}
END_TEST

typedef struct Watcher {
        const char *key;
        bool prefix;
        int64_t start;
        usec_t timeout;
        int r;
        int64_t revision;
        char *message;
} Watcher;

static void *watch(void *userdata) {
        Watcher *w = userdata;
        _cleanup_etcd_client_ EtcdClient *c = client();

        w->r = etcd_watch(c, w->key, w->prefix, w->start, w->timeout, &w->revision, &w->message);
        return NULL;
}

/* the revision now */
static int64_t revision(EtcdClient *c) {
        EtcdKv *kvs = NULL;
        size_t n = 0;
        int64_t rev = 0;

        ASSERT_OK(etcd_get_prefix(c, "/t/no-such-prefix/", &kvs, &n, &rev, &_err));
        return rev;
}

START_TEST(test_watch_woken) {
        _cleanup_etcd_client_ EtcdClient *c = client();
        _cleanup_(etcd_kv_done) EtcdKv kv = {};
        int64_t rev = revision(c);
        /* from the revision after this read on: a put before the watch is in place still wakes it */
        Watcher w = { .key = "/t/watch/k", .start = rev + 1, .timeout = 60 * USEC_PER_SEC },
                wp = { .key = "/t/watch/", .prefix = true, .start = rev + 1, .timeout = 60 * USEC_PER_SEC };
        pthread_t t, tp;
        usec_t start = now_monotonic();

        ck_assert_int_eq(pthread_create(&t, NULL, watch, &w), 0);
        ck_assert_int_eq(pthread_create(&tp, NULL, watch, &wp), 0);
        ASSERT_OK(etcd_put(c, "/t/watch/other", "x", 0, &_err));
        ASSERT_OK(etcd_put(c, "/t/watch/k", "v", 0, &_err));
        ck_assert_int_eq(pthread_join(t, NULL), 0);
        ck_assert_int_eq(pthread_join(tp, NULL), 0);

        ASSERT_OK(etcd_get(c, "/t/watch/k", &kv, NULL, &_err));
        ck_assert_msg(w.r == 1, "watch: %d %s", w.r, strempty(w.message));
        ck_assert_int_eq(w.revision, kv.mod_revision);
        /* the prefix saw the first put under it */
        ck_assert_msg(wp.r == 1, "watch: %d %s", wp.r, strempty(wp.message));
        ck_assert_int_eq(wp.revision, kv.mod_revision - 1);
        ck_assert_uint_lt(now_monotonic() - start, 30 * USEC_PER_SEC);
        free(w.message);
        free(wp.message);
}
END_TEST

START_TEST(test_watch_waiting) {
        _cleanup_etcd_client_ EtcdClient *c = client();
        _cleanup_(etcd_kv_done) EtcdKv kv = {};
        Watcher w = { .key = "/t/watch-late/k", .start = revision(c) + 1, .timeout = 60 * USEC_PER_SEC };
        pthread_t t;

        ck_assert_int_eq(pthread_create(&t, NULL, watch, &w), 0);
        /* no synchronisation: the pause only makes it likely that the put finds the watch waiting on
         * its stream (the start revision makes the test hold either way) */
        usleep(500 * 1000);
        ASSERT_OK(etcd_put(c, "/t/watch-late/k", "v", 0, &_err));
        ck_assert_int_eq(pthread_join(t, NULL), 0);

        ASSERT_OK(etcd_get(c, "/t/watch-late/k", &kv, NULL, &_err));
        ck_assert_msg(w.r == 1, "watch: %d %s", w.r, strempty(w.message));
        ck_assert_int_eq(w.revision, kv.mod_revision);
        free(w.message);
}
END_TEST

START_TEST(test_watch_timeout) {
        _cleanup_etcd_client_ EtcdClient *c = client();
        _cleanup_free_ char *err = NULL;
        int64_t rev = -1;
        usec_t start = now_monotonic(), took;

        ck_assert_int_eq(etcd_watch(c, "/t/watch-quiet/k", false, 0, 1 * USEC_PER_SEC, &rev, &err), 0);
        took = now_monotonic() - start;
        ck_assert_uint_ge(took, 1 * USEC_PER_SEC);
        ck_assert_uint_lt(took, 15 * USEC_PER_SEC);
        ck_assert_int_eq(rev, -1);
}
END_TEST

START_TEST(test_watch_compacted) {
        _cleanup_etcd_client_ EtcdClient *c = client();
        _cleanup_free_ char *rev_arg = NULL;
        int64_t rev, changed = 0;

        ASSERT_OK(etcd_put(c, "/t/compact/k", "1", 0, &_err));
        ASSERT_OK(etcd_put(c, "/t/compact/k", "2", 0, &_err));
        rev = revision(c);
        ck_assert_int_ge(asprintf(&rev_arg, "%" PRIi64, rev), 0);
        test_etcdctl(&server, NULL, "compact", rev_arg, NULL);

        /* history before the compaction is gone: a change, the caller reads again */
        ASSERT_OK(etcd_watch(c, "/t/compact/k", false, 1, 30 * USEC_PER_SEC, &changed, &_err));
        ck_assert_int_eq(changed, rev);
}
END_TEST

START_TEST(test_failover) {
        _cleanup_free_ char *dead1 = NULL, *dead2 = NULL, *err = NULL;
        _cleanup_close_ int fd1 = -EBADF, fd2 = -EBADF;
        _cleanup_(etcd_kv_done) EtcdKv kv = {};
        _cleanup_etcd_client_ EtcdClient *c = NULL, *dead = NULL;
        char *only_dead[3] = {};
        int64_t rev = 0;
        usec_t start;

        dead1 = test_etcd_dead_url(&fd1);
        dead2 = test_etcd_dead_url(&fd2);

        /* a dead first endpoint: the second answers, for every kind of request */
        c = client_full(dead1, NULL, NULL, NULL);
        ASSERT_OK(etcd_put(c, "/t/failover/k", "v", 0, &_err));
        ck_assert_int_eq(etcd_put_if_version(c, "/t/failover/k", "w", 1, 0, &err), 1);
        ASSERT_OK(etcd_get(c, "/t/failover/k", &kv, &rev, &_err));
        ck_assert_str_eq(kv.value, "w");
        etcd_client_free(c);
        c = client_full(dead1, dead2, NULL, NULL);
        ASSERT_OK(etcd_watch(c, "/t/failover/k", false, kv.mod_revision, 30 * USEC_PER_SEC, NULL, &_err));

        /* all dead: -EHOSTUNREACH, naming each, at once */
        only_dead[0] = dead1;
        only_dead[1] = dead2;
        ck_assert_int_eq(
                etcd_client_new(
                        &(EtcdOptions){ .endpoints = only_dead, .timeout = 2 * USEC_PER_SEC }, &dead, NULL),
                0);
        start = now_monotonic();
        ck_assert_int_eq(etcd_get(dead, "/t/failover/k", NULL, NULL, &err), -EHOSTUNREACH);
        ck_assert_ptr_nonnull(strstr(err, dead1));
        ck_assert_ptr_nonnull(strstr(err, dead2));
        ck_assert_int_eq(etcd_put_if_version(dead, "/t/failover/k", "x", 2, 0, NULL), -EHOSTUNREACH);
        ck_assert_int_eq(
                etcd_watch(dead, "/t/failover/k", false, 0, 30 * USEC_PER_SEC, NULL, NULL), -EHOSTUNREACH);
        ck_assert_uint_lt(now_monotonic() - start, 10 * USEC_PER_SEC);
}
END_TEST

/* a first endpoint that takes the connection and never answers */
START_TEST(test_failover_hanging) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(sa);
        _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        _cleanup_free_ char *hang = NULL, *err = NULL;
        _cleanup_etcd_client_ EtcdClient *c = NULL;
        _cleanup_(etcd_kv_done) EtcdKv kv = {};
        char *endpoints[3] = {};
        usec_t start;

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(fd, 64), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &l), 0);
        ck_assert_int_ge(asprintf(&hang, "http://127.0.0.1:%d", ntohs(sa.sin_port)), 0);
        endpoints[0] = hang;
        endpoints[1] = server.url;
        ck_assert_int_eq(
                etcd_client_new(
                        &(EtcdOptions){ .endpoints = endpoints, .timeout = 1 * USEC_PER_SEC }, &c, NULL),
                0);

        ASSERT_OK(etcd_put(c, "/t/hang/k", "v", 0, &_err));
        etcd_client_free(c);
        ck_assert_int_eq(
                etcd_client_new(
                        &(EtcdOptions){ .endpoints = endpoints, .timeout = 1 * USEC_PER_SEC }, &c, NULL),
                0);

        /* a compare-and-swap that may have been applied is not sent again elsewhere */
        start = now_monotonic();
        ck_assert_int_eq(etcd_put_if_version(c, "/t/hang/k", "w", 1, 0, &err), -ETIMEDOUT);
        ck_assert_ptr_nonnull(strstr(err, hang));
        ck_assert_uint_lt(now_monotonic() - start, 10 * USEC_PER_SEC);

        /* a read is */
        ASSERT_OK(etcd_get(c, "/t/hang/k", &kv, NULL, &_err));
        ck_assert_str_eq(kv.value, "v");

        /* a watch gives up on the silent endpoint within the client's timeout, not its own */
        etcd_client_free(c);
        ck_assert_int_eq(
                etcd_client_new(
                        &(EtcdOptions){ .endpoints = endpoints, .timeout = 1 * USEC_PER_SEC }, &c, NULL),
                0);
        start = now_monotonic();
        ASSERT_OK(etcd_watch(c, "/t/hang/k", false, kv.mod_revision, 60 * USEC_PER_SEC, NULL, &_err));
        ck_assert_uint_lt(now_monotonic() - start, 20 * USEC_PER_SEC);
}
END_TEST

START_TEST(test_user_without_auth) {
        /* credentials for a cluster that has authentication off: used without a token */
        _cleanup_etcd_client_ EtcdClient *c = client_full(NULL, NULL, "root", "whatever");

        ASSERT_OK(etcd_put(c, "/t/noauth/k", "v", 0, &_err));
        ASSERT_OK(etcd_get(c, "/t/noauth/k", NULL, NULL, &_err));
}
END_TEST

/* ---- authentication ---- */

#define ROOT_PASSWORD "pw with spaces & \"quotes\""

static void auth_server_start(void) {
        test_etcd_start(&server);
        test_etcdctl(&server, NULL, "user", "add", "root:" ROOT_PASSWORD, NULL);
        test_etcdctl(&server, NULL, "auth", "enable", NULL);
}

START_TEST(test_auth) {
        _cleanup_etcd_client_ EtcdClient *c = client_full(NULL, NULL, "root", ROOT_PASSWORD);
        _cleanup_(etcd_kv_done) EtcdKv kv = {};
        int64_t rev = 0;

        ASSERT_OK(etcd_put(c, "/t/auth/k", "v", 0, &_err));
        ASSERT_OK(etcd_get(c, "/t/auth/k", &kv, &rev, &_err));
        ck_assert_str_eq(kv.value, "v");
        ck_assert_int_eq(etcd_put_if_version(c, "/t/auth/k", "w", 1, 0, NULL), 1);
        ASSERT_OK(etcd_watch(c, "/t/auth/k", false, rev, 30 * USEC_PER_SEC, NULL, &_err));
        ASSERT_OK(etcd_watch(c, "/t/auth/", true, 0, 200 * USEC_PER_MSEC, NULL, &_err));
}
END_TEST

START_TEST(test_auth_refused) {
        _cleanup_etcd_client_ EtcdClient *wrong = client_full(NULL, NULL, "root", "wrong"),
                                         *nobody = client_full(NULL, NULL, "nobody", ROOT_PASSWORD),
                                         *none = client();
        _cleanup_free_ char *err = NULL, *err2 = NULL, *err3 = NULL;

        ck_assert_int_eq(etcd_get(wrong, "/t/auth/k", NULL, NULL, &err), -EACCES);
        ck_assert_ptr_nonnull(err);
        ck_assert_ptr_null(strstr(err, "wrong"));
        ck_assert_int_eq(etcd_put(nobody, "/t/auth/k", "v", 0, NULL), -EACCES);
        /* no password at all */
        ck_assert_int_eq(etcd_get(none, "/t/auth/k", NULL, NULL, &err2), -EACCES);
        ck_assert_ptr_nonnull(err2);
        ck_assert_int_eq(etcd_watch(none, "/t/auth/k", false, 0, 30 * USEC_PER_SEC, NULL, &err3), -EACCES);
        ck_assert_ptr_nonnull(err3);
}
END_TEST

START_TEST(test_auth_token_renewed) {
        _cleanup_etcd_client_ EtcdClient *c = client_full(NULL, NULL, "root", ROOT_PASSWORD);
        int64_t rev;

        ASSERT_OK(etcd_put(c, "/t/renew/k", "v", 0, &_err));
        rev = revision(c);
        /* turning authentication off and on drops every token: the client's is stale now */
        test_etcdctl(&server, "root:" ROOT_PASSWORD, "auth", "disable", NULL);
        test_etcdctl(&server, NULL, "auth", "enable", NULL);
        ASSERT_OK(etcd_put(c, "/t/renew/k", "w", 0, &_err));

        test_etcdctl(&server, "root:" ROOT_PASSWORD, "auth", "disable", NULL);
        test_etcdctl(&server, NULL, "auth", "enable", NULL);
        ASSERT_OK(etcd_watch(c, "/t/renew/k", false, rev, 30 * USEC_PER_SEC, NULL, &_err));
}
END_TEST

START_TEST(test_auth_enabled_later) {
        _cleanup_etcd_client_ EtcdClient *c = NULL;

        /* authentication off when the client first came: it works without a token */
        test_etcdctl(&server, "root:" ROOT_PASSWORD, "auth", "disable", NULL);
        c = client_full(NULL, NULL, "root", ROOT_PASSWORD);
        ASSERT_OK(etcd_put(c, "/t/later/k", "v", 0, &_err));
        /* and on again: it fetches one */
        test_etcdctl(&server, NULL, "auth", "enable", NULL);
        ASSERT_OK(etcd_put(c, "/t/later/k", "w", 0, &_err));
        ck_assert_int_eq(etcd_put_if_version(c, "/t/later/k", "x", 2, 0, NULL), 1);
}
END_TEST

/* ---- TLS with client certificates ---- */

static void tls_server_start(void) {
        test_etcd_start_tls(&server);
}

static EtcdClient *tls_client(const char *ca, const char *certificate, const char *key) {
        char *endpoints[] = { server.url, NULL };
        EtcdClient *c = NULL;

        ck_assert_int_eq(
                etcd_client_new(
                        &(EtcdOptions){ .endpoints = endpoints,
                                        .ca = ca,
                                        .certificate = certificate,
                                        .key = key,
                                        .timeout = 10 * USEC_PER_SEC },
                        &c,
                        NULL),
                0);
        return c;
}

START_TEST(test_tls) {
        _cleanup_etcd_client_ EtcdClient *c = tls_client(server.ca, server.certificate, server.key),
                                         *no_certificate = tls_client(server.ca, NULL, NULL),
                                         *no_ca = tls_client(NULL, server.certificate, server.key);
        _cleanup_(etcd_kv_done) EtcdKv kv = {};
        _cleanup_free_ char *err = NULL;

        ck_assert(startswith(server.url, "https://"));
        ASSERT_OK(etcd_put(c, "/t/tls/k", "v", 0, &_err));
        ASSERT_OK(etcd_get(c, "/t/tls/k", &kv, NULL, &_err));
        ck_assert_str_eq(kv.value, "v");
        ASSERT_OK(etcd_watch(c, "/t/tls/k", false, kv.mod_revision, 30 * USEC_PER_SEC, NULL, &_err));

        /* etcd wants a client certificate of its CA; we want etcd's certificate to be of ours */
        ck_assert_int_lt(etcd_get(no_certificate, "/t/tls/k", NULL, NULL, &err), 0);
        ck_assert_ptr_nonnull(err);
        ck_assert_int_eq(etcd_get(no_ca, "/t/tls/k", NULL, NULL, NULL), -EPROTO);
}
END_TEST

static Suite *etcd_suite(void) {
        Suite *s = suite_create("etcd");
        TCase *parse = tcase_create("parse"), *kv = tcase_create("kv"), *auth = tcase_create("auth"),
              *tls = tcase_create("tls");

        tcase_add_test(parse, test_client_new_invalid);
        suite_add_tcase(s, parse);

        /* one etcd for the group, started by the runner; each test has keys of its own */
        tcase_add_unchecked_fixture(kv, server_start, server_stop);
        tcase_set_timeout(kv, 90);
        tcase_add_test(kv, test_get_absent);
        tcase_add_test(kv, test_put_get_bytes);
        tcase_add_test(kv, test_get_prefix_order);
        tcase_add_test(kv, test_put_if_version);
        tcase_add_test(kv, test_cas_race);
        tcase_add_test(kv, test_delete);
        tcase_add_test(kv, test_leases);
        tcase_add_test(kv, test_watch_woken);
        tcase_add_test(kv, test_watch_waiting);
        tcase_add_test(kv, test_watch_timeout);
        tcase_add_test(kv, test_watch_compacted);
        tcase_add_test(kv, test_failover);
        tcase_add_test(kv, test_failover_hanging);
        tcase_add_test(kv, test_user_without_auth);
        suite_add_tcase(s, kv);

        tcase_add_unchecked_fixture(auth, auth_server_start, server_stop);
        tcase_set_timeout(auth, 90);
        tcase_add_test(auth, test_auth);
        tcase_add_test(auth, test_auth_refused);
        tcase_add_test(auth, test_auth_token_renewed);
        tcase_add_test(auth, test_auth_enabled_later);
        suite_add_tcase(s, auth);

        tcase_add_unchecked_fixture(tls, tls_server_start, server_stop);
        tcase_set_timeout(tls, 90);
        tcase_add_test(tls, test_tls);
        suite_add_tcase(s, tls);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(etcd_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        /* Check skips an unchecked teardown when its setup failed half-way: never leave an etcd */
        test_etcd_stop(&server);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
