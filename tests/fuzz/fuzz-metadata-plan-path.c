/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-metadata-plan-path.c: metadata_plan_path() over a registry document, from its lowest version
 * (and from 0.0.0) to its highest and to its "latest" dist-tag. Every path it returns is checked step
 * by step, and on small documents its length against a plain breadth-first search. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>

#include "fuzz.h"
#include "metadata.h"

/* the reference search is quadratic in range evaluations: only on documents this small */
#define REFERENCE_MAX 48
/* the documents small enough to be searched three ways */
#define SECOND_PLANS_MAX 1000

static bool may_stop_at(const Release *r) {
        return !r->v.prerelease && !r->deprecated;
}

/* The fewest steps from → … → target by the rule of metadata.h, searched forwards: -1 when there is
 * no chain, -2 when some upgradeFrom on the way is malformed (then the order of evaluation decides
 * what metadata_plan_path() returns, so nothing is compared). */
static int reference_steps(const Metadata *m, const SemVer *from, size_t target) {
        int dist[REFERENCE_MAX], steps = -1;
        size_t queue[REFERENCE_MAX + 1], head = 0, tail = 0;
        bool malformed = false;

        for (size_t i = 0; i < m->n; i++) {
                int r = metadata_step_allowed(&m->releases[i], from);

                dist[i] = -1;
                if (r < 0)
                        malformed = true;
                else if (r > 0 && (i == target || may_stop_at(&m->releases[i]))) {
                        dist[i] = 1;
                        queue[tail++] = i;
                }
        }
        while (head < tail) {
                size_t x = queue[head++];

                if (x == target) {
                        steps = dist[x];
                        break;
                }
                for (size_t y = 0; y < m->n; y++) {
                        int r;

                        if (dist[y] >= 0 || (y != target && !may_stop_at(&m->releases[y])))
                                continue;
                        r = metadata_step_allowed(&m->releases[y], &m->releases[x].v);
                        if (r < 0)
                                malformed = true;
                        else if (r > 0) {
                                dist[y] = dist[x] + 1;
                                queue[tail++] = y;
                        }
                }
        }
        return malformed ? -2 : steps;
}

static void plan(const Metadata *m, const SemVer *from, const char *to) {
        _cleanup_strv_free_ char **path = NULL;
        const Release *target = metadata_find(m, to);
        const SemVer *at = from;
        size_t n = 0, i = 0;
        int r, expect;

        r = metadata_plan_path(m, from, to, &path);
        if (!target) {
                FUZZ_CHECK(r == -ENOENT);
                return;
        }
        expect = m->n <= REFERENCE_MAX ? reference_steps(m, from, (size_t)(target - m->releases)) : -2;
        if (r < 0) {
                FUZZ_CHECK(r == -ENOLINK || r == -EINVAL || r == -ENOMEM);
                FUZZ_CHECK(expect == -2 || (expect == -1) == (r == -ENOLINK));
                return;
        }
        /* the path ascends: look each step up from the one before, so that checking stays linear */
        STRV_FOREACH (v, path) {
                const Release *step = NULL;

                for (; !step && i < m->n; i++)
                        if (streq(m->releases[i].version, *v))
                                step = &m->releases[i];
                FUZZ_CHECK(step);
                FUZZ_CHECK(metadata_step_allowed(step, at) == 1);
                FUZZ_CHECK(!v[1] || may_stop_at(step));
                at = &step->v;
                n++;
        }
        FUZZ_CHECK(n > 0 && streq(path[n - 1], to));
        FUZZ_CHECK(expect == -2 || (size_t)expect == n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(metadata_done) Metadata m = {};
        _cleanup_(semver_done) SemVer zero = {};
        const char *latest;
        cJSON *doc;

        doc = cJSON_ParseWithLength((const char *)data, size);
        if (!doc || metadata_parse(doc, &m, NULL) < 0 || m.n == 0)
                return 0;
        if (semver_parse("0.0.0", &zero) < 0)
                abort();

        plan(&m, &m.releases[0].v, m.releases[m.n - 1].version);
        /* a long document is there for the time one search takes: once is enough */
        if (m.n > SECOND_PLANS_MAX)
                return 0;
        plan(&m, &zero, m.releases[m.n - 1].version);
        latest = metadata_dist_tag(&m, "latest");
        if (latest)
                plan(&m, &m.releases[0].v, latest);
        return 0;
}
