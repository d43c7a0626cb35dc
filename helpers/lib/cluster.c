/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cluster.c: the cluster's documents in etcd and the rules that change them, without etcd */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <systemd/sd-id128.h>

#include "cluster.h"
#include "errmsg.h"
#include "json-util.h"
#include "strv.h"

#define CLUSTER_KEY_ROOT "/codebolt-upgrade/"

/* ours, fixed forever: the default host id is the machine id hashed with it, so that the id etcd sees
 * tells nothing about /etc/machine-id and stays the same across reinstalls of codebolt-upgrade */
#define CLUSTER_APP_ID SD_ID128_MAKE(6f, 03, 7e, ba, a8, f2, 40, 14, b3, 49, e1, f2, b0, f9, 83, be)

/* ---- names ---- */

static bool id_char(char c, bool first) {
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
                return true;
        return !first && (c == '.' || c == '_' || c == '-');
}

/* [A-Za-z0-9][A-Za-z0-9._-]{0,62}; the first character rules out "." and ".." */
static bool id_is_valid(const char *s) {
        size_t n;

        if (!s || !*s)
                return false;
        for (n = 0; s[n]; n++)
                if (n >= CLUSTER_NAME_MAX || !id_char(s[n], n == 0))
                        return false;
        return true;
}

bool cluster_name_is_valid(const char *s) {
        return id_is_valid(s);
}

bool cluster_host_id_is_valid(const char *s) {
        return id_is_valid(s);
}

static const char *const key_names[_CLUSTER_KEY_MAX] = {
        [CLUSTER_KEY_ROLL] = "roll",         [CLUSTER_KEY_SEM] = "sem",
        [CLUSTER_KEY_MIGRATOR] = "migrator", [CLUSTER_KEY_HOST] = "hosts/",
        [CLUSTER_KEY_MEMBER] = "members/",
};

static bool key_takes_id(ClusterKey what) {
        return what == CLUSTER_KEY_HOST || what == CLUSTER_KEY_MEMBER;
}

int cluster_key(const char *cluster, ClusterKey what, const char *id, char **ret, char **ret_error) {
        char *k;

        assert(what >= 0 && what < _CLUSTER_KEY_MAX);
        if (!cluster_name_is_valid(cluster))
                return errmsg_set(
                        ret_error,
                        -EINVAL,
                        "\"%s\" is not a valid cluster name (letters, digits, '.', '_' and '-', at most %d, "
                        "starting with a letter or digit)",
                        strempty(cluster),
                        CLUSTER_NAME_MAX);
        if (id && !key_takes_id(what))
                return errmsg_set(
                        ret_error, -EINVAL, "the cluster's %s key takes no host id", key_names[what]);
        if (id && !cluster_host_id_is_valid(id))
                return errmsg_set(
                        ret_error,
                        -EINVAL,
                        "\"%s\" is not a valid host id (letters, digits, '.', '_' and '-', at most %d, "
                        "starting with a letter or digit)",
                        id,
                        CLUSTER_NAME_MAX);
        if (asprintf(&k, CLUSTER_KEY_ROOT "%s/%s%s", cluster, key_names[what], strempty(id)) < 0)
                return -ENOMEM;
        *ret = k;
        return 0;
}

const char *cluster_key_host_id(const char *cluster, ClusterKey what, const char *key) {
        const char *p;

        if (!key || !cluster_name_is_valid(cluster) || !key_takes_id(what))
                return NULL;
        p = startswith(key, CLUSTER_KEY_ROOT);
        p = p ? startswith(p, cluster) : NULL;
        p = p ? startswith(p, "/") : NULL;
        p = p ? startswith(p, key_names[what]) : NULL;
        return p && cluster_host_id_is_valid(p) ? p : NULL;
}

int cluster_default_host_id(char **ret) {
        sd_id128_t id;
        char *s;
        int r;

        r = sd_id128_get_machine_app_specific(CLUSTER_APP_ID, &id);
        if (r < 0)
                return r;
        s = malloc(SD_ID128_STRING_MAX);
        if (!s)
                return -ENOMEM;
        *ret = sd_id128_to_string(id, s);
        return 0;
}

