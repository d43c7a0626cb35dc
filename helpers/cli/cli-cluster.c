/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cli-cluster.c: `codebolt-upgrade cluster …`: the roll, the members and the slot of this host's cluster
 * in etcd (docs/architecture.md, "Clusters") */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-id128.h>

#include "checks.h"
#include "cli.h"
#include "cluster-store.h"
#include "current.h"
#include "haproxy.h"
#include "json-util.h"
#include "log.h"
#include "membership.h"
#include "macro.h"
#include "plan.h"
#include "roll.h"
#include "semver.h"
#include "strv.h"
#include "time-util.h"
#include "verbs.h"

/* a heartbeat lives on a 30 s lease: one not refreshed for longer is a unit that stopped beating */
#define HEARTBEAT_STALE_SEC 30

/* exit 2 for a refusal (the rule's sentence), else the failure logged (exit 1) */
static int refused_or_failed(int r, const char *error) {
        if (r == -EPERM || r == -ENOENT) {
                log_error("Refused: %s.", strempty(error));
                return 2;
        }
        return log_error_errno(r, "%s.", error ?: strerror(-r));
}

static int open_store(const Config *c, ClusterStore **ret) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = cluster_store_open(c, ret, &error);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "%s.", strempty(error));
        return 0;
}

/* ---- status ---- */

/* seconds since the heartbeat's refresh, or -1 when it cannot be told */
static int64_t heartbeat_age(const ClusterSnapshotHost *h, usec_t now) {
        usec_t t;

        if (!h->has_heartbeat || checks_parse_timestamp(h->heartbeat.updated, &t) < 0)
                return -1;
        return t > now ? 0 : (int64_t)((now - t) / USEC_PER_SEC);
}

/* "none", "stale (<updated>)" or "12s ago"; NULL when out of memory */
static char *heartbeat_string(const ClusterSnapshotHost *h, usec_t now) {
        int64_t age = heartbeat_age(h, now);
        char *t = NULL;

        if (!h->has_heartbeat)
                return strdup("none");
        if (age < 0 || age > HEARTBEAT_STALE_SEC)
                return asprintf(&t, "stale (%s)", h->heartbeat.updated) < 0 ? NULL : t;
        return asprintf(&t, "%llds ago", (long long)age) < 0 ? NULL : t;
}

static char *strv_join_or(char *const *l, const char *none) {
        ClusterSem s = { .holders = (char **)l };
        char *j = NULL;

        /* the holders' joiner does the job for any list */
        if (!l || !*l)
                return strdup(none);
        return cluster_sem_holders_string(&s, &j) < 0 ? NULL : j;
}

static int print_status(const ClusterStore *s, const ClusterSnapshot *snap) {
        usec_t now = now_realtime();

        printf("Cluster:  %s (etcd %s), this host %s\n", s->cluster, s->endpoints, s->host_id);
        if (snap->has_roll) {
                const ClusterRoll *r = &snap->roll;
                _cleanup_free_ char *upgraded = strv_join_or(r->upgraded, "none"),
                                    *failed = strv_join_or(r->failed, "none"),
                                    *stopped = strv_join_or(r->stopped, "none");

                if (!upgraded || !failed || !stopped)
                        return log_oom();
                printf("Roll:     %s %s → %s, %s, %s (started %s by %s)\n",
                       r->id,
                       r->from,
                       r->to,
                       cluster_mode_to_string(r->mode),
                       cluster_roll_state_to_string(r->state),
                       r->started,
                       r->by);
                printf("          upgraded: %s; failed: %s%s%s%s%s\n",
                       upgraded,
                       failed,
                       r->canary ? "; canary: " : "",
                       strempty(r->canary),
                       r->mode == CLUSTER_MODE_COORDINATED ? "; stopped: " : "",
                       r->mode == CLUSTER_MODE_COORDINATED ? stopped : "");
        } else
                printf("Roll:     none\n");
        if (snap->has_migrator)
                printf("Migrator: %s for roll %s (%s)\n",
                       snap->migrator.host,
                       snap->migrator.roll,
                       cluster_migrator_state_to_string(snap->migrator.state));
        if (snap->has_sem) {
                _cleanup_free_ char *holders = NULL;
                if (cluster_sem_holders_string(&snap->sem, &holders) < 0)
                        return log_oom();
                printf("Slots:    %zu of %llu held%s%s\n",
                       strv_length(snap->sem.holders),
                       (unsigned long long)snap->sem.total_slots,
                       *holders ? ": " : "",
                       holders);
        }

        if (snap->n_hosts == 0) {
                printf("Members:  none (codebolt-upgrade cluster join on each host)\n");
                return 0;
        }
        printf("\n%-34s %-12s %-10s %-5s %-20s %s\n",
               "HOST",
               "VERSION",
               "PHASE",
               "SLOT",
               "HEARTBEAT",
               "HOSTNAME");
        for (size_t i = 0; i < snap->n_hosts; i++) {
                const ClusterSnapshotHost *h = &snap->hosts[i];
                _cleanup_free_ char *id = NULL, *heartbeat = heartbeat_string(h, now);

                if (asprintf(
                            &id,
                            "%s%s%s",
                            h->id,
                            streq(h->id, s->host_id) ? " (this)" : "",
                            h->has_member ? "" : " (no member)") < 0)
                        return log_oom();
                if (!heartbeat)
                        return log_oom();
                printf("%-34s %-12s %-10s %-5s %-20s %s\n",
                       id,
                       h->has_heartbeat ? h->heartbeat.version : h->member.version,
                       h->has_heartbeat ? h->heartbeat.phase : "-",
                       cluster_sem_holds(snap->has_sem ? &snap->sem : NULL, h->id) ? "yes" : "-",
                       heartbeat,
                       h->has_member ? h->member.hostname : "-");
        }
        return 0;
}

