/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* json-util.c: numbers out of JSON documents, range-checked before they become integers; members set */
#include <errno.h>
#include <math.h>

#include "json-util.h"

/* 2^63 as a double: every finite double below it (and at least INT64_MIN) converts to int64_t */
#define TWO_63 9223372036854775808.0

int json_number_to_int64(double d, int64_t min, int64_t max, int64_t *ret) {
        int64_t v;

        /* NaN, the infinities and fractions are no count, protocol or PID; the cast of a double outside
         * int64_t is undefined (on x86 it gives INT64_MIN), so the range is checked in doubles first */
        if (!isfinite(d) || d != trunc(d))
                return -EBADMSG;
        if (d < -TWO_63 || d >= TWO_63)
                return -ERANGE;
        v = (int64_t)d;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int json_get_int64_range(const cJSON *o, const char *key, int64_t min, int64_t max, int64_t *ret) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

        if (!v || cJSON_IsNull(v))
                return -ENOENT;
        if (!cJSON_IsNumber(v))
                return -EBADMSG;
        return json_number_to_int64(v->valuedouble, min, max, ret);
}

int json_set_item(cJSON *o, const char *key, cJSON *item) {
        if (!item)
                return -ENOMEM;
        /* case-sensitive, like the replace below: cJSON_HasObjectItem() would match "Phase" for "phase" */
        if (cJSON_GetObjectItemCaseSensitive(o, key) ? !cJSON_ReplaceItemInObjectCaseSensitive(o, key, item)
                                                     : !cJSON_AddItemToObject(o, key, item)) {
                cJSON_Delete(item);
                return -ENOMEM;
        }
        return 0;
}

int json_set_string(cJSON *o, const char *key, const char *value) {
        return json_set_item(o, key, value ? cJSON_CreateString(value) : cJSON_CreateNull());
}

int json_set_bool(cJSON *o, const char *key, bool value) {
        return json_set_item(o, key, cJSON_CreateBool(value));
}

int json_set_number(cJSON *o, const char *key, double value) {
        return json_set_item(o, key, cJSON_CreateNumber(value));
}
