/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-cluster.c: cluster module: key names, the etcd documents, the semaphore, the roll's transitions,
 * the rolling rule */
#define _GNU_SOURCE
#include <assert.h>
#include <check.h>
#include <systemd/sd-id128.h>

#include "cluster.h"
#include "json-util.h"
#include "state.h"
#include "strv.h"

#define CLUSTER_FIXTURES FIXTURES "/cluster/"

static cJSON *fixture(const char *name) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        size_t size;
        cJSON *j;

        ck_assert_int_ge(asprintf(&path, CLUSTER_FIXTURES "%s", name), 0);
        ck_assert_int_eq(state_read_file(path, &text, &size), 0);
        j = cJSON_ParseWithLength(text, size);
        ck_assert_ptr_nonnull(j);
        return j;
}

static cJSON *json(const char *text) {
        cJSON *j = cJSON_Parse(text);

        ck_assert_msg(j, "not JSON: %s", text);
        return j;
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

/* ---- the semaphore ---- */

static void assert_holders(const ClusterSem *s, uint64_t total, const char *holders) {
        _cleanup_free_ char *h = NULL;

        ck_assert_int_eq(s->total_slots, total);
        ck_assert_int_eq(cluster_sem_holders_string(s, &h), 0);
        ck_assert_str_eq(h, holders);
}

START_TEST(test_sem_take_fresh) {
        _cleanup_(cluster_sem_done) ClusterSem s = {}, again = {};
        _cleanup_json_ cJSON *a = NULL, *b = NULL;

        /* an absent key is a fresh semaphore of Slots= slots */
        ck_assert_int_eq(cluster_sem_take(NULL, "h1", 1, &s, NULL), CLUSTER_SEM_GRANTED);
        assert_holders(&s, 1, "h1");
        ck_assert(cluster_sem_holds(&s, "h1"));
        ck_assert(!cluster_sem_holds(&s, "h2"));
        ck_assert(!cluster_sem_holds(NULL, "h1"));

        /* re-entrant: the holder asking again is granted and nothing changes */
        ck_assert_int_eq(cluster_sem_take(&s, "h1", 1, &again, NULL), CLUSTER_SEM_HELD);
        ck_assert_int_eq(cluster_sem_to_json(&s, &a), 0);
        ck_assert_int_eq(cluster_sem_to_json(&again, &b), 0);
        ck_assert(cJSON_Compare(a, b, true));
}
END_TEST

START_TEST(test_sem_take_busy) {
        _cleanup_(cluster_sem_done) ClusterSem s1 = {}, s2 = {}, s3 = {}, s4 = {};
        _cleanup_free_ char *holders = NULL;

        ck_assert_int_eq(cluster_sem_take(NULL, "h2", 1, &s1, &holders), CLUSTER_SEM_GRANTED);
        ck_assert_ptr_null(holders);
        ck_assert_int_eq(cluster_sem_take(&s1, "h1", 1, &s2, &holders), CLUSTER_SEM_BUSY);
        ck_assert_str_eq(holders, "h2");
        /* busy writes nothing: the copy is the semaphore read */
        assert_holders(&s2, 1, "h2");
        free(holders);
        holders = NULL;

        /* two slots: two holders, the third waits for both */
        ck_assert_int_eq(cluster_sem_take(&s1, "h1", 2, &s3, NULL), CLUSTER_SEM_GRANTED);
        assert_holders(&s3, 2, "h1, h2");
        ck_assert_int_eq(cluster_sem_take(&s3, "h3", 2, &s4, &holders), CLUSTER_SEM_BUSY);
        ck_assert_str_eq(holders, "h1, h2");
}
END_TEST

START_TEST(test_sem_slots_change) {
        _cleanup_json_ cJSON *j = json("{\"total_slots\": 2, \"holders\": [\"h1\", \"h2\"]}");
        _cleanup_(cluster_sem_done) ClusterSem s = {}, a = {}, b = {}, c = {}, d = {}, e = {}, f = {};
        _cleanup_free_ char *holders = NULL;

        ck_assert_int_eq(cluster_sem_from_json(j, &s, NULL), 0);
        /* Slots= lowered to 1: no holder is dropped; h3 waits until fewer than 1 hold */
        ck_assert_int_eq(cluster_sem_take(&s, "h3", 1, &a, &holders), CLUSTER_SEM_BUSY);
        ck_assert_str_eq(holders, "h1, h2");
        assert_holders(&a, 2, "h1, h2");
        ck_assert_int_eq(cluster_sem_release(&a, "h1", &b), CLUSTER_SEM_RELEASED);
        assert_holders(&b, 2, "h2");
        ck_assert_int_eq(cluster_sem_take(&b, "h3", 1, &c, NULL), CLUSTER_SEM_BUSY);
        /* a holder re-entering under the lower Slots= keeps its slot */
        ck_assert_int_eq(cluster_sem_take(&b, "h2", 1, &d, NULL), CLUSTER_SEM_HELD);
        assert_holders(&d, 2, "h2");
        ck_assert_int_eq(cluster_sem_release(&d, "h2", &e), CLUSTER_SEM_RELEASED);
        assert_holders(&e, 2, "");
        /* the grant writes the new total */
        ck_assert_int_eq(cluster_sem_take(&e, "h3", 1, &f, NULL), CLUSTER_SEM_GRANTED);
        assert_holders(&f, 1, "h3");
}
END_TEST

START_TEST(test_sem_slots_raised) {
        _cleanup_(cluster_sem_done) ClusterSem a = {}, b = {}, c = {};

        ck_assert_int_eq(cluster_sem_take(NULL, "h1", 1, &a, NULL), CLUSTER_SEM_GRANTED);
        ck_assert_int_eq(cluster_sem_take(&a, "h2", 3, &b, NULL), CLUSTER_SEM_GRANTED);
        assert_holders(&b, 3, "h1, h2");
        ck_assert_int_eq(cluster_sem_take(&b, "h0", 3, &c, NULL), CLUSTER_SEM_GRANTED);
        assert_holders(&c, 3, "h0, h1, h2");
}
END_TEST

START_TEST(test_sem_release) {
        _cleanup_(cluster_sem_done) ClusterSem a = {}, b = {}, c = {}, d = {};

        ck_assert_int_eq(cluster_sem_release(NULL, "h1", &a), CLUSTER_SEM_NOT_HELD);
        assert_holders(&a, 1, "");
        ck_assert_int_eq(cluster_sem_take(&a, "h1", 1, &b, NULL), CLUSTER_SEM_GRANTED);
        ck_assert_int_eq(cluster_sem_release(&b, "h2", &c), CLUSTER_SEM_NOT_HELD);
        assert_holders(&c, 1, "h1");
        ck_assert_int_eq(cluster_sem_release(&b, "h1", &d), CLUSTER_SEM_RELEASED);
        assert_holders(&d, 1, "");
}
END_TEST

START_TEST(test_sem_invalid) {
        _cleanup_(cluster_sem_done) ClusterSem s = {};

        ck_assert_int_eq(cluster_sem_take(NULL, "a/b", 1, &s, NULL), -EINVAL);
        ck_assert_int_eq(cluster_sem_take(NULL, NULL, 1, &s, NULL), -EINVAL);
        ck_assert_int_eq(cluster_sem_take(NULL, "h1", 0, &s, NULL), -EINVAL);
        ck_assert_int_eq(cluster_sem_take(NULL, "h1", CLUSTER_SLOTS_MAX + 1, &s, NULL), -EINVAL);
        ck_assert_int_eq(cluster_sem_release(NULL, "", &s), -EINVAL);
        ck_assert_ptr_null(s.holders);
}
END_TEST

/* ---- the roll ---- */

static void roll_of(ClusterRollState state, const char *upgraded, const char *failed, ClusterRoll *ret) {
        _cleanup_json_ cJSON *j = fixture("roll.json");

        cJSON_ReplaceItemInObjectCaseSensitive(
                j, "state", cJSON_CreateString(cluster_roll_state_to_string(state)));
        cJSON_ReplaceItemInObjectCaseSensitive(j, "upgraded", json(upgraded));
        cJSON_ReplaceItemInObjectCaseSensitive(j, "failed", json(failed));
        ck_assert_int_eq(cluster_roll_from_json(j, ret, NULL), 0);
}

static void assert_roll(
        const ClusterRoll *r, ClusterRollState state, const char *upgraded, const char *failed) {
        _cleanup_json_ cJSON *u = json(upgraded), *f = json(failed), *o = NULL;

        ck_assert_str_eq(cluster_roll_state_to_string(r->state), cluster_roll_state_to_string(state));
        ck_assert_int_eq(cluster_roll_to_json(r, &o), 0);
        ck_assert_msg(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(o, "upgraded"), u, true), "upgraded");
        ck_assert_msg(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(o, "failed"), f, true), "failed");
        /* the rest of the roll is carried */
        ck_assert_str_eq(r->to, "1.5.0");
        ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(r->extra, "note"));
}

