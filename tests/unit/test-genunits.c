/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-genunits.c: what the generator writes, from configuration to (path, content) */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "genunits.h"
#include "macro.h"
#include "paths.h"
#include "test-root.h"
#include "unitname.h"

static void check_timespan(usec_t t, const char *want) {
        _cleanup_free_ char *s = NULL;

        ck_assert_int_eq(genunits_format_timespan(t, &s), 0);
        ck_assert_str_eq(s, want);
}

START_TEST(test_format_timespan) {
        check_timespan(0, "0");
        check_timespan(USEC_INFINITY, "infinity");
        check_timespan(30 * USEC_PER_SEC, "30s");
        check_timespan(630 * USEC_PER_SEC, "10min 30s");
        check_timespan(35 * 60 * USEC_PER_SEC, "35min");
        check_timespan((26 * 3600 + 1) * USEC_PER_SEC, "1d 2h 1s");
        check_timespan(1500 * 1000, "1s 500ms");
        check_timespan(7, "7us");
}
END_TEST

/* every timespan it prints reads back as the same value */
START_TEST(test_format_timespan_round_trip) {
        const usec_t values[] = {
                1, 999, 1000, USEC_PER_SEC, 61 * USEC_PER_SEC, 86400 * USEC_PER_SEC + 1, 123456789012ULL
        };

        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                _cleanup_free_ char *s = NULL;
                usec_t back;

                ck_assert_int_eq(genunits_format_timespan(values[i], &s), 0);
                ck_assert_int_eq(config_parse_timespan(s, &back), 0);
                ck_assert_uint_eq(back, values[i]);
        }
}
END_TEST

START_TEST(test_server_dropin) {
        _cleanup_(config_done) Config c = {};
        _cleanup_free_ char *s = NULL;

        ck_assert_int_eq(config_init_defaults(&c), 0);
        ck_assert_int_eq(genunits_server_dropin(&c, "/etc/codebolt-upgrade/upgrade.conf", &s), 0);
        ck_assert_str_eq(
                s,
                GENUNITS_HEADER
                "# The server of Codebolt deployment default (codebolt-upgrade-generator(8)), from "
                "/etc/codebolt-upgrade/upgrade.conf.\n"
                "\n"
                "[Unit]\n"
                "Wants=codebolt-upgrade-recover.service codebolt-upgrade-recover-check.service\n"
                "After=codebolt-upgrade-recover.service\n"
                "Before=codebolt-upgrade-recover-check.service\n"
                "\n"
                "[Service]\n"
                "ExecCondition=+" BINDIR "/codebolt-upgrade --deployment default server-may-start\n"
                "KillMode=mixed\n"
                "TimeoutStopSec=10min 30s\n"
                "TimeoutStartSec=35min\n");
}
END_TEST

START_TEST(test_server_dropin_infinity) {
        _cleanup_(config_done) Config c = {};
        _cleanup_free_ char *s = NULL;

        ck_assert_int_eq(config_init_defaults(&c), 0);
        c.timeout_drain = USEC_INFINITY;
        c.timeout_migrations = USEC_INFINITY - 1; /* saturates instead of wrapping */
        ck_assert_int_eq(genunits_server_dropin(&c, "/x.conf", &s), 0);
        ck_assert_ptr_nonnull(strstr(s, "\nTimeoutStopSec=infinity\n"));
        ck_assert_ptr_nonnull(strstr(s, "\nTimeoutStartSec=infinity\n"));
}
END_TEST

static const char template[] =
        "# SPDX-License-Identifier: LGPL-2.1-or-later\n"
        "# Upgrade the default deployment.\n"
        "\n"
        "[Unit]\n"
        "Description=Upgrade Codebolt to %i\n"
        "Documentation=man:codebolt-upgrade@.service(8) file:///usr/share/doc/codebolt-upgrade/README.md\n"
        "OnFailure=codebolt-rollback@%i.service\n"
        "# codebolt-upgrade@ in a comment, but not xcodebolt-upgrade@ or a-codebolt-rollback@\n"
        "After=codebolt-upgrade@%i.service codebolt-upgrade-recover.service\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        "ExecStart=/usr/libexec/codebolt-upgrade/switch %i\n";

