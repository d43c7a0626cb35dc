/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cluster-store.h: the cluster's documents in etcd (cluster.h's rules applied by compare-and-swap): the
 * client a host opens from its [Cluster] section, the roll's transitions, the slot, membership, a
 * snapshot for `cluster status`. -errno with a one-line *ret_error (optional); nothing is logged. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "cluster-rules.h"
#include "config.h"
#include "etcd.h"
#include "macro.h"

typedef struct ClusterStore {
        EtcdClient *etcd;
        char *cluster;      /* [Cluster] Name= */
        char *host_id;      /* this host's id */
        char *endpoints;    /* "http://a:2379, http://b:2379", for messages */
        unsigned max_tries; /* compare-and-swap attempts before -EBUSY; 20 */
} ClusterStore;

/* This host's id: [Cluster] HostId=, else cluster_default_host_id(). -errno with *ret_error. */
int cluster_store_host_id(const Config *c, char **ret, char **ret_error);

/* A store for c's cluster (config_cluster_enabled() must hold: -EINVAL otherwise). With [Cluster] User=,
 * the password is the credential PasswordCredential= (trust_read_credential(): root's, mode 0600, else
 * -EPERM naming the file and the fix); EtcdCA=/EtcdCertificate=/EtcdKey= name credentials too (each must
 * be root's; the key mode 0600). No request is made yet. */
