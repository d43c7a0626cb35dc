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

/* ---- the file list ---- */

BackupFileList *backup_manifest_list_new(void) {
        BackupFileList *l = calloc(1, sizeof(BackupFileList));

        if (l)
                l->sorted = true;
        return l;
}

BackupFileList *backup_manifest_list_free(BackupFileList *l) {
        if (!l)
                return NULL;
        free(l->arena);
        free(l->entries);
        free(l);
        return NULL;
}

static int list_grow(BackupFileList *l, size_t path_size) {
        if (l->n == l->allocated) {
                size_t want = l->allocated ? l->allocated * 2 : 64;
                BackupFileEntry *e = reallocarray(l->entries, want, sizeof(BackupFileEntry));

                if (!e)
                        return -ENOMEM;
                l->entries = e;
                l->allocated = want;
        }
        if (l->arena_used + path_size > UINT32_MAX)
                return -EFBIG;
        if (l->arena_used + path_size > l->arena_allocated) {
                size_t want = l->arena_allocated ? l->arena_allocated * 2 : 4096;
                char *a;

                while (want < l->arena_used + path_size)
                        want *= 2;
                a = realloc(l->arena, want);
                if (!a)
                        return -ENOMEM;
                l->arena = a;
                l->arena_allocated = want;
        }
        return 0;
}

/* room for n entries and arena bytes of paths at once: reading a list of known size, it grows by no
 * realloc (each of which holds the old and the new block for a moment, and may leave the old resident) */
static int list_reserve(BackupFileList *l, size_t n, size_t arena) {
        if (n > l->allocated) {
                BackupFileEntry *e = reallocarray(l->entries, n, sizeof(BackupFileEntry));

                if (!e)
                        return -ENOMEM;
                l->entries = e;
                l->allocated = n;
        }
        if (arena > UINT32_MAX)
                arena = UINT32_MAX;
        if (arena > l->arena_allocated) {
                char *a = realloc(l->arena, arena);

                if (!a)
                        return -ENOMEM;
                l->arena = a;
                l->arena_allocated = arena;
        }
        return 0;
}

int backup_manifest_list_add(
        BackupFileList *l, const char *path, const uint8_t value[BACKUP_MANIFEST_SHA256_SIZE]) {
        size_t size;
        int r;

        assert(l);
        assert(path);
        assert(value);

        if (!*path)
                return -EINVAL;
        size = strlen(path) + 1;
        r = list_grow(l, size);
        if (r < 0)
                return r;
        if (l->n > 0 && strcmp(backup_manifest_list_path(l, l->n - 1), path) >= 0)
                l->sorted = false;
        memcpy(l->arena + l->arena_used, path, size);
        l->entries[l->n].path = (uint32_t)l->arena_used;
        memcpy(l->entries[l->n].value, value, BACKUP_MANIFEST_SHA256_SIZE);
        l->arena_used += size;
        l->n++;
        return 0;
}

static int unhex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1; /* uppercase too: the list and the manifest hold lowercase only */
}

/* 64 lowercase hex digits into 32 bytes; -EINVAL otherwise */
static int value_from_hex(const char *hex, size_t len, uint8_t ret[BACKUP_MANIFEST_SHA256_SIZE]) {
        if (!hex || len != 2 * BACKUP_MANIFEST_SHA256_SIZE)
                return -EINVAL;
        for (size_t i = 0; i < BACKUP_MANIFEST_SHA256_SIZE; i++) {
                int hi = unhex_digit(hex[2 * i]), lo = unhex_digit(hex[2 * i + 1]);

                if (hi < 0 || lo < 0)
                        return -EINVAL;
                ret[i] = (uint8_t)(hi << 4 | lo);
        }
        return 0;
}

void backup_manifest_value_hex(
        const uint8_t value[BACKUP_MANIFEST_SHA256_SIZE], char ret[2 * BACKUP_MANIFEST_SHA256_SIZE + 1]) {
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < BACKUP_MANIFEST_SHA256_SIZE; i++) {
                ret[2 * i] = digits[value[i] >> 4];
                ret[2 * i + 1] = digits[value[i] & 0xf];
        }
        ret[2 * BACKUP_MANIFEST_SHA256_SIZE] = 0;
}

