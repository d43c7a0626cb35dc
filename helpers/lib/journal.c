/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* journal.c: follow one invocation of the server unit in the journal, and read its log lines */
#define _GNU_SOURCE
#include <ctype.h>
#include <limits.h>
#include <stdbool.h>
#include <syslog.h>
#include <time.h>

#include <systemd/sd-id128.h>
#include <systemd/sd-journal.h>

#include "errmsg.h"
#include "journal.h"

struct JournalWatch {
        sd_journal *journal;
        char *unit;
        char *invocation_id; /* normalised: 32 lowercase hex chars */
};

void journal_entry_done(JournalEntry *e) {
        if (!e)
                return;
        free(e->message);
        free(e->unit);
        free(e->invocation_id);
        free(e->cursor);
        *e = (JournalEntry){ .priority = LOG_INFO };
}

JournalWatch *journal_watch_free(JournalWatch *w) {
        if (!w)
                return NULL;
        sd_journal_close(w->journal);
        free(w->unit);
        free(w->invocation_id);
        free(w);
        return NULL;
}

static int add_match_pair(sd_journal *j, const char *field, const char *value) {
        _cleanup_free_ char *m = NULL;

        if (asprintf(&m, "%s=%s", field, value) < 0)
                return -ENOMEM;
        return sd_journal_add_match(j, m, 0);
}

/* unit_field=unit AND id_field=id: one run of a unit, by its own fields or by systemd's about it */
static int add_match_run(
        sd_journal *j, const char *unit_field, const char *unit, const char *id_field, const char *id) {
        int r;

        r = add_match_pair(j, unit_field, unit);
        if (r < 0)
                return r;
        return add_match_pair(j, id_field, id);
}

static int watch_check_args(
        const char *unit, const char *invocation_id, sd_id128_t *ret_id, JournalWatch **ret) {
        sd_id128_t id;
        int r;

        if (!unit || !*unit || !invocation_id || !ret)
                return -EINVAL;
        /* accepts the UUID form too; the journal stores the plain hex form */
        r = sd_id128_from_string(invocation_id, &id);
        if (r < 0)
                return r;
        if (sd_id128_is_null(id))
                return -EINVAL;
        *ret_id = id;
        return 0;
}

/* takes ownership of *journal */
static int watch_new(sd_journal **journal, const char *unit, sd_id128_t id, JournalWatch **ret) {
        _cleanup_journal_watch_ JournalWatch *w = NULL;
        int r;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->unit = strdup(unit);
        w->invocation_id = strdup(SD_ID128_TO_STRING(id));
        if (!w->unit || !w->invocation_id)
                return -ENOMEM;
        w->journal = TAKE_PTR(*journal);

        /* (_SYSTEMD_UNIT=u AND _SYSTEMD_INVOCATION_ID=id) OR (UNIT=u AND INVOCATION_ID=id AND _PID=1) */
        r = add_match_run(w->journal, "_SYSTEMD_UNIT", w->unit, "_SYSTEMD_INVOCATION_ID", w->invocation_id);
        if (r < 0)
                return r;
        r = sd_journal_add_disjunction(w->journal);
        if (r < 0)
                return r;
        r = add_match_run(w->journal, "UNIT", w->unit, "INVOCATION_ID", w->invocation_id);
        if (r < 0)
                return r;
        r = sd_journal_add_match(w->journal, "_PID=1", 0);
        if (r < 0)
                return r;

        /* the matches select the invocation, so its first entry is the first match from the head */
        r = sd_journal_seek_head(w->journal);
        if (r < 0)
                return r;

        /* set up inotify now: a first sd_journal_wait() would otherwise return at once instead of
         * waiting, and the caller may want the fd before reading anything */
        r = sd_journal_get_fd(w->journal);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(w);
        return 0;
}

int journal_watch_new_system(const char *unit, const char *invocation_id, JournalWatch **ret) {
        _cleanup_(sd_journal_closep) sd_journal *j = NULL;
        sd_id128_t id;
        int r;

        r = watch_check_args(unit, invocation_id, &id, ret);
        if (r < 0)
                return r;
        /* not SD_JOURNAL_SYSTEM: journald files the output of a service running under a regular
         * user's uid (>= 1000) in that user's journal file; the matches do the filtering */
        r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
        if (r < 0)
                return r;
        return watch_new(&j, unit, id, ret);
}

