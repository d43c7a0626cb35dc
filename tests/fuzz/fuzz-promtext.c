/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-promtext.c: "name selector\ntext": the watch's reads of a /metrics answer, promtext_value() and
 * promtext_sum() of the metric `name` whose labels match `selector` (the rest of the first line after
 * a space; none: every sample of the name), and that the two agree */
#define _GNU_SOURCE
#include <errno.h>

#include "fuzz.h"
#include "macro.h"
#include "promtext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *input = fuzz_string(data, size);
        const char *text = fuzz_split_line(input);
        char *space = strchr(input, ' ');
        const char *labels = NULL;
        double value, sum;
        int rv, rs;

        if (space) {
                *space = 0;
                labels = space + 1;
        }
        rv = promtext_value(text, input, labels, &value);
        rs = promtext_sum(text, input, labels, &sum);
        FUZZ_CHECK(rv == 0 || rv == -ENOENT || rv == -EBADMSG || rv == -EINVAL);
        FUZZ_CHECK(rs > 0 || rs == -ENOENT || rs == -EBADMSG || rs == -EINVAL);

        /* the same text, the same selector: one sample found means the sum found it too, unless a
         * later line of the name does not parse; none found means no line of the name was bad */
        FUZZ_CHECK((rv == -EINVAL) == (rs == -EINVAL));
        FUZZ_CHECK((rv == -ENOENT) == (rs == -ENOENT));
        if (rv == 0)
                FUZZ_CHECK(rs > 0 || rs == -EBADMSG);
        if (rs > 0)
                FUZZ_CHECK(rv == 0);
        if (rs == 1)
                FUZZ_CHECK(value == sum || (value != value && sum != sum));
        return 0;
}
