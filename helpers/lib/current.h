/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* current.h: current.json, the upgrade in flight (docs/architecture.md, "State on disk") */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <cjson/cJSON.h>

/* clang-format off */
/* The keys of current.json: a contract between the phases, the rollback, the recovery and `status`.
 * "late" rollback: helpers/rollback/late.c's late_current() makes a current.json from the upgrade's ledger
 * entry.
 *
 * | key                    | JSON type           | written by                                     | read by                                                                                             |
 * |------------------------|---------------------|------------------------------------------------|-----------------------------------------------------------------------------------------------------|
 * | id                     | string              | preflight; rollback (late)                     | helper layer, backup, snapshot, finish, rollback, lib/retention                                     |
 * | unit                   | string              | preflight; rollback (late)                     | helper layer, preflight, recover, rollback                                                          |
 * | instance               | string (escaped %i) | preflight; rollback (late)                     | helper layer, recover, rollback, the CLI                                                            |
 * | deployment             | string              | preflight; rollback (late)                     | (status --json only)                                                                                |
 * | from                   | string              | preflight; rollback (late)                     | helper layer, backup, switch, migrate-watch, finish, rollback, the CLI, lib/maystart, lib/retention |
 * | to                     | string              | preflight; rollback (late)                     | helper layer, preflight, recover, auto, watch, rollback, the CLI, lib/maystart, lib/retention       |
 * | phase                  | string              | preflight, helper layer (each phase), rollback | preflight, recover, auto, watch, rollback, the CLI, lib/maystart                                    |
 * | phases                 | array of strings    | preflight, helper layer (each phase)           | switch, rollback                                                                                    |
 * | started                | string (ISO 8601)   | preflight; rollback (late)                     | finish, rollback, the CLI                                                                           |
 * | updated                | string (ISO 8601)   | every save                                     | the CLI                                                                                             |
 * | server_stopped         | bool                | preflight (false), drain (true)                | snapshot, switch, rollback, the CLI                                                                 |
 * | switched               | bool                | preflight (false), switch (true)               | (status --json only)                                                                                |
 * | migrations             | array of objects    | preflight ([]), migrate-watch                  | smoke, finish, rollback, the CLI                                                                    |
 * | attempts               | number              | preflight (0); rollback (late, 0)              | (status --json only)                                                                                |
 * | staged_release         | string (path)       | stage; rollback (late)                         | migrate-watch, smoke, rollback                                                                      |
 * | staged_release_existed | bool                | stage                                          | rollback                                                                                            |
 * | tree                   | object              | stage                                          | finish, rollback (copied to the ledger)                                                             |
 * | backup                 | string (path)       | backup                                         | helper layer, drain, snapshot, smoke, finish, rollback, the CLI                                     |
 * | baseline               | object              | backup                                         | finish (ledger, watch.json)                                                                         |
 * | inhibitor_pid          | number              | drain                                          | finish, rollback                                                                                    |
 * | stopped_at             | string (ISO 8601)   | drain                                          | finish                                                                                              |
 * | snapshot               | string or null      | snapshot; rollback (late)                      | finish, rollback, the CLI, lib/retention                                                            |
 * | final_dump             | string (path)       | snapshot (Snapshot=dump)                       | finish, rollback                                                                                    |
 * | server_invocation      | string              | migrate-watch                                  | smoke, rollback                                                                                     |
 * | rollback_from_phase    | string or null      | rollback                                       | rollback, the CLI                                                                                   |
 * | rollback_action        | string              | rollback                                       | rollback                                                                                            |
 * | rollback_started       | string (ISO 8601)   | rollback                                       | rollback                                                                                            |
 * | rollback_attempts      | number              | rollback                                       | rollback                                                                                            |
 * | rollback_result        | string              | rollback                                       | rollback                                                                                            |
 * | rollback_switched_back | bool                | rollback                                       | (status --json only)                                                                                |
 * | failed_database        | string              | rollback                                       | rollback, the CLI, lib/retention                                                                    |
 * | discarded_rows         | number or null      | rollback                                       | rollback (carried to the ledger)                                                                    |
 * | stores_restored        | bool                | rollback                                       | rollback                                                                                            |
 * | held                   | bool                | rollback                                       | rollback, the CLI, lib/maystart, lib/retention                                                      |
 * | held_reason            | string              | rollback                                       | rollback, the CLI                                                                                   |
 * | held_instructions      | string or null      | rollback                                       | the CLI                                                                                             |
 * | recover_attempts       | number              | rollback (recover mode)                        | rollback                                                                                            |
 * | recovered              | string (a result)   | rollback (recover mode)                        | rollback, lib/maystart                                                                              |
 * | restore_reason         | string              | rollback (recover mode)                        | rollback                                                                                            |
 * | late                   | bool                | rollback (late)                                | rollback, the CLI, lib/maystart                                                                     |
 * | upgrade_finished       | string (ISO 8601)   | rollback (late)                                | (status --json only)                                                                                |
 * | late_reason            | string              | rollback (late)                                | rollback                                                                                            |
 * | lb_drained             | bool                | drain                                          | finish, rollback                                                                                    |
 * | cluster_roll           | string              | preflight                                      | helper layer, backup, snapshot, finish, rollback, recover (shared/roll.c)                           |
 * | cluster_slot           | bool                | backup                                         | finish, rollback (shared/roll.c)                                                                    |
 * | cluster_migrator       | bool                | backup                                         | finish, rollback (shared/roll.c)                                                                    |
 * | cluster_refused        | string              | backup                                         | rollback                                                                                            |
 * | cluster_coordinated    | bool                | preflight                                      | backup, snapshot, rollback (shared/roll.c)                                                          |
 * | delta_slot             | string              | backup (Snapshot=delta)                        | snapshot, rollback, the CLI                                                                         |
 * | delta_file             | string (path)       | snapshot (Snapshot=delta); rollback (late)     | finish (carried to the ledger), rollback                                                            |
 * | phase_seconds          | object              | helper layer (each phase), finish, rollback    | finish, rollback (carried to the ledger), shared/metrics                                            |
 *
 * "helper layer" is helpers/shared/helper.c and events.c (helper_check_current, helper_notify,
 * helper_run_hooks, the phase marks); "the CLI", codebolt-upgrade, reads it for status, clear, clean and
 * server-may-start; status --json prints the document as it is. A ledger entry is made from it (finish's and
 * rollback's "carried" keys) and has the same shape for those keys, so current_from_json() reads a ledger
 * entry too (its own keys land in "extra"). Not current.json keys, though near: "tables_at_stop" is the
 * backup manifest's (snapshot writes it there); "watch", "cursor", "auto_rollback" are watch.json's or the
 * ledger's. */
