/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cluster-follow.c: codebolt-upgrade-cluster.service, the follower: keeps this host's members/<id> in etcd
 * and watches the cluster's roll, starting this host's upgrade unit when the roll asks for it, so that
 * `cluster start` on one host rolls every host (docs/architecture.md, "Clusters") */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"
#include "cluster-store.h"
#include "config.h"
#include "current.h"
#include "errmsg.h"
#include "helper.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "membership.h"
#include "paths.h"
#include "release.h"
#include "roll.h"
#include "state.h"
#include "strv.h"
#include "time-util.h"
#include "unitname.h"

/* the roll is read again at least this often, even when no change was seen */
#define FOLLOW_POLL_USEC (30 * USEC_PER_SEC)
/* the longest wait before etcd is asked again after a failure */
#define FOLLOW_BACKOFF_MAX_USEC (10 * USEC_PER_SEC)

/* SIGTERM/SIGINT: while the follower only waits (a watch, a backoff) nothing is half done, and it
 * exits at once; otherwise the step under way ends first. A watch of etcd may block for the whole poll
 * interval, which no flag would cut short. */
static volatile sig_atomic_t waiting = 0, cancelled = 0;

static void on_signal(int sig) {
        if (waiting)
                _exit(0);
        cancelled = 1;
}

typedef struct Follower {
        Config config;
        ClusterStore *store;
        char *roll_key;   /* /codebolt-upgrade/<cluster>/roll */
        char *state_file; /* follower.json in the deployment's state directory */
        cJSON *state;     /* its content: {roll, unit, started[, failed_seen][, revert]}; NULL: none */
        char *joined;     /* the version members/<id> was last written with; NULL: not yet */
        char *told;       /* the last decision's reason logged, so that a poll repeats nothing */
        char *completed;  /* "<roll id>:<version>" of the roll last given its chance to be done */
        bool outage;      /* etcd failed and that was logged: the next success says so */
} Follower;

static void follower_done(Follower *f) {
        config_done(&f->config);
        cluster_store_free(f->store);
        free(f->roll_key);
        free(f->state_file);
        cJSON_Delete(f->state);
        free(f->joined);
        free(f->told);
        free(f->completed);
}

/* ---- follower.json: the roll the follower last started this host's unit for ---- */

static void state_load(Follower *f) {
        int r = state_read_json(f->state_file, &f->state);

        if (r < 0 && r != -ENOENT)
                /* a damaged record only loses the guard against a second start for the same roll */
                log_warning_errno(r, "Ignoring %s: %m", f->state_file);
        if (r >= 0 && !cJSON_IsObject(f->state)) {
                log_warning("Ignoring %s: not a JSON object.", f->state_file);
                f->state = (cJSON_Delete(f->state), NULL);
        }
}

/* the roll whose unit was started and must not be started again; NULL after the host failed in that
 * roll (a `cluster resume` lets it try again) */
static const char *state_last_started(const Follower *f) {
        if (!f->state || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f->state, "failed_seen")))
                return NULL;
        return json_get_string(f->state, "roll");
}

/* replace follower.json with j (NULL: remove it), the record f->state then holds */
static int state_save(Follower *f, cJSON *j) {
        _cleanup_free_ char *path = NULL;
        int r;

        if (!j) {
                r = state_unlink(f->state_file);
                if (r < 0 && r != -ENOENT)
                        return log_error_errno(r, "Failed to remove %s: %m", f->state_file);
        } else {
                r = paths_state_file_mkdir(f->config.deployment, "follower.json", &path);
                if (r >= 0)
                        r = state_write_json_atomic(path, j, 0600);
                if (r < 0)
                        return log_error_errno(r, "Failed to write %s: %m", f->state_file);
        }
        cJSON_Delete(f->state);
        f->state = j;
        return 0;
}

/* ---- etcd ---- */

/* an etcd failure: logged once per outage, then a wait of backoff (doubled up to the maximum) */
static void outage(Follower *f, int r, const char *error, usec_t *backoff) {
        struct timespec ts;

        if (!f->outage)
                log_warning_errno(
                        r,
                        "Cannot follow cluster %s (etcd %s): %s; trying again, every %llu s at most.",
                        f->store->cluster,
                        f->store->endpoints,
                        error ?: strerror(-r),
                        (unsigned long long)(FOLLOW_BACKOFF_MAX_USEC / USEC_PER_SEC));
        f->outage = true;
        *backoff = *backoff == 0                            ? USEC_PER_SEC
                   : *backoff * 2 > FOLLOW_BACKOFF_MAX_USEC ? FOLLOW_BACKOFF_MAX_USEC
                                                            : *backoff * 2;
        ts = (struct timespec){ .tv_sec = *backoff / USEC_PER_SEC,
                                .tv_nsec = (*backoff % USEC_PER_SEC) * 1000 };
        waiting = 1;
        if (!cancelled)
                (void)nanosleep(&ts, NULL);
        waiting = 0;
}

