/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* roll.c: this host's part in a rolling cluster upgrade (docs/architecture.md, "Clusters") */
#define _GNU_SOURCE

#include <assert.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include "balancer.h"
#include "bus.h"
#include "cluster-store.h"
#include "cluster.h"
#include "errmsg.h"
#include "events.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "paths.h"
#include "release.h"
#include "roll.h"
#include "semver.h"
#include "state.h"
#include "strv.h"
#include "time-util.h"
#include "watchstate.h"

#define PENDING_NAME "cluster-pending.json"
/* the heartbeat's lease, and how often the keeper refreshes it */
#define HEARTBEAT_TTL_SEC 30
#define HEARTBEAT_EVERY (10 * USEC_PER_SEC)
/* how long finish and the rollback keep trying to reach etcd before they leave it to the retries */
#define RECORD_PATIENCE (60 * USEC_PER_SEC)

static const char *const record_names[_ROLL_RECORD_MAX] = {
        [ROLL_RECORD_UPGRADED] = "upgraded",
        [ROLL_RECORD_FAILED] = "failed",
        [ROLL_RECORD_RELEASE] = "release",
        [ROLL_RECORD_REVERTED] = "reverted",
};

static RollRecord record_from_string(const char *s) {
        for (RollRecord r = 0; r < _ROLL_RECORD_MAX; r++)
                if (streq_ptr(s, record_names[r]))
                        return r;
        return _ROLL_RECORD_MAX;
}

/* a few hundred ms to a second: hosts that wait for the same slot do not ask in step */
static usec_t jitter(usec_t base) {
        uint32_t x = 0;

        if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != sizeof(x))
                x = (uint32_t)now_monotonic();
        return base + (usec_t)(x % 1000) * USEC_PER_MSEC;
}

/* sleep until `until`, waking early when the helper is told to stop */
static void nap_until(usec_t until) {
        while (!helper_cancelled && now_monotonic() < until) {
                usec_t step = now_monotonic() + 200 * USEC_PER_MSEC;
                sleep_until(step < until ? step : until);
        }
}

/* ---- preflight ---- */

int roll_preflight(
        Helper *h, const char *from, const Plan *plan, char **ret_roll_id, bool *ret_coordinated) {
        _cleanup_cluster_store_ ClusterStore *s = NULL;
        _cleanup_(cluster_roll_done) ClusterRoll roll = {};
        _cleanup_(semver_done) SemVer v = {};
        _cleanup_free_ char *error = NULL, *refusal = NULL, *id = NULL;
        int r;

        *ret_roll_id = NULL;
        *ret_coordinated = false;
        if (!config_cluster_enabled(&h->config))
                return 0;

        r = roll_retry_pending(&h->config);
        if (r < 0)
                return log_error_errno(
                        r,
                        "Refusing %s: this host's part in an earlier roll is not recorded in etcd yet (see "
                        "above). Nothing was changed.",
                        h->version);
        r = cluster_store_open(&h->config, &s, &error);
        if (r < 0)
                return log_error_errno(
                        r, "Refusing %s: %s. Nothing was changed.", h->version, strempty(error));
        r = cluster_store_get_roll(s, &roll, NULL, &error);
        if (r == -ENOENT)
                return log_error_errno(
                        EPERM,
                        "Refusing %s: there is no roll in cluster %s, and a member never starts one by "
                        "itself. Nothing was changed. Start it for every member with: codebolt-upgrade "
                        "cluster start %s",
                        h->version,
                        s->cluster,
                        h->version);
        if (r < 0)
                return log_error_errno(
                        r,
                        "Refusing %s: cannot read the roll of cluster %s: %s. Nothing was changed.",
                        h->version,
                        s->cluster,
                        strempty(error));

        r = cluster_roll_may_start(&roll, s->host_id, h->version, &refusal);
        if (r < 0)
                return log_oom();
        if (r == 0)
                return log_error_errno(
                        EPERM,
                        "Refusing %s in cluster %s: %s. Nothing was changed. See: codebolt-upgrade cluster "
                        "status",
                        h->version,
                        s->cluster,
                        strempty(refusal));
        if (roll.mode == CLUSTER_MODE_COORDINATED) {
                /* the gates passed: any upgrade this host may make, breaking or not, since every member
                 * stops before the one migrator runs the migrations */
                id = strdup(roll.id);
                if (!id)
                        return log_oom();
                log_info(
                        "Cluster %s: roll %s to %s is coordinated; every member stops, one migrates "
                        "behind a snapshot, then all start %s.",
                        s->cluster,
                        roll.id,
                        roll.to,
                        roll.to);
                *ret_roll_id = TAKE_PTR(id);
                *ret_coordinated = true;
                return 0;
        }

        /* cluster start checked the same rule; the registry may have changed since */
        if (!plan->target)
                return log_error_errno(
                        ENOENT,
                        "Refusing %s: the release metadata does not describe it, so a rolling upgrade "
                        "cannot be shown safe. Nothing was changed.",
                        h->version);
        r = semver_parse(from, &v);
        if (r < 0)
                return log_error_errno(
                        r, "Refusing %s: cannot parse the running version %s: %m", h->version, from);
        free(TAKE_PTR(refusal));
        r = cluster_rolling_allowed(&v, plan->target, plan->path, plan->migrations, &refusal);
        if (r < 0)
                return log_oom();
        if (r == 0)
                return log_error_errno(
                        EPERM,
                        "Refusing %s → %s in roll %s: %s. Nothing was changed.",
                        from,
                        h->version,
                        roll.id,
                        strempty(refusal));

        id = strdup(roll.id);
        if (!id)
                return log_oom();
        log_info(
                "Cluster %s: roll %s to %s is rolling; this host (%s) takes its turn through the slot.",
                s->cluster,
                roll.id,
                roll.to,
                s->host_id);
        *ret_roll_id = TAKE_PTR(id);
        return 0;
}

