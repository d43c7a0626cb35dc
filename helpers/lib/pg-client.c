/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pg-client.c: the PostgreSQL client programs (pg_dump, pg_restore) and a restore into a fresh database */
#define _GNU_SOURCE
#include <assert.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>

#include "pq-dl.h"

#include "fd-util.h"
#include "json-util.h"
#include "pg-client.h"
#include "spawn.h"

/* ---- client programs: pg_dump, pg_restore ---- */

/* 'value' for a conninfo string: backslash and single quote escaped */
static int fputs_conninfo_value(FILE *f, const char *v) {
        fputc('\'', f);
        for (const char *p = v; *p; p++) {
                if (*p == '\\' || *p == '\'')
                        fputc('\\', f);
                fputc(*p, f);
        }
        fputc('\'', f);
        return ferror(f) ? -ENOMEM : 0;
}

int pg_client_conninfo(const char *conninfo, const char *dbname, char **ret) {
        _cleanup_conninfo_ PQconninfoOption *opts = NULL;
        _cleanup_free_ char *buf = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0;
        int r;

        assert(dbname);
        assert(ret);

        if (conninfo && *conninfo) {
                _cleanup_free_ char *secret = NULL;
                char *err = NULL;

                /* the result becomes an argument (pg_dump -d), which every local user can read */
                r = pg_conninfo_find_secret(conninfo, &secret);
                if (r < 0)
                        return r;
                if (r > 0)
                        return -EPERM;
                opts = sym_PQconninfoParse(conninfo, &err);
                if (!opts) {
                        r = err ? -EINVAL : -ENOMEM;
                        sym_PQfreemem(err);
                        return r;
                }
        }

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        for (const PQconninfoOption *o = opts; o && o->keyword; o++) {
                if (!o->val || streq(o->keyword, "dbname"))
                        continue;
                fprintf(f, "%s=", o->keyword);
                r = fputs_conninfo_value(f, o->val);
                if (r < 0)
                        return r;
                fputc(' ', f);
        }
        fputs("dbname=", f);
        r = fputs_conninfo_value(f, dbname);
        if (r < 0)
                return r;
        if (fclose(TAKE_PTR(f)) != 0)
                return -ENOMEM;

        *ret = TAKE_PTR(buf);
        return 0;
}

/* a SQL string literal; E'' with doubled backslashes when there is a backslash, so it reads the same
 * whatever standard_conforming_strings says */
static void fputs_sql_literal(FILE *f, const char *v) {
        bool backslash = strchr(v, '\\');

        fputs(backslash ? "E'" : "'", f);
        for (const char *p = v; *p; p++) {
                if (*p == '\'' || (backslash && *p == '\\'))
                        fputc(*p, f);
                fputc(*p, f);
        }
        fputc('\'', f);
}

static int fputs_sql_identifier(FILE *f, const char *v) {
        _cleanup_free_ char *q = pg_quote_identifier(v);

        if (!q)
                return -ENOMEM;
        fputs(q, f);
        return 0;
}

int pg_create_database_sql(const char *name, const cJSON *properties, bool with_owner, char **ret) {

        _cleanup_free_ char *buf = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        const char *encoding, *collate, *ctype, *provider, *locale, *owner;
        size_t size = 0;
        int r;

        assert(name);
        assert(ret);

        encoding = json_get_string(properties, "encoding");
        collate = json_get_string(properties, "lc_collate");
        ctype = json_get_string(properties, "lc_ctype");
        provider = json_get_string(properties, "locale_provider");
        locale = json_get_string(properties, "icu_locale");
        owner = json_get_string(properties, "owner");

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        fputs("CREATE DATABASE ", f);
        r = fputs_sql_identifier(f, name);
        if (r < 0)
                return r;
        /* template0: a restore into a copy of template1 meets whatever a site added to template1 */
        fputs(" TEMPLATE template0", f);
        if (encoding) {
                fputs(" ENCODING ", f);
                fputs_sql_literal(f, encoding);
        }
        if (collate) {
                fputs(" LC_COLLATE ", f);
                fputs_sql_literal(f, collate);
        }
        if (ctype) {
                fputs(" LC_CTYPE ", f);
                fputs_sql_literal(f, ctype);
        }
        /* only non-libc providers are named, so the statement also works before PostgreSQL 15 */
        if (provider && locale && streq(provider, "icu")) {
                fputs(" LOCALE_PROVIDER icu ICU_LOCALE ", f);
                fputs_sql_literal(f, locale);
        } else if (provider && locale && streq(provider, "builtin")) {
                fputs(" LOCALE_PROVIDER builtin BUILTIN_LOCALE ", f);
                fputs_sql_literal(f, locale);
        }
        if (with_owner && owner) {
                fputs(" OWNER ", f);
                r = fputs_sql_identifier(f, owner);
                if (r < 0)
                        return r;
        }
        if (ferror(f))
                return -ENOMEM;
        if (fclose(TAKE_PTR(f)) != 0)
                return -ENOMEM;

        *ret = TAKE_PTR(buf);
        return 0;
}

