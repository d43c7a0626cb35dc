/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-current.c: current module: current.json, the upgrade in flight */
#define _GNU_SOURCE
#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <sys/stat.h>
#include <time.h>

#include "test-root.h"
#include "current.h"
#include "json-util.h"
#include "paths.h"
#include "state.h"
#include "strv.h"

static cJSON *sample_json(const char *to) {
        cJSON *j = cJSON_CreateObject();

        ck_assert_ptr_nonnull(j);
        cJSON_AddStringToObject(j, "id", "0f1e2d3c4b5a69788796a5b4c3d2e1f0");
        cJSON_AddStringToObject(j, "unit", "codebolt-upgrade@1.5.0.service");
        cJSON_AddStringToObject(j, "from", "1.4.2");
        cJSON_AddStringToObject(j, "to", to);
        cJSON_AddStringToObject(j, "phase", "preflight");
        cJSON_AddBoolToObject(j, "server_stopped", false);
        return j;
}

/* the Current that sample_json(to) reads as */
static void sample(const char *to, Current *ret) {
        _cleanup_json_ cJSON *j = sample_json(to);

        ck_assert_int_eq(current_from_json(j, ret, NULL), 0);
}

/* how many members of o are named key (a replaced key must not be there twice) */
static int count_key(const cJSON *o, const char *key) {
        const cJSON *m;
        int n = 0;

        cJSON_ArrayForEach (m, o)
                if (m->string && streq(m->string, key))
                        n++;
        return n;
}

static bool is_timestamp(const char *s) {
        regex_t re;
        bool match;

        ck_assert_int_eq(
                regcomp(&re,
                        "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
                        REG_EXTENDED | REG_NOSUB),
                0);
        match = s && regexec(&re, s, 0, NULL, 0) == 0;
        regfree(&re);
        return match;
}

START_TEST(test_create_exclusive) {
        _cleanup_json_ cJSON *first_json = sample_json("1.5.0"), *document = NULL;
        _cleanup_(current_done) Current first = {}, second = {}, back = {};

        sample("1.5.0", &first);
        sample("1.6.0", &second);
        ck_assert_int_eq(current_create("create", &first), 0);
        ck_assert_int_eq(current_create("create", &second), -EEXIST);

        /* the one in flight is untouched */
        ck_assert_int_eq(current_read_document("create", &document), 0);
        ck_assert(cJSON_Compare(first_json, document, true));
        ck_assert_int_eq(current_load("create", &back, NULL), 0);
        ck_assert_str_eq(back.to, "1.5.0");

        /* another deployment has its own */
        ck_assert_int_eq(current_create("create-other", &second), 0);
}
END_TEST

START_TEST(test_load_none) {
        _cleanup_(current_done) Current c = {};
        _cleanup_free_ char *error = NULL;
        cJSON *j = (cJSON *)0x1;

        ck_assert_int_eq(current_load("none", &c, &error), -ENOENT);
        ck_assert_ptr_null(c.to); /* untouched on failure */
        ck_assert_ptr_null(error);
        ck_assert_int_eq(current_read_document("none", &j), -ENOENT);
        ck_assert_ptr_eq(j, (cJSON *)0x1);
}
END_TEST

START_TEST(test_save) {
        _cleanup_json_ cJSON *j = sample_json("1.5.0"), *mine = NULL, *again = NULL;
        _cleanup_(current_done) Current c = {}, back = {};

        sample("1.5.0", &c);
        ck_assert_int_eq(current_create("save", &c), 0);
        ck_assert_int_eq(current_load("save", &back, NULL), 0);
        ck_assert_ptr_null(back.updated);

        ck_assert_int_eq(current_set_phase(&back, "stage"), 0);
        back.updated = strdup("1999-01-01T00:00:00Z");
        ck_assert_ptr_nonnull(back.updated);
        ck_assert_int_eq(current_save("save", &back), 0);

        /* the caller's Current carries the new time too */
        ck_assert(is_timestamp(back.updated));
        ck_assert_str_ne(back.updated, "1999-01-01T00:00:00Z");

        ck_assert_int_eq(current_read_document("save", &again), 0);
        ck_assert_int_eq(count_key(again, "updated"), 1);
        ck_assert_int_eq(current_to_json(&back, &mine), 0);
        ck_assert(cJSON_Compare(mine, again, true));
        ck_assert_str_eq(json_get_string(again, "updated"), back.updated);
        ck_assert_str_eq(json_get_string(again, "phase"), "stage");
        ck_assert_str_eq(json_get_string(again, "from"), "1.4.2");
        ck_assert_str_eq(json_get_string(again, "to"), "1.5.0");
        ck_assert_str_eq(json_get_string(again, "unit"), "codebolt-upgrade@1.5.0.service");
        ck_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(again, "server_stopped")));
        ck_assert_int_eq(cJSON_GetArraySize(again), cJSON_GetArraySize(j) + 1);
}
END_TEST

