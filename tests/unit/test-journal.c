/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-journal.c: the journal watch over real journal files, the line classifier, the error matcher */
#define _GNU_SOURCE
#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>

#include "journal.h"
#include "macro.h"

extern char **environ;

#define UNIT "codebolt.service"
#define INV_OLD "4e7d2c9a1b3f4e5d8c6b7a9f0e1d2c3b"
#define INV_NEW "c5a8e1f09d2b4c7a8e3f6b1d0a9c4e72"
#define INV_NEWER "e3b1d5f7a9c24e6b8d0f1a3c5e7b9d14"

/* ---- journal files made at test time from the .export fixtures ---- */

static const char *journal_remote(void) {
        static const char *const candidates[] = {
                "/lib/systemd/systemd-journal-remote",
                "/usr/lib/systemd/systemd-journal-remote",
        };

        for (size_t i = 0; i < ELEMENTSOF(candidates); i++)
                if (access(candidates[i], X_OK) == 0)
                        return candidates[i];
        ck_abort_msg("systemd-journal-remote not found: the journal tests need the Debian package "
                     "systemd-journal-remote (apt-get install systemd-journal-remote)");
        return NULL;
}

static pid_t spawn_journal_remote(const char *journal, const char *export_name) {
        _cleanup_free_ char *output = NULL, *input = NULL;
        pid_t pid;

        ck_assert_int_ge(asprintf(&output, "--output=%s", journal), 0);
        ck_assert_int_ge(asprintf(&input, "%s/journal/%s", FIXTURES, export_name), 0);
        char *argv[] = { (char *)journal_remote(), output, input, NULL };
        ck_assert_int_eq(posix_spawn(&pid, argv[0], NULL, NULL, argv, environ), 0);
        return pid;
}

static void wait_ok(pid_t pid) {
        int status;

        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(
                WIFEXITED(status) && WEXITSTATUS(status) == 0, "systemd-journal-remote failed: %d", status);
}

/* one directory for the whole run, made and removed by the parent (an unchecked fixture), so a
 * failed test leaves nothing behind */
static char *arg_tmp = NULL;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void)remove(path);
        return 0;
}

static void tmp_setup(void) {
        const char *tmp = getenv("TMPDIR") ?: "/tmp";

        ck_assert_int_ge(asprintf(&arg_tmp, "%s/test-journal-XXXXXX", tmp), 0);
        ck_assert_ptr_nonnull(mkdtemp(arg_tmp));
}

