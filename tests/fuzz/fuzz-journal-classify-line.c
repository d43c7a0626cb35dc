/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-journal-classify-line.c: a MESSAGE= of the server's journal through journal_classify_line(),
 * which migrate-watch acts on, and through the default ErrorPattern= the watch counts errors with */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <syslog.h>

#include "fuzz.h"
#include "journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static regex_t pattern;
        static bool compiled = false;
        _cleanup_free_ char *message = fuzz_string(data, size);
        _cleanup_(server_line_done) ServerLine l = {};
        JournalEntry e = { .message = message, .priority = LOG_INFO };
        int r;

        if (!compiled) {
                if (journal_compile_error_pattern("^(error|fatal|panic)\\b", &pattern) < 0)
                        abort();
                compiled = true;
        }

        r = journal_classify_line(message, &l);
        FUZZ_CHECK(r == 0 || r == -ENOMEM);
        if (r < 0)
                return 0;
        switch (l.kind) {
        case LINE_OTHER:
        case LINE_MIGRATIONS_SUMMARY:
        case LINE_MIGRATIONS_FAILED:
                break;
        case LINE_MIGRATION_APPLYING:
                FUZZ_CHECK(l.migration_id && *l.migration_id);
                break;
        case LINE_READY:
                FUZZ_CHECK(l.port >= 1 && l.port <= 65535);
                break;
        default:
                FUZZ_CHECK(!"a kind journal.h does not list");
        }
        r = journal_entry_is_error(&e, &pattern);
        FUZZ_CHECK(r == 0 || r == 1);
        return 0;
}
