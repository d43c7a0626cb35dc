/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* snapshot: with the server stopped, the instant restore point: a template copy of the database,
 * the stores' delta onto the backup, the final checksums */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "background.h"
#include "backup-manifest.h"
#include "credentials.h"
#include "helper.h"
#include "current.h"
#include "decoding.h"
#include "fd-util.h"
#include "delta.h"
#include "hash.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "paths.h"
#include "pg-client.h"
#include "pg-slot.h"
#include "restore-point.h"
#include "roll.h"
#include "state.h"
#include "stores.h"
#include "strv.h"

/* who else is on the database, for the one error line that says why the copy was refused */
static char *sessions_on(const PgTarget *admin, const char *db) {
        _cleanup_json_ cJSON *rows = NULL;
        _cleanup_free_ char *buf = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        const char *params[] = { db };
        const cJSON *row;
        size_t size = 0;

        if (pg_query(
                    admin,
                    "SELECT usename, application_name, coalesce(host(client_addr), 'local') AS addr, "
                    "pid::text AS pid"
                    " FROM pg_catalog.pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                    params,
                    1,
                    &rows,
                    NULL) < 0)
                return NULL;
        f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        cJSON_ArrayForEach (row, rows)
                fprintf(f,
                        "%s%s as %s from %s (pid %s)",
                        row == rows->child ? "" : ", ",
                        *strempty(json_get_string(row, "application_name"))
                                ? json_get_string(row, "application_name")
                                : "a client",
                        strempty(json_get_string(row, "usename")),
                        strempty(json_get_string(row, "addr")),
                        strempty(json_get_string(row, "pid")));
        if (fclose(TAKE_PTR(f)) != 0 || !buf || !*buf)
                return NULL;
        return TAKE_PTR(buf);
}

/* the one error line for a database something else is still connected to (who: owned, or NULL) */
static int busy_error(const PgTarget *admin, const char *db, char *who) {
        _cleanup_free_ char *w = who;

        return log_error_errno(
                EBUSY,
                "Failed to snapshot database %s: another session is connected to %s: the server or another "
                "client still writes%s%s%s.",
                db,
                db,
                w ? " (" : "",
                strempty(w),
                w ? ")" : "");
}

static int snapshot_template(Helper *h, const char *id, char **ret_name) {
        _cleanup_free_ char *name = NULL, *error = NULL;
        const char *db = h->config.db_name;
        PgTarget admin;
        int r;

        /* an invocation id's first 12 hex, or the time when run by hand */
        r = backup_manifest_db_name(db, "pre", id, 12, &name);
        if (r < 0)
                return log_error_errno(r, "Cannot name a snapshot of database %s: %m", db);

        /* recorded first: a crash after the CREATE still leaves the rollback the name */
        r = helper_set_current_string(h, CURRENT_SNAPSHOT, offsetof(Current, snapshot), name);
        if (r < 0)
                return r;

        r = helper_pg_target(h, "postgres", &admin);
        if (r < 0)
                return log_oom();

        log_status("snapshot: copying database %s to %s", db, name);
        r = pg_create_database_copy(&admin, name, db, &error);
        if (r == -EBUSY)
                return busy_error(&admin, db, sessions_on(&admin, db));
        if (r == -EEXIST)
                return log_error_errno(
                        r,
                        "Failed to snapshot database %s: a database %s already exists; refusing to take it "
                        "for this upgrade's restore point.",
                        db,
                        name);
        if (r < 0)
                return log_error_errno(r, "Failed to snapshot database %s as %s: %s", db, name, error ?: "");

        *ret_name = TAKE_PTR(name);
        return 0;
}

typedef struct FinalDump {
        const char *path;
} FinalDump;

static int update_final_dump(Current *current, void *userdata) {
        const FinalDump *d = userdata;
        char *path = strdup(d->path);

        if (!path)
                return -ENOMEM;
        /* "snapshot": null, no database was copied */
        free(current->snapshot);
        current->snapshot = NULL;
        current->present |= CURRENT_KEY_BIT(CURRENT_SNAPSHOT);
        free(current->final_dump);
        current->final_dump = path;
        return 0;
}

