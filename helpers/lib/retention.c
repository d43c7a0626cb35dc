/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* retention.c: which kept databases and releases may go (finish, `codebolt-upgrade clean`) */
#define _GNU_SOURCE
#include <assert.h>
#include <stdarg.h>

#include "backup-manifest.h"
#include "json-util.h"
#include "ledger.h"
#include "macro.h"
#include "retention.h"
#include "string-util.h"
#include "semver.h"
#include "strv.h"

/* the <kind> words of backup_manifest_db_name() as snapshot.c, the rollback and backup.c use them */
static const struct {
        const char *word;
        RetentionKind kind;
} db_kinds[] = {
        { "pre", RETENTION_SNAPSHOT },
        { "failed", RETENTION_FAILED },
        { "restore", RETENTION_FAILED },
        { "verify", RETENTION_TRIAL },
};

static const char *const kind_names[_RETENTION_KIND_MAX] = {
        [RETENTION_SNAPSHOT] = "snapshot",
        [RETENTION_FAILED] = "failed database",
        [RETENTION_TRIAL] = "trial restore",
        [RETENTION_RELEASE] = "release",
};

const char *retention_kind_to_string(RetentionKind kind) {
        return (unsigned)kind < _RETENTION_KIND_MAX ? kind_names[kind] : NULL;
}

/* the index in db_kinds and a pointer to the id inside name, or -EINVAL */
static int parse_name(const char *db, const char *name, size_t *ret_index, const char **ret_id) {
        const char *rest;

        if (!db || !*db || !name || strlen(name) > BACKUP_MANIFEST_PG_NAME_MAX)
                return -EINVAL;
        rest = startswith(name, db);
        if (!rest || *rest != '_')
                return -EINVAL;
        rest++;
        for (size_t i = 0; i < ELEMENTSOF(db_kinds); i++) {
                const char *id = startswith(rest, db_kinds[i].word);

                if (!id || *id != '_' || !*++id)
                        continue;
                for (const char *p = id; *p; p++)
                        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
                                return -EINVAL;
                *ret_index = i;
                *ret_id = id;
                return 0;
        }
        return -EINVAL;
}

int retention_parse_database(const char *db, const char *name, RetentionKind *ret_kind, char **ret_id) {
        const char *id;
        size_t i;
        int r;

        r = parse_name(db, name, &i, &id);
        if (r < 0)
                return r;
        if (ret_id) {
                char *s = strdup(id);
                if (!s)
                        return -ENOMEM;
                *ret_id = s;
        }
        if (ret_kind)
                *ret_kind = db_kinds[i].kind;
        return 0;
}

void retention_plan_done(RetentionPlan *p) {
        if (!p)
                return;
        for (size_t i = 0; i < p->n; i++) {
                free(p->items[i].name);
                free(p->items[i].reason);
        }
        free(p->items);
        *p = (RetentionPlan){};
}

_printf_(5, 6) static int plan_add(
        RetentionPlan *p, RetentionKind kind, bool drop, const char *name, const char *fmt, ...) {
        _cleanup_free_ char *n = strdup(name), *reason = NULL;
        RetentionItem *grown;

        reason = STRPRINTF_ARGS(fmt);
        if (!reason)
                return -ENOMEM;
        grown = realloc(p->items, (p->n + 1) * sizeof(RetentionItem));
        if (!n || !grown)
                return -ENOMEM;
        p->items = grown;
        p->items[p->n++] = (RetentionItem){
                .kind = kind,
                .drop = drop,
                .name = TAKE_PTR(n),
                .reason = TAKE_PTR(reason),
        };
        return 0;
}

/* plan_add() of something that stays */
#define plan_keep(p, kind, name, ...) plan_add(p, kind, false, name, __VA_ARGS__)

/* the fewest letters and digits of an id that tie a database to a ledger entry: backup.c names its trial
 * restore after 8, the others take 12 or more */
#define ID_MIN 8

/* name_id (min_len characters or more) is the start of entry_id reduced to its letters and digits,
 * lowercased (backup_manifest_db_name()) */
static bool id_matches(const char *name_id, const char *entry_id, size_t min_len) {
        size_t i = 0;

        if (!name_id || !*name_id || !entry_id || strlen(name_id) < min_len)
                return false;
        for (const char *p = entry_id; *p && name_id[i]; p++) {
                unsigned char c = (unsigned char)*p;
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
                        continue;
                if ((c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c) != (unsigned char)name_id[i])
                        return false;
                i++;
        }
        return name_id[i] == 0;
}

/* the database name is the entry's (an upgrade, or the rollback of one, recorded it or its id) */
static bool belongs(const cJSON *entry, const char *name, const char *id) {
        return streq_ptr(json_get_string(entry, "snapshot"), name) ||
               streq_ptr(json_get_string(entry, "failed_database"), name) ||
               id_matches(id, json_get_string(entry, "id"), ID_MIN);
}

static bool entry_failed(const cJSON *e) {
        const char *result = json_get_string(e, "result");
        return streq_ptr(result, "rolled-back") || streq_ptr(result, "restored") ||
               streq_ptr(result, "held");
}

