/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-maystart.c: maystart module: whether the server may start (an upgrade in flight, the pin) */
#define _GNU_SOURCE
#include <check.h>
#include <syslog.h>

#include "test-root.h"
#include "json-util.h"
#include "macro.h"
#include "maystart.h"
#include "paths.h"
#include "state.h"

/* current.json as the phases write it */
static Current current_of(const char *extra) {
        _cleanup_free_ char *s = NULL;
        _cleanup_json_ cJSON *j = NULL;
        Current c = {};

        ck_assert_int_ge(
                asprintf(
                        &s,
                        "{\"from\":\"1.4.0\",\"to\":\"1.5.0\",\"phase\":\"migrate\",\"instance\":"
                        "\"1.5.0\"%s%s}",
                        extra ? "," : "",
                        strempty(extra)),
                0);
        j = cJSON_Parse(s);
        ck_assert_ptr_nonnull(j);
        ck_assert_int_eq(current_from_json(j, &c, NULL), 0);
        return c;
}

static MayStartInput input(
        const Current *current,
        const char *starter,
        const char *pin,
        const char *installed,
        const char *linked,
        EnforcePin e) {
        return (MayStartInput){
                .current = current,
                .starter = starter,
                .pin = pin,
                .installed = installed,
                .linked = linked,
                .enforce_pin = e,
                .package = "@codebolt/server",
                .deployment = "default",
                .server_unit = "codebolt.service",
        };
}

/* the first note at priority or more severe, or NULL */
static const char *note_at(const MayStart *m, int priority) {
        for (size_t i = 0; i < m->n_notes; i++)
                if (m->notes[i].priority <= priority)
                        return m->notes[i].text;
        return NULL;
}

START_TEST(test_no_upgrade_pin_matches) {
        _cleanup_(maystart_done) MayStart m = {};
        MayStartInput in = input(NULL, NULL, "1.4.0", "1.4.0", "1.4.0", ENFORCE_PIN_YES);

        ck_assert_int_eq(maystart_decide(&in, &m), 0);
        ck_assert(m.start);
        ck_assert_ptr_null(note_at(&m, LOG_NOTICE));
}
END_TEST

START_TEST(test_no_pin) {
        _cleanup_(maystart_done) MayStart m = {};
        MayStartInput in = input(NULL, NULL, NULL, "1.5.0", "1.4.0", ENFORCE_PIN_YES);

        ck_assert_int_eq(maystart_decide(&in, &m), 0);
        ck_assert(m.start);
        /* said at debug level only; the package/link mismatch is not looked at without a pin */
        ck_assert_ptr_null(note_at(&m, LOG_INFO));
        ck_assert_ptr_nonnull(strstr(note_at(&m, LOG_DEBUG), "no pin"));
}
END_TEST

START_TEST(test_in_flight_refused) {
        _cleanup_(current_done) Current current = current_of(NULL);
        static const char *const others[] = { NULL, "systemctl", "bash", "codebolt-server", "rollbac" };

        for (size_t i = 0; i < ELEMENTSOF(others); i++) {
                _cleanup_(maystart_done) MayStart m = {};
                MayStartInput in = input(&current, others[i], "1.5.0", "1.5.0", "1.5.0", ENFORCE_PIN_NO);
                const char *e;

                ck_assert_int_eq(maystart_decide(&in, &m), 0);
                ck_assert(!m.start);
                e = note_at(&m, LOG_ERR);
                ck_assert_ptr_nonnull(e);
                ck_assert_ptr_nonnull(strstr(e, "1.4.0 → 1.5.0"));
                ck_assert_ptr_nonnull(strstr(e, "phase migrate"));
                ck_assert_ptr_nonnull(strstr(e, "codebolt-upgrade status"));
        }
}
END_TEST

START_TEST(test_helpers_start_skips_pin) {
        _cleanup_(current_done) Current current = current_of(NULL);
        static const char *const helpers[] = { "migrate-watch", "rollback" };

        for (size_t i = 0; i < ELEMENTSOF(helpers); i++) {
                _cleanup_(maystart_done) MayStart m = {};
                /* mid-rollback the pin may still say 1.5.0 while the link is back on 1.4.0 */
                MayStartInput in = input(&current, helpers[i], "1.5.0", "1.4.0", "1.4.0", ENFORCE_PIN_YES);

                ck_assert_int_eq(maystart_decide(&in, &m), 0);
                ck_assert(m.start);
                ck_assert_ptr_null(note_at(&m, LOG_WARNING));
        }
}
END_TEST

