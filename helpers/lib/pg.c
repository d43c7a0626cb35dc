/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pg.c: the database work of the helpers, each a session of pg-session.c: queries, row counts, a
 * database's properties, its copy and its drop */
#define _GNU_SOURCE
#include <assert.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "pq-dl.h"

#include "errmsg.h"
#include "fd-util.h"
#include "json-util.h"
#include "pg-session.h"
#include "pg.h"
#include "spawn.h"
#include "state.h"
#include "trust.h"

int pg_check_credential_file(const char *path) {
        struct stat st;

        assert(path);

        if (stat(path, &st) < 0)
                return -errno;
        return trust_check_stat(&st, TRUST_PRIVATE);
}

char *pg_quote_identifier(const char *s) {
        size_t n = 2;
        char *q, *p;

        assert(s);

        for (const char *i = s; *i; i++)
                n += *i == '"' ? 2 : 1;

        q = malloc(n + 1);
        if (!q)
                return NULL;

        p = q;
        *p++ = '"';
        for (const char *i = s; *i; i++) {
                if (*i == '"')
                        *p++ = '"';
                *p++ = *i;
        }
        *p++ = '"';
        *p = 0;
        return q;
}

/* ---- the sessions ---- */

typedef struct QueryArgs {
        const char *sql;
        const char *const *params;
        size_t n_params;
} QueryArgs;

static int query_fn(PGconn *conn, const void *userdata, cJSON **ret, char **ret_error) {
        const QueryArgs *a = userdata;
        _cleanup_pgresult_ PGresult *res = NULL;

        res = sym_PQexecParams(conn, a->sql, (int)a->n_params, NULL, a->params, NULL, NULL, 0);
        return pg_session_rows(conn, res, ret, ret_error);
}

int pg_query(
        const PgTarget *t,
        const char *sql,
        const char *const *params,
        size_t n_params,
        cJSON **ret_rows,
        char **ret_error) {

        const QueryArgs a = { .sql = sql, .params = params, .n_params = n_params };
        _cleanup_json_ cJSON *rows = NULL;
        int r;

        assert(sql);
        assert(params || n_params == 0);

        if (n_params > INT_MAX)
                return errmsg_set(ret_error, -EINVAL, "too many parameters");

        r = pg_session_run(t, query_fn, &a, &rows, ret_error);
        if (r < 0)
                return r;
        if (!cJSON_IsArray(rows))
                return errmsg_set(ret_error, -EPROTO, "database session answered without rows");

        if (ret_rows)
                *ret_rows = TAKE_PTR(rows);
        return 0;
}

static int exec_fn(PGconn *conn, const void *userdata, cJSON **ret, char **ret_error) {
        _cleanup_pgresult_ PGresult *res = NULL;

        res = sym_PQexec(conn, userdata);
        return pg_session_check(conn, res, ret_error);
}

int pg_exec(const PgTarget *t, const char *sql, char **ret_error) {
        assert(sql);

        return pg_session_run(t, exec_fn, sql, NULL, ret_error);
}

/* one table's count(*) into the object userdata as "schema.table" */
static int row_count_add(
        const char *schema, const char *table, PGresult *res, void *userdata, char **ret_error) {
        cJSON *counts = userdata;
        _cleanup_free_ char *key = NULL;
        unsigned long long n;
        char *end;

        if (asprintf(&key, "%s.%s", schema, table) < 0) {
                key = NULL;
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        }
        if (sym_PQntuples(res) != 1 || sym_PQnfields(res) != 1)
                return errmsg_set(ret_error, -EBADMSG, "unexpected answer to count(*) on %s", key);

        errno = 0;
        n = strtoull(sym_PQgetvalue(res, 0, 0), &end, 10);
        if (errno != 0 || *end != 0)
                return errmsg_set(ret_error, -EBADMSG, "unexpected count for %s", key);

        if (!cJSON_AddNumberToObject(counts, key, (double)n))
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        return 0;
}

static int row_counts_fn(PGconn *conn, const void *userdata, cJSON **ret, char **ret_error) {
        _cleanup_json_ cJSON *counts = cJSON_CreateObject();
        int r;

        if (!counts)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        /* one snapshot for every count, as pg_dump takes */
        r = pg_session_each_relation(conn, "r", "count(*)", row_count_add, counts, ret_error);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(counts);
        return 0;
}

int pg_table_row_counts(const PgTarget *t, cJSON **ret_object, char **ret_error) {
        assert(ret_object);

        return pg_session_run_json(t, row_counts_fn, NULL, false, "counts", ret_object, ret_error);
}

static const char *locale_provider_name(const char *p) {
        if (streq(p, "c"))
                return "libc";
        if (streq(p, "i"))
                return "icu";
        if (streq(p, "b"))
                return "builtin";
        return p;
}

