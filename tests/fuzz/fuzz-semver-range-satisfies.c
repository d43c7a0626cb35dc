/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-semver-range-satisfies.c: "version\nrange": semver_parse() of the version (its round trip
 * through semver_to_string()), then semver_range_satisfies() of the range, as upgradeFrom, engines.node
 * and codebolt.postgres are read from a registry document */
#define _GNU_SOURCE
#include <errno.h>

#include "fuzz.h"
#include "macro.h"
#include "semver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *input = fuzz_string(data, size), *text = NULL;
        _cleanup_(semver_done) SemVer v = {}, again = {};
        const char *range = fuzz_split_line(input);
        int r;

        r = semver_parse(input, &v);
        FUZZ_CHECK(r == 0 || r == -EINVAL || r == -E2BIG || r == -ENOMEM);
        /* semver_why_invalid() and semver_parse() agree on what a version is */
        FUZZ_CHECK((r == 0) == (semver_why_invalid(input) == NULL));
        if (r < 0)
                return 0;
        /* an exact version prints back as itself */
        FUZZ_CHECK(semver_to_string(&v, &text) == 0);
        FUZZ_CHECK(streq(text, input));
        FUZZ_CHECK(semver_parse(text, &again) == 0 && semver_compare(&v, &again) == 0);

        r = semver_range_satisfies(range, &v);
        FUZZ_CHECK(r == 0 || r == 1 || r == -EINVAL || r == -ENOMEM);
        /* an empty range is *, which every release satisfies */
        if (!*range)
                FUZZ_CHECK(r == 1 || v.prerelease);
        /* a version, as a range, is satisfied by itself */
        FUZZ_CHECK(semver_range_satisfies(input, &v) == 1);
        return 0;
}
