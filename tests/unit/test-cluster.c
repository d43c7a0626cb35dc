/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-cluster.c: cluster module: key names and the etcd documents */
#define _GNU_SOURCE
#include <assert.h>
#include <check.h>
#include <systemd/sd-id128.h>

#include "cluster.h"
#include "json-util.h"
#include "state.h"
#include "strv.h"
#include "test-util.h"

static cJSON *fixture(const char *name) {
        return test_fixture_json(FIXTURES, "cluster", name);
}

static cJSON *json(const char *text) {
        return test_json(text);
}

/* ---- names ---- */

START_TEST(test_names) {
        static const char *const valid[] = {
                "a",
                "Z",
                "0",
                "prod",
                "prod-eu.1_b",
                "a.",
                "a-",
                "0123456789abcdef0123456789abcdef",
                "a23456789012345678901234567890123456789012345678901234567890123", /* 63 */
        };
        static const char *const invalid[] = {
                "",
                ".",
                "..",
                "-a",
                "_a",
                ".hidden",
                "a/b",
                "/a",
                "a b",
                "a\nb",
                "é",
                "a*",
                "a23456789012345678901234567890123456789012345678901234567890123x", /* 64 */
        };

        for (size_t i = 0; i < ELEMENTSOF(valid); i++) {
                ck_assert_msg(cluster_name_is_valid(valid[i]), "%s", valid[i]);
                ck_assert_msg(cluster_host_id_is_valid(valid[i]), "%s", valid[i]);
        }
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
                ck_assert_msg(!cluster_name_is_valid(invalid[i]), "%s", invalid[i]);
                ck_assert_msg(!cluster_host_id_is_valid(invalid[i]), "%s", invalid[i]);
        }
        ck_assert(!cluster_name_is_valid(NULL));
        ck_assert(!cluster_host_id_is_valid(NULL));
}
END_TEST

START_TEST(test_keys) {
        static const struct {
                ClusterKey what;
                const char *id, *key;
        } keys[] = {
                { CLUSTER_KEY_ROLL, NULL, "/codebolt-upgrade/prod/roll" },
                { CLUSTER_KEY_SEM, NULL, "/codebolt-upgrade/prod/sem" },
                { CLUSTER_KEY_MIGRATOR, NULL, "/codebolt-upgrade/prod/migrator" },
                { CLUSTER_KEY_HOST, "h1", "/codebolt-upgrade/prod/hosts/h1" },
                { CLUSTER_KEY_MEMBER, "h1", "/codebolt-upgrade/prod/members/h1" },
                { CLUSTER_KEY_HOST, NULL, "/codebolt-upgrade/prod/hosts/" },
                { CLUSTER_KEY_MEMBER, NULL, "/codebolt-upgrade/prod/members/" },
        };

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                _cleanup_free_ char *k = NULL;

                ck_assert_int_eq(cluster_key("prod", keys[i].what, keys[i].id, &k, NULL), 0);
                ck_assert_str_eq(k, keys[i].key);
                if (keys[i].id)
                        ck_assert_str_eq(cluster_key_host_id("prod", keys[i].what, k), keys[i].id);
        }
}
END_TEST

START_TEST(test_keys_invalid) {
        _cleanup_free_ char *k = NULL, *error = NULL;

        ck_assert_int_eq(cluster_key("a/b", CLUSTER_KEY_ROLL, NULL, &k, &error), -EINVAL);
        ck_assert_ptr_null(k);
        ck_assert_str_eq(
                error,
                "\"a/b\" is not a valid cluster name (letters, digits, '.', '_' and '-', at most 63, "
                "starting with a letter or digit)");
        ck_assert_int_eq(cluster_key(NULL, CLUSTER_KEY_ROLL, NULL, &k, &error), -EINVAL);
        ck_assert_str_eq(
                error,
                "\"\" is not a valid cluster name (letters, digits, '.', '_' and '-', at most 63, "
                "starting with a letter or digit)");
        ck_assert_int_eq(cluster_key("prod", CLUSTER_KEY_HOST, "..", &k, &error), -EINVAL);
        ck_assert_str_eq(
                error,
                "\"..\" is not a valid host id (letters, digits, '.', '_' and '-', at most 63, "
                "starting with a letter or digit)");
        ck_assert_int_eq(cluster_key("prod", CLUSTER_KEY_SEM, "h1", &k, &error), -EINVAL);
        ck_assert_str_eq(error, "the cluster's sem key takes no host id");
        ck_assert_ptr_null(k);
}
END_TEST