/* the index of path in l (sorted), or the index where it would go with *ret_found false */
static size_t list_search(const BackupFileList *l, const char *path, bool *ret_found) {
        size_t lo = 0, hi = l->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(backup_manifest_list_path(l, mid), path);

                if (c == 0) {
                        *ret_found = true;
                        return mid;
                }
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *ret_found = false;
        return lo;
}

const uint8_t *backup_manifest_list_find(const BackupFileList *l, const char *path) {
        bool found;
        size_t i;

        assert(l);
        assert(l->sorted);

        if (!path)
                return NULL;
        i = list_search(l, path, &found);
        return found ? l->entries[i].value : NULL;
}

int backup_manifest_list_set_hex(BackupFileList *l, const char *path, const char *hex) {
        uint8_t value[BACKUP_MANIFEST_SHA256_SIZE];
        bool found;
        size_t i;
        int r;

        assert(l);
        assert(l->sorted);
        assert(path);

        r = value_from_hex(hex, hex ? strlen(hex) : 0, value);
        if (r < 0)
                return r;
        i = list_search(l, path, &found);
        if (found) {
                memcpy(l->entries[i].value, value, sizeof(value));
                return 0;
        }
        r = backup_manifest_list_add(l, path, value);
        if (r < 0)
                return r;
        if (i < l->n - 1) { /* move the new entry into its place */
                BackupFileEntry e = l->entries[l->n - 1];

                memmove(l->entries + i + 1, l->entries + i, (l->n - 1 - i) * sizeof(BackupFileEntry));
                l->entries[i] = e;
        }
        l->sorted = true;
        return 0;
}

/* qsort() has no context argument: the arena is passed through this (one sort at a time per thread) */
static _Thread_local const char *sort_arena;

static int entry_cmp(const void *a, const void *b) {
        return strcmp(
                sort_arena + ((const BackupFileEntry *)a)->path,
                sort_arena + ((const BackupFileEntry *)b)->path);
}

int backup_manifest_list_sort(BackupFileList *l, char **ret_duplicate) {
        assert(l);

        if (!l->sorted) {
                sort_arena = l->arena;
                qsort(l->entries, l->n, sizeof(BackupFileEntry), entry_cmp);
                sort_arena = NULL;
        }
        for (size_t i = 1; i < l->n; i++)
                if (streq(backup_manifest_list_path(l, i - 1), backup_manifest_list_path(l, i))) {
                        l->sorted = true;
                        if (ret_duplicate) {
                                *ret_duplicate = strdup(backup_manifest_list_path(l, i));
                                if (!*ret_duplicate)
                                        return -ENOMEM;
                        }
                        return -ENOTUNIQ;
                }
        l->sorted = true;
        return 0;
}

void backup_manifest_list_range(
        const BackupFileList *l, const char *prefix, size_t *ret_first, size_t *ret_end) {
        size_t first, end;
        bool found;

        assert(l);
        assert(l->sorted);
        assert(ret_first);
        assert(ret_end);

        if (!prefix || !*prefix) {
                *ret_first = 0;
                *ret_end = l->n;
                return;
        }
        /* the paths starting with prefix follow each other in sorted order, from prefix's own place */
        first = list_search(l, prefix, &found);
        for (end = first; end < l->n && startswith(backup_manifest_list_path(l, end), prefix); end++)
                ;
        *ret_first = first;
        *ret_end = end;
}

static int set_path(char **ret_path, const char *path) {
        if (ret_path) {
                *ret_path = strdup(path);
                if (!*ret_path)
                        return -ENOMEM;
        }
        return -EBADMSG;
}

int backup_manifest_list_compare(
        const BackupFileList *expected, const BackupFileList *actual, char **ret_path) {
        size_t i = 0, j = 0;

        if (!expected || !actual)
                return -EINVAL;
        assert(expected->sorted && actual->sorted);

        while (i < expected->n || j < actual->n) {
                int c = i >= expected->n ? 1
                        : j >= actual->n ? -1
                                         : strcmp(backup_manifest_list_path(expected, i),
                                                  backup_manifest_list_path(actual, j));

                if (c < 0) /* missing */
                        return set_path(ret_path, backup_manifest_list_path(expected, i));
                if (c > 0) /* extra */
                        return set_path(ret_path, backup_manifest_list_path(actual, j));
                if (memcmp(expected->entries[i].value,
                           actual->entries[j].value,
                           BACKUP_MANIFEST_SHA256_SIZE) != 0)
                        return set_path(ret_path, backup_manifest_list_path(expected, i));
                i++;
                j++;
        }
        return 0;
}

