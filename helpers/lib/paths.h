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
/* /run/codebolt-upgrade/<deployment>.lock, rooted */
char *paths_lock_file(const char *deployment);
/* /run/codebolt-upgrade/<deployment>.discard-since, rooted: `codebolt-upgrade rollback --discard-since`
 * writes the version there for the rollback unit it starts (a late restore discards data) */
char *paths_discard_flag(const char *deployment);
/* /run/codebolt-upgrade/<deployment>.starting, rooted: the PID of the upgrade's or rollback's helper
 * while it starts the server, so that `codebolt-upgrade server-may-start` lets that one start through */
char *paths_starting_file(const char *deployment);
/* /opt/codebolt/releases/<version>, rooted */
char *paths_release_dir(const char *version);
/* /opt/codebolt/current, rooted */
char *paths_current_link(void);
/* /etc/codebolt-upgrade/credentials/<name>, rooted */
char *paths_credential(const char *name);
/* /etc/codebolt-upgrade/hooks/<stage>.d, rooted: the site's hooks */
char *paths_hook_dir(const char *stage);
/* /usr/lib/codebolt-upgrade/hooks/<stage>.d, rooted: the hooks the package ships */
char *paths_vendor_hook_dir(const char *stage);

/* mkdir -p with mode for newly made components */
int paths_mkdir_p(const char *path, unsigned mode);
