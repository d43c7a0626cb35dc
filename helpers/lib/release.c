/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* release.c: the install layout, /opt/codebolt/releases/<version> and /opt/codebolt/current */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "beneath.h"
#include "json-util.h"
#include "macro.h"
#include "paths.h"
#include "release.h"
#include "state.h"

int release_current_version(char **ret) {
        _cleanup_free_ char *link = paths_current_link(), *target = NULL;
        struct stat st;
        char *base, *v;
        ssize_t n;

        if (!link)
                return -ENOMEM;
        if (lstat(link, &st) < 0)
                return -errno;
        if (!S_ISLNK(st.st_mode))
                return -ENOLINK;

        target = malloc(st.st_size + 2);
        if (!target)
                return -ENOMEM;
        n = readlink(link, target, st.st_size + 1);
        if (n < 0)
                return -errno;
        target[n] = 0;
        while (n > 1 && target[n - 1] == '/')
                target[--n] = 0;

        base = strrchr(target, '/');
        v = strdup(base ? base + 1 : target);
        if (!v)
                return -ENOMEM;
        *ret = v;
        return 0;
}

static int fsync_parent(const char *path) {
        _cleanup_free_ char *dir = strdup(path);
        _cleanup_close_ int fd = -EBADF;
        char *slash;

        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (slash)
                *(slash == dir ? slash + 1 : slash) = 0;
        fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0)
                return -errno;
        return 0;
}

int release_switch(const char *version) {
        _cleanup_free_ char *link = paths_current_link(), *dir = paths_release_dir(version), *tmp = NULL,
                            *target = NULL;
        struct stat st;

        if (!link || !dir)
                return -ENOMEM;
        if (stat(dir, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;

        /* relative, so the layout survives being moved under another root */
        if (asprintf(&target, "releases/%s", version) < 0 || asprintf(&tmp, "%s.new", link) < 0)
                return -ENOMEM;
        (void)unlink(tmp);
        if (symlink(target, tmp) < 0)
                return -errno;
        if (rename(tmp, link) < 0) {
                int r = -errno;
                (void)unlink(tmp);
                return r;
        }
        return fsync_parent(link);
}

int release_package_json_at(int release_fd, const char *package, cJSON **ret) {
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "lib/node_modules/%s/package.json", package) < 0)
                return -ENOMEM;
        return beneath_read_json(release_fd, path, RELEASE_JSON_MAX, ret);
}

int release_package_json(const char *release_dir, const char *package, cJSON **ret) {
        /* the release directory itself is root's to name (releases/ is root's, current is root's
         * link); what is inside it is the server user's */
        _cleanup_close_ int fd = open(release_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        return release_package_json_at(fd, package, ret);
}
