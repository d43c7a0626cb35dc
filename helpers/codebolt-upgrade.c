/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* codebolt-upgrade: the operator's command: status and history of the upgrades of a deployment */
#define _GNU_SOURCE
#include <getopt.h>
#include <syslog.h>
#include <time.h>

#include <fcntl.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-journal.h>

#include "backup-manifest.h"
#include "bus.h"
#include "helper.h"
#include "hold-file.h"
#include "prune.h"
#include "config.h"
#include "current.h"
#include "json-util.h"
#include "ledger.h"
#include "lock.h"
#include "log.h"
#include "macro.h"
#include "maystart.h"
#include "paths.h"
#include "watchstate.h"
#include "plan.h"
#include "release.h"
#include "retention.h"
#include "semver.h"
#include "state.h"
#include "unitname.h"

static bool arg_json = false;
static bool arg_discard_since = false;
static bool arg_dry_run = false;
static const char *arg_deployment = NULL;

static const char *str_or(const cJSON *o, const char *key, const char *fallback) {
        const char *s = json_get_string(o, key);
        return s && *s ? s : fallback;
}

static void print_migrations(const cJSON *migrations) {
        const cJSON *m;

        cJSON_ArrayForEach (m, migrations)
                printf("    %-9s %s%s\n",
                       str_or(m, "state", "?"),
                       str_or(m, "id", "?"),
                       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "breaking")) ? " (breaking)" : "");
}

/* the server unit's state over D-Bus ("active (running)"), or NULL when it cannot be asked */
static char *server_state(const Config *c) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *active = NULL, *sub = NULL;
        char *s;

        if (bus_open_system(&bus) < 0 || bus_unit_get_state(bus, c->server_unit, &active, &sub) < 0 ||
            asprintf(&s, "%s (%s)", active, sub) < 0)
                return NULL;
        return s;
}

/* an exact version, or -EINVAL with the rule it breaks logged */
static int require_exact_version(const char *version) {
        SemVer v = {};
        int r;

        r = semver_parse(version, &v);
        semver_done(&v);
        if (r < 0)
                return log_error_errno(EINVAL, "Refusing '%s': %s.", version, semver_why_invalid(version));
        return 0;
}

/* the deployment's state lock (docs/architecture.md, "State on disk"), waited for */
static int take_state_lock(const Config *c, int *ret_fd) {
        int r;

        r = lock_acquire_deployment(c->deployment, true, ret_fd);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to take the state lock of deployment %s: %m", c->deployment);
        return 0;
}

/* one line when `codebolt-upgrade hold` paused the unattended upgrades */
static void show_hold(const Config *c) {
        _cleanup_free_ char *since = NULL, *reason = NULL;
        int r;

        r = helper_hold_read(c->deployment, &since, &reason);
        if (r < 0)
                log_warning_errno(r, "Failed to read the hold of deployment %s: %m", c->deployment);
        if (r <= 0)
                return;
        printf("Auto:      on hold since %s%s%s%s (codebolt-upgrade%s%s unhold resumes it)\n",
               since ?: "?",
               reason ? " (" : "",
               strempty(reason),
               reason ? ")" : "",
               UNITNAME_DEPLOYMENT_OPTION(c->deployment));
}

static int show_running(const Config *c) {
        _cleanup_free_ char *running = NULL, *pin = NULL, *pin_path = paths_state_file(c->deployment, "pin"),
                            *state = server_state(c);

        if (!pin_path)
                return log_oom();
        (void)release_current_version(&running);
        (void)state_read_string(pin_path, &pin);
        printf("Installed: %s (pin: %s)\n",
               running ?: "unknown: the current link is not a release link",
               pin ?: "none");
        if (!running)
                printf("           (%s/current should point at releases/<version>)\n", paths_install_root());
        if (state)
                printf("Server:    %s is %s\n", c->server_unit, state);
        show_hold(c);
        return 0;
}

/* "codebolt-<kind>[-<deployment>]@<instance>.service" */
static char *deployment_unit(const Config *c, const char *kind, const char *instance) {
        char *unit;

        return unitname_deployment_unit(kind, c->deployment, instance, &unit) < 0 ? NULL : unit;
}