START_TEST(test_derive_unit) {
        _cleanup_free_ char *s = NULL;

        ck_assert_int_eq(
                genunits_derive_unit(
                        template,
                        "/usr/lib/systemd/system/t@.service",
                        "eu",
                        "/etc/codebolt-upgrade/deployments/eu.conf",
                        &s),
                0);
        ck_assert_str_eq(
                s,
                GENUNITS_HEADER
                "# /usr/lib/systemd/system/t@.service for Codebolt deployment eu "
                "(codebolt-upgrade-generator(8)).\n"
                "\n"
                "[Unit]\n"
                "SourcePath=/etc/codebolt-upgrade/deployments/eu.conf\n"
                "Description=Upgrade Codebolt to %i (deployment eu)\n"
                /* the template's page keeps its name: it documents the deployment's unit too */
                "Documentation=man:codebolt-upgrade@.service(8) "
                "file:///usr/share/doc/codebolt-upgrade/README.md\n"
                "OnFailure=codebolt-rollback-eu@%i.service\n"
                "# codebolt-upgrade-eu@ in a comment, but not xcodebolt-upgrade@ or "
                "a-codebolt-rollback@\n"
                "After=codebolt-upgrade-eu@%i.service codebolt-upgrade-recover.service\n"
                "\n"
                "[Service]\n"
                "Environment=CODEBOLT_DEPLOYMENT=eu\n"
                "Type=oneshot\n"
                "ExecStart=/usr/libexec/codebolt-upgrade/switch %i\n");
}
END_TEST

START_TEST(test_derive_unit_needs_sections) {
        _cleanup_free_ char *s = NULL;

        ck_assert_int_eq(genunits_derive_unit("[Unit]\nDescription=x\n", "/t", "eu", "/s", &s), -EINVAL);
        ck_assert_ptr_null(s);
        ck_assert_int_eq(genunits_derive_unit("[Service]\nType=oneshot\n", "/t", "eu", "/s", &s), -EINVAL);
        ck_assert_ptr_null(s);
        /* no trailing newline: the last line is kept whole */
        ck_assert_int_eq(genunits_derive_unit("[Unit]\n[Service]\nType=oneshot", "/t", "eu", "/s", &s), 0);
        ck_assert_ptr_nonnull(strstr(s, "\nType=oneshot\n"));
}
END_TEST

static const char timer_template[] =
        "# SPDX-License-Identifier: LGPL-2.1-or-later\n"
        "# The watch of the default deployment: a sample at once, then every 5min.\n"
        "\n"
        "[Unit]\n"
        "Description=Watch Codebolt after the upgrade to %i\n"
        "Documentation=man:codebolt-upgrade@.service(8)\n"
        "# codebolt-upgrade-watch@ and codebolt-upgrade@, not codebolt-upgrade-watch-x@\n"
        "After=codebolt-upgrade@%i.service\n"
        "\n"
        "[Timer]\n"
        "OnActiveSec=0\n"
        "OnUnitActiveSec=5min\n"
        "AccuracySec=1s\n"
        "Unit=codebolt-upgrade-watch@%i.service\n"
        "\n"
        "[Install]\n"
        "WantedBy=timers.target\n";

START_TEST(test_derive_timer) {
        _cleanup_free_ char *s = NULL;

        ck_assert_int_eq(
                genunits_derive_timer(
                        timer_template,
                        "/usr/lib/systemd/system/w@.timer",
                        "eu",
                        "/etc/codebolt-upgrade/deployments/eu.conf",
                        90 * USEC_PER_SEC,
                        &s),
                0);
        ck_assert_str_eq(
                s,
                GENUNITS_HEADER
                "# /usr/lib/systemd/system/w@.timer for Codebolt deployment eu "
                "(codebolt-upgrade-generator(8)).\n"
                "\n"
                "[Unit]\n"
                "SourcePath=/etc/codebolt-upgrade/deployments/eu.conf\n"
                "Description=Watch Codebolt after the upgrade to %i (deployment eu)\n"
                "Documentation=man:codebolt-upgrade@.service(8)\n"
                "# codebolt-upgrade-watch-eu@ and codebolt-upgrade-eu@, not codebolt-upgrade-watch-x@\n"
                "After=codebolt-upgrade-eu@%i.service\n"
                "\n"
                /* the deployment's interval in place of the template's, its first sample as the
                 * template has it; no Environment=: the service the timer starts carries it */
                "[Timer]\n"
                "OnActiveSec=0\n"
                "OnUnitActiveSec=1min 30s\n"
                "AccuracySec=1s\n"
                "Unit=codebolt-upgrade-watch-eu@%i.service\n"
                "\n"
                "[Install]\n"
                "WantedBy=timers.target\n");
}
END_TEST

