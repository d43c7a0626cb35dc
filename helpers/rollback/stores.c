/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stores.c: the stores and the server config, put back from the backup and verified */
#define _GNU_SOURCE
#include <sys/stat.h>

#include "backup-manifest.h"
#include "current.h"
#include "hash.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "paths.h"
#include "spawn.h"
#include "rollback.h"

/* the members of o whose key starts with prefix */
static int manifest_subset(const cJSON *o, const char *prefix, cJSON **ret) {
        _cleanup_json_ cJSON *s = cJSON_CreateObject();
        const cJSON *m;

        if (!s)
                return -ENOMEM;
        cJSON_ArrayForEach (m, o)
                if (m->string && startswith(m->string, prefix) &&
                    !cJSON_AddItemToObject(s, m->string, cJSON_Duplicate(m, true)))
                        return -ENOMEM;
        *ret = TAKE_PTR(s);
        return 0;
}

/* after rsync -a as root: nothing differs from the copy, in content, owner, group, mode or time (a
 * dry run that itemizes what it would change says nothing) */
static int store_matches_copy(Rollback *rb, const char *copy, const char *live) {
        _cleanup_free_ char *s = NULL, *d = NULL, *out = NULL;
        int status = 0, r;

        if (asprintf(&s, "%s/", copy) < 0 || asprintf(&d, "%s/", live) < 0)
                return rb_oom(rb);
        char *argv[] = { (char *)"rsync",
                         (char *)"-a",
                         (char *)"--delete",
                         (char *)"--dry-run",
                         (char *)"--itemize-changes",
                         s,
                         d,
                         NULL };
        SpawnOptions o = { .log_identifier = "rsync", .ret_stdout = &out };
        r = spawn_run(argv, &o, &status);
        if (r == -EFBIG)
                return rb_fail(
                        rb,
                        EBADMSG,
                        "store %s still differs from the backup's copy after the restore (rsync --dry-run "
                        "listed more than %d MiB of changes)",
                        live,
                        SPAWN_CAPTURE_MAX_MIB);
        if (r < 0)
                return rb_fail(rb, r, "Failed to run rsync --dry-run for %s: %m", live);
        if (status != 0)
                return rb_fail(
                        rb,
                        EPROTO,
                        "rsync --dry-run of %s to %s failed with exit status %d",
                        copy,
                        live,
                        status);
        if (out && *out) {
                out[strcspn(out, "\n")] = 0;
                return rb_fail(
                        rb,
                        EBADMSG,
                        "store %s still differs from the backup's copy after the restore (rsync: %s)",
                        live,
                        out);
        }
        return 0;
}

static int restore_store(Rollback *rb, const char *store) {
        _cleanup_free_ char *live = paths_rooted(store), *copy = NULL, *prefix = NULL, *bad = NULL;
        _cleanup_json_ cJSON *want_links = NULL, *got_links = NULL;
        const cJSON *links = cJSON_GetObjectItemCaseSensitive(rb->manifest, "symlinks");
        BackupHashReuse reuse = {};
        BackupTreeStats stats = {};
        struct stat st;
        int status = 0, r;

        if (!live)
                return rb_oom(rb);
        r = backup_manifest_copy_path(rb->current.backup, BACKUP_MANIFEST_STORES, store, &copy);
        if (r < 0)
                return rb_fail(rb, r, "The manifest's store %s cannot be put back: %m", store);
        if (stat(copy, &st) < 0 || !S_ISDIR(st.st_mode))
                return rb_fail(rb, ENOENT, "the backup has no copy of the store %s (%s)", store, copy);
        /* relative to the backup, with a trailing slash so /a/b never takes /a/bc's entries */
        if (asprintf(&prefix, "%s/", copy + strlen(rb->current.backup) + 1) < 0)
                return rb_oom(rb);

        log_status("rollback: putting back %s", store);
        rb->stores_touched = true;
        r = backup_manifest_rsync(copy, live, true, &status);
        if (r < 0)
                return rb_fail(rb, r, "Failed to run rsync to put back %s: %m", live);
        if (status != 0)
                return rb_fail(
                        rb,
                        EPROTO,
                        "rsync of %s to %s failed with exit status %d (its messages are above)",
                        copy,
                        live,
                        status);

        /* the live store against the manifest's checksums: nothing missing, nothing extra, every hash */
        if (!rb->files)
                return rb_fail(rb, ENOENT, "the backup's checksums are not loaded: it was not verified");
        if (manifest_subset(links, prefix, &want_links) < 0)
                return rb_oom(rb);
        /* right after the upgrade, only what changed since the snapshot proved the store equal to its
         * copy is read: what the failed release wrote, and what rsync just put back. The walk is compared
         * with the backup's entries under prefix as it goes. */
        if (backup_refreshed_recently(rb, &reuse.since))
                reuse.known = rb->files;
        r = backup_manifest_check_tree(live, prefix, 0, &reuse, rb->files, &got_links, &stats, &bad);
        if (r >= 0)
                r = backup_manifest_compare(want_links, got_links, &bad);
        if (r == -EBADMSG)
                return rb_fail(
                        rb,
                        r,
                        "store %s differs from the backup's manifest at %s after the restore",
                        live,
                        strempty(bad));
        if (r < 0)
                return rb_fail(rb, r, "Failed to compare the checksums of %s: %m", live);

        r = store_matches_copy(rb, copy, live);
        if (r < 0)
                return r;
        log_info(
                "Put back %s: %d files match the manifest's checksums, owners and modes as in the backup.",
                live,
                (int)stats.files);
        return 0;
}

