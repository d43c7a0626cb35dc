/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* membership.h: this host as a member of its cluster: the members/<id> document that `cluster join` and
 * the follower (codebolt-upgrade-cluster.service) write (docs/architecture.md, "Clusters") */
#pragma once

#include "cluster.h"
#include "config.h"

/* the version this host runs (where <InstallRoot>/current points); a failure logged, naming the link */
int membership_running_version(char **ret);

/* This host's members/<id> document: its hostname, its server's name at the load balancer
 * (balancer_server_name(): [LoadBalancer] Server= or the short hostname) and the version it runs. Every
 * string is allocated (free with cluster_member_done()). A failure logged. */
int membership_self(const Config *c, ClusterMember *ret);