static int snapshot_dump(Helper *h, const char *backup, BackupFileList *files) {
        _cleanup_free_ char *path = NULL, *hex = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *db = h->config.db_name;
        unsigned entries = 0;
        PgTarget target;
        int status = 0, r;

        if (asprintf(&path, "%s/" BACKUP_MANIFEST_FINAL_DUMP, backup) < 0)
                return log_oom();
        r = helper_update_current(h, update_final_dump, &(FinalDump){ .path = path });
        if (r < 0)
                return r;

        r = helper_pg_target(h, db, &target);
        if (r < 0)
                return log_oom();

        log_status("snapshot: dumping database %s (Snapshot=dump)", db);
        /* an earlier attempt's file is replaced: this one is taken after this stop */
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create %s: %m", path);
        r = pg_dump_run(&target, fd, NULL, &status);
        if (r < 0)
                return log_error_errno(r, "Failed to run pg_dump as %s: %m", strempty(target.os_user));
        if (status != 0)
                return log_error_errno(
                        EPROTO,
                        "pg_dump of database %s failed with exit status %d (its messages are above).",
                        db,
                        status);
        if (fsync(fd) < 0)
                return log_error_errno(errno, "Failed to write %s: %m", path);
        if (close(TAKE_FD(fd)) < 0)
                return log_error_errno(errno, "Failed to write %s: %m", path);

        r = pg_restore_list(path, &entries, &status);
        if (r < 0)
                return log_error_errno(r, "Failed to run pg_restore --list %s: %m", path);
        if (status != 0 || entries == 0)
                return log_error_errno(
                        EBADMSG,
                        "pg_restore --list %s failed (exit status %d, %u entries): the final dump is not "
                        "readable.",
                        path,
                        status,
                        entries);

        r = hash_sha256_file(path, &hex);
        if (r < 0)
                return log_error_errno(r, "Failed to compute the checksum of %s: %m", path);
        r = backup_list_set_hex(files, BACKUP_MANIFEST_FINAL_DUMP, hex);
        if (r < 0)
                return log_error_errno(r, "Failed to record the checksum of %s: %m", path);
        return 0;
}

/* the live store's files whose copy was written anew (their keys in rehashed) hold what the copy holds */
static int compare_rehashed(
        const char *src, const char *prefix, const BackupFileList *copy, const cJSON *rehashed) {
        const cJSON *k;
        int r;

        cJSON_ArrayForEach (k, rehashed) {
                _cleanup_free_ char *path = NULL, *hex = NULL;
                const uint8_t *value = backup_list_find(copy, k->valuestring);
                char want[2 * BACKUP_LIST_VALUE_SIZE + 1] = "";

                if (asprintf(&path, "%s/%s", src, k->valuestring + strlen(prefix)) < 0) {
                        path = NULL;
                        return log_oom();
                }
                r = hash_sha256_file(path, &hex);
                if (r < 0)
                        return log_error_errno(r, "Failed to compute the checksum of %s: %m", path);
                if (value)
                        backup_list_value_hex(value, want);
                if (!value || !streq(hex, want))
                        return log_error_errno(
                                EBADMSG,
                                "The backup's copy of %s differs from it at %s after rsync: something still "
                                "writes to the store.",
                                src,
                                k->valuestring + strlen(prefix));
        }
        return 0;
}

/* the store must be a directory to be copied */
static int check_store(const char *store) {
        _cleanup_free_ char *src = paths_rooted(store);
        struct stat st;

        if (!src)
                return log_oom();
        if (stat(src, &st) < 0)
                return log_error_errno(errno, "Store %s ([Storage] Paths=) cannot be copied: %m", src);
        if (!S_ISDIR(st.st_mode))
                return log_error_errno(ENOTDIR, "Store %s ([Storage] Paths=) is not a directory.", src);
        return 0;
}

/* once rsync brought the store's copy up to date (only the delta since backup, files written since
 * "since"), prove the copy equals the store and put its checksums into the manifest, reading only what
 * changed: the two trees hold the same names, sizes, modification times and symlinks; a file rsync wrote
 * is hashed on both sides; the others keep the checksums backup verified (docs/architecture.md, "What the
 * downtime is made of") */