/* ---- the slot ---- */

/* the roll refused this host while it waited: say why in current.json for the rollback, then log */
static int refuse(Helper *h, int error, const char *reason) {
        (void)helper_set_current_string(
                h, CURRENT_CLUSTER_REFUSED, offsetof(Current, cluster_refused), reason);
        if (h->current.server_stopped)
                return log_error_errno(
                        error, "Stopped by the cluster: %s; the old release starts again.", reason);
        return log_error_errno(error, "Refused by the cluster before the server was touched: %s.", reason);
}

/* the first holder's phase and the age of its heartbeat, for STATUS= ("phase smoke"); NULL when it
 * has none */
static char *holder_phase(ClusterStore *s, const char *holders) {
        _cleanup_(cluster_host_done) ClusterHost hb = {};
        _cleanup_free_ char *first = strndup(holders, strcspn(holders, ","));
        char *phase;

        if (!first || cluster_store_host_heartbeat(s, first, &hb, NULL) < 0)
                return NULL;
        if (asprintf(&phase, "phase %s", hb.phase) < 0)
                return NULL;
        return phase;
}

/* Wait for a slot of s's semaphore for roll roll_id while the roll still wants this host: to start its
 * upgrade to version, or (version NULL) to revert its part. STATUS= starts with what. 0 when the slot is
 * this host's; -errno with *ret_reason (the refusal, one line) otherwise; -ECANCELED when told to stop. */
static int wait_for_slot(
        ClusterStore *s,
        const Config *c,
        const char *roll_id,
        const char *version,
        const char *what,
        char **ret_reason) {
        _cleanup_free_ char *error = NULL;
        usec_t start = now_monotonic(), deadline = helper_deadline(c->timeout_slot);
        bool said = false;
        int r;

        for (;;) {
                _cleanup_(cluster_roll_done) ClusterRoll roll = {};
                _cleanup_free_ char *holders = NULL, *refusal = NULL, *phase = NULL;

                r = cluster_store_get_roll(s, &roll, NULL, &error);
                if (r < 0)
                        return asprintf(
                                       ret_reason,
                                       "cannot read the roll before taking the slot: %s",
                                       strempty(error)) < 0
                                       ? -ENOMEM
                                       : r;
                if (!streq(roll.id, roll_id))
                        return asprintf(
                                       ret_reason,
                                       "roll %s was replaced by roll %s to %s",
                                       roll_id,
                                       roll.id,
                                       roll.to) < 0
                                       ? -ENOMEM
                                       : -ESTALE;
                r = version ? cluster_roll_may_start(&roll, s->host_id, version, &refusal)
                            : cluster_roll_may_revert(&roll, s->host_id, &refusal);
                if (r < 0)
                        return r;
                if (r == 0) {
                        *ret_reason = TAKE_PTR(refusal);
                        return -EPERM;
                }

                r = cluster_store_sem_take(s, NULL, c->cluster_slots, &holders, &error);
                if (r < 0)
                        return asprintf(ret_reason, "cannot take the slot: %s", strempty(error)) < 0
                                       ? -ENOMEM
                                       : r;
                if (r == CLUSTER_SEM_GRANTED || r == CLUSTER_SEM_HELD)
                        break;

                phase = holder_phase(s, strempty(holders));
                log_status(
                        "%s: waiting for the cluster slot: held by %s%s%s, %" PRIu64 " s",
                        what,
                        strempty(holders),
                        phase ? ", " : "",
                        strempty(phase),
                        (now_monotonic() - start) / USEC_PER_SEC);
                if (!said) {
                        log_info(
                                "Waiting for the cluster slot of %s: held by %s.",
                                s->cluster,
                                strempty(holders));
                        said = true;
                }
                if (now_monotonic() >= deadline)
                        return asprintf(
                                       ret_reason,
                                       "no slot within [Timeouts] Slot= (held by %s all along)",
                                       strempty(holders)) < 0
                                       ? -ENOMEM
                                       : -ETIME;
                nap_until(jitter(now_monotonic() + USEC_PER_SEC));
                if (helper_cancelled)
                        return -ECANCELED;
        }
        log_info(
                "Took the cluster slot of %s for roll %s (after %" PRIu64 " s).",
                s->cluster,
                roll_id,
                (now_monotonic() - start) / USEC_PER_SEC);
        return 0;
}

