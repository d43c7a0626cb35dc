/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-smoke-steps.c: the smoke steps file, ${var} substitution and JSON paths */
#define _GNU_SOURCE
#include <check.h>

#include "json-util.h"
#include "smoke-steps.h"
#include "state.h"

static const char *const predefined[] = { "user", "password", NULL };

static cJSON *parse(const char *s) {
        cJSON *j = cJSON_Parse(s);
        ck_assert_msg(j, "bad test JSON: %s", s);
        return j;
}

/* parse text and expect failure with an error containing want */
static void assert_parse_fails(const char *text, const char *want) {
        SmokeSteps s = {};
        _cleanup_free_ char *error = NULL;
        int r;

        r = smoke_steps_parse(text, predefined, &s, &error);
        ck_assert_int_lt(r, 0);
        ck_assert_ptr_null(s.steps);
        ck_assert_ptr_nonnull(error);
        ck_assert_msg(strstr(error, want), "error '%s' does not mention '%s'", error, want);
}

START_TEST(test_shipped_steps) {
        _cleanup_(smoke_steps_done) SmokeSteps s = {};
        _cleanup_free_ char *text = NULL, *error = NULL;

        ck_assert_int_eq(state_read_file(FIXTURES "/../../data/smoke-steps.json", &text, NULL), 0);
        ck_assert_msg(smoke_steps_parse(text, predefined, &s, &error) == 0, "%s", strempty(error));
        ck_assert_uint_eq(s.n_steps, 5);

        ck_assert_str_eq(s.steps[0].method, "POST");
        ck_assert_str_eq(s.steps[0].path, "/api/auth/login");
        ck_assert(!s.steps[0].auth);
        ck_assert(smoke_json_uses_variable(s.steps[0].body, "password"));
        ck_assert_str_eq(json_get_string(s.steps[0].save, "token"), "token");

        ck_assert_str_eq(s.steps[1].method, "GET");
        ck_assert_str_eq(json_get_string(s.steps[1].save, "project"), "0.id");
        ck_assert(s.steps[1].auth);
        ck_assert_str_eq(s.steps[2].path, "/api/projects/${project}");
        ck_assert_int_eq(s.steps[3].expect, 202);
        ck_assert_ptr_nonnull(s.steps[4].until);
        ck_assert_ptr_nonnull(s.steps[4].fail_if);
        ck_assert_uint_eq(s.steps[4].interval, USEC_PER_SEC);
        for (size_t i = 0; i < s.n_steps; i++)
                ck_assert(!smoke_uses_variable(s.steps[i].path, "password"));
}
END_TEST

START_TEST(test_parse_defaults) {
        _cleanup_(smoke_steps_done) SmokeSteps s = {};

        ck_assert_int_eq(smoke_steps_parse("{\"steps\":[{\"path\":\"/health\"}]}", NULL, &s, NULL), 0);
        ck_assert_uint_eq(s.n_steps, 1);
        ck_assert_str_eq(s.steps[0].name, "step 1");
        ck_assert_str_eq(s.steps[0].method, "GET");
        ck_assert_int_eq(s.steps[0].expect, 200);
        ck_assert(s.steps[0].auth);
        ck_assert_ptr_null(s.steps[0].body);
        ck_assert_ptr_null(s.steps[0].save);
        ck_assert_ptr_null(s.steps[0].until);
}
END_TEST

START_TEST(test_parse_interval) {
        _cleanup_(smoke_steps_done) SmokeSteps s = {};

        ck_assert_int_eq(
                smoke_steps_parse(
                        "{\"steps\":[{\"path\":\"/x\",\"interval\":0.25,\"until\":{\"a\":1}}]}",
                        NULL,
                        &s,
                        NULL),
                0);
        ck_assert_uint_eq(s.steps[0].interval, USEC_PER_SEC / 4);
}
END_TEST