/* the unit that works on the upgrade in flight now (the upgrade's or its rollback's), or NULL when none
 * does: it was interrupted (a kill, a power cut) and waits for a rollback run or the next boot */
static char *working_unit(const Config *c, const cJSON *current) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const char *instance = str_or(current, "instance", "?");
        char *units[] = { deployment_unit(c, "upgrade", instance),
                          deployment_unit(c, "rollback", instance) };
        char *found = NULL;

        if (bus_open_system(&bus) >= 0)
                for (size_t i = 0; i < ELEMENTSOF(units) && !found; i++) {
                        _cleanup_free_ char *active = NULL, *sub = NULL;
                        if (units[i] && bus_unit_get_state(bus, units[i], &active, &sub) >= 0 &&
                            (streq(active, "activating") || streq(active, "active") ||
                             streq(active, "deactivating") || streq(active, "reloading")))
                                found = TAKE_PTR(units[i]);
                }
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                free(units[i]);
        return found;
}

/* a held upgrade: what happened, what state things are in, and the commands that finish it by hand */
static int show_held(const Config *c, const cJSON *current) {
        const char *from = str_or(current, "from", "?"), *to = str_or(current, "to", "?");
        const char *snapshot = json_get_string(current, "snapshot");
        const char *failed_db = json_get_string(current, "failed_database");
        const char *backup = json_get_string(current, "backup");
        int step = 1;

        printf("HELD:     the upgrade %s → %s failed in phase %s, and its rollback stopped short:\n"
               "          %s\n"
               "          Nothing more happens on its own: no upgrade or rollback runs until you finish by "
               "hand.\n",
               from,
               to,
               str_or(current, "rollback_from_phase", str_or(current, "phase", "?")),
               str_or(current, "held_reason", "the reason is in: journalctl -u codebolt-rollback@*"));
        if (backup)
                printf("  Backup:   %s (verified before the upgrade stopped the server)\n", backup);
        if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(current, "migrations")) > 0) {
                printf("  Migrations of %s:\n", to);
                print_migrations(cJSON_GetObjectItemCaseSensitive(current, "migrations"));
        }
        if (json_get_string(current, "held_instructions")) {
                printf("\nTo finish by hand:\n%s\n", json_get_string(current, "held_instructions"));
                printf("Then: codebolt-upgrade clear %s   (closes the held upgrade)\n", to);
                return 0;
        }
        printf("\nTo finish by hand:\n");
        printf("  %d. systemctl stop %s\n", step++, c->server_unit);
        if (failed_db)
                printf("  %d. the database was already put back from the snapshot; %s holds the failed "
                       "one\n",
                       step++,
                       failed_db);
        else if (snapshot)
                printf("  %d. if %s's data must be put back: as %s, ALTER DATABASE %s RENAME TO %s_failed; "
                       "ALTER DATABASE %s RENAME TO %s\n",
                       step++,
                       to,
                       c->db_os_user,
                       c->db_name,
                       c->db_name,
                       snapshot,
                       c->db_name);
        else if (backup)
                printf("  %d. if %s's data must be put back: pg_restore into a new database from "
                       "%s/database.dump\n",
                       step++,
                       to,
                       backup);
        if (backup)
                printf("  %d. put every store back: rsync -a --delete %s/stores/<store>/ <store>/\n",
                       step++,
                       backup);
        printf("  %d. ln -sfn releases/%s %s/current; echo %s > "
               "/var/lib/codebolt-upgrade/%s/pin\n",
               step++,
               from,
               paths_install_root(),
               from,
               c->deployment);
        printf("  %d. systemctl start %s, and check it: curl http://127.0.0.1:%u/health\n",
               step++,
               c->server_unit,
               c->port);
        printf("  %d. codebolt-upgrade clear %s   (closes the held upgrade; %s stays marked failed until "
               "then)\n",
               step,
               to,
               to);
        return 0;
}