START_TEST(test_roll_upgraded) {
        char *members[] = { "h1", "h2", "h3", NULL };
        _cleanup_(cluster_roll_done) ClusterRoll r = {}, a = {}, b = {}, c = {}, d = {};

        roll_of(CLUSTER_ROLL_ROLLING, "[]", "[]", &r);
        ck_assert_int_eq(cluster_roll_host_upgraded(&r, "h2", members, &a, NULL), 1);
        assert_roll(&a, CLUSTER_ROLL_ROLLING, "[\"h2\"]", "[]");
        /* appended once: a retry writes nothing */
        ck_assert_int_eq(cluster_roll_host_upgraded(&a, "h2", members, &b, NULL), 0);
        assert_roll(&b, CLUSTER_ROLL_ROLLING, "[\"h2\"]", "[]");
        ck_assert_int_eq(cluster_roll_host_upgraded(&b, "h1", members, &c, NULL), 1);
        /* the host that completes the member list sets done */
        ck_assert_int_eq(cluster_roll_host_upgraded(&c, "h3", members, &d, NULL), 1);
        assert_roll(&d, CLUSTER_ROLL_DONE, "[\"h2\", \"h1\", \"h3\"]", "[]");
}
END_TEST

START_TEST(test_roll_upgraded_states) {
        char *members[] = { "h1", "h2", NULL };
        _cleanup_(cluster_roll_done) ClusterRoll p = {}, a = {}, ab = {}, b = {}, d = {}, e = {}, x = {};
        _cleanup_free_ char *error = NULL;

        /* paused (another host failed): the upgrade happened, it is recorded; no done while paused */
        roll_of(CLUSTER_ROLL_PAUSED, "[\"h1\"]", "[]", &p);
        ck_assert_int_eq(cluster_roll_host_upgraded(&p, "h2", members, &a, NULL), 1);
        assert_roll(&a, CLUSTER_ROLL_PAUSED, "[\"h1\", \"h2\"]", "[]");
        /* aborting: recorded, so that it reverts too */
        roll_of(CLUSTER_ROLL_ABORTING, "[\"h1\"]", "[]", &ab);
        ck_assert_int_eq(cluster_roll_host_upgraded(&ab, "h2", members, &b, NULL), 1);
        assert_roll(&b, CLUSTER_ROLL_ABORTING, "[\"h1\", \"h2\"]", "[]");
        /* done: a retry of the last host writes nothing; another is refused */
        roll_of(CLUSTER_ROLL_DONE, "[\"h1\", \"h2\"]", "[]", &d);
        ck_assert_int_eq(cluster_roll_host_upgraded(&d, "h2", members, &e, NULL), 0);
        ck_assert_int_eq(cluster_roll_host_upgraded(&d, "h3", members, &x, &error), -EPERM);
        ck_assert_str_eq(error, "the roll to 1.5.0 is done, not rolling, paused or aborting");
        ck_assert_int_eq(cluster_roll_host_upgraded(&d, "h/3", members, &x, NULL), -EINVAL);
        ck_assert_ptr_null(x.id);
}
END_TEST

