/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-cluster-rules.c: cluster-rules module: the semaphore, the roll's transitions, the follower's
 * decision, the rolling rule */
#define _GNU_SOURCE
#include <assert.h>
#include <check.h>
#include <systemd/sd-id128.h>

#include "cluster-rules.h"
#include "json-util.h"
#include "state.h"
#include "strv.h"
#include "test-util.h"

static cJSON *fixture(const char *name) {
        return test_fixture_json(FIXTURES, "cluster", name);
}

static cJSON *json(const char *text) {
        return test_json(text);
}

/* ---- names ---- */

/* ---- the semaphore ---- */

static void assert_holders(const ClusterSem *s, uint64_t total, const char *holders) {
        _cleanup_free_ char *h = NULL;

        ck_assert_int_eq(s->total_slots, total);
        ck_assert_int_eq(cluster_sem_holders_string(s, &h), 0);
        ck_assert_str_eq(h, holders);
}

START_TEST(test_sem_take_fresh) {
        _cleanup_(cluster_sem_done) ClusterSem s = {}, again = {};
        _cleanup_json_ cJSON *a = NULL, *b = NULL;

        /* an absent key is a fresh semaphore of Slots= slots */
        ck_assert_int_eq(cluster_sem_take(NULL, "h1", 1, &s, NULL), CLUSTER_SEM_GRANTED);
        assert_holders(&s, 1, "h1");
        ck_assert(cluster_sem_holds(&s, "h1"));
        ck_assert(!cluster_sem_holds(&s, "h2"));
        ck_assert(!cluster_sem_holds(NULL, "h1"));

        /* re-entrant: the holder asking again is granted and nothing changes */
        ck_assert_int_eq(cluster_sem_take(&s, "h1", 1, &again, NULL), CLUSTER_SEM_HELD);
        ck_assert_int_eq(cluster_sem_to_json(&s, &a), 0);
        ck_assert_int_eq(cluster_sem_to_json(&again, &b), 0);
        ck_assert(cJSON_Compare(a, b, true));
}
END_TEST

START_TEST(test_sem_take_busy) {
        _cleanup_(cluster_sem_done) ClusterSem s1 = {}, s2 = {}, s3 = {}, s4 = {};
        _cleanup_free_ char *holders = NULL;

        ck_assert_int_eq(cluster_sem_take(NULL, "h2", 1, &s1, &holders), CLUSTER_SEM_GRANTED);
        ck_assert_ptr_null(holders);
        ck_assert_int_eq(cluster_sem_take(&s1, "h1", 1, &s2, &holders), CLUSTER_SEM_BUSY);
        ck_assert_str_eq(holders, "h2");
        /* busy writes nothing: the copy is the semaphore read */
        assert_holders(&s2, 1, "h2");
        free(holders);
        holders = NULL;

        /* two slots: two holders, the third waits for both */
        ck_assert_int_eq(cluster_sem_take(&s1, "h1", 2, &s3, NULL), CLUSTER_SEM_GRANTED);
        assert_holders(&s3, 2, "h1, h2");
        ck_assert_int_eq(cluster_sem_take(&s3, "h3", 2, &s4, &holders), CLUSTER_SEM_BUSY);
        ck_assert_str_eq(holders, "h1, h2");
}
END_TEST

START_TEST(test_sem_slots_change) {
        _cleanup_json_ cJSON *j = json("{\"total_slots\": 2, \"holders\": [\"h1\", \"h2\"]}");
        _cleanup_(cluster_sem_done) ClusterSem s = {}, a = {}, b = {}, c = {}, d = {}, e = {}, f = {};
        _cleanup_free_ char *holders = NULL;

        ck_assert_int_eq(cluster_sem_from_json(j, &s, NULL), 0);
        /* Slots= lowered to 1: no holder is dropped; h3 waits until fewer than 1 hold */
        ck_assert_int_eq(cluster_sem_take(&s, "h3", 1, &a, &holders), CLUSTER_SEM_BUSY);
        ck_assert_str_eq(holders, "h1, h2");
        assert_holders(&a, 2, "h1, h2");
        ck_assert_int_eq(cluster_sem_release(&a, "h1", &b), CLUSTER_SEM_RELEASED);
        assert_holders(&b, 2, "h2");
        ck_assert_int_eq(cluster_sem_take(&b, "h3", 1, &c, NULL), CLUSTER_SEM_BUSY);
        /* a holder re-entering under the lower Slots= keeps its slot */
        ck_assert_int_eq(cluster_sem_take(&b, "h2", 1, &d, NULL), CLUSTER_SEM_HELD);
        assert_holders(&d, 2, "h2");
        ck_assert_int_eq(cluster_sem_release(&d, "h2", &e), CLUSTER_SEM_RELEASED);
        assert_holders(&e, 2, "");
        /* the grant writes the new total */
        ck_assert_int_eq(cluster_sem_take(&e, "h3", 1, &f, NULL), CLUSTER_SEM_GRANTED);
        assert_holders(&f, 1, "h3");
}
END_TEST

START_TEST(test_sem_slots_raised) {
        _cleanup_(cluster_sem_done) ClusterSem a = {}, b = {}, c = {};

        ck_assert_int_eq(cluster_sem_take(NULL, "h1", 1, &a, NULL), CLUSTER_SEM_GRANTED);
        ck_assert_int_eq(cluster_sem_take(&a, "h2", 3, &b, NULL), CLUSTER_SEM_GRANTED);
        assert_holders(&b, 3, "h1, h2");
        ck_assert_int_eq(cluster_sem_take(&b, "h0", 3, &c, NULL), CLUSTER_SEM_GRANTED);
        assert_holders(&c, 3, "h0, h1, h2");
}
END_TEST

