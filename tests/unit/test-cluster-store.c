/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-cluster-store.c: cluster-store module against a private etcd: the compare-and-swap loop under
 * contention, the roll's transitions and refusals, the slot, membership, the snapshot, credentials */
#define _GNU_SOURCE
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster-store.h"
#include "paths.h"
#include "state.h"
#include "strv.h"
#include "test-etcd-server.h"
#include "test-util.h"

static TestEtcd server = {};

static void server_start(void) {
        test_etcd_start(&server);
}

static void server_stop(void) {
        test_etcd_stop(&server);
}

/* a store of cluster name for host id, on endpoints (NULL: the test's etcd) */
static ClusterStore *store_on(const char *name, const char *id, char **endpoints) {
        char *own[] = { server.url, NULL };
        Config c = { .cluster_name = (char *)name,
                     .cluster_etcd = endpoints ?: own,
                     .cluster_host_id = (char *)id,
                     .cluster_password_credential = (char *)"etcd-password" };
        _cleanup_free_ char *err = NULL;
        ClusterStore *s = NULL;

        ck_assert_msg(cluster_store_open(&c, &s, &err) == 0, "%s", strempty(err));
        ck_assert_str_eq(s->host_id, id);
        return s;
}

static ClusterStore *store(const char *name, const char *id) {
        return store_on(name, id, NULL);
}

