/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cluster-store.c: the cluster's documents in etcd, changed by compare-and-swap */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cluster-store.h"
#include "errmsg.h"
#include "json-util.h"
#include "paths.h"
#include "strv.h"
#include "time-util.h"
#include "trust.h"

int cluster_store_host_id(const Config *c, char **ret, char **ret_error) {
        char *id;
        int r;

        if (c->cluster_host_id) {
                id = strdup(c->cluster_host_id);
                if (!id)
                        return -ENOMEM;
                *ret = id;
                return 0;
        }
        r = cluster_default_host_id(&id);
        if (r < 0)
                return errmsg_set(
                        ret_error,
                        r,
                        "Cannot make the default host id from /etc/machine-id (%s): set [Cluster] HostId=",
                        strerror(-r));
        *ret = id;
        return 0;
}

/* the path of credential name, which must be root's (and, with TRUST_PRIVATE, mode 0600) */
static int credential_path(
        const char *what, const char *name, TrustFlags flags, char **ret, char **ret_error) {
        _cleanup_free_ char *path = paths_credential(name), *why = NULL;
        int r;

        if (!path)
                return -ENOMEM;
        r = trust_check_root_file(path, flags, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return errmsg_set(
                        ret_error, r, "Refusing the etcd %s %s: %s", what, path, why ?: strerror(-r));
        *ret = TAKE_PTR(path);
        return 0;
}

ClusterStore *cluster_store_free(ClusterStore *s) {
        if (!s)
                return NULL;
        etcd_client_free(s->etcd);
        free(s->cluster);
        free(s->host_id);
        free(s->endpoints);
        free(s);
        return NULL;
}

static char *join_endpoints(char *const *l) {
        size_t size = 0;
        char *s = NULL;
        FILE *f = open_memstream(&s, &size);

        if (!f)
                return NULL;
        for (size_t i = 0; l && l[i]; i++)
                fprintf(f, "%s%s", i > 0 ? ", " : "", l[i]);
        if (fclose(f) != 0) {
                free(s);
                return NULL;
        }
        return s;
}

int cluster_store_open(const Config *c, ClusterStore **ret, char **ret_error) {
        _cleanup_cluster_store_ ClusterStore *s = NULL;
        _cleanup_erase_free_ char *password = NULL;
        _cleanup_free_ char *ca = NULL, *certificate = NULL, *key = NULL, *why = NULL, *error = NULL;
        int r;

        if (!config_cluster_enabled(c) || !c->cluster_etcd)
                return errmsg_set(
                        ret_error, -EINVAL, "This host is in no cluster ([Cluster] Name= is unset)");

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->max_tries = 20;
        s->cluster = strdup(c->cluster_name);
        s->endpoints = join_endpoints(c->cluster_etcd);
        if (!s->cluster || !s->endpoints)
                return -ENOMEM;
        r = cluster_store_host_id(c, &s->host_id, ret_error);
        if (r < 0)
                return r;

        if (c->cluster_user) {
                r = trust_read_credential(c->cluster_password_credential, &password, &why);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        _cleanup_free_ char *path = paths_credential(c->cluster_password_credential);
                        return errmsg_set(
                                ret_error,
                                r,
                                "Failed to read the etcd password %s (it must exist, be owned by root and "
                                "have mode 0600): %s",
                                strempty(path),
                                why ?: strerror(-r));
                }
        }
        if (c->cluster_etcd_ca) {
                r = credential_path("CA", c->cluster_etcd_ca, 0, &ca, ret_error);
                if (r < 0)
                        return r;
        }
        if (c->cluster_etcd_certificate) {
                r = credential_path("certificate", c->cluster_etcd_certificate, 0, &certificate, ret_error);
                if (r < 0)
                        return r;
        }
        if (c->cluster_etcd_key) {
                r = credential_path("key", c->cluster_etcd_key, TRUST_PRIVATE, &key, ret_error);
                if (r < 0)
                        return r;
        }

        r = etcd_client_new(
                &(EtcdOptions){ .endpoints = c->cluster_etcd,
                                .user = c->cluster_user,
                                .password = password,
                                .ca = ca,
                                .certificate = certificate,
                                .key = key },
                &s->etcd,
                &error);
        if (r < 0)
                return errmsg_set(ret_error, r, "Cannot use etcd %s: %s", s->endpoints, strempty(error));
        *ret = TAKE_PTR(s);
        return 0;
}