START_TEST(test_derive_timer_needs_sections) {
        _cleanup_free_ char *s = NULL;

        /* a service template is not a timer's, nor the other way round */
        ck_assert_int_eq(genunits_derive_timer(template, "/t", "eu", "/s", USEC_PER_SEC, &s), -EINVAL);
        ck_assert_ptr_null(s);
        ck_assert_int_eq(genunits_derive_unit(timer_template, "/t", "eu", "/s", &s), -EINVAL);
        ck_assert_ptr_null(s);
        ck_assert_int_eq(
                genunits_derive_timer("[Timer]\nOnUnitActiveSec=1s\n", "/t", "eu", "/s", 1, &s), -EINVAL);
        ck_assert_ptr_null(s);
        /* no interval to set: not a watch timer */
        ck_assert_int_eq(
                genunits_derive_timer(
                        "[Unit]\nOnUnitActiveSec=1s\n[Timer]\nOnActiveSec=1s\n", "/t", "eu", "/s", 1, &s),
                -EINVAL);
        ck_assert_ptr_null(s);
        /* [Service] in a timer template is not its own section: copied as it is */
        ck_assert_int_eq(
                genunits_derive_timer(
                        "[Unit]\n[Service]\n[Timer]\nOnUnitActiveSec=1s", "/t", "eu", "/s", 1, &s),
                0);
        ck_assert_ptr_nonnull(strstr(s, "\n[Service]\n[Timer]\nOnUnitActiveSec=1us\n"));
        ck_assert_ptr_null(strstr(s, "Environment="));
}
END_TEST

START_TEST(test_watch_dropin) {
        _cleanup_(config_done) Config c = {};
        _cleanup_free_ char *s = NULL;

        ck_assert_int_eq(config_init_defaults(&c), 0);
        /* the template's interval already: nothing to write */
        ck_assert_int_eq(genunits_watch_dropin(timer_template, &c, "/s", &s), 0);
        ck_assert_ptr_null(s);
        c.watch_interval = 300 * USEC_PER_SEC;
        ck_assert_int_eq(genunits_watch_dropin("[Timer]\nOnUnitActiveSec=5min\n", &c, "/s", &s), 0);
        ck_assert_int_eq(genunits_watch_dropin("[Timer]\nOnUnitActiveSec=300\n", &c, "/s", &s), 0);
        ck_assert_ptr_null(s);

        c.watch_interval = 150 * USEC_PER_SEC;
        ck_assert_int_eq(
                genunits_watch_dropin(timer_template, &c, "/etc/codebolt-upgrade/upgrade.conf", &s), 1);
        /* one reset only: an empty OnUnitActiveSec= would empty OnActiveSec= too; the template's
         * first sample is set again */
        ck_assert_str_eq(
                s,
                GENUNITS_HEADER
                "# [Watch] Interval= of Codebolt deployment default (codebolt-upgrade-generator(8)), from "
                "/etc/codebolt-upgrade/upgrade.conf.\n"
                "\n"
                "[Timer]\n"
                "OnActiveSec=\n"
                "OnActiveSec=0\n"
                "OnUnitActiveSec=2min 30s\n");
}
END_TEST

START_TEST(test_watch_dropin_needs_interval) {
        _cleanup_(config_done) Config c = {};
        _cleanup_free_ char *s = NULL;

        ck_assert_int_eq(config_init_defaults(&c), 0);
        ck_assert_int_eq(genunits_watch_dropin("[Timer]\nOnActiveSec=5min\n", &c, "/s", &s), -EINVAL);
        ck_assert_int_eq(genunits_watch_dropin("[Unit]\nOnUnitActiveSec=5min\n", &c, "/s", &s), -EINVAL);
        ck_assert_int_eq(genunits_watch_dropin("[Timer]\nOnUnitActiveSec=soon\n", &c, "/s", &s), -EINVAL);
        ck_assert_ptr_null(s);
}
END_TEST

START_TEST(test_unit_name) {
        _cleanup_free_ char *a = NULL, *b = NULL;

        ck_assert_int_eq(unitname_deployment_name("codebolt-upgrade", "default", NULL, "@.service", &a), 0);
        ck_assert_str_eq(a, "codebolt-upgrade@.service");
        ck_assert_int_eq(unitname_deployment_name("codebolt-upgrade-auto", "eu", NULL, ".timer", &b), 0);
        ck_assert_str_eq(b, "codebolt-upgrade-auto-eu.timer");
        free(b);
        ck_assert_int_eq(unitname_deployment_name("codebolt-upgrade-watch", "eu", NULL, "@.timer", &b), 0);
        ck_assert_str_eq(b, "codebolt-upgrade-watch-eu@.timer");
}
END_TEST

