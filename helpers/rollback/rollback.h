/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rollback.h: what the files of the rollback program share (docs/architecture.md, "Rollback") */
#pragma once

#include <stdbool.h>
#include <time.h>
#include <cjson/cJSON.h>
#include <systemd/sd-bus.h>

#include "backup-manifest.h"
#include "current.h"
#include "helper.h"
#include "macro.h"
#include "pg.h"
#include "rollback-table.h"
#include "time-util.h"

/* how this run was started (main.c sets it from the command line) */
extern RollbackRun arg_mode;

/* where the database swap of a full restore stands, as the catalog shows it */
typedef enum DbState {
        DB_UNTOUCHED,    /* <db> is still the failed upgrade's database */
        DB_RENAMED_AWAY, /* <db> is renamed to <db>_failed_<id>, the restore point not yet to <db> */
        DB_SWAPPED,      /* <db> is the restored copy */
} DbState;

typedef struct Rollback {
        Helper *h;
        Current current;            /* current.json as last read or written under the lock */
        bool migrations_unreadable; /* its "migrations" had to be read as absent: a full restore */
        sd_bus *bus;
        RollbackAction action;
        char *why; /* the first failure: the held line and "held_reason" */

        char *failed_phase;   /* the phase the upgrade failed in */
        char *restore_reason; /* why a full restore is needed, or NULL */

        cJSON *manifest;       /* the backup's, once verified */
        BackupFileList *files; /* its checksums (files.sha256, backup-manifest.h), once verified */
        bool snapshot_counted; /* the snapshot's rows counted here: the manifest had none (database.c) */
        DbState db;
        bool db_in_play;     /* a full restore reached the database */
        char *failed_db;     /* <db>_failed_<id>: current.json's, or computed (database.c) */
        char *source_db;     /* the snapshot, or <db>_restore_<id> */
        bool stores_touched; /* some store was overwritten from the backup … */
        bool stores_done;    /* … and all of them verified */
        bool old_runs;       /* the old release runs (its smoke test failed) */
        bool old_failed;     /* the old release did not come up, or failed its smoke test */
} Rollback;

/* ---- bookkeeping.c ---- */

/* free what rb holds (the _cleanup_ of run()'s Rollback) */
void rollback_done(Rollback *rb);
/* Log a failure of a step (one line) and keep the first one as the reason the rollback is held.
 * Returns -abs(error). */
_printf_(3, 4) int rb_fail(Rollback *rb, int error, const char *fmt, ...);
/* rb_fail() for an allocation that failed */
int rb_oom(Rollback *rb);
/* replace *dst by a copy of src (NULL stays NULL); -ENOMEM, not logged */
int rb_strdup(char **dst, const char *src);
/* Read current.json into rb->current (replacing it) with current_load_lenient(): a key of the wrong
 * type is warned about and read as absent (a count as exhausted), never refusing the file, so that a
 * corrupt current.json is still rolled back or held. -ENOENT when none is in flight; other errors are
 * returned, not logged. */
int rb_load_current(Rollback *rb);
/* write rb->current; a failure is logged through rb_fail() */
int rb_save(Rollback *rb);
/* after the lock was let go: take it again and read current.json anew (logged through rb_fail()) */
int rb_relock(Rollback *rb);
/* "FIELD=value" for log_event(), or NULL (a field left out) */
char *event_field(const char *field, const char *value);

/* ---- conclude.c: the end ---- */

/* append this upgrade's entry with result to the ledger and export it; logs its failure */
int write_ledger(
        Helper *h, const Current *current, const char *result, const char *phase, const char *message);
/* the ledger already has this upgrade's entry with that result */
bool ledger_has_entry(const char *deployment, const Current *current, const char *result);
/* the webhook, with the lock let go for it; never fails */
void rollback_notify(Rollback *rb, const char *event, const char *detail);
/* rollback.d once the result is known (none for "refused"); a failing hook is a warning only */
void run_rollback_hooks(Rollback *rb, const char *result);
/* record result: "rollback_result", then the ledger, then current.json goes, then the hooks; logs */
int conclude(Rollback *rb, const char *result, const char *message);

/* ---- inhibitor.c ---- */

/* end drain's shutdown inhibitor named in current.json, if that pid still is one; logs */
void end_inhibitor(const Current *current);

/* ---- hold.c ---- */

/* stop trying: log the critical held entry with what is left to do by hand, record held in
 * current.json and the ledger; returns 1 (the exit status) */
int hold(Rollback *rb);

/* ---- decide.c ---- */

/* what rb keeps beside rb->current: the restore reason, and failed_database (once computed, it
 * outlives a reload); -ENOMEM, not logged */
int load_facts(Rollback *rb);
/* take the table's verdict v on rb->current and record it (a resumed rollback goes on with the
 * recorded one); sets rb->action and rb->failed_phase; failures through rb_fail() */
int decide(Rollback *rb, const RollbackVerdict *v);
/* fill facts from rb->current for this run (strings borrowed from rb->current; *ret_restore_reason
 * owns the restore reason facts points to); -ENOMEM, not logged */
int rollback_facts_from_current(const Rollback *rb, RollbackFacts *ret, char **ret_restore_reason);

/* ---- server.c: the server unit over D-Bus ---- */