/* clang-format on */

/* One migration of "migrations": {"id", "breaking", "drops": [...], "state"}, written by migrate-watch
 * (current_set_migration) and copied into the ledger. */
typedef struct CurrentMigration {
        char *id;
        bool breaking;     /* "breaking"; when has_breaking is false the entry does not say, which */
        bool has_breaking; /* counts as breaking (current_restore_reason) */
        char **drops;      /* "drops": the tables or columns it drops; NULL when the key is absent */
        char *state;       /* "applying", "applied", "failed" (or "pending") */
        cJSON *extra;      /* members of the entry this version does not know, kept for the next save */
} CurrentMigration;

/* The keys of current.json, in the order current_to_json() writes them; a bit each in Current.present. */
typedef enum CurrentKey {
        CURRENT_ID,
        CURRENT_UNIT,
        CURRENT_INSTANCE,
        CURRENT_DEPLOYMENT,
        CURRENT_FROM,
        CURRENT_TO,
        CURRENT_PHASE,
        CURRENT_PHASES,
        CURRENT_STARTED,
        CURRENT_UPDATED,
        CURRENT_SERVER_STOPPED,
        CURRENT_SWITCHED,
        CURRENT_MIGRATIONS,
        CURRENT_ATTEMPTS,
        CURRENT_STAGED_RELEASE,
        CURRENT_STAGED_RELEASE_EXISTED,
        CURRENT_TREE,
        CURRENT_BACKUP,
        CURRENT_BASELINE,
        CURRENT_INHIBITOR_PID,
        CURRENT_STOPPED_AT,
        CURRENT_SNAPSHOT,
        CURRENT_FINAL_DUMP,
        CURRENT_SERVER_INVOCATION,
        CURRENT_ROLLBACK_FROM_PHASE,
        CURRENT_ROLLBACK_ACTION,
        CURRENT_ROLLBACK_STARTED,
        CURRENT_ROLLBACK_ATTEMPTS,
        CURRENT_ROLLBACK_RESULT,
        CURRENT_ROLLBACK_SWITCHED_BACK,
        CURRENT_FAILED_DATABASE,
        CURRENT_DISCARDED_ROWS,
        CURRENT_STORES_RESTORED,
        CURRENT_HELD,
        CURRENT_HELD_REASON,
        CURRENT_HELD_INSTRUCTIONS,
        CURRENT_RECOVER_ATTEMPTS,
        CURRENT_RECOVERED,
        CURRENT_RESTORE_REASON,
        CURRENT_LATE,
        CURRENT_UPGRADE_FINISHED,
        CURRENT_LATE_REASON,
        CURRENT_LB_DRAINED,
        CURRENT_CLUSTER_ROLL,
        CURRENT_CLUSTER_SLOT,
        CURRENT_CLUSTER_MIGRATOR,
        CURRENT_CLUSTER_REFUSED,
        CURRENT_CLUSTER_COORDINATED,
        CURRENT_DELTA_SLOT,
        CURRENT_DELTA_FILE,
        CURRENT_PHASE_SECONDS,
        _CURRENT_KEY_MAX,
} CurrentKey;