START_TEST(test_auto_units) {
        _cleanup_(config_done) Config c = {};
        _cleanup_free_ char *timer = NULL, *service = NULL;

        ck_assert_int_eq(config_init_defaults(&c), 0);
        free(c.deployment);
        c.deployment = strdup("eu");
        c.auto_schedule = strdup("Sun 02:00");
        c.auto_randomized_delay = 90 * 60 * USEC_PER_SEC;
        ck_assert_int_eq(genunits_auto_timer(&c, "/s.conf", &timer), 0);
        ck_assert_ptr_nonnull(
                strstr(timer,
                       "\n[Timer]\nOnCalendar=Sun 02:00\nRandomizedDelaySec=1h 30min\n"
                       "Persistent=yes\nUnit=codebolt-upgrade-auto-eu.service\n"));
        ck_assert_int_eq(genunits_auto_service(&c, "/s.conf", &service), 0);
        ck_assert_ptr_nonnull(strstr(service, "\nEnvironment=CODEBOLT_DEPLOYMENT=eu\n"));
        ck_assert_ptr_nonnull(strstr(service, "\nExecStart=" LIBEXECDIR "/auto\n"));
}
END_TEST

/* a trailing backslash would continue OnCalendar= into RandomizedDelaySec=: no timer text at all */
START_TEST(test_auto_timer_bad_schedule) {
        static const char *const bad[] = { "Sun 02:00\\", "daily\\", "25:00", "Sun 02:00 %n", "someday" };
        _cleanup_(config_done) Config c = {};

        ck_assert_int_eq(config_init_defaults(&c), 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *timer = NULL;

                free(c.auto_schedule);
                c.auto_schedule = strdup(bad[i]);
                ck_assert_msg(genunits_auto_timer(&c, "/s.conf", &timer) == -EINVAL, "'%s' written", bad[i]);
                ck_assert_ptr_null(timer);
        }
}
END_TEST

/* ---- the whole build, against a root of the test's own ---- */

static char *make_root(const char *name) {
        char *r;

        ck_assert_int_ge(asprintf(&r, "%s/%s", root, name), 0);
        return r;
}

static void put(const char *dir, const char *path, const char *content) {
        _cleanup_free_ char *p = NULL, *parent = NULL;
        FILE *f;

        ck_assert_int_ge(asprintf(&p, "%s%s", dir, path), 0);
        parent = strdup(p);
        *strrchr(parent, '/') = 0;
        ck_assert_int_eq(paths_mkdir_p(parent, 0755), 0);
        f = fopen(p, "we");
        ck_assert_ptr_nonnull(f);
        fputs(content, f);
        ck_assert_int_eq(fclose(f), 0);
}

/* the upgrade and rollback templates: an install older than the watch */
static void put_old_templates(const char *dir) {
        put(dir, UNITDIR "/codebolt-upgrade@.service", template);
        put(dir,
            UNITDIR "/codebolt-rollback@.service",
            "[Unit]\nAfter=codebolt-upgrade@%i.service\n[Service]\n");
}

static void put_templates(const char *dir) {
        put_old_templates(dir);
        put(dir, UNITDIR "/codebolt-upgrade-watch@.service", "[Unit]\n[Service]\nExecStart=/w %i\n");
        put(dir, UNITDIR "/codebolt-upgrade-watch@.timer", timer_template);
}

static const GenFile *find(const GenUnits *u, const char *path) {
        for (size_t i = 0; i < u->n_files; i++)
                if (streq(u->files[i].path, path))
                        return &u->files[i];
        return NULL;
}

static size_t n_warnings(const GenUnits *u) {
        size_t n = 0;

        STRV_FOREACH (w, u->warnings)
                n++;
        return n;
}

START_TEST(test_build_none) {
        _cleanup_free_ char *dir = make_root("none");
        _cleanup_(genunits_done) GenUnits u = {};

        ck_assert_int_eq(paths_mkdir_p(dir, 0755), 0);
        ck_assert_int_eq(genunits_build(dir, &u), 0);
        ck_assert_uint_eq(u.n_files, 1);
        ck_assert_str_eq(u.files[0].path, "codebolt.service.d/50-codebolt-upgrade.conf");
        ck_assert_ptr_null(u.warnings);
}
END_TEST