START_TEST(test_key_host_id) {
        ck_assert_str_eq(
                cluster_key_host_id("prod", CLUSTER_KEY_HOST, "/codebolt-upgrade/prod/hosts/h-2"), "h-2");
        ck_assert_ptr_null(
                cluster_key_host_id("prod", CLUSTER_KEY_HOST, "/codebolt-upgrade/prod/members/h2"));
        ck_assert_ptr_null(
                cluster_key_host_id("prod", CLUSTER_KEY_HOST, "/codebolt-upgrade/prod2/hosts/h2"));
        ck_assert_ptr_null(cluster_key_host_id("prod", CLUSTER_KEY_HOST, "/codebolt-upgrade/pro/hosts/h2"));
        ck_assert_ptr_null(cluster_key_host_id("prod", CLUSTER_KEY_HOST, "/codebolt-upgrade/prod/hosts/"));
        ck_assert_ptr_null(
                cluster_key_host_id("prod", CLUSTER_KEY_HOST, "/codebolt-upgrade/prod/hosts/a/b"));
        ck_assert_ptr_null(cluster_key_host_id("prod", CLUSTER_KEY_ROLL, "/codebolt-upgrade/prod/roll"));
        ck_assert_ptr_null(cluster_key_host_id("prod", CLUSTER_KEY_HOST, NULL));
        ck_assert_ptr_null(cluster_key_host_id("a/b", CLUSTER_KEY_HOST, "/codebolt-upgrade/a/b/hosts/h"));
}
END_TEST

START_TEST(test_default_host_id) {
        _cleanup_free_ char *a = NULL, *b = NULL;
        char machine[SD_ID128_STRING_MAX];
        sd_id128_t m;

        ck_assert_int_eq(cluster_default_host_id(&a), 0);
        ck_assert_int_eq(strlen(a), 32);
        ck_assert_int_eq(strspn(a, "0123456789abcdef"), 32);
        ck_assert(cluster_host_id_is_valid(a));
        /* stable, and not the machine id itself */
        ck_assert_int_eq(cluster_default_host_id(&b), 0);
        ck_assert_str_eq(a, b);
        ck_assert_int_eq(sd_id128_get_machine(&m), 0);
        ck_assert_str_ne(a, sd_id128_to_string(m, machine));
}
END_TEST

START_TEST(test_enums) {
        for (int i = 0; i < _CLUSTER_MODE_MAX; i++)
                ck_assert_int_eq(cluster_mode_from_string(cluster_mode_to_string(i)), i);
        for (int i = 0; i < _CLUSTER_ROLL_STATE_MAX; i++)
                ck_assert_int_eq(cluster_roll_state_from_string(cluster_roll_state_to_string(i)), i);
        for (int i = 0; i < _CLUSTER_MIGRATOR_STATE_MAX; i++)
                ck_assert_int_eq(cluster_migrator_state_from_string(cluster_migrator_state_to_string(i)), i);
        ck_assert_str_eq(cluster_mode_to_string(CLUSTER_MODE_COORDINATED), "coordinated");
        ck_assert_str_eq(cluster_roll_state_to_string(CLUSTER_ROLL_ABORTING), "aborting");
        ck_assert_str_eq(cluster_migrator_state_to_string(CLUSTER_MIGRATOR_FAILED), "failed");
        ck_assert_ptr_null(cluster_mode_to_string(_CLUSTER_MODE_MAX));
        ck_assert_ptr_null(cluster_roll_state_to_string(-1));
        ck_assert_int_eq(cluster_mode_from_string("Rolling"), -EINVAL);
        ck_assert_int_eq(cluster_roll_state_from_string("rolling "), -EINVAL);
        ck_assert_int_eq(cluster_migrator_state_from_string(NULL), -EINVAL);
}
END_TEST

/* ---- documents ---- */

