#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# install-if-absent.sh SOURCE TARGET: meson's install script for the configuration file: installs SOURCE
# as TARGET (an absolute path, under $DESTDIR) unless TARGET exists, so that a `meson install` over an
# earlier one keeps the site's settings. A package build installs into an empty DESTDIR: always there.
set -eu
target="${DESTDIR:-}$2"
if [ -e "$target" ] || [ -L "$target" ]; then
        echo "Keeping $target"
        exit 0
fi
install -D -m 0644 "$1" "$target"
echo "Installing $1 to $target"
