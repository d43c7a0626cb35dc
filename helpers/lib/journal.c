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

#define WORD_BOUNDARY_BEFORE "(^|[^[:alnum:]_])"
#define WORD_BOUNDARY_AFTER "($|[^[:alnum:]_])"

int journal_error_pattern_translate(const char *pattern, char **ret) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0;
        bool in_bracket = false;
        char prev = 0; /* the last pattern character written outside a bracket, 0 at the start */

        if (!pattern || !ret)
                return -EINVAL;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        for (const char *p = pattern; *p; p++) {
                if (in_bracket) {
                        /* [:alnum:] and friends may hold a ']' of their own */
                        if (p[0] == '[' && p[1] == ':') {
                                const char *e = strstr(p + 2, ":]");
                                if (e) {
                                        fwrite(p, 1, (size_t)(e + 2 - p), f);
                                        p = e + 1;
                                        continue;
                                }
                        }
                        fputc(*p, f);
                        if (*p == ']')
                                in_bracket = false;
                        continue;
                }

                if (*p == '[') {
                        fputc(*p++, f);
                        if (*p == '^')
                                fputc(*p++, f);
                        if (*p == ']') /* a leading ']' is a literal */
                                fputc(*p++, f);
                        p--;
                        in_bracket = true;
                        prev = '[';
                        continue;
                }

                if (*p == '\\' && p[1] == 'b') {
                        /* a boundary opening the pattern or an alternative comes before a word */
                        bool before = prev == 0 || prev == '(' || prev == '|' || prev == '^';
                        fputs(before ? WORD_BOUNDARY_BEFORE : WORD_BOUNDARY_AFTER, f);
                        prev = ')';
                        p++;
                        continue;
                }

                if (*p == '\\' && p[1]) {
                        fputc(*p++, f);
                        fputc(*p, f);
                        prev = *p;
                        continue;
                }

                fputc(*p, f);
                prev = *p;
        }

        if (in_bracket)
                return -EINVAL;
        if (fclose(TAKE_PTR(f)) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* the end of the bracket expression at p ('['), past its ']'; the end of the string when unclosed */
static const char *bracket_end(const char *p) {
        p++;
        if (*p == '^')
                p++;
        if (*p == ']') /* a leading ']' is a literal */
                p++;
        for (; *p && *p != ']'; p++)
                /* [:alpha:], [.x.], [=e=] may hold a ']' of their own */
                if (p[0] == '[' && strchr(":.=", p[1])) {
                        char close[3] = { p[1], ']', 0 };
                        const char *e = strstr(p + 2, close);

                        if (!e)
                                return p + strlen(p);
                        p = e + 1;
                }
        return *p ? p + 1 : p;
}

/* {n}, {n,}, {n,m}, {,m} at p: its end and the positions glibc makes of one of the atom: a copy for
 * each required one, and each optional one (m - n of them) nests an alternative and costs about twice
 * that. NULL when p is not an interval (then '{' is an ordinary character); *ret_count is UINT_MAX when
 * a count is above the bound. */
static const char *interval_end(const char *p, unsigned *ret_count) {
        unsigned n[2] = {}, k = 0;
        bool digits[2] = {}, comma = false;

        for (p++;; p++) {
                if (*p >= '0' && *p <= '9') {
                        n[k] = n[k] > JOURNAL_ERROR_PATTERN_DUP_MAX ? n[k]
                                                                    : n[k] * 10 + (unsigned)(*p - '0');
                        digits[k] = true;
                } else if (*p == ',' && !comma) {
                        comma = true;
                        k = 1;
                } else if (*p == '}')
                        break;
                else
                        return NULL;
        }
        if (!digits[0] && !digits[1])
                return NULL;
        if (n[0] > JOURNAL_ERROR_PATTERN_DUP_MAX || n[1] > JOURNAL_ERROR_PATTERN_DUP_MAX)
                *ret_count = UINT_MAX;
        else if (!comma)
                *ret_count = n[0];
        else if (!digits[1]) /* {n,}: n copies and a star */
                *ret_count = n[0] + 1;
        else
                *ret_count = n[1] > n[0] ? n[0] + 2 * (n[1] - n[0]) : n[0];
        if (*ret_count == 0)
                *ret_count = 1;
        return p + 1;
}

int journal_error_pattern_check(const char *pattern, char **ret_why) {
        /* per open group: the positions so far, and those of its last item (what a repetition copies) */
        struct {
                unsigned long total, last;
        } stack[JOURNAL_ERROR_PATTERN_DEPTH_MAX + 1] = {};
        size_t depth = 0;
        bool can_repeat = false, repeated = false;

        if (!pattern)
                return -EINVAL;
        if (strlen(pattern) > JOURNAL_ERROR_PATTERN_MAX)
                return errmsg_set(ret_why, -EINVAL, "longer than %d bytes", JOURNAL_ERROR_PATTERN_MAX);

        for (const char *p = pattern; *p;) {
                size_t at = (size_t)(p - pattern) + 1;
                const char *next = p + 1;
                unsigned long size = 1, copies = 0;

                switch (*p) {
                case '\\':
                        if (p[1] >= '1' && p[1] <= '9')
                                return errmsg_set(
                                        ret_why,
                                        -EINVAL,
                                        "a back-reference (\\%c) at character %zu: matching one can take "
                                        "exponential time",
                                        p[1],
                                        at);
                        if (p[1])
                                next = p + 2;
                        break;
                case '[':
                        next = bracket_end(p);
                        break;
                case '(':
                        if (depth == JOURNAL_ERROR_PATTERN_DEPTH_MAX)
                                return errmsg_set(
                                        ret_why,
                                        -EINVAL,
                                        "parentheses nested deeper than %d (at character %zu)",
                                        JOURNAL_ERROR_PATTERN_DEPTH_MAX,
                                        at);
                        depth++;
                        stack[depth].total = stack[depth].last = 0;
                        can_repeat = repeated = false;
                        p = next;
                        continue;
                case ')':
                        /* an unmatched one is regcomp()'s to judge */
                        if (depth > 0) {
                                size = stack[depth].total ?: 1;
                                depth--;
                        }
                        break;
                case '|':
                        can_repeat = repeated = false;
                        p = next;
                        continue;
                case '*':
                case '?':
                        copies = 1;
                        break;
                case '+': /* x+ is xx* */
                        copies = 2;
                        break;
                case '{': {
                        unsigned count;
                        const char *e = interval_end(p, &count);

                        if (!e)
                                break;
                        if (count == UINT_MAX)
                                return errmsg_set(
                                        ret_why,
                                        -EINVAL,
                                        "a repetition count above %d at character %zu",
                                        JOURNAL_ERROR_PATTERN_DUP_MAX,
                                        at);
                        copies = count;
                        next = e;
                        break;
                }
                }

                if (copies > 0 && repeated)
                        return errmsg_set(
                                ret_why,
                                -EINVAL,
                                "a repetition operator right after another at character %zu (as in x++ or "
                                "a*?): POSIX leaves it undefined, and a run of them costs regcomp() "
                                "exponential time and memory",
                                at);
                if (copies > 0 && can_repeat) {
                        stack[depth].total += stack[depth].last * (copies - 1);
                        stack[depth].last *= copies;
                        repeated = true;
                } else {
                        /* an atom, or a repetition operator with nothing to repeat, taken literally */
                        stack[depth].total += size;
                        stack[depth].last = size;
                        can_repeat = true;
                        repeated = false;
                }
                if (stack[depth].total > JOURNAL_ERROR_PATTERN_SIZE_MAX)
                        return errmsg_set(
                                ret_why,
                                -EINVAL,
                                "its repetitions unroll to more than %d positions (at character %zu): use "
                                "smaller counts in {n,m} and fewer nested repetitions",
                                JOURNAL_ERROR_PATTERN_SIZE_MAX,
                                at);
                p = next;
        }
        return 0;
}

#define ERROR_REGEX_FLAGS (REG_EXTENDED | REG_ICASE | REG_NOSUB)

/* glibc's regcomp() knows \b; musl's and the BSDs' take it as a plain 'b' or reject it */
static bool regcomp_has_word_boundary(void) {
        static int cached = -1;
        regex_t re;

        if (cached >= 0)
                return cached;
        if (regcomp(&re, "a\\b", ERROR_REGEX_FLAGS) != 0)
                return (cached = 0);
        cached = regexec(&re, "a", 0, NULL, 0) == 0 && regexec(&re, "a-", 0, NULL, 0) == 0 &&
                 regexec(&re, "ab", 0, NULL, 0) != 0;
        regfree(&re);
        return cached;
}

int journal_compile_error_pattern(const char *pattern, regex_t *ret) {
        _cleanup_free_ char *translated = NULL;
        regex_t re;
        int r;

        if (!pattern || !ret)
                return -EINVAL;
        r = journal_error_pattern_check(pattern, NULL);
        if (r < 0)
                return r;

        if (strstr(pattern, "\\b") && !regcomp_has_word_boundary()) {
                r = journal_error_pattern_translate(pattern, &translated);
                if (r < 0)
                        return r;
                pattern = translated;
        }

        r = regcomp(&re, pattern, ERROR_REGEX_FLAGS);
        if (r == REG_ESPACE)
                return -ENOMEM;
        if (r != 0)
                return -EINVAL;
        *ret = re;
        return 0;
}

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
