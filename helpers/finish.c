/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* finish: write the ledger and its public export, close the upgrade, prune beyond retention */
#define _GNU_SOURCE
#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>

#include "balancer.h"
#include "roll.h"
#include "bus.h"
#include "checks.h"
#include "events.h"
#include "helper.h"
#include "prune.h"
#include "current.h"
#include "hooks.h"
#include "inhibitor.h"
#include "json-util.h"
#include "ledger.h"
#include "log.h"
#include "macro.h"
#include "message-ids.h"
#include "paths.h"
#include "retention.h"
#include "spawn.h"
#include "state.h"
#include "strv.h"
#include "unitname.h"
#include "watchstate.h"

/* the keys of current.json that the ledger keeps */
static const uint64_t carried = CURRENT_KEY_BIT(CURRENT_ID) | CURRENT_KEY_BIT(CURRENT_FROM) |
                                CURRENT_KEY_BIT(CURRENT_TO) | CURRENT_KEY_BIT(CURRENT_STARTED) |
                                CURRENT_KEY_BIT(CURRENT_BACKUP) | CURRENT_KEY_BIT(CURRENT_SNAPSHOT) |
                                CURRENT_KEY_BIT(CURRENT_FINAL_DUMP) | CURRENT_KEY_BIT(CURRENT_MIGRATIONS) |
                                CURRENT_KEY_BIT(CURRENT_TREE) | CURRENT_KEY_BIT(CURRENT_STOPPED_AT) |
                                CURRENT_KEY_BIT(CURRENT_BASELINE) | CURRENT_KEY_BIT(CURRENT_CLUSTER_ROLL) |
                                CURRENT_KEY_BIT(CURRENT_DELTA_FILE) | CURRENT_KEY_BIT(CURRENT_PHASE_SECONDS);

/* place: this host's place in its cluster roll (1, 2, …), 0 when none or unknown */
static int make_entry(const Current *current, int place, cJSON **ret) {
        _cleanup_json_ cJSON *e = NULL;
        _cleanup_free_ char *now = current_timestamp();
        usec_t stopped, finished;
        int r;

        if (!now)
                return -ENOMEM;
        r = current_to_json_keys(current, carried, &e);
        if (r < 0)
                return r;
        /* the downtime, from the stop to now (the server passed its smoke test): the next upgrade's
         * announcement estimates from it */
        if (checks_parse_timestamp(current->stopped_at, &stopped) >= 0 &&
            checks_parse_timestamp(now, &finished) >= 0 && finished >= stopped &&
            !cJSON_AddNumberToObject(e, "downtime_seconds", (double)((finished - stopped) / USEC_PER_SEC)))
                return -ENOMEM;
        if (!cJSON_AddStringToObject(e, "result", "succeeded") ||
            !cJSON_AddStringToObject(e, "phase", "finish") || !cJSON_AddStringToObject(e, "finished", now) ||
            !cJSON_AddStringToObject(e, "smoke", "passed") ||
            !cJSON_AddStringToObject(e, "watch", "running"))
                return -ENOMEM;
        if (place > 0 && !cJSON_AddNumberToObject(e, "cluster_place", place))
                return -ENOMEM;
        *ret = TAKE_PTR(e);
        return 0;
}

/* Backups beyond [Backup] Keep=, oldest first. The directory names start with a UTC timestamp, so
 * their order is their age. A ".partial" leftover of a crashed backup is never good: it goes too. */
static void prune_backups(Helper *h) {
        _cleanup_free_ char *base = paths_rooted(h->config.backup_directory);
        _cleanup_strv_free_ char **names = NULL;
        const char *keep_path = h->current.backup;
        size_t n, good = 0;
        DIR *d;

        if (!base || !(d = opendir(base)))
                return;
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_name[0] == '.' || de->d_type != DT_DIR)
                        continue;
                if (strv_push(&names, de->d_name) < 0) {
                        /* a partial list could make a newer backup look like one of the oldest */
                        closedir(d);
                        log_warning("Out of memory while listing %s: no backup pruned this time.", base);
                        return;
                }
        }
        closedir(d);
        n = strv_length(names);
        if (n == 0)
                return;
        strv_sort(names, n);

        for (size_t i = 0; i < n; i++)
                if (!strstr(names[i], ".partial"))
                        good++;

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;
                bool partial = strstr(names[i], ".partial");
                int status = 0;

                if (asprintf(&path, "%s/%s", base, names[i]) < 0)
                        return;
                if (streq_ptr(path, keep_path))
                        continue;
                if (!partial) {
                        if (good <= h->config.backup_keep)
                                continue;
                        good--;
                }
                log_info("Removing backup %s (beyond Keep=%u).", path, h->config.backup_keep);
                char *argv[] = { (char *)"rm", (char *)"-rf", (char *)"--one-file-system", path, NULL };
                SpawnOptions o = { .phase = "finish" };
                if (spawn_run(argv, &o, &status) < 0 || status != 0)
                        log_warning("Failed to remove backup %s; remove it by hand.", path);
        }
}

