/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-smoke-json-path.c: "path\njson": smoke_json_path() in a server's answer, and the save, until
 * and fail_if of a step built on that path */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <math.h>

#include "fuzz.h"
#include "json-util.h"
#include "smoke-steps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *input = fuzz_string(data, size), *text = NULL;
        const char *answer_text = fuzz_split_line(input), *found = NULL;
        _cleanup_json_ cJSON *answer = NULL, *save = NULL, *vars = NULL, *conditions = NULL;
        const cJSON *v;
        int r;

        answer = cJSON_Parse(answer_text);
        if (!answer)
                return 0;
        v = smoke_json_path(answer, input);
        if (!*input)
                FUZZ_CHECK(v == answer);

        save = cJSON_CreateObject();
        vars = cJSON_CreateObject();
        if (!save || !vars || !cJSON_AddStringToObject(save, "it", input))
                abort();
        r = smoke_save(answer, save, vars, &found);
        FUZZ_CHECK(v ? r == 0 : r == -ENOENT);
        if (!v) {
                FUZZ_CHECK(found && streq(found, input));
                return 0;
        }
        text = smoke_value_to_text(v);
        FUZZ_CHECK(text);

        /* a scalar the answer holds makes {"path": value} hold, and is saved as itself. Not compared:
         * arrays (a condition's array means "one of"), objects (cJSON never finds one with a repeated
         * key equal to its copy) and numbers out of double's range (cJSON reads 1e999 as infinity,
         * which its relative comparison never finds equal to itself) */
        if (cJSON_IsObject(v) || cJSON_IsArray(v) || (cJSON_IsNumber(v) && !isfinite(v->valuedouble)))
                return 0;
        FUZZ_CHECK(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(vars, "it"), v, true));
        conditions = cJSON_CreateObject();
        if (!conditions || !cJSON_AddItemToObject(conditions, input, cJSON_Duplicate(v, true)))
                abort();
        FUZZ_CHECK(smoke_conditions_all(answer, conditions));
        found = NULL;
        FUZZ_CHECK(smoke_conditions_any(answer, conditions, &found) && found && streq(found, input));
        return 0;
}
