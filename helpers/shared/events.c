/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* events.c: what an upgrade tells the outside: the [Notify] webhook and the site's hooks */
#define _GNU_SOURCE
#include <stdio.h>

#include "credentials.h"
#include "trust.h"
#include "events.h"
#include "hooks.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "notify.h"
#include "paths.h"

/* a webhook that does not answer in this time is given up: the upgrade does not wait for it */
#define HELPER_NOTIFY_TIMEOUT (10 * USEC_PER_SEC)

/* key = value (NULL: leave the key out), replacing what the caller's fields said */
static int notify_field(cJSON *o, const char *key, const char *value) {
        cJSON *v;

        /* what the helper knows wins; what it does not know, the caller may say */
        if (!value)
                return 0;
        cJSON_DeleteItemFromObjectCaseSensitive(o, key);
        v = cJSON_CreateString(value);
        if (!v)
                return -ENOMEM;
        if (!cJSON_AddItemToObject(o, key, v)) {
                cJSON_Delete(v);
                return -ENOMEM;
        }
        return 0;
}

void events_notify(const Config *c, const char *event, const cJSON *fields) {
        _cleanup_free_ char *where = NULL, *token = NULL, *error = NULL;
        _cleanup_json_ cJSON *all = NULL;
        int r;

        if (!c->notify_url)
                return;
        /* the log names the URL without its user:password@ or query, where secrets may travel */
        if (notify_url_for_log(c->notify_url, &where) < 0) {
                log_warning("Out of memory: not sending the %s notification.", event);
                return;
        }

        /* a missing token file means no Authorization header; one with the wrong owner or mode is
         * refused as every credential is */
        if (c->notify_token_credential) {
                _cleanup_free_ char *why = NULL;

                r = trust_read_credential(c->notify_token_credential, &token, &why);
                if (r < 0 && r != -ENOENT) {
                        _cleanup_free_ char *path = paths_credential(c->notify_token_credential);
                        log_warning_errno(
                                r,
                                "Not sending the %s notification to %s: cannot use the token file %s (it "
                                "must be owned by root and have mode 0600): %s",
                                event,
                                where,
                                strempty(path),
                                why ?: strerror(-r));
                        return;
                }
        }

        all = fields ? cJSON_Duplicate(fields, true) : cJSON_CreateObject();
        if (!all || notify_field(all, "deployment", c->deployment) < 0) {
                log_warning("Out of memory: not sending the %s notification to %s.", event, where);
                return;
        }

        r = notify_send(c->notify_url, token, event, all, HELPER_NOTIFY_TIMEOUT, &error);
        if (r < 0) {
                log_warning_errno(
                        r, "Failed to send the %s notification to %s: %s", event, where, strempty(error));
                return;
        }
        log_debug("Sent the %s notification to %s.", event, where);
}

void helper_notify(Helper *h, const char *event, const cJSON *fields) {
        _cleanup_json_ cJSON *all = NULL;

        if (!h->config.notify_url)
                return;
        all = fields ? cJSON_Duplicate(fields, true) : cJSON_CreateObject();
        if (!all || notify_field(all, "version", h->version) < 0 ||
            notify_field(all, "from", h->current.from) < 0 || notify_field(all, "phase", h->phase) < 0) {
                log_warning("Out of memory: not sending the %s notification.", event);
                return;
        }
        events_notify(&h->config, event, all);
}

typedef struct HookRun {
        Helper *h;
        const HookContext *ctx;
        bool fatal;
} HookRun;

static void hook_report(const Hook *hook, const HookResult *result, void *userdata) {
        const HookRun *run = userdata;
        _cleanup_free_ char *how = NULL, *output = NULL;

        switch (hook->kind) {
        case HOOK_MASKED:
                log_debug("Hook %s is masked (a symlink to /dev/null).", hook->path);
                return;
        case HOOK_NOT_EXECUTABLE:
                log_warning(
                        "Skipping hook %s: it is not executable (chmod +x it, or mask it with a symlink "
                        "to /dev/null).",
                        hook->path);
                return;
        case HOOK_NOT_REGULAR:
                log_warning("Skipping hook %s: it is not a regular file.", hook->path);
                return;
        case HOOK_EXECUTABLE:
                break;
        }
        if (!result) {
                log_status("%s: running hook %s.d/%s", run->h->phase, run->ctx->stage, hook->name);
                return;
        }
        if (result->status == HOOK_PASSED) {
                log_info("Hook %s passed.", hook->path);
                return;
        }

        how = hook_result_to_string(result, run->ctx->timeout);
        /* a refused hook never ran, so it said nothing */
        if (result->status != HOOK_REFUSED &&
            asprintf(&output, " Its output: journalctl -t %s.d/%s", run->ctx->stage, hook->name) < 0)
                output = NULL;
        log_full(
                run->fatal ? LOG_ERR : LOG_WARNING,
                0,
                "Hook %s %s%s.%s",
                hook->path,
                how ?: "failed",
                streq(run->ctx->stage, HOOKS_PRE_UPGRADE) ? ": refusing the upgrade"
                : run->fatal                              ? ": the smoke test fails"
                                                          : "",
                strempty(output));
}

int helper_run_hooks(Helper *h, const char *stage, const Current *current, const char *result) {
        bool fatal = streq(stage, HOOKS_PRE_UPGRADE) || streq(stage, HOOKS_SMOKE), relock = h->lock_fd >= 0;
        HookContext ctx = {
                .stage = stage,
                .phase = h->phase,
                .deployment = h->config.deployment,
                .from = (current ?: &h->current)->from,
                .to = h->version,
                .backup = (current ?: &h->current)->backup,
                .result = result,
                .timeout = h->config.timeout_hook,
                .keep_going = !fatal,
        };
        HookRun run = { .h = h, .ctx = &ctx, .fatal = fatal };
        int r, k;

        helper_unlock(h);
        r = hooks_run(&ctx, hook_report, &run, NULL);
        if (relock && (k = helper_lock(h)) < 0)
                log_warning_errno(
                        k, "Failed to take the state lock of deployment %s again: %m", h->config.deployment);

        if (r < 0)
                log_full(fatal ? LOG_ERR : LOG_WARNING, r, "Failed to run the %s.d hooks: %m", stage);
        if (!fatal)
                return 0;
        if (r < 0)
                return r;
        return r > 0 ? -EPROTO : 0;
}