START_TEST(test_sem_release) {
        _cleanup_(cluster_sem_done) ClusterSem a = {}, b = {}, c = {}, d = {};

        ck_assert_int_eq(cluster_sem_release(NULL, "h1", &a), CLUSTER_SEM_NOT_HELD);
        assert_holders(&a, 1, "");
        ck_assert_int_eq(cluster_sem_take(&a, "h1", 1, &b, NULL), CLUSTER_SEM_GRANTED);
        ck_assert_int_eq(cluster_sem_release(&b, "h2", &c), CLUSTER_SEM_NOT_HELD);
        assert_holders(&c, 1, "h1");
        ck_assert_int_eq(cluster_sem_release(&b, "h1", &d), CLUSTER_SEM_RELEASED);
        assert_holders(&d, 1, "");
}
END_TEST

START_TEST(test_sem_invalid) {
        _cleanup_(cluster_sem_done) ClusterSem s = {};

        ck_assert_int_eq(cluster_sem_take(NULL, "a/b", 1, &s, NULL), -EINVAL);
        ck_assert_int_eq(cluster_sem_take(NULL, NULL, 1, &s, NULL), -EINVAL);
        ck_assert_int_eq(cluster_sem_take(NULL, "h1", 0, &s, NULL), -EINVAL);
        ck_assert_int_eq(cluster_sem_take(NULL, "h1", CLUSTER_SLOTS_MAX + 1, &s, NULL), -EINVAL);
        ck_assert_int_eq(cluster_sem_release(NULL, "", &s), -EINVAL);
        ck_assert_ptr_null(s.holders);
}
END_TEST

/* ---- the roll ---- */

static void roll_of(ClusterRollState state, const char *upgraded, const char *failed, ClusterRoll *ret) {
        _cleanup_json_ cJSON *j = fixture("roll.json");

        cJSON_ReplaceItemInObjectCaseSensitive(
                j, "state", cJSON_CreateString(cluster_roll_state_to_string(state)));
        cJSON_ReplaceItemInObjectCaseSensitive(j, "upgraded", json(upgraded));
        cJSON_ReplaceItemInObjectCaseSensitive(j, "failed", json(failed));
        ck_assert_int_eq(cluster_roll_from_json(j, ret, NULL), 0);
}

static void assert_roll(
        const ClusterRoll *r, ClusterRollState state, const char *upgraded, const char *failed) {
        _cleanup_json_ cJSON *u = json(upgraded), *f = json(failed), *o = NULL;

        ck_assert_str_eq(cluster_roll_state_to_string(r->state), cluster_roll_state_to_string(state));
        ck_assert_int_eq(cluster_roll_to_json(r, &o), 0);
        ck_assert_msg(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(o, "upgraded"), u, true), "upgraded");
        ck_assert_msg(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(o, "failed"), f, true), "failed");
        /* the rest of the roll is carried */
        ck_assert_str_eq(r->to, "1.5.0");
        ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(r->extra, "note"));
}

START_TEST(test_roll_upgraded) {
        char *members[] = { "h1", "h2", "h3", NULL };
        _cleanup_(cluster_roll_done) ClusterRoll r = {}, a = {}, b = {}, c = {}, d = {};

        roll_of(CLUSTER_ROLL_ROLLING, "[]", "[]", &r);
        ck_assert_int_eq(cluster_roll_host_upgraded(&r, "h2", members, &a, NULL), 1);
        assert_roll(&a, CLUSTER_ROLL_ROLLING, "[\"h2\"]", "[]");
        /* appended once: a retry writes nothing */
        ck_assert_int_eq(cluster_roll_host_upgraded(&a, "h2", members, &b, NULL), 0);
        assert_roll(&b, CLUSTER_ROLL_ROLLING, "[\"h2\"]", "[]");
        ck_assert_int_eq(cluster_roll_host_upgraded(&b, "h1", members, &c, NULL), 1);
        /* the host that completes the member list sets done */
        ck_assert_int_eq(cluster_roll_host_upgraded(&c, "h3", members, &d, NULL), 1);
        assert_roll(&d, CLUSTER_ROLL_DONE, "[\"h2\", \"h1\", \"h3\"]", "[]");
}
END_TEST

START_TEST(test_roll_upgraded_states) {
        char *members[] = { "h1", "h2", NULL };
        _cleanup_(cluster_roll_done) ClusterRoll p = {}, a = {}, ab = {}, b = {}, d = {}, e = {}, x = {};
        _cleanup_free_ char *error = NULL;

        /* paused (another host failed): the upgrade happened, it is recorded; no done while paused */
        roll_of(CLUSTER_ROLL_PAUSED, "[\"h1\"]", "[]", &p);
        ck_assert_int_eq(cluster_roll_host_upgraded(&p, "h2", members, &a, NULL), 1);
        assert_roll(&a, CLUSTER_ROLL_PAUSED, "[\"h1\", \"h2\"]", "[]");
        /* aborting: recorded, so that it reverts too */
        roll_of(CLUSTER_ROLL_ABORTING, "[\"h1\"]", "[]", &ab);
        ck_assert_int_eq(cluster_roll_host_upgraded(&ab, "h2", members, &b, NULL), 1);
        assert_roll(&b, CLUSTER_ROLL_ABORTING, "[\"h1\", \"h2\"]", "[]");
        /* done: a retry of the last host writes nothing; another is refused */
        roll_of(CLUSTER_ROLL_DONE, "[\"h1\", \"h2\"]", "[]", &d);
        ck_assert_int_eq(cluster_roll_host_upgraded(&d, "h2", members, &e, NULL), 0);
        ck_assert_int_eq(cluster_roll_host_upgraded(&d, "h3", members, &x, &error), -EPERM);
        ck_assert_str_eq(error, "the roll to 1.5.0 is done, not rolling, paused or aborting");
        ck_assert_int_eq(cluster_roll_host_upgraded(&d, "h/3", members, &x, NULL), -EINVAL);
        ck_assert_ptr_null(x.id);
}
END_TEST

