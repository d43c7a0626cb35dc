/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* semver-oracle.c: semver_range_satisfies() for each "range<TAB>version" line of stdin, for diff.js */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "semver.h"

/* "1", "0" or "invalid"; a negative errno only for what no input can explain */
static int decide(const char *range, const char *version, const char **ret) {
        SemVer v = {};
        int r;

        r = semver_parse(version, &v);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                *ret = "invalid";
                return 0;
        }
        r = semver_range_satisfies(range, &v);
        semver_done(&v);
        if (r == -EINVAL)
                *ret = "invalid";
        else if (r < 0)
                return r;
        else
                *ret = r ? "1" : "0";
        return 0;
}

static int run(FILE *in, FILE *out) {
        _cleanup_free_ char *line = NULL;
        size_t size = 0, lineno = 0;
        ssize_t n;

        while ((n = getline(&line, &size, in)) >= 0) {
                const char *answer;
                char *tab;
                int r;

                lineno++;
                if (n > 0 && line[n - 1] == '\n')
                        line[--n] = 0;
                if (strlen(line) != (size_t)n) {
                        fprintf(stderr, "semver-oracle: line %zu: a NUL byte\n", lineno);
                        return -EINVAL;
                }
                /* a version has no tab, a range may */
                tab = strrchr(line, '\t');
                if (!tab) {
                        fprintf(stderr,
                                "semver-oracle: line %zu: no tab between range and version\n",
                                lineno);
                        return -EINVAL;
                }
                *tab = 0;

                r = decide(line, tab + 1, &answer);
                if (r < 0) {
                        fprintf(stderr, "semver-oracle: line %zu: %s\n", lineno, strerror(-r));
                        return r;
                }
                fprintf(out, "%s\n", answer);
        }
        if (ferror(in)) {
                fprintf(stderr, "semver-oracle: reading stdin: %m\n");
                return -EIO;
        }
        if (fflush(out) != 0) {
                fprintf(stderr, "semver-oracle: writing stdout: %m\n");
                return -EIO;
        }
        return 0;
}

int main(int argc, char *argv[]) {
        if (argc != 1) {
                fprintf(stderr, "usage: %s < lines of range<TAB>version\n", argv[0]);
                return 2;
        }
        return run(stdin, stdout) < 0 ? 1 : 0;
}