/* ---- enums ---- */

static const char *const mode_names[_CLUSTER_MODE_MAX] = {
        [CLUSTER_MODE_ROLLING] = "rolling",
        [CLUSTER_MODE_COORDINATED] = "coordinated",
};

static const char *const roll_state_names[_CLUSTER_ROLL_STATE_MAX] = {
        [CLUSTER_ROLL_ROLLING] = "rolling",   [CLUSTER_ROLL_PAUSED] = "paused",
        [CLUSTER_ROLL_ABORTING] = "aborting", [CLUSTER_ROLL_DONE] = "done",
        [CLUSTER_ROLL_ABORTED] = "aborted",
};

static const char *const migrator_state_names[_CLUSTER_MIGRATOR_STATE_MAX] = {
        [CLUSTER_MIGRATOR_MIGRATING] = "migrating",
        [CLUSTER_MIGRATOR_DONE] = "done",
        [CLUSTER_MIGRATOR_FAILED] = "failed",
};

static const char *name_of(const char *const *names, size_t n, int v) {
        return v >= 0 && (size_t)v < n ? names[v] : NULL;
}

static int index_of(const char *const *names, size_t n, const char *s) {
        if (s)
                for (size_t i = 0; i < n; i++)
                        if (streq(names[i], s))
                                return (int)i;
        return -EINVAL;
}

const char *cluster_mode_to_string(ClusterMode m) {
        return name_of(mode_names, ELEMENTSOF(mode_names), m);
}

ClusterMode cluster_mode_from_string(const char *s) {
        return index_of(mode_names, ELEMENTSOF(mode_names), s);
}

const char *cluster_roll_state_to_string(ClusterRollState s) {
        return name_of(roll_state_names, ELEMENTSOF(roll_state_names), s);
}

ClusterRollState cluster_roll_state_from_string(const char *s) {
        return index_of(roll_state_names, ELEMENTSOF(roll_state_names), s);
}

const char *cluster_migrator_state_to_string(ClusterMigratorState s) {
        return name_of(migrator_state_names, ELEMENTSOF(migrator_state_names), s);
}

ClusterMigratorState cluster_migrator_state_from_string(const char *s) {
        return index_of(migrator_state_names, ELEMENTSOF(migrator_state_names), s);
}

/* ---- reading documents ---- */

/* the member key of o, or an error naming it: missing (null counts as missing unless nullable) */
static int get_member(
        const cJSON *o, const char *doc, const char *key, const cJSON **ret, char **ret_error) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

        if (!v)
                return errmsg_set(ret_error, -EBADMSG, "%s: \"%s\" is missing", doc, key);
        *ret = v;
        return 0;
}

/* a non-empty string; with nullable, null or absent gives NULL */
static int get_string(
        const cJSON *o, const char *doc, const char *key, bool nullable, char **ret, char **ret_error) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        char *s;

        if (nullable && (!v || cJSON_IsNull(v))) {
                *ret = NULL;
                return 0;
        }
        if (!v)
                return errmsg_set(ret_error, -EBADMSG, "%s: \"%s\" is missing", doc, key);
        if (!cJSON_IsString(v))
                return errmsg_set(
                        ret_error,
                        -EBADMSG,
                        "%s: \"%s\" is not a string, expected %s",
                        doc,
                        key,
                        nullable ? "a string or null" : "a string");
        if (!*v->valuestring)
                return errmsg_set(ret_error, -EBADMSG, "%s: \"%s\" is empty", doc, key);
        s = strdup(v->valuestring);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* an exact version */
static int get_version(const cJSON *o, const char *doc, const char *key, char **ret, char **ret_error) {
        _cleanup_free_ char *s = NULL;
        const char *why;
        int r;

        r = get_string(o, doc, key, false, &s, ret_error);
        if (r < 0)
                return r;
        why = semver_why_invalid(s);
        if (why)
                return errmsg_set(ret_error, -EBADMSG, "%s: \"%s\" is not a version: %s", doc, key, why);
        *ret = TAKE_PTR(s);
        return 0;
}

