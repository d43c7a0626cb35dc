/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* metrics-file.h: [Notify] MetricsFile=, the deployment's upgrades for Prometheus (metrics.h says what it
 * holds; docs/architecture.md, "Metrics") */
#pragma once

#include "config.h"

/* The file the deployment writes: MetricsFile= as set for the default deployment; an extra deployment
 * NAME writes beside it, "-NAME" before the ".prom" (so that one setting in upgrade.conf gives each
 * deployment a file of its own). NULL when MetricsFile= is unset (or out of memory). */
char *metrics_file_path(const Config *c);

/* Write the metrics file from the state as it is now (ledger, current.json, hold.json, the current
 * link), atomically and mode 0644 (node_exporter reads it as another user). Nothing when MetricsFile= is
 * unset. The caller holds the state lock, so that a later state is never overwritten by an earlier one.
 * A failure is one warning naming the file: metrics never change what an upgrade does. */
void metrics_update(const Config *c);
