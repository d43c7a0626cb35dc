/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* paths.c: every file path, taken under $CODEBOLT_UPGRADE_ROOT */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "paths.h"

const char *paths_root(void) {
        static char *cached = NULL;
        const char *e;

        if (cached)
                return cached;

        e = getenv("CODEBOLT_UPGRADE_ROOT");
        if (!e || !*e || streq(e, "/"))
                return "";

        cached = strdup(e);
        if (!cached)
                return "";
        for (size_t l = strlen(cached); l > 1 && cached[l - 1] == '/'; l--)
                cached[l - 1] = 0;
        return cached;
}

char *paths_rooted(const char *path) {
        char *p;

        if (asprintf(&p, "%s%s", paths_root(), path) < 0)
                return NULL;
        return p;
}

/* root + the concatenation of up to three parts */
static char *rooted3(const char *a, const char *b, const char *c) {
        char *p;

        if (asprintf(&p, "%s%s%s%s", paths_root(), a, strempty(b), strempty(c)) < 0)
                return NULL;
        return p;
}

char *paths_state_dir(const char *deployment) {
        return rooted3("/var/lib/codebolt-upgrade/", deployment, NULL);
}

char *paths_state_file(const char *deployment, const char *name) {
        _cleanup_free_ char *dir = paths_state_dir(deployment);
        char *p;

        if (!dir || asprintf(&p, "%s/%s", dir, name) < 0)
                return NULL;
        return p;
}

int paths_state_file_mkdir(const char *deployment, const char *name, char **ret) {
        _cleanup_free_ char *dir = paths_state_dir(deployment);
        char *p;
        int r;

        if (!dir)
                return -ENOMEM;
        r = paths_mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        if (asprintf(&p, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        *ret = p;
        return 0;
}

char *paths_lock_file(const char *deployment) {
        return rooted3("/run/codebolt-upgrade/", deployment, ".lock");
}

char *paths_discard_flag(const char *deployment) {
        return rooted3("/run/codebolt-upgrade/", deployment, ".discard-since");
}

char *paths_rollback_reason_flag(const char *deployment) {
        return rooted3("/run/codebolt-upgrade/", deployment, ".rollback-reason");
}

char *paths_starting_file(const char *deployment) {
        return rooted3("/run/codebolt-upgrade/", deployment, ".starting");
}

/* the deployment's [Server] InstallRoot=, as written (not rooted); one per process */
static char *install_root = NULL;

int paths_set_install_root(const char *dir) {
        char *copy = NULL;

        if (dir && !streq(dir, PATHS_INSTALL_ROOT_DEFAULT)) {
                copy = strdup(dir);
                if (!copy)
                        return -ENOMEM;
        }
        free(install_root);
        install_root = copy;
        return 0;
}

const char *paths_install_root(void) {
        return install_root ?: PATHS_INSTALL_ROOT_DEFAULT;
}

char *paths_install_file(const char *path) {
        return rooted3(paths_install_root(), path, NULL);
}

char *paths_releases_dir(void) {
        return paths_install_file("/releases");
}

char *paths_release_dir(const char *version) {
        return rooted3(paths_install_root(), "/releases/", version);
}

char *paths_current_link(void) {
        return paths_install_file("/current");
}

char *paths_credential(const char *name) {
        return rooted3("/etc/codebolt-upgrade/credentials/", name, NULL);
}

char *paths_hook_dir(const char *stage) {
        return rooted3("/etc/codebolt-upgrade/hooks/", stage, ".d");
}

char *paths_vendor_hook_dir(const char *stage) {
        return rooted3("/usr/lib/codebolt-upgrade/hooks/", stage, ".d");
}

/* mkdir() with exactly mode, whatever the umask (the units run with UMask=0077, and some of these
 * directories must be entered by others): 0 made, -EEXIST there already, or -errno */
static int mkdir_mode(const char *p, unsigned mode) {
        _cleanup_close_ int fd = -EBADF;

        if (mkdir(p, mode) < 0)
                return -errno;
        fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fchmod(fd, mode) < 0)
                return -errno;
        return 0;
}

int paths_mkdir_p(const char *path, unsigned mode) {
        _cleanup_free_ char *p = strdup(path);
        int r;

        if (!p)
                return -ENOMEM;

        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                r = mkdir_mode(p, mode);
                if (r < 0 && r != -EEXIST)
                        return r;
                *s = '/';
        }
        r = mkdir_mode(p, mode);
        if (r < 0) {
                struct stat st;

                if (r != -EEXIST)
                        return r;
                /* like mkdir -p: something else already there is not the directory asked for */
                if (stat(p, &st) < 0)
                        return -errno;
                if (!S_ISDIR(st.st_mode))
                        return -ENOTDIR;
        }
        return 0;
}
