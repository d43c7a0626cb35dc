/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ledger.h: ledger.json, every upgrade ever attempted, and its public export (docs/architecture.md, "State
 * on disk") */
#pragma once

#include <stdbool.h>
#include <cjson/cJSON.h>

/* An entry: id, from, to, result (succeeded|refused|aborted|rolled-back|restored|held), phase,
 * started, finished, backup, snapshot, migrations, tree, smoke, watch, message, tool_version (the
 * PACKAGE_VERSION of the codebolt-upgrade that wrote it). */

int ledger_load(const char *deployment, cJSON **ret); /* an array; empty when there is no ledger yet */
/* appends entry (taking ownership), with tool_version set to PACKAGE_VERSION unless it has one, and
 * writes the ledger atomically; the caller holds the lock */
int ledger_append(const char *deployment, cJSON *entry);
/* writes the whole ledger atomically; the caller holds the lock */
int ledger_save(const char *deployment, const cJSON *ledger);
/* allow a failed version again (`codebolt-upgrade clear`): marks the entry that made it failed
 * "cleared"; returns 1 when it did, 0 when the version was not failed */
int ledger_clear_failed(cJSON *ledger, const char *version, const char *when);
/* the public copy at export_path (rooted by the caller), mode 0644, only the non-secret keys */
int ledger_export(const cJSON *ledger, const char *export_path);

/* the newest entry with to == version, or NULL */
const cJSON *ledger_last_for_version(const cJSON *ledger, const char *version);
const cJSON *ledger_last(const cJSON *ledger);
/* the newest entry with to == version that changed something (any result but "refused"), or NULL */
const cJSON *ledger_last_change_for_version(const cJSON *ledger, const char *version);
/* a failed version: its last upgrade here ended rolled-back, restored or held (docs/architecture.md,
 * "Phases") */
bool ledger_version_failed(const cJSON *ledger, const char *version);
/* the entry that makes version failed (its result says how), or NULL */
const cJSON *ledger_version_failure(const cJSON *ledger, const char *version);
bool ledger_result_is_valid(const char *result);
