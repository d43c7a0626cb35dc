/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* log.c: the programs' logging, to the journal with the upgrade's fields or to stderr */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "fd-util.h"
#include "log.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"

static char *log_identifier = NULL;
static char *log_phase = NULL;
static char *log_deployment = NULL;
static char *log_version = NULL;
static LogTarget log_target = LOG_TARGET_AUTO; /* AUTO: not decided yet */
static int log_max_level = -1;                 /* -1: not decided yet */
static char *log_last_error_message = NULL;
static bool journal_present = false; /* sd_journal_send() drops messages silently without it */

/* replace *dst by a copy of src; on OOM keep the old value: logging must not fail a program */
static void set_string(char **dst, const char *src) {
        char *copy = NULL;

        if (src) {
                copy = strdup(src);
                if (!copy)
                        return;
        }
        free(*dst);
        *dst = copy;
}

/* is stderr the very stream $JOURNAL_STREAM ("<dev>:<ino>") names? */
static bool stderr_is_journal_stream(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static LogTarget decide_target(void) {
        const char *e = getenv("CODEBOLT_UPGRADE_LOG");

        journal_present = access(JOURNAL_SOCKET, F_OK) >= 0;

        if (e && streq(e, "stderr"))
                return LOG_TARGET_STDERR;
        if (e && streq(e, "journal"))
                return LOG_TARGET_JOURNAL;

        if (stderr_is_journal_stream())
                return LOG_TARGET_JOURNAL;
        /* run by the service manager with its output elsewhere: still the unit's journal. Run by hand,
         * piped or not, the operator reads stderr. */
        if (journal_present && getenv("INVOCATION_ID"))
                return LOG_TARGET_JOURNAL;
        return LOG_TARGET_STDERR;
}

static int parse_level(const char *s) {
        static const char *const names[] = {
                "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
        };

        if (s[0] >= '0' && s[0] <= '7' && s[1] == 0)
                return s[0] - '0';
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(s, names[i]))
                        return (int)i;
        if (streq(s, "error"))
                return LOG_ERR;
        if (streq(s, "warn"))
                return LOG_WARNING;
        return -1;
}

static int decide_max_level(void) {
        const char *e = getenv("CODEBOLT_UPGRADE_LOG_LEVEL");
        int l = e ? parse_level(e) : -1;

        return l >= 0 ? l : LOG_INFO;
}

void log_setup(const char *identifier, const char *phase) {
        set_string(&log_identifier, identifier);
        set_string(&log_phase, phase);
        log_target = decide_target();
        log_max_level = decide_max_level();
}

void log_set_deployment(const char *deployment) {
        set_string(&log_deployment, deployment);
}

void log_set_version(const char *version) {
        set_string(&log_version, version);
}

void log_set_target(LogTarget target) {
        log_target = target == LOG_TARGET_AUTO ? decide_target() : target;
}

LogTarget log_get_target(void) {
        if (log_target == LOG_TARGET_AUTO)
                log_target = decide_target();
        return log_target;
}

void log_set_max_level(int priority) {
        log_max_level = priority;
}

int log_get_max_level(void) {
        if (log_max_level < 0)
                log_max_level = decide_max_level();
        return log_max_level;
}

static void emit_stderr(const char *identifier, const char *message) {
        _cleanup_free_ char *line = NULL;

        /* one write, so lines of concurrent writers do not interleave */
        if (asprintf(&line, "%s: %s\n", identifier, message) < 0) {
                (void)write_all(STDERR_FILENO, identifier, strlen(identifier));
                (void)write_all(STDERR_FILENO, ": ", 2);
                (void)write_all(STDERR_FILENO, message, strlen(message));
                (void)write_all(STDERR_FILENO, "\n", 1);
                return;
        }
        (void)write_all(STDERR_FILENO, line, strlen(line));
}

static void free_iov(struct iovec *iov, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(iov[i].iov_base);
}

/* append "FIELD=value" to iov; false on OOM */
static bool add_field(struct iovec *iov, size_t *n, const char *field, const char *value) {
        char *s;

        if (asprintf(&s, "%s=%s", field, value) < 0)
                return false;
        iov[*n] = (struct iovec){ .iov_base = s, .iov_len = strlen(s) };
        (*n)++;
        return true;
}

/* The unit this process runs in, from /proc/self/cgroup
 * ("0::/system.slice/…/codebolt-upgrade@1.5.0.service"), or NULL. Sent as OBJECT_SYSTEMD_UNIT=: journald
 * attributes a message to a unit by the sender's cgroup, which it cannot read once the sender has exited, so
 * the last words of a short-lived helper (the ExecCondition= skip) would be missing from `journalctl -u`;
 * that matches OBJECT_SYSTEMD_UNIT= of root's messages too. */
static const char *own_unit(void) {
        static char unit[256];
        static bool looked = false;
        _cleanup_fclose_ FILE *f = NULL;
        char line[1024];

        if (looked)
                return unit[0] ? unit : NULL;
        looked = true;
        if (!getenv("INVOCATION_ID") || !(f = fopen("/proc/self/cgroup", "re")))
                return NULL;
        while (fgets(line, sizeof(line), f)) {
                char *last, *end;
                if (!startswith(line, "0::/"))
                        continue;
                line[strcspn(line, "\n")] = 0;
                last = strrchr(line, '/') + 1;
                end = strrchr(last, '.');
                if (end && streq(end, ".service") && strlen(last) < sizeof(unit))
                        strcpy(unit, last);
        }
        return unit[0] ? unit : NULL;
}