#define CURRENT_KEY_BIT(k) (UINT64_C(1) << (k))

/* current.json as a struct, one field per key (the table above).
 *
 * Absent keys stay absent: a key is written when its field holds something other than the zero value
 * (NULL, false, 0, no migration) or when its bit is set in `present`, which current_from_json() sets
 * for every key it found. A set bit over the zero value writes null for a string or a document ("snapshot":
 * null when Snapshot= took no database), false, 0, or [] — so "switched": false stays in the file and an
 * absent "staged_release_existed" is not written as false. Readers need not look at `present`: a string
 * that is null or absent is NULL either way, as json_get_string() gave it. */
typedef struct Current {
        /* preflight makes these (the late rollback from the ledger entry) */
        char *id;         /* the upgrade unit's invocation id; rollback (late): the upgrade's */
        char *unit;       /* "codebolt-upgrade@1.5.0.service" (rollback (late): its own unit) */
        char *instance;   /* "1.5.0" as %i gave it, still escaped: the rollback compares it as is */
        char *deployment; /* the deployment; no reader but status --json */
        char *from;       /* the version upgraded from */
        char *to;         /* the version upgraded to */
        char *phase; /* the phase running or last reached; common.c marks it, the rollback sets "rollback" */
        char **phases;       /* the phases that completed, in order (strv); preflight and common.c append */
        char *started;       /* ISO 8601 UTC, when preflight made the file */
        char *updated;       /* ISO 8601 UTC, refreshed by every save */
        bool server_stopped; /* drain: true from the moment the stop is requested; snapshot, switch,
                              * the rollback table read it */
        bool switched;       /* switch: the pin and /opt/codebolt/current point at `to` */
        CurrentMigration *migrations; /* migrate-watch, as each is seen; smoke, finish, rollback read them */
        size_t n_migrations;
        int attempts; /* preflight writes 0; nothing reads it (the recovery counts recover_attempts) */

        /* stage */
        char *staged_release;        /* the installed release's directory; migrate-watch, smoke, rollback */
        bool staged_release_existed; /* an earlier attempt's release: the rollback's abort keeps it */
        cJSON *tree; /* {"name@version": "integrity", ...}: opaque here, owned, carried to the ledger */

        /* backup */
        char *backup;    /* the verified backup directory; drain, snapshot, smoke, finish, rollback */
        cJSON *baseline; /* the watch's baseline (watchstate.h): opaque here, owned; finish reads it */

        /* drain */
        pid_t inhibitor_pid; /* the shutdown inhibitor's holder; finish and the rollback end it */
        char *stopped_at;    /* ISO 8601 UTC of the stop; finish computes the downtime from it */

        /* snapshot */
        char *snapshot;   /* the snapshot database; null (present, NULL) with Snapshot=dump or none */
        char *final_dump; /* Snapshot=dump: the dump taken after the stop; the rollback restores it */

        /* migrate-watch */
        char *server_invocation; /* the server's invocation id it started; smoke, rollback */

        /* the rollback (helpers/rollback/), all read back by itself on a resumed run */
        char *rollback_from_phase;   /* the phase the upgrade failed in; status shows it when held */
        char *rollback_action;       /* what the rollback table decided (rollback_action_to_string()) */
        char *rollback_started;      /* ISO 8601 UTC */
        int rollback_attempts;       /* runs of the rollback; see "Counts" below */
        char *rollback_result;       /* the ledger result, recorded just before the ledger entry */
        bool rollback_switched_back; /* the pin and link point at `from` again; no reader but status */
        char *failed_database;       /* <db>_failed_<id>; status, lib/retention keep it */
        double discarded_rows;       /* rows written since the stop that a restore discards; NAN writes
                                      * null (not counted); carried to the ledger */
        bool stores_restored;        /* every store was put back from the backup and verified */
        bool held;                   /* the rollback stopped short; lib/maystart, lib/retention, status */
        char *held_reason;           /* why, one line; status */
        char *held_instructions;     /* the steps to finish by hand (null when there are none); status */
        int recover_attempts;        /* boot recoveries; see "Counts" below */
        char *recovered;             /* recovery at boot: the result it put in place; lib/maystart */
        char *restore_reason;        /* recovery at boot: why it was a full restore */
        bool late;                   /* a late rollback (after a success); status, lib/maystart */
        char *upgrade_finished;      /* late: when the upgrade rolled back had finished */
        char *late_reason;           /* late: why, as given on the command line */
        bool lb_drained;             /* drain took the server out of [LoadBalancer]: finish and the
                                      * rollback give it back */

        /* this host's part in a cluster roll (helpers/shared/roll.c) */
        char *cluster_roll;    /* preflight: the id of the roll this upgrade is part of; NULL: none */
        bool cluster_slot;     /* backup, before it asks for the slot: finish and the rollback release it */
        bool cluster_migrator; /* backup: this host runs the roll's migrations */
        char *cluster_refused; /* backup: why the roll refused this host while it waited for the slot;
                                * the rollback then records "refused" */
        bool cluster_coordinated; /* preflight: the roll is coordinated (every member stops, the migrator
                                   * migrates behind a snapshot), not rolling */
        /* Snapshot=delta (docs/architecture.md, "Snapshot=delta") */
        char *delta_slot; /* backup, before it makes the logical replication slot: the snapshot phase,
                           * the rollback and `clean` drop it by this name */
        char *delta_file; /* snapshot: the backup's database.delta, the changes since the dump that a
                           * full restore replays after the dump; NULL when the snapshot took template */

        /* {"<phase>": seconds}: how long each phase of the upgrade took, written by the helper layer as
         * each completes (finish adds its own, the rollback "rollback"); carried to the ledger, where the
         * metrics file reads the last upgrade's */
        cJSON *phase_seconds;

        uint64_t present; /* CURRENT_KEY_BIT()s of the keys to write even at their zero value */
        cJSON *extra;     /* members this version does not know (an older or newer writer's, or a ledger
                           * entry's own): kept and written back after the known ones */
} Current;

