/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* balancer.c: the server and the load balancer in front of it ([LoadBalancer]) */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "balancer.h"
#include "errmsg.h"
#include "haproxy.h"
#include "log.h"
#include "macro.h"
#include "time-util.h"

int balancer_server_name(const Config *c, char **ret) {
        char host[256] = {};
        char *s;

        if (c->lb_server)
                s = strdup(c->lb_server);
        else {
                if (gethostname(host, sizeof(host) - 1) < 0)
                        return -errno;
                host[strcspn(host, ".")] = 0;
                s = strdup(host);
        }
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int balancer_check(const Config *c, char **ret_error) {
        _cleanup_free_ char *server = NULL;
        int r;

        if (c->lb_driver != LB_DRIVER_HAPROXY)
                return 0;
        r = balancer_server_name(c, &server);
        if (r < 0)
                return errmsg_set(ret_error, r, "cannot tell this host's name: %s", strerror(-r));
        STRV_FOREACH (socket, c->lb_sockets) {
                _cleanup_(haproxy_server_stat_done) HaproxyServerStat stat = {};

                r = haproxy_server_stat(*socket, c->lb_backend, server, &stat, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* current.json's lb_drained, set before the first command: a crash halfway still gives it back */
static int mark_drained(Current *current, void *userdata) {
        current->lb_drained = true;
        current->present |= CURRENT_KEY_BIT(CURRENT_LB_DRAINED);
        return 0;
}

int balancer_take_out(Helper *h) {
        int r;

        if (h->config.lb_driver != LB_DRIVER_HAPROXY)
                return 0;
        r = helper_update_current(h, mark_drained, NULL);
        if (r < 0)
                return r;
        return balancer_drain(&h->config, "drain");
}

int balancer_drain(const Config *c, const char *phase) {
        _cleanup_free_ char *server = NULL, *error = NULL;
        int r;

        if (c->lb_driver != LB_DRIVER_HAPROXY)
                return 0;
        r = balancer_server_name(c, &server);
        if (r < 0)
                return log_error_errno(r, "Failed to tell this host's name for [LoadBalancer] Server=: %m");

        log_status("%s: taking %s/%s out of the load balancer", phase, c->lb_backend, server);
        r = haproxy_drain(
                &(HaproxyServer){ .sockets = c->lb_sockets, .backend = c->lb_backend, .server = server },
                helper_deadline(c->timeout_drain),
                &helper_cancelled,
                &error);
        if (r < 0)
                return log_error_errno(
                        r,
                        "Failed to take %s/%s out of the load balancer: %s",
                        c->lb_backend,
                        server,
                        error ?: strerror(-r));
        log_info("%s/%s is out of the load balancer (maint, no session open).", c->lb_backend, server);
        return 0;
}

/* sleep for t, cut short by a signal: 0, or -ECANCELED */
static int wait_for(usec_t t) {
        usec_t until = now_monotonic() + t;

        while (!helper_cancelled && now_monotonic() < until)
                sleep_until(until);
        return helper_cancelled ? -ECANCELED : 0;
}

int balancer_wait_grace(const Config *c) {
        if (c->lb_driver != LB_DRIVER_HEALTH)
                return 0;
        log_status(
                "drain: waiting %llus for the load balancer to see /health fail ([LoadBalancer] Grace=)",
                (unsigned long long)(c->lb_grace / USEC_PER_SEC));
        return wait_for(c->lb_grace);
}

int balancer_take_back(const Config *c) {
        _cleanup_free_ char *server = NULL, *error = NULL;
        int r;

        if (c->lb_driver == LB_DRIVER_HEALTH) {
                log_status(
                        "waiting %llus for the load balancer to see /health answer ([LoadBalancer] Grace=)",
                        (unsigned long long)(c->lb_grace / USEC_PER_SEC));
                return wait_for(c->lb_grace);
        }
        if (c->lb_driver != LB_DRIVER_HAPROXY)
                return 0;
        r = balancer_server_name(c, &server);
        if (r < 0)
                return log_error_errno(r, "Failed to tell this host's name for [LoadBalancer] Server=: %m");
        log_status(
                "giving %s/%s back to the load balancer and waiting for its health check",
                c->lb_backend,
                server);
        r = haproxy_undrain(
                &(HaproxyServer){ .sockets = c->lb_sockets, .backend = c->lb_backend, .server = server },
                helper_deadline(c->timeout_ready),
                &helper_cancelled,
                &error);
        if (r < 0)
                return log_error_errno(
                        r,
                        "Failed to give %s/%s back to the load balancer: %s",
                        c->lb_backend,
                        server,
                        error ?: strerror(-r));
        log_info("%s/%s is back in the load balancer and UP.", c->lb_backend, server);
        return 0;
}
