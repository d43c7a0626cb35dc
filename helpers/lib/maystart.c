/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maystart.c: whether the server unit may start now (`codebolt-upgrade server-may-start`,
 * docs/architecture.md, "Phases") */
#define _GNU_SOURCE
#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <syslog.h>

#include "json-util.h"
#include "macro.h"
#include "maystart.h"
#include "unitname.h"
#include "paths.h"
#include "state.h"
#include "string-util.h"

static int note(MayStart *m, int priority, const char *fmt, ...) _printf_(3, 4);
static int note(MayStart *m, int priority, const char *fmt, ...) {
        char *s;

        assert(m->n_notes < MAYSTART_NOTES_MAX);
        s = STRPRINTF_ARGS(fmt);
        if (!s)
                return -ENOMEM;
        m->notes[m->n_notes++] = (MayStartNote){ .priority = priority, .text = s };
        return 0;
}

static const char *or_unknown(const char *s) {
        return s ?: "unknown";
}

bool maystart_starter_is_helper(const char *comm) {
        return streq_ptr(comm, MAYSTART_STARTER_MIGRATE_WATCH) || streq_ptr(comm, MAYSTART_STARTER_ROLLBACK);
}

/* "the upgrade 1.4.0 → 1.5.0" or "the late rollback of the upgrade 1.4.0 → 1.5.0" (after it succeeded) */
static char *upgrade_label(const Current *current) {
        char *s;

        if (asprintf(
                    &s,
                    "%s %s → %s",
                    current->late ? "the late rollback of the upgrade" : "the upgrade",
                    or_unknown(current->from),
                    or_unknown(current->to)) < 0)
                return NULL;
        return s;
}

static int pin_check(const MayStartInput *in, MayStart *m) {
        const char *installed = in->installed ?: in->linked;
        const char *level = in->enforce_pin == ENFORCE_PIN_YES ? "yes" : "warn";
        const char *root = in->install_root ?: "/opt/codebolt";

        if (in->enforce_pin == ENFORCE_PIN_NO)
                return note(m, LOG_DEBUG, "[Policy] EnforcePin=no: the installed version is not checked.");
        if (!in->pin)
                return note(
                        m,
                        LOG_DEBUG,
                        "Deployment %s has no pin: nothing to enforce.",
                        or_unknown(in->deployment));

        /* a package.json that says another version than its release directory: someone ran npm into it */
        if (in->installed && in->linked && !streq(in->installed, in->linked) &&
            note(m,
                 LOG_WARNING,
                 "%s/current points at releases/%s, but %s installed there is %s: an upgrade "
                 "will take it for %s. Reinstall %s there, or install %s as releases/%s.",
                 root,
                 in->linked,
                 or_unknown(in->package),
                 in->installed,
                 in->linked,
                 in->linked,
                 in->installed,
                 in->installed) < 0)
                return -ENOMEM;

        if (installed && streq(installed, in->pin))
                return note(m, LOG_DEBUG, "The installed version %s is the pinned one.", installed);

        if (in->enforce_pin == ENFORCE_PIN_YES)
                m->start = false;
        return note(
                m,
                in->enforce_pin == ENFORCE_PIN_YES ? LOG_ERR : LOG_WARNING,
                "%s %s: deployment %s is pinned to %s, but the installed version is %s (%s in "
                "%s/current → releases/%s). If the change was meant: codebolt-upgrade%s%s pin "
                "%s; otherwise reinstall %s: npm install -g --prefix %s/releases/%s %s@%s "
                "as the server's user, with %s/current pointing at releases/%s "
                "([Policy] EnforcePin=%s).",
                in->enforce_pin == ENFORCE_PIN_YES ? "Refusing to start" : "Starting",
                or_unknown(in->server_unit),
                or_unknown(in->deployment),
                in->pin,
                or_unknown(installed),
                or_unknown(in->package),
                root,
                or_unknown(in->linked),
                UNITNAME_DEPLOYMENT_OPTION(in->deployment),
                or_unknown(installed),
                in->pin,
                root,
                in->pin,
                or_unknown(in->package),
                in->pin,
                root,
                in->pin,
                level);
}