static cJSON *string_or_null(const PGresult *res, int row, int col) {
        return sym_PQgetisnull(res, row, col) ? cJSON_CreateNull()
                                              : cJSON_CreateString(sym_PQgetvalue(res, row, col));
}

static int properties_fn(PGconn *conn, const void *userdata, cJSON **ret, char **ret_error) {
        const char *dbname = userdata;
        _cleanup_pgresult_ PGresult *db = NULL, *settings = NULL;
        _cleanup_json_ cJSON *props = NULL;
        _cleanup_free_ char *sql = NULL;
        cJSON *list;
        const char *locale, *oid;
        int r, version = sym_PQserverVersion(conn);

        /* the ICU locale column came in 15 and was renamed in 17 */
        locale = version >= 170000   ? "d.datlocprovider::text, d.datlocale"
                 : version >= 150000 ? "d.datlocprovider::text, d.daticulocale"
                                     : "'c'::text, NULL::text";

        if (asprintf(
                    &sql,
                    "SELECT d.datname, pg_catalog.pg_get_userbyid(d.datdba),"
                    " pg_catalog.pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, %s,"
                    " t.spcname, d.datconnlimit, d.datistemplate, d.datallowconn, d.datacl::text, d.oid"
                    " FROM pg_catalog.pg_database d"
                    " LEFT JOIN pg_catalog.pg_tablespace t ON t.oid = d.dattablespace"
                    " WHERE d.datname = $1",
                    locale) < 0)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");

        r = pg_session_exec_params(conn, sql, 1, &dbname, &db, ret_error);
        if (r < 0)
                return r;
        if (sym_PQntuples(db) != 1)
                return errmsg_set(ret_error, -ENOENT, "database \"%s\" does not exist", dbname);

        props = cJSON_CreateObject();
        if (!props)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");

        if (!cJSON_AddItemToObject(props, "name", string_or_null(db, 0, 0)) ||
            !cJSON_AddItemToObject(props, "owner", string_or_null(db, 0, 1)) ||
            !cJSON_AddItemToObject(props, "encoding", string_or_null(db, 0, 2)) ||
            !cJSON_AddItemToObject(props, "lc_collate", string_or_null(db, 0, 3)) ||
            !cJSON_AddItemToObject(props, "lc_ctype", string_or_null(db, 0, 4)) ||
            !cJSON_AddStringToObject(
                    props, "locale_provider", locale_provider_name(sym_PQgetvalue(db, 0, 5))) ||
            !cJSON_AddItemToObject(props, "icu_locale", string_or_null(db, 0, 6)) ||
            !cJSON_AddItemToObject(props, "tablespace", string_or_null(db, 0, 7)) ||
            !cJSON_AddNumberToObject(props, "connection_limit", atoi(sym_PQgetvalue(db, 0, 8))) ||
            !cJSON_AddBoolToObject(props, "is_template", streq(sym_PQgetvalue(db, 0, 9), "t")) ||
            !cJSON_AddBoolToObject(props, "allow_connections", streq(sym_PQgetvalue(db, 0, 10), "t")) ||
            !cJSON_AddItemToObject(props, "datacl", string_or_null(db, 0, 11)))
                return errmsg_set(ret_error, -ENOMEM, "out of memory");

        oid = sym_PQgetvalue(db, 0, 12);
        r = pg_session_exec_params(
                conn,
                "SELECT r.rolname, c.setting"
                " FROM pg_catalog.pg_db_role_setting s"
                " LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole,"
                " LATERAL unnest(s.setconfig) WITH ORDINALITY AS c(setting, i)"
                " WHERE s.setdatabase = $1::oid"
                " ORDER BY r.rolname NULLS FIRST, c.i",
                1,
                &oid,
                &settings,
                ret_error);
        if (r < 0)
                return r;

        list = cJSON_AddArrayToObject(props, "settings");
        if (!list)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");

        for (int i = 0; i < sym_PQntuples(settings); i++) {
                _cleanup_free_ char *name = strdup(sym_PQgetvalue(settings, i, 1));
                cJSON *s = cJSON_CreateObject();
                char *value;

                if (!s || !cJSON_AddItemToArray(list, s)) {
                        cJSON_Delete(s);
                        return errmsg_set(ret_error, -ENOMEM, "out of memory");
                }
                if (!name)
                        return errmsg_set(ret_error, -ENOMEM, "out of memory");

                value = strchr(name, '=');
                if (value)
                        *value++ = 0;

                if (!cJSON_AddItemToObject(s, "role", string_or_null(settings, i, 0)) ||
                    !cJSON_AddStringToObject(s, "name", name) ||
                    !cJSON_AddStringToObject(s, "value", strempty(value)))
                        return errmsg_set(ret_error, -ENOMEM, "out of memory");
        }

        *ret = TAKE_PTR(props);
        return 0;
}

int pg_database_properties(const PgTarget *t, const char *dbname, cJSON **ret, char **ret_error) {
        assert(dbname);
        assert(ret);

        return pg_session_run_json(t, properties_fn, dbname, false, "properties", ret, ret_error);
}