START_TEST(test_build_broken_beside_good) {
        _cleanup_free_ char *dir = make_root("broken");
        _cleanup_(genunits_done) GenUnits u = {};

        put_templates(dir);
        put(dir, "/etc/codebolt-upgrade/deployments/a.conf", "[Server]\nUnit=codebolt-a.service\n");
        put(dir, "/etc/codebolt-upgrade/deployments/b.conf", "[Server]\nUnit=codebolt-b.service\nNope=1\n");
        put(dir, "/etc/codebolt-upgrade/deployments/c.conf", "[Server]\nUnit=codebolt-c.service\n");
        ck_assert_int_eq(genunits_build(dir, &u), 0);

        ck_assert_ptr_nonnull(find(&u, "codebolt.service.d/50-codebolt-upgrade.conf"));
        ck_assert_ptr_nonnull(find(&u, "codebolt-a.service.d/50-codebolt-upgrade.conf"));
        ck_assert_ptr_nonnull(find(&u, "codebolt-upgrade-a@.service"));
        ck_assert_ptr_nonnull(find(&u, "codebolt-rollback-a@.service"));
        ck_assert_ptr_nonnull(find(&u, "codebolt-upgrade-watch-a@.service"));
        ck_assert_ptr_nonnull(find(&u, "codebolt-upgrade-watch-a@.timer"));
        ck_assert_ptr_nonnull(find(&u, "codebolt-c.service.d/50-codebolt-upgrade.conf"));
        ck_assert_ptr_null(find(&u, "codebolt-b.service.d/50-codebolt-upgrade.conf"));
        ck_assert_ptr_null(find(&u, "codebolt-upgrade-b@.service"));
        ck_assert_ptr_null(find(&u, "codebolt-upgrade-watch-b@.timer"));
        ck_assert_uint_eq(u.n_files, 11);

        ck_assert_uint_eq(n_warnings(&u), 1);
        ck_assert_ptr_nonnull(
                strstr(u.warnings[0], "/etc/codebolt-upgrade/deployments/b.conf:3: Server.Nope: "));
        ck_assert_ptr_nonnull(strstr(u.warnings[0], "deployment b skipped"));
        ck_assert_ptr_nonnull(
                strstr(find(&u, "codebolt-rollback-c@.service")->content,
                       "\nAfter=codebolt-upgrade-c@%i.service\n"));
}
END_TEST

/* everything is layered on upgrade.conf: broken, nothing can be trusted, and one message says so */
START_TEST(test_build_shared_broken) {
        _cleanup_free_ char *dir = make_root("shared");
        _cleanup_(genunits_done) GenUnits u = {};

        put_templates(dir);
        put(dir, "/etc/codebolt-upgrade/upgrade.conf", "[Timeouts]\nDrain=soon\n");
        put(dir, "/etc/codebolt-upgrade/deployments/a.conf", "[Server]\nUnit=codebolt-a.service\n");
        ck_assert_int_eq(genunits_build(dir, &u), 0);
        ck_assert_uint_eq(u.n_files, 0);
        ck_assert_uint_eq(n_warnings(&u), 2);
        ck_assert_ptr_nonnull(
                strstr(u.warnings[0], "/etc/codebolt-upgrade/upgrade.conf:2: Timeouts.Drain: "));
        ck_assert_str_eq(u.warnings[1], "the shared configuration is broken: every deployment skipped");
}
END_TEST

START_TEST(test_build_missing_template) {
        _cleanup_free_ char *dir = make_root("notemplate");
        _cleanup_(genunits_done) GenUnits u = {};

        put(dir, "/etc/codebolt-upgrade/deployments/a.conf", "[Server]\nUnit=codebolt-a.service\n");
        ck_assert_int_eq(genunits_build(dir, &u), 0);
        /* the default deployment's drop-in does not need the templates */
        ck_assert_uint_eq(u.n_files, 1);
        ck_assert_uint_eq(n_warnings(&u), 1);
        ck_assert_ptr_nonnull(strstr(u.warnings[0], UNITDIR "/codebolt-upgrade@.service: cannot be read"));
        ck_assert_ptr_nonnull(strstr(u.warnings[0], "deployment a skipped"));
}
END_TEST

