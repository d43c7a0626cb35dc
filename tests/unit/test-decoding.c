/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-decoding.c: test_decoding's output read, judged and turned into the replay's SQL */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoding.h"
#include "json-util.h"
#include "macro.h"

/* the tables at the stop, as delta_tables() gives them */
static cJSON *tables(void) {
        cJSON *t = cJSON_Parse(
                "{\"\\\"public\\\".\\\"users\\\"\": {\"columns\": {\"id\": \"integer\", \"name\": \"text\","
                " \"note\": \"text\", \"data\": \"bytea\", \"tags\": \"character varying[]\","
                " \"Odd \\\"Col\\\"\": \"numeric\", \"doubled\": \"integer\"},"
                " \"key\": [\"id\"], \"generated\": [\"doubled\"], \"always\": [\"id\"]},"
                "\"\\\"public\\\".\\\"event_log_2026\\\"\": {\"columns\": {\"at\": \"timestamp with time "
                "zone\","
                " \"what\": \"text\"}, \"key\": [], \"generated\": [], \"always\": []},"
                "\"\\\"We\\\"\\\"ird\\\".\\\"t\\u00e4ble\\\"\": {\"columns\": {\"a\": \"integer\", \"b\": "
                "\"integer\"},"
                " \"key\": [\"a\", \"b\"], \"generated\": [], \"always\": []}}");

        ck_assert_ptr_nonnull(t);
        return t;
}

static void parse_ok(const char *text, DecodingChange *c) {
        int r = decoding_parse(text, c);

        ck_assert_msg(r == 0, "%s: %d", text, r);
}

START_TEST(test_begin_commit_message) {
        _cleanup_(decoding_change_done) DecodingChange b = {}, c = {}, m = {};

        parse_ok("BEGIN", &b);
        ck_assert_int_eq(b.kind, DECODING_BEGIN);
        parse_ok("COMMIT", &c);
        ck_assert_int_eq(c.kind, DECODING_COMMIT);
        parse_ok("message: transactional: 1 prefix: p, sz: 1 content:x", &m);
        ck_assert_int_eq(m.kind, DECODING_MESSAGE);
}
END_TEST

START_TEST(test_insert_values) {
        _cleanup_(decoding_change_done) DecodingChange c = {};

        parse_ok(
                "table public.users: INSERT: id[integer]:1 name[text]:'O''Brien' note[text]:null "
                "data[bytea]:'\\x00ff' tags[character varying[]]:'{a,\"b c\"}' \"Odd "
                "\"\"Col\"\"\"[numeric]:-1.5e+10 "
                "doubled[integer]:2",
                &c);
        ck_assert_int_eq(c.kind, DECODING_INSERT);
        ck_assert_uint_eq(c.n_relations, 1);
        ck_assert_str_eq(c.relations[0].schema, "public");
        ck_assert_str_eq(c.relations[0].name, "users");
        ck_assert(c.has_tuple);
        ck_assert_uint_eq(c.tuple.n, 7);
        ck_assert_str_eq(c.tuple.columns[0].value, "1");
        ck_assert_str_eq(c.tuple.columns[1].value, "O'Brien");
        ck_assert_ptr_null(c.tuple.columns[2].value);
        ck_assert(!c.tuple.columns[2].unchanged);
        ck_assert_str_eq(c.tuple.columns[3].value, "\\x00ff");
        ck_assert_str_eq(c.tuple.columns[4].type, "character varying[]");
        ck_assert_str_eq(c.tuple.columns[4].value, "{a,\"b c\"}");
        ck_assert_str_eq(c.tuple.columns[5].name, "Odd \"Col\"");
        ck_assert_str_eq(c.tuple.columns[5].value, "-1.5e+10");
}
END_TEST

/* what a value may hold: the line breaks, quotes and bytes of any text */
START_TEST(test_hostile_values) {
        static const char *const values[] = {
                "",
                "'",
                "''",
                "a' b[text]:'c",
                "line\nbreak\r\n",
                "tab\there",
                "caf\xc3\xa9 \xf0\x9f\x98\x80",
                " new-tuple: x",
                "null",
                "unchanged-toast-datum",
                "\\\\x",
                "]:",
                "B'101'",
        };

        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                _cleanup_(decoding_change_done) DecodingChange c = {};
                _cleanup_free_ char *quoted = calloc(1, strlen(values[i]) * 2 + 3), *text = NULL;
                char *q = quoted;

                ck_assert_ptr_nonnull(quoted);
                *q++ = '\'';
                for (const char *p = values[i]; *p; p++) {
                        if (*p == '\'')
                                *q++ = '\'';
                        *q++ = *p;
                }
                *q = '\'';
                ck_assert_int_ge(
                        asprintf(
                                &text,
                                "table public.users: UPDATE: id[integer]:7 name[text]:%s note[text]:null",
                                quoted),
                        0);
                parse_ok(text, &c);
                ck_assert_uint_eq(c.tuple.n, 3);
                ck_assert_str_eq(c.tuple.columns[1].value, values[i]);
                ck_assert_ptr_null(c.tuple.columns[2].value);
        }
}
END_TEST

