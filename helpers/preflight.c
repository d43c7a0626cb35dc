/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* preflight: validate the version, refuse what must not run, and open the upgrade (current.json) */
#define _GNU_SOURCE

#include "events.h"
#include "helper.h"
#include "current.h"
#include "hooks.h"
#include "json-util.h"
#include "ledger.h"
#include "log.h"
#include "macro.h"
#include "message-ids.h"
#include "paths.h"
#include "plan.h"
#include "release.h"
#include "roll.h"
#include "semver.h"
#include "unitname.h"

/* ExecCondition=: exit 1 (a clean skip) only when the deployment already runs the version and no
 * upgrade is in flight; anything else, a bad version included, goes on to the real preflight, which
 * says what is wrong. Never exits 255: that would fail the unit instead of skipping it. */
static int skip_if_current(const char *instance) {
        _cleanup_free_ char *version = NULL, *running = NULL, *error = NULL;
        _cleanup_(current_done) Current current = {};
        ConfigError cerr = {};
        Config config = {};
        SemVer v = {};
        int r, skip = 0;

        log_setup(NULL, "preflight");
        if (unitname_unescape(instance, &version) < 0 || semver_parse(version, &v) < 0)
                return 0;
        semver_done(&v);

        r = config_load(NULL, getenv("CODEBOLT_DEPLOYMENT"), &config, &cerr);
        if (r >= 0)
                r = paths_set_install_root(config.install_root);
        if (r < 0) {
                config_error_done(&cerr);
                return 0;
        }

        r = current_load(config.deployment, &current, &error);
        if (r >= 0)
                log_info(
                        "An upgrade to %s is in flight (phase %s): not skipping.",
                        strempty(current.to),
                        strempty(current.phase));
        else if (r == -EBADMSG || r == -ERANGE)
                /* one is there, if unreadable: the real preflight refuses it */
                log_info("An upgrade is in flight (%s): not skipping.", error ?: strerror(-r));
        else if (release_current_version(&running) >= 0 && streq(running, version)) {
                log_info("Deployment %s already runs %s: nothing to do.", config.deployment, version);
                skip = 1;
        }
        config_done(&config);
        return skip;
}

static int refuse_failed_version(Helper *h) {
        _cleanup_json_ cJSON *ledger = NULL;
        int r;

        r = ledger_load(h->config.deployment, &ledger);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to read the ledger of deployment %s: %m", h->config.deployment);
        if (ledger_version_failed(ledger, h->version)) {
                const cJSON *last = ledger_version_failure(ledger, h->version);
                return log_error_errno(
                        EPERM,
                        "Refusing %s: its last upgrade here ended %s. Look into it, then allow it again "
                        "with: codebolt-upgrade clear %s",
                        h->version,
                        strempty(json_get_string(last, "result")),
                        h->version);
        }
        return 0;
}

/* a second upgrade fails at once, naming the one in flight (inflight may be NULL: it just ended) */
static int refuse_in_flight(Helper *h, const Current *inflight) {
        return log_error_errno(
                EBUSY,
                "Refusing: an upgrade of deployment %s to %s is in flight (%s, phase %s). "
                "Wait for it, or see: codebolt-upgrade%s%s status",
                h->config.deployment,
                strempty(inflight ? inflight->to : NULL),
                strempty(inflight ? inflight->unit : NULL),
                strempty(inflight ? inflight->phase : NULL),
                UNITNAME_DEPLOYMENT_OPTION(h->config.deployment));
}

static int open_upgrade(Helper *h, const char *from, const char *roll_id, bool coordinated) {
        _cleanup_(current_done) Current c = {}, inflight = {};
        int r;

        /* recover.c tells an interrupted upgrade from one in progress by this unit's state */
        c.id = strdup(strempty(h->upgrade_id));
        c.instance = strdup(h->instance);
        c.deployment = strdup(h->config.deployment);
        c.from = strdup(from);
        c.to = strdup(h->version);
        c.phase = strdup("preflight");
        if (roll_id && !(c.cluster_roll = strdup(roll_id)))
                return log_oom();
        c.cluster_coordinated = roll_id && coordinated;
        c.started = current_timestamp();
        c.updated = c.started ? strdup(c.started) : NULL;
        if (!c.id || !c.instance || !c.deployment || !c.from || !c.to || !c.phase || !c.updated ||
            unitname_deployment_unit("upgrade", h->config.deployment, h->instance, &c.unit) < 0)
                return log_oom();
        /* the zero values the file states from the start */
        c.present = CURRENT_KEY_BIT(CURRENT_PHASES) | CURRENT_KEY_BIT(CURRENT_SERVER_STOPPED) |
                    CURRENT_KEY_BIT(CURRENT_SWITCHED) | CURRENT_KEY_BIT(CURRENT_MIGRATIONS) |
                    CURRENT_KEY_BIT(CURRENT_ATTEMPTS);

        r = current_create(h->config.deployment, &c);
        if (r == -EEXIST) {
                r = current_load(h->config.deployment, &inflight, NULL);
                return refuse_in_flight(h, r >= 0 ? &inflight : NULL);
        }
        if (r < 0)
                return log_error_errno(
                        r, "Failed to create current.json of deployment %s: %m", h->config.deployment);

        /* from here on the rollback unit can act on this upgrade */
        current_done(&h->current);
        h->current = c;
        c = (Current){};
        return 0;
}