START_TEST(test_held_warns) {
        _cleanup_(current_done) Current current = current_of("\"held\":true");
        _cleanup_(maystart_done) MayStart m = {};
        MayStartInput in = input(&current, NULL, "1.4.0", "1.4.0", "1.4.0", ENFORCE_PIN_YES);
        const char *w;

        ck_assert_int_eq(maystart_decide(&in, &m), 0);
        ck_assert(m.start);
        w = note_at(&m, LOG_WARNING);
        ck_assert_ptr_nonnull(w);
        ck_assert_ptr_nonnull(strstr(w, "held"));
        ck_assert_ptr_nonnull(strstr(w, "1.4.0 → 1.5.0"));
        ck_assert_ptr_null(note_at(&m, LOG_ERR));
}
END_TEST

START_TEST(test_held_still_checks_pin) {
        _cleanup_(current_done) Current current = current_of("\"held\":true");
        _cleanup_(maystart_done) MayStart m = {};
        MayStartInput in = input(&current, NULL, "1.4.0", "1.5.0", "1.5.0", ENFORCE_PIN_YES);

        ck_assert_int_eq(maystart_decide(&in, &m), 0);
        ck_assert(!m.start);
        ck_assert_ptr_nonnull(note_at(&m, LOG_ERR));
}
END_TEST

START_TEST(test_recovered_starts) {
        _cleanup_(current_done) Current current =
                current_of("\"recovered\":\"rolled-back\",\"phase\":\"recover\"");
        _cleanup_(maystart_done) MayStart m = {};
        MayStartInput in = input(&current, NULL, "1.4.0", "1.4.0", "1.4.0", ENFORCE_PIN_YES);

        ck_assert_int_eq(maystart_decide(&in, &m), 0);
        ck_assert(m.start);
        ck_assert_ptr_null(note_at(&m, LOG_WARNING));
}
END_TEST

