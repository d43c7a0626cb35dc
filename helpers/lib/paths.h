/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* paths.h: every file path, taken under $CODEBOLT_UPGRADE_ROOT */
#pragma once

/* "" when unset or "/", else the root without a trailing slash */
const char *paths_root(void);

/* root + path (path is absolute); returns NULL on OOM */
char *paths_rooted(const char *path);

/* /var/lib/codebolt-upgrade/<deployment>, rooted */
char *paths_state_dir(const char *deployment);
/* /var/lib/codebolt-upgrade/<deployment>/<name>, rooted */
char *paths_state_file(const char *deployment, const char *name);
/* paths_state_file() in *ret, once the state directory exists (made 0700 when it does not): for a
 * file about to be written */
int paths_state_file_mkdir(const char *deployment, const char *name, char **ret);
/* /run/codebolt-upgrade/<deployment>.lock, rooted */
char *paths_lock_file(const char *deployment);
/* /run/codebolt-upgrade/<deployment>.discard-since, rooted: `codebolt-upgrade rollback --discard-since`
 * writes the version there for the rollback unit it starts (a late restore discards data) */
char *paths_discard_flag(const char *deployment);
/* /run/codebolt-upgrade/<deployment>.rollback-reason, rooted: the watch writes "<version>\n<why>" there
 * for the late rollback it starts ([Watch] AutoRollback=yes), which puts the why in the ledger */
char *paths_rollback_reason_flag(const char *deployment);
/* /run/codebolt-upgrade/<deployment>.starting, rooted: the PID of the upgrade's or rollback's helper
 * while it starts the server, so that `codebolt-upgrade server-may-start` lets that one start through */
char *paths_starting_file(const char *deployment);
#define PATHS_INSTALL_ROOT_DEFAULT "/opt/codebolt"
/* Where the deployment's releases live ([Server] InstallRoot=, as written, not rooted): set once
 * after the configuration is loaded (helper_config_load()); NULL restores the default. Each
 * deployment has its own, so two servers on one host never share a current link. */
int paths_set_install_root(const char *dir);
/* the install root as written (for messages): PATHS_INSTALL_ROOT_DEFAULT unless set */
const char *paths_install_root(void);
/* <install root> + path (path starts with /), rooted */
char *paths_install_file(const char *path);
/* <install root>/releases, rooted */
char *paths_releases_dir(void);
/* <install root>/releases/<version>, rooted */
char *paths_release_dir(const char *version);
/* <install root>/current, rooted */
char *paths_current_link(void);
/* /etc/codebolt-upgrade/credentials/<name>, rooted */
char *paths_credential(const char *name);
/* /etc/codebolt-upgrade/hooks/<stage>.d, rooted: the site's hooks */
char *paths_hook_dir(const char *stage);
/* /usr/lib/codebolt-upgrade/hooks/<stage>.d, rooted: the hooks the package ships */
char *paths_vendor_hook_dir(const char *stage);

/* mkdir -p with mode for newly made components */
int paths_mkdir_p(const char *path, unsigned mode);