START_TEST(test_roll_round_trip) {
        _cleanup_json_ cJSON *j = fixture("roll.json"), *out = NULL;
        _cleanup_(cluster_roll_done) ClusterRoll r = {}, c = {};

        ck_assert_int_eq(cluster_roll_from_json(j, &r, NULL), 0);
        ck_assert_str_eq(r.id, "4f1c2a9e0b7d4c3a8e5f6a7b8c9d0e1f");
        ck_assert_str_eq(r.from, "1.4.2");
        ck_assert_str_eq(r.to, "1.5.0");
        ck_assert_int_eq(r.mode, CLUSTER_MODE_ROLLING);
        ck_assert_int_eq(r.state, CLUSTER_ROLL_ROLLING);
        ck_assert_int_eq(strv_length(r.upgraded), 1);
        ck_assert_str_eq(r.upgraded[0], "host-a");
        ck_assert_ptr_nonnull(r.failed);
        ck_assert_int_eq(strv_length(r.failed), 0);
        ck_assert_str_eq(r.canary, "host-a");
        ck_assert_str_eq(r.started, "2026-12-06T11:00:00Z");
        ck_assert_str_eq(r.by, "root@host-a");
        /* the unknown key is kept and written back */
        ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(r.extra, "note"));

        ck_assert_int_eq(cluster_roll_to_json(&r, &out), 0);
        ck_assert(cJSON_Compare(j, out, true));
        ck_assert_int_eq(cluster_roll_copy(&r, &c), 0);
        cJSON_Delete(out);
        ck_assert_int_eq(cluster_roll_to_json(&c, &out), 0);
        ck_assert(cJSON_Compare(j, out, true));
}
END_TEST

START_TEST(test_roll_canary_optional) {
        _cleanup_json_ cJSON *j = fixture("roll.json"), *out = NULL;
        _cleanup_(cluster_roll_done) ClusterRoll r = {}, r2 = {};

        cJSON_ReplaceItemInObjectCaseSensitive(j, "canary", cJSON_CreateNull());
        ck_assert_int_eq(cluster_roll_from_json(j, &r, NULL), 0);
        ck_assert_ptr_null(r.canary);
        ck_assert_int_eq(cluster_roll_to_json(&r, &out), 0);
        ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(out, "canary")));

        cJSON_DeleteItemFromObjectCaseSensitive(j, "canary");
        ck_assert_int_eq(cluster_roll_from_json(j, &r2, NULL), 0);
        ck_assert_ptr_null(r2.canary);
}
END_TEST

START_TEST(test_roll_repeated_hosts) {
        _cleanup_json_ cJSON *j = fixture("roll.json");
        _cleanup_(cluster_roll_done) ClusterRoll r = {};

        cJSON_ReplaceItemInObjectCaseSensitive(j, "upgraded", json("[\"h2\", \"h1\", \"h2\"]"));
        ck_assert_int_eq(cluster_roll_from_json(j, &r, NULL), 0);
        /* once each, in the order of their first appearance */
        ck_assert_int_eq(strv_length(r.upgraded), 2);
        ck_assert_str_eq(r.upgraded[0], "h2");
        ck_assert_str_eq(r.upgraded[1], "h1");
}
END_TEST

/* unknown keys are kept as they are, repeats too (an object holding a repeated key is written back
 * unchanged); a repeated unknown key at the top is written once, with its first value */
START_TEST(test_roll_extra_repeated) {
        _cleanup_json_ cJSON *j = fixture("roll.json"), *out = NULL;
        _cleanup_(cluster_roll_done) ClusterRoll r = {};
        _cleanup_free_ char *text = NULL;

        cJSON_ReplaceItemInObjectCaseSensitive(j, "note", json("{\"a\": 1, \"a\": 2}"));
        cJSON_AddNumberToObject(j, "x", 1);
        cJSON_AddNumberToObject(j, "x", 2);
        ck_assert_int_eq(cluster_roll_from_json(j, &r, NULL), 0);
        ck_assert_int_eq(cluster_roll_to_json(&r, &out), 0);
        text = cJSON_PrintUnformatted(out);
        ck_assert_ptr_nonnull(strstr(text, ",\"note\":{\"a\":1,\"a\":2},\"x\":1}"));
}
END_TEST

