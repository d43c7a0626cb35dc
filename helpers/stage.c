/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stage: install the version beside the running one, into /opt/codebolt/releases/<version>, as the
 * server's user */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <systemd/sd-id128.h>

#include "backup-manifest.h"
#include "beneath.h"
#include "helper.h"
#include "server.h"
#include "current.h"
#include "fd-util.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "paths.h"
#include "release.h"
#include "spawn.h"
#include "state.h"
#include "trust.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

#define NPM_TIMEOUT (15 * 60 * USEC_PER_SEC)
#define NPM_PATH "/usr/local/bin:/usr/bin:/bin"
#define NPMRC_MAX ((size_t)1024 * 1024)
#define SERVER_BIN "bin/codebolt-server"
/* npm's resolution of the tree, below the staging directory */
#define LOCK_FILE ".resolve/package-lock.json"
/* in the state directory: staged-<version>.json, what the stage of that release verified */
#define STAGED_RECORD "staged-"

/* "@scope/name" or "name": it becomes a path below lib/node_modules, so nothing that climbs out */
static bool package_name_ok(const char *p) {
        const char *slash = strchr(p, '/');

        if (!*p || *p == '.' || strstr(p, "..") || strchr(p, '\\'))
                return false;
        if (!slash)
                return *p != '@';
        return *p == '@' && slash > p + 1 && slash[1] && slash[1] != '.' && !strchr(slash + 1, '/');
}

/* for the checks below: *ret_why says what is wrong, in words for the one log line of the caller */
#define WHY(...) (asprintf(ret_why, __VA_ARGS__) < 0 ? -ENOMEM : -EBADMSG)

/* the release directory holds package@version and its server binary; *ret_why says what is wrong */
static int release_check(int dir_fd, const char *package, const char *version, char **ret_why) {
        _cleanup_json_ cJSON *pkg = NULL;
        _cleanup_close_ int bin = -EBADF;
        const char *v;
        struct stat st;
        int r;

        r = release_package_json_at(dir_fd, package, &pkg);
        if (r < 0)
                return WHY("lib/node_modules/%s/package.json cannot be read: %s", package, strerror(-r));
        v = json_get_string(pkg, "version");
        if (!streq_ptr(v, version))
                return WHY("lib/node_modules/%s/package.json says version %s", package, v ?: "(none)");

        /* bin/ holds symlinks into lib/node_modules: followed, as long as they stay in the release */
        bin = beneath_open(dir_fd, SERVER_BIN, O_PATH, 0, BENEATH_FOLLOW);
        if (bin < 0 || fstat(bin, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111))
                return WHY("%s is missing or not an executable file inside the release", SERVER_BIN);
        return 0;
}

/* the last package name in a lockfile key: "node_modules/a/node_modules/@s/b" → "@s/b" */
static const char *lock_key_name(const char *key) {
        const char *p = key, *n;

        while ((n = strstr(p, "node_modules/")))
                p = n + strlen("node_modules/");
        return p;
}

/* npm writes the tree as the server's user: how far root follows it */
#define WALK_MAX_DEPTH 64
#define WALK_MAX_PACKAGES 100000

typedef struct InstalledWalk {
        int lib_fd;
        cJSON *installed;
        size_t n;
} InstalledWalk;

/* Every package npm placed below lib/<rel> ("node_modules", "node_modules/a/node_modules", …):
 * {"node_modules/a": {"name", "version"}, …}, the keys a package-lock.json uses. Everything is
 * opened below lib/ by fd, never through a link (beneath.h): the tree is the server user's. */
