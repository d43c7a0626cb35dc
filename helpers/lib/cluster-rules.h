/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cluster-rules.h: the rules that change the cluster's documents (docs/architecture.md, "Clusters"), as
 * pure functions: a document (or none) in, a new document and a verdict out. The etcd glue reads a key,
 * applies one of these, and writes the result back by compare-and-swap on the key's version, retrying
 * from the read when another host wrote first. Nothing here talks to etcd. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "cluster.h"
#include "metadata.h"
#include "semver.h"

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
 * aborted already. A coordinated roll that is rolling refuses (its members follow the migrator). */
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