START_TEST(test_huge_value) {
        _cleanup_(decoding_change_done) DecodingChange c = {};
        _cleanup_free_ char *big = malloc(4 * 1024 * 1024 + 1), *text = NULL;

        ck_assert_ptr_nonnull(big);
        memset(big, 'x', 4 * 1024 * 1024);
        big[4 * 1024 * 1024] = 0;
        ck_assert_int_ge(
                asprintf(&text, "table public.users: INSERT: id[integer]:1 note[text]:'%s'", big), 0);
        parse_ok(text, &c);
        ck_assert_uint_eq(strlen(c.tuple.columns[1].value), 4 * 1024 * 1024);
}
END_TEST

START_TEST(test_bit_bool_unchanged) {
        _cleanup_(decoding_change_done) DecodingChange c = {};

        parse_ok(
                "table public.t: UPDATE: old-key: id[integer]:1 new-tuple: id[integer]:2 b[bit "
                "varying]:B'1010' "
                "ok[boolean]:true big[text]:unchanged-toast-datum",
                &c);
        ck_assert_int_eq(c.kind, DECODING_UPDATE);
        ck_assert(c.has_old_key);
        ck_assert_uint_eq(c.old_key.n, 1);
        ck_assert_str_eq(c.old_key.columns[0].value, "1");
        ck_assert_uint_eq(c.tuple.n, 4);
        ck_assert_str_eq(c.tuple.columns[1].value, "1010");
        ck_assert_str_eq(c.tuple.columns[2].value, "true");
        ck_assert(c.tuple.columns[3].unchanged);
        ck_assert_ptr_null(c.tuple.columns[3].value);
}
END_TEST

START_TEST(test_delete_truncate_no_tuple) {
        _cleanup_(decoding_change_done) DecodingChange d = {}, n = {}, t = {};

        parse_ok("table public.users: DELETE: id[integer]:3", &d);
        ck_assert_int_eq(d.kind, DECODING_DELETE);
        ck_assert(d.has_tuple);
        parse_ok("table public.event_log_2026: DELETE: (no-tuple-data)", &n);
        ck_assert(!n.has_tuple);
        parse_ok("table public.a, \"We\"\"ird\".\"täble\": TRUNCATE: restart_seqs cascade", &t);
        ck_assert_int_eq(t.kind, DECODING_TRUNCATE);
        ck_assert_uint_eq(t.n_relations, 2);
        ck_assert_str_eq(t.relations[1].schema, "We\"ird");
        ck_assert_str_eq(t.relations[1].name, "täble");
}
END_TEST

START_TEST(test_refused) {
        static const char *const bad[] = {
                "",
                "BEGIN 1234 junk",
                "table public: INSERT: id[integer]:1",
                "table public.users INSERT: id[integer]:1",
                "table public.users: INSERT: id[integer]:'unterminated",
                "table public.users: INSERT: id[integer:1",
                "table public.users: INSERT: id[]:1",
                "table public.users: INSERT: Id[integer]:1",
                "table public.users: INSERT: id[integer]:1;DROP TABLE x",
                "table public.users: INSERT: id[integer]:'a'b",
                "table public.users: INSERT:  id[integer]:1",
                "table public.users: UPSERT: id[integer]:1",
                "table public.users: UPDATE: old-key: id[integer]:1",
                "table a.b, c.d: INSERT: id[integer]:1",
                "table a.b: TRUNCATE: please",
                "table \"\".b: INSERT: x[integer]:1",
                "table public.users: INSERT: id[integer]:1 ",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                DecodingChange c = {};

                ck_assert_msg(decoding_parse(bad[i], &c) == -EBADMSG, "accepted: %s", bad[i]);
        }
}
END_TEST

static DecodingStatement statement_of(const char *text, const cJSON *t) {
        _cleanup_(decoding_change_done) DecodingChange c = {};
        DecodingStatement st = {};
        _cleanup_free_ char *why = NULL;

        parse_ok(text, &c);
        ck_assert_msg(decoding_check(&c, t, &why) == 0, "%s: %s", text, strempty(why));
        ck_assert_int_eq(decoding_statement(&c, t, &st), 0);
        return st;
}

