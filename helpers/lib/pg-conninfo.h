/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pg-conninfo.h: a [Database] Connection= string read without a session, apart from pg.c so that a
 * program which only reads the configuration (the generator) links nothing that runs one */
#pragma once

/* Whether conninfo (key=value pairs, or a postgresql:// URI with user:password@ and ?query) sets an
 * option libpq marks secret: dispchar "*" in its option table, the one PQconndefaults() shows
 * (password, sslpassword, and whatever a later libpq adds). 1 with *ret_keyword the first one set, 0
 * when none is, -EINVAL when conninfo does not parse, -EOPNOTSUPP when libpq cannot be opened,
 * -ENOMEM. */
int pg_conninfo_find_secret(const char *conninfo, char **ret_keyword);