START_TEST(test_roll_failed) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {}, a = {}, b = {}, c = {}, d = {}, e = {}, x = {};
        _cleanup_free_ char *error = NULL;

        roll_of(CLUSTER_ROLL_ROLLING, "[\"h1\"]", "[]", &r);
        ck_assert_int_eq(cluster_roll_host_failed(&r, "h2", false, &a, NULL), 1);
        assert_roll(&a, CLUSTER_ROLL_PAUSED, "[\"h1\"]", "[\"h2\"]");
        /* a retry writes nothing */
        ck_assert_int_eq(cluster_roll_host_failed(&a, "h2", false, &b, NULL), 0);
        assert_roll(&b, CLUSTER_ROLL_PAUSED, "[\"h1\"]", "[\"h2\"]");
        /* AutoRevert=yes: aborting, from rolling or paused */
        ck_assert_int_eq(cluster_roll_host_failed(&r, "h2", true, &c, NULL), 1);
        assert_roll(&c, CLUSTER_ROLL_ABORTING, "[\"h1\"]", "[\"h2\"]");
        ck_assert_int_eq(cluster_roll_host_failed(&a, "h3", true, &d, NULL), 1);
        assert_roll(&d, CLUSTER_ROLL_ABORTING, "[\"h1\"]", "[\"h2\", \"h3\"]");
        /* aborting stays aborting without AutoRevert= (a revert failed) */
        ck_assert_int_eq(cluster_roll_host_failed(&d, "h1", false, &e, NULL), 1);
        assert_roll(&e, CLUSTER_ROLL_ABORTING, "[\"h1\"]", "[\"h2\", \"h3\", \"h1\"]");

        cluster_roll_done(&r);
        roll_of(CLUSTER_ROLL_ABORTED, "[]", "[]", &r);
        ck_assert_int_eq(cluster_roll_host_failed(&r, "h2", false, &x, &error), -EPERM);
        ck_assert_str_eq(error, "the roll to 1.5.0 is aborted, not rolling, paused or aborting");
        ck_assert_ptr_null(x.id);
}
END_TEST

/* roll_of() in coordinated mode */
static void coordinated_of(ClusterRollState state, const char *upgraded, ClusterRoll *ret) {
        roll_of(state, upgraded, "[]", ret);
        ret->mode = CLUSTER_MODE_COORDINATED;
}

START_TEST(test_roll_stopped) {
        char *members[] = { "h1", "h2", "h3", NULL };
        _cleanup_(cluster_roll_done) ClusterRoll r = {}, a = {}, b = {}, c = {}, back = {}, x = {};
        _cleanup_json_ cJSON *o = NULL, *none = NULL;
        _cleanup_free_ char *running = NULL, *error = NULL;

        coordinated_of(CLUSTER_ROLL_ROLLING, "[]", &r);
        /* absent is none, and none is not written */
        ck_assert_int_eq(strv_length(r.stopped), 0);
        ck_assert_int_eq(cluster_roll_to_json(&r, &none), 0);
        ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(none, "stopped"));
        ck_assert_int_eq(cluster_roll_all_stopped(&r, members, &running), 0);
        ck_assert_str_eq(running, "h1, h2, h3");

        ck_assert_int_eq(cluster_roll_host_stopped(&r, "h2", &a, NULL), 1);
        ck_assert_int_eq(cluster_roll_host_stopped(&a, "h2", &b, NULL), 0); /* once */
        ck_assert_int_eq(cluster_roll_host_stopped(&b, "h1", &c, NULL), 1);
        free(TAKE_PTR(running));
        ck_assert_int_eq(cluster_roll_all_stopped(&c, members, &running), 0);
        ck_assert_str_eq(running, "h3");
        /* written and read back */
        ck_assert_int_eq(cluster_roll_to_json(&c, &o), 0);
        ck_assert_int_eq(cluster_roll_from_json(o, &back, NULL), 0);
        ck_assert_int_eq(strv_length(back.stopped), 2);
        ck_assert_str_eq(back.stopped[0], "h2");
        ck_assert_str_eq(back.stopped[1], "h1");
        free(TAKE_PTR(running));
        cluster_roll_done(&a);
        ck_assert_int_eq(cluster_roll_host_stopped(&c, "h3", &a, NULL), 1);
        ck_assert_int_eq(cluster_roll_all_stopped(&a, members, &running), 1);
        ck_assert_ptr_null(running);

        /* only a coordinated roll that is rolling */
        cluster_roll_done(&r);
        roll_of(CLUSTER_ROLL_ROLLING, "[]", "[]", &r);
        ck_assert_int_eq(cluster_roll_host_stopped(&r, "h1", &x, &error), -EPERM);
        ck_assert_str_eq(error, "the roll to 1.5.0 is rolling, not coordinated");
        free(TAKE_PTR(error));
        cluster_roll_done(&r);
        coordinated_of(CLUSTER_ROLL_ABORTED, "[]", &r);
        ck_assert_int_eq(cluster_roll_host_stopped(&r, "h1", &x, &error), -EPERM);
        ck_assert_str_eq(error, "the roll to 1.5.0 is aborted, not rolling");
        ck_assert_int_eq(cluster_roll_host_stopped(&r, "not a host", &x, NULL), -EINVAL);
}
END_TEST

