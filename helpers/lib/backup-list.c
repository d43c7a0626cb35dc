/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* backup-list.c: a backup's per-file checksums, in memory and as files.sha256 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backup-list.h"
#include "hash.h"
#include "macro.h"
#include "strv.h"

BackupFileList *backup_list_new(void) {
        BackupFileList *l = calloc(1, sizeof(BackupFileList));

        if (l)
                l->sorted = true;
        return l;
}

BackupFileList *backup_list_free(BackupFileList *l) {
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

int backup_list_add(BackupFileList *l, const char *path, const uint8_t value[BACKUP_LIST_VALUE_SIZE]) {
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
        if (l->n > 0 && strcmp(backup_list_path(l, l->n - 1), path) >= 0)
                l->sorted = false;
        memcpy(l->arena + l->arena_used, path, size);
        l->entries[l->n].path = (uint32_t)l->arena_used;
        memcpy(l->entries[l->n].value, value, BACKUP_LIST_VALUE_SIZE);
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

int backup_list_value_from_hex(const char *hex, size_t len, uint8_t ret[BACKUP_LIST_VALUE_SIZE]) {
        if (!hex || len != 2 * BACKUP_LIST_VALUE_SIZE)
                return -EINVAL;
        for (size_t i = 0; i < BACKUP_LIST_VALUE_SIZE; i++) {
                int hi = unhex_digit(hex[2 * i]), lo = unhex_digit(hex[2 * i + 1]);

                if (hi < 0 || lo < 0)
                        return -EINVAL;
                ret[i] = (uint8_t)(hi << 4 | lo);
        }
        return 0;
}

void backup_list_value_hex(
        const uint8_t value[BACKUP_LIST_VALUE_SIZE], char ret[2 * BACKUP_LIST_VALUE_SIZE + 1]) {
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < BACKUP_LIST_VALUE_SIZE; i++) {
                ret[2 * i] = digits[value[i] >> 4];
                ret[2 * i + 1] = digits[value[i] & 0xf];
        }
        ret[2 * BACKUP_LIST_VALUE_SIZE] = 0;
}

size_t backup_list_search(const BackupFileList *l, const char *path, bool *ret_found) {
        size_t lo = 0, hi = l->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(backup_list_path(l, mid), path);

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

const uint8_t *backup_list_find(const BackupFileList *l, const char *path) {
        bool found;
        size_t i;

        assert(l);
        assert(l->sorted);

        if (!path)
                return NULL;
        i = backup_list_search(l, path, &found);
        return found ? l->entries[i].value : NULL;
}

int backup_list_set_hex(BackupFileList *l, const char *path, const char *hex) {
        uint8_t value[BACKUP_LIST_VALUE_SIZE];
        bool found;
        size_t i;
        int r;

        assert(l);
        assert(l->sorted);
        assert(path);

        r = backup_list_value_from_hex(hex, hex ? strlen(hex) : 0, value);
        if (r < 0)
                return r;
        i = backup_list_search(l, path, &found);
        if (found) {
                memcpy(l->entries[i].value, value, sizeof(value));
                return 0;
        }
        r = backup_list_add(l, path, value);
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

int backup_list_sort(BackupFileList *l, char **ret_duplicate) {
        assert(l);

        if (!l->sorted) {
                sort_arena = l->arena;
                qsort(l->entries, l->n, sizeof(BackupFileEntry), entry_cmp);
                sort_arena = NULL;
        }
        for (size_t i = 1; i < l->n; i++)
                if (streq(backup_list_path(l, i - 1), backup_list_path(l, i))) {
                        l->sorted = true;
                        if (ret_duplicate) {
                                *ret_duplicate = strdup(backup_list_path(l, i));
                                if (!*ret_duplicate)
                                        return -ENOMEM;
                        }
                        return -ENOTUNIQ;
                }
        l->sorted = true;
        return 0;
}

void backup_list_range(const BackupFileList *l, const char *prefix, size_t *ret_first, size_t *ret_end) {
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
        first = backup_list_search(l, prefix, &found);
        for (end = first; end < l->n && startswith(backup_list_path(l, end), prefix); end++)
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

int backup_list_compare(const BackupFileList *expected, const BackupFileList *actual, char **ret_path) {
        size_t i = 0, j = 0;

        if (!expected || !actual)
                return -EINVAL;
        assert(expected->sorted && actual->sorted);

        while (i < expected->n || j < actual->n) {
                int c = i >= expected->n ? 1
                        : j >= actual->n
                                ? -1
                                : strcmp(backup_list_path(expected, i), backup_list_path(actual, j));

                if (c < 0) /* missing */
                        return set_path(ret_path, backup_list_path(expected, i));
                if (c > 0) /* extra */
                        return set_path(ret_path, backup_list_path(actual, j));
                if (memcmp(expected->entries[i].value, actual->entries[j].value, BACKUP_LIST_VALUE_SIZE) !=
                    0)
                        return set_path(ret_path, backup_list_path(expected, i));
                i++;
                j++;
        }
        return 0;
}

int backup_list_merge(BackupFileList *into, const BackupFileList *from) {
        assert(into);
        assert(from);

        for (size_t i = 0; i < from->n; i++) {
                int r = backup_list_add(into, backup_list_path(from, i), from->entries[i].value);
                if (r < 0)
                        return r;
        }
        return backup_list_sort(into, NULL);
}

int backup_list_replace_prefix(BackupFileList *l, const char *prefix, const BackupFileList *update) {
        size_t first, end;

        assert(l);
        assert(prefix);
        assert(update);

        for (size_t i = 0; i < update->n; i++)
                if (!startswith(backup_list_path(update, i), prefix))
                        return -EINVAL;
        backup_list_range(l, prefix, &first, &end);
        /* the dropped entries' paths stay in the arena, unreferenced, until the list is freed */
        memmove(l->entries + first, l->entries + end, (l->n - end) * sizeof(BackupFileEntry));
        l->n -= end - first;
        return backup_list_merge(l, update);
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

int backup_list_write(const BackupFileList *l, FILE *f, char **ret_sha256) {
        _cleanup_(hash_sha256_freep) HashSha256 *h = NULL;
        char hex[2 * BACKUP_LIST_VALUE_SIZE + 1];
        int r;

        assert(l);
        assert(l->sorted);
        assert(f);

        r = hash_sha256_begin(&h);
        if (r < 0)
                return r;
        for (size_t i = 0; i < l->n; i++) {
                const char *path = backup_list_path(l, i);
                bool escape = path_needs_escape(path);

                backup_list_value_hex(l->entries[i].value, hex);
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
static const char *parse_line(char *s, size_t len, char **ret_path, uint8_t value[BACKUP_LIST_VALUE_SIZE]) {
        bool escaped = false;
        char *path, *out;

        if (len > 0 && s[0] == '\\') {
                escaped = true;
                s++;
                len--;
        }
        if (len < 2 * BACKUP_LIST_VALUE_SIZE + 3)
                return "not \"<sha256 hex>  <path>\"";
        if (backup_list_value_from_hex(s, 2 * BACKUP_LIST_VALUE_SIZE, value) < 0)
                return "not a SHA-256 in lowercase hex";
        s += 2 * BACKUP_LIST_VALUE_SIZE;
        len -= 2 * BACKUP_LIST_VALUE_SIZE;
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

int backup_list_read(
        FILE *f,
        const char *name,
        const char *prefix,
        bool under,
        BackupFileList **ret,
        size_t *ret_lines,
        char **ret_sha256,
        char **ret_error) {
        _cleanup_(hash_sha256_freep) HashSha256 *h = NULL;
        _cleanup_file_list_ BackupFileList *l = backup_list_new();
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
                uint8_t value[BACKUP_LIST_VALUE_SIZE];
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
                r = backup_list_add(l, path, value);
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

int backup_list_from_json(
        const cJSON *files,
        const char *name,
        const char *prefix,
        bool under,
        BackupFileList **ret,
        char **ret_error) {
        _cleanup_file_list_ BackupFileList *l = backup_list_new();
        _cleanup_free_ char *duplicate = NULL;
        const cJSON *m;
        int r;

        if (!l)
                return -ENOMEM;
        cJSON_ArrayForEach (m, files) {
                uint8_t value[BACKUP_LIST_VALUE_SIZE];

                if (!m->string || !cJSON_IsString(m) ||
                    backup_list_value_from_hex(m->valuestring, strlen(m->valuestring), value) < 0 ||
                    !path_is_safe_relative(m->string)) {
                        if (ret_error && asprintf(
                                                 ret_error,
                                                 "%s: \"files\" holds a bad entry %s",
                                                 name,
                                                 strempty(m->string)) < 0)
                                *ret_error = NULL;
                        return -EBADMSG;
                }
                if (prefix && (startswith(m->string, prefix) != NULL) != under)
                        continue;
                r = backup_list_add(l, m->string, value);
                if (r < 0)
                        return r;
        }
        r = backup_list_sort(l, &duplicate);
        if (r == -ENOTUNIQ) {
                if (ret_error && asprintf(ret_error, "%s: \"files\" names %s twice", name, duplicate) < 0)
                        *ret_error = NULL;
                return -EBADMSG;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}
