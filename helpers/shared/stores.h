/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stores.h: copying a store ([Storage] Paths=) into a backup with rsync, proving the copy by its
 * checksums, and writing those checksums with the manifest; each logs its failure */
#pragma once

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "backup-manifest.h"
#include "macro.h"

/* rsync's exit status "some files vanished before they could be transferred": the server still writes */
#define STORES_RSYNC_VANISHED 24

/* rsync -a --delete src/ dst/ (backup_manifest_rsync() of a directory). Logs a failure to run it, and an
 * exit status other than 0 (and STORES_RSYNC_VANISHED unless allow_vanished), and returns -errno
 * (-EPROTO for the exit status); otherwise returns the exit status: 0, or STORES_RSYNC_VANISHED. */
int stores_rsync(const char *src, const char *dst, bool allow_vanished);

/* backup_manifest_compare(want, got). A mismatch is logged as mismatch_format (two %s: name, then the
 * path that differs) and returns -EBADMSG; another failure is logged as such and returns -errno. */
int stores_compare(const cJSON *want, const cJSON *got, const char *mismatch_format, const char *name)
        _printf_(3, 0);
/* the same for two lists of checksums (backup_list_compare()) */
int stores_compare_lists(
        const BackupFileList *want, const BackupFileList *got, const char *mismatch_format, const char *name)
        _printf_(3, 0);

/* Write the backup dir's checksums (files) and then its manifest, which names their checksum
 * (backup_manifest_write_list(), the manifest, backup_manifest_commit_list(): a crash in between leaves
 * a list the manifest still finds). Logs a failure and returns -errno. */
int stores_write_manifest(const char *dir, const BackupFileList *files, cJSON *manifest);
