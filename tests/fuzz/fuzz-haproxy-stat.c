/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-haproxy-stat.c: "backend/server\ncsv": haproxy_parse_stat() of the row of backend/server in a
 * `show stat` answer, which is handed over as the socket gave it (its exact size, no NUL after it) */
#define _GNU_SOURCE
#include <errno.h>

#include "fuzz.h"
#include "haproxy.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *input = fuzz_string(data, size), *csv = NULL;
        const char *text = fuzz_split_line(input), *server = "";
        /* the text's own bytes, NULs included, up to the end of the input */
        size_t offset = (size_t)(text - input), n = offset <= size ? size - offset : 0;
        char *slash = strchr(input, '/');
        HaproxyServerStat s = {};
        int r;

        if (slash) {
                *slash = 0;
                server = slash + 1;
        }
        /* exactly n bytes: a read past the end is an ASan finding */
        csv = malloc(n ?: 1);
        if (!csv)
                abort();
        memcpy(csv, data + offset, n);

        r = haproxy_parse_stat(csv, n, input, server, &s);
        FUZZ_CHECK(r == 0 || r == -ENOENT || r == -EBADMSG || r == -ENOMEM);
        if (r < 0) {
                /* nothing written on failure */
                FUZZ_CHECK(!s.status && !s.check_status && !s.check_code && !s.last_chk && s.scur == 0);
                return 0;
        }
        FUZZ_CHECK(s.status);
        (void)haproxy_status_is_up(s.status);
        haproxy_server_stat_done(&s);
        return 0;
}