START_TEST(test_remove) {
        _cleanup_(current_done) Current c = {}, back = {};

        sample("1.5.0", &c);
        ck_assert_int_eq(current_create("remove", &c), 0);
        ck_assert_int_eq(current_remove("remove"), 0);
        ck_assert_int_eq(current_load("remove", &back, NULL), -ENOENT);
        ck_assert_int_eq(current_remove("remove"), -ENOENT);

        /* gone: the next upgrade may start */
        ck_assert_int_eq(current_create("remove", &c), 0);
}
END_TEST

START_TEST(test_modes) {
        _cleanup_(current_done) Current c = {};
        _cleanup_free_ char *dir = paths_state_dir("modes"),
                            *file = paths_state_file("modes", "current.json");
        struct stat st;

        sample("1.5.0", &c);
        /* not left to the umask */
        umask(0);
        ck_assert_int_eq(current_create("modes", &c), 0);
        ck_assert_int_eq(stat(dir, &st), 0);
        ck_assert(S_ISDIR(st.st_mode));
        ck_assert_int_eq(st.st_mode & 07777, 0700);
        ck_assert_int_eq(stat(file, &st), 0);
        ck_assert(S_ISREG(st.st_mode));
        ck_assert_int_eq(st.st_mode & 07777, 0600);

        ck_assert_int_eq(current_save("modes", &c), 0);
        ck_assert_int_eq(stat(file, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0600);
}
END_TEST

START_TEST(test_set_aside) {
        _cleanup_json_ cJSON *j = sample_json("1.5.0"), *aside = NULL;
        _cleanup_(current_done) Current c = {}, back = {};
        _cleanup_free_ char *path = paths_state_file("aside", "current.json.held");

        sample("1.5.0", &c);
        ck_assert_int_eq(current_set_aside("aside", "current.json.held"), -ENOENT);
        ck_assert_int_eq(current_create("aside", &c), 0);
        ck_assert_int_eq(current_set_aside("aside", "current.json.held"), 0);

        /* none in flight any more, the file kept as it was under the new name */
        ck_assert_int_eq(current_load("aside", &back, NULL), -ENOENT);
        ck_assert_int_eq(state_read_json(path, &aside), 0);
        ck_assert(cJSON_Compare(j, aside, true));
        ck_assert_int_eq(current_create("aside", &c), 0);
}
END_TEST

START_TEST(test_phase_done_survives_save) {
        _cleanup_(current_done) Current c = {}, back = {};

        sample("1.5.0", &c);
        ck_assert_int_eq(current_create("phases", &c), 0);
        ck_assert_int_eq(current_phase_done(&c, "preflight"), 0);
        ck_assert_int_eq(current_phase_done(&c, "stage"), 0);
        ck_assert_int_eq(current_save("phases", &c), 0);

        ck_assert_int_eq(current_load("phases", &back, NULL), 0);
        ck_assert(current_phase_is_done(&back, "preflight"));
        ck_assert(current_phase_is_done(&back, "stage"));
        ck_assert(!current_phase_is_done(&back, "backup"));
}
END_TEST

START_TEST(test_phase_seconds) {
        _cleanup_(current_done) Current c = {}, back = {};

        sample("1.5.0", &c);
        ck_assert_int_eq(current_create("seconds", &c), 0);
        ck_assert_int_eq(current_set_phase_seconds(&c, "stage", 1.5), 0);
        ck_assert_int_eq(current_set_phase_seconds(&c, "backup", 2), 0);
        /* a phase run again keeps its last time */
        ck_assert_int_eq(current_set_phase_seconds(&c, "stage", 3.25), 0);
        ck_assert_int_eq(current_save("seconds", &c), 0);

        ck_assert_int_eq(current_load("seconds", &back, NULL), 0);
        ck_assert_int_eq(cJSON_GetArraySize(back.phase_seconds), 2);
        ck_assert_double_eq(
                cJSON_GetObjectItemCaseSensitive(back.phase_seconds, "stage")->valuedouble, 3.25);
        ck_assert_double_eq(cJSON_GetObjectItemCaseSensitive(back.phase_seconds, "backup")->valuedouble, 2);
}
END_TEST

START_TEST(test_timestamp) {
        _cleanup_free_ char *s = current_timestamp();
        struct tm tm = {};
        time_t now = time(NULL), t;
        const char *end;

        ck_assert(is_timestamp(s));
        ck_assert(!is_timestamp("2026-11-26 10:57:13Z"));
        ck_assert(!is_timestamp("2026-11-26T10:57:13+00:00"));

        /* and it is now, in UTC */
        end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
        ck_assert_ptr_nonnull(end);
        ck_assert_int_eq(*end, 0);
        t = timegm(&tm);
        ck_assert_int_le(t, time(NULL));
        ck_assert_int_ge(t, now - 1);
}
END_TEST

static cJSON *fixture(const char *name) {
        _cleanup_free_ char *path = NULL;
        cJSON *j = NULL;

        ck_assert_int_ge(asprintf(&path, "%s/current/%s", FIXTURES, name), 0);
        ck_assert_int_eq(state_read_json(path, &j), 0);
        return j;
}

static void assert_round_trip(const cJSON *j) {
        _cleanup_(current_done) Current c = {};
        _cleanup_json_ cJSON *back = NULL;
        _cleanup_free_ char *error = NULL;

        ck_assert_int_eq(current_from_json(j, &c, &error), 0);
        ck_assert_ptr_null(error);
        ck_assert_int_eq(current_to_json(&c, &back), 0);
        ck_assert(cJSON_Compare(j, back, true));
        ck_assert_int_eq(cJSON_GetArraySize(back), cJSON_GetArraySize(j));
}

START_TEST(test_full) {
        _cleanup_json_ cJSON *j = fixture("full.json"), *back = NULL;
        _cleanup_(current_done) Current c = {};

        /* the fixture has every key, and one more */
        ck_assert_int_eq(cJSON_GetArraySize(j), _CURRENT_KEY_MAX + 1);
        assert_round_trip(j);

        ck_assert_int_eq(current_from_json(j, &c, NULL), 0);
        ck_assert_str_eq(c.id, "0f1e2d3c4b5a69788796a5b4c3d2e1f0");
        ck_assert_str_eq(c.instance, "1.5.0\\x2drc.1");
        ck_assert_str_eq(c.to, "1.5.0-rc.1");
        ck_assert_ptr_nonnull(c.phases);
        ck_assert_str_eq(c.phases[5], "switch");
        ck_assert_ptr_null(c.phases[6]);
        ck_assert(c.server_stopped && c.switched && !c.staged_release_existed && c.held && c.late);
        ck_assert_int_eq(c.inhibitor_pid, 4242);
        ck_assert_int_eq(c.rollback_attempts, 2);
        ck_assert_int_eq(c.recover_attempts, 3);
        ck_assert(c.discarded_rows == 17);
        ck_assert_str_eq(c.cluster_roll, "r-20261206-1400-a1b2");
        ck_assert(c.cluster_slot && !c.cluster_migrator && c.cluster_coordinated);
        ck_assert_str_eq(c.cluster_refused, "the roll is paused, not rolling");
        ck_assert_str_eq(c.delta_slot, "cbu_codebolt_0f1e2d3c4b5a");
        ck_assert_str_eq(
                c.delta_file, "/backups/codebolt/20261206T140000Z-1.4.0-to-1.5.0-rc.1/database.delta");
        ck_assert_double_eq(cJSON_GetObjectItemCaseSensitive(c.phase_seconds, "stage")->valuedouble, 12.25);
        /* null and absent read the same: NULL */
        ck_assert_ptr_null(c.snapshot);
        ck_assert_ptr_null(c.held_instructions);
        ck_assert(c.present & CURRENT_KEY_BIT(CURRENT_SNAPSHOT));
        ck_assert(cJSON_IsObject(c.tree));
        ck_assert_str_eq(json_get_string(c.baseline, "memory_source"), "MemoryPeak");

        ck_assert_int_eq(c.n_migrations, 3);
        ck_assert_str_eq(c.migrations[0].id, "20261101-runs");
        ck_assert(c.migrations[0].breaking && c.migrations[0].has_breaking);
        ck_assert_str_eq(c.migrations[0].drops[0], "runs.legacy_status");
        ck_assert_ptr_nonnull(c.migrations[1].drops);
        ck_assert_ptr_null(c.migrations[1].drops[0]);
        ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(c.migrations[1].extra, "took_ms"));
        ck_assert(!c.migrations[2].has_breaking);
        ck_assert_ptr_null(c.migrations[2].drops);

        /* the unknown key survives, and only it is extra */
        ck_assert_int_eq(cJSON_GetArraySize(c.extra), 1);
        ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(c.extra, "future_key"));

        /* what a save adds to what it read: nothing */
        ck_assert_int_eq(current_to_json(&c, &back), 0);
        ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(back, "snapshot")));
        ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(back, "held_instructions")));
        ck_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(back, "staged_release_existed")));
        ck_assert(!cJSON_HasObjectItem(
                cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(back, "migrations"), 2), "breaking"));
}
END_TEST