/* "1.4.0 → 1.5.0 (succeeded, finished 2026-11-26T10:57:13Z)" */
static char *describe(const cJSON *e) {
        const char *finished = json_get_string(e, "finished");
        char *s;

        if (asprintf(
                    &s,
                    "%s → %s (%s%s%s)",
                    json_get_string(e, "from") ?: "?",
                    json_get_string(e, "to") ?: "?",
                    json_get_string(e, "result") ?: "?",
                    finished ? ", finished " : "",
                    strempty(finished)) < 0)
                return NULL;
        return s;
}

/* the upgrade a late rollback would roll back: the last one to the running version, when it succeeded
 * (helpers/rollback/late.c: ledger_last_change_for_version()); with the running version unknown, the newest
 * success */
static const cJSON *late_rollback_entry(const RetentionInput *in) {
        const cJSON *e, *found = NULL;

        if (in->running) {
                e = ledger_last_change_for_version(in->ledger, in->running);
                return streq_ptr(json_get_string(e, "result"), "succeeded") ? e : NULL;
        }
        cJSON_ArrayForEach (e, in->ledger)
                if (streq_ptr(json_get_string(e, "result"), "succeeded"))
                        found = e;
        return found;
}

/* the newest entry the database belongs to, and whether any of them passes test */
static const cJSON *newest_owner(
        const RetentionInput *in,
        const char *name,
        const char *id,
        bool (*test)(const RetentionInput *in, const cJSON *e, void *userdata),
        void *userdata,
        const cJSON **ret_passed) {
        const cJSON *e, *owner = NULL;

        *ret_passed = NULL;
        cJSON_ArrayForEach (e, in->ledger)
                if (belongs(e, name, id)) {
                        owner = e;
                        if (test && test(in, e, userdata))
                                *ret_passed = e;
                }
        return owner;
}

static bool backup_kept(const RetentionInput *in, const cJSON *e, void *userdata) {
        return strv_contains(in->backups, json_get_string(e, "backup"));
}

typedef struct Failures {
        const cJSON **recent; /* the newest Keep= failed upgrades */
        size_t n;
} Failures;

static bool recent_failure(const RetentionInput *in, const cJSON *e, void *userdata) {
        const Failures *f = userdata;

        for (size_t i = 0; i < f->n; i++)
                if (f->recent[i] == e)
                        return true;
        return false;
}

static int plan_database(RetentionPlan *p, const RetentionInput *in, const char *name, const Failures *f) {
        _cleanup_free_ char *what = NULL;
        const cJSON *owner = NULL, *passed = NULL;
        const Current *c = in->current;
        const char *id, *word;
        RetentionKind kind;
        size_t i;

        if (parse_name(in->db_name, name, &i, &id) < 0)
                return 0;
        kind = db_kinds[i].kind;
        word = db_kinds[i].word;

        if (c && (streq_ptr(c->snapshot, name) || streq_ptr(c->failed_database, name) ||
                  id_matches(id, c->id, 1) || kind == RETENTION_TRIAL || streq(word, "restore")))
                return plan_keep(
                        p,
                        kind,
                        name,
                        "the %s %s → %s recorded in current.json may need it",
                        c->held ? "held upgrade" : "upgrade or rollback in flight",
                        c->from ?: "?",
                        c->to ?: "?");

        switch (kind) {
        case RETENTION_SNAPSHOT: {
                const cJSON *needed = late_rollback_entry(in);

                if (needed && belongs(needed, name, id)) {
                        what = describe(needed);
                        return what ? plan_keep(
                                              p,
                                              kind,
                                              name,
                                              "the restore point of the upgrade %s that runs now: a late "
                                              "rollback (codebolt-rollback@%s) restores from it",
                                              what,
                                              json_get_string(needed, "to") ?: "?")
                                    : -ENOMEM;
                }
                owner = newest_owner(in, name, id, backup_kept, NULL, &passed);
                if (passed) {
                        what = describe(passed);
                        return what ? plan_keep(
                                              p,
                                              kind,
                                              name,
                                              "the backup %s of its upgrade %s is still kept",
                                              json_get_string(passed, "backup"),
                                              what)
                                    : -ENOMEM;
                }
                break;
        }
        case RETENTION_FAILED:
                owner = newest_owner(in, name, id, recent_failure, (void *)f, &passed);
                if (passed) {
                        what = describe(passed);
                        return what ? plan_keep(
                                              p,
                                              kind,
                                              name,
                                              "the post-mortem of the failed upgrade %s, one of the newest "
                                              "Keep=%u failed upgrades",
                                              what,
                                              in->keep)
                                    : -ENOMEM;
                }
                break;
        case RETENTION_TRIAL:
                owner = newest_owner(in, name, id, NULL, NULL, &passed);
                break;
        default:
                assert(false);
                return -EINVAL;
        }

        if (!owner)
                return plan_keep(
                        p,
                        kind,
                        name,
                        "no upgrade in the ledger of this deployment made it (made by hand, or another "
                        "deployment's): left alone");
        what = describe(owner);
        if (!what)
                return -ENOMEM;
        switch (kind) {
        case RETENTION_SNAPSHOT:
                return plan_add(
                        p,
                        kind,
                        true,
                        name,
                        "the snapshot of the upgrade %s: no late rollback restores from it, and its backup "
                        "is no longer kept",
                        what);
        case RETENTION_FAILED:
                return plan_add(
                        p,
                        kind,
                        true,
                        name,
                        "the %s database of the upgrade %s, older than the newest Keep=%u failed upgrades",
                        streq(word, "restore") ? "half-restored" : "failed",
                        what,
                        in->keep);
        default:
                return plan_add(
                        p,
                        kind,
                        true,
                        name,
                        "a trial restore left behind by the backup of the upgrade %s",
                        what);
        }
}

