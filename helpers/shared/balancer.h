/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* balancer.h: the server and the load balancer in front of it ([LoadBalancer]): out of the balancer
 * before the drain, back in once the server serves again (docs/architecture.md, "Clusters") */
#pragma once

#include "config.h"
#include "helper.h"

/* the server's name in the balancer: [LoadBalancer] Server=, else this host's short name; -errno */
int balancer_server_name(const Config *c, char **ret);

/* The preflight gate: with Driver=haproxy, whether every admin socket answers for Backend=/Server=.
 * 0 (also for Driver=health and none), or -errno with *ret_error naming the socket. Does not log. */
int balancer_check(const Config *c, char **ret_error);

/* Drain's first step, with Driver=haproxy: records lb_drained in current.json, then takes the server
 * out (no new sessions, then wait until none is open within [Timeouts] Drain=, then maint). Logs. */
int balancer_take_out(Helper *h);
/* balancer_take_out() without current.json (the caller records lb_drained): STATUS= says phase. */
int balancer_drain(const Config *c, const char *phase);

/* Between the app's drain and the stop, with Driver=health: waits Grace= (the balancer's fall ×
 * interval), so that the balancer has seen /health fail before the server goes. Logs. */
int balancer_wait_grace(const Config *c);

/* Gives the server back once it serves: with Driver=haproxy `state ready`, then waits until HAProxy's
 * own health check says UP, within [Timeouts] Ready=; with Driver=health waits Grace= after /health
 * answered 200 (the caller saw it). Logs. */
int balancer_take_back(const Config *c);