START_TEST(test_preflight) {
        _cleanup_json_ cJSON *j = fixture("preflight.json"), *back = NULL;
        _cleanup_(current_done) Current c = {};

        assert_round_trip(j);

        /* the zero values preflight writes stay written, the keys it does not write stay absent */
        ck_assert_int_eq(current_from_json(j, &c, NULL), 0);
        ck_assert_int_eq(current_to_json(&c, &back), 0);
        ck_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(back, "server_stopped")));
        ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(back, "phases")), 0);
        ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(back, "migrations")), 0);
        ck_assert(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(back, "attempts")));
        ck_assert(!cJSON_HasObjectItem(back, "snapshot"));
        ck_assert(!cJSON_HasObjectItem(back, "staged_release_existed"));
        ck_assert(!cJSON_HasObjectItem(back, "inhibitor_pid"));
        ck_assert(!cJSON_HasObjectItem(back, "discarded_rows"));
        ck_assert_ptr_null(c.extra);
}
END_TEST

/* a struct filled in by a program writes what it set, and nothing else */
/* what a ledger entry carries: the chosen keys as they are, an absent one absent, no extra */
START_TEST(test_keys) {
        _cleanup_json_ cJSON *full = fixture("full.json"), *pre = fixture("preflight.json"), *e = NULL,
                             *f = NULL;
        _cleanup_(current_done) Current c = {}, p = {};
        const uint64_t carried = CURRENT_KEY_BIT(CURRENT_ID) | CURRENT_KEY_BIT(CURRENT_SNAPSHOT) |
                                 CURRENT_KEY_BIT(CURRENT_MIGRATIONS) | CURRENT_KEY_BIT(CURRENT_TREE) |
                                 CURRENT_KEY_BIT(CURRENT_DISCARDED_ROWS);

        ck_assert_int_eq(current_from_json(full, &c, NULL), 0);
        ck_assert_int_eq(current_to_json_keys(&c, carried, &e), 0);
        ck_assert_int_eq(cJSON_GetArraySize(e), 5);
        ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(e, "snapshot")));
        ck_assert(cJSON_Compare(
                cJSON_GetObjectItemCaseSensitive(e, "migrations"),
                cJSON_GetObjectItemCaseSensitive(full, "migrations"),
                true));
        ck_assert(!cJSON_HasObjectItem(e, "future_key"));

        ck_assert_int_eq(current_from_json(pre, &p, NULL), 0);
        ck_assert_int_eq(current_to_json_keys(&p, carried, &f), 0);
        ck_assert_int_eq(cJSON_GetArraySize(f), 2); /* id and migrations: [] */
        ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(f, "migrations")), 0);
}
END_TEST