/* members/<this host>, written again whenever the version this host runs changed */
static int join(Follower *f, const char *running, char **ret_error) {
        _cleanup_(cluster_member_done) ClusterMember m = {};
        int r;

        if (!running || streq_ptr(f->joined, running))
                return 0;
        r = membership_self(&f->config, &m);
        if (r < 0)
                return 0; /* logged; tried again at the next read */
        r = cluster_store_join(f->store, &m, ret_error);
        if (r < 0)
                return r;
        log_info(
                "Member %s of cluster %s: %s (server %s) runs %s.",
                f->store->host_id,
                f->store->cluster,
                m.hostname,
                m.server,
                m.version);
        free(f->joined);
        f->joined = TAKE_PTR(m.version);
        return 0;
}

/* a rolling roll whose members are all upgraded becomes done, even when the last host's finish could
 * not say so; once per version of the roll */
static void complete(Follower *f, const ClusterRoll *roll, int64_t version) {
        _cleanup_strv_free_ char **members = NULL;
        _cleanup_(cluster_roll_done) ClusterRoll after = {};
        _cleanup_free_ char *key = NULL, *error = NULL;
        int r;

        if (roll->state != CLUSTER_ROLL_ROLLING)
                return;
        if (asprintf(&key, "%s:%lld", roll->id, (long long)version) < 0) {
                log_oom();
                return;
        }
        if (streq_ptr(f->completed, key))
                return;
        r = cluster_store_member_ids(f->store, &members, &error);
        if (r >= 0)
                r = cluster_store_roll_change(f->store, CLUSTER_ROLL_OP_COMPLETE, members, &after, &error);
        if (r > 0) {
                log_notice(
                        "Every member of cluster %s is upgraded: roll %s to %s is done.",
                        f->store->cluster,
                        after.id,
                        after.to);
                roll_notify(&f->config, "roll-done", &after, NULL, 0);
        } else if (r < 0 && r != -ENOENT && r != -EPERM)
                log_warning_errno(
                        r, "Could not tell whether roll %s is done: %s", roll->id, strempty(error));
        free(f->completed);
        f->completed = TAKE_PTR(key);
}

/* ---- the decisions ---- */

/* StartUnit(unit, "replace") without waiting for the job: the unit's own journal tells the rest */
static int start_unit(const char *unit, char **ret_error) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = bus_open_system(&bus);
        if (r < 0)
                return errmsg_set(ret_error, r, "cannot connect to the system bus: %s", strerror(-r));
        return bus_queue_start_unit(bus, unit, ret_error);
}

/* record the start in follower.json, then start the upgrade unit to roll->to */
static int start_upgrade(Follower *f, const ClusterRoll *roll, const char *running) {
        _cleanup_free_ char *instance = NULL, *unit = NULL, *started = NULL, *error = NULL;
        _cleanup_json_ cJSON *previous = NULL;
        cJSON *j;
        int r;

        if (unitname_instance_for_version(roll->to, &instance) < 0 ||
            unitname_deployment_unit("upgrade", f->config.deployment, instance, &unit) < 0 ||
            !(started = current_timestamp()))
                return log_oom();
        j = cJSON_CreateObject();
        if (!j || !cJSON_AddStringToObject(j, "roll", roll->id) ||
            !cJSON_AddStringToObject(j, "unit", unit) || !cJSON_AddStringToObject(j, "started", started)) {
                cJSON_Delete(j);
                return log_oom();
        }
        /* written first: a crash between the two never starts the unit twice for one roll */
        previous = TAKE_PTR(f->state);
        r = state_save(f, j);
        if (r < 0) {
                cJSON_Delete(j);
                f->state = TAKE_PTR(previous);
                return r;
        }

        log_notice(
                "Roll %s to %s: starting %s (this host runs %s).", roll->id, roll->to, unit, running ?: "?");
        r = start_unit(unit, &error);
        if (r < 0) {
                log_error_errno(
                        r,
                        "Failed to start %s: %s; trying again at the roll's next change or in %llu s.",
                        unit,
                        strempty(error),
                        (unsigned long long)(FOLLOW_POLL_USEC / USEC_PER_SEC));
                /* not started: the record must not keep it from the next try */
                if (state_save(f, previous) >= 0)
                        previous = NULL;
        }
        return 0;
}