/* a failed request on key, for one log line naming the endpoints */
static int store_failed(
        const ClusterStore *s,
        int r,
        const char *what,
        const char *key,
        const char *error,
        char **ret_error) {
        return errmsg_set(
                ret_error, r, "Failed to %s %s in etcd %s: %s", what, key, s->endpoints, strempty(error));
}

/* etcd_get() of key: -ENOENT (no *ret_error) when absent */
static int store_get(ClusterStore *s, const char *key, EtcdKv *ret, char **ret_error) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = etcd_get(s->etcd, key, ret, NULL, &error);
        if (r < 0 && r != -ENOENT)
                return store_failed(s, r, "read", key, error, ret_error);
        return r;
}

/* a few ms, so two hosts that lost the same compare do not meet again at once */
static void jitter(unsigned attempt) {
        uint32_t x = 0;

        if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != sizeof(x))
                x = (uint32_t)now_monotonic();
        sleep_until(now_monotonic() + (usec_t)(1 + x % (5 * (attempt < 10 ? attempt : 10))) * USEC_PER_MSEC);
}

int cluster_store_update(
        ClusterStore *s, const char *key, ClusterUpdateFunc f, void *userdata, char **ret_error) {
        for (unsigned attempt = 1;; attempt++) {
                _cleanup_(etcd_kv_done) EtcdKv kv = {};
                _cleanup_free_ char *value = NULL, *error = NULL;
                bool absent;
                int r, answer;

                r = store_get(s, key, &kv, ret_error);
                if (r < 0 && r != -ENOENT)
                        return r;
                absent = r == -ENOENT;

                answer = f(absent ? NULL : &kv, userdata, &value, ret_error);
                if (answer <= 0)
                        return answer;

                r = etcd_put_if_version(s->etcd, key, value, absent ? 0 : kv.version, 0, &error);
                if (r > 0)
                        return 1;
                if (r < 0 && r != -ETIMEDOUT && r != -ECONNRESET)
                        return store_failed(s, r, "write", key, error, ret_error);
                /* lost to another writer, or the outcome is unknown: read again, f decides */
                if (attempt >= s->max_tries)
                        return errmsg_set(
                                ret_error,
                                -EBUSY,
                                "Gave up writing %s after %u attempts: other hosts kept writing it first",
                                key,
                                attempt);
                jitter(attempt);
        }
}

static int key_of(ClusterStore *s, ClusterKey what, const char *id, char **ret, char **ret_error) {
        return cluster_key(s->cluster, what, id, ret, ret_error);
}

/* a document as etcd stores it: compact JSON */
static int json_value(cJSON *j, char **ret) {
        char *v;

        if (!j)
                return -ENOMEM;
        /* j is taken: it goes once printed */
        v = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        if (!v)
                return -ENOMEM;
        *ret = v;
        return 0;
}

static int roll_value(const ClusterRoll *r, char **ret) {
        cJSON *j = NULL;
        int k = cluster_roll_to_json(r, &j);

        return k < 0 ? k : json_value(j, ret);
}

static int sem_value(const ClusterSem *sem, char **ret) {
        cJSON *j = NULL;
        int k = cluster_sem_to_json(sem, &j);

        return k < 0 ? k : json_value(j, ret);
}

int cluster_store_get_roll(ClusterStore *s, ClusterRoll *ret, int64_t *ret_version, char **ret_error) {
        _cleanup_(etcd_kv_done) EtcdKv kv = {};
        _cleanup_free_ char *key = NULL, *error = NULL;
        _cleanup_(cluster_roll_done) ClusterRoll roll = {};
        int r;

        r = key_of(s, CLUSTER_KEY_ROLL, NULL, &key, ret_error);
        if (r < 0)
                return r;
        r = store_get(s, key, &kv, ret_error);
        if (r == -ENOENT)
                return errmsg_set(ret_error, r, "there is no roll in cluster %s", s->cluster);
        if (r < 0)
                return r;
        r = cluster_roll_parse(kv.value, kv.value_size, &roll, &error);
        if (r < 0)
                return errmsg_set(ret_error, r, "%s: %s", key, strempty(error));
        if (ret_version)
                *ret_version = kv.version;
        if (ret)
                *ret = roll;
        else
                cluster_roll_done(&roll);
        roll = (ClusterRoll){};
        return 0;
}