START_TEST(test_absent) {
        _cleanup_(current_done) Current c = {};
        _cleanup_json_ cJSON *j = NULL, *empty = NULL;

        ck_assert_int_eq(current_to_json(&c, &empty), 0);
        ck_assert_int_eq(cJSON_GetArraySize(empty), 0);

        c.to = strdup("1.5.0");
        c.switched = true;
        c.discarded_rows = NAN; /* not counted: null */
        c.present |= CURRENT_KEY_BIT(CURRENT_SNAPSHOT) | CURRENT_KEY_BIT(CURRENT_ROLLBACK_ATTEMPTS);
        ck_assert_int_eq(current_to_json(&c, &j), 0);
        ck_assert_int_eq(cJSON_GetArraySize(j), 5);
        ck_assert_str_eq(json_get_string(j, "to"), "1.5.0");
        ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "switched")));
        ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "discarded_rows")));
        ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "snapshot")));
        ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(j, "rollback_attempts")->valueint, 0);
}
END_TEST

START_TEST(test_wrong_types) {
        static const struct {
                const char *json, *error;
                int r;
        } cases[] = {
                { "[]", "not a JSON object", -EBADMSG },
                { "{\"to\":1}", "\"to\" is not a string", -EBADMSG },
                { "{\"server_stopped\":\"yes\"}", "\"server_stopped\" is not true or false", -EBADMSG },
                { "{\"held\":null}", "\"held\" is not true or false", -EBADMSG },
                { "{\"phases\":\"stage\"}", "\"phases\" is not a list", -EBADMSG },
                { "{\"phases\":[\"stage\",2]}", "\"phases\" holds an item that is not a string", -EBADMSG },
                { "{\"attempts\":\"1\"}", "\"attempts\" is not a number", -EBADMSG },
                { "{\"inhibitor_pid\":-1}", "\"inhibitor_pid\" is not a process id", -ERANGE },
                { "{\"inhibitor_pid\":12.5}", "\"inhibitor_pid\" is not a process id", -EBADMSG },
                { "{\"discarded_rows\":\"many\"}", "\"discarded_rows\" is not a number or null", -EBADMSG },
                { "{\"tree\":[]}", "\"tree\" is not an object", -EBADMSG },
                { "{\"migrations\":{}}", "\"migrations\" is not a list", -EBADMSG },
                { "{\"migrations\":[1]}", "\"migrations\" holds an item that is not an object", -EBADMSG },
                { "{\"migrations\":[{\"id\":3}]}", "\"migrations\": \"id\" is not a string", -EBADMSG },
                { "{\"migrations\":[{\"breaking\":\"no\"}]}",
                  "\"migrations\": \"breaking\" is not true or false",
                  -EBADMSG },
                { "{\"migrations\":[{\"drops\":[true]}]}",
                  "\"drops\" holds an item that is not a string",
                  -EBADMSG },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_json_ cJSON *j = cJSON_Parse(cases[i].json);
                _cleanup_free_ char *error = NULL;
                Current c = { .id = (char *)"untouched" };

                ck_assert_ptr_nonnull(j);
                ck_assert_int_eq(current_from_json(j, &c, &error), cases[i].r);
                ck_assert_str_eq(error, cases[i].error);
                ck_assert_str_eq(c.id, "untouched"); /* written only on success */
                ck_assert_int_eq(current_from_json(j, &c, NULL), cases[i].r);
        }
}
END_TEST