/* the first host of the roll to ask runs its migrations: record which this host is */
static int claim_migrator(Helper *h, ClusterStore *s, const char *roll_id) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = cluster_store_migrator_claim(s, roll_id, &error);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to learn the migrator of roll %s: %s", roll_id, strempty(error));
        if (r > 0)
                log_info(
                        "This host is the migrator of roll %s: its server applies the migrations.", roll_id);
        else
                log_info(
                        "Another host is the migrator of roll %s: %s",
                        roll_id,
                        h->current.cluster_coordinated ? "it applies the migrations while every member is "
                                                         "stopped."
                                                       : "its migrations are applied already.");
        return helper_set_current_bool(
                h, CURRENT_CLUSTER_MIGRATOR, offsetof(Current, cluster_migrator), r > 0);
}

int roll_take_slot(Helper *h) {
        _cleanup_cluster_store_ ClusterStore *s = NULL;
        _cleanup_free_ char *error = NULL, *roll_id = NULL, *reason = NULL;
        int r;

        if (!h->current.cluster_roll)
                return 0;
        roll_id = strdup(h->current.cluster_roll);
        if (!roll_id)
                return log_oom();

        r = cluster_store_open(&h->config, &s, &error);
        if (r < 0)
                return refuse(h, r, error);
        /* coordinated: every member goes at once, no slot; only the migrator is chosen */
        if (h->current.cluster_coordinated)
                return claim_migrator(h, s, roll_id);
        /* before asking: a take whose answer is lost is released all the same */
        r = helper_set_current_bool(h, CURRENT_CLUSTER_SLOT, offsetof(Current, cluster_slot), true);
        if (r < 0)
                return r;
        r = wait_for_slot(s, &h->config, roll_id, h->version, "backup", &reason);
        if (r == -ENOMEM)
                return log_oom();
        if (r == -ECANCELED)
                return r;
        if (r < 0)
                return refuse(h, r, reason);

        /* from here on a failure is this host's: the rollback records it in the roll */
        return claim_migrator(h, s, roll_id);
}

/* ---- coordinated ---- */

/* the roll still is roll_id and rolling: 0, or -EPERM/-ESTALE (another -errno: etcd) with the reason */
static int coordinated_roll(ClusterStore *s, const char *roll_id, ClusterRoll *ret, char **ret_reason) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = cluster_store_get_roll(s, ret, NULL, &error);
        if (r < 0)
                return errmsg_set(ret_reason, r, "cannot read the roll: %s", strempty(error));
        if (!streq(ret->id, roll_id))
                return errmsg_set(
                        ret_reason,
                        -ESTALE,
                        "roll %s was replaced by roll %s to %s",
                        roll_id,
                        ret->id,
                        ret->to);
        if (ret->state != CLUSTER_ROLL_ROLLING)
                return errmsg_set(
                        ret_reason,
                        -EPERM,
                        "roll %s is %s now",
                        roll_id,
                        cluster_roll_state_to_string(ret->state));
        return 0;
}