static int refresh_store(
        const char *backup,
        const char *store,
        const struct timespec *since,
        BackupFileList *files,
        cJSON *symlinks,
        BackupTreeStats *total) {
        _cleanup_free_ char *src = paths_rooted(store), *dst = NULL, *prefix = NULL;
        _cleanup_file_list_ BackupFileList *live = NULL, *copy = NULL, *copy_stat = backup_list_new();
        _cleanup_json_ cJSON *live_links = NULL, *copy_links = NULL, *rehashed = cJSON_CreateArray();
        /* one walk of the copy: its checksums (known or read) and its listing */
        BackupHashReuse reuse = {
                .known = files, .since = *since, .rehashed = rehashed, .stats = copy_stat
        };
        BackupTreeStats stats = {};
        int r;

        if (!src || !rehashed || !copy_stat)
                return log_oom();
        r = backup_manifest_copy_path(backup, BACKUP_MANIFEST_STORES, store, &dst);
        if (r < 0)
                return log_error_errno(r, "[Storage] Paths= entry %s cannot be copied: %m", store);
        /* relative to the backup, with a trailing slash so /a/b never takes /a/bc's entries */
        if (asprintf(&prefix, "%s/", dst + strlen(backup) + 1) < 0) {
                prefix = NULL;
                return log_oom();
        }

        /* the server is stopped: the store is what a restore must bring back, so the copy must equal it */
        r = backup_manifest_hash_tree(src, prefix, BACKUP_HASH_STAT_ONLY, &live, &live_links, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to list %s: %m", src);
        r = backup_manifest_hash_tree_reuse(dst, prefix, 0, &reuse, &copy, &copy_links, &stats);
        if (r < 0)
                return log_error_errno(r, "Failed to compute the checksums of %s: %m", dst);
        r = stores_compare_lists(
                live,
                copy_stat,
                "The backup's copy of %s differs from it at %s after rsync (size or modification time): "
                "something still writes to the store.",
                src);
        if (r < 0)
                return r;
        r = stores_compare(
                live_links,
                copy_links,
                "The backup's copy of %s differs from it at the symlink %s after rsync.",
                src);
        if (r < 0)
                return r;
        r = compare_rehashed(src, prefix, copy, rehashed);
        if (r < 0)
                return r;

        r = backup_list_replace_prefix(files, prefix, copy);
        if (r >= 0)
                r = backup_manifest_replace_prefix(symlinks, prefix, copy_links);
        if (r < 0)
                return log_error_errno(r, "Failed to update the manifest's entries of %s: %m", store);

        log_debug(
                "%s: %d of %" PRIu64 " files changed since the backup, hashed on both sides.",
                store,
                cJSON_GetArraySize(rehashed),
                stats.files);
        total->files += stats.files;
        total->bytes += stats.bytes;
        total->symlinks += stats.symlinks;
        return 0;
}

/* the files outside the stores were verified by backup and are not read again (the dump can be large
 * and the server is down): they must still be there, as regular files */
static int check_files_present(const char *backup, const BackupFileList *files) {
        for (size_t i = 0; i < files->n; i++) {
                _cleanup_free_ char *p = NULL;
                struct stat st;

                if (startswith(backup_list_path(files, i), BACKUP_MANIFEST_STORES "/"))
                        continue;
                if (asprintf(&p, "%s/%s", backup, backup_list_path(files, i)) < 0) {
                        p = NULL;
                        return log_oom();
                }
                if (lstat(p, &st) < 0 || !S_ISREG(st.st_mode))
                        return log_error_errno(
                                ENOENT, "Backup file %s is gone since the backup was verified.", p);
        }
        return 0;
}

/* The stores' changes since the backup, brought onto its copy by a child (background.h) while this
 * process takes the database's part of the restore point: both only read what the stop froze, and each
 * writes to places of its own. The child reads the stores' checksums from the backup's list itself and
 * hands them back, brought up to date, in the list's own format through one memfd, and the symlinks and
 * its figures as JSON through another: this process never holds the stores' checksums twice. */
typedef struct StoresRefresh {
        Helper *h;
        const char *backup;
        const cJSON *manifest;
        cJSON *symlinks; /* the child's copy, brought up to date there */
        int fd, list_fd;
        Background child;
} StoresRefresh;

static void stores_refresh_done(StoresRefresh *s) {
        background_done(&s->child);
        closep(&s->fd);
        closep(&s->list_fd);
        s->fd = s->list_fd = -EBADF;
}

/* the members of o whose key starts with prefix, copied */
static cJSON *members_under(const cJSON *o, const char *prefix) {
        _cleanup_json_ cJSON *out = cJSON_CreateObject();
        const cJSON *m;

        if (!out)
                return NULL;
        cJSON_ArrayForEach (m, o) {
                cJSON *copy;

                if (!m->string || !startswith(m->string, prefix))
                        continue;
                copy = cJSON_Duplicate(m, true);
                if (!copy || !cJSON_AddItemToObject(out, m->string, copy)) {
                        cJSON_Delete(copy);
                        return NULL;
                }
        }
        return TAKE_PTR(out);
}

static int stores_refresh_work(void *userdata) {
        StoresRefresh *s = userdata;
        _cleanup_json_ cJSON *out = cJSON_CreateObject();
        _cleanup_file_list_ BackupFileList *files = NULL;
        _cleanup_free_ char *text = NULL, *error = NULL;
        _cleanup_fclose_ FILE *list = NULL;
        BackupTreeStats stats = {};
        struct timespec since;
        int status = 0, fd, r;

        if (!out)
                return log_oom();
        r = backup_manifest_load_list(
                s->backup, s->manifest, BACKUP_MANIFEST_STORES "/", true, &files, &error);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to read the backup's checksums: %s", error ?: strerror(-r));
        /* a second of margin: the kernel stamps ctime from a clock that may lag this one by a tick; a file
         * changed within it is only hashed once more */
        if (clock_gettime(CLOCK_REALTIME, &since) < 0)
                return log_error_errno(errno, "Failed to read the clock: %m");
        since.tv_sec--;

        /* one rsync for every store: each run of rsync costs its start and its two processes' exchange,
         * which come to more than a small store's changes */
        r = backup_manifest_rsync_dirs(
                s->h->config.storage_paths, s->backup, BACKUP_MANIFEST_STORES, &status);
        if (r < 0)
                return log_error_errno(r, "Failed to run rsync for the stores: %m");
        if (status != 0)
                return log_error_errno(
                        EPROTO,
                        "rsync of the stores into %s failed with exit status %d (its messages are above).",
                        s->backup,
                        status);
        STRV_FOREACH (store, s->h->config.storage_paths) {
                r = refresh_store(s->backup, *store, &since, files, s->symlinks, &stats);
                if (r < 0)
                        return r;
        }

        fd = fcntl(s->list_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return log_error_errno(errno, "Failed to hand the stores' checksums to the snapshot: %m");
        list = fdopen(fd, "w");
        if (!list) {
                r = -errno;
                close(fd);
                return log_error_errno(r, "Failed to hand the stores' checksums to the snapshot: %m");
        }
        r = backup_list_write(files, list, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to hand the stores' checksums to the snapshot: %m");

        if (!cJSON_AddItemToObject(
                    out, "symlinks", members_under(s->symlinks, BACKUP_MANIFEST_STORES "/")) ||
            !cJSON_AddNumberToObject(out, "file_count", (double)stats.files) ||
            !cJSON_AddNumberToObject(out, "bytes", (double)stats.bytes) ||
            !cJSON_AddNumberToObject(out, "symlink_count", (double)stats.symlinks))
                return log_oom();
        text = cJSON_PrintUnformatted(out);
        if (!text)
                return log_oom();
        r = write_all(s->fd, text, strlen(text));
        if (r < 0)
                return log_error_errno(r, "Failed to hand the stores' checksums to the snapshot: %m");
        return 0;
}

static int stores_refresh_begin(
        Helper *h, const char *backup, const cJSON *manifest, cJSON *symlinks, StoresRefresh *s) {
        _cleanup_free_ char *list = strv_join(h->config.storage_paths, ", ");
        int r;

        if (!list)
                return log_oom();
        STRV_FOREACH (store, h->config.storage_paths) {
                r = check_store(*store);
                if (r < 0)
                        return r;
        }
        s->h = h;
        s->backup = backup;
        s->manifest = manifest;
        s->symlinks = symlinks;
        s->fd = memfd_create("cbu-stores-refresh", MFD_CLOEXEC);
        if (s->fd < 0)
                return log_error_errno(errno, "Failed to make a memfd for the stores' checksums: %m");
        s->list_fd = memfd_create("cbu-stores-checksums", MFD_CLOEXEC);
        if (s->list_fd < 0)
                return log_error_errno(errno, "Failed to make a memfd for the stores' checksums: %m");
        log_status("snapshot: copying the stores' changes since the backup (%s)", list);
        return background_begin(&s->child, "copy of the stores' changes", stores_refresh_work, s);
}

static uint64_t json_count(const cJSON *o, const char *key) {
        double v = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, key));
        return isfinite(v) && v >= 0 ? (uint64_t)v : 0;
}

/* the child's outcome into *files (this process's entries outside the stores, then all of them) and
 * symlinks (the manifest's) */
static int stores_refresh_end(
        StoresRefresh *s, BackupFileList **files, cJSON *symlinks, BackupTreeStats *stats) {
        _cleanup_free_ char *text = NULL, *error = NULL;
        _cleanup_json_ cJSON *out = NULL;
        _cleanup_file_list_ BackupFileList *stores = NULL;
        _cleanup_fclose_ FILE *list = NULL;
        struct stat st;
        int fd, r;

        r = background_end(&s->child);
        if (r < 0)
                return r;
        if (lseek(s->fd, 0, SEEK_SET) < 0)
                return log_error_errno(errno, "Failed to read the stores' checksums: %m");
        if (fstat(s->fd, &st) < 0)
                return log_error_errno(errno, "Failed to read the stores' checksums: %m");
        /* the child wrote it whole: its size is known */
        r = state_read_fd(s->fd, (size_t)st.st_size, (size_t)st.st_size, &text, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to read the stores' checksums: %m");
        out = cJSON_Parse(text);
        if (!out)
                return log_error_errno(EBADMSG, "The copy of the stores' changes handed back no checksums.");

        if (lseek(s->list_fd, 0, SEEK_SET) < 0)
                return log_error_errno(errno, "Failed to read the stores' checksums: %m");
        fd = fcntl(s->list_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return log_error_errno(errno, "Failed to read the stores' checksums: %m");
        list = fdopen(fd, "r");
        if (!list) {
                r = -errno;
                close(fd);
                return log_error_errno(r, "Failed to read the stores' checksums: %m");
        }
        r = backup_list_read(
                list,
                "the stores' checksums",
                BACKUP_MANIFEST_STORES "/",
                true,
                &stores,
                NULL,
                NULL,
                &error);
        if (r < 0)
                return log_error_errno(
                        r,
                        "The copy of the stores' changes handed back bad checksums: %s",
                        error ?: strerror(-r));
        /* the larger list takes the smaller one's few entries, outside the stores */
        r = backup_list_merge(stores, *files);
        if (r >= 0)
                r = backup_manifest_replace_prefix(
                        symlinks,
                        BACKUP_MANIFEST_STORES "/",
                        cJSON_GetObjectItemCaseSensitive(out, "symlinks"));
        if (r < 0)
                return log_error_errno(r, "Failed to update the manifest's entries of the stores: %m");
        backup_list_free(*files);
        *files = TAKE_PTR(stores);
        stats->files = json_count(out, "file_count");
        stats->bytes = json_count(out, "bytes");
        stats->symlinks = json_count(out, "symlink_count");
        return 0;
}

static cJSON *object_member(cJSON *o, const char *key) {
        cJSON *m = cJSON_GetObjectItemCaseSensitive(o, key);

        if (cJSON_IsObject(m))
                return m;
        cJSON_DeleteItemFromObjectCaseSensitive(o, key);
        return cJSON_AddObjectToObject(o, key);
}

static int set_member(cJSON *o, const char *key, cJSON *value) {
        if (!value)
                return -ENOMEM;
        cJSON_DeleteItemFromObjectCaseSensitive(o, key);
        if (!cJSON_AddItemToObject(o, key, value)) {
                cJSON_Delete(value);
                return -ENOMEM;
        }
        return 0;
}

/* drop the slot named in current.json, if it is still there */
static int drop_slot(Helper *h, const PgTarget *t) {
        _cleanup_free_ char *error = NULL;
        int r;

        if (!h->current.delta_slot)
                return 0;
        r = pg_slot_drop(t, h->current.delta_slot, &error);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to drop the replication slot %s: %s", h->current.delta_slot, error ?: "");
        if (r > 0)
                log_info("Dropped the logical replication slot %s.", h->current.delta_slot);
        return 0;
}

/* why the changes since the dump cannot be replayed exactly, from the file at path (NULL: they can);
 * counts (or NULL): the dump's rows per table, brought to the stop's by every change, or deleted (set to
 * NULL) when the changes do not fit them */
static int delta_judge_file(const char *path, const cJSON *tables, cJSON **counts, char **ret_why) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        _cleanup_free_ char *why = NULL;
        uint64_t line = 0;
        int r;

        if (!f)
                return log_error_errno(errno, "Failed to open %s: %m", path);
        for (;;) {
                _cleanup_(decoding_change_done) DecodingChange c = {};

                r = decoding_read_change(f, &c);
                if (r == 0)
                        break;
                line++;
                if (r == -EBADMSG)
                        return asprintf(
                                       ret_why,
                                       "change %" PRIu64 " of the slot is not in a form this version reads",
                                       line) < 0
                                       ? log_oom()
                                       : 0;
                if (r < 0)
                        return log_error_errno(r, "Failed to read %s: %m", path);
                r = decoding_check(&c, tables, &why);
                if (r < 0)
                        return log_oom();
                if (r > 0) {
                        *ret_why = TAKE_PTR(why);
                        return 0;
                }
                r = *counts ? decoding_count_rows(&c, *counts) : 0;
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0)
                        cJSON_Delete(TAKE_PTR(*counts));
        }
        *ret_why = NULL;
        return 0;
}

/* the dump's rows per table when the manifest knows them exactly: with a trial restore, or when no table
 * changed while it was dumped (NULL otherwise, or on OOM) */
static cJSON *dump_counts(const cJSON *manifest) {
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(manifest, "trial_restore")) &&
            cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(manifest, "tables_changed_during_dump")) > 0)
                return NULL;
        return cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(manifest, "tables"), true);
}

