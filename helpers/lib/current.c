/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* current.c: current.json, the upgrade in flight (docs/architecture.md, "State on disk") */
#define _GNU_SOURCE
#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <time.h>

#include "current.h"
#include "errmsg.h"
#include "json-util.h"
#include "macro.h"
#include "paths.h"
#include "state.h"
#include "strv.h"

#define CURRENT_MODE 0600

static int current_path(const char *deployment, char **ret) {
        return paths_state_file_mkdir(deployment, "current.json", ret);
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

int current_read_document(const char *deployment, cJSON **ret) {
        /* a read makes no directory: the rollback of a deployment that has none leaves none */
        _cleanup_free_ char *path = paths_state_file(deployment, "current.json");

        if (!path)
                return -ENOMEM;
        return state_read_json(path, ret);
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

/* the reason migration id in state makes going back a full restore: 1 and *ret, or 0 when it does not */
static int migration_restore_reason(const char *id, const char *state, bool non_breaking, char **ret) {
        int r;

        id = strempty(id);
        if (streq_ptr(state, "failed"))
                r = asprintf(ret, "migration %s failed", id);
        else if (streq_ptr(state, "applying"))
                r = asprintf(ret, "migration %s may have been cut off mid-flight", id);
        else if (streq_ptr(state, "applied") && !non_breaking)
                r = asprintf(ret, "breaking migration %s was applied", id);
        else
                return 0;
        return r < 0 ? -ENOMEM : 1;
}

typedef enum FieldType {
        FIELD_STRING,
        FIELD_BOOL,
        FIELD_COUNT, /* int, a count of attempts */
        FIELD_PID,
        FIELD_ROWS, /* double, NAN for null */
        FIELD_STRV,
        FIELD_MIGRATIONS,
        FIELD_DOCUMENT, /* an object passed through */
} FieldType;

typedef struct Field {
        const char *name;
        FieldType type;
        size_t offset;
} Field;

#define FIELD(key, name, type, member) [key] = { name, type, offsetof(Current, member) }

static const Field fields[_CURRENT_KEY_MAX] = {
        FIELD(CURRENT_ID, "id", FIELD_STRING, id),
        FIELD(CURRENT_UNIT, "unit", FIELD_STRING, unit),
        FIELD(CURRENT_INSTANCE, "instance", FIELD_STRING, instance),
        FIELD(CURRENT_DEPLOYMENT, "deployment", FIELD_STRING, deployment),
        FIELD(CURRENT_FROM, "from", FIELD_STRING, from),
        FIELD(CURRENT_TO, "to", FIELD_STRING, to),
        FIELD(CURRENT_PHASE, "phase", FIELD_STRING, phase),
        FIELD(CURRENT_PHASES, "phases", FIELD_STRV, phases),
        FIELD(CURRENT_STARTED, "started", FIELD_STRING, started),
        FIELD(CURRENT_UPDATED, "updated", FIELD_STRING, updated),
        FIELD(CURRENT_SERVER_STOPPED, "server_stopped", FIELD_BOOL, server_stopped),
        FIELD(CURRENT_SWITCHED, "switched", FIELD_BOOL, switched),
        FIELD(CURRENT_MIGRATIONS, "migrations", FIELD_MIGRATIONS, migrations),
        FIELD(CURRENT_ATTEMPTS, "attempts", FIELD_COUNT, attempts),
        FIELD(CURRENT_STAGED_RELEASE, "staged_release", FIELD_STRING, staged_release),
        FIELD(CURRENT_STAGED_RELEASE_EXISTED, "staged_release_existed", FIELD_BOOL, staged_release_existed),
        FIELD(CURRENT_TREE, "tree", FIELD_DOCUMENT, tree),
        FIELD(CURRENT_BACKUP, "backup", FIELD_STRING, backup),
        FIELD(CURRENT_BASELINE, "baseline", FIELD_DOCUMENT, baseline),
        FIELD(CURRENT_INHIBITOR_PID, "inhibitor_pid", FIELD_PID, inhibitor_pid),
        FIELD(CURRENT_STOPPED_AT, "stopped_at", FIELD_STRING, stopped_at),
        FIELD(CURRENT_SNAPSHOT, "snapshot", FIELD_STRING, snapshot),
        FIELD(CURRENT_FINAL_DUMP, "final_dump", FIELD_STRING, final_dump),
        FIELD(CURRENT_SERVER_INVOCATION, "server_invocation", FIELD_STRING, server_invocation),
        FIELD(CURRENT_ROLLBACK_FROM_PHASE, "rollback_from_phase", FIELD_STRING, rollback_from_phase),
        FIELD(CURRENT_ROLLBACK_ACTION, "rollback_action", FIELD_STRING, rollback_action),
        FIELD(CURRENT_ROLLBACK_STARTED, "rollback_started", FIELD_STRING, rollback_started),
        FIELD(CURRENT_ROLLBACK_ATTEMPTS, "rollback_attempts", FIELD_COUNT, rollback_attempts),
        FIELD(CURRENT_ROLLBACK_RESULT, "rollback_result", FIELD_STRING, rollback_result),
        FIELD(CURRENT_ROLLBACK_SWITCHED_BACK, "rollback_switched_back", FIELD_BOOL, rollback_switched_back),
        FIELD(CURRENT_FAILED_DATABASE, "failed_database", FIELD_STRING, failed_database),
        FIELD(CURRENT_DISCARDED_ROWS, "discarded_rows", FIELD_ROWS, discarded_rows),
        FIELD(CURRENT_STORES_RESTORED, "stores_restored", FIELD_BOOL, stores_restored),
        FIELD(CURRENT_HELD, "held", FIELD_BOOL, held),
        FIELD(CURRENT_HELD_REASON, "held_reason", FIELD_STRING, held_reason),
        FIELD(CURRENT_HELD_INSTRUCTIONS, "held_instructions", FIELD_STRING, held_instructions),
        FIELD(CURRENT_RECOVER_ATTEMPTS, "recover_attempts", FIELD_COUNT, recover_attempts),
        FIELD(CURRENT_RECOVERED, "recovered", FIELD_STRING, recovered),
        FIELD(CURRENT_RESTORE_REASON, "restore_reason", FIELD_STRING, restore_reason),
        FIELD(CURRENT_LATE, "late", FIELD_BOOL, late),
        FIELD(CURRENT_UPGRADE_FINISHED, "upgrade_finished", FIELD_STRING, upgrade_finished),
        FIELD(CURRENT_LATE_REASON, "late_reason", FIELD_STRING, late_reason),
        FIELD(CURRENT_LB_DRAINED, "lb_drained", FIELD_BOOL, lb_drained),
        FIELD(CURRENT_CLUSTER_ROLL, "cluster_roll", FIELD_STRING, cluster_roll),
        FIELD(CURRENT_CLUSTER_SLOT, "cluster_slot", FIELD_BOOL, cluster_slot),
        FIELD(CURRENT_CLUSTER_MIGRATOR, "cluster_migrator", FIELD_BOOL, cluster_migrator),
        FIELD(CURRENT_CLUSTER_REFUSED, "cluster_refused", FIELD_STRING, cluster_refused),
        FIELD(CURRENT_CLUSTER_COORDINATED, "cluster_coordinated", FIELD_BOOL, cluster_coordinated),
        FIELD(CURRENT_DELTA_SLOT, "delta_slot", FIELD_STRING, delta_slot),
        FIELD(CURRENT_DELTA_FILE, "delta_file", FIELD_STRING, delta_file),
        FIELD(CURRENT_PHASE_SECONDS, "phase_seconds", FIELD_DOCUMENT, phase_seconds),
};

static void *field_of(Current *c, const Field *f) {
        return (uint8_t *)c + f->offset;
}

static const void *field_of_const(const Current *c, const Field *f) {
        return (const uint8_t *)c + f->offset;
}

/* a copy of l; an empty list for NULL */
static char **strv_dup(char *const *l) {
        size_t n = strv_length(l);
        _cleanup_strv_free_ char **copy = calloc(n + 1, sizeof(char *));

        if (!copy)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (!(copy[i] = strdup(l[i])))
                        return NULL;
        return TAKE_PTR(copy);
}

static void migration_done(CurrentMigration *m) {
        free(m->id);
        strv_free(m->drops);
        free(m->state);
        cJSON_Delete(m->extra);
        *m = (CurrentMigration){};
}

static void migrations_free(CurrentMigration *l, size_t n) {
        for (size_t i = 0; i < n; i++)
                migration_done(&l[i]);
        free(l);
}

/* f's value in c back to its zero value, freed */
static void field_free(Current *c, const Field *f) {
        void *p = field_of(c, f);

        switch (f->type) {
        case FIELD_STRING:
                free(*(char **)p);
                *(char **)p = NULL;
                break;
        case FIELD_STRV:
                strv_free(*(char ***)p);
                *(char ***)p = NULL;
                break;
        case FIELD_DOCUMENT:
                cJSON_Delete(*(cJSON **)p);
                *(cJSON **)p = NULL;
                break;
        case FIELD_MIGRATIONS:
                migrations_free(c->migrations, c->n_migrations);
                c->migrations = NULL;
                c->n_migrations = 0;
                break;
        default:
                break;
        }
}

void current_done(Current *c) {
        if (!c)
                return;
        for (size_t k = 0; k < _CURRENT_KEY_MAX; k++)
                field_free(c, &fields[k]);
        cJSON_Delete(c->extra);
        *c = (Current){};
}

/* keep v under its name in *extra, made on first use */
static int extra_add(cJSON **extra, const cJSON *v) {
        cJSON *copy;

        if (!*extra && !(*extra = cJSON_CreateObject()))
                return -ENOMEM;
        copy = cJSON_Duplicate(v, true);
        if (!copy || !cJSON_AddItemToObject(*extra, v->string, copy))
                return cJSON_Delete(copy), -ENOMEM;
        return 0;
}

static int strv_from_json(const cJSON *v, const char *name, char ***ret, char **ret_error) {
        _cleanup_strv_free_ char **l = calloc(cJSON_GetArraySize(v) + 1, sizeof(char *));
        const cJSON *s;
        size_t i = 0;

        if (!l)
                return -ENOMEM;
        cJSON_ArrayForEach (s, v) {
                if (!cJSON_IsString(s))
                        return errmsg_set(
                                ret_error, -EBADMSG, "\"%s\" holds an item that is not a string", name);
                if (!(l[i++] = strdup(s->valuestring)))
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* Call member() on each member of object o, in order; a member it does not know (it returns 1) is kept
 * in *extra. not_object is the error when o is no object. */
static int object_walk(
        const cJSON *o,
        const char *not_object,
        int (*member)(void *userdata, const cJSON *v, char **ret_error),
        void *userdata,
        cJSON **extra,
        char **ret_error) {
        const cJSON *v;
        int r;

        if (!cJSON_IsObject(o))
                return errmsg_set(ret_error, -EBADMSG, "%s", not_object);
        cJSON_ArrayForEach (v, o) {
                r = member(userdata, v, ret_error);
                if (r > 0)
                        r = extra_add(extra, v);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* a repeated member: the first counts, as a lookup finds it */
static int migration_member(void *userdata, const cJSON *v, char **ret_error) {
        CurrentMigration *m = userdata;
        const char *name = v->string;

        if (streq(name, "id") || streq(name, "state")) {
                char **s = streq(name, "id") ? &m->id : &m->state;
                if (*s)
                        return 0;
                if (!cJSON_IsString(v))
                        return errmsg_set(
                                ret_error, -EBADMSG, "\"migrations\": \"%s\" is not a string", name);
                return (*s = strdup(v->valuestring)) ? 0 : -ENOMEM;
        }
        if (streq(name, "breaking")) {
                if (m->has_breaking)
                        return 0;
                if (!cJSON_IsBool(v))
                        return errmsg_set(
                                ret_error, -EBADMSG, "\"migrations\": \"breaking\" is not true or false");
                m->breaking = cJSON_IsTrue(v);
                m->has_breaking = true;
                return 0;
        }
        if (streq(name, "drops")) {
                if (m->drops)
                        return 0;
                if (!cJSON_IsArray(v))
                        return errmsg_set(ret_error, -EBADMSG, "\"migrations\": \"drops\" is not a list");
                return strv_from_json(v, "drops", &m->drops, ret_error);
        }
        return 1;
}

static int migration_from_json(const cJSON *o, CurrentMigration *ret, char **ret_error) {
        _cleanup_(migration_done) CurrentMigration m = {};
        int r;

        r = object_walk(
                o,
                "\"migrations\" holds an item that is not an object",
                migration_member,
                &m,
                &m.extra,
                ret_error);
        if (r < 0)
                return r;
        *ret = m;
        m = (CurrentMigration){};
        return 0;
}

static int migrations_from_json(const cJSON *v, Current *c, char **ret_error) {
        const cJSON *o;
        int r;

        if (!cJSON_IsArray(v))
                return errmsg_set(ret_error, -EBADMSG, "\"migrations\" is not a list");
        c->migrations = calloc(cJSON_GetArraySize(v) + 1, sizeof(CurrentMigration));
        if (!c->migrations)
                return -ENOMEM;
        cJSON_ArrayForEach (o, v) {
                r = migration_from_json(o, &c->migrations[c->n_migrations], ret_error);
                if (r < 0)
                        return r;
                c->n_migrations++;
        }
        return 0;
}

static int field_from_json(Current *c, const Field *f, const cJSON *v, char **ret_error) {
        void *p = field_of(c, f);
        int64_t n;
        int r;

        switch (f->type) {
        case FIELD_STRING:
                if (cJSON_IsNull(v))
                        return 0;
                if (!cJSON_IsString(v))
                        return errmsg_set(ret_error, -EBADMSG, "\"%s\" is not a string", f->name);
                return (*(char **)p = strdup(v->valuestring)) ? 0 : -ENOMEM;
        case FIELD_BOOL:
                if (!cJSON_IsBool(v))
                        return errmsg_set(ret_error, -EBADMSG, "\"%s\" is not true or false", f->name);
                *(bool *)p = cJSON_IsTrue(v);
                return 0;
        case FIELD_COUNT:
                if (!cJSON_IsNumber(v))
                        return errmsg_set(ret_error, -EBADMSG, "\"%s\" is not a number", f->name);
                /* no whole count in range: exhausted, never none */
                *(int *)p =
                        json_number_to_int64(v->valuedouble, 0, INT_MAX - 1, &n) < 0 ? INT_MAX - 1 : (int)n;
                return 0;
        case FIELD_PID:
                if (!cJSON_IsNumber(v))
                        return errmsg_set(ret_error, -EBADMSG, "\"%s\" is not a number", f->name);
                r = json_number_to_int64(v->valuedouble, 0, INT_MAX, &n);
                if (r < 0)
                        return errmsg_set(ret_error, r, "\"%s\" is not a process id", f->name);
                *(pid_t *)p = (pid_t)n;
                return 0;
        case FIELD_ROWS:
                if (!cJSON_IsNumber(v) && !cJSON_IsNull(v))
                        return errmsg_set(ret_error, -EBADMSG, "\"%s\" is not a number or null", f->name);
                *(double *)p = cJSON_IsNull(v) ? NAN : v->valuedouble;
                return 0;
        case FIELD_STRV:
                if (!cJSON_IsArray(v))
                        return errmsg_set(ret_error, -EBADMSG, "\"%s\" is not a list", f->name);
                return strv_from_json(v, f->name, p, ret_error);
        case FIELD_MIGRATIONS:
                return migrations_from_json(v, c, ret_error);
        case FIELD_DOCUMENT:
                if (cJSON_IsNull(v))
                        return 0;
                if (!cJSON_IsObject(v))
                        return errmsg_set(ret_error, -EBADMSG, "\"%s\" is not an object", f->name);
                return (*(cJSON **)p = cJSON_Duplicate(v, true)) ? 0 : -ENOMEM;
        }
        assert(false);
        return -EINVAL;
}

static const Field *field_by_name(const char *name, CurrentKey *ret_key) {
        for (size_t k = 0; k < _CURRENT_KEY_MAX; k++)
                if (streq(fields[k].name, name)) {
                        *ret_key = (CurrentKey)k;
                        return &fields[k];
                }
        return NULL;
}

/* a repeated key: the first counts, as a lookup finds it */
static int current_member(void *userdata, const cJSON *v, char **ret_error) {
        Current *c = userdata;
        CurrentKey k;
        const Field *f = field_by_name(v->string, &k);

        if (!f)
                return 1;
        if (c->present & CURRENT_KEY_BIT(k))
                return 0;
        c->present |= CURRENT_KEY_BIT(k);
        return field_from_json(c, f, v, ret_error);
}

int current_from_json(const cJSON *j, Current *ret, char **ret_error) {
        _cleanup_(current_done) Current c = {};
        int r;

        r = object_walk(j, "not a JSON object", current_member, &c, &c.extra, ret_error);
        if (r < 0)
                return r;
        *ret = c;
        c = (Current){};
        return 0;
}

typedef struct LenientRead {
        Current *current;
        uint64_t unreadable;
        char **problems;
} LenientRead;

/* current_member(), but a key of the wrong type is read as absent (a count as exhausted) and noted */
static int lenient_member(void *userdata, const cJSON *v, char **ret_error) {
        LenientRead *l = userdata;
        _cleanup_free_ char *error = NULL, *problem = NULL;
        CurrentKey k;
        const Field *f = field_by_name(v->string, &k);
        bool exhausted;
        int r;

        r = current_member(l->current, v, &error);
        if (!f || (r != -EBADMSG && r != -ERANGE))
                return r;

        /* a count that cannot be read must not let one more attempt happen; a null count is none */
        exhausted = f->type == FIELD_COUNT && !cJSON_IsNull(v);
        field_free(l->current, f);
        if (exhausted)
                *(int *)field_of(l->current, f) = INT_MAX - 1;
        else
                l->current->present &= ~CURRENT_KEY_BIT(k);
        l->unreadable |= CURRENT_KEY_BIT(k);

        if (asprintf(&problem, "%s; read as %s", error ?: f->name, exhausted ? "exhausted" : "absent") < 0)
                return -ENOMEM;
        return strv_push(&l->problems, problem);
}

int current_load_lenient(
        const char *deployment, Current *ret, uint64_t *ret_unreadable, char ***ret_problems) {
        _cleanup_(current_done) Current c = {};
        _cleanup_json_ cJSON *j = NULL;
        LenientRead l = { .current = &c };
        int r;

        r = current_read_document(deployment, &j);
        if (r < 0)
                return r;
        if (cJSON_IsObject(j))
                r = object_walk(j, "not a JSON object", lenient_member, &l, &c.extra, NULL);
        else
                r = strv_push(&l.problems, "not a JSON object; read as empty");
        if (r < 0) {
                strv_free(l.problems);
                return r;
        }
        *ret = c;
        c = (Current){};
        if (ret_unreadable)
                *ret_unreadable = l.unreadable;
        if (ret_problems)
                *ret_problems = l.problems;
        else
                strv_free(l.problems);
        return 0;
}

static cJSON *strv_to_json(char *const *l) {
        _cleanup_json_ cJSON *a = cJSON_CreateArray();

        if (!a)
                return NULL;
        for (size_t i = 0; l && l[i]; i++) {
                cJSON *s = cJSON_CreateString(l[i]);
                if (!s || !cJSON_AddItemToArray(a, s))
                        return cJSON_Delete(s), NULL;
        }
        return TAKE_PTR(a);
}

/* add v under name to o, taking it (NULL: out of memory) */
static int add_item(cJSON *o, const char *name, cJSON *v) {
        if (!v || !cJSON_AddItemToObject(o, name, v))
                return cJSON_Delete(v), -ENOMEM;
        return 0;
}

/* the extra members of a document, after its known ones */
static int add_extra(cJSON *o, const cJSON *extra) {
        const cJSON *v;

        cJSON_ArrayForEach (v, extra)
                if (add_item(o, v->string, cJSON_Duplicate(v, true)) < 0)
                        return -ENOMEM;
        return 0;
}

static cJSON *migration_to_json(const CurrentMigration *m) {
        _cleanup_json_ cJSON *o = cJSON_CreateObject();

        if (!o || (m->id && add_item(o, "id", cJSON_CreateString(m->id)) < 0) ||
            (m->has_breaking && add_item(o, "breaking", cJSON_CreateBool(m->breaking)) < 0) ||
            (m->drops && add_item(o, "drops", strv_to_json(m->drops)) < 0) ||
            (m->state && add_item(o, "state", cJSON_CreateString(m->state)) < 0) ||
            add_extra(o, m->extra) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static cJSON *migrations_to_json(const Current *c) {
        _cleanup_json_ cJSON *a = cJSON_CreateArray();

        if (!a)
                return NULL;
        for (size_t i = 0; i < c->n_migrations; i++) {
                cJSON *m = migration_to_json(&c->migrations[i]);
                if (!m || !cJSON_AddItemToArray(a, m))
                        return cJSON_Delete(m), NULL;
        }
        return TAKE_PTR(a);
}

/* the value of field f of c, or NULL with *ret_skip set when the key is not written */
static cJSON *field_to_json(const Current *c, const Field *f, bool present, bool *ret_skip) {
        const void *p = field_of_const(c, f);

        *ret_skip = false;
        switch (f->type) {
        case FIELD_STRING: {
                const char *s = *(char *const *)p;
                *ret_skip = !s && !present;
                return s ? cJSON_CreateString(s) : cJSON_CreateNull();
        }
        case FIELD_BOOL:
                *ret_skip = !*(const bool *)p && !present;
                return cJSON_CreateBool(*(const bool *)p);
        case FIELD_COUNT:
                *ret_skip = *(const int *)p == 0 && !present;
                return cJSON_CreateNumber(*(const int *)p);
        case FIELD_PID:
                *ret_skip = *(const pid_t *)p == 0 && !present;
                return cJSON_CreateNumber(*(const pid_t *)p);
        case FIELD_ROWS: {
                double d = *(const double *)p;
                *ret_skip = d == 0 && !present; /* NAN != 0: null is written */
                return isnan(d) ? cJSON_CreateNull() : cJSON_CreateNumber(d);
        }
        case FIELD_STRV:
                *ret_skip = !*(char **const *)p && !present;
                return strv_to_json(*(char **const *)p);
        case FIELD_MIGRATIONS:
                *ret_skip = c->n_migrations == 0 && !present;
                return migrations_to_json(c);
        case FIELD_DOCUMENT: {
                const cJSON *d = *(cJSON *const *)p;
                *ret_skip = !d && !present;
                return d ? cJSON_Duplicate(d, true) : cJSON_CreateNull();
        }
        }
        assert(false);
        return NULL;
}

/* the known keys of c that are in keys into o */
static int add_fields(cJSON *o, const Current *c, uint64_t keys) {
        for (size_t k = 0; k < _CURRENT_KEY_MAX; k++) {
                bool skip;
                cJSON *v;

                if (!(keys & CURRENT_KEY_BIT(k)))
                        continue;
                v = field_to_json(c, &fields[k], c->present & CURRENT_KEY_BIT(k), &skip);
                if (skip) {
                        cJSON_Delete(v);
                        continue;
                }
                if (add_item(o, fields[k].name, v) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int current_to_json_keys(const Current *c, uint64_t keys, cJSON **ret) {
        _cleanup_json_ cJSON *o = cJSON_CreateObject();

        if (!o || add_fields(o, c, keys) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

int current_to_json(const Current *c, cJSON **ret) {
        _cleanup_json_ cJSON *o = cJSON_CreateObject();

        if (!o || add_fields(o, c, UINT64_MAX) < 0 || add_extra(o, c->extra) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

int current_load(const char *deployment, Current *ret, char **ret_error) {
        _cleanup_json_ cJSON *j = NULL;
        int r;

        r = current_read_document(deployment, &j);
        if (r < 0)
                return r;
        return current_from_json(j, ret, ret_error);
}

/* current.json from c: created only when none exists (exclusive), else replaced atomically */
static int current_write(const char *deployment, const Current *c, bool exclusive) {
        _cleanup_json_ cJSON *j = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        r = current_to_json(c, &j);
        if (r < 0)
                return r;
        r = current_path(deployment, &path);
        if (r < 0)
                return r;
        return exclusive ? state_create_json_exclusive(path, j, CURRENT_MODE)
                         : state_write_json_atomic(path, j, CURRENT_MODE);
}

int current_create(const char *deployment, const Current *c) {
        return current_write(deployment, c, true);
}

int current_save(const char *deployment, Current *c) {
        char *now = current_timestamp();

        if (!now)
                return -ENOMEM;
        free(c->updated);
        c->updated = now;
        return current_write(deployment, c, false);
}

int current_set_phase(Current *c, const char *phase) {
        char *s = strdup(phase);

        if (!s)
                return -ENOMEM;
        free(c->phase);
        c->phase = s;
        return 0;
}

bool current_phase_is_done(const Current *c, const char *phase) {
        STRV_FOREACH (p, c->phases)
                if (streq(*p, phase))
                        return true;
        return false;
}

bool current_database_shared(const Current *c) {
        return c->cluster_roll && !(c->cluster_coordinated && c->cluster_migrator);
}

int current_phase_done(Current *c, const char *phase) {
        if (current_phase_is_done(c, phase))
                return 0;
        return strv_push(&c->phases, phase);
}

int current_set_phase_seconds(Current *c, const char *phase, double seconds) {
        if (!c->phase_seconds && !(c->phase_seconds = cJSON_CreateObject()))
                return -ENOMEM;
        return json_set_number(c->phase_seconds, phase, seconds);
}

int current_set_migration(Current *c, const char *id, bool breaking, char *const *drops, const char *state) {
        _cleanup_(migration_done) CurrentMigration n = {};
        CurrentMigration *grown;
        char *s;

        for (size_t i = 0; i < c->n_migrations; i++)
                if (streq_ptr(c->migrations[i].id, id)) {
                        s = state ? strdup(state) : NULL;
                        if (state && !s)
                                return -ENOMEM;
                        free(c->migrations[i].state);
                        c->migrations[i].state = s;
                        return 0;
                }

        n = (CurrentMigration){
                .id = strdup(id),
                .breaking = breaking,
                .has_breaking = true,
                .drops = strv_dup(drops),
                .state = state ? strdup(state) : NULL,
        };
        if (!n.id || !n.drops || (state && !n.state))
                return -ENOMEM;
        grown = realloc(c->migrations, (c->n_migrations + 1) * sizeof(CurrentMigration));
        if (!grown)
                return -ENOMEM;
        c->migrations = grown;
        c->migrations[c->n_migrations++] = n;
        n = (CurrentMigration){};
        return 0;
}

int current_restore_reason(const Current *c, char **ret) {
        char *s = NULL;

        for (size_t i = 0; i < c->n_migrations; i++) {
                const CurrentMigration *m = &c->migrations[i];
                int r = migration_restore_reason(m->id, m->state, m->has_breaking && !m->breaking, &s);
                if (r < 0)
                        return r;
                if (r > 0)
                        break;
        }
        *ret = s;
        return 0;
}