/* the migrator: until every member stopped its server */
static int wait_all_stopped(Helper *h, ClusterStore *s, const char *roll_id, char **ret_reason) {
        usec_t start = now_monotonic(), deadline = helper_deadline(h->config.timeout_slot);
        bool said = false;
        int r;

        for (;;) {
                _cleanup_(cluster_roll_done) ClusterRoll roll = {};
                _cleanup_strv_free_ char **members = NULL;
                _cleanup_free_ char *running = NULL, *error = NULL;

                r = coordinated_roll(s, roll_id, &roll, ret_reason);
                if (r < 0)
                        return r;
                r = cluster_store_member_ids(s, &members, &error);
                if (r < 0)
                        return errmsg_set(ret_reason, r, "cannot read the members: %s", strempty(error));
                r = cluster_roll_all_stopped(&roll, members, &running);
                if (r < 0)
                        return r;
                if (r > 0) {
                        log_info(
                                "Coordinated roll %s: every member has stopped (%zu); this host, the "
                                "migrator, migrates behind a snapshot.",
                                roll_id,
                                strv_length(members));
                        return 0;
                }
                log_status(
                        "snapshot: waiting for every member to stop: %s still serving, %" PRIu64 " s",
                        strempty(running),
                        (now_monotonic() - start) / USEC_PER_SEC);
                if (!said) {
                        log_info(
                                "Coordinated roll %s: waiting for every member to stop (%s still serving).",
                                roll_id,
                                strempty(running));
                        said = true;
                }
                if (now_monotonic() >= deadline)
                        return errmsg_set(
                                ret_reason,
                                -ETIME,
                                "%s did not stop within [Timeouts] Slot=: every member starts the old "
                                "release again",
                                strempty(running));
                nap_until(jitter(now_monotonic() + USEC_PER_SEC));
                if (helper_cancelled)
                        return -ECANCELED;
        }
}

/* a member: until the migrator migrated and passed its smoke test (1), or the roll gave up (-errno) */
static int wait_migrator(Helper *h, ClusterStore *s, const char *roll_id, char **ret_reason) {
        usec_t start = now_monotonic(), deadline = helper_deadline(h->config.timeout_slot);
        bool said = false;
        int r;

        for (;;) {
                _cleanup_(cluster_roll_done) ClusterRoll roll = {};
                _cleanup_(cluster_migrator_done) ClusterMigrator m = {};
                _cleanup_free_ char *error = NULL, *phase = NULL;

                r = coordinated_roll(s, roll_id, &roll, ret_reason);
                if (r < 0)
                        return r;
                r = cluster_store_get_migrator(s, &m, &error);
                if (r < 0 && r != -ENOENT)
                        return errmsg_set(ret_reason, r, "cannot read the migrator: %s", strempty(error));
                if (r >= 0 && streq(m.roll, roll_id)) {
                        if (m.state == CLUSTER_MIGRATOR_DONE) {
                                log_info(
                                        "Coordinated roll %s: the migrator %s is done; starting %s here.",
                                        roll_id,
                                        m.host,
                                        h->version);
                                return 0;
                        }
                        if (m.state == CLUSTER_MIGRATOR_FAILED)
                                return errmsg_set(
                                        ret_reason,
                                        -EPERM,
                                        "the migrator %s failed and went back to %s",
                                        m.host,
                                        roll.from);
                        if (!said) {
                                log_info(
                                        "Coordinated roll %s: this host stopped; waiting for the migrator "
                                        "%s to migrate and pass its smoke test.",
                                        roll_id,
                                        m.host);
                                said = true;
                        }
                        phase = holder_phase(s, m.host);
                }
                log_status(
                        "snapshot: waiting for the migrator %s%s%s to migrate and pass its smoke test, "
                        "%" PRIu64 " s",
                        r >= 0 ? m.host : "(none yet)",
                        phase ? ", " : "",
                        strempty(phase),
                        (now_monotonic() - start) / USEC_PER_SEC);
                if (now_monotonic() >= deadline)
                        return errmsg_set(
                                ret_reason, -ETIME, "the migrator was not done within [Timeouts] Slot=");
                nap_until(jitter(now_monotonic() + USEC_PER_SEC));
                if (helper_cancelled)
                        return -ECANCELED;
        }
}

