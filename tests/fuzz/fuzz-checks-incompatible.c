/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-checks-incompatible.c: the output of `codebolt tool list --status` through
 * checks_incompatible(), with an AllowIncompatible= list, and the other command outputs preflight
 * reads the same way (`node --version`, a ledger's time stamp) */
#define _GNU_SOURCE
#include <errno.h>

#include "checks.h"
#include "fuzz.h"
#include "semver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static char *const allow[] = { (char *)"browser", (char *)"legacy-tool", (char *)"vectordb", NULL };
        _cleanup_free_ char *output = fuzz_string(data, size), *blocking = NULL, *allowed = NULL,
                            *node = NULL;
        usec_t t;
        int r;

        r = checks_incompatible(output, allow, &blocking, &allowed);
        FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);
        if (r == 0) {
                FUZZ_CHECK(!blocking || *blocking);
                FUZZ_CHECK(!allowed || *allowed);
        }
        free(TAKE_PTR(blocking));
        free(TAKE_PTR(allowed));
        r = checks_incompatible(output, NULL, &blocking, &allowed);
        FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);

        r = checks_node_version(output, &node);
        FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);
        FUZZ_CHECK(r < 0 || semver_why_invalid(node) == NULL);
        r = checks_parse_timestamp(output, &t);
        FUZZ_CHECK(r == 0 || r == -EINVAL);
        return 0;
}
