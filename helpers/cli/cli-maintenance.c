/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cli-maintenance.c: `codebolt-upgrade clean`, `pin`, `hold` and `unhold` */
#define _GNU_SOURCE

#include <fcntl.h>
#include <string.h>

#include "backup-manifest.h"
#include "cli.h"
#include "credentials.h"
#include "pg.h"
#include "pg-slot.h"
#include "hold-file.h"
#include "prune.h"
#include "current.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "metrics-file.h"
#include "paths.h"
#include "release.h"
#include "retention.h"
#include "state.h"
#include "unitname.h"

/* "the release 1.5.4 (/opt/codebolt/releases/1.5.4)", "the snapshot codebolt_pre_…" */
static char *clean_label(const RetentionItem *item) {
        _cleanup_free_ char *path = NULL;
        char *s;

        if (item->kind == RETENTION_RELEASE && !(path = paths_release_dir(item->name)))
                return NULL;
        if (asprintf(
                    &s,
                    "the %s %s%s%s%s",
                    retention_kind_to_string(item->kind),
                    item->name,
                    path ? " (" : "",
                    strempty(path),
                    path ? ")" : "") < 0)
                return NULL;
        return s;
}

/* Snapshot=delta's replication slots that no upgrade in flight needs: listed, and dropped unless
 * --dry-run; *ret_listed and *ret_failed count them */
static int clean_delta_slots(
        const Config *c, const Current *current, size_t *ret_listed, size_t *ret_failed) {
        _cleanup_json_ cJSON *slots = NULL;
        _cleanup_free_ char *error = NULL;
        const cJSON *s;
        PgTarget t;
        int r;

        r = cli_delta_slots(c, &slots, &error);
        if (r < 0) {
                fflush(stdout);
                log_warning_errno(
                        r, "Cannot look for leftover replication slots: %s", error ?: strerror(-r));
                return 0;
        }
        if (helper_pg_target_config(c, c->db_name, &t) < 0)
                return log_oom();
        cJSON_ArrayForEach (s, slots) {
                const char *name = json_get_string(s, "slot");

                if (cli_delta_slot_in_use(current, name)) {
                        printf("  keep  %s (replication slot): the upgrade in flight reads it at the stop\n",
                               name);
                        continue;
                }
                printf("  drop  %s (replication slot, %s of WAL held): left behind\n",
                       name,
                       cli_str_or(s, "wal", "?"));
                (*ret_listed)++;
                if (arg_dry_run)
                        continue;
                free(error);
                error = NULL;
                r = pg_slot_drop(&t, name, &error);
                if (r < 0) {
                        fflush(stdout);
                        log_error_errno(
                                r,
                                "Failed to drop the replication slot %s: %s",
                                name,
                                error ?: strerror(-r));
                        (*ret_failed)++;
                } else
                        printf("Dropped the replication slot %s.\n", name);
        }
        return 0;
}

/* drop the failed databases and the snapshots and releases beyond retention (retention.h), and
 * Snapshot=delta's leftover replication slots, after listing them with the reason; --dry-run only
 * lists */
