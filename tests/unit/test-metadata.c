/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-metadata.c: metadata module: the registry document, classification, upgrade paths, the cache */
#define _GNU_SOURCE
#include <check.h>

#include "test-root.h"
#include "json-util.h"
#include "metadata.h"
#include "paths.h"
#include "state.h"

/* a registry document from "version upgradeFrom" pairs ("-" for none); "!" after a version marks it
 * deprecated */
static Metadata metadata_of(const char *const *pairs, size_t n) {
        cJSON *doc = cJSON_CreateObject(), *versions = cJSON_AddObjectToObject(doc, "versions");
        Metadata m = {};

        ck_assert_ptr_nonnull(versions);
        for (size_t i = 0; i + 1 < n; i += 2) {
                _cleanup_free_ char *v = strdup(pairs[i]);
                size_t len = strlen(v);
                cJSON *e, *block;
                bool deprecated = len > 0 && v[len - 1] == '!';

                if (deprecated)
                        v[len - 1] = 0;
                e = cJSON_AddObjectToObject(versions, v);
                cJSON_AddStringToObject(e, "version", v);
                if (deprecated)
                        cJSON_AddStringToObject(e, "deprecated", "use the next patch");
                block = cJSON_AddObjectToObject(e, "codebolt");
                if (!streq(pairs[i + 1], "-"))
                        cJSON_AddStringToObject(block, "upgradeFrom", pairs[i + 1]);
        }
        ck_assert_int_eq(metadata_parse(doc, &m, NULL), 0);
        return m;
}

/* the path from `from` to `to` joined with " ", or the error's name */
static char *path_of(const Metadata *m, const char *from, const char *to) {
        _cleanup_strv_free_ char **path = NULL;
        SemVer f = {};
        char *s = NULL;
        size_t size = 0;
        FILE *out;
        int r;

        ck_assert_int_eq(semver_parse(from, &f), 0);
        r = metadata_plan_path(m, &f, to, &path);
        semver_done(&f);
        if (r == -ENOENT)
                return strdup("ENOENT");
        if (r == -ENOLINK)
                return strdup("ENOLINK");
        ck_assert_int_eq(r, 0);
        out = open_memstream(&s, &size);
        STRV_FOREACH (p, path)
                fprintf(out, "%s%s", p == path ? "" : " ", *p);
        fclose(out);
        return s;
}

#define ck_assert_path(m, from, to, want)                       \
        do {                                                    \
                _cleanup_free_ char *_p = path_of(m, from, to); \
                ck_assert_str_eq(_p, want);                     \
        } while (0)

START_TEST(test_parse) {
        static const char doc_text[] =
                "{\"name\": \"@codebolt/server\", \"versions\": {"
                "\"1.5.0\": {\"engines\": {\"node\": \">=18\"}, \"codebolt\": {\"protocol\": 7, "
                "\"minClientProtocol\": 6, \"postgres\": \">=13\", \"upgradeFrom\": \">=1.3.0 <1.5.0\", "
                "\"rolling\": true, \"migrations\": [{\"id\": \"a\", \"breaking\": false}], \"notes\": "
                "\"https://n\"}},"
                "\"1.4.0\": {\"codebolt\": {}},"
                "\"latest\": {\"codebolt\": {}},"
                "\"v1.6.0\": {},"
                "\"1.5.0-rc.1\": {\"deprecated\": \"broken\"},"
                "\"1.6.0\": 7}}";
        _cleanup_(metadata_done) Metadata m = {};
        const Release *r;

        ck_assert_int_eq(metadata_parse(cJSON_Parse(doc_text), &m, NULL), 0);
        /* ascending precedence; the tag, the 'v' and the non-object are left out */
        ck_assert_uint_eq(m.n, 3);
        ck_assert_str_eq(m.releases[0].version, "1.4.0");
        ck_assert_str_eq(m.releases[1].version, "1.5.0-rc.1");
        ck_assert_str_eq(m.releases[2].version, "1.5.0");

        r = metadata_find(&m, "1.5.0");
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r->node, ">=18");
        ck_assert_str_eq(r->postgres, ">=13");
        ck_assert_str_eq(r->upgrade_from, ">=1.3.0 <1.5.0");
        ck_assert_int_eq(r->protocol, 7);
        ck_assert_int_eq(r->min_client_protocol, 6);
        ck_assert(r->rolling);
        ck_assert(!r->deprecated);
        ck_assert_int_eq(cJSON_GetArraySize(r->migrations), 1);
        ck_assert_str_eq(r->notes, "https://n");

        r = metadata_find(&m, "1.4.0");
        ck_assert_ptr_null(r->node);
        ck_assert_ptr_null(r->upgrade_from);
        ck_assert_int_eq(r->protocol, -1);
        ck_assert(metadata_find(&m, "1.5.0-rc.1")->deprecated);
        ck_assert_ptr_null(metadata_find(&m, "1.6.0"));
        ck_assert_ptr_null(metadata_find(&m, "latest"));
}
END_TEST

