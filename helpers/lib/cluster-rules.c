/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cluster-rules.c: the rules that change the cluster's documents (the semaphore, the roll, the
 * follower's decision, whether a release may roll), as pure functions over cluster.h's documents */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "cluster-rules.h"
#include "errmsg.h"
#include "json-util.h"
#include "string-util.h"
#include "strv.h"

/* ---- the semaphore ---- */

/* remove every s from l; whether one was there */
static bool strv_remove_all(char **l, const char *s) {
        char **w = l;
        bool found = false;

        STRV_FOREACH (i, l) {
                if (streq(*i, s)) {
                        free(*i);
                        found = true;
                } else
                        *w++ = *i;
        }
        if (w)
                *w = NULL;
        return found;
}

bool cluster_sem_holds(const ClusterSem *sem, const char *host) {
        return sem && strv_contains(sem->holders, host);
}

int cluster_sem_holders_string(const ClusterSem *sem, char **ret) {
        _cleanup_free_ char *s = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&s, &size);

        if (!f)
                return -ENOMEM;
        STRV_FOREACH (h, sem ? sem->holders : NULL)
                fprintf(f, "%s%s", h == sem->holders ? "" : ", ", *h);
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(s);
        return 0;
}

/* a copy of sem, or a fresh one of `slots` slots for an absent key */
static int sem_start(const ClusterSem *sem, uint64_t slots, ClusterSem *ret) {
        if (sem)
                return cluster_sem_copy(sem, ret);
        *ret = (ClusterSem){ .total_slots = slots, .holders = calloc(1, sizeof(char *)) };
        return ret->holders ? 0 : -ENOMEM;
}

int cluster_sem_take(
        const ClusterSem *sem, const char *host, uint64_t slots, ClusterSem *ret, char **ret_holders) {
        _cleanup_(cluster_sem_done) ClusterSem s = {};
        _cleanup_free_ char *holders = NULL;
        ClusterSemVerdict verdict;
        int r;

        if (!cluster_host_id_is_valid(host) || slots < 1 || slots > CLUSTER_SLOTS_MAX)
                return -EINVAL;
        r = sem_start(sem, slots, &s);
        if (r < 0)
                return r;

        if (strv_contains(s.holders, host))
                verdict = CLUSTER_SEM_HELD;
        else if (strv_length(s.holders) >= slots) {
                /* nothing is written: the holders stay, and total_slots changes with the next grant */
                verdict = CLUSTER_SEM_BUSY;
                if (ret_holders && cluster_sem_holders_string(&s, &holders) < 0)
                        return -ENOMEM;
        } else {
                verdict = CLUSTER_SEM_GRANTED;
                s.total_slots = slots;
                r = strv_push(&s.holders, host);
                if (r < 0)
                        return r;
                strv_sort(s.holders, strv_length(s.holders));
        }
        *ret = s;
        s = (ClusterSem){};
        if (ret_holders)
                *ret_holders = TAKE_PTR(holders);
        return verdict;
}

int cluster_sem_release(const ClusterSem *sem, const char *host, ClusterSem *ret) {
        _cleanup_(cluster_sem_done) ClusterSem s = {};
        ClusterSemVerdict verdict;
        int r;

        if (!cluster_host_id_is_valid(host))
                return -EINVAL;
        /* an absent key: a fresh semaphore of one slot, which nobody holds */
        r = sem_start(sem, 1, &s);
        if (r < 0)
                return r;
        verdict = strv_remove_all(s.holders, host) ? CLUSTER_SEM_RELEASED : CLUSTER_SEM_NOT_HELD;
        *ret = s;
        s = (ClusterSem){};
        return verdict;
}

/* ---- the roll ---- */

#define STATE_BIT(s) (1u << (s))

static bool roll_state_in(const ClusterRoll *r, unsigned mask) {
        return r->state >= 0 && r->state < _CLUSTER_ROLL_STATE_MAX && (mask & STATE_BIT(r->state));
}

static const char *roll_state(const ClusterRoll *r) {
        return strempty(cluster_roll_state_to_string(r->state));
}