START_TEST(test_roll_failed) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {}, a = {}, b = {}, c = {}, d = {}, e = {}, x = {};
        _cleanup_free_ char *error = NULL;

        roll_of(CLUSTER_ROLL_ROLLING, "[\"h1\"]", "[]", &r);
        ck_assert_int_eq(cluster_roll_host_failed(&r, "h2", false, &a, NULL), 1);
        assert_roll(&a, CLUSTER_ROLL_PAUSED, "[\"h1\"]", "[\"h2\"]");
        /* a retry writes nothing */
        ck_assert_int_eq(cluster_roll_host_failed(&a, "h2", false, &b, NULL), 0);
        assert_roll(&b, CLUSTER_ROLL_PAUSED, "[\"h1\"]", "[\"h2\"]");
        /* AutoRevert=yes: aborting, from rolling or paused */
        ck_assert_int_eq(cluster_roll_host_failed(&r, "h2", true, &c, NULL), 1);
        assert_roll(&c, CLUSTER_ROLL_ABORTING, "[\"h1\"]", "[\"h2\"]");
        ck_assert_int_eq(cluster_roll_host_failed(&a, "h3", true, &d, NULL), 1);
        assert_roll(&d, CLUSTER_ROLL_ABORTING, "[\"h1\"]", "[\"h2\", \"h3\"]");
        /* aborting stays aborting without AutoRevert= (a revert failed) */
        ck_assert_int_eq(cluster_roll_host_failed(&d, "h1", false, &e, NULL), 1);
        assert_roll(&e, CLUSTER_ROLL_ABORTING, "[\"h1\"]", "[\"h2\", \"h3\", \"h1\"]");

        cluster_roll_done(&r);
        roll_of(CLUSTER_ROLL_ABORTED, "[]", "[]", &r);
        ck_assert_int_eq(cluster_roll_host_failed(&r, "h2", false, &x, &error), -EPERM);
        ck_assert_str_eq(error, "the roll to 1.5.0 is aborted, not rolling, paused or aborting");
        ck_assert_ptr_null(x.id);
}
END_TEST

/* roll_of() in coordinated mode */
static void coordinated_of(ClusterRollState state, const char *upgraded, ClusterRoll *ret) {
        roll_of(state, upgraded, "[]", ret);
        ret->mode = CLUSTER_MODE_COORDINATED;
}

START_TEST(test_roll_stopped) {
        char *members[] = { "h1", "h2", "h3", NULL };
        _cleanup_(cluster_roll_done) ClusterRoll r = {}, a = {}, b = {}, c = {}, back = {}, x = {};
        _cleanup_json_ cJSON *o = NULL, *none = NULL;
        _cleanup_free_ char *running = NULL, *error = NULL;

        coordinated_of(CLUSTER_ROLL_ROLLING, "[]", &r);
        /* absent is none, and none is not written */
        ck_assert_int_eq(strv_length(r.stopped), 0);
        ck_assert_int_eq(cluster_roll_to_json(&r, &none), 0);
        ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(none, "stopped"));
        ck_assert_int_eq(cluster_roll_all_stopped(&r, members, &running), 0);
        ck_assert_str_eq(running, "h1, h2, h3");

        ck_assert_int_eq(cluster_roll_host_stopped(&r, "h2", &a, NULL), 1);
        ck_assert_int_eq(cluster_roll_host_stopped(&a, "h2", &b, NULL), 0); /* once */
        ck_assert_int_eq(cluster_roll_host_stopped(&b, "h1", &c, NULL), 1);
        free(TAKE_PTR(running));
        ck_assert_int_eq(cluster_roll_all_stopped(&c, members, &running), 0);
        ck_assert_str_eq(running, "h3");
        /* written and read back */
        ck_assert_int_eq(cluster_roll_to_json(&c, &o), 0);
        ck_assert_int_eq(cluster_roll_from_json(o, &back, NULL), 0);
        ck_assert_int_eq(strv_length(back.stopped), 2);
        ck_assert_str_eq(back.stopped[0], "h2");
        ck_assert_str_eq(back.stopped[1], "h1");
        free(TAKE_PTR(running));
        cluster_roll_done(&a);
        ck_assert_int_eq(cluster_roll_host_stopped(&c, "h3", &a, NULL), 1);
        ck_assert_int_eq(cluster_roll_all_stopped(&a, members, &running), 1);
        ck_assert_ptr_null(running);

        /* only a coordinated roll that is rolling */
        cluster_roll_done(&r);
        roll_of(CLUSTER_ROLL_ROLLING, "[]", "[]", &r);
        ck_assert_int_eq(cluster_roll_host_stopped(&r, "h1", &x, &error), -EPERM);
        ck_assert_str_eq(error, "the roll to 1.5.0 is rolling, not coordinated");
        free(TAKE_PTR(error));
        cluster_roll_done(&r);
        coordinated_of(CLUSTER_ROLL_ABORTED, "[]", &r);
        ck_assert_int_eq(cluster_roll_host_stopped(&r, "h1", &x, &error), -EPERM);
        ck_assert_str_eq(error, "the roll to 1.5.0 is aborted, not rolling");
        ck_assert_int_eq(cluster_roll_host_stopped(&r, "not a host", &x, NULL), -EINVAL);
}
END_TEST

START_TEST(test_roll_stopped_malformed) {
        _cleanup_json_ cJSON *j = fixture("roll.json");
        _cleanup_(cluster_roll_done) ClusterRoll r = {};
        _cleanup_free_ char *error = NULL;

        cJSON_AddItemToObject(j, "stopped", cJSON_CreateString("h1"));
        ck_assert_int_eq(cluster_roll_from_json(j, &r, &error), -EBADMSG);
        ck_assert_str_eq(error, "roll: \"stopped\" is not a list of host ids");
}
END_TEST