START_TEST(test_parse_bad) {
        _cleanup_free_ char *error = NULL;
        Metadata m = {};

        ck_assert_int_eq(metadata_parse(cJSON_Parse("{\"name\": \"x\"}"), &m, &error), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(error, "versions"));
        ck_assert_int_eq(metadata_parse(cJSON_Parse("[]"), &m, NULL), -EBADMSG);
}
END_TEST

START_TEST(test_classify) {
        static const struct {
                const char *from, *to;
                UpgradeKind kind;
        } cases[] = {
                { "1.4.0", "1.4.0", UPGRADE_SAME },       { "1.4.0", "1.4.1", UPGRADE_PATCH },
                { "1.4.0", "1.5.0", UPGRADE_MINOR },      { "1.4.0", "2.0.0", UPGRADE_MAJOR },
                { "1.5.0", "1.4.9", UPGRADE_DOWNGRADE },  { "2.0.0", "1.9.9", UPGRADE_DOWNGRADE },
                { "1.5.0-rc.1", "1.5.0", UPGRADE_PATCH }, { "1.5.0", "1.5.0-rc.1", UPGRADE_DOWNGRADE },
                { "1.4.0", "1.5.0-rc.1", UPGRADE_MINOR }, { "1.4.0+a", "1.4.0+b", UPGRADE_SAME },
                { "0.9.0", "1.0.0", UPGRADE_MAJOR },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                SemVer a = {}, b = {};
                ck_assert_int_eq(semver_parse(cases[i].from, &a), 0);
                ck_assert_int_eq(semver_parse(cases[i].to, &b), 0);
                ck_assert_msg(
                        metadata_classify(&a, &b) == cases[i].kind,
                        "%s → %s: %s",
                        cases[i].from,
                        cases[i].to,
                        upgrade_kind_to_string(metadata_classify(&a, &b)));
                semver_done(&a);
                semver_done(&b);
        }
        ck_assert_str_eq(upgrade_kind_to_string(UPGRADE_MAJOR), "major");
        ck_assert_ptr_null(upgrade_kind_to_string(_UPGRADE_KIND_MAX));
}
END_TEST

START_TEST(test_path_direct) {
        static const char *const pairs[] = {
                "1.4.0", "-", "1.5.0", ">=1.3.0 <1.5.0", "1.5.1", ">=1.4.0 <1.5.1",
        };
        _cleanup_(metadata_done) Metadata m = metadata_of(pairs, ELEMENTSOF(pairs));

        ck_assert_path(&m, "1.4.0", "1.5.0", "1.5.0");
        ck_assert_path(&m, "1.4.0", "1.5.1", "1.5.1");
        /* an installed version the registry does not list (a private build) is fine as a start */
        ck_assert_path(&m, "1.4.7", "1.5.1", "1.5.1");
        ck_assert_path(&m, "1.4.0", "1.9.0", "ENOENT");
        /* a downgrade and the same version are no path */
        ck_assert_path(&m, "1.5.1", "1.5.0", "ENOLINK");
        ck_assert_path(&m, "1.5.0", "1.5.0", "ENOLINK");
}
END_TEST

START_TEST(test_path_one_step) {
        /* 2.0.0 needs 1.9.x first: the newest 1.9 patch, never the prerelease */
        static const char *const pairs[] = {
                "1.4.0", "-",       "1.5.0",      ">=1.3.0", "1.9.0", ">=1.4.0",
                "1.9.3", ">=1.4.0", "1.9.4-rc.1", "-",       "2.0.0", ">=1.9.0 <2.0.0",
        };
        _cleanup_(metadata_done) Metadata m = metadata_of(pairs, ELEMENTSOF(pairs));

        ck_assert_path(&m, "1.4.0", "2.0.0", "1.9.3 2.0.0");
        ck_assert_path(&m, "1.9.0", "2.0.0", "2.0.0");
        ck_assert_path(&m, "1.9.3", "2.0.0", "2.0.0");
}
END_TEST