/* Counts ("attempts", "rollback_attempts", "recover_attempts"): a number that is no whole count in
 * [0, INT_MAX - 1] is read as INT_MAX - 1, exhausted, never as none (as the rollback read them before);
 * anything but a number is refused. "inhibitor_pid" must be a whole number in [0, INT_MAX]. */

/* Free what c owns and zero it; c itself is the caller's (a stack Current, _cleanup_(current_done)). */
void current_done(Current *c);

/* Read a current.json document (or a ledger entry) into *ret. A known key of the wrong type fails with
 * -EBADMSG (-ERANGE for a pid out of range) and, when ret_error is not NULL, a message naming the key;
 * unknown keys go to ret->extra. *ret is written only on success. */
int current_from_json(const cJSON *j, Current *ret, char **ret_error);

/* The document for c: the known keys in CurrentKey order (see Current for which are written), then
 * c->extra's members. */
int current_to_json(const Current *c, cJSON **ret);
/* Only the keys whose CURRENT_KEY_BIT()s are in keys, as current_to_json() would write them (an absent
 * one stays absent), without the extra members: what a ledger entry carries of current.json
 * (finish.c make_entry(), helpers/rollback/conclude.c write_ledger()). */
int current_to_json_keys(const Current *c, uint64_t keys, cJSON **ret);