START_TEST(test_roll_failed_coordinated) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {}, a = {}, b = {}, c = {}, d = {};
        _cleanup_free_ char *error = NULL;

        /* before the migrator finished: every member goes back by itself, nothing to revert */
        coordinated_of(CLUSTER_ROLL_ROLLING, "[]", &r);
        ck_assert_int_eq(cluster_roll_host_failed(&r, "h1", false, &a, NULL), 1);
        assert_roll(&a, CLUSTER_ROLL_ABORTED, "[]", "[\"h1\"]");
        ck_assert_int_eq(cluster_roll_host_failed(&r, "h1", true, &b, NULL), 1);
        assert_roll(&b, CLUSTER_ROLL_ABORTED, "[]", "[\"h1\"]");
        /* after it: the data is migrated; paused for an operator, even with AutoRevert= */
        cluster_roll_done(&r);
        coordinated_of(CLUSTER_ROLL_ROLLING, "[\"h1\"]", &r);
        ck_assert_int_eq(cluster_roll_host_failed(&r, "h2", true, &c, NULL), 1);
        assert_roll(&c, CLUSTER_ROLL_PAUSED, "[\"h1\"]", "[\"h2\"]");
        /* abort: refused while rolling (the members follow the migrator), allowed once paused */
        ck_assert_int_eq(cluster_roll_abort(&r, &b, &error), -EPERM);
        ck_assert_str_eq(
                error,
                "the coordinated roll to 1.5.0 is rolling, and its members follow the migrator: stop the "
                "migrator's codebolt-upgrade@1.5.0.service to make it fail, and every member goes back");
        cluster_roll_done(&b);
        ck_assert_int_eq(cluster_roll_abort(&c, &b, NULL), 1);
        ck_assert_int_eq(b.state, CLUSTER_ROLL_ABORTING);
        /* resume: the failed and the stopped start again */
        ck_assert_int_eq(cluster_roll_host_stopped(&r, "h3", &d, NULL), 1);
        cluster_roll_done(&a);
        d.state = CLUSTER_ROLL_PAUSED;
        ck_assert_int_eq(cluster_roll_resume(&d, &a, NULL), 1);
        ck_assert_int_eq(strv_length(a.stopped), 0);
}
END_TEST

START_TEST(test_roll_reverted) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {}, a = {}, b = {}, c = {}, x = {};
        _cleanup_free_ char *error = NULL;

        roll_of(CLUSTER_ROLL_ABORTING, "[\"h1\", \"h2\"]", "[\"h3\"]", &r);
        ck_assert_int_eq(cluster_roll_host_reverted(&r, "h1", &a, NULL), 1);
        assert_roll(&a, CLUSTER_ROLL_ABORTING, "[\"h2\"]", "[\"h3\"]");
        ck_assert_int_eq(cluster_roll_host_reverted(&a, "h1", &x, NULL), 0);
        cluster_roll_done(&x);
        /* the host that empties upgraded sets aborted; its retry writes nothing */
        ck_assert_int_eq(cluster_roll_host_reverted(&a, "h2", &b, NULL), 1);
        assert_roll(&b, CLUSTER_ROLL_ABORTED, "[]", "[\"h3\"]");
        ck_assert_int_eq(cluster_roll_host_reverted(&b, "h2", &c, NULL), 0);
        assert_roll(&c, CLUSTER_ROLL_ABORTED, "[]", "[\"h3\"]");

        cluster_roll_done(&r);
        roll_of(CLUSTER_ROLL_PAUSED, "[\"h1\"]", "[]", &r);
        ck_assert_int_eq(cluster_roll_host_reverted(&r, "h1", &x, &error), -EPERM);
        ck_assert_str_eq(error, "the roll to 1.5.0 is paused, not aborting");
}
END_TEST

START_TEST(test_roll_complete) {
        char *members[] = { "h1", "h2", NULL }, *fewer[] = { "h1", NULL };
        _cleanup_(cluster_roll_done) ClusterRoll r = {}, a = {}, b = {}, c = {}, p = {}, x = {};
        _cleanup_free_ char *error = NULL;

        roll_of(CLUSTER_ROLL_ROLLING, "[\"h1\"]", "[]", &r);
        ck_assert_int_eq(cluster_roll_complete(&r, members, &a, NULL), 0);
        assert_roll(&a, CLUSTER_ROLL_ROLLING, "[\"h1\"]", "[]");
        /* h2 left the cluster: the roll is complete */
        ck_assert_int_eq(cluster_roll_complete(&r, fewer, &b, NULL), 1);
        assert_roll(&b, CLUSTER_ROLL_DONE, "[\"h1\"]", "[]");
        ck_assert_int_eq(cluster_roll_complete(&b, fewer, &c, NULL), 0);
        ck_assert_int_eq(cluster_roll_pause(&r, &p, NULL), 1);
        ck_assert_int_eq(cluster_roll_complete(&p, fewer, &x, &error), -EPERM);
        ck_assert_str_eq(error, "the roll to 1.5.0 is paused, not rolling");
}
END_TEST

