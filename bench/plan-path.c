/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* plan-path.c: how long metadata_plan_path() takes on a document of N versions built to make the search
 * explore everything: 1.0.0 … 1.0.<N-1>, each upgradeable only from the two versions below it, planned
 * from 1.0.0 to the last. Prints the parse and search times of the fastest, median and slowest of RUNS runs.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "json-util.h"
#include "metadata-ladder.h"
#include "metadata.h"
#include "time-util.h"

static double now_ms(void) {
        return (double)now_monotonic() / (double)USEC_PER_MSEC;
}

static int compare_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

int main(int argc, char *argv[]) {
        unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 20000;
        unsigned runs = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 5;
        double *parse = calloc(runs ?: 1, sizeof(double)), *search = calloc(runs ?: 1, sizeof(double));
        char target[32];
        size_t steps = 0;

        if (n < 2 || runs == 0 || !parse || !search) {
                fprintf(stderr, "usage: %s [VERSIONS ≥ 2] [RUNS ≥ 1]\n", argv[0]);
                return EXIT_FAILURE;
        }
        snprintf(target, sizeof(target), "1.0.%u", n - 1);
        for (unsigned r = 0; r < runs; r++) {
                cJSON *doc = metadata_ladder(n);
                Metadata m = {};
                SemVer from = {};
                char **path = NULL;
                double t0, t1, t2;
                int k;

                if (!doc || semver_parse("1.0.0", &from) < 0)
                        return EXIT_FAILURE;
                t0 = now_ms();
                k = metadata_parse(doc, &m, NULL);
                t1 = now_ms();
                if (k >= 0)
                        k = metadata_plan_path(&m, &from, target, &path);
                t2 = now_ms();
                if (k < 0) {
                        fprintf(stderr, "metadata_plan_path: %d\n", k);
                        return EXIT_FAILURE;
                }
                steps = 0;
                STRV_FOREACH (p, path)
                        steps++;
                strv_free(path);
                semver_done(&from);
                metadata_done(&m);
                parse[r] = t1 - t0;
                search[r] = t2 - t1;
        }
        qsort(parse, runs, sizeof(double), compare_double);
        qsort(search, runs, sizeof(double), compare_double);
        printf("metadata_plan_path, %u versions (a path of %zu steps), %u runs: search min %.1f ms, median "
               "%.1f "
               "ms, max %.1f ms; metadata_parse median %.1f ms (target: search under 1000 ms without "
               "sanitizers)\n",
               n,
               steps,
               runs,
               search[0],
               search[runs / 2],
               search[runs - 1],
               parse[runs / 2]);
        free(parse);
        free(search);
        return EXIT_SUCCESS;
}
