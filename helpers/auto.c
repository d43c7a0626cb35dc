/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* auto: the unattended upgrade (codebolt-upgrade-auto[-<name>].service, started by its timer;
 * docs/architecture.md, "Commands", §5 [Auto]). Picks the target ([Auto] Channel=: the exact version that
 * dist-tag names; else the newest published release above the running one that Track= allows, never a major,
 * never a prerelease or a deprecated version), skips the versions that failed here and, on production, those
 * that have not baked on staging, then starts codebolt-upgrade[-<name>]@<version>.service over D-Bus and
 * waits for it. `codebolt-upgrade hold` pauses it: a held deployment's run does nothing and says since when.
 * Exit 0: the upgrade succeeded, or there was nothing to do (or on hold); 1: it failed (the ledger says how)
 * or no target could be chosen; 2: bad usage or configuration. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <systemd/sd-bus.h>

#include "bus.h"
#include "helper.h"
#include "hold-file.h"
#include "checks.h"
#include "config.h"
#include "current.h"
#include "http.h"
#include "json-util.h"
#include "ledger.h"
#include "log.h"
#include "macro.h"
#include "metadata.h"
#include "paths.h"
#include "release.h"
#include "semver.h"
#include "time-util.h"
#include "unitname.h"

static inline const char *strna(const char *s) {
        return s ?: "?";
}

typedef struct AutoContext {
        const Config *config;
        const cJSON *ledger;         /* this deployment's */
        const cJSON *staging_ledger; /* with Role=production: the staging host's export */
        usec_t now;
} AutoContext;

/* metadata_pick_auto()'s predicate: a version not to take, and why (logged) */
static bool auto_rejects(const char *version, void *userdata) {
        AutoContext *a = userdata;
        _cleanup_free_ char *reason = NULL;
        int r;

        if (ledger_version_failed(a->ledger, version)) {
                const cJSON *entry = ledger_version_failure(a->ledger, version);
                log_notice(
                        "skipping %s: its last upgrade here ended %s; codebolt-upgrade clear %s allows it",
                        version,
                        strempty(json_get_string(entry, "result")),
                        version);
                return true;
        }
        if (a->staging_ledger) {
                r = checks_staging(a->staging_ledger, version, a->config->bake_time, a->now, &reason);
                if (r < 0 || r == CHECK_FAIL) {
                        log_notice(
                                "skipping %s: the staging gate does not pass: %s",
                                version,
                                reason ?: "cannot be checked");
                        return true;
                }
        }
        return false;
}

static int load_staging_ledger(const Config *c, cJSON **ret) {
        _cleanup_free_ char *url = NULL, *body = NULL, *error = NULL;
        int r;

        if (!c->staging_ledger)
                return log_error_errno(
                        EINVAL,
                        "[Policy] Role=production needs StagingLedger= (the staging host's exported "
                        "ledger): no unattended upgrade.");
        url = c->staging_ledger[0] == '/' ? paths_rooted(c->staging_ledger) : strdup(c->staging_ledger);
        if (!url)
                return log_oom();
        r = http_fetch_file(url, &body, NULL, &error);
        if (r < 0)
                return log_error_errno(
                        r, "Cannot read the staging ledger %s: %s", url, error ?: strerror(-r));
        *ret = cJSON_Parse(body);
        if (!cJSON_IsArray(*ret)) {
                cJSON_Delete(*ret);
                *ret = NULL;
                return log_error_errno(EBADMSG, "The staging ledger %s is not a JSON array.", url);
        }
        return 0;
}

