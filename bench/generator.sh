#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# generator.sh GENERATOR UNITS_BUILD_DIR UNITDIR LIBEXECDIR [DEPLOYMENTS] [RUNS]: how long codebolt-upgrade-generator
# takes (exec to exit, as systemd runs it) for DEPLOYMENTS extra deployments (default 50), each with
# [Auto] Schedule=, its own timeouts and its own [Watch] Interval=. Prints the fastest, median and
# slowest of RUNS runs (default 30).
# The target is under 20 ms for 50 deployments. A sanitizer build is several times slower than a plain
# one: measure a build without -Db_sanitize for the figure that counts.
set -euo pipefail
generator=$1 units=$2 unitdir=$3 libexecdir=$4 n=${5:-50} runs=${6:-30}
tmp=$(mktemp -d /var/tmp/cbu-generator-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

root=$tmp/root
mkdir -p "$root/etc/codebolt-upgrade/deployments" "$root$unitdir"
cp "$units/codebolt-upgrade@.service" "$units/codebolt-rollback@.service" \
        "$units/codebolt-upgrade-watch@.service" "$units/codebolt-upgrade-watch@.timer" "$root$unitdir/"
# the auto helper installed, so that every deployment gets its timer too
mkdir -p "$root$libexecdir"
printf '#!/bin/sh\n' >"$root$libexecdir/auto"
chmod +x "$root$libexecdir/auto"
printf '[Timeouts]\nDrain=5min\n\n[Watch]\nInterval=10min\n' >"$root/etc/codebolt-upgrade/upgrade.conf"
for i in $(seq -w 1 "$n"); do
        cat >"$root/etc/codebolt-upgrade/deployments/site$i.conf" <<CONF
[Server]
Unit=codebolt-site$i.service
Port=$((4000 + 10#$i))

[Database]
Name=codebolt_site$i

[Policy]
Role=staging

[Timeouts]
Drain=2min
Migrations=1h

[Watch]
Interval=$((1 + 10#$i % 10))min

[Auto]
Schedule=*-*-* 03:$(printf '%02d' $((10#$i % 60))):00
RandomizedDelaySec=30min
CONF
done

# systemd gives a generator directories on the /run tmpfs: write to a tmpfs too (a disk-backed
# directory costs several times more per file created)
outbase=$tmp
if [ -w /dev/shm ]; then
        outbase=$(mktemp -d /dev/shm/cbu-generator-bench.XXXXXX)
        trap 'rm -rf "$tmp" "$outbase"' EXIT
fi

times=()
for r in $(seq "$runs"); do
        out=$outbase/out$r
        mkdir "$out"
        # the shell's own clock (microseconds): a `date` on each side would add two programs' starts
        t0=${EPOCHREALTIME//[!0-9]/}
        CODEBOLT_UPGRADE_ROOT=$root CODEBOLT_UPGRADE_LOG=stderr "$generator" "$out" "$out" "$out" 2>/dev/null
        t1=${EPOCHREALTIME//[!0-9]/}
        times+=($((t1 - t0)))
        rm -rf "$out"
done
mapfile -t sorted < <(printf '%s\n' "${times[@]}" | sort -n)
mkdir "$tmp/count"
files=$(CODEBOLT_UPGRADE_ROOT=$root CODEBOLT_UPGRADE_LOG=stderr "$generator" "$tmp/count" "$tmp/count" "$tmp/count" 2>/dev/null;
        find "$tmp/count" -type f -o -type l | wc -l)
# what the measurement itself costs: the same timing around /bin/true (a fork and an exec, which systemd
# pays for the generator too)
base=()
for r in $(seq "$runs"); do
        t0=${EPOCHREALTIME//[!0-9]/}
        /bin/true
        t1=${EPOCHREALTIME//[!0-9]/}
        base+=($((t1 - t0)))
done
mapfile -t base_sorted < <(printf '%s\n' "${base[@]}" | sort -n)
ms() { printf '%d.%03d ms' $(($1 / 1000)) $(($1 % 1000)); }
echo "codebolt-upgrade-generator, $n deployments ($files files), $runs runs:" \
        "min $(ms "${sorted[0]}"), median $(ms "${sorted[$((runs / 2))]}"), max $(ms "${sorted[$((runs - 1))]}")" \
        "(target: under 20 ms; /bin/true timed the same way: median $(ms "${base_sorted[$((runs / 2))]}"))"
