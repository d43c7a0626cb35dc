/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-cluster-docs.c: "kind\nvalue": a value of the cluster's etcd keys as another host (or a hand
 * with etcdctl) may have written it, read by cluster_<kind>_parse() (kind: roll, sem, migrator, host,
 * member; anything else tries every kind). What parses must round-trip through *_to_json() unchanged, and
 * the semaphore's and the roll's operations on it must give documents that parse again. */
#define _GNU_SOURCE
#include <errno.h>

#include "cluster-rules.h"
#include "fuzz.h"
#include "json-util.h"
#include "strv.h"

/* the document written, read again and written again: the same text. Text, not cJSON_Compare(), which
 * matches an object's repeated key with its first occurrence and so finds a document with one unequal
 * to itself. */
#define CHECK_ROUND_TRIP(type, done, from_json, to_json, doc)  \
        do {                                                   \
                _cleanup_json_ cJSON *_a = NULL, *_b = NULL;   \
                _cleanup_free_ char *_ta = NULL, *_tb = NULL;  \
                _cleanup_(done) type _again = {};              \
                FUZZ_CHECK(to_json(doc, &_a) == 0);            \
                FUZZ_CHECK(from_json(_a, &_again, NULL) == 0); \
                FUZZ_CHECK(to_json(&_again, &_b) == 0);        \
                _ta = cJSON_PrintUnformatted(_a);              \
                _tb = cJSON_PrintUnformatted(_b);              \
                FUZZ_CHECK(_ta &&_tb &&streq(_ta, _tb));       \
        } while (0)

static void check_sem_result(int verdict, ClusterSem *after) {
        FUZZ_CHECK(verdict >= 0);
        CHECK_ROUND_TRIP(ClusterSem, cluster_sem_done, cluster_sem_from_json, cluster_sem_to_json, after);
        cluster_sem_done(after);
}

static void fuzz_sem(const char *value, size_t size) {
        _cleanup_(cluster_sem_done) ClusterSem s = {}, a = {};
        _cleanup_free_ char *holders = NULL;
        const char *host = "fuzz-host";
        int r;

        if (cluster_sem_parse(value, size, &s, NULL) < 0)
                return;
        CHECK_ROUND_TRIP(ClusterSem, cluster_sem_done, cluster_sem_from_json, cluster_sem_to_json, &s);

        for (uint64_t slots = 1; slots <= 3; slots++) {
                r = cluster_sem_take(&s, host, slots, &a, &holders);
                FUZZ_CHECK(r == CLUSTER_SEM_GRANTED || r == CLUSTER_SEM_HELD || r == CLUSTER_SEM_BUSY);
                FUZZ_CHECK((r == CLUSTER_SEM_BUSY) == !!holders);
                FUZZ_CHECK(
                        r == CLUSTER_SEM_BUSY ? !cluster_sem_holds(&a, host) : cluster_sem_holds(&a, host));
                free(holders);
                holders = NULL;
                check_sem_result(r, &a);
        }
        /* a holder releases; releasing again finds nothing */
        r = cluster_sem_release(&s, s.holders && s.holders[0] ? s.holders[0] : host, &a);
        FUZZ_CHECK(r == CLUSTER_SEM_RELEASED || r == CLUSTER_SEM_NOT_HELD);
        FUZZ_CHECK(a.total_slots == s.total_slots);
        check_sem_result(r, &a);
}

/* a transition's result parses again; a refusal says why */
static void check_roll_result(int r, char **error, ClusterRoll *after) {
        FUZZ_CHECK(r >= 0 || r == -EPERM);
        if (r == -EPERM)
                FUZZ_CHECK(*error);
        else
                CHECK_ROUND_TRIP(
                        ClusterRoll, cluster_roll_done, cluster_roll_from_json, cluster_roll_to_json, after);
        cluster_roll_done(after);
        free(*error);
        *error = NULL;
}