int cluster_store_get_migrator(ClusterStore *s, ClusterMigrator *ret, char **ret_error) {
        _cleanup_(etcd_kv_done) EtcdKv kv = {};
        _cleanup_free_ char *key = NULL, *error = NULL;
        int r;

        r = key_of(s, CLUSTER_KEY_MIGRATOR, NULL, &key, ret_error);
        if (r < 0)
                return r;
        r = store_get(s, key, &kv, ret_error);
        if (r == -ENOENT)
                return errmsg_set(ret_error, r, "cluster %s has no migrator", s->cluster);
        if (r < 0)
                return r;
        r = cluster_migrator_parse(kv.value, kv.value_size, ret, &error);
        if (r < 0)
                return errmsg_set(ret_error, r, "%s: %s", key, strempty(error));
        return 0;
}

/* the roll stored in kv */
static int read_roll(const EtcdKv *kv, ClusterRoll *ret, char **ret_error) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = cluster_roll_parse(kv->value, kv->value_size, ret, &error);
        if (r < 0)
                return errmsg_set(ret_error, r, "roll: %s", strempty(error));
        return 0;
}

static int roll_start_step(const EtcdKv *kv, void *userdata, char **ret_value, char **ret_error) {
        const ClusterRoll *new = userdata;
        _cleanup_(cluster_roll_done) ClusterRoll old = {};
        _cleanup_free_ char *refusal = NULL;
        int r;

        if (kv) {
                r = read_roll(kv, &old, ret_error);
                if (r < 0)
                        return r;
                if (streq(old.id, new->id))
                        return 0; /* ours landed: a retry after an unknown outcome */
        }
        r = cluster_roll_may_replace(kv ? &old : NULL, &refusal);
        if (r < 0)
                return r;
        if (r == 0)
                return errmsg_set(ret_error, -EPERM, "%s", strempty(refusal));
        r = roll_value(new, ret_value);
        return r < 0 ? r : 1;
}

int cluster_store_roll_start(ClusterStore *s, const ClusterRoll *roll, char **ret_error) {
        _cleanup_free_ char *key = NULL;
        int r;

        r = key_of(s, CLUSTER_KEY_ROLL, NULL, &key, ret_error);
        if (r < 0)
                return r;
        return cluster_store_update(s, key, roll_start_step, (void *)roll, ret_error);
}

/* one read-modify-write of the roll: a roll-wide op (ClusterRollOp) or this host's part
 * (ClusterRollHostOp, only on the roll roll_id) */
typedef struct RollStep {
        bool host_op;
        int op;
        const char *roll_id;
        const char *host;
        char *const *members;
        bool auto_revert;
        ClusterRoll result;
        const char *cluster;
} RollStep;

static int roll_transition(const RollStep *c, const ClusterRoll *old, ClusterRoll *new, char **ret_error) {
        if (!c->host_op)
                switch ((ClusterRollOp)c->op) {
                case CLUSTER_ROLL_OP_PAUSE:
                        return cluster_roll_pause(old, new, ret_error);
                case CLUSTER_ROLL_OP_RESUME:
                        return cluster_roll_resume(old, new, ret_error);
                case CLUSTER_ROLL_OP_ABORT:
                        return cluster_roll_abort(old, new, ret_error);
                case CLUSTER_ROLL_OP_COMPLETE:
                        return cluster_roll_complete(old, c->members, new, ret_error);
                default:
                        return -EINVAL;
                }
        switch ((ClusterRollHostOp)c->op) {
        case CLUSTER_ROLL_HOST_UPGRADED:
                return cluster_roll_host_upgraded(old, c->host, c->members, new, ret_error);
        case CLUSTER_ROLL_HOST_FAILED:
                /* cluster start --auto-revert keeps the choice in the roll, beside this host's own */
                return cluster_roll_host_failed(
                        old,
                        c->host,
                        c->auto_revert ||
                                cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(old->extra, "auto_revert")),
                        new,
                        ret_error);
        case CLUSTER_ROLL_HOST_REVERTED:
                return cluster_roll_host_reverted(old, c->host, new, ret_error);
        case CLUSTER_ROLL_HOST_STOPPED:
                return cluster_roll_host_stopped(old, c->host, new, ret_error);
        default:
                return -EINVAL;
        }
}

