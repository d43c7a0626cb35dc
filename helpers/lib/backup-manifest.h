/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* backup-manifest.h: the backup directory: its layout, its manifest, and the copies that fill it */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "backup-list.h"
#include "macro.h"
#include "pg.h"

/* Layout of one backup (docs/architecture.md, "Phases": backup, tests/integration/upgrade-happy-path.sh):
 *   <Directory>/<YYYYmmddTHHMMSSZ>-<from>-to-<to>/
 *     database.dump              pg_dump -Fc, taken while the server serves
 *     database-final.dump        Snapshot=dump only: the second dump, taken after the stop
 *     stores/<absolute store>/…  rsync -a of every [Storage] Paths= entry
 *     config/<absolute path>     [Storage] Config= and MasterKeyId= (the identifier, never the key)
 *     files.sha256               every regular file's SHA-256 but these two, as sha256sum(1) writes it
 *                                (`cd <backup> && sha256sum -c files.sha256` checks the backup)
 *     manifest.json              {"id", "from", "to", "created", "database", "tables", "stores", "config",
 *                                 "files_list": {"name", "count", "sha256"}, "symlinks", "verified", …}
 * It is written as "<name>.partial" and renamed only once verified. The list is apart so that a helper
 * that needs the manifest's other keys never reads one line per store file, and one that needs the
 * checksums holds them compactly (BackupFileList); the manifest's "files_list" holds the list's own
 * checksum and line count. A manifest of an earlier release holds "files": {"relative/path": "sha256
 * hex"} instead, and is still read (docs/architecture.md, "The backup directory"). */
#define BACKUP_MANIFEST_FILE "manifest.json"
/* the checksums' list, and the name it is written under before the manifest names its checksum */
#define BACKUP_MANIFEST_LIST "files.sha256"
#define BACKUP_MANIFEST_LIST_NEW "files.sha256.new"
#define BACKUP_MANIFEST_DUMP "database.dump"
#define BACKUP_MANIFEST_FINAL_DUMP "database-final.dump"
/* Snapshot=delta: the changes between the dump and the stop (decoding.h) */
#define BACKUP_MANIFEST_DELTA "database.delta"
#define BACKUP_MANIFEST_PARTIAL_SUFFIX ".partial"
#define BACKUP_MANIFEST_STORES "stores"
#define BACKUP_MANIFEST_CONFIG "config"

/* PostgreSQL silently truncates longer identifiers (NAMEDATALEN - 1) */
#define BACKUP_MANIFEST_PG_NAME_MAX 63

/* "20261126T105713Z-1.4.0-to-1.5.0" for t (UTC); -EINVAL when a version holds a '/' or is empty */
int backup_manifest_dir_name(time_t t, const char *from, const char *to, char **ret);

/* "<backup>/<kind><path>" for an absolute path: kind is BACKUP_MANIFEST_STORES or BACKUP_MANIFEST_CONFIG;
 * -EINVAL when path is not absolute or holds a ".." component */
int backup_manifest_copy_path(const char *backup, const char *kind, const char *path, char **ret);

/* "<db>_<kind>_<id>": id is reduced to its first id_max letters and digits, lowercased (an invocation
 * id's hex, a timestamp); -EINVAL when nothing is left of id, -ENAMETOOLONG when the result would be
 * truncated by PostgreSQL (a truncated name could equal another database's, even <db> itself) */
int backup_manifest_db_name(const char *db, const char *kind, const char *id, size_t id_max, char **ret);

typedef struct BackupTreeStats {
        uint64_t files;    /* regular files hashed */
        uint64_t bytes;    /* their total size */
        uint64_t symlinks; /* recorded in ret_symlinks, not followed */
        uint64_t other;    /* fifos, sockets, devices: skipped */
} BackupTreeStats;

/* The checksums of the backup in directory backup, whose manifest (parsed) is manifest, selected as for
 * backup_list_read(). The manifest's "files_list" names the list, its line count and its
 * checksum, and a list that differs from them is refused (-EBADMSG, *ret_error naming the file); when
 * files.sha256 is missing or differs and files.sha256.new matches, that one is read (a crash of
 * backup_manifest_write_list()'s caller between the manifest and backup_manifest_commit_list()). A
 * manifest of an earlier release, with "files" inside, is converted. *ret_error (optional) says what
 * was wrong, for an operator: the file and the line. */
int backup_manifest_load_list(
        const char *backup,
        const cJSON *manifest,
        const char *prefix,
        bool under,
        BackupFileList **ret,
        char **ret_error);

/* Write l to <backup>/files.sha256.new (synced) and set manifest's "files_list" to its name, line count
 * and checksum (dropping an earlier release's "files"). The caller then writes the manifest and calls
 * backup_manifest_commit_list(). */
int backup_manifest_write_list(const char *backup, const BackupFileList *l, cJSON *manifest);
/* rename <backup>/files.sha256.new to files.sha256, and sync the directory */
int backup_manifest_commit_list(const char *backup);

