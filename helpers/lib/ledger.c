/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ledger.c: ledger.json, every upgrade ever attempted, and its public export (docs/architecture.md, "State
 * on disk") */
#define _GNU_SOURCE
#include <libgen.h>

#include "json-util.h"
#include "ledger.h"
#include "macro.h"
#include "paths.h"
#include "state.h"

#define LEDGER_FILE "ledger.json"

static const char *const results[] = {
        "succeeded", "refused", "aborted", "rolled-back", "restored", "held"
};

/* what another host may read: nothing that names a secret, a credential or a local account */
static const char *const public_keys[] = { "id",    "from",    "to",       "result",
                                           "phase", "started", "finished", "migrations",
                                           "tree",  "smoke",   "watch",    "tool_version" };

bool ledger_result_is_valid(const char *result) {
        for (size_t i = 0; i < ELEMENTSOF(results); i++)
                if (streq_ptr(result, results[i]))
                        return true;
        return false;
}

static int ledger_path(const char *deployment, char **ret) {
        char *p = paths_state_file(deployment, LEDGER_FILE);

        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

int ledger_load(const char *deployment, cJSON **ret) {
        _cleanup_free_ char *path = NULL;
        _cleanup_json_ cJSON *j = NULL;
        int r;

        r = ledger_path(deployment, &path);
        if (r < 0)
                return r;
        r = state_read_json(path, &j);
        if (r == -ENOENT) {
                j = cJSON_CreateArray();
                if (!j)
                        return -ENOMEM;
        } else if (r < 0)
                return r;
        else if (!cJSON_IsArray(j))
                return -EBADMSG;

        *ret = TAKE_PTR(j);
        return 0;
}

int ledger_save(const char *deployment, const cJSON *ledger) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = paths_state_file_mkdir(deployment, LEDGER_FILE, &path);
        if (r < 0)
                return r;
        return state_write_json_atomic(path, ledger, 0600);
}

int ledger_append(const char *deployment, cJSON *entry) {
        _cleanup_json_ cJSON *owned = entry, *ledger = NULL;
        int r;

        /* which codebolt-upgrade wrote it: a post-mortem reads an entry with the rules it was made by */
        if (!cJSON_HasObjectItem(owned, "tool_version") &&
            !cJSON_AddStringToObject(owned, "tool_version", PACKAGE_VERSION))
                return -ENOMEM;
        r = ledger_load(deployment, &ledger);
        if (r < 0)
                return r;
        if (!cJSON_AddItemToArray(ledger, owned))
                return -ENOMEM;
        TAKE_PTR(owned);
        return ledger_save(deployment, ledger);
}

int ledger_export(const cJSON *ledger, const char *export_path) {
        _cleanup_json_ cJSON *pub = cJSON_CreateArray();
        _cleanup_free_ char *dir = strdup(export_path);
        const cJSON *e;
        int r;

        if (!pub || !dir)
                return -ENOMEM;

        cJSON_ArrayForEach (e, ledger) {
                cJSON *o = cJSON_CreateObject();
                if (!o || !cJSON_AddItemToArray(pub, o)) {
                        cJSON_Delete(o);
                        return -ENOMEM;
                }
                for (size_t i = 0; i < ELEMENTSOF(public_keys); i++) {
                        const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, public_keys[i]);
                        if (v && !cJSON_AddItemToObject(o, public_keys[i], cJSON_Duplicate(v, true)))
                                return -ENOMEM;
                }
        }

        r = paths_mkdir_p(dirname(dir), 0755);
        if (r < 0)
                return r;
        return state_write_json_atomic(export_path, pub, 0644);
}

const cJSON *ledger_last(const cJSON *ledger) {
        int n = cJSON_GetArraySize(ledger);

        return n > 0 ? cJSON_GetArrayItem(ledger, n - 1) : NULL;
}

const cJSON *ledger_last_for_version(const cJSON *ledger, const char *version) {
        const cJSON *e, *found = NULL;

        cJSON_ArrayForEach (e, ledger)
                if (streq_ptr(json_get_string(e, "to"), version))
                        found = e;
        return found;
}

/* the entry that decides whether version failed here: its last one that changed something (a
 * refusal changed nothing, so it neither makes nor hides a failure) */
static cJSON *last_deciding(const cJSON *ledger, const char *version) {
        cJSON *e, *last = NULL;

        cJSON_ArrayForEach (e, ledger)
                if (streq_ptr(json_get_string(e, "to"), version) &&
                    !streq_ptr(json_get_string(e, "result"), "refused"))
                        last = e;
        return last;
}

const cJSON *ledger_last_change_for_version(const cJSON *ledger, const char *version) {
        return last_deciding(ledger, version);
}

const cJSON *ledger_version_failure(const cJSON *ledger, const char *version) {
        const cJSON *last = last_deciding(ledger, version);
        const char *result;

        if (!last || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(last, "cleared")))
                return NULL;
        result = json_get_string(last, "result");
        if (streq_ptr(result, "rolled-back") || streq_ptr(result, "restored") || streq_ptr(result, "held"))
                return last;
        return NULL;
}

bool ledger_version_failed(const cJSON *ledger, const char *version) {
        return ledger_version_failure(ledger, version) != NULL;
}

int ledger_clear_failed(cJSON *ledger, const char *version, const char *when) {
        cJSON *last;

        if (!ledger_version_failed(ledger, version))
                return 0;
        last = last_deciding(ledger, version);
        if (!cJSON_AddBoolToObject(last, "cleared", true) ||
            !cJSON_AddStringToObject(last, "cleared_at", when))
                return -ENOMEM;
        return 1;
}