/* the roll is aborting and counts this host upgraded: start its rollback unit, once per roll (recorded
 * in follower.json first as "revert"); the rollback takes its turn through the slot */
static int start_revert(Follower *f, const ClusterRoll *roll) {
        _cleanup_free_ char *instance = NULL, *unit = NULL, *error = NULL;
        cJSON *j;
        int r;

        if (f->state && streq_ptr(json_get_string(f->state, "revert"), roll->id))
                return 0;
        if (unitname_instance_for_version(roll->to, &instance) < 0 ||
            unitname_deployment_unit("rollback", f->config.deployment, instance, &unit) < 0)
                return log_oom();
        j = f->state ? cJSON_Duplicate(f->state, true) : cJSON_CreateObject();
        if (!j || json_set_string(j, "revert", roll->id) < 0) {
                cJSON_Delete(j);
                return log_oom();
        }
        r = state_save(f, j);
        if (r < 0) {
                cJSON_Delete(j);
                return r;
        }
        log_notice("Roll %s is aborting: starting %s to revert this host's part.", roll->id, unit);
        r = start_unit(unit, &error);
        if (r < 0)
                log_error_errno(
                        r,
                        "Failed to start %s: %s; revert this host by hand: codebolt-upgrade%s%s rollback %s",
                        unit,
                        strempty(error),
                        UNITNAME_DEPLOYMENT_OPTION(f->config.deployment),
                        roll->to);
        return 0;
}

/* the host failed in the roll its unit was started for: a `cluster resume` may let it try again */
static void note_failed(Follower *f, const ClusterRoll *roll) {
        cJSON *j;

        if (!roll || !strv_contains(roll->failed, f->store->host_id) ||
            !streq_ptr(state_last_started(f), roll->id))
                return;
        j = cJSON_Duplicate(f->state, true);
        if (!j || json_set_bool(j, "failed_seen", true) < 0) {
                cJSON_Delete(j);
                log_oom();
                return;
        }
        if (state_save(f, j) < 0)
                cJSON_Delete(j);
}

/* the decision's reason, logged at priority unless it is the one logged last */
static void tell(Follower *f, int priority, const char *reason) {
        if (streq_ptr(f->told, reason))
                return;
        log_full(priority, 0, "%s.", reason);
        free(f->told);
        f->told = strdup(reason);
}

/* the host runs the roll's target already (upgraded by hand, or its finish could not say it): the roll
 * counts it as upgraded */
static int already_there(Follower *f, const ClusterRoll *roll) {
        _cleanup_strv_free_ char **members = NULL;
        _cleanup_(cluster_roll_done) ClusterRoll after = {};
        _cleanup_free_ char *error = NULL;
        int r;

        r = cluster_store_member_ids(f->store, &members, &error);
        if (r >= 0)
                r = cluster_store_roll_host(
                        f->store, CLUSTER_ROLL_HOST_UPGRADED, roll->id, members, false, &after, &error);
        if (r < 0)
                return log_warning_errno(
                        r, "Roll %s: cannot record this host as upgraded: %s", roll->id, strempty(error));
        if (r > 0) {
                log_notice(
                        "Roll %s: this host runs %s already; recorded as upgraded (the roll is %s).",
                        roll->id,
                        roll->to,
                        cluster_roll_state_to_string(after.state));
                roll_notify(&f->config, "host-upgraded", &after, f->store->host_id, 0);
                if (after.state == CLUSTER_ROLL_DONE)
                        roll_notify(&f->config, "roll-done", &after, NULL, 0);
        }
        return 0;
}

static int act(Follower *f, const ClusterRoll *roll, const char *running) {
        _cleanup_free_ char *reason = NULL;
        _cleanup_(current_done) Current current = {};
        bool in_flight;
        int r, action;

        r = current_load(f->config.deployment, &current, NULL);
        in_flight = r != -ENOENT;

        note_failed(f, roll);
        action = cluster_follow_decide(
                roll, f->store->host_id, running, in_flight, state_last_started(f), &reason);
        if (action < 0)
                return log_oom();

        switch (action) {
        case CLUSTER_FOLLOW_START_UPGRADE:
                free(f->told);
                f->told = TAKE_PTR(reason);
                return start_upgrade(f, roll, running);
        case CLUSTER_FOLLOW_ALREADY_THERE:
                tell(f, LOG_NOTICE, reason);
                return already_there(f, roll);
        case CLUSTER_FOLLOW_REVERT:
                tell(f, LOG_INFO, reason);
                return start_revert(f, roll);
        default:
                tell(f, LOG_INFO, reason);
                return 0;
        }
}