/* counts are read as the rollback read them: not a whole count in range is exhausted, never none */
START_TEST(test_counts) {
        static const struct {
                const char *json;
                int attempts;
        } cases[] = {
                { "{\"rollback_attempts\":0}", 0 },
                { "{\"rollback_attempts\":4}", 4 },
                { "{\"rollback_attempts\":-1}", INT_MAX - 1 },
                { "{\"rollback_attempts\":1.5}", INT_MAX - 1 },
                { "{\"rollback_attempts\":1e300}", INT_MAX - 1 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_json_ cJSON *j = cJSON_Parse(cases[i].json);
                _cleanup_(current_done) Current c = {};

                ck_assert_int_eq(current_from_json(j, &c, NULL), 0);
                ck_assert_int_eq(c.rollback_attempts, cases[i].attempts);
        }
}
END_TEST

/* a repeated key: the first, as json_get_string() finds it */
START_TEST(test_repeated_key) {
        _cleanup_json_ cJSON *j = cJSON_Parse("{\"to\":\"1.5.0\",\"to\":2}");
        _cleanup_(current_done) Current c = {};

        ck_assert_int_eq(current_from_json(j, &c, NULL), 0);
        ck_assert_str_eq(c.to, "1.5.0");
}
END_TEST

/* who else uses the database meanwhile: every host of a cluster roll but a coordinated roll's migrator */
START_TEST(test_database_shared) {
        Current c = {};

        ck_assert(!current_database_shared(&c));
        c.cluster_roll = (char *)"r1";
        ck_assert(current_database_shared(&c));
        c.cluster_migrator = true;
        ck_assert(current_database_shared(&c)); /* a rolling roll's migrator: the others serve */
        c.cluster_coordinated = true;
        ck_assert(!current_database_shared(&c));
        c.cluster_migrator = false;
        ck_assert(current_database_shared(&c));
}
END_TEST

START_TEST(test_phases) {
        _cleanup_(current_done) Current c = {};
        _cleanup_json_ cJSON *j = NULL;
        const cJSON *phases;

        ck_assert(!current_phase_is_done(&c, "preflight"));
        ck_assert_int_eq(current_set_phase(&c, "preflight"), 0);
        ck_assert_int_eq(current_phase_done(&c, "preflight"), 0);
        ck_assert_int_eq(current_phase_done(&c, "stage"), 0);
        ck_assert_int_eq(current_phase_done(&c, "preflight"), 0); /* once only */
        ck_assert_int_eq(current_set_phase(&c, "backup"), 0);

        ck_assert(current_phase_is_done(&c, "preflight"));
        ck_assert(current_phase_is_done(&c, "stage"));
        ck_assert(!current_phase_is_done(&c, "backup"));
        ck_assert(!current_phase_is_done(&c, "Stage"));
        ck_assert_str_eq(c.phase, "backup");

        ck_assert_int_eq(current_to_json(&c, &j), 0);
        phases = cJSON_GetObjectItemCaseSensitive(j, "phases");
        ck_assert_int_eq(cJSON_GetArraySize(phases), 2);
        ck_assert_str_eq(cJSON_GetArrayItem(phases, 0)->valuestring, "preflight");
        ck_assert_str_eq(cJSON_GetArrayItem(phases, 1)->valuestring, "stage");
        ck_assert_int_eq(count_key(j, "phases"), 1);
        ck_assert_str_eq(json_get_string(j, "phase"), "backup");
}
END_TEST

START_TEST(test_set_migration) {
        _cleanup_(current_done) Current c = {};
        _cleanup_json_ cJSON *j = NULL;
        char *drop_list[] = { (char *)"runs.legacy_status", NULL };
        const cJSON *list, *m;

        ck_assert_int_eq(current_set_migration(&c, "20261101-runs", true, drop_list, "applying"), 0);
        ck_assert_int_eq(current_set_migration(&c, "20261102-index", false, NULL, "applying"), 0);

        /* the caller keeps its drops: the entry has a copy */
        drop_list[0] = (char *)"changed";

        /* the same id again: only the state moves */
        ck_assert_int_eq(current_set_migration(&c, "20261101-runs", false, NULL, "applied"), 0);
        ck_assert_int_eq(current_set_migration(&c, "20261102-index", false, NULL, "failed"), 0);

        ck_assert_int_eq(c.n_migrations, 2);
        ck_assert_str_eq(c.migrations[0].state, "applied");
        ck_assert(c.migrations[0].breaking);
        ck_assert_str_eq(c.migrations[0].drops[0], "runs.legacy_status");
        ck_assert_str_eq(c.migrations[1].state, "failed");

        ck_assert_int_eq(current_to_json(&c, &j), 0);
        list = cJSON_GetObjectItemCaseSensitive(j, "migrations");
        ck_assert(cJSON_IsArray(list));
        ck_assert_int_eq(cJSON_GetArraySize(list), 2);

        m = cJSON_GetArrayItem(list, 0);
        ck_assert_str_eq(json_get_string(m, "id"), "20261101-runs");
        ck_assert_str_eq(json_get_string(m, "state"), "applied");
        ck_assert_int_eq(count_key(m, "state"), 1);
        ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "breaking")));
        ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m, "drops")), 1);
        ck_assert_str_eq(
                cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "drops"), 0)->valuestring,
                "runs.legacy_status");

        m = cJSON_GetArrayItem(list, 1);
        ck_assert_str_eq(json_get_string(m, "id"), "20261102-index");
        ck_assert_str_eq(json_get_string(m, "state"), "failed");
        ck_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(m, "breaking")));
        /* no drops given: an empty list, not a missing key */
        ck_assert(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(m, "drops")));
        ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m, "drops")), 0);
}
END_TEST