static int installed_walk(InstalledWalk *w, const char *rel, unsigned depth) {
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int fd, r;

        if (depth > WALK_MAX_DEPTH)
                return -E2BIG;
        fd = beneath_open(w->lib_fd, rel, O_RDONLY | O_DIRECTORY, 0, 0);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return fd;
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                close(fd);
                return r;
        }

        while ((errno = 0, de = readdir(d))) {
                _cleanup_free_ char *key = NULL, *path = NULL, *nested = NULL;
                _cleanup_json_ cJSON *pkg = NULL;
                struct stat st;
                cJSON *entry;

                /* ".bin", ".package-lock.json", npm's temporary ".x-abc" */
                if (de->d_name[0] == '.')
                        continue;
                if (asprintf(&key, "%s/%s", rel, de->d_name) < 0) {
                        key = NULL;
                        return -ENOMEM;
                }
                /* links ("npm link") are not installed packages */
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                if (!S_ISDIR(st.st_mode))
                        continue;

                if (de->d_name[0] == '@') {
                        r = installed_walk(w, key, depth + 1);
                        if (r < 0)
                                return r;
                        continue;
                }

                if (++w->n > WALK_MAX_PACKAGES)
                        return -E2BIG;
                if (asprintf(&path, "%s/package.json", key) < 0) {
                        path = NULL;
                        return -ENOMEM;
                }
                r = beneath_read_json(w->lib_fd, path, RELEASE_JSON_MAX, &pkg);
                if (r < 0)
                        return r;
                entry = cJSON_CreateObject();
                if (!entry || !cJSON_AddItemToObject(w->installed, key, entry)) {
                        cJSON_Delete(entry);
                        return -ENOMEM;
                }
                if (!cJSON_AddStringToObject(
                            entry, "name", json_get_string(pkg, "name") ?: lock_key_name(key)) ||
                    !cJSON_AddStringToObject(entry, "version", json_get_string(pkg, "version") ?: ""))
                        return -ENOMEM;

                if (asprintf(&nested, "%s/node_modules", key) < 0) {
                        nested = NULL;
                        return -ENOMEM;
                }
                r = installed_walk(w, nested, depth + 1);
                if (r < 0)
                        return r;
        }
        return errno > 0 ? -errno : 0;
}

/* what npm placed in the release at release_fd, as installed_walk() gives it */
static int installed_packages(int release_fd, cJSON **ret) {
        _cleanup_close_ int lib = -EBADF;
        _cleanup_json_ cJSON *installed = cJSON_CreateObject();
        InstalledWalk w = {};
        int r;

        if (!installed)
                return -ENOMEM;
        lib = beneath_open(release_fd, "lib", O_RDONLY | O_DIRECTORY, 0, 0);
        if (lib < 0)
                return lib;
        w = (InstalledWalk){ .lib_fd = lib, .installed = installed };
        r = installed_walk(&w, "node_modules", 0);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(installed);
        return 0;
}

static int add_tree_entry(cJSON *tree, const char *name, const char *version, const char *integrity) {
        _cleanup_free_ char *key = NULL;
        cJSON *value;

        if (asprintf(&key, "%s@%s", name, version) < 0) {
                key = NULL;
                return -ENOMEM;
        }
        /* the same package@version placed twice is the same tarball */
        if (cJSON_HasObjectItem(tree, key))
                return 0;
        value = integrity ? cJSON_CreateString(integrity) : cJSON_CreateNull();
        if (!value || !cJSON_AddItemToObject(tree, key, value)) {
                cJSON_Delete(value);
                return -ENOMEM;
        }
        return 0;
}

/* npm writes no lockfile for a global install (arborist skips it), so the tree is resolved first into
 * <staging>/.resolve/package-lock.json, with the layout of a global install (shallow). Here every
 * package the install placed must be the one resolved at that place, every resolved package that is
 * not optional must be placed, and the result is {"name@version": "integrity" or null, …}. */
