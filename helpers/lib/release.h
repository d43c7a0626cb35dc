/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* release.h: the install layout, /opt/codebolt/releases/<version> and /opt/codebolt/current */
#pragma once

#include <cjson/cJSON.h>

/* the version /opt/codebolt/current points at (the basename of its target); -ENOENT when there is no
 * current link, -ENOLINK when it is not a symlink */
int release_current_version(char **ret);

/* point /opt/codebolt/current at releases/<version> atomically (symlink beside it, rename(2));
 * -ENOENT when that release is not installed */
int release_switch(const char *version);

/* a JSON file npm wrote in a release (a package.json, the resolved lockfile) is at most this big */
#define RELEASE_JSON_MAX ((size_t)64 * 1024 * 1024)

/* The package.json of <package> inside a release directory. The release is the server user's: the
 * file is read below the directory without following a link (beneath.h), and must be a regular file. */
int release_package_json(const char *release_dir, const char *package, cJSON **ret);
int release_package_json_at(int release_fd, const char *package, cJSON **ret);