static void fuzz_roll(const char *value, size_t size) {
        _cleanup_(cluster_roll_done) ClusterRoll roll = {}, a = {};
        _cleanup_free_ char *error = NULL;
        char *members[] = { "h1", "h2", NULL };
        int r;

        if (cluster_roll_parse(value, size, &roll, NULL) < 0)
                return;
        CHECK_ROUND_TRIP(
                ClusterRoll, cluster_roll_done, cluster_roll_from_json, cluster_roll_to_json, &roll);

        check_roll_result(cluster_roll_host_upgraded(&roll, "h1", members, &a, &error), &error, &a);
        check_roll_result(cluster_roll_host_failed(&roll, "h2", false, &a, &error), &error, &a);
        check_roll_result(cluster_roll_host_failed(&roll, "h2", true, &a, &error), &error, &a);
        check_roll_result(cluster_roll_host_reverted(&roll, "h1", &a, &error), &error, &a);
        check_roll_result(cluster_roll_complete(&roll, members, &a, &error), &error, &a);
        check_roll_result(cluster_roll_pause(&roll, &a, &error), &error, &a);
        check_roll_result(cluster_roll_resume(&roll, &a, &error), &error, &a);
        check_roll_result(cluster_roll_abort(&roll, &a, &error), &error, &a);
        check_roll_result(cluster_roll_host_stopped(&roll, "h2", &a, &error), &error, &a);
        r = cluster_roll_all_stopped(&roll, members, &error);
        FUZZ_CHECK(r == 1 ? !error : r == 0 && error);
        free(error);
        error = NULL;

        r = cluster_roll_may_start(&roll, "h1", roll.to, &error);
        FUZZ_CHECK(r == 1 ? !error : r == 0 && error);
        free(error);
        error = NULL;
        r = cluster_roll_may_replace(&roll, &error);
        FUZZ_CHECK(r == 1 ? !error : r == 0 && error);
        free(error);
        error = NULL;
        r = cluster_roll_may_revert(&roll, "h1", &error);
        FUZZ_CHECK(r == 1 ? !error : r == 0 && error);
}

/* fuzz_<kind>() for a document without operations: parse, and round-trip what parses */
#define DEFINE_FUZZ_DOC(kind, type)                                     \
        static void fuzz_##kind(const char *value, size_t size) {       \
                _cleanup_(cluster_##kind##_done) type d = {};           \
                                                                        \
                if (cluster_##kind##_parse(value, size, &d, NULL) == 0) \
                        CHECK_ROUND_TRIP(                               \
                                type,                                   \
                                cluster_##kind##_done,                  \
                                cluster_##kind##_from_json,             \
                                cluster_##kind##_to_json,               \
                                &d);                                    \
        }

DEFINE_FUZZ_DOC(migrator, ClusterMigrator)
DEFINE_FUZZ_DOC(host, ClusterHost)
DEFINE_FUZZ_DOC(member, ClusterMember)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const struct {
                const char *kind;
                void (*fuzz)(const char *value, size_t size);
        } kinds[] = {
                { "roll", fuzz_roll }, { "sem", fuzz_sem },       { "migrator", fuzz_migrator },
                { "host", fuzz_host }, { "member", fuzz_member },
        };
        const uint8_t *nl = memchr(data, '\n', size);
        size_t kind_len = nl ? (size_t)(nl - data) : 0;
        const char *value = nl ? (const char *)nl + 1 : (const char *)data;
        size_t value_size = nl ? size - kind_len - 1 : size;
        bool known = false;

        /* the value as etcd hands it: bytes with a size, not a string */
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                if (strlen(kinds[i].kind) == kind_len && memcmp(kinds[i].kind, data, kind_len) == 0) {
                        kinds[i].fuzz(value, value_size);
                        known = true;
                }
        if (!known)
                for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                        kinds[i].fuzz(value, value_size);
        return 0;
}