static int roll_step(const EtcdKv *kv, void *userdata, char **ret_value, char **ret_error) {
        RollStep *c = userdata;
        _cleanup_(cluster_roll_done) ClusterRoll old = {}, new = {};
        int r;

        if (!kv)
                return errmsg_set(ret_error, -ENOENT, "there is no roll in cluster %s", c->cluster);
        r = read_roll(kv, &old, ret_error);
        if (r < 0)
                return r;
        if (c->host_op && !streq(old.id, c->roll_id))
                return errmsg_set(
                        ret_error,
                        -ESTALE,
                        "the roll in cluster %s is %s (to %s), no longer %s",
                        c->cluster,
                        old.id,
                        old.to,
                        c->roll_id);
        r = roll_transition(c, &old, &new, ret_error);
        if (r < 0)
                return r;
        if (r > 0) {
                int k = roll_value(&new, ret_value);
                if (k < 0)
                        return k;
        }
        cluster_roll_done(&c->result);
        c->result = new;
        new = (ClusterRoll){};
        return r;
}

static int roll_update(ClusterStore *s, RollStep *c, ClusterRoll *ret, char **ret_error) {
        _cleanup_free_ char *key = NULL;
        int r;

        c->cluster = s->cluster;
        r = key_of(s, CLUSTER_KEY_ROLL, NULL, &key, ret_error);
        if (r < 0)
                return r;
        r = cluster_store_update(s, key, roll_step, c, ret_error);
        if (r >= 0 && ret)
                *ret = c->result;
        else
                cluster_roll_done(&c->result);
        return r;
}

int cluster_store_roll_change(
        ClusterStore *s, ClusterRollOp op, char *const *members, ClusterRoll *ret, char **ret_error) {
        RollStep c = { .op = op, .members = members };

        assert(op >= 0 && op < _CLUSTER_ROLL_OP_MAX);
        return roll_update(s, &c, ret, ret_error);
}

int cluster_store_roll_host(
        ClusterStore *s,
        ClusterRollHostOp op,
        const char *roll_id,
        char *const *members,
        bool auto_revert,
        ClusterRoll *ret,
        char **ret_error) {
        RollStep c = { .host_op = true,
                       .op = op,
                       .roll_id = roll_id,
                       .host = s->host_id,
                       .members = members,
                       .auto_revert = auto_revert };

        assert(op >= 0 && op < _CLUSTER_ROLL_HOST_OP_MAX);
        assert(roll_id);
        return roll_update(s, &c, ret, ret_error);
}

typedef struct MigratorClaim {
        const char *roll_id;
        const char *host;
        ClusterMigratorState state; /* _INVALID: claim */
        bool ours;
} MigratorClaim;

static int migrator_step(const EtcdKv *kv, void *userdata, char **ret_value, char **ret_error) {
        MigratorClaim *c = userdata;
        _cleanup_(cluster_migrator_done) ClusterMigrator old = {};
        _cleanup_free_ char *error = NULL;
        ClusterMigrator new;
        cJSON *j = NULL;
        int r;

        if (kv) {
                r = cluster_migrator_parse(kv->value, kv->value_size, &old, &error);
                if (r < 0)
                        return errmsg_set(ret_error, r, "migrator: %s", strempty(error));
        }
        c->ours = kv && streq(old.roll, c->roll_id) && streq(old.host, c->host);
        if (c->state == _CLUSTER_MIGRATOR_STATE_INVALID) {
                /* the first host of a roll takes the role; so does the next one after its migrator
                 * failed and rolled back */
                if (c->ours)
                        return 0;
                if (kv && streq(old.roll, c->roll_id) && old.state != CLUSTER_MIGRATOR_FAILED)
                        return 0;
                new = (ClusterMigrator){ .host = (char *)c->host,
                                         .roll = (char *)c->roll_id,
                                         .state = CLUSTER_MIGRATOR_MIGRATING,
                                         .extra = kv ? old.extra : NULL };
        } else {
                if (!c->ours || old.state == c->state)
                        return 0;
                new = old;
                new.state = c->state;
        }
        r = cluster_migrator_to_json(&new, &j);
        if (r < 0)
                return r;
        r = json_value(j, ret_value);
        if (r < 0)
                return r;
        c->ours = true;
        return 1;
}

static int migrator_change(ClusterStore *s, MigratorClaim *c, char **ret_error) {
        _cleanup_free_ char *key = NULL;
        int r;

        r = key_of(s, CLUSTER_KEY_MIGRATOR, NULL, &key, ret_error);
        if (r < 0)
                return r;
        r = cluster_store_update(s, key, migrator_step, c, ret_error);
        return r < 0 ? r : c->ours;
}