static int verb_status(const Config *c) {
        _cleanup_json_ cJSON *current = NULL, *ledger = NULL, *watch = NULL;
        const cJSON *last;
        int r;

        r = watch_load(c->deployment, &watch);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Failed to read watch.json of deployment %s: %m", c->deployment);

        r = current_load(c->deployment, &current);
        if (r < 0 && r != -ENOENT)
                return log_error_errno(r, "Failed to read current.json of deployment %s: %m", c->deployment);
        r = ledger_load(c->deployment, &ledger);
        if (r < 0)
                return log_error_errno(r, "Failed to read the ledger of deployment %s: %m", c->deployment);
        last = ledger_last(ledger);

        if (arg_json) {
                _cleanup_json_ cJSON *o = cJSON_CreateObject();
                _cleanup_free_ char *s = NULL;
                if (!o || !cJSON_AddStringToObject(o, "deployment", c->deployment) ||
                    !cJSON_AddItemToObject(
                            o, "in_flight", current ? cJSON_Duplicate(current, true) : cJSON_CreateNull()) ||
                    !cJSON_AddItemToObject(
                            o, "last", last ? cJSON_Duplicate(last, true) : cJSON_CreateNull()) ||
                    !cJSON_AddItemToObject(
                            o, "watch", watch ? cJSON_Duplicate(watch, true) : cJSON_CreateNull()))
                        return log_oom();
                s = cJSON_Print(o);
                if (!s)
                        return log_oom();
                puts(s);
                return 0;
        }

        printf("Deployment: %s (%s)\n", c->deployment, c->server_unit);
        show_running(c);
        if (current && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(current, "held")))
                return show_held(c, current);
        if (current) {
                _cleanup_free_ char *working = NULL, *rollback_unit = NULL;
                const char *instance = str_or(current, "instance", "?");
                printf("In flight: %s %s → %s, phase %s (started %s, last update %s)\n",
                       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(current, "late"))
                               ? "late rollback (after it succeeded) of the upgrade"
                               : "upgrade",
                       str_or(current, "from", "?"),
                       str_or(current, "to", "?"),
                       str_or(current, "phase", "?"),
                       str_or(current, "started", "?"),
                       str_or(current, "updated", "?"));
                if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(current, "server_stopped")))
                        printf("          the server was stopped for it\n");
                if (json_get_string(current, "backup"))
                        printf("  Backup:   %s\n", json_get_string(current, "backup"));
                if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(current, "migrations")) > 0) {
                        printf("  Migrations:\n");
                        print_migrations(cJSON_GetObjectItemCaseSensitive(current, "migrations"));
                }
                working = working_unit(c, current);
                rollback_unit = deployment_unit(c, "rollback", instance);
                if (!rollback_unit)
                        return log_oom();
                if (working)
                        printf("  Follow:   journalctl -fu %s\n", working);
                else
                        printf("INTERRUPTED: nothing is working on it now (the %s was killed, or the "
                               "machine "
                               "went down). It is put right at the next boot, or now with:\n"
                               "            systemctl start %s\n"
                               "          (%s; journalctl -u %s says what happened so far)\n",
                               streq(str_or(current, "phase", ""), "rollback") ? "rollback" : "upgrade",
                               rollback_unit,
                               json_get_string(current, "failed_database")
                                       ? "the database swap of its restore may be half done: the rollback "
                                         "finishes it"
                                       : "the rollback table decides what to put back",
                               rollback_unit);
                return 0;
        }
        if (!last) {
                printf("No upgrade has run on this host yet.\n");
                return 0;
        }
        printf("Last:     %s → %s %s (phase %s, finished %s)\n",
               str_or(last, "from", "?"),
               str_or(last, "to", "?"),
               str_or(last, "result", "?"),
               str_or(last, "phase", "?"),
               str_or(last, "finished", "?"));
        if (json_get_string(last, "message"))
                printf("          %s\n", json_get_string(last, "message"));
        if (json_get_string(last, "backup"))
                printf("  Backup:   %s\n", json_get_string(last, "backup"));
        if (json_get_string(last, "snapshot"))
                printf("  Snapshot: database %s\n", json_get_string(last, "snapshot"));
        if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(last, "migrations")) > 0) {
                printf("  Migrations:\n");
                print_migrations(cJSON_GetObjectItemCaseSensitive(last, "migrations"));
        }
        if (watch)
                watch_print_status(c, watch);
        return 0;
}