int roll_coordinate(Helper *h) {
        _cleanup_cluster_store_ ClusterStore *s = NULL;
        _cleanup_free_ char *error = NULL, *roll_id = NULL, *reason = NULL;
        int r;

        if (!h->current.cluster_roll || !h->current.cluster_coordinated)
                return 0;
        roll_id = strdup(h->current.cluster_roll);
        if (!roll_id)
                return log_oom();
        r = cluster_store_open(&h->config, &s, &error);
        if (r < 0)
                return log_error_errno(r, "Coordinated roll %s: %s", roll_id, strempty(error));

        r = cluster_store_roll_host(s, CLUSTER_ROLL_HOST_STOPPED, roll_id, NULL, false, NULL, &error);
        if (r < 0 && r != -EPERM && r != -ESTALE && r != -ENOENT)
                return log_error_errno(
                        r,
                        "Coordinated roll %s: cannot record this host stopped: %s",
                        roll_id,
                        strempty(error));
        if (r < 0)
                return refuse(h, r, error);

        r = h->current.cluster_migrator ? wait_all_stopped(h, s, roll_id, &reason)
                                        : wait_migrator(h, s, roll_id, &reason);
        if (r == -ENOMEM)
                return log_oom();
        if (r == -ECANCELED)
                return r;
        /* the roll ended or moved on without this host: nothing of its own failed */
        if (r == -EPERM || r == -ESTALE)
                return refuse(h, r, reason);
        if (r < 0)
                return log_error_errno(r, "Coordinated roll %s: %s.", roll_id, strempty(reason));
        return 0;
}

int roll_revert_begin(const Config *c, const char *roll_id) {
        _cleanup_cluster_store_ ClusterStore *s = NULL;
        _cleanup_(cluster_roll_done) ClusterRoll roll = {};
        _cleanup_free_ char *error = NULL, *reason = NULL;
        int r;

        if (!roll_id || !config_cluster_enabled(c))
                return 0;
        r = cluster_store_open(c, &s, &error);
        if (r < 0)
                return log_error_errno(r, "Refusing the revert: %s. Nothing was changed.", strempty(error));
        r = cluster_store_get_roll(s, &roll, NULL, &error);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return log_error_errno(
                        r,
                        "Refusing the rollback: cannot read the roll of cluster %s: %s. Nothing was "
                        "changed.",
                        s->cluster,
                        strempty(error));
        /* a late rollback by hand of a roll that is over, or of another one, is this host's own affair */
        if (!streq(roll.id, roll_id) || cluster_roll_may_revert(&roll, s->host_id, NULL) <= 0)
                return 0;

        log_notice("Roll %s is aborting: reverting this host's part, in turn through the slot.", roll_id);
        r = wait_for_slot(s, c, roll_id, NULL, "rollback", &reason);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                /* a take whose answer was lost */
                (void)cluster_store_sem_release(s, NULL, NULL);
                return log_error_errno(
                        r, "Refused by the cluster before the server was touched: %s.", strempty(reason));
        }
        r = balancer_drain(c, "rollback");
        if (r < 0) {
                (void)cluster_store_sem_release(s, NULL, NULL);
                return r;
        }
        return 1;
}

/* ---- the heartbeat ---- */

static pid_t keeper = 0;

static int beat(ClusterStore *s, const Helper *h, int64_t lease) {
        _cleanup_free_ char *version = NULL, *now = current_timestamp();
        ClusterHost hb;

        if (!now)
                return -ENOMEM;
        (void)release_current_version(&version);
        hb = (ClusterHost){ .version = version ?: h->current.from,
                            .phase = (char *)h->phase,
                            .unit = h->current.unit ?: (char *)"codebolt-upgrade",
                            .updated = now };
        return cluster_store_heartbeat(s, &hb, lease, NULL);
}

/* the keeper's life: a lease, the key on it, refreshed until it is killed */
static int keep_heartbeat(const Helper *h) {
        _cleanup_cluster_store_ ClusterStore *s = NULL;
        int64_t lease = 0;

        if (cluster_store_open(&h->config, &s, NULL) < 0)
                return 1;
        for (;;) {
                if (lease == 0 || etcd_lease_keepalive(s->etcd, lease, NULL, NULL) < 0)
                        if (etcd_lease_grant(s->etcd, HEARTBEAT_TTL_SEC, &lease, NULL) < 0)
                                lease = 0;
                if (lease != 0 && beat(s, h, lease) < 0)
                        lease = 0;
                sleep_until(now_monotonic() + HEARTBEAT_EVERY);
        }
}

void roll_heartbeat_start(Helper *h) {
        pid_t parent = getpid(), pid;

        if (!h->current.cluster_roll || !config_cluster_enabled(&h->config) || keeper > 0)
                return;
        pid = fork();
        if (pid < 0) {
                log_warning_errno(errno, "Failed to start the cluster heartbeat: %m");
                return;
        }
        if (pid == 0) {
                (void)signal(SIGTERM, SIG_DFL);
                (void)signal(SIGINT, SIG_DFL);
                if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
                        _exit(0);
                _exit(keep_heartbeat(h));
        }
        keeper = pid;
}