int cluster_store_migrator_claim(ClusterStore *s, const char *roll_id, char **ret_error) {
        MigratorClaim c = { .roll_id = roll_id,
                            .host = s->host_id,
                            .state = _CLUSTER_MIGRATOR_STATE_INVALID };

        return migrator_change(s, &c, ret_error);
}

int cluster_store_migrator_set(
        ClusterStore *s, const char *roll_id, ClusterMigratorState state, char **ret_error) {
        MigratorClaim c = { .roll_id = roll_id, .host = s->host_id, .state = state };

        assert(state >= 0 && state < _CLUSTER_MIGRATOR_STATE_MAX);
        return migrator_change(s, &c, ret_error);
}

/* this host's own key of kind what: j (taken) written on lease (0: none), or with j NULL deleted */
static int put_own(ClusterStore *s, ClusterKey what, cJSON *j, int64_t lease, char **ret_error) {
        _cleanup_free_ char *key = NULL, *value = NULL, *error = NULL;
        int r;

        r = key_of(s, what, s->host_id, &key, ret_error);
        if (r < 0) {
                cJSON_Delete(j);
                return r;
        }
        if (!j) {
                r = etcd_delete(s->etcd, key, &error);
                return r < 0 ? store_failed(s, r, "delete", key, error, ret_error) : 0;
        }
        r = json_value(j, &value);
        if (r < 0)
                return r;
        r = etcd_put(s->etcd, key, value, lease, &error);
        if (r < 0)
                return store_failed(s, r, "write", key, error, ret_error);
        return 0;
}

int cluster_store_heartbeat(ClusterStore *s, const ClusterHost *h, int64_t lease, char **ret_error) {
        cJSON *j = NULL;
        int r;

        if (h) {
                r = cluster_host_to_json(h, &j);
                if (r < 0)
                        return r;
        }
        return put_own(s, CLUSTER_KEY_HOST, j, lease, ret_error);
}

int cluster_store_host_heartbeat(ClusterStore *s, const char *host, ClusterHost *ret, char **ret_error) {
        _cleanup_(etcd_kv_done) EtcdKv kv = {};
        _cleanup_free_ char *key = NULL, *error = NULL;
        int r;

        r = key_of(s, CLUSTER_KEY_HOST, host, &key, ret_error);
        if (r < 0)
                return r;
        r = store_get(s, key, &kv, ret_error);
        if (r < 0)
                return r;
        r = cluster_host_parse(kv.value, kv.value_size, ret, &error);
        if (r < 0)
                return errmsg_set(ret_error, r, "%s: %s", key, strempty(error));
        return 0;
}

typedef struct SemChange {
        const char *host;
        uint64_t slots; /* 0: release */
        int verdict;
        char *holders;
} SemChange;

static int sem_step(const EtcdKv *kv, void *userdata, char **ret_value, char **ret_error) {
        SemChange *c = userdata;
        _cleanup_(cluster_sem_done) ClusterSem old = {}, new = {};
        _cleanup_free_ char *error = NULL, *holders = NULL;
        int r;

        if (kv) {
                r = cluster_sem_parse(kv->value, kv->value_size, &old, &error);
                if (r < 0)
                        return errmsg_set(ret_error, r, "sem: %s", strempty(error));
        }
        if (c->slots > 0)
                r = cluster_sem_take(kv ? &old : NULL, c->host, c->slots, &new, &holders);
        else
                r = cluster_sem_release(kv ? &old : NULL, c->host, &new);
        if (r < 0)
                return errmsg_set(ret_error, r, "Cannot change the slot of %s: %s", c->host, strerror(-r));
        c->verdict = r;
        free(c->holders);
        c->holders = TAKE_PTR(holders);
        if (r != CLUSTER_SEM_GRANTED && r != CLUSTER_SEM_RELEASED)
                return 0;
        r = sem_value(&new, ret_value);
        return r < 0 ? r : 1;
}

static int sem_change(ClusterStore *s, SemChange *c, char **ret_error) {
        _cleanup_free_ char *key = NULL;
        int r;

        if (!c->host)
                c->host = s->host_id;
        r = key_of(s, CLUSTER_KEY_SEM, NULL, &key, ret_error);
        if (r < 0)
                return r;
        r = cluster_store_update(s, key, sem_step, c, ret_error);
        return r < 0 ? r : c->verdict;
}