/* "a, b or c" of names */
static char *names_list(const char *const *names, size_t n) {
        _cleanup_free_ char *s = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&s, &size);

        if (!f)
                return NULL;
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", names[i]);
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(s);
}

/* one of names, as its index */
static int get_enum(
        const cJSON *o,
        const char *doc,
        const char *key,
        const char *const *names,
        size_t n,
        int *ret,
        char **ret_error) {
        _cleanup_free_ char *expected = names_list(names, n);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        int i;

        if (!expected)
                return -ENOMEM;
        if (!v)
                return errmsg_set(
                        ret_error, -EBADMSG, "%s: \"%s\" is missing, expected %s", doc, key, expected);
        if (!cJSON_IsString(v))
                return errmsg_set(
                        ret_error, -EBADMSG, "%s: \"%s\" is not a string, expected %s", doc, key, expected);
        i = index_of(names, n, v->valuestring);
        if (i < 0)
                return errmsg_set(
                        ret_error,
                        -EBADMSG,
                        "%s: \"%s\" is \"%s\", expected %s",
                        doc,
                        key,
                        v->valuestring,
                        expected);
        *ret = i;
        return 0;
}

/* a list of host ids, each once (the first time it appears); sorted when sort */
static int get_hosts(
        const cJSON *o, const char *doc, const char *key, bool sort, char ***ret, char **ret_error) {
        _cleanup_strv_free_ char **l = NULL;
        const cJSON *v = NULL, *item;
        size_t n = 0;
        int r;

        r = get_member(o, doc, key, &v, ret_error);
        if (r < 0)
                return r;
        if (!cJSON_IsArray(v))
                return errmsg_set(ret_error, -EBADMSG, "%s: \"%s\" is not a list of host ids", doc, key);
        l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        cJSON_ArrayForEach (item, v) {
                if (!cJSON_IsString(item))
                        return errmsg_set(
                                ret_error,
                                -EBADMSG,
                                "%s: \"%s\" holds an item that is not a string",
                                doc,
                                key);
                if (!cluster_host_id_is_valid(item->valuestring))
                        return errmsg_set(
                                ret_error,
                                -EBADMSG,
                                "%s: \"%s\" holds \"%s\", which is not a host id",
                                doc,
                                key,
                                item->valuestring);
                if (strv_contains(l, item->valuestring))
                        continue;
                r = strv_push(&l, item->valuestring);
                if (r < 0)
                        return r;
                n++;
        }
        if (sort)
                strv_sort(l, n);
        *ret = TAKE_PTR(l);
        return 0;
}

/* the name of the i-th entry of a table of keys whose entries, `stride` bytes each, start with their name:
 * a plain list of names, or the StringField tables below */
static const char *key_name(const void *table, size_t stride, size_t i) {
        return *(const char *const *)((const uint8_t *)table + i * stride);
}

/* the members of o whose names are not among the n keys of known (key_name()), copied; NULL when there are
 * none */
static int get_extra(const cJSON *o, const void *known, size_t n, size_t stride, cJSON **ret) {
        _cleanup_json_ cJSON *extra = NULL;
        const cJSON *v;

        cJSON_ArrayForEach (v, o) {
                bool is_known = false;
                cJSON *copy;

                for (size_t i = 0; i < n; i++)
                        is_known = is_known || streq(key_name(known, stride, i), v->string);
                if (is_known)
                        continue;
                if (!extra && !(extra = cJSON_CreateObject()))
                        return -ENOMEM;
                copy = cJSON_Duplicate(v, true);
                if (!copy || !cJSON_AddItemToObject(extra, v->string, copy))
                        return cJSON_Delete(copy), -ENOMEM;
        }
        *ret = TAKE_PTR(extra);
        return 0;
}

static int check_object(const cJSON *j, const char *doc, char **ret_error) {
        if (!cJSON_IsObject(j))
                return errmsg_set(ret_error, -EBADMSG, "%s: not a JSON object", doc);
        return 0;
}