int journal_watch_new_files(char **paths, const char *unit, const char *invocation_id, JournalWatch **ret) {
        _cleanup_(sd_journal_closep) sd_journal *j = NULL;
        sd_id128_t id;
        int r;

        if (!paths || !*paths)
                return -EINVAL;
        r = watch_check_args(unit, invocation_id, &id, ret);
        if (r < 0)
                return r;
        r = sd_journal_open_files(&j, (const char **)paths, 0);
        if (r < 0)
                return r;
        return watch_new(&j, unit, id, ret);
}

int journal_watch_get_fd(JournalWatch *w) {
        if (!w)
                return -EINVAL;
        return sd_journal_get_fd(w->journal);
}

int journal_watch_process(JournalWatch *w) {
        if (!w)
                return -EINVAL;
        return sd_journal_process(w->journal);
}

int journal_watch_get_timeout(JournalWatch *w, usec_t *ret) {
        uint64_t t;
        int r;

        if (!w || !ret)
                return -EINVAL;
        r = sd_journal_get_timeout(w->journal, &t);
        if (r < 0)
                return r;
        *ret = t == UINT64_MAX ? USEC_INFINITY : (usec_t)t;
        return 0;
}

/* the value of field in the current entry: 0 and *ret, -ENOENT when the entry lacks it */
static int entry_field(sd_journal *j, const char *field, char **ret) {
        const void *data;
        size_t size, prefix = strlen(field) + 1;
        char *v;
        int r;

        r = sd_journal_get_data(j, field, &data, &size);
        if (r < 0)
                return r;
        if (size < prefix)
                return -EBADMSG;
        v = strndup((const char *)data + prefix, size - prefix);
        if (!v)
                return -ENOMEM;
        *ret = v;
        return 0;
}

static int entry_field_optional(sd_journal *j, const char *field, char **ret) {
        int r = entry_field(j, field, ret);

        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        return r;
}

/* two fields of the current entry, as entry_field() or (optional) entry_field_optional() */
static int entry_field_pair(
        sd_journal *j, bool optional, const char *field_a, char **ret_a, const char *field_b, char **ret_b) {
        _cleanup_free_ char *a = NULL, *b = NULL;
        int r;

        r = optional ? entry_field_optional(j, field_a, &a) : entry_field(j, field_a, &a);
        if (r < 0)
                return r;
        r = optional ? entry_field_optional(j, field_b, &b) : entry_field(j, field_b, &b);
        if (r < 0)
                return r;
        *ret_a = TAKE_PTR(a);
        *ret_b = TAKE_PTR(b);
        return 0;
}

/* the entry's MESSAGE (NULL when it has none) and PRIORITY (*ret_priority left alone when it has none
 * or one that is not 0-7) */
static int entry_message_priority(sd_journal *j, char **ret_message, int *ret_priority) {
        _cleanup_free_ char *message = NULL, *priority = NULL;
        int r;

        r = entry_field_pair(j, true, "MESSAGE", &message, "PRIORITY", &priority);
        if (r < 0)
                return r;
        if (priority && priority[0] >= '0' && priority[0] <= '7' && priority[1] == 0)
                *ret_priority = priority[0] - '0';
        *ret_message = TAKE_PTR(message);
        return 0;
}