START_TEST(test_path_two_steps) {
        static const char *const pairs[] = {
                "1.4.0",          "-",     "1.9.3",   ">=1.4.0", "2.0.0",
                ">=1.9.0 <2.0.0", "2.5.1", ">=2.0.0", "3.0.0",   ">=2.5.0 <3.0.0",
        };
        _cleanup_(metadata_done) Metadata m = metadata_of(pairs, ELEMENTSOF(pairs));

        ck_assert_path(&m, "1.4.0", "3.0.0", "1.9.3 2.0.0 2.5.1 3.0.0");
        ck_assert_path(&m, "1.9.3", "3.0.0", "2.0.0 2.5.1 3.0.0");
        ck_assert_path(&m, "2.4.0", "3.0.0", "2.5.1 3.0.0");
}
END_TEST

START_TEST(test_path_shortest_then_highest) {
        /* 1.9.5 would be a higher stop, but only 1.9.0 reaches 2.0.0 in one step from 1.4.0 … */
        static const char *const pairs[] = {
                "1.4.0", "-", "1.9.0", ">=1.4.0", "1.9.5", ">=1.9.0", "2.0.0", ">=1.9.0 <1.9.5",
        };
        _cleanup_(metadata_done) Metadata m = metadata_of(pairs, ELEMENTSOF(pairs));

        ck_assert_path(&m, "1.4.0", "2.0.0", "1.9.0 2.0.0");

        /* … and a deprecated release is never a stop */
        static const char *const deprecated[] = {
                "1.4.0", "-", "1.9.0", ">=1.4.0", "1.9.3!", ">=1.4.0", "2.0.0", ">=1.9.0",
        };
        _cleanup_(metadata_done) Metadata d = metadata_of(deprecated, ELEMENTSOF(deprecated));
        ck_assert_path(&d, "1.4.0", "2.0.0", "1.9.0 2.0.0");
}
END_TEST

START_TEST(test_path_impossible) {
        static const char *const pairs[] = {
                "1.4.0", "-", "1.9.0", ">=1.5.0", "2.0.0", ">=1.9.0", "3.0.0", ">=2.9.0",
        };
        _cleanup_(metadata_done) Metadata m = metadata_of(pairs, ELEMENTSOF(pairs));
        _cleanup_strv_free_ char **path = NULL;
        SemVer from = {};

        ck_assert_path(&m, "1.4.0", "2.0.0", "ENOLINK");
        ck_assert_path(&m, "1.9.0", "3.0.0", "ENOLINK");

        /* a malformed upgradeFrom on the way is an error, not "no path" */
        static const char *const bad[] = { "1.4.0", "-", "2.0.0", ">=1.9.0 <<2" };
        _cleanup_(metadata_done) Metadata b = metadata_of(bad, ELEMENTSOF(bad));
        ck_assert_int_eq(semver_parse("1.4.0", &from), 0);
        ck_assert_int_eq(metadata_plan_path(&b, &from, "2.0.0", &path), -EINVAL);
        semver_done(&from);
}
END_TEST

START_TEST(test_url) {
        Config c = { .deployment = (char *)"default", .package = (char *)"@codebolt/server" };
        _cleanup_free_ char *a = NULL, *b = NULL, *d = NULL, *e = NULL;

        ck_assert_int_eq(metadata_url(&c, &a), 0);
        ck_assert_str_eq(a, "https://registry.npmjs.org/@codebolt%2fserver");
        c.registry = (char *)"http://127.0.0.1:4873";
        ck_assert_int_eq(metadata_url(&c, &b), 0);
        ck_assert_str_eq(b, "http://127.0.0.1:4873/@codebolt%2fserver");
        c.package = (char *)"codebolt-server";
        c.registry = (char *)"https://npm.example/registry/";
        ck_assert_int_eq(metadata_url(&c, &d), 0);
        ck_assert_str_eq(d, "https://npm.example/registry/codebolt-server");
        c.release_metadata = (char *)"https://mirror.example/codebolt.json";
        ck_assert_int_eq(metadata_url(&c, &e), 0);
        ck_assert_str_eq(e, "https://mirror.example/codebolt.json");
}
END_TEST