START_TEST(test_roll_stopped_malformed) {
        _cleanup_json_ cJSON *j = fixture("roll.json");
        _cleanup_(cluster_roll_done) ClusterRoll r = {};
        _cleanup_free_ char *error = NULL;

        cJSON_AddItemToObject(j, "stopped", cJSON_CreateString("h1"));
        ck_assert_int_eq(cluster_roll_from_json(j, &r, &error), -EBADMSG);
        ck_assert_str_eq(error, "roll: \"stopped\" is not a list of host ids");
}
END_TEST

START_TEST(test_roll_failed_coordinated) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {}, a = {}, b = {}, c = {}, d = {};

        /* before the migrator finished: every member goes back by itself, nothing to revert */
        coordinated_of(CLUSTER_ROLL_ROLLING, "[]", &r);
        ck_assert_int_eq(cluster_roll_host_failed(&r, "h1", false, &a, NULL), 1);
        assert_roll(&a, CLUSTER_ROLL_ABORTED, "[]", "[\"h1\"]");
        ck_assert_int_eq(cluster_roll_host_failed(&r, "h1", true, &b, NULL), 1);
        assert_roll(&b, CLUSTER_ROLL_ABORTED, "[]", "[\"h1\"]");
        /* after it: the data is migrated; paused for an operator, even with AutoRevert= */
        cluster_roll_done(&r);
        coordinated_of(CLUSTER_ROLL_ROLLING, "[\"h1\"]", &r);
        ck_assert_int_eq(cluster_roll_host_failed(&r, "h2", true, &c, NULL), 1);
        assert_roll(&c, CLUSTER_ROLL_PAUSED, "[\"h1\"]", "[\"h2\"]");
        /* resume: the failed and the stopped start again */
        ck_assert_int_eq(cluster_roll_host_stopped(&r, "h3", &d, NULL), 1);
        cluster_roll_done(&a);
        d.state = CLUSTER_ROLL_PAUSED;
        ck_assert_int_eq(cluster_roll_resume(&d, &a, NULL), 1);
        ck_assert_int_eq(strv_length(a.stopped), 0);
}
END_TEST

START_TEST(test_roll_reverted) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {}, a = {}, b = {}, c = {}, x = {};
        _cleanup_free_ char *error = NULL;

        roll_of(CLUSTER_ROLL_ABORTING, "[\"h1\", \"h2\"]", "[\"h3\"]", &r);
        ck_assert_int_eq(cluster_roll_host_reverted(&r, "h1", &a, NULL), 1);
        assert_roll(&a, CLUSTER_ROLL_ABORTING, "[\"h2\"]", "[\"h3\"]");
        ck_assert_int_eq(cluster_roll_host_reverted(&a, "h1", &x, NULL), 0);
        cluster_roll_done(&x);
        /* the host that empties upgraded sets aborted; its retry writes nothing */
        ck_assert_int_eq(cluster_roll_host_reverted(&a, "h2", &b, NULL), 1);
        assert_roll(&b, CLUSTER_ROLL_ABORTED, "[]", "[\"h3\"]");
        ck_assert_int_eq(cluster_roll_host_reverted(&b, "h2", &c, NULL), 0);
        assert_roll(&c, CLUSTER_ROLL_ABORTED, "[]", "[\"h3\"]");

        cluster_roll_done(&r);
        roll_of(CLUSTER_ROLL_PAUSED, "[\"h1\"]", "[]", &r);
        ck_assert_int_eq(cluster_roll_host_reverted(&r, "h1", &x, &error), -EPERM);
        ck_assert_str_eq(error, "the roll to 1.5.0 is paused, not aborting");
}
END_TEST

START_TEST(test_roll_complete) {
        char *members[] = { "h1", "h2", NULL }, *fewer[] = { "h1", NULL };
        _cleanup_(cluster_roll_done) ClusterRoll r = {}, a = {}, b = {}, c = {}, p = {}, x = {};
        _cleanup_free_ char *error = NULL;

        roll_of(CLUSTER_ROLL_ROLLING, "[\"h1\"]", "[]", &r);
        ck_assert_int_eq(cluster_roll_complete(&r, members, &a, NULL), 0);
        assert_roll(&a, CLUSTER_ROLL_ROLLING, "[\"h1\"]", "[]");
        /* h2 left the cluster: the roll is complete */
        ck_assert_int_eq(cluster_roll_complete(&r, fewer, &b, NULL), 1);
        assert_roll(&b, CLUSTER_ROLL_DONE, "[\"h1\"]", "[]");
        ck_assert_int_eq(cluster_roll_complete(&b, fewer, &c, NULL), 0);
        ck_assert_int_eq(cluster_roll_pause(&r, &p, NULL), 1);
        ck_assert_int_eq(cluster_roll_complete(&p, fewer, &x, &error), -EPERM);
        ck_assert_str_eq(error, "the roll to 1.5.0 is paused, not rolling");
}
END_TEST

START_TEST(test_roll_pause_resume) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {}, p = {}, p2 = {}, f = {}, g = {}, g2 = {}, x = {};
        _cleanup_free_ char *error = NULL;

        roll_of(CLUSTER_ROLL_ROLLING, "[\"h1\"]", "[]", &r);
        ck_assert_int_eq(cluster_roll_pause(&r, &p, NULL), 1);
        assert_roll(&p, CLUSTER_ROLL_PAUSED, "[\"h1\"]", "[]");
        ck_assert_int_eq(cluster_roll_pause(&p, &p2, NULL), 0);
        assert_roll(&p2, CLUSTER_ROLL_PAUSED, "[\"h1\"]", "[]");

        /* resume: the failed hosts try again */
        ck_assert_int_eq(cluster_roll_host_failed(&r, "h2", false, &f, NULL), 1);
        ck_assert_int_eq(cluster_roll_resume(&f, &g, NULL), 1);
        assert_roll(&g, CLUSTER_ROLL_ROLLING, "[\"h1\"]", "[]");
        ck_assert_int_eq(cluster_roll_resume(&g, &g2, NULL), 0);
        assert_roll(&g2, CLUSTER_ROLL_ROLLING, "[\"h1\"]", "[]");

        cluster_roll_done(&r);
        roll_of(CLUSTER_ROLL_DONE, "[\"h1\"]", "[]", &r);
        ck_assert_int_eq(cluster_roll_pause(&r, &x, &error), -EPERM);
        ck_assert_str_eq(error, "the roll to 1.5.0 is done, not rolling");
        ck_assert_int_eq(cluster_roll_resume(&r, &x, &error), -EPERM);
        ck_assert_str_eq(error, "the roll to 1.5.0 is done, not paused");
        cluster_roll_done(&r);
        roll_of(CLUSTER_ROLL_ABORTING, "[\"h1\"]", "[]", &r);
        ck_assert_int_eq(cluster_roll_resume(&r, &x, &error), -EPERM);
        ck_assert_str_eq(error, "the roll to 1.5.0 is aborting, not paused");
        ck_assert_int_eq(cluster_roll_pause(&r, &x, &error), -EPERM);
        ck_assert_str_eq(error, "the roll to 1.5.0 is aborting, not rolling");
        ck_assert_ptr_null(x.id);
}
END_TEST

