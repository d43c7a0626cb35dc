/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* delta.c: Snapshot=delta's decisions and its reads of the database: the slot's name, whether delta can
 * be used, the schema's fingerprint, the large objects, the tables as the replay needs them
 * (docs/architecture.md, "Snapshot=delta") */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decoding.h"
#include "delta.h"
#include "errmsg.h"
#include "json-util.h"
#include "macro.h"
#include "pg-slot.h"
#include "string-util.h"

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define SLOT_NAME_MAX 63
#define SLOT_ID_LEN 12

/* schemas of the system: pg_catalog, pg_toast, the temporary ones (a user schema may not begin with
 * pg_), information_schema */
#define USER_SCHEMA(n) n ".nspname !~ '^pg_' AND " n ".nspname <> 'information_schema'"

static char *slot_db_part(const char *db, size_t max) {
        size_t l = MIN(strlen(db), max);
        char *s = strndup(db, l);

        if (!s)
                return NULL;
        for (char *p = s; *p; p++) {
                if (*p >= 'A' && *p <= 'Z')
                        *p = (char)(*p - 'A' + 'a');
                else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
                        *p = '_';
        }
        return s;
}

int delta_slot_name(const char *db, const char *id, char **ret) {
        _cleanup_free_ char *part = NULL;
        size_t l;

        assert(db);
        assert(id);
        assert(ret);

        l = MIN(strlen(id), (size_t)SLOT_ID_LEN);
        if (l == 0)
                return -EINVAL;
        for (size_t i = 0; i < l; i++)
                if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9')))
                        return -EINVAL;
        part = slot_db_part(db, SLOT_NAME_MAX - strlen(DELTA_SLOT_PREFIX) - 1 - l);
        if (!part)
                return -ENOMEM;
        return asprintf(ret, DELTA_SLOT_PREFIX "%s_%.*s", part, (int)l, id) < 0 ? -ENOMEM : 0;
}

int delta_slot_prefix(const char *db, char **ret) {
        _cleanup_free_ char *part = NULL;

        assert(db);
        assert(ret);

        /* as delta_slot_name() cuts it for the shortest id it takes, so every name it gives begins so
         * (a longer id cuts the database's part shorter: the prefix then matches one character less) */
        part = slot_db_part(db, SLOT_NAME_MAX - strlen(DELTA_SLOT_PREFIX) - 1 - SLOT_ID_LEN);
        if (!part)
                return -ENOMEM;
        return asprintf(ret, DELTA_SLOT_PREFIX "%s_", part) < 0 ? -ENOMEM : 0;
}

void delta_facts_done(DeltaFacts *f) {
        if (!f)
                return;
        free(f->wal_level);
        free(f->role);
        free(f->fingerprint);
        *f = (DeltaFacts){};
}

/* the schema as text, one line per object, in a stable order: what a restore of the dump would have to
 * equal for the decoded rows to fit */
