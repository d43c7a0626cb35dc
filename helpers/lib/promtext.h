/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* promtext.h: samples read out of the Prometheus text exposition format (GET /metrics, docs/architecture.md,
 * "The server contract") for the post-upgrade watch. Pure; reads the NUL-terminated text in place, allocates
 * nothing.
 *
 * The format (version 0.0.4), one sample a line:  name[{label="value",...}] value [timestamp]
 * - lines end in \n or \r\n; blank lines and lines whose first non-blank character is '#' (# HELP,
 *   # TYPE, # EOF) are skipped;
 * - blanks (spaces, tabs) may surround the tokens and the braces, '=' and ','; a ',' may end the set;
 * - a label value is quoted, with \" \\ and \n as its only escapes; labels come in any order;
 * - the value is a float as strtod() reads it in the C locale: 1, -0.5, 1.5e3, NaN, +Inf, -Inf;
 * - the optional timestamp is an integer (milliseconds); an OpenMetrics exemplar (" # {...} v") after
 *   the value or the timestamp is ignored.
 * A metric name matches only in full: "foo" never reads "foo_total".
 *
 * The selector `labels` is a set of pairs in the same syntax, with or without the braces:
 * `result="failed"`, `{result="failed", job="x"}`. A sample matches when its label set holds every pair
 * (in any order, among any others); as in PromQL, `key=""` also matches a sample without that label.
 * NULL or "" therefore matches every sample of the name: for a metric exported with several label
 * sets, name the one wanted (or add them up with promtext_sum()). */
#pragma once

/* The value of the first sample, in the order of the text, whose metric name is `name` and whose labels
 * match `labels`. 0 and *ret; -ENOENT when there is none; -EBADMSG when a line for `name` before it
 * does not parse (a line for another name is not looked at); -EINVAL for a malformed name or selector.
 * *ret is written only on success. */
int promtext_value(const char *text, const char *name, const char *labels, double *ret);

/* The sum of every sample of `name` that matches `labels` (a counter split by labels, as a total).
 * Returns how many were added up (>0) and *ret; -ENOENT when none matches; -EBADMSG when any line for
 * `name` does not parse; -EINVAL as promtext_value(). */
int promtext_sum(const char *text, const char *name, const char *labels, double *ret);
