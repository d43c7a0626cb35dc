/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* trust.h: files that root runs or reads (hooks, smoke steps, npm config, credentials) are root's alone */
#pragma once

#include <stddef.h>
#include <sys/stat.h>

typedef enum TrustFlags {
        TRUST_PRIVATE = 1 << 0, /* a secret: no permission at all for group or other (mode 0600) */
} TrustFlags;

/* The rule for the file itself: a regular file owned by root, not writable by group or other (with
 * TRUST_PRIVATE: no group or other bits at all). 0 or -EPERM. */
int trust_check_stat(const struct stat *st, TrustFlags flags);

/* Open path (rooted, as paths_rooted() gives it) as an O_PATH|O_CLOEXEC fd of a file that only root
 * can change:
 *   - the file passes trust_check_stat();
 *   - every directory from / down to the file's is owned by root and not writable by group or other
 *     (a sticky bit, as on /tmp, is no excuse: anyone could still plant the name first);
 *   - a symlink is followed: its target and the target's directories are judged, and so are the
 *     directories holding the link (whoever may write there can point the link elsewhere).
 * The directories are walked by fd, one component at a time without following a symlink, and the
 * fd returned is the file reached at the end of that walk, so what was judged is what the caller
 * runs or reads even when a name is swapped meanwhile.
 * Under $CODEBOLT_UPGRADE_ROOT the directories above the root belong to whoever set it (a test
 * harness, often under /tmp or /var/tmp) and are not judged; the root directory itself and all below
 * it are. A symlink whose target lies outside the root is judged from / down.
 * Returns the fd; -EPERM when something is not root's alone, -ENOENT, -ELOOP (a symlink appeared on
 * the walked path), -errno otherwise; *ret_why (may be NULL) then names the file or directory at
 * fault, its owner and mode and the fix, e.g. "directory /etc/x is owned by uid 998 (mode 0755), not
 * root: chown root:root /etc/x; chmod go-w /etc/x". -ENOMEM leaves *ret_why NULL. */
int trust_open_root_file(const char *path, TrustFlags flags, char **ret_why);

/* trust_open_root_file(), then 0 or its error */
int trust_check_root_file(const char *path, TrustFlags flags, char **ret_why);

/* the most a credential holds: a password or a token is far less */
#define TRUST_CREDENTIAL_MAX ((size_t)64 * 1024)

/* Read the credential name (/etc/codebolt-upgrade/credentials/<name>, rooted) with
 * trust_read_root_file(…, TRUST_PRIVATE, TRUST_CREDENTIAL_MAX, …): root's alone, mode 0600, and so are
 * its directories. *ret is the content as one string (state_string_from_buffer(): -EBADMSG for a NUL
 * byte). On failure *ret_why (may be NULL) says why when it can: the file or directory at fault and the
 * fix, or that it contains a NUL byte. */
int trust_read_credential(const char *name, char **ret, char **ret_why);

/* trust_open_root_file(), then its whole content (NUL-terminated, at most max bytes, else -EFBIG)
 * read through the fd that was judged */
int trust_read_root_file(
        const char *path, TrustFlags flags, size_t max, char **ret, size_t *ret_size, char **ret_why);