START_TEST(test_parse_errors) {
        SmokeSteps s = {};
        int r;

        r = smoke_steps_parse("{\"steps\": [", predefined, &s, NULL);
        ck_assert_int_eq(r, -EBADMSG);

        assert_parse_fails("[]", "must be an object");
        assert_parse_fails("{\"steps\":[]}", "non-empty array");
        assert_parse_fails("{\"steps\":[{\"path\":\"/\"}],\"extra\":1}", "unknown key 'extra'");
        assert_parse_fails("{\"steps\":[{\"name\":\"a\"}]}", "step 1 (a): path");
        assert_parse_fails("{\"steps\":[{\"path\":\"http://x/\"}]}", "path");
        assert_parse_fails("{\"steps\":[{\"path\":\"/a b\"}]}", "path");
        assert_parse_fails("{\"steps\":[{\"path\":\"/\",\"method\":\"get\"}]}", "method");
        assert_parse_fails("{\"steps\":[{\"path\":\"/\",\"method\":\"TRACE\"}]}", "method");
        assert_parse_fails("{\"steps\":[{\"path\":\"/\",\"expect\":\"200\"}]}", "expect");
        assert_parse_fails("{\"steps\":[{\"path\":\"/\",\"expect\":42}]}", "expect");
        assert_parse_fails("{\"steps\":[{\"path\":\"/\",\"expect\":200.5}]}", "expect");
        assert_parse_fails("{\"steps\":[{\"path\":\"/\",\"interval\":0}]}", "interval");
        assert_parse_fails("{\"steps\":[{\"path\":\"/\",\"auth\":1}]}", "auth");
        assert_parse_fails("{\"steps\":[{\"path\":\"/\",\"until\":{}}]}", "until");
        assert_parse_fails("{\"steps\":[{\"path\":\"/\",\"fail_if\":[1]}]}", "fail_if");
        assert_parse_fails("{\"steps\":[{\"path\":\"/\",\"save\":{\"a-b\":\"x\"}}]}", "not a variable name");
        assert_parse_fails("{\"steps\":[{\"path\":\"/\",\"save\":{\"a\":1}}]}", "must be a string");
        assert_parse_fails("{\"steps\":[{\"path\":\"/\",\"sleep\":1}]}", "unknown key 'sleep'");
        assert_parse_fails("{\"steps\":[{\"path\":\"/\"},{\"name\":\"\",\"path\":\"/\"}]}", "step 2: name");
}
END_TEST

START_TEST(test_parse_references) {
        _cleanup_(smoke_steps_done) SmokeSteps s = {};

        /* a variable is usable once an earlier step saved it, not in the step that saves it */
        assert_parse_fails("{\"steps\":[{\"path\":\"/p/${project}\"}]}", "${project}");
        assert_parse_fails("{\"steps\":[{\"path\":\"/p/${id}\",\"save\":{\"id\":\"id\"}}]}", "${id}");
        assert_parse_fails(
                "{\"steps\":[{\"path\":\"/\",\"body\":{\"a\":[\"${nope}\"]}}]}", "body uses ${nope}");
        assert_parse_fails("{\"steps\":[{\"path\":\"/p/${x\"}]}", "malformed");
        assert_parse_fails("{\"steps\":[{\"path\":\"/p/${}\"}]}", "malformed");
        /* names are case-sensitive, as the substitution looks them up: ${Password} is not ${password} */
        assert_parse_fails("{\"steps\":[{\"path\":\"/\",\"body\":\"${Password}\"}]}", "${Password}");
        assert_parse_fails(
                "{\"steps\":[{\"path\":\"/\",\"save\":{\"id\":\"id\"}},{\"path\":\"/${ID}\"}]}", "${ID}");

        ck_assert_int_eq(
                smoke_steps_parse(
                        "{\"steps\":[{\"path\":\"/"
                        "a\",\"body\":{\"u\":\"${user}\"},\"save\":{\"id\":\"0.id\"}},"
                        "{\"path\":\"/b/${id}\"}]}",
                        predefined,
                        &s,
                        NULL),
                0);
        ck_assert_uint_eq(s.n_steps, 2);
        smoke_steps_done(&s);

        /* a saved "User" is a variable of its own beside the predefined "user" */
        ck_assert_int_eq(
                smoke_steps_parse(
                        "{\"steps\":[{\"path\":\"/a\",\"save\":{\"User\":\"id\"}},"
                        "{\"path\":\"/b/${User}/${user}\"}]}",
                        predefined,
                        &s,
                        NULL),
                0);
}
END_TEST

START_TEST(test_substitute) {
        _cleanup_json_ cJSON *vars = parse("{\"user\":\"smoke\",\"project\":7,\"ratio\":0.5,\"yes\":true,"
                                           "\"none\":null,\"obj\":{\"a\":1}}");
        _cleanup_free_ char *missing = NULL;
        char *s = NULL;

        ck_assert_int_eq(smoke_substitute("/api/projects/${project}", vars, &s, NULL), 0);
        ck_assert_str_eq(s, "/api/projects/7");
        free(s);

        ck_assert_int_eq(
                smoke_substitute("${user}:${user}/${ratio}/${yes}/${none}/${obj}", vars, &s, NULL), 0);
        ck_assert_str_eq(s, "smoke:smoke/0.5/true/null/{\"a\":1}");
        free(s);

        ck_assert_int_eq(smoke_substitute("no refs, a lone $ and {braces}", vars, &s, NULL), 0);
        ck_assert_str_eq(s, "no refs, a lone $ and {braces}");
        free(s);

        ck_assert_int_eq(smoke_substitute("", vars, &s, NULL), 0);
        ck_assert_str_eq(s, "");
        free(s);
        s = NULL;

        ck_assert_int_eq(smoke_substitute("/runs/${run}", vars, &s, &missing), -ENOENT);
        ck_assert_ptr_null(s);
        ck_assert_str_eq(missing, "run");

        ck_assert_int_eq(smoke_substitute("/runs/${run", vars, &s, NULL), -EINVAL);
        ck_assert_int_eq(smoke_substitute("/runs/${a.b}", vars, &s, NULL), -EINVAL);
        ck_assert_ptr_null(s);
}
END_TEST