/* one read of the roll and what follows from it; *ret_revision: the store's revision before the read */
static int step(Follower *f, int64_t *ret_revision, char **ret_error) {
        _cleanup_(cluster_roll_done) ClusterRoll roll = {};
        _cleanup_free_ char *running = NULL;
        int64_t version = 0;
        bool has_roll;
        int r;

        /* the version cannot always be told (a hand-made install): the unit's preflight judges then */
        (void)release_current_version(&running);
        r = join(f, running, ret_error);
        if (r < 0)
                return r;
        r = cluster_store_revision(f->store, ret_revision, ret_error);
        if (r < 0)
                return r;
        r = cluster_store_get_roll(f->store, &roll, &version, ret_error);
        if (r < 0 && r != -ENOENT)
                return r;
        has_roll = r >= 0;
        if (f->outage) {
                log_info("etcd answers again: following cluster %s.", f->store->cluster);
                f->outage = false;
        }
        /* what an earlier finish or rollback could not tell etcd (logged while it stays pending) */
        (void)roll_retry_pending(&f->config);
        r = act(f, has_roll ? &roll : NULL, running);
        if (r < 0)
                return r;
        if (has_roll)
                complete(f, &roll, version);
        return 0;
}

static int follow(Follower *f) {
        usec_t backoff = 0;
        int r = 0;

        while (!cancelled) {
                _cleanup_free_ char *error = NULL;
                int64_t revision = 0;

                r = step(f, &revision, &error);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0) {
                        outage(f, r, error, &backoff);
                        continue;
                }
                backoff = 0;

                waiting = 1;
                r = cancelled ? 0
                              : etcd_watch(
                                        f->store->etcd,
                                        f->roll_key,
                                        false,
                                        revision + 1,
                                        FOLLOW_POLL_USEC,
                                        NULL,
                                        &error);
                waiting = 0;
                if (r < 0 && !cancelled)
                        outage(f, r, error, &backoff);
        }
        log_info("Stopped following cluster %s.", f->store->cluster);
        return 0;
}

/* where an operator sets [Cluster] for the deployment */
static char *config_file(const char *deployment) {
        _cleanup_free_ char *p = NULL;

        if (config_deployment_is_default(deployment))
                return paths_rooted("/etc/codebolt-upgrade/upgrade.conf");
        if (asprintf(&p, "/etc/codebolt-upgrade/deployments/%s.conf", deployment) < 0)
                return NULL;
        return paths_rooted(p);
}

static int run(Follower *f) {
        _cleanup_free_ char *error = NULL;
        int r;

        if (!config_cluster_enabled(&f->config)) {
                _cleanup_free_ char *file = config_file(f->config.deployment);

                if (!file)
                        return log_oom();
                log_info("Not a cluster member ([Cluster] is not set in %s): nothing to follow.", file);
                return 0;
        }
        r = cluster_store_open(&f->config, &f->store, &error);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "%s.", strempty(error));
        r = cluster_key(f->store->cluster, CLUSTER_KEY_ROLL, NULL, &f->roll_key, &error);
        if (r < 0)
                return log_error_errno(r, "%s.", strempty(error));
        f->state_file = paths_state_file(f->config.deployment, "follower.json");
        if (!f->state_file)
                return log_oom();
        state_load(f);

        log_info(
                "Following cluster %s (etcd %s) as %s.",
                f->store->cluster,
                f->store->endpoints,
                f->store->host_id);
        return follow(f);
}

int main(int argc, char *argv[]) {
        struct sigaction sa = { .sa_handler = on_signal };
        _cleanup_(follower_done) Follower f = {};
        int r;

        log_setup("codebolt-upgrade-cluster", NULL);
        if (argc > 1) {
                log_error("Usage: %s (no arguments; run by codebolt-upgrade-cluster.service)", argv[0]);
                return 2;
        }
        (void)sigaction(SIGTERM, &sa, NULL);
        (void)sigaction(SIGINT, &sa, NULL);

        if (helper_config_load(getenv("CODEBOLT_DEPLOYMENT"), &f.config, NULL) < 0)
                return 2;
        log_set_deployment(f.config.deployment);
        r = run(&f);
        return r < 0 ? 1 : 0;
}
