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

static int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

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
        qsort(names, n, sizeof(char *), strcmp_ptr);

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

typedef struct Walk {
        const char *key_prefix;
        BackupHashFlags flags;
        const BackupHashReuse *reuse;
        cJSON **known; /* reuse->known's members, sorted by key */
        size_t n_known;
        cJSON *files;
        cJSON *symlinks;
        BackupTreeStats stats;
} Walk;

static bool changed_before(const struct stat *st, const struct timespec *t) {
        return st->st_ctim.tv_sec < t->tv_sec ||
               (st->st_ctim.tv_sec == t->tv_sec && st->st_ctim.tv_nsec < t->tv_nsec);
}

static int cjson_cmp_key_name(const void *key, const void *member) {
        return strcmp(key, (*(cJSON *const *)member)->string);
}

static const cJSON *find_known(const Walk *w, const char *key) {
        cJSON *const *m;

        if (!w->known)
                return NULL;
        m = bsearch(key, w->known, w->n_known, sizeof(cJSON *), cjson_cmp_key_name);
        return m ? *m : NULL;
}

/* "<size> <mtime in ns>": a file's value under BACKUP_HASH_STAT_ONLY */
static int stat_value(const struct stat *st, char **ret) {
        return asprintf(
                       ret,
                       "%" PRIu64 " %" PRIu64,
                       (uint64_t)st->st_size,
                       (uint64_t)st->st_mtim.tv_sec * UINT64_C(1000000000) + (uint64_t)st->st_mtim.tv_nsec) <
                               0
                       ? -ENOMEM
                       : 0;
}

/* a regular file's value in the walk: its checksum (known, or read), or its size and mtime */
static int walk_file_value(
        int dfd, const char *name, const char *key, const struct stat *st, Walk *w, char **ret) {
        _cleanup_close_ int fd = -EBADF;
        const cJSON *known;
        int r;

        if (w->flags & BACKUP_HASH_STAT_ONLY)
                return stat_value(st, ret);
        if (w->reuse) {
                if (w->reuse->stats) {
                        _cleanup_free_ char *v = NULL;

                        if (stat_value(st, &v) < 0 || !cJSON_AddStringToObject(w->reuse->stats, key, v))
                                return -ENOMEM;
                }
                known = find_known(w, key);
                if (cJSON_IsString(known) && changed_before(st, &w->reuse->since)) {
                        *ret = strdup(known->valuestring);
                        return *ret ? 0 : -ENOMEM;
                }
                if (w->reuse->rehashed && !cJSON_AddItemToArray(w->reuse->rehashed, cJSON_CreateString(key)))
                        return -ENOMEM;
        }
        fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = hash_sha256_fd(fd, ret);
        return r < 0 ? r : 0;
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
                        _cleanup_free_ char *hex = NULL;

                        if (*rel == 0 && (w->flags & BACKUP_HASH_SKIP_MANIFEST) &&
                            streq(name, BACKUP_MANIFEST_FILE))
                                continue;

                        r = walk_file_value(dirfd(d), name, key, &st, w, &hex);
                        if (r < 0)
                                return r;
                        if (!cJSON_AddStringToObject(w->files, key, hex))
                                return -ENOMEM;
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

int backup_manifest_hash_tree(
        const char *dir,
        const char *key_prefix,
        BackupHashFlags flags,
        cJSON **ret_files,
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
        cJSON **ret_files,
        cJSON **ret_symlinks,
        BackupTreeStats *ret_stats) {

        _cleanup_json_ cJSON *files = NULL, *symlinks = NULL;
        _cleanup_free_ cJSON **known = NULL;
        Walk w;
        int fd, r;

        assert(dir);
        assert(ret_files);

        files = cJSON_CreateObject();
        symlinks = cJSON_CreateObject();
        if (!files || !symlinks)
                return -ENOMEM;
        w = (Walk){ .key_prefix = key_prefix,
                    .flags = flags,
                    .reuse = reuse,
                    .files = files,
                    .symlinks = symlinks };
        if (reuse && reuse->known) {
                r = members_sorted(reuse->known, &known, &w.n_known);
                if (r < 0)
                        return r;
                w.known = known;
        }

        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = walk_dir(fd, "", &w);
        if (r < 0)
                return r;

        *ret_files = TAKE_PTR(files);
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

int backup_manifest_replace_prefix(cJSON *files, const char *prefix, const cJSON *update) {
        cJSON *m, *next;

        assert(prefix);

        if (!cJSON_IsObject(files) || !cJSON_IsObject(update))
                return -EINVAL;
        cJSON_ArrayForEach (m, update)
                if (!m->string || !startswith(m->string, prefix))
                        return -EINVAL;

        for (m = files->child; m; m = next) {
                next = m->next;
                if (m->string && startswith(m->string, prefix))
                        cJSON_Delete(cJSON_DetachItemViaPointer(files, m));
        }

        cJSON_ArrayForEach (m, update) {
                cJSON *copy = cJSON_Duplicate(m, true);
                if (!copy || !cJSON_AddItemToObject(files, m->string, copy)) {
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