/* a key of the roll fixture replaced (value) or removed (value NULL), and the error it must give */
static const struct {
        const char *key, *value, *error;
} bad_rolls[] = {
        { "id", NULL, "roll: \"id\" is missing" },
        { "id", "42", "roll: \"id\" is not a string, expected a string" },
        { "id", "\"\"", "roll: \"id\" is empty" },
        { "from", NULL, "roll: \"from\" is missing" },
        { "from", "\"v1.4.2\"", "roll: \"from\" is not a version: " },
        { "to", "\"1.5\"", "roll: \"to\" is not a version: " },
        { "to", "null", "roll: \"to\" is not a string, expected a string" },
        { "mode", NULL, "roll: \"mode\" is missing, expected rolling or coordinated" },
        { "mode", "\"Rolling\"", "roll: \"mode\" is \"Rolling\", expected rolling or coordinated" },
        { "mode", "1", "roll: \"mode\" is not a string, expected rolling or coordinated" },
        { "state",
          "\"running\"",
          "roll: \"state\" is \"running\", expected rolling, paused, aborting, done or aborted" },
        { "state", NULL, "roll: \"state\" is missing, expected rolling, paused, aborting, done or aborted" },
        { "upgraded", NULL, "roll: \"upgraded\" is missing" },
        { "upgraded", "\"host-a\"", "roll: \"upgraded\" is not a list of host ids" },
        { "upgraded", "{}", "roll: \"upgraded\" is not a list of host ids" },
        { "upgraded", "[1]", "roll: \"upgraded\" holds an item that is not a string" },
        { "upgraded", "[null]", "roll: \"upgraded\" holds an item that is not a string" },
        { "failed", "[\"a/b\"]", "roll: \"failed\" holds \"a/b\", which is not a host id" },
        { "failed", "[\"\"]", "roll: \"failed\" holds \"\", which is not a host id" },
        { "failed", NULL, "roll: \"failed\" is missing" },
        { "canary", "\"../x\"", "roll: \"canary\" is \"../x\", which is not a host id" },
        { "canary", "true", "roll: \"canary\" is not a string, expected a string or null" },
        { "started", NULL, "roll: \"started\" is missing" },
        { "by", "[]", "roll: \"by\" is not a string, expected a string" },
};

START_TEST(test_roll_malformed) {
        _cleanup_json_ cJSON *j = fixture("roll.json");
        _cleanup_(cluster_roll_done) ClusterRoll r = {};
        _cleanup_free_ char *error = NULL;

        if (bad_rolls[_i].value)
                cJSON_ReplaceItemInObjectCaseSensitive(j, bad_rolls[_i].key, json(bad_rolls[_i].value));
        else
                cJSON_DeleteItemFromObjectCaseSensitive(j, bad_rolls[_i].key);
        ck_assert_int_eq(cluster_roll_from_json(j, &r, &error), -EBADMSG);
        ck_assert_ptr_nonnull(error);
        ck_assert_msg(startswith(error, bad_rolls[_i].error), "%s: got \"%s\"", bad_rolls[_i].key, error);
        /* nothing written on failure */
        ck_assert_ptr_null(r.id);
}
END_TEST

START_TEST(test_parse) {
        static const char roll[] =
                "{\"id\":\"r\",\"from\":\"1.0.0\",\"to\":\"1.0.1\",\"mode\":\"coordinated\","
                "\"state\":\"done\",\"upgraded\":[],\"failed\":[],\"started\":\"t\","
                "\"by\":\"me\"}TRAILING";
        _cleanup_(cluster_roll_done) ClusterRoll r = {};
        _cleanup_(cluster_sem_done) ClusterSem s = {};
        _cleanup_(cluster_migrator_done) ClusterMigrator m = {};
        _cleanup_(cluster_host_done) ClusterHost h = {};
        _cleanup_(cluster_member_done) ClusterMember mb = {};
        _cleanup_free_ char *error = NULL;

        /* a value as etcd gives it: its size counts, not a NUL */
        ck_assert_int_eq(cluster_roll_parse(roll, strlen(roll) - strlen("TRAILING"), &r, &error), 0);
        ck_assert_int_eq(r.mode, CLUSTER_MODE_COORDINATED);
        ck_assert_int_eq(r.state, CLUSTER_ROLL_DONE);
        ck_assert_int_eq(cluster_roll_parse(roll, strlen(roll), &r, &error), -EBADMSG);
        ck_assert_str_eq(error, "roll: not JSON");
        ck_assert_int_eq(cluster_sem_parse("", 0, &s, &error), -EBADMSG);
        ck_assert_str_eq(error, "sem: not JSON");
        ck_assert_int_eq(cluster_sem_parse("[]", 2, &s, &error), -EBADMSG);
        ck_assert_str_eq(error, "sem: not a JSON object");
        ck_assert_int_eq(cluster_migrator_parse("\"x\"", 3, &m, &error), -EBADMSG);
        ck_assert_str_eq(error, "migrator: not a JSON object");
        ck_assert_int_eq(cluster_host_parse(NULL, 0, &h, &error), -EBADMSG);
        ck_assert_str_eq(error, "heartbeat: empty value");
        ck_assert_int_eq(cluster_member_parse("null", 4, &mb, &error), -EBADMSG);
        ck_assert_str_eq(error, "member: not a JSON object");
}
END_TEST

