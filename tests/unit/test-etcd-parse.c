/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-etcd-parse.c: etcd-parse module: the wire's base64 and integers, and the parsers on hand-written
 * and recorded answers */
#define _GNU_SOURCE
#include <check.h>
#include <inttypes.h>

#include "etcd-parse.h"
#include "json-util.h"
#include "test-util.h"

#define HEADER "\"header\":{\"cluster_id\":\"1\",\"member_id\":\"2\",\"revision\":\"7\",\"raft_term\":\"2\"}"
#define BODY(...) "{" HEADER __VA_ARGS__ "}"

/* ---- the parsers ---- */

static int parse_range(const char *body, EtcdKv **ret, size_t *ret_n, int64_t *ret_revision) {
        return etcd_parse_range(body, strlen(body), ret, ret_n, ret_revision);
}

START_TEST(test_parse_range) {
        const char *body = BODY(
                ",\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":\"2\",\"mod_revision\":\"4\",\"version\":"
                "\"2\","
                "\"value\":\"YmF6\"},{\"key\":\"Zm9vL2I=\",\"create_revision\":3,\"mod_revision\":5,"
                "\"version\":1,\"lease\":\"4111120478086866963\"},{\"key\":\"Zm9vL2M=\"}],\"count\":\"3\"");
        EtcdKv *kvs = NULL;
        size_t n = 0;
        int64_t rev = 0;

        ck_assert_int_eq(parse_range(body, &kvs, &n, &rev), 0);
        ck_assert_uint_eq(n, 3);
        ck_assert_int_eq(rev, 7);
        ck_assert_str_eq(kvs[0].key, "foo");
        ck_assert_str_eq(kvs[0].value, "baz");
        ck_assert_uint_eq(kvs[0].value_size, 3);
        ck_assert_int_eq(kvs[0].create_revision, 2);
        ck_assert_int_eq(kvs[0].mod_revision, 4);
        ck_assert_int_eq(kvs[0].version, 2);
        ck_assert_int_eq(kvs[0].lease, 0);
        /* numbers as JSON numbers are taken too; a lease id needs all 64 bits */
        ck_assert_str_eq(kvs[1].key, "foo/b");
        ck_assert_int_eq(kvs[1].create_revision, 3);
        ck_assert_int_eq(kvs[1].version, 1);
        ck_assert_int_eq(kvs[1].lease, INT64_C(4111120478086866963));
        /* an empty value: the gateway leaves "value" out */
        ck_assert_str_eq(kvs[2].key, "foo/c");
        ck_assert_str_eq(kvs[2].value, "");
        ck_assert_uint_eq(kvs[2].value_size, 0);
        etcd_kvs_free(kvs, n);
}
END_TEST

