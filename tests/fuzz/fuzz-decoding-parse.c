/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-decoding-parse.c: one change as test_decoding prints it: decoding_parse(); a parsed change
 * printed again parses to the same; decoding_count_rows(); decoding_check() and decoding_statement()
 * agree, and a statement numbers exactly the parameters it carries */
#define _GNU_SOURCE
#include <errno.h>

#include "decoding.h"
#include "fuzz.h"
#include "json-util.h"
#include "macro.h"
#include "pg.h"

/* the tables the changes are judged against: keys, generated and identity columns, one without a key */
static const char tables_json[] =
        "{\"\\\"public\\\".\\\"items\\\"\": {\"columns\": {\"id\": \"bigint\", \"name\": \"text\", "
        "\"note\": "
        "\"text\", \"doubled\": \"bigint\"}, \"key\": [\"id\"], \"generated\": [\"doubled\"], \"always\": "
        "[\"id\"]}, \"\\\"public\\\".\\\"plain_log\\\"\": {\"columns\": {\"at\": \"timestamp with time "
        "zone\", "
        "\"what\": \"text\"}, \"key\": [], \"generated\": [], \"always\": []}, "
        "\"\\\"public\\\".\\\"Odd\\\"\\\"Name\\\"\": "
        "{\"columns\": {\"K ey\": \"text\", \"v\": \"integer\"}, \"key\": [\"K ey\"], \"generated\": [], "
        "\"always\": []}}";

static void print_quoted(FILE *f, const char *s, char quote) {
        fputc(quote, f);
        for (const char *p = s; *p; p++) {
                if (*p == quote)
                        fputc(quote, f);
                fputc(*p, f);
        }
        fputc(quote, f);
}

static void print_tuple(FILE *f, const DecodingTuple *t) {
        for (size_t i = 0; i < t->n; i++) {
                fputc(' ', f);
                print_quoted(f, t->columns[i].name, '"');
                fprintf(f, "[%s]:", t->columns[i].type);
                if (t->columns[i].unchanged)
                        fputs("unchanged-toast-datum", f);
                else if (!t->columns[i].value)
                        fputs("null", f);
                else
                        print_quoted(f, t->columns[i].value, '\'');
        }
}

/* c in test_decoding's form, every identifier and value quoted */
static char *print_change(const DecodingChange *c) {
        static const char *const actions[] = {
                [DECODING_INSERT] = "INSERT",
                [DECODING_UPDATE] = "UPDATE",
                [DECODING_DELETE] = "DELETE",
                [DECODING_TRUNCATE] = "TRUNCATE",
        };
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                abort();
        fputs("table ", f);
        for (size_t i = 0; i < c->n_relations; i++) {
                fputs(i > 0 ? ", " : "", f);
                print_quoted(f, c->relations[i].schema, '"');
                fputc('.', f);
                print_quoted(f, c->relations[i].name, '"');
        }
        fprintf(f, ": %s:", actions[c->kind]);
        if (c->kind == DECODING_TRUNCATE)
                fputs(" (no-flags)", f);
        else {
                if (c->has_old_key) {
                        fputs(" old-key:", f);
                        print_tuple(f, &c->old_key);
                        fputs(" new-tuple:", f);
                }
                if (c->has_tuple)
                        print_tuple(f, &c->tuple);
                else
                        fputs(" (no-tuple-data)", f);
        }
        if (fclose(f) != 0)
                abort();
        return buf;
}

static bool tuples_equal(const DecodingTuple *a, const DecodingTuple *b) {
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (!streq(a->columns[i].name, b->columns[i].name) ||
                    !streq(a->columns[i].type, b->columns[i].type) ||
                    !streq_ptr(a->columns[i].value, b->columns[i].value) ||
                    a->columns[i].unchanged != b->columns[i].unchanged)
                        return false;
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static cJSON *tables = NULL;
        _cleanup_free_ char *input = fuzz_string(data, size), *again = NULL, *why = NULL;
        _cleanup_(decoding_change_done) DecodingChange c = {}, d = {};
        _cleanup_(decoding_statement_done) DecodingStatement st = {};
        int r, rc, rs;

        if (!tables) {
                tables = cJSON_Parse(tables_json);
                if (!tables)
                        abort();
        }

        r = decoding_parse(input, &c);
        FUZZ_CHECK(r == 0 || r == -EBADMSG);
        if (r < 0)
                return 0;

        if (c.kind == DECODING_INSERT || c.kind == DECODING_UPDATE || c.kind == DECODING_DELETE ||
            c.kind == DECODING_TRUNCATE) {
                FUZZ_CHECK(c.n_relations >= 1);
                again = print_change(&c);
                FUZZ_CHECK(decoding_parse(again, &d) == 0);
                FUZZ_CHECK(d.kind == c.kind && d.n_relations == c.n_relations);
                for (size_t i = 0; i < c.n_relations; i++)
                        FUZZ_CHECK(
                                streq(c.relations[i].schema, d.relations[i].schema) &&
                                streq(c.relations[i].name, d.relations[i].name));
                FUZZ_CHECK(d.has_old_key == c.has_old_key && d.has_tuple == c.has_tuple);
                FUZZ_CHECK(tuples_equal(&c.old_key, &d.old_key) && tuples_equal(&c.tuple, &d.tuple));
        }

        /* the row counts follow every change, or refuse one whose table they do not hold */
        {
                _cleanup_json_ cJSON *counts = cJSON_Parse("{\"public.items\": 1, \"public.plain_log\": 0}");
                int rn;

                if (!counts)
                        abort();
                rn = decoding_count_rows(&c, counts);
                FUZZ_CHECK(rn == 0 || rn == -ENOENT || rn == -ERANGE || rn == -ENOMEM);
        }

        rc = decoding_check(&c, tables, &why);
        FUZZ_CHECK(rc == 0 || rc == 1);
        FUZZ_CHECK((rc == 1) == (why != NULL));
        rs = decoding_statement(&c, tables, &st);
        FUZZ_CHECK(rc == 0 ? rs == 0 : rs == -EINVAL);
        if (rs == 0 && st.sql) {
                /* $1 … $n each there, and no $ beyond n: the values travel only as parameters */
                for (size_t i = 1; i <= st.n_params; i++) {
                        char ref[32];
                        snprintf(ref, sizeof(ref), "$%zu", i);
                        FUZZ_CHECK(strstr(st.sql, ref));
                }
                if (c.kind != DECODING_TRUNCATE)
                        FUZZ_CHECK(st.expect_rows == (c.kind == DECODING_INSERT ? -1 : 1));
        }
        return 0;
}
