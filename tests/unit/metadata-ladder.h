/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* metadata-ladder.h: the registry document that makes the upgrade path search explore everything, for
 * the metadata tests and bench/plan-path.c */
#pragma once

#include <stdio.h>

#include <cjson/cJSON.h>

/* {"versions": {"1.0.0": …, "1.0.<n-1>": …}}, version i upgradeable only from the two below it; NULL
 * on OOM */
static inline cJSON *metadata_ladder(unsigned n) {
        cJSON *doc = cJSON_CreateObject(), *versions = cJSON_AddObjectToObject(doc, "versions");

        if (!versions) {
                cJSON_Delete(doc);
                return NULL;
        }
        for (unsigned i = 0; i < n; i++) {
                char v[32], range[64];
                cJSON *block;

                snprintf(v, sizeof(v), "1.0.%u", i);
                snprintf(range, sizeof(range), ">=1.0.%u <1.0.%u", i < 2 ? 0 : i - 2, i);
                block = cJSON_AddObjectToObject(cJSON_AddObjectToObject(versions, v), "codebolt");
                if (!block || (i > 0 && !cJSON_AddStringToObject(block, "upgradeFrom", range))) {
                        cJSON_Delete(doc);
                        return NULL;
                }
        }
        return doc;
}