int backup_manifest_list_merge(BackupFileList *into, const BackupFileList *from) {
        assert(into);
        assert(from);

        for (size_t i = 0; i < from->n; i++) {
                int r = backup_manifest_list_add(
                        into, backup_manifest_list_path(from, i), from->entries[i].value);
                if (r < 0)
                        return r;
        }
        return backup_manifest_list_sort(into, NULL);
}

int backup_manifest_list_replace_prefix(
        BackupFileList *l, const char *prefix, const BackupFileList *update) {
        size_t first, end;

        assert(l);
        assert(prefix);
        assert(update);

        for (size_t i = 0; i < update->n; i++)
                if (!startswith(backup_manifest_list_path(update, i), prefix))
                        return -EINVAL;
        backup_manifest_list_range(l, prefix, &first, &end);
        /* the dropped entries' paths stay in the arena, unreferenced, until the list is freed */
        memmove(l->entries + first, l->entries + end, (l->n - end) * sizeof(BackupFileEntry));
        l->n -= end - first;
        return backup_manifest_list_merge(l, update);
}

/* ---- the list as a file: sha256sum(1)'s format ---- */

static bool path_needs_escape(const char *path) {
        return path[strcspn(path, "\n\r\\")] != 0;
}

/* fputs() and the digest at once */
static int emit(FILE *f, HashSha256 *h, const char *s, size_t len) {
        if (len > 0 && fwrite(s, 1, len, f) != len)
                return -EIO;
        hash_sha256_update(h, s, len);
        return 0;
}

int backup_manifest_list_write(const BackupFileList *l, FILE *f, char **ret_sha256) {
        _cleanup_(hash_sha256_freep) HashSha256 *h = NULL;
        char hex[2 * BACKUP_MANIFEST_SHA256_SIZE + 1];
        int r;

        assert(l);
        assert(l->sorted);
        assert(f);

        r = hash_sha256_begin(&h);
        if (r < 0)
                return r;
        for (size_t i = 0; i < l->n; i++) {
                const char *path = backup_manifest_list_path(l, i);
                bool escape = path_needs_escape(path);

                backup_manifest_value_hex(l->entries[i].value, hex);
                if ((escape && emit(f, h, "\\", 1) < 0) || emit(f, h, hex, strlen(hex)) < 0 ||
                    emit(f, h, "  ", 2) < 0)
                        return -EIO;
                if (!escape)
                        r = emit(f, h, path, strlen(path));
                else
                        for (const char *p = path; *p && r >= 0; p++)
                                r = *p == '\n'   ? emit(f, h, "\\n", 2)
                                    : *p == '\r' ? emit(f, h, "\\r", 2)
                                    : *p == '\\' ? emit(f, h, "\\\\", 2)
                                                 : emit(f, h, p, 1);
                if (r < 0 || emit(f, h, "\n", 1) < 0)
                        return -EIO;
        }
        if (fflush(f) != 0 || ferror(f))
                return errno > 0 ? -errno : -EIO;
        if (ret_sha256)
                return hash_sha256_end(h, ret_sha256);
        return 0;
}