START_TEST(test_roll_abort) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {}, p = {}, e = {}, a = {}, b = {}, c = {}, d = {},
                                                 x = {};
        _cleanup_free_ char *error = NULL;

        /* hosts to revert: aborting */
        roll_of(CLUSTER_ROLL_ROLLING, "[\"h1\"]", "[]", &r);
        ck_assert_int_eq(cluster_roll_abort(&r, &a, NULL), 1);
        assert_roll(&a, CLUSTER_ROLL_ABORTING, "[\"h1\"]", "[]");
        /* aborting with some left: nothing changes until they reverted */
        ck_assert_int_eq(cluster_roll_abort(&a, &b, NULL), 0);
        assert_roll(&b, CLUSTER_ROLL_ABORTING, "[\"h1\"]", "[]");
        ck_assert_int_eq(cluster_roll_host_reverted(&b, "h1", &c, NULL), 1);
        assert_roll(&c, CLUSTER_ROLL_ABORTED, "[]", "[]");
        ck_assert_int_eq(cluster_roll_abort(&c, &d, NULL), 0);
        assert_roll(&d, CLUSTER_ROLL_ABORTED, "[]", "[]");

        /* nothing to revert: straight to aborted, from rolling or paused */
        roll_of(CLUSTER_ROLL_PAUSED, "[]", "[\"h2\"]", &p);
        ck_assert_int_eq(cluster_roll_abort(&p, &e, NULL), 1);
        assert_roll(&e, CLUSTER_ROLL_ABORTED, "[]", "[\"h2\"]");

        cluster_roll_done(&r);
        roll_of(CLUSTER_ROLL_DONE, "[\"h1\"]", "[]", &r);
        ck_assert_int_eq(cluster_roll_abort(&r, &x, &error), -EPERM);
        ck_assert_str_eq(error, "the roll to 1.5.0 is done, not rolling, paused or aborting");
}
END_TEST

/* ---- the follower ---- */

#define ROLL_ID "4f1c2a9e0b7d4c3a8e5f6a7b8c9d0e1f"