static void tmp_teardown(void) {
        if (arg_tmp)
                (void)nftw(arg_tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(arg_tmp);
        arg_tmp = NULL;
}

typedef struct TestJournal {
        char *dir;
        char *file;
} TestJournal;

static void test_journal_done(TestJournal *t) {
        (void)unlink(t->file);
        (void)rmdir(t->dir);
        free(t->dir);
        free(t->file);
}

static void test_journal_make(TestJournal *t, const char *export_name) {
        ck_assert_ptr_nonnull(arg_tmp);
        ck_assert_int_ge(asprintf(&t->dir, "%s/XXXXXX", arg_tmp), 0);
        ck_assert_ptr_nonnull(mkdtemp(t->dir));
        ck_assert_int_ge(asprintf(&t->file, "%s/server.journal", t->dir), 0);
        wait_ok(spawn_journal_remote(t->file, export_name));
}

static JournalWatch *watch_open(TestJournal *t, const char *invocation_id) {
        JournalWatch *w = NULL;
        char *paths[] = { t->file, NULL };

        ck_assert_int_eq(journal_watch_new_files(paths, UNIT, invocation_id, &w), 0);
        ck_assert_ptr_nonnull(w);
        return w;
}

typedef struct Expected {
        const char *message;
        int priority;
} Expected;

/* the NEW invocation in upgrade.export: its own output and PID 1's messages about it, nothing else */
static const Expected upgrade_new[] = {
        { "Starting codebolt.service - Codebolt server...", LOG_INFO },
        { "codebolt-server 1.5.0 starting (node v20.12.2)", LOG_INFO },
        { "migrations: applying 0007_add_run_labels", LOG_INFO },
        { "migrations: applying 0008_index_runs_by_project", LOG_INFO },
        { "(node:812) ExperimentalWarning: The Fetch API is an experimental feature", LOG_WARNING },
        { "migrations: 2 applied, 0 failed", LOG_INFO },
        { "server ready: listening on :3456", LOG_INFO },
        { "Started codebolt.service - Codebolt server.", LOG_INFO },
};

/* crash.export appended: the crash of the NEW invocation, then a restart (a new invocation) */
static const Expected crash_new[] = {
        { "Error: connect ECONNREFUSED 127.0.0.1:6379", LOG_INFO },
        { "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)", LOG_INFO },
        { "codebolt.service: Main process exited, code=exited, status=1/FAILURE", LOG_INFO },
        { "codebolt.service: Failed with result 'exit-code'.", LOG_WARNING },
        { "codebolt.service: Scheduled restart job, restart counter is at 1.", LOG_INFO },
};

static void expect_entries(
        JournalWatch *w,
        const char *invocation_id,
        const Expected *expected,
        size_t n,
        usec_t *last_realtime) {
        for (size_t i = 0; i < n; i++) {
                JournalEntry e = {};

                ck_assert_int_eq(journal_watch_next(w, now_monotonic() + 10 * USEC_PER_SEC, &e), 1);
                ck_assert_str_eq(e.message, expected[i].message);
                ck_assert_int_eq(e.priority, expected[i].priority);
                ck_assert_str_eq(e.unit, UNIT);
                ck_assert_str_eq(e.invocation_id, invocation_id);
                ck_assert_ptr_nonnull(e.cursor);
                ck_assert_uint_gt(e.realtime, *last_realtime);
                *last_realtime = e.realtime;
                journal_entry_done(&e);
        }
}

START_TEST(test_watch_invocation) {
        TestJournal t = {};
        JournalEntry e = {};
        usec_t last = 0;

        test_journal_make(&t, "upgrade.export");
        _cleanup_journal_watch_ JournalWatch *w = watch_open(&t, INV_NEW);

        ck_assert_int_ge(journal_watch_get_fd(w), 0);
        expect_entries(w, INV_NEW, upgrade_new, ELEMENTSOF(upgrade_new), &last);
        /* the old invocation's late line, the spoofed UNIT= from cron and the other units stay out */
        ck_assert_int_eq(journal_watch_try_next(w, &e), 0);
        ck_assert_int_eq(journal_watch_next(w, now_monotonic(), &e), 0);

        test_journal_done(&t);
}
END_TEST

START_TEST(test_watch_old_invocation) {
        static const Expected upgrade_old[] = {
                { "server ready: listening on :3456", LOG_INFO },
                { "Stopping codebolt.service - Codebolt server...", LOG_INFO },
                { "draining: 1 run in flight, waiting", LOG_INFO },
                { "shutdown: all runs finished, exiting", LOG_INFO },
                { "codebolt.service: Deactivated successfully.", LOG_INFO },
                { "Stopped codebolt.service - Codebolt server.", LOG_INFO },
                { "shutdown: closed 3 idle client connections", LOG_INFO },
        };
        TestJournal t = {};
        JournalEntry e = {};
        usec_t last = 0;

        test_journal_make(&t, "upgrade.export");
        _cleanup_journal_watch_ JournalWatch *w = watch_open(&t, INV_OLD);

        expect_entries(w, INV_OLD, upgrade_old, ELEMENTSOF(upgrade_old), &last);
        ck_assert_int_eq(journal_watch_try_next(w, &e), 0);

        test_journal_done(&t);
}
END_TEST

START_TEST(test_watch_uuid_form) {
        TestJournal t = {};
        JournalEntry e = {};

        test_journal_make(&t, "upgrade.export");
        /* the UUID form of INV_NEW, as some tools print it */
        _cleanup_journal_watch_ JournalWatch *w = watch_open(&t, "C5A8E1F0-9D2B-4C7A-8E3F-6B1D0A9C4E72");

        ck_assert_int_eq(journal_watch_try_next(w, &e), 1);
        ck_assert_str_eq(e.message, upgrade_new[0].message);
        ck_assert_str_eq(e.invocation_id, INV_NEW);
        journal_entry_done(&e);

        test_journal_done(&t);
}
END_TEST

START_TEST(test_watch_no_such_invocation) {
        TestJournal t = {};
        JournalEntry e = {};

        test_journal_make(&t, "upgrade.export");
        /* the restart's invocation has not logged yet */
        _cleanup_journal_watch_ JournalWatch *w = watch_open(&t, INV_NEWER);

        ck_assert_int_eq(journal_watch_try_next(w, &e), 0);
        ck_assert_int_eq(journal_watch_next(w, now_monotonic() + 100 * 1000, &e), 0);

        test_journal_done(&t);
}
END_TEST

static usec_t cpu_time(void) {
        struct timespec ts;

        ck_assert_int_eq(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts), 0);
        return (usec_t)ts.tv_sec * USEC_PER_SEC + (usec_t)ts.tv_nsec / 1000;
}