int cluster_store_sem_take(
        ClusterStore *s, const char *host, uint64_t slots, char **ret_holders, char **ret_error) {
        SemChange c = { .host = host, .slots = slots };
        int r;

        if (slots == 0)
                return errmsg_set(ret_error, -EINVAL, "A semaphore of 0 slots");
        r = sem_change(s, &c, ret_error);
        if (r >= 0 && ret_holders)
                *ret_holders = TAKE_PTR(c.holders);
        free(c.holders);
        return r;
}

int cluster_store_sem_release(ClusterStore *s, const char *host, char **ret_error) {
        SemChange c = { .host = host };
        int r;

        r = sem_change(s, &c, ret_error);
        free(c.holders);
        return r;
}

int cluster_store_join(ClusterStore *s, const ClusterMember *m, char **ret_error) {
        cJSON *j = NULL;
        int r;

        r = cluster_member_to_json(m, &j);
        if (r < 0)
                return r;
        return put_own(s, CLUSTER_KEY_MEMBER, j, 0, ret_error);
}

int cluster_store_leave(ClusterStore *s, char **ret_error) {
        _cleanup_free_ char *key = NULL, *error = NULL;
        int r;

        r = key_of(s, CLUSTER_KEY_MEMBER, s->host_id, &key, ret_error);
        if (r < 0)
                return r;
        r = store_get(s, key, NULL, ret_error);
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        r = etcd_delete(s->etcd, key, &error);
        if (r < 0)
                return store_failed(s, r, "delete", key, error, ret_error);
        return 1;
}

/* every hosts/ or members/ key of the cluster */
static int store_list(ClusterStore *s, ClusterKey what, EtcdKv **ret, size_t *ret_n, char **ret_error) {
        _cleanup_free_ char *prefix = NULL, *error = NULL;
        int r;

        r = key_of(s, what, NULL, &prefix, ret_error);
        if (r < 0)
                return r;
        r = etcd_get_prefix(s->etcd, prefix, ret, ret_n, NULL, &error);
        if (r < 0)
                return store_failed(s, r, "read", prefix, error, ret_error);
        return 0;
}

int cluster_store_member_ids(ClusterStore *s, char ***ret, char **ret_error) {
        _cleanup_strv_free_ char **ids = NULL;
        EtcdKv *kvs = NULL;
        size_t n = 0;
        int r;

        r = store_list(s, CLUSTER_KEY_MEMBER, &kvs, &n, ret_error);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r >= 0; i++) {
                const char *id = cluster_key_host_id(s->cluster, CLUSTER_KEY_MEMBER, kvs[i].key);
                if (id)
                        r = strv_push(&ids, id);
        }
        etcd_kvs_free(kvs, n);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(ids);
        return 0;
}

void cluster_snapshot_done(ClusterSnapshot *s) {
        if (!s)
                return;
        cluster_roll_done(&s->roll);
        cluster_sem_done(&s->sem);
        cluster_migrator_done(&s->migrator);
        for (size_t i = 0; i < s->n_hosts; i++) {
                free(s->hosts[i].id);
                cluster_member_done(&s->hosts[i].member);
                cluster_host_done(&s->hosts[i].heartbeat);
        }
        free(s->hosts);
        *s = (ClusterSnapshot){};
}

/* the entry of id in s, added when missing */
static ClusterSnapshotHost *snapshot_host(ClusterSnapshot *s, const char *id) {
        ClusterSnapshotHost *hosts;
        size_t i;

        for (i = 0; i < s->n_hosts; i++)
                if (streq(s->hosts[i].id, id))
                        return &s->hosts[i];
        hosts = reallocarray(s->hosts, s->n_hosts + 1, sizeof(*hosts));
        if (!hosts)
                return NULL;
        s->hosts = hosts;
        hosts[s->n_hosts] = (ClusterSnapshotHost){ .id = strdup(id) };
        if (!hosts[s->n_hosts].id)
                return NULL;
        return &hosts[s->n_hosts++];
}

/* one key of s (roll, sem, migrator): 1 read, 0 absent */
static int snapshot_get(ClusterStore *s, ClusterKey what, EtcdKv *ret, char **ret_key, char **ret_error) {
        _cleanup_free_ char *key = NULL;
        int r;

        r = key_of(s, what, NULL, &key, ret_error);
        if (r < 0)
                return r;
        r = store_get(s, key, ret, ret_error);
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        *ret_key = TAKE_PTR(key);
        return 1;
}

