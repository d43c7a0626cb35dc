/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pq-dl.c: libpq's functions, resolved on first use */
#include "macro.h"
#include "pq-dl.h"

DLSYM_DEFINE(PQclear);
DLSYM_DEFINE(PQcmdTuples);
DLSYM_DEFINE(PQconnectdbParams);
DLSYM_DEFINE(PQconninfoFree);
DLSYM_DEFINE(PQconninfoParse);
DLSYM_DEFINE(PQerrorMessage);
DLSYM_DEFINE(PQescapeIdentifier);
DLSYM_DEFINE(PQexec);
DLSYM_DEFINE(PQexecParams);
DLSYM_DEFINE(PQfinish);
DLSYM_DEFINE(PQfname);
DLSYM_DEFINE(PQfreemem);
DLSYM_DEFINE(PQgetResult);
DLSYM_DEFINE(PQgetisnull);
DLSYM_DEFINE(PQgetvalue);
DLSYM_DEFINE(PQnfields);
DLSYM_DEFINE(PQntuples);
DLSYM_DEFINE(PQresultErrorField);
DLSYM_DEFINE(PQresultErrorMessage);
DLSYM_DEFINE(PQresultStatus);
DLSYM_DEFINE(PQresultVerboseErrorMessage);
DLSYM_DEFINE(PQsendQueryParams);
DLSYM_DEFINE(PQserverVersion);
DLSYM_DEFINE(PQsetNoticeProcessor);
DLSYM_DEFINE(PQsetSingleRowMode);
DLSYM_DEFINE(PQstatus);

int pq_dlopen(char **ret_error) {
        static void *dl = NULL;
        static const DlSym syms[] = {
                DLSYM_ARG(PQclear),
                DLSYM_ARG(PQcmdTuples),
                DLSYM_ARG(PQconnectdbParams),
                DLSYM_ARG(PQconninfoFree),
                DLSYM_ARG(PQconninfoParse),
                DLSYM_ARG(PQerrorMessage),
                DLSYM_ARG(PQescapeIdentifier),
                DLSYM_ARG(PQexec),
                DLSYM_ARG(PQexecParams),
                DLSYM_ARG(PQfinish),
                DLSYM_ARG(PQfname),
                DLSYM_ARG(PQfreemem),
                DLSYM_ARG(PQgetResult),
                DLSYM_ARG(PQgetisnull),
                DLSYM_ARG(PQgetvalue),
                DLSYM_ARG(PQnfields),
                DLSYM_ARG(PQntuples),
                DLSYM_ARG(PQresultErrorField),
                DLSYM_ARG(PQresultErrorMessage),
                DLSYM_ARG(PQresultStatus),
                DLSYM_ARG(PQresultVerboseErrorMessage),
                DLSYM_ARG(PQsendQueryParams),
                DLSYM_ARG(PQserverVersion),
                DLSYM_ARG(PQsetNoticeProcessor),
                DLSYM_ARG(PQsetSingleRowMode),
                DLSYM_ARG(PQstatus),
        };

        return dlopen_many(&dl, "libpq.so.5", syms, ELEMENTSOF(syms), ret_error);
}