START_TEST(test_watch_deadline_blocks) {
        TestJournal t = {};
        JournalEntry e = {};
        usec_t last = 0, start, cpu;

        test_journal_make(&t, "upgrade.export");
        _cleanup_journal_watch_ JournalWatch *w = watch_open(&t, INV_NEW);
        expect_entries(w, INV_NEW, upgrade_new, ELEMENTSOF(upgrade_new), &last);

        start = now_monotonic();
        cpu = cpu_time();
        ck_assert_int_eq(journal_watch_next(w, start + 400 * 1000, &e), 0);
        /* it waited for the deadline, and waited asleep, not spinning */
        ck_assert_uint_ge(now_monotonic() - start, 400 * 1000);
        ck_assert_uint_lt(now_monotonic() - start, 5 * USEC_PER_SEC);
        ck_assert_uint_lt(cpu_time() - cpu, 100 * 1000);

        test_journal_done(&t);
}
END_TEST

/* append crash.export to the journal file from a child, after a pause, while the parent waits */
static pid_t append_later(TestJournal *t, unsigned delay_ms) {
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int status;
                pid_t c;

                (void)nanosleep(&(struct timespec){ .tv_nsec = (long)delay_ms * 1000000L }, NULL);
                c = spawn_journal_remote(t->file, "crash.export");
                if (waitpid(c, &status, 0) != c)
                        _exit(2);
                _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 3);
        }
        return pid;
}

START_TEST(test_watch_follows_appends) {
        TestJournal t = {};
        JournalEntry e = {};
        usec_t last = 0, start;
        pid_t child;

        test_journal_make(&t, "upgrade.export");
        _cleanup_journal_watch_ JournalWatch *w = watch_open(&t, INV_NEW);
        expect_entries(w, INV_NEW, upgrade_new, ELEMENTSOF(upgrade_new), &last);

        start = now_monotonic();
        child = append_later(&t, 300);
        /* blocks until the appended entries arrive */
        expect_entries(w, INV_NEW, crash_new, ELEMENTSOF(crash_new), &last);
        ck_assert_uint_ge(now_monotonic() - start, 250 * 1000);
        wait_ok(child);

        /* the restart is a new invocation: not ours */
        ck_assert_int_eq(journal_watch_next(w, now_monotonic() + 200 * 1000, &e), 0);

        test_journal_done(&t);
}
END_TEST

