/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* metadata.c: the registry's document for the package, what each version declares, and upgrade paths */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "journal.h"
#include "json-util.h"
#include "macro.h"
#include "metadata.h"
#include "paths.h"
#include "state.h"

#define DEFAULT_REGISTRY "https://registry.npmjs.org/"
#define CACHE_NAME "release-metadata.json"

void metadata_done(Metadata *m) {
        if (!m)
                return;
        for (size_t i = 0; i < m->n; i++) {
                semver_done(&m->releases[i].v);
                semver_range_free(m->releases[i].upgrade_from_range);
        }
        free(m->releases);
        cJSON_Delete(m->doc);
        free(m->source);
        *m = (Metadata){};
}

/* a protocol number: -1 when not declared, METADATA_MALFORMED when declared as anything but a whole
 * number from 0 to INT64_MAX */
static int64_t protocol_of(const cJSON *o, const char *key) {
        int64_t v;
        int r;

        r = json_get_int64_range(o, key, 0, INT64_MAX, &v);
        if (r == -ENOENT)
                return -1;
        return r < 0 ? METADATA_MALFORMED : v;
}

/* by precedence, then by the version string: a version listed twice then sits next to itself */
static int release_compare(const void *a, const void *b) {
        const Release *x = a, *y = b;
        int c = semver_compare(&x->v, &y->v);

        return c != 0 ? c : strcmp(x->version, y->version);
}

int metadata_parse(cJSON *doc, Metadata *ret, char **ret_error) {
        _cleanup_json_ cJSON *owned = doc;
        const cJSON *versions = cJSON_GetObjectItemCaseSensitive(doc, "versions"), *e;
        Metadata m = {};
        size_t n = 0;

        if (!cJSON_IsObject(versions)) {
                if (ret_error)
                        *ret_error = strdup("the document has no \"versions\" object");
                return -EBADMSG;
        }
        /* every version costs the path search and the gates: a bound keeps a hostile document from
         * holding the upgrade for minutes */
        if (cJSON_GetArraySize(versions) > METADATA_MAX_VERSIONS) {
                if (ret_error &&
                    asprintf(
                            ret_error,
                            "the document lists %d versions, more than the %d this tool considers",
                            cJSON_GetArraySize(versions),
                            METADATA_MAX_VERSIONS) < 0)
                        *ret_error = NULL;
                return -E2BIG;
        }
        m.releases = calloc((size_t)cJSON_GetArraySize(versions) + 1, sizeof(Release));
        if (!m.releases)
                return -ENOMEM;
        cJSON_ArrayForEach (e, versions) {
                const cJSON *block = cJSON_GetObjectItemCaseSensitive(e, "codebolt");
                const cJSON *engines = cJSON_GetObjectItemCaseSensitive(e, "engines");
                const cJSON *deprecated = cJSON_GetObjectItemCaseSensitive(e, "deprecated");
                Release *r = &m.releases[n];
                int k;

                if (!cJSON_IsObject(e) || !e->string)
                        continue;
                k = semver_parse(e->string, &r->v);
                if (k == -ENOMEM) {
                        m.doc = TAKE_PTR(owned);
                        m.n = n;
                        metadata_done(&m);
                        return k;
                }
                if (k < 0)
                        continue;
                r->version = e->string;
                r->node = json_get_string(engines, "node");
                r->postgres = json_get_string(block, "postgres");
                r->upgrade_from = json_get_string(block, "upgradeFrom");
                /* parsed once here, not for every pair the path search tries; a malformed one stays NULL
                 * and is reported when a search needs it */
                if (r->upgrade_from) {
                        k = semver_range_parse(r->upgrade_from, &r->upgrade_from_range);
                        if (k == -ENOMEM) {
                                m.doc = TAKE_PTR(owned);
                                m.n = n + 1;
                                metadata_done(&m);
                                return k;
                        }
                }
                r->protocol = protocol_of(block, "protocol");
                r->min_client_protocol = protocol_of(block, "minClientProtocol");
                r->rolling = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(block, "rolling"));
                r->deprecated = (cJSON_IsString(deprecated) && deprecated->valuestring[0]) ||
                                cJSON_IsTrue(deprecated);
                r->migrations = cJSON_GetObjectItemCaseSensitive(block, "migrations");
                r->notes = json_get_string(block, "notes");
                n++;
        }
        qsort(m.releases, n, sizeof(Release), release_compare);
        m.n = n;
        m.doc = TAKE_PTR(owned);
        /* JSON lets a key repeat; two blocks for one version would let the plan and the stage read
         * different ones */
        for (size_t i = 1; i < n; i++)
                if (streq(m.releases[i - 1].version, m.releases[i].version)) {
                        if (ret_error && asprintf(
                                                 ret_error,
                                                 "the document lists version %s twice",
                                                 m.releases[i].version) < 0)
                                *ret_error = NULL;
                        metadata_done(&m);
                        return -EBADMSG;
                }
        *ret = m;
        return 0;
}