/* pick the target; 1 with *ret (malloc'd), 0 nothing to do, <0 logged */
static int pick_target(const Config *c, const char *running, char **ret) {
        _cleanup_(metadata_done) Metadata m = {};
        _cleanup_json_ cJSON *ledger = NULL, *staging = NULL;
        _cleanup_free_ char *error = NULL;
        const char *track = config_auto_track_to_string(c->auto_track);
        const Release *target = NULL;
        AutoContext a = { .config = c };
        SemVer v = {};
        int r;

        r = semver_parse(running, &v);
        if (r < 0)
                return log_error_errno(
                        r,
                        "Deployment %s runs '%s', which is not a version: no unattended upgrade.",
                        c->deployment,
                        running);
        r = metadata_load(c, &m, &error);
        if (r < 0) {
                semver_done(&v);
                return log_error_errno(r, "Cannot read the release metadata: %s", error ?: strerror(-r));
        }
        log_info("Release metadata from %s.", m.source);
        r = ledger_load(c->deployment, &ledger);
        if (r < 0) {
                semver_done(&v);
                return log_error_errno(r, "Failed to read the ledger of deployment %s: %m", c->deployment);
        }
        if (c->role == ROLE_PRODUCTION) {
                r = load_staging_ledger(c, &staging);
                if (r < 0) {
                        semver_done(&v);
                        return r;
                }
        }
        a = (AutoContext){
                .config = c,
                .ledger = ledger,
                .staging_ledger = staging,
                .now = now_realtime(),
        };

        r = metadata_pick_auto(&m, &v, c->auto_track, c->auto_channel, auto_rejects, &a, &target);
        semver_done(&v);
        switch (r) {
        case 1:
                break;
        case 0:
                if (c->auto_channel)
                        log_info(
                                "deployment %s runs %s; Channel=%s names %s: nothing to do",
                                c->deployment,
                                running,
                                c->auto_channel,
                                strna(metadata_dist_tag(&m, c->auto_channel)));
                else
                        log_info(
                                "deployment %s runs %s, the newest allowed by Track=%s: nothing to do",
                                c->deployment,
                                running,
                                track);
                return 0;
        case -ENOENT:
                return log_error_errno(
                        r,
                        "Channel=%s: the release metadata (%s) has no such dist-tag.",
                        c->auto_channel,
                        m.source);
        case -ENXIO:
                return log_error_errno(
                        r,
                        "Channel=%s names %s, which the release metadata does not list.",
                        c->auto_channel,
                        metadata_dist_tag(&m, c->auto_channel));
        case -EPERM:
                return log_error_errno(
                        r,
                        "Channel=%s names %s, above what Track=%s allows from %s (never a major "
                        "unattended): upgrade by hand with systemctl start.",
                        c->auto_channel,
                        metadata_dist_tag(&m, c->auto_channel),
                        track,
                        running);
        default:
                return log_error_errno(r, "Failed to choose a version: %m");
        }
        *ret = strdup(target->version);
        if (!*ret)
                return log_oom();
        if (c->auto_channel)
                log_info("Channel=%s names %s.", c->auto_channel, target->version);
        else
                log_info(
                        "%s is the newest version above %s that Track=%s allows.",
                        target->version,
                        running,
                        track);
        return 1;
}

/* 1 while the unit has a job queued or running, or is activating or deactivating; 0 when it is idle */
static int unit_busy(sd_bus *bus, const char *unit) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *path = NULL, *active = NULL, *sub = NULL;
        const char *job_path;
        uint32_t job_id = 0;
        int r;

        r = bus_unit_get_path(bus, unit, &path);
        if (r < 0)
                return r;
        r = sd_bus_get_property(
                bus,
                "org.freedesktop.systemd1",
                path,
                "org.freedesktop.systemd1.Unit",
                "Job",
                &error,
                &reply,
                "(uo)");
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "(uo)", &job_id, &job_path);
        if (r < 0)
                return r;
        if (job_id != 0)
                return 1;
        r = bus_unit_get_state(bus, unit, &active, &sub);
        if (r < 0)
                return r;
        return streq(active, "activating") || streq(active, "deactivating");
}

/* A failed upgrade unit queues its rollback (OnFailure=, ExecStopPost=) before its job ends, and the
 * rollback writes the ledger's entry: wait until that unit is idle. */
static int wait_rollback(sd_bus *bus, const Config *c, const char *instance) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_free_ char *unit = NULL;
        int r;

        if (unitname_deployment_unit("rollback", c->deployment, instance, &unit) < 0)
                return log_oom();
        r = bus_unit_watch_properties(bus, unit, &slot);
        if (r < 0)
                return log_error_errno(r, "Failed to watch %s: %m", unit);
        log_status("Waiting for %s…", unit);
        for (;;) {
                r = unit_busy(bus, unit);
                if (r < 0)
                        return log_error_errno(r, "Failed to read the state of %s: %m", unit);
                if (r == 0)
                        return 0;
                /* woken by PropertiesChanged; the timeout only guards against a missed signal */
                do {
                        r = sd_bus_process(bus, NULL);
                } while (r > 0);
                if (r < 0)
                        return log_error_errno(r, "Failed to process the bus: %m");
                r = sd_bus_wait(bus, 5 * USEC_PER_SEC);
                if (r < 0 && r != -EINTR)
                        return log_error_errno(r, "Failed to wait on the bus: %m");
        }
}

