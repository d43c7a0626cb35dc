/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cli.h: what the verbs of codebolt-upgrade share: the parsed options, the state lock and the loads */
#pragma once

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "config.h"
#include "current.h"

/* the options main.c parses, read by the verbs */
extern bool arg_json;
extern bool arg_discard_since;
extern bool arg_dry_run;
extern bool arg_coordinated;
extern bool arg_auto_revert;
extern bool arg_follow;
extern bool arg_yes;
extern bool arg_no_follow;
extern const char *arg_deployment;

/* a string member of o, or fallback when it is missing or empty */
const char *cli_str_or(const cJSON *o, const char *key, const char *fallback);
/* s, or fallback when it is NULL or empty (cli_str_or() for a field of Current) */
const char *cli_or(const char *s, const char *fallback);

/* 0 when version is an exact version; else -EINVAL, with the rule it breaks logged */
int cli_require_exact_version(const char *version);

/* "codebolt-<kind>[-<deployment>]@<instance>.service", or NULL when out of memory */
char *cli_deployment_unit(const Config *c, const char *kind, const char *instance);

/* current.json of the deployment into *ret_current: 1, or 0 when no upgrade is in flight (*ret_current
 * untouched); other failures logged, a wrongly typed key with the message naming it */
int cli_load_current(const Config *c, Current *ret_current);

/* the ledger of the deployment into *ret_ledger; a failure logged */
int cli_load_ledger(const Config *c, cJSON **ret_ledger);

/* The prologue of every verb that changes the state: the deployment's state lock (docs/architecture.md,
 * "State on disk"), waited for, into *ret_lock_fd; then, under it and in this order, the ledger when
 * ret_ledger is not NULL and current.json when ret_current is not NULL (cli_load_ledger(),
 * cli_load_current()). Each failure logged once. 1 when current.json was loaded, else 0. */
int cli_lock_and_load(const Config *c, int *ret_lock_fd, cJSON **ret_ledger, Current *ret_current);

/* Snapshot=delta's replication slots on the deployment's database (delta_slots()) into *ret_slots;
 * current (or NULL): the upgrade in flight, whose slot is in use unless it is held. Returns the number of
 * slots, or a failure (not logged: *ret_error says it). */
int cli_delta_slots(const Config *c, cJSON **ret_slots, char **ret_error);
/* whether the slot named is the one the upgrade in flight still needs */
bool cli_delta_slot_in_use(const Current *current, const char *slot);

/* What cli_follow() follows (docs/architecture.md, "Following an upgrade"). */
typedef struct CliFollow {
        const char *upgrade_unit;  /* NULL: none, a rollback by hand */
        const char *rollback_unit; /* the rollback that follows a failure of upgrade_unit */
        const char *start_unit;    /* started first (without waiting for its job), or NULL */
        const char *version;       /* the version upgraded to: its ledger entry says how it ended */
        unsigned migrations_total; /* the plan's count, for "k of n"; 0 when not known */
        usec_t since;              /* CLOCK_REALTIME of the start: the ledger entry ends after it */
        bool attach;               /* status --follow: a unit running now is the one followed */
        bool by_hand;              /* a rollback asked for by hand: putting the old version back is its
                                    * success (exit 0) */
} CliFollow;

/* Follow the upgrade unit and, after a failure, the rollback unit until they end, drawn live: a block
 * redrawn on a terminal, timestamped lines on a pipe, a JSON object per change with --json. Then the
 * result in one sentence, the journal lines that explain a failure and the command to run next.
 * Returns the exit code: progress_exit_code() of the ledger's result (a rollback by hand: 0 when it
 * put the old version back), 2 when the unit could not be started, 130 when Ctrl-C detached (the
 * unit goes on). */
int cli_follow(const Config *c, const CliFollow *f);

/* the verbs, each as Verb.dispatch (verbs.h) is called: argv[0] is the verb; userdata the loaded Config,
 * NULL for the verbs that need none. <0: failed, logged (exit 1); else the exit code. */
int verb_status(int argc, char *argv[], void *userdata);
int verb_history(int argc, char *argv[], void *userdata);
int verb_clear(int argc, char *argv[], void *userdata);
int verb_rollback(int argc, char *argv[], void *userdata);
int verb_clean(int argc, char *argv[], void *userdata);
int verb_pin(int argc, char *argv[], void *userdata);
int verb_hold(int argc, char *argv[], void *userdata);
int verb_unhold(int argc, char *argv[], void *userdata);
int verb_plan(int argc, char *argv[], void *userdata);
/* `upgrade VERSION [--yes] [--no-follow]`: the plan, a confirmation, the unit started and followed */
int verb_upgrade(int argc, char *argv[], void *userdata);
int verb_satisfies(int argc, char *argv[], void *userdata);
int verb_server_may_start(int argc, char *argv[], void *userdata);
/* `cluster SUBVERB …`: exit 2 on a host in no cluster and for a refusal */
int verb_cluster(int argc, char *argv[], void *userdata);