int maystart_decide(const MayStartInput *in, MayStart *ret) {
        _cleanup_(maystart_done) MayStart m = { .start = true };
        _cleanup_free_ char *label = NULL;
        const char *phase;
        bool held, recovered;

        assert(in);
        assert(ret);

        if (in->current) {
                label = upgrade_label(in->current);
                if (!label)
                        return -ENOMEM;
        }
        phase = or_unknown(in->current ? in->current->phase : NULL);
        held = in->current && in->current->held;
        recovered = in->current && in->current->recovered;

        /* the start an upgrade or a rollback makes itself: it checked what it starts */
        if (maystart_starter_is_helper(in->starter)) {
                if (note(&m,
                         LOG_INFO,
                         "Starting %s for %s (phase %s), as its %s asks.",
                         or_unknown(in->server_unit),
                         label ?: "an upgrade or rollback",
                         phase,
                         in->starter) < 0)
                        return -ENOMEM;
                *ret = m;
                m = (MayStart){};
                return 0;
        }

        if (in->current && !held && !recovered) {
                m.start = false;
                if (note(&m,
                         LOG_ERR,
                         "Refusing to start %s: %s is in flight on deployment %s (phase %s), and only the "
                         "upgrade or its rollback starts the server until it ends. See: "
                         "codebolt-upgrade%s%s "
                         "status",
                         or_unknown(in->server_unit),
                         label,
                         or_unknown(in->deployment),
                         phase,
                         UNITNAME_DEPLOYMENT_OPTION(in->deployment)) < 0)
                        return -ENOMEM;
                *ret = m;
                m = (MayStart){};
                return 0;
        }

        if (held &&
            note(&m,
                 LOG_WARNING,
                 "Starting %s while %s is held (its rollback stopped short in phase %s): as its "
                 "instructions say, the server is started by hand; codebolt-upgrade clear %s closes it "
                 "(codebolt-upgrade status says what is left).",
                 or_unknown(in->server_unit),
                 label,
                 phase,
                 or_unknown(in->current->to)) < 0)
                return -ENOMEM;
        if (recovered && !held &&
            note(&m,
                 LOG_INFO,
                 "%s was put back at boot (%s): the server starts, then "
                 "codebolt-upgrade-recover-check.service tests it.",
                 label,
                 in->current->recovered) < 0)
                return -ENOMEM;

        if (pin_check(in, &m) < 0)
                return -ENOMEM;
        *ret = m;
        m = (MayStart){};
        return 0;
}

void maystart_done(MayStart *m) {
        for (size_t i = 0; i < m->n_notes; i++)
                free(m->notes[i].text);
        m->n_notes = 0;
}

int maystart_read_starter(const char *deployment, char **ret) {
        _cleanup_free_ char *path = paths_starting_file(deployment), *content = NULL, *comm_path = NULL,
                            *comm = NULL;
        unsigned long pid;
        char *end;
        int r;

        if (!path)
                return -ENOMEM;
        r = state_read_string(path, &content);
        if (r == -ENOENT || r == -EBADMSG) {
                *ret = NULL;
                return 0;
        }
        if (r < 0)
                return r;
        errno = 0;
        pid = strtoul(content, &end, 10);
        if (errno != 0 || end == content || *end || pid == 0 || pid > INT32_MAX) {
                *ret = NULL;
                return 0;
        }
        /* /proc is the host's, never under CODEBOLT_UPGRADE_ROOT */
        if (asprintf(&comm_path, "/proc/%lu/comm", pid) < 0)
                return -ENOMEM;
        r = state_read_string(comm_path, &comm);
        if (r < 0) {
                /* gone (or never was): a starter that died left its file behind */
                *ret = NULL;
                return 0;
        }
        *ret = TAKE_PTR(comm);
        return 0;
}
