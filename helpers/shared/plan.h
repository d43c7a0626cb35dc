/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* plan.h: everything checked before an upgrade touches anything (docs/architecture.md, "Phases": preflight),
 * read-only: the release metadata, the kind of upgrade and its path, and the gates. preflight refuses on a
 * failed gate; `codebolt-upgrade plan` shows them all. */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <cjson/cJSON.h>

#include "checks.h"
#include "config.h"
#include "metadata.h"

typedef struct Gate {
        const char *name; /* "failed-here", "kind", "published", "path", "node", "postgres", "clients",
                           * "tools", "space", "staging" */
        CheckResult result;
        char *reason;
} Gate;

typedef struct Plan {
        char *from, *to;
        UpgradeKind kind;
        Metadata metadata; /* empty when it could not be read */
        const Release *target;
        char **path;       /* the chain of versions after `from` (NULL when none was computed) */
        cJSON *migrations; /* the target's migrations the running release does not declare */
        bool breaking;     /* one of them is breaking: a failure after it means a full restore */
        Gate *gates;
        size_t n_gates;
        bool proceed;             /* no gate failed */
        double expected_downtime; /* seconds, from the last upgrade here (NAN: none to go by) */
        char *downtime_basis;     /* what expected_downtime is based on, in words */
        usec_t downtime_bound;    /* the most the deadlines allow (plan_downtime_bound()) */
} Plan;

/* free what plan_make() made; p is empty after (NULL is fine) */
void plan_done(Plan *p);

/* Run every check for the upgrade of c's deployment from `from` (the running version) to `to`; the
 * state it reads (the ledger, the release metadata, the running release) it loads from c. Nothing is
 * changed but the metadata cache. Does not log. Returns <0 only on out-of-memory: a check that cannot
 * be made is a failed gate saying why. */
int plan_make(const Config *c, const char *from, const char *to, Plan *ret);

/* The longest downtime the deadlines allow: [Timeouts] Drain= + Migrations= + Ready= + Smoke=, the
 * phases between the stop and the end; USEC_INFINITY when one of them is infinite. */
usec_t plan_downtime_bound(const Config *c);

/* the first failed gate, or NULL */
const Gate *plan_first_failure(const Plan *p);

/* a journal line per gate (failures at LOG_ERR) */
void plan_log(const Plan *p);
/* the plan as `codebolt-upgrade plan` prints it */
void plan_print(const Plan *p, FILE *f);
/* the plan as `codebolt-upgrade plan --json` prints it; NULL when out of memory */
cJSON *plan_to_json(const Plan *p);