static int version_compare(const void *a, const void *b) {
        _cleanup_(semver_done) SemVer x = {};
        _cleanup_(semver_done) SemVer y = {};
        const char *s = *(const char *const *)a, *t = *(const char *const *)b;
        int d;

        /* only parsed versions are sorted; newest first */
        (void)semver_parse(s, &x);
        (void)semver_parse(t, &y);
        d = semver_compare(&y, &x);
        return d != 0 ? d : strcmp(s, t);
}

static int plan_releases(RetentionPlan *p, const RetentionInput *in) {
        _cleanup_free_ const char **versions = NULL;
        _cleanup_free_ char *back_what = NULL, *late_what = NULL;
        const cJSON *e, *back = NULL, *late = late_rollback_entry(in);
        const Current *c = in->current;
        size_t n = 0;
        int r;

        for (char *const *i = in->releases; i && *i; i++) {
                SemVer v = {};
                const char **grown;

                if (semver_parse(*i, &v) < 0)
                        continue;
                semver_done(&v);
                grown = realloc(versions, (n + 1) * sizeof(char *));
                if (!grown)
                        return -ENOMEM;
                versions = grown;
                versions[n++] = *i;
        }
        if (n == 0)
                return 0;
        qsort(versions, n, sizeof(char *), version_compare);

        /* the newest success: what its late rollback switches back to */
        cJSON_ArrayForEach (e, in->ledger)
                if (streq_ptr(json_get_string(e, "result"), "succeeded"))
                        back = e;
        if ((back && !(back_what = describe(back))) || (late && !(late_what = describe(late))))
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                const char *v = versions[i];

                if (!in->running)
                        r = plan_keep(
                                p,
                                RETENTION_RELEASE,
                                v,
                                "what runs is not known (the current link of the install root is not "
                                "a release link): every release stays");
                else if (streq(v, in->running))
                        r = plan_keep(p, RETENTION_RELEASE, v, "it runs");
                else if (streq_ptr(v, in->pinned))
                        r = plan_keep(p, RETENTION_RELEASE, v, "it is pinned");
                else if (c && (streq_ptr(v, c->from) || streq_ptr(v, c->to)))
                        r = plan_keep(
                                p,
                                RETENTION_RELEASE,
                                v,
                                "the upgrade or rollback %s → %s recorded in current.json uses it",
                                c->from ?: "?",
                                c->to ?: "?");
                else if (late && streq_ptr(v, json_get_string(late, "from")))
                        r = plan_keep(
                                p,
                                RETENTION_RELEASE,
                                v,
                                "a late rollback of the upgrade %s switches back to it",
                                late_what);
                else if (back && streq_ptr(v, json_get_string(back, "from")))
                        r = plan_keep(
                                p,
                                RETENTION_RELEASE,
                                v,
                                "the previous version of the last success, %s",
                                back_what);
                else if (i < in->keep)
                        r = plan_keep(
                                p, RETENTION_RELEASE, v, "one of the newest Keep=%u releases", in->keep);
                else
                        r = plan_add(
                                p,
                                RETENTION_RELEASE,
                                true,
                                v,
                                "not running, pinned or in flight, no rollback switches back to it, and "
                                "older than the newest Keep=%u releases",
                                in->keep);
                if (r < 0)
                        return r;
        }
        return 0;
}

int retention_plan(const RetentionInput *in, RetentionPlan *ret) {
        _cleanup_(retention_plan_done) RetentionPlan p = {};
        _cleanup_free_ const cJSON **recent = NULL;
        Failures f = {};
        int n, r;

        assert(in);
        assert(ret);
        if (!cJSON_IsArray(in->ledger) || !in->db_name || !*in->db_name)
                return -EINVAL;

        /* the newest Keep= failed upgrades, newest first */
        n = cJSON_GetArraySize(in->ledger);
        recent = calloc(in->keep + 1, sizeof(cJSON *));
        if (!recent)
                return -ENOMEM;
        for (int i = n - 1; i >= 0 && f.n < in->keep; i--) {
                const cJSON *e = cJSON_GetArrayItem(in->ledger, i);
                if (entry_failed(e))
                        recent[f.n++] = e;
        }
        f.recent = recent;

        for (char *const *d = in->databases; d && *d; d++) {
                r = plan_database(&p, in, *d, &f);
                if (r < 0)
                        return r;
        }
        r = plan_releases(&p, in);
        if (r < 0)
                return r;
        *ret = p;
        p = (RetentionPlan){};
        return 0;
}