#define FINGERPRINT_SQL                                                                                     \
        "SELECT md5(coalesce(string_agg(d, E'\\n' ORDER BY d), '')) FROM ("                                 \
        " SELECT format('rel %I.%I %s %s', n.nspname, c.relname, c.relkind, c.relreplident) AS d"           \
        "  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"             \
        "  WHERE c.relkind IN ('r', 'p', 'S', 'v', 'm', 'f') AND " USER_SCHEMA(                             \
                "n") " UNION ALL"                                                                           \
                     " SELECT format('col %I.%I %s %I %s %s %s %s %s', n.nspname, c.relname, a.attnum, "    \
                     "a.attname,"                                                                           \
                     "  pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attgenerated, "    \
                     "a.attidentity,"                                                                       \
                     "  pg_catalog.pg_get_expr(ad.adbin, ad.adrelid))"                                      \
                     "  FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid"    \
                     "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"                           \
                     "  LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = "      \
                     "a.attnum"                                                                             \
                     "  WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', "   \
                     "'f') AND " USER_SCHEMA(                                                               \
                             "n") " UNION ALL"                                                              \
                                  " SELECT format('con %I.%I %I %s', n.nspname, c.relname, co.conname,"     \
                                  "  pg_catalog.pg_get_constraintdef(co.oid))"                              \
                                  "  FROM pg_catalog.pg_constraint co JOIN pg_catalog.pg_class c ON c.oid " \
                                  "= co.conrelid"                                                           \
                                  "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "             \
                                  "WHERE " USER_SCHEMA(                                                     \
                                          "n") " UNION ALL"                                                 \
                                               " SELECT format('idx %I %s %s', n.nspname, "                 \
                                               "pg_catalog.pg_get_indexdef(i.indexrelid),"                  \
                                               "  i.indisreplident)"                                        \
                                               "  FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c "   \
                                               "ON c.oid = i.indexrelid"                                    \
                                               "  JOIN pg_catalog.pg_namespace n ON n.oid = "               \
                                               "c.relnamespace WHERE " USER_SCHEMA(                         \
                                                       "n") " UNION ALL"                                    \
                                                            " SELECT format('seq %I.%I %s %s %s %s %s "     \
                                                            "%s', n.nspname, c.relname, s.seqtypid, "       \
                                                            "s.seqstart,"                                   \
                                                            "  s.seqincrement, s.seqmax, s.seqmin, "        \
                                                            "s.seqcycle)"                                   \
                                                            "  FROM pg_catalog.pg_sequence s JOIN "         \
                                                            "pg_catalog.pg_class c ON c.oid = s.seqrelid"   \
                                                            "  JOIN pg_catalog.pg_namespace n ON n.oid = "  \
                                                            "c.relnamespace WHERE " USER_SCHEMA(            \
                                                                    "n") " UNION ALL"                       \
                                                                         " SELECT format('enum %I.%I %s "   \
                                                                         "%s', n.nspname, t.typname, "      \
                                                                         "e.enumsortorder, e.enumlabel)"    \
                                                                         "  FROM pg_catalog.pg_enum e "     \
                                                                         "JOIN pg_catalog.pg_type t ON "    \
                                                                         "t.oid = e.enumtypid"              \
                                                                         "  JOIN pg_catalog.pg_namespace "  \
                                                                         "n ON n.oid = t.typnamespace "     \
                                                                         "WHERE " USER_SCHEMA(              \
                                                                                 "n") " UNION ALL"          \
                                                                                      " SELECT "            \
                                                                                      "format('trg %I.%I "  \
                                                                                      "%I %s %s', "         \
                                                                                      "n.nspname, "         \
                                                                                      "c.relname, "         \
                                                                                      "t.tgname, "          \
                                                                                      "t.tgenabled,"        \
                                                                                      "  "                  \
                                                                                      "pg_catalog.pg_get_"  \
                                                                                      "triggerdef(t.oid))"  \
                                                                                      "  FROM "             \
                                                                                      "pg_catalog.pg_"      \
                                                                                      "trigger t JOIN "     \
                                                                                      "pg_catalog.pg_"      \
                                                                                      "class c ON c.oid = " \
                                                                                      "t.tgrelid"           \
                                                                                      "  JOIN "             \
                                                                                      "pg_catalog.pg_"      \
                                                                                      "namespace n ON "     \
                                                                                      "n.oid = "            \
                                                                                      "c.relnamespace"      \
                                                                                      "  WHERE NOT "        \
                                                                                      "t.tgisinternal "     \
                                                                                      "AND " USER_SCHEMA(   \
                                                                                              "n") ") x"

/* the statistics' count of writes to the large objects: any change between the backup and the stop
 * moves it (a reset of the statistics too, which then reads as a change) */
#define LO_CHANGES_SQL                                                                                    \
        "CASE WHEN current_setting('track_counts')::bool THEN (SELECT coalesce(sum(n_tup_ins + n_tup_upd" \
        " + n_tup_del), 0) FROM pg_catalog.pg_stat_all_tables WHERE relid IN"                             \
        " ('pg_catalog.pg_largeobject'::regclass, 'pg_catalog.pg_largeobject_metadata'::regclass))"       \
        " ELSE -1 END"

