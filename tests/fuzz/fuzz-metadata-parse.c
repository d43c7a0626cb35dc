/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-metadata-parse.c: a registry document (the bytes of release-metadata.json) through
 * metadata_parse() and what preflight and auto read out of it */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>

#include "fuzz.h"
#include "metadata.h"

static bool never_failed(const char *version, void *userdata) {
        return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(metadata_done) Metadata m = {};
        _cleanup_free_ char *error = NULL;
        const Release *picked;
        cJSON *doc;
        int r;

        doc = cJSON_ParseWithLength((const char *)data, size);
        if (!doc)
                return 0;
        r = metadata_parse(doc, &m, &error);
        if (r < 0) {
                FUZZ_CHECK(r == -EBADMSG || r == -ENOMEM);
                FUZZ_CHECK(r != -EBADMSG || error);
                return 0;
        }

        for (size_t i = 0; i < m.n; i++) {
                const Release *rel = &m.releases[i];

                FUZZ_CHECK(rel->version && semver_why_invalid(rel->version) == NULL);
                /* ascending precedence, as the path search and auto rely on */
                FUZZ_CHECK(i == 0 || semver_compare(&m.releases[i - 1].v, &rel->v) <= 0);
                FUZZ_CHECK(upgrade_kind_to_string(metadata_classify(&m.releases[0].v, &rel->v)));
                r = metadata_step_allowed(rel, &m.releases[0].v);
                FUZZ_CHECK(r == 0 || r == 1 || r == -EINVAL);
                /* -1 not declared, METADATA_MALFORMED out of range or not an integer: never a wrapped value
                 */
                FUZZ_CHECK(
                        rel->protocol >= METADATA_MALFORMED &&
                        rel->min_client_protocol >= METADATA_MALFORMED);
        }
        if (m.n > 0) {
                FUZZ_CHECK(metadata_find(&m, m.releases[m.n - 1].version));
                r = metadata_pick_auto(&m, &m.releases[0].v, TRACK_MINOR, NULL, never_failed, NULL, &picked);
                FUZZ_CHECK(r == 0 || (r == 1 && picked));
                r = metadata_pick_auto(&m, &m.releases[0].v, TRACK_PATCH, "latest", NULL, NULL, &picked);
                FUZZ_CHECK(r == 0 || r == -ENOENT || r == -ENXIO || r == -EPERM || (r == 1 && picked));
        }
        (void)metadata_dist_tag(&m, "latest");
        return 0;
}