/* ---- a password file for client programs ---- */

int pg_passfile_memfd(const PgTarget *t, int *ret_fd, char **ret_error) {
        _cleanup_(erase_and_freep) char *password = NULL, *line = NULL;
        _cleanup_close_ int fd = -EBADF;
        uid_t uid = 0;
        gid_t gid = 0;
        size_t n = 0;
        int r;

        assert(t);
        assert(ret_fd);

        if (!t->password_file) {
                *ret_fd = -EBADF;
                return 0;
        }

        if (t->os_user) {
                struct passwd *pw = getpwnam(t->os_user);

                if (!pw)
                        return errmsg_set(ret_error, -ESRCH, "unknown user %s", t->os_user);
                uid = pw->pw_uid;
                gid = pw->pw_gid;
        }

        r = pg_session_read_credential(t->password_file, &password, ret_error);
        if (r < 0)
                return r;
        /* one line "host:port:database:user:password", in which ':' and '\' are escaped */
        if (strpbrk(password, "\r\n"))
                return errmsg_set(
                        ret_error,
                        -EINVAL,
                        "credential file %s holds a line break, which a libpq password file cannot carry",
                        t->password_file);
        line = calloc(1, strlen("*:*:*:*:") + 2 * strlen(password) + 2);
        if (!line)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        n = stpcpy(line, "*:*:*:*:") - line;
        for (const char *p = password; *p; p++) {
                if (*p == ':' || *p == '\\')
                        line[n++] = '\\';
                line[n++] = *p;
        }
        line[n++] = '\n';
        line[n] = 0;

        /* in memory only, so that no file on a disk ever holds it; libpq ignores a password file that is
         * not a regular file or that has group or other permission bits, and the client opens it again
         * (/proc/self/fd/N) as os_user */
        fd = memfd_create("codebolt-upgrade-passfile", MFD_CLOEXEC);
        if (fd < 0)
                return errmsg_set(ret_error, -errno, "cannot create a password file: %s", strerror(errno));
        r = write_all(fd, line, n);
        if (r < 0)
                return errmsg_set(ret_error, r, "cannot write the password file: %s", strerror(-r));
        if (fchmod(fd, 0600) < 0 || fchown(fd, uid, gid) < 0)
                return errmsg_set(
                        ret_error,
                        -errno,
                        "cannot give the password file to %s: %s",
                        strempty(t->os_user),
                        strerror(errno));

        *ret_fd = TAKE_FD(fd);
        return 0;
}

int pg_server_version(const PgTarget *t, int *ret, char **ret_error) {
        _cleanup_json_ cJSON *rows = NULL;
        const char *v;
        int r;

        assert(ret);

        r = pg_query(t, "SELECT current_setting('server_version_num') AS v", NULL, 0, &rows, ret_error);
        if (r < 0)
                return r;
        v = json_get_string(cJSON_GetArrayItem(rows, 0), "v");
        if (!v || atoi(v) <= 0)
                return -EBADMSG;
        *ret = atoi(v);
        return 0;
}

/* ---- copying a database ---- */

typedef struct CopyArgs {
        const char *name;
        const char *template;
} CopyArgs;

static int copy_fn(PGconn *conn, const void *userdata, cJSON **ret, char **ret_error) {
        const CopyArgs *a = userdata;
        _cleanup_free_ char *qn = pg_quote_identifier(a->name), *qt = pg_quote_identifier(a->template),
                            *sql = NULL;
        _cleanup_pgresult_ PGresult *res = NULL;

        if (!qn || !qt)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        /* FILE_COPY (15+; before 15 the only strategy): copies the files, no WAL for every block */
        if (asprintf(
                    &sql,
                    "CREATE DATABASE %s TEMPLATE %s%s",
                    qn,
                    qt,
                    sym_PQserverVersion(conn) >= 150000 ? " STRATEGY FILE_COPY" : "") < 0) {
                sql = NULL;
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        }
        res = sym_PQexec(conn, sql);
        return pg_session_check(conn, res, ret_error);
}

int pg_create_database_copy(
        const PgTarget *admin, const char *name, const char *template, char **ret_error) {
        const CopyArgs a = { .name = name, .template = template };

        assert(admin);
        assert(name);
        assert(template);

        return pg_session_run(admin, copy_fn, &a, NULL, ret_error);
}

/* ---- dropping a database ---- */

int pg_drop_database(const PgTarget *admin, const char *name, int server_version, char **ret_error) {
        _cleanup_free_ char *q = NULL, *sql = NULL;

        assert(admin);
        assert(name);

        q = pg_quote_identifier(name);
        if (!q || asprintf(
                          &sql,
                          "DROP DATABASE IF EXISTS %s%s",
                          q,
                          server_version >= 130000 ? " WITH (FORCE)" : "") < 0)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        return pg_exec(admin, sql, ret_error);
}