static int snapshot_list(ClusterStore *s, ClusterKey what, ClusterSnapshot *snap, char **ret_error) {
        _cleanup_free_ char *error = NULL;
        EtcdKv *kvs = NULL;
        size_t n = 0;
        int r;

        r = store_list(s, what, &kvs, &n, ret_error);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r >= 0; i++) {
                const char *id = cluster_key_host_id(s->cluster, what, kvs[i].key);
                ClusterSnapshotHost *h;

                if (!id)
                        continue; /* not ours to judge: a key below, or an invalid id */
                h = snapshot_host(snap, id);
                if (!h) {
                        r = -ENOMEM;
                        break;
                }
                if (what == CLUSTER_KEY_MEMBER) {
                        r = cluster_member_parse(kvs[i].value, kvs[i].value_size, &h->member, &error);
                        h->has_member = r >= 0;
                } else {
                        r = cluster_host_parse(kvs[i].value, kvs[i].value_size, &h->heartbeat, &error);
                        h->has_heartbeat = r >= 0;
                        h->lease = kvs[i].lease;
                }
                if (r < 0 && r != -ENOMEM)
                        r = errmsg_set(ret_error, r, "%s: %s", kvs[i].key, strempty(error));
        }
        etcd_kvs_free(kvs, n);
        return r < 0 ? r : 0;
}

static int host_cmp(const void *a, const void *b) {
        return strcmp(((const ClusterSnapshotHost *)a)->id, ((const ClusterSnapshotHost *)b)->id);
}

int cluster_store_snapshot(ClusterStore *s, ClusterSnapshot *ret, char **ret_error) {
        _cleanup_(cluster_snapshot_done) ClusterSnapshot snap = {};
        int r;

        for (ClusterKey what = CLUSTER_KEY_ROLL; what <= CLUSTER_KEY_MIGRATOR; what++) {
                _cleanup_(etcd_kv_done) EtcdKv kv = {};
                _cleanup_free_ char *key = NULL, *error = NULL;

                r = snapshot_get(s, what, &kv, &key, ret_error);
                if (r <= 0) {
                        if (r < 0)
                                return r;
                        continue;
                }
                if (what == CLUSTER_KEY_ROLL) {
                        r = cluster_roll_parse(kv.value, kv.value_size, &snap.roll, &error);
                        snap.has_roll = r >= 0;
                } else if (what == CLUSTER_KEY_SEM) {
                        r = cluster_sem_parse(kv.value, kv.value_size, &snap.sem, &error);
                        snap.has_sem = r >= 0;
                } else {
                        r = cluster_migrator_parse(kv.value, kv.value_size, &snap.migrator, &error);
                        snap.has_migrator = r >= 0;
                }
                if (r < 0)
                        return errmsg_set(ret_error, r, "%s: %s", key, strempty(error));
        }
        r = snapshot_list(s, CLUSTER_KEY_MEMBER, &snap, ret_error);
        if (r < 0)
                return r;
        r = snapshot_list(s, CLUSTER_KEY_HOST, &snap, ret_error);
        if (r < 0)
                return r;
        if (snap.n_hosts > 1)
                qsort(snap.hosts, snap.n_hosts, sizeof(*snap.hosts), host_cmp);
        *ret = snap;
        snap = (ClusterSnapshot){};
        return 0;
}

int cluster_snapshot_member_ids(const ClusterSnapshot *s, char ***ret) {
        _cleanup_strv_free_ char **ids = NULL;

        for (size_t i = 0; i < s->n_hosts; i++)
                if (s->hosts[i].has_member && strv_push(&ids, s->hosts[i].id) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(ids);
        return 0;
}

int cluster_store_revision(ClusterStore *s, int64_t *ret, char **ret_error) {
        _cleanup_free_ char *key = NULL, *error = NULL;
        EtcdKv *kvs = NULL;
        size_t n = 0;
        int r;

        r = key_of(s, CLUSTER_KEY_ROLL, NULL, &key, ret_error);
        if (r < 0)
                return r;
        r = etcd_get_prefix(s->etcd, key, &kvs, &n, ret, &error);
        etcd_kvs_free(kvs, n);
        if (r < 0)
                return store_failed(s, r, "read", key, error, ret_error);
        return 0;
}