static int restore_config_file(Rollback *rb, const char *path) {
        _cleanup_free_ char *live = paths_rooted(path), *copy = NULL, *hex = NULL;
        char want[2 * BACKUP_LIST_VALUE_SIZE + 1];
        const uint8_t *value;
        struct stat a, b;
        int status = 0, r;

        if (!live)
                return rb_oom(rb);
        r = backup_manifest_copy_path(rb->current.backup, BACKUP_MANIFEST_CONFIG, path, &copy);
        if (r < 0)
                return rb_fail(rb, r, "The manifest's config file %s cannot be put back: %m", path);
        value = rb->files ? backup_list_find(rb->files, copy + strlen(rb->current.backup) + 1) : NULL;
        if (!value)
                return rb_fail(rb, ENOENT, "the backup manifest has no checksum of %s", copy);
        backup_list_value_hex(value, want);

        r = backup_manifest_rsync(copy, live, false, &status);
        if (r < 0)
                return rb_fail(rb, r, "Failed to run rsync to put back %s: %m", live);
        if (status != 0)
                return rb_fail(
                        rb, EPROTO, "rsync of %s to %s failed with exit status %d", copy, live, status);
        r = hash_sha256_file(live, &hex);
        if (r < 0)
                return rb_fail(rb, r, "Failed to compute the checksum of %s: %m", live);
        if (!streq(hex, want))
                return rb_fail(rb, EBADMSG, "%s differs from the backup's checksum after the restore", live);
        if (stat(copy, &a) < 0 || stat(live, &b) < 0)
                return rb_fail(rb, errno, "Failed to look at %s: %m", live);
        if (a.st_uid != b.st_uid || a.st_gid != b.st_gid || a.st_mode != b.st_mode)
                return rb_fail(
                        rb,
                        EBADMSG,
                        "%s has another owner or mode than the backup's copy after the restore",
                        live);
        return 0;
}

int restore_stores(Rollback *rb) {
        const cJSON *s;
        int r;

        cJSON_ArrayForEach (s, cJSON_GetObjectItemCaseSensitive(rb->manifest, "stores")) {
                if (!cJSON_IsString(s))
                        continue;
                r = restore_store(rb, s->valuestring);
                if (r < 0)
                        return r;
        }
        log_status("rollback: putting back the server config and the master-key identifier");
        cJSON_ArrayForEach (s, cJSON_GetObjectItemCaseSensitive(rb->manifest, "config")) {
                if (!cJSON_IsString(s))
                        continue;
                rb->stores_touched = true;
                r = restore_config_file(rb, s->valuestring);
                if (r < 0)
                        return r;
        }
        rb->stores_done = true;
        /* a resumed run must not copy them again: the old release may have written to them since
         * (a run killed while it smoke-tested the restored server), and its rows stay */
        rb->current.stores_restored = true;
        return rb_save(rb);
}