/* Snapshots and releases beyond retention (retention.h), after the backups: the same decisions as
 * `codebolt-upgrade clean`, which alone drops the failed databases (a human's post-mortem). The upgrade
 * succeeded already: a failure here is a warning, and clean tries again. */
static void prune_retention(Helper *h) {
        _cleanup_(helper_retention_done) HelperRetention g = {};
        _cleanup_(retention_plan_done) RetentionPlan plan = {};
        _cleanup_free_ char *error = NULL;
        int r;

        /* under the lock: current.json is read again, an upgrade may have begun since */
        r = helper_lock(h);
        if (r < 0) {
                log_warning_errno(r, "Not pruning snapshots and releases: cannot take the state lock: %m");
                return;
        }
        r = helper_retention_gather(&h->config, &g, &error);
        if (r >= 0)
                r = retention_plan(&g.input, &plan);
        if (r < 0) {
                log_warning_errno(r, "Not pruning snapshots and releases: %s", error ?: strerror(-r));
                helper_unlock(h);
                return;
        }
        for (size_t i = 0; i < plan.n; i++) {
                const RetentionItem *item = &plan.items[i];

                if (!item->drop || (item->kind != RETENTION_SNAPSHOT && item->kind != RETENTION_RELEASE))
                        continue;
                log_info(
                        "Removing the %s %s: %s.",
                        retention_kind_to_string(item->kind),
                        item->name,
                        item->reason);
                free(error);
                error = NULL;
                r = helper_retention_remove(&h->config, item, "finish", &error);
                if (r < 0)
                        log_warning_errno(
                                r,
                                "Failed to remove the %s %s (codebolt-upgrade clean tries again): %s",
                                retention_kind_to_string(item->kind),
                                item->name,
                                error ?: strerror(-r));
        }
        helper_unlock(h);
}

/* The watch after this upgrade (watchstate.h), under the state lock: a watch still running for an
 * earlier upgrade ends (its verdict so far goes to its ledger entry), and watch.json starts anew with
 * the baseline backup took. */
static int arm_watch(Helper *h) {
        _cleanup_json_ cJSON *old = NULL, *w = cJSON_CreateObject();
        _cleanup_free_ char *now = current_timestamp(),
                            *period = checks_format_duration(h->config.watch_period),
                            *interval = checks_format_duration(h->config.watch_interval), *why = NULL,
                            *restore = NULL;
        const cJSON *baseline = h->current.baseline;

        if (!w || !now || !period || !interval || current_restore_reason(&h->current, &restore) < 0)
                return -ENOMEM;
        if (watch_load(h->config.deployment, &old) >= 0 &&
            streq_ptr(json_get_string(old, "state"), "running") &&
            !streq_ptr(json_get_string(old, "id"), h->current.id)) {
                if (asprintf(&why, "the upgrade to %s took its place", h->version) < 0)
                        return -ENOMEM;
                (void)watch_end(&h->config, old, why);
        }
        if (!cJSON_AddStringToObject(w, "version", h->version) ||
            !cJSON_AddStringToObject(w, "instance", h->instance) ||
            !cJSON_AddStringToObject(w, "id", strempty(h->current.id)) ||
            !cJSON_AddStringToObject(w, "from", strempty(h->current.from)) ||
            (restore && !cJSON_AddStringToObject(w, "restore_reason", restore)) ||
            !cJSON_AddStringToObject(w, "started", now) ||
            !cJSON_AddNumberToObject(w, "period_seconds", (double)(h->config.watch_period / USEC_PER_SEC)) ||
            !cJSON_AddNumberToObject(
                    w, "interval_seconds", (double)(h->config.watch_interval / USEC_PER_SEC)) ||
            !cJSON_AddStringToObject(w, "period", period) ||
            !cJSON_AddStringToObject(w, "interval", interval) ||
            !cJSON_AddStringToObject(w, "elapsed", "0") || !cJSON_AddStringToObject(w, "state", "running") ||
            !cJSON_AddItemToObject(
                    w, "baseline", baseline ? cJSON_Duplicate(baseline, true) : cJSON_CreateObject()) ||
            !cJSON_AddArrayToObject(w, "samples"))
                return -ENOMEM;
        return watch_save(h->config.deployment, w);
}