static int verb_history(const Config *c) {
        _cleanup_json_ cJSON *ledger = NULL;
        const cJSON *e;
        int r;

        r = ledger_load(c->deployment, &ledger);
        if (r < 0)
                return log_error_errno(r, "Failed to read the ledger of deployment %s: %m", c->deployment);

        if (arg_json) {
                _cleanup_free_ char *s = cJSON_Print(ledger);
                if (!s)
                        return log_oom();
                puts(s);
                return 0;
        }

        if (cJSON_GetArraySize(ledger) == 0) {
                printf("No upgrade has run on this host yet.\n");
                return 0;
        }
        printf("%-20s  %-12s  %-12s  %-11s  %-9s  %s\n",
               "FINISHED",
               "FROM",
               "TO",
               "RESULT",
               "PHASE",
               "MIGRATIONS");
        cJSON_ArrayForEach (e, ledger)
                printf("%-20s  %-12s  %-12s  %-11s  %-9s  %d\n",
                       str_or(e, "finished", "-"),
                       str_or(e, "from", "-"),
                       str_or(e, "to", "-"),
                       str_or(e, "result", "-"),
                       str_or(e, "phase", "-"),
                       cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(e, "migrations")));
        return 0;
}

static int verb_clear(const Config *c, const char *version) {
        _cleanup_json_ cJSON *ledger = NULL, *current = NULL;
        _cleanup_free_ char *now = current_timestamp(), *instance = NULL, *unit = NULL;
        _cleanup_close_ int lock_fd = -EBADF;
        int r;

        if (!now)
                return log_oom();
        r = require_exact_version(version);
        if (r < 0)
                return r;

        r = take_state_lock(c, &lock_fd);
        if (r < 0)
                return r;
        r = ledger_load(c->deployment, &ledger);
        if (r < 0)
                return log_error_errno(r, "Failed to read the ledger of deployment %s: %m", c->deployment);

        /* a held upgrade of this version is closed: the operator finished it by hand */
        r = current_load(c->deployment, &current);
        if (r >= 0) {
                _cleanup_free_ char *aside = NULL;

                if (!streq_ptr(json_get_string(current, "to"), version) ||
                    !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(current, "held")))
                        return log_error_errno(
                                EBUSY,
                                "An upgrade to %s is in flight on deployment %s (phase %s): clear only "
                                "closes a held one.",
                                strempty(json_get_string(current, "to")),
                                c->deployment,
                                strempty(json_get_string(current, "phase")));
                if (asprintf(&aside, "held-%s-%s.json", version, now) < 0)
                        return log_oom();
                r = current_set_aside(c->deployment, aside);
                if (r < 0)
                        return log_error_errno(r, "Failed to close the held upgrade to %s: %m", version);
                printf("Closed the held upgrade to %s (its state is kept as %s).\n", version, aside);
        } else if (r != -ENOENT)
                return log_error_errno(r, "Failed to read current.json of deployment %s: %m", c->deployment);

        r = ledger_clear_failed(ledger, version, now);
        if (r < 0)
                return log_oom();
        if (r == 0) {
                printf("%s is not marked failed on deployment %s: nothing to clear.\n",
                       version,
                       c->deployment);
                return 0;
        }
        r = ledger_save(c->deployment, ledger);
        if (r < 0)
                return log_error_errno(r, "Failed to write the ledger of deployment %s: %m", c->deployment);
        helper_export_ledger(c, ledger);

        if (unitname_instance_for_version(version, &instance) < 0 ||
            !(unit = deployment_unit(c, "upgrade", instance)))
                return log_oom();
        printf("%s may be tried again on deployment %s: systemctl start %s\n", version, c->deployment, unit);
        return 0;
}