START_TEST(test_load_and_cache) {
        _cleanup_free_ char *file = NULL, *rooted = NULL, *cache = NULL, *error = NULL,
                            *srv = paths_rooted("/srv");
        Config c = { .deployment = (char *)"metadata", .package = (char *)"@codebolt/server" };
        _cleanup_(metadata_done) Metadata m = {}, again = {};
        Metadata none = {};

        /* ReleaseMetadata= a local file (under the root), as an air-gapped site has it */
        file = strdup("/srv/codebolt-metadata.json");
        rooted = paths_rooted(file);
        cache = paths_state_file("metadata", "release-metadata.json");
        ck_assert_int_eq(paths_mkdir_p(srv, 0755), 0);
        ck_assert_int_eq(
                state_write_string_atomic(
                        rooted,
                        "{\"versions\": {\"1.4.0\": {}, \"1.5.0\": {\"codebolt\": {\"upgradeFrom\": "
                        "\">=1.4.0\"}}}}",
                        0644),
                0);
        c.release_metadata = file;
        ck_assert_int_eq(metadata_load(&c, &m, &error), 0);
        ck_assert_uint_eq(m.n, 2);
        ck_assert_str_eq(m.source, rooted);
        ck_assert_int_eq(access(cache, F_OK), 0);

        /* the file is gone: the cached copy, saying so */
        ck_assert_int_eq(unlink(rooted), 0);
        ck_assert_int_eq(metadata_load(&c, &again, &error), 0);
        ck_assert_uint_eq(again.n, 2);
        ck_assert_ptr_nonnull(strstr(again.source, "the cached copy"));
        ck_assert_ptr_nonnull(strstr(again.source, rooted));

        /* neither: the fetch's error */
        ck_assert_int_eq(unlink(cache), 0);
        ck_assert_int_lt(metadata_load(&c, &none, &error), 0);
        ck_assert_ptr_nonnull(strstr(error, rooted));
        ck_assert_int_eq(metadata_load_cached(&c, &none, NULL), -ENOENT);
}
END_TEST

/* metadata_pick_auto(): the versions failed() is asked about, and the result */
typedef struct AutoAsked {
        const char *failed[4];
        char asked[256];
} AutoAsked;

static bool auto_failed(const char *version, void *userdata) {
        AutoAsked *a = userdata;

        strcat(a->asked, a->asked[0] ? " " : "");
        strcat(a->asked, version);
        for (size_t i = 0; i < ELEMENTSOF(a->failed) && a->failed[i]; i++)
                if (streq(a->failed[i], version))
                        return true;
        return false;
}

/* the picked version, "none", or the error's name */
static char *pick_of(
        const Metadata *m, const char *running, AutoTrack track, const char *channel, AutoAsked *a) {
        const Release *r = NULL;
        SemVer v = {};
        int k;

        ck_assert_int_eq(semver_parse(running, &v), 0);
        k = metadata_pick_auto(m, &v, track, channel, a ? auto_failed : NULL, a, &r);
        semver_done(&v);
        if (k == 1) {
                ck_assert_ptr_nonnull(r);
                return strdup(r->version);
        }
        ck_assert_ptr_null(r);
        return strdup(
                k == 0         ? "none"
                : k == -ENOENT ? "ENOENT"
                : k == -ENXIO  ? "ENXIO"
                : k == -EPERM  ? "EPERM"
                               : "?");
}

#define ck_assert_pick(m, running, track, channel, a, want)                       \
        do {                                                                      \
                _cleanup_free_ char *_p = pick_of(m, running, track, channel, a); \
                ck_assert_str_eq(_p, want);                                       \
        } while (0)

static const char *const auto_versions[] = {
        "1.4.0", "-", "1.4.1",        "-", "1.4.2-rc.1", "-", "1.5.0", "-", "1.5.1!", "-",
        "1.5.4", "-", "1.6.0-beta.1", "-", "2.0.0",      "-", "2.1.0", "-",
};

START_TEST(test_pick_auto_track) {
        _cleanup_(metadata_done) Metadata m = metadata_of(auto_versions, ELEMENTSOF(auto_versions));
        AutoAsked a = {};

        /* patch: the same major.minor, never the prerelease 1.4.2-rc.1 */
        ck_assert_pick(&m, "1.4.0", TRACK_PATCH, NULL, &a, "1.4.1");
        ck_assert_str_eq(a.asked, "1.4.1");
        /* minor: the newest of the same major; never 2.x */
        a = (AutoAsked){};
        ck_assert_pick(&m, "1.4.0", TRACK_MINOR, NULL, &a, "1.5.4");
        ck_assert_str_eq(a.asked, "1.5.4");
        /* the newest allowed runs already: nothing */
        ck_assert_pick(&m, "1.4.1", TRACK_PATCH, NULL, NULL, "none");
        ck_assert_pick(&m, "1.5.4", TRACK_MINOR, NULL, NULL, "none");
        /* never a major, even when the running line has nothing newer */
        ck_assert_pick(&m, "2.1.0", TRACK_MINOR, NULL, NULL, "none");
        ck_assert_pick(&m, "1.9.0", TRACK_MINOR, NULL, NULL, "none");
}
END_TEST