START_TEST(test_watch_poll_fd) {
        TestJournal t = {};
        JournalEntry e = {};
        usec_t deadline;
        size_t got = 0;
        pid_t child;
        int fd, r;

        test_journal_make(&t, "upgrade.export");
        _cleanup_journal_watch_ JournalWatch *w = watch_open(&t, INV_NEW);
        fd = journal_watch_get_fd(w);
        ck_assert_int_ge(fd, 0);

        /* what migrate-watch does: drain, poll the fd (with the bus fd), process, drain again */
        while ((r = journal_watch_try_next(w, &e)) > 0) {
                got++;
                journal_entry_done(&e);
        }
        ck_assert_int_eq(r, 0);
        ck_assert_uint_eq(got, ELEMENTSOF(upgrade_new));

        child = append_later(&t, 200);
        deadline = now_monotonic() + 10 * USEC_PER_SEC;
        got = 0;
        while (got < ELEMENTSOF(crash_new)) {
                usec_t n = now_monotonic();
                struct pollfd p = { .fd = fd, .events = POLLIN };

                ck_assert_uint_lt(n, deadline);
                r = poll(&p, 1, (int)((deadline - n) / 1000));
                ck_assert_int_ge(r, 0);
                ck_assert_int_ge(journal_watch_process(w), 0);
                while ((r = journal_watch_try_next(w, &e)) > 0) {
                        ck_assert_uint_lt(got, ELEMENTSOF(crash_new));
                        ck_assert_str_eq(e.message, crash_new[got].message);
                        got++;
                        journal_entry_done(&e);
                }
                ck_assert_int_eq(r, 0);
        }
        wait_ok(child);
        ck_assert_int_eq(journal_watch_try_next(w, &e), 0);

        test_journal_done(&t);
}
END_TEST

START_TEST(test_watch_lines_end_to_end) {
        TestJournal t = {};
        JournalEntry e = {};
        regex_t re;
        unsigned applying = 0, summaries = 0, ready = 0, errors = 0;

        test_journal_make(&t, "upgrade.export");
        _cleanup_journal_watch_ JournalWatch *w = watch_open(&t, INV_NEW);
        ck_assert_int_eq(journal_compile_error_pattern("^(error|fatal|panic)\\b", &re), 0);

        while (journal_watch_try_next(w, &e) > 0) {
                ServerLine l = {};

                ck_assert_int_eq(journal_classify_line(e.message, &l), 0);
                switch (l.kind) {
                case LINE_MIGRATION_APPLYING:
                        ck_assert_str_eq(
                                l.migration_id,
                                applying == 0 ? "0007_add_run_labels" : "0008_index_runs_by_project");
                        applying++;
                        break;
                case LINE_MIGRATIONS_SUMMARY:
                        ck_assert_uint_eq(l.applied, 2);
                        ck_assert_uint_eq(l.failed, 0);
                        summaries++;
                        break;
                case LINE_READY:
                        /* the spoofed ":6666" from cron never gets here */
                        ck_assert_uint_eq(l.port, 3456);
                        ready++;
                        break;
                case LINE_MIGRATIONS_FAILED:
                        ck_abort_msg("no migration failed in this invocation");
                        break;
                case LINE_OTHER:
                        break;
                }
                errors += journal_entry_is_error(&e, &re);
                server_line_done(&l);
                journal_entry_done(&e);
        }
        ck_assert_uint_eq(applying, 2);
        ck_assert_uint_eq(summaries, 1);
        ck_assert_uint_eq(ready, 1);
        ck_assert_uint_eq(errors, 0);

        /* the crash: a Node error at info priority is found by the pattern alone */
        wait_ok(append_later(&t, 0));
        while (journal_watch_next(w, now_monotonic() + 500 * 1000, &e) > 0) {
                errors += journal_entry_is_error(&e, &re);
                journal_entry_done(&e);
        }
        ck_assert_uint_eq(errors, 1);

        regfree(&re);
        test_journal_done(&t);
}
END_TEST

