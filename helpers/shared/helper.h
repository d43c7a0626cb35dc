/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* common.h: what every phase helper does the same way: arguments, config, the lock, current.json */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <cjson/cJSON.h>

#include "config.h"
#include "pg.h"
#include "retention.h"

/* the process name of drain's shutdown-inhibitor holder, which finish and the rollback end */
#define HELPER_INHIBITOR_NAME "cbu-inhibitor"

typedef enum HelperFlags {
        HELPER_NO_CURRENT = 1 << 0,   /* the helper manages current.json itself (preflight) */
        HELPER_ENDS_UPGRADE = 1 << 1, /* run() removes current.json (finish): no phase to mark done */
        HELPER_ANY_VERSION = 1 << 2,  /* the instance need not be an exact version (rollback of a refusal) */
        HELPER_KEEPS_PHASE = 1 << 3,  /* enter and complete no phase in current.json (set by --rollback) */
} HelperFlags;

typedef struct Helper {
        const char *phase; /* "stage", "backup", … (docs/architecture.md, "Phases") */
        char *instance;    /* %i as the unit gave it, still escaped */
        char *version;     /* the target version, unescaped and validated */
        char *upgrade_id;  /* $INVOCATION_ID of the upgrade unit, or NULL when run by hand */
        Config config;
        cJSON *current;    /* current.json, loaded by helper_main unless HELPER_NO_CURRENT */
        int lock_fd;       /* -EBADF when not held */
        bool for_rollback; /* --rollback: run by the rollback unit for this upgrade (see helper_main) */
        int argc;          /* what is left after the options helper_main knows */
        char **argv;
} Helper;

/* set by the SIGTERM/SIGINT handler: a helper that receives SIGTERM exits non-zero (docs/architecture.md,
 * "Phases") */
extern volatile sig_atomic_t helper_cancelled;

/* The whole life of a phase helper: `<helper> [--rollback] [options] <instance>`. With --rollback the
 * helper is run by codebolt-rollback@<instance> (start the old release and watch it, smoke it): it
 * accepts current.json by its instance rather than by the upgrade unit's invocation id and marks no
 * phase, since the phase is "rollback". Sets up logging and signals,
 * unescapes and validates the version, loads the config, then (unless HELPER_NO_CURRENT) checks that
 * current.json belongs to this upgrade and marks the phase as entered; calls run(); on success marks
 * the phase done. Returns the exit code: 0 success, 1 failure, 2 bad usage or configuration, or what
 * run() returned when it is positive. */
int helper_main(int argc, char *argv[], const char *phase, HelperFlags flags, int (*run)(Helper *h));

/* config_load() that logs a failure as "file:line: key: message" (and ": consequence" when given) */
int helper_config_load(const char *deployment, Config *ret, const char *consequence);

/* the state lock (docs/architecture.md, "State on disk") around every read-modify-write of the state */
int helper_lock(Helper *h);
void helper_unlock(Helper *h);

/* under the lock: load current.json again, let update() change it, save it */
int helper_update_current(Helper *h, int (*update)(cJSON *current, void *userdata), void *userdata);
/* the same for one string or bool key */
int helper_set_current_string(Helper *h, const char *key, const char *value);
int helper_set_current_bool(Helper *h, const char *key, bool value);

/* the server unit's user: [Server] User=, else the unit's User= over D-Bus */
int helper_server_user(Helper *h, char **ret);
/* http://127.0.0.1:<Port><path> */
char *helper_server_url(const Helper *h, const char *path);
/* log in as the smoke-test user ([Smoke] User=, PasswordCredential=); the token is malloc'd */
int helper_login(Helper *h, char **ret_token);
/* where database work runs: as [Database] OSUser=, on Connection=, with PasswordCredential= if present */
int helper_pg_target(const Helper *h, const char *dbname, PgTarget *ret);
/* the same from a Config, where there is no Helper (the codebolt-upgrade command) */
int helper_pg_target_config(const Config *c, const char *dbname, PgTarget *ret);
/* read a credential file, trimmed of whitespace: it and every directory on its path must be root's
 * alone (trust_open_root_file() with TRUST_PRIVATE: the file root-owned with mode 0600), else -EPERM;
 * *ret_why (may be NULL) then says what is wrong and the fix */
int helper_read_credential(const char *name, char **ret, char **ret_why);

/* The [Notify] URL= webhook: POST event with fields (NULL: none) plus deployment, version, from (when
 * current.json knows it) and phase; with the TokenCredential= file as bearer token when that file
 * exists. Nothing when URL= is unset. Any failure is one warning, never an error: a notification that
 * cannot be sent changes nothing about the upgrade. */
void helper_notify(Helper *h, const char *event, const cJSON *fields);

/* Run the stage's hooks (hooks.h: HOOKS_PRE_UPGRADE, …) with this upgrade's context: from and backup
 * from current (NULL: h->current), result (rollback stage) as CODEBOLT_UPGRADE_RESULT, each bounded by
 * [Timeouts] Hook=. Never under the state lock (a hook may run codebolt-upgrade status): one held is
 * let go and taken again after. Logs every hook. A failing pre-upgrade or smoke hook stops the stage
 * and is an error (logged; -EPROTO); in the other stages a failure is a warning, the rest still run,
 * and 0 is returned. */
int helper_run_hooks(Helper *h, const char *stage, const cJSON *current, const char *result);

/* What retention_plan() decides on, gathered from the cluster (every database, as OSUser=) and the
 * disk (releases, backups, the current link, the pin, ledger.json, current.json); the caller holds the
 * state lock (finish's pruning, `codebolt-upgrade clean`). These do not log: on failure *ret_error
 * (optional) says what failed, naming the database or the file. */
typedef struct HelperRetention {
        RetentionInput input; /* points into the fields below */
        cJSON *ledger, *current;
        char **databases, **releases, **backups;
        char *running, *pinned;
} HelperRetention;
int helper_retention_gather(const Config *c, HelperRetention *ret, char **ret_error);
void helper_retention_done(HelperRetention *r);
/* the size in bytes of what item names: pg_database_size(), or du -sb of the release */
int helper_retention_size(const Config *c, const RetentionItem *item, uint64_t *ret);
/* DROP DATABASE (as OSUser=), or rm -rf --one-file-system of the release; phase for the journal */
int helper_retention_remove(const Config *c, const RetentionItem *item, const char *phase, char **ret_error);

/* Write ledger to [Policy] ExportLedger= (the copy another host's staging gate reads). A failure is one
 * warning: the export serves another host, the ledger itself is written. */
void helper_export_ledger(const Config *c, const cJSON *ledger);

/* hold.json in the deployment's state dir: `codebolt-upgrade hold` paused the unattended (timer)
 * upgrades. 1 with *ret_since and *ret_reason (either may be NULL) when held, 0 when not, <0 on error. */
int helper_hold_read(const char *deployment, char **ret_since, char **ret_reason);

/* a deadline this far from now on CLOCK_MONOTONIC (USEC_INFINITY stays infinite) */
usec_t helper_deadline(usec_t timeout);

/* Around the server's start (or restart) by the upgrade or the rollback: begin writes this process's
 * PID to /run/codebolt-upgrade/<deployment>.starting right before StartUnit/RestartUnit, so that the
 * server unit's `ExecCondition=codebolt-upgrade server-may-start` lets this start through while it
 * refuses every other one; end removes it once the job ended. begin logs its failure; end only warns. */
int helper_starting_begin(const Helper *h);
void helper_starting_end(const Helper *h);