int delta_probe(const PgTarget *t, DeltaFacts *ret, char **ret_error) {
        _cleanup_(delta_facts_done) DeltaFacts f = {};
        _cleanup_json_ cJSON *rows = NULL;
        _cleanup_free_ char *sql = NULL;
        const cJSON *row;
        int64_t v;
        int version = 0, r;

        assert(t);
        assert(ret);

        r = pg_server_version(t, &version, ret_error);
        if (r < 0)
                return r;
        /* who may SET session_replication_role: a superuser, and from 15 on a role granted it */
        if (asprintf(
                    &sql,
                    "SELECT current_setting('wal_level') AS wal_level, current_user AS role,"
                    " (r.rolsuper OR r.rolreplication)::text AS may_replicate,"
                    " (r.rolsuper%s)::text AS may_set_replica,"
                    " (current_setting('max_replication_slots')::int"
                    "  - (SELECT count(*) FROM pg_catalog.pg_replication_slots))::text AS free_slots,"
                    " (%s) AS fingerprint,"
                    " (SELECT count(*) FROM pg_catalog.pg_largeobject_metadata)::text AS lo_count,"
                    " (" LO_CHANGES_SQL ")::text AS lo_changes"
                    " FROM pg_catalog.pg_roles r WHERE r.rolname = current_user",
                    version >= 150000
                            ? " OR pg_catalog.has_parameter_privilege('session_replication_role', 'SET')"
                            : "",
                    FINGERPRINT_SQL) < 0) {
                sql = NULL;
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        }
        r = pg_query(t, sql, NULL, 0, &rows, ret_error);
        if (r < 0)
                return r;
        row = cJSON_GetArrayItem(rows, 0);
        f.wal_level = strdup(strempty(json_get_string(row, "wal_level")));
        f.role = strdup(strempty(json_get_string(row, "role")));
        f.fingerprint = strdup(strempty(json_get_string(row, "fingerprint")));
        if (!f.wal_level || !f.role || !f.fingerprint)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        f.may_replicate = streq(strempty(json_get_string(row, "may_replicate")), "true");
        f.may_set_replica = streq(strempty(json_get_string(row, "may_set_replica")), "true");
        if (!json_get_string(row, "free_slots") || !json_get_string(row, "lo_count") ||
            !json_get_string(row, "lo_changes") || !*f.fingerprint)
                return errmsg_set(ret_error, -EBADMSG, "unexpected answer about the database's state");
        v = strtoll(json_get_string(row, "free_slots"), NULL, 10);
        f.free_slots = v;
        f.lo_count = strtoll(json_get_string(row, "lo_count"), NULL, 10);
        f.lo_changes = strtoll(json_get_string(row, "lo_changes"), NULL, 10);

        *ret = f;
        f = (DeltaFacts){};
        return 0;
}

cJSON *delta_facts_to_json(const DeltaFacts *f) {
        _cleanup_json_ cJSON *j = cJSON_CreateObject();

        assert(f);

        if (!j || !cJSON_AddStringToObject(j, "fingerprint", strempty(f->fingerprint)) ||
            !cJSON_AddNumberToObject(j, "lo_count", (double)f->lo_count) ||
            !cJSON_AddNumberToObject(j, "lo_changes", (double)f->lo_changes))
                return NULL;
        return TAKE_PTR(j);
}

static int refuse_or_fall_back(SnapshotMode mode, char **ret_reason, const char *fmt, ...) _printf_(3, 4);
static int refuse_or_fall_back(SnapshotMode mode, char **ret_reason, const char *fmt, ...) {
        char *why;

        why = STRPRINTF_ARGS(fmt);
        if (!why)
                return -ENOMEM;
        *ret_reason = why;
        return mode == SNAPSHOT_DELTA ? -EOPNOTSUPP : 0;
}

int delta_decide(SnapshotMode mode, const DeltaFacts *f, const char *error, char **ret_reason) {
        assert(ret_reason);

        if (mode != SNAPSHOT_DELTA && mode != SNAPSHOT_AUTO)
                return 0;
        if (!f)
                return refuse_or_fall_back(
                        mode,
                        ret_reason,
                        "PostgreSQL could not be asked whether it can: %s",
                        strempty(error));
        if (!streq(strempty(f->wal_level), "logical"))
                return refuse_or_fall_back(
                        mode,
                        ret_reason,
                        "PostgreSQL's wal_level is %s, not logical (an operator sets it: ALTER SYSTEM SET "
                        "wal_level = logical, then a restart of PostgreSQL)",
                        strempty(f->wal_level));
        if (!f->may_replicate)
                return refuse_or_fall_back(
                        mode,
                        ret_reason,
                        "role %s may not make a replication slot (ALTER ROLE %s REPLICATION gives it that)",
                        strempty(f->role),
                        strempty(f->role));
        if (!f->may_set_replica)
                return refuse_or_fall_back(
                        mode,
                        ret_reason,
                        "role %s may not SET session_replication_role, which the replay needs so that no "
                        "trigger fires twice (GRANT SET ON PARAMETER session_replication_role TO %s)",
                        strempty(f->role),
                        strempty(f->role));
        if (f->free_slots < 1)
                return refuse_or_fall_back(
                        mode,
                        ret_reason,
                        "every replication slot is taken (raise max_replication_slots, or drop one that is "
                        "not needed)");
        return 1;
}