/* going back is a restore when a migration failed, one not marked non-breaking was applied, or one was
 * mid-flight; a minor rollback otherwise */
START_TEST(test_restore_reason) {
        static const struct {
                const char *json, *reason;
        } cases[] = {
                { "{}", NULL },
                { "{\"migrations\":[{\"id\":\"a\",\"state\":\"applied\",\"breaking\":false}]}", NULL },
                { "{\"migrations\":[{\"id\":\"a\",\"state\":\"pending\",\"breaking\":true}]}", NULL },
                { "{\"migrations\":[{\"id\":\"a\",\"state\":\"applied\",\"breaking\":true}]}",
                  "breaking migration a was applied" },
                { "{\"migrations\":[{\"id\":\"a\",\"state\":\"applied\"}]}",
                  "breaking migration a was applied" },
                { "{\"migrations\":[{\"state\":\"failed\"}]}", "migration  failed" },
                { "{\"migrations\":[{\"id\":\"a\",\"state\":\"applied\",\"breaking\":false},"
                  "{\"id\":\"b\",\"state\":\"failed\",\"breaking\":false}]}",
                  "migration b failed" },
                { "{\"migrations\":[{\"id\":\"c\",\"state\":\"applying\",\"breaking\":false}]}",
                  "migration c may have been cut off mid-flight" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_json_ cJSON *j = cJSON_Parse(cases[i].json);
                _cleanup_(current_done) Current c = {};
                _cleanup_free_ char *reason = NULL;

                ck_assert_int_eq(current_from_json(j, &c, NULL), 0);
                ck_assert_int_eq(current_restore_reason(&c, &reason), 0);
                if (cases[i].reason)
                        ck_assert_str_eq(reason, cases[i].reason);
                else
                        ck_assert_ptr_null(reason);
        }
}
END_TEST

START_TEST(test_load_save) {
        _cleanup_json_ cJSON *full = fixture("full.json"), *back = NULL;
        _cleanup_(current_done) Current c = {}, again = {};
        _cleanup_free_ char *error = NULL, *path = paths_state_file("typed", "current.json");

        ck_assert_int_eq(current_load("typed", &c, NULL), -ENOENT);

        ck_assert_int_eq(current_from_json(full, &c, NULL), 0);
        ck_assert_int_eq(current_create("typed", &c), 0);
        ck_assert_int_eq(current_create("typed", &c), -EEXIST);
        current_done(&c);

        ck_assert_int_eq(current_load("typed", &c, &error), 0);
        ck_assert_ptr_null(error);
        ck_assert_int_eq(current_phase_done(&c, "migrate"), 0);
        free(c.backup);
        c.backup = strdup("/var/backups/codebolt/other");
        ck_assert_int_eq(current_save("typed", &c), 0);
        ck_assert(is_timestamp(c.updated));
        ck_assert_str_ne(c.updated, "2026-11-26T11:20:01Z");

        /* the file is the fixture with what changed, the unknown key kept */
        ck_assert_int_eq(current_read_document("typed", &back), 0);
        ck_assert_str_eq(json_get_string(back, "backup"), "/var/backups/codebolt/other");
        ck_assert_str_eq(json_get_string(back, "updated"), c.updated);
        ck_assert_int_eq(current_load("typed", &again, NULL), 0);
        ck_assert(current_phase_is_done(&again, "migrate"));
        current_done(&again);
        ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(back, "snapshot")));
        ck_assert(cJSON_Compare(
                cJSON_GetObjectItemCaseSensitive(back, "future_key"),
                cJSON_GetObjectItemCaseSensitive(full, "future_key"),
                true));
        ck_assert_int_eq(cJSON_GetArraySize(back), cJSON_GetArraySize(full));
        cJSON_DeleteItemFromObjectCaseSensitive(back, "backup");
        cJSON_DeleteItemFromObjectCaseSensitive(back, "updated");
        cJSON_DeleteItemFromObjectCaseSensitive(back, "phases");
        cJSON_DeleteItemFromObjectCaseSensitive(full, "backup");
        cJSON_DeleteItemFromObjectCaseSensitive(full, "updated");
        cJSON_DeleteItemFromObjectCaseSensitive(full, "phases");
        ck_assert(cJSON_Compare(back, full, true));

        /* a document the typed API refuses: the key is named */
        ck_assert_int_eq(json_set_string(back, "held", "yes"), 0);
        ck_assert_int_eq(state_write_json_atomic(path, back, 0600), 0);
        ck_assert_int_eq(current_load("typed", &again, &error), -EBADMSG);
        ck_assert_str_eq(error, "\"held\" is not true or false");
}
END_TEST