static int build_tree(
        int staging_fd, const char *package, const char *version, cJSON **ret, char **ret_why) {
        _cleanup_json_ cJSON *lock = NULL, *installed = NULL, *tree = NULL;
        _cleanup_free_ char *top = NULL;
        const cJSON *packages, *m, *self;
        int r;

        if (asprintf(&top, "node_modules/%s", package) < 0)
                return -ENOMEM;

        r = beneath_read_json(staging_fd, LOCK_FILE, RELEASE_JSON_MAX, &lock);
        if (r < 0)
                return WHY("%s cannot be read: %s", LOCK_FILE, strerror(-r));
        packages = cJSON_GetObjectItemCaseSensitive(lock, "packages");
        if (!cJSON_IsObject(packages))
                return WHY("%s has no \"packages\" (lockfile version 2 or later)", LOCK_FILE);
        self = cJSON_GetObjectItemCaseSensitive(packages, top);
        if (!streq_ptr(json_get_string(self, "version"), version) || !json_get_string(self, "integrity"))
                return WHY("npm resolved no %s@%s with an integrity", package, version);

        tree = cJSON_CreateObject();
        if (!tree)
                return -ENOMEM;
        r = installed_packages(staging_fd, &installed);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return WHY("the packages in lib/node_modules cannot be read: %s", strerror(-r));

        cJSON_ArrayForEach (m, installed) {
                const cJSON *resolved = cJSON_GetObjectItemCaseSensitive(packages, m->string);
                const char *v = json_get_string(m, "version");

                if (!resolved || !streq_ptr(json_get_string(resolved, "version"), v))
                        return WHY(
                                "npm installed %s@%s at lib/%s, which it had not resolved there",
                                json_get_string(m, "name"),
                                v,
                                m->string);
                r = add_tree_entry(
                        tree, json_get_string(m, "name"), v, json_get_string(resolved, "integrity"));
                if (r < 0)
                        return r;
        }
        cJSON_ArrayForEach (m, packages) {
                if (!m->string || !startswith(m->string, "node_modules/") ||
                    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "link")))
                        continue;
                /* an optional dependency may not fit this platform; dev ones are never installed */
                if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "optional")) ||
                    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "dev")) ||
                    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "devOptional")))
                        continue;
                if (!cJSON_HasObjectItem(installed, m->string))
                        return WHY(
                                "npm resolved %s@%s at lib/%s but did not install it",
                                lock_key_name(m->string),
                                strempty(json_get_string(m, "version")),
                                m->string);
        }

        *ret = TAKE_PTR(tree);
        return 0;
}

/* Which directory a record of a stage is about: a random id in an extended attribute of the trusted
 * namespace, which only root (CAP_SYS_ADMIN) may set, read or remove. The server's user can neither
 * put it on a directory of its own nor carry it over in a copy, and it stays across a reboot, where a
 * directory's inode number may not (overlayfs). On a file system without such attributes, the
 * directory's device and inode numbers stand in. */
#define STAGE_MARK_XATTR "trusted.codebolt-upgrade.stage"

static int inode_mark(int fd, char **ret) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (asprintf(ret, "inode %llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino) <
            0)
                return -ENOMEM;
        return 0;
}