/* the refusal of a transition: the state found and the ones it needs */
static int roll_refuse(const ClusterRoll *roll, const char *needed, char **ret_error) {
        return errmsg_set(
                ret_error,
                -EPERM,
                "the roll to %s is %s, not %s",
                strempty(roll->to),
                roll_state(roll),
                needed);
}

/* hand out the transition's result: r is written back when changed */
static int roll_finish(ClusterRoll *r, bool changed, ClusterRoll *ret) {
        *ret = *r;
        *r = (ClusterRoll){};
        return changed;
}

/* every id of members is in upgraded */
static bool roll_covers(const ClusterRoll *roll, char *const *members) {
        STRV_FOREACH (m, (char **)members)
                if (!strv_contains(roll->upgraded, *m))
                        return false;
        return true;
}

int cluster_roll_host_upgraded(
        const ClusterRoll *roll,
        const char *host,
        char *const *members,
        ClusterRoll *ret,
        char **ret_error) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {};
        bool changed = false;
        int k;

        if (!cluster_host_id_is_valid(host))
                return -EINVAL;
        if (!strv_contains(roll->upgraded, host) &&
            !roll_state_in(
                    roll,
                    STATE_BIT(CLUSTER_ROLL_ROLLING) | STATE_BIT(CLUSTER_ROLL_PAUSED) |
                            STATE_BIT(CLUSTER_ROLL_ABORTING)))
                return roll_refuse(roll, "rolling, paused or aborting", ret_error);
        k = cluster_roll_copy(roll, &r);
        if (k < 0)
                return k;
        if (!strv_contains(r.upgraded, host)) {
                k = strv_push(&r.upgraded, host);
                if (k < 0)
                        return k;
                changed = true;
        }
        if (r.state == CLUSTER_ROLL_ROLLING && roll_covers(&r, members)) {
                r.state = CLUSTER_ROLL_DONE;
                changed = true;
        }
        return roll_finish(&r, changed, ret);
}

int cluster_roll_host_failed(
        const ClusterRoll *roll, const char *host, bool auto_revert, ClusterRoll *ret, char **ret_error) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {};
        ClusterRollState next;
        bool changed = false;
        int k;

        if (!cluster_host_id_is_valid(host))
                return -EINVAL;
        if (!roll_state_in(
                    roll,
                    STATE_BIT(CLUSTER_ROLL_ROLLING) | STATE_BIT(CLUSTER_ROLL_PAUSED) |
                            STATE_BIT(CLUSTER_ROLL_ABORTING)))
                return roll_refuse(roll, "rolling, paused or aborting", ret_error);
        next = roll->state == CLUSTER_ROLL_ABORTING || auto_revert ? CLUSTER_ROLL_ABORTING
                                                                   : CLUSTER_ROLL_PAUSED;
        /* coordinated: before the migrator finished, every member goes back to the old release and
         * nothing is left to revert; after it, the shared data is migrated and the old release may not
         * run on it, so nobody reverts by itself: paused, for an operator */
        if (roll->mode == CLUSTER_MODE_COORDINATED)
                next = strv_length(roll->upgraded) == 0 ? CLUSTER_ROLL_ABORTED : CLUSTER_ROLL_PAUSED;
        k = cluster_roll_copy(roll, &r);
        if (k < 0)
                return k;
        if (!strv_contains(r.failed, host)) {
                k = strv_push(&r.failed, host);
                if (k < 0)
                        return k;
                changed = true;
        }
        if (r.state != next) {
                r.state = next;
                changed = true;
        }
        return roll_finish(&r, changed, ret);
}

int cluster_roll_host_stopped(
        const ClusterRoll *roll, const char *host, ClusterRoll *ret, char **ret_error) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {};
        int k;

        if (!cluster_host_id_is_valid(host))
                return -EINVAL;
        if (roll->mode != CLUSTER_MODE_COORDINATED)
                return errmsg_set(
                        ret_error, -EPERM, "the roll to %s is rolling, not coordinated", strempty(roll->to));
        if (!roll_state_in(roll, STATE_BIT(CLUSTER_ROLL_ROLLING)))
                return roll_refuse(roll, "rolling", ret_error);
        k = cluster_roll_copy(roll, &r);
        if (k < 0)
                return k;
        if (strv_contains(r.stopped, host))
                return roll_finish(&r, false, ret);
        k = strv_push(&r.stopped, host);
        if (k < 0)
                return k;
        return roll_finish(&r, true, ret);
}

