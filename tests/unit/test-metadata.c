/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-metadata.c: metadata module: the registry document, classification, upgrade paths, the cache */
#define _GNU_SOURCE
#include <check.h>
#include <inttypes.h>
#include <stdlib.h>

#include "test-root.h"
#include "json-util.h"
#include "metadata-ladder.h"
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

/* a version whose key repeats (cJSON keeps both) is refused, whichever block would have won */
START_TEST(test_parse_duplicate_version) {
        _cleanup_free_ char *error = NULL;
        Metadata m = {};

        ck_assert_int_eq(
                metadata_parse(
                        cJSON_Parse("{\"versions\": {\"1.0.0\": {}, \"1.1.0+b\": {}, \"1.1.0+a\": {},"
                                    " \"1.0.0\": {\"codebolt\": {\"upgradeFrom\": \">=0.9\"}}}}"),
                        &m,
                        &error),
                -EBADMSG);
        ck_assert_str_eq(error, "the document lists version 1.0.0 twice");
        /* builds of one precedence are different versions */
        ck_assert_int_eq(
                metadata_parse(cJSON_Parse("{\"versions\": {\"1.1.0+b\": {}, \"1.1.0+a\": {}}}"), &m, NULL),
                0);
        ck_assert_int_eq(m.n, 2);
        metadata_done(&m);
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

/* the path search as a scan of every pair, kept as the reference the faster search must agree with */
static int reference_plan_path(const Metadata *m, const SemVer *from, const char *to, char ***ret) {
        _cleanup_free_ int *dist = NULL;
        _cleanup_free_ size_t *queue = NULL;
        _cleanup_strv_free_ char **path = NULL;
        const Release *target = metadata_find(m, to);
        size_t t, head = 0, tail = 0, cur = SIZE_MAX;
        int best = -1, r;

        if (!target)
                return -ENOENT;
        t = (size_t)(target - m->releases);
        dist = malloc(m->n * sizeof(int));
        queue = malloc(m->n * sizeof(size_t));
        ck_assert(dist && queue);
        for (size_t i = 0; i < m->n; i++)
                dist[i] = -1;
        dist[t] = 0;
        queue[tail++] = t;
        while (head < tail) {
                size_t x = queue[head++];
                for (size_t y = 0; y < x; y++) {
                        const Release *ry = &m->releases[y];
                        if (dist[y] >= 0 || ry->v.prerelease || ry->deprecated ||
                            semver_compare(&ry->v, from) <= 0)
                                continue;
                        r = metadata_step_allowed(&m->releases[x], &ry->v);
                        if (r < 0)
                                return r;
                        if (r > 0) {
                                dist[y] = dist[x] + 1;
                                queue[tail++] = y;
                        }
                }
        }
        for (size_t i = 0; i < m->n; i++) {
                if (dist[i] < 0 || (best >= 0 && dist[i] >= best))
                        continue;
                r = metadata_step_allowed(&m->releases[i], from);
                if (r < 0)
                        return r;
                if (r > 0)
                        best = dist[i];
        }
        if (best < 0)
                return -ENOLINK;
        path = calloc((size_t)best + 2, sizeof(char *));
        for (int k = 0; k <= best; k++) {
                const SemVer *at = cur == SIZE_MAX ? from : &m->releases[cur].v;
                size_t pick = SIZE_MAX;

                for (size_t i = m->n; pick == SIZE_MAX && i-- > 0;) {
                        if (dist[i] != best - k)
                                continue;
                        r = metadata_step_allowed(&m->releases[i], at);
                        if (r < 0)
                                return r;
                        if (r > 0)
                                pick = i;
                }
                ck_assert(pick != SIZE_MAX);
                path[k] = strdup(m->releases[pick].version);
                cur = pick;
        }
        *ret = TAKE_PTR(path);
        return 0;
}

static const char *random_version(unsigned *seed) {
        static char buf[4][64];
        static unsigned slot;
        char *b = buf[slot++ % ELEMENTSOF(buf)];
        static const char *const pre[] = { "", "", "", "", "-rc.1", "-0", "-beta" };
        static const char *const build[] = { "", "", "", "", "", "+b1", "+b2" };

        snprintf(
                b,
                sizeof(buf[0]),
                "%u.%u.%u%s%s",
                (unsigned)rand_r(seed) % 4,
                (unsigned)rand_r(seed) % 4,
                (unsigned)rand_r(seed) % 3,
                pre[(unsigned)rand_r(seed) % ELEMENTSOF(pre)],
                build[(unsigned)rand_r(seed) % ELEMENTSOF(build)]);
        return b;
}

/* an upgradeFrom of npm's forms, "-" for none, now and then a malformed one */
static char *random_range(unsigned *seed) {
        static const char *const forms[] = {
                "-",
                "-",
                ">=%s",
                "<%s",
                ">%s <=%s",
                "^%s",
                "~%s",
                "%s - %s",
                "%.1s.x",
                "%s || %s",
                "*",
                "",
                "=%s",
                "<=%s",
                ">%s",
                "%.1s",
                ">=%s <%s || %s",
                "%s ||",
                "<<%s",
                ">=%s <%s",
                "%.3s.x || >%s",
                ">=%s",
                ">=%s",
                ">=%s <%s",
                ">%s || >%s",
                "^%.1s || ^%s",
        };
        const char *f = forms[(unsigned)rand_r(seed) % ELEMENTSOF(forms)];
        char *s = NULL;
        size_t size = 0;
        FILE *out = open_memstream(&s, &size);

        /* each %s a random version, %.1s and %.3s its first characters */
        for (const char *c = f; *c; c++) {
                if (*c != '%') {
                        fputc(*c, out);
                        continue;
                }
                if (c[1] == '.') {
                        fprintf(out, "%.*s", c[2] - '0', random_version(seed));
                        c += 3;
                } else {
                        fputs(random_version(seed), out);
                        c++;
                }
        }
        fclose(out);
        if ((unsigned)rand_r(seed) % 50 == 0 && s[0] && s[1])
                s[0] = '<', s[1] = '<';
        return s;
}

static char *joined(int r, char **path) {
        char *s = NULL;
        size_t size = 0;
        FILE *out;

        if (r < 0) {
                ck_assert_int_ge(asprintf(&s, "error %d", r), 0);
                return s;
        }
        out = open_memstream(&s, &size);
        STRV_FOREACH (p, path)
                fprintf(out, "%s%s", p == path ? "" : " ", *p);
        fclose(out);
        return s;
}

START_TEST(test_path_same_as_pairwise) {
        unsigned seed = 12345;

        /* random documents, with prereleases, builds of one precedence, deprecated releases, every range
         * form and a malformed range now and then: the same path, or the same error, as the scan of every
         * pair */
        for (unsigned doc = 0; doc < 1500; doc++) {
                _cleanup_(metadata_done) Metadata m = {};
                cJSON *d = cJSON_CreateObject(), *versions = cJSON_AddObjectToObject(d, "versions");
                unsigned n = 1 + (unsigned)rand_r(&seed) % 24;

                for (unsigned i = 0; i < n; i++) {
                        const char *v = random_version(&seed);
                        _cleanup_free_ char *range = random_range(&seed);
                        cJSON *e, *block;

                        if (cJSON_GetObjectItemCaseSensitive(versions, v))
                                continue;
                        e = cJSON_AddObjectToObject(versions, v);
                        if ((unsigned)rand_r(&seed) % 8 == 0)
                                cJSON_AddStringToObject(e, "deprecated", "no");
                        block = cJSON_AddObjectToObject(e, "codebolt");
                        if (!streq(range, "-"))
                                cJSON_AddStringToObject(block, "upgradeFrom", range);
                }
                ck_assert_int_eq(metadata_parse(d, &m, NULL), 0);
                for (unsigned q = 0; q < 8 && m.n > 0; q++) {
                        _cleanup_strv_free_ char **got = NULL, **want = NULL;
                        _cleanup_free_ char *g = NULL, *w = NULL;
                        const char *to = m.releases[(unsigned)rand_r(&seed) % m.n].version;
                        SemVer from = {};
                        int rg, rw;

                        SemVer tv = m.releases[0].v;

                        /* mostly an upgrade, which is where paths are */
                        for (unsigned tries = 0; tries < 8; tries++) {
                                semver_done(&from);
                                ck_assert_int_eq(semver_parse(random_version(&seed), &from), 0);
                                for (size_t i = 0; i < m.n; i++)
                                        if (streq(m.releases[i].version, to))
                                                tv = m.releases[i].v;
                                if (semver_compare(&from, &tv) < 0)
                                        break;
                        }
                        rg = metadata_plan_path(&m, &from, to, &got);
                        rw = reference_plan_path(&m, &from, to, &want);
                        g = joined(rg, got);
                        w = joined(rw, want);
                        ck_assert_msg(
                                streq(g, w),
                                "document %u, to %s: got '%s', the pairwise scan '%s'",
                                doc,
                                to,
                                g,
                                w);
                        semver_done(&from);
                }
        }
}
END_TEST

/* a document of n versions 1.0.0 … 1.0.<n-1>, version i upgradeable only from the two below it */
static Metadata ladder_of(unsigned n) {
        cJSON *doc = metadata_ladder(n);
        Metadata m = {};

        ck_assert_ptr_nonnull(doc);
        ck_assert_int_eq(metadata_parse(doc, &m, NULL), 0);
        ck_assert_uint_eq(m.n, n);
        return m;
}

START_TEST(test_path_largest_document) {
        _cleanup_(metadata_done) Metadata m = ladder_of(METADATA_MAX_VERSIONS);
        _cleanup_strv_free_ char **path = NULL;
        _cleanup_free_ char *want = NULL;
        size_t size = 0, k = 0;
        SemVer from = {};
        FILE *f;

        /* the whole ladder, two rungs at a time (the higher rung each time), 1.0.19999 last: every
         * release is reached by the search, and a scan of every pair would try 200 million of them */
        f = open_memstream(&want, &size);
        for (unsigned i = 2; i < METADATA_MAX_VERSIONS; i += 2)
                fprintf(f, "1.0.%u ", i);
        fprintf(f, "1.0.%u", METADATA_MAX_VERSIONS - 1);
        fclose(f);
        ck_assert_int_eq(semver_parse("1.0.0", &from), 0);
        ck_assert_int_eq(metadata_plan_path(&m, &from, "1.0.19999", &path), 0);
        semver_done(&from);
        {
                _cleanup_free_ char *got = joined(0, path);
                ck_assert_str_eq(got, want);
        }
        STRV_FOREACH (p, path)
                k++;
        ck_assert_uint_eq(k, METADATA_MAX_VERSIONS / 2);
}
END_TEST

START_TEST(test_path_deadline) {
        _cleanup_(metadata_done) Metadata m = ladder_of(64);
        _cleanup_strv_free_ char **path = NULL;
        SemVer from = {};

        /* a deadline already passed: the search gives up instead of running on */
        ck_assert_int_eq(semver_parse("1.0.0", &from), 0);
        ck_assert_int_eq(metadata_plan_path_until(&m, &from, "1.0.63", 1, &path), -ETIME);
        ck_assert_ptr_null(path);
        ck_assert_int_eq(metadata_plan_path_until(&m, &from, "1.0.63", USEC_INFINITY, &path), 0);
        semver_done(&from);
}
END_TEST

START_TEST(test_too_many_versions) {
        _cleanup_free_ char *error = NULL, *file = strdup("/srv/huge-metadata.json"), *rooted = NULL,
                            *body = NULL, *srv = paths_rooted("/srv");
        cJSON *doc = cJSON_CreateObject(), *versions = cJSON_AddObjectToObject(doc, "versions");
        Config c = { .deployment = (char *)"huge", .package = (char *)"@codebolt/server" };
        Metadata m = {};

        for (unsigned i = 0; i <= METADATA_MAX_VERSIONS; i++) {
                char v[32];
                snprintf(v, sizeof(v), "1.0.%u", i);
                ck_assert_ptr_nonnull(cJSON_AddObjectToObject(versions, v));
        }
        body = cJSON_PrintUnformatted(doc);
        ck_assert_int_eq(metadata_parse(doc, &m, &error), -E2BIG);
        ck_assert_ptr_nonnull(strstr(error, "20001 versions"));

        /* through ReleaseMetadata=: the message names the file too */
        free(error);
        error = NULL;
        rooted = paths_rooted(file);
        ck_assert_int_eq(paths_mkdir_p(srv, 0755), 0);
        ck_assert_int_eq(state_write_string_atomic(rooted, body, 0644), 0);
        c.release_metadata = file;
        ck_assert_int_eq(metadata_load(&c, &m, &error), -E2BIG);
        ck_assert_ptr_nonnull(strstr(error, rooted));
        ck_assert_ptr_nonnull(strstr(error, "20001 versions"));
}
END_TEST

START_TEST(test_protocol_numbers) {
        static const struct {
                const char *json;
                int64_t want;
        } cases[] = {
                { "6", 6 },
                { "0", 0 },
                { "9007199254740992", INT64_C(9007199254740992) },
                /* never "not declared": each would skip the clients gate */
                { "1e300", METADATA_MALFORMED },
                { "-1e300", METADATA_MALFORMED },
                { "1e19", METADATA_MALFORMED },
                { "9223372036854775808", METADATA_MALFORMED },
                { "-1", METADATA_MALFORMED },
                { "6.5", METADATA_MALFORMED },
                { "\"6\"", METADATA_MALFORMED },
                { "true", METADATA_MALFORMED },
                { "null", -1 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(metadata_done) Metadata m = {};
                _cleanup_free_ char *text = NULL;

                ck_assert_int_ge(
                        asprintf(
                                &text,
                                "{\"versions\": {\"1.5.0\": {\"codebolt\": {\"protocol\": %s, "
                                "\"minClientProtocol\": %s}}}}",
                                cases[i].json,
                                cases[i].json),
                        0);
                ck_assert_int_eq(metadata_parse(cJSON_Parse(text), &m, NULL), 0);
                ck_assert_msg(
                        m.releases[0].min_client_protocol == cases[i].want,
                        "minClientProtocol %s: %" PRId64,
                        cases[i].json,
                        m.releases[0].min_client_protocol);
                ck_assert_msg(m.releases[0].protocol == cases[i].want, "protocol %s", cases[i].json);
        }
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
        tcase_add_test(tc, test_parse_duplicate_version);
        tcase_add_test(tc, test_classify);
        tcase_add_test(tc, test_path_direct);
        tcase_add_test(tc, test_path_one_step);
        tcase_add_test(tc, test_path_two_steps);
        tcase_add_test(tc, test_path_shortest_then_highest);
        tcase_add_test(tc, test_path_impossible);
        tcase_add_test(tc, test_path_deadline);
        tcase_add_test(tc, test_protocol_numbers);
        tcase_add_test(tc, test_url);
        tcase_add_test(tc, test_load_and_cache);
        tcase_add_test(tc, test_pick_auto_track);
        tcase_add_test(tc, test_pick_auto_skips);
        tcase_add_test(tc, test_pick_auto_channel);
        suite_add_tcase(s, tc);

        /* the largest documents: well under a second each without sanitizers; the timeout leaves room for a
         * sanitizer build on a loaded machine (a scan of every pair takes many minutes) */
        tc = tcase_create("large");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_path_same_as_pairwise);
        tcase_add_test(tc, test_path_largest_document);
        tcase_add_test(tc, test_too_many_versions);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return run_suite_in_root(metadata_suite(), "test-metadata");
}