START_TEST(test_statements) {
        _cleanup_json_ cJSON *t = tables();
        _cleanup_(decoding_statement_done) DecodingStatement ins = {}, upd = {}, key = {}, del = {},
                                                             sel = {}, tr = {}, ev = {};

        ins = statement_of(
                "table public.users: INSERT: id[integer]:1 name[text]:'x''; DROP TABLE users; --' "
                "note[text]:null doubled[integer]:2",
                t);
        ck_assert_str_eq(
                ins.sql,
                "INSERT INTO \"public\".\"users\" (\"id\", \"name\", \"note\") OVERRIDING SYSTEM VALUE "
                "VALUES ($1, $2, $3)");
        ck_assert_uint_eq(ins.n_params, 3);
        ck_assert_str_eq(ins.params[1], "x'; DROP TABLE users; --");
        ck_assert_ptr_null(ins.params[2]);
        ck_assert_int_eq(ins.expect_rows, -1);

        upd = statement_of(
                "table public.users: UPDATE: id[integer]:1 name[text]:'n' note[text]:unchanged-toast-datum "
                "doubled[integer]:4",
                t);
        ck_assert_str_eq(upd.sql, "UPDATE ONLY \"public\".\"users\" SET \"name\" = $1 WHERE \"id\" = $2");
        ck_assert_int_eq(upd.expect_rows, 1);
        ck_assert_str_eq(upd.params[1], "1");

        key = statement_of(
                "table \"We\"\"ird\".\"täble\": UPDATE: old-key: a[integer]:1 b[integer]:2 new-tuple: "
                "a[integer]:1 b[integer]:3",
                t);
        ck_assert_str_eq(
                key.sql,
                "UPDATE ONLY \"We\"\"ird\".\"täble\" SET \"a\" = $1, \"b\" = $2 WHERE \"a\" = $3 AND \"b\" "
                "= $4");
        ck_assert_str_eq(key.params[3], "2");

        sel = statement_of("table public.users: UPDATE: id[integer]:5 note[text]:unchanged-toast-datum", t);
        ck_assert_str_eq(sel.sql, "SELECT 1 FROM ONLY \"public\".\"users\" WHERE \"id\" = $1");
        ck_assert_int_eq(sel.expect_rows, 1);

        del = statement_of("table public.users: DELETE: id[integer]:9", t);
        ck_assert_str_eq(del.sql, "DELETE FROM ONLY \"public\".\"users\" WHERE \"id\" = $1");
        ck_assert_int_eq(del.expect_rows, 1);

        tr = statement_of("table public.users, public.event_log_2026: TRUNCATE: (no-flags)", t);
        ck_assert_str_eq(tr.sql, "TRUNCATE ONLY \"public\".\"users\", \"public\".\"event_log_2026\"");

        /* a table without a key still takes its INSERTs */
        ev = statement_of(
                "table public.event_log_2026: INSERT: at[timestamp with time zone]:'2026-12-06 "
                "19:00:00+00' what[text]:'x'",
                t);
        ck_assert_str_eq(
                ev.sql,
                "INSERT INTO \"public\".\"event_log_2026\" (\"at\", \"what\") OVERRIDING SYSTEM VALUE "
                "VALUES ($1, $2)");
}
END_TEST

/* what cannot be replayed exactly says why, and gets no statement */
START_TEST(test_not_replayable) {
        static const struct {
                const char *text, *why;
        } cases[] = {
                { "table public.event_log_2026: UPDATE: at[timestamp with time zone]:'2026-01-01 "
                  "00:00:00+00' "
                  "what[text]:'y'",
                  "no primary key or replica identity index" },
                { "table public.event_log_2026: DELETE: (no-tuple-data)", "no primary key" },
                { "table public.gone: INSERT: a[integer]:1", "not in the schema at the stop" },
                { "table public.users: INSERT: id[integer]:1 extra[text]:'x'", "has no column extra" },
                { "table public.users: INSERT: id[bigint]:1", "is integer at the stop, not bigint" },
                { "table public.users: DELETE: id[integer]:1 name[text]:'x'", "REPLICA IDENTITY FULL" },
                { "table public.users: DELETE: (no-tuple-data)", "no-tuple-data" },
                { "table public.users: UPDATE: old-key: id[integer]:1 new-tuple: id[integer]:2 "
                  "name[text]:'a'",
                  "changed its GENERATED ALWAYS column id" },
                { "table public.users: UPDATE: id[integer]:unchanged-toast-datum name[text]:'a'",
                  "without its key column id" },
                { "table public.users: INSERT: id[integer]:1 note[text]:unchanged-toast-datum",
                  "without the value of note" },
        };
        _cleanup_json_ cJSON *t = tables();

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(decoding_change_done) DecodingChange c = {};
                _cleanup_free_ char *why = NULL;
                DecodingStatement st = {};

                parse_ok(cases[i].text, &c);
                ck_assert_int_eq(decoding_check(&c, t, &why), 1);
                ck_assert_msg(strstr(why, cases[i].why), "%s: %s", cases[i].text, why);
                ck_assert_int_eq(decoding_statement(&c, t, &st), -EINVAL);
                ck_assert_ptr_null(st.sql);
        }
}
END_TEST