START_TEST(test_sem_round_trip) {
        _cleanup_json_ cJSON *j = fixture("sem.json"), *out = NULL;
        _cleanup_(cluster_sem_done) ClusterSem s = {};

        ck_assert_int_eq(cluster_sem_from_json(j, &s, NULL), 0);
        ck_assert_int_eq(s.total_slots, 2);
        /* read as a set: sorted, as airlock keeps it */
        ck_assert_int_eq(strv_length(s.holders), 2);
        ck_assert_str_eq(s.holders[0], "host-a");
        ck_assert_str_eq(s.holders[1], "host-b");
        ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s.extra, "airlock")));
        ck_assert_int_eq(cluster_sem_to_json(&s, &out), 0);
        ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(out, "total_slots")->valuedouble, 2);
        ck_assert_str_eq(
                cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(out, "holders"), 0)->valuestring,
                "host-a");
        ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(out, "airlock")));
}
END_TEST

START_TEST(test_sem_sets) {
        _cleanup_json_ cJSON
                *j = json("{\"total_slots\": 1, \"holders\": [\"c\", \"a\", \"c\", \"b\", \"a\"]}"),
                *out = NULL, *expected = json("{\"total_slots\": 1, \"holders\": [\"a\", \"b\", \"c\"]}");
        _cleanup_(cluster_sem_done) ClusterSem s = {};

        /* more holders than slots (Slots= was lowered) is fine; repeats are read once */
        ck_assert_int_eq(cluster_sem_from_json(j, &s, NULL), 0);
        ck_assert_int_eq(strv_length(s.holders), 3);
        ck_assert_int_eq(cluster_sem_to_json(&s, &out), 0);
        ck_assert(cJSON_Compare(out, expected, true));
}
END_TEST

static const struct {
        const char *doc, *error;
        int r;
} bad_sems[] = {
        { "{\"holders\": []}", "sem: \"total_slots\" is missing", -EBADMSG },
        { "{\"total_slots\": -1, \"holders\": []}",
          "sem: \"total_slots\" is -1, expected a whole number from 1 to 1024",
          -ERANGE },
        { "{\"total_slots\": 0, \"holders\": []}",
          "sem: \"total_slots\" is 0, expected a whole number from 1 to 1024",
          -ERANGE },
        { "{\"total_slots\": 1025, \"holders\": []}",
          "sem: \"total_slots\" is 1025, expected a whole number from 1 to 1024",
          -ERANGE },
        { "{\"total_slots\": 1e300, \"holders\": []}",
          "sem: \"total_slots\" is 1e+300, expected a whole number from 1 to 1024",
          -ERANGE },
        { "{\"total_slots\": 18446744073709551616, \"holders\": []}",
          "sem: \"total_slots\" is 1.84467e+19, expected a whole number from 1 to 1024",
          -ERANGE },
        { "{\"total_slots\": 1.5, \"holders\": []}",
          "sem: \"total_slots\" is 1.5, expected a whole number from 1 to 1024",
          -EBADMSG },
        { "{\"total_slots\": \"1\", \"holders\": []}",
          "sem: \"total_slots\" is not a number, expected a whole number from 1 to 1024",
          -EBADMSG },
        { "{\"total_slots\": null, \"holders\": []}",
          "sem: \"total_slots\" is not a number, expected a whole number from 1 to 1024",
          -EBADMSG },
        { "{\"total_slots\": 1}", "sem: \"holders\" is missing", -EBADMSG },
        { "{\"total_slots\": 1, \"holders\": null}",
          "sem: \"holders\" is not a list of host ids",
          -EBADMSG },
        { "{\"total_slots\": 1, \"holders\": [\"a\", 2]}",
          "sem: \"holders\" holds an item that is not a string",
          -EBADMSG },
        { "{\"total_slots\": 1, \"holders\": [[\"a\"]]}",
          "sem: \"holders\" holds an item that is not a string",
          -EBADMSG },
        { "{\"total_slots\": 1, \"holders\": [\"a b\"]}",
          "sem: \"holders\" holds \"a b\", which is not a host id",
          -EBADMSG },
        { "[1, []]", "sem: not a JSON object", -EBADMSG },
};

