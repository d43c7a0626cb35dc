/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-http-parse.c: "<flags byte>response": the loopback client's response parser (http-parse.h) over the
 * bytes as a server sent them. The flags byte picks a HEAD request (bit 7) and the size of the pieces the
 * bytes arrive in (the rest; 0: all at once); the same bytes all at once must give the same outcome. */
#define _GNU_SOURCE
#include <errno.h>

#include "fuzz.h"
#include "http-parse.h"
#include "macro.h"

/* a small limit, so that bodies past it are reached */
#define BODY_MAX 4096

typedef struct Outcome {
        int r;
        long status;
        size_t size;
        char *body, *location;
} Outcome;

static Outcome parse(const uint8_t *data, size_t size, bool head, size_t step) {
        HttpParser p = { .head_request = head, .body_max = BODY_MAX };
        Outcome o = {};
        size_t off = 0;
        int r = 0;

        while (off < size && r == 0) {
                size_t k = step == 0 || step > size - off ? size - off : step;
                /* exactly k bytes, so that a read past them is an ASan finding */
                char *piece = malloc(k);

                if (!piece)
                        abort();
                memcpy(piece, data + off, k);
                r = http_parse_feed(&p, piece, k);
                free(piece);
                off += k;
                FUZZ_CHECK(r == 0 || r == 1 || r == -EBADMSG || r == -EFBIG || r == -ENOMEM);
        }
        if (r == 0) {
                r = http_parse_eof(&p);
                FUZZ_CHECK(r == 1 || r == -EBADMSG || r == -ECONNRESET);
        }
        o.r = r;
        if (r == 1) {
                FUZZ_CHECK(p.status >= 200 && p.status <= 599);
                FUZZ_CHECK(p.body && p.body[p.size] == 0 && p.size <= BODY_MAX);
                FUZZ_CHECK(!head || p.size == 0);
                o.status = p.status;
                o.size = p.size;
                o.body = TAKE_PTR(p.body);
                o.location = TAKE_PTR(p.location);
        }
        http_parse_done(&p);
        return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Outcome a, b;
        bool head;
        size_t step;

        if (size == 0)
                return 0;
        head = data[0] & 0x80;
        step = data[0] & 0x7f;
        a = parse(data + 1, size - 1, head, step);
        b = parse(data + 1, size - 1, head, 0);
        FUZZ_CHECK(a.r == b.r && a.status == b.status && a.size == b.size);
        FUZZ_CHECK(a.size == 0 || memcmp(a.body, b.body, a.size) == 0);
        FUZZ_CHECK(!a.location == !b.location && (!a.location || streq(a.location, b.location)));
        free(a.body);
        free(a.location);
        free(b.body);
        free(b.location);
        return 0;
}