static int preflight_done(Current *current, void *userdata) {
        const Helper *h = userdata;
        int r;

        r = current_phase_done(current, "preflight");
        if (r < 0)
                return r;
        /* what helper_main() records for the other phases: preflight manages current.json itself */
        return current_set_phase_seconds(current, "preflight", helper_seconds(h));
}

static int run(Helper *h) {
        _cleanup_(plan_done) Plan plan = {};
        _cleanup_free_ char *from = NULL, *error = NULL, *roll_id = NULL;
        _cleanup_(current_done) Current inflight = {};
        const Gate *failed;
        bool coordinated = false;
        int r;

        log_status(
                "preflight: checking the upgrade of deployment %s to %s", h->config.deployment, h->version);

        r = refuse_failed_version(h);
        if (r < 0)
                return r;
        /* one in flight refuses at once, before the slower gates */
        r = current_load(h->config.deployment, &inflight, &error);
        if (r >= 0)
                return refuse_in_flight(h, &inflight);
        if (r == -EBADMSG || r == -ERANGE)
                return log_error_errno(
                        r,
                        "Refusing: an upgrade of deployment %s is in flight, and its current.json cannot be "
                        "read: %s. See: codebolt-upgrade%s%s status",
                        h->config.deployment,
                        error ?: strerror(-r),
                        UNITNAME_DEPLOYMENT_OPTION(h->config.deployment));

        r = release_current_version(&from);
        if (r == -ENOLINK || r == -ENOENT)
                return log_error_errno(
                        r,
                        "%s/current is not a symlink to releases/<version>: adopt "
                        "the existing install first (see the README).",
                        paths_install_root());
        if (r < 0)
                return log_error_errno(r, "Failed to read %s/current: %m", paths_install_root());

        /* every gate, read-only: a refusal here changed nothing (docs/architecture.md, "Phases") */
        log_status("preflight: checking the gates of %s → %s", from, h->version);
        r = plan_make(&h->config, from, h->version, &plan);
        if (r < 0)
                return log_oom();
        plan_log(&plan);
        failed = plan_first_failure(&plan);
        if (failed)
                return log_error_errno(
                        EPERM,
                        "Refusing %s → %s: %s (gate %s). Nothing was changed. All the gates: "
                        "codebolt-upgrade plan %s",
                        from,
                        h->version,
                        failed->reason,
                        failed->name,
                        h->version);
        log_info(
                "Deployment %s: %s upgrade %s → %s; every gate passed.",
                h->config.deployment,
                upgrade_kind_to_string(plan.kind),
                from,
                h->version);

        /* in a cluster, the roll must ask for this version: still read-only */
        r = roll_preflight(h, from, &plan, &roll_id, &coordinated);
        if (r < 0)
                return r;

        r = helper_lock(h);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to take the state lock of deployment %s: %m", h->config.deployment);
        r = open_upgrade(h, from, roll_id, coordinated);
        if (r < 0)
                return r;
        /* the site's checks last, with the upgrade in flight (no second one meanwhile): a failure leaves
         * preflight not done, which the rollback records as refused */
        r = helper_run_hooks(h, HOOKS_PRE_UPGRADE, NULL, NULL);
        if (r < 0)
                return r;
        r = helper_update_current(h, preflight_done, h);
        if (r < 0)
                return r;
        helper_unlock(h);

        log_status("preflight: %s → %s may proceed", from, h->version);
        _cleanup_free_ char *from_field = NULL;
        if (asprintf(&from_field, "CODEBOLT_UPGRADE_FROM=%s", from) < 0)
                return log_oom();
        log_event(
                LOG_NOTICE,
                MESSAGE_UPGRADE_STARTED,
                (char *[]){ from_field, NULL },
                "Upgrade of deployment %s from %s to %s started.",
                h->config.deployment,
                from,
                h->version);
        helper_notify(h, "started", NULL);
        return 0;
}

int main(int argc, char *argv[]) {
        if (argc == 3 && streq(argv[1], "--skip-if-current"))
                return skip_if_current(argv[2]);
        return helper_main(argc, argv, "preflight", HELPER_NO_CURRENT, run);
}
