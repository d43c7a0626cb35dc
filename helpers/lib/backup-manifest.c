/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* backup-manifest.c: the backup directory: its layout, its manifest, and the copies that fill it */
#define _GNU_SOURCE
#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "backup-manifest.h"
#include "fd-util.h"
#include "hash.h"
#include "json-util.h"
#include "macro.h"
#include "paths.h"
#include "spawn.h"
#include "strv.h"

int backup_manifest_dir_name(time_t t, const char *from, const char *to, char **ret) {
        char stamp[sizeof("YYYYmmddTHHMMSSZ")];
        struct tm tm;
        char *s;

        assert(ret);

        if (!from || !to || !*from || !*to || strchr(from, '/') || strchr(to, '/'))
                return -EINVAL;
        if (!gmtime_r(&t, &tm))
                return -EOVERFLOW;
        if (strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) != sizeof(stamp) - 1)
                return -EOVERFLOW;
        if (asprintf(&s, "%s-%s-to-%s", stamp, from, to) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* absolute, with no "." or ".." component (a ".." would lead the copy out of the backup) */
static bool path_is_safe_absolute(const char *path) {
        if (!path || path[0] != '/')
                return false;
        for (const char *p = path; *p;) {
                size_t l;

                p += strspn(p, "/");
                l = strcspn(p, "/");
                if ((l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                p += l;
        }
        return true;
}

int backup_manifest_copy_path(const char *backup, const char *kind, const char *path, char **ret) {
        size_t l;
        char *s;

        assert(backup);
        assert(kind);
        assert(ret);

        if (!path_is_safe_absolute(path))
                return -EINVAL;
        l = strlen(path);
        while (l > 1 && path[l - 1] == '/')
                l--;
        if (l <= 1) /* "/" itself */
                return -EINVAL;
        if (asprintf(&s, "%s/%s%.*s", backup, kind, (int)l, path) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int backup_manifest_db_name(const char *db, const char *kind, const char *id, size_t id_max, char **ret) {
        _cleanup_free_ char *short_id = NULL;
        size_t n = 0;
        char *s;

        assert(db);
        assert(kind);
        assert(ret);

        short_id = malloc(id_max + 1);
        if (!short_id)
                return -ENOMEM;
        for (const char *p = id; p && *p && n < id_max; p++)
                if (isalnum((unsigned char)*p))
                        short_id[n++] = (char)tolower((unsigned char)*p);
        short_id[n] = 0;
        if (n == 0 || !*db)
                return -EINVAL;

        if (asprintf(&s, "%s_%s_%s", db, kind, short_id) < 0)
                return -ENOMEM;
        if (strlen(s) > BACKUP_MANIFEST_PG_NAME_MAX) {
                free(s);
                return -ENAMETOOLONG;
        }
        *ret = s;
        return 0;
}

/* ---- walking trees ---- */

/* the names in d but "." and "..", sorted; a NULL-terminated vector */
static int read_names_sorted(DIR *d, char ***ret, size_t *ret_n) {
        _cleanup_strv_free_ char **names = NULL;
        size_t n = 0, allocated = 0;
        struct dirent *de;

        for (;;) {
                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                return -errno;
                        break;
                }
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (n + 2 > allocated) {
                        size_t want = allocated ? allocated * 2 : 16;
                        char **nl = reallocarray(names, want, sizeof(char *));
                        if (!nl)
                                return -ENOMEM;
                        names = nl;
                        allocated = want;
                        names[n] = NULL;
                }
                names[n] = strdup(de->d_name);
                if (!names[n])
                        return -ENOMEM;
                names[++n] = NULL;
        }
        if (!names) {
                names = calloc(1, sizeof(char *));
                if (!names)
                        return -ENOMEM;
        }
        strv_sort(names, n);

        *ret = TAKE_PTR(names);
        *ret_n = n;
        return 0;
}

static int cjson_cmp_key(const void *a, const void *b) {
        return strcmp((*(cJSON *const *)a)->string, (*(cJSON *const *)b)->string);
}

/* the members of o sorted by key: O(n log n) where cJSON's lookups would make a compare O(n²) */
static int members_sorted(const cJSON *o, cJSON ***ret, size_t *ret_n) {
        _cleanup_free_ cJSON **v = NULL;
        size_t n = 0, i = 0;
        cJSON *m;

        cJSON_ArrayForEach (m, o)
                n++;
        v = calloc(n + 1, sizeof(cJSON *));
        if (!v)
                return -ENOMEM;
        cJSON_ArrayForEach (m, o) {
                if (!m->string)
                        return -EINVAL;
                v[i++] = m;
        }
        qsort(v, n, sizeof(cJSON *), cjson_cmp_key);
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

/* read <backup>/<name> and check it against the manifest's count and checksum */
static int load_list_file(
        const char *backup,
        const char *name,
        double count,
        const char *sha256,
        const char *prefix,
        bool under,
        BackupFileList **ret,
        char **ret_error) {
        _cleanup_free_ char *path = NULL, *sha = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_file_list_ BackupFileList *l = NULL;
        size_t lines = 0;
        int r;

        if (asprintf(&path, "%s/%s", backup, name) < 0)
                return -ENOMEM;
        f = fopen(path, "re");
        if (!f) {
                r = -errno;
                if (ret_error && asprintf(ret_error, "%s: %s", path, strerror(-r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        r = backup_list_read(f, path, prefix, under, &l, &lines, &sha, ret_error);
        if (r < 0)
                return r;
        if (!streq(sha, sha256) || (double)lines != count) {
                if (ret_error && asprintf(
                                         ret_error,
                                         "%s: %zu lines with the checksum %s, where the manifest says %.0f "
                                         "lines with %s: the "
                                         "list was changed or cut short since the backup wrote it",
                                         path,
                                         lines,
                                         sha,
                                         count,
                                         sha256) < 0)
                        *ret_error = NULL;
                return -EBADMSG;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int backup_manifest_load_list(
        const char *backup,
        const cJSON *manifest,
        const char *prefix,
        bool under,
        BackupFileList **ret,
        char **ret_error) {
        const cJSON *summary = cJSON_GetObjectItemCaseSensitive(manifest, "files_list");
        const cJSON *files = cJSON_GetObjectItemCaseSensitive(manifest, "files");
        const cJSON *name, *count, *sha256;
        _cleanup_free_ char *error = NULL;
        int r;

        assert(backup);
        assert(ret);

        if (!summary && cJSON_IsObject(files))
                return backup_list_from_json(files, BACKUP_MANIFEST_FILE, prefix, under, ret, ret_error);

        name = cJSON_GetObjectItemCaseSensitive(summary, "name");
        count = cJSON_GetObjectItemCaseSensitive(summary, "count");
        sha256 = cJSON_GetObjectItemCaseSensitive(summary, "sha256");
        if (!cJSON_IsString(name) || strchr(name->valuestring, '/') || !*name->valuestring ||
            !cJSON_IsNumber(count) || !cJSON_IsString(sha256)) {
                if (ret_error && asprintf(
                                         ret_error,
                                         "%s/%s: no \"files_list\" with its name, count and sha256",
                                         backup,
                                         BACKUP_MANIFEST_FILE) < 0)
                        *ret_error = NULL;
                return -EBADMSG;
        }
        r = load_list_file(
                backup,
                name->valuestring,
                count->valuedouble,
                sha256->valuestring,
                prefix,
                under,
                ret,
                &error);
        if ((r == -EBADMSG || r == -ENOENT) && streq(name->valuestring, BACKUP_MANIFEST_LIST) &&
            load_list_file(
                    backup,
                    BACKUP_MANIFEST_LIST_NEW,
                    count->valuedouble,
                    sha256->valuestring,
                    prefix,
                    under,
                    ret,
                    NULL) >= 0)
                return 0;
        if (r < 0 && ret_error)
                *ret_error = TAKE_PTR(error);
        return r;
}

int backup_manifest_write_list(const char *backup, const BackupFileList *l, cJSON *manifest) {
        _cleanup_free_ char *path = NULL, *sha = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        cJSON *summary;
        int fd, r;

        assert(backup);
        assert(l);
        assert(manifest);

        if (asprintf(&path, "%s/" BACKUP_MANIFEST_LIST_NEW, backup) < 0)
                return -ENOMEM;
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        f = fdopen(fd, "w");
        if (!f) {
                r = -errno;
                close(fd);
                return r;
        }
        r = backup_list_write(l, f, &sha);
        if (r < 0)
                return r;
        if (fsync(fileno(f)) < 0)
                return -errno;

        summary = cJSON_CreateObject();
        if (!summary || !cJSON_AddStringToObject(summary, "name", BACKUP_MANIFEST_LIST) ||
            !cJSON_AddNumberToObject(summary, "count", (double)l->n) ||
            !cJSON_AddStringToObject(summary, "sha256", sha)) {
                cJSON_Delete(summary);
                return -ENOMEM;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(manifest, "files");
        cJSON_DeleteItemFromObjectCaseSensitive(manifest, "files_list");
        if (!cJSON_AddItemToObject(manifest, "files_list", summary)) {
                cJSON_Delete(summary);
                return -ENOMEM;
        }
        return 0;
}

int backup_manifest_commit_list(const char *backup) {
        _cleanup_close_ int dfd = -EBADF;

        assert(backup);

        dfd = open(backup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        if (renameat(dfd, BACKUP_MANIFEST_LIST_NEW, dfd, BACKUP_MANIFEST_LIST) < 0)
                return -errno;
        if (fsync(dfd) < 0)
                return -errno;
        return 0;
}

/* ---- walking trees ---- */

typedef struct Walk {
        const char *key_prefix;
        BackupHashFlags flags;
        const BackupHashReuse *reuse;
        BackupFileList *files; /* filled, or NULL when checking against expected */
        const BackupFileList *expected;
        size_t expected_first, expected_end;
        uint8_t *seen; /* a bit per entry of expected's range */
        char *bad;     /* the first path found extra or different */
        cJSON *symlinks;
        BackupTreeStats stats;
} Walk;

static bool changed_before(const struct stat *st, const struct timespec *t) {
        return st->st_ctim.tv_sec < t->tv_sec ||
               (st->st_ctim.tv_sec == t->tv_sec && st->st_ctim.tv_nsec < t->tv_nsec);
}

/* a file's value under BACKUP_HASH_STAT_ONLY: its size and mtime in ns, little-endian */
static void stat_value(const struct stat *st, uint8_t ret[BACKUP_LIST_VALUE_SIZE]) {
        uint64_t size = (uint64_t)st->st_size,
                 mtime = (uint64_t)st->st_mtim.tv_sec * UINT64_C(1000000000) + (uint64_t)st->st_mtim.tv_nsec;

        memset(ret, 0, BACKUP_LIST_VALUE_SIZE);
        for (size_t i = 0; i < 8; i++) {
                ret[i] = (uint8_t)(size >> (8 * i));
                ret[8 + i] = (uint8_t)(mtime >> (8 * i));
        }
}

/* a regular file's value in the walk: its checksum (known, or read), or its size and mtime */
static int walk_file_value(
        int dfd,
        const char *name,
        const char *key,
        const struct stat *st,
        Walk *w,
        uint8_t ret[BACKUP_LIST_VALUE_SIZE]) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *hex = NULL;
        int r;

        if (w->flags & BACKUP_HASH_STAT_ONLY) {
                stat_value(st, ret);
                return 0;
        }
        if (w->reuse) {
                const uint8_t *known;

                if (w->reuse->stats) {
                        uint8_t v[BACKUP_LIST_VALUE_SIZE];

                        stat_value(st, v);
                        r = backup_list_add(w->reuse->stats, key, v);
                        if (r < 0)
                                return r;
                }
                known = w->reuse->known ? backup_list_find(w->reuse->known, key) : NULL;
                if (known && changed_before(st, &w->reuse->since)) {
                        memcpy(ret, known, BACKUP_LIST_VALUE_SIZE);
                        return 0;
                }
                if (w->reuse->rehashed && !cJSON_AddItemToArray(w->reuse->rehashed, cJSON_CreateString(key)))
                        return -ENOMEM;
        }
        fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = hash_sha256_fd(fd, &hex);
        if (r < 0)
                return r;
        return backup_list_value_from_hex(hex, strlen(hex), ret) < 0 ? -EIO : 0;
}

/* the file key with value, into the list or checked against expected */
static int walk_record(Walk *w, const char *key, const uint8_t value[BACKUP_LIST_VALUE_SIZE]) {
        bool found;
        size_t i;

        if (w->files)
                return backup_list_add(w->files, key, value);

        i = backup_list_search(w->expected, key, &found);
        if (!found || i < w->expected_first || i >= w->expected_end ||
            memcmp(w->expected->entries[i].value, value, BACKUP_LIST_VALUE_SIZE) != 0) {
                w->bad = strdup(key);
                return w->bad ? -EBADMSG : -ENOMEM;
        }
        i -= w->expected_first;
        w->seen[i / 8] |= (uint8_t)(1u << (i % 8));
        return 0;
}

/* dfd is consumed; rel is "" or "a/b/" */
static int walk_dir(int dfd, const char *rel, Walk *w) {
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_strv_free_ char **names = NULL;
        size_t n;
        int r;

        d = fdopendir(dfd);
        if (!d) {
                r = -errno;
                close(dfd);
                return r;
        }
        r = read_names_sorted(d, &names, &n);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *key = NULL, *sub = NULL;
                const char *name = names[i];
                struct stat st;

                if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                if (asprintf(&key, "%s%s%s", strempty(w->key_prefix), rel, name) < 0) {
                        key = NULL;
                        return -ENOMEM;
                }

                if (S_ISDIR(st.st_mode)) {
                        int fd = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (fd < 0)
                                return -errno;
                        if (asprintf(&sub, "%s%s/", rel, name) < 0) {
                                sub = NULL;
                                close(fd);
                                return -ENOMEM;
                        }
                        r = walk_dir(fd, sub, w);
                        if (r < 0)
                                return r;

                } else if (S_ISREG(st.st_mode)) {
                        uint8_t value[BACKUP_LIST_VALUE_SIZE];

                        if (*rel == 0 && (w->flags & BACKUP_HASH_SKIP_MANIFEST) &&
                            (streq(name, BACKUP_MANIFEST_FILE) || streq(name, BACKUP_MANIFEST_LIST) ||
                             streq(name, BACKUP_MANIFEST_LIST_NEW)))
                                continue;

                        r = walk_file_value(dirfd(d), name, key, &st, w, value);
                        if (r < 0)
                                return r;
                        r = walk_record(w, key, value);
                        if (r < 0)
                                return r;
                        w->stats.files++;
                        w->stats.bytes += (uint64_t)st.st_size;

                } else if (S_ISLNK(st.st_mode)) {
                        _cleanup_free_ char *target = NULL;

                        r = readlinkat_malloc(dirfd(d), name, PATH_MAX, &target);
                        if (r < 0)
                                return r;
                        if (w->symlinks && !cJSON_AddStringToObject(w->symlinks, key, target))
                                return -ENOMEM;
                        w->stats.symlinks++;
                } else
                        w->stats.other++;
        }
        return 0;
}

static int walk(const char *dir, Walk *w) {
        int fd;

        assert(dir);

        w->symlinks = cJSON_CreateObject();
        if (!w->symlinks)
                return -ENOMEM;
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return walk_dir(fd, "", w);
}

int backup_manifest_hash_tree(
        const char *dir,
        const char *key_prefix,
        BackupHashFlags flags,
        BackupFileList **ret_files,
        cJSON **ret_symlinks,
        BackupTreeStats *ret_stats) {
        return backup_manifest_hash_tree_reuse(
                dir, key_prefix, flags, NULL, ret_files, ret_symlinks, ret_stats);
}

int backup_manifest_hash_tree_reuse(
        const char *dir,
        const char *key_prefix,
        BackupHashFlags flags,
        const BackupHashReuse *reuse,
        BackupFileList **ret_files,
        cJSON **ret_symlinks,
        BackupTreeStats *ret_stats) {

        _cleanup_file_list_ BackupFileList *files = backup_list_new();
        _cleanup_json_ cJSON *symlinks = NULL;
        Walk w = { .key_prefix = key_prefix, .flags = flags, .reuse = reuse, .files = files };
        int r;

        assert(ret_files);
        assert(!reuse || !reuse->known || reuse->known->sorted);

        if (!files)
                return -ENOMEM;
        r = walk(dir, &w);
        symlinks = w.symlinks;
        if (r < 0)
                return r;
        /* sorted per directory is not sorted by path: "a-b" sorts before "a/x" */
        r = backup_list_sort(files, NULL);
        if (r >= 0 && reuse && reuse->stats)
                r = backup_list_sort(reuse->stats, NULL);
        if (r < 0)
                return r;

        *ret_files = TAKE_PTR(files);
        if (ret_symlinks)
                *ret_symlinks = TAKE_PTR(symlinks);
        if (ret_stats)
                *ret_stats = w.stats;
        return 0;
}

int backup_manifest_check_tree(
        const char *dir,
        const char *key_prefix,
        BackupHashFlags flags,
        const BackupHashReuse *reuse,
        const BackupFileList *expected,
        cJSON **ret_symlinks,
        BackupTreeStats *ret_stats,
        char **ret_path) {

        _cleanup_json_ cJSON *symlinks = NULL;
        _cleanup_free_ uint8_t *seen = NULL;
        _cleanup_free_ char *bad = NULL;
        Walk w = { .key_prefix = key_prefix, .flags = flags, .reuse = reuse, .expected = expected };
        int r;

        assert(expected);
        assert(expected->sorted);

        backup_list_range(expected, key_prefix, &w.expected_first, &w.expected_end);
        seen = calloc((w.expected_end - w.expected_first) / 8 + 1, 1);
        if (!seen)
                return -ENOMEM;
        w.seen = seen;
        r = walk(dir, &w);
        symlinks = w.symlinks;
        bad = w.bad;
        if (r == -EBADMSG && bad) {
                if (ret_path)
                        *ret_path = TAKE_PTR(bad);
                return r;
        }
        if (r < 0)
                return r;
        if (reuse && reuse->stats) {
                r = backup_list_sort(reuse->stats, NULL);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < w.expected_end - w.expected_first; i++)
                if (!(seen[i / 8] & (1u << (i % 8)))) { /* missing */
                        if (ret_path) {
                                *ret_path = strdup(backup_list_path(expected, w.expected_first + i));
                                if (!*ret_path)
                                        return -ENOMEM;
                        }
                        return -EBADMSG;
                }

        if (ret_symlinks)
                *ret_symlinks = TAKE_PTR(symlinks);
        if (ret_stats)
                *ret_stats = w.stats;
        return 0;
}

static bool member_equal(const cJSON *a, const cJSON *b) {
        return cJSON_IsString(a) && cJSON_IsString(b) && streq(a->valuestring, b->valuestring);
}

int backup_manifest_compare(const cJSON *expected, const cJSON *actual, char **ret_path) {
        _cleanup_free_ cJSON **e = NULL, **a = NULL;
        size_t ne, na, i = 0, j = 0;
        const char *bad = NULL;
        int r;

        if (!cJSON_IsObject(expected) || !cJSON_IsObject(actual))
                return -EINVAL;
        r = members_sorted(expected, &e, &ne);
        if (r < 0)
                return r;
        r = members_sorted(actual, &a, &na);
        if (r < 0)
                return r;

        while (!bad && (i < ne || j < na)) {
                int c = i >= ne ? 1 : j >= na ? -1 : strcmp(e[i]->string, a[j]->string);

                if (c < 0) /* missing */
                        bad = e[i]->string;
                else if (c > 0) /* extra */
                        bad = a[j]->string;
                else if (!member_equal(e[i], a[j]))
                        bad = e[i]->string;
                else {
                        i++;
                        j++;
                }
        }
        if (!bad)
                return 0;

        if (ret_path) {
                *ret_path = strdup(bad);
                if (!*ret_path)
                        return -ENOMEM;
        }
        return -EBADMSG;
}

int backup_manifest_replace_prefix(cJSON *o, const char *prefix, const cJSON *update) {
        cJSON *m, *next;

        assert(prefix);

        if (!cJSON_IsObject(o) || !cJSON_IsObject(update))
                return -EINVAL;
        cJSON_ArrayForEach (m, update)
                if (!m->string || !startswith(m->string, prefix))
                        return -EINVAL;

        for (m = o->child; m; m = next) {
                next = m->next;
                if (m->string && startswith(m->string, prefix))
                        cJSON_Delete(cJSON_DetachItemViaPointer(o, m));
        }

        cJSON_ArrayForEach (m, update) {
                cJSON *copy = cJSON_Duplicate(m, true);
                if (!copy || !cJSON_AddItemToObject(o, m->string, copy)) {
                        cJSON_Delete(copy);
                        return -ENOMEM;
                }
        }
        return 0;
}

/* ---- removing trees ---- */

/* name in parent_fd: a directory is emptied and removed, anything else unlinked */
static int remove_at(int parent_fd, const char *name, dev_t dev) {
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_strv_free_ char **names = NULL;
        struct stat st;
        size_t n;
        int fd, r;

        fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                if (errno != ENOTDIR && errno != ELOOP)
                        return -errno;
                /* not a directory (a symlink to one included): the entry itself goes */
                if (unlinkat(parent_fd, name, 0) < 0)
                        return -errno;
                return 0;
        }
        if (fstat(fd, &st) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        if (st.st_dev != dev) {
                close(fd);
                return -EXDEV; /* a mount point below: never remove another file system's files */
        }
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                close(fd);
                return r;
        }
        r = read_names_sorted(d, &names, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = remove_at(dirfd(d), names[i], dev);
                if (r < 0 && r != -ENOENT)
                        return r;
        }
        if (unlinkat(parent_fd, name, AT_REMOVEDIR) < 0)
                return -errno;
        return 0;
}

int backup_manifest_remove_tree(const char *path) {
        _cleanup_free_ char *copy = NULL;
        _cleanup_close_ int parent_fd = -EBADF;
        const char *base, *parent;
        char *slash;

        assert(path);

        copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        for (size_t l = strlen(copy); l > 1 && copy[l - 1] == '/'; l--)
                copy[l - 1] = 0;

        slash = strrchr(copy, '/');
        if (!slash) {
                parent = ".";
                base = copy;
        } else {
                *slash = 0;
                parent = slash == copy ? "/" : copy;
                base = slash + 1;
        }
        if (!*base || streq(base, ".") || streq(base, ".."))
                return -EINVAL;

        parent_fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (parent_fd < 0)
                return -errno;
        return backup_manifest_remove_tree_at(parent_fd, base);
}

int backup_manifest_remove_tree_at(int dir_fd, const char *name) {
        struct stat st;

        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        return remove_at(dir_fd, name, st.st_dev);
}

/* ---- filling the backup ---- */

static char *strjoin2(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        char *s = malloc(la + lb + 1);

        if (!s)
                return NULL;
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
        return s;
}

static char *parent_of(const char *path) {
        const char *slash = strrchr(path, '/');

        if (!slash || slash == path)
                return strdup("/");
        return strndup(path, (size_t)(slash - path));
}

int backup_manifest_rsync(const char *src, const char *dst, bool directory, int *ret_status) {
        _cleanup_free_ char *parent = NULL, *s = NULL, *d = NULL;
        int r;

        assert(src);
        assert(dst);

        parent = parent_of(dst);
        if (!parent)
                return -ENOMEM;
        r = paths_mkdir_p(parent, 0700);
        if (r < 0)
                return r;

        /* the trailing slashes make rsync copy the directory's contents onto dst, not into it */
        s = directory ? strjoin2(src, "/") : strdup(src);
        d = directory ? strjoin2(dst, "/") : strdup(dst);
        if (!s || !d)
                return -ENOMEM;

        char *argv_dir[] = { (char *)"rsync", (char *)"-a", (char *)"--delete", s, d, NULL };
        char *argv_file[] = { (char *)"rsync", (char *)"-a", s, d, NULL };
        SpawnOptions o = { .log_identifier = "rsync" };
        return spawn_run(directory ? argv_dir : argv_file, &o, ret_status);
}

int backup_manifest_rsync_dirs(char **dirs, const char *backup, const char *kind, int *ret_status) {
        static const char *const head[] = { "rsync", "-a", "--delete", "--relative", "--no-implied-dirs" };
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *dst = NULL;
        size_t n = 0;
        int r;

        assert(backup);
        assert(kind);

        argv = calloc(ELEMENTSOF(head) + strv_length(dirs) + 2, sizeof(char *));
        if (!argv)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(head); i++)
                if (!(argv[n++] = strdup(head[i])))
                        return -ENOMEM;
        STRV_FOREACH (d, dirs) {
                _cleanup_free_ char *copy = NULL, *parent = NULL;

                r = backup_manifest_copy_path(backup, kind, *d, &copy);
                if (r < 0)
                        return r;
                parent = parent_of(copy);
                if (!parent)
                        return -ENOMEM;
                r = paths_mkdir_p(parent, 0700);
                if (r < 0)
                        return r;
                /* "/./": what follows is the path rsync recreates under the destination; the trailing
                 * slash sends the directory's contents, which --delete then makes exact */
                if (asprintf(&argv[n], "%s/.%s/", paths_root(), *d) < 0) {
                        argv[n] = NULL;
                        return -ENOMEM;
                }
                n++;
        }
        if (asprintf(&dst, "%s/%s/", backup, kind) < 0) {
                dst = NULL;
                return -ENOMEM;
        }
        argv[n++] = TAKE_PTR(dst);

        SpawnOptions o = { .log_identifier = "rsync" };
        return spawn_run(argv, &o, ret_status);
}

char *backup_manifest_format_bytes(uint64_t b) {
        static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
        double v = (double)b;
        size_t u = 0;
        char *s;

        while (v >= 1024 && u + 1 < ELEMENTSOF(units)) {
                v /= 1024;
                u++;
        }
        if ((u == 0 ? asprintf(&s, "%" PRIu64 " %s", b, units[u]) : asprintf(&s, "%.1f %s", v, units[u])) <
            0)
                return NULL;
        return s;
}

static double count_of(const cJSON *o, const char *table, bool *found) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, table);

        *found = cJSON_IsNumber(v);
        return *found ? v->valuedouble : 0;
}

#define WHY(r, ...) (ret_why && asprintf(ret_why, __VA_ARGS__) < 0 ? (*ret_why = NULL, -ENOMEM) : (r))

int backup_manifest_resolve_counts(
        const cJSON *before,
        const cJSON *after,
        const cJSON *restored,
        cJSON **ret_tables,
        cJSON **ret_changed,
        char **ret_why) {

        _cleanup_json_ cJSON *tables = cJSON_CreateObject(), *changed = cJSON_CreateArray();
        const cJSON *m;

        assert(ret_tables);
        assert(ret_changed);

        if (!tables || !changed)
                return -ENOMEM;
        if (!cJSON_IsObject(before) || !cJSON_IsObject(after) || (restored && !cJSON_IsObject(restored)))
                return -EINVAL;

        cJSON_ArrayForEach (m, before)
                if (!cJSON_HasObjectItem(after, m->string))
                        return WHY(-EBUSY, "table %s was dropped", m->string);

        cJSON_ArrayForEach (m, after) {
                const char *table = m->string;
                bool in_before, in_restored;
                double b = count_of(before, table, &in_before), a = m->valuedouble, lo, hi, n;

                if (!in_before)
                        return WHY(-EBUSY, "table %s was created", table);
                lo = b < a ? b : a;
                hi = b < a ? a : b;
                n = lo;

                if (restored) {
                        n = count_of(restored, table, &in_restored);
                        if (!in_restored)
                                return WHY(-EBADMSG, "it has no table %s", table);
                        if (n < lo || n > hi)
                                return lo == hi ? WHY(-EBADMSG,
                                                      "it holds %.0f rows in %s, the database %.0f",
                                                      n,
                                                      table,
                                                      lo)
                                                : WHY(-EBADMSG,
                                                      "it holds %.0f rows in %s, the database between %.0f "
                                                      "and %.0f while it was dumped",
                                                      n,
                                                      table,
                                                      lo,
                                                      hi);
                }

                if (lo != hi && !cJSON_AddItemToArray(changed, cJSON_CreateString(table)))
                        return -ENOMEM;
                if (!cJSON_AddNumberToObject(tables, table, n))
                        return -ENOMEM;
        }
        if (restored)
                cJSON_ArrayForEach (m, restored)
                        if (!cJSON_HasObjectItem(after, m->string))
                                return WHY(
                                        -EBADMSG, "it has a table %s the database does not have", m->string);

        *ret_tables = TAKE_PTR(tables);
        *ret_changed = TAKE_PTR(changed);
        return 0;
}
