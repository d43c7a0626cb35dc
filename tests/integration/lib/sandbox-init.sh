#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# sandbox-init.sh LAYERS CGROUPS-LIST: runs as PID 1 of fresh pid/mount/uts/net namespaces (see
# sandbox.sh). Moves itself into a cgroup of its own in every hierarchy (listed in CGROUPS-LIST for the
# teardown) and into a new cgroup namespace rooted there, so that two sandboxes' systemds never manage
# the same cgroup; builds an overlay of the host root; execs systemd inside it. Never run on the host
# itself.
set -euo pipefail
layers=$1
cgroups_list=$2
[ "$$" = 1 ] || { echo "sandbox-init.sh: must run as PID 1 of a new pid namespace" >&2; exit 1; }

# the cgroup mounts as the host has them: "type mountpoint options"
cgroup_mounts() {
        awk '$3 == "cgroup" || $3 == "cgroup2" {print $3, $2, $4}' /proc/mounts
}

if [ "${3:-}" != --in-cgroupns ]; then
        name=$(basename "$(dirname "$layers")")
        : >"$cgroups_list"
        # read it whole first: moving between cgroups changes the file while it is read
        mapfile -t memberships </proc/self/cgroup
        for m in "${memberships[@]}"; do
                IFS=: read -r _ controllers path <<<"$m"
                mnt=
                while read -r type point opts; do
                        if [ -z "$controllers" ]; then
                                [ "$type" = cgroup2 ] && mnt=$point
                        elif [ "$type" = cgroup ] && [[ ",$opts," == *",$controllers,"* ]]; then
                                mnt=$point
                        fi
                        [ -n "$mnt" ] && break
                done < <(cgroup_mounts)
                [ -n "$mnt" ] || continue
                dir="${mnt%/}${path%/}/$name"
                mkdir -p "$dir"
                # a new v1 cpuset cgroup starts with no CPUs and no memory nodes: take the parent's
                if [ -f "$dir/cpuset.cpus" ]; then
                        cat "$dir/../cpuset.cpus" >"$dir/cpuset.cpus"
                        cat "$dir/../cpuset.mems" >"$dir/cpuset.mems"
                fi
                echo 0 >"$dir/cgroup.procs"
                echo "$dir" >>"$cgroups_list"
        done
        exec unshare --cgroup -- "$0" "$layers" "$cgroups_list" --in-cgroupns
fi

mount --make-rprivate /
mkdir -p "$layers"
# the layers live on a tmpfs that dies with the sandbox, or with CBU_SB_DISK=1 on disk, so that a
# second boot finds them as after a power cut
if [ "${CBU_SB_DISK:-0}" != 1 ]; then
        mount -t tmpfs -o mode=0755 cbu-layers "$layers"
fi
mkdir -p "$layers"/upper "$layers"/work "$layers"/merged
mount -t overlay cbu-root -o "lowerdir=/,upperdir=$layers/upper,workdir=$layers/work" "$layers/merged"
root="$layers/merged"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
# the cgroup hierarchies again, seen from this cgroup namespace: rooted at our own cgroup
if mountpoint -q /sys/fs/cgroup; then
        mount -t tmpfs -o mode=0755,nosuid,nodev,noexec cgroup "$root/sys/fs/cgroup"
        while read -r type point opts; do
                target="$root/sys/fs/cgroup/${point#/sys/fs/cgroup/}"
                mkdir -p "$target"
                mount -t "$type" -o "$opts" "$type" "$target"
        done < <(cgroup_mounts)
fi
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/tmp"
hostname "${CBU_SB_HOSTNAME:-cbu-sandbox}"
# systemd sets the hostname from /etc/hostname at boot: a named sandbox keeps its name
[ -z "${CBU_SB_HOSTNAME:-}" ] || echo "$CBU_SB_HOSTNAME" >"$root/etc/hostname"
# what a bare sandbox has no use for, and what would fail in it (no tty, no clock to set); etcd and
# HAProxy are installed for the cluster tests, node_exporter for the metrics test, which start their own
# instances; CBU_SB_MASK names more
# shellcheck disable=SC2086 # CBU_SB_MASK: a list of unit names
for u in getty@tty1.service console-getty.service systemd-timesyncd.service e2scrub_reap.service apt-daily.timer \
        apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer man-db.timer \
        etcd.service haproxy.service prometheus-node-exporter.service ${CBU_SB_MASK:-}; do
        ln -sf /dev/null "$root/etc/systemd/system/$u"
done
# the host's machine id would make journald share a directory name with the host's: give the sandbox its own
[ -f "$layers/machine-id" ] || systemd-id128 new | tr -d '-' >"$layers/machine-id"
cp "$layers/machine-id" "$root/etc/machine-id"
exec chroot "$root" /usr/bin/env -i container=other TERM=dumb PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        /lib/systemd/systemd --system --show-status=no