START_TEST(test_sem_malformed) {
        _cleanup_json_ cJSON *j = json(bad_sems[_i].doc);
        _cleanup_(cluster_sem_done) ClusterSem s = {};
        _cleanup_free_ char *error = NULL;

        ck_assert_int_eq(cluster_sem_from_json(j, &s, &error), bad_sems[_i].r);
        ck_assert_str_eq(error, bad_sems[_i].error);
        ck_assert_ptr_null(s.holders);
}
END_TEST

START_TEST(test_migrator) {
        _cleanup_json_ cJSON *j = fixture("migrator.json"), *out = NULL;
        _cleanup_(cluster_migrator_done) ClusterMigrator m = {};

        ck_assert_int_eq(cluster_migrator_from_json(j, &m, NULL), 0);
        ck_assert_str_eq(m.host, "host-a");
        ck_assert_str_eq(m.roll, "4f1c2a9e0b7d4c3a8e5f6a7b8c9d0e1f");
        ck_assert_int_eq(m.state, CLUSTER_MIGRATOR_MIGRATING);
        ck_assert_ptr_null(m.extra);
        ck_assert_int_eq(cluster_migrator_to_json(&m, &out), 0);
        ck_assert(cJSON_Compare(j, out, true));
}
END_TEST

START_TEST(test_host) {
        _cleanup_json_ cJSON *j = fixture("host.json"), *out = NULL;
        _cleanup_(cluster_host_done) ClusterHost h = {};

        ck_assert_int_eq(cluster_host_from_json(j, &h, NULL), 0);
        ck_assert_str_eq(h.version, "1.4.2");
        ck_assert_str_eq(h.phase, "drain");
        ck_assert_str_eq(h.unit, "codebolt-upgrade@1.5.0.service");
        ck_assert_str_eq(h.updated, "2026-12-06T11:02:30Z");
        ck_assert_int_eq(cluster_host_to_json(&h, &out), 0);
        ck_assert(cJSON_Compare(j, out, true));
}
END_TEST

START_TEST(test_member) {
        _cleanup_json_ cJSON *j = fixture("member.json"), *out = NULL, *with_extra = NULL;
        _cleanup_(cluster_member_done) ClusterMember m = {}, e = {};

        ck_assert_int_eq(cluster_member_from_json(j, &m, NULL), 0);
        ck_assert_str_eq(m.hostname, "codebolt-1.example.org");
        ck_assert_str_eq(m.server, "codebolt-1");
        ck_assert_str_eq(m.version, "1.4.2");
        ck_assert_int_eq(cluster_member_to_json(&m, &out), 0);
        ck_assert(cJSON_Compare(j, out, true));

        /* an unknown key is kept and written after the known ones */
        cJSON_AddNumberToObject(j, "weight", 3);
        ck_assert_int_eq(cluster_member_from_json(j, &e, NULL), 0);
        ck_assert_int_eq(cluster_member_to_json(&e, &with_extra), 0);
        ck_assert(cJSON_Compare(j, with_extra, true));
        ck_assert_str_eq(with_extra->child->next->next->next->string, "weight");
}
END_TEST

/* from_json of the document kind, the result freed: what it returned, and its error */
static int from_json_of(const char *kind, const cJSON *j, char **error) {
        if (streq(kind, "migrator")) {
                _cleanup_(cluster_migrator_done) ClusterMigrator m = {};
                return cluster_migrator_from_json(j, &m, error);
        }
        if (streq(kind, "host")) {
                _cleanup_(cluster_host_done) ClusterHost h = {};
                return cluster_host_from_json(j, &h, error);
        }
        assert(streq(kind, "member"));
        _cleanup_(cluster_member_done) ClusterMember m = {};
        return cluster_member_from_json(j, &m, error);
}

