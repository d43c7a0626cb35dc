/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* checks.h: the rules of the gates preflight and `codebolt-upgrade plan` apply before anything is
 * touched (docs/architecture.md, "Phases"). Pure: the facts (command output, the server's answers, a staging
 * ledger) are gathered by the caller. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "time-util.h"

typedef enum CheckResult {
        CHECK_PASS,
        CHECK_FAIL,
        CHECK_SKIPPED,
        _CHECK_RESULT_MAX,
} CheckResult;

/* "pass", "fail", "skipped" */
const char *check_result_to_string(CheckResult r);

/* `node --version` prints "v18.19.0": the version without the 'v' (-EBADMSG when it is not one) */
int checks_node_version(const char *output, char **ret);
/* PostgreSQL's server_version_num as a version: 150008 → "15.8.0", 90624 → "9.6.24" */
int checks_pg_version(long num, char **ret);

/* The clients of GET /api/admin/clients ([{"id","kind","version","protocol"}]) whose protocol is below
 * min: "id (kind version, protocol N)" joined with ", " in *ret_list (NULL when none), their number in
 * *ret_n. A client without a protocol, or with one that is not a whole number from 0 to INT64_MAX (1e300,
 * 6.5), counts as below: it cannot be shown to speak it. */
int checks_clients_below(const cJSON *clients, int64_t min, char **ret_list, size_t *ret_n);

/* The count of GET /api/admin/runs?state=running ({"count": N}): -EBADMSG when there is no count or it
 * is not a whole number (NaN, 1.5, "3"), -ERANGE when it is negative or above UINT32_MAX. Never 0 for a
 * count it cannot read: the drain would stop the server under running work. */
int checks_runs_in_flight(const cJSON *answer, uint32_t *ret);

/* The lines "<name> <version> <status>" of `codebolt tool list --status` (or `capability list`):
 * *ret_blocking the incompatible items that allow does not name ("name version", joined with ", "),
 * *ret_allowed those it does; each NULL when none. -EBADMSG for a line that is not three words with a
 * known status (ok, incompatible, disabled). */
int checks_incompatible(const char *output, char *const *allow, char **ret_blocking, char **ret_allowed);

/* what a backup of db_bytes of database and store_bytes of files needs free: a fifth more, and at least
 * 64 MiB more, for the dump's and the copy's own overhead */
uint64_t checks_backup_bytes(uint64_t db_bytes, uint64_t store_bytes);
/* "2h 5min", "25h", "3min", "40s" */
char *checks_format_duration(usec_t d);

/* "2026-11-26T10:57:13Z" (the ledger's times) as CLOCK_REALTIME usec; -EINVAL otherwise */
int checks_parse_timestamp(const char *s, usec_t *ret);

/* The staging gate: `ledger` (another host's exported ledger) shows `version` succeeded at least `bake`
 * before `now` (CLOCK_REALTIME usec), and its watch is not degraded. The reason says what was found and
 * how long is left. Returns CHECK_PASS or CHECK_FAIL, or -ENOMEM. */
int checks_staging(const cJSON *ledger, const char *version, usec_t bake, usec_t now, char **ret_reason);

/* How long the server is expected to be down in the next upgrade: the downtime_seconds of the last
 * successful upgrade in the ledger, with the basis in words ("the last upgrade here (1.4.0 → 1.5.0) had
 * the server down 3 s"); NAN with "no earlier upgrade on this host to go by" when none recorded one.
 * -ENOMEM only. */
int checks_expected_downtime(const cJSON *ledger, double *ret_seconds, char **ret_basis);