int verb_clean(int argc, char *argv[], void *userdata) {
        const Config *c = userdata;
        _cleanup_(helper_retention_done) HelperRetention g = {};
        _cleanup_(retention_plan_done) RetentionPlan plan = {};
        _cleanup_free_ char *error = NULL;
        _cleanup_close_ int lock_fd = -EBADF;
        _cleanup_(current_done) Current current = {};
        size_t listed = 0, failed = 0, slots_listed = 0, slots_failed = 0;
        int r, in_flight;

        /* held throughout: no upgrade begins, and none in flight moves on, between deciding and dropping */
        r = cli_lock_and_load(c, &lock_fd, NULL, &current);
        if (r < 0)
                return r;
        in_flight = r;
        r = helper_retention_gather(c, &g, &error);
        if (r < 0)
                return log_error_errno(
                        r,
                        "Failed to look at what deployment %s keeps: %s",
                        c->deployment,
                        error ?: strerror(-r));
        r = retention_plan(&g.input, &plan);
        if (r < 0)
                return log_error_errno(r, "Failed to decide what may go: %m");

        printf("Deployment %s ([Backup] Keep=%u, database %s):\n",
               c->deployment,
               c->backup_keep,
               c->db_name);
        for (size_t i = 0; i < plan.n; i++) {
                const RetentionItem *item = &plan.items[i];
                _cleanup_free_ char *size = NULL;
                uint64_t bytes = 0;

                if (item->drop) {
                        size = helper_retention_size(c, item, &bytes) >= 0
                                       ? backup_manifest_format_bytes(bytes)
                                       : strdup("size unknown");
                        if (!size)
                                return log_oom();
                        listed++;
                }
                printf("  %s  %s (%s%s%s): %s\n",
                       item->drop ? "drop" : "keep",
                       item->name,
                       retention_kind_to_string(item->kind),
                       size ? ", " : "",
                       strempty(size),
                       item->reason);
        }
        r = clean_delta_slots(c, in_flight > 0 ? &current : NULL, &slots_listed, &slots_failed);
        if (r < 0)
                return r;
        if (listed == 0) {
                printf(slots_listed == 0 ? "Nothing to drop.\n" : "Nothing else to drop.\n");
                return slots_failed > 0 ? -EIO : 0;
        }
        if (arg_dry_run) {
                printf("Dry run: nothing was dropped or removed.\n");
                return 0;
        }

        for (size_t i = 0; i < plan.n; i++) {
                const RetentionItem *item = &plan.items[i];
                _cleanup_free_ char *what = NULL;

                if (!item->drop)
                        continue;
                what = clean_label(item);
                if (!what)
                        return log_oom();
                free(error);
                error = NULL;
                r = helper_retention_remove(c, item, NULL, &error);
                if (r < 0) {
                        /* in order with what was printed so far, when both go to one pipe */
                        fflush(stdout);
                        log_error_errno(
                                r,
                                "Failed to %s %s: %s",
                                item->kind == RETENTION_RELEASE ? "remove" : "drop",
                                what,
                                error ?: strerror(-r));
                        failed++;
                        continue;
                }
                printf("%s %s.\n", item->kind == RETENTION_RELEASE ? "Removed" : "Dropped", what);
        }
        printf("%zu of %zu dropped or removed.\n", listed - failed, listed);
        return failed + slots_failed > 0 ? -EIO : 0;
}

/* `hold [REASON]`: pause the unattended upgrades of the deployment (its auto timer's runs do nothing
 * until `unhold`); a hand `systemctl start codebolt-upgrade@…` is not affected */
int verb_hold(int argc, char *argv[], void *userdata) {
        const Config *c = userdata;
        const char *reason = argc > 1 ? argv[1] : NULL;
        _cleanup_free_ char *path = paths_state_file(c->deployment, "hold.json"),
                            *dir = paths_state_dir(c->deployment), *since = NULL, *old_reason = NULL,
                            *now = current_timestamp();
        _cleanup_json_ cJSON *hold = cJSON_CreateObject();
        _cleanup_close_ int lock_fd = -EBADF;
        int r;

        if (!path || !dir || !now || !hold)
                return log_oom();
        if (reason && (strlen(reason) > 200 || strpbrk(reason, "\n\r")))
                return log_error_errno(
                        EINVAL, "The reason for the hold must be one line of at most 200 characters.");
        r = cli_lock_and_load(c, &lock_fd, NULL, NULL);
        if (r < 0)
                return r;
        r = helper_hold_read(c->deployment, &since, &old_reason);
        if (r < 0)
                return log_error_errno(r, "Failed to read %s: %m", path);
        if (r > 0 && streq_ptr(reason, old_reason)) {
                printf("Unattended upgrades of deployment %s are on hold already (since %s): nothing "
                       "changed.\n",
                       c->deployment,
                       since ?: "?");
                return 0;
        }
        if (!cJSON_AddStringToObject(hold, "since", r > 0 && since ? since : now) ||
            (reason && !cJSON_AddStringToObject(hold, "reason", reason)))
                return log_oom();
        r = paths_mkdir_p(dir, 0700);
        if (r >= 0)
                r = state_write_json_atomic(path, hold, 0644);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", path);
        metrics_update(c);
        printf("Unattended upgrades of deployment %s are on hold%s%s%s: the auto timer's runs do nothing "
               "until codebolt-upgrade%s%s unhold. Upgrades started by hand are not affected.\n",
               c->deployment,
               reason ? " (" : "",
               strempty(reason),
               reason ? ")" : "",
               UNITNAME_DEPLOYMENT_OPTION(c->deployment));
        return 0;
}

