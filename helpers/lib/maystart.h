/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maystart.h: whether the server unit may start now (`codebolt-upgrade server-may-start`,
 * docs/architecture.md, "Phases") */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "current.h"

#include "config.h"

/* the process names (comm) of the helpers whose start of the server goes through */
#define MAYSTART_STARTER_MIGRATE_WATCH "migrate-watch"
#define MAYSTART_STARTER_ROLLBACK "rollback"

#define MAYSTART_NOTES_MAX 4

typedef struct MayStartInput {
        const Current *current; /* current.json, NULL when no upgrade is in flight */
        const char *starter;    /* comm of the live process the .starting file names, NULL when none */
        const char *pin;        /* the pin file's version, NULL when there is none */
        const char *installed;  /* "version" of Package='s package.json in <install root>/current, or NULL */
        const char *linked;     /* the release <install root>/current points at, or NULL */
        const char *install_root; /* [Server] InstallRoot= for the messages; NULL: /opt/codebolt */
        EnforcePin enforce_pin;
        const char *package;     /* [Server] Package=, for the messages */
        const char *deployment;  /* for the messages */
        const char *server_unit; /* for the messages */
} MayStartInput;

/* what to say, in order: a syslog priority and the text */
typedef struct MayStartNote {
        int priority;
        char *text;
} MayStartNote;

typedef struct MayStart {
        bool start; /* false: skip this start (exit 1 as ExecCondition=) */
        MayStartNote notes[MAYSTART_NOTES_MAX];
        size_t n_notes;
} MayStart;

/* Decide, from the inputs alone (no I/O). While an upgrade or rollback is in flight (current.json, not
 * "held", not "recovered") only the start its own helper makes goes through; that start skips the pin
 * check. A held upgrade starts with a warning. Then the pin check per EnforcePin=. -ENOMEM only. */
int maystart_decide(const MayStartInput *in, MayStart *ret);
void maystart_done(MayStart *m);

/* whether comm is one of the helpers that start the server for an upgrade or rollback */
bool maystart_starter_is_helper(const char *comm);

/* The comm of the live process that the deployment's .starting file names: *ret NULL when there is no
 * such file, it names no live process, or it is malformed. <0 only for an unexpected error. */
int maystart_read_starter(const char *deployment, char **ret);