/* the rollback's and the recovery's read: a damaged key costs that key, never the file */
START_TEST(test_load_lenient) {
        _cleanup_(current_done) Current c = {};
        _cleanup_strv_free_ char **problems = NULL;
        _cleanup_json_ cJSON *back = NULL;
        _cleanup_free_ char *path = NULL;
        const char *doc =
                "{\"instance\": \"1.5.0\", \"to\": \"1.5.0\", \"phase\": \"smoke\", \"held\": \"yes\", "
                "\"rollback_attempts\": \"many\", \"recover_attempts\": null, \"migrations\": 5, "
                "\"future_key\": 1}";
        uint64_t unreadable = 0;

        ck_assert_int_eq(current_load_lenient("lenient", &c, &unreadable, &problems), -ENOENT);

        ck_assert_int_eq(paths_state_file_mkdir("lenient", "current.json", &path), 0);
        ck_assert_int_eq(state_write_string_atomic(path, doc, 0600), 0);
        ck_assert_int_eq(current_load_lenient("lenient", &c, &unreadable, &problems), 0);
        ck_assert_str_eq(c.instance, "1.5.0");
        ck_assert_str_eq(c.phase, "smoke");
        ck_assert(!c.held);
        ck_assert_int_eq(c.rollback_attempts, INT_MAX - 1); /* exhausted: no further try */
        ck_assert_int_eq(c.recover_attempts, 0);            /* null: none yet */
        ck_assert_ptr_null(c.migrations);
        ck_assert_uint_eq(
                unreadable,
                CURRENT_KEY_BIT(CURRENT_HELD) | CURRENT_KEY_BIT(CURRENT_ROLLBACK_ATTEMPTS) |
                        CURRENT_KEY_BIT(CURRENT_RECOVER_ATTEMPTS) | CURRENT_KEY_BIT(CURRENT_MIGRATIONS));
        ck_assert_uint_eq(strv_length(problems), 4);
        ck_assert(strv_contains(problems, "\"held\" is not true or false; read as absent"));
        ck_assert(strv_contains(problems, "\"rollback_attempts\" is not a number; read as exhausted"));
        ck_assert(strv_contains(problems, "\"migrations\" is not a list; read as absent"));

        /* a save drops what could not be read and keeps what it does not know */
        ck_assert_int_eq(current_save("lenient", &c), 0);
        ck_assert_int_eq(current_read_document("lenient", &back), 0);
        ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(back, "held"));
        ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(back, "migrations"));
        ck_assert_double_eq(
                cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(back, "rollback_attempts")),
                INT_MAX - 1);
        ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(back, "future_key"));
        current_done(&c);
        strv_free(TAKE_PTR(problems));

        /* no object at all: empty, and said */
        ck_assert_int_eq(state_write_string_atomic(path, "[1, 2]", 0600), 0);
        ck_assert_int_eq(current_load_lenient("lenient", &c, NULL, &problems), 0);
        ck_assert_ptr_null(c.instance);
        ck_assert_uint_eq(strv_length(problems), 1);
        ck_assert_str_eq(problems[0], "not a JSON object; read as empty");
        current_done(&c);

        /* not JSON: nothing to read leniently */
        ck_assert_int_eq(state_write_string_atomic(path, "{\"to\": ", 0600), 0);
        ck_assert_int_eq(current_load_lenient("lenient", &c, NULL, NULL), -EBADMSG);
}
END_TEST

static Suite *current_suite(void) {
        Suite *s = suite_create("current");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_create_exclusive);
        tcase_add_test(tc, test_load_none);
        tcase_add_test(tc, test_save);
        tcase_add_test(tc, test_remove);
        tcase_add_test(tc, test_modes);
        tcase_add_test(tc, test_set_aside);
        tcase_add_test(tc, test_restore_reason);
        tcase_add_test(tc, test_phase_done_survives_save);
        tcase_add_test(tc, test_set_migration);
        tcase_add_test(tc, test_phase_seconds);
        tcase_add_test(tc, test_timestamp);
        tcase_add_test(tc, test_full);
        tcase_add_test(tc, test_preflight);
        tcase_add_test(tc, test_keys);
        tcase_add_test(tc, test_absent);
        tcase_add_test(tc, test_wrong_types);
        tcase_add_test(tc, test_counts);
        tcase_add_test(tc, test_repeated_key);
        tcase_add_test(tc, test_database_shared);
        tcase_add_test(tc, test_phases);
        tcase_add_test(tc, test_load_save);
        tcase_add_test(tc, test_load_lenient);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return run_suite_in_root(current_suite(), "test-current");
}
