/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* smoke-steps.c: the declarative HTTP smoke steps: the steps file, ${var} substitution, JSON paths */
#define _GNU_SOURCE
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>

#include "errmsg.h"
#include "json-util.h"
#include "smoke-steps.h"
#include "string-util.h"

#define SMOKE_INTERVAL_DEFAULT USEC_PER_SEC

static void smoke_step_done(SmokeStep *s) {
        free(s->name);
        free(s->method);
        free(s->path);
        cJSON_Delete(s->body);
        cJSON_Delete(s->save);
        cJSON_Delete(s->until);
        cJSON_Delete(s->fail_if);
        *s = (SmokeStep){};
}

void smoke_steps_done(SmokeSteps *s) {
        if (!s)
                return;
        for (size_t i = 0; i < s->n_steps; i++)
                smoke_step_done(&s->steps[i]);
        free(s->steps);
        *s = (SmokeSteps){};
}

static bool is_name_char(char c) {
        return isalnum((unsigned char)c) || c == '_';
}

/* the next ${name} at or after *p: 1 with its name's start and length and *p moved past it, 0 when
 * there is none, -EINVAL when one is malformed */
static int next_reference(const char **p, const char **ret_start, const char **ret_name, size_t *ret_len) {
        const char *s = strstr(*p, "${"), *name, *e;

        if (!s)
                return 0;
        name = s + 2;
        for (e = name; is_name_char(*e); e++)
                ;
        if (e == name || *e != '}')
                return -EINVAL;
        *ret_start = s;
        *ret_name = name;
        *ret_len = (size_t)(e - name);
        *p = e + 1;
        return 1;
}

bool smoke_uses_variable(const char *template, const char *name) {
        const char *p = template, *start, *n;
        size_t l;

        if (!template || !name)
                return false;
        while (next_reference(&p, &start, &n, &l) > 0)
                if (strlen(name) == l && strncmp(n, name, l) == 0)
                        return true;
        return false;
}

bool smoke_json_uses_variable(const cJSON *template, const char *name) {
        const cJSON *c;

        if (!template)
                return false;
        if (cJSON_IsString(template))
                return smoke_uses_variable(template->valuestring, name);
        cJSON_ArrayForEach (c, template)
                if (smoke_json_uses_variable(c, name))
                        return true;
        return false;
}

char *smoke_value_to_text(const cJSON *v) {
        char *s;

        if (cJSON_IsString(v))
                return strdup(v->valuestring);
        if (cJSON_IsNumber(v)) {
                double d = v->valuedouble;

                /* integral values as integers: an id of 7 is "7", not "7.000000" */
                if (d > -9007199254740992.0 && d < 9007199254740992.0 && d == (double)(long long)d) {
                        if (asprintf(&s, "%lld", (long long)d) < 0)
                                return NULL;
                } else if (asprintf(&s, "%.17g", d) < 0)
                        return NULL;
                return s;
        }
        if (cJSON_IsTrue(v))
                return strdup("true");
        if (cJSON_IsFalse(v))
                return strdup("false");
        if (!v || cJSON_IsNull(v))
                return strdup("null");
        return cJSON_PrintUnformatted(v);
}

/* RFC 3986 unreserved characters stay, everything else is %XX */
static void put_escaped(FILE *f, const char *s) {
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~')
                        fputc(*p, f);
                else
                        fprintf(f, "%%%02X", *p);
}

static int substitute(const char *template, const cJSON *vars, bool escape, char **ret, char **ret_missing) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        const char *p = template, *start, *name;
        size_t size = 0, l;
        int r;

        if (!template || !ret)
                return -EINVAL;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        for (;;) {
                const char *from = p;
                _cleanup_free_ char *key = NULL, *text = NULL;
                const cJSON *v;

                r = next_reference(&p, &start, &name, &l);
                if (r < 0)
                        return r;
                if (r == 0) {
                        fputs(from, f);
                        break;
                }
                fwrite(from, 1, (size_t)(start - from), f);

                key = strndup(name, l);
                if (!key)
                        return -ENOMEM;
                v = cJSON_GetObjectItemCaseSensitive(vars, key);
                if (!v) {
                        if (ret_missing) {
                                free(*ret_missing);
                                *ret_missing = TAKE_PTR(key);
                        }
                        return -ENOENT;
                }
                text = smoke_value_to_text(v);
                if (!text)
                        return -ENOMEM;
                if (escape)
                        put_escaped(f, text);
                else
                        fputs(text, f);
        }

        if (fflush(f) != 0 || ferror(f))
                return -ENOMEM;
        f = (fclose(f), NULL);
        *ret = TAKE_PTR(buf);
        return 0;
}