/* the default interval writes nothing for the default deployment; an extra deployment's timer always
 * carries its own interval, the inherited one too */
START_TEST(test_build_watch) {
        _cleanup_free_ char *dir = make_root("watch");
        _cleanup_(genunits_done) GenUnits plain = {}, u = {};
        const GenFile *f;

        put_templates(dir);
        put(dir, "/etc/codebolt-upgrade/deployments/a.conf", "[Server]\nUnit=codebolt-a.service\n");
        ck_assert_int_eq(genunits_build(dir, &plain), 0);
        ck_assert_ptr_null(plain.warnings);
        ck_assert_ptr_null(find(&plain, "codebolt-upgrade-watch@.timer.d/50-codebolt-upgrade.conf"));
        f = find(&plain, "codebolt-upgrade-watch-a@.timer");
        ck_assert_ptr_nonnull(f);
        ck_assert_ptr_nonnull(strstr(f->content, "\n[Timer]\nOnActiveSec=0\nOnUnitActiveSec=5min\n"));
        f = find(&plain, "codebolt-upgrade-watch-a@.service");
        ck_assert_ptr_nonnull(f);
        ck_assert_ptr_nonnull(strstr(f->content, "\n[Service]\nEnvironment=CODEBOLT_DEPLOYMENT=a\n"));
        ck_assert_uint_eq(plain.n_files, 6);

        put(dir, "/etc/codebolt-upgrade/upgrade.conf", "[Watch]\nInterval=10min\n");
        put(dir,
            "/etc/codebolt-upgrade/deployments/b.conf",
            "[Server]\nUnit=codebolt-b.service\n[Watch]\nInterval=1h\n");
        ck_assert_int_eq(genunits_build(dir, &u), 0);
        ck_assert_ptr_null(u.warnings);
        f = find(&u, "codebolt-upgrade-watch@.timer.d/50-codebolt-upgrade.conf");
        ck_assert_ptr_nonnull(f);
        /* a drop-in names its source in a comment: a SourcePath= would stand for the whole unit */
        ck_assert_ptr_nonnull(strstr(f->content, ", from /etc/codebolt-upgrade/upgrade.conf.\n"));
        ck_assert_ptr_null(strstr(f->content, "SourcePath="));
        ck_assert_ptr_nonnull(
                strstr(f->content, "\n[Timer]\nOnActiveSec=\nOnActiveSec=0\nOnUnitActiveSec=10min\n"));
        ck_assert_ptr_nonnull(
                strstr(find(&u, "codebolt-upgrade-watch-a@.timer")->content, "\nOnUnitActiveSec=10min\n"));
        ck_assert_ptr_nonnull(
                strstr(find(&u, "codebolt-upgrade-watch-b@.timer")->content, "\nOnUnitActiveSec=1h\n"));
        /* an extra deployment's own timer needs no drop-in */
        ck_assert_ptr_null(find(&u, "codebolt-upgrade-watch-a@.timer.d/50-codebolt-upgrade.conf"));
        ck_assert_uint_eq(u.n_files, 12);
}
END_TEST

/* an install older than the watch: the deployments keep their upgrades, without a watch */
START_TEST(test_build_missing_watch_template) {
        _cleanup_free_ char *dir = make_root("nowatch");
        _cleanup_(genunits_done) GenUnits u = {}, broken = {};

        put_old_templates(dir);
        put(dir, "/etc/codebolt-upgrade/deployments/a.conf", "[Server]\nUnit=codebolt-a.service\n");
        put(dir, "/etc/codebolt-upgrade/deployments/b.conf", "[Server]\nUnit=codebolt-b.service\n");
        ck_assert_int_eq(genunits_build(dir, &u), 0);
        ck_assert_ptr_nonnull(find(&u, "codebolt-upgrade-a@.service"));
        ck_assert_ptr_nonnull(find(&u, "codebolt-rollback-b@.service"));
        ck_assert_ptr_null(find(&u, "codebolt-upgrade-watch-a@.service"));
        ck_assert_ptr_null(find(&u, "codebolt-upgrade-watch-a@.timer"));
        ck_assert_uint_eq(u.n_files, 7);
        ck_assert_uint_eq(n_warnings(&u), 2);
        ck_assert_ptr_nonnull(strstr(
                u.warnings[0],
                UNITDIR "/codebolt-upgrade-watch@.service: cannot be read (No such file or directory); no "
                        "watch units for deployment a"));
        ck_assert_ptr_nonnull(strstr(u.warnings[1], "no watch units for deployment b"));

        /* the service without the timer is no use: neither is written */
        put(dir, UNITDIR "/codebolt-upgrade-watch@.service", "[Unit]\n[Service]\n");
        put(dir, UNITDIR "/codebolt-upgrade-watch@.timer", "[Unit]\nDescription=no [Timer]\n");
        ck_assert_int_eq(genunits_build(dir, &broken), 0);
        ck_assert_ptr_null(find(&broken, "codebolt-upgrade-watch-a@.service"));
        ck_assert_uint_eq(broken.n_files, 7);
        ck_assert_uint_eq(n_warnings(&broken), 3);
        ck_assert_ptr_nonnull(strstr(
                broken.warnings[0],
                UNITDIR "/codebolt-upgrade-watch@.timer: no OnUnitActiveSec= in [Timer]; [Watch] Interval= "
                        "of deployment default not applied"));
        ck_assert_ptr_nonnull(
                strstr(broken.warnings[1],
                       UNITDIR "/codebolt-upgrade-watch@.timer: no [Unit] or no [Timer] section with "
                               "OnUnitActiveSec=; no watch units for deployment a"));
}
END_TEST

