/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stores.c: copying a store into a backup with rsync, proving the copy by its checksums, writing them
 * with the manifest */
#define _GNU_SOURCE
#include <errno.h>

#include "backup-manifest.h"
#include "log.h"
#include "state.h"
#include "stores.h"

int stores_rsync(const char *src, const char *dst, bool allow_vanished) {
        int status = 0, r;

        r = backup_manifest_rsync(src, dst, true, &status);
        if (r < 0)
                return log_error_errno(r, "Failed to run rsync for %s: %m", src);
        if (status == 0 || (allow_vanished && status == STORES_RSYNC_VANISHED))
                return status;
        return log_error_errno(
                EPROTO,
                "rsync of %s to %s failed with exit status %d (its messages are above).",
                src,
                dst,
                status);
}

/* what a compare answered (r, and bad: the path that differs), logged */
static int compared(int r, const char *bad, const char *mismatch_format, const char *name) {
        if (r == -EBADMSG) {
                DISABLE_WARNING_FORMAT_NONLITERAL(void)
                log_error_errno(r, mismatch_format, name, strempty(bad));
                REENABLE_WARNING
                return r;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to compare checksums: %m");
        return 0;
}

int stores_compare(const cJSON *want, const cJSON *got, const char *mismatch_format, const char *name) {
        _cleanup_free_ char *bad = NULL;
        int r = backup_manifest_compare(want, got, &bad);

        return compared(r, bad, mismatch_format, name);
}

int stores_compare_lists(
        const BackupFileList *want,
        const BackupFileList *got,
        const char *mismatch_format,
        const char *name) {
        _cleanup_free_ char *bad = NULL;
        int r = backup_list_compare(want, got, &bad);

        return compared(r, bad, mismatch_format, name);
}

int stores_write_manifest(const char *dir, const BackupFileList *files, cJSON *manifest) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = backup_manifest_write_list(dir, files, manifest);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s/" BACKUP_MANIFEST_LIST_NEW ": %m", dir);
        if (asprintf(&path, "%s/" BACKUP_MANIFEST_FILE, dir) < 0)
                return log_oom();
        r = state_write_json_atomic(path, manifest, 0600);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", path);
        r = backup_manifest_commit_list(dir);
        if (r < 0)
                return log_error_errno(r, "Failed to rename %s/" BACKUP_MANIFEST_LIST_NEW ": %m", dir);
        return 0;
}
