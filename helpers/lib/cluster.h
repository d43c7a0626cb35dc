/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cluster.h: the cluster's documents in etcd and the rules that change them (docs/architecture.md,
 * "Clusters"), as pure functions: a document (or none) in, a new document and a verdict out. The etcd
 * glue reads a key, applies one of these, and writes the result back by compare-and-swap on the key's
 * version, retrying from the read when another host wrote first. Nothing here talks to etcd. */
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

/* ---- the semaphore ---- */

typedef enum ClusterSemVerdict {
        CLUSTER_SEM_GRANTED,  /* the host took a slot: write *ret */
        CLUSTER_SEM_HELD,     /* the host held a slot already (re-entrant): nothing to write */
        CLUSTER_SEM_BUSY,     /* every slot is held by others: nothing to write; wait and ask again */
        CLUSTER_SEM_RELEASED, /* the host let its slot go: write *ret */
        CLUSTER_SEM_NOT_HELD, /* the host held no slot: nothing to write, and no error for the caller */
} ClusterSemVerdict;

/* Take a slot for host in sem (NULL: the key is absent, a fresh semaphore). total_slots follows slots
 * ([Cluster] Slots=, 1 to CLUSTER_SLOTS_MAX) when the host takes a slot; current holders are never
 * dropped, even beyond it; a busy or re-entrant take leaves total_slots as it was. *ret: the semaphore
 * to write back (a copy of sem when nothing changed). *ret_holders (optional): on CLUSTER_SEM_BUSY the
 * holders, "h2" or "h2, h3", for STATUS= "waiting for the cluster slot: held by h2"; NULL otherwise.
 * Returns the verdict (≥ 0), -EINVAL for an invalid host id or slots, -ENOMEM. */
int cluster_sem_take(
        const ClusterSem *sem, const char *host, uint64_t slots, ClusterSem *ret, char **ret_holders);
/* Let host's slot go: CLUSTER_SEM_RELEASED, or CLUSTER_SEM_NOT_HELD (also for sem NULL). *ret as above;
 * -EINVAL for an invalid host id, -ENOMEM. */
int cluster_sem_release(const ClusterSem *sem, const char *host, ClusterSem *ret);
/* whether host holds a slot of sem (NULL: none) */
bool cluster_sem_holds(const ClusterSem *sem, const char *host);
/* the holders joined with ", " ("" for none), for status lines */
int cluster_sem_holders_string(const ClusterSem *sem, char **ret);

/* ---- the roll ----
 *
 * Each transition reads roll and gives the roll to write back in *ret (a copy of roll when nothing
 * changed). It returns 1 when *ret must be written (compare-and-swap on the version read), 0 when the roll
 * already says it (nothing to write: a retry after another host wrote first lands here), -EPERM with a
 * sentence in *ret_error naming the state found and the one needed ("the roll is done, not rolling or
 * paused") when the roll's state refuses it, -EINVAL for an invalid host id, -ENOMEM. */

/* Host finished its part: append it to upgraded once (allowed while rolling, paused or aborting: its
 * upgrade happened either way). While rolling, the host that completes the member list (every id of
 * members is in upgraded) sets done. */
int cluster_roll_host_upgraded(
        const ClusterRoll *roll, const char *host, char *const *members, ClusterRoll *ret, char **ret_error);
/* Host's part failed (and it rolled back): append it to failed once; rolling becomes paused, or aborting
 * with auto_revert ([Cluster] AutoRevert=), which also turns a paused roll to aborting; an aborting roll
 * stays aborting (a revert that failed). A coordinated roll becomes aborted while no host is upgraded
 * (every member goes back by itself), else paused whatever auto_revert says (the shared data is
 * migrated: nobody reverts without an operator). Refused when done or aborted. */
int cluster_roll_host_failed(
        const ClusterRoll *roll, const char *host, bool auto_revert, ClusterRoll *ret, char **ret_error);
/* Host stopped its server for a coordinated roll: append it to stopped once (only while rolling; a
 * rolling roll refuses). */
int cluster_roll_host_stopped(const ClusterRoll *roll, const char *host, ClusterRoll *ret, char **ret_error);
/* Is every id of members in roll's stopped? 1 yes; 0 no, with the ones that are not joined with ", " in
 * *ret_running (optional); -ENOMEM. */
int cluster_roll_all_stopped(const ClusterRoll *roll, char *const *members, char **ret_running);
/* Host reverted its part while aborting: it leaves upgraded; the host that empties it sets aborted. */
int cluster_roll_host_reverted(
        const ClusterRoll *roll, const char *host, ClusterRoll *ret, char **ret_error);
/* rolling → done when every id of members is in upgraded (the follower, or `cluster leave`, after the
 * member list shrank); 0 when some member is not upgraded yet */