int cluster_roll_all_stopped(const ClusterRoll *roll, char *const *members, char **ret_running) {
        _cleanup_free_ char *running = NULL;
        size_t size = 0;
        bool all = true;
        FILE *f = open_memstream(&running, &size);

        if (!f)
                return -ENOMEM;
        STRV_FOREACH (m, (char **)members)
                if (!strv_contains(roll->stopped, *m)) {
                        fprintf(f, "%s%s", all ? "" : ", ", *m);
                        all = false;
                }
        if (fclose(f) != 0)
                return -ENOMEM;
        if (ret_running)
                *ret_running = all ? NULL : TAKE_PTR(running);
        return all;
}

int cluster_roll_host_reverted(
        const ClusterRoll *roll, const char *host, ClusterRoll *ret, char **ret_error) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {};
        bool changed;
        int k;

        if (!cluster_host_id_is_valid(host))
                return -EINVAL;
        /* a retry after this host's own write emptied upgraded finds the roll aborted */
        if (roll->state == CLUSTER_ROLL_ABORTED && !strv_contains(roll->upgraded, host))
                return cluster_roll_copy(roll, ret) < 0 ? -ENOMEM : 0;
        if (roll->state != CLUSTER_ROLL_ABORTING)
                return roll_refuse(roll, "aborting", ret_error);
        k = cluster_roll_copy(roll, &r);
        if (k < 0)
                return k;
        changed = strv_remove_all(r.upgraded, host);
        if (strv_length(r.upgraded) == 0) {
                r.state = CLUSTER_ROLL_ABORTED;
                changed = true;
        }
        return roll_finish(&r, changed, ret);
}

int cluster_roll_complete(
        const ClusterRoll *roll, char *const *members, ClusterRoll *ret, char **ret_error) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {};
        bool changed = false;
        int k;

        if (!roll_state_in(roll, STATE_BIT(CLUSTER_ROLL_ROLLING) | STATE_BIT(CLUSTER_ROLL_DONE)))
                return roll_refuse(roll, "rolling", ret_error);
        k = cluster_roll_copy(roll, &r);
        if (k < 0)
                return k;
        if (r.state == CLUSTER_ROLL_ROLLING && roll_covers(&r, members)) {
                r.state = CLUSTER_ROLL_DONE;
                changed = true;
        }
        return roll_finish(&r, changed, ret);
}

/* from → to, 0 when the roll is at `to` already; refused from any other state */
static int roll_move(
        const ClusterRoll *roll,
        ClusterRollState from,
        ClusterRollState to,
        ClusterRoll *ret,
        char **ret_error) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {};
        int k;

        if (roll->state != from && roll->state != to)
                return roll_refuse(roll, cluster_roll_state_to_string(from), ret_error);
        k = cluster_roll_copy(roll, &r);
        if (k < 0)
                return k;
        if (r.state == to)
                return roll_finish(&r, false, ret);
        r.state = to;
        return roll_finish(&r, true, ret);
}

int cluster_roll_pause(const ClusterRoll *roll, ClusterRoll *ret, char **ret_error) {
        return roll_move(roll, CLUSTER_ROLL_ROLLING, CLUSTER_ROLL_PAUSED, ret, ret_error);
}

int cluster_roll_resume(const ClusterRoll *roll, ClusterRoll *ret, char **ret_error) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {};
        int k;

        k = roll_move(roll, CLUSTER_ROLL_PAUSED, CLUSTER_ROLL_ROLLING, &r, ret_error);
        if (k < 0)
                return k;
        if (k == 0)
                return roll_finish(&r, false, ret);
        /* the hosts that failed try again (a coordinated roll: every member stops again) */
        strv_free(r.failed);
        strv_free(r.stopped);
        r.failed = calloc(1, sizeof(char *));
        r.stopped = calloc(1, sizeof(char *));
        if (!r.failed || !r.stopped)
                return -ENOMEM;
        return roll_finish(&r, true, ret);
}