START_TEST(test_roll_pause_resume) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {}, p = {}, p2 = {}, f = {}, g = {}, g2 = {}, x = {};
        _cleanup_free_ char *error = NULL;

        roll_of(CLUSTER_ROLL_ROLLING, "[\"h1\"]", "[]", &r);
        ck_assert_int_eq(cluster_roll_pause(&r, &p, NULL), 1);
        assert_roll(&p, CLUSTER_ROLL_PAUSED, "[\"h1\"]", "[]");
        ck_assert_int_eq(cluster_roll_pause(&p, &p2, NULL), 0);
        assert_roll(&p2, CLUSTER_ROLL_PAUSED, "[\"h1\"]", "[]");

        /* resume: the failed hosts try again */
        ck_assert_int_eq(cluster_roll_host_failed(&r, "h2", false, &f, NULL), 1);
        ck_assert_int_eq(cluster_roll_resume(&f, &g, NULL), 1);
        assert_roll(&g, CLUSTER_ROLL_ROLLING, "[\"h1\"]", "[]");
        ck_assert_int_eq(cluster_roll_resume(&g, &g2, NULL), 0);
        assert_roll(&g2, CLUSTER_ROLL_ROLLING, "[\"h1\"]", "[]");

        cluster_roll_done(&r);
        roll_of(CLUSTER_ROLL_DONE, "[\"h1\"]", "[]", &r);
        ck_assert_int_eq(cluster_roll_pause(&r, &x, &error), -EPERM);
        ck_assert_str_eq(error, "the roll to 1.5.0 is done, not rolling");
        ck_assert_int_eq(cluster_roll_resume(&r, &x, &error), -EPERM);
        ck_assert_str_eq(error, "the roll to 1.5.0 is done, not paused");
        cluster_roll_done(&r);
        roll_of(CLUSTER_ROLL_ABORTING, "[\"h1\"]", "[]", &r);
        ck_assert_int_eq(cluster_roll_resume(&r, &x, &error), -EPERM);
        ck_assert_str_eq(error, "the roll to 1.5.0 is aborting, not paused");
        ck_assert_int_eq(cluster_roll_pause(&r, &x, &error), -EPERM);
        ck_assert_str_eq(error, "the roll to 1.5.0 is aborting, not rolling");
        ck_assert_ptr_null(x.id);
}
END_TEST

START_TEST(test_roll_abort) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {}, p = {}, e = {}, a = {}, b = {}, c = {}, d = {},
                                                 x = {};
        _cleanup_free_ char *error = NULL;

        /* hosts to revert: aborting */
        roll_of(CLUSTER_ROLL_ROLLING, "[\"h1\"]", "[]", &r);
        ck_assert_int_eq(cluster_roll_abort(&r, &a, NULL), 1);
        assert_roll(&a, CLUSTER_ROLL_ABORTING, "[\"h1\"]", "[]");
        /* aborting with some left: nothing changes until they reverted */
        ck_assert_int_eq(cluster_roll_abort(&a, &b, NULL), 0);
        assert_roll(&b, CLUSTER_ROLL_ABORTING, "[\"h1\"]", "[]");
        ck_assert_int_eq(cluster_roll_host_reverted(&b, "h1", &c, NULL), 1);
        assert_roll(&c, CLUSTER_ROLL_ABORTED, "[]", "[]");
        ck_assert_int_eq(cluster_roll_abort(&c, &d, NULL), 0);
        assert_roll(&d, CLUSTER_ROLL_ABORTED, "[]", "[]");

        /* nothing to revert: straight to aborted, from rolling or paused */
        roll_of(CLUSTER_ROLL_PAUSED, "[]", "[\"h2\"]", &p);
        ck_assert_int_eq(cluster_roll_abort(&p, &e, NULL), 1);
        assert_roll(&e, CLUSTER_ROLL_ABORTED, "[]", "[\"h2\"]");

        cluster_roll_done(&r);
        roll_of(CLUSTER_ROLL_DONE, "[\"h1\"]", "[]", &r);
        ck_assert_int_eq(cluster_roll_abort(&r, &x, &error), -EPERM);
        ck_assert_str_eq(error, "the roll to 1.5.0 is done, not rolling, paused or aborting");
}
END_TEST

/* ---- the follower ---- */

#define ROLL_ID "4f1c2a9e0b7d4c3a8e5f6a7b8c9d0e1f"