/* the connection string of a client program (pg_dump, pg_restore) for t->dbname, and the password file
 * it reads as its fd 3 (-EBADF: none) */
static int client_connection(const PgTarget *t, char **ret_conninfo, int *ret_passfd) {
        _cleanup_free_ char *conninfo = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = pg_client_conninfo(t->conninfo, t->dbname, &conninfo);
        if (r < 0)
                return r;
        r = pg_passfile_memfd(t, &fd, NULL);
        if (r < 0)
                return r;
        if (fd >= 0) {
                /* after the caller's own options, so that it wins */
                char *s;

                if (asprintf(&s, "%s passfile=/proc/self/fd/3", conninfo) < 0)
                        return -ENOMEM;
                free(conninfo);
                conninfo = s;
        }

        *ret_conninfo = TAKE_PTR(conninfo);
        *ret_passfd = TAKE_FD(fd);
        return 0;
}

int pg_dump_run(const PgTarget *t, int fd, const char *snapshot, int *ret_status) {
        _cleanup_free_ char *conninfo = NULL, *snapshot_arg = NULL;
        _cleanup_close_ int passfd = -EBADF;
        size_t n = 0;
        int r;

        assert(t);
        assert(t->dbname);
        assert(fd > STDERR_FILENO);

        r = client_connection(t, &conninfo, &passfd);
        if (r < 0)
                return r;
        if (snapshot && asprintf(&snapshot_arg, "--snapshot=%s", snapshot) < 0)
                return -ENOMEM;

        char *argv[7];
        argv[n++] = (char *)"pg_dump";
        argv[n++] = (char *)"-Fc";
        argv[n++] = (char *)"--no-password";
        if (snapshot_arg)
                argv[n++] = snapshot_arg;
        argv[n++] = (char *)"-d";
        argv[n++] = conninfo;
        argv[n] = NULL;
        SpawnOptions o = {
                .run_as = t->os_user,
                .stdout_fd = fd,
                .fd3 = passfd,
                .log_identifier = "pg_dump",
        };
        return spawn_run(argv, &o, ret_status);
}

int pg_restore_run(const PgTarget *t, int dump_fd, bool with_owner, int *ret_status) {
        _cleanup_free_ char *conninfo = NULL;
        _cleanup_close_ int passfd = -EBADF;
        size_t n = 0;
        int r;

        assert(t);
        assert(t->dbname);
        assert(dump_fd > STDERR_FILENO);

        r = client_connection(t, &conninfo, &passfd);
        if (r < 0)
                return r;

        char *argv[7];
        argv[n++] = (char *)"pg_restore";
        if (!with_owner)
                argv[n++] = (char *)"--no-owner";
        argv[n++] = (char *)"--exit-on-error";
        argv[n++] = (char *)"--no-password";
        argv[n++] = (char *)"-d";
        argv[n++] = conninfo;
        argv[n] = NULL;
        SpawnOptions o = {
                .run_as = t->os_user,
                .stdin_fd = dump_fd,
                .fd3 = passfd,
                .log_identifier = "pg_restore",
        };
        return spawn_run(argv, &o, ret_status);
}