/* `unhold`: resume the unattended upgrades */
int verb_unhold(int argc, char *argv[], void *userdata) {
        const Config *c = userdata;
        _cleanup_free_ char *path = paths_state_file(c->deployment, "hold.json");
        _cleanup_close_ int lock_fd = -EBADF;
        int r;

        if (!path)
                return log_oom();
        r = cli_lock_and_load(c, &lock_fd, NULL, NULL);
        if (r < 0)
                return r;
        r = state_unlink(path);
        if (r == -ENOENT) {
                printf("Unattended upgrades of deployment %s are not on hold: nothing changed.\n",
                       c->deployment);
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to remove %s: %m", path);
        metrics_update(c);
        printf("Unattended upgrades of deployment %s resumed: the next run of its auto timer upgrades as "
               "configured.\n",
               c->deployment);
        return 0;
}

/* `pin <version>`: set the pin by hand, under the state lock; never while an upgrade is in flight */
int verb_pin(int argc, char *argv[], void *userdata) {
        const Config *c = userdata;
        const char *version = argv[1];
        _cleanup_free_ char *path = paths_state_file(c->deployment, "pin"),
                            *dir = paths_state_dir(c->deployment), *old = NULL, *content = NULL,
                            *linked = NULL, *installed = NULL, *current_dir = NULL;
        _cleanup_json_ cJSON *pkg = NULL;
        _cleanup_(current_done) Current current = {};
        _cleanup_close_ int lock_fd = -EBADF;
        int r;

        if (!path || !dir)
                return log_oom();
        r = cli_require_exact_version(version);
        if (r < 0)
                return r;

        r = cli_lock_and_load(c, &lock_fd, NULL, &current);
        if (r < 0)
                return r;
        /* a held upgrade is finished by hand, and its instructions set the pin */
        if (r > 0 && !current.held)
                return log_error_errno(
                        EBUSY,
                        "Refusing to pin %s: the upgrade %s → %s is in flight on deployment %s (phase %s), "
                        "and it moves the pin itself. See: codebolt-upgrade status",
                        version,
                        cli_or(current.from, "?"),
                        cli_or(current.to, "?"),
                        c->deployment,
                        cli_or(current.phase, "?"));

        r = state_read_string(path, &old);
        if (r < 0 && r != -ENOENT)
                return log_error_errno(r, "Failed to read %s: %m", path);
        if (streq_ptr(old, version)) {
                printf("Deployment %s is pinned to %s already: nothing changed.\n", c->deployment, version);
                return 0;
        }
        if (asprintf(&content, "%s\n", version) < 0)
                return log_oom();
        r = paths_mkdir_p(dir, 0700);
        if (r >= 0)
                r = state_write_string_atomic(path, content, 0644);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", path);
        if (old)
                printf("Deployment %s is pinned to %s now (it was pinned to %s).\n",
                       c->deployment,
                       version,
                       old);
        else
                printf("Deployment %s is pinned to %s now (it had no pin).\n", c->deployment, version);

        /* what the server's start condition will find */
        (void)release_current_version(&linked);
        current_dir = paths_current_link();
        if (current_dir && release_package_json(current_dir, c->package, &pkg) >= 0 &&
            json_get_string(pkg, "version"))
                installed = strdup(json_get_string(pkg, "version"));
        if (!streq_ptr(installed ?: linked, version))
                printf("Note: the installed version is %s: with [Policy] EnforcePin=%s, %s %s until it is %s.\n",
                       installed ?: linked ?: "unknown",
                       config_enforce_pin_to_string(c->enforce_pin),
                       c->server_unit,
                       c->enforce_pin == ENFORCE_PIN_YES ? "does not start"
                       : c->enforce_pin == ENFORCE_PIN_WARN ? "starts with a warning"
                                                             : "starts",
                       version);
        return 0;
}