/* enabled, the timer starts again at boot: a reboot does not end the watch */
static void start_watch_timer(Helper *h) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *timer = NULL, *result = NULL, *error = NULL, *period = NULL, *interval = NULL;
        int r;

        if (unitname_deployment_name(
                    "codebolt-upgrade-watch", h->config.deployment, h->instance, ".timer", &timer) < 0) {
                log_oom();
                return;
        }
        r = bus_open_system(&bus);
        if (r >= 0)
                r = watch_timer_enable(bus, h->config.deployment, timer, true);
        if (r >= 0)
                r = bus_start_unit(bus, timer, USEC_INFINITY, &result, &error);
        if (r >= 0)
                r = bus_job_result_to_errno(result);
        if (r < 0) {
                log_warning_errno(
                        r,
                        "Failed to start the watch (%s): %s. The upgrade itself succeeded.",
                        timer,
                        error ?: strerror(-r));
                if (helper_lock(h) >= 0) {
                        (void)watch_ledger_set(
                                &h->config, h->current.id, "not watched", error ?: strerror(-r));
                        helper_unlock(h);
                }
                return;
        }
        period = checks_format_duration(h->config.watch_period);
        interval = checks_format_duration(h->config.watch_interval);
        log_info(
                "Watching %s for %s, every %s (%s): codebolt-upgrade status shows it.",
                h->version,
                strempty(period),
                strempty(interval),
                timer);
}

static int run(Helper *h) {
        _cleanup_json_ cJSON *entry = NULL, *ledger = NULL, *succeeded = NULL;
        _cleanup_free_ char *from_field = NULL, *message = NULL;
        int place, r;

        /* the new version passed its smoke test: the balancer may send it sessions again */
        if (h->current.lb_drained) {
                r = balancer_take_back(&h->config);
                if (r < 0)
                        return r;
        }
        /* a host of a cluster roll proves itself under load before the next one goes (not when the boot
         * recovery finishes it: the server starts after) */
        r = h->for_rollback ? 0 : roll_soak(h);
        if (r < 0) {
                /* the rollback stops this server: out of the balancer first, as drain had it */
                if (h->current.lb_drained)
                        (void)balancer_take_out(h);
                return r;
        }
        /* the roll counts this host as upgraded and the next one may take the slot */
        place = roll_record(&h->config, &h->current, ROLL_RECORD_UPGRADED);

        log_status("finish: recording the upgrade to %s", h->version);

        r = helper_lock(h);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to take the state lock of deployment %s: %m", h->config.deployment);

        /* finish's own time until the ledger entry; what follows (the watch, pruning) is after it */
        if (current_set_phase_seconds(&h->current, "finish", helper_seconds(h)) < 0)
                return log_oom();
        r = make_entry(&h->current, place, &entry);
        if (r < 0)
                return log_oom();
        r = ledger_append(h->config.deployment, TAKE_PTR(entry));
        if (r < 0)
                return log_error_errno(
                        r, "Failed to write the ledger of deployment %s: %m", h->config.deployment);

        /* the export serves another host's staging gate; the upgrade itself is complete */
        r = ledger_load(h->config.deployment, &ledger);
        if (r >= 0)
                helper_export_ledger(&h->config, ledger);
        else
                log_warning_errno(r, "Failed to read the ledger back for its export: %m");

        r = arm_watch(h);
        if (r < 0)
                log_warning_errno(
                        r,
                        "Failed to write watch.json of deployment %s: no watch after this upgrade: %m",
                        h->config.deployment);

        r = current_remove(h->config.deployment);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to remove current.json of deployment %s: %m", h->config.deployment);
        helper_unlock(h);
        start_watch_timer(h);

        /* drain's shutdown inhibitor ends with its holder */
        if (h->current.inhibitor_pid >= 2)
                (void)inhibitor_release(h->current.inhibitor_pid);

        if (asprintf(&from_field, "CODEBOLT_UPGRADE_FROM=%s", strempty(h->current.from)) < 0)
                return log_oom();
        if (asprintf(
                    &message,
                    "Codebolt deployment %s now runs %s (upgraded from %s). Users may update their desktop "
                    "apps and CLIs.",
                    h->config.deployment,
                    h->version,
                    strempty(h->current.from)) < 0)
                return log_oom();
        log_event(LOG_NOTICE, MESSAGE_UPGRADE_SUCCEEDED, (char *[]){ from_field, NULL }, "%s", message);
        log_status("finish: %s is running", h->version);

        succeeded = cJSON_CreateObject();
        if (succeeded && cJSON_AddStringToObject(succeeded, "message", message))
                helper_notify(h, "succeeded", succeeded);
        else
                log_warning("Out of memory: not sending the succeeded notification.");

        /* the upgrade has succeeded: a failing hook is a warning, never a rollback. Not when the boot
         * recovery finishes it (--rollback): the server's start waits for that, the hooks would find it
         * down */
        if (!h->for_rollback)
                (void)helper_run_hooks(h, HOOKS_POST_UPGRADE, NULL, NULL);
        else
                log_notice("Not running the post-upgrade.d hooks: the upgrade was finished at boot.");

        prune_backups(h);
        prune_retention(h);
        return 0;
}

int main(int argc, char *argv[]) {
        return helper_main(argc, argv, "finish", HELPER_ENDS_UPGRADE, run);
}