START_TEST(test_watch_bad_arguments) {
        JournalWatch *w = NULL;
        char *missing[] = { (char *)"/nonexistent/test-journal/x.journal", NULL };
        char *none[] = { NULL };
        char *some[] = { (char *)"/nonexistent.journal", NULL };

        ck_assert_int_eq(journal_watch_new_files(some, UNIT, "not-an-id", &w), -EINVAL);
        ck_assert_int_eq(
                journal_watch_new_files(some, UNIT, "00000000000000000000000000000000", &w), -EINVAL);
        ck_assert_int_eq(journal_watch_new_files(some, UNIT, INV_NEW "0", &w), -EINVAL);
        ck_assert_int_eq(journal_watch_new_files(some, "", INV_NEW, &w), -EINVAL);
        ck_assert_int_eq(journal_watch_new_files(none, UNIT, INV_NEW, &w), -EINVAL);
        ck_assert_int_lt(journal_watch_new_files(missing, UNIT, INV_NEW, &w), 0);
        ck_assert_ptr_null(w);
}
END_TEST

/* ---- the classifier ---- */

typedef struct LineCase {
        const char *line;
        ServerLineKind kind;
        const char *id_or_reason;
        unsigned a, b; /* applied, failed; or port */
} LineCase;

static const LineCase line_cases[] = {
        /* applying */
        { "migrations: applying 0001_init", LINE_MIGRATION_APPLYING, "0001_init" },
        { "migrations: applying 2024-05-01-add-runs", LINE_MIGRATION_APPLYING, "2024-05-01-add-runs" },
        { "  migrations: applying 0002_x  ", LINE_MIGRATION_APPLYING, "0002_x" },
        { "\tmigrations: applying 0003_y\r\n", LINE_MIGRATION_APPLYING, "0003_y" },
        { "migrations: applying 0042_drop_runs (breaking)", LINE_MIGRATION_APPLYING, "0042_drop_runs" },
        { "migrations: applying", LINE_OTHER },
        { "migrations: applying ", LINE_OTHER },
        { "migrations: applying    ", LINE_OTHER },
        { "migrations:applying 0001", LINE_OTHER },
        /* summary */
        { "migrations: 2 applied, 0 failed", LINE_MIGRATIONS_SUMMARY, NULL, 2, 0 },
        { "migrations: 2 applied, 1 failed", LINE_MIGRATIONS_SUMMARY, NULL, 2, 1 },
        { "migrations: 0 applied, 0 failed", LINE_MIGRATIONS_SUMMARY, NULL, 0, 0 },
        { "migrations: 0 applied, 3 failed.", LINE_MIGRATIONS_SUMMARY, NULL, 0, 3 },
        { "migrations: 10 applied, 0 failed (4.2s)", LINE_MIGRATIONS_SUMMARY, NULL, 10, 0 },
        { "migrations: 007 applied, 000 failed", LINE_MIGRATIONS_SUMMARY, NULL, 7, 0 },
        { "migrations: 4294967295 applied, 1 failed", LINE_MIGRATIONS_SUMMARY, NULL, UINT_MAX, 1 },
        /* bad numbers and broken summaries */
        { "migrations: 4294967296 applied, 0 failed", LINE_OTHER },
        { "migrations: 2 applied, 99999999999 failed", LINE_OTHER },
        { "migrations: -1 applied, 0 failed", LINE_OTHER },
        { "migrations: 2 applied, -1 failed", LINE_OTHER },
        { "migrations: +2 applied, 0 failed", LINE_OTHER },
        { "migrations: 2x applied, 1 failed", LINE_OTHER },
        { "migrations: 0x10 applied, 1 failed", LINE_OTHER },
        { "migrations: two applied, 1 failed", LINE_OTHER },
        { "migrations:  2 applied, 1 failed", LINE_OTHER },
        { "migrations: 2 applied,1 failed", LINE_OTHER },
        { "migrations: 2 applied, 1 failedx", LINE_OTHER },
        { "migrations: 2 applied, 1", LINE_OTHER },
        { "migrations: 2 applied", LINE_OTHER },
        { "migrations: 2", LINE_OTHER },
        /* failed */
        { "migrations: failed", LINE_MIGRATIONS_FAILED, NULL },
        { "migrations: failed  ", LINE_MIGRATIONS_FAILED, NULL },
        { "migrations: failed:", LINE_MIGRATIONS_FAILED, NULL },
        { "migrations: failed:   ", LINE_MIGRATIONS_FAILED, NULL },
        { "migrations: failed: relation \"runs\" already exists",
          LINE_MIGRATIONS_FAILED,
          "relation \"runs\" already exists" },
        { "migrations: failed:0009: lock timeout", LINE_MIGRATIONS_FAILED, "0009: lock timeout" },
        { "migrations: failedness", LINE_OTHER },
        { "migrations: failed to parse config", LINE_OTHER },
        /* ready */
        { "server ready: listening on :3456", LINE_READY, NULL, 3456 },
        { "server ready: listening on :1", LINE_READY, NULL, 1 },
        { "server ready: listening on :65535", LINE_READY, NULL, 65535 },
        { "server ready: listening on 127.0.0.1:8080", LINE_READY, NULL, 8080 },
        { "server ready: listening on [::]:3456", LINE_READY, NULL, 3456 },
        { "server ready: listening on :3456 (pid 812)", LINE_READY, NULL, 3456 },
        { "server ready: listening on :3456\r", LINE_READY, NULL, 3456 },
        { "server ready: listening on :0", LINE_OTHER },
        { "server ready: listening on :65536", LINE_OTHER },
        { "server ready: listening on :99999999999", LINE_OTHER },
        { "server ready: listening on :34x56", LINE_OTHER },
        { "server ready: listening on :-1", LINE_OTHER },
        { "server ready: listening on :", LINE_OTHER },
        { "server ready: listening on 3456", LINE_OTHER },
        { "server ready: listening on", LINE_OTHER },
        { "server ready", LINE_OTHER },
        /* prefix noise: a marker further into a line is not the server's marker */
        { "info: migrations: applying 0001_init", LINE_OTHER },
        { "2024-05-01T10:00:00Z migrations: failed", LINE_OTHER },
        { "[migrate] migrations: 2 applied, 1 failed", LINE_OTHER },
        { "GET /docs?q=migrations: failed 404", LINE_OTHER },
        { "xserver ready: listening on :3456", LINE_OTHER },
        { "Migrations: failed", LINE_OTHER },
        { "MIGRATIONS: APPLYING 0001", LINE_OTHER },
        { "Server ready: listening on :3456", LINE_OTHER },
        /* everything else */
        { "", LINE_OTHER },
        { "   ", LINE_OTHER },
        { "migrations:", LINE_OTHER },
        { "migrations: ", LINE_OTHER },
        { "codebolt-server 1.5.0 starting", LINE_OTHER },
        { "error: migrations: failed", LINE_OTHER },
};