int smoke_substitute(const char *template, const cJSON *vars, char **ret, char **ret_missing) {
        return substitute(template, vars, false, ret, ret_missing);
}

int smoke_substitute_path(const char *template, const cJSON *vars, char **ret, char **ret_missing) {
        return substitute(template, vars, true, ret, ret_missing);
}

/* "${name}" and nothing else: the variable's name, else NULL */
static char *whole_reference(const char *s) {
        const char *p = s, *start, *name;
        size_t l;

        if (next_reference(&p, &start, &name, &l) <= 0 || start != s || *p)
                return NULL;
        return strndup(name, l);
}

int smoke_substitute_json(const cJSON *template, const cJSON *vars, cJSON **ret, char **ret_missing) {
        _cleanup_json_ cJSON *out = NULL;
        const cJSON *c;
        int r;

        if (!template || !ret)
                return -EINVAL;

        if (cJSON_IsString(template)) {
                _cleanup_free_ char *whole = whole_reference(template->valuestring), *text = NULL;

                if (whole) {
                        const cJSON *v = cJSON_GetObjectItemCaseSensitive(vars, whole);

                        if (!v) {
                                if (ret_missing) {
                                        free(*ret_missing);
                                        *ret_missing = TAKE_PTR(whole);
                                }
                                return -ENOENT;
                        }
                        out = cJSON_Duplicate(v, true);
                } else {
                        r = smoke_substitute(template->valuestring, vars, &text, ret_missing);
                        if (r < 0)
                                return r;
                        out = cJSON_CreateString(text);
                }
                if (!out)
                        return -ENOMEM;
                *ret = TAKE_PTR(out);
                return 0;
        }

        if (!cJSON_IsArray(template) && !cJSON_IsObject(template)) {
                out = cJSON_Duplicate(template, false);
                if (!out)
                        return -ENOMEM;
                *ret = TAKE_PTR(out);
                return 0;
        }

        out = cJSON_IsArray(template) ? cJSON_CreateArray() : cJSON_CreateObject();
        if (!out)
                return -ENOMEM;
        cJSON_ArrayForEach (c, template) {
                _cleanup_json_ cJSON *item = NULL;
                bool ok;

                r = smoke_substitute_json(c, vars, &item, ret_missing);
                if (r < 0)
                        return r;
                ok = cJSON_IsArray(out) ? cJSON_AddItemToArray(out, item)
                                        : cJSON_AddItemToObject(out, c->string, item);
                if (!ok)
                        return -ENOMEM;
                TAKE_PTR(item);
        }
        *ret = TAKE_PTR(out);
        return 0;
}

/* an array index: digits only, no sign, no leading zero but "0" itself */
static bool parse_index(const char *s, size_t l, int *ret) {
        long v = 0;

        if (l == 0 || (l > 1 && s[0] == '0'))
                return false;
        for (size_t i = 0; i < l; i++) {
                if (!isdigit((unsigned char)s[i]))
                        return false;
                v = v * 10 + (s[i] - '0');
                if (v > INT_MAX)
                        return false;
        }
        *ret = (int)v;
        return true;
}

const cJSON *smoke_json_path(const cJSON *root, const char *path) {
        const cJSON *node = root;
        const char *p = path;

        if (!root || !path)
                return NULL;
        if (!*path)
                return root;

        for (;;) {
                size_t l = strcspn(p, ".");
                int index;

                if (cJSON_IsArray(node)) {
                        if (!parse_index(p, l, &index))
                                return NULL;
                        node = cJSON_GetArrayItem(node, index);
                } else if (cJSON_IsObject(node)) {
                        _cleanup_free_ char *key = strndup(p, l);

                        if (!key)
                                return NULL;
                        node = cJSON_GetObjectItemCaseSensitive(node, key);
                } else
                        return NULL;
                if (!node)
                        return NULL;
                if (!p[l])
                        return node;
                p += l + 1;
        }
}