START_TEST(test_parse_range_none) {
        EtcdKv *kvs = (EtcdKv *)0x1;
        size_t n = 99;
        int64_t rev = 0;

        /* no match: no "kvs" at all */
        ck_assert_int_eq(parse_range(BODY(), &kvs, &n, &rev), 0);
        ck_assert_ptr_null(kvs);
        ck_assert_uint_eq(n, 0);
        ck_assert_int_eq(rev, 7);
        ck_assert_int_eq(parse_range(BODY(",\"kvs\":[]"), &kvs, &n, NULL), 0);
        ck_assert_ptr_null(kvs);
        ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(test_parse_range_values) {
        EtcdKv *kvs = NULL;
        size_t n = 0;

        /* bytes: 0xff, a NUL inside the value, one and two padding characters */
        ck_assert_int_eq(
                parse_range(
                        BODY(",\"kvs\":[{\"key\":\"YQ==\",\"value\":\"/w==\"},{\"key\":\"YWI=\",\"value\":"
                             "\"YQBi\"}]"),
                        &kvs,
                        &n,
                        NULL),
                0);
        ck_assert_uint_eq(n, 2);
        ck_assert_str_eq(kvs[0].key, "a");
        ck_assert_uint_eq(kvs[0].value_size, 1);
        ck_assert_int_eq((unsigned char)kvs[0].value[0], 0xff);
        ck_assert_str_eq(kvs[1].key, "ab");
        ck_assert_uint_eq(kvs[1].value_size, 3);
        ck_assert_mem_eq(kvs[1].value, "a\0b", 4);
        etcd_kvs_free(kvs, n);
}
END_TEST

START_TEST(test_parse_range_bad) {
        static const char *const bad[] = {
                "",
                "not json",
                "[1,2]",
                "{}", /* no header */
                "{\"header\":{}}",
                "{\"header\":{\"revision\":\"x\"}}",
                "{\"header\":{\"revision\":\" 7\"}}",
                "{\"header\":{\"revision\":\"+7\"}}",
                "{\"header\":{\"revision\":\"7a\"}}",
                "{\"header\":{\"revision\":\"99999999999999999999\"}}",
                "{\"header\":{\"revision\":7.5}}",
                "{\"header\":{\"revision\":true}}",
                "{\"header\":{\"revision\":\"-\"}}",
                BODY(",\"kvs\":{}"),
                BODY(",\"kvs\":[1]"),
                BODY(",\"kvs\":[{\"value\":\"YmF6\"}]"), /* a kv without a key */
                BODY(",\"kvs\":[{\"key\":\"\"}]"),
                BODY(",\"kvs\":[{\"key\":null}]"),
                BODY(",\"kvs\":[{\"key\":5}]"),
                BODY(",\"kvs\":[{\"key\":\"Zm9v!!\"}]"), /* bad base64 */
                BODY(",\"kvs\":[{\"key\":\"Zm9\"}]"),
                BODY(",\"kvs\":[{\"key\":\"Zm9=\"}]"), /* bits the padding drops are not zero */
                BODY(",\"kvs\":[{\"key\":\"Zm 9v\"}]"),
                BODY(",\"kvs\":[{\"key\":\"Zm9v\\n\"}]"),
                BODY(",\"kvs\":[{\"key\":\"=m9v\"}]"),
                BODY(",\"kvs\":[{\"key\":\"Zg==Zg==\"}]"),
                BODY(",\"kvs\":[{\"key\":\"YQBi\"}]"), /* a NUL in the key */
                BODY(",\"kvs\":[{\"key\":\"Zm9v\",\"value\":5}]"),
                BODY(",\"kvs\":[{\"key\":\"Zm9v\",\"value\":\"***\"}]"),
                BODY(",\"kvs\":[{\"key\":\"Zm9v\",\"version\":true}]"),
                BODY(",\"kvs\":[{\"key\":\"Zm9v\",\"version\":\"1e3\"}]"),
                BODY(",\"kvs\":[{\"key\":\"Zm9v\",\"lease\":1e300}]"),
                BODY(",\"kvs\":[{\"key\":\"Zm9v\"},{\"key\":\"Zm9v\",\"mod_revision\":[]}]"),
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                EtcdKv *kvs = (EtcdKv *)0x1;
                size_t n = 99;

                ck_assert_msg(parse_range(bad[i], &kvs, &n, NULL) == -EBADMSG, "accepted: %s", bad[i]);
                ck_assert_ptr_eq(kvs, (EtcdKv *)0x1);
                ck_assert_uint_eq(n, 99);
        }
}
END_TEST

START_TEST(test_parse_txn) {
        static const char ok[] = BODY(",\"succeeded\":true,\"responses\":[{\"response_put\":{}}]");
        bool s = false;

        ck_assert_int_eq(etcd_parse_txn(ok, strlen(ok), &s), 0);
        ck_assert(s);
        /* a failed compare: "succeeded" left out */
        ck_assert_int_eq(etcd_parse_txn(BODY(), strlen(BODY()), &s), 0);
        ck_assert(!s);
        s = true;
        ck_assert_int_eq(
                etcd_parse_txn(BODY(",\"succeeded\":false"), strlen(BODY(",\"succeeded\":false")), &s), 0);
        ck_assert(!s);

        static const char *const bad[] = {
                "",
                "{",
                "{}",
                "{\"succeeded\":true}",
                BODY(",\"succeeded\":\"true\""),
                BODY(",\"succeeded\":1"),
                "{\"error\":\"etcdserver: too many operations in txn request\",\"code\":3}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(
                        etcd_parse_txn(bad[i], strlen(bad[i]), &s) == -EBADMSG, "accepted: %s", bad[i]);
}
END_TEST

static int parse_error(const char *body, char **ret_message) {
        return etcd_parse_error(body, strlen(body), ret_message);
}

START_TEST(test_parse_error) {
        _cleanup_free_ char *m1 = NULL, *m2 = NULL, *m3 = NULL, *m4 = NULL, *m5 = NULL, *m6 = NULL,
                            *m7 = NULL;

        ck_assert_int_eq(
                parse_error(
                        "{\"error\":\"etcdserver: requested lease not found\",\"message\":\"etcdserver: "
                        "requested lease not found\",\"code\":5}",
                        &m1),
                -ENOENT);
        ck_assert_str_eq(m1, "etcdserver: requested lease not found");
        ck_assert_int_eq(
                parse_error(
                        "{\"error\":\"etcdserver: invalid auth token\",\"message\":\"etcdserver: invalid "
                        "auth "
                        "token\",\"code\":16}",
                        &m2),
                -EACCES);
        /* auth failures etcd gives code 3 (InvalidArgument): told by their message */
        ck_assert_int_eq(
                parse_error(
                        "{\"error\":\"etcdserver: user name is empty\",\"message\":\"etcdserver: user name "
                        "is "
                        "empty\",\"code\":3}",
                        NULL),
                -EACCES);
        ck_assert_int_eq(
                parse_error(
                        "{\"error\":\"x\",\"message\":\"etcdserver: authentication failed, invalid user ID "
                        "or "
                        "password\",\"code\":3}",
                        NULL),
                -EACCES);
        ck_assert_int_eq(
                parse_error("{\"error\":\"etcdserver: permission denied\",\"code\":7}", &m3), -EPERM);
        ck_assert_str_eq(m3, "etcdserver: permission denied");
        ck_assert_int_eq(
                parse_error(
                        "{\"error\":\"illegal base64 data at input byte 4\",\"message\":\"illegal base64 "
                        "data at input byte 4\",\"code\":3}",
                        &m4),
                -EREMOTEIO);
        ck_assert_str_eq(m4, "illegal base64 data at input byte 4");
        /* the form a stream fails with */
        ck_assert_int_eq(
                parse_error(
                        "{\"error\":{\"grpc_code\":5,\"http_code\":404,\"message\":\"etcdserver: requested "
                        "lease not found\",\"http_status\":\"Not Found\"}}",
                        &m5),
                -ENOENT);
        ck_assert_str_eq(m5, "etcdserver: requested lease not found");
        /* a message on one line; none at all */
        ck_assert_int_eq(parse_error("{\"error\":\"two\\nlines\",\"code\":13}", &m6), -EREMOTEIO);
        ck_assert_str_eq(m6, "two lines");
        ck_assert_int_eq(parse_error("{\"error\":{},\"code\":\"x\"}", &m7), -EREMOTEIO);
        ck_assert_str_eq(m7, "etcd error (code 0)");

        /* a long message is cut */
        _cleanup_free_ char *long_body = NULL, *m8 = NULL;
        ck_assert_int_ge(asprintf(&long_body, "{\"error\":\"%05000d\",\"code\":2}", 0), 0);
        ck_assert_int_eq(parse_error(long_body, &m8), -EREMOTEIO);
        ck_assert_uint_eq(strlen(m8), 1024);

        /* no error */
        static const char *const none[] = {
                "",
                "garbage",
                "[]",
                "{}",
                BODY(",\"succeeded\":true"),
                BODY(",\"ID\":\"1\",\"TTL\":\"10\",\"error\":\"\""),
                "{\"result\":{" HEADER ",\"created\":true}}",
                "{\"error\":null}",
        };
        for (size_t i = 0; i < ELEMENTSOF(none); i++) {
                char *m = (char *)0x1;

                ck_assert_msg(parse_error(none[i], &m) == 0, "an error: %s", none[i]);
                ck_assert_ptr_eq(m, (char *)0x1);
        }
}
END_TEST

/* a recorded answer (tests/fixtures/etcd/) */
static char *fixture(const char *name, size_t *ret_size) {
        return test_read_fixture(FIXTURES, "etcd", name, ret_size);
}

START_TEST(test_parse_recorded) {
        static const struct {
                const char *name;
                int error;
        } errors[] = {
                { "error-lease.json", -ENOENT },    { "error-token.json", -EACCES },
                { "error-no-user.json", -EACCES },  { "error-base64.json", -EREMOTEIO },
                { "error-stream.json", -ENOENT },   { "range.json", 0 },
                { "txn-failed.json", 0 },           { "lease-grant.json", 0 },
                { "lease-keepalive-gone.json", 0 }, { "authenticate.json", 0 },
        };
        _cleanup_free_ char *prefix = NULL, *none = NULL, *ok = NULL, *failed = NULL;
        EtcdKv *kvs = NULL;
        size_t size, n = 0;
        int64_t rev = 0;
        bool s = false;

        prefix = fixture("range-prefix.json", &size);
        ck_assert_int_eq(etcd_parse_range(prefix, size, &kvs, &n, &rev), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_int_eq(rev, 7);
        ck_assert_str_eq(kvs[0].key, "/codebolt-upgrade/prod/hosts/aa");
        ck_assert_str_eq(kvs[0].value, "{\"version\":\"1.5.0\"}");
        ck_assert_int_eq(kvs[0].lease, INT64_C(4111120478086866963));
        ck_assert_str_eq(kvs[1].key, "/codebolt-upgrade/prod/hosts/bb");
        ck_assert_int_eq(kvs[1].version, 2);
        etcd_kvs_free(kvs, n);

        none = fixture("range-none.json", &size);
        ck_assert_int_eq(etcd_parse_range(none, size, &kvs, &n, NULL), 0);
        ck_assert_uint_eq(n, 0);

        ok = fixture("txn-succeeded.json", &size);
        ck_assert_int_eq(etcd_parse_txn(ok, size, &s), 0);
        ck_assert(s);
        failed = fixture("txn-failed.json", &size);
        ck_assert_int_eq(etcd_parse_txn(failed, size, &s), 0);
        ck_assert(!s);

        for (size_t i = 0; i < ELEMENTSOF(errors); i++) {
                _cleanup_free_ char *body = fixture(errors[i].name, &size), *m = NULL;

                ck_assert_msg(
                        etcd_parse_error(body, size, &m) == errors[i].error,
                        "%s: not %d",
                        errors[i].name,
                        errors[i].error);
                ck_assert(!m == !errors[i].error);
        }
}
END_TEST

START_TEST(test_wire) {
        _cleanup_json_ cJSON *o = cJSON_Parse("{\"s\":\"-42\",\"n\":7,\"z\":null,\"bad\":\" "
                                              "1\",\"plus\":\"+1\",\"big\":\"99999999999999999999\"}");
        _cleanup_free_ char *b = etcd_base64_encode("ab\0c", 4), *e = etcd_base64_encode("", 0),
                            *line = etcd_one_line("two\nlines\t");
        int64_t v = 1;

        ck_assert_str_eq(b, "YWIAYw==");
        ck_assert_str_eq(e, "");
        ck_assert_str_eq(line, "two lines ");
        ck_assert_int_eq(etcd_parse_int64(o, "s", &v), 0);
        ck_assert_int_eq(v, -42);
        ck_assert_int_eq(etcd_parse_int64(o, "n", &v), 0);
        ck_assert_int_eq(v, 7);
        ck_assert_int_eq(etcd_parse_int64(o, "z", &v), 0);
        ck_assert_int_eq(v, 0);
        ck_assert_int_eq(etcd_parse_int64(o, "absent", &v), 0);
        ck_assert_int_eq(etcd_parse_int64(o, "bad", &v), -EBADMSG);
        ck_assert_int_eq(etcd_parse_int64(o, "plus", &v), -EBADMSG);
        ck_assert_int_eq(etcd_parse_int64(o, "big", &v), -EBADMSG);

        ck_assert_int_eq(etcd_error_to_errno(5, NULL), -ENOENT);
        ck_assert_int_eq(etcd_error_to_errno(7, NULL), -EPERM);
        ck_assert_int_eq(etcd_error_to_errno(3, "etcdserver: authentication failed"), -EACCES);
        ck_assert_int_eq(etcd_error_to_errno(3, "other"), -EREMOTEIO);
}
END_TEST

START_TEST(test_object_and_header) {
        _cleanup_json_ cJSON *ok = etcd_parse_object(BODY(), strlen(BODY())),
                             *array = etcd_parse_object("[1]", 3), *no_header = etcd_parse_object("{}", 2);
        int64_t rev = 0;

        ck_assert_ptr_nonnull(ok);
        ck_assert_ptr_null(array);
        ck_assert_ptr_null(etcd_parse_object(NULL, 0));
        ck_assert_int_eq(etcd_parse_header(ok, &rev), 0);
        ck_assert_int_eq(rev, 7);
        ck_assert_int_eq(etcd_parse_header(no_header, &rev), -EBADMSG);
}
END_TEST

static Suite *etcd_parse_suite(void) {
        Suite *s = suite_create("etcd-parse");
        TCase *parse = tcase_create("parse");

        tcase_add_test(parse, test_wire);
        tcase_add_test(parse, test_object_and_header);
        tcase_add_test(parse, test_parse_range);
        tcase_add_test(parse, test_parse_range_none);
        tcase_add_test(parse, test_parse_range_values);
        tcase_add_test(parse, test_parse_range_bad);
        tcase_add_test(parse, test_parse_txn);
        tcase_add_test(parse, test_parse_error);
        tcase_add_test(parse, test_parse_recorded);
        suite_add_tcase(s, parse);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(etcd_parse_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
