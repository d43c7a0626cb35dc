/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* phase-helpers.c: migrate-watch --rollback and smoke --rollback: start the old release and smoke-test it */
#define _GNU_SOURCE

#include "balancer.h"
#include "log.h"
#include "macro.h"
#include "spawn.h"
#include "rollback.h"

/* they run in this unit's control group and log into its journal; they find current.json by the
 * instance, so they need no invocation id, and they send no STATUS= (this unit accepts none from them) */
static int child_env(char ***ret) {
        static const char *const passed[] = { "CODEBOLT_DEPLOYMENT",
                                              "CODEBOLT_UPGRADE_ROOT",
                                              "CODEBOLT_UPGRADE_LOG_LEVEL" };
        _cleanup_strv_free_ char **env = NULL;
        size_t n = 0;
        int r;

        r = spawn_env_push(&env, &n, "PATH=%s", getenv("PATH") ?: "/usr/sbin:/usr/bin:/sbin:/bin");
        if (r >= 0)
                r = spawn_env_push(&env, &n, "LANG=%s", getenv("LANG") ?: "C.UTF-8");
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(passed); i++)
                if (getenv(passed[i]))
                        r = spawn_env_push(&env, &n, "%s=%s", passed[i], getenv(passed[i]));
        if (r >= 0 && log_get_target() == LOG_TARGET_JOURNAL)
                r = spawn_env_push(&env, &n, "CODEBOLT_UPGRADE_LOG=journal");
        else if (r >= 0 && getenv("CODEBOLT_UPGRADE_LOG"))
                r = spawn_env_push(&env, &n, "CODEBOLT_UPGRADE_LOG=%s", getenv("CODEBOLT_UPGRADE_LOG"));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(env);
        return 0;
}

int run_phase_helper(Rollback *rb, const char *name, int *ret_status) {
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        if (asprintf(&path, LIBEXECDIR "/%s", name) < 0 || child_env(&env) < 0)
                return rb_oom(rb);
        char *argv[] = { path, (char *)"--rollback", rb->h->instance, NULL };
        SpawnOptions o = { .env = env, .phase = "rollback", .log_identifier = name };
        r = spawn_run(argv, &o, ret_status);
        if (r == -ECANCELED)
                return rb_fail(rb, r, "Stopped by signal %d while %s ran.", (int)helper_cancelled, name);
        if (r < 0)
                return rb_fail(rb, r, "Failed to run %s: %m", path);
        return 0;
}

/* start the old release and watch it come up, then smoke-test it */
int start_and_smoke(Rollback *rb) {
        const char *unit = rb->h->config.server_unit;
        int status = 0, r;

        /* they take the lock for every change of current.json */
        helper_unlock(rb->h);

        log_status("rollback: starting %s on %s", unit, rb->current.from);
        r = run_phase_helper(rb, "migrate-watch", &status);
        if (r >= 0 && status != 0) {
                rb->old_failed = true;
                r = rb_fail(
                        rb,
                        EIO,
                        "%s did not come up on %s after the rollback (migrate-watch --rollback exited "
                        "with status %d; journalctl -u %s says why)",
                        unit,
                        rb->current.from,
                        status,
                        unit);
        }
        if (r < 0) {
                int k = rb_relock(rb);
                /* a server that cannot start stays stopped, rather than restart in a loop */
                if (k >= 0 && !helper_cancelled)
                        (void)stop_server(rb);
                return r;
        }

        log_status("rollback: smoke-testing %s", rb->current.from);
        r = run_phase_helper(rb, "smoke", &status);
        if (r >= 0 && status != 0) {
                rb->old_runs = true;
                rb->old_failed = true;
                r = rb_fail(
                        rb,
                        EIO,
                        "the smoke test of %s failed after the rollback (smoke --rollback exited with "
                        "status %d; its own messages in the journal say why)",
                        rb->current.from,
                        status);
        }
        /* the old version serves again: the balancer may send it sessions (drain took it out) */
        if (r >= 0 && rb->current.lb_drained) {
                r = balancer_take_back(&rb->h->config);
                if (r < 0)
                        r = rb_fail(rb, r, "The server is not back in the load balancer (see above).");
        }
        if (r < 0) {
                (void)rb_relock(rb);
                return r;
        }
        return rb_relock(rb);
}