int cluster_roll_abort(const ClusterRoll *roll, ClusterRoll *ret, char **ret_error) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {};
        ClusterRollState next;
        int k;

        if (!roll_state_in(
                    roll,
                    STATE_BIT(CLUSTER_ROLL_ROLLING) | STATE_BIT(CLUSTER_ROLL_PAUSED) |
                            STATE_BIT(CLUSTER_ROLL_ABORTING) | STATE_BIT(CLUSTER_ROLL_ABORTED)))
                return roll_refuse(roll, "rolling, paused or aborting", ret_error);
        /* its members follow the migrator, which may be migrating the shared data right now: only the
         * migrator's own failure sends them back */
        if (roll->mode == CLUSTER_MODE_COORDINATED && roll->state == CLUSTER_ROLL_ROLLING)
                return errmsg_set(
                        ret_error,
                        -EPERM,
                        "the coordinated roll to %s is rolling, and its members follow the migrator: stop "
                        "the migrator's codebolt-upgrade@%s.service to make it fail, and every member goes "
                        "back",
                        strempty(roll->to),
                        strempty(roll->to));
        /* nothing left to revert: straight to the end */
        next = strv_length(roll->upgraded) == 0 ? CLUSTER_ROLL_ABORTED : CLUSTER_ROLL_ABORTING;
        if (roll->state == CLUSTER_ROLL_ABORTED)
                next = CLUSTER_ROLL_ABORTED;
        k = cluster_roll_copy(roll, &r);
        if (k < 0)
                return k;
        if (r.state == next)
                return roll_finish(&r, false, ret);
        r.state = next;
        return roll_finish(&r, true, ret);
}

int cluster_roll_may_start(
        const ClusterRoll *roll, const char *host, const char *version, char **ret_refusal) {
        if (!roll)
                return errmsg_set(
                        ret_refusal,
                        0,
                        "no roll is under way in the cluster: start one with codebolt-upgrade cluster start "
                        "%s",
                        version);
        if (!streq_ptr(roll->to, version))
                return errmsg_set(
                        ret_refusal,
                        0,
                        "the cluster's roll goes to %s, not %s",
                        strempty(roll->to),
                        version);
        if (strv_contains(roll->upgraded, host))
                return errmsg_set(
                        ret_refusal,
                        0,
                        "this host (%s) is upgraded already in the roll to %s",
                        host,
                        version);
        if (strv_contains(roll->failed, host))
                return errmsg_set(
                        ret_refusal,
                        0,
                        "this host (%s) failed in the roll to %s: codebolt-upgrade cluster resume lets it "
                        "try again",
                        host,
                        version);
        switch (roll->state) {
        case CLUSTER_ROLL_ROLLING:
                return 1;
        case CLUSTER_ROLL_PAUSED:
                return errmsg_set(
                        ret_refusal,
                        0,
                        "the roll to %s is paused: codebolt-upgrade cluster resume continues it",
                        version);
        case CLUSTER_ROLL_ABORTING:
                return errmsg_set(
                        ret_refusal, 0, "the roll to %s is aborting: the upgraded hosts revert", version);
        case CLUSTER_ROLL_DONE:
                return errmsg_set(ret_refusal, 0, "the roll to %s is done", version);
        default:
                return errmsg_set(ret_refusal, 0, "the roll to %s was aborted", version);
        }
}

int cluster_roll_may_replace(const ClusterRoll *roll, char **ret_refusal) {
        if (!roll || roll_state_in(roll, STATE_BIT(CLUSTER_ROLL_DONE) | STATE_BIT(CLUSTER_ROLL_ABORTED)))
                return 1;
        return errmsg_set(
                ret_refusal,
                0,
                "the roll to %s (started %s by %s) is %s: %s",
                strempty(roll->to),
                strempty(roll->started),
                strempty(roll->by),
                roll_state(roll),
                roll->state == CLUSTER_ROLL_ABORTING ? "wait until its hosts reverted"
                                                     : "abort it first with codebolt-upgrade cluster abort");
}

