/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* current.h: current.json, the upgrade in flight (docs/architecture.md, "State on disk") */
#pragma once

#include <stdbool.h>
#include <cjson/cJSON.h>

/* Keys, a contract between the phases, the rollback and `status`:
 *   id                 the upgrade unit's invocation id
 *   unit, instance     "codebolt-upgrade@1.5.0.service" and "1.5.0" as %i gave it (still escaped)
 *   from, to           versions
 *   phase              the phase running or last reached; phases: the phases that completed, in order
 *   started, updated   ISO 8601 UTC
 *   staged_release     path of the installed release; tree: {"name@version": "integrity", ...}
 *   backup             the backup directory; snapshot: the snapshot database name (or null)
 *   server_stopped     true from the moment the stop is requested
 *   switched           true once the pin and /opt/codebolt/current point at `to`
 *   server_invocation  the server's invocation id started by migrate-watch
 *   migrations         [{"id", "breaking", "drops": [...], "state": "applying"|"applied"|"failed"}]
 *   attempts           recovery attempts
 */

int current_load(const char *deployment, cJSON **ret);      /* -ENOENT when none is in flight */
int current_create(const char *deployment, const cJSON *j); /* -EEXIST when one is in flight */
int current_save(const char *deployment, cJSON *j);         /* refreshes "updated" */
int current_remove(const char *deployment);
/* move a held upgrade's current.json aside as <name> in the state directory, for the post-mortem */
int current_set_aside(const char *deployment, const char *name);

int current_set_string(cJSON *j, const char *key, const char *value); /* NULL value stores null */
int current_set_bool(cJSON *j, const char *key, bool value);
int current_set_phase(cJSON *j, const char *phase);  /* "phase" = phase */
int current_phase_done(cJSON *j, const char *phase); /* appends to "phases" */
bool current_phase_is_done(const cJSON *j, const char *phase);
/* add a migration, or update the state of the one with that id */
/* Why going back from this upgrade (current.json, or its ledger entry) would be a full restore: a
 * migration failed, a breaking one was applied (a migration not marked non-breaking counts as
 * breaking), or one may have been cut off mid-flight. *ret is that reason, or NULL when a minor
 * rollback keeps the data. The rollback table and the watch's automatic rollback decide by it. */
int current_restore_reason(const cJSON *current, char **ret);
int current_set_migration(cJSON *j, const char *id, bool breaking, const cJSON *drops, const char *state);

/* "2026-11-26T10:57:13Z" for now; malloc'd */
char *current_timestamp(void);
