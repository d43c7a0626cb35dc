/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-pg-server.h: a private, throwaway PostgreSQL server for the pg suites (test-pg, test-pg-client),
 * never the host's cluster */
#pragma once

#include <check.h>
#include <stdbool.h>

#include <cjson/cJSON.h>

#include "pg.h"

#define TEST_PG_ROLE_PASSWORD "correct horse battery staple"

/* set by test_pg_server_start() in the runner, inherited by every forked test */
extern char *test_pg_bindir;     /* /usr/lib/postgresql/<highest>/bin */
extern char *test_pg_server_dir; /* /var/tmp/test-pg.XXXXXX: data/, the socket, the logs */
extern char *test_pg_scratch_db;
extern char *test_pg_scratch_role; /* a login role with password TEST_PG_ROLE_PASSWORD */
extern char *test_pg_port;

/* the server's postgres database, as the postgres OS user */
extern const PgTarget test_pg_admin;

/* initdb and start the server on a free port, create the scratch database (tables public.alpha,
 * public.beta, "odd schema"."b""q", a view) and role; for an unchecked Check fixture */
void test_pg_server_start(void);

/* stop the server and remove its directory (only in the process that started it); safe to call twice */
void test_pg_server_stop(void);

/* run the suite s (its tests with the server under test_pg_server_start() as an unchecked fixture),
 * then make sure the server is gone: the exit code of the test program (77: skipped, not root) */
int test_pg_run_suite(Suite *s);

/* the scratch database, as the postgres OS user */
PgTarget test_pg_scratch(void);

/* pg_exec() that fails the test with the SQL and the error */
void test_pg_exec_or_die(const PgTarget *t, const char *sql);

/* column of row i of pg_query()'s rows, as text */
const char *test_pg_row_string(const cJSON *rows, int i, const char *column);

/* whether column of row i of pg_query()'s rows is SQL NULL */
bool test_pg_row_null(const cJSON *rows, int i, const char *column);

/* a root-owned file with mode 0600 holding content (free it, unlink it: test_unlink_freep()) */
char *test_pg_credential_file(const char *content);

/* unlink() and free() of *p (for _cleanup_) */
void test_unlink_freep(char **p);

/* the private server for client programs (pg_dump, pg_restore), which spawn starts without PGHOST:
 * *conninfo (allocated on first use, free it) on dbname */
PgTarget test_pg_client_target(char **conninfo, const char *dbname);

/* pg_dump -Fc of dbname into a root-only file; its path (free it, unlink it) */
char *test_pg_dump_database(const char *dbname);

/* the server's server_version_num */
int test_pg_server_version(void);

/* whether a database of that name exists */
bool test_pg_database_exists(const char *name);

/* the owner of public.table in dbname (free it) */
char *test_pg_table_owner(const char *dbname, const char *table);