static const struct {
        ClusterRollState state;
        const char *upgraded, *failed;
        const char *running;
        bool in_flight;
        const char *last_started;
        ClusterFollowAction action;
        const char *reason;
} follow[] = {
        /* the one case that starts a unit, also after another roll's unit and with the version unknown */
        { CLUSTER_ROLL_ROLLING,
          "[\"h2\"]",
          "[]",
          "1.4.2",
          false,
          NULL,
          CLUSTER_FOLLOW_START_UPGRADE,
          "roll " ROLL_ID " to 1.5.0 is rolling and this host (h1) runs 1.4.2" },
        { CLUSTER_ROLL_ROLLING,
          "[]",
          "[]",
          "1.4.2",
          false,
          "0123456789ab",
          CLUSTER_FOLLOW_START_UPGRADE,
          "roll " ROLL_ID " to 1.5.0 is rolling and this host (h1) runs 1.4.2" },
        { CLUSTER_ROLL_ROLLING,
          "[]",
          "[]",
          NULL,
          false,
          NULL,
          CLUSTER_FOLLOW_START_UPGRADE,
          "roll " ROLL_ID " to 1.5.0 is rolling and this host (h1) runs a version that cannot be told" },
        /* an upgrade in flight goes first, whatever the roll says */
        { CLUSTER_ROLL_ROLLING,
          "[]",
          "[]",
          "1.4.2",
          true,
          NULL,
          CLUSTER_FOLLOW_NOTHING,
          "roll " ROLL_ID " to 1.5.0 is rolling; an upgrade is in flight on this host (current.json): it "
          "goes on first" },
        { CLUSTER_ROLL_ROLLING,
          "[]",
          "[]",
          "1.5.0",
          true,
          ROLL_ID,
          CLUSTER_FOLLOW_NOTHING,
          "roll " ROLL_ID " to 1.5.0 is rolling; an upgrade is in flight on this host (current.json): it "
          "goes on first" },
        { CLUSTER_ROLL_ABORTING,
          "[\"h1\"]",
          "[]",
          "1.5.0",
          true,
          NULL,
          CLUSTER_FOLLOW_NOTHING,
          "roll " ROLL_ID " to 1.5.0 is aborting; an upgrade is in flight on this host (current.json): it "
          "goes on first" },
        /* started once for this roll: never twice */
        { CLUSTER_ROLL_ROLLING,
          "[]",
          "[]",
          "1.4.2",
          false,
          ROLL_ID,
          CLUSTER_FOLLOW_NOTHING,
          "roll " ROLL_ID " to 1.5.0: this host's upgrade was started for it already and is not started "
          "twice (see its journal; the roll records it when it ends)" },
        /* the target runs here already, not recorded: said, also after the follower's own start */
        { CLUSTER_ROLL_ROLLING,
          "[\"h2\"]",
          "[]",
          "1.5.0",
          false,
          NULL,
          CLUSTER_FOLLOW_ALREADY_THERE,
          "roll " ROLL_ID " to 1.5.0: this host (h1) runs 1.5.0 already" },
        { CLUSTER_ROLL_ROLLING,
          "[]",
          "[]",
          "1.5.0",
          false,
          ROLL_ID,
          CLUSTER_FOLLOW_ALREADY_THERE,
          "roll " ROLL_ID " to 1.5.0: this host (h1) runs 1.5.0 already" },
        /* upgraded or failed here */
        { CLUSTER_ROLL_ROLLING,
          "[\"h1\"]",
          "[]",
          "1.5.0",
          false,
          ROLL_ID,
          CLUSTER_FOLLOW_NOTHING,
          "roll " ROLL_ID ": this host (h1) is upgraded already in the roll to 1.5.0" },
        { CLUSTER_ROLL_ROLLING,
          "[]",
          "[\"h1\"]",
          "1.4.2",
          false,
          NULL,
          CLUSTER_FOLLOW_NOTHING,
          "roll " ROLL_ID ": this host (h1) failed in the roll to 1.5.0: codebolt-upgrade cluster resume "
          "lets it try again" },
        { CLUSTER_ROLL_ROLLING,
          "[]",
          "[\"h1\"]",
          "1.5.0",
          false,
          NULL,
          CLUSTER_FOLLOW_NOTHING,
          "roll " ROLL_ID ": this host (h1) failed in the roll to 1.5.0: codebolt-upgrade cluster resume "
          "lets it try again" },
        /* the states that start nothing */
        { CLUSTER_ROLL_PAUSED,
          "[]",
          "[\"h2\"]",
          "1.4.2",
          false,
          NULL,
          CLUSTER_FOLLOW_NOTHING,
          "roll " ROLL_ID ": the roll to 1.5.0 is paused: codebolt-upgrade cluster resume continues it" },
        { CLUSTER_ROLL_PAUSED,
          "[]",
          "[]",
          "1.5.0",
          false,
          NULL,
          CLUSTER_FOLLOW_NOTHING,
          "roll " ROLL_ID ": the roll to 1.5.0 is paused: codebolt-upgrade cluster resume continues it" },
        { CLUSTER_ROLL_DONE,
          "[\"h2\"]",
          "[]",
          "1.4.2",
          false,
          NULL,
          CLUSTER_FOLLOW_NOTHING,
          "roll " ROLL_ID ": the roll to 1.5.0 is done" },
        { CLUSTER_ROLL_ABORTED,
          "[]",
          "[]",
          "1.4.2",
          false,
          NULL,
          CLUSTER_FOLLOW_NOTHING,
          "roll " ROLL_ID ": the roll to 1.5.0 was aborted" },
        /* aborting: the upgraded hosts revert, the others wait */
        { CLUSTER_ROLL_ABORTING,
          "[\"h2\", \"h1\"]",
          "[]",
          "1.5.0",
          false,
          ROLL_ID,
          CLUSTER_FOLLOW_REVERT,
          "roll " ROLL_ID " to 1.5.0 is aborting and this host (h1) is upgraded in it: its part is "
          "reverted" },
        { CLUSTER_ROLL_ABORTING,
          "[\"h2\"]",
          "[\"h1\"]",
          "1.4.2",
          false,
          ROLL_ID,
          CLUSTER_FOLLOW_NOTHING,
          "roll " ROLL_ID
          ": this host (h1) has nothing to revert: it is not upgraded in the roll to 1.5.0" },
};

START_TEST(test_follow_decide) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {};
        _cleanup_free_ char *reason = NULL;

        roll_of(follow[_i].state, follow[_i].upgraded, follow[_i].failed, &r);
        ck_assert_str_eq(r.id, ROLL_ID);
        ck_assert_int_eq(
                cluster_follow_decide(
                        &r,
                        "h1",
                        follow[_i].running,
                        follow[_i].in_flight,
                        follow[_i].last_started,
                        &reason),
                follow[_i].action);
        ck_assert_str_eq(reason, follow[_i].reason);
        /* the reason is optional */
        ck_assert_int_eq(
                cluster_follow_decide(
                        &r, "h1", follow[_i].running, follow[_i].in_flight, follow[_i].last_started, NULL),
                follow[_i].action);
}
END_TEST

START_TEST(test_follow_decide_no_roll) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {};
        _cleanup_free_ char *reason = NULL;

        ck_assert_int_eq(
                cluster_follow_decide(NULL, "h1", "1.4.2", false, NULL, &reason), CLUSTER_FOLLOW_NOTHING);
        ck_assert_str_eq(reason, "no roll is under way in the cluster");
        ck_assert_int_eq(cluster_follow_decide(NULL, "h1", NULL, true, "x", NULL), CLUSTER_FOLLOW_NOTHING);

        /* a host id that is none is a programming error of the caller, told as such */
        roll_of(CLUSTER_ROLL_ROLLING, "[]", "[]", &r);
        ck_assert_int_eq(cluster_follow_decide(&r, "../h1", "1.4.2", false, NULL, &reason), -EINVAL);
        ck_assert_int_eq(cluster_follow_decide(&r, NULL, "1.4.2", false, NULL, NULL), -EINVAL);

        ck_assert_str_eq(cluster_follow_action_to_string(CLUSTER_FOLLOW_NOTHING), "nothing");
        ck_assert_str_eq(cluster_follow_action_to_string(CLUSTER_FOLLOW_START_UPGRADE), "start-upgrade");
        ck_assert_str_eq(cluster_follow_action_to_string(CLUSTER_FOLLOW_ALREADY_THERE), "already-there");
        ck_assert_str_eq(cluster_follow_action_to_string(CLUSTER_FOLLOW_REVERT), "revert");
        ck_assert_ptr_null(cluster_follow_action_to_string(_CLUSTER_FOLLOW_ACTION_MAX));
}
END_TEST

