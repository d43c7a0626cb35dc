/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* journal.h: follow one invocation of the server unit in the journal, and read its log lines */
#pragma once

#include <regex.h>

#include "journal-pattern.h"
#include "macro.h"
#include "time-util.h"

/* one journal entry, owned */
typedef struct JournalEntry {
        char *message; /* MESSAGE, NULL when the entry has none */
        int priority;  /* PRIORITY, LOG_INFO when absent */
        char *unit;    /* the unit the entry belongs to: _SYSTEMD_UNIT, or UNIT= for PID 1's messages */
        char *invocation_id; /* its invocation id (32 hex chars) */
        usec_t realtime;     /* CLOCK_REALTIME, usec */
        char *cursor;
} JournalEntry;

/* frees the strings of a JournalEntry (for _cleanup_) */
void journal_entry_done(JournalEntry *e);

typedef struct JournalWatch JournalWatch;

/* Follow one invocation of one unit, from the start of that invocation: the unit's own output
 * (_SYSTEMD_UNIT=unit and _SYSTEMD_INVOCATION_ID=id) or systemd's messages about it (_PID=1, UNIT=unit
 * and INVOCATION_ID=id, e.g. "Main process exited"). The _PID=1 term keeps another process from
 * speaking for the unit: clients can set UNIT= but not the trusted _PID=. */
int journal_watch_new_system(const char *unit, const char *invocation_id, JournalWatch **ret);
/* the same over the given journal files (tests) */
int journal_watch_new_files(char **paths, const char *unit, const char *invocation_id, JournalWatch **ret);

/* the inotify fd to poll (POLLIN) together with the bus fd */
int journal_watch_get_fd(JournalWatch *w);

/* The next entry: 1 with *ret filled; 0 when none arrives before deadline (CLOCK_MONOTONIC usec,
 * USEC_INFINITY waits forever); -errno on error. Blocks in sd_journal_wait(). */
int journal_watch_next(JournalWatch *w, usec_t deadline, JournalEntry *ret);
/* Non-blocking: 1 with *ret filled, 0 when nothing is pending right now. */
int journal_watch_try_next(JournalWatch *w, JournalEntry *ret);
/* Drain the inotify fd after it polled readable (sd_journal_process()): SD_JOURNAL_NOP, _APPEND or
 * _INVALIDATE, or -errno. */
int journal_watch_process(JournalWatch *w);
/* When to call journal_watch_process() even if the fd stayed quiet (CLOCK_MONOTONIC usec; USEC_INFINITY:
 * never): sd_journal_get_timeout(), which is finite for journals on network file systems. */
int journal_watch_get_timeout(JournalWatch *w, usec_t *ret);

/* closes the journal and frees w (NULL: nothing); returns NULL. The ...p form for _cleanup_ */
JournalWatch *journal_watch_free(JournalWatch *w);
static inline void journal_watch_freep(JournalWatch **w) {
        journal_watch_free(*w);
}
#define _cleanup_journal_watch_ _cleanup_(journal_watch_freep)

/* The server's log lines that migrate-watch acts on (docs/architecture.md, "The server contract"). A line
 * must start with its marker (leading blanks allowed); anything else, including a marker further into the
 * line and a malformed marker line, is LINE_OTHER. */
typedef enum ServerLineKind {
        LINE_OTHER,
        LINE_MIGRATION_APPLYING, /* migrations: applying <id> */
        LINE_MIGRATIONS_SUMMARY, /* migrations: <N> applied, <M> failed */
        LINE_MIGRATIONS_FAILED,  /* migrations: failed[: reason] */
        LINE_READY,              /* server ready: listening on [host]:<port> */
} ServerLineKind;

typedef struct ServerLine {
        ServerLineKind kind;
        char *migration_id; /* LINE_MIGRATION_APPLYING */
        unsigned applied;   /* LINE_MIGRATIONS_SUMMARY */
        unsigned failed;    /* LINE_MIGRATIONS_SUMMARY */
        unsigned port;      /* LINE_READY, 1..65535 */
        char *reason;       /* LINE_MIGRATIONS_FAILED, NULL when none was given */
} ServerLine;

/* 0 with *ret filled (kind LINE_OTHER for every line that is not one of the above); -ENOMEM */
int journal_classify_line(const char *message, ServerLine *ret);
void server_line_done(ServerLine *l);

/* 1 when e is an error: PRIORITY <= 3 (err, crit, alert, emerg), or its message matches error_pattern
 * (which may be NULL); else 0 */
int journal_entry_is_error(const JournalEntry *e, const regex_t *error_pattern);

/* Count the errors (journal_entry_is_error()) in the unit's own output (_SYSTEMD_UNIT=, every
 * invocation) from the entry after after_cursor or, when that is NULL, from since (CLOCK_REALTIME usec)
 * to the end of the journal: the system journal, or the given journal files (tests) when paths is not
 * NULL. *ret_cursor (optional) gets the cursor of the last entry read, NULL when there was none: pass
 * it as after_cursor next time to count only what came since. */
int journal_count_errors(
        char **paths,
        const char *unit,
        usec_t since,
        const char *after_cursor,
        const regex_t *error_pattern,
        uint64_t *ret_count,
        char **ret_cursor);