void roll_heartbeat_stop(void) {
        if (keeper <= 0)
                return;
        (void)kill(keeper, SIGTERM);
        (void)waitpid(keeper, NULL, 0);
        keeper = 0;
}

/* ---- the soak ---- */

static int server_state(sd_bus *bus, const char *unit, char **ret_invocation, bool *ret_active) {
        _cleanup_free_ char *active = NULL, *sub = NULL;
        int r;

        r = bus_unit_get_invocation_id(bus, unit, ret_invocation);
        if (r < 0)
                return r;
        r = bus_unit_get_state(bus, unit, &active, &sub);
        if (r < 0)
                return r;
        *ret_active = streq(active, "active");
        return 0;
}

int roll_soak(Helper *h) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *invocation = NULL;
        const char *unit = h->config.server_unit;
        usec_t start = now_monotonic(), since = now_realtime(), d = h->config.cluster_min_healthy;
        bool active;
        int r;

        if (!h->current.cluster_roll || d == 0)
                return 0;
        r = bus_open_system(&bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus for the soak: %m");
        r = server_state(bus, unit, &invocation, &active);
        if (r < 0)
                return log_error_errno(r, "Failed to read the state of %s: %m", unit);

        for (unsigned tick = 1;; tick++) {
                _cleanup_free_ char *now_invocation = NULL;
                uint64_t errors = 0;
                bool over = now_monotonic() >= start + d;

                r = server_state(bus, unit, &now_invocation, &active);
                if (r < 0)
                        return log_error_errno(r, "Failed to read the state of %s: %m", unit);
                if (!active || !streq(invocation, now_invocation))
                        return log_error_errno(
                                EIO,
                                "%s %s during the soak ([Cluster] MinHealthy=), %" PRIu64 " s after it "
                                "came back.",
                                unit,
                                active ? "restarted" : "stopped",
                                (now_monotonic() - start) / USEC_PER_SEC);
                if (over || tick % 5 == 0) {
                        r = watch_count_errors(&h->config, since, NULL, &errors, NULL);
                        if (r < 0)
                                return log_error_errno(r, "Failed to read the journal of %s: %m", unit);
                        if (errors > 0)
                                return log_error_errno(
                                        EIO,
                                        "%s logged %" PRIu64 " error line%s during the soak ([Cluster] "
                                        "MinHealthy=): see journalctl -u %s.",
                                        unit,
                                        errors,
                                        errors == 1 ? "" : "s",
                                        unit);
                }
                if (over)
                        break;
                log_status(
                        "finish: soak: healthy for %" PRIu64 " s of %" PRIu64 " s",
                        (now_monotonic() - start) / USEC_PER_SEC,
                        d / USEC_PER_SEC);
                nap_until(now_monotonic() + USEC_PER_SEC);
                if (helper_cancelled)
                        return -ECANCELED;
        }
        log_info(
                "Soak passed: %s ran %" PRIu64 " s without a restart or an error line.",
                unit,
                d / USEC_PER_SEC);
        return 0;
}

/* ---- the webhook ---- */

void roll_notify(const Config *c, const char *event, const ClusterRoll *roll, const char *host, int place) {
        _cleanup_json_ cJSON *f = cJSON_CreateObject();

        if (!c->notify_url)
                return;
        if (!f || !cJSON_AddStringToObject(f, "cluster", strempty(c->cluster_name)) ||
            !cJSON_AddStringToObject(f, "roll", roll->id) ||
            !cJSON_AddStringToObject(f, "from", roll->from) ||
            !cJSON_AddStringToObject(f, "version", roll->to) ||
            !cJSON_AddStringToObject(f, "mode", cluster_mode_to_string(roll->mode)) ||
            !cJSON_AddStringToObject(f, "state", cluster_roll_state_to_string(roll->state)) ||
            !cJSON_AddNumberToObject(f, "upgraded", (double)strv_length(roll->upgraded)) ||
            !cJSON_AddNumberToObject(f, "failed", (double)strv_length(roll->failed)) ||
            (host && !cJSON_AddStringToObject(f, "host", host)) ||
            (place > 0 && !cJSON_AddNumberToObject(f, "place", place))) {
                log_warning("Out of memory: not sending the %s notification.", event);
                return;
        }
        events_notify(c, event, f);
}

/* ---- telling etcd ---- */

typedef struct Pending {
        char *roll;
        RollRecord record;
        bool slot, migrator, auto_revert;
} Pending;

static void pending_done(Pending *p) {
        free(p->roll);
        *p = (Pending){};
}