START_TEST(test_read_change) {
        _cleanup_fclose_ FILE *f = tmpfile();
        _cleanup_(decoding_change_done) DecodingChange a = {}, b = {};
        DecodingChange c = {};

        ck_assert_ptr_nonnull(f);
        fputs("{\"lsn\":\"0/1\",\"data\":\"table public.users: INSERT: id[integer]:1 "
              "name[text]:'a\\nb'\"}\n",
              f);
        fputs("{\"lsn\":\"0/2\",\"data\":\"COMMIT\"}\n", f);
        fputs("{\"lsn\":\"0/3\"}\n", f);
        rewind(f);
        ck_assert_int_eq(decoding_read_change(f, &a), 1);
        ck_assert_str_eq(a.tuple.columns[1].value, "a\nb");
        ck_assert_int_eq(decoding_read_change(f, &b), 1);
        ck_assert_int_eq(b.kind, DECODING_COMMIT);
        ck_assert_int_eq(decoding_read_change(f, &c), -EBADMSG);
        ck_assert_int_eq(decoding_read_change(f, &c), 0);
}
END_TEST

START_TEST(test_lsn_parse) {
        uint64_t v = 0;

        ck_assert_int_eq(decoding_lsn_parse("0/0", &v), 0);
        ck_assert_uint_eq(v, 0);
        ck_assert_int_eq(decoding_lsn_parse("16/B374D848", &v), 0);
        ck_assert_uint_eq(v, (UINT64_C(0x16) << 32) | 0xB374D848);
        ck_assert_int_eq(decoding_lsn_parse("FFFFFFFF/FFFFFFFF", &v), 0);
        ck_assert_uint_eq(v, UINT64_MAX);
        ck_assert_int_eq(decoding_lsn_parse("1/", &v), -EINVAL);
        ck_assert_int_eq(decoding_lsn_parse("/1", &v), -EINVAL);
        ck_assert_int_eq(decoding_lsn_parse("1/2/3", &v), -EINVAL);
        ck_assert_int_eq(decoding_lsn_parse("100000000/0", &v), -EINVAL);
        ck_assert_int_eq(decoding_lsn_parse("-1/0", &v), -EINVAL);
        ck_assert_int_eq(decoding_lsn_parse("", &v), -EINVAL);
        ck_assert_int_eq(decoding_lsn_parse(NULL, &v), -EINVAL);
}
END_TEST