typedef struct DeltaFile {
        const char *path;
} DeltaFile;

static int update_delta_file(Current *current, void *userdata) {
        const DeltaFile *d = userdata;
        char *path = d->path ? strdup(d->path) : NULL;

        if (d->path && !path)
                return -ENOMEM;
        /* "snapshot": null, no database was copied */
        free(current->snapshot);
        current->snapshot = NULL;
        current->present |= CURRENT_KEY_BIT(CURRENT_SNAPSHOT);
        free(current->delta_file);
        current->delta_file = path;
        return 0;
}

/* Snapshot=delta: the slot's changes since the dump into the backup, when they can be replayed exactly
 * (docs/architecture.md, "Snapshot=delta"). 1: taken; 0: the reason is logged and template must be
 * taken instead; <0: failed (logged). */
/* no delta in this restore point: nor the file of one, this attempt's or the part the drain read ahead,
 * so that the backup holds only what its manifest lists */
static int remove_delta_file(const char *backup) {
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s/" BACKUP_MANIFEST_DELTA, backup) < 0) {
                path = NULL;
                return log_oom();
        }
        if (unlink(path) < 0 && errno != ENOENT)
                return log_error_errno(errno, "Failed to remove %s: %m", path);
        return 0;
}

static int snapshot_delta(Helper *h, const char *backup, cJSON *manifest, BackupFileList *files) {
        _cleanup_free_ char *path = NULL, *hex = NULL, *error = NULL, *why = NULL, *who = NULL, *wal = NULL;
        _cleanup_json_ cJSON *tables = NULL, *sequences = NULL, *counts = NULL;
        _cleanup_(delta_facts_done) DeltaFacts stop = {};
        _cleanup_(pg_slot_changes_done) PgSlotChanges changes = {};
        _cleanup_close_ int fd = -EBADF;
        cJSON *delta = cJSON_GetObjectItemCaseSensitive(manifest, "delta");
        const char *db = h->config.db_name, *slot = h->current.delta_slot;
        PgTarget target, admin;
        int r;

        if (helper_pg_target(h, db, &target) < 0 || helper_pg_target(h, "postgres", &admin) < 0)
                return log_oom();
        /* the changes must be all there will be: nothing else may still write */
        who = sessions_on(&admin, db);
        if (who)
                return busy_error(&admin, db, TAKE_PTR(who));

        r = delta_probe(&target, &stop, &error);
        if (r < 0)
                return log_error_errno(r, "Failed to read the schema of database %s: %s", db, error ?: "");
        if (!cJSON_IsObject(delta) || !streq_ptr(json_get_string(delta, "slot"), slot))
                why = strdup("the backup's manifest records no replication slot of this upgrade");
        else if (!json_get_string(delta, "fingerprint"))
                why = strdup("the schema changed while the database was dumped");
        else if (!streq(json_get_string(delta, "fingerprint"), stop.fingerprint))
                why = strdup("the schema changed since the backup (logical decoding does not carry it)");
        else if (delta_large_objects_unchanged(delta, &stop, &why) < 0)
                return log_oom();
        if (!why) {
                r = delta_tables(&target, &tables, &error);
                if (r < 0)
                        return log_error_errno(
                                r, "Failed to read the tables of database %s: %s", db, error ?: "");

                if (asprintf(&path, "%s/" BACKUP_MANIFEST_DELTA, backup) < 0) {
                        path = NULL;
                        return log_oom();
                }
                log_status("snapshot: reading the changes since the backup from the slot %s", slot);
                /* after the part the drain read ahead, when it advanced the slot past it; else from the
                 * start (an earlier attempt's part is replaced: the slot still holds those changes) */
                fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (fd < 0)
                        return log_error_errno(errno, "Failed to create %s: %m", path);
                r = pg_slot_changes_to_fd(&target, slot, fd, false, &changes, &error);
                if (r < 0)
                        return log_error_errno(
                                r, "Failed to read the changes of the slot %s: %s", slot, error ?: "");
                wal = backup_manifest_format_bytes(changes.wal_bytes);
                log_debug(
                        "Read %" PRIu64 " changes of the slot %s at the stop (%" PRIu64
                        " before them read ahead by the drain); decoding read %s of WAL from the slot's "
                        "restart point.",
                        changes.read,
                        slot,
                        changes.changes - changes.read,
                        wal ?: "an unknown amount");
                if (fsync(fd) < 0 || close(TAKE_FD(fd)) < 0)
                        return log_error_errno(errno, "Failed to write %s: %m", path);
                counts = dump_counts(manifest);
                r = delta_judge_file(path, tables, &counts, &why);
                if (r < 0)
                        return r;
        }
        if (why) {
                log_notice(
                        "Snapshot=%s: the changes since the backup cannot be replayed exactly (%s): taking "
                        "a "
                        "template copy instead.",
                        config_snapshot_mode_to_string(h->config.snapshot),
                        why);
                r = remove_delta_file(backup);
                if (r < 0)
                        return r;
                r = drop_slot(h, &target);
                return r < 0 ? r : 0;
        }

        free(error);
        error = NULL;
        r = pg_sequence_values(&target, &sequences, &error);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to read the sequences of database %s: %s", db, error ?: "");
        /* the rows at the stop: the dump's and the delta's, without counting the tables now (which
         * would take longer the larger the database); counted only when the dump's are not known */
        if (!counts) {
                log_status("snapshot: counting rows of database %s", db);
                free(error);
                error = NULL;
                r = pg_table_row_counts(&target, &counts, &error);
                if (r < 0)
                        return log_error_errno(
                                r, "Failed to count the rows of database %s: %s", db, error ?: "");
        }
        r = hash_sha256_file(path, &hex);
        if (r < 0)
                return log_error_errno(r, "Failed to compute the checksum of %s: %m", path);
        r = backup_list_set_hex(files, BACKUP_MANIFEST_DELTA, hex);
        if (r < 0)
                return log_error_errno(r, "Failed to record the checksum of %s: %m", path);
        if (set_member(manifest, "tables_at_stop", TAKE_PTR(counts)) < 0 ||
            set_member(delta, "tables", TAKE_PTR(tables)) < 0 ||
            set_member(delta, "sequences", TAKE_PTR(sequences)) < 0 ||
            set_member(delta, "changes", cJSON_CreateNumber((double)changes.changes)) < 0)
                return log_oom();
        r = helper_update_current(h, update_delta_file, &(DeltaFile){ .path = path });
        if (r < 0)
                return r;
        r = drop_slot(h, &target);
        if (r < 0)
                return r;
        log_info(
                "Delta of database %s: %" PRIu64 " changes since the backup in %s, replayable.",
                db,
                changes.changes,
                path);
        return 1;
}