static int read_entry(JournalWatch *w, JournalEntry *ret) {
        _cleanup_free_ char *message = NULL, *sunit = NULL, *sid = NULL, *unit = NULL, *id = NULL,
                            *cursor = NULL;
        int prio = LOG_INFO;
        uint64_t realtime;
        int r;

        r = entry_message_priority(w->journal, &message, &prio);
        if (r < 0)
                return r;

        r = entry_field_pair(w->journal, true, "_SYSTEMD_UNIT", &sunit, "_SYSTEMD_INVOCATION_ID", &sid);
        if (r < 0)
                return r;
        if (streq_ptr(sunit, w->unit) && streq_ptr(sid, w->invocation_id)) {
                /* the unit's own output */
                unit = TAKE_PTR(sunit);
                id = TAKE_PTR(sid);
        } else {
                /* systemd's message about the unit (the other half of the match) */
                r = entry_field_pair(w->journal, false, "UNIT", &unit, "INVOCATION_ID", &id);
                if (r < 0)
                        return r;
        }

        r = sd_journal_get_realtime_usec(w->journal, &realtime);
        if (r < 0)
                return r;
        r = sd_journal_get_cursor(w->journal, &cursor);
        if (r < 0)
                return r;

        *ret = (JournalEntry){
                .message = TAKE_PTR(message),
                .priority = prio,
                .unit = TAKE_PTR(unit),
                .invocation_id = TAKE_PTR(id),
                .realtime = realtime,
                .cursor = TAKE_PTR(cursor),
        };
        return 0;
}

int journal_watch_try_next(JournalWatch *w, JournalEntry *ret) {
        int r;

        if (!w || !ret)
                return -EINVAL;

        r = sd_journal_next(w->journal);
        if (r <= 0)
                return r;
        r = read_entry(w, ret);
        if (r < 0)
                return r;
        return 1;
}

int journal_watch_next(JournalWatch *w, usec_t deadline, JournalEntry *ret) {
        int r;

        if (!w || !ret)
                return -EINVAL;

        for (;;) {
                usec_t n;

                r = journal_watch_try_next(w, ret);
                if (r != 0)
                        return r;

                n = now_monotonic();
                if (deadline != USEC_INFINITY && n >= deadline)
                        return 0;

                /* wakes on any change to the journal files, not only on a matching entry: loop */
                r = sd_journal_wait(w->journal, deadline == USEC_INFINITY ? (uint64_t)-1 : deadline - n);
                if (r < 0)
                        return r;
        }
}

/* ---- the server's log lines ---- */

void server_line_done(ServerLine *l) {
        if (!l)
                return;
        free(l->migration_id);
        free(l->reason);
        *l = (ServerLine){ .kind = LINE_OTHER };
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t';
}

static const char *skip_blanks(const char *s) {
        while (is_blank(*s))
                s++;
        return s;
}

static bool is_word_char(char c) {
        return isalnum((unsigned char)c) || c == '_';
}

/* a decimal number of at most max, no sign, no blanks; advances *p past it */
static int parse_number(const char **p, unsigned max, unsigned *ret) {
        const char *s = *p;
        unsigned long long v = 0;

        if (!isdigit((unsigned char)*s))
                return -EINVAL;
        for (; isdigit((unsigned char)*s); s++) {
                v = v * 10 + (unsigned)(*s - '0');
                if (v > max)
                        return -ERANGE;
        }
        /* "12abc" is not a number */
        if (is_word_char(*s))
                return -EINVAL;
        *p = s;
        *ret = (unsigned)v;
        return 0;
}

static int classify_migrations(const char *p, ServerLine *l) {
        const char *q;

        if ((q = startswith(p, "applying "))) {
                size_t n;

                q = skip_blanks(q);
                n = strcspn(q, " \t");
                if (n == 0)
                        return 0;
                l->migration_id = strndup(q, n);
                if (!l->migration_id)
                        return -ENOMEM;
                l->kind = LINE_MIGRATION_APPLYING;
                return 0;
        }

        if ((q = startswith(p, "failed"))) {
                if (*q == ':') {
                        q = skip_blanks(q + 1);
                        if (*q) {
                                l->reason = strdup(q);
                                if (!l->reason)
                                        return -ENOMEM;
                        }
                } else if (*q)
                        /* "failed to …", "failedness": not the marker */
                        return 0;
                l->kind = LINE_MIGRATIONS_FAILED;
                return 0;
        }

        /* <N> applied, <M> failed */
        if (parse_number(&p, UINT_MAX, &l->applied) < 0)
                return 0;
        if (!(p = startswith(p, " applied, ")))
                return 0;
        if (parse_number(&p, UINT_MAX, &l->failed) < 0)
                return 0;
        if (!(p = startswith(p, " failed")))
                return 0;
        /* allow trailing punctuation or a note, not "failedx" */
        if (is_word_char(*p))
                return 0;
        l->kind = LINE_MIGRATIONS_SUMMARY;
        return 0;
}

