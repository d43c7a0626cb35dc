/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pg-slot.c: logical replication for Snapshot=delta: a slot with its exported snapshot, its changes
 * read and advanced past, the sequences' values, and the replay's one transaction */
#define _GNU_SOURCE
#include <assert.h>
#include <inttypes.h>
#include <limits.h>
#include <unistd.h>

#include "pq-dl.h"

#include "decoding.h"
#include "errmsg.h"
#include "fd-util.h"
#include "json-util.h"
#include "pg-session.h"
#include "pg-slot.h"
#include "spawn.h"

/* a slot name as PostgreSQL takes it: [a-z0-9_], 1 to 63 characters (built into SQL and the
 * replication command, which takes no parameters) */
static bool slot_name_valid(const char *s) {
        size_t l = strlen(s);

        if (l == 0 || l > 63)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
                        return false;
        return true;
}

typedef struct SlotExportArgs {
        const char *slot;
        const char *plugin;
} SlotExportArgs;

static int slot_export_fn(PGconn *conn, const void *userdata, cJSON **ret, char **ret_error) {
        const SlotExportArgs *a = userdata;
        _cleanup_pgresult_ PGresult *res = NULL;
        _cleanup_json_ cJSON *o = NULL;
        _cleanup_free_ char *cmd = NULL;
        int r;

        /* the syntax every release since 10 takes */
        if (asprintf(&cmd, "CREATE_REPLICATION_SLOT %s LOGICAL %s EXPORT_SNAPSHOT", a->slot, a->plugin) < 0)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        res = sym_PQexec(conn, cmd);
        r = pg_session_check(conn, res, ret_error);
        if (r < 0)
                return r;
        if (sym_PQntuples(res) != 1 || sym_PQnfields(res) < 3 || sym_PQgetisnull(res, 0, 2))
                return errmsg_set(ret_error, -EBADMSG, "CREATE_REPLICATION_SLOT answered no snapshot");
        o = cJSON_CreateObject();
        if (!o || !cJSON_AddStringToObject(o, "lsn", sym_PQgetvalue(res, 0, 1)) ||
            !cJSON_AddStringToObject(o, "snapshot", sym_PQgetvalue(res, 0, 2)))
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        *ret = TAKE_PTR(o);
        return 0;
}

int pg_slot_export(
        const PgTarget *t, const char *slot, const char *plugin, PgSlotExport *ret, char **ret_error) {
        _cleanup_(spawn_kill_and_reapp) pid_t pid = 0;
        _cleanup_close_ int hold_fd = -EBADF;
        _cleanup_free_ char *snapshot = NULL, *lsn = NULL;
        _cleanup_json_ cJSON *result = NULL;
        const SlotExportArgs a = { .slot = slot, .plugin = plugin };
        int r;

        assert(t);
        assert(slot);
        assert(plugin);
        assert(ret);

        if (!slot_name_valid(slot) || !slot_name_valid(plugin))
                return errmsg_set(ret_error, -EINVAL, "invalid replication slot or plugin name");
        /* the snapshot lives while this connection stays open and idle */
        r = pg_session_hold(t, "database", slot_export_fn, &a, &result, &pid, &hold_fd, ret_error);
        if (r < 0)
                return r;
        snapshot = strdup(strempty(json_get_string(result, "snapshot")));
        lsn = strdup(strempty(json_get_string(result, "lsn")));
        if (!snapshot || !lsn)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");

        *ret = (PgSlotExport){
                .pid = pid,
                .hold_fd = TAKE_FD(hold_fd),
                .snapshot = TAKE_PTR(snapshot),
                .lsn = TAKE_PTR(lsn),
        };
        pid = 0; /* the session is the caller's now */
        return 0;
}

void pg_slot_export_done(PgSlotExport *e) {
        int status;

        if (!e)
                return;
        if (e->hold_fd >= 0)
                close(e->hold_fd);
        if (e->pid > 0)
                (void)spawn_reap(e->pid, &status);
        free(e->snapshot);
        free(e->lsn);
        *e = (PgSlotExport){ .hold_fd = -EBADF };
}