/* the database's part of the restore point, as Snapshot= says; *ret_name the snapshot database, if any */
static int snapshot_database(
        Helper *h,
        const char *id,
        const char *backup,
        cJSON *manifest,
        BackupFileList *files,
        char **ret_name) {
        const char *db = h->config.db_name;
        int r;

        /* in a rolling cluster upgrade the other hosts keep writing to the database: a restore point
         * of it would throw their writes away, and the rollback there is minor. In a coordinated one
         * every member is stopped, and the migrator takes it for all. */
        if (current_database_shared(&h->current) || h->config.snapshot == SNAPSHOT_NONE) {
                r = helper_set_current_string(h, CURRENT_SNAPSHOT, offsetof(Current, snapshot), NULL);
                if (r < 0)
                        return r;
                if (current_database_shared(&h->current) && h->current.cluster_coordinated)
                        log_info(
                                "Coordinated cluster upgrade: no snapshot of database %s here (the migrator "
                                "takes it).",
                                db);
                else if (current_database_shared(&h->current))
                        log_info(
                                "Rolling cluster upgrade: no snapshot of database %s (the other hosts write "
                                "to it).",
                                db);
                else
                        log_warning(
                                "Snapshot=none: whatever was written to database %s and the stores between "
                                "the backup and the stop is not protected; a full restore would bring both "
                                "back to the backup.",
                                db);
                return 0;
        }
        if (h->config.snapshot == SNAPSHOT_DUMP)
                return snapshot_dump(h, backup, files);
        /* delta and auto: the backup made the slot, or said why not */
        if (h->current.delta_slot) {
                r = snapshot_delta(h, backup, manifest, files);
                if (r != 0)
                        return r < 0 ? r : 0;
                r = helper_update_current(h, update_delta_file, &(DeltaFile){});
                if (r < 0)
                        return r;
        }
        return snapshot_template(h, id, ret_name);
}

