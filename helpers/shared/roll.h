/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* roll.h: this host's part in a rolling cluster upgrade (docs/architecture.md, "Clusters"): the roll
 * check in preflight, the slot before the backup, the heartbeat while a phase works, the soak, and what
 * finish and the rollback record in etcd. Every function logs. Outside a cluster ([Cluster] unset) or
 * outside a roll (current.json names none) each does nothing. */
#pragma once

#include "cluster.h"
#include "config.h"
#include "current.h"
#include "helper.h"
#include "plan.h"

/* Preflight, after the gates passed: with [Cluster], the roll in etcd must go to exactly this version,
 * be rolling (its state), not yet count this host as upgraded or failed, and, in rolling mode, from → the
 * version must be allowed to roll (cluster_rolling_allowed() on the plan). 0 with *ret_roll_id (NULL
 * outside a cluster) and *ret_coordinated (the roll's mode is coordinated), or -errno after logging the
 * refusal (etcd unreachable refuses too: nothing was changed). */
int roll_preflight(Helper *h, const char *from, const Plan *plan, char **ret_roll_id, bool *ret_coordinated);

/* The backup's first step in a roll: take a slot of the cluster's semaphore, waiting with STATUS=
 * naming the holder, its phase and the time waited, within [Timeouts] Slot= (not in a coordinated roll,
 * where every member goes at once); then claim the migrator role or learn who has it. Records cluster_slot
 * (before asking) and cluster_migrator in current.json. A roll that stops being rolling meanwhile (paused,
 * aborting, replaced), or etcd unreachable, refuses the host: cluster_refused says why, the server is
 * untouched. 0, or -errno logged. */
int roll_take_slot(Helper *h);

/* The snapshot's first step in a coordinated roll (with the server stopped): record this host in the
 * roll's stopped list; then the migrator waits until every member stopped (within [Timeouts] Slot=),
 * and every other member waits until the migrator migrated and passed its smoke test. A roll that ends
 * or is replaced meanwhile (the migrator failed, an abort) records cluster_refused: nothing of this
 * host's failed. 0 (also outside a coordinated roll), or -errno logged. */
int roll_coordinate(Helper *h);

/* A late rollback (by hand or by the follower) on a member: when roll_id, the roll the upgrade being
 * rolled back was part of, is aborting and counts this host as upgraded, this rollback is the host's
 * revert: it waits for a slot as the upgrade did, then takes the server out of the load balancer. 1
 * then (the caller records cluster_roll, cluster_slot and lb_drained), 0 when it is no revert (no
 * cluster, no such roll, or a roll that does not ask for it), -errno logged (refused: nothing changed,
 * no slot held). */
int roll_revert_begin(const Config *c, const char *roll_id);

/* Start keeping this host's heartbeat hosts/<id> ({version, phase, unit, updated}, on a 30 s lease)
 * while this phase helper works: a child process refreshes it until roll_heartbeat_stop() or the
 * helper's death. Nothing outside a roll; failures are logged as warnings (the heartbeat only informs). */
void roll_heartbeat_start(Helper *h);
void roll_heartbeat_stop(void);

/* After the load balancer took the server back: [Cluster] MinHealthy= during which the server unit
 * must keep its invocation (no restart), stay active and log no new error line. 0, or -errno logged. */
int roll_soak(Helper *h);

typedef enum RollRecord {
        ROLL_RECORD_UPGRADED, /* finish: the host's part is done */
        ROLL_RECORD_FAILED,   /* the rollback: the host's part failed and was rolled back */
        ROLL_RECORD_RELEASE,  /* refused or nothing changed: only give the slot back */
        ROLL_RECORD_REVERTED, /* a late rollback reverted the host's part of an aborting roll */
        _ROLL_RECORD_MAX,
} RollRecord;

/* Tell etcd how this host's part of the roll in current ended: the roll by CAS (upgraded or failed,
 * which pauses the roll or, with AutoRevert=yes, aborts it), the migrator's state, then the slot
 * released and the heartbeat deleted (REVERTED: the host leaves upgraded; the one that empties it ends
 * the roll aborted). A late rollback records only as REVERTED (or FAILED, when held), and only when it
 * held a slot. etcd unreachable: retried for a minute, then written to cluster-pending.json for
 * roll_retry_pending() (the follower, the boot recovery, the next preflight). Returns the host's place
 * in the roll's upgraded list (1, 2, …) for ROLL_RECORD_UPGRADED when known, else 0; never fails the
 * caller: the upgrade or rollback is done either way. */
int roll_record(const Config *c, const Current *current, RollRecord what);

/* The [Notify] webhook for the roll: event (roll-started, host-upgraded, roll-paused, roll-aborting,
 * host-reverted, roll-aborted, roll-done) with the cluster, the roll's id, from, version, mode, state, how
 * many hosts are upgraded and failed, and host and place when given (NULL, 0: not). Never fails. */
void roll_notify(const Config *c, const char *event, const ClusterRoll *roll, const char *host, int place);

/* Retry what roll_record() could not tell etcd. 0 nothing pending (or done now), -errno still pending
 * (logged as a warning). */
int roll_retry_pending(const Config *c);