int delta_large_objects_unchanged(const cJSON *before, const DeltaFacts *after, char **ret_why) {
        int64_t count = -1, changes = -1;

        assert(after);
        assert(ret_why);

        (void)json_get_int64_range(before, "lo_count", 0, INT64_MAX, &count);
        (void)json_get_int64_range(before, "lo_changes", -1, INT64_MAX, &changes);
        /* none then, none now: whatever was made meanwhile is gone again */
        if (count == 0 && after->lo_count == 0)
                return 0;
        if (count < 0 || changes < 0 || after->lo_changes < 0)
                return asprintf(
                               ret_why,
                               "the database has large objects, and without track_counts their changes "
                               "cannot be seen (logical decoding does not carry them)") < 0
                               ? -ENOMEM
                               : 1;
        if (count != after->lo_count || changes != after->lo_changes)
                return asprintf(
                               ret_why,
                               "large objects changed since the backup (logical decoding does not carry "
                               "them)") < 0
                               ? -ENOMEM
                               : 1;
        return 0;
}

#define TABLES_SQL                                                                                        \
        "SELECT coalesce(json_object_agg(k, v), '{}')::text AS tables FROM ("                             \
        " SELECT '\"' || replace(n.nspname, '\"', '\"\"') || '\".\"' || replace(c.relname, '\"', '\"\"')" \
        "  || '\"' AS k, json_build_object("                                                              \
        "  'columns', (SELECT coalesce(json_object_agg(a.attname, pg_catalog.format_type(a.atttypid,"     \
        "   NULL)), '{}') FROM pg_catalog.pg_attribute a"                                                 \
        "   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),"                           \
        "  'key', CASE WHEN c.relreplident IN ('d', 'i') THEN (SELECT coalesce(json_agg(a.attname"        \
        "   ORDER BY k.ord), '[]') FROM pg_catalog.pg_index i"                                            \
        "   CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)"                \
        "   JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"            \
        "   WHERE i.indrelid = c.oid AND CASE WHEN c.relreplident = 'd' THEN i.indisprimary"              \
        "   ELSE i.indisreplident END) ELSE '[]' END,"                                                    \
        "  'generated', (SELECT coalesce(json_agg(a.attname), '[]') FROM pg_catalog.pg_attribute a"       \
        "   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated <> ''),"  \
        "  'always', (SELECT coalesce(json_agg(a.attname), '[]') FROM pg_catalog.pg_attribute a"          \
        "   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attidentity = 'a')"    \
        "  ) AS v"                                                                                        \
        " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"            \
        " WHERE c.relkind = 'r' AND " USER_SCHEMA("n") ") t"

int delta_tables(const PgTarget *t, cJSON **ret, char **ret_error) {
        _cleanup_json_ cJSON *rows = NULL, *tables = NULL;
        const char *text;
        int r;

        assert(t);
        assert(ret);

        r = pg_query(t, TABLES_SQL, NULL, 0, &rows, ret_error);
        if (r < 0)
                return r;
        text = json_get_string(cJSON_GetArrayItem(rows, 0), "tables");
        tables = text ? cJSON_Parse(text) : NULL;
        if (!cJSON_IsObject(tables))
                return errmsg_set(ret_error, -EBADMSG, "unexpected answer about the tables");
        *ret = TAKE_PTR(tables);
        return 0;
}

/* the replay's statements, made in the session's child as it asks for them */
typedef struct Replay {
        FILE *f;
        const cJSON *tables;
        const cJSON *sequence; /* the next of "sequences", once the changes are done */
        bool changes_done;
        uint64_t line;
        DecodingChange change;
        DecodingStatement statement;
        char *seq_params[3];
} Replay;

static void replay_done(Replay *rp) {
        decoding_change_done(&rp->change);
        decoding_statement_done(&rp->statement);
        for (size_t i = 0; i < ELEMENTSOF(rp->seq_params); i++)
                free(rp->seq_params[i]);
}

