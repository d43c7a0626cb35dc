/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cluster.h: the cluster's keys and documents in etcd (docs/architecture.md, "Clusters"), each typed
 * with a strict reader that keeps unknown keys; the rules that change them are in cluster-rules.h.
 * Nothing here talks to etcd. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "macro.h"
#include "metadata.h"
#include "semver.h"

/* ---- names ---- */

/* a cluster name ([Cluster] Name=) and a host id ([Cluster] HostId=) both match
 * [A-Za-z0-9][A-Za-z0-9._-]{0,62}: a single etcd key component, never "." or "..", never a '/' */
#define CLUSTER_NAME_MAX 63

/* whether s is a valid cluster name; NULL is not */
bool cluster_name_is_valid(const char *s);
/* whether s is a valid host id (the same rule as a cluster name); NULL is not */
bool cluster_host_id_is_valid(const char *s);

/* the keys under /codebolt-upgrade/<cluster>/ (docs/architecture.md, "Clusters") */
typedef enum ClusterKey {
        CLUSTER_KEY_ROLL,     /* roll */
        CLUSTER_KEY_SEM,      /* sem */
        CLUSTER_KEY_MIGRATOR, /* migrator */
        CLUSTER_KEY_HOST,     /* hosts/<id>: the heartbeat */
        CLUSTER_KEY_MEMBER,   /* members/<id> */
        _CLUSTER_KEY_MAX,
} ClusterKey;

/* The etcd key of `what` in cluster: "/codebolt-upgrade/<cluster>/roll", … "/codebolt-upgrade/<cluster>/
 * hosts/<id>". id is for CLUSTER_KEY_HOST and CLUSTER_KEY_MEMBER only; with id NULL those give the prefix
 * of every such key ("/codebolt-upgrade/<cluster>/hosts/"), for etcd_get_prefix(). -EINVAL (with
 * *ret_error) for an invalid cluster name or host id, or an id given to a key that takes none. */
int cluster_key(const char *cluster, ClusterKey what, const char *id, char **ret, char **ret_error);
/* the host id at the end of a hosts/<id> or members/<id> key of cluster (as etcd_get_prefix() lists
 * them), pointing into key; NULL when key is not such a key or its id is not valid */
const char *cluster_key_host_id(const char *cluster, ClusterKey what, const char *key);

/* The default host id: the machine id hashed with our application id (sd_id128_get_machine_app_specific(),
 * so the raw machine id never leaves the host), as 32 lowercase hex digits. -errno from libsystemd (no
 * /etc/machine-id: -ENOENT, or -ENOMEDIUM when it is empty). */
int cluster_default_host_id(char **ret);

/* ---- documents ----
 *
 * Each *_from_json() is strict about the keys it knows: a missing key, or one of the wrong type or value,
 * is -EBADMSG (-ERANGE for a number out of range) with a *ret_error like
 * `roll: "state" is "paused!", expected rolling, paused, aborting, done or aborted`. Unknown keys are kept
 * in `extra` and written back after the known ones by *_to_json(), so a document a newer codebolt-upgrade
 * wrote survives a compare-and-swap by an older one. *ret is written only on success; *_done() frees what
 * a document owns (NULL and a zeroed document are fine) and leaves it zeroed. *_to_json() gives a new
 * object (-ENOMEM). *_parse() is *_from_json() of a value as etcd stores it (bytes, not NUL-terminated;
 * not JSON is -EBADMSG). */

typedef enum ClusterMode {
        CLUSTER_MODE_ROLLING,
        CLUSTER_MODE_COORDINATED,
        _CLUSTER_MODE_MAX,
        _CLUSTER_MODE_INVALID = -EINVAL,
} ClusterMode;

typedef enum ClusterRollState {
        CLUSTER_ROLL_ROLLING,
        CLUSTER_ROLL_PAUSED,
        CLUSTER_ROLL_ABORTING,
        CLUSTER_ROLL_DONE,
        CLUSTER_ROLL_ABORTED,
        _CLUSTER_ROLL_STATE_MAX,
        _CLUSTER_ROLL_STATE_INVALID = -EINVAL,
} ClusterRollState;

typedef enum ClusterMigratorState {
        CLUSTER_MIGRATOR_MIGRATING, /* the migrator took the role and is on its way */
        CLUSTER_MIGRATOR_DONE,      /* its migrations ran and its smoke test passed */
        CLUSTER_MIGRATOR_FAILED,    /* it failed and rolled back */
        _CLUSTER_MIGRATOR_STATE_MAX,
        _CLUSTER_MIGRATOR_STATE_INVALID = -EINVAL,
} ClusterMigratorState;

/* the enums' names in the documents ("rolling", "coordinated"; "rolling", "paused", …; "migrating",
 * "done", "failed"): NULL out of range; from a string: _INVALID (-EINVAL) for an unknown name or NULL */
const char *cluster_mode_to_string(ClusterMode m);
ClusterMode cluster_mode_from_string(const char *s);
const char *cluster_roll_state_to_string(ClusterRollState s);
ClusterRollState cluster_roll_state_from_string(const char *s);
const char *cluster_migrator_state_to_string(ClusterMigratorState s);
ClusterMigratorState cluster_migrator_state_from_string(const char *s);

