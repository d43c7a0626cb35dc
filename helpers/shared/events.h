/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* events.h: what an upgrade tells the outside: the [Notify] webhook and the site's hooks */
#pragma once

#include <cjson/cJSON.h>

#include "helper.h"

/* The [Notify] URL= webhook: POST event with fields (NULL: none) plus deployment, version, from (when
 * current.json knows it) and phase; with the TokenCredential= file as bearer token when that file
 * exists. Nothing when URL= is unset. Any failure is one warning, never an error: a notification that
 * cannot be sent changes nothing about the upgrade. */
void helper_notify(Helper *h, const char *event, const cJSON *fields);
/* The same webhook for what has no upgrade of its own (a cluster's roll): fields plus deployment. */
void events_notify(const Config *c, const char *event, const cJSON *fields);

/* Run the stage's hooks (hooks.h: HOOKS_PRE_UPGRADE, …) with this upgrade's context: from and backup
 * from current, the rollback's Current (NULL: h->current), result (rollback stage) as
 * CODEBOLT_UPGRADE_RESULT, each bounded by [Timeouts] Hook=. Never under the state lock (a hook may run
 * codebolt-upgrade status): one held is let go and taken again after. Logs every hook. A failing pre-upgrade
 * or smoke hook stops the stage and is an error (logged; -EPROTO); in the other stages a failure is a
 * warning, the rest still run, and 0 is returned. */
int helper_run_hooks(Helper *h, const char *stage, const Current *current, const char *result);
