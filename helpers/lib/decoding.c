/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* decoding.c: test_decoding's output (a logical replication slot's changes) read, judged and replayed as
 * SQL (docs/architecture.md, "Snapshot=delta") */
#define _GNU_SOURCE
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decoding.h"
#include "fd-util.h"
#include "json-util.h"
#include "macro.h"
#include "pg.h"
#include "string-util.h"

/* what test_decoding prints, from contrib/test_decoding/test_decoding.c: "table " + each relation by
 * quote_qualified_identifier(), then per column " " + quote_identifier(name) + "[" + format_type_be() +
 * "]:" + the value: null, unchanged-toast-datum, a bare number (int2/4/8, oid, float4/8, numeric),
 * true/false (bool), B'…' (bit, varbit), else '…' with every ' doubled */

static void tuple_done(DecodingTuple *t) {
        for (size_t i = 0; i < t->n; i++) {
                free(t->columns[i].name);
                free(t->columns[i].type);
                free(t->columns[i].value);
        }
        free(t->columns);
        *t = (DecodingTuple){};
}

void decoding_change_done(DecodingChange *c) {
        if (!c)
                return;
        for (size_t i = 0; i < c->n_relations; i++) {
                free(c->relations[i].schema);
                free(c->relations[i].name);
        }
        free(c->relations);
        tuple_done(&c->old_key);
        tuple_done(&c->tuple);
        *c = (DecodingChange){};
}

