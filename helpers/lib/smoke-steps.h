/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* smoke-steps.h: the declarative HTTP smoke steps: the steps file, ${var} substitution, JSON paths */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "time-util.h"

/* The steps file ([Smoke] Steps=, docs/architecture.md, "Phases": smoke):
 *
 *   {"steps": [{"name": "log in", "method": "POST", "path": "/api/auth/login",
 *               "body": {"username": "${user}", "password": "${password}"},
 *               "expect": 200, "save": {"token": "token"}}, …]}
 *
 * name      what the step does, for the journal and STATUS= [step N]
 * method    GET, POST, PUT, PATCH, DELETE [GET]
 * path      the request path on the server, "/…", with ${var} references
 * body      JSON sent as the request body; every string in it is substituted, and a string that is
 *           exactly "${var}" becomes the variable's own JSON value (a saved number stays a number)
 * expect    the HTTP status that passes [200]
 * save      {"var": "json.path"}: keep a value of the answer for the later steps ("0.id": member id of
 *           the first element)
 * until     {"json.path": value}: repeat the step every `interval` seconds until every condition
 *           holds (a value that is an array holds when the answer's value is one of its elements)
 * fail_if   {"json.path": value}: the step fails as soon as one condition holds
 * interval  seconds between repeats of an `until` step [1]
 * auth      send "Authorization: Bearer ${token}" once a step saved a token [true]
 *
 * Every ${var} must be predefined (the caller's variables, "user" and "password" for smoke) or saved by
 * an earlier step. */

typedef struct SmokeStep {
        char *name;
        char *method;
        char *path;
        cJSON *body; /* NULL: no body */
        long expect;
        cJSON *save;    /* NULL or {"var": "path"} */
        cJSON *until;   /* NULL or {"path": value} */
        cJSON *fail_if; /* NULL or {"path": value} */
        usec_t interval;
        bool auth;
} SmokeStep;

typedef struct SmokeSteps {
        SmokeStep *steps;
        size_t n_steps;
} SmokeSteps;

/* Parse and check a steps file's text. predefined: the variables the caller defines (NULL-terminated,
 * may be NULL). On failure -EINVAL (or -EBADMSG when text is not JSON, -ENOMEM) and *ret_error (optional)
 * says where: "step 3 (open the project): expect must be an HTTP status". */
int smoke_steps_parse(const char *text, const char *const *predefined, SmokeSteps *ret, char **ret_error);
void smoke_steps_done(SmokeSteps *s);

/* true when template refers to ${name} (the caller keeps a secret's steps out of the journal) */
bool smoke_uses_variable(const char *template, const char *name);
bool smoke_json_uses_variable(const cJSON *template, const char *name);

/* The text of a variable: a string as it is, a number in its shortest form (1, not 1.000000), true,
 * false, null, other JSON unformatted. NULL on OOM. */
char *smoke_value_to_text(const cJSON *v);

/* ${name} replaced by the text of vars' member name. -ENOENT when one is not set (*ret_missing, optional,
 * gets its name), -EINVAL when a "${" is not closed or holds no name. */
int smoke_substitute(const char *template, const cJSON *vars, char **ret, char **ret_missing);
/* the same for a request path: each value is percent-encoded (all but RFC 3986's unreserved characters),
 * so a saved value stays one path segment */
int smoke_substitute_path(const char *template, const cJSON *vars, char **ret, char **ret_missing);
/* the same for a JSON template, as `body` above describes */
int smoke_substitute_json(const cJSON *template, const cJSON *vars, cJSON **ret, char **ret_missing);

/* Look a dotted path up in root: members by name, array elements by index ("0.id", "runId",
 * "runs.2.status"); "" is root itself. NULL when absent. */
const cJSON *smoke_json_path(const cJSON *root, const char *path);

/* every condition {"path": value} holds in doc */
bool smoke_conditions_all(const cJSON *doc, const cJSON *conditions);
/* some condition holds in doc; *ret_path (optional) gets the first one's path (owned by conditions) */
bool smoke_conditions_any(const cJSON *doc, const cJSON *conditions, const char **ret_path);

/* Store the answer's values named by save ({"var": "path"}) in vars (an object; existing members are
 * replaced). -ENOENT when a path is absent from answer (*ret_path, optional, gets it; owned by save). */
int smoke_save(const cJSON *answer, const cJSON *save, cJSON *vars, const char **ret_path);
