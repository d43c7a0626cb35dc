/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cli-status.c: `codebolt-upgrade status` and `history`: the upgrade in flight, the last one, the ledger */
#define _GNU_SOURCE

#include <systemd/sd-bus.h>

#include "bus.h"
#include "checks.h"
#include "cli.h"
#include "credentials.h"
#include "delta.h"
#include "hold-file.h"
#include "json-util.h"
#include "ledger.h"
#include "log.h"
#include "macro.h"
#include "paths.h"
#include "release.h"
#include "state.h"
#include "unitname.h"
#include "watchstate.h"

static void print_migration(const char *state, const char *id, bool breaking) {
        printf("    %-9s %s%s\n", cli_or(state, "?"), cli_or(id, "?"), breaking ? " (breaking)" : "");
}

static void print_migrations(const Current *current) {
        for (size_t i = 0; i < current->n_migrations; i++) {
                const CurrentMigration *m = &current->migrations[i];
                print_migration(m->state, m->id, m->has_breaking && m->breaking);
        }
}

/* a ledger entry's */
static void print_entry_migrations(const cJSON *migrations) {
        const cJSON *m;

        cJSON_ArrayForEach (m, migrations)
                print_migration(
                        json_get_string(m, "state"),
                        json_get_string(m, "id"),
                        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "breaking")));
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

/* the unit that works on the upgrade in flight now (the upgrade's or its rollback's), or NULL when none
 * does: it was interrupted (a kill, a power cut) and waits for a rollback run or the next boot */
static char *working_unit(const Config *c, const Current *current) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const char *instance = cli_or(current->instance, "?");
        char *units[] = { cli_deployment_unit(c, "upgrade", instance),
                          cli_deployment_unit(c, "rollback", instance) };
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
static int show_held(const Config *c, const Current *current) {
        const char *from = cli_or(current->from, "?"), *to = cli_or(current->to, "?");
        const char *snapshot = current->snapshot;
        const char *failed_db = current->failed_database;
        const char *backup = current->backup;
        int step = 1;

        printf("HELD:     the upgrade %s → %s failed in phase %s, and its rollback stopped short:\n"
               "          %s\n"
               "          Nothing more happens on its own: no upgrade or rollback runs until you finish by "
               "hand.\n",
               from,
               to,
               cli_or(current->rollback_from_phase, cli_or(current->phase, "?")),
               cli_or(current->held_reason, "the reason is in: journalctl -u codebolt-rollback@*"));
        if (backup)
                printf("  Backup:   %s (verified before the upgrade stopped the server)\n", backup);
        if (current->n_migrations > 0) {
                printf("  Migrations of %s:\n", to);
                print_migrations(current);
        }
        if (current->held_instructions) {
                printf("\nTo finish by hand:\n%s\n", current->held_instructions);
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
        printf("  %d. systemctl start %s, and check it: curl http://%s:%u/health\n",
               step++,
               c->server_unit,
               config_server_address(c),
               c->port);
        printf("  %d. codebolt-upgrade clear %s   (closes the held upgrade; %s stays marked failed until "
               "then)\n",
               step,
               to,
               to);
        return 0;
}

int cli_delta_slots(const Config *c, cJSON **ret_slots, char **ret_error) {
        _cleanup_json_ cJSON *slots = NULL;
        PgTarget t;
        int r;

        if (helper_pg_target_config(c, "postgres", &t) < 0)
                return -ENOMEM;
        r = delta_slots(&t, c->db_name, &slots, ret_error);
        if (r < 0)
                return r;
        r = cJSON_GetArraySize(slots);
        *ret_slots = TAKE_PTR(slots);
        return r;
}

bool cli_delta_slot_in_use(const Current *current, const char *slot) {
        return current && !current->held && streq_ptr(current->delta_slot, slot);
}

/* the replication slots of Snapshot=delta: the one in use, and any left behind (which hold WAL) */
static void show_delta_slots(const Config *c, const Current *current) {
        _cleanup_json_ cJSON *slots = NULL;
        _cleanup_free_ char *error = NULL;
        const cJSON *s;
        int r;

        r = cli_delta_slots(c, &slots, &error);
        if (r < 0) {
                /* only worth a line where delta is configured: else PostgreSQL may simply be elsewhere */
                if (c->snapshot == SNAPSHOT_DELTA || c->snapshot == SNAPSHOT_AUTO)
                        printf("Slots:    cannot look for replication slots: %s\n", error ?: strerror(-r));
                return;
        }
        cJSON_ArrayForEach (s, slots) {
                const char *name = json_get_string(s, "slot");

                if (cli_delta_slot_in_use(current, name))
                        printf("Slot:     %s (the upgrade in flight reads it at the stop; %s of WAL held)\n",
                               name,
                               cli_str_or(s, "wal", "?"));
                else
                        printf("LEFTOVER replication slot %s%s: it holds %s of WAL until it is dropped "
                               "(codebolt-upgrade clean drops it)\n",
                               name,
                               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "active"))
                                       ? " (in use by a session)"
                                       : "",
                               cli_str_or(s, "wal", "?"));
        }
}

/* status --follow with an upgrade in flight: the live view of `upgrade`, from where it is now. 1 when
 * it follows; 0 when no unit works on it now (interrupted: the status says so). */
