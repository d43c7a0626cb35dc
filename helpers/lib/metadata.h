/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* metadata.h: release metadata (docs/architecture.md, "The server contract"): the registry's document for
 * the package, or ReleaseMetadata= (a file or URL of the same shape), what each published version declares,
 * how an upgrade between two versions is classified, and the chain of versions it must go through */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "config.h"
#include "semver.h"

/* a number declared as something other than a whole number from 0 to INT64_MAX (a string, 1.5, -1,
 * 1e300): never taken for "not declared" */
#define METADATA_MALFORMED INT64_C(-2)

/* what one published version declares; the strings and migrations point into Metadata.doc */
typedef struct Release {
        const char *version;
        SemVer v;
        const char *node;                /* engines.node; NULL: any */
        const char *postgres;            /* codebolt.postgres; NULL: any */
        const char *upgrade_from;        /* codebolt.upgradeFrom; NULL: directly from any older version */
        SemVerRange *upgrade_from_range; /* upgrade_from parsed; NULL when absent or malformed */
        int64_t protocol;                /* codebolt.protocol; -1 when not declared, METADATA_MALFORMED */
        int64_t min_client_protocol; /* codebolt.minClientProtocol; -1 when not declared, METADATA_MALFORMED
                                      */
        bool rolling;                /* codebolt.rolling */
        bool deprecated;             /* npm's "deprecated": never chosen as a step of a path */
        const cJSON *migrations;     /* codebolt.migrations: [{"id","breaking","drops"}], or NULL */
        const char *notes;           /* codebolt.notes */
} Release;

typedef struct Metadata {
        cJSON *doc;
        Release *releases; /* every version with an exact SemVer key, ascending precedence */
        size_t n;
        char *source; /* where it came from: a URL, a path, or "<path> (cached …)" */
} Metadata;

/* frees the releases and source of a Metadata (for _cleanup_) */
void metadata_done(Metadata *m);

/* the most versions a document may list: the path search and every gate stay well under a second */
#define METADATA_MAX_VERSIONS 20000

/* Read a registry document: {"versions": {"<version>": <package.json>, …}}. Takes ownership of doc. A
 * version key that is not an exact version, or whose entry is not an object, is left out. -EBADMSG
 * (with *ret_error) when there is no "versions" object; -E2BIG (with *ret_error) when it lists more than
 * METADATA_MAX_VERSIONS versions. */
int metadata_parse(cJSON *doc, Metadata *ret, char **ret_error);
/* the release with exactly that version string, or NULL */
const Release *metadata_find(const Metadata *m, const char *version);

/* The document's address: ReleaseMetadata= when set (a local path taken under $CODEBOLT_UPGRADE_ROOT), else
 * <Registry>/<package> with the scope's '/' escaped as npm does ("@codebolt%2fserver"), on
 * https://registry.npmjs.org/ when Registry= is unset. */
int metadata_url(const Config *c, char **ret);
/* Fetch and parse the document, and keep it as release-metadata.json in the deployment's state
 * directory, so that a rollback or a later plan never needs the network. When the fetch fails and a
 * cached copy exists, that copy is used and ret->source says so; without one the fetch's error is
 * returned with *ret_error. */
int metadata_load(const Config *c, Metadata *ret, char **ret_error);
/* only the cached copy; -ENOENT when there is none */
int metadata_load_cached(const Config *c, Metadata *ret, char **ret_error);

typedef enum UpgradeKind {
        UPGRADE_SAME,
        UPGRADE_PATCH, /* the same major.minor; also a prerelease to its release */
        UPGRADE_MINOR,
        UPGRADE_MAJOR,
        UPGRADE_DOWNGRADE,
        _UPGRADE_KIND_MAX,
} UpgradeKind;

/* what kind of step from → to is (same, patch, minor, major, downgrade), and that kind's name (NULL when out
 * of range) */
UpgradeKind metadata_classify(const SemVer *from, const SemVer *to);
const char *upgrade_kind_to_string(UpgradeKind k);

/* 1 when `to` can be upgraded to directly from `from`: from < to, and from satisfies to's upgradeFrom
 * (any older version when none is declared); 0 when not; -EINVAL when the upgradeFrom is malformed */
int metadata_step_allowed(const Release *to, const SemVer *from);

/* The shortest chain of published versions from → … → to in which every step is allowed
 * (metadata_step_allowed()). Intermediate versions are never prereleases or deprecated, and of equally
 * short chains the one with the highest versions at each step is chosen (the newest patch of a line is
 * the one to stop at). *ret: the versions after `from`, ending with `to`, NULL-terminated. -ENOENT when
 * `to` is not published, -ENOLINK when no chain exists, -EINVAL for a malformed upgradeFrom on the way. */
int metadata_plan_path(const Metadata *m, const SemVer *from, const char *to, char ***ret);
/* the same, giving up with -ETIME once CLOCK_MONOTONIC passes deadline (usec; USEC_INFINITY: never) */
int metadata_plan_path_until(
        const Metadata *m, const SemVer *from, const char *to, usec_t deadline, char ***ret);

/* the version the registry document's "dist-tags" names for tag, or NULL */
const char *metadata_dist_tag(const Metadata *m, const char *tag);

/* The target of an unattended upgrade ([Auto], docs/architecture.md, "Commands"): a version above `running`
 * with the same major (never a major unattended), and with TRACK_PATCH the same minor too. Without channel:
 * the newest such release that is neither a prerelease nor deprecated and for which failed() (optional)
 * returns false; failed() is asked newest first, so it may log each version it rejects. With channel (a
 * dist-tag): exactly the version the tag names, when it is allowed and not failed(). Returns 1 and
 * *ret, or 0 (*ret = NULL) when nothing newer is allowed: the tag names the running version or one
 * below it, or every candidate failed. With a channel: -ENOENT when the document has no such tag,
 * -ENXIO when the version it names is not published, -EPERM when it is above what Track= allows. */
int metadata_pick_auto(
        const Metadata *m,
        const SemVer *running,
        AutoTrack track,
        const char *channel,
        bool (*failed)(const char *version, void *userdata),
        void *userdata,
        const Release **ret);
