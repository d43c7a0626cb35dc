/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* json-util.h: cJSON ownership helpers */
#pragma once

#include <cjson/cJSON.h>

#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);
#define _cleanup_json_ _cleanup_(cJSON_Deletep)

/* the string member of o named key, or NULL */
static inline const char *json_get_string(const cJSON *o, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}