static const struct {
        ClusterRollState state;
        const char *upgraded, *failed;
        const char *running;
        bool in_flight;
        const char *last_started;
        ClusterFollowAction action;
        const char *reason;
} follow[] = {
        /* the one case that starts a unit, also after another roll's unit and with the version unknown */
        { CLUSTER_ROLL_ROLLING,
          "[\"h2\"]",
          "[]",
          "1.4.2",
          false,
          NULL,
          CLUSTER_FOLLOW_START_UPGRADE,
          "roll " ROLL_ID " to 1.5.0 is rolling and this host (h1) runs 1.4.2" },
        { CLUSTER_ROLL_ROLLING,
          "[]",
          "[]",
          "1.4.2",
          false,
          "0123456789ab",
          CLUSTER_FOLLOW_START_UPGRADE,
          "roll " ROLL_ID " to 1.5.0 is rolling and this host (h1) runs 1.4.2" },
        { CLUSTER_ROLL_ROLLING,
          "[]",
          "[]",
          NULL,
          false,
          NULL,
          CLUSTER_FOLLOW_START_UPGRADE,
          "roll " ROLL_ID " to 1.5.0 is rolling and this host (h1) runs a version that cannot be told" },
        /* an upgrade in flight goes first, whatever the roll says */
        { CLUSTER_ROLL_ROLLING,
          "[]",
          "[]",
          "1.4.2",
          true,
          NULL,
          CLUSTER_FOLLOW_NOTHING,
          "roll " ROLL_ID " to 1.5.0 is rolling; an upgrade is in flight on this host (current.json): it "
          "goes on first" },
        { CLUSTER_ROLL_ROLLING,
          "[]",
          "[]",
          "1.5.0",
          true,
          ROLL_ID,
          CLUSTER_FOLLOW_NOTHING,
          "roll " ROLL_ID " to 1.5.0 is rolling; an upgrade is in flight on this host (current.json): it "
          "goes on first" },
        { CLUSTER_ROLL_ABORTING,
          "[\"h1\"]",
          "[]",
          "1.5.0",
          true,
          NULL,
          CLUSTER_FOLLOW_NOTHING,
          "roll " ROLL_ID " to 1.5.0 is aborting; an upgrade is in flight on this host (current.json): it "
          "goes on first" },
        /* started once for this roll: never twice */
        { CLUSTER_ROLL_ROLLING,
          "[]",
          "[]",
          "1.4.2",
          false,
          ROLL_ID,
          CLUSTER_FOLLOW_NOTHING,
          "roll " ROLL_ID " to 1.5.0: this host's upgrade was started for it already and is not started "
          "twice (see its journal; the roll records it when it ends)" },
        /* the target runs here already, not recorded: said, also after the follower's own start */
        { CLUSTER_ROLL_ROLLING,
          "[\"h2\"]",
          "[]",
          "1.5.0",
          false,
          NULL,
          CLUSTER_FOLLOW_ALREADY_THERE,
          "roll " ROLL_ID " to 1.5.0: this host (h1) runs 1.5.0 already" },
        { CLUSTER_ROLL_ROLLING,
          "[]",
          "[]",
          "1.5.0",
          false,
          ROLL_ID,
          CLUSTER_FOLLOW_ALREADY_THERE,
          "roll " ROLL_ID " to 1.5.0: this host (h1) runs 1.5.0 already" },
        /* upgraded or failed here */
        { CLUSTER_ROLL_ROLLING,
          "[\"h1\"]",
          "[]",
          "1.5.0",
          false,
          ROLL_ID,
          CLUSTER_FOLLOW_NOTHING,
          "roll " ROLL_ID ": this host (h1) is upgraded already in the roll to 1.5.0" },
        { CLUSTER_ROLL_ROLLING,
          "[]",
          "[\"h1\"]",
          "1.4.2",
          false,
          NULL,
          CLUSTER_FOLLOW_NOTHING,
          "roll " ROLL_ID ": this host (h1) failed in the roll to 1.5.0: codebolt-upgrade cluster resume "
          "lets it try again" },
        { CLUSTER_ROLL_ROLLING,
          "[]",
          "[\"h1\"]",
          "1.5.0",
          false,
          NULL,
          CLUSTER_FOLLOW_NOTHING,
          "roll " ROLL_ID ": this host (h1) failed in the roll to 1.5.0: codebolt-upgrade cluster resume "
          "lets it try again" },
        /* the states that start nothing */
        { CLUSTER_ROLL_PAUSED,
          "[]",
          "[\"h2\"]",
          "1.4.2",
          false,
          NULL,
          CLUSTER_FOLLOW_NOTHING,
          "roll " ROLL_ID ": the roll to 1.5.0 is paused: codebolt-upgrade cluster resume continues it" },
        { CLUSTER_ROLL_PAUSED,
          "[]",
          "[]",
          "1.5.0",
          false,
          NULL,
          CLUSTER_FOLLOW_NOTHING,
          "roll " ROLL_ID ": the roll to 1.5.0 is paused: codebolt-upgrade cluster resume continues it" },
        { CLUSTER_ROLL_DONE,
          "[\"h2\"]",
          "[]",
          "1.4.2",
          false,
          NULL,
          CLUSTER_FOLLOW_NOTHING,
          "roll " ROLL_ID ": the roll to 1.5.0 is done" },
        { CLUSTER_ROLL_ABORTED,
          "[]",
          "[]",
          "1.4.2",
          false,
          NULL,
          CLUSTER_FOLLOW_NOTHING,
          "roll " ROLL_ID ": the roll to 1.5.0 was aborted" },
        /* aborting: the upgraded hosts revert, the others wait */
        { CLUSTER_ROLL_ABORTING,
          "[\"h2\", \"h1\"]",
          "[]",
          "1.5.0",
          false,
          ROLL_ID,
          CLUSTER_FOLLOW_REVERT,
          "roll " ROLL_ID " to 1.5.0 is aborting and this host (h1) is upgraded in it: its part is "
          "reverted" },
        { CLUSTER_ROLL_ABORTING,
          "[\"h2\"]",
          "[\"h1\"]",
          "1.4.2",
          false,
          ROLL_ID,
          CLUSTER_FOLLOW_NOTHING,
          "roll " ROLL_ID
          ": this host (h1) has nothing to revert: it is not upgraded in the roll to 1.5.0" },
};

START_TEST(test_follow_decide) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {};
        _cleanup_free_ char *reason = NULL;

        roll_of(follow[_i].state, follow[_i].upgraded, follow[_i].failed, &r);
        ck_assert_str_eq(r.id, ROLL_ID);
        ck_assert_int_eq(
                cluster_follow_decide(
                        &r,
                        "h1",
                        follow[_i].running,
                        follow[_i].in_flight,
                        follow[_i].last_started,
                        &reason),
                follow[_i].action);
        ck_assert_str_eq(reason, follow[_i].reason);
        /* the reason is optional */
        ck_assert_int_eq(
                cluster_follow_decide(
                        &r, "h1", follow[_i].running, follow[_i].in_flight, follow[_i].last_started, NULL),
                follow[_i].action);
}
END_TEST

START_TEST(test_follow_decide_no_roll) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {};
        _cleanup_free_ char *reason = NULL;

        ck_assert_int_eq(
                cluster_follow_decide(NULL, "h1", "1.4.2", false, NULL, &reason), CLUSTER_FOLLOW_NOTHING);
        ck_assert_str_eq(reason, "no roll is under way in the cluster");
        ck_assert_int_eq(cluster_follow_decide(NULL, "h1", NULL, true, "x", NULL), CLUSTER_FOLLOW_NOTHING);

        /* a host id that is none is a programming error of the caller, told as such */
        roll_of(CLUSTER_ROLL_ROLLING, "[]", "[]", &r);
        ck_assert_int_eq(cluster_follow_decide(&r, "../h1", "1.4.2", false, NULL, &reason), -EINVAL);
        ck_assert_int_eq(cluster_follow_decide(&r, NULL, "1.4.2", false, NULL, NULL), -EINVAL);

        ck_assert_str_eq(cluster_follow_action_to_string(CLUSTER_FOLLOW_NOTHING), "nothing");
        ck_assert_str_eq(cluster_follow_action_to_string(CLUSTER_FOLLOW_START_UPGRADE), "start-upgrade");
        ck_assert_str_eq(cluster_follow_action_to_string(CLUSTER_FOLLOW_ALREADY_THERE), "already-there");
        ck_assert_str_eq(cluster_follow_action_to_string(CLUSTER_FOLLOW_REVERT), "revert");
        ck_assert_ptr_null(cluster_follow_action_to_string(_CLUSTER_FOLLOW_ACTION_MAX));
}
END_TEST