int cluster_roll_may_revert(const ClusterRoll *roll, const char *host, char **ret_refusal) {
        if (!roll)
                return errmsg_set(ret_refusal, 0, "no roll is under way in the cluster");
        if (roll->state != CLUSTER_ROLL_ABORTING)
                return errmsg_set(
                        ret_refusal,
                        0,
                        "the roll to %s is %s, not aborting",
                        strempty(roll->to),
                        roll_state(roll));
        if (!strv_contains(roll->upgraded, host))
                return errmsg_set(
                        ret_refusal,
                        0,
                        "this host (%s) has nothing to revert: it is not upgraded in the roll to %s",
                        host,
                        strempty(roll->to));
        return 1;
}

/* ---- the follower ---- */

static const char *const follow_action_names[_CLUSTER_FOLLOW_ACTION_MAX] = {
        [CLUSTER_FOLLOW_NOTHING] = "nothing",
        [CLUSTER_FOLLOW_START_UPGRADE] = "start-upgrade",
        [CLUSTER_FOLLOW_ALREADY_THERE] = "already-there",
        [CLUSTER_FOLLOW_REVERT] = "revert",
};

const char *cluster_follow_action_to_string(ClusterFollowAction a) {
        return a >= 0 && (size_t)a < ELEMENTSOF(follow_action_names) ? follow_action_names[a] : NULL;
}

/* action, with the reason in *ret_reason when asked for (-ENOMEM when it cannot be made) */
_printf_(3, 4) static int follow_verdict(
        char **ret_reason, ClusterFollowAction action, const char *fmt, ...) {
        char *s;

        if (!ret_reason)
                return action;
        s = STRPRINTF_ARGS(fmt);
        if (!s)
                return -ENOMEM;
        free(*ret_reason);
        *ret_reason = s;
        return action;
}

int cluster_follow_decide(
        const ClusterRoll *roll,
        const char *host,
        const char *running_version,
        bool upgrade_in_flight,
        const char *last_started_roll,
        char **ret_reason) {

        _cleanup_free_ char *refusal = NULL;
        int r;

        if (!cluster_host_id_is_valid(host))
                return -EINVAL;
        if (!roll)
                return follow_verdict(
                        ret_reason, CLUSTER_FOLLOW_NOTHING, "no roll is under way in the cluster");
        if (upgrade_in_flight)
                return follow_verdict(
                        ret_reason,
                        CLUSTER_FOLLOW_NOTHING,
                        "roll %s to %s is %s; an upgrade is in flight on this host (current.json): it goes "
                        "on first",
                        roll->id,
                        roll->to,
                        roll_state(roll));
        if (roll->state == CLUSTER_ROLL_ABORTING) {
                r = cluster_roll_may_revert(roll, host, &refusal);
                if (r < 0)
                        return r;
                if (r > 0)
                        return follow_verdict(
                                ret_reason,
                                CLUSTER_FOLLOW_REVERT,
                                "roll %s to %s is aborting and this host (%s) is upgraded in it: its part "
                                "is reverted",
                                roll->id,
                                roll->to,
                                host);
                return follow_verdict(
                        ret_reason, CLUSTER_FOLLOW_NOTHING, "roll %s: %s", roll->id, strempty(refusal));
        }
        /* paused, done, aborted, upgraded or failed here: the rule's own sentence */
        r = cluster_roll_may_start(roll, host, roll->to, &refusal);
        if (r < 0)
                return r;
        if (r == 0)
                return follow_verdict(
                        ret_reason, CLUSTER_FOLLOW_NOTHING, "roll %s: %s", roll->id, strempty(refusal));
        if (streq_ptr(running_version, roll->to))
                return follow_verdict(
                        ret_reason,
                        CLUSTER_FOLLOW_ALREADY_THERE,
                        "roll %s to %s: this host (%s) runs %s already",
                        roll->id,
                        roll->to,
                        host,
                        roll->to);
        if (streq_ptr(last_started_roll, roll->id))
                return follow_verdict(
                        ret_reason,
                        CLUSTER_FOLLOW_NOTHING,
                        "roll %s to %s: this host's upgrade was started for it already and is not "
                        "started twice (see its journal; the roll records it when it ends)",
                        roll->id,
                        roll->to);
        return follow_verdict(
                ret_reason,
                CLUSTER_FOLLOW_START_UPGRADE,
                "roll %s to %s is rolling and this host (%s) runs %s",
                roll->id,
                roll->to,
                host,
                running_version ?: "a version that cannot be told");
}

