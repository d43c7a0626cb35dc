/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* retention.h: which kept databases and releases may go (finish, `codebolt-upgrade clean`) */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "current.h"

/*
 * Decisions only: nothing here lists, drops or removes anything; the caller gathers the input and acts
 * on the plan. The rules (docs/architecture.md, "Retention": "never one a rollback may still need"):
 *
 * Databases. Only a name of exactly the form <db>_<kind>_<id> (backup_manifest_db_name()) is looked at:
 * kind pre, failed, restore or verify, id one or more of [a-z0-9], 63 characters at most. <db> itself,
 * another deployment's databases (another <db> prefix) and a name that merely starts like one
 * (<db>_pre, <db>_pre_, <db>_pre_A1, <db>_pre_a_b) are never listed. Such a name must also belong to an
 * upgrade of this deployment's ledger: an entry records it (snapshot, failed_database), or its id (8
 * characters or more) is the start of the entry's id reduced as backup_manifest_db_name() does. One
 * the ledger knows nothing of is kept (made by hand, or another deployment's that looks like ours).
 *  1. Never what current.json names (snapshot, failed_database) or what carries the id of the upgrade
 *     or rollback it records, in flight or held; and while current.json exists, every <db>_restore_*
 *     and <db>_verify_* (a run by hand names those after the time, which the state does not keep).
 *  2. Snapshots (<db>_pre_<id>): kept when it is the snapshot of the last upgrade to the running version
 *     and that upgrade succeeded (a late rollback by hand, codebolt-rollback@<running>, restores from
 *     it; the rollback (helpers/rollback/restore-dump.c) falls back to the backup's dump once it is gone;
 * with the running version unknown, the newest success's), and when the backup of its upgrade is still on
 * disk. The rest may go.
 *  3. Failed databases (<db>_failed_<id>, and <db>_restore_<id> left by an interrupted restore): kept
 *     when their upgrade is one of the newest Keep= failed upgrades (rolled-back, restored, held: the
 *     post-mortem). The rest may go. Only `clean` drops these (RETENTION_FAILED).
 *  4. Trial restores (<db>_verify_<id>) left by an interrupted backup: may go (RETENTION_TRIAL: only
 *     `clean` drops these too).
 *
 * Releases (/opt/codebolt/releases/<version>; a name that is not an exact SemVer version, such as a
 * staging directory, is never listed): kept are the running one, the pinned one, the from and to of
 * current.json, the from of the last success (and of the running version's success: a late rollback
 * switches back to it), and the newest Keep= of all installed releases by SemVer precedence (the ones
 * above count among them); the rest may go. With the running version unknown every release is kept.
 */

typedef enum RetentionKind {
        RETENTION_SNAPSHOT, /* <db>_pre_<id> */
        RETENTION_FAILED,   /* <db>_failed_<id>, <db>_restore_<id> */
        RETENTION_TRIAL,    /* <db>_verify_<id> */
        RETENTION_RELEASE,  /* /opt/codebolt/releases/<version> */
        _RETENTION_KIND_MAX,
} RetentionKind;

typedef struct RetentionInput {
        const cJSON *ledger;    /* ledger.json: an array, oldest first */
        const Current *current; /* current.json, or NULL when nothing is in flight */
        const char *db_name;    /* [Database] Name= */
        char *const *databases; /* every database of the cluster, NULL-terminated (NULL: none) */
        char *const *releases;  /* the directory names under <install root>/releases (NULL: none) */
        char *const *backups;   /* the backup directories on disk, as the ledger names them (NULL: none) */
        const char *running;    /* the version <install root>/current points at, or NULL: unknown */
        const char *pinned;     /* the pin, or NULL */
        unsigned keep;          /* [Backup] Keep= */
} RetentionInput;

typedef struct RetentionItem {
        RetentionKind kind;
        bool drop;    /* may go; false: stays */
        char *name;   /* the database's name, or the release's version */
        char *reason; /* one line: why it may go, or why it stays */
} RetentionItem;

typedef struct RetentionPlan {
        RetentionItem *items; /* databases in the order given, then releases newest first */
        size_t n;
} RetentionPlan;

/* Decide on every database and release the rules above look at (a name they ignore is not in the
 * plan). *ret is released with retention_plan_done(). -EINVAL without a ledger array or a db_name. */
int retention_plan(const RetentionInput *in, RetentionPlan *ret);
void retention_plan_done(RetentionPlan *p);

/* name is <db>_<kind>_<id> (see above): 0, the kind, and the id when ret_id is not NULL (malloc'd);
 * -EINVAL when it is not, -ENOMEM */
int retention_parse_database(const char *db, const char *name, RetentionKind *ret_kind, char **ret_id);

/* "snapshot", "failed database", "trial restore", "release" */
const char *retention_kind_to_string(RetentionKind kind);