static const struct {
        ClusterRollState state;
        const char *upgraded, *failed, *version, *refusal;
} may_start[] = {
        { CLUSTER_ROLL_ROLLING, "[\"h2\"]", "[]", "1.5.0", NULL },
        { CLUSTER_ROLL_ROLLING, "[]", "[]", "1.5.1", "the cluster's roll goes to 1.5.0, not 1.5.1" },
        { CLUSTER_ROLL_PAUSED,
          "[]",
          "[\"h2\"]",
          "1.5.0",
          "the roll to 1.5.0 is paused: codebolt-upgrade cluster resume continues it" },
        { CLUSTER_ROLL_ABORTING,
          "[]",
          "[]",
          "1.5.0",
          "the roll to 1.5.0 is aborting: the upgraded hosts revert" },
        { CLUSTER_ROLL_DONE, "[\"h2\"]", "[]", "1.5.0", "the roll to 1.5.0 is done" },
        { CLUSTER_ROLL_ABORTED, "[]", "[]", "1.5.0", "the roll to 1.5.0 was aborted" },
        { CLUSTER_ROLL_ROLLING,
          "[\"h1\"]",
          "[]",
          "1.5.0",
          "this host (h1) is upgraded already in the roll to 1.5.0" },
        { CLUSTER_ROLL_PAUSED,
          "[]",
          "[\"h1\"]",
          "1.5.0",
          "this host (h1) failed in the roll to 1.5.0: codebolt-upgrade cluster resume lets it try again" },
};

START_TEST(test_roll_may_start) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {};
        _cleanup_free_ char *refusal = NULL;

        roll_of(may_start[_i].state, may_start[_i].upgraded, may_start[_i].failed, &r);
        ck_assert_int_eq(
                cluster_roll_may_start(&r, "h1", may_start[_i].version, &refusal), !may_start[_i].refusal);
        if (may_start[_i].refusal)
                ck_assert_str_eq(refusal, may_start[_i].refusal);
        else
                ck_assert_ptr_null(refusal);
        ck_assert_int_eq(
                cluster_roll_may_start(&r, "h1", may_start[_i].version, NULL), !may_start[_i].refusal);
}
END_TEST

START_TEST(test_roll_may_start_none) {
        _cleanup_free_ char *refusal = NULL;

        ck_assert_int_eq(cluster_roll_may_start(NULL, "h1", "1.5.0", &refusal), 0);
        ck_assert_str_eq(
                refusal,
                "no roll is under way in the cluster: start one with codebolt-upgrade cluster start 1.5.0");
}
END_TEST

START_TEST(test_roll_may_replace) {
        static const struct {
                ClusterRollState state;
                const char *refusal;
        } cases[] = {
                { CLUSTER_ROLL_ROLLING,
                  "the roll to 1.5.0 (started 2026-12-06T11:00:00Z by root@host-a) is rolling: abort it "
                  "first with "
                  "codebolt-upgrade cluster abort" },
                { CLUSTER_ROLL_PAUSED,
                  "the roll to 1.5.0 (started 2026-12-06T11:00:00Z by root@host-a) is paused: abort it "
                  "first with "
                  "codebolt-upgrade cluster abort" },
                { CLUSTER_ROLL_ABORTING,
                  "the roll to 1.5.0 (started 2026-12-06T11:00:00Z by root@host-a) is aborting: wait until "
                  "its hosts "
                  "reverted" },
                { CLUSTER_ROLL_DONE, NULL },
                { CLUSTER_ROLL_ABORTED, NULL },
        };

        ck_assert_int_eq(cluster_roll_may_replace(NULL, NULL), 1);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(cluster_roll_done) ClusterRoll r = {};
                _cleanup_free_ char *refusal = NULL;

                roll_of(cases[i].state, "[]", "[]", &r);
                ck_assert_int_eq(cluster_roll_may_replace(&r, &refusal), !cases[i].refusal);
                if (cases[i].refusal)
                        ck_assert_str_eq(refusal, cases[i].refusal);
                else
                        ck_assert_ptr_null(refusal);
        }
}
END_TEST

START_TEST(test_roll_may_revert) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {};
        _cleanup_free_ char *refusal = NULL;

        ck_assert_int_eq(cluster_roll_may_revert(NULL, "h1", &refusal), 0);
        ck_assert_str_eq(refusal, "no roll is under way in the cluster");
        roll_of(CLUSTER_ROLL_ABORTING, "[\"h1\"]", "[]", &r);
        ck_assert_int_eq(cluster_roll_may_revert(&r, "h1", &refusal), 1);
        ck_assert_int_eq(cluster_roll_may_revert(&r, "h2", &refusal), 0);
        ck_assert_str_eq(
                refusal, "this host (h2) has nothing to revert: it is not upgraded in the roll to 1.5.0");
        cluster_roll_done(&r);
        roll_of(CLUSTER_ROLL_PAUSED, "[\"h1\"]", "[]", &r);
        ck_assert_int_eq(cluster_roll_may_revert(&r, "h1", &refusal), 0);
        ck_assert_str_eq(refusal, "the roll to 1.5.0 is paused, not aborting");
}
END_TEST

/* ---- rolling or coordinated ---- */