int pg_restore_list(const char *path, unsigned *ret_entries, int *ret_status) {
        _cleanup_fclose_ FILE *listing = NULL;
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        unsigned entries = 0;
        ssize_t n;
        int status = 0, r;

        assert(path);
        assert(ret_entries);
        assert(ret_status);

        /* a file rather than a capture: a big schema's listing may pass what a capture may hold */
        listing = tmpfile();
        if (!listing)
                return -errno;
        char *argv[] = { (char *)"pg_restore", (char *)"--list", (char *)path, NULL };
        SpawnOptions o = { .stdout_fd = fileno(listing), .log_identifier = "pg_restore" };
        r = spawn_run(argv, &o, &status);
        if (r < 0)
                return r;

        /* lines starting with ';' are the listing's comments, the others its entries */
        rewind(listing);
        while (status == 0 && (n = getline(&line, &size, listing)) >= 0)
                if (n > 0 && line[0] != '\n' && line[0] != ';')
                        entries++;
        if (ferror(listing))
                return -EIO;
        *ret_entries = entries;
        *ret_status = status;
        return 0;
}

/* ---- restoring a dump ---- */

void pg_restore_failure_done(PgRestoreFailure *f) {
        if (!f)
                return;
        free(f->error);
        *f = (PgRestoreFailure){};
}

/* hand f (owned) to *ret_failure, and return r */
static int restore_fail(PgRestoreFailure *ret_failure, int r, PgRestoreFailure f) {
        if (ret_failure)
                *ret_failure = f;
        else
                pg_restore_failure_done(&f);
        return r;
}

int pg_restore_dump(
        const PgTarget *admin,
        const char *dump,
        const char *dbname,
        const cJSON *properties,
        int server_version,
        PgRestoreFlags flags,
        cJSON **ret_counts,
        PgRestoreFailure *ret_failure) {

        bool with_owner = flags & PG_RESTORE_OWNER;
        _cleanup_free_ char *sql = NULL, *error = NULL;
        _cleanup_json_ cJSON *counts = NULL;
        _cleanup_close_ int fd = -EBADF;
        PgTarget target;
        int status = 0, r;

        assert(admin);
        assert(dump);
        assert(dbname);

        /* a leftover is an earlier attempt's, killed or cut off mid-restore */
        r = pg_drop_database(admin, dbname, server_version, &error);
        if (r < 0)
                return restore_fail(
                        ret_failure,
                        r,
                        (PgRestoreFailure){ .step = PG_RESTORE_STEP_DROP, .error = TAKE_PTR(error) });
        r = pg_create_database_sql(dbname, properties, with_owner, &sql);
        if (r < 0)
                return restore_fail(ret_failure, r, (PgRestoreFailure){ .step = PG_RESTORE_STEP_SQL });
        r = pg_exec(admin, sql, &error);
        if (r < 0)
                return restore_fail(
                        ret_failure,
                        r,
                        (PgRestoreFailure){ .step = PG_RESTORE_STEP_CREATE, .error = TAKE_PTR(error) });

        fd = open(dump, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return restore_fail(ret_failure, -errno, (PgRestoreFailure){ .step = PG_RESTORE_STEP_OPEN });
        target = *admin;
        target.dbname = dbname;
        r = pg_restore_run(&target, fd, with_owner, &status);
        if (r < 0)
                return restore_fail(ret_failure, r, (PgRestoreFailure){ .step = PG_RESTORE_STEP_RUN });
        if (status != 0)
                return restore_fail(
                        ret_failure,
                        -EBADMSG,
                        (PgRestoreFailure){ .step = PG_RESTORE_STEP_EXIT, .exit_status = status });

        r = pg_table_row_counts(&target, &counts, &error);
        if (r < 0)
                return restore_fail(
                        ret_failure,
                        r,
                        (PgRestoreFailure){ .step = PG_RESTORE_STEP_COUNT, .error = TAKE_PTR(error) });

        if (ret_counts)
                *ret_counts = TAKE_PTR(counts);
        return 0;
}