/* The unit's messages since `since` (CLOCK_REALTIME usec), notice and worse: what the operator needs to
 * read. By the unit name, not its invocation id: a oneshot unit that ended well is unloaded at once, and
 * its InvocationID goes with it. */
static void print_unit_messages(const char *unit, uint64_t since) {
        _cleanup_free_ char *match = NULL;
        sd_journal *j = NULL;
        const void *data;
        size_t size;

        if (asprintf(&match, "_SYSTEMD_UNIT=%s", unit) < 0 || sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY) < 0)
                return;
        if (sd_journal_add_match(j, match, 0) >= 0 && sd_journal_seek_realtime_usec(j, since) >= 0)
                while (sd_journal_next(j) > 0) {
                        if (sd_journal_get_data(j, "PRIORITY", &data, &size) < 0 || size != 10 ||
                            ((const char *)data)[9] > '0' + LOG_NOTICE)
                                continue;
                        if (sd_journal_get_data(j, "MESSAGE", &data, &size) >= 0)
                                printf("  %.*s\n", (int)(size - 8), (const char *)data + 8);
                }
        sd_journal_close(j);
}

/* a late rollback by hand (docs/architecture.md, "Late rollback"): start the rollback unit, wait for it, and
 * say what it did. With
 * --discard-since the unit may do a full restore, which discards what was written since the upgrade. */
static int verb_rollback(const Config *c, const char *version) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *instance = NULL, *unit = NULL, *flag = NULL, *result = NULL, *error = NULL;
        _cleanup_json_ cJSON *ledger = NULL;
        const cJSON *entry;
        struct timespec ts;
        uint64_t since;
        int r;

        r = require_exact_version(version);
        if (r < 0)
                return r;
        if (unitname_instance_for_version(version, &instance) < 0 ||
            unitname_deployment_unit("rollback", c->deployment, instance, &unit) < 0)
                return log_oom();

        if (arg_discard_since) {
                _cleanup_free_ char *content = NULL, *dir = NULL;
                flag = paths_discard_flag(c->deployment);
                dir = paths_rooted("/run/codebolt-upgrade");
                if (!flag || !dir || asprintf(&content, "%s\n", version) < 0)
                        return log_oom();
                r = paths_mkdir_p(dir, 0755);
                if (r >= 0)
                        r = state_write_string_atomic(flag, content, 0600);
                if (r < 0)
                        return log_error_errno(r, "Failed to write %s: %m", flag);
        }

        r = bus_open_system(&bus);
        if (r < 0) {
                if (flag)
                        (void)unlink(flag);
                return log_error_errno(r, "Failed to connect to the system bus: %m");
        }
        printf("Starting %s and waiting for it…\n", unit);
        clock_gettime(CLOCK_REALTIME, &ts);
        since = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
        r = bus_start_unit(bus, unit, USEC_INFINITY, &result, &error);
        /* taken by the unit when it ran; never left for a later start */
        if (flag)
                (void)unlink(flag);
        if (r < 0)
                return log_error_errno(r, "Failed to start %s: %s", unit, error ?: strerror(-r));
        print_unit_messages(unit, since);

        if (!streq(result, "done"))
                return log_error_errno(
                        EIO,
                        "%s did not roll back (job result '%s'); the reason is above and in: journalctl -u "
                        "%s",
                        unit,
                        result,
                        unit);
        if (ledger_load(c->deployment, &ledger) >= 0 && (entry = ledger_last_for_version(ledger, version)))
                printf("Deployment %s: the upgrade to %s is %s; %s runs. %s stays marked failed until "
                       "codebolt-upgrade clear %s.\n",
                       c->deployment,
                       version,
                       str_or(entry, "result", "?"),
                       str_or(entry, "from", "the previous version"),
                       version,
                       version);
        return 0;
}

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

/* drop the failed databases and the snapshots and releases beyond retention (retention.h), after
 * listing them with the reason; --dry-run only lists */