static const struct {
        const char *from, *to, *path, *migrations;
        bool rolling;
        const char *refusal;
} rolling[] = {
        { "1.4.2", "1.4.3", "1.4.3", "[]", true, NULL },
        { "1.4.2", "1.5.0", "1.5.0", "[{\"id\": \"20260401_add_index\", \"breaking\": false}]", true, NULL },
        { "1.5.0-rc.1", "1.5.0", "1.5.0", NULL, true, NULL },
        { "1.4.2",
          "2.0.0",
          "2.0.0",
          "[]",
          true,
          "1.4.2 to 2.0.0 is a major upgrade: use codebolt-upgrade cluster start --coordinated" },
        { "1.5.0", "1.5.0", "1.5.0", "[]", true, "1.5.0 to 1.5.0 is no upgrade: there is nothing to roll" },
        { "1.5.0", "1.4.0", "1.4.0", "[]", true, "1.5.0 to 1.4.0 is no upgrade: there is nothing to roll" },
        { "1.4.2",
          "1.6.0",
          "",
          "[]",
          true,
          "no upgrade path from 1.4.2 to 1.6.0 is known: there is nothing to roll" },
        { "1.4.2",
          "1.6.0",
          "1.5.3 1.6.0",
          "[]",
          true,
          "the upgrade from 1.4.2 to 1.6.0 goes through 1.5.3: roll one step at a time, or use "
          "codebolt-upgrade "
          "cluster start --coordinated" },
        { "1.4.2",
          "1.7.0",
          "1.5.3 1.6.1 1.7.0",
          "[]",
          true,
          "the upgrade from 1.4.2 to 1.7.0 goes through 1.5.3, 1.6.1: roll one step at a time, or use "
          "codebolt-upgrade cluster start --coordinated" },
        { "1.4.2",
          "1.5.0",
          "1.5.0",
          "[{\"id\": \"20260401_add_index\", \"breaking\": false}, {\"id\": \"20260501_rewrite_history\", "
          "\"breaking\": true}]",
          true,
          "20260501_rewrite_history is breaking: use codebolt-upgrade cluster start --coordinated" },
        { "1.4.2",
          "1.5.0",
          "1.5.0",
          "[{\"id\": \"20260501_rewrite_history\"}]",
          true,
          "20260501_rewrite_history does not say whether it is breaking (counted as breaking): use "
          "codebolt-upgrade cluster start --coordinated" },
        { "1.4.2",
          "1.5.0",
          "1.5.0",
          "[{\"id\": \"x\", \"breaking\": \"no\"}]",
          true,
          "x does not say whether it is breaking (counted as breaking): use codebolt-upgrade cluster start "
          "--coordinated" },
        { "1.4.2",
          "1.5.0",
          "1.5.0",
          "[{\"breaking\": false}]",
          true,
          "a migration on the path has no id (counted as breaking): use codebolt-upgrade cluster start "
          "--coordinated" },
        { "1.4.2",
          "1.5.0",
          "1.5.0",
          "[42]",
          true,
          "a migration on the path has no id (counted as breaking): use codebolt-upgrade cluster start "
          "--coordinated" },
        { "1.4.2",
          "1.5.0",
          "1.5.0",
          "{}",
          true,
          "the migrations on the path are no list (counted as breaking): use codebolt-upgrade cluster start "
          "--coordinated" },
        { "1.4.2",
          "1.5.0",
          "1.5.0",
          "[]",
          false,
          "1.5.0 does not declare codebolt.rolling: use codebolt-upgrade cluster start --coordinated" },
};

START_TEST(test_rolling_allowed) {
        _cleanup_(semver_done) SemVer from = {};
        _cleanup_strv_free_ char **path = NULL;
        _cleanup_json_ cJSON *migrations = rolling[_i].migrations ? json(rolling[_i].migrations) : NULL;
        _cleanup_free_ char *refusal = NULL, *p = strdup(rolling[_i].path);
        Release to = { .version = rolling[_i].to, .rolling = rolling[_i].rolling };

        ck_assert_int_eq(semver_parse(rolling[_i].from, &from), 0);
        ck_assert_int_eq(semver_parse(rolling[_i].to, &to.v), 0);
        path = calloc(1, sizeof(char *));
        for (char *save = NULL, *t = strtok_r(p, " ", &save); t; t = strtok_r(NULL, " ", &save))
                ck_assert_int_eq(strv_push(&path, t), 0);

        ck_assert_int_eq(
                cluster_rolling_allowed(&from, &to, path, migrations, &refusal), !rolling[_i].refusal);
        if (rolling[_i].refusal)
                ck_assert_str_eq(refusal, rolling[_i].refusal);
        else
                ck_assert_ptr_null(refusal);
        ck_assert_int_eq(cluster_rolling_allowed(&from, &to, path, migrations, NULL), !rolling[_i].refusal);
        semver_done(&to.v);
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
        tcase_add_test(tc, test_sem_take_fresh);
        tcase_add_test(tc, test_sem_take_busy);
        tcase_add_test(tc, test_sem_slots_change);
        tcase_add_test(tc, test_sem_slots_raised);
        tcase_add_test(tc, test_sem_release);
        tcase_add_test(tc, test_sem_invalid);
        tcase_add_test(tc, test_roll_upgraded);
        tcase_add_test(tc, test_roll_upgraded_states);
        tcase_add_test(tc, test_roll_failed);
        tcase_add_test(tc, test_roll_reverted);
        tcase_add_test(tc, test_roll_stopped);
        tcase_add_test(tc, test_roll_stopped_malformed);
        tcase_add_test(tc, test_roll_failed_coordinated);
        tcase_add_test(tc, test_roll_complete);
        tcase_add_test(tc, test_roll_pause_resume);
        tcase_add_test(tc, test_roll_abort);
        tcase_add_loop_test(tc, test_roll_may_start, 0, ELEMENTSOF(may_start));
        tcase_add_test(tc, test_roll_may_start_none);
        tcase_add_test(tc, test_roll_may_replace);
        tcase_add_test(tc, test_roll_may_revert);
        tcase_add_loop_test(tc, test_rolling_allowed, 0, ELEMENTSOF(rolling));
        tcase_add_loop_test(tc, test_follow_decide, 0, ELEMENTSOF(follow));
        tcase_add_test(tc, test_follow_decide_no_roll);
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