#define ASSERT_OK(expr)                                                                      \
        do {                                                                                 \
                _cleanup_free_ char *_err = NULL;                                            \
                int _r = (expr);                                                             \
                ck_assert_msg(_r >= 0, "%s: %s (%s)", #expr, strerror(-_r), strempty(_err)); \
        } while (0)

static ClusterRoll new_roll(const char *id, const char *to) {
        return (ClusterRoll){ .id = (char *)id,
                              .from = (char *)"1.4.0",
                              .to = (char *)to,
                              .mode = CLUSTER_MODE_ROLLING,
                              .state = CLUSTER_ROLL_ROLLING,
                              .started = (char *)"2026-12-06T12:00:00Z",
                              .by = (char *)"h1" };
}

/* ---- the slot under contention ---- */

typedef struct Racer {
        const char *cluster, *id;
        int rounds;
        int failures;
} Racer;

static void *race(void *userdata) {
        Racer *r = userdata;
        _cleanup_cluster_store_ ClusterStore *s = store(r->cluster, r->id);

        for (int i = 0; i < r->rounds; i++) {
                _cleanup_free_ char *err = NULL;
                _cleanup_(etcd_kv_done) EtcdKv kv = {};
                _cleanup_(cluster_sem_done) ClusterSem sem = {};
                _cleanup_free_ char *key = NULL;
                int k;

                do {
                        free(err);
                        err = NULL;
                        k = cluster_store_sem_take(s, NULL, 1, NULL, &err);
                        if (k < 0) {
                                r->failures++;
                                return NULL;
                        }
                } while (k == CLUSTER_SEM_BUSY);
                /* holding it: nobody else may */
                if (cluster_key(r->cluster, CLUSTER_KEY_SEM, NULL, &key, NULL) < 0 ||
                    etcd_get(s->etcd, key, &kv, NULL, NULL) < 0 ||
                    cluster_sem_parse(kv.value, kv.value_size, &sem, NULL) < 0 ||
                    strv_length(sem.holders) != 1 || !streq(sem.holders[0], r->id))
                        r->failures++;
                if (cluster_store_sem_release(s, NULL, &err) != CLUSTER_SEM_RELEASED)
                        r->failures++;
        }
        return NULL;
}

START_TEST(test_sem_contention) {
        Racer a = { "race", "h1", 25, 0 }, b = { "race", "h2", 25, 0 };
        pthread_t ta, tb;

        ck_assert_int_eq(pthread_create(&ta, NULL, race, &a), 0);
        ck_assert_int_eq(pthread_create(&tb, NULL, race, &b), 0);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        ck_assert_int_eq(a.failures, 0);
        ck_assert_int_eq(b.failures, 0);
}
END_TEST

START_TEST(test_sem_take_release_unlock) {
        _cleanup_cluster_store_ ClusterStore *s1 = store("sem", "h1"), *s2 = store("sem", "h2");
        _cleanup_free_ char *holders = NULL, *err = NULL;

        ck_assert_int_eq(cluster_store_sem_take(s1, NULL, 1, NULL, NULL), CLUSTER_SEM_GRANTED);
        ck_assert_int_eq(cluster_store_sem_take(s1, NULL, 1, NULL, NULL), CLUSTER_SEM_HELD);
        ck_assert_int_eq(cluster_store_sem_take(s2, NULL, 1, &holders, NULL), CLUSTER_SEM_BUSY);
        ck_assert_str_eq(holders, "h1");
        /* cluster unlock h1, from h2 */
        ck_assert_int_eq(cluster_store_sem_release(s2, "h1", NULL), CLUSTER_SEM_RELEASED);
        ck_assert_int_eq(cluster_store_sem_release(s2, "h1", NULL), CLUSTER_SEM_NOT_HELD);
        ck_assert_int_eq(cluster_store_sem_take(s2, NULL, 1, NULL, NULL), CLUSTER_SEM_GRANTED);
        ck_assert_int_eq(cluster_store_sem_take(s1, NULL, 0, NULL, &err), -EINVAL);
        ck_assert_int_eq(cluster_store_sem_release(s1, "../x", &err), -EINVAL);
}
END_TEST

/* ---- the roll ---- */

START_TEST(test_roll_lifecycle) {
        _cleanup_cluster_store_ ClusterStore *s = store("roll", "h1");
        _cleanup_(cluster_roll_done) ClusterRoll got = {}, after = {};
        ClusterRoll r1 = new_roll("r1", "1.5.0"), r2 = new_roll("r2", "1.6.0");
        _cleanup_free_ char *err = NULL;
        int64_t version = 0;

        ck_assert_int_eq(cluster_store_get_roll(s, NULL, NULL, &err), -ENOENT);
        ck_assert_int_eq(cluster_store_roll_change(s, CLUSTER_ROLL_OP_PAUSE, NULL, NULL, NULL), -ENOENT);
        ck_assert_int_eq(cluster_store_roll_start(s, &r1, NULL), 1);
        /* the same roll again: it is there */
        ck_assert_int_eq(cluster_store_roll_start(s, &r1, NULL), 0);
        /* another while r1 rolls: cluster.c's sentence */
        free(err);
        err = NULL;
        ck_assert_int_eq(cluster_store_roll_start(s, &r2, &err), -EPERM);
        ck_assert_msg(
                err && strstr(err, "the roll to 1.5.0") && strstr(err, "cluster abort"),
                "%s",
                strempty(err));

        ASSERT_OK(cluster_store_get_roll(s, &got, &version, &_err));
        ck_assert_str_eq(got.to, "1.5.0");
        ck_assert_int_eq(version, 1);

        ck_assert_int_eq(cluster_store_roll_change(s, CLUSTER_ROLL_OP_PAUSE, NULL, &after, NULL), 1);
        ck_assert_int_eq(after.state, CLUSTER_ROLL_PAUSED);
        cluster_roll_done(&after);
        ck_assert_int_eq(cluster_store_roll_change(s, CLUSTER_ROLL_OP_PAUSE, NULL, NULL, NULL), 0);
        ck_assert_int_eq(cluster_store_roll_change(s, CLUSTER_ROLL_OP_RESUME, NULL, &after, NULL), 1);
        ck_assert_int_eq(after.state, CLUSTER_ROLL_ROLLING);
        cluster_roll_done(&after);
        /* nobody upgraded: straight to aborted */
        ck_assert_int_eq(cluster_store_roll_change(s, CLUSTER_ROLL_OP_ABORT, NULL, &after, NULL), 1);
        ck_assert_int_eq(after.state, CLUSTER_ROLL_ABORTED);
        /* an ended roll refuses resume with the rule's sentence, and may be replaced */
        free(err);
        err = NULL;
        ck_assert_int_eq(cluster_store_roll_change(s, CLUSTER_ROLL_OP_RESUME, NULL, NULL, &err), -EPERM);
        ck_assert_msg(err && strstr(err, "aborted"), "%s", strempty(err));
        ck_assert_int_eq(cluster_store_roll_start(s, &r2, NULL), 1);
}
END_TEST

/* ---- members and the snapshot ---- */

/* a host's part: upgraded (the last member sets done), failed (pauses), the roll id checked */
START_TEST(test_roll_host) {
        _cleanup_cluster_store_ ClusterStore *h1 = store("parts", "h1"), *h2 = store("parts", "h2");
        _cleanup_(cluster_roll_done) ClusterRoll after = {};
        _cleanup_free_ char *err = NULL;
        char *members[] = { (char *)"h1", (char *)"h2", NULL };
        ClusterRoll roll = new_roll("r1", "1.5.0");

        ck_assert_int_eq(
                cluster_store_roll_host(h1, CLUSTER_ROLL_HOST_UPGRADED, "r1", members, false, NULL, &err),
                -ENOENT);
        free(TAKE_PTR(err));
        ck_assert_int_eq(cluster_store_roll_start(h1, &roll, NULL), 1);
        ck_assert_int_eq(
                cluster_store_roll_host(h1, CLUSTER_ROLL_HOST_UPGRADED, "r0", members, false, NULL, &err),
                -ESTALE);
        ck_assert_str_eq(err, "the roll in cluster parts is r1 (to 1.5.0), no longer r0");

        ck_assert_int_eq(
                cluster_store_roll_host(h1, CLUSTER_ROLL_HOST_UPGRADED, "r1", members, false, &after, NULL),
                1);
        ck_assert_int_eq(after.state, CLUSTER_ROLL_ROLLING);
        cluster_roll_done(&after);
        /* a retry finds it said */
        ck_assert_int_eq(
                cluster_store_roll_host(h1, CLUSTER_ROLL_HOST_UPGRADED, "r1", members, false, NULL, NULL),
                0);
        ck_assert_int_eq(
                cluster_store_roll_host(h2, CLUSTER_ROLL_HOST_UPGRADED, "r1", members, false, &after, NULL),
                1);
        ck_assert_int_eq(after.state, CLUSTER_ROLL_DONE);
        ck_assert_str_eq(after.upgraded[0], "h1");
        ck_assert_str_eq(after.upgraded[1], "h2");
        cluster_roll_done(&after);

        /* the next roll: h2 fails, the roll pauses; with AutoRevert it aborts */
        roll = new_roll("r2", "1.5.1");
        ck_assert_int_eq(cluster_store_roll_start(h1, &roll, NULL), 1);
        ck_assert_int_eq(
                cluster_store_roll_host(h2, CLUSTER_ROLL_HOST_FAILED, "r2", NULL, false, &after, NULL), 1);
        ck_assert_int_eq(after.state, CLUSTER_ROLL_PAUSED);
        ck_assert_str_eq(after.failed[0], "h2");
        cluster_roll_done(&after);
        ck_assert_int_eq(
                cluster_store_roll_host(h2, CLUSTER_ROLL_HOST_FAILED, "r2", NULL, true, &after, NULL), 1);
        ck_assert_int_eq(after.state, CLUSTER_ROLL_ABORTING);
}
END_TEST

/* a coordinated roll: each member records itself stopped, once; a rolling roll refuses it */
START_TEST(test_roll_host_stopped) {
        _cleanup_cluster_store_ ClusterStore *h1 = store("coord", "h1"), *h2 = store("coord", "h2");
        _cleanup_(cluster_roll_done) ClusterRoll after = {};
        _cleanup_free_ char *err = NULL;
        char *members[] = { (char *)"h1", (char *)"h2", NULL };
        ClusterRoll roll = new_roll("r1", "2.0.0");

        ck_assert_int_eq(cluster_store_roll_start(h1, &roll, NULL), 1);
        ck_assert_int_eq(
                cluster_store_roll_host(h1, CLUSTER_ROLL_HOST_STOPPED, "r1", NULL, false, NULL, &err),
                -EPERM);
        ck_assert_str_eq(err, "the roll to 2.0.0 is rolling, not coordinated");
        (void)cluster_store_roll_change(h1, CLUSTER_ROLL_OP_ABORT, NULL, NULL, NULL);

        roll = new_roll("r2", "2.0.0");
        roll.mode = CLUSTER_MODE_COORDINATED;
        ck_assert_int_eq(cluster_store_roll_start(h1, &roll, NULL), 1);
        ck_assert_int_eq(
                cluster_store_roll_host(h2, CLUSTER_ROLL_HOST_STOPPED, "r2", NULL, false, NULL, NULL), 1);
        ck_assert_int_eq(
                cluster_store_roll_host(h2, CLUSTER_ROLL_HOST_STOPPED, "r2", NULL, false, NULL, NULL), 0);
        ck_assert_int_eq(
                cluster_store_roll_host(h1, CLUSTER_ROLL_HOST_STOPPED, "r2", NULL, false, &after, NULL), 1);
        ck_assert_int_eq(cluster_roll_all_stopped(&after, members, NULL), 1);
        cluster_roll_done(&after);
        /* the migrator fails before anyone is upgraded: aborted, every member goes back */
        ck_assert_int_eq(
                cluster_store_roll_host(h1, CLUSTER_ROLL_HOST_FAILED, "r2", NULL, false, &after, NULL), 1);
        ck_assert_int_eq(after.state, CLUSTER_ROLL_ABORTED);
}
END_TEST

/* the migrator: the first host of a roll takes it, re-entrantly; after it failed the next one does */
START_TEST(test_migrator) {
        _cleanup_cluster_store_ ClusterStore *h1 = store("mig", "h1"), *h2 = store("mig", "h2");
        _cleanup_(cluster_snapshot_done) ClusterSnapshot snap = {};

        ck_assert_int_eq(cluster_store_migrator_claim(h1, "r1", NULL), 1);
        ck_assert_int_eq(cluster_store_migrator_claim(h1, "r1", NULL), 1);
        ck_assert_int_eq(cluster_store_migrator_claim(h2, "r1", NULL), 0);
        ck_assert_int_eq(cluster_store_migrator_set(h2, "r1", CLUSTER_MIGRATOR_DONE, NULL), 0);
        ck_assert_int_eq(cluster_store_migrator_set(h1, "r1", CLUSTER_MIGRATOR_FAILED, NULL), 1);
        ck_assert_int_eq(cluster_store_migrator_claim(h2, "r1", NULL), 1);
        ck_assert_int_eq(cluster_store_migrator_claim(h1, "r1", NULL), 0);
        /* a new roll: whoever comes first */
        ck_assert_int_eq(cluster_store_migrator_claim(h1, "r2", NULL), 1);
        ASSERT_OK(cluster_store_snapshot(h1, &snap, &_err));
        ck_assert(snap.has_migrator);
        ck_assert_str_eq(snap.migrator.host, "h1");
        ck_assert_str_eq(snap.migrator.roll, "r2");
        ck_assert_int_eq(snap.migrator.state, CLUSTER_MIGRATOR_MIGRATING);
}
END_TEST

/* the migrator as stored, or none */
START_TEST(test_get_migrator) {
        _cleanup_cluster_store_ ClusterStore *h1 = store("getmig", "h1");
        _cleanup_(cluster_migrator_done) ClusterMigrator m = {};
        _cleanup_free_ char *err = NULL;

        ck_assert_int_eq(cluster_store_get_migrator(h1, &m, &err), -ENOENT);
        ck_assert_str_eq(err, "cluster getmig has no migrator");
        ck_assert_int_eq(cluster_store_migrator_claim(h1, "r1", NULL), 1);
        ck_assert_int_eq(cluster_store_migrator_set(h1, "r1", CLUSTER_MIGRATOR_DONE, NULL), 1);
        ASSERT_OK(cluster_store_get_migrator(h1, &m, &_err));
        ck_assert_str_eq(m.host, "h1");
        ck_assert_str_eq(m.roll, "r1");
        ck_assert_int_eq(m.state, CLUSTER_MIGRATOR_DONE);
}
END_TEST

/* the heartbeat on a lease: read back, deleted */
START_TEST(test_heartbeat) {
        _cleanup_cluster_store_ ClusterStore *h1 = store("beat", "h1");
        _cleanup_(cluster_host_done) ClusterHost back = {};
        ClusterHost hb = { .version = (char *)"1.4.0",
                           .phase = (char *)"backup",
                           .unit = (char *)"codebolt-upgrade@1.5.0.service",
                           .updated = (char *)"2026-12-06T12:00:00Z" };
        int64_t lease = 0;

        ck_assert_int_eq(cluster_store_host_heartbeat(h1, "h1", &back, NULL), -ENOENT);
        ASSERT_OK(etcd_lease_grant(h1->etcd, 30, &lease, &_err));
        ASSERT_OK(cluster_store_heartbeat(h1, &hb, lease, &_err));
        ASSERT_OK(cluster_store_host_heartbeat(h1, "h1", &back, &_err));
        ck_assert_str_eq(back.phase, "backup");
        ck_assert_str_eq(back.unit, "codebolt-upgrade@1.5.0.service");
        ASSERT_OK(cluster_store_heartbeat(h1, NULL, 0, &_err));
        cluster_host_done(&back);
        ck_assert_int_eq(cluster_store_host_heartbeat(h1, "h1", &back, NULL), -ENOENT);
}
END_TEST

START_TEST(test_join_leave_snapshot) {
        _cleanup_cluster_store_ ClusterStore *s1 = store("snap", "h1"), *s2 = store("snap", "h2");
        _cleanup_(cluster_snapshot_done) ClusterSnapshot snap = {};
        _cleanup_strv_free_ char **ids = NULL;
        _cleanup_free_ char *key = NULL;
        ClusterMember m1 = { .hostname = (char *)"one", .server = (char *)"s1", .version = (char *)"1.4.0" };
        ClusterMember m2 = { .hostname = (char *)"two", .server = (char *)"s2", .version = (char *)"1.4.0" };
        ClusterRoll r = new_roll("r", "1.5.0");

        ASSERT_OK(cluster_store_snapshot(s1, &snap, &_err));
        ck_assert(!snap.has_roll && !snap.has_sem && !snap.has_migrator);
        ck_assert_int_eq(snap.n_hosts, 0);
        cluster_snapshot_done(&snap);

        ASSERT_OK(cluster_store_join(s2, &m2, &_err));
        ASSERT_OK(cluster_store_join(s1, &m1, &_err));
        ASSERT_OK(cluster_store_roll_start(s1, &r, &_err));
        ck_assert_int_eq(cluster_store_sem_take(s2, NULL, 1, NULL, NULL), CLUSTER_SEM_GRANTED);
        /* a heartbeat of h2, and one of h3 that is no member */
        ck_assert_int_eq(cluster_key("snap", CLUSTER_KEY_HOST, "h2", &key, NULL), 0);
        ASSERT_OK(etcd_put(
                s1->etcd,
                key,
                "{\"version\":\"1.4.0\",\"phase\":\"drain\",\"unit\":\"u\",\"updated\":\"2026-12-06T12:00:"
                "00Z\"}",
                0,
                &_err));
        free(key);
        ck_assert_int_eq(cluster_key("snap", CLUSTER_KEY_HOST, "h3", &key, NULL), 0);
        ASSERT_OK(etcd_put(
                s1->etcd,
                key,
                "{\"version\":\"1.5.0\",\"phase\":\"idle\",\"unit\":\"u\",\"updated\":\"2026-12-06T12:00:"
                "00Z\"}",
                0,
                &_err));

        ASSERT_OK(cluster_store_snapshot(s1, &snap, &_err));
        ck_assert(snap.has_roll && snap.has_sem && !snap.has_migrator);
        ck_assert_str_eq(snap.roll.id, "r");
        ck_assert(cluster_sem_holds(&snap.sem, "h2"));
        ck_assert_int_eq(snap.n_hosts, 3);
        ck_assert_str_eq(snap.hosts[0].id, "h1");
        ck_assert(snap.hosts[0].has_member && !snap.hosts[0].has_heartbeat);
        ck_assert_str_eq(snap.hosts[0].member.hostname, "one");
        ck_assert_str_eq(snap.hosts[1].id, "h2");
        ck_assert(snap.hosts[1].has_member && snap.hosts[1].has_heartbeat);
        ck_assert_str_eq(snap.hosts[1].heartbeat.phase, "drain");
        ck_assert_str_eq(snap.hosts[2].id, "h3");
        ck_assert(!snap.hosts[2].has_member && snap.hosts[2].has_heartbeat);
        ck_assert_int_eq(cluster_snapshot_member_ids(&snap, &ids), 0);
        ck_assert_int_eq(strv_length(ids), 2);
        cluster_snapshot_done(&snap);

        ck_assert_int_eq(cluster_store_leave(s2, NULL), 1);
        ck_assert_int_eq(cluster_store_leave(s2, NULL), 0);
        ASSERT_OK(cluster_store_snapshot(s1, &snap, &_err));
        ck_assert_int_eq(snap.n_hosts, 3); /* h2 still beats */
        ck_assert(!snap.hosts[1].has_member);
}
END_TEST

/* h2 leaves while h1 is the only one upgraded: the roll is done */
START_TEST(test_leave_completes) {
        _cleanup_cluster_store_ ClusterStore *s1 = store("done", "h1"), *s2 = store("done", "h2");
        _cleanup_(cluster_roll_done) ClusterRoll after = {};
        _cleanup_strv_free_ char **ids = NULL;
        ClusterMember m = { .hostname = (char *)"x", .server = (char *)"s", .version = (char *)"1.4.0" };
        char *upgraded[] = { (char *)"h1", NULL };
        ClusterRoll r = new_roll("r", "1.5.0");

        r.upgraded = upgraded;
        ASSERT_OK(cluster_store_join(s1, &m, &_err));
        ASSERT_OK(cluster_store_join(s2, &m, &_err));
        ASSERT_OK(cluster_store_roll_start(s1, &r, &_err));
        ASSERT_OK(cluster_store_member_ids(s1, &ids, &_err));
        ck_assert_int_eq(strv_length(ids), 2);
        ck_assert_int_eq(cluster_store_roll_change(s1, CLUSTER_ROLL_OP_COMPLETE, ids, NULL, NULL), 0);
        strv_free(ids);
        ids = NULL;

        ck_assert_int_eq(cluster_store_leave(s2, NULL), 1);
        ASSERT_OK(cluster_store_member_ids(s1, &ids, &_err));
        ck_assert_int_eq(strv_length(ids), 1);
        ck_assert_int_eq(cluster_store_roll_change(s1, CLUSTER_ROLL_OP_COMPLETE, ids, &after, NULL), 1);
        ck_assert_int_eq(after.state, CLUSTER_ROLL_DONE);
}
END_TEST

START_TEST(test_revision) {
        _cleanup_cluster_store_ ClusterStore *s = store("rev", "h1");
        ClusterMember m = { .hostname = (char *)"x", .server = (char *)"s", .version = (char *)"1.4.0" };
        int64_t before = 0, after = 0, changed = 0;

        ASSERT_OK(cluster_store_revision(s, &before, &_err));
        ck_assert_int_gt(before, 0);
        ASSERT_OK(cluster_store_join(s, &m, &_err));
        ASSERT_OK(cluster_store_revision(s, &after, &_err));
        ck_assert_int_gt(after, before);
        /* a watch from the revision after the first read sees the join made since */
        ck_assert_int_eq(
                etcd_watch(
                        s->etcd,
                        "/codebolt-upgrade/rev/",
                        true,
                        before + 1,
                        5 * USEC_PER_SEC,
                        &changed,
                        NULL),
                1);
        ck_assert_int_eq(changed, after);
}
END_TEST

START_TEST(test_unreachable) {
        int fd = -1;
        _cleanup_free_ char *dead = test_etcd_dead_url(&fd), *err = NULL;
        char *endpoints[] = { dead, NULL };
        _cleanup_cluster_store_ ClusterStore *s = store_on("x", "h1", endpoints);

        ck_assert_int_lt(cluster_store_sem_take(s, NULL, 1, NULL, &err), 0);
        ck_assert_ptr_nonnull(err);
        ck_assert_msg(strstr(err, dead), "%s", err);
        close(fd);
}
END_TEST

/* ---- opening: credentials ---- */

START_TEST(test_open_credentials) {
        _cleanup_rm_rf_ char *root = strdup("/tmp/test-cluster-store-XXXXXX");
        _cleanup_free_ char *dir = NULL, *path = NULL, *err = NULL;
        char *endpoints[] = { (char *)"http://127.0.0.1:1", NULL };
        Config c = { .cluster_name = (char *)"c",
                     .cluster_etcd = endpoints,
                     .cluster_host_id = (char *)"h1",
                     .cluster_user = (char *)"root",
                     .cluster_password_credential = (char *)"etcd-password" };
        ClusterStore *s = NULL;

        ck_assert_ptr_nonnull(mkdtemp(root));
        ck_assert_int_eq(setenv("CODEBOLT_UPGRADE_ROOT", root, 1), 0);
        ck_assert_int_ge(asprintf(&dir, "%s/etc/codebolt-upgrade/credentials", root), 0);
        ck_assert_int_ge(asprintf(&path, "%s/etcd-password", dir), 0);
        ck_assert_int_eq(paths_mkdir_p(dir, 0755), 0);
        ck_assert_int_eq(state_write_atomic(path, "secret\n", 7, 0640), 0);

        ck_assert_int_eq(cluster_store_open(&c, &s, &err), -EPERM);
        ck_assert_msg(strstr(err, "etcd-password"), "%s", err);
        ck_assert_ptr_null(s);

        ck_assert_int_eq(chmod(path, 0600), 0);
        ASSERT_OK(cluster_store_open(&c, &s, &_err));
        cluster_store_free(s);
        s = NULL;

        /* a group-readable key is refused too */
        c.cluster_user = NULL;
        c.cluster_etcd_certificate = (char *)"etcd.pem";
        c.cluster_etcd_key = (char *)"etcd-password";
        ASSERT_OK(chmod(path, 0640));
        free(path);
        ck_assert_int_ge(asprintf(&path, "%s/etcd.pem", dir), 0);
        ck_assert_int_eq(state_write_atomic(path, "cert\n", 5, 0644), 0);
        free(err);
        err = NULL;
        ck_assert_int_eq(cluster_store_open(&c, &s, &err), -EPERM);
        ck_assert_msg(strstr(err, "key"), "%s", err);

        /* not in a cluster */
        c.cluster_name = NULL;
        ck_assert_int_eq(cluster_store_open(&c, &s, NULL), -EINVAL);
}
END_TEST

static Suite *cluster_store_suite(void) {
        Suite *s = suite_create("cluster-store");
        TCase *open = tcase_create("open"), *kv = tcase_create("etcd");

        tcase_add_test(open, test_open_credentials);
        suite_add_tcase(s, open);

        /* one etcd for the group; each test has a cluster of its own */
        tcase_add_unchecked_fixture(kv, server_start, server_stop);
        tcase_set_timeout(kv, 120);
        tcase_add_test(kv, test_sem_contention);
        tcase_add_test(kv, test_sem_take_release_unlock);
        tcase_add_test(kv, test_roll_lifecycle);
        tcase_add_test(kv, test_roll_host);
        tcase_add_test(kv, test_roll_host_stopped);
        tcase_add_test(kv, test_migrator);
        tcase_add_test(kv, test_get_migrator);
        tcase_add_test(kv, test_heartbeat);
        tcase_add_test(kv, test_join_leave_snapshot);
        tcase_add_test(kv, test_leave_completes);
        tcase_add_test(kv, test_unreachable);
        tcase_add_test(kv, test_revision);
        suite_add_tcase(s, kv);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(cluster_store_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        test_etcd_stop(&server);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