/* the value at path equals want, or one element of want when want is an array */
static bool condition_holds(const cJSON *doc, const char *path, const cJSON *want) {
        const cJSON *have = smoke_json_path(doc, path), *w;

        if (!have)
                return false;
        if (!cJSON_IsArray(want))
                return cJSON_Compare(have, want, true);
        cJSON_ArrayForEach (w, want)
                if (cJSON_Compare(have, w, true))
                        return true;
        return false;
}

bool smoke_conditions_all(const cJSON *doc, const cJSON *conditions) {
        const cJSON *c;

        cJSON_ArrayForEach (c, conditions)
                if (!condition_holds(doc, c->string, c))
                        return false;
        return true;
}

bool smoke_conditions_any(const cJSON *doc, const cJSON *conditions, const char **ret_path) {
        const cJSON *c;

        cJSON_ArrayForEach (c, conditions)
                if (condition_holds(doc, c->string, c)) {
                        if (ret_path)
                                *ret_path = c->string;
                        return true;
                }
        return false;
}

int smoke_save(const cJSON *answer, const cJSON *save, cJSON *vars, const char **ret_path) {
        const cJSON *s;

        if (!vars)
                return -EINVAL;
        cJSON_ArrayForEach (s, save) {
                const cJSON *v = cJSON_IsString(s) ? smoke_json_path(answer, s->valuestring) : NULL;
                cJSON *copy;

                if (!v) {
                        if (ret_path)
                                *ret_path = cJSON_IsString(s) ? s->valuestring : s->string;
                        return -ENOENT;
                }
                copy = cJSON_Duplicate(v, true);
                if (!copy)
                        return -ENOMEM;
                /* case-sensitive, as the substitution reads them: cJSON_HasObjectItem() would take
                 * "Token" for "token" and the replace below would then find nothing */
                if (cJSON_GetObjectItemCaseSensitive(vars, s->string)) {
                        if (!cJSON_ReplaceItemInObjectCaseSensitive(vars, s->string, copy)) {
                                cJSON_Delete(copy);
                                return -ENOMEM;
                        }
                } else if (!cJSON_AddItemToObject(vars, s->string, copy)) {
                        cJSON_Delete(copy);
                        return -ENOMEM;
                }
        }
        return 0;
}

/* ---- parsing ---- */

typedef struct ParseContext {
        size_t index;     /* 1-based, for messages */
        const char *name; /* the step's name once known */
        char **error;
        cJSON *defined; /* {"var": true}: predefined and saved so far */
} ParseContext;

static int step_error(ParseContext *c, const char *fmt, ...) _printf_(2, 3);
static int step_error(ParseContext *c, const char *fmt, ...) {
        _cleanup_free_ char *what = NULL;

        what = STRPRINTF_ARGS(fmt);
        if (!what)
                return -ENOMEM;
        if (c->name)
                return errmsg_set(c->error, -EINVAL, "step %zu (%s): %s", c->index, c->name, what);
        return errmsg_set(c->error, -EINVAL, "step %zu: %s", c->index, what);
}

/* every ${var} of template is defined by now */
static int check_references(ParseContext *c, const char *key, const char *template) {
        const char *p = template, *start, *name;
        size_t l;
        int r;

        while ((r = next_reference(&p, &start, &name, &l)) > 0) {
                _cleanup_free_ char *n = strndup(name, l);

                if (!n)
                        return -ENOMEM;
                if (!cJSON_GetObjectItemCaseSensitive(c->defined, n))
                        return step_error(
                                c,
                                "%s uses ${%s}, which is neither predefined nor saved by an earlier step",
                                key,
                                n);
        }
        if (r < 0)
                return step_error(c, "%s holds a malformed ${…} reference: '%s'", key, template);
        return 0;
}