START_TEST(test_classify_lines) {
        for (size_t i = 0; i < ELEMENTSOF(line_cases); i++) {
                const LineCase *c = &line_cases[i];
                ServerLine l = { .kind = 99, .applied = 99, .port = 99 };

                ck_assert_int_eq(journal_classify_line(c->line, &l), 0);
                ck_assert_msg(l.kind == c->kind, "\"%s\": kind %d, expected %d", c->line, l.kind, c->kind);

                switch (c->kind) {
                case LINE_MIGRATION_APPLYING:
                        ck_assert_str_eq(l.migration_id, c->id_or_reason);
                        break;
                case LINE_MIGRATIONS_FAILED:
                        if (c->id_or_reason)
                                ck_assert_str_eq(l.reason, c->id_or_reason);
                        else
                                ck_assert_ptr_null(l.reason);
                        break;
                case LINE_MIGRATIONS_SUMMARY:
                        ck_assert_msg(
                                l.applied == c->a && l.failed == c->b,
                                "\"%s\": %u/%u",
                                c->line,
                                l.applied,
                                l.failed);
                        break;
                case LINE_READY:
                        ck_assert_uint_eq(l.port, c->a);
                        break;
                case LINE_OTHER:
                        break;
                }
                /* the fields of other kinds are empty */
                if (c->kind != LINE_MIGRATION_APPLYING)
                        ck_assert_ptr_null(l.migration_id);
                if (c->kind != LINE_MIGRATIONS_FAILED)
                        ck_assert_ptr_null(l.reason);
                if (c->kind != LINE_MIGRATIONS_SUMMARY)
                        ck_assert(l.applied == 0 && l.failed == 0);
                if (c->kind != LINE_READY)
                        ck_assert_uint_eq(l.port, 0);
                server_line_done(&l);
        }
}
END_TEST