static bool is_bare_start(char c) {
        return (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_bare(char c) {
        return is_bare_start(c) || (c >= '0' && c <= '9');
}

/* a quoted part ("…" with "" or '…' with ''), unescaped; *p after the closing quote */
static int parse_quoted(const char **p, char quote, char **ret) {
        const char *s = *p;
        char *out, *o;

        assert(*s == quote);
        s++;
        out = o = malloc(strlen(s) + 1);
        if (!out)
                return -ENOMEM;
        for (;;) {
                if (!*s) {
                        free(out);
                        return -EBADMSG;
                }
                if (*s == quote) {
                        if (s[1] != quote)
                                break;
                        s++;
                }
                *o++ = *s++;
        }
        *o = 0;
        *p = s + 1;
        *ret = out;
        return 0;
}

/* quote_identifier()'s output: bare [a-z_][a-z0-9_]*, or "…" */
static int parse_identifier(const char **p, char **ret) {
        const char *s = *p;
        char *name;
        int r;

        if (*s == '"') {
                r = parse_quoted(&s, '"', &name);
                if (r < 0)
                        return r;
                if (!*name) {
                        free(name);
                        return -EBADMSG;
                }
        } else {
                if (!is_bare_start(*s))
                        return -EBADMSG;
                while (is_bare(*s))
                        s++;
                name = strndup(*p, s - *p);
                if (!name)
                        return -ENOMEM;
        }
        *p = s;
        *ret = name;
        return 0;
}

static int parse_relation(const char **p, DecodingRelation *ret) {
        _cleanup_free_ char *schema = NULL, *name = NULL;
        const char *s = *p;
        int r;

        r = parse_identifier(&s, &schema);
        if (r < 0)
                return r;
        if (*s != '.')
                return -EBADMSG;
        s++;
        r = parse_identifier(&s, &name);
        if (r < 0)
                return r;
        *p = s;
        *ret = (DecodingRelation){ .schema = TAKE_PTR(schema), .name = TAKE_PTR(name) };
        return 0;
}

/* format_type_be()'s text up to "]:"; a quoted part of it (a type named "a]:b") is skipped whole */
static int parse_type(const char **p, char **ret) {
        const char *s = *p;
        char *type;

        for (;;) {
                if (!*s)
                        return -EBADMSG;
                if (*s == '"') {
                        _cleanup_free_ char *skip = NULL;
                        int r = parse_quoted(&s, '"', &skip);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (s[0] == ']' && s[1] == ':')
                        break;
                s++;
        }
        if (s == *p)
                return -EBADMSG;
        type = strndup(*p, s - *p);
        if (!type)
                return -ENOMEM;
        *p = s + 2;
        *ret = type;
        return 0;
}

static bool word_at(const char *s, const char *word) {
        size_t l = strlen(word);

        return strncmp(s, word, l) == 0 && (s[l] == ' ' || s[l] == 0);
}

static bool is_number_char(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
               c == '+' || c == '-';
}

static int parse_value(const char **p, DecodingColumn *col) {
        const char *s = *p;
        int r;

        if (*s == '\'') {
                r = parse_quoted(&s, '\'', &col->value);
        } else if (s[0] == 'B' && s[1] == '\'') {
                s++;
                r = parse_quoted(&s, '\'', &col->value);
        } else if (word_at(s, "null")) {
                s += strlen("null");
                r = 0;
        } else if (word_at(s, "unchanged-toast-datum")) {
                s += strlen("unchanged-toast-datum");
                col->unchanged = true;
                r = 0;
        } else {
                /* a number, or true/false */
                const char *start = s;

                while (is_number_char(*s))
                        s++;
                if (s == start)
                        return -EBADMSG;
                col->value = strndup(start, s - start);
                r = col->value ? 0 : -ENOMEM;
        }
        if (r < 0)
                return r;
        if (*s != ' ' && *s != 0)
                return -EBADMSG;
        *p = s;
        return 0;
}

static int tuple_push(DecodingTuple *t, DecodingColumn *col) {
        /* a power of two each time it is full */
        if ((t->n & (t->n - 1)) == 0) {
                DecodingColumn *c = reallocarray(t->columns, t->n ? t->n * 2 : 1, sizeof(DecodingColumn));
                if (!c)
                        return -ENOMEM;
                t->columns = c;
        }
        t->columns[t->n++] = *col;
        *col = (DecodingColumn){};
        return 0;
}

/* " name[type]:value" until the end, or until " new-tuple:" when stop_at_new is set */
static int parse_tuple(const char **p, bool stop_at_new, DecodingTuple *ret) {
        _cleanup_(tuple_done) DecodingTuple t = {};
        const char *s = *p;
        int r;

        while (*s) {
                DecodingColumn col = {};

                if (stop_at_new && startswith(s, " new-tuple:"))
                        break;
                if (*s != ' ')
                        return -EBADMSG;
                s++;
                r = parse_identifier(&s, &col.name);
                if (r >= 0 && *s != '[')
                        r = -EBADMSG;
                if (r >= 0) {
                        s++;
                        r = parse_type(&s, &col.type);
                }
                if (r >= 0)
                        r = parse_value(&s, &col);
                if (r >= 0)
                        r = tuple_push(&t, &col);
                if (r < 0) {
                        free(col.name);
                        free(col.type);
                        free(col.value);
                        return r;
                }
        }
        *p = s;
        *ret = t;
        t = (DecodingTuple){};
        return 0;
}

/* the row of an INSERT, UPDATE or DELETE, or " (no-tuple-data)" */
static int parse_row(const char **p, DecodingChange *c) {
        int r;

        if (streq(*p, " (no-tuple-data)")) {
                *p += strlen(*p);
                return 0;
        }
        r = parse_tuple(p, false, &c->tuple);
        if (r < 0)
                return r;
        c->has_tuple = true;
        return 0;
}

static int parse_relations(const char **p, DecodingChange *c) {
        for (;;) {
                DecodingRelation *rels, rel;
                int r;

                r = parse_relation(p, &rel);
                if (r < 0)
                        return r;
                rels = reallocarray(c->relations, c->n_relations + 1, sizeof(DecodingRelation));
                if (!rels) {
                        free(rel.schema);
                        free(rel.name);
                        return -ENOMEM;
                }
                c->relations = rels;
                c->relations[c->n_relations++] = rel;
                if (!startswith(*p, ", "))
                        return 0;
                *p += 2;
        }
}

static int parse_table_change(const char *s, DecodingChange *c) {
        int r;

        r = parse_relations(&s, c);
        if (r < 0)
                return r;

        if (startswith(s, ": TRUNCATE:")) {
                s += strlen(": TRUNCATE:");
                c->kind = DECODING_TRUNCATE;
                if (streq(s, " (no-flags)") || streq(s, " restart_seqs") || streq(s, " cascade") ||
                    streq(s, " restart_seqs cascade"))
                        return 0;
                return -EBADMSG;
        }
        if (c->n_relations != 1)
                return -EBADMSG;

        if (startswith(s, ": INSERT:")) {
                s += strlen(": INSERT:");
                c->kind = DECODING_INSERT;
                r = parse_row(&s, c);
        } else if (startswith(s, ": DELETE:")) {
                s += strlen(": DELETE:");
                c->kind = DECODING_DELETE;
                r = parse_row(&s, c);
        } else if (startswith(s, ": UPDATE:")) {
                s += strlen(": UPDATE:");
                c->kind = DECODING_UPDATE;
                if (startswith(s, " old-key:")) {
                        s += strlen(" old-key:");
                        r = parse_tuple(&s, true, &c->old_key);
                        if (r < 0)
                                return r;
                        if (!startswith(s, " new-tuple:"))
                                return -EBADMSG;
                        s += strlen(" new-tuple:");
                        c->has_old_key = true;
                }
                r = parse_row(&s, c);
        } else
                return -EBADMSG;
        if (r < 0)
                return r;
        return *s ? -EBADMSG : 0;
}

int decoding_parse(const char *text, DecodingChange *ret) {
        _cleanup_(decoding_change_done) DecodingChange c = {};
        const char *s;
        int r;

        assert(text);
        assert(ret);

        if (streq(text, "BEGIN"))
                c.kind = DECODING_BEGIN;
        else if (streq(text, "COMMIT"))
                c.kind = DECODING_COMMIT;
        else if (startswith(text, "message: "))
                c.kind = DECODING_MESSAGE;
        else if ((s = startswith(text, "table "))) {
                r = parse_table_change(s, &c);
                if (r < 0)
                        return r;
        } else
                return -EBADMSG;

        *ret = c;
        c = (DecodingChange){};
        return 0;
}

int decoding_read_change(FILE *f, DecodingChange *ret) {
        _cleanup_free_ char *line = NULL;
        _cleanup_json_ cJSON *j = NULL;
        size_t size = 0;
        const char *data;
        ssize_t n;

        assert(f);
        assert(ret);

        errno = 0;
        n = getline(&line, &size, f);
        if (n < 0)
                return errno != 0 ? -errno : (ferror(f) ? -EIO : 0);
        j = cJSON_ParseWithLength(line, (size_t)n);
        data = json_get_string(j, "data");
        if (!cJSON_IsObject(j) || !data)
                return -EBADMSG;
        return decoding_parse(data, ret) < 0 ? -EBADMSG : 1;
}

int decoding_lsn_parse(const char *s, uint64_t *ret) {
        unsigned long long hi, lo;
        char *end;

        if (!s || !isxdigit((unsigned char)*s))
                return -EINVAL;
        errno = 0;
        hi = strtoull(s, &end, 16);
        if (errno != 0 || *end != '/' || hi > UINT32_MAX || !isxdigit((unsigned char)end[1]))
                return -EINVAL;
        lo = strtoull(end + 1, &end, 16);
        if (errno != 0 || *end != 0 || lo > UINT32_MAX)
                return -EINVAL;
        *ret = (uint64_t)hi << 32 | lo;
        return 0;
}

int decoding_resume_offset(int fd, const char *lsn, off_t *ret_offset, uint64_t *ret_lines) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        off_t at = 0, found = 0;
        uint64_t lines = 0, found_lines = 0, upto, commit;
        int dup_fd;

        assert(fd >= 0);
        assert(lsn);
        assert(ret_offset);
        assert(ret_lines);

        if (decoding_lsn_parse(lsn, &upto) < 0)
                return -EINVAL;
        /* a stream of its own, reading from the start (fd shares its offset: the caller sets it after) */
        dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (dup_fd < 0)
                return -errno;
        f = fdopen(dup_fd, "re");
        if (!f) {
                (void)close(dup_fd);
                return -errno;
        }
        if (fseeko(f, 0, SEEK_SET) < 0)
                return -errno;
        for (;;) {
                _cleanup_json_ cJSON *j = NULL;
                ssize_t n;

                errno = 0;
                n = getline(&line, &size, f);
                if (n < 0) {
                        if (errno != 0 || ferror(f))
                                return errno != 0 ? -errno : -EIO;
                        break;
                }
                if (line[n - 1] != '\n')
                        break;
                at += n;
                lines++;
                j = cJSON_ParseWithLength(line, (size_t)n);
                /* transactions come in the order they committed: past the first one after upto, none
                 * is kept */
                if (!streq_ptr(json_get_string(j, "data"), "COMMIT"))
                        continue;
                if (decoding_lsn_parse(json_get_string(j, "lsn"), &commit) < 0 || commit > upto)
                        break;
                found = at;
                found_lines = lines;
        }
        *ret_offset = found;
        *ret_lines = found_lines;
        return 0;
}

char *decoding_table_key(const char *schema, const char *name) {
        _cleanup_free_ char *qs = pg_quote_identifier(schema), *qn = pg_quote_identifier(name);
        char *key;

        if (!qs || !qn || asprintf(&key, "%s.%s", qs, qn) < 0)
                return NULL;
        return key;
}

static const cJSON *table_of(const cJSON *tables, const DecodingRelation *rel) {
        _cleanup_free_ char *key = decoding_table_key(rel->schema, rel->name);

        return key ? cJSON_GetObjectItemCaseSensitive(tables, key) : NULL;
}

static bool list_has(const cJSON *list, const char *s) {
        const cJSON *m;

        cJSON_ArrayForEach (m, list)
                if (cJSON_IsString(m) && streq(m->valuestring, s))
                        return true;
        return false;
}

static const DecodingColumn *tuple_find(const DecodingTuple *t, const char *name) {
        for (size_t i = 0; i < t->n; i++)
                if (streq(t->columns[i].name, name))
                        return &t->columns[i];
        return NULL;
}

static int why(char **ret_why, const char *fmt, ...) _printf_(2, 3);
static int why(char **ret_why, const char *fmt, ...) {
        *ret_why = STRPRINTF_ARGS(fmt);
        return *ret_why ? 1 : -ENOMEM;
}

/* every column is the table's, with the type it has at the stop */
static int check_columns(const DecodingTuple *t, const cJSON *table, const char *qname, char **ret_why) {
        const cJSON *columns = cJSON_GetObjectItemCaseSensitive(table, "columns");

        for (size_t i = 0; i < t->n; i++) {
                const char *type = json_get_string(columns, t->columns[i].name);

                if (!type)
                        return why(
                                ret_why,
                                "table %s has no column %s at the stop (the schema changed)",
                                qname,
                                t->columns[i].name);
                if (!streq(type, t->columns[i].type))
                        return why(
                                ret_why,
                                "column %s of %s is %s at the stop, not %s (the schema changed)",
                                t->columns[i].name,
                                qname,
                                type,
                                t->columns[i].type);
        }
        return 0;
}

static bool nothing_to_replay(DecodingKind k) {
        return k == DECODING_BEGIN || k == DECODING_COMMIT || k == DECODING_MESSAGE;
}

static const char *kind_name(DecodingKind k) {
        return k == DECODING_UPDATE ? "an UPDATE" : k == DECODING_DELETE ? "a DELETE" : "an INSERT";
}

/* the row an UPDATE or DELETE changes, named by its whole replica identity key and nothing else */
static int check_identity(const DecodingChange *c, const cJSON *table, const char *qname, char **ret_why) {
        const cJSON *key = cJSON_GetObjectItemCaseSensitive(table, "key"), *m;
        /* a DELETE prints the old row's identity as its tuple */
        const DecodingTuple *ident = c->has_old_key ? &c->old_key : &c->tuple;

        if (cJSON_GetArraySize(key) == 0)
                return why(
                        ret_why,
                        "%s of %s cannot name its row: the table has no primary key or replica identity "
                        "index",
                        kind_name(c->kind),
                        qname);
        if (!c->has_tuple)
                return why(
                        ret_why, "%s of %s came without its row (no-tuple-data)", kind_name(c->kind), qname);
        cJSON_ArrayForEach (m, key) {
                const DecodingColumn *col = cJSON_IsString(m) ? tuple_find(ident, m->valuestring) : NULL;

                if (!col || !col->value)
                        return why(
                                ret_why,
                                "%s of %s came without its key column %s",
                                kind_name(c->kind),
                                qname,
                                cJSON_IsString(m) ? m->valuestring : "?");
        }
        /* more than the key: REPLICA IDENTITY FULL, whose old row leaves its NULLs out */
        if (c->has_old_key || c->kind == DECODING_DELETE)
                for (size_t i = 0; i < ident->n; i++)
                        if (!list_has(key, ident->columns[i].name))
                                return why(
                                        ret_why,
                                        "%s of %s names its row by more than its key (REPLICA "
                                        "IDENTITY FULL)",
                                        kind_name(c->kind),
                                        qname);
        return 0;
}

int decoding_check(const DecodingChange *c, const cJSON *tables, char **ret_why) {
        const cJSON *table = NULL, *always, *m;
        _cleanup_free_ char *qname = NULL;
        int r;

        assert(c);
        assert(ret_why);

        if (nothing_to_replay(c->kind))
                return 0;
        for (size_t i = 0; i < c->n_relations; i++) {
                free(qname);
                qname = decoding_table_key(c->relations[i].schema, c->relations[i].name);
                if (!qname)
                        return -ENOMEM;
                table = table_of(tables, &c->relations[i]);
                if (!cJSON_IsObject(table))
                        return why(ret_why, "table %s is not in the schema at the stop", qname);
        }
        if (c->kind == DECODING_TRUNCATE)
                return 0;
        if (c->n_relations != 1)
                return -EINVAL;

        r = check_columns(&c->tuple, table, qname, ret_why);
        if (r == 0)
                r = check_columns(&c->old_key, table, qname, ret_why);
        if (r != 0)
                return r;

        if (c->kind == DECODING_INSERT) {
                if (!c->has_tuple)
                        return why(ret_why, "an INSERT into %s came without its row (no-tuple-data)", qname);
                for (size_t i = 0; i < c->tuple.n; i++)
                        if (c->tuple.columns[i].unchanged)
                                return why(
                                        ret_why,
                                        "an INSERT into %s came without the value of %s",
                                        qname,
                                        c->tuple.columns[i].name);
                return 0;
        }

        r = check_identity(c, table, qname, ret_why);
        if (r != 0 || c->kind != DECODING_UPDATE)
                return r;

        /* UPDATE cannot set a GENERATED ALWAYS identity column: it must be a key column left as it was */
        always = cJSON_GetObjectItemCaseSensitive(table, "always");
        cJSON_ArrayForEach (m, always) {
                const DecodingColumn *old, *new;

                if (!cJSON_IsString(m))
                        continue;
                if (!list_has(cJSON_GetObjectItemCaseSensitive(table, "key"), m->valuestring))
                        return why(
                                ret_why,
                                "an UPDATE of %s may have changed its GENERATED ALWAYS column %s, "
                                "which is outside the key",
                                qname,
                                m->valuestring);
                if (!c->has_old_key)
                        continue;
                old = tuple_find(&c->old_key, m->valuestring);
                new = tuple_find(&c->tuple, m->valuestring);
                if (!old || !new || !new->value || !streq(old->value, new->value))
                        return why(
                                ret_why,
                                "an UPDATE of %s changed its GENERATED ALWAYS column %s",
                                qname,
                                m->valuestring);
        }
        return 0;
}

void decoding_statement_done(DecodingStatement *s) {
        if (!s)
                return;
        free(s->sql);
        for (size_t i = 0; i < s->n_params; i++)
                free(s->params[i]);
        free(s->params);
        *s = (DecodingStatement){};
}

/* $n for value (a copy joins the parameters), or -ENOMEM */
static int push_param(DecodingStatement *st, const char *value, FILE *f) {
        char **p = reallocarray(st->params, st->n_params + 1, sizeof(char *));
        char *v = NULL;

        if (!p)
                return -ENOMEM;
        st->params = p;
        if (value) {
                v = strdup(value);
                if (!v)
                        return -ENOMEM;
        }
        st->params[st->n_params++] = v;
        fprintf(f, "$%zu", st->n_params);
        return 0;
}

static int put_identifier(FILE *f, const char *name) {
        _cleanup_free_ char *q = pg_quote_identifier(name);

        if (!q)
                return -ENOMEM;
        fputs(q, f);
        return 0;
}

/* "name = $n", value joining the parameters */
static int put_assignment(FILE *f, DecodingStatement *st, const char *name, const char *value) {
        int r;

        r = put_identifier(f, name);
        if (r < 0)
                return r;
        fputs(" = ", f);
        return push_param(st, value, f);
}

/* " WHERE k1 = $i AND …" from the key's values in ident */
static int put_where(FILE *f, DecodingStatement *st, const cJSON *key, const DecodingTuple *ident) {
        const cJSON *m;
        bool first = true;
        int r;

        fputs(" WHERE ", f);
        cJSON_ArrayForEach (m, key) {
                const DecodingColumn *col = tuple_find(ident, m->valuestring);

                fputs(first ? "" : " AND ", f);
                first = false;
                r = put_assignment(f, st, m->valuestring, col->value);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int build(
        const DecodingChange *c, const cJSON *table, const char *qname, FILE *f, DecodingStatement *st) {
        const cJSON *key = cJSON_GetObjectItemCaseSensitive(table, "key");
        const cJSON *generated = cJSON_GetObjectItemCaseSensitive(table, "generated");
        const cJSON *always = cJSON_GetObjectItemCaseSensitive(table, "always");
        bool first = true;
        size_t n = 0;
        int r;

        switch (c->kind) {
        case DECODING_INSERT:
                fprintf(f, "INSERT INTO %s", qname);
                for (size_t i = 0; i < c->tuple.n; i++) {
                        if (list_has(generated, c->tuple.columns[i].name))
                                continue;
                        fputs(n++ == 0 ? " (" : ", ", f);
                        r = put_identifier(f, c->tuple.columns[i].name);
                        if (r < 0)
                                return r;
                }
                if (n == 0) {
                        fputs(" DEFAULT VALUES", f);
                        return 0;
                }
                /* the value a GENERATED ALWAYS identity column had, not a new one */
                fputs(") OVERRIDING SYSTEM VALUE VALUES (", f);
                for (size_t i = 0; i < c->tuple.n; i++) {
                        if (list_has(generated, c->tuple.columns[i].name))
                                continue;
                        fputs(first ? "" : ", ", f);
                        first = false;
                        r = push_param(st, c->tuple.columns[i].value, f);
                        if (r < 0)
                                return r;
                }
                fputs(")", f);
                return 0;

        case DECODING_UPDATE:
                st->expect_rows = 1;
                for (size_t i = 0; i < c->tuple.n; i++) {
                        const DecodingColumn *col = &c->tuple.columns[i];

                        if (col->unchanged || list_has(generated, col->name) || list_has(always, col->name))
                                continue;
                        fputs(n++ == 0 ? "" : ", ", f);
                        if (n == 1)
                                fprintf(f, "UPDATE ONLY %s SET ", qname);
                        r = put_assignment(f, st, col->name, col->value);
                        if (r < 0)
                                return r;
                }
                /* nothing left to set: the row must still be there */
                if (n == 0)
                        fprintf(f, "SELECT 1 FROM ONLY %s", qname);
                return put_where(f, st, key, c->has_old_key ? &c->old_key : &c->tuple);

        case DECODING_DELETE:
                st->expect_rows = 1;
                fprintf(f, "DELETE FROM ONLY %s", qname);
                return put_where(f, st, key, &c->tuple);

        default:
                return -EINVAL;
        }
}

int decoding_statement(const DecodingChange *c, const cJSON *tables, DecodingStatement *ret) {
        _cleanup_(decoding_statement_done) DecodingStatement st = { .expect_rows = -1 };
        _cleanup_free_ char *why_not = NULL, *qname = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0;
        int r;

        assert(c);
        assert(ret);

        r = decoding_check(c, tables, &why_not);
        if (r < 0)
                return r;
        if (r > 0)
                return -EINVAL;
        if (nothing_to_replay(c->kind)) {
                *ret = st;
                st = (DecodingStatement){};
                return 0;
        }

        f = open_memstream(&st.sql, &size);
        if (!f)
                return -ENOMEM;
        if (c->kind == DECODING_TRUNCATE) {
                fputs("TRUNCATE ONLY ", f);
                for (size_t i = 0; i < c->n_relations; i++) {
                        _cleanup_free_ char *q =
                                decoding_table_key(c->relations[i].schema, c->relations[i].name);
                        if (!q)
                                return -ENOMEM;
                        fprintf(f, "%s%s", i > 0 ? ", " : "", q);
                }
        } else {
                qname = decoding_table_key(c->relations[0].schema, c->relations[0].name);
                if (!qname)
                        return -ENOMEM;
                r = build(c, table_of(tables, &c->relations[0]), qname, f, &st);
                if (r < 0)
                        return r;
        }
        if (ferror(f) || fclose(TAKE_PTR(f)) != 0)
                return -ENOMEM;

        *ret = st;
        st = (DecodingStatement){};
        return 0;
}

int decoding_count_rows(const DecodingChange *c, cJSON *counts) {
        assert(c);

        if (c->kind != DECODING_INSERT && c->kind != DECODING_DELETE && c->kind != DECODING_TRUNCATE)
                return 0;
        for (size_t i = 0; i < c->n_relations; i++) {
                _cleanup_free_ char *key = NULL;
                cJSON *n;
                double v;

                if (asprintf(&key, "%s.%s", c->relations[i].schema, c->relations[i].name) < 0)
                        return -ENOMEM;
                n = cJSON_GetObjectItemCaseSensitive(counts, key);
                if (!cJSON_IsNumber(n))
                        return -ENOENT;
                v = c->kind == DECODING_TRUNCATE ? 0
                                                 : n->valuedouble + (c->kind == DECODING_INSERT ? 1 : -1);
                if (v < 0)
                        return -ERANGE;
                cJSON_SetNumberValue(n, v);
        }
        return 0;
}