static int check_json_references(ParseContext *c, const char *key, const cJSON *template) {
        const cJSON *i;
        int r;

        if (cJSON_IsString(template))
                return check_references(c, key, template->valuestring);
        cJSON_ArrayForEach (i, template) {
                r = check_json_references(c, key, i);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* names are case-sensitive here as in the substitution: ${Password} is not ${password} */
static int define(cJSON *defined, const char *name) {
        if (cJSON_GetObjectItemCaseSensitive(defined, name))
                return 0;
        return cJSON_AddTrueToObject(defined, name) ? 0 : -ENOMEM;
}

static bool valid_method(const char *m) {
        static const char *const methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE" };

        for (size_t i = 0; i < ELEMENTSOF(methods); i++)
                if (streq(m, methods[i]))
                        return true;
        return false;
}

static bool valid_path(const char *p) {
        if (p[0] != '/')
                return false;
        /* a path, not a URL and not a second request line */
        for (const char *s = p; *s; s++)
                if ((unsigned char)*s <= ' ' || *s == 0x7f || *s == '#')
                        return false;
        return true;
}

/* an object of conditions: {"path": value}, at least one */
static int parse_conditions(ParseContext *c, const char *key, const cJSON *v, cJSON **ret) {
        if (!cJSON_IsObject(v) || !v->child)
                return step_error(
                        c, "%s must be an object of {\"json.path\": value}, with at least one", key);
        *ret = cJSON_Duplicate(v, true);
        return *ret ? 0 : -ENOMEM;
}

static int parse_step(ParseContext *c, const cJSON *o, SmokeStep *ret) {
        _cleanup_(smoke_step_done) SmokeStep s = {
                .expect = 200,
                .interval = SMOKE_INTERVAL_DEFAULT,
                .auth = true,
        };
        const cJSON *v;
        int r;

        if (!cJSON_IsObject(o))
                return step_error(c, "a step must be a JSON object");

        v = cJSON_GetObjectItemCaseSensitive(o, "name");
        if (v) {
                if (!cJSON_IsString(v) || !*v->valuestring)
                        return step_error(c, "name must be a non-empty string");
                s.name = strdup(v->valuestring);
        } else if (asprintf(&s.name, "step %zu", c->index) < 0)
                s.name = NULL;
        if (!s.name)
                return -ENOMEM;
        c->name = s.name;

        cJSON_ArrayForEach (v, o) {
                static const char *const keys[] = { "name", "method", "path",    "body",     "expect",
                                                    "save", "until",  "fail_if", "interval", "auth" };
                bool known = false;

                for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                        known = known || streq(v->string, keys[i]);
                if (!known)
                        return step_error(c, "unknown key '%s'", v->string);
        }

        v = cJSON_GetObjectItemCaseSensitive(o, "method");
        if (v && (!cJSON_IsString(v) || !valid_method(v->valuestring)))
                return step_error(c, "method must be one of GET, POST, PUT, PATCH, DELETE");
        s.method = strdup(v ? v->valuestring : "GET");
        if (!s.method)
                return -ENOMEM;

        v = cJSON_GetObjectItemCaseSensitive(o, "path");
        if (!cJSON_IsString(v) || !valid_path(v->valuestring))
                return step_error(c, "path must be a request path starting with '/', without blanks");
        r = check_references(c, "path", v->valuestring);
        if (r < 0)
                return r;
        s.path = strdup(v->valuestring);
        if (!s.path)
                return -ENOMEM;

        v = cJSON_GetObjectItemCaseSensitive(o, "body");
        if (v) {
                r = check_json_references(c, "body", v);
                if (r < 0)
                        return r;
                s.body = cJSON_Duplicate(v, true);
                if (!s.body)
                        return -ENOMEM;
        }

        v = cJSON_GetObjectItemCaseSensitive(o, "expect");
        if (v) {
                if (!cJSON_IsNumber(v) || !(v->valuedouble >= 100 && v->valuedouble <= 599) ||
                    v->valuedouble != (double)(long)v->valuedouble)
                        return step_error(c, "expect must be an HTTP status (100…599)");
                s.expect = (long)v->valuedouble;
        }

        v = cJSON_GetObjectItemCaseSensitive(o, "interval");
        if (v) {
                if (!cJSON_IsNumber(v) || !(v->valuedouble > 0) || v->valuedouble > 3600)
                        return step_error(c, "interval must be a number of seconds (0 < interval ≤ 3600)");
                s.interval = (usec_t)(v->valuedouble * (double)USEC_PER_SEC);
                if (s.interval == 0)
                        s.interval = 1;
        }

        v = cJSON_GetObjectItemCaseSensitive(o, "auth");
        if (v) {
                if (!cJSON_IsBool(v))
                        return step_error(c, "auth must be true or false");
                s.auth = cJSON_IsTrue(v);
        }

        v = cJSON_GetObjectItemCaseSensitive(o, "until");
        if (v) {
                r = parse_conditions(c, "until", v, &s.until);
                if (r < 0)
                        return r;
        }
        v = cJSON_GetObjectItemCaseSensitive(o, "fail_if");
        if (v) {
                r = parse_conditions(c, "fail_if", v, &s.fail_if);
                if (r < 0)
                        return r;
        }

        /* saved variables exist for the later steps, not for this step's own request */
        v = cJSON_GetObjectItemCaseSensitive(o, "save");
        if (v) {
                const cJSON *i;

                if (!cJSON_IsObject(v) || !v->child)
                        return step_error(c, "save must be an object of {\"variable\": \"json.path\"}");
                cJSON_ArrayForEach (i, v) {
                        const char *n = i->string;

                        if (!*n ||
                            n[strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")])
                                return step_error(c, "save: '%s' is not a variable name ([A-Za-z0-9_]+)", n);
                        if (!cJSON_IsString(i))
                                return step_error(c, "save: the path of '%s' must be a string", n);
                        r = define(c->defined, n);
                        if (r < 0)
                                return r;
                }
                s.save = cJSON_Duplicate(v, true);
                if (!s.save)
                        return -ENOMEM;
        }

        c->name = NULL;
        *ret = s;
        s = (SmokeStep){};
        return 0;
}

int smoke_steps_parse(const char *text, const char *const *predefined, SmokeSteps *ret, char **ret_error) {
        _cleanup_(smoke_steps_done) SmokeSteps result = {};
        _cleanup_json_ cJSON *doc = NULL, *defined = NULL;
        const cJSON *steps, *o;
        int r, n;

        if (!text || !ret)
                return -EINVAL;

        doc = cJSON_Parse(text);
        if (!doc)
                return errmsg_set(
                        ret_error, -EBADMSG, "not JSON (near '%.20s')", strempty(cJSON_GetErrorPtr()));
        if (!cJSON_IsObject(doc))
                return errmsg_set(ret_error, -EINVAL, "the document must be an object {\"steps\": […]}");
        o = doc->child;
        for (; o; o = o->next)
                if (!streq(o->string, "steps"))
                        return errmsg_set(
                                ret_error, -EINVAL, "unknown key '%s' (only \"steps\")", o->string);

        steps = cJSON_GetObjectItemCaseSensitive(doc, "steps");
        if (!cJSON_IsArray(steps) || cJSON_GetArraySize(steps) == 0)
                return errmsg_set(ret_error, -EINVAL, "\"steps\" must be a non-empty array");

        defined = cJSON_CreateObject();
        if (!defined)
                return -ENOMEM;
        for (const char *const *p = predefined; p && *p; p++) {
                r = define(defined, *p);
                if (r < 0)
                        return r;
        }

        n = cJSON_GetArraySize(steps);
        result.steps = calloc((size_t)n, sizeof(SmokeStep));
        if (!result.steps)
                return -ENOMEM;

        cJSON_ArrayForEach (o, steps) {
                ParseContext c = {
                        .index = result.n_steps + 1,
                        .error = ret_error,
                        .defined = defined,
                };

                r = parse_step(&c, o, &result.steps[result.n_steps]);
                if (r == -ENOMEM)
                        return errmsg_set(ret_error, r, "out of memory");
                if (r < 0)
                        return r;
                result.n_steps++;
        }

        *ret = result;
        result = (SmokeSteps){};
        return 0;
}
