/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz.h: what the libFuzzer targets share: the input as C strings, and a check that aborts */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* a property of the code under test that the input broke: abort, so that libFuzzer keeps the input */
#define FUZZ_CHECK(expr)                                                                         \
        do {                                                                                     \
                if (!(expr)) {                                                                   \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
                        abort();                                                                 \
                }                                                                                \
        } while (0)

/* The input as a NUL-terminated string, as the callers hand text to the parsers (a NUL inside it ends
 * the string early there too). Out of memory is not a finding: abort only on that. */
static inline char *fuzz_string(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);

        if (!s)
                abort();
        memcpy(s, data, size);
        s[size] = 0;
        return s;
}

/* Split s at its first newline: s keeps the first line, the rest is returned ("" when there is none).
 * The targets with two arguments take them this way: "argument\ntext". */
static inline char *fuzz_split_line(char *s) {
        char *nl = strchr(s, '\n');

        if (!nl)
                return s + strlen(s);
        *nl = 0;
        return nl + 1;
}