/* value as etcd keeps it → from_json */
static int parse_value(
        const char *value,
        size_t size,
        const char *doc,
        int (*from_json)(const cJSON *j, void *ret, char **ret_error),
        void *ret,
        char **ret_error) {
        _cleanup_json_ cJSON *j = NULL;
        const char *end = NULL;

        if (!value)
                return errmsg_set(ret_error, -EBADMSG, "%s: empty value", doc);
        j = cJSON_ParseWithLengthOpts(value, size, &end, false);
        /* one document and nothing after it but white space */
        while (j && end < value + size && strchr(" \t\r\n", *end) && *end)
                end++;
        if (!j || end != value + size)
                return errmsg_set(ret_error, -EBADMSG, "%s: not JSON", doc);
        return from_json(j, ret, ret_error);
}

/* cluster_<kind>_parse(): parse_value() with cluster_<kind>_from_json() */
#define DEFINE_PARSE(kind, type, doc)                                                             \
        static int kind##_from_json_void(const cJSON *j, void *ret, char **ret_error) {           \
                return cluster_##kind##_from_json(j, ret, ret_error);                             \
        }                                                                                         \
        int cluster_##kind##_parse(const char *value, size_t size, type *ret, char **ret_error) { \
                return parse_value(value, size, doc, kind##_from_json_void, ret, ret_error);      \
        }

/* ---- writing documents ---- */

static int add_string(cJSON *o, const char *key, const char *s) {
        return json_set_item(o, key, s ? cJSON_CreateString(s) : cJSON_CreateNull());
}

static int add_strv(cJSON *o, const char *key, char *const *l) {
        cJSON *a = cJSON_CreateArray();

        if (!a)
                return -ENOMEM;
        STRV_FOREACH (s, (char **)l) {
                cJSON *item = cJSON_CreateString(*s);
                if (!item || !cJSON_AddItemToArray(a, item))
                        return cJSON_Delete(item), cJSON_Delete(a), -ENOMEM;
        }
        return json_set_item(o, key, a);
}

/* extra's members after the known ones; a known name in extra (made by hand) is not written twice */
static int add_extra(cJSON *o, const cJSON *extra) {
        const cJSON *v;

        cJSON_ArrayForEach (v, extra) {
                cJSON *copy;

                if (cJSON_GetObjectItemCaseSensitive(o, v->string))
                        continue;
                copy = cJSON_Duplicate(v, true);
                if (!copy || !cJSON_AddItemToObject(o, v->string, copy))
                        return cJSON_Delete(copy), -ENOMEM;
        }
        return 0;
}

static int copy_string(const char *s, char **ret) {
        char *c = NULL;

        if (s && !(c = strdup(s)))
                return -ENOMEM;
        *ret = c;
        return 0;
}

static int copy_strv(char *const *l, char ***ret) {
        _cleanup_strv_free_ char **c = calloc(strv_length(l) + 1, sizeof(char *));
        size_t i = 0;

        if (!c)
                return -ENOMEM;
        STRV_FOREACH (s, (char **)l)
                if (!(c[i++] = strdup(*s)))
                        return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

static int copy_json(const cJSON *j, cJSON **ret) {
        cJSON *c = NULL;

        if (j && !(c = cJSON_Duplicate(j, true)))
                return -ENOMEM;
        *ret = c;
        return 0;
}

/* a document of strings only (hosts/<id>, members/<id>): each field a char * at offset in the struct */
typedef struct StringField {
        const char *name;
        size_t offset;
        bool version; /* an exact version, not just a non-empty string */
} StringField;

/* fields of j into doc (the caller frees them on failure), the rest into *extra */
static int strings_from_json(
        const cJSON *j,
        const char *doc,
        const StringField *fields,
        size_t n,
        void *p,
        cJSON **extra,
        char **ret_error) {
        int r;

        r = check_object(j, doc, ret_error);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                char **s = (char **)((uint8_t *)p + fields[i].offset);

                r = fields[i].version ? get_version(j, doc, fields[i].name, s, ret_error)
                                      : get_string(j, doc, fields[i].name, false, s, ret_error);
                if (r < 0)
                        return r;
        }
        return get_extra(j, fields, n, sizeof(StringField), extra);
}