const Release *metadata_find(const Metadata *m, const char *version) {
        for (size_t i = 0; m && version && i < m->n; i++)
                if (streq(m->releases[i].version, version))
                        return &m->releases[i];
        return NULL;
}

int metadata_url(const Config *c, char **ret) {
        const char *registry = c->registry ?: DEFAULT_REGISTRY, *slash;
        _cleanup_free_ char *name = NULL;
        size_t len = strlen(registry);
        char *url;

        if (c->release_metadata) {
                /* a local path is taken under $CODEBOLT_UPGRADE_ROOT, as every path is */
                url = c->release_metadata[0] == '/' ? paths_rooted(c->release_metadata)
                                                    : strdup(c->release_metadata);
                if (!url)
                        return -ENOMEM;
                *ret = url;
                return 0;
        }
        /* npm asks for "@scope%2fname" */
        slash = strchr(c->package, '/');
        if (slash ? asprintf(&name, "%.*s%%2f%s", (int)(slash - c->package), c->package, slash + 1) < 0
                  : !(name = strdup(c->package)))
                return -ENOMEM;
        if (asprintf(&url, "%s%s%s", registry, len > 0 && registry[len - 1] == '/' ? "" : "/", name) < 0)
                return -ENOMEM;
        *ret = url;
        return 0;
}

