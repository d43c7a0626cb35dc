/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* backup-list.h: a backup's per-file checksums, compact in memory (BackupFileList) and as the text of
 * files.sha256, in sha256sum(1)'s format (docs/architecture.md, "The backup directory") */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "macro.h"

#define BACKUP_LIST_VALUE_SIZE 32

/* One file's entry: its path (relative to the backup, or with a walk's key_prefix) in the list's arena,
 * and its value: a SHA-256, or under BACKUP_HASH_STAT_ONLY its size and mtime (two little-endian
 * 64-bit numbers, then zeros). 36 bytes and the path: a backup of 20,000 files holds its list in about
 * 2 MB, where a cJSON object took several times that. */
typedef struct BackupFileEntry {
        uint32_t path; /* offset in arena */
        uint8_t value[BACKUP_LIST_VALUE_SIZE];
} BackupFileEntry;

/* The checksums of a tree, sorted by path (bytes compared as unsigned, as strcmp() and `LC_ALL=C
 * sort` order them) once backup_list_sort() ran; every function below that takes a list wants
 * it sorted, and every one that returns a list returns it sorted. */
typedef struct BackupFileList {
        char *arena; /* the paths, NUL-terminated, one after the other */
        size_t arena_used, arena_allocated;
        BackupFileEntry *entries;
        size_t n, allocated;
        bool sorted;
} BackupFileList;

/* an empty list (sorted); NULL on OOM */
BackupFileList *backup_list_new(void);
/* frees l and returns NULL; l may be NULL */
BackupFileList *backup_list_free(BackupFileList *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(BackupFileList *, backup_list_free);
#define _cleanup_file_list_ _cleanup_(backup_list_freep)

/* the path of entry i */
static inline const char *backup_list_path(const BackupFileList *l, size_t i) {
        return l->arena + l->entries[i].path;
}
/* Append path with value (unsorted afterwards unless path sorts after the last entry); -EINVAL for an
 * empty path, -EFBIG past 4 GiB of paths. */
int backup_list_add(BackupFileList *l, const char *path, const uint8_t value[BACKUP_LIST_VALUE_SIZE]);
/* Set path's checksum to hex (64 hex digits), adding the entry when it is not there; l stays sorted.
 * -EINVAL when hex is not a SHA-256. */
int backup_list_set_hex(BackupFileList *l, const char *path, const char *hex);
/* Sort l by path; -ENOTUNIQ when a path is there twice, *ret_duplicate (optional) = that path. */
int backup_list_sort(BackupFileList *l, char **ret_duplicate);
/* the index of path in l (sorted), or the index where it would go, with *ret_found false */
size_t backup_list_search(const BackupFileList *l, const char *path, bool *ret_found);
/* the value of path in l (sorted), or NULL */
const uint8_t *backup_list_find(const BackupFileList *l, const char *path);
/* the entries of l (sorted) whose path starts with prefix: [*ret_first, *ret_end) */
void backup_list_range(const BackupFileList *l, const char *prefix, size_t *ret_first, size_t *ret_end);
/* 0 when expected and actual (both sorted) hold the same paths with the same values; else -EBADMSG and
 * *ret_path (optional) = the first path, in sorted order, that is missing, extra or different */
int backup_list_compare(const BackupFileList *expected, const BackupFileList *actual, char **ret_path);
/* Add every entry of from to into (both sorted; into stays sorted); -ENOTUNIQ when a path is in both. */
int backup_list_merge(BackupFileList *into, const BackupFileList *from);
/* In l (sorted), drop every entry whose path starts with prefix, then add every entry of update (sorted);
 * -EINVAL when a path of update does not start with prefix (l is then unchanged). */
int backup_list_replace_prefix(BackupFileList *l, const char *prefix, const BackupFileList *update);

/* len bytes of 64 lowercase hex digits into a value; -EINVAL otherwise (uppercase too: a list and a
 * manifest hold lowercase only) */
int backup_list_value_from_hex(const char *hex, size_t len, uint8_t ret[BACKUP_LIST_VALUE_SIZE]);
/* the hex of a value (65 bytes with the NUL) */
void backup_list_value_hex(
        const uint8_t value[BACKUP_LIST_VALUE_SIZE], char ret[2 * BACKUP_LIST_VALUE_SIZE + 1]);

/* Write l (sorted) to f in sha256sum(1)'s format, one line per entry: the hex, two spaces, the path,
 * a newline. A path holding a newline, a carriage return or a backslash gets a backslash first on its
 * line and those written as the two characters \n, \r and \\ (as `sha256sum` prints such a name
 * and `sha256sum -c` reads it). *ret_sha256 (optional) = the checksum of the text written, in hex.
 * Streams: the text is never held whole. */
int backup_list_write(const BackupFileList *l, FILE *f, char **ret_sha256);

/* Read a list written by backup_list_write() from f, line by line (name: what an error calls
 * the file). Refused with -EBADMSG and *ret_error (optional: "<name>:<line>: <why>"): a line that is
 * not "<64 lowercase hex>  <path>" with a path relative to the backup (no leading '/', no "." or ".."
 * component), an escape sha256sum would not write, a last line without its newline (a truncated
 * file), a path that does not sort after the one before (unsorted, or the same path twice). Only the
 * entries selected are kept: every one when prefix is NULL, else those whose path starts with prefix
 * (under) or does not (!under). *ret_lines = every line read, *ret_sha256 = the text's checksum. */
int backup_list_read(
        FILE *f,
        const char *name,
        const char *prefix,
        bool under,
        BackupFileList **ret,
        size_t *ret_lines,
        char **ret_sha256,
        char **ret_error);

/* The list of an earlier release's manifest, whose "files" is {"relative/path": "sha256 hex"}, selected
 * as for backup_list_read() (sorted). -EBADMSG and *ret_error (optional, naming name, the manifest)
 * for an entry that is not a SHA-256 of a safe relative path, or a path twice. */
int backup_list_from_json(
        const cJSON *files,
        const char *name,
        const char *prefix,
        bool under,
        BackupFileList **ret,
        char **ret_error);