int cluster_roll_complete(const ClusterRoll *roll, char *const *members, ClusterRoll *ret, char **ret_error);
/* cluster pause: rolling → paused (0 when paused already) */
int cluster_roll_pause(const ClusterRoll *roll, ClusterRoll *ret, char **ret_error);
/* cluster resume: paused → rolling; failed and stopped are emptied, so the hosts that failed try again
 * (the operator who resumes has dealt with the cause). 0 when rolling already. */
int cluster_roll_resume(const ClusterRoll *roll, ClusterRoll *ret, char **ret_error);
/* cluster abort: rolling or paused → aborting, or straight to aborted when no host is upgraded;
 * aborting → aborted once no host is left to revert (0 while some are: they revert in turn). 0 when
 * aborted already. */
int cluster_roll_abort(const ClusterRoll *roll, ClusterRoll *ret, char **ret_error);

/* May host start its part of an upgrade to version (preflight, and the follower before it starts the
 * unit)? 1 yes: roll (NULL: no roll key) goes to exactly version and is rolling, and host is neither
 * upgraded nor failed in it. 0 no, with a sentence in *ret_refusal (optional): no roll, a roll to another
 * version, paused, aborting, done, aborted, already upgraded or failed here. -ENOMEM. */
int cluster_roll_may_start(
        const ClusterRoll *roll, const char *host, const char *version, char **ret_refusal);
/* May cluster start put a new roll in place of roll (NULL: none)? 1 when there is none or it ended (done,
 * aborted); 0 with *ret_refusal (optional) naming the roll under way, its state, who started it and when,
 * and what to do. -ENOMEM. */
int cluster_roll_may_replace(const ClusterRoll *roll, char **ret_refusal);
/* May host revert its part? 1 yes: roll is aborting and host is in upgraded; 0 no, with *ret_refusal */
int cluster_roll_may_revert(const ClusterRoll *roll, const char *host, char **ret_refusal);

/* ---- the follower ---- */

/* what the follower (codebolt-upgrade-cluster.service) does about a roll it read */
typedef enum ClusterFollowAction {
        CLUSTER_FOLLOW_NOTHING, /* nothing to do here (no roll, it waits, it ended, or it is done here) */
        CLUSTER_FOLLOW_START_UPGRADE, /* start this host's upgrade unit to roll->to */
        CLUSTER_FOLLOW_ALREADY_THERE, /* the host runs roll->to already without being in upgraded */
        CLUSTER_FOLLOW_REVERT,        /* the roll is aborting and this host is upgraded: revert its part */
        _CLUSTER_FOLLOW_ACTION_MAX,
} ClusterFollowAction;

/* the action's name ("nothing", "start-upgrade", "already-there", "revert"); NULL out of range */
const char *cluster_follow_action_to_string(ClusterFollowAction a);

/* What the follower on host does about roll (NULL: no roll key). running_version is the version the
 * host runs (NULL: cannot be told, so it is not the target); upgrade_in_flight: the deployment has a
 * current.json (an upgrade, its rollback or a held one: nothing is started beside it);
 * last_started_roll: the id of the roll the follower last started this host's unit for (NULL: none), so
 * that a unit that ended without a word in the roll is not started again and again. In this order:
 * NOTHING without a roll or while an upgrade is in flight; REVERT when the roll is aborting and host is
 * in upgraded (else NOTHING); NOTHING when cluster_roll_may_start() refuses (paused, done, aborted, host
 * upgraded or failed in it); ALREADY_THERE when host runs roll->to; NOTHING when last_started_roll is
 * roll->id; else START_UPGRADE. Returns the action (≥ 0) with a one-line reason
 * for the log in *ret_reason (optional), -EINVAL for an invalid host id, -ENOMEM. */
int cluster_follow_decide(
        const ClusterRoll *roll,
        const char *host,
        const char *running_version,
        bool upgrade_in_flight,
        const char *last_started_roll,
        char **ret_reason);

/* ---- rolling or coordinated ---- */

/* Whether an upgrade from → to may be rolled host by host (docs/architecture.md, "Clusters"): to is a patch
 * or minor of from's major, one hop (path, metadata_plan_path()'s chain, is exactly { to's version }), every
 * migration on the path ([{"id", "breaking"}, …] as plan.h's Plan.migrations; one without "breaking": false
 * counts as breaking) is non-breaking, and to declares codebolt.rolling. 1 allowed; 0 refused with the first
 * rule that refuses in *ret_refusal (optional), one sentence ending in what to do ("20260501_rewrite_history
 * is breaking: use cluster start --coordinated"); -ENOMEM. */
int cluster_rolling_allowed(
        const SemVer *from,
        const Release *to,
        char *const *path,
        const cJSON *migrations,
        char **ret_refusal);