START_TEST(test_build_auto) {
        _cleanup_free_ char *dir = make_root("auto"), *helper = NULL;
        _cleanup_(genunits_done) GenUnits u = {}, without = {};
        const GenFile *link;

        put(dir, "/etc/codebolt-upgrade/upgrade.conf", "[Auto]\nSchedule=daily\n");
        ck_assert_int_eq(genunits_build(dir, &without), 0);
        ck_assert_ptr_null(find(&without, "codebolt-upgrade-auto.timer"));
        ck_assert_uint_eq(n_warnings(&without), 1);
        ck_assert_ptr_nonnull(strstr(without.warnings[0], "auto is not installed"));

        put(dir, LIBEXECDIR "/auto", "#!/bin/sh\n");
        ck_assert_int_ge(asprintf(&helper, "%s" LIBEXECDIR "/auto", dir), 0);
        ck_assert_int_eq(chmod(helper, 0755), 0);
        ck_assert_int_eq(genunits_build(dir, &u), 0);
        ck_assert_ptr_null(u.warnings);
        ck_assert_ptr_nonnull(find(&u, "codebolt-upgrade-auto.service"));
        ck_assert_ptr_nonnull(find(&u, "codebolt-upgrade-auto.timer"));
        link = find(&u, "timers.target.wants/codebolt-upgrade-auto.timer");
        ck_assert_ptr_nonnull(link);
        ck_assert_ptr_null(link->content);
        ck_assert_str_eq(link->symlink, "../codebolt-upgrade-auto.timer");
}
END_TEST

/* a bad Schedule= costs its deployment the timer alone, with file:line and key */
START_TEST(test_build_auto_bad_schedule) {
        _cleanup_free_ char *dir = make_root("autobad"), *helper = NULL;
        _cleanup_(genunits_done) GenUnits u = {};

        put_templates(dir);
        put(dir, LIBEXECDIR "/auto", "#!/bin/sh\n");
        ck_assert_int_ge(asprintf(&helper, "%s" LIBEXECDIR "/auto", dir), 0);
        ck_assert_int_eq(chmod(helper, 0755), 0);
        put(dir, "/etc/codebolt-upgrade/upgrade.conf", "[Auto]\nSchedule=daily\n");
        put(dir,
            "/etc/codebolt-upgrade/deployments/night.conf",
            "[Server]\nUnit=codebolt-night.service\n\n[Auto]\nSchedule=Mon..Fri 03:00\\\n");
        put(dir,
            "/etc/codebolt-upgrade/deployments/late.conf",
            "[Server]\nUnit=codebolt-late.service\n[Auto]\nSchedule=Mon 24:00\n");
        ck_assert_int_eq(genunits_build(dir, &u), 0);

        ck_assert_ptr_nonnull(find(&u, "codebolt-upgrade-auto.timer"));
        ck_assert_ptr_nonnull(find(&u, "codebolt-upgrade-night@.service"));
        ck_assert_ptr_nonnull(find(&u, "codebolt-night.service.d/50-codebolt-upgrade.conf"));
        ck_assert_ptr_nonnull(find(&u, "codebolt-upgrade-watch-night@.timer"));
        ck_assert_ptr_null(find(&u, "codebolt-upgrade-auto-night.timer"));
        ck_assert_ptr_null(find(&u, "codebolt-upgrade-auto-night.service"));
        ck_assert_ptr_null(find(&u, "timers.target.wants/codebolt-upgrade-auto-night.timer"));
        ck_assert_ptr_nonnull(find(&u, "codebolt-upgrade-late@.service"));
        ck_assert_ptr_null(find(&u, "codebolt-upgrade-auto-late.timer"));

        ck_assert_uint_eq(n_warnings(&u), 2);
        /* deployments in strcmp() order: late, then night */
        ck_assert_ptr_nonnull(
                strstr(u.warnings[0],
                       "/etc/codebolt-upgrade/deployments/late.conf:4: Auto.Schedule: not a calendar"));
        ck_assert_ptr_nonnull(strstr(u.warnings[0], "hour"));
        ck_assert_ptr_nonnull(
                strstr(u.warnings[1], "/etc/codebolt-upgrade/deployments/night.conf:5: Auto.Schedule: "));
        ck_assert_ptr_nonnull(strstr(u.warnings[1], "'\\'"));
        ck_assert_ptr_nonnull(strstr(u.warnings[1], "no timer for deployment night"));
}
END_TEST