/* stop the server unit and wait until it is inactive or failed; logged through rb_fail() */
int stop_server(Rollback *rb);
/* restart a server the drain told to take no new runs, and wait for /health; through rb_fail() */
int undo_drain(Rollback *rb);

/* ---- switch-back.c ---- */

/* pin rb->current.from and point the current link back at it, recorded in current.json; through rb_fail() */
int switch_back(Rollback *rb);

/* ---- phase-helpers.c ---- */

/* run the phase helper name with --rollback and this instance; *ret_status its exit status */
int run_phase_helper(Rollback *rb, const char *name, int *ret_status);
/* start the old release (migrate-watch --rollback), then smoke-test it; the lock is taken again after */
int start_and_smoke(Rollback *rb);

/* ---- backup-check.c ---- */

/* the backup is still exactly what its manifest says; loads rb->manifest; through rb_fail() */
int verify_backup(Rollback *rb);
/* the row counts the restore brings back: those at the stop (snapshot, final dump), else the backup's */
const cJSON *restored_counts(Rollback *rb, bool *ret_at_stop);
/* 0 when actual holds exactly expected's tables and counts (at_least: tables whose expected count is
 * only a lower bound); else through rb_fail(): EBADMSG with
 * "<format …> (<why>): <consequence>", or rb_oom() */
_printf_(6, 7) int counts_check(
        Rollback *rb,
        const cJSON *expected,
        const cJSON *actual,
        const cJSON *at_least,
        const char *consequence,
        const char *format,
        ...);
/* the rows database db (the live one, or the failed one kept after the swap) has beyond what the
 * restore brings back; NAN when not known (warned) */
double count_discarded(Rollback *rb, const char *db);
/* count db's discarded rows and record "discarded_rows" once; through rb_fail() */
int record_discarded(Rollback *rb, const char *db);

/* ---- database.c ---- */

/* <db>_failed_<id> and the restore database's name (NULL with a snapshot); -errno, not logged */
int compute_db_names(const Rollback *rb, char **ret_failed, char **ret_source);
/* whether database name exists; rb NULL: a failure is returned, not logged */
int database_exists(Rollback *rb, const PgTarget *admin, const char *name, bool *ret);
/* A backup the snapshot refreshed (the manifest's "refreshed") less than BACKUP_TRUST_CTIME_USEC ago:
 * a file of it, or of a store it was proven equal to, whose ctime is older than that moment is unchanged
 * since (the kernel moves ctime on every change, and nothing sets it back), and keeps its checksum
 * unread; *ret = that moment. An older backup is read whole: it had time to rot on its disk.
 * docs/architecture.md, "What the downtime is made of". */
#define BACKUP_TRUST_CTIME_USEC (3600 * USEC_PER_SEC)
/* true, and *ret, for such a backup (backup-check.c) */
bool backup_refreshed_recently(const Rollback *rb, struct timespec *ret);
/* A snapshot the upgrade did not count (it failed before migrate did, restore-point.h): its rows,
 * counted now, become the manifest's tables_at_stop in rb->manifest. It was taken with no session on the
 * database, so its own counts are what the restore brings back. 0 also when there is nothing to count;
 * through rb_fail(). */
int adopt_snapshot_counts(Rollback *rb);
/* swap <db> for the restore point, keeping the failed one as <db>_failed_<id>; through rb_fail() */
int restore_database(Rollback *rb);

/* ---- restore-dump.c ---- */

/* restore the dump into a fresh rb->source_db and check its row counts; through rb_fail() */
int restore_dump(Rollback *rb, const PgTarget *admin);

/* ---- restore-delta.c ---- */

/* drop the replication slot current.json names, if it is still there; a failure is a warning (status and
 * clean show a leftover) */
void drop_delta_slot(Rollback *rb);
/* replay the delta file onto the restored dump rb->source_db in one transaction (the changes, then every
 * sequence's value), and check its row counts against the stop's; through rb_fail() */
int replay_delta(Rollback *rb);

/* ---- stores.c ---- */

/* put back every store and config file of the manifest and verify them; through rb_fail() */
int restore_stores(Rollback *rb);

/* ---- actions.c: the table's actions ---- */

/* failed before the server stopped: undo the drain, remove the staged release, record "aborted" */
int do_abort(Rollback *rb);
/* stop the server, switch and pin back, start and smoke-test the old release */
int do_minor(Rollback *rb);
/* verify the backup, stop the server, restore the database and the stores, then as do_minor() */
int do_restore(Rollback *rb);
/* record "rolled-back" once the old release passed its smoke test */
int finish_minor(Rollback *rb);
/* record "restored" once the old release passed its smoke test on the restored data */
int finish_restore(Rollback *rb);

/* ---- recover.c ---- */

/* the boot recovery before the table: 1 when the run is complete, 0 to go on, <0 on failure */
int recover_preamble(Rollback *rb, const RollbackVerdict *v);

/* ---- late.c ---- */

/* "codebolt-<kind>@<instance>.service" of this deployment, or NULL */
char *deployment_unit(const Helper *h, const char *kind);
/* no current.json: 1 with rb->current made when a late rollback begins, 0 when there is nothing to
 * roll back, <0 (logged) when it is refused */
int begin_late_rollback(Rollback *rb);
/* no upgrade of ours in flight: a refusal in preflight is recorded, else nothing to do; logs */
int nothing_to_roll_back(Rollback *rb);