static int stage_mark_set(int fd, char **ret) {
        char s[SD_ID128_STRING_MAX];
        sd_id128_t id;
        int r;

        r = sd_id128_randomize(&id);
        if (r < 0)
                return r;
        sd_id128_to_string(id, s);
        if (fsetxattr(fd, STAGE_MARK_XATTR, s, strlen(s), 0) < 0)
                return errno == EOPNOTSUPP ? inode_mark(fd, ret) : -errno;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

/* -ENODATA when the directory carries no mark */
static int stage_mark_get(int fd, char **ret) {
        char s[SD_ID128_STRING_MAX] = {};
        ssize_t n;

        n = fgetxattr(fd, STAGE_MARK_XATTR, s, sizeof(s) - 1);
        if (n < 0)
                return errno == EOPNOTSUPP ? inode_mark(fd, ret) : errno == ERANGE ? -ENODATA : -errno;
        *ret = strndup(s, (size_t)n);
        return *ret ? 0 : -ENOMEM;
}

/* What a stage verified, kept in root's state directory, not in the release (the server user's): the
 * release's directory and its tree. Only a release with such a record counts as staged earlier. */
static char *record_path(const Helper *h) {
        _cleanup_free_ char *name = NULL;

        if (asprintf(&name, STAGED_RECORD "%s.json", h->version) < 0)
                return NULL;
        return paths_state_file(h->config.deployment, name);
}

static int record_write(const Helper *h, int release_fd, const cJSON *tree) {
        _cleanup_free_ char *path = record_path(h), *mark = NULL;
        _cleanup_json_ cJSON *j = cJSON_CreateObject();
        cJSON *t = cJSON_Duplicate(tree, true);
        int r;

        if (!path || !j || !t || !cJSON_AddItemToObject(j, "tree", t)) {
                cJSON_Delete(t);
                return -ENOMEM;
        }
        r = stage_mark_set(release_fd, &mark);
        if (r < 0)
                return r;
        if (!cJSON_AddStringToObject(j, "package", h->config.package) ||
            !cJSON_AddStringToObject(j, "version", h->version) || !cJSON_AddStringToObject(j, "mark", mark))
                return -ENOMEM;
        return state_write_json_atomic(path, j, 0600);
}

/* An existing release counts as staged earlier only when this host's record says a stage verified
 * this very directory, and it still holds what that stage verified: the package at the version, its
 * server binary, and exactly the packages of the recorded tree. Anything else, say why. */
static int staged_earlier(const Helper *h, int release_fd, cJSON **ret_tree, char **ret_why) {
        _cleanup_free_ char *path = record_path(h), *mark = NULL;
        _cleanup_json_ cJSON *record = NULL, *installed = NULL, *tree = NULL, *present = NULL;
        const cJSON *m;
        int r;

        if (!path)
                return -ENOMEM;
        r = state_read_json(path, &record);
        if (r == -ENOENT)
                return WHY("codebolt-upgrade did not stage it (there is no %s)", path);
        if (r < 0)
                return WHY("the record of its stage, %s, cannot be read: %s", path, strerror(-r));
        r = stage_mark_get(release_fd, &mark);
        if (r < 0 && r != -ENODATA)
                return WHY("its mark cannot be read: %s", strerror(-r));
        if (r == -ENODATA || !streq_ptr(json_get_string(record, "mark"), mark) ||
            !streq_ptr(json_get_string(record, "package"), h->config.package))
                return WHY(
                        "it is not the directory that codebolt-upgrade staged (%s records another)", path);
        tree = cJSON_DetachItemFromObjectCaseSensitive(record, "tree");
        if (!cJSON_IsObject(tree))
                return WHY("%s has no tree", path);

        r = release_check(release_fd, h->config.package, h->version, ret_why);
        if (r < 0)
                return r;
        r = installed_packages(release_fd, &installed);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return WHY("the packages in lib/node_modules cannot be read: %s", strerror(-r));
        /* the same "name@version" keys as the recorded tree, compared both ways */
        present = cJSON_CreateObject();
        if (!present)
                return -ENOMEM;
        cJSON_ArrayForEach (m, installed) {
                const char *name = json_get_string(m, "name"), *v = json_get_string(m, "version");
                _cleanup_free_ char *key = NULL;

                if (asprintf(&key, "%s@%s", name, v) < 0) {
                        key = NULL;
                        return -ENOMEM;
                }
                if (!cJSON_HasObjectItem(tree, key))
                        return WHY("lib/%s holds %s, which its stage did not install", m->string, key);
                r = add_tree_entry(present, name, v, NULL);
                if (r < 0)
                        return r;
        }
        cJSON_ArrayForEach (m, tree)
                if (!cJSON_HasObjectItem(present, m->string))
                        return WHY("%s, which its stage installed, is no longer there", m->string);
        *ret_tree = TAKE_PTR(tree);
        return 0;
}

typedef struct Staged {
        const char *release;
        const cJSON *tree;
        bool existed;
} Staged;

static int update_staged(Current *current, void *userdata) {
        const Staged *s = userdata;
        char *release = strdup(s->release);
        cJSON *tree = cJSON_Duplicate(s->tree, true);

        if (!release || !tree) {
                free(release);
                cJSON_Delete(tree);
                return -ENOMEM;
        }
        free(current->staged_release);
        current->staged_release = release;
        /* an earlier attempt's release is not this attempt's to remove on an abort */
        current->staged_release_existed = s->existed;
        current->present |= CURRENT_KEY_BIT(CURRENT_STAGED_RELEASE_EXISTED);
        cJSON_Delete(current->tree);
        current->tree = tree;
        return 0;
}

typedef enum NpmMode {
        NPM_RESOLVE, /* the lockfile only, into <staging>/.resolve */
        NPM_INSTALL, /* the global install into <staging> */
} NpmMode;
/* npm as the user, with only the environment npm needs, within the stage's deadline */
static int npm_run(
        Helper *h,
        NpmMode mode,
        const char *user,
        const char *staging,
        const char *userconfig,
        usec_t deadline) {
        _cleanup_free_ char *home = NULL, *cache = NULL, *spec = NULL, *env_home = NULL, *env_cache = NULL,
                            *env_user = NULL, *env_logname = NULL, *resolve = NULL;
        const char *argv[20], *what = mode == NPM_RESOLVE ? "resolving" : "install of";
        usec_t now = helper_deadline(0);
        size_t n = 0;
        int status = 0, r;

        if (asprintf(&home, "%s/.home", staging) < 0 || asprintf(&cache, "%s/.npm-cache", staging) < 0 ||
            asprintf(&resolve, "%s/.resolve", staging) < 0 ||
            asprintf(&spec, "%s@%s", h->config.package, h->version) < 0 ||
            asprintf(&env_home, "HOME=%s", home) < 0 ||
            asprintf(&env_cache, "npm_config_cache=%s", cache) < 0 ||
            asprintf(&env_user, "USER=%s", user) < 0 || asprintf(&env_logname, "LOGNAME=%s", user) < 0)
                return log_oom();
        if (now >= deadline)
                return log_error_errno(
                        ETIME, "npm %s %s as %s did not finish within 15 min.", what, spec, user);

        char *env[] = {
                (char *)"PATH=" NPM_PATH,
                env_home,
                env_cache,
                env_user,
                env_logname,
                (char *)"LANG=C.UTF-8",
                /* no network calls beyond the install itself */
                (char *)"npm_config_update_notifier=false",
                NULL,
        };

        argv[n++] = "npm";
        argv[n++] = "install";
        if (mode == NPM_RESOLVE) {
                /* a global install's layout; a global install itself cannot write a lockfile */
                argv[n++] = "--package-lock-only";
                argv[n++] = "--install-strategy=shallow";
                argv[n++] = "--prefix";
                argv[n++] = resolve;
        } else {
                argv[n++] = "-g";
                argv[n++] = "--prefix";
                argv[n++] = staging;
        }
        argv[n++] = "--no-audit";
        argv[n++] = "--no-fund";
        argv[n++] = "--loglevel=warn";
        if (h->config.registry) {
                argv[n++] = "--registry";
                argv[n++] = h->config.registry;
        }
        if (userconfig) {
                argv[n++] = "--userconfig";
                argv[n++] = userconfig;
        }
        argv[n++] = spec;
        argv[n] = NULL;

        SpawnOptions o = {
                .env = env,
                .cwd = staging,
                .run_as = user,
                .timeout = deadline - now,
                .log_identifier = "npm",
        };
        /* npm's usual modes for the release (0755/0644), not the unit's UMask=0077: root's helpers that
         * hold no capability over the server's files (the check after a recovery) read package.json */
        mode_t old_umask = umask(0022);
        r = spawn_run((char *const *)argv, &o, &status);
        umask(old_umask);
        if (r == -ETIME)
                return log_error_errno(r, "npm %s %s as %s did not finish within 15 min.", what, spec, user);
        if (r == -ECANCELED)
                return log_error_errno(r, "npm %s %s was stopped by a signal.", what, spec);
        if (r < 0)
                return log_error_errno(r, "Failed to run npm as %s: %m", user);
        if (status != 0)
                return log_error_errno(
                        EPROTO,
                        "npm %s %s as %s failed with exit status %d (npm's messages are above).",
                        what,
                        spec,
                        user,
                        status);
        return 0;
}

/* NpmConfig= is root's file (registry tokens): npm runs as the user, so it gets a copy in its own
 * HOME, which goes away with the install. Package install scripts could read it, as they could read
 * a userconfig the user may read: that is npm's model, not a new exposure. The copy is made in the
 * HOME directory this stage made, by fd: the user cannot redirect it (beneath.h). */
static int copy_npmrc(const char *src, int home_fd, const char *home, uid_t uid, gid_t gid) {
        _cleanup_free_ char *rooted = paths_rooted(src), *data = NULL, *why = NULL;
        size_t size;
        int r;

        if (!rooted)
                return log_oom();
        /* it holds registry tokens and steers what npm installs: root's alone, like a hook */
        r = trust_read_root_file(rooted, 0, NPMRC_MAX, &data, &size, &why);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(
                        r,
                        "Cannot use the npm config %s ([Server] NpmConfig=): %s",
                        rooted,
                        why ?: strerror(-r));
        r = beneath_write_owned(home_fd, ".npmrc", data, size, 0600, uid, gid);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s/.npmrc: %m", home);
        return 0;
}

static int record(Helper *h, const char *release, const cJSON *tree, bool existed) {
        Staged s = { .release = release, .tree = tree, .existed = existed };

        return helper_update_current(h, update_staged, &s);
}

/* what open_releases() opened must be root's and writable by no one else */
static int check_roots(int fd, const char *path, const char *what, const char *user) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return log_error_errno(errno, "Failed to look at %s: %m", path);
        if (!beneath_dir_is_roots(&st))
                return log_error_errno(
                        EPERM,
                        "%s%s is owned by uid %u with mode %04o: it must be root's and writable by no one "
                        "else, or %s could put a release or a link where root installs one. Refusing to "
                        "stage. Fix it with: chown root:root %s && chmod go-w %s",
                        path,
                        what,
                        (unsigned)st.st_uid,
                        (unsigned)(st.st_mode & 07777),
                        user,
                        path,
                        path);
        return 0;
}