/* names from a directory listing reach the kernel log escaped: a newline cannot forge a line */
START_TEST(test_build_escapes_names) {
        _cleanup_free_ char *dir = make_root("escape");
        _cleanup_(genunits_done) GenUnits u = {}, dropin = {};

        put_templates(dir);
        put(dir,
            "/etc/codebolt-upgrade/deployments/evil\n<0>forged.conf",
            "[Server]\nUnit=codebolt-e.service\n");
        put(dir, "/etc/codebolt-upgrade/deployments/tab\there.conf", "");
        ck_assert_int_eq(genunits_build(dir, &u), 0);
        ck_assert_uint_eq(n_warnings(&u), 2);
        STRV_FOREACH (w, u.warnings)
                ck_assert_msg(!strpbrk(*w, "\n\t"), "raw control character in: %s", *w);
        ck_assert_ptr_nonnull(
                strstr(u.warnings[0], "/deployments/evil\\n<0>forged.conf: not a valid deployment"));
        ck_assert_ptr_nonnull(strstr(u.warnings[1], "/deployments/tab\\there.conf: not a valid deployment"));

        /* a broken drop-in's path in the message of the load that failed */
        put(dir, "/etc/codebolt-upgrade/upgrade.conf.d/x\x1b[2J.conf", "[Server]\nNope\x1b=1\n");
        ck_assert_int_eq(genunits_build(dir, &dropin), 0);
        ck_assert_uint_ge(n_warnings(&dropin), 1);
        ck_assert_msg(!strchr(dropin.warnings[0], '\x1b'), "raw escape in: %s", dropin.warnings[0]);
        ck_assert_ptr_nonnull(strstr(
                dropin.warnings[0], "/upgrade.conf.d/x\\x1b[2J.conf:2: Server.Nope\\x1b: unknown key"));
}
END_TEST

static Suite *genunits_suite(void) {
        Suite *s = suite_create("genunits");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_format_timespan);
        tcase_add_test(tc, test_format_timespan_round_trip);
        tcase_add_test(tc, test_server_dropin);
        tcase_add_test(tc, test_server_dropin_infinity);
        tcase_add_test(tc, test_derive_unit);
        tcase_add_test(tc, test_derive_unit_needs_sections);
        tcase_add_test(tc, test_derive_timer);
        tcase_add_test(tc, test_derive_timer_needs_sections);
        tcase_add_test(tc, test_watch_dropin);
        tcase_add_test(tc, test_watch_dropin_needs_interval);
        tcase_add_test(tc, test_unit_name);
        tcase_add_test(tc, test_auto_units);
        tcase_add_test(tc, test_build_none);
        tcase_add_test(tc, test_build_broken_beside_good);
        tcase_add_test(tc, test_build_shared_broken);
        tcase_add_test(tc, test_build_missing_template);
        tcase_add_test(tc, test_build_missing_watch_template);
        tcase_add_test(tc, test_build_watch);
        tcase_add_test(tc, test_build_auto);
        tcase_add_test(tc, test_auto_timer_bad_schedule);
        tcase_add_test(tc, test_build_auto_bad_schedule);
        tcase_add_test(tc, test_build_escapes_names);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return run_suite_in_root(genunits_suite(), "test-genunits");
}
