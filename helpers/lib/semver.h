/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* semver.h: exact SemVer 2.0.0 versions, their precedence, and npm's range subset */
#pragma once

#include <stdint.h>

/* the longest version string accepted anywhere (unit instance, CLI, metadata) */
#define SEMVER_MAX_LEN 128

typedef struct SemVer {
        uint64_t major, minor, patch;
        char *prerelease; /* NULL when absent; never "" */
        char *build;      /* NULL when absent; never "" */
} SemVer;

/* Parse an exact SemVer 2.0.0 version: no leading 'v', no leading zeros in numeric identifiers, no empty
 * identifiers, only [0-9A-Za-z-] in identifiers, numbers that fit uint64_t. Returns -E2BIG when s is longer
 * than SEMVER_MAX_LEN, -EINVAL when it is not a version (semver_why_invalid() says why), -ENOMEM.
 * *ret must be released with semver_done(). */
int semver_parse(const char *s, SemVer *ret);

/* Release what semver_parse() allocated; leaves *v zeroed. NULL and a zeroed SemVer are fine. */
void semver_done(SemVer *v);

/* Precedence per SemVer 2.0.0 §11 (build metadata ignored): <0, 0 or >0. */
int semver_compare(const SemVer *a, const SemVer *b);

/* major.minor.patch[-prerelease][+build] */
int semver_to_string(const SemVer *v, char **ret);

/* NULL when s is an exact version; otherwise one short, static, operator-facing sentence saying why it is
 * not (a tag, a range, a leading 'v', two numbers, a bad character, too long, …). s may be NULL. */
const char *semver_why_invalid(const char *s);

/* npm's range syntax as used by engines and upgradeFrom: <, <=, >, >=, =, bare versions, ^, ~ (and ~>),
 * x-ranges (1.x, 1.5.x, *, partials like 1 or 1.5), hyphen ranges (1.2.3 - 2.3.4), space-separated AND
 * sets and ||. A prerelease version only satisfies a comparator set in which some comparator carries a
 * prerelease on the same major.minor.patch (npm's rule, includePrerelease off). An empty range (or an empty
 * || alternative) means *, as in npm. Returns 1 when v satisfies range, 0 when not, -EINVAL when range is
 * malformed (anywhere, even after an alternative that matched) or a bound it implies overflows uint64_t. */
int semver_range_satisfies(const char *range, const SemVer *v);
