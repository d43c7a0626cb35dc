/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* progress.h: what the follower of `codebolt-upgrade upgrade`, `rollback` and `status --follow` shows
 * (docs/architecture.md, "Following an upgrade"): an upgrade's progress read out of its current.json,
 * drawn as a block for a terminal, as lines for a pipe or as JSON, and its end in one sentence with the
 * exit code. Pure: the caller reads the files and the units and writes the text. */
#pragma once

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "time-util.h"

/* the phases of codebolt-upgrade@.service, in order (docs/architecture.md, "Phases") */
#define PROGRESS_PHASES 9
extern const char *const progress_phases[PROGRESS_PHASES];

/* an upgrade in flight as its current.json says; the strings point into that document */
typedef struct Progress {
        bool in_flight; /* there is a current.json */
        const char *from, *to;
        const char *phase;         /* the phase running or last reached; "rollback" once the rollback runs */
        unsigned phase_index;      /* 1..PROGRESS_PHASES for one of the nine, else 0 */
        bool rollback;             /* the rollback works on it */
        const char *rollback_from; /* the phase the upgrade failed in, once the rollback says so */
        bool held;
        unsigned migrations_applied;  /* "applied" in its migrations */
        unsigned migrations_seen;     /* every migration it lists */
        const char *applying;         /* the migration being applied now, or NULL */
        const char *failed_migration; /* one that failed, or NULL */
        bool server_stopped;
        bool server_back;  /* stopped, and the migrate phase completed: the new version answers */
        usec_t stopped_at; /* CLOCK_REALTIME of the stop (whole seconds), 0 when not known */
        bool complete;     /* every phase completed (set by the follower: current.json is gone by then) */
} Progress;

/* progress out of current.json (NULL: none in flight, *ret is then all zero) */
void progress_read(const cJSON *current, Progress *ret);

/* what a view shows besides the progress */
typedef struct ProgressView {
        const char *deployment;
        const char *status_text;   /* the working unit's StatusText=, or NULL */
        unsigned migrations_total; /* the plan's count of new migrations; 0 when not known */
        usec_t elapsed;            /* since the unit was started */
        usec_t downtime;           /* how long the server has been down; USEC_INFINITY: not stopped */
        bool downtime_final;       /* the server is back: downtime is the whole of it */
        bool utf8;                 /* the terminal takes UTF-8: a bar of blocks, not of '#' */
        unsigned width;            /* the terminal's columns (a line is cut to fit); 0: no limit */
} ProgressView;

/* The terminal's block: a few lines, each newline-terminated, none longer than v->width. NULL when out
 * of memory. */
char *progress_block(const Progress *p, const ProgressView *v);
/* The number of lines progress_block() made of text (to move the cursor back up before redrawing). */
unsigned progress_block_lines(const char *text);

/* What changed from old to new, as lines for a pipe (without a time stamp or newline), appended to
 * *lines (a strv). Phases entered, each migration applying, applied or failed, the server stopped and
 * back, the rollback begun, the upgrade held. -ENOMEM only. */
int progress_changes(const Progress *old, const Progress *new, const ProgressView *v, char ***lines);

/* The progress and the view as one JSON object (status --json --follow): time is CLOCK_REALTIME. */
cJSON *progress_to_json(const Progress *p, const ProgressView *v, usec_t time);

/* The exit code of `upgrade` and `rollback` for a ledger result: 0 succeeded, 1 rolled-back, restored or
 * aborted (the old version runs), 2 refused (nothing was changed), 3 held; -EINVAL for anything else. */
int progress_exit_code(const char *result);

/* The end of an upgrade in one sentence, from its ledger entry (ledger.h): what happened and what runs
 * now. NULL when out of memory. */
char *progress_sentence(const cJSON *entry, const char *deployment);
