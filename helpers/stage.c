/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stage: install the version beside the running one, into /opt/codebolt/releases/<version>, as the
 * server's user */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "backup-manifest.h"
#include "common.h"
#include "current.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "paths.h"
#include "release.h"
#include "spawn.h"
#include "state.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

#define NPM_TIMEOUT (15 * 60 * USEC_PER_SEC)
#define NPM_PATH "/usr/local/bin:/usr/bin:/bin"
#define SERVER_BIN "bin/codebolt-server"
/* the tree recorded by stage, kept in the release for a later attempt that finds it installed */
#define TREE_FILE ".codebolt-upgrade-tree.json"

static void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

/* the staging directory, removed on every way out but the rename */
static void remove_treep(char **path) {
        int r;

        if (!*path)
                return;
        r = backup_manifest_remove_tree(*path);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Failed to remove %s: %m", *path);
        free(*path);
        *path = NULL;
}
#define _cleanup_remove_tree_ _cleanup_(remove_treep)

/* "@scope/name" or "name": it becomes a path below lib/node_modules, so nothing that climbs out */
static bool package_name_ok(const char *p) {
        const char *slash = strchr(p, '/');

        if (!*p || *p == '.' || strstr(p, "..") || strchr(p, '\\'))
                return false;
        if (!slash)
                return *p != '@';
        return *p == '@' && slash > p + 1 && slash[1] && slash[1] != '.' && !strchr(slash + 1, '/');
}

static int lookup_user(const char *user, uid_t *ret_uid, gid_t *ret_gid) {
        _cleanup_free_ char *buf = NULL;
        struct passwd pw, *result = NULL;
        size_t size = 4096;
        int r;

        for (;;) {
                char *nb = realloc(buf, size);
                if (!nb)
                        return -ENOMEM;
                buf = nb;
                r = getpwnam_r(user, &pw, buf, size, &result);
                if (r != ERANGE)
                        break;
                size *= 2;
        }
        if (r != 0)
                return -r;
        if (!result)
                return -ESRCH;
        *ret_uid = pw.pw_uid;
        *ret_gid = pw.pw_gid;
        return 0;
}

/* a directory, or a file holding data, made by us (root) and handed to the user */
static int make_owned(const char *path, const char *data, mode_t mode, uid_t uid, gid_t gid) {
        _cleanup_close_ int fd = -EBADF;

        if (!data) {
                if (mkdir(path, mode) < 0)
                        return -errno;
                fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        } else
                fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        if (fchmod(fd, mode) < 0 || fchown(fd, uid, gid) < 0)
                return -errno;
        for (size_t l = data ? strlen(data) : 0, done = 0; done < l;) {
                ssize_t n = write(fd, data + done, l - done);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                done += (size_t)n;
        }
        return 0;
}

/* for the checks below: *ret_why says what is wrong, in words for the one log line of the caller */
#define WHY(...) (asprintf(ret_why, __VA_ARGS__) < 0 ? -ENOMEM : -EBADMSG)

/* the release directory holds package@version and its server binary; *ret_why says what is wrong */
static int release_check(const char *dir, const char *package, const char *version, char **ret_why) {
        _cleanup_json_ cJSON *pkg = NULL;
        _cleanup_free_ char *bin = NULL;
        const char *v;
        struct stat st;
        int r;

        r = release_package_json(dir, package, &pkg);
        if (r < 0)
                return WHY("lib/node_modules/%s/package.json cannot be read: %s", package, strerror(-r));
        v = json_get_string(pkg, "version");
        if (!streq_ptr(v, version))
                return WHY("lib/node_modules/%s/package.json says version %s", package, v ?: "(none)");

        if (asprintf(&bin, "%s/" SERVER_BIN, dir) < 0)
                return -ENOMEM;
        /* bin/ holds symlinks into lib/node_modules: follow them */
        if (stat(bin, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111))
                return WHY("%s is missing or not an executable file", SERVER_BIN);
        return 0;
}

/* the last package name in a lockfile key: "node_modules/a/node_modules/@s/b" → "@s/b" */
static const char *lock_key_name(const char *key) {
        const char *p = key, *n;

        while ((n = strstr(p, "node_modules/")))
                p = n + strlen("node_modules/");
        return p;
}