int pg_slot_drop(const PgTarget *t, const char *slot, char **ret_error) {
        _cleanup_json_ cJSON *rows = NULL;
        const char *params[] = { slot };
        int r;

        assert(t);
        assert(slot);

        r = pg_query(
                t,
                "SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots"
                " WHERE slot_name = $1",
                params,
                1,
                &rows,
                ret_error);
        if (r < 0)
                return r;
        return cJSON_GetArraySize(rows) > 0 ? 1 : 0;
}

typedef struct ChangesArgs {
        const char *slot;
        int fd;
        bool empty_xacts;
} ChangesArgs;

/* where fd goes on: past the transactions read before whose COMMIT the slot's confirmed position has
 * passed (decoding_resume_offset()), else at the start; *ret_kept = the lines kept */
static int changes_resume(
        PGconn *conn, const ChangesArgs *a, uint64_t *ret_kept, char **ret_wal_bytes, char **ret_error) {
        _cleanup_pgresult_ PGresult *res = NULL;
        const char *params[] = { a->slot };
        off_t off = 0;
        int r;

        /* and how much WAL decoding reads from the slot's restart point to now, whatever wrote it */
        r = pg_session_exec_params(
                conn,
                "SELECT confirmed_flush_lsn::text, "
                "pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_insert_lsn(), "
                "restart_lsn)::bigint::text "
                "FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
                1,
                params,
                &res,
                ret_error);
        if (r < 0)
                return r;
        if (sym_PQntuples(res) != 1 || sym_PQgetisnull(res, 0, 0))
                return errmsg_set(ret_error, -ENOENT, "there is no logical replication slot %s", a->slot);
        if (!sym_PQgetisnull(res, 0, 1)) {
                *ret_wal_bytes = strdup(sym_PQgetvalue(res, 0, 1));
                if (!*ret_wal_bytes)
                        return errmsg_set(ret_error, -ENOMEM, "out of memory");
        }
        r = decoding_resume_offset(a->fd, sym_PQgetvalue(res, 0, 0), &off, ret_kept);
        if (r < 0)
                return errmsg_set(ret_error, r, "cannot read the changes read before: %s", strerror(-r));
        if (ftruncate(a->fd, off) < 0 || lseek(a->fd, off, SEEK_SET) < 0)
                return errmsg_set(ret_error, -errno, "cannot write the changes: %m");
        return 0;
}