START_TEST(test_pick_auto_skips) {
        _cleanup_(metadata_done) Metadata m = metadata_of(auto_versions, ELEMENTSOF(auto_versions));
        AutoAsked a = { .failed = { "1.5.4" } };

        /* 1.5.4 failed, 1.5.1 is deprecated (never asked), 1.5.0 it is */
        ck_assert_pick(&m, "1.4.0", TRACK_MINOR, NULL, &a, "1.5.0");
        ck_assert_str_eq(a.asked, "1.5.4 1.5.0");
        /* every candidate failed: nothing */
        a = (AutoAsked){ .failed = { "1.5.4", "1.5.0", "1.4.1" } };
        ck_assert_pick(&m, "1.4.0", TRACK_MINOR, NULL, &a, "none");
        ck_assert_str_eq(a.asked, "1.5.4 1.5.0 1.4.1");
        /* a prerelease runs: the release of it is a patch upgrade */
        a = (AutoAsked){};
        ck_assert_pick(&m, "1.4.2-rc.1", TRACK_PATCH, NULL, &a, "none");
        ck_assert_pick(&m, "1.6.0-beta.1", TRACK_MINOR, NULL, &a, "none");
}
END_TEST

START_TEST(test_pick_auto_channel) {
        _cleanup_(metadata_done) Metadata m = metadata_of(auto_versions, ELEMENTSOF(auto_versions));
        cJSON *tags = cJSON_AddObjectToObject(m.doc, "dist-tags");
        AutoAsked a = {};

        cJSON_AddStringToObject(tags, "latest", "2.1.0");
        cJSON_AddStringToObject(tags, "stable", "1.5.0");
        cJSON_AddStringToObject(tags, "next", "1.6.0-beta.1");
        cJSON_AddStringToObject(tags, "old", "1.4.0");
        cJSON_AddStringToObject(tags, "ghost", "1.5.9");
        ck_assert_str_eq(metadata_dist_tag(&m, "stable"), "1.5.0");
        ck_assert_ptr_null(metadata_dist_tag(&m, "nope"));

        /* exactly the tagged version, not the newest of the line (1.5.4) */
        ck_assert_pick(&m, "1.4.0", TRACK_MINOR, "stable", &a, "1.5.0");
        ck_assert_str_eq(a.asked, "1.5.0");
        /* the tag names what an operator chose: a prerelease too */
        ck_assert_pick(&m, "1.4.0", TRACK_MINOR, "next", NULL, "1.6.0-beta.1");
        /* Track= still bounds it: minor beyond patch, and never a major */
        ck_assert_pick(&m, "1.4.0", TRACK_PATCH, "stable", NULL, "EPERM");
        ck_assert_pick(&m, "1.5.4", TRACK_MINOR, "latest", NULL, "EPERM");
        /* the running version or one below it: nothing */
        ck_assert_pick(&m, "1.5.0", TRACK_MINOR, "stable", NULL, "none");
        ck_assert_pick(&m, "1.5.4", TRACK_MINOR, "stable", NULL, "none");
        ck_assert_pick(&m, "1.5.0", TRACK_MINOR, "old", NULL, "none");
        /* a failed tagged version: nothing, never another one instead */
        a = (AutoAsked){ .failed = { "1.5.0" } };
        ck_assert_pick(&m, "1.4.0", TRACK_MINOR, "stable", &a, "none");
        ck_assert_str_eq(a.asked, "1.5.0");
        /* no such tag; a tag naming an unpublished version */
        ck_assert_pick(&m, "1.4.0", TRACK_MINOR, "nope", NULL, "ENOENT");
        ck_assert_pick(&m, "1.4.0", TRACK_MINOR, "ghost", NULL, "ENXIO");
}
END_TEST

static Suite *metadata_suite(void) {
        Suite *s = suite_create("metadata");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_parse);
        tcase_add_test(tc, test_parse_bad);
        tcase_add_test(tc, test_classify);
        tcase_add_test(tc, test_path_direct);
        tcase_add_test(tc, test_path_one_step);
        tcase_add_test(tc, test_path_two_steps);
        tcase_add_test(tc, test_path_shortest_then_highest);
        tcase_add_test(tc, test_path_impossible);
        tcase_add_test(tc, test_url);
        tcase_add_test(tc, test_load_and_cache);
        tcase_add_test(tc, test_pick_auto_track);
        tcase_add_test(tc, test_pick_auto_skips);
        tcase_add_test(tc, test_pick_auto_channel);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return run_suite_in_root(metadata_suite(), "test-metadata");
}
