/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* current.c: current.json, the upgrade in flight (docs/architecture.md, "State on disk") */
#define _GNU_SOURCE
#include <time.h>

#include "current.h"
#include "json-util.h"
#include "macro.h"
#include "paths.h"
#include "state.h"

#define CURRENT_MODE 0600

static int current_path(const char *deployment, char **ret) {
        _cleanup_free_ char *dir = paths_state_dir(deployment);
        char *p;
        int r;

        if (!dir)
                return -ENOMEM;
        r = paths_mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        if (asprintf(&p, "%s/current.json", dir) < 0)
                return -ENOMEM;
        *ret = p;
        return 0;
}

char *current_timestamp(void) {
        struct tm tm;
        time_t t = time(NULL);
        char *s;

        if (!gmtime_r(&t, &tm))
                return NULL;
        if (asprintf(
                    &s,
                    "%04d-%02d-%02dT%02d:%02d:%02dZ",
                    tm.tm_year + 1900,
                    tm.tm_mon + 1,
                    tm.tm_mday,
                    tm.tm_hour,
                    tm.tm_min,
                    tm.tm_sec) < 0)
                return NULL;
        return s;
}

int current_load(const char *deployment, cJSON **ret) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = current_path(deployment, &path);
        if (r < 0)
                return r;
        return state_read_json(path, ret);
}

int current_create(const char *deployment, const cJSON *j) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = current_path(deployment, &path);
        if (r < 0)
                return r;
        return state_create_json_exclusive(path, j, CURRENT_MODE);
}

int current_save(const char *deployment, cJSON *j) {
        _cleanup_free_ char *path = NULL, *now = current_timestamp();
        int r;

        if (!now)
                return -ENOMEM;
        r = current_set_string(j, "updated", now);
        if (r < 0)
                return r;
        r = current_path(deployment, &path);
        if (r < 0)
                return r;
        return state_write_json_atomic(path, j, CURRENT_MODE);
}

int current_remove(const char *deployment) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = current_path(deployment, &path);
        if (r < 0)
                return r;
        return state_unlink(path);
}

int current_set_aside(const char *deployment, const char *name) {
        _cleanup_free_ char *path = NULL, *aside = paths_state_file(deployment, name);
        int r;

        if (!aside)
                return -ENOMEM;
        r = current_path(deployment, &path);
        if (r < 0)
                return r;
        if (rename(path, aside) < 0)
                return -errno;
        return 0;
}

static int replace_item(cJSON *j, const char *key, cJSON *item) {
        if (!item)
                return -ENOMEM;
        /* case-sensitive, like the replace below: cJSON_HasObjectItem() would match "Phase" for "phase" */
        if (cJSON_GetObjectItemCaseSensitive(j, key)) {
                if (!cJSON_ReplaceItemInObjectCaseSensitive(j, key, item)) {
                        cJSON_Delete(item);
                        return -ENOMEM;
                }
                return 0;
        }
        if (!cJSON_AddItemToObject(j, key, item)) {
                cJSON_Delete(item);
                return -ENOMEM;
        }
        return 0;
}

int current_set_string(cJSON *j, const char *key, const char *value) {
        return replace_item(j, key, value ? cJSON_CreateString(value) : cJSON_CreateNull());
}

int current_set_bool(cJSON *j, const char *key, bool value) {
        return replace_item(j, key, cJSON_CreateBool(value));
}

int current_set_phase(cJSON *j, const char *phase) {
        return current_set_string(j, "phase", phase);
}

bool current_phase_is_done(const cJSON *j, const char *phase) {
        const cJSON *phases = cJSON_GetObjectItemCaseSensitive(j, "phases"), *p;

        cJSON_ArrayForEach (p, phases)
                if (cJSON_IsString(p) && streq(p->valuestring, phase))
                        return true;
        return false;
}

int current_phase_done(cJSON *j, const char *phase) {
        cJSON *phases = cJSON_GetObjectItemCaseSensitive(j, "phases");

        if (current_phase_is_done(j, phase))
                return 0;
        if (!cJSON_IsArray(phases)) {
                int r = replace_item(j, "phases", cJSON_CreateArray());
                if (r < 0)
                        return r;
                phases = cJSON_GetObjectItemCaseSensitive(j, "phases");
        }
        cJSON *s = cJSON_CreateString(phase);
        if (!s || !cJSON_AddItemToArray(phases, s)) {
                cJSON_Delete(s);
                return -ENOMEM;
        }
        return 0;
}

int current_set_migration(cJSON *j, const char *id, bool breaking, const cJSON *drops, const char *state) {
        cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "migrations"), *m;
        int r;

        if (!cJSON_IsArray(list)) {
                r = replace_item(j, "migrations", cJSON_CreateArray());
                if (r < 0)
                        return r;
                list = cJSON_GetObjectItemCaseSensitive(j, "migrations");
        }

        cJSON_ArrayForEach (m, list)
                if (streq_ptr(json_get_string(m, "id"), id))
                        return current_set_string(m, "state", state);

        _cleanup_json_ cJSON *n = cJSON_CreateObject();
        if (!n || !cJSON_AddStringToObject(n, "id", id) || !cJSON_AddBoolToObject(n, "breaking", breaking) ||
            !cJSON_AddItemToObject(n, "drops", drops ? cJSON_Duplicate(drops, true) : cJSON_CreateArray()) ||
            !cJSON_AddStringToObject(n, "state", state))
                return -ENOMEM;
        if (!cJSON_AddItemToArray(list, n))
                return -ENOMEM;
        TAKE_PTR(n);
        return 0;
}

int current_restore_reason(const cJSON *current, char **ret) {
        const cJSON *m;
        char *s = NULL;
        int r = 0;

        cJSON_ArrayForEach (m, cJSON_GetObjectItemCaseSensitive(current, "migrations")) {
                const char *id = strempty(json_get_string(m, "id")), *state = json_get_string(m, "state");

                if (streq_ptr(state, "failed"))
                        r = asprintf(&s, "migration %s failed", id);
                else if (streq_ptr(state, "applying"))
                        r = asprintf(&s, "migration %s may have been cut off mid-flight", id);
                else if (
                        streq_ptr(state, "applied") &&
                        !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(m, "breaking")))
                        r = asprintf(&s, "breaking migration %s was applied", id);
                else
                        continue;
                if (r < 0)
                        return -ENOMEM;
                break;
        }
        *ret = s;
        return 0;
}
