/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* unitname.h: systemd's unit-name escaping of an instance string */
#pragma once

#include <stdbool.h>
#include <string.h>

#include "config.h"

/* Decode the \xNN escapes of an instance string as %i passes it (systemd keeps the escapes raw in %i).
 * Unlike systemd's unit_name_unescape() and %I, '-' stays '-' (it is not turned into '/'), so the
 * instances "1.5.0-rc.1" and "1.5.0\x2drc.1" name the same version. A backslash not followed by 'x' and two
 * hex digits, or an escape that decodes to NUL, is -EINVAL. */
int unitname_unescape(const char *s, char **ret);

/* Escape s the way `systemd-escape -- s` does (systemd's unit_name_escape()): '/' becomes '-', a leading
 * '.' and every byte outside [A-Za-z0-9:_.] becomes \xNN (so '-' becomes \x2d). unitname_unescape()
 * reverses it for every string without '/'. */
int unitname_escape(const char *s, char **ret);

/* Two printf arguments for "%s%s": " --deployment <name>" for a named deployment, nothing for the
 * default one; "codebolt-upgrade%s%s status" then reads as the command an operator types. */
#define UNITNAME_DEPLOYMENT_OPTION(deployment)                               \
        (!config_deployment_is_default(deployment) ? " --deployment " : ""), \
                (!config_deployment_is_default(deployment) ? (deployment) : "")

/* docs/architecture.md, "Units and names": "codebolt-<kind>@<instance>.service" for the default deployment
 * (deployment NULL or "default"), "codebolt-<kind>-<deployment>@<instance>.service" for another; kind is
 * "upgrade" or "rollback" */
int unitname_deployment_unit(const char *kind, const char *deployment, const char *instance, char **ret);
/* Every unit name of a deployment: "<base>[-<deployment>][@<instance>]<suffix>", the "-<deployment>"
 * only for a deployment other than the default one (config_deployment_is_default()), the "@<instance>"
 * only when instance is not NULL. base is "codebolt-upgrade", "codebolt-rollback",
 * "codebolt-upgrade-watch" or "codebolt-upgrade-auto"; suffix e.g. ".service", ".timer", or "@.service"
 * for a template. */
int unitname_deployment_name(
        const char *base, const char *deployment, const char *instance, const char *suffix, char **ret);
/* the instance for an exact version as an operator types it: the version itself, escaped only where a
 * unit name needs it (the '+' of build metadata) */
int unitname_instance_for_version(const char *version, char **ret);