/* an answer that will not change by asking again: the roll moved on, or refuses what we say */
static bool final_answer(int r) {
        return r == -ESTALE || r == -ENOENT || r == -EPERM || r == -EBADMSG || r == -EINVAL;
}

/* One try at everything p says. Returns 0 when etcd has it (or will never take it: logged), -errno
 * when it should be tried again; *ret_place for ROLL_RECORD_UPGRADED. */
static int apply(const Config *c, const Pending *p, int *ret_place, char **ret_error) {
        _cleanup_cluster_store_ ClusterStore *s = NULL;
        _cleanup_(cluster_roll_done) ClusterRoll after = {};
        _cleanup_strv_free_ char **members = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        r = cluster_store_open(c, &s, ret_error);
        if (r < 0)
                return r;

        if (p->record != ROLL_RECORD_RELEASE) {
                if (p->record == ROLL_RECORD_UPGRADED) {
                        r = cluster_store_member_ids(s, &members, ret_error);
                        if (r < 0)
                                return r;
                }
                r = cluster_store_roll_host(
                        s,
                        p->record == ROLL_RECORD_UPGRADED   ? CLUSTER_ROLL_HOST_UPGRADED
                        : p->record == ROLL_RECORD_REVERTED ? CLUSTER_ROLL_HOST_REVERTED
                                                            : CLUSTER_ROLL_HOST_FAILED,
                        p->roll,
                        members,
                        p->auto_revert,
                        &after,
                        &error);
                if (r < 0 && !final_answer(r))
                        return errmsg_set(ret_error, r, "%s", strempty(error));
                if (r < 0)
                        log_warning(
                                "Roll %s does not record this host as %s: %s.",
                                p->roll,
                                record_names[p->record],
                                strempty(error));
                else if (p->record == ROLL_RECORD_UPGRADED) {
                        size_t n = strv_length(after.upgraded);

                        for (size_t i = 0; i < n; i++)
                                if (streq(after.upgraded[i], s->host_id))
                                        *ret_place = (int)i + 1;
                        /* once: a retry that finds it said (0) tells nobody again */
                        if (r > 0) {
                                roll_notify(c, "host-upgraded", &after, s->host_id, *ret_place);
                                if (after.state == CLUSTER_ROLL_DONE)
                                        roll_notify(c, "roll-done", &after, NULL, 0);
                        }
                        log_info(
                                "Roll %s: this host is upgraded, %zu of %zu member%s.",
                                p->roll,
                                n,
                                strv_length(members),
                                strv_length(members) == 1 ? "" : "s");
                        if (after.state == CLUSTER_ROLL_DONE)
                                log_notice(
                                        "Roll %s to %s is done: every member runs it.", p->roll, after.to);
                } else if (p->record == ROLL_RECORD_REVERTED) {
                        log_notice(
                                "Roll %s: this host's part is reverted; the roll is %s.",
                                p->roll,
                                cluster_roll_state_to_string(after.state));
                        if (r > 0) {
                                roll_notify(c, "host-reverted", &after, s->host_id, 0);
                                if (after.state == CLUSTER_ROLL_ABORTED)
                                        roll_notify(c, "roll-aborted", &after, NULL, 0);
                        }
                } else {
                        log_notice(
                                "Roll %s is now %s: this host's part failed and was rolled back.",
                                p->roll,
                                cluster_roll_state_to_string(after.state));
                        if (r > 0)
                                roll_notify(
                                        c,
                                        after.state == CLUSTER_ROLL_PAUSED ? "roll-paused" : "roll-aborting",
                                        &after,
                                        s->host_id,
                                        0);
                }
        }

        /* a migrator that did not finish hands the role on to the next host of the roll */
        if (p->migrator) {
                free(TAKE_PTR(error));
                r = cluster_store_migrator_set(
                        s,
                        p->roll,
                        p->record == ROLL_RECORD_UPGRADED ? CLUSTER_MIGRATOR_DONE : CLUSTER_MIGRATOR_FAILED,
                        &error);
                if (r < 0 && !final_answer(r))
                        return errmsg_set(ret_error, r, "%s", strempty(error));
        }

        if (p->slot) {
                free(TAKE_PTR(error));
                r = cluster_store_sem_release(s, NULL, &error);
                if (r < 0 && !final_answer(r))
                        return errmsg_set(ret_error, r, "%s", strempty(error));
                if (r == CLUSTER_SEM_RELEASED)
                        log_info("Released the cluster slot of %s.", s->cluster);
        }

        /* the heartbeat only informs: its lease ends it anyway */
        (void)cluster_store_heartbeat(s, NULL, 0, NULL);
        return 0;
}