static int add_doc(cJSON *o, const char *name, bool has, int r, cJSON *doc) {
        if (!has)
                return cJSON_AddNullToObject(o, name) ? 0 : -ENOMEM;
        if (r < 0)
                return r;
        if (!cJSON_AddItemToObject(o, name, doc)) {
                cJSON_Delete(doc);
                return -ENOMEM;
        }
        return 0;
}

static int host_to_json(const ClusterSnapshot *snap, const ClusterSnapshotHost *h, usec_t now, cJSON **ret) {
        _cleanup_json_ cJSON *o = cJSON_CreateObject();
        int64_t age = heartbeat_age(h, now);

        if (!o || !cJSON_AddStringToObject(o, "id", h->id) ||
            !cJSON_AddBoolToObject(o, "member", h->has_member) ||
            !cJSON_AddBoolToObject(o, "slot", cluster_sem_holds(snap->has_sem ? &snap->sem : NULL, h->id)))
                return -ENOMEM;
        if (h->has_member && (!cJSON_AddStringToObject(o, "hostname", h->member.hostname) ||
                              !cJSON_AddStringToObject(o, "server", h->member.server)))
                return -ENOMEM;
        if (!cJSON_AddStringToObject(
                    o, "version", h->has_heartbeat ? h->heartbeat.version : h->member.version))
                return -ENOMEM;
        if (h->has_heartbeat ? !cJSON_AddStringToObject(o, "phase", h->heartbeat.phase) ||
                                       !cJSON_AddStringToObject(o, "unit", h->heartbeat.unit) ||
                                       !cJSON_AddStringToObject(o, "updated", h->heartbeat.updated)
                             : !cJSON_AddNullToObject(o, "phase"))
                return -ENOMEM;
        if (!(age >= 0 ? cJSON_AddNumberToObject(o, "heartbeat_age", (double)age)
                       : cJSON_AddNullToObject(o, "heartbeat_age")) ||
            !cJSON_AddStringToObject(
                    o,
                    "heartbeat",
                    !h->has_heartbeat                      ? "none"
                    : age < 0 || age > HEARTBEAT_STALE_SEC ? "stale"
                                                           : "alive"))
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

static int status_to_json(const ClusterStore *s, const ClusterSnapshot *snap, cJSON **ret) {
        _cleanup_json_ cJSON *o = cJSON_CreateObject();
        cJSON *doc = NULL, *hosts;
        usec_t now = now_realtime();
        int r;

        if (!o || !cJSON_AddStringToObject(o, "cluster", s->cluster) ||
            !cJSON_AddStringToObject(o, "host", s->host_id))
                return -ENOMEM;
        r = snap->has_roll ? cluster_roll_to_json(&snap->roll, &doc) : 0;
        r = add_doc(o, "roll", snap->has_roll, r, doc);
        if (r < 0)
                return r;
        r = snap->has_sem ? cluster_sem_to_json(&snap->sem, &doc) : 0;
        r = add_doc(o, "sem", snap->has_sem, r, doc);
        if (r < 0)
                return r;
        r = snap->has_migrator ? cluster_migrator_to_json(&snap->migrator, &doc) : 0;
        r = add_doc(o, "migrator", snap->has_migrator, r, doc);
        if (r < 0)
                return r;
        hosts = cJSON_AddArrayToObject(o, "hosts");
        if (!hosts)
                return -ENOMEM;
        for (size_t i = 0; i < snap->n_hosts; i++) {
                cJSON *h = NULL;
                r = host_to_json(snap, &snap->hosts[i], now, &h);
                if (r < 0)
                        return r;
                if (!cJSON_AddItemToArray(hosts, h)) {
                        cJSON_Delete(h);
                        return -ENOMEM;
                }
        }
        *ret = TAKE_PTR(o);
        return 0;
}

/* the status once: the JSON object (one line when following), or the text */
static int print_snapshot(const ClusterStore *s, const ClusterSnapshot *snap) {
        _cleanup_json_ cJSON *o = NULL;
        _cleanup_free_ char *text = NULL;

        if (!arg_json)
                return print_status(s, snap);
        if (status_to_json(s, snap, &o) < 0 ||
            !(text = arg_follow ? cJSON_PrintUnformatted(o) : cJSON_Print(o)))
                return log_oom();
        puts(text);
        return 0;
}

/* ---- status --follow ---- */

/* Ctrl-C or SIGTERM: while waiting for a change nothing is half printed, and the command ends at once
 * (a watch of etcd would not return early for a flag); otherwise the print under way ends first */
static volatile sig_atomic_t follow_waiting = 0, follow_stopped = 0;

static void follow_signal(int sig) {
        if (follow_waiting)
                _exit(0);
        follow_stopped = 1;
}

/* a watch that saw no change for this long is made anew (a connection that died without a word) */
#define FOLLOW_WATCH_USEC (60 * USEC_PER_SEC)
/* the wait before etcd is asked again after a failure */
#define FOLLOW_RETRY_USEC (2 * USEC_PER_SEC)

/* the snapshot, with the store's revision read before it into *ret_revision: a watch from the one
 * after sees every change the snapshot may have missed */
static int follow_read(ClusterStore *s, ClusterSnapshot *ret, int64_t *ret_revision, char **ret_error) {
        int r = cluster_store_revision(s, ret_revision, ret_error);

        return r < 0 ? r : cluster_store_snapshot(s, ret, ret_error);
}

static void follow_sleep(usec_t t) {
        struct timespec ts = { .tv_sec = t / USEC_PER_SEC, .tv_nsec = (t % USEC_PER_SEC) * 1000 };

        follow_waiting = 1;
        if (!follow_stopped)
                (void)nanosleep(&ts, NULL);
        follow_waiting = 0;
}

static int follow_status(ClusterStore *s) {
        struct sigaction sa = { .sa_handler = follow_signal };
        _cleanup_free_ char *prefix = NULL, *error = NULL;
        bool tty = isatty(STDOUT_FILENO), failing = false;
        int64_t revision = 0;
        int r;

        /* every key of the cluster: the prefix of its roll key */
        r = cluster_key(s->cluster, CLUSTER_KEY_ROLL, NULL, &prefix, &error);
        if (r < 0)
                return log_error_errno(r, "%s.", strempty(error));
        *(strrchr(prefix, '/') + 1) = 0;
        (void)sigaction(SIGINT, &sa, NULL);
        (void)sigaction(SIGTERM, &sa, NULL);

        for (unsigned n = 0; !follow_stopped;) {
                _cleanup_(cluster_snapshot_done) ClusterSnapshot snap = {};
                _cleanup_free_ char *now = NULL;

                r = follow_read(s, &snap, &revision, &error);
                if (r < 0 && n == 0)
                        return refused_or_failed(r, error);
                if (r < 0) {
                        if (!failing)
                                log_warning_errno(r, "%s; trying again.", strempty(error));
                        failing = true;
                        follow_sleep(FOLLOW_RETRY_USEC);
                        continue;
                }
                failing = false;

                /* on a terminal the status replaces the last one; elsewhere each comes with its time */
                if (!arg_json && tty)
                        fputs("\033[H\033[2J", stdout);
                else if (!arg_json) {
                        now = current_timestamp();
                        if (!now)
                                return log_oom();
                        printf("%s--- %s\n", n > 0 ? "\n" : "", now);
                }
                r = print_snapshot(s, &snap);
                if (r < 0)
                        return r;
                fflush(stdout);
                n++;

                /* until a change at a later revision (a quiet minute only makes the watch anew) */
                do {
                        follow_waiting = 1;
                        r = follow_stopped ? 0
                                           : etcd_watch(
                                                     s->etcd,
                                                     prefix,
                                                     true,
                                                     revision + 1,
                                                     FOLLOW_WATCH_USEC,
                                                     NULL,
                                                     &error);
                        follow_waiting = 0;
                } while (r == 0 && !follow_stopped);
                if (r < 0 && !follow_stopped) {
                        log_warning_errno(r, "%s; trying again.", strempty(error));
                        failing = true;
                        follow_sleep(FOLLOW_RETRY_USEC);
                }
        }
        return 0;
}

static int cluster_status(int argc, char *argv[], void *userdata) {
        _cleanup_cluster_store_ ClusterStore *s = NULL;
        _cleanup_(cluster_snapshot_done) ClusterSnapshot snap = {};
        _cleanup_free_ char *error = NULL;
        int r;

        r = open_store(userdata, &s);
        if (r < 0)
                return r;
        if (arg_follow)
                return follow_status(s);
        r = cluster_store_snapshot(s, &snap, &error);
        if (r < 0)
                return refused_or_failed(r, error);
        return print_snapshot(s, &snap);
}

/* ---- start ---- */

/* the rolling rule (docs/architecture.md, "Clusters") for from → to, from the plan: 0 allowed, 2 refused
 * (logged) */
/* the upgrade must be one the registry describes; in rolling mode, one allowed to roll host by host */
static int roll_gate(const Config *c, const char *from, const char *to, bool coordinated) {
        _cleanup_(plan_done) Plan plan = {};
        _cleanup_free_ char *refusal = NULL;
        SemVer v = {};
        int r;

        r = plan_make(c, from, to, &plan);
        if (r < 0)
                return log_oom();
        if (!plan.target) {
                const Gate *g = plan_first_failure(&plan);
                log_error(
                        "Refused: the release metadata does not describe %s%s%s, so %s: check "
                        "codebolt-upgrade plan %s%s.",
                        to,
                        g ? ": " : "",
                        g ? strempty(g->reason) : "",
                        coordinated ? "no member could upgrade to it" : "a rolling upgrade cannot be judged",
                        to,
                        coordinated ? "" : ", or use cluster start --coordinated");
                return 2;
        }
        if (coordinated)
                return 0;
        r = semver_parse(from, &v);
        if (r < 0)
                return log_error_errno(r, "The running version %s is not an exact version.", from);
        r = cluster_rolling_allowed(&v, plan.target, plan.path, plan.migrations, &refusal);
        semver_done(&v);
        if (r < 0)
                return log_oom();
        if (r == 0) {
                log_error("Refused: %s.", strempty(refusal));
                return 2;
        }
        return 0;
}

/* with [LoadBalancer] Driver=haproxy, every member's server must be UP behind every admin socket: a roll
 * that starts with one down would take the service below what it can carry, or to nothing */
static int members_gate(const Config *c, const ClusterSnapshot *snap) {
        int r;

        if (c->lb_driver != LB_DRIVER_HAPROXY)
                return 0;
        for (size_t i = 0; i < snap->n_hosts; i++) {
                const ClusterSnapshotHost *h = &snap->hosts[i];

                if (!h->has_member)
                        continue;
                STRV_FOREACH (socket, c->lb_sockets) {
                        _cleanup_(haproxy_server_stat_done) HaproxyServerStat stat = {};
                        _cleanup_free_ char *error = NULL;

                        r = haproxy_server_stat(*socket, c->lb_backend, h->member.server, &stat, &error);
                        if (r == -ENOMEM)
                                return log_oom();
                        if (r < 0) {
                                log_error(
                                        "Refused: member %s cannot be seen in the load balancer: %s.",
                                        h->id,
                                        strempty(error));
                                return 2;
                        }
                        if (!haproxy_status_is_up(stat.status)) {
                                log_error(
                                        "Refused: member %s (server %s/%s) is %s in HAProxy (%s): bring it "
                                        "back UP, or run codebolt-upgrade cluster leave on it, before a "
                                        "roll.",
                                        h->id,
                                        c->lb_backend,
                                        h->member.server,
                                        stat.status,
                                        *socket);
                                return 2;
                        }
                }
        }
        return 0;
}

static bool snapshot_has_member(const ClusterSnapshot *snap) {
        for (size_t i = 0; i < snap->n_hosts; i++)
                if (snap->hosts[i].has_member)
                        return true;
        return false;
}

static int new_roll_id(char **ret) {
        sd_id128_t id;
        char s[SD_ID128_STRING_MAX];
        int r;

        r = sd_id128_randomize(&id);
        if (r < 0)
                return r;
        sd_id128_to_string(id, s);
        s[12] = 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int cluster_start(int argc, char *argv[], void *userdata) {
        const Config *c = userdata;
        const char *version = argv[1];
        _cleanup_cluster_store_ ClusterStore *s = NULL;
        _cleanup_(cluster_snapshot_done) ClusterSnapshot snap = {};
        _cleanup_free_ char *from = NULL, *error = NULL, *refusal = NULL, *id = NULL, *started = NULL;
        _cleanup_json_ cJSON *extra = NULL;
        ClusterRoll roll;
        int r;

        r = cli_require_exact_version(version);
        if (r < 0)
                return r;
        r = membership_running_version(&from);
        if (r < 0)
                return r;
        r = open_store(c, &s);
        if (r < 0)
                return r;
        r = cluster_store_snapshot(s, &snap, &error);
        if (r < 0)
                return refused_or_failed(r, error);

        /* the gates, in the order an operator fixes them */
        r = roll_gate(c, from, version, arg_coordinated);
        if (r != 0)
                return r;
        if (!snapshot_has_member(&snap)) {
                log_error(
                        "Refused: no host has joined cluster %s: run codebolt-upgrade cluster join on each "
                        "member first.",
                        s->cluster);
                return 2;
        }
        r = cluster_roll_may_replace(snap.has_roll ? &snap.roll : NULL, &refusal);
        if (r < 0)
                return log_oom();
        if (r == 0) {
                log_error("Refused: %s.", strempty(refusal));
                return 2;
        }

        r = members_gate(c, &snap);
        if (r != 0)
                return r;

        r = new_roll_id(&id);
        if (r < 0)
                return log_error_errno(r, "Failed to make a roll id: %m");
        started = current_timestamp();
        /* the roll document has no key for it: kept beside the known ones for the follower to read */
        extra = cJSON_CreateObject();
        if (!started || !extra || !cJSON_AddBoolToObject(extra, "auto_revert", arg_auto_revert))
                return log_oom();
        roll = (ClusterRoll){ .id = id,
                              .from = from,
                              .to = (char *)version,
                              .mode = arg_coordinated ? CLUSTER_MODE_COORDINATED : CLUSTER_MODE_ROLLING,
                              .state = CLUSTER_ROLL_ROLLING,
                              .started = started,
                              .by = s->host_id,
                              .extra = extra };
        free(error);
        error = NULL;
        r = cluster_store_roll_start(s, &roll, &error);
        if (r < 0)
                return refused_or_failed(r, error);
        if (r > 0)
                roll_notify(c, "roll-started", &roll, NULL, 0);
        printf("Roll %s: %s → %s (%s%s) started in cluster %s.\n"
               "The members that run codebolt-upgrade-cluster.service start their upgrade now, %s; on a "
               "member without it: systemctl start codebolt-upgrade@%s.\n",
               id,
               from,
               version,
               cluster_mode_to_string(roll.mode),
               arg_auto_revert ? ", auto-revert" : "",
               s->cluster,
               arg_coordinated ? "all at once: every member stops, one migrates behind a snapshot, then "
                                 "all start"
                               : "one at a time through the slot",
               version);
        return 0;
}

/* ---- pause, resume, abort ---- */

static int roll_change(const Config *c, ClusterRollOp op) {
        _cleanup_cluster_store_ ClusterStore *s = NULL;
        _cleanup_(cluster_roll_done) ClusterRoll roll = {};
        _cleanup_free_ char *error = NULL;
        int r;

        r = open_store(c, &s);
        if (r < 0)
                return r;
        r = cluster_store_roll_change(s, op, NULL, &roll, &error);
        if (r < 0)
                return refused_or_failed(r, error);
        if (r > 0 && roll.state == CLUSTER_ROLL_PAUSED)
                roll_notify(c, "roll-paused", &roll, NULL, 0);
        printf("Roll %s to %s %s %s.\n",
               roll.id,
               roll.to,
               r > 0 ? "is now" : "was already",
               cluster_roll_state_to_string(roll.state));
        return 0;
}

static int cluster_pause(int argc, char *argv[], void *userdata) {
        return roll_change(userdata, CLUSTER_ROLL_OP_PAUSE);
}

static int cluster_resume(int argc, char *argv[], void *userdata) {
        return roll_change(userdata, CLUSTER_ROLL_OP_RESUME);
}

static int cluster_abort(int argc, char *argv[], void *userdata) {
        return roll_change(userdata, CLUSTER_ROLL_OP_ABORT);
}

/* ---- unlock, join, leave ---- */

static int cluster_unlock(int argc, char *argv[], void *userdata) {
        _cleanup_cluster_store_ ClusterStore *s = NULL;
        _cleanup_free_ char *error = NULL;
        const char *host = argv[1];
        int r;

        if (!cluster_host_id_is_valid(host)) {
                log_error("'%s' is not a host id.", host);
                return 2;
        }
        r = open_store(userdata, &s);
        if (r < 0)
                return r;
        r = cluster_store_sem_release(s, host, &error);
        if (r < 0)
                return refused_or_failed(r, error);
        if (r == CLUSTER_SEM_RELEASED)
                printf("Released the slot of %s in cluster %s.\n", host, s->cluster);
        else
                printf("%s held no slot in cluster %s: nothing to release.\n", host, s->cluster);
        return 0;
}

static int cluster_join(int argc, char *argv[], void *userdata) {
        const Config *c = userdata;
        _cleanup_cluster_store_ ClusterStore *s = NULL;
        _cleanup_(cluster_member_done) ClusterMember m = {};
        _cleanup_free_ char *error = NULL;
        int r;

        r = membership_self(c, &m);
        if (r < 0)
                return r;
        r = open_store(c, &s);
        if (r < 0)
                return r;
        r = cluster_store_join(s, &m, &error);
        if (r < 0)
                return refused_or_failed(r, error);
        printf("%s joined cluster %s as %s (server %s, version %s).\n",
               m.hostname,
               s->cluster,
               s->host_id,
               m.server,
               m.version);
        return 0;
}

static int cluster_leave(int argc, char *argv[], void *userdata) {
        _cleanup_cluster_store_ ClusterStore *s = NULL;
        _cleanup_(cluster_roll_done) ClusterRoll roll = {};
        _cleanup_strv_free_ char **members = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        r = open_store(userdata, &s);
        if (r < 0)
                return r;
        r = cluster_store_leave(s, &error);
        if (r < 0)
                return refused_or_failed(r, error);
        if (r == 0) {
                printf("%s was no member of cluster %s.\n", s->host_id, s->cluster);
                return 0;
        }
        printf("%s left cluster %s.\n", s->host_id, s->cluster);

        /* the member list shrank: a rolling roll that waited only for this host is done */
        r = cluster_store_member_ids(s, &members, &error);
        if (r >= 0)
                r = cluster_store_roll_change(s, CLUSTER_ROLL_OP_COMPLETE, members, &roll, &error);
        if (r > 0)
                printf("Every member left is upgraded: roll %s to %s is done.\n", roll.id, roll.to);
        if (r < 0 && r != -ENOENT && r != -EPERM)
                log_warning_errno(
                        r, "Left, but could not tell whether the roll is done now: %s.", strempty(error));
        return 0;
}

static const Verb cluster_verbs[] = {
        { "status", 1, 1, 0, cluster_status },
        { "start", 2, 2, 0, cluster_start },
        { "pause", 1, 1, 0, cluster_pause },
        { "resume", 1, 1, 0, cluster_resume },
        { "abort", 1, 1, 0, cluster_abort },
        { "unlock", 2, 2, 0, cluster_unlock },
        { "join", 1, 1, 0, cluster_join },
        { "leave", 1, 1, 0, cluster_leave },
        {},
};

int verb_cluster(int argc, char *argv[], void *userdata) {
        const Config *c = userdata;
        _cleanup_free_ char *error = NULL;
        int r, result;

        if (!config_cluster_enabled(c)) {
                log_error("This host is in no cluster: [Cluster] Name= and Etcd= are unset (see "
                          "codebolt-upgrade.conf(5)).");
                return 2;
        }
        r = verbs_dispatch(cluster_verbs, argc - 1, argv + 1, userdata, &result, &error);
        if (r < 0) {
                log_error(
                        "%s; usage: codebolt-upgrade cluster status [--json] [--follow] | start VERSION "
                        "[--coordinated] "
                        "[--auto-revert] | pause | resume | abort | unlock HOST | join | leave",
                        strempty(error));
                return 2;
        }
        return result;
}
