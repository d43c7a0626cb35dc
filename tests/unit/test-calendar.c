/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-calendar.c: calendar_spec_check() against systemd's own parser (`systemd-analyze calendar`) */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/wait.h>

#include "calendar.h"
#include "macro.h"
#include "spawn.h" /* posix_spawnp */

extern char **environ;

typedef enum Verdict {
        REFUSED,  /* by both */
        ACCEPTED, /* by both */
        STRICT,   /* refused here on purpose, though systemd takes it */
} Verdict;

static const struct {
        const char *spec;
        Verdict verdict;
} cases[] = {
        /* what breaks the unit file, whatever systemd's parser would say */
        { "daily\\", REFUSED },
        { "08:00\\", REFUSED },
        { "*-*-* 02:00\\", REFUSED },
        { "daily\tUTC", REFUSED },
        { "", REFUSED },
        { " daily", REFUSED },
        { "daily ", REFUSED },
        { "12:00  UTC", REFUSED },
        { "%H:00", REFUSED },
        { "06:00 ; rm", REFUSED },

        /* the shorthands */
        { "minutely", ACCEPTED },
        { "hourly", ACCEPTED },
        { "daily", ACCEPTED },
        { "Daily", ACCEPTED },
        { "weekly", ACCEPTED },
        { "monthly", ACCEPTED },
        { "yearly", ACCEPTED },
        { "annually", ACCEPTED },
        { "quarterly", ACCEPTED },
        { "semiannually", ACCEPTED },
        { "semi-annually", ACCEPTED },
        { "bi-annually", ACCEPTED },
        { "weekly UTC", ACCEPTED },
        { "hourly Europe/Berlin", ACCEPTED },
        { "daily Mars/Olympus", REFUSED },
        { "daily 12:00", REFUSED },
        { "fortnightly", REFUSED },
        { "anually", STRICT }, /* systemd's old misspelling */

        /* weekdays */
        { "Mon", ACCEPTED },
        { "Mon,Fri", ACCEPTED },
        { "Mon..Fri", ACCEPTED },
        { "Mon-Fri", ACCEPTED },
        { "mOn,wEd", ACCEPTED },
        { "Monday..Sunday 03:00", ACCEPTED },
        { "Sat,Sun 03:00 UTC", ACCEPTED },
        { "Fri..Mon", REFUSED },
        { "Sunday..Monday", REFUSED },
        { "Mon.Fri", REFUSED },
        { "Mon..Tue..Wed", REFUSED },
        { "Monda", REFUSED },
        { "Thurs", REFUSED },
        { "mon..", REFUSED },
        { "Mon Tue", REFUSED },
        { "Mon,", STRICT },

        /* dates */
        { "*-*-*", ACCEPTED },
        { "*-*", ACCEPTED },
        { "01-01", ACCEPTED },
        { "*-1-1", ACCEPTED },
        { "2024-*-*", ACCEPTED },
        { "24-01-01", ACCEPTED },
        { "70-01-01", ACCEPTED },
        { "99..01-01-01", ACCEPTED },
        { "2199-12-31", ACCEPTED },
        { "1969-01-01", REFUSED },
        { "2200-01-01", REFUSED },
        { "*-13-01", REFUSED },
        { "*-*-32", REFUSED },
        { "*-*-0", REFUSED },
        { "*-*-1/30", ACCEPTED },
        { "*-*-1/31", REFUSED },
        { "*-*-31/0", REFUSED },
        { "*-02~03", ACCEPTED },
        { "*~03", ACCEPTED },
        { "*-*~07/1", ACCEPTED },
        { "*-*~28", ACCEPTED },
        { "*-*~29", REFUSED },
        { "*-*~01/27", REFUSED },
        { "*-*~19,28", REFUSED },
        { "*-*~1,2", STRICT }, /* systemd's bound shrinks with each listed day */
        { "*-02~03-01", REFUSED },
        { "*~02~03", REFUSED },
        { "1-2-3-4", REFUSED },
        { "*-*-1..", REFUSED },
        { "Fri *-*-13 13:13", ACCEPTED },
        { "@1700000000", STRICT },

        /* times */
        { "12:00", ACCEPTED },
        { "0:0:0", ACCEPTED },
        { "23:59:59", ACCEPTED },
        { "2024-1-1 1:1:1", ACCEPTED },
        { "*-*-* 02:00", ACCEPTED },
        { "*:0/15", ACCEPTED },
        { "*:0,15,30,45", ACCEPTED },
        { "*:0..59/15", ACCEPTED },
        { "*:0..59/59", ACCEPTED },
        { "0..23/2:00", ACCEPTED },
        { "1..5:00", ACCEPTED },
        { "*:*:*", ACCEPTED },
        { "*:*:0/10", ACCEPTED },
        { "12:00:00.5", ACCEPTED },
        { "*-*-* *:*:59.999999", ACCEPTED },
        { "*:*:0/59.5", ACCEPTED },
        { "Mon *-*-* 12:00 utc", ACCEPTED },
        { "12:00 Etc/UTC", ACCEPTED },
        { "12:00 GMT", ACCEPTED },
        { "12", REFUSED },
        { "Mon 12", REFUSED },
        { "*", REFUSED },
        { "24:00", REFUSED },
        { "12:60", REFUSED },
        { "12:00:60", REFUSED },
        { "*:*:60", REFUSED },
        { "*:*/15", REFUSED },
        { "*:*:*/10", REFUSED },
        { "*:0/60", REFUSED },
        { "*:30/30", REFUSED },
        { "*:30/29", ACCEPTED },
        { "*:*:0/60", REFUSED },
        { "*:*:0.5/59.5", REFUSED },
        { "5..1:00", REFUSED },
        { "0,,1:00", REFUSED },
        { "0,1,:00", REFUSED },
        { "1:00:00:00", REFUSED },
        { "12:00:", REFUSED },
        { "12:00 Foo/Bar", REFUSED },
        { "12:00 Europe/../UTC", REFUSED },
        { "12:00 /etc/passwd", REFUSED },
        { "1..1:00", STRICT },          /* a range of one value */
        { "0..58/59:00", STRICT },      /* a range whose repetition never comes */
        { "00:00:00.1234567", STRICT }, /* more decimals than a µs holds */
        { "*-*-* 12:00 posixrules", ACCEPTED },
};