/* npm install -g --prefix releases/1.4.0 @codebolt/server@1.5.0 by hand */
START_TEST(test_pin_mismatch_by_policy) {
        static const struct {
                EnforcePin e;
                bool start;
                int priority; /* of the note naming both versions; -1: none */
        } cases[] = {
                { ENFORCE_PIN_YES, false, LOG_ERR },
                { ENFORCE_PIN_WARN, true, LOG_WARNING },
                { ENFORCE_PIN_NO, true, -1 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(maystart_done) MayStart m = {};
                MayStartInput in = input(NULL, NULL, "1.4.0", "1.5.0", "1.4.0", cases[i].e);
                bool named = false;

                ck_assert_int_eq(maystart_decide(&in, &m), 0);
                ck_assert_int_eq(m.start, cases[i].start);
                for (size_t k = 0; k < m.n_notes; k++)
                        if (m.notes[k].priority == cases[i].priority &&
                            strstr(m.notes[k].text, "pinned to 1.4.0") &&
                            strstr(m.notes[k].text, "installed version is 1.5.0") &&
                            strstr(m.notes[k].text, "codebolt-upgrade pin 1.5.0") &&
                            strstr(m.notes[k].text, "@codebolt/server@1.4.0"))
                                named = true;
                ck_assert_int_eq(named, cases[i].priority >= 0);
                if (cases[i].e == ENFORCE_PIN_NO)
                        ck_assert_ptr_null(note_at(&m, LOG_WARNING));
        }
}
END_TEST

/* the link moved to another release by hand: the package there is that release's */
START_TEST(test_link_moved) {
        _cleanup_(maystart_done) MayStart m = {};
        MayStartInput in = input(NULL, NULL, "1.4.0", "1.5.0", "1.5.0", ENFORCE_PIN_YES);

        ck_assert_int_eq(maystart_decide(&in, &m), 0);
        ck_assert(!m.start);
        ck_assert_ptr_nonnull(strstr(note_at(&m, LOG_ERR), "releases/1.5.0"));
}
END_TEST

/* after `codebolt-upgrade pin 1.5.0` the start goes ahead; the odd layout is a warning */
START_TEST(test_pinned_to_hand_install) {
        _cleanup_(maystart_done) MayStart m = {};
        MayStartInput in = input(NULL, NULL, "1.5.0", "1.5.0", "1.4.0", ENFORCE_PIN_YES);

        ck_assert_int_eq(maystart_decide(&in, &m), 0);
        ck_assert(m.start);
        ck_assert_ptr_null(note_at(&m, LOG_ERR));
        ck_assert_ptr_nonnull(strstr(note_at(&m, LOG_WARNING), "releases/1.4.0"));
}
END_TEST

START_TEST(test_installed_unknown) {
        _cleanup_(maystart_done) MayStart m = {}, m2 = {};
        /* no package.json: the link's release name is what is checked */
        MayStartInput in = input(NULL, NULL, "1.4.0", NULL, "1.4.0", ENFORCE_PIN_YES);
        MayStartInput in2 = input(NULL, NULL, "1.4.0", NULL, NULL, ENFORCE_PIN_YES);

        ck_assert_int_eq(maystart_decide(&in, &m), 0);
        ck_assert(m.start);
        ck_assert_int_eq(maystart_decide(&in2, &m2), 0);
        ck_assert(!m2.start);
        ck_assert_ptr_nonnull(strstr(note_at(&m2, LOG_ERR), "unknown"));
}
END_TEST

START_TEST(test_named_deployment) {
        _cleanup_(current_done) Current current = current_of(NULL);
        _cleanup_(maystart_done) MayStart m = {};
        MayStartInput in = input(&current, NULL, NULL, NULL, NULL, ENFORCE_PIN_YES);

        in.deployment = "staging";
        ck_assert_int_eq(maystart_decide(&in, &m), 0);
        ck_assert(!m.start);
        ck_assert_ptr_nonnull(strstr(note_at(&m, LOG_ERR), "codebolt-upgrade --deployment staging status"));
}
END_TEST

/* a second deployment's refusal names its own install root, not /opt/codebolt */
START_TEST(test_named_install_root) {
        _cleanup_(maystart_done) MayStart m = {};
        MayStartInput in = input(NULL, NULL, "1.4.0", "1.5.0", "1.4.0", ENFORCE_PIN_YES);
        const char *text;

        in.deployment = "beta";
        in.install_root = "/opt/codebolt-beta";
        ck_assert_int_eq(maystart_decide(&in, &m), 0);
        ck_assert(!m.start);
        text = note_at(&m, LOG_ERR);
        ck_assert_ptr_nonnull(text);
        ck_assert_ptr_nonnull(strstr(text, "npm install -g --prefix /opt/codebolt-beta/releases/1.4.0 "));
        ck_assert_ptr_nonnull(strstr(text, "codebolt-upgrade --deployment beta pin 1.5.0"));
        ck_assert_ptr_null(strstr(text, "/opt/codebolt/"));
}
END_TEST

static void write_starting(const char *deployment, const char *content) {
        _cleanup_free_ char *path = paths_starting_file(deployment),
                            *dir = paths_rooted("/run/codebolt-upgrade");

        ck_assert_int_eq(paths_mkdir_p(dir, 0755), 0);
        ck_assert_int_eq(state_write_string_atomic(path, content, 0644), 0);
}

START_TEST(test_read_starter) {
        _cleanup_free_ char *self = NULL, *comm = NULL, *dead = NULL, *none = NULL, *junk = NULL;
        char *s;

        ck_assert_int_eq(maystart_read_starter("starter-none", &none), 0);
        ck_assert_ptr_null(none);

        ck_assert_int_ge(asprintf(&self, "%d\n", (int)getpid()), 0);
        write_starting("starter-self", self);
        ck_assert_int_eq(maystart_read_starter("starter-self", &comm), 0);
        ck_assert_ptr_nonnull(comm);
        ck_assert_int_eq(state_read_string("/proc/self/comm", &s), 0);
        ck_assert_str_eq(comm, s);
        free(s);
        ck_assert(!maystart_starter_is_helper(comm));

        /* pid_max is at most 2^22: this one is never alive */
        write_starting("starter-dead", "2147483646\n");
        ck_assert_int_eq(maystart_read_starter("starter-dead", &dead), 0);
        ck_assert_ptr_null(dead);

        write_starting("starter-junk", "12ab\n");
        ck_assert_int_eq(maystart_read_starter("starter-junk", &junk), 0);
        ck_assert_ptr_null(junk);
}
END_TEST

static Suite *maystart_suite(void) {
        Suite *s = suite_create("maystart");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_no_upgrade_pin_matches);
        tcase_add_test(tc, test_no_pin);
        tcase_add_test(tc, test_in_flight_refused);
        tcase_add_test(tc, test_helpers_start_skips_pin);
        tcase_add_test(tc, test_held_warns);
        tcase_add_test(tc, test_held_still_checks_pin);
        tcase_add_test(tc, test_recovered_starts);
        tcase_add_test(tc, test_pin_mismatch_by_policy);
        tcase_add_test(tc, test_link_moved);
        tcase_add_test(tc, test_pinned_to_hand_install);
        tcase_add_test(tc, test_installed_unknown);
        tcase_add_test(tc, test_named_deployment);
        tcase_add_test(tc, test_named_install_root);
        tcase_add_test(tc, test_read_starter);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return run_suite_in_root(maystart_suite(), "test-maystart");
}