static int follow_in_flight(const Config *c, const Current *current, int *ret_code) {
        _cleanup_free_ char *unit = cli_deployment_unit(c, "upgrade", current->instance),
                            *rollback = cli_deployment_unit(c, "rollback", current->instance),
                            *working = working_unit(c, current);
        usec_t since;

        if (!unit || !rollback)
                return log_oom();
        if (!working)
                return 0;
        if (checks_parse_timestamp(current->started, &since) < 0)
                since = usec_sub_floor(now_realtime(), USEC_PER_DAY);
        *ret_code = cli_follow(
                c,
                &(CliFollow){
                        /* once the rollback runs, it is all there is to follow */
                        .upgrade_unit = streq(working, unit) ? unit : NULL,
                        .rollback_unit = rollback,
                        .version = current->to,
                        .since = since,
                        .attach = true,
                        .by_hand = current->late,
                });
        return 1;
}

int verb_status(int argc, char *argv[], void *userdata) {
        const Config *c = userdata;
        _cleanup_json_ cJSON *ledger = NULL, *watch = NULL, *document = NULL;
        _cleanup_(current_done) Current typed = {};
        _cleanup_free_ char *error = NULL;
        const Current *current = NULL;
        const cJSON *last;
        int r;

        r = watch_load(c->deployment, &watch);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Failed to read watch.json of deployment %s: %m", c->deployment);

        /* the document as it is for --json; typed for the text */
        r = current_read_document(c->deployment, &document);
        if (r < 0 && r != -ENOENT)
                return log_error_errno(r, "Failed to read current.json of deployment %s: %m", c->deployment);
        if (document) {
                r = current_from_json(document, &typed, &error);
                if (r >= 0)
                        current = &typed;
                else
                        /* something is in flight all the same: say what is wrong with it, then the rest */
                        log_error_errno(
                                r,
                                "Failed to read current.json of deployment %s: %s",
                                c->deployment,
                                error ?: strerror(-r));
        }
        /* --follow: attach to the upgrade or rollback in flight; with none (or a held one), the status once
         */
        if (arg_follow && current && !current->held && current->instance && current->to) {
                int code;
                r = follow_in_flight(c, current, &code);
                if (r < 0)
                        return r;
                if (r > 0)
                        return code;
        }

        r = cli_load_ledger(c, &ledger);
        if (r < 0)
                return r;
        last = ledger_last(ledger);

        if (arg_json) {
                _cleanup_json_ cJSON *o = cJSON_CreateObject();
                _cleanup_free_ char *s = NULL;
                if (!o || !cJSON_AddStringToObject(o, "deployment", c->deployment) ||
                    !cJSON_AddItemToObject(
                            o,
                            "in_flight",
                            document ? cJSON_Duplicate(document, true) : cJSON_CreateNull()) ||
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
        show_delta_slots(c, current);
        if (document && !current) {
                _cleanup_free_ char *path = paths_state_file(c->deployment, "current.json");
                printf("In flight: an upgrade or rollback whose state cannot be read: %s: %s\n",
                       strempty(path),
                       error ?: "not a current.json");
                return 0;
        }
        if (current && current->held)
                return show_held(c, current);
        if (current) {
                _cleanup_free_ char *working = NULL, *rollback_unit = NULL;
                const char *instance = cli_or(current->instance, "?");
                printf("In flight: %s %s → %s, phase %s (started %s, last update %s)\n",
                       current->late ? "late rollback (after it succeeded) of the upgrade" : "upgrade",
                       cli_or(current->from, "?"),
                       cli_or(current->to, "?"),
                       cli_or(current->phase, "?"),
                       cli_or(current->started, "?"),
                       cli_or(current->updated, "?"));
                if (current->server_stopped)
                        printf("          the server was stopped for it\n");
                if (current->backup)
                        printf("  Backup:   %s\n", current->backup);
                if (current->n_migrations > 0) {
                        printf("  Migrations:\n");
                        print_migrations(current);
                }
                working = working_unit(c, current);
                rollback_unit = cli_deployment_unit(c, "rollback", instance);
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
                               streq_ptr(current->phase, "rollback") ? "rollback" : "upgrade",
                               rollback_unit,
                               current->failed_database
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
               cli_str_or(last, "from", "?"),
               cli_str_or(last, "to", "?"),
               cli_str_or(last, "result", "?"),
               cli_str_or(last, "phase", "?"),
               cli_str_or(last, "finished", "?"));
        if (json_get_string(last, "message"))
                printf("          %s\n", json_get_string(last, "message"));
        if (json_get_string(last, "backup"))
                printf("  Backup:   %s\n", json_get_string(last, "backup"));
        if (json_get_string(last, "snapshot"))
                printf("  Snapshot: database %s\n", json_get_string(last, "snapshot"));
        if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(last, "migrations")) > 0) {
                printf("  Migrations:\n");
                print_entry_migrations(cJSON_GetObjectItemCaseSensitive(last, "migrations"));
        }
        if (watch)
                watch_print_status(c, watch);
        return 0;
}

int verb_history(int argc, char *argv[], void *userdata) {
        const Config *c = userdata;
        _cleanup_json_ cJSON *ledger = NULL;
        const cJSON *e;
        int r;

        r = cli_load_ledger(c, &ledger);
        if (r < 0)
                return r;

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
                       cli_str_or(e, "finished", "-"),
                       cli_str_or(e, "from", "-"),
                       cli_str_or(e, "to", "-"),
                       cli_str_or(e, "result", "-"),
                       cli_str_or(e, "phase", "-"),
                       cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(e, "migrations")));
        return 0;
}