/* InstallRoot= and its releases/ must be root's and writable by no one else: otherwise the server's
 * user could put a release, or a link, where root installs one. Returns an fd of releases/. */
static int open_releases(const char *user, int *ret_fd) {
        _cleanup_free_ char *root = paths_rooted(paths_install_root()), *releases = paths_releases_dir();
        _cleanup_close_ int root_fd = -EBADF, releases_fd = -EBADF;
        int r;

        if (!root || !releases)
                return log_oom();
        r = paths_mkdir_p(releases, 0755);
        if (r < 0)
                return log_error_errno(r, "Failed to create %s: %m", releases);

        root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0)
                return log_error_errno(errno, "Failed to open %s ([Server] InstallRoot=): %m", root);
        r = check_roots(root_fd, root, " ([Server] InstallRoot=)", user);
        if (r < 0)
                return r;
        releases_fd = openat(root_fd, "releases", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (releases_fd < 0)
                return log_error_errno(errno, "Failed to open %s (not a directory?): %m", releases);
        r = check_roots(releases_fd, releases, "", user);
        if (r < 0)
                return r;

        *ret_fd = TAKE_FD(releases_fd);
        return 0;
}

/* releases/.<version>.staging, removed on every way out but the rename into place */
typedef struct Staging {
        int releases_fd;
        char *name;
} Staging;