START_TEST(test_substitute_path) {
        _cleanup_json_ cJSON *vars = parse("{\"run\":\"run-1a_b.c~\",\"odd\":\"a/b?c d%\\u00e9\",\"n\":12}");
        char *s = NULL;

        ck_assert_int_eq(smoke_substitute_path("/api/runs/${run}", vars, &s, NULL), 0);
        ck_assert_str_eq(s, "/api/runs/run-1a_b.c~");
        free(s);

        /* a value cannot add a segment, a query or a blank to the path */
        ck_assert_int_eq(smoke_substitute_path("/x/${odd}/${n}?q=1", vars, &s, NULL), 0);
        ck_assert_str_eq(s, "/x/a%2Fb%3Fc%20d%25%C3%A9/12?q=1");
        free(s);
}
END_TEST

START_TEST(test_substitute_json) {
        _cleanup_json_ cJSON *vars = parse("{\"user\":\"smoke\",\"password\":\"p\\\"w\",\"project\":7}");
        _cleanup_json_ cJSON *t =
                parse("{\"username\":\"${user}\",\"password\":\"${password}\",\"project\":\"${project}\","
                      "\"label\":\"project ${project}\",\"list\":[\"${project}\",1,false,null],\"n\":3}");
        _cleanup_json_ cJSON *bad = parse("{\"a\":{\"b\":\"${run}\"}}");
        _cleanup_json_ cJSON *out = NULL,
                             *want = parse("{\"username\":\"smoke\",\"password\":\"p\\\"w\",\"project\":7,"
                                           "\"label\":\"project 7\",\"list\":[7,1,false,null],\"n\":3}");
        _cleanup_free_ char *missing = NULL;
        cJSON *none = NULL;

        ck_assert_int_eq(smoke_substitute_json(t, vars, &out, NULL), 0);
        ck_assert_msg(cJSON_Compare(out, want, true), "got %s", cJSON_PrintUnformatted(out));
        /* a number substituted whole stays a number */
        ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(out, "project")));

        ck_assert_int_eq(smoke_substitute_json(bad, vars, &none, &missing), -ENOENT);
        ck_assert_ptr_null(none);
        ck_assert_str_eq(missing, "run");

        ck_assert(smoke_json_uses_variable(t, "password"));
        ck_assert(!smoke_json_uses_variable(t, "token"));
        ck_assert(smoke_uses_variable("/x/${token}/y", "token"));
        ck_assert(!smoke_uses_variable("/x/${tokens}", "token"));
        ck_assert(!smoke_uses_variable(NULL, "token"));
}
END_TEST

START_TEST(test_value_to_text) {
        _cleanup_json_ cJSON *j = parse("[1, -42, 1.5, 12345678901, \"s\", true, false, null, [1,2]]");
        const char *want[] = { "1", "-42", "1.5", "12345678901", "s", "true", "false", "null", "[1,2]" };

        for (int i = 0; i < (int)ELEMENTSOF(want); i++) {
                _cleanup_free_ char *s = smoke_value_to_text(cJSON_GetArrayItem(j, i));
                ck_assert_str_eq(s, want[i]);
        }
}
END_TEST

