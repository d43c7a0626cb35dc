/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-smoke-steps-parse.c: a steps file ([Smoke] Steps=) through smoke_steps_parse(), then each
 * step's path and body through the substitutions smoke does, with the variables defined as the smoke
 * run would have them: the parser promised that every ${var} is set by then */
#define _GNU_SOURCE
#include <errno.h>

#include "fuzz.h"
#include "json-util.h"
#include "smoke-steps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const predefined[] = { "user", "password", NULL };
        _cleanup_free_ char *input = fuzz_string(data, size), *error = NULL;
        _cleanup_(smoke_steps_done) SmokeSteps steps = {};
        _cleanup_json_ cJSON *vars = NULL;
        int r;

        r = smoke_steps_parse(input, predefined, &steps, &error);
        if (r < 0) {
                FUZZ_CHECK(r == -EINVAL || r == -EBADMSG || r == -ENOMEM);
                FUZZ_CHECK(r == -ENOMEM || error);
                return 0;
        }

        vars = cJSON_CreateObject();
        if (!vars || !cJSON_AddStringToObject(vars, "user", "smoke") ||
            !cJSON_AddStringToObject(vars, "password", "a/b c%"))
                abort();
        for (size_t i = 0; i < steps.n_steps; i++) {
                const SmokeStep *s = &steps.steps[i];
                _cleanup_free_ char *path = NULL, *missing = NULL, *text = NULL;
                _cleanup_json_ cJSON *body = NULL;
                const cJSON *save;

                FUZZ_CHECK(s->name && s->method && s->path);
                r = smoke_substitute_path(s->path, vars, &path, &missing);
                FUZZ_CHECK(r == 0);
                (void)smoke_uses_variable(s->path, "password");
                if (s->body) {
                        r = smoke_substitute_json(s->body, vars, &body, &missing);
                        FUZZ_CHECK(r == 0);
                        (void)smoke_json_uses_variable(s->body, "password");
                }
                /* what the step saves is there for the next ones: a number, as an id would be */
                cJSON_ArrayForEach (save, s->save) {
                        cJSON *v = cJSON_CreateNumber(42);

                        if (!v)
                                abort();
                        if (cJSON_GetObjectItemCaseSensitive(vars, save->string))
                                cJSON_ReplaceItemInObjectCaseSensitive(vars, save->string, v);
                        else
                                cJSON_AddItemToObject(vars, save->string, v);
                }
                text = smoke_value_to_text(vars);
                FUZZ_CHECK(text);
        }
        return 0;
}