/* roll: {id, from, to, mode, state, upgraded[], failed[], canary, started, by, stopped[]}. Every key is
 * required but canary, which may be absent or null (no canary), and stopped, absent when empty; from and to
 * are exact versions; upgraded and failed hold valid host ids (a repeated one is read once). */
typedef struct ClusterRoll {
        char *id;         /* the roll's id (cluster start makes a random one) */
        char *from, *to;  /* the versions */
        ClusterMode mode; /* rolling or coordinated */
        ClusterRollState state;
        char **upgraded; /* host ids that finished their part, in order (strv, never NULL once read) */
        char **failed;   /* host ids whose part failed (strv, never NULL once read) */
        char *canary;    /* the host to go first, or NULL */
        char *started;   /* ISO 8601 UTC */
        char *by;        /* who started it ("root@host1") */
        char **stopped;  /* coordinated: host ids whose server stopped for the roll (strv; written only
                          * when not empty, absent is none) */
        cJSON *extra;    /* members this version does not know */
} ClusterRoll;

/* free, read (from JSON, or from a value as etcd stores it) and write a ClusterRoll, as said above */
void cluster_roll_done(ClusterRoll *r);
int cluster_roll_from_json(const cJSON *j, ClusterRoll *ret, char **ret_error);
int cluster_roll_parse(const char *value, size_t size, ClusterRoll *ret, char **ret_error);
int cluster_roll_to_json(const ClusterRoll *r, cJSON **ret);
/* a deep copy (extra too); -ENOMEM */
int cluster_roll_copy(const ClusterRoll *r, ClusterRoll *ret);

/* the most slots a semaphore may have; config.c should bound [Cluster] Slots= the same */
#define CLUSTER_SLOTS_MAX 1024

/* sem: {total_slots, holders[]}, airlock's semaphore. total_slots is a whole number from 1 to
 * CLUSTER_SLOTS_MAX; holders are valid host ids, read as a set (sorted, a repeated one once), and may be
 * more than total_slots after Slots= was lowered. */
typedef struct ClusterSem {
        uint64_t total_slots;
        char **holders; /* sorted (strv; NULL: none) */
        cJSON *extra;
} ClusterSem;

/* free, read (from JSON, or from a value as etcd stores it) and write a ClusterSem, as said above */
void cluster_sem_done(ClusterSem *s);
int cluster_sem_from_json(const cJSON *j, ClusterSem *ret, char **ret_error);
int cluster_sem_parse(const char *value, size_t size, ClusterSem *ret, char **ret_error);
int cluster_sem_to_json(const ClusterSem *s, cJSON **ret);
/* a deep copy; -ENOMEM */
int cluster_sem_copy(const ClusterSem *s, ClusterSem *ret);

/* migrator: {host, roll, state}: which host runs the migrations of which roll */
typedef struct ClusterMigrator {
        char *host; /* a valid host id */
        char *roll; /* the roll's id */
        ClusterMigratorState state;
        cJSON *extra;
} ClusterMigrator;

/* free, read (from JSON, or from a value as etcd stores it) and write a ClusterMigrator, as said above */
void cluster_migrator_done(ClusterMigrator *m);
int cluster_migrator_from_json(const cJSON *j, ClusterMigrator *ret, char **ret_error);
int cluster_migrator_parse(const char *value, size_t size, ClusterMigrator *ret, char **ret_error);
int cluster_migrator_to_json(const ClusterMigrator *m, cJSON **ret);

/* hosts/<id>: {version, phase, unit, updated}, the heartbeat a working unit keeps on a lease */
typedef struct ClusterHost {
        char *version; /* the version the host runs (an exact version) */
        char *phase;   /* the unit's phase ("slot", "drain", …), or "idle"; never empty */
        char *unit;    /* the unit working ("codebolt-upgrade@1.5.0.service"); never empty */
        char *updated; /* ISO 8601 UTC of the refresh; never empty */
        cJSON *extra;
} ClusterHost;

/* free, read (from JSON, or from a value as etcd stores it) and write a ClusterHost, as said above */
void cluster_host_done(ClusterHost *h);
int cluster_host_from_json(const cJSON *j, ClusterHost *ret, char **ret_error);
int cluster_host_parse(const char *value, size_t size, ClusterHost *ret, char **ret_error);
int cluster_host_to_json(const ClusterHost *h, cJSON **ret);

/* members/<id>: {hostname, server, version}, written by cluster join and the follower */
typedef struct ClusterMember {
        char *hostname; /* the host's name, for people; never empty */
        char *server;   /* its server name at the load balancer ([LoadBalancer] Server=); never empty */
        char *version;  /* the version it runs (an exact version) */
        cJSON *extra;
} ClusterMember;

/* free, read (from JSON, or from a value as etcd stores it) and write a ClusterMember, as said above */
void cluster_member_done(ClusterMember *m);
int cluster_member_from_json(const cJSON *j, ClusterMember *ret, char **ret_error);
int cluster_member_parse(const char *value, size_t size, ClusterMember *ret, char **ret_error);
int cluster_member_to_json(const ClusterMember *m, cJSON **ret);
