/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* restore-point.h: the row counts of the restore point, "tables_at_stop" in the backup's manifest. With
 * Snapshot=dump they are taken at the stop, with the final dump; a snapshot database is frozen at the
 * stop, so its rows are counted once the server is back, outside the downtime (docs/architecture.md,
 * "What the downtime is made of"). Both functions log their failures. */
#pragma once

#include <cjson/cJSON.h>

#include "helper.h"

/* the rows of every table of database name: *ret = {"schema.table": rows} */
int restore_point_count(const Helper *h, const char *name, cJSON **ret);

/* the snapshot named in current.json counted into its backup's manifest as tables_at_stop, unless the
 * manifest has them already; 0 too when there is no snapshot */
int restore_point_record_counts(Helper *h);