START_TEST(test_classify_null) {
        ServerLine l = { .kind = 99 };

        ck_assert_int_eq(journal_classify_line(NULL, &l), 0);
        ck_assert_int_eq(l.kind, LINE_OTHER);
        ck_assert_int_eq(journal_classify_line("migrations: failed", NULL), -EINVAL);
        server_line_done(&l);
        server_line_done(NULL);
}
END_TEST

/* ---- the error matcher ---- */

#define DEFAULT_PATTERN "^(error|fatal|panic)\\b"

typedef struct ErrorCase {
        const char *message;
        int priority;
        int is_error;
} ErrorCase;

static const ErrorCase error_cases[] = {
        { "error: cannot read config", LOG_INFO, 1 },
        { "Error: connect ECONNREFUSED 127.0.0.1:6379", LOG_INFO, 1 },
        { "ERROR", LOG_INFO, 1 },
        { "error", LOG_INFO, 1 },
        { "fatal: out of memory", LOG_INFO, 1 },
        { "FATAL.", LOG_INFO, 1 },
        { "panic: runtime error", LOG_INFO, 1 },
        { "Panic!", LOG_INFO, 1 },
        { "error-handler installed", LOG_INFO, 1 }, /* '-' ends a word */
        { "errors: 0", LOG_INFO, 0 },
        { "errorless run", LOG_INFO, 0 },
        { "error_count=0", LOG_INFO, 0 },
        { "panicked at 'x'", LOG_INFO, 0 },
        { "fatality", LOG_INFO, 0 },
        { "no error here", LOG_INFO, 0 },
        { " error: indented", LOG_INFO, 0 },
        { "warning: deprecated", LOG_WARNING, 0 },
        { "ready", LOG_NOTICE, 0 },
        /* priority alone */
        { "something went wrong", LOG_ERR, 1 },
        { "disk on fire", LOG_CRIT, 1 },
        { "x", LOG_ALERT, 1 },
        { "x", LOG_EMERG, 1 },
        { NULL, LOG_ERR, 1 },
        { NULL, LOG_INFO, 0 },
};

static void check_error_cases(const regex_t *re) {
        for (size_t i = 0; i < ELEMENTSOF(error_cases); i++) {
                const ErrorCase *c = &error_cases[i];
                JournalEntry e = { .message = (char *)c->message, .priority = c->priority };

                ck_assert_msg(
                        journal_entry_is_error(&e, re) == c->is_error,
                        "\"%s\" at priority %d",
                        strempty(c->message),
                        c->priority);
        }
}

/* the errors of the unit's own output, from a time or after a cursor: crash.export has one "Error:" line
 * of codebolt.service (info priority: found by the pattern only) and none of PID 1's lines count */