static void staging_remove(Staging *s) {
        int r;

        if (!s->name)
                return;
        r = backup_manifest_remove_tree_at(s->releases_fd, s->name);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Failed to remove releases/%s: %m", s->name);
        free(s->name);
        s->name = NULL;
}

static int run(Helper *h) {
        static const char *const npm_work[] = { ".home", ".npm-cache", ".resolve" };
        _cleanup_free_ char *user = NULL, *releases = NULL, *final = NULL, *staging = NULL, *home = NULL,
                            *npmrc = NULL, *why = NULL, *user_error = NULL;
        _cleanup_close_ int releases_fd = -EBADF, release_fd = -EBADF, staging_fd = -EBADF, home_fd = -EBADF,
                            dir_fd = -EBADF;
        _cleanup_(staging_remove) Staging s = { .releases_fd = -EBADF };
        _cleanup_json_ cJSON *tree = NULL;
        const char *package = h->config.package;
        usec_t deadline = helper_deadline(NPM_TIMEOUT);
        uid_t uid = (uid_t)-1; /* set by spawn_lookup_user(); the compiler cannot tell */
        gid_t gid = (gid_t)-1;
        int r;

        if (!package_name_ok(package))
                return log_error_errno(EINVAL, "[Server] Package=%s is not an npm package name.", package);

        r = helper_server_user(&h->config, &user, &user_error);
        if (r < 0)
                return user_error ? log_error_errno(r, "%s", user_error) : log_oom();
        r = spawn_lookup_user(user, &uid, &gid);
        if (r < 0)
                return log_error_errno(r, "Failed to look up the server's user %s: %m", user);
        if (uid == 0)
                return log_error_errno(
                        EPERM,
                        "%s runs as root: refusing to install Codebolt as root (package install scripts run "
                        "as the installing user).",
                        h->config.server_unit);

        releases = paths_releases_dir();
        final = paths_release_dir(h->version);
        if (!releases || !final)
                return log_oom();
        r = open_releases(user, &releases_fd);
        if (r < 0)
                return r;

        /* an earlier attempt may have staged it completely: then it is as good as a new install */
        release_fd = openat(releases_fd, h->version, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (release_fd >= 0) {
                r = staged_earlier(h, release_fd, &tree, &why);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0)
                        return log_error_errno(
                                r,
                                "%s exists, but it does not count as staged: %s. Refusing to use or replace "
                                "it: if it is not in use, remove it by hand (rm -rf %s) and start the "
                                "upgrade "
                                "again.",
                                final,
                                why,
                                final);
                r = record(h, final, tree, true);
                if (r < 0)
                        return r;
                log_info(
                        "%s already holds %s@%s, staged earlier and checked against that stage's record: "
                        "using it.",
                        final,
                        package,
                        h->version);
                return 0;
        } else if (errno != ENOENT)
                return log_error_errno(errno, "Failed to open %s (not a directory?): %m", final);

        log_status("stage: installing %s@%s as %s", package, h->version, user);

        s.releases_fd = releases_fd;
        if (asprintf(&s.name, ".%s.staging", h->version) < 0) {
                s.name = NULL;
                return log_oom();
        }
        if (asprintf(&staging, "%s/%s", releases, s.name) < 0) {
                staging = NULL;
                return log_oom();
        }
        if (asprintf(&home, "%s/.home", staging) < 0) {
                home = NULL;
                return log_oom();
        }
        r = backup_manifest_remove_tree_at(releases_fd, s.name);
        if (r >= 0)
                log_info("Removed %s, left by an earlier attempt.", staging);
        else if (r != -ENOENT)
                return log_error_errno(r, "Failed to remove the leftover %s: %m", staging);

        /* Inside the staging directory everything is done by fd: it is the user's, who may replace any
         * entry in it with a link at any moment. npm's HOME (with the npmrc copy), cache and resolution
         * are not part of the release: they go before the rename, and with the rest on any failure. */
        staging_fd = beneath_mkdir_owned(releases_fd, s.name, 0755, uid, gid);
        if (staging_fd < 0)
                return log_error_errno(staging_fd, "Failed to create %s: %m", staging);
        home_fd = beneath_mkdir_owned(staging_fd, ".home", 0700, uid, gid);
        r = home_fd;
        if (r >= 0)
                r = dir_fd = beneath_mkdir_owned(staging_fd, ".npm-cache", 0700, uid, gid);
        if (r >= 0) {
                close(TAKE_FD(dir_fd));
                r = dir_fd = beneath_mkdir_owned(staging_fd, ".resolve", 0700, uid, gid);
        }
        if (r < 0)
                return log_error_errno(
                        r, "Failed to create npm's HOME, cache and work directory in %s: %m", staging);
        if (h->config.npm_config) {
                r = copy_npmrc(h->config.npm_config, home_fd, home, uid, gid);
                if (r < 0)
                        return r;
        }

        if (h->config.npm_config && asprintf(&npmrc, "%s/.npmrc", home) < 0)
                return log_oom();
        r = npm_run(h, NPM_RESOLVE, user, staging, npmrc, deadline);
        if (r < 0)
                return r;
        r = npm_run(h, NPM_INSTALL, user, staging, npmrc, deadline);
        if (r < 0)
                return r;

        log_status("stage: verifying %s@%s in %s", package, h->version, staging);
        r = release_check(staging_fd, package, h->version, &why);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(
                        r,
                        "npm succeeded, but %s is not a complete %s@%s: %s.",
                        staging,
                        package,
                        h->version,
                        why);
        r = build_tree(staging_fd, package, h->version, &tree, &why);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(
                        r,
                        "npm succeeded, but what it installed in %s cannot be verified: %s.",
                        staging,
                        why);

        for (size_t i = 0; i < ELEMENTSOF(npm_work); i++) {
                r = backup_manifest_remove_tree_at(staging_fd, npm_work[i]);
                if (r < 0 && r != -ENOENT)
                        return log_error_errno(r, "Failed to remove %s/%s: %m", staging, npm_work[i]);
        }

        /* recorded first: from here an abort must remove the release, and only what this stage
         * verified may later count as staged earlier */
        r = record_write(h, staging_fd, tree);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to record the stage of %s in the state directory: %m", final);
        r = record(h, final, tree, false);
        if (r < 0)
                return r;

        /* one step, so a release directory is complete or absent */
        if (syscall(SYS_renameat2, releases_fd, s.name, releases_fd, h->version, RENAME_NOREPLACE) < 0)
                return log_error_errno(errno, "Failed to rename %s to %s: %m", staging, final);
        free(TAKE_PTR(s.name));
        if (fsync(releases_fd) < 0)
                return log_error_errno(errno, "Failed to sync %s: %m", releases);

        log_info(
                "Staged %s@%s in %s as %s (%d packages, integrity verified by npm and recorded); the "
                "running release is untouched.",
                package,
                h->version,
                final,
                user,
                cJSON_GetArraySize(tree));
        return 0;
}

int main(int argc, char *argv[]) {
        return helper_main(argc, argv, "stage", 0, run);
}
