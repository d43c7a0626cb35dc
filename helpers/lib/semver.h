/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* semver.h: exact SemVer 2.0.0 versions, their precedence, and npm's range subset */
#pragma once

#include <stdbool.h>
#include <stddef.h>
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
 * malformed (anywhere, even after an alternative that matched) or a bound it implies overflows uint64_t,
 * -ENOMEM. */
int semver_range_satisfies(const char *range, const SemVer *v);

/* A range parsed once, for testing many versions against it (semver_range_satisfies() parses it each
 * time). It keeps its own copy of the text. */
typedef struct SemVerRange SemVerRange;

/* -EINVAL when range is malformed (as semver_range_satisfies() says), -ENOMEM */
int semver_range_parse(const char *range, SemVerRange **ret);
SemVerRange *semver_range_free(SemVerRange *r);
/* 1 when v satisfies r, 0 when not: what semver_range_satisfies() answers */
int semver_range_match(const SemVerRange *r, const SemVer *v);

/* The comparator sets of r (its || alternatives) one by one, for searching a sorted list of versions
 * without a prerelease: such a version satisfies r when, for some set, it is both above the set's lower
 * bounds (>, >=, =) and below its upper bounds (<, <=, =). Along ascending versions, "above" goes from
 * false to true once and "below" from true to false once, so each set admits one run of the list. */
size_t semver_range_n_sets(const SemVerRange *r);
bool semver_range_set_above_lower(const SemVerRange *r, size_t set, const SemVer *v);
bool semver_range_set_below_upper(const SemVerRange *r, size_t set, const SemVer *v);