START_TEST(test_count_errors) {
        _cleanup_(test_journal_done) TestJournal t = {};
        _cleanup_free_ char *cursor = NULL, *again = NULL, *none = NULL;
        char *paths[2] = {};
        uint64_t n = 99;
        regex_t re;

        test_journal_make(&t, "crash.export");
        paths[0] = t.file;
        ck_assert_int_eq(journal_compile_error_pattern(DEFAULT_PATTERN, &re), 0);

        ck_assert_int_eq(journal_count_errors(paths, UNIT, 0, NULL, &re, &n, &cursor), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_ptr_nonnull(cursor);

        /* nothing new after the last entry read */
        ck_assert_int_eq(journal_count_errors(paths, UNIT, 0, cursor, &re, &n, &again), 0);
        ck_assert_uint_eq(n, 0);
        ck_assert_ptr_null(again);

        /* by priority alone it is no error; from a time after every entry there is nothing */
        ck_assert_int_eq(journal_count_errors(paths, UNIT, 0, NULL, NULL, &n, NULL), 0);
        ck_assert_uint_eq(n, 0);
        ck_assert_int_eq(
                journal_count_errors(paths, UNIT, UINT64_C(4102444800000000), NULL, &re, &n, &none), 0);
        ck_assert_uint_eq(n, 0);
        ck_assert_ptr_null(none);
        /* another unit's output is not counted */
        ck_assert_int_eq(journal_count_errors(paths, "other.service", 0, NULL, &re, &n, NULL), 0);
        ck_assert_uint_eq(n, 0);
        regfree(&re);
}
END_TEST

START_TEST(test_error_matcher) {
        regex_t re;

        ck_assert_int_eq(journal_compile_error_pattern(DEFAULT_PATTERN, &re), 0);
        check_error_cases(&re);
        regfree(&re);
}
END_TEST

START_TEST(test_error_matcher_no_pattern) {
        JournalEntry info = { .message = (char *)"error: x", .priority = LOG_INFO };
        JournalEntry err = { .message = (char *)"all good", .priority = LOG_ERR };

        ck_assert_int_eq(journal_entry_is_error(&info, NULL), 0);
        ck_assert_int_eq(journal_entry_is_error(&err, NULL), 1);
        ck_assert_int_eq(journal_entry_is_error(NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(test_error_pattern_custom) {
        regex_t re;
        JournalEntry hit = { .message = (char *)"[WARN] Unhandled rejection in worker",
                             .priority = LOG_INFO };
        JournalEntry miss = { .message = (char *)"handled rejection", .priority = LOG_INFO };

        ck_assert_int_eq(journal_compile_error_pattern("unhandled (rejection|exception)", &re), 0);
        ck_assert_int_eq(journal_entry_is_error(&hit, &re), 1);
        ck_assert_int_eq(journal_entry_is_error(&miss, &re), 0);
        regfree(&re);

        ck_assert_int_eq(journal_compile_error_pattern("(unclosed", &re), -EINVAL);
        ck_assert_int_eq(journal_compile_error_pattern("[a-", &re), -EINVAL);
        ck_assert_int_eq(journal_compile_error_pattern(NULL, &re), -EINVAL);
}
END_TEST

START_TEST(test_error_pattern_translation_matches) {
        _cleanup_free_ char *t = NULL;
        regex_t re;

        /* the fallback for a libc without \b gives the same answers as glibc's \b */
        ck_assert_int_eq(journal_error_pattern_translate(DEFAULT_PATTERN, &t), 0);
        ck_assert_int_eq(regcomp(&re, t, REG_EXTENDED | REG_ICASE | REG_NOSUB), 0);
        check_error_cases(&re);
        regfree(&re);
}
END_TEST

static Suite *journal_suite(void) {
        Suite *s = suite_create("journal");
        TCase *tc;

        tc = tcase_create("watch");
        tcase_set_timeout(tc, 30);
        tcase_add_unchecked_fixture(tc, tmp_setup, tmp_teardown);
        tcase_add_test(tc, test_watch_invocation);
        tcase_add_test(tc, test_count_errors);
        tcase_add_test(tc, test_watch_old_invocation);
        tcase_add_test(tc, test_watch_uuid_form);
        tcase_add_test(tc, test_watch_no_such_invocation);
        tcase_add_test(tc, test_watch_deadline_blocks);
        tcase_add_test(tc, test_watch_follows_appends);
        tcase_add_test(tc, test_watch_poll_fd);
        tcase_add_test(tc, test_watch_lines_end_to_end);
        tcase_add_test(tc, test_watch_bad_arguments);
        suite_add_tcase(s, tc);

        tc = tcase_create("classify");
        tcase_add_test(tc, test_classify_lines);
        tcase_add_test(tc, test_classify_null);
        suite_add_tcase(s, tc);

        tc = tcase_create("errors");
        tcase_add_test(tc, test_error_matcher);
        tcase_add_test(tc, test_error_matcher_no_pattern);
        tcase_add_test(tc, test_error_pattern_custom);
        tcase_add_test(tc, test_error_pattern_translation_matches);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(journal_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