static int classify_ready(const char *p, ServerLine *l) {
        size_t n = strcspn(p, " \t");
        const char *colon = NULL;

        /* [host]:<port>, the host may itself hold colons ([::]:3456) */
        for (const char *c = p; c < p + n; c++)
                if (*c == ':')
                        colon = c;
        if (!colon)
                return 0;

        p = colon + 1;
        if (parse_number(&p, 65535, &l->port) < 0 || l->port == 0)
                return 0;
        if (*p && !is_blank(*p))
                return 0;
        l->kind = LINE_READY;
        return 0;
}

int journal_classify_line(const char *message, ServerLine *ret) {
        _cleanup_free_ char *s = NULL;
        ServerLine l = { .kind = LINE_OTHER };
        const char *p;
        size_t n;
        int r;

        if (!ret)
                return -EINVAL;
        if (!message) {
                *ret = l;
                return 0;
        }

        s = strdup(skip_blanks(message));
        if (!s)
                return -ENOMEM;
        for (n = strlen(s); n > 0 && isspace((unsigned char)s[n - 1]); n--)
                s[n - 1] = 0;

        if ((p = startswith(s, "migrations: ")))
                r = classify_migrations(p, &l);
        else if ((p = startswith(s, "server ready: listening on ")))
                r = classify_ready(p, &l);
        else
                r = 0;
        if (r < 0) {
                server_line_done(&l);
                return r;
        }

        /* only the kind's own fields are meaningful */
        if (l.kind != LINE_MIGRATIONS_SUMMARY)
                l.applied = l.failed = 0;
        if (l.kind != LINE_READY)
                l.port = 0;
        *ret = l;
        return 0;
}

/* ---- errors in the journal ---- */

int journal_entry_is_error(const JournalEntry *e, const regex_t *error_pattern) {
        if (!e)
                return -EINVAL;
        if (e->priority >= 0 && e->priority <= LOG_ERR)
                return 1;
        if (error_pattern && e->message && regexec(error_pattern, e->message, 0, NULL, 0) == 0)
                return 1;
        return 0;
}

int journal_count_errors(
        char **paths,
        const char *unit,
        usec_t since,
        const char *after_cursor,
        const regex_t *error_pattern,
        uint64_t *ret_count,
        char **ret_cursor) {
        _cleanup_(sd_journal_closep) sd_journal *j = NULL;
        _cleanup_free_ char *last = NULL;
        uint64_t n = 0;
        int r;

        if ((paths && !*paths) || !unit || !ret_count)
                return -EINVAL;
        r = paths ? sd_journal_open_files(&j, (const char **)paths, 0)
                  : sd_journal_open(&j, SD_JOURNAL_SYSTEM);
        if (r < 0)
                return r;
        r = add_match_pair(j, "_SYSTEMD_UNIT", unit);
        if (r < 0)
                return r;
        if (after_cursor) {
                r = sd_journal_seek_cursor(j, after_cursor);
                if (r < 0)
                        return r;
                /* the entry the cursor names was counted by the call that returned it */
                r = sd_journal_next(j);
                if (r > 0 && sd_journal_test_cursor(j, after_cursor) <= 0)
                        r = sd_journal_previous(j);
                if (r < 0)
                        return r;
        } else {
                r = sd_journal_seek_realtime_usec(j, since);
                if (r < 0)
                        return r;
        }
        for (;;) {
                _cleanup_free_ char *message = NULL;
                JournalEntry e = { .priority = LOG_INFO };

                r = sd_journal_next(j);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                r = entry_message_priority(j, &message, &e.priority);
                if (r < 0)
                        return r;
                e.message = message;
                if (journal_entry_is_error(&e, error_pattern) > 0)
                        n++;
                free(last);
                last = NULL;
                r = sd_journal_get_cursor(j, &last);
                if (r < 0)
                        return r;
        }
        *ret_count = n;
        if (ret_cursor)
                *ret_cursor = TAKE_PTR(last);
        return 0;
}