static int pending_save(const Config *c, const Pending *p) {
        _cleanup_json_ cJSON *j = cJSON_CreateObject();
        _cleanup_free_ char *path = NULL, *now = current_timestamp();
        int r;

        if (!j || !now || !cJSON_AddStringToObject(j, "roll", p->roll) ||
            !cJSON_AddStringToObject(j, "record", record_names[p->record]) ||
            !cJSON_AddBoolToObject(j, "slot", p->slot) ||
            !cJSON_AddBoolToObject(j, "migrator", p->migrator) ||
            !cJSON_AddBoolToObject(j, "auto_revert", p->auto_revert) ||
            !cJSON_AddStringToObject(j, "since", now))
                return -ENOMEM;
        r = paths_state_file_mkdir(c->deployment, PENDING_NAME, &path);
        if (r < 0)
                return r;
        return state_write_json_atomic(path, j, 0600);
}

int roll_record(const Config *c, const Current *current, RollRecord what) {
        _cleanup_free_ char *path = NULL;
        Pending p;
        usec_t deadline = now_monotonic() + RECORD_PATIENCE;
        int place = 0, r;

        assert(what >= 0 && what < _ROLL_RECORD_MAX);
        roll_heartbeat_stop();
        /* a late rollback takes part only as an aborting roll's revert, which held a slot */
        if (!current->cluster_roll || !config_cluster_enabled(c) ||
            (current->late && !current->cluster_slot))
                return 0;
        p = (Pending){ .roll = current->cluster_roll,
                       .record = what,
                       .slot = current->cluster_slot,
                       .migrator = current->cluster_migrator,
                       .auto_revert = c->cluster_auto_revert };

        for (unsigned attempt = 1;; attempt++) {
                _cleanup_free_ char *error = NULL;

                r = apply(c, &p, &place, &error);
                if (r >= 0)
                        return place;
                if (attempt == 1)
                        log_warning_errno(
                                r,
                                "Cannot tell etcd that this host's part in roll %s is %s: %s. Retrying "
                                "for a minute.",
                                p.roll,
                                record_names[what],
                                strempty(error));
                if (now_monotonic() >= deadline || helper_cancelled)
                        break;
                log_status(
                        "cluster: etcd unreachable; retrying to record roll %s (%s)",
                        p.roll,
                        record_names[what]);
                nap_until(jitter(now_monotonic() + 2 * USEC_PER_SEC));
        }

        r = pending_save(c, &p);
        path = paths_state_file(c->deployment, PENDING_NAME);
        if (r < 0)
                log_error_errno(
                        r,
                        "Failed to keep what etcd must still learn of roll %s (%s) in %s: run "
                        "codebolt-upgrade cluster unlock on another member once etcd is back: %m",
                        p.roll,
                        record_names[what],
                        strempty(path));
        else
                log_warning(
                        "etcd still unreachable: kept in %s what it must learn of roll %s (%s); the "
                        "follower, "
                        "the next boot and the next upgrade retry it.",
                        strempty(path),
                        p.roll,
                        record_names[what]);
        return 0;
}

int roll_retry_pending(const Config *c) {
        _cleanup_free_ char *path = paths_state_file(c->deployment, PENDING_NAME), *error = NULL;
        _cleanup_json_ cJSON *j = NULL;
        _cleanup_(pending_done) Pending p = {};
        int place = 0, r;

        if (!path)
                return log_oom();
        r = state_read_json(path, &j);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return log_warning_errno(r, "Failed to read %s: %m", path);
        p.roll = strdup(strempty(json_get_string(j, "roll")));
        if (!p.roll)
                return log_oom();
        p.record = record_from_string(json_get_string(j, "record"));
        if (!*p.roll || p.record == _ROLL_RECORD_MAX)
                return log_warning_errno(
                        EBADMSG,
                        "%s is damaged: remove it, and release this host's slot with "
                        "codebolt-upgrade cluster unlock if it holds one.",
                        path);
        p.slot = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "slot"));
        p.migrator = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "migrator"));
        p.auto_revert = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "auto_revert"));

        r = apply(c, &p, &place, &error);
        if (r < 0)
                return log_warning_errno(
                        r,
                        "Roll %s still does not know this host's part (%s): %s.",
                        p.roll,
                        record_names[p.record],
                        strempty(error));
        r = state_unlink(path);
        if (r < 0 && r != -ENOENT)
                return log_warning_errno(r, "Failed to remove %s: %m", path);
        log_notice("Told etcd what it had missed of roll %s (%s).", p.roll, record_names[p.record]);
        return 0;
}