static const struct {
        ClusterRollState state;
        const char *upgraded, *failed, *version, *refusal;
} may_start[] = {
        { CLUSTER_ROLL_ROLLING, "[\"h2\"]", "[]", "1.5.0", NULL },
        { CLUSTER_ROLL_ROLLING, "[]", "[]", "1.5.1", "the cluster's roll goes to 1.5.0, not 1.5.1" },
        { CLUSTER_ROLL_PAUSED,
          "[]",
          "[\"h2\"]",
          "1.5.0",
          "the roll to 1.5.0 is paused: codebolt-upgrade cluster resume continues it" },
        { CLUSTER_ROLL_ABORTING,
          "[]",
          "[]",
          "1.5.0",
          "the roll to 1.5.0 is aborting: the upgraded hosts revert" },
        { CLUSTER_ROLL_DONE, "[\"h2\"]", "[]", "1.5.0", "the roll to 1.5.0 is done" },
        { CLUSTER_ROLL_ABORTED, "[]", "[]", "1.5.0", "the roll to 1.5.0 was aborted" },
        { CLUSTER_ROLL_ROLLING,
          "[\"h1\"]",
          "[]",
          "1.5.0",
          "this host (h1) is upgraded already in the roll to 1.5.0" },
        { CLUSTER_ROLL_PAUSED,
          "[]",
          "[\"h1\"]",
          "1.5.0",
          "this host (h1) failed in the roll to 1.5.0: codebolt-upgrade cluster resume lets it try again" },
};

START_TEST(test_roll_may_start) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {};
        _cleanup_free_ char *refusal = NULL;

        roll_of(may_start[_i].state, may_start[_i].upgraded, may_start[_i].failed, &r);
        ck_assert_int_eq(
                cluster_roll_may_start(&r, "h1", may_start[_i].version, &refusal), !may_start[_i].refusal);
        if (may_start[_i].refusal)
                ck_assert_str_eq(refusal, may_start[_i].refusal);
        else
                ck_assert_ptr_null(refusal);
        ck_assert_int_eq(
                cluster_roll_may_start(&r, "h1", may_start[_i].version, NULL), !may_start[_i].refusal);
}
END_TEST

START_TEST(test_roll_may_start_none) {
        _cleanup_free_ char *refusal = NULL;

        ck_assert_int_eq(cluster_roll_may_start(NULL, "h1", "1.5.0", &refusal), 0);
        ck_assert_str_eq(
                refusal,
                "no roll is under way in the cluster: start one with codebolt-upgrade cluster start 1.5.0");
}
END_TEST

START_TEST(test_roll_may_replace) {
        static const struct {
                ClusterRollState state;
                const char *refusal;
        } cases[] = {
                { CLUSTER_ROLL_ROLLING,
                  "the roll to 1.5.0 (started 2026-12-06T11:00:00Z by root@host-a) is rolling: abort it "
                  "first with "
                  "codebolt-upgrade cluster abort" },
                { CLUSTER_ROLL_PAUSED,
                  "the roll to 1.5.0 (started 2026-12-06T11:00:00Z by root@host-a) is paused: abort it "
                  "first with "
                  "codebolt-upgrade cluster abort" },
                { CLUSTER_ROLL_ABORTING,
                  "the roll to 1.5.0 (started 2026-12-06T11:00:00Z by root@host-a) is aborting: wait until "
                  "its hosts "
                  "reverted" },
                { CLUSTER_ROLL_DONE, NULL },
                { CLUSTER_ROLL_ABORTED, NULL },
        };

        ck_assert_int_eq(cluster_roll_may_replace(NULL, NULL), 1);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(cluster_roll_done) ClusterRoll r = {};
                _cleanup_free_ char *refusal = NULL;

                roll_of(cases[i].state, "[]", "[]", &r);
                ck_assert_int_eq(cluster_roll_may_replace(&r, &refusal), !cases[i].refusal);
                if (cases[i].refusal)
                        ck_assert_str_eq(refusal, cases[i].refusal);
                else
                        ck_assert_ptr_null(refusal);
        }
}
END_TEST

START_TEST(test_roll_may_revert) {
        _cleanup_(cluster_roll_done) ClusterRoll r = {};
        _cleanup_free_ char *refusal = NULL;

        ck_assert_int_eq(cluster_roll_may_revert(NULL, "h1", &refusal), 0);
        ck_assert_str_eq(refusal, "no roll is under way in the cluster");
        roll_of(CLUSTER_ROLL_ABORTING, "[\"h1\"]", "[]", &r);
        ck_assert_int_eq(cluster_roll_may_revert(&r, "h1", &refusal), 1);
        ck_assert_int_eq(cluster_roll_may_revert(&r, "h2", &refusal), 0);
        ck_assert_str_eq(
                refusal, "this host (h2) has nothing to revert: it is not upgraded in the roll to 1.5.0");
        cluster_roll_done(&r);
        roll_of(CLUSTER_ROLL_PAUSED, "[\"h1\"]", "[]", &r);
        ck_assert_int_eq(cluster_roll_may_revert(&r, "h1", &refusal), 0);
        ck_assert_str_eq(refusal, "the roll to 1.5.0 is paused, not aborting");
}
END_TEST

/* ---- rolling or coordinated ---- */