static int parse_body(const char *body, const char *source, Metadata *ret, char **ret_error) {
        _cleanup_free_ char *error = NULL;
        cJSON *doc = cJSON_Parse(body);
        int r;

        if (!doc) {
                if (ret_error && asprintf(ret_error, "%s is not JSON", source) < 0)
                        *ret_error = NULL;
                return -EBADMSG;
        }
        r = metadata_parse(doc, ret, ret_error ? &error : NULL);
        if (r < 0) {
                if (ret_error && asprintf(ret_error, "%s: %s", source, error ?: strerror(-r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        ret->source = strdup(source);
        if (!ret->source) {
                metadata_done(ret);
                return -ENOMEM;
        }
        return 0;
}

int metadata_load_cached(const Config *c, Metadata *ret, char **ret_error) {
        _cleanup_free_ char *path = paths_state_file(c->deployment, CACHE_NAME), *body = NULL;
        size_t size;
        int r;

        if (!path)
                return -ENOMEM;
        r = state_read_file(path, &body, &size);
        if (r < 0) {
                if (ret_error && asprintf(ret_error, "%s: %s", path, strerror(-r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        return parse_body(body, path, ret, ret_error);
}

int metadata_load(const Config *c, Metadata *ret, char **ret_error) {
        _cleanup_free_ char *url = NULL, *body = NULL, *error = NULL, *path = NULL, *dir = NULL;
        size_t size = 0;
        int r;

        r = metadata_url(c, &url);
        if (r < 0)
                return r;
        path = paths_state_file(c->deployment, CACHE_NAME);
        dir = paths_state_dir(c->deployment);
        if (!path || !dir)
                return -ENOMEM;

        r = http_fetch_file(url, &body, &size, &error);
        if (r >= 0) {
                r = parse_body(body, url, ret, ret_error);
                if (r < 0)
                        return r;
                /* the cache is a convenience: a full disk must not stop a plan */
                if (paths_mkdir_p(dir, 0700) >= 0)
                        (void)state_write_atomic(path, body, size, 0600);
                return 0;
        }

        /* unreachable: the copy of the last fetch, saying so */
        if (metadata_load_cached(c, ret, NULL) >= 0) {
                free(ret->source);
                if (asprintf(
                            &ret->source,
                            "%s (the cached copy: %s is unreachable: %s)",
                            path,
                            url,
                            error ?: strerror(-r)) < 0) {
                        ret->source = NULL;
                        metadata_done(ret);
                        return -ENOMEM;
                }
                return 0;
        }
        if (ret_error && asprintf(ret_error, "%s: %s", url, error ?: strerror(-r)) < 0)
                *ret_error = NULL;
        return r;
}

UpgradeKind metadata_classify(const SemVer *from, const SemVer *to) {
        int c = semver_compare(from, to);

        if (c == 0)
                return UPGRADE_SAME;
        if (c > 0)
                return UPGRADE_DOWNGRADE;
        if (from->major != to->major)
                return UPGRADE_MAJOR;
        if (from->minor != to->minor)
                return UPGRADE_MINOR;
        return UPGRADE_PATCH;
}

const char *upgrade_kind_to_string(UpgradeKind k) {
        static const char *const names[_UPGRADE_KIND_MAX] = {
                [UPGRADE_SAME] = "same",   [UPGRADE_PATCH] = "patch",         [UPGRADE_MINOR] = "minor",
                [UPGRADE_MAJOR] = "major", [UPGRADE_DOWNGRADE] = "downgrade",
        };
        return k >= 0 && k < _UPGRADE_KIND_MAX ? names[k] : NULL;
}

int metadata_step_allowed(const Release *to, const SemVer *from) {
        if (semver_compare(from, &to->v) >= 0)
                return 0;
        if (!to->upgrade_from)
                return 1;
        if (to->upgrade_from_range)
                return semver_range_match(to->upgrade_from_range, from);
        return semver_range_satisfies(to->upgrade_from, from);
}

/* a release that may be a stop on the way (the target itself always may) */
static bool may_stop_at(const Release *r) {
        return !r->v.prerelease && !r->deprecated;
}

/* the first index in [lo, hi) at which pred (false, then true along ascending versions) holds; hi when
 * nowhere */
static size_t first_where(
        const Metadata *m,
        size_t lo,
        size_t hi,
        const SemVerRange *range,
        size_t set,
        bool (*pred)(const SemVerRange *r, size_t set, const SemVer *v),
        bool want) {
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (pred(range, set, &m->releases[mid].v) == want)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return lo;
}

/* the first release at or after i not yet reached by the search and allowed as a stop (next[] skips the
 * others, shortening the chains it walks) */
static size_t next_open(size_t *next, size_t i) {
        size_t root = i;

        while (next[root] != root)
                root = next[root];
        while (next[i] != root) {
                size_t up = next[i];
                next[i] = root;
                i = up;
        }
        return root;
}

static int compare_size(const void *a, const void *b) {
        size_t x = *(const size_t *)a, y = *(const size_t *)b;
        return (x > y) - (x < y);
}

/* how many releases the search takes between looks at the clock */
#define DEADLINE_EVERY 256

int metadata_plan_path_until(
        const Metadata *m, const SemVer *from, const char *to, usec_t deadline, char ***ret) {
        _cleanup_free_ int *dist = NULL;
        _cleanup_free_ size_t *queue = NULL, *next = NULL, *same = NULL, *bucket = NULL, *start = NULL;
        _cleanup_strv_free_ char **path = NULL;
        const Release *target = metadata_find(m, to);
        size_t t, head = 0, tail = 0, cur = SIZE_MAX, above_from = 0;
        int best = -1, r;

        if (!target)
                return -ENOENT;
        t = (size_t)(target - m->releases);
        dist = malloc(m->n * sizeof(int));
        queue = malloc(m->n * sizeof(size_t));
        next = malloc((m->n + 1) * sizeof(size_t));
        same = malloc(m->n * sizeof(size_t));
        if (!dist || !queue || !next || !same)
                return -ENOMEM;

        /* same[i]: the first release of i's precedence (builds differ only in metadata): a step goes
         * strictly up, so from i only the releases before same[i] can lead to i */
        for (size_t i = 0; i < m->n; i++) {
                dist[i] = -1;
                same[i] = i > 0 && semver_compare(&m->releases[i - 1].v, &m->releases[i].v) == 0
                                  ? same[i - 1]
                                  : i;
                if (semver_compare(&m->releases[i].v, from) <= 0)
                        above_from = i + 1;
        }
        /* the releases the search may still reach: above `from`, allowed as a stop, not the target */
        for (size_t i = 0; i <= m->n; i++)
                next[i] =
                        i < m->n && (i < above_from || i == t || !may_stop_at(&m->releases[i])) ? i + 1 : i;

        /* breadth first, backwards from the target: dist[i] is the number of steps from release i to it.
         * The releases one step below x are, for each of its upgradeFrom's comparator sets, one run of the
         * sorted list: found by binary search, and each release is reached once. Those x reaches are queued
         * in ascending order, so the queue (and so which error a malformed range gives) is the one a scan
         * of every pair would build. */
        dist[t] = 0;
        queue[tail++] = t;
        while (head < tail) {
                size_t x = queue[head++], end = same[x], first = tail;
                const SemVerRange *range = m->releases[x].upgrade_from_range;
                size_t sets = range ? semver_range_n_sets(range) : 1;

                if (deadline != USEC_INFINITY && head % DEADLINE_EVERY == 1 && now_monotonic() >= deadline)
                        return -ETIME;
                if (next_open(next, above_from) >= end)
                        continue;
                if (m->releases[x].upgrade_from && !range)
                        return -EINVAL;
                for (size_t s = 0; s < sets; s++) {
                        size_t lo = above_from, hi = end;

                        if (range) {
                                lo = first_where(m, lo, hi, range, s, semver_range_set_above_lower, true);
                                hi = first_where(m, lo, hi, range, s, semver_range_set_below_upper, false);
                        }
                        for (size_t y = next_open(next, lo); y < hi; y = next_open(next, y)) {
                                dist[y] = dist[x] + 1;
                                queue[tail++] = y;
                                next[y] = y + 1;
                        }
                }
                qsort(queue + first, tail - first, sizeof(size_t), compare_size);
        }

        /* forwards from `from`: the fewest steps, and each time the highest release one step closer */
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

        /* the releases of each distance, highest first: bucket[start[d] .. start[d + 1]) */
        bucket = malloc(m->n * sizeof(size_t));
        start = calloc((size_t)best + 2, sizeof(size_t));
        if (!bucket || !start)
                return -ENOMEM;
        for (size_t i = 0; i < m->n; i++)
                if (dist[i] >= 0 && dist[i] <= best)
                        start[dist[i] + 1]++;
        for (int d = 0; d <= best; d++)
                start[d + 1] += start[d];
        for (size_t i = m->n; i-- > 0;)
                if (dist[i] >= 0 && dist[i] <= best)
                        bucket[start[dist[i]]++] = i;
        /* each start[d] now points past its bucket: move it back to the bucket's beginning */
        for (int d = best; d > 0; d--)
                start[d] = start[d - 1];
        start[0] = 0;

        path = calloc((size_t)best + 2, sizeof(char *));
        if (!path)
                return -ENOMEM;
        for (int k = 0; k <= best; k++) {
                const SemVer *at = cur == SIZE_MAX ? from : &m->releases[cur].v;
                size_t pick = SIZE_MAX, d = (size_t)(best - k);

                for (size_t j = start[d]; pick == SIZE_MAX && j < start[d + 1]; j++) {
                        r = metadata_step_allowed(&m->releases[bucket[j]], at);
                        if (r < 0)
                                return r;
                        if (r > 0)
                                pick = bucket[j];
                }
                if (pick == SIZE_MAX)
                        return -ENOLINK; /* not reached: every dist[] was set through such a step */
                path[k] = strdup(m->releases[pick].version);
                if (!path[k])
                        return -ENOMEM;
                cur = pick;
        }
        *ret = TAKE_PTR(path);
        return 0;
}

int metadata_plan_path(const Metadata *m, const SemVer *from, const char *to, char ***ret) {
        return metadata_plan_path_until(m, from, to, USEC_INFINITY, ret);
}

const char *metadata_dist_tag(const Metadata *m, const char *tag) {
        const cJSON *tags, *v;

        if (!m || !m->doc || !tag)
                return NULL;
        tags = cJSON_GetObjectItemCaseSensitive(m->doc, "dist-tags");
        v = cJSON_IsObject(tags) ? cJSON_GetObjectItemCaseSensitive(tags, tag) : NULL;
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* above running, and within Track= (the same major always; the same minor with patch) */
static bool auto_within_track(const Release *r, const SemVer *running, AutoTrack track) {
        return r->v.major == running->major && (track != TRACK_PATCH || r->v.minor == running->minor);
}

int metadata_pick_auto(
        const Metadata *m,
        const SemVer *running,
        AutoTrack track,
        const char *channel,
        bool (*failed)(const char *version, void *userdata),
        void *userdata,
        const Release **ret) {
        *ret = NULL;
        if (channel) {
                const char *version = metadata_dist_tag(m, channel);
                const Release *r;

                if (!version)
                        return -ENOENT;
                r = metadata_find(m, version);
                if (!r)
                        return -ENXIO;
                if (semver_compare(&r->v, running) <= 0)
                        return 0;
                if (!auto_within_track(r, running, track))
                        return -EPERM;
                if (failed && failed(r->version, userdata))
                        return 0;
                *ret = r;
                return 1;
        }
        for (size_t i = m->n; i > 0; i--) {
                const Release *r = &m->releases[i - 1];

                if (semver_compare(&r->v, running) <= 0)
                        break;
                if (!may_stop_at(r) || !auto_within_track(r, running, track))
                        continue;
                if (failed && failed(r->version, userdata))
                        continue;
                *ret = r;
                return 1;
        }
        return 0;
}