/* Read the deployment's current.json into *ret: -ENOENT when none is in flight, -EBADMSG (from
 * current_from_json()) when a known key has the wrong type, with ret_error as there. */
int current_load(const char *deployment, Current *ret, char **ret_error);

/* current.json read as the rollback and the boot recovery need it, which must still roll back or hold
 * when a key is damaged: a document that is no object reads as empty; a known key of the wrong type
 * reads as absent, and a count ("attempts", …) that is not null as exhausted. *ret_unreadable gets the
 * CURRENT_KEY_BIT()s of the keys so read, *ret_problems a line for each, for the caller to log (NULL
 * for none); both may be NULL. -ENOENT: no file; -EBADMSG: not JSON at all. */
int current_load_lenient(
        const char *deployment, Current *ret, uint64_t *ret_unreadable, char ***ret_problems);
/* Write c as the deployment's new current.json (mode 0600); -EEXIST when one is in flight. */
int current_create(const char *deployment, const Current *c);
/* Set c->updated to now, then write c atomically as the deployment's current.json. */
int current_save(const char *deployment, Current *c);

/* c->phase = phase */
int current_set_phase(Current *c, const char *phase);
/* append phase to c->phases unless it is there */
int current_phase_done(Current *c, const char *phase);
/* phase_seconds[phase] = seconds (a phase run again, by a resumed rollback say, keeps the last time) */
int current_set_phase_seconds(Current *c, const char *phase, double seconds);
/* whether phase is in c->phases */
bool current_phase_is_done(const Current *c, const char *phase);
/* add a migration (drops copied; NULL: none), or update the state of the one with that id */
int current_set_migration(Current *c, const char *id, bool breaking, char *const *drops, const char *state);
/* Whether other hosts may use the database while this upgrade works on it: in every cluster roll
 * (cluster_roll), but for a coordinated roll's migrator, which runs while every member is stopped. Then
 * no restore point of the database is taken, and rows may go without being lost. */
bool current_database_shared(const Current *c);
/* Why going back from this upgrade (current.json, or its ledger entry read by current_from_json()) would
 * be a full restore: a migration failed, a breaking one was applied (an entry that does not say counts
 * as breaking), or one may have been cut off mid-flight. *ret is that reason, or NULL when a minor
 * rollback keeps the data. The rollback table and the watch's automatic rollback decide by it. */
int current_restore_reason(const Current *c, char **ret);

/* The deployment's current.json as it is, not checked against the keys above: for display (status
 * --json prints it) and for reading a corrupt file leniently (the recovery's fallback). -ENOENT when
 * none is in flight. */
int current_read_document(const char *deployment, cJSON **ret);
/* remove the deployment's current.json durably (the upgrade is over); -ENOENT when there is none */
int current_remove(const char *deployment);
/* move a held upgrade's current.json aside as <name> in the state directory, for the post-mortem */
int current_set_aside(const char *deployment, const char *name);
/* "2026-11-26T10:57:13Z" for now; malloc'd */
char *current_timestamp(void);