START_TEST(test_json_path) {
        _cleanup_json_ cJSON *j =
                parse("[{\"id\":3,\"name\":\"website\",\"tags\":[\"a\",\"b\"],\"x.y\":1},{\"id\":4}]");
        _cleanup_json_ cJSON *o =
                parse("{\"runId\":\"run-1\",\"0\":\"zero\",\"nested\":{\"deep\":{\"v\":null}}}");
        const cJSON *v;

        v = smoke_json_path(j, "0.id");
        ck_assert(cJSON_IsNumber(v) && v->valueint == 3);
        v = smoke_json_path(j, "1.id");
        ck_assert(cJSON_IsNumber(v) && v->valueint == 4);
        ck_assert_str_eq(smoke_json_path(j, "0.tags.1")->valuestring, "b");
        ck_assert_ptr_eq(smoke_json_path(j, ""), j);
        ck_assert_ptr_null(smoke_json_path(j, "2.id"));
        ck_assert_ptr_null(smoke_json_path(j, "00.id"));
        ck_assert_ptr_null(smoke_json_path(j, "-1.id"));
        ck_assert_ptr_null(smoke_json_path(j, "id"));
        ck_assert_ptr_null(smoke_json_path(j, "0.id.x"));
        ck_assert_ptr_null(smoke_json_path(j, "0."));
        ck_assert_ptr_null(smoke_json_path(j, "99999999999999.id"));

        ck_assert_str_eq(smoke_json_path(o, "runId")->valuestring, "run-1");
        /* an object member named "0" is a member, not an index */
        ck_assert_str_eq(smoke_json_path(o, "0")->valuestring, "zero");
        ck_assert(cJSON_IsNull(smoke_json_path(o, "nested.deep.v")));
        ck_assert_ptr_null(smoke_json_path(o, "nested.shallow"));
        ck_assert_ptr_null(smoke_json_path(NULL, "a"));
}
END_TEST

START_TEST(test_conditions) {
        _cleanup_json_ cJSON *running = parse("{\"id\":\"r\",\"status\":\"running\",\"n\":2}");
        _cleanup_json_ cJSON *done = parse("{\"id\":\"r\",\"status\":\"succeeded\",\"n\":2}");
        _cleanup_json_ cJSON *until = parse("{\"status\":\"succeeded\",\"n\":2}");
        _cleanup_json_ cJSON *fail_if = parse("{\"error\":true,\"status\":[\"failed\",\"cancelled\"]}");
        _cleanup_json_ cJSON *failed = parse("{\"status\":\"cancelled\"}");
        _cleanup_json_ cJSON *numeric = parse("{\"status\":\"2\"}");
        const char *path = NULL;

        ck_assert(!smoke_conditions_all(running, until));
        ck_assert(smoke_conditions_all(done, until));
        ck_assert(!smoke_conditions_any(running, fail_if, &path));
        ck_assert_ptr_null(path);
        ck_assert(smoke_conditions_any(failed, fail_if, &path));
        ck_assert_str_eq(path, "status");
        /* types must agree: "2" is not 2 */
        ck_assert(!smoke_conditions_all(numeric, until));
        /* no conditions: all hold, none holds */
        ck_assert(smoke_conditions_all(done, NULL));
        ck_assert(!smoke_conditions_any(done, NULL, NULL));
}
END_TEST

START_TEST(test_save) {
        _cleanup_json_ cJSON *vars = parse("{\"user\":\"smoke\",\"project\":1}");
        _cleanup_json_ cJSON *answer = parse("[{\"id\":5,\"name\":\"w\"}]");
        _cleanup_json_ cJSON *save = parse("{\"project\":\"0.id\",\"pname\":\"0.name\"}");
        _cleanup_json_ cJSON *save_bad = parse("{\"run\":\"runId\"}");
        const char *path = NULL;

        ck_assert_int_eq(smoke_save(answer, save, vars, NULL), 0);
        ck_assert_int_eq(cJSON_GetObjectItem(vars, "project")->valueint, 5);
        ck_assert_str_eq(json_get_string(vars, "pname"), "w");
        ck_assert_str_eq(json_get_string(vars, "user"), "smoke");

        /* "Project" is another variable than "project": both are kept */
        _cleanup_json_ cJSON *save_case = parse("{\"Project\":\"0.name\"}");
        ck_assert_int_eq(smoke_save(answer, save_case, vars, NULL), 0);
        ck_assert_str_eq(json_get_string(vars, "Project"), "w");
        ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(vars, "project")->valueint, 5);

        ck_assert_int_eq(smoke_save(answer, save_bad, vars, &path), -ENOENT);
        ck_assert_str_eq(path, "runId");
        ck_assert_int_eq(smoke_save(NULL, save_bad, vars, NULL), -ENOENT);
        ck_assert_int_eq(smoke_save(answer, NULL, vars, NULL), 0);
}
END_TEST

static Suite *smoke_steps_suite(void) {
        Suite *s = suite_create("smoke-steps");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_shipped_steps);
        tcase_add_test(tc, test_parse_defaults);
        tcase_add_test(tc, test_parse_interval);
        tcase_add_test(tc, test_parse_errors);
        tcase_add_test(tc, test_parse_references);
        tcase_add_test(tc, test_substitute);
        tcase_add_test(tc, test_substitute_path);
        tcase_add_test(tc, test_substitute_json);
        tcase_add_test(tc, test_value_to_text);
        tcase_add_test(tc, test_json_path);
        tcase_add_test(tc, test_conditions);
        tcase_add_test(tc, test_save);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(smoke_steps_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
