/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* json-util.h: cJSON ownership helpers, and numbers out of JSON as range-checked integers */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);
#define _cleanup_json_ _cleanup_(cJSON_Deletep)

/* the string member of o named key, or NULL */
static inline const char *json_get_string(const cJSON *o, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A JSON number (or a /metrics sample value) as an integer within [min, max]: -EBADMSG when d is NaN, an
 * infinity or has a fraction, -ERANGE when it is whole but outside [min, max]. Never a cast of an
 * arbitrary double, which is undefined outside the target type. */
int json_number_to_int64(double d, int64_t min, int64_t max, int64_t *ret);

/* The number member of o named key, as json_number_to_int64() takes it. -ENOENT when o has no such member
 * (or it is null), -EBADMSG when it is not a number. */
int json_get_int64_range(const cJSON *o, const char *key, int64_t min, int64_t max, int64_t *ret);

/* Set o's member key (case-sensitive) to item, replacing one that is there or adding it at the end.
 * Takes item, which may be NULL (out of memory: -ENOMEM). */
int json_set_item(cJSON *o, const char *key, cJSON *item);
/* json_set_item() with a string; a NULL value stores null. 0 or -ENOMEM. */
int json_set_string(cJSON *o, const char *key, const char *value);
/* json_set_string() for a bool */
int json_set_bool(cJSON *o, const char *key, bool value);
/* json_set_string() for a number */
int json_set_number(cJSON *o, const char *key, double value);