/* ---- rolling or coordinated ---- */

#define USE_COORDINATED "use codebolt-upgrade cluster start --coordinated"

/* the versions of path but the last, joined with ", " */
static char *path_between(char *const *path) {
        _cleanup_free_ char *s = NULL;
        size_t size = 0, n = strv_length(path);
        FILE *f = open_memstream(&s, &size);

        if (!f)
                return NULL;
        for (size_t i = 0; i + 1 < n; i++)
                fprintf(f, "%s%s", i == 0 ? "" : ", ", path[i]);
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(s);
}

/* the first migration that is, or may be, breaking, as a refusal; 1 when there is none */
static int migrations_allowed(const cJSON *migrations, char **ret_refusal) {
        const cJSON *m;

        cJSON_ArrayForEach (m, migrations) {
                const char *id = json_get_string(m, "id");
                const cJSON *breaking = cJSON_GetObjectItemCaseSensitive(m, "breaking");

                if (!id)
                        return errmsg_set(
                                ret_refusal,
                                0,
                                "a migration on the path has no id (counted as breaking): " USE_COORDINATED);
                if (cJSON_IsTrue(breaking))
                        return errmsg_set(ret_refusal, 0, "%s is breaking: " USE_COORDINATED, id);
                if (!cJSON_IsFalse(breaking))
                        return errmsg_set(
                                ret_refusal,
                                0,
                                "%s does not say whether it is breaking (counted as "
                                "breaking): " USE_COORDINATED,
                                id);
        }
        return 1;
}

int cluster_rolling_allowed(
        const SemVer *from,
        const Release *to,
        char *const *path,
        const cJSON *migrations,
        char **ret_refusal) {
        _cleanup_free_ char *f = NULL, *between = NULL;
        UpgradeKind kind;
        int r;

        r = semver_to_string(from, &f);
        if (r < 0)
                return r;
        kind = metadata_classify(from, &to->v);
        if (kind == UPGRADE_MAJOR)
                return errmsg_set(
                        ret_refusal, 0, "%s to %s is a major upgrade: " USE_COORDINATED, f, to->version);
        if (kind != UPGRADE_PATCH && kind != UPGRADE_MINOR)
                return errmsg_set(
                        ret_refusal, 0, "%s to %s is no upgrade: there is nothing to roll", f, to->version);
        if (strv_length(path) == 0)
                return errmsg_set(
                        ret_refusal,
                        0,
                        "no upgrade path from %s to %s is known: there is nothing to roll",
                        f,
                        to->version);
        if (strv_length(path) > 1 || !streq(path[0], to->version)) {
                between = path_between(path);
                if (!between)
                        return -ENOMEM;
                return errmsg_set(
                        ret_refusal,
                        0,
                        "the upgrade from %s to %s goes through %s: roll one step at a time, "
                        "or " USE_COORDINATED,
                        f,
                        to->version,
                        *between ? between : path[0]);
        }
        if (cJSON_IsArray(migrations) || !migrations) {
                r = migrations_allowed(migrations, ret_refusal);
                if (r <= 0)
                        return r;
        } else
                return errmsg_set(
                        ret_refusal,
                        0,
                        "the migrations on the path are no list (counted as breaking): " USE_COORDINATED);
        if (!to->rolling)
                return errmsg_set(
                        ret_refusal,
                        0,
                        "%s does not declare codebolt.rolling: " USE_COORDINATED,
                        to->version);
        return 1;
}
