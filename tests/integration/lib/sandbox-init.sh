#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# sandbox-init.sh LAYERS: runs as PID 1 of fresh pid/mount/uts/net namespaces (see sandbox.sh).
# Builds an overlay of the host root, then execs systemd inside it. Never run on the host itself.
set -euo pipefail
layers=$1
[ "$$" = 1 ] || { echo "sandbox-init.sh: must run as PID 1 of a new pid namespace" >&2; exit 1; }

mount --make-rprivate /
mkdir -p "$layers"
# the layers live on their own tmpfs unless the caller already mounted a disk-backed one
mountpoint -q "$layers" || mount -t tmpfs -o mode=0755 cbu-layers "$layers"
mkdir -p "$layers"/upper "$layers"/work "$layers"/merged
mount -t overlay cbu-root -o "lowerdir=/,upperdir=$layers/upper,workdir=$layers/work" "$layers/merged"
root="$layers/merged"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/tmp"
hostname cbu-sandbox
# what a bare sandbox has no use for, and what would fail in it (no tty, no clock to set)
for u in getty@tty1.service systemd-timesyncd.service e2scrub_reap.service apt-daily.timer \
        apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer man-db.timer; do
        ln -sf /dev/null "$root/etc/systemd/system/$u"
done
# the host's machine id would make journald share a directory name with the host's: give the sandbox its own
systemd-id128 new | tr -d '-' >"$root/etc/machine-id"
exec chroot "$root" /usr/bin/env -i container=other TERM=dumb PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        /lib/systemd/systemd --system --show-status=no
