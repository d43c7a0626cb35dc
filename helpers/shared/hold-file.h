/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hold-file.h: hold.json, the pause of the unattended upgrades (`codebolt-upgrade hold`) */
#pragma once

/* hold.json in the deployment's state dir: `codebolt-upgrade hold` paused the unattended (timer)
 * upgrades. 1 with *ret_since and *ret_reason (either may be NULL) when held, 0 when not, <0 on error.
 * Does not log. */
int helper_hold_read(const char *deployment, char **ret_since, char **ret_reason);