static int changes_fn(PGconn *conn, const void *userdata, cJSON **ret, char **ret_error) {
        const ChangesArgs *a = userdata;
        const char *params[] = { a->slot, a->empty_xacts ? "0" : "1" };
        _cleanup_free_ char *last_commit = NULL, *wal_bytes = NULL;
        _cleanup_json_ cJSON *o = NULL;
        uint64_t n = 0, kept = 0;
        int r, failed = 0;

        r = pg_session_exec(conn, "BEGIN", ret_error);
        if (r >= 0)
                r = pg_session_exec(conn, PG_STABLE_OUTPUT, ret_error);
        if (r >= 0)
                r = changes_resume(conn, a, &kept, &wal_bytes, ret_error);
        if (r < 0)
                return r;
        /* peek, not get: the slot keeps them until it is advanced past them (pg_slot_advance(), once they
         * are on disk) or dropped, so a second attempt reads them again */
        if (!sym_PQsendQueryParams(
                    conn,
                    "SELECT lsn::text, data FROM pg_catalog.pg_logical_slot_peek_changes($1, NULL, NULL,"
                    " 'include-xids', '0', 'skip-empty-xacts', $2)",
                    2,
                    NULL,
                    params,
                    NULL,
                    NULL,
                    0) ||
            !sym_PQsetSingleRowMode(conn))
                return pg_session_set_error(ret_error, -EIO, NULL, sym_PQerrorMessage(conn));

        for (;;) {
                _cleanup_pgresult_ PGresult *res = sym_PQgetResult(conn);
                _cleanup_json_ cJSON *line = NULL;
                _cleanup_free_ char *text = NULL;

                if (!res)
                        break;
                if (failed)
                        continue; /* drain the rest */
                if (sym_PQresultStatus(res) == PGRES_TUPLES_OK)
                        continue;
                if (sym_PQresultStatus(res) != PGRES_SINGLE_TUPLE) {
                        failed = pg_session_error(conn, res, ret_error);
                        continue;
                }
                line = cJSON_CreateObject();
                if (!line || !cJSON_AddStringToObject(line, "lsn", sym_PQgetvalue(res, 0, 0)) ||
                    !cJSON_AddStringToObject(line, "data", sym_PQgetvalue(res, 0, 1)) ||
                    !(text = cJSON_PrintUnformatted(line))) {
                        failed = errmsg_set(ret_error, -ENOMEM, "out of memory");
                        continue;
                }
                /* one JSON object per line: cJSON escapes the line breaks inside a value */
                r = write_all(a->fd, text, strlen(text));
                if (r >= 0)
                        r = write_all(a->fd, "\n", 1);
                if (r < 0) {
                        failed = errmsg_set(ret_error, r, "cannot write the changes: %s", strerror(-r));
                        continue;
                }
                if (streq(sym_PQgetvalue(res, 0, 1), "COMMIT")) {
                        free(last_commit);
                        last_commit = strdup(sym_PQgetvalue(res, 0, 0));
                        if (!last_commit) {
                                failed = errmsg_set(ret_error, -ENOMEM, "out of memory");
                                continue;
                        }
                }
                n++;
        }
        if (failed)
                return failed;
        r = pg_session_exec(conn, "COMMIT", ret_error);
        if (r < 0)
                return r;

        o = cJSON_CreateObject();
        if (!o || !cJSON_AddNumberToObject(o, "count", (double)(kept + n)) ||
            !cJSON_AddNumberToObject(o, "new", (double)n) ||
            (wal_bytes && !cJSON_AddNumberToObject(o, "wal_bytes", strtod(wal_bytes, NULL))) ||
            (last_commit && !cJSON_AddStringToObject(o, "last_commit", last_commit)))
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        *ret = TAKE_PTR(o);
        return 0;
}

int pg_slot_changes_to_fd(
        const PgTarget *t,
        const char *slot,
        int fd,
        bool empty_xacts,
        PgSlotChanges *ret,
        char **ret_error) {
        const ChangesArgs a = { .slot = slot, .fd = fd, .empty_xacts = empty_xacts };
        _cleanup_json_ cJSON *result = NULL;
        int64_t count, new;
        const char *last;
        int r;

        assert(t);
        assert(slot);
        assert(fd >= 0);

        r = pg_session_run(t, changes_fn, &a, &result, ret_error);
        if (r < 0)
                return r;
        if (json_get_int64_range(result, "count", 0, INT64_MAX, &count) < 0 ||
            json_get_int64_range(result, "new", 0, INT64_MAX, &new) < 0)
                return errmsg_set(ret_error, -EPROTO, "database session answered without a count");
        if (ret) {
                int64_t wal_bytes = 0;

                /* the session's figure, or 0 when it gave none */
                if (json_get_int64_range(result, "wal_bytes", 0, INT64_MAX, &wal_bytes) < 0)
                        wal_bytes = 0;
                last = json_get_string(result, "last_commit");
                *ret = (PgSlotChanges){ .changes = (uint64_t)count,
                                        .read = (uint64_t) new,
                                        .wal_bytes = (uint64_t)wal_bytes };
                if (last && !(ret->last_commit = strdup(last)))
                        return errmsg_set(ret_error, -ENOMEM, "out of memory");
        }
        return 0;
}

void pg_slot_changes_done(PgSlotChanges *c) {
        if (!c)
                return;
        free(c->last_commit);
        *c = (PgSlotChanges){};
}