/* relative to the backup and inside it: no leading '/', no empty, "." or ".." component */
static bool path_is_safe_relative(const char *path) {
        if (!*path || *path == '/')
                return false;
        for (const char *p = path;;) {
                size_t l = strcspn(p, "/");

                if (l == 0 || (l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                p += l;
                if (!*p)
                        return true;
                p++;
        }
}

static int read_error(char **ret_error, const char *name, size_t line, const char *why) {
        if (ret_error && asprintf(ret_error, "%s:%zu: %s", name, line, why) < 0) {
                *ret_error = NULL;
                return -ENOMEM;
        }
        return -EBADMSG;
}

/* one line (without its newline) into path (unescaped, in place) and value; NULL when it is good, else
 * why it is not */
static const char *parse_line(
        char *s, size_t len, char **ret_path, uint8_t value[BACKUP_MANIFEST_SHA256_SIZE]) {
        bool escaped = false;
        char *path, *out;

        if (len > 0 && s[0] == '\\') {
                escaped = true;
                s++;
                len--;
        }
        if (len < 2 * BACKUP_MANIFEST_SHA256_SIZE + 3)
                return "not \"<sha256 hex>  <path>\"";
        if (value_from_hex(s, 2 * BACKUP_MANIFEST_SHA256_SIZE, value) < 0)
                return "not a SHA-256 in lowercase hex";
        s += 2 * BACKUP_MANIFEST_SHA256_SIZE;
        len -= 2 * BACKUP_MANIFEST_SHA256_SIZE;
        if (s[0] != ' ' || s[1] != ' ')
                return "not two spaces after the checksum";
        path = s + 2;
        len -= 2;
        if (memchr(path, 0, len))
                return "a NUL byte in the path";
        out = path;
        for (size_t i = 0; i < len; i++) {
                char c = path[i];

                if (c == '\\') {
                        if (!escaped || i + 1 >= len)
                                return "a backslash sha256sum would have escaped";
                        c = path[++i];
                        if (c == 'n')
                                c = '\n';
                        else if (c == 'r')
                                c = '\r';
                        else if (c != '\\')
                                return "an escape other than \\n, \\r or \\\\";
                } else if (c == '\r')
                        return "a carriage return sha256sum would have escaped";
                *out++ = c;
        }
        *out = 0;
        if (escaped && !path_needs_escape(path))
                return "a leading backslash on a path that needs no escape";
        if (!path_is_safe_relative(path))
                return "a path that is not relative to the backup (absolute, empty, \".\" or \"..\")";
        *ret_path = path;
        return NULL;
}

int backup_manifest_list_read(
        FILE *f,
        const char *name,
        const char *prefix,
        bool under,
        BackupFileList **ret,
        size_t *ret_lines,
        char **ret_sha256,
        char **ret_error) {
        _cleanup_(hash_sha256_freep) HashSha256 *h = NULL;
        _cleanup_file_list_ BackupFileList *l = backup_manifest_list_new();
        _cleanup_free_ char *line = NULL, *previous = NULL, *sha = NULL;
        size_t allocated = 0, previous_allocated = 0, lines = 0;
        struct stat st;
        int r;

        assert(f);
        assert(name);
        assert(ret);

        if (!l)
                return -ENOMEM;
        r = hash_sha256_begin(&h);
        if (r < 0)
                return r;
        /* a file's size bounds what it holds: a line is at least 67 bytes and its path, with its NUL */
        if (!prefix && fstat(fileno(f), &st) >= 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
                r = list_reserve(l, (size_t)st.st_size / 68 + 1, (size_t)st.st_size);
                if (r < 0)
                        return r;
        }

        for (;;) {
                uint8_t value[BACKUP_MANIFEST_SHA256_SIZE];
                const char *why;
                char *path;
                ssize_t n;
                size_t len;

                errno = 0;
                n = getline(&line, &allocated, f);
                if (n < 0) {
                        if (ferror(f))
                                return errno > 0 ? -errno : -EIO;
                        break;
                }
                lines++;
                hash_sha256_update(h, line, (size_t)n);
                if (line[n - 1] != '\n')
                        return read_error(
                                ret_error,
                                name,
                                lines,
                                "the last line has no newline: the file is cut short");
                len = (size_t)n - 1;
                why = parse_line(line, len, &path, value);
                if (why)
                        return read_error(ret_error, name, lines, why);
                if (previous) {
                        int c = strcmp(previous, path);

                        if (c == 0)
                                return read_error(
                                        ret_error, name, lines, "the same path as the line before");
                        if (c > 0)
                                return read_error(
                                        ret_error,
                                        name,
                                        lines,
                                        "the path sorts before the line before's: the list is not sorted");
                }
                len = strlen(path) + 1;
                if (len > previous_allocated) {
                        char *p = realloc(previous, len);
                        if (!p)
                                return -ENOMEM;
                        previous = p;
                        previous_allocated = len;
                }
                memcpy(previous, path, len);

                if (prefix && (startswith(path, prefix) != NULL) != under)
                        continue;
                r = backup_manifest_list_add(l, path, value);
                if (r < 0)
                        return r;
        }

        r = hash_sha256_end(h, &sha);
        if (r < 0)
                return r;
        l->sorted = true;
        *ret = TAKE_PTR(l);
        if (ret_lines)
                *ret_lines = lines;
        if (ret_sha256)
                *ret_sha256 = TAKE_PTR(sha);
        return 0;
}

/* the list of an earlier release's manifest: "files": {"path": "hex"} */
static int list_from_json(
        const cJSON *files, const char *prefix, bool under, BackupFileList **ret, char **ret_error) {
        _cleanup_file_list_ BackupFileList *l = backup_manifest_list_new();
        _cleanup_free_ char *duplicate = NULL;
        const cJSON *m;
        int r;

        if (!l)
                return -ENOMEM;
        cJSON_ArrayForEach (m, files) {
                uint8_t value[BACKUP_MANIFEST_SHA256_SIZE];

                if (!m->string || !cJSON_IsString(m) ||
                    value_from_hex(m->valuestring, strlen(m->valuestring), value) < 0 ||
                    !path_is_safe_relative(m->string)) {
                        if (ret_error && asprintf(
                                                 ret_error,
                                                 "%s: \"files\" holds a bad entry %s",
                                                 BACKUP_MANIFEST_FILE,
                                                 strempty(m->string)) < 0)
                                *ret_error = NULL;
                        return -EBADMSG;
                }
                if (prefix && (startswith(m->string, prefix) != NULL) != under)
                        continue;
                r = backup_manifest_list_add(l, m->string, value);
                if (r < 0)
                        return r;
        }
        r = backup_manifest_list_sort(l, &duplicate);
        if (r == -ENOTUNIQ) {
                if (ret_error &&
                    asprintf(ret_error, "%s: \"files\" names %s twice", BACKUP_MANIFEST_FILE, duplicate) < 0)
                        *ret_error = NULL;
                return -EBADMSG;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
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
        r = backup_manifest_list_read(f, path, prefix, under, &l, &lines, &sha, ret_error);
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
                return list_from_json(files, prefix, under, ret, ret_error);

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
        r = backup_manifest_list_write(l, f, &sha);
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
static void stat_value(const struct stat *st, uint8_t ret[BACKUP_MANIFEST_SHA256_SIZE]) {
        uint64_t size = (uint64_t)st->st_size,
                 mtime = (uint64_t)st->st_mtim.tv_sec * UINT64_C(1000000000) + (uint64_t)st->st_mtim.tv_nsec;

        memset(ret, 0, BACKUP_MANIFEST_SHA256_SIZE);
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
        uint8_t ret[BACKUP_MANIFEST_SHA256_SIZE]) {
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
                        uint8_t v[BACKUP_MANIFEST_SHA256_SIZE];

                        stat_value(st, v);
                        r = backup_manifest_list_add(w->reuse->stats, key, v);
                        if (r < 0)
                                return r;
                }
                known = w->reuse->known ? backup_manifest_list_find(w->reuse->known, key) : NULL;
                if (known && changed_before(st, &w->reuse->since)) {
                        memcpy(ret, known, BACKUP_MANIFEST_SHA256_SIZE);
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
        return value_from_hex(hex, strlen(hex), ret) < 0 ? -EIO : 0;
}

/* the file key with value, into the list or checked against expected */
static int walk_record(Walk *w, const char *key, const uint8_t value[BACKUP_MANIFEST_SHA256_SIZE]) {
        bool found;
        size_t i;

        if (w->files)
                return backup_manifest_list_add(w->files, key, value);

        i = list_search(w->expected, key, &found);
        if (!found || i < w->expected_first || i >= w->expected_end ||
            memcmp(w->expected->entries[i].value, value, BACKUP_MANIFEST_SHA256_SIZE) != 0) {
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
                        uint8_t value[BACKUP_MANIFEST_SHA256_SIZE];

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

        _cleanup_file_list_ BackupFileList *files = backup_manifest_list_new();
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
        r = backup_manifest_list_sort(files, NULL);
        if (r >= 0 && reuse && reuse->stats)
                r = backup_manifest_list_sort(reuse->stats, NULL);
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

        backup_manifest_list_range(expected, key_prefix, &w.expected_first, &w.expected_end);
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
                r = backup_manifest_list_sort(reuse->stats, NULL);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < w.expected_end - w.expected_first; i++)
                if (!(seen[i / 8] & (1u << (i % 8)))) /* missing */
                        return set_path(ret_path, backup_manifest_list_path(expected, w.expected_first + i));

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