typedef enum BackupHashFlags {
        BACKUP_HASH_SKIP_MANIFEST = 1 << 0, /* leave out dir's top-level manifest.json and its list */
        BACKUP_HASH_STAT_ONLY = 1 << 1,     /* a file's value is its size and mtime, nothing is read */
} BackupHashFlags;

/* What an earlier walk of the same tree found, for backup_manifest_hash_tree_reuse(); known may be NULL
 * (then every file is read) */
typedef struct BackupHashReuse {
        const BackupFileList *known; /* sorted: keys (with the walk's key_prefix) and checksums */
        struct timespec since;       /* a known file whose ctime is before this keeps its checksum unread */
        cJSON *rehashed;             /* optional, an array: gets the key of every file read and hashed */
        BackupFileList *stats; /* optional, empty: every file's BACKUP_HASH_STAT_ONLY value, same walk */
} BackupHashReuse;

/* Walk dir without following symlinks (dir itself may be one) and return the list of "<key_prefix>
 * <relative path>" and SHA-256 of every regular file (sorted), and {"<key_prefix><relative path>":
 * "target"} for every symlink (ret_symlinks optional). key_prefix may be NULL. ret_stats optional. */
int backup_manifest_hash_tree(
        const char *dir,
        const char *key_prefix,
        BackupHashFlags flags,
        BackupFileList **ret_files,
        cJSON **ret_symlinks,
        BackupTreeStats *ret_stats);

/* backup_manifest_hash_tree(), reading only the files that changed since reuse->since: a regular file
 * whose key is in reuse->known and whose status changed before reuse->since (its ctime: any write,
 * rename into place, chmod or chown moves it, and nothing sets it back) keeps its known checksum. */
int backup_manifest_hash_tree_reuse(
        const char *dir,
        const char *key_prefix,
        BackupHashFlags flags,
        const BackupHashReuse *reuse,
        BackupFileList **ret_files,
        cJSON **ret_symlinks,
        BackupTreeStats *ret_stats);

/* backup_manifest_hash_tree_reuse() (reuse may be NULL) compared with expected as it goes, without a
 * second list: 0 when the tree's files are exactly expected's entries under key_prefix (all of them
 * when key_prefix is NULL) with the same values; else -EBADMSG and *ret_path (optional) = the first
 * file found extra or different in the walk, or else the first entry (sorted) not found. */
int backup_manifest_check_tree(
        const char *dir,
        const char *key_prefix,
        BackupHashFlags flags,
        const BackupHashReuse *reuse,
        const BackupFileList *expected,
        cJSON **ret_symlinks,
        BackupTreeStats *ret_stats,
        char **ret_path);

/* 0 when expected and actual ({"path": "target"}, the symlinks) have the same keys with the same
 * string values; else -EBADMSG and *ret_path (optional) = the first differing key, checked in sorted
 * order */
int backup_manifest_compare(const cJSON *expected, const cJSON *actual, char **ret_path);

/* In o ({"path": "target"}), drop every key starting with prefix, then add a copy of every member of
 * update. */
int backup_manifest_replace_prefix(cJSON *o, const char *prefix, const cJSON *update);

/* rm -rf path: never follows a symlink (one at path itself is removed, not its target) and never leaves
 * path's file system. -ENOENT when path does not exist. */
int backup_manifest_remove_tree(const char *path);
/* the same for the entry name in dir_fd (a tree another user may write: nothing is looked up by a
 * path string below dir_fd) */
int backup_manifest_remove_tree_at(int dir_fd, const char *name);

/* rsync -a --delete src/ dst/ (src a directory) or rsync -a src dst (a file), creating dst's parent
 * (0700) first. *ret_status = rsync's exit status (24, "some files vanished", is left to the caller). */
int backup_manifest_rsync(const char *src, const char *dst, bool directory, int *ret_status);
/* Every directory of dirs (absolute, under paths_root()) onto its copy in backup (the path
 * backup_manifest_copy_path() gives for kind), in one rsync -a --delete --relative run: one process for
 * them all instead of one each. The copies' parents are created (0700) first and keep their modes
 * (--no-implied-dirs). *ret_status = rsync's exit status. */
int backup_manifest_rsync_dirs(char **dirs, const char *backup, const char *kind, int *ret_status);

/* "512 B", "1.5 KiB", "12.3 GiB"; NULL on OOM */
char *backup_manifest_format_bytes(uint64_t bytes);

/* The manifest's "tables" for a dump of a database that kept serving: before and after are
 * {"schema.table": rows} counted just before and just after pg_dump, restored (NULL: no trial restore)
 * the counts of the dump restored into a scratch database. A table whose count did not change holds
 * that many rows in the dump; one that changed holds something in between, which restored tells
 * exactly (without it, the lower bound is recorded: "at least these rows"). *ret_changed lists the
 * tables that changed. -EBUSY when a table appeared or vanished during the dump, -EBADMSG when restored
 * disagrees (a table missing or extra, a count outside its range); *ret_why (optional) says which. */
int backup_manifest_resolve_counts(
        const cJSON *before,
        const cJSON *after,
        const cJSON *restored,
        cJSON **ret_tables,
        cJSON **ret_changed,
        char **ret_why);