static int start_upgrade(const Config *c, const char *running, const char *version) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *instance = NULL, *unit = NULL, *result = NULL, *error = NULL;
        _cleanup_json_ cJSON *ledger = NULL;
        const cJSON *entry = NULL;
        int r;

        if (unitname_instance_for_version(version, &instance) < 0 ||
            unitname_deployment_unit("upgrade", c->deployment, instance, &unit) < 0)
                return log_oom();

        r = bus_open_system(&bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");
        log_status("Upgrading deployment %s from %s to %s: %s…", c->deployment, running, version, unit);
        r = bus_start_unit(bus, unit, USEC_INFINITY, &result, &error);
        if (r < 0)
                return log_error_errno(r, "Failed to start %s: %s", unit, error ?: strerror(-r));

        if (!streq(strempty(result), "done"))
                (void)wait_rollback(bus, c, instance);

        r = ledger_load(c->deployment, &ledger);
        if (r >= 0)
                entry = ledger_last_for_version(ledger, version);
        if (!entry)
                return log_error_errno(
                        EIO,
                        "%s ended (job result '%s') without a ledger entry for %s; see journalctl -u %s",
                        unit,
                        strna(result),
                        version,
                        unit);
        if (streq(strempty(json_get_string(entry, "result")), "succeeded") && streq(result, "done")) {
                log_notice(
                        "Deployment %s upgraded from %s to %s: succeeded (%s).",
                        c->deployment,
                        strna(json_get_string(entry, "from")),
                        version,
                        unit);
                return 0;
        }
        return log_error_errno(
                EIO,
                "Deployment %s: the upgrade to %s ended %s (phase %s)%s%s; see journalctl -u %s",
                c->deployment,
                version,
                strna(json_get_string(entry, "result")),
                strna(json_get_string(entry, "phase")),
                json_get_string(entry, "message") ? ": " : "",
                strempty(json_get_string(entry, "message")),
                unit);
}

int main(int argc, char *argv[]) {
        _cleanup_free_ char *running = NULL, *target = NULL, *since = NULL, *reason = NULL;
        _cleanup_(current_done) Current current = {};
        Config config = {};
        int r;

        log_setup("codebolt-upgrade-auto", NULL);
        if (argc > 1) {
                log_error("Usage: %s (no arguments; CODEBOLT_DEPLOYMENT= names the deployment)", argv[0]);
                return 2;
        }
        r = helper_config_load(getenv("CODEBOLT_DEPLOYMENT"), &config, NULL);
        if (r < 0)
                return 2;
        log_set_deployment(config.deployment);

        /* one whose current.json cannot be read (a wrongly typed key) is in flight all the same */
        r = current_load(config.deployment, &current, NULL);
        if (r >= 0 || r == -EBADMSG || r == -ERANGE) {
                log_notice(
                        "An upgrade of deployment %s to %s is in flight (phase %s): no unattended upgrade "
                        "now.",
                        config.deployment,
                        strna(current.to),
                        strna(current.phase));
                r = 0;
                goto finish;
        }
        r = helper_hold_read(config.deployment, &since, &reason);
        if (r < 0) {
                log_error_errno(r, "Failed to read the hold of deployment %s: %m", config.deployment);
                r = 1;
                goto finish;
        }
        if (r > 0) {
                log_notice(
                        "Unattended upgrades of deployment %s are on hold since %s%s%s%s: nothing done "
                        "(codebolt-upgrade%s%s unhold resumes them).",
                        config.deployment,
                        strna(since),
                        reason ? " (" : "",
                        strempty(reason),
                        reason ? ")" : "",
                        UNITNAME_DEPLOYMENT_OPTION(config.deployment));
                r = 0;
                goto finish;
        }
        r = release_current_version(&running);
        if (r < 0) {
                log_error_errno(
                        r,
                        "Cannot tell which version deployment %s runs (%s/current): %m",
                        config.deployment,
                        paths_install_root());
                r = 1;
                goto finish;
        }

        r = pick_target(&config, running, &target);
        if (r <= 0) {
                r = r < 0 ? 1 : 0;
                goto finish;
        }
        log_set_version(target);
        r = start_upgrade(&config, running, target) < 0 ? 1 : 0;
finish:
        config_done(&config);
        return r;
}