/* What `systemd-analyze calendar` says of each spec, in one run (it goes on past a refused one): a
 * spec it takes is echoed as "Original form: <spec>", or only as "Normalized form: <spec>" when it is
 * written in the normal form already. false without systemd-analyze. */
static bool systemd_verdicts(const char *const *specs, size_t n, bool *ret) {
        static const char *const env[] = {
                "PATH=/usr/bin:/bin:/usr/sbin:/sbin", "TZ=UTC", "LC_ALL=C", NULL
        };
        _cleanup_free_ char **argv = calloc(n + 3, sizeof(char *));
        _cleanup_free_ char *out = NULL;
        _cleanup_fclose_ FILE *tmp = tmpfile();
        posix_spawn_file_actions_t fa;
        size_t size = 0, got;
        int status, r;
        pid_t pid;

        ck_assert_ptr_nonnull(argv);
        ck_assert_ptr_nonnull(tmp);
        argv[0] = (char *)"systemd-analyze";
        argv[1] = (char *)"calendar";
        for (size_t i = 0; i < n; i++)
                argv[i + 2] = (char *)specs[i];

        ck_assert_int_eq(posix_spawn_file_actions_init(&fa), 0);
        ck_assert_int_eq(posix_spawn_file_actions_adddup2(&fa, fileno(tmp), 1), 0);
        ck_assert_int_eq(posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0), 0);
        r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, (char **)env);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0) {
                fprintf(stderr, "systemd-analyze not found: the specs are checked without it\n");
                return false;
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) != 127);

        rewind(tmp);
        out = malloc(1);
        ck_assert_ptr_nonnull(out);
        for (char chunk[4096]; (got = fread(chunk, 1, sizeof(chunk), tmp)) > 0;) {
                out = realloc(out, size + got + 1);
                ck_assert_ptr_nonnull(out);
                memcpy(out + size, chunk, got);
                size += got;
        }
        out[size] = 0;

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *original = NULL, *normalized = NULL;

                ck_assert_int_ge(asprintf(&original, "Original form: %s\n", specs[i]), 0);
                ck_assert_int_ge(asprintf(&normalized, "Normalized form: %s\n", specs[i]), 0);
                ret[i] = strstr(out, original) || strstr(out, normalized);
        }
        return true;
}

START_TEST(test_table) {
        const char *specs[ELEMENTSOF(cases)];
        bool sd[ELEMENTSOF(cases)], oracle;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *why = NULL;
                const char *spec = specs[i] = cases[i].spec;
                int r = calendar_spec_check(spec, &why);

                if (cases[i].verdict == ACCEPTED)
                        ck_assert_msg(r == 0, "'%s' refused: %s", spec, strempty(why));
                else {
                        ck_assert_msg(r == -EINVAL, "'%s' accepted", spec);
                        ck_assert_msg(why && *why, "'%s' refused without a reason", spec);
                }
        }

        oracle = systemd_verdicts(specs, ELEMENTSOF(cases), sd);
        for (size_t i = 0; oracle && i < ELEMENTSOF(cases); i++) {
                if (cases[i].verdict == ACCEPTED)
                        ck_assert_msg(sd[i], "'%s': systemd-analyze calendar refuses it", specs[i]);
                else if (cases[i].verdict == REFUSED)
                        ck_assert_msg(!sd[i], "'%s': systemd-analyze calendar takes it", specs[i]);
                else if (cases[i].verdict == STRICT)
                        ck_assert_msg(
                                sd[i], "'%s' is no longer stricter than systemd: call it REFUSED", specs[i]);
        }
}
END_TEST