/* one message and what goes with it to the journal */
typedef struct LogRecord {
        int priority;
        int error;
        const char *identifier;
        const char *phase;
        const char *message_id; /* or NULL */
        char *const *fields;    /* more FIELD=value, or NULL */
        const char *message;
} LogRecord;

static int emit_journal(const LogRecord *m) {
        _cleanup_free_ struct iovec *iov = NULL;
        size_t n = 0, n_fields = 0;
        char num[16];
        bool ok;
        int r;

        for (char *const *f = m->fields; f && *f; f++)
                n_fields++;
        iov = calloc(9 + n_fields, sizeof(struct iovec));
        if (!iov)
                return -ENOMEM;

        snprintf(num, sizeof(num), "%d", m->priority & LOG_PRIMASK);
        ok = add_field(iov, &n, "MESSAGE", m->message) && add_field(iov, &n, "PRIORITY", num) &&
             add_field(iov, &n, "SYSLOG_IDENTIFIER", m->identifier);
        if (ok && m->phase)
                ok = add_field(iov, &n, "CODEBOLT_UPGRADE_PHASE", m->phase);
        if (ok && log_deployment)
                ok = add_field(iov, &n, "CODEBOLT_UPGRADE_DEPLOYMENT", log_deployment);
        if (ok && log_version)
                ok = add_field(iov, &n, "CODEBOLT_UPGRADE_VERSION", log_version);
        if (ok && m->message_id)
                ok = add_field(iov, &n, "MESSAGE_ID", m->message_id);
        if (ok && own_unit())
                ok = add_field(iov, &n, "OBJECT_SYSTEMD_UNIT", own_unit());
        if (ok && m->error != 0) {
                snprintf(num, sizeof(num), "%d", m->error);
                ok = add_field(iov, &n, "ERRNO", num);
        }
        for (char *const *f = m->fields; ok && f && *f; f++) {
                char *s = strdup(*f);
                if (!s)
                        ok = false;
                else
                        iov[n++] = (struct iovec){ .iov_base = s, .iov_len = strlen(s) };
        }
        r = ok ? sd_journal_sendv(iov, (int)n) : -ENOMEM;
        free_iov(iov, n);
        return r;
}

static void emit_full(const LogRecord *m) {
        if ((m->priority & LOG_PRIMASK) <= LOG_ERR)
                set_string(&log_last_error_message, m->message);
        if (log_get_target() == LOG_TARGET_JOURNAL && journal_present && emit_journal(m) >= 0)
                return;
        /* no journal after all (forced, but absent or failing): never lose the message */
        emit_stderr(m->identifier, m->message);
}

static void emit(int priority, int error, const char *identifier, const char *phase, const char *message) {
        emit_full(&(LogRecord){
                .priority = priority,
                .error = error,
                .identifier = identifier,
                .phase = phase,
                .message = message,
        });
}

const char *log_last_error(void) {
        return log_last_error_message;
}

static const char *identifier_or_default(void) {
        return log_identifier ?: program_invocation_short_name;
}

static int log_fullv(int priority, int error, const char *fmt, va_list ap) _printf_(3, 0);
static int log_fullv(int priority, int error, const char *fmt, va_list ap) {
        _cleanup_free_ char *message = NULL;
        int saved_errno = errno;

        error = abs(error);
        if ((priority & LOG_PRIMASK) > log_get_max_level()) {
                errno = saved_errno;
                return -error;
        }

        errno = error; /* for %m */
        if (vasprintf(&message, fmt, ap) < 0)
                message = NULL;
        emit(priority, error, identifier_or_default(), log_phase, message ?: fmt);

        errno = saved_errno;
        return -error;
}

int log_full(int priority, int error, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = log_fullv(priority, error, fmt, ap);
        va_end(ap);
        return r;
}

/* vasprintf() that leaves errno as it was (fmt may hold %m); NULL on OOM */
_printf_(1, 0) static char *format_keep_errno(const char *fmt, va_list ap) {
        int saved_errno = errno;
        char *s;

        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        errno = saved_errno;
        return s;
}

int log_event(int priority, const char *message_id, char *const *fields, const char *fmt, ...) {
        _cleanup_free_ char *message = NULL;
        int saved_errno = errno;
        va_list ap;

        va_start(ap, fmt);
        message = format_keep_errno(fmt, ap);
        va_end(ap);
        if (!message)
                return -ENOMEM;
        emit_full(&(LogRecord){
                .priority = priority,
                .identifier = identifier_or_default(),
                .phase = log_phase,
                .message_id = message_id,
                .fields = fields,
                .message = message,
        });
        errno = saved_errno;
        return 0;
}

int log_forward(int priority, const char *identifier, const char *phase, const char *line) {
        int saved_errno = errno;

        if ((priority & LOG_PRIMASK) <= log_get_max_level())
                emit(priority, 0, identifier ?: identifier_or_default(), phase ?: log_phase, line);
        errno = saved_errno;
        return 0;
}

int log_status(const char *fmt, ...) {
        _cleanup_free_ char *message = NULL;
        int saved_errno = errno;
        va_list ap;
        int r;

        va_start(ap, fmt);
        message = format_keep_errno(fmt, ap);
        va_end(ap);
        if (!message)
                return -ENOMEM;

        log_full(LOG_INFO, 0, "%s", message);

        /* the notify protocol is one assignment per line */
        for (char *p = message; *p; p++)
                if (*p == '\n')
                        *p = ' ';
        r = sd_notifyf(0, "STATUS=%s", message);

        errno = saved_errno;
        return r < 0 ? r : 0;
}