static int verb_clean(const Config *c) {
        _cleanup_(helper_retention_done) HelperRetention g = {};
        _cleanup_(retention_plan_done) RetentionPlan plan = {};
        _cleanup_free_ char *error = NULL;
        _cleanup_close_ int lock_fd = -EBADF;
        size_t listed = 0, failed = 0;
        int r;

        /* held throughout: no upgrade begins, and none in flight moves on, between deciding and dropping */
        r = take_state_lock(c, &lock_fd);
        if (r < 0)
                return r;
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
        if (listed == 0) {
                printf("Nothing to drop.\n");
                return 0;
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
        return failed > 0 ? -EIO : 0;
}

/* every gate of an upgrade to version, read-only (docs/architecture.md, "Commands": `plan`): exit 0 when it
 * would proceed */
static int verb_plan(Config *c, const char *version) {
        _cleanup_(plan_done) Plan plan = {};
        _cleanup_free_ char *from = NULL;
        int r;

        r = require_exact_version(version);
        if (r < 0)
                return r;
        r = release_current_version(&from);
        if (r < 0)
                return log_error_errno(
                        r,
                        "Cannot tell the running version: %s/current is not a symlink to "
                        "releases/<version> (%m).",
                        paths_install_root());

        r = plan_make(c, from, version, &plan);
        if (r < 0)
                return log_oom();
        if (arg_json) {
                _cleanup_json_ cJSON *o = plan_to_json(&plan);
                _cleanup_free_ char *s = o ? cJSON_Print(o) : NULL;
                if (!s)
                        return log_oom();
                puts(s);
        } else
                plan_print(&plan, stdout);
        return plan.proceed ? 0 : -EPERM;
}

/* `satisfies <version> <range>` for hook scripts: 0 yes, 1 no, 2 malformed (with the reason) */
static int verb_satisfies(const char *version, const char *range) {
        SemVer v = {};
        int r;

        r = semver_parse(version, &v);
        if (r < 0) {
                log_error("'%s' is not an exact version: %s.", version, semver_why_invalid(version));
                return 2;
        }
        r = semver_range_satisfies(range, &v);
        semver_done(&v);
        if (r < 0) {
                log_error("'%s' is not a valid version range.", range);
                return 2;
        }
        return r > 0 ? 0 : 1;
}

/* `hold [REASON]`: pause the unattended upgrades of the deployment (its auto timer's runs do nothing
 * until `unhold`); a hand `systemctl start codebolt-upgrade@…` is not affected */
static int verb_hold(const Config *c, const char *reason) {
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
        r = take_state_lock(c, &lock_fd);
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
static int verb_unhold(const Config *c) {
        _cleanup_free_ char *path = paths_state_file(c->deployment, "hold.json");
        _cleanup_close_ int lock_fd = -EBADF;
        int r;

        if (!path)
                return log_oom();
        r = take_state_lock(c, &lock_fd);
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
        printf("Unattended upgrades of deployment %s resumed: the next run of its auto timer upgrades as "
               "configured.\n",
               c->deployment);
        return 0;
}

/* `pin <version>`: set the pin by hand, under the state lock; never while an upgrade is in flight */
static int verb_pin(const Config *c, const char *version) {
        _cleanup_free_ char *path = paths_state_file(c->deployment, "pin"),
                            *dir = paths_state_dir(c->deployment), *old = NULL, *content = NULL,
                            *linked = NULL, *installed = NULL, *current_dir = NULL;
        _cleanup_json_ cJSON *current = NULL, *pkg = NULL;
        _cleanup_close_ int lock_fd = -EBADF;
        int r;

        if (!path || !dir)
                return log_oom();
        r = require_exact_version(version);
        if (r < 0)
                return r;

        r = take_state_lock(c, &lock_fd);
        if (r < 0)
                return r;
        r = current_load(c->deployment, &current);
        if (r < 0 && r != -ENOENT)
                return log_error_errno(r, "Failed to read current.json of deployment %s: %m", c->deployment);
        /* a held upgrade is finished by hand, and its instructions set the pin */
        if (current && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(current, "held")))
                return log_error_errno(
                        EBUSY,
                        "Refusing to pin %s: the upgrade %s → %s is in flight on deployment %s (phase %s), "
                        "and it moves the pin itself. See: codebolt-upgrade status",
                        version,
                        str_or(current, "from", "?"),
                        str_or(current, "to", "?"),
                        c->deployment,
                        str_or(current, "phase", "?"));

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

/* `server-may-start`, the server unit's ExecCondition=: 0 start, 1 skip this start (docs/architecture.md,
 * "Phases"). Fast, no network, no D-Bus. Its messages go to the server unit's journal. A config that does
 * not load still refuses a start while an upgrade is in flight; it only skips the pin check. */
static int verb_server_may_start(const char *deployment) {
        _cleanup_(maystart_done) MayStart decision = {};
        _cleanup_json_ cJSON *current = NULL, *pkg = NULL;
        _cleanup_free_ char *starter = NULL, *pin = NULL, *pin_path = NULL, *linked = NULL,
                            *current_dir = NULL;
        Config c = {};
        int r;

        r = helper_config_load(deployment, &c, "the pin is not checked for this start");
        if (r < 0) {
                if (config_init_defaults(&c) < 0)
                        return log_oom(), 1;
                if (deployment && *deployment) {
                        free(c.deployment);
                        c.deployment = strdup(deployment);
                        if (!c.deployment)
                                return log_oom(), 1;
                }
                c.enforce_pin = ENFORCE_PIN_NO;
        }
        log_set_deployment(c.deployment);

        r = current_load(c.deployment, &current);
        if (r < 0 && r != -ENOENT) {
                log_error_errno(
                        r,
                        "Refusing to start %s: current.json of deployment %s cannot be read (%m), so an "
                        "upgrade may be in flight. See: codebolt-upgrade status",
                        c.server_unit,
                        c.deployment);
                config_done(&c);
                return 1;
        }
        r = maystart_read_starter(c.deployment, &starter);
        if (r < 0)
                log_warning_errno(r, "Failed to read who starts %s: %m", c.server_unit);

        pin_path = paths_state_file(c.deployment, "pin");
        current_dir = paths_current_link();
        if (!pin_path || !current_dir) {
                config_done(&c);
                return log_oom(), 1;
        }
        r = state_read_string(pin_path, &pin);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Failed to read the pin %s: %m", pin_path);
        (void)release_current_version(&linked);
        (void)release_package_json(current_dir, c.package, &pkg);

        MayStartInput in = {
                .current = current,
                .starter = starter,
                .pin = pin && *pin ? pin : NULL,
                .installed = json_get_string(pkg, "version"),
                .linked = linked,
                .enforce_pin = c.enforce_pin,
                .package = c.package,
                .deployment = c.deployment,
                .server_unit = c.server_unit,
                .install_root = c.install_root,
        };
        r = maystart_decide(&in, &decision);
        config_done(&c);
        if (r < 0)
                return log_oom(), 1;
        for (size_t i = 0; i < decision.n_notes; i++)
                log_full(decision.notes[i].priority, 0, "%s", decision.notes[i].text);
        return decision.start ? 0 : 1;
}

static void help(void) {
        printf("codebolt-upgrade [--deployment NAME] COMMAND [--json]\n\n"
               "Safe upgrades of a self-hosted Codebolt server: systemctl start codebolt-upgrade@VERSION\n\n"
               "Commands:\n"
               "  status       the upgrade in flight (phase, migrations) or the last result\n"
               "  history      every upgrade attempted on this host (the ledger)\n"
               "  plan VERSION   every check an upgrade to VERSION makes, read-only; exit 0 when it\n"
               "               would proceed\n"
               "  satisfies VERSION RANGE\n"
               "               exit 0 when VERSION satisfies the npm-style RANGE, 1 when not, 2 when\n"
               "               either is malformed (for hook scripts)\n"
               "  clear VERSION  allow a version whose upgrade failed here to be tried again\n"
               "  rollback VERSION [--discard-since]\n"
               "               roll back the upgrade to VERSION after it succeeded; a full restore (a\n"
               "               breaking migration was applied) discards what was written since, and\n"
               "               needs --discard-since\n"
               "  pin VERSION  pin the deployment to VERSION by hand (not while an upgrade is in flight)\n"
               "  hold [REASON]  pause the unattended upgrades (the auto timer's runs do nothing)\n"
               "  unhold       resume them\n"
               "  server-may-start\n"
               "               the server unit's ExecCondition=: exit 0 when the server may start, 1\n"
               "               when this start must be skipped (an upgrade in flight, the pin)\n"
               "  clean [--dry-run]\n"
               "               drop the failed databases, snapshots and releases beyond retention\n"
               "               ([Backup] Keep=), after listing each with the reason and its size; never\n"
               "               one a rollback may still need; --dry-run only lists\n\n"
               "Options:\n"
               "  --json             machine-readable output\n"
               "  --deployment NAME  a deployment of /etc/codebolt-upgrade/deployments/NAME.conf\n"
               "  -h --help          this help\n"
               "  --version          the version of codebolt-upgrade\n\n"
               "See codebolt-upgrade(8).\n");
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                { "deployment", required_argument, NULL, 'd' },
                { "discard-since", no_argument, NULL, 'D' },
                { "dry-run", no_argument, NULL, 'n' }, /* clean */
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        Config config = {};
        const char *verb;
        int c, r;

        log_setup("codebolt-upgrade", NULL);
        log_set_target(LOG_TARGET_STDERR);

        while ((c = getopt_long(argc, argv, "hd:", options, NULL)) >= 0)
                switch (c) {
                case 'j':
                        arg_json = true;
                        break;
                case 'd':
                        arg_deployment = optarg;
                        break;
                case 'D':
                        arg_discard_since = true;
                        break;
                case 'n':
                        arg_dry_run = true;
                        break;
                case 'h':
                        help();
                        return 0;
                case 'V':
                        /* meson's project(version:), the one place it is set */
                        printf("codebolt-upgrade %s\n", PACKAGE_VERSION);
                        return 0;
                default:
                        return 2;
                }
        if (optind >= argc) {
                help();
                return 2;
        }
        verb = argv[optind];
        /* needs no configuration: a broken config must not break a hook script's version check */
        if (streq(verb, "satisfies")) {
                if (optind + 3 != argc) {
                        log_error("Usage: codebolt-upgrade satisfies VERSION RANGE");
                        return 2;
                }
                return verb_satisfies(argv[optind + 1], argv[optind + 2]);
        }

        /* the server's start condition: to its unit's journal, and a config error does not stop it */
        if (streq(verb, "server-may-start")) {
                if (optind + 1 != argc) {
                        log_error("Usage: codebolt-upgrade [--deployment NAME] server-may-start");
                        return 2;
                }
                log_set_target(LOG_TARGET_AUTO);
                return verb_server_may_start(arg_deployment ?: getenv("CODEBOLT_DEPLOYMENT"));
        }

        r = helper_config_load(arg_deployment ?: getenv("CODEBOLT_DEPLOYMENT"), &config, NULL);
        if (r < 0)
                return 2;

        if (streq(verb, "status"))
                r = verb_status(&config);
        else if (streq(verb, "plan") && optind + 1 < argc)
                r = verb_plan(&config, argv[optind + 1]);
        else if (streq(verb, "history"))
                r = verb_history(&config);
        else if (streq(verb, "clear") && optind + 1 < argc)
                r = verb_clear(&config, argv[optind + 1]);
        else if (streq(verb, "rollback") && optind + 1 < argc)
                r = verb_rollback(&config, argv[optind + 1]);
        else if (streq(verb, "pin") && optind + 1 < argc)
                r = verb_pin(&config, argv[optind + 1]);
        else if (streq(verb, "clean"))
                r = verb_clean(&config);
        else if (streq(verb, "hold") && optind + 2 >= argc)
                r = verb_hold(&config, argv[optind + 1]);
        else if (streq(verb, "unhold") && optind + 1 == argc)
                r = verb_unhold(&config);
        else {
                log_error("Unknown command '%s'; see codebolt-upgrade --help.", verb);
                config_done(&config);
                return 2;
        }
        config_done(&config);
        return r < 0 ? 1 : 0;
}