static int strings_to_json(
        const void *p, const StringField *fields, size_t n, const cJSON *extra, cJSON **ret) {
        _cleanup_json_ cJSON *o = cJSON_CreateObject();

        if (!o)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (add_string(o, fields[i].name, *(char *const *)((const uint8_t *)p + fields[i].offset)) <
                    0)
                        return -ENOMEM;
        if (add_extra(o, extra) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

/* ---- roll ---- */

static const char *const roll_keys[] = { "id",     "from",   "to",      "mode", "state",  "upgraded",
                                         "failed", "canary", "started", "by",   "stopped" };

void cluster_roll_done(ClusterRoll *r) {
        if (!r)
                return;
        free(r->id);
        free(r->from);
        free(r->to);
        strv_free(r->upgraded);
        strv_free(r->failed);
        strv_free(r->stopped);
        free(r->canary);
        free(r->started);
        free(r->by);
        cJSON_Delete(r->extra);
        *r = (ClusterRoll){};
}

/* "stopped" is written only once a coordinated roll has a stopped member: absent is none */
static int get_stopped(const cJSON *j, char ***ret, char **ret_error) {
        if (!cJSON_GetObjectItemCaseSensitive(j, "stopped")) {
                *ret = calloc(1, sizeof(char *));
                return *ret ? 0 : -ENOMEM;
        }
        return get_hosts(j, "roll", "stopped", false, ret, ret_error);
}

int cluster_roll_from_json(const cJSON *j, ClusterRoll *ret, char **ret_error) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {};
        int mode, state, k;

        if ((k = check_object(j, "roll", ret_error)) < 0 ||
            (k = get_string(j, "roll", "id", false, &r.id, ret_error)) < 0 ||
            (k = get_version(j, "roll", "from", &r.from, ret_error)) < 0 ||
            (k = get_version(j, "roll", "to", &r.to, ret_error)) < 0 ||
            (k = get_enum(j, "roll", "mode", mode_names, ELEMENTSOF(mode_names), &mode, ret_error)) < 0 ||
            (k = get_enum(
                     j,
                     "roll",
                     "state",
                     roll_state_names,
                     ELEMENTSOF(roll_state_names),
                     &state,
                     ret_error)) < 0 ||
            (k = get_hosts(j, "roll", "upgraded", false, &r.upgraded, ret_error)) < 0 ||
            (k = get_hosts(j, "roll", "failed", false, &r.failed, ret_error)) < 0 ||
            (k = get_string(j, "roll", "canary", true, &r.canary, ret_error)) < 0 ||
            (k = get_string(j, "roll", "started", false, &r.started, ret_error)) < 0 ||
            (k = get_string(j, "roll", "by", false, &r.by, ret_error)) < 0 ||
            (k = get_stopped(j, &r.stopped, ret_error)) < 0 ||
            (k = get_extra(j, roll_keys, ELEMENTSOF(roll_keys), sizeof(char *), &r.extra)) < 0)
                return k;
        if (r.canary && !cluster_host_id_is_valid(r.canary))
                return errmsg_set(
                        ret_error, -EBADMSG, "roll: \"canary\" is \"%s\", which is not a host id", r.canary);
        r.mode = mode;
        r.state = state;
        *ret = r;
        r = (ClusterRoll){};
        return 0;
}

DEFINE_PARSE(roll, ClusterRoll, "roll")

int cluster_roll_to_json(const ClusterRoll *r, cJSON **ret) {
        _cleanup_json_ cJSON *o = cJSON_CreateObject();

        if (!o || add_string(o, "id", r->id) < 0 || add_string(o, "from", r->from) < 0 ||
            add_string(o, "to", r->to) < 0 || add_string(o, "mode", cluster_mode_to_string(r->mode)) < 0 ||
            add_string(o, "state", cluster_roll_state_to_string(r->state)) < 0 ||
            add_strv(o, "upgraded", r->upgraded) < 0 || add_strv(o, "failed", r->failed) < 0 ||
            add_string(o, "canary", r->canary) < 0 || add_string(o, "started", r->started) < 0 ||
            add_string(o, "by", r->by) < 0 ||
            (strv_length(r->stopped) > 0 && add_strv(o, "stopped", r->stopped) < 0) ||
            add_extra(o, r->extra) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

int cluster_roll_copy(const ClusterRoll *r, ClusterRoll *ret) {
        _cleanup_(cluster_roll_done) ClusterRoll c = { .mode = r->mode, .state = r->state };

        if (copy_string(r->id, &c.id) < 0 || copy_string(r->from, &c.from) < 0 ||
            copy_string(r->to, &c.to) < 0 || copy_strv(r->upgraded, &c.upgraded) < 0 ||
            copy_strv(r->failed, &c.failed) < 0 || copy_string(r->canary, &c.canary) < 0 ||
            copy_string(r->started, &c.started) < 0 || copy_string(r->by, &c.by) < 0 ||
            copy_strv(r->stopped, &c.stopped) < 0 || copy_json(r->extra, &c.extra) < 0)
                return -ENOMEM;
        *ret = c;
        c = (ClusterRoll){};
        return 0;
}

/* ---- sem ---- */

static const char *const sem_keys[] = { "total_slots", "holders" };

void cluster_sem_done(ClusterSem *s) {
        if (!s)
                return;
        strv_free(s->holders);
        cJSON_Delete(s->extra);
        *s = (ClusterSem){};
}

int cluster_sem_from_json(const cJSON *j, ClusterSem *ret, char **ret_error) {
        _cleanup_(cluster_sem_done) ClusterSem s = {};
        const cJSON *v = NULL;
        int64_t n;
        int r;

        if ((r = check_object(j, "sem", ret_error)) < 0 ||
            (r = get_member(j, "sem", "total_slots", &v, ret_error)) < 0)
                return r;
        if (!cJSON_IsNumber(v))
                return errmsg_set(
                        ret_error,
                        -EBADMSG,
                        "sem: \"total_slots\" is not a number, expected a whole number from 1 to %d",
                        CLUSTER_SLOTS_MAX);
        r = json_number_to_int64(v->valuedouble, 1, CLUSTER_SLOTS_MAX, &n);
        if (r < 0)
                return errmsg_set(
                        ret_error,
                        r,
                        "sem: \"total_slots\" is %g, expected a whole number from 1 to %d",
                        v->valuedouble,
                        CLUSTER_SLOTS_MAX);
        s.total_slots = (uint64_t)n;
        if ((r = get_hosts(j, "sem", "holders", true, &s.holders, ret_error)) < 0 ||
            (r = get_extra(j, sem_keys, ELEMENTSOF(sem_keys), sizeof(char *), &s.extra)) < 0)
                return r;
        *ret = s;
        s = (ClusterSem){};
        return 0;
}

DEFINE_PARSE(sem, ClusterSem, "sem")

int cluster_sem_to_json(const ClusterSem *s, cJSON **ret) {
        _cleanup_json_ cJSON *o = cJSON_CreateObject();

        if (!o || json_set_item(o, "total_slots", cJSON_CreateNumber((double)s->total_slots)) < 0 ||
            add_strv(o, "holders", s->holders) < 0 || add_extra(o, s->extra) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

int cluster_sem_copy(const ClusterSem *s, ClusterSem *ret) {
        _cleanup_(cluster_sem_done) ClusterSem c = { .total_slots = s->total_slots };

        if (copy_strv(s->holders, &c.holders) < 0 || copy_json(s->extra, &c.extra) < 0)
                return -ENOMEM;
        *ret = c;
        c = (ClusterSem){};
        return 0;
}

/* ---- migrator ---- */

static const char *const migrator_keys[] = { "host", "roll", "state" };

void cluster_migrator_done(ClusterMigrator *m) {
        if (!m)
                return;
        free(m->host);
        free(m->roll);
        cJSON_Delete(m->extra);
        *m = (ClusterMigrator){};
}

int cluster_migrator_from_json(const cJSON *j, ClusterMigrator *ret, char **ret_error) {
        _cleanup_(cluster_migrator_done) ClusterMigrator m = {};
        int state, r;

        if ((r = check_object(j, "migrator", ret_error)) < 0 ||
            (r = get_string(j, "migrator", "host", false, &m.host, ret_error)) < 0)
                return r;
        if (!cluster_host_id_is_valid(m.host))
                return errmsg_set(
                        ret_error, -EBADMSG, "migrator: \"host\" is \"%s\", which is not a host id", m.host);
        if ((r = get_string(j, "migrator", "roll", false, &m.roll, ret_error)) < 0 ||
            (r = get_enum(
                     j,
                     "migrator",
                     "state",
                     migrator_state_names,
                     ELEMENTSOF(migrator_state_names),
                     &state,
                     ret_error)) < 0 ||
            (r = get_extra(j, migrator_keys, ELEMENTSOF(migrator_keys), sizeof(char *), &m.extra)) < 0)
                return r;
        m.state = state;
        *ret = m;
        m = (ClusterMigrator){};
        return 0;
}

DEFINE_PARSE(migrator, ClusterMigrator, "migrator")

int cluster_migrator_to_json(const ClusterMigrator *m, cJSON **ret) {
        _cleanup_json_ cJSON *o = cJSON_CreateObject();

        if (!o || add_string(o, "host", m->host) < 0 || add_string(o, "roll", m->roll) < 0 ||
            add_string(o, "state", cluster_migrator_state_to_string(m->state)) < 0 ||
            add_extra(o, m->extra) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

/* ---- hosts/<id> ---- */

void cluster_host_done(ClusterHost *h) {
        if (!h)
                return;
        free(h->version);
        free(h->phase);
        free(h->unit);
        free(h->updated);
        cJSON_Delete(h->extra);
        *h = (ClusterHost){};
}

static const StringField host_fields[] = {
        { "version", offsetof(ClusterHost, version), true },
        { "phase", offsetof(ClusterHost, phase), false },
        { "unit", offsetof(ClusterHost, unit), false },
        { "updated", offsetof(ClusterHost, updated), false },
};

int cluster_host_from_json(const cJSON *j, ClusterHost *ret, char **ret_error) {
        _cleanup_(cluster_host_done) ClusterHost h = {};
        int r;

        r = strings_from_json(j, "heartbeat", host_fields, ELEMENTSOF(host_fields), &h, &h.extra, ret_error);
        if (r < 0)
                return r;
        *ret = h;
        h = (ClusterHost){};
        return 0;
}

DEFINE_PARSE(host, ClusterHost, "heartbeat")

int cluster_host_to_json(const ClusterHost *h, cJSON **ret) {
        return strings_to_json(h, host_fields, ELEMENTSOF(host_fields), h->extra, ret);
}

/* ---- members/<id> ---- */

void cluster_member_done(ClusterMember *m) {
        if (!m)
                return;
        free(m->hostname);
        free(m->server);
        free(m->version);
        cJSON_Delete(m->extra);
        *m = (ClusterMember){};
}

static const StringField member_fields[] = {
        { "hostname", offsetof(ClusterMember, hostname), false },
        { "server", offsetof(ClusterMember, server), false },
        { "version", offsetof(ClusterMember, version), true },
};

int cluster_member_from_json(const cJSON *j, ClusterMember *ret, char **ret_error) {
        _cleanup_(cluster_member_done) ClusterMember m = {};
        int r;

        r = strings_from_json(
                j, "member", member_fields, ELEMENTSOF(member_fields), &m, &m.extra, ret_error);
        if (r < 0)
                return r;
        *ret = m;
        m = (ClusterMember){};
        return 0;
}

DEFINE_PARSE(member, ClusterMember, "member")

int cluster_member_to_json(const ClusterMember *m, cJSON **ret) {
        return strings_to_json(m, member_fields, ELEMENTSOF(member_fields), m->extra, ret);
}