/* a small deterministic generator of specs near the grammar's edges */
static unsigned rnd_state = 12345;

static unsigned rnd(unsigned n) {
        rnd_state = rnd_state * 1103515245u + 12345u;
        return (rnd_state >> 16) % n;
}

static void put_field(FILE *f, unsigned max, bool decimals) {
        unsigned items = 1 + rnd(2);

        if (rnd(4) == 0) {
                fputc('*', f);
                return;
        }
        for (unsigned i = 0; i < items; i++) {
                if (i > 0)
                        fputc(',', f);
                fprintf(f, "%u", rnd(max));
                if (decimals && rnd(4) == 0)
                        fprintf(f, ".%u", rnd(1000));
                if (rnd(4) == 0)
                        fprintf(f, "..%u", rnd(max));
                if (rnd(4) == 0)
                        fprintf(f, "/%u", rnd(max / 2 + 2));
        }
}

static char *random_spec(void) {
        static const char *const days[] = { "Mon", "tue", "Wednesday", "Thu", "Fri", "sat", "Sunday" };
        static const char *const zones[] = { "UTC", "Europe/Berlin", "Mars/Olympus", "America/New_York" };
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        bool any = false;

        ck_assert_ptr_nonnull(f);
        if (rnd(3) == 0) {
                fputs(days[rnd(7)], f);
                if (rnd(2) == 0)
                        fprintf(f, "%s%s", rnd(3) == 0 ? "," : "..", days[rnd(7)]);
                any = true;
        }
        if (rnd(2) == 0) {
                fputs(any ? " " : "", f);
                if (rnd(2) == 0) {
                        put_field(f, rnd(2) == 0 ? 2230 : 100, false);
                        fputc('-', f);
                }
                put_field(f, 14, false);
                fputc(rnd(5) == 0 ? '~' : '-', f);
                put_field(f, 33, false);
                any = true;
        }
        if (!any || rnd(3) != 0) {
                fputs(any ? " " : "", f);
                put_field(f, 26, false);
                fputc(':', f);
                put_field(f, 62, false);
                if (rnd(2) == 0) {
                        fputc(':', f);
                        put_field(f, 62, true);
                }
        }
        if (rnd(5) == 0)
                fprintf(f, " %s", zones[rnd(ELEMENTSOF(zones))]);
        ck_assert_int_eq(fclose(f), 0);
        return buf;
}

#define N_RANDOM 500

/* Never laxer than systemd, on specs no table would think of. Stricter only where the table says so:
 * a range whose repetition never comes (systemd drops the range) and a ','-list of days counted from
 * the end of the month (systemd's check of those changes with the list's length). */
START_TEST(test_against_systemd) {
        char *specs[N_RANDOM];
        bool sd[N_RANDOM];
        unsigned agree = 0, accepted = 0;
        bool oracle;

        for (size_t i = 0; i < N_RANDOM; i++)
                specs[i] = random_spec();
        oracle = systemd_verdicts((const char *const *)specs, N_RANDOM, sd);
        for (size_t i = 0; oracle && i < N_RANDOM; i++) {
                _cleanup_free_ char *why = NULL;
                bool ours = calendar_spec_check(specs[i], &why) == 0;

                ck_assert_msg(!ours || sd[i], "'%s' accepted here, refused by systemd-analyze", specs[i]);
                ck_assert_msg(
                        ours || !sd[i] || strstr(specs[i], "..") || strchr(specs[i], '~'),
                        "'%s' refused here (%s), though systemd-analyze takes it",
                        specs[i],
                        strempty(why));
                agree += ours == sd[i];
                accepted += ours;
        }
        for (size_t i = 0; i < N_RANDOM; i++)
                free(specs[i]);
        /* the generator makes specs of both kinds, and a checker that refused everything fails here */
        if (oracle) {
                ck_assert_msg(agree >= N_RANDOM * 95 / 100, "only %u of %d agree", agree, N_RANDOM);
                ck_assert_msg(accepted >= N_RANDOM / 5, "only %u of %d accepted", accepted, N_RANDOM);
        }
}
END_TEST

static Suite *calendar_suite(void) {
        Suite *s = suite_create("calendar");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_table);
        tcase_add_test(tc, test_against_systemd);
        /* one systemd-analyze run each, slow on a busy machine */
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(calendar_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
