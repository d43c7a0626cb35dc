/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* manifest-memory.c: what the backup's checksums cost a helper: a tree of N small files (default
 * 20,000) in a temporary directory, walked and hashed, the list written as files.sha256 beside a
 * manifest, read back, and the tree walked again and compared with it as the rollback's check does;
 * peak RSS (ru_maxrss, this process only) and the time of each step. Build without -Db_sanitize for
 * the figure that counts: the sanitizers' shadow memory is most of a sanitized build's RSS. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup-manifest.h"
#include "json-util.h"
#include "macro.h"
#include "state.h"

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_kib(void) {
        struct rusage ru;

        return getrusage(RUSAGE_SELF, &ru) < 0 ? -1 : ru.ru_maxrss;
}

static void step(const char *what, double *t) {
        double n = now_s();

        printf("%-42s %7.3f s   peak RSS %6.1f MB\n", what, n - *t, (double)peak_kib() / 1024.0);
        fflush(stdout);
        *t = n;
}

/* stores/var/lib/codebolt/kg/dNN/dNN/file-NNNNNN.json, as the full world's stores are laid out */
static int make_tree(const char *root, unsigned n) {
        for (unsigned i = 0; i < n; i++) {
                _cleanup_free_ char *dir = NULL, *path = NULL;
                char content[64];
                int fd, len;

                if (asprintf(
                            &dir, "%s/stores/var/lib/codebolt/kg/d%02u/d%02u", root, i % 50, (i / 50) % 20) <
                    0)
                        return -ENOMEM;
                if (i < 1000) /* the 1,000 directories, each made once */
                        for (char *p = strchr(dir + strlen(root) + 1, '/'); p; p = strchr(p + 1, '/')) {
                                *p = 0;
                                if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                                        return -errno;
                                *p = '/';
                        }
                if (i < 1000 && mkdir(dir, 0755) < 0 && errno != EEXIST)
                        return -errno;
                if (asprintf(&path, "%s/file-%06u.json", dir, i) < 0)
                        return -ENOMEM;
                fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd < 0)
                        return -errno;
                len = snprintf(content, sizeof(content), "{\"n\": %u}\n", i);
                if (write(fd, content, (size_t)len) != len) {
                        close(fd);
                        return -EIO;
                }
                close(fd);
        }
        return 0;
}

int main(int argc, char *argv[]) {
        unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 20000;
        char root[] = "/tmp/bench-manifest-memory.XXXXXX";
        _cleanup_file_list_ BackupFileList *files = NULL, *back = NULL;
        _cleanup_json_ cJSON *symlinks = NULL, *manifest = NULL, *read_manifest = NULL;
        _cleanup_free_ char *manifest_path = NULL, *error = NULL, *bad = NULL;
        BackupTreeStats stats = {};
        double t, start;
        int r;

        if (!mkdtemp(root))
                return 1;
        printf("manifest-memory: %u files in %s; at start peak RSS %.1f MB\n",
               n,
               root,
               (double)peak_kib() / 1024.0);
        r = make_tree(root, n);
        if (r < 0) {
                fprintf(stderr, "Failed to make the tree: %s\n", strerror(-r));
                return 1;
        }
        start = t = now_s();

        r = backup_manifest_hash_tree(root, NULL, BACKUP_HASH_SKIP_MANIFEST, &files, &symlinks, &stats);
        if (r < 0)
                return fprintf(stderr, "walk: %s\n", strerror(-r)), 1;
        step("walk and hash (backup_manifest_hash_tree)", &t);

        manifest = cJSON_CreateObject();
        if (!manifest || asprintf(&manifest_path, "%s/" BACKUP_MANIFEST_FILE, root) < 0)
                return 1;
        r = backup_manifest_write_list(root, files, manifest);
        if (r >= 0)
                r = state_write_json_atomic(manifest_path, manifest, 0600);
        if (r >= 0)
                r = backup_manifest_commit_list(root);
        if (r < 0)
                return fprintf(stderr, "write: %s\n", strerror(-r)), 1;
        step("write files.sha256 and manifest.json", &t);
        files = backup_list_free(files);

        r = state_read_json(manifest_path, &read_manifest);
        if (r >= 0)
                r = backup_manifest_load_list(root, read_manifest, NULL, false, &back, &error);
        if (r < 0)
                return fprintf(stderr, "read: %s %s\n", strerror(-r), strempty(error)), 1;
        step("read the manifest and the list back", &t);

        r = backup_manifest_check_tree(root, NULL, BACKUP_HASH_SKIP_MANIFEST, NULL, back, NULL, NULL, &bad);
        if (r < 0)
                return fprintf(stderr, "compare: %s %s\n", strerror(-r), strempty(bad)), 1;
        step("walk again, compared as it goes", &t);

        printf("manifest-memory: %" PRIu64 " files, %zu lines; total %.3f s, peak RSS %.1f MB (ru_maxrss)\n",
               stats.files,
               back->n,
               now_s() - start,
               (double)peak_kib() / 1024.0);
        (void)backup_manifest_remove_tree(root);
        return 0;
}