/* a file the user's npm wrote: a regular file, not a link to somewhere else */
static int read_user_json(const char *path, cJSON **ret) {
        struct stat st;

        if (lstat(path, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        return state_read_json(path, ret);
}

/* Every package npm placed below <lib>/<rel> ("node_modules", "node_modules/a/node_modules", …):
 * {"node_modules/a": {"name", "version"}, …}, the keys a package-lock.json uses. */
static int installed_walk(const char *lib, const char *rel, cJSON *installed) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int r;

        if (asprintf(&dir, "%s/%s", lib, rel) < 0) {
                dir = NULL;
                return -ENOMEM;
        }
        d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;

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
                if (asprintf(&path, "%s/%s", lib, key) < 0) {
                        path = NULL;
                        return -ENOMEM;
                }
                /* links ("npm link") are not installed packages */
                if (lstat(path, &st) < 0)
                        return -errno;
                if (!S_ISDIR(st.st_mode))
                        continue;

                if (de->d_name[0] == '@') {
                        r = installed_walk(lib, key, installed);
                        if (r < 0)
                                return r;
                        continue;
                }

                free(path);
                if (asprintf(&path, "%s/%s/package.json", lib, key) < 0) {
                        path = NULL;
                        return -ENOMEM;
                }
                r = read_user_json(path, &pkg);
                if (r < 0)
                        return r;
                entry = cJSON_CreateObject();
                if (!entry || !cJSON_AddItemToObject(installed, key, entry)) {
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
                r = installed_walk(lib, nested, installed);
                if (r < 0)
                        return r;
        }
        return errno > 0 ? -errno : 0;
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
        const char *staging,
        const char *lock_path,
        const char *package,
        const char *version,
        cJSON **ret,
        char **ret_why) {

        _cleanup_json_ cJSON *lock = NULL, *installed = NULL, *tree = NULL;
        _cleanup_free_ char *lib = NULL, *top = NULL;
        const cJSON *packages, *m, *self;
        int r;

        if (asprintf(&lib, "%s/lib", staging) < 0 || asprintf(&top, "node_modules/%s", package) < 0)
                return -ENOMEM;

        r = read_user_json(lock_path, &lock);
        if (r < 0)
                return WHY("%s cannot be read: %s", lock_path, strerror(-r));
        packages = cJSON_GetObjectItemCaseSensitive(lock, "packages");
        if (!cJSON_IsObject(packages))
                return WHY("%s has no \"packages\" (lockfile version 2 or later)", lock_path);
        self = cJSON_GetObjectItemCaseSensitive(packages, top);
        if (!streq_ptr(json_get_string(self, "version"), version) || !json_get_string(self, "integrity"))
                return WHY("npm resolved no %s@%s with an integrity", package, version);

        installed = cJSON_CreateObject();
        tree = cJSON_CreateObject();
        if (!installed || !tree)
                return -ENOMEM;
        r = installed_walk(lib, "node_modules", installed);
        if (r < 0)
                return WHY("the packages in %s/node_modules cannot be read: %s", lib, strerror(-r));

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

/* a release found in place: the tree its stage recorded, else what is installed, integrity unknown */
static int existing_tree(const char *release, const char *tree_file, cJSON **ret) {
        _cleanup_json_ cJSON *installed = NULL, *tree = NULL;
        _cleanup_free_ char *lib = NULL;
        const cJSON *m;
        int r;

        r = read_user_json(tree_file, &tree);
        if (r >= 0 && cJSON_IsObject(tree)) {
                *ret = TAKE_PTR(tree);
                return 0;
        }

        if (asprintf(&lib, "%s/lib", release) < 0)
                return -ENOMEM;
        installed = cJSON_CreateObject();
        tree = cJSON_CreateObject();
        if (!installed || !tree)
                return -ENOMEM;
        r = installed_walk(lib, "node_modules", installed);
        if (r < 0)
                return r;
        cJSON_ArrayForEach (m, installed) {
                r = add_tree_entry(tree, json_get_string(m, "name"), json_get_string(m, "version"), NULL);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(tree);
        return 1;
}

typedef struct Staged {
        const char *release;
        const cJSON *tree;
        bool existed;
} Staged;

static int update_staged(cJSON *current, void *userdata) {
        const Staged *s = userdata;
        cJSON *tree;
        int r;

        r = current_set_string(current, "staged_release", s->release);
        if (r < 0)
                return r;
        /* an earlier attempt's release is not this attempt's to remove on an abort */
        r = current_set_bool(current, "staged_release_existed", s->existed);
        if (r < 0)
                return r;

        tree = cJSON_Duplicate(s->tree, true);
        if (!tree)
                return -ENOMEM;
        cJSON_DeleteItemFromObjectCaseSensitive(current, "tree");
        if (!cJSON_AddItemToObject(current, "tree", tree)) {
                cJSON_Delete(tree);
                return -ENOMEM;
        }
        return 0;
}

static int fsync_dir(const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 || fsync(fd) < 0)
                return -errno;
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
 * a userconfig the user may read: that is npm's model, not a new exposure. */
static int copy_npmrc(const char *src, const char *dst, uid_t uid, gid_t gid) {
        _cleanup_free_ char *rooted = paths_rooted(src), *data = NULL;
        int r;

        if (!rooted)
                return log_oom();
        r = state_read_file(rooted, &data, NULL);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to read the npm config %s ([Server] NpmConfig=): %m", rooted);
        r = make_owned(dst, data, 0600, uid, gid);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", dst);
        return 0;
}

static int record(Helper *h, const char *release, const cJSON *tree, bool existed) {
        Staged s = { .release = release, .tree = tree, .existed = existed };

        return helper_update_current(h, update_staged, &s);
}

static int run(Helper *h) {
        _cleanup_free_ char *user = NULL, *releases = NULL, *final = NULL, *staging_path = NULL,
                            *npmrc = NULL, *why = NULL, *tree_file = NULL, *lock = NULL;
        _cleanup_remove_tree_ char *home = NULL, *cache = NULL, *resolve = NULL;
        _cleanup_remove_tree_ char *staging = NULL;
        _cleanup_json_ cJSON *tree = NULL;
        const char *package = h->config.package;
        usec_t deadline = helper_deadline(NPM_TIMEOUT);
        struct stat st;
        uid_t uid = (uid_t)-1; /* set by lookup_user(); the compiler cannot tell */
        gid_t gid = (gid_t)-1;
        int r;

        if (!package_name_ok(package))
                return log_error_errno(EINVAL, "[Server] Package=%s is not an npm package name.", package);

        r = helper_server_user(h, &user);
        if (r < 0)
                return r;
        r = lookup_user(user, &uid, &gid);
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
        if (!releases || !final || asprintf(&staging_path, "%s/.%s.staging", releases, h->version) < 0)
                return log_oom();

        r = paths_mkdir_p(releases, 0755);
        if (r < 0)
                return log_error_errno(r, "Failed to create %s: %m", releases);

        /* an earlier attempt may have staged it completely: then it is as good as a new install */
        if (lstat(final, &st) >= 0) {
                r = release_check(final, package, h->version, &why);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0)
                        return log_error_errno(
                                r,
                                "%s exists but is not a complete %s@%s (%s): refusing to replace it. Remove "
                                "it by hand if it is not in use.",
                                final,
                                package,
                                h->version,
                                why);
                if (asprintf(&tree_file, "%s/" TREE_FILE, final) < 0)
                        return log_oom();
                r = existing_tree(final, tree_file, &tree);
                if (r < 0)
                        return log_error_errno(r, "Failed to read the packages installed in %s: %m", final);
                if (r > 0)
                        log_notice(
                                "%s was not staged by codebolt-upgrade: its packages are recorded without "
                                "integrity.",
                                final);
                r = record(h, final, tree, true);
                if (r < 0)
                        return r;
                log_info("%s already holds %s@%s (staged earlier): using it.", final, package, h->version);
                return 0;
        } else if (errno != ENOENT)
                return log_error_errno(errno, "Failed to look at %s: %m", final);

        log_status("stage: installing %s@%s as %s", package, h->version, user);

        r = backup_manifest_remove_tree(staging_path);
        if (r >= 0)
                log_info("Removed %s, left by an earlier attempt.", staging_path);
        else if (r != -ENOENT)
                return log_error_errno(r, "Failed to remove the leftover %s: %m", staging_path);

        r = make_owned(staging_path, NULL, 0755, uid, gid);
        if (r < 0)
                return log_error_errno(r, "Failed to create %s: %m", staging_path);
        staging = TAKE_PTR(staging_path);

        /* npm's HOME (with the npmrc copy), cache and resolution are not part of the release: each goes
         * on every way out */
        if (asprintf(&home, "%s/.home", staging) < 0 || asprintf(&cache, "%s/.npm-cache", staging) < 0 ||
            asprintf(&resolve, "%s/.resolve", staging) < 0 ||
            asprintf(&lock, "%s/package-lock.json", resolve) < 0)
                return log_oom();
        r = make_owned(home, NULL, 0700, uid, gid);
        if (r >= 0)
                r = make_owned(cache, NULL, 0700, uid, gid);
        if (r >= 0)
                r = make_owned(resolve, NULL, 0700, uid, gid);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to create npm's HOME, cache and work directory in %s: %m", staging);
        if (h->config.npm_config) {
                if (asprintf(&npmrc, "%s/.npmrc", home) < 0)
                        return log_oom();
                r = copy_npmrc(h->config.npm_config, npmrc, uid, gid);
                if (r < 0)
                        return r;
        }

        r = npm_run(h, NPM_RESOLVE, user, staging, npmrc, deadline);
        if (r < 0)
                return r;
        r = npm_run(h, NPM_INSTALL, user, staging, npmrc, deadline);
        if (r < 0)
                return r;

        log_status("stage: verifying %s@%s in %s", package, h->version, staging);
        r = release_check(staging, package, h->version, &why);
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
        r = build_tree(staging, lock, package, h->version, &tree, &why);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(
                        r, "npm succeeded, but what it installed cannot be verified: %s.", why);

        remove_treep(&home);
        remove_treep(&cache);
        remove_treep(&resolve);
        if (asprintf(&tree_file, "%s/" TREE_FILE, staging) < 0)
                return log_oom();
        r = state_write_json_atomic(tree_file, tree, 0644);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", tree_file);

        /* recorded first: from here an abort must remove the release */
        r = record(h, final, tree, false);
        if (r < 0)
                return r;

        /* one step, so a release directory is complete or absent */
        if (syscall(SYS_renameat2, AT_FDCWD, staging, AT_FDCWD, final, RENAME_NOREPLACE) < 0)
                return log_error_errno(errno, "Failed to rename %s to %s: %m", staging, final);
        free(TAKE_PTR(staging));
        r = fsync_dir(releases);
        if (r < 0)
                return log_error_errno(r, "Failed to sync %s: %m", releases);

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