static int run(Helper *h) {
        _cleanup_free_ char *manifest_path = NULL, *snapshot = NULL, *refreshed = NULL, *size = NULL;
        _cleanup_json_ cJSON *manifest = NULL, *counts = NULL;
        /* copies: every update of current.json replaces h->current */
        _cleanup_free_ char *backup = NULL, *upgrade_id = NULL;
        const char *id;
        const char *db = h->config.db_name;
        char stamp_id[sizeof("YYYYmmddHHMMSS")];
        BackupTreeStats stats = {};
        _cleanup_(stores_refresh_done) StoresRefresh stores = { .fd = -EBADF, .list_fd = -EBADF };
        _cleanup_file_list_ BackupFileList *files = NULL;
        _cleanup_free_ char *list_error = NULL;
        bool refresh;
        cJSON *symlinks;
        PgTarget target;
        int r;

        if (!h->current.server_stopped)
                return log_error_errno(
                        EBUSY,
                        "Refusing to snapshot: %s is not recorded as stopped (current.json server_stopped "
                        "is not true), so something may still write.",
                        h->config.server_unit);
        /* a coordinated cluster roll: the migrator goes on once every member stopped, the others once
         * it migrated and passed its smoke test */
        r = roll_coordinate(h);
        if (r < 0)
                return r;
        if (!h->current.backup)
                return log_error_errno(
                        ENOENT,
                        "Refusing to snapshot: current.json names no backup, so there is no copy of the "
                        "stores to bring up to date.");
        backup = strdup(h->current.backup);
        upgrade_id = strdup(strempty(h->current.id));
        if (!backup || !upgrade_id)
                return log_oom();
        id = upgrade_id;

        if (!*id) {
                time_t now = time(NULL);
                struct tm tm;
                if (!gmtime_r(&now, &tm) || strftime(stamp_id, sizeof(stamp_id), "%Y%m%d%H%M%S", &tm) == 0)
                        return log_error_errno(EOVERFLOW, "Failed to format the time.");
                id = stamp_id;
        }

        if (asprintf(&manifest_path, "%s/" BACKUP_MANIFEST_FILE, backup) < 0) {
                manifest_path = NULL;
                return log_oom();
        }
        r = state_read_json(manifest_path, &manifest);
        if (r < 0)
                return log_error_errno(r, "Failed to read the backup's manifest %s: %m", manifest_path);
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(manifest, "verified")))
                return log_error_errno(
                        EBADMSG,
                        "The backup %s is not verified: refusing to build the restore point on it.",
                        backup);
        symlinks = object_member(manifest, "symlinks");
        if (!symlinks)
                return log_oom();

        /* the stores' changes beside the database's part. Snapshot=none takes no restore point at the
         * stop: a full restore brings the database back to the backup's dump, and the stores to the
         * backup's copy with it, so that the two still belong together. The child reads the stores'
         * checksums, this process only the others' (when it refreshes nothing, all). */
        refresh = h->config.snapshot != SNAPSHOT_NONE && strv_length(h->config.storage_paths) > 0;
        r = backup_manifest_load_list(
                backup, manifest, refresh ? BACKUP_MANIFEST_STORES "/" : NULL, false, &files, &list_error);
        if (r < 0)
                return log_error_errno(
                        r,
                        "Failed to read the backup's checksums (%s): refusing to build the restore point on "
                        "it.",
                        list_error ?: strerror(-r));
        if (refresh) {
                r = stores_refresh_begin(h, backup, manifest, symlinks, &stores);
                if (r < 0)
                        return r;
        }

        r = snapshot_database(h, id, backup, manifest, files, &snapshot);
        if (r >= 0) {
                /* whatever the snapshot took, a slot left behind would hold WAL forever */
                r = helper_pg_target(h, db, &target);
                if (r < 0)
                        r = log_oom();
                else
                        r = drop_slot(h, &target);
        }
        if (r >= 0 && stores.child.pid > 0) {
                if (snapshot || h->current.delta_file ||
                    (h->config.snapshot == SNAPSHOT_DUMP && !current_database_shared(&h->current)))
                        log_info("Database %s: its part of the restore point is taken.", db);
                r = stores_refresh_end(&stores, &files, symlinks, &stats);
        }
        if (r >= 0)
                r = check_files_present(backup, files);
        if (r < 0) {
                /* once the stores' copy began, it cannot be trusted as the restore point any more: the
                 * manifest says so too */
                if (stores.fd >= 0 && set_member(manifest, "verified", cJSON_CreateFalse()) >= 0)
                        (void)state_write_json_atomic(manifest_path, manifest, 0600);
                return r;
        }

        /* the row counts at the stop, what a restore brings back: the delta's are in the manifest already
         * (the dump's counts carried forward by its changes); the final dump's now, from the database it
         * was taken of; a snapshot database is frozen, and migrate counts it once the server is back
         * (restore-point.h). Without any of them nothing is restored to the stop, and nothing counted. */
        if (!h->current.delta_file) {
                cJSON_DeleteItemFromObjectCaseSensitive(manifest, "tables_at_stop");
                r = remove_delta_file(backup);
                if (r < 0)
                        return r;
        }
        if (h->config.snapshot == SNAPSHOT_DUMP && !current_database_shared(&h->current)) {
                log_status("snapshot: counting rows of database %s", db);
                r = restore_point_count(h, db, &counts);
                if (r < 0)
                        return r;
                if (set_member(manifest, "tables_at_stop", TAKE_PTR(counts)) < 0)
                        return log_oom();
        }

        /* "refreshed": the moment every checksum in the manifest was proven, which a restore trusts
         * for files unchanged since (rollback.h, BACKUP_TRUST_CTIME_USEC). Snapshot=none proved nothing
         * now: its restore reads the backup whole. */
        if (set_member(manifest, "snapshot", snapshot ? cJSON_CreateString(snapshot) : cJSON_CreateNull()) <
            0)
                return log_oom();
        if (h->config.snapshot != SNAPSHOT_NONE) {
                refreshed = current_timestamp();
                if (!refreshed || set_member(manifest, "refreshed", cJSON_CreateString(refreshed)) < 0)
                        return log_oom();
        }
        /* the list under a name of its own, the manifest that names its checksum, then the list's name:
         * a crash in between leaves a list that the manifest's checksum finds (backup-manifest.h) */
        r = stores_write_manifest(backup, files, manifest);
        if (r < 0)
                return r;

        if (h->config.snapshot == SNAPSHOT_NONE) {
                log_info(
                        "Restore point ready: the backup %s, database and stores as they were then.",
                        backup);
                return 0;
        }
        size = backup_manifest_format_bytes(stats.bytes);
        log_info(
                "Restore point ready: %s%s; stores in %s brought up to date (%s in %" PRIu64
                " files), checksums verified.",
                snapshot                              ? "database snapshot "
                : h->current.delta_file               ? "the dump and the changes since of "
                : h->config.snapshot == SNAPSHOT_DUMP ? "final dump of "
                                                      : "no snapshot of ",
                snapshot ?: db,
                backup,
                strempty(size),
                stats.files);
        return 0;
}

int main(int argc, char *argv[]) {
        return helper_main(argc, argv, "snapshot", 0, run);
}
