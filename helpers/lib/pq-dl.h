/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pq-dl.h: libpq, opened where a database session runs (helpers/lib/pg.c runs each in a forked child), so
 * that a helper which never talks to PostgreSQL does not map it and its TLS and Kerberos libraries */
#pragma once

#include <libpq-fe.h>

#include "dlopen-util.h"
#include "macro.h"

DLSYM_PROTOTYPE(PQclear);
DLSYM_PROTOTYPE(PQcmdTuples);
DLSYM_PROTOTYPE(PQconnectdbParams);
DLSYM_PROTOTYPE(PQconninfoFree);
DLSYM_PROTOTYPE(PQconninfoParse);
DLSYM_PROTOTYPE(PQerrorMessage);
DLSYM_PROTOTYPE(PQescapeIdentifier);
DLSYM_PROTOTYPE(PQexec);
DLSYM_PROTOTYPE(PQexecParams);
DLSYM_PROTOTYPE(PQfinish);
DLSYM_PROTOTYPE(PQfname);
DLSYM_PROTOTYPE(PQfreemem);
DLSYM_PROTOTYPE(PQgetResult);
DLSYM_PROTOTYPE(PQgetisnull);
DLSYM_PROTOTYPE(PQgetvalue);
DLSYM_PROTOTYPE(PQnfields);
DLSYM_PROTOTYPE(PQntuples);
DLSYM_PROTOTYPE(PQresultErrorField);
DLSYM_PROTOTYPE(PQresultErrorMessage);
DLSYM_PROTOTYPE(PQresultStatus);
DLSYM_PROTOTYPE(PQresultVerboseErrorMessage);
DLSYM_PROTOTYPE(PQsendQueryParams);
DLSYM_PROTOTYPE(PQserverVersion);
DLSYM_PROTOTYPE(PQsetNoticeProcessor);
DLSYM_PROTOTYPE(PQsetSingleRowMode);
DLSYM_PROTOTYPE(PQstatus);

/* Open libpq.so.5 (once); 0, or -EOPNOTSUPP with *ret_error (when not NULL) naming what is missing. */
int pq_dlopen(char **ret_error);

/* cleanups for what libpq hands out, through the symbols above */
DEFINE_TRIVIAL_CLEANUP_FUNC(PGconn *, sym_PQfinish);
#define _cleanup_pgconn_ _cleanup_(sym_PQfinishp)
DEFINE_TRIVIAL_CLEANUP_FUNC(PGresult *, sym_PQclear);
#define _cleanup_pgresult_ _cleanup_(sym_PQclearp)
DEFINE_TRIVIAL_CLEANUP_FUNC(PQconninfoOption *, sym_PQconninfoFree);
#define _cleanup_conninfo_ _cleanup_(sym_PQconninfoFreep)
DEFINE_TRIVIAL_CLEANUP_FUNC(char *, sym_PQfreemem);
#define _cleanup_pqfree_ _cleanup_(sym_PQfreememp)