int pg_slot_advance(const PgTarget *t, const char *slot, const char *lsn, char **ret_error) {
        const char *params[] = { slot, lsn };
        int r;

        assert(t);
        assert(slot);
        assert(lsn);

        /* twice: the first pass takes the restart point only to the first place it meets beyond the
         * slot's confirmed position (PostgreSQL keeps one pending candidate until it is confirmed); the
         * second, with all of them behind the new confirmed position, takes it to the last */
        for (int pass = 0; pass < 2; pass++) {
                r = pg_query(
                        t,
                        "SELECT 1 FROM pg_catalog.pg_replication_slot_advance($1, $2::pg_lsn)",
                        params,
                        2,
                        NULL,
                        ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* one sequence's {"schema", "name", "last_value", "is_called"} onto the array userdata */
static int sequence_add(
        const char *schema, const char *name, PGresult *res, void *userdata, char **ret_error) {
        cJSON *out = userdata, *o;

        if (sym_PQntuples(res) != 1)
                return errmsg_set(ret_error, -EBADMSG, "sequence %s.%s answered no value", schema, name);
        o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(out, o)) {
                cJSON_Delete(o);
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        }
        if (!cJSON_AddStringToObject(o, "schema", schema) || !cJSON_AddStringToObject(o, "name", name) ||
            !cJSON_AddStringToObject(o, "last_value", sym_PQgetvalue(res, 0, 0)) ||
            !cJSON_AddBoolToObject(o, "is_called", streq(sym_PQgetvalue(res, 0, 1), "true")))
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        return 0;
}

static int sequences_fn(PGconn *conn, const void *userdata, cJSON **ret, char **ret_error) {
        _cleanup_json_ cJSON *out = cJSON_CreateArray();
        int r;

        if (!out)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        r = pg_session_each_relation(
                conn, "S", "last_value::text, is_called::text", sequence_add, out, ret_error);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(out);
        return 0;
}

int pg_sequence_values(const PgTarget *t, cJSON **ret, char **ret_error) {
        assert(t);
        assert(ret);

        return pg_session_run_json(t, sequences_fn, NULL, true, "sequences", ret, ret_error);
}

typedef struct StatementsArgs {
        const char *setup;
        PgStatementNext next;
        void *userdata;
} StatementsArgs;

static int statements_fn(PGconn *conn, const void *userdata, cJSON **ret, char **ret_error) {
        const StatementsArgs *a = userdata;
        uint64_t n = 0;
        int r;

        r = pg_session_exec(conn, "BEGIN", ret_error);
        if (r >= 0 && a->setup)
                r = pg_session_exec(conn, a->setup, ret_error);
        if (r < 0)
                return r;
        for (;;) {
                _cleanup_pgresult_ PGresult *res = NULL;
                PgStatement st = { .expect_rows = -1 };
                char *end;
                long rows;

                r = a->next(a->userdata, &st, ret_error);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                n++;
                if (st.n_params > INT_MAX)
                        return errmsg_set(ret_error, -EINVAL, "too many parameters");
                r = pg_session_exec_params(conn, st.sql, (int)st.n_params, st.params, &res, ret_error);
                if (r < 0)
                        return r;
                if (st.expect_rows < 0)
                        continue;
                rows = strtol(sym_PQcmdTuples(res), &end, 10);
                if (*end || rows != st.expect_rows)
                        return errmsg_set(
                                ret_error,
                                -EBADMSG,
                                "statement %" PRIu64 " (%s) touched %s rows, not %ld",
                                n,
                                st.sql,
                                sym_PQcmdTuples(res),
                                st.expect_rows);
        }
        r = pg_session_exec(conn, "COMMIT", ret_error);
        if (r < 0)
                return r;
        return pg_session_count_answer(n, ret, ret_error);
}

int pg_exec_statements(
        const PgTarget *t,
        const char *setup,
        PgStatementNext next,
        void *userdata,
        uint64_t *ret_count,
        char **ret_error) {
        const StatementsArgs a = { .setup = setup, .next = next, .userdata = userdata };

        assert(t);
        assert(next);

        return pg_session_run_count(t, statements_fn, &a, ret_count, ret_error);
}