int cluster_store_open(const Config *c, ClusterStore **ret, char **ret_error);
ClusterStore *cluster_store_free(ClusterStore *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(ClusterStore *, cluster_store_free);
#define _cleanup_cluster_store_ _cleanup_(cluster_store_freep)

/* One step of a read-modify-write: kv is the key as read (NULL: absent). Returns 1 with *ret_value (a
 * malloc'd string) to write it, 0 when there is nothing to write (the document says it already), or
 * -errno with *ret_error (a refusal: -EPERM and the rule's sentence). */
typedef int (*ClusterUpdateFunc)(const EtcdKv *kv, void *userdata, char **ret_value, char **ret_error);

/* The one read-modify-CAS loop: read key, apply f, etcd_put_if_version() on the version read (0: absent);
 * a lost compare reads again (up to s->max_tries, with a few ms of jitter; then -EBUSY), and so does an
 * unknown outcome (-ETIMEDOUT/-ECONNRESET): f then sees what landed and says 0 when it did. Returns
 * f's last answer (1 written, 0 nothing to write) or -errno. */
int cluster_store_update(
        ClusterStore *s, const char *key, ClusterUpdateFunc f, void *userdata, char **ret_error);

/* the roll as stored: 0 (*ret, optional; *ret_version: the key's version, optional), -ENOENT when there
 * is none (with a *ret_error saying so), -EBADMSG for a broken document */
int cluster_store_get_roll(ClusterStore *s, ClusterRoll *ret, int64_t *ret_version, char **ret_error);
/* the migrator as stored: 0 with *ret, -ENOENT when there is none, -EBADMSG for a broken document */
int cluster_store_get_migrator(ClusterStore *s, ClusterMigrator *ret, char **ret_error);

/* Put roll in place, refused (-EPERM, cluster_roll_may_replace()'s sentence) while another one is under
 * way; a retry that finds roll's id in place is done. 1 written, 0 it was there already. */
int cluster_store_roll_start(ClusterStore *s, const ClusterRoll *roll, char **ret_error);

typedef enum ClusterRollOp {
        CLUSTER_ROLL_OP_PAUSE,
        CLUSTER_ROLL_OP_RESUME,
        CLUSTER_ROLL_OP_ABORT,
        CLUSTER_ROLL_OP_COMPLETE, /* rolling → done once every member is upgraded (after a leave) */
        _CLUSTER_ROLL_OP_MAX,
} ClusterRollOp;

/* cluster pause|resume|abort: cluster_roll_pause()/resume()/abort() by CAS; CLUSTER_ROLL_OP_COMPLETE:
 * cluster_roll_complete() with members (a strv; ignored by the other ops). 1 changed, 0 the roll already
 * said it (or, for COMPLETE, some member is not upgraded yet), -ENOENT no roll, -EPERM refused (the rule's
 * sentence). *ret (optional): the roll as it stands after. */
int cluster_store_roll_change(
        ClusterStore *s, ClusterRollOp op, char *const *members, ClusterRoll *ret, char **ret_error);

typedef enum ClusterRollHostOp {
        CLUSTER_ROLL_HOST_UPGRADED, /* cluster_roll_host_upgraded(): this host finished its part */
        CLUSTER_ROLL_HOST_FAILED,   /* cluster_roll_host_failed(): its part failed and was rolled back */
        CLUSTER_ROLL_HOST_REVERTED, /* cluster_roll_host_reverted(): it reverted its part while aborting */
        CLUSTER_ROLL_HOST_STOPPED,  /* cluster_roll_host_stopped(): its server stopped (coordinated) */
        _CLUSTER_ROLL_HOST_OP_MAX,
} ClusterRollHostOp;

/* This host's part in roll roll_id, by CAS: UPGRADED with members (a strv: the host that completes
 * the list sets done), FAILED with auto_revert ([Cluster] AutoRevert=, or the roll's own "auto_revert"
 * that cluster start --auto-revert keeps), REVERTED, STOPPED. -ESTALE (with the
 * sentence) when the roll in place is another one, -ENOENT when there is none, -EPERM when its state
 * refuses it. 1 changed, 0 the roll said it already; *ret (optional): the roll after. */
int cluster_store_roll_host(
        ClusterStore *s,
        ClusterRollHostOp op,
        const char *roll_id,
        char *const *members,
        bool auto_revert,
        ClusterRoll *ret,
        char **ret_error);

/* Claim the migrator role of roll_id for this host: taken when the key is absent, names another roll,
 * or names this roll with a migrator that failed. 1 this host is the migrator (also when it was
 * already), 0 another host is. */
int cluster_store_migrator_claim(ClusterStore *s, const char *roll_id, char **ret_error);
/* Set the state of this host's migrator role of roll_id: 1 it is this host's (changed or not), 0 the
 * role is not this host's (nothing written). */
int cluster_store_migrator_set(
        ClusterStore *s, const char *roll_id, ClusterMigratorState state, char **ret_error);

/* Put this host's heartbeat hosts/<id> on lease (0: none); h NULL deletes it. */
int cluster_store_heartbeat(ClusterStore *s, const ClusterHost *h, int64_t lease, char **ret_error);
/* Read host's heartbeat: -ENOENT (no *ret_error) when it has none (its lease expired). */
int cluster_store_host_heartbeat(ClusterStore *s, const char *host, ClusterHost *ret, char **ret_error);

/* Take a slot for host (NULL: this host) of a semaphore of slots: cluster_sem_take() by CAS; returns its
 * verdict (GRANTED, HELD or BUSY, with *ret_holders, optional, on BUSY). */
int cluster_store_sem_take(
        ClusterStore *s, const char *host, uint64_t slots, char **ret_holders, char **ret_error);
/* Release host's slot (NULL: this host; another's for `cluster unlock`): RELEASED or NOT_HELD. */
int cluster_store_sem_release(ClusterStore *s, const char *host, char **ret_error);

/* cluster join: put members/<this host> (unconditionally: a rejoin updates it) */
int cluster_store_join(ClusterStore *s, const ClusterMember *m, char **ret_error);
/* cluster leave: delete members/<this host> (1 deleted, 0 it was no member); the caller then gives a
 * rolling roll its chance to be done (CLUSTER_ROLL_OP_COMPLETE with cluster_store_member_ids()) */
int cluster_store_leave(ClusterStore *s, char **ret_error);

/* the ids of every members/<id> key (strv; NULL when none) */
int cluster_store_member_ids(ClusterStore *s, char ***ret, char **ret_error);

typedef struct ClusterSnapshotHost {
        char *id;
        bool has_member, has_heartbeat;
        ClusterMember member;
        ClusterHost heartbeat;
        int64_t lease; /* the heartbeat's lease (0: none) */
} ClusterSnapshotHost;

/* everything `cluster status` shows, read at one revision's worth of requests */
typedef struct ClusterSnapshot {
        bool has_roll, has_sem, has_migrator;
        ClusterRoll roll;
        ClusterSem sem;
        ClusterMigrator migrator;
        ClusterSnapshotHost *hosts; /* every id with a members/ or hosts/ key, sorted by id */
        size_t n_hosts;
} ClusterSnapshot;

/* read roll, sem, migrator, members/ and hosts/ into *ret; a broken document is -EBADMSG naming its key */
int cluster_store_snapshot(ClusterStore *s, ClusterSnapshot *ret, char **ret_error);
void cluster_snapshot_done(ClusterSnapshot *s);
/* the member ids of the snapshot (strv; NULL when none) into *ret; -ENOMEM */
int cluster_snapshot_member_ids(const ClusterSnapshot *s, char ***ret);

/* The store's revision now (*ret; read with the roll key): a watch of the cluster's keys from the
 * revision after it (etcd_watch(), start_revision *ret + 1) sees every change made after this call,
 * so a reader that reads what it watches after this call misses none. -errno with *ret_error. */
int cluster_store_revision(ClusterStore *s, int64_t *ret, char **ret_error);
