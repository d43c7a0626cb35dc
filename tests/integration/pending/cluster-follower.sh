#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# PENDING (not in the scenarios list: it moves to tests/integration/ once the upgrade unit's phases read
# the roll and take the slot). The cluster's follower on 3 hosts: codebolt-upgrade-cluster.service
# started on each joins it to the cluster; `codebolt-upgrade cluster start 1.5.0` on host 1, and each
# host's follower starts that host's own codebolt-upgrade@1.5.0.service, once. Run by hand, as root:
#   CBU_BUILD_DIR=$PWD/build bash tests/integration/pending/cluster-follower.sh
source "$(dirname "$0")/../lib/sandbox.sh"
source "$(dirname "$0")/../lib/codebolt.sh"
source "$(dirname "$0")/../lib/cluster.sh"

cluster_up 1.4.0 3

for i in 1 2 3; do
        cl "$i" tee -a /etc/codebolt-upgrade/upgrade.conf >/dev/null <<CONF

[Cluster]
Name=world
Etcd=http://127.0.0.3:2379
HostId=cb$i
CONF
        cl "$i" systemctl start codebolt-upgrade-cluster.service
done

# every follower joined its host
for _ in $(seq 100); do
        n=$(cl 1 codebolt-upgrade cluster status --json 2>/dev/null | jq '[.hosts[] | select(.member)] | length')
        [ "$n" = 3 ] && break
        sleep 0.2
done
[ "$n" = 3 ] || fail "not every follower joined its host: $(cl 1 codebolt-upgrade cluster status 2>&1)"
for i in 1 2 3; do
        cl_journal "$i" codebolt-upgrade-cluster.service | grep -qF "Member cb$i of cluster world: cb$i" ||
                fail "host $i's follower does not say it joined: $(cl_journal "$i" codebolt-upgrade-cluster.service)"
done

sb_log "cluster start 1.5.0 on host 1"
out=$(cl 1 codebolt-upgrade cluster start 1.5.0 2>&1) || fail "cluster start 1.5.0 failed: $out"

# each follower starts its own host's upgrade unit
for i in 1 2 3; do
        for _ in $(seq 150); do
                cl_journal "$i" codebolt-upgrade-cluster.service |
                        grep -qE 'Roll [0-9a-f]+ to 1\.5\.0: starting codebolt-upgrade@1\.5\.0\.service \(this host runs 1\.4\.0\)' &&
                        break
                sleep 0.2
        done
        cl_journal "$i" codebolt-upgrade-cluster.service | grep -qF 'starting codebolt-upgrade@1.5.0.service' ||
                fail "host $i's follower did not start codebolt-upgrade@1.5.0.service: $(cl_journal "$i" codebolt-upgrade-cluster.service)"
        [ -n "$(cl "$i" systemctl show -P InvocationID codebolt-upgrade@1.5.0.service)" ] ||
                fail "codebolt-upgrade@1.5.0.service never ran on host $i"
        cl "$i" jq -e '.unit == "codebolt-upgrade@1.5.0.service"' /var/lib/codebolt-upgrade/default/follower.json >/dev/null ||
                fail "host $i's follower.json does not record the start: $(cl "$i" cat /var/lib/codebolt-upgrade/default/follower.json 2>&1)"
done
for i in 1 2 3; do
        n=$(cl_journal "$i" codebolt-upgrade-cluster.service | grep -c 'starting codebolt-upgrade@1.5.0.service')
        [ "$n" = 1 ] || fail "host $i's follower started codebolt-upgrade@1.5.0.service $n times, not once"
done
sb_log "each host's follower started its codebolt-upgrade@1.5.0.service once"