static const struct {
        const char *from, *to, *path, *migrations;
        bool rolling;
        const char *refusal;
} rolling[] = {
        { "1.4.2", "1.4.3", "1.4.3", "[]", true, NULL },
        { "1.4.2", "1.5.0", "1.5.0", "[{\"id\": \"20260401_add_index\", \"breaking\": false}]", true, NULL },
        { "1.5.0-rc.1", "1.5.0", "1.5.0", NULL, true, NULL },
        { "1.4.2",
          "2.0.0",
          "2.0.0",
          "[]",
          true,
          "1.4.2 to 2.0.0 is a major upgrade: use codebolt-upgrade cluster start --coordinated" },
        { "1.5.0", "1.5.0", "1.5.0", "[]", true, "1.5.0 to 1.5.0 is no upgrade: there is nothing to roll" },
        { "1.5.0", "1.4.0", "1.4.0", "[]", true, "1.5.0 to 1.4.0 is no upgrade: there is nothing to roll" },
        { "1.4.2",
          "1.6.0",
          "",
          "[]",
          true,
          "no upgrade path from 1.4.2 to 1.6.0 is known: there is nothing to roll" },
        { "1.4.2",
          "1.6.0",
          "1.5.3 1.6.0",
          "[]",
          true,
          "the upgrade from 1.4.2 to 1.6.0 goes through 1.5.3: roll one step at a time, or use "
          "codebolt-upgrade "
          "cluster start --coordinated" },
        { "1.4.2",
          "1.7.0",
          "1.5.3 1.6.1 1.7.0",
          "[]",
          true,
          "the upgrade from 1.4.2 to 1.7.0 goes through 1.5.3, 1.6.1: roll one step at a time, or use "
          "codebolt-upgrade cluster start --coordinated" },
        { "1.4.2",
          "1.5.0",
          "1.5.0",
          "[{\"id\": \"20260401_add_index\", \"breaking\": false}, {\"id\": \"20260501_rewrite_history\", "
          "\"breaking\": true}]",
          true,
          "20260501_rewrite_history is breaking: use codebolt-upgrade cluster start --coordinated" },
        { "1.4.2",
          "1.5.0",
          "1.5.0",
          "[{\"id\": \"20260501_rewrite_history\"}]",
          true,
          "20260501_rewrite_history does not say whether it is breaking (counted as breaking): use "
          "codebolt-upgrade cluster start --coordinated" },
        { "1.4.2",
          "1.5.0",
          "1.5.0",
          "[{\"id\": \"x\", \"breaking\": \"no\"}]",
          true,
          "x does not say whether it is breaking (counted as breaking): use codebolt-upgrade cluster start "
          "--coordinated" },
        { "1.4.2",
          "1.5.0",
          "1.5.0",
          "[{\"breaking\": false}]",
          true,
          "a migration on the path has no id (counted as breaking): use codebolt-upgrade cluster start "
          "--coordinated" },
        { "1.4.2",
          "1.5.0",
          "1.5.0",
          "[42]",
          true,
          "a migration on the path has no id (counted as breaking): use codebolt-upgrade cluster start "
          "--coordinated" },
        { "1.4.2",
          "1.5.0",
          "1.5.0",
          "{}",
          true,
          "the migrations on the path are no list (counted as breaking): use codebolt-upgrade cluster start "
          "--coordinated" },
        { "1.4.2",
          "1.5.0",
          "1.5.0",
          "[]",
          false,
          "1.5.0 does not declare codebolt.rolling: use codebolt-upgrade cluster start --coordinated" },
};

START_TEST(test_rolling_allowed) {
        _cleanup_(semver_done) SemVer from = {};
        _cleanup_strv_free_ char **path = NULL;
        _cleanup_json_ cJSON *migrations = rolling[_i].migrations ? json(rolling[_i].migrations) : NULL;
        _cleanup_free_ char *refusal = NULL, *p = strdup(rolling[_i].path);
        Release to = { .version = rolling[_i].to, .rolling = rolling[_i].rolling };

        ck_assert_int_eq(semver_parse(rolling[_i].from, &from), 0);
        ck_assert_int_eq(semver_parse(rolling[_i].to, &to.v), 0);
        path = calloc(1, sizeof(char *));
        for (char *save = NULL, *t = strtok_r(p, " ", &save); t; t = strtok_r(NULL, " ", &save))
                ck_assert_int_eq(strv_push(&path, t), 0);

        ck_assert_int_eq(
                cluster_rolling_allowed(&from, &to, path, migrations, &refusal), !rolling[_i].refusal);
        if (rolling[_i].refusal)
                ck_assert_str_eq(refusal, rolling[_i].refusal);
        else
                ck_assert_ptr_null(refusal);
        ck_assert_int_eq(cluster_rolling_allowed(&from, &to, path, migrations, NULL), !rolling[_i].refusal);
        semver_done(&to.v);
}
END_TEST

static Suite *cluster_rules_suite(void) {
        Suite *s = suite_create("cluster-rules");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_sem_take_fresh);
        tcase_add_test(tc, test_sem_take_busy);
        tcase_add_test(tc, test_sem_slots_change);
        tcase_add_test(tc, test_sem_slots_raised);
        tcase_add_test(tc, test_sem_release);
        tcase_add_test(tc, test_sem_invalid);
        tcase_add_test(tc, test_roll_upgraded);
        tcase_add_test(tc, test_roll_upgraded_states);
        tcase_add_test(tc, test_roll_failed);
        tcase_add_test(tc, test_roll_reverted);
        tcase_add_test(tc, test_roll_stopped);
        tcase_add_test(tc, test_roll_stopped_malformed);
        tcase_add_test(tc, test_roll_failed_coordinated);
        tcase_add_test(tc, test_roll_complete);
        tcase_add_test(tc, test_roll_pause_resume);
        tcase_add_test(tc, test_roll_abort);
        tcase_add_loop_test(tc, test_roll_may_start, 0, ELEMENTSOF(may_start));
        tcase_add_test(tc, test_roll_may_start_none);
        tcase_add_test(tc, test_roll_may_replace);
        tcase_add_test(tc, test_roll_may_revert);
        tcase_add_loop_test(tc, test_rolling_allowed, 0, ELEMENTSOF(rolling));
        tcase_add_loop_test(tc, test_follow_decide, 0, ELEMENTSOF(follow));
        tcase_add_test(tc, test_follow_decide_no_roll);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(cluster_rules_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