/* a file read in parts is cut after the last transaction the slot will not give again */
START_TEST(test_resume_offset) {
        static const char part1[] =
                "{\"lsn\":\"0/10\",\"data\":\"BEGIN\"}\n"
                "{\"lsn\":\"0/11\",\"data\":\"table public.users: INSERT: id[integer]:1\"}\n"
                "{\"lsn\":\"0/1A\",\"data\":\"COMMIT\"}\n";
        static const char part2[] = "{\"lsn\":\"0/20\",\"data\":\"BEGIN\"}\n"
                                    "{\"lsn\":\"0/2A\",\"data\":\"COMMIT\"}\n";
        static const char partial[] = "{\"lsn\":\"0/30\",\"data\":\"BEGIN\"}\n"
                                      "{\"lsn\":\"0/38\",\"data\":\"COMMIT\"}\n"
                                      "{\"lsn\":\"0/40\",\"data\":\"BEG";
        _cleanup_fclose_ FILE *f = tmpfile();
        off_t off = -1;
        uint64_t lines = 99;

        ck_assert_ptr_nonnull(f);
        /* empty: start over */
        ck_assert_int_eq(decoding_resume_offset(fileno(f), "0/1A", &off, &lines), 0);
        ck_assert_int_eq(off, 0);
        ck_assert_uint_eq(lines, 0);

        ck_assert_int_ge(fputs(part1, f), 0);
        ck_assert_int_ge(fputs(part2, f), 0);
        ck_assert_int_ge(fputs(partial, f), 0);
        ck_assert_int_eq(fflush(f), 0);
        /* the slot at the first COMMIT, or between the two: the first transaction kept */
        ck_assert_int_eq(decoding_resume_offset(fileno(f), "0/1A", &off, &lines), 0);
        ck_assert_int_eq(off, (off_t)strlen(part1));
        ck_assert_uint_eq(lines, 3);
        ck_assert_int_eq(decoding_resume_offset(fileno(f), "0/25", &off, &lines), 0);
        ck_assert_int_eq(off, (off_t)strlen(part1));
        /* at or past the second (the WAL's position when the part was read: no later COMMIT in it) */
        ck_assert_int_eq(decoding_resume_offset(fileno(f), "0/2A", &off, &lines), 0);
        ck_assert_int_eq(off, (off_t)(strlen(part1) + strlen(part2)));
        ck_assert_uint_eq(lines, 5);
        ck_assert_int_eq(decoding_resume_offset(fileno(f), "0/37", &off, &lines), 0);
        ck_assert_int_eq(off, (off_t)(strlen(part1) + strlen(part2)));
        /* past the third: the line cut short is not a part of anything */
        ck_assert_int_eq(decoding_resume_offset(fileno(f), "1/0", &off, &lines), 0);
        ck_assert_int_eq(
                off,
                (off_t)(strlen(part1) + strlen(part2) + strlen(partial) -
                        strlen("{\"lsn\":\"0/40\",\"data\":\"BEG")));
        ck_assert_uint_eq(lines, 7);
        /* the slot where it began (before every COMMIT): start over */
        ck_assert_int_eq(decoding_resume_offset(fileno(f), "0/5", &off, &lines), 0);
        ck_assert_int_eq(off, 0);
        ck_assert_uint_eq(lines, 0);
        ck_assert_int_eq(decoding_resume_offset(fileno(f), "not an lsn", &off, &lines), -EINVAL);
}
END_TEST

/* the rows a change adds or takes, as the stop's counts follow from the dump's */
START_TEST(test_count_rows) {
        _cleanup_json_ cJSON *counts = cJSON_Parse("{\"public.users\": 2, \"public.event_log_2026\": 5}");
        static const char *const changes[] = {
                "table public.users: INSERT: id[integer]:3",
                "table public.users: UPDATE: id[integer]:3 name[text]:'x'",
                "table public.users: DELETE: id[integer]:1",
                "table public.users: INSERT: id[integer]:4",
                "table public.event_log_2026: TRUNCATE: (no-flags)",
                "table public.event_log_2026: INSERT: what[text]:'a'",
                "BEGIN",
        };
        _cleanup_(decoding_change_done) DecodingChange gone = {}, under = {};

        ck_assert_ptr_nonnull(counts);
        for (size_t i = 0; i < ELEMENTSOF(changes); i++) {
                _cleanup_(decoding_change_done) DecodingChange c = {};

                parse_ok(changes[i], &c);
                ck_assert_int_eq(decoding_count_rows(&c, counts), 0);
        }
        ck_assert_int_eq(cJSON_GetObjectItem(counts, "public.users")->valueint, 3);
        ck_assert_int_eq(cJSON_GetObjectItem(counts, "public.event_log_2026")->valueint, 1);

        parse_ok("table public.gone: INSERT: a[integer]:1", &gone);
        ck_assert_int_eq(decoding_count_rows(&gone, counts), -ENOENT);
        parse_ok("table public.event_log_2026: DELETE: at[text]:'x'", &under);
        ck_assert_int_eq(decoding_count_rows(&under, counts), 0);
        ck_assert_int_eq(decoding_count_rows(&under, counts), -ERANGE);
}
END_TEST

int main(void) {
        Suite *s = suite_create("decoding");
        TCase *tc = tcase_create("decoding");
        SRunner *sr;
        int failed;

        tcase_add_test(tc, test_begin_commit_message);
        tcase_add_test(tc, test_insert_values);
        tcase_add_test(tc, test_hostile_values);
        tcase_add_test(tc, test_huge_value);
        tcase_add_test(tc, test_bit_bool_unchanged);
        tcase_add_test(tc, test_delete_truncate_no_tuple);
        tcase_add_test(tc, test_refused);
        tcase_add_test(tc, test_statements);
        tcase_add_test(tc, test_not_replayable);
        tcase_add_test(tc, test_read_change);
        tcase_add_test(tc, test_lsn_parse);
        tcase_add_test(tc, test_resume_offset);
        tcase_add_test(tc, test_count_rows);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