static const struct {
        const char *kind, *doc, *error;
} bad_docs[] = {
        { "migrator", "{\"roll\": \"r\", \"state\": \"done\"}", "migrator: \"host\" is missing" },
        { "migrator",
          "{\"host\": \"a/b\", \"roll\": \"r\", \"state\": \"done\"}",
          "migrator: \"host\" is \"a/b\", which is not a host id" },
        { "migrator", "{\"host\": \"h\", \"state\": \"done\"}", "migrator: \"roll\" is missing" },
        { "migrator",
          "{\"host\": \"h\", \"roll\": \"r\", \"state\": \"migrated\"}",
          "migrator: \"state\" is \"migrated\", expected migrating, done or failed" },
        { "migrator",
          "{\"host\": \"h\", \"roll\": \"r\"}",
          "migrator: \"state\" is missing, expected migrating, done or failed" },
        { "migrator", "[]", "migrator: not a JSON object" },
        { "host",
          "{\"phase\": \"drain\", \"unit\": \"u\", \"updated\": \"t\"}",
          "heartbeat: \"version\" is missing" },
        { "host",
          "{\"version\": \"latest\", \"phase\": \"drain\", \"unit\": \"u\", \"updated\": \"t\"}",
          "heartbeat: \"version\" is not a version: " },
        { "host",
          "{\"version\": \"1.0.0\", \"phase\": 3, \"unit\": \"u\", \"updated\": \"t\"}",
          "heartbeat: \"phase\" is not a string, expected a string" },
        { "host",
          "{\"version\": \"1.0.0\", \"phase\": \"drain\", \"unit\": \"\", \"updated\": \"t\"}",
          "heartbeat: \"unit\" is empty" },
        { "host",
          "{\"version\": \"1.0.0\", \"phase\": \"drain\", \"unit\": \"u\"}",
          "heartbeat: \"updated\" is missing" },
        { "host", "\"x\"", "heartbeat: not a JSON object" },
        { "member", "{\"server\": \"s\", \"version\": \"1.0.0\"}", "member: \"hostname\" is missing" },
        { "member",
          "{\"hostname\": \"h\", \"server\": false, \"version\": \"1.0.0\"}",
          "member: \"server\" is not a string, expected a string" },
        { "member",
          "{\"hostname\": \"h\", \"server\": \"s\", \"version\": \"1.0\"}",
          "member: \"version\" is not a version: " },
        { "member",
          "{\"hostname\": \"h\", \"server\": \"s\", \"version\": null}",
          "member: \"version\" is not a string, expected a string" },
};

START_TEST(test_docs_malformed) {
        _cleanup_json_ cJSON *j = json(bad_docs[_i].doc);
        _cleanup_free_ char *error = NULL;

        ck_assert_int_eq(from_json_of(bad_docs[_i].kind, j, &error), -EBADMSG);
        ck_assert_ptr_nonnull(error);
        ck_assert_msg(startswith(error, bad_docs[_i].error), "%s: got \"%s\"", bad_docs[_i].doc, error);
}
END_TEST

static Suite *cluster_suite(void) {
        Suite *s = suite_create("cluster");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_names);
        tcase_add_test(tc, test_keys);
        tcase_add_test(tc, test_keys_invalid);
        tcase_add_test(tc, test_key_host_id);
        tcase_add_test(tc, test_default_host_id);
        tcase_add_test(tc, test_enums);
        tcase_add_test(tc, test_roll_round_trip);
        tcase_add_test(tc, test_roll_canary_optional);
        tcase_add_test(tc, test_roll_repeated_hosts);
        tcase_add_test(tc, test_roll_extra_repeated);
        tcase_add_loop_test(tc, test_roll_malformed, 0, ELEMENTSOF(bad_rolls));
        tcase_add_test(tc, test_parse);
        tcase_add_test(tc, test_sem_round_trip);
        tcase_add_test(tc, test_sem_sets);
        tcase_add_loop_test(tc, test_sem_malformed, 0, ELEMENTSOF(bad_sems));
        tcase_add_test(tc, test_migrator);
        tcase_add_test(tc, test_host);
        tcase_add_test(tc, test_member);
        tcase_add_loop_test(tc, test_docs_malformed, 0, ELEMENTSOF(bad_docs));
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(cluster_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