static int next_sequence(Replay *rp, PgStatement *ret, char **ret_error) {
        const cJSON *s = rp->sequence;
        const char *schema, *name, *value;

        if (!s)
                return 0;
        rp->sequence = s->next;
        schema = json_get_string(s, "schema");
        name = json_get_string(s, "name");
        value = json_get_string(s, "last_value");
        if (!schema || !name || !value)
                return errmsg_set(ret_error, -EBADMSG, "the manifest's sequences are not readable");
        for (size_t i = 0; i < ELEMENTSOF(rp->seq_params); i++)
                free(TAKE_PTR(rp->seq_params[i]));
        rp->seq_params[0] = decoding_table_key(schema, name);
        rp->seq_params[1] = strdup(value);
        rp->seq_params[2] =
                strdup(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "is_called")) ? "true" : "false");
        if (!rp->seq_params[0] || !rp->seq_params[1] || !rp->seq_params[2])
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        *ret = (PgStatement){
                .sql = "SELECT pg_catalog.setval($1::regclass, $2::bigint, $3::boolean)",
                .params = (const char *const *)rp->seq_params,
                .n_params = 3,
                .expect_rows = -1,
        };
        return 1;
}

static int replay_next(void *userdata, PgStatement *ret, char **ret_error) {
        Replay *rp = userdata;
        int r;

        while (!rp->changes_done) {
                decoding_change_done(&rp->change);
                decoding_statement_done(&rp->statement);
                r = decoding_read_change(rp->f, &rp->change);
                if (r == 0) {
                        rp->changes_done = true;
                        break;
                }
                rp->line++;
                if (r < 0)
                        return errmsg_set(
                                ret_error, r, "change %" PRIu64 " of the delta is not readable", rp->line);
                r = decoding_statement(&rp->change, rp->tables, &rp->statement);
                if (r < 0)
                        return errmsg_set(
                                ret_error,
                                r,
                                "change %" PRIu64 " of the delta cannot be replayed",
                                rp->line);
                if (!rp->statement.sql)
                        continue;
                *ret = (PgStatement){
                        .sql = rp->statement.sql,
                        .params = (const char *const *)rp->statement.params,
                        .n_params = rp->statement.n_params,
                        .expect_rows = rp->statement.expect_rows,
                };
                return 1;
        }
        return next_sequence(rp, ret, ret_error);
}

int delta_replay(
        const PgTarget *t,
        FILE *f,
        const cJSON *tables,
        const cJSON *sequences,
        uint64_t *ret_count,
        char **ret_error) {
        _cleanup_(replay_done) Replay rp = {
                .f = f,
                .tables = tables,
                .sequence = sequences ? sequences->child : NULL,
        };

        assert(t);
        assert(f);

        /* as logical replication applies: no user trigger fires again (what one wrote is in the delta
         * itself), and the values read back as the slot printed them */
        return pg_exec_statements(
                t,
                "SET LOCAL session_replication_role = replica; " PG_STABLE_OUTPUT,
                replay_next,
                &rp,
                ret_count,
                ret_error);
}

int delta_slots(const PgTarget *t, const char *db, cJSON **ret, char **ret_error) {
        _cleanup_json_ cJSON *rows = NULL, *out = NULL;
        const char *params[] = { db, DELTA_SLOT_PREFIX };
        const cJSON *row;
        int r;

        assert(t);
        assert(db);
        assert(ret);

        r = pg_query(
                t,
                "SELECT slot_name::text AS slot, active::text AS active,"
                " coalesce(pg_catalog.pg_size_pretty(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_"
                "lsn(),"
                " restart_lsn)), 'no') AS wal"
                " FROM pg_catalog.pg_replication_slots"
                " WHERE database = $1 AND left(slot_name::text, length($2)) = $2 ORDER BY 1",
                params,
                2,
                &rows,
                ret_error);
        if (r < 0)
                return r;
        out = cJSON_CreateArray();
        if (!out)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        cJSON_ArrayForEach (row, rows) {
                cJSON *o = cJSON_CreateObject();

                if (!o || !cJSON_AddItemToArray(out, o)) {
                        cJSON_Delete(o);
                        return errmsg_set(ret_error, -ENOMEM, "out of memory");
                }
                if (!cJSON_AddStringToObject(o, "slot", strempty(json_get_string(row, "slot"))) ||
                    !cJSON_AddBoolToObject(o, "active", streq_ptr(json_get_string(row, "active"), "true")) ||
                    !cJSON_AddStringToObject(o, "wal", strempty(json_get_string(row, "wal"))))
                        return errmsg_set(ret_error, -ENOMEM, "out of memory");
        }
        *ret = TAKE_PTR(out);
        return 0;
}
