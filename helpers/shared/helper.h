/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* helper.h: what every phase helper does the same way: arguments, config, signals, the lock, current.json */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "current.h"

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
        Current current;   /* current.json, loaded by helper_main unless HELPER_NO_CURRENT (else empty) */
        int lock_fd;       /* -EBADF when not held */
        bool for_rollback; /* --rollback: run by the rollback unit for this upgrade (see helper_main) */
        usec_t started;    /* CLOCK_MONOTONIC when helper_main() began: the phase's duration runs from it */
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

/* whether the environment's locale (LANG, LC_ALL, LC_CTYPE) uses UTF-8, so that block characters
 * (a sparkline, a progress bar) may be printed; the program's own locale stays "C" */
bool helper_locale_is_utf8(void);

/* the seconds since helper_main() began (what helper_main() records as the phase's duration) */
double helper_seconds(const Helper *h);

/* config_load(), then paths_set_install_root(); logs a failure as "file:line: key: message" (and ":
 * consequence" when given) */
int helper_config_load(const char *deployment, Config *ret, const char *consequence);

/* take the state lock (docs/architecture.md, "State on disk") around every read-modify-write of the
 * state; nothing when h holds it already. Does not log. */
int helper_lock(Helper *h);
/* let the state lock go (nothing when not held) */
void helper_unlock(Helper *h);

/* under the lock (taken here when h does not hold it): load current.json again, check it is this
 * upgrade's, let update() change it, save it. Logs its failure. */
int helper_update_current(Helper *h, int (*update)(Current *current, void *userdata), void *userdata);
/* helper_update_current() setting the string field of Current at offset (offsetof(Current, backup)) to
 * a copy of value; the key's present bit is set, so a NULL value writes null */
int helper_set_current_string(Helper *h, CurrentKey key, size_t offset, const char *value);
/* helper_update_current() setting the bool field of Current at offset, written even when false */
int helper_set_current_bool(Helper *h, CurrentKey key, size_t offset, bool value);

/* a deadline this far from now on CLOCK_MONOTONIC (USEC_INFINITY stays infinite) */
usec_t helper_deadline(usec_t timeout);
