/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rollback: decide from current.json alone what undoes a failed upgrade, do the least that is safe */
#define _GNU_SOURCE
#include <systemd/sd-bus.h>

#include "common.h"
#include "current.h"
#include "json-util.h"
#include "ledger.h"
#include "log.h"
#include "macro.h"
#include "paths.h"
#include "release.h"
#include "spawn.h"

static int write_ledger(
        Helper *h, const cJSON *current, const char *result, const char *phase, const char *message) {
        _cleanup_json_ cJSON *e = cJSON_CreateObject(), *ledger = NULL;
        _cleanup_free_ char *now = current_timestamp(), *from = NULL, *export_path = NULL;
        const char *f = json_get_string(current, "from");
        int r;

        if (!f && release_current_version(&from) >= 0)
                f = from;
        if (!e || !now || !cJSON_AddStringToObject(e, "id", strempty(json_get_string(current, "id"))) ||
            !cJSON_AddStringToObject(e, "from", strempty(f)) ||
            !cJSON_AddStringToObject(e, "to", h->version) || !cJSON_AddStringToObject(e, "result", result) ||
            !cJSON_AddStringToObject(e, "phase", phase) ||
            !cJSON_AddStringToObject(e, "started", json_get_string(current, "started") ?: now) ||
            !cJSON_AddStringToObject(e, "finished", now) || !cJSON_AddStringToObject(e, "message", message))
                return log_oom();
        for (const char *const *k = (const char *const[]){ "backup", "snapshot", "migrations", NULL }; *k;
             k++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(current, *k);
                if (v && !cJSON_AddItemToObject(e, *k, cJSON_Duplicate(v, true)))
                        return log_oom();
        }

        r = ledger_append(h->config.deployment, TAKE_PTR(e));
        if (r < 0)
                return log_error_errno(
                        r, "Failed to write the ledger of deployment %s: %m", h->config.deployment);
        if (ledger_load(h->config.deployment, &ledger) >= 0 &&
            (export_path = paths_rooted(h->config.export_ledger)))
                if (ledger_export(ledger, export_path) < 0)
                        log_warning("Failed to export the ledger to %s.", export_path);
        return 0;
}

/* failed before anything changed but the staged release: remove it (never the running one) */
static int abort_upgrade(Helper *h, const cJSON *current) {
        _cleanup_free_ char *running = NULL;
        const char *staged = json_get_string(current, "staged_release");
        int r, status = 0;

        (void)release_current_version(&running);
        /* a release an earlier attempt staged, or the running one, is not this attempt's to remove */
        if (staged && !streq_ptr(running, h->version) &&
            !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(current, "staged_release_existed"))) {
                char *argv[] = {
                        (char *)"rm", (char *)"-rf", (char *)"--one-file-system", (char *)staged, NULL
                };
                SpawnOptions o = { .phase = "rollback" };
                r = spawn_run(argv, &o, &status);
                if (r < 0 || status != 0)
                        log_warning("Failed to remove the staged release %s; remove it by hand.", staged);
                else
                        log_info("Removed the staged release %s.", staged);
        }

        r = write_ledger(
                h,
                current,
                "aborted",
                strempty(json_get_string(current, "phase")),
                "failed before the server stopped; the staged release was removed");
        if (r < 0)
                return r;
        r = current_remove(h->config.deployment);
        if (r < 0)
                return log_error_errno(r, "Failed to remove current.json: %m");
        log_notice("Upgrade to %s aborted before the server stopped: nothing else changed.", h->version);
        return 0;
}

static int run(Helper *h) {
        _cleanup_json_ cJSON *current = NULL;
        const char *phase;
        int r;

        log_status("rollback: looking at the upgrade to %s", h->version);
        r = helper_lock(h);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to take the state lock of deployment %s: %m", h->config.deployment);

        r = current_load(h->config.deployment, &current);
        if (r < 0 && r != -ENOENT)
                return log_error_errno(
                        r, "Failed to read current.json of deployment %s: %m", h->config.deployment);

        /* the instance string is compared before unescaping: a second upgrade refused because one is in
         * flight never made current.json, so its rollback leaves the first alone */
        if (r == -ENOENT || !streq_ptr(json_get_string(current, "instance"), h->instance)) {
                log_notice(
                        "codebolt-upgrade@%s made no change (refused in preflight): nothing to roll back.",
                        h->instance);
                return write_ledger(
                        h, NULL, "refused", "preflight", "refused in preflight; nothing changed");
        }

        phase = json_get_string(current, "phase");
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(current, "server_stopped")) &&
            (streq_ptr(phase, "preflight") || streq_ptr(phase, "stage") || streq_ptr(phase, "backup")))
                return abort_upgrade(h, current);

        /* the rest of the rollback table (undo a drain, switch back, restore) is not built yet: hold */
        log_full(
                LOG_CRIT,
                0,
                "The upgrade to %s failed in phase %s, which this version cannot roll back automatically. "
                "The state is held: "
                "current.json stays; put back the release with 'ln -sfn releases/%s /opt/codebolt/current', "
                "the pin, and "
                "start %s by hand.",
                h->version,
                strempty(phase),
                strempty(json_get_string(current, "from")),
                h->config.server_unit);
        return write_ledger(
                h, current, "held", strempty(phase), "automatic rollback of this phase is not available");
}

/* ExecStopPost=: OnFailure= does not fire when an operator stops the unit, so queue the same rollback
 * job (without waiting: the two requests merge into one job) whenever the upgrade did not succeed */
static int queue_if_failed(const char *instance) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *unit = NULL;
        const char *result = getenv("SERVICE_RESULT");
        int r;

        log_setup(NULL, "rollback");
        if (!result || streq(result, "success") || streq(result, "exec-condition"))
                return 0;
        if (asprintf(
                    &unit,
                    "codebolt-rollback%s%s@%s.service",
                    getenv("CODEBOLT_DEPLOYMENT") ? "-" : "",
                    strempty(getenv("CODEBOLT_DEPLOYMENT")),
                    instance) < 0)
                return log_oom(), 1;

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus to queue %s: %m", unit), 1;
        r = sd_bus_call_method(
                bus,
                "org.freedesktop.systemd1",
                "/org/freedesktop/systemd1",
                "org.freedesktop.systemd1.Manager",
                "StartUnit",
                &error,
                NULL,
                "ss",
                unit,
                "replace");
        if (r < 0)
                return log_error_errno(r, "Failed to queue %s: %s", unit, error.message ?: strerror(-r)), 1;
        log_notice("The upgrade ended '%s': queued %s.", result, unit);
        return 0;
}

int main(int argc, char *argv[]) {
        if (argc == 3 && streq(argv[1], "--queue-if-failed"))
                return queue_if_failed(argv[2]);
        return helper_main(argc, argv, "rollback", HELPER_NO_CURRENT | HELPER_ANY_VERSION, run);
}
