/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* genunits.c: what codebolt-upgrade-generator writes, computed from the configuration */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "calendar.h"
#include "cescape.h"
#include "genunits.h"
#include "macro.h"
#include "paths.h"
#include "state.h"
#include "string-util.h"
#include "strv.h"
#include "unit-sandbox.h"
#include "unitname.h"

#define ETC_CONF "/etc/codebolt-upgrade/upgrade.conf"
#define DEPLOYMENTS_DIR "/etc/codebolt-upgrade/deployments"
#define DROPIN_NAME "50-codebolt-upgrade.conf"
/* the server's stop waits for the drain, plus this for the exit after it */
#define STOP_MARGIN_USEC (30 * USEC_PER_SEC)
/* the watch timer's setting that is [Watch] Interval=: the time from one sample to the next */
#define INTERVAL_KEY "OnUnitActiveSec="

/* an open_memstream() whose buffer is handed out by memstream_finish() */
typedef struct MemStream {
        FILE *f;
        char *buf;
        size_t size;
} MemStream;

static int memstream_open(MemStream *m) {
        *m = (MemStream){};
        m->f = open_memstream(&m->buf, &m->size);
        return m->f ? 0 : -ENOMEM;
}

static int memstream_finish(MemStream *m, char **ret) {
        bool failed = ferror(m->f);

        if (fclose(m->f) != 0)
                failed = true;
        m->f = NULL;
        if (failed) {
                free(m->buf);
                m->buf = NULL;
                return -ENOMEM;
        }
        *ret = TAKE_PTR(m->buf);
        return 0;
}

static void memstream_done(MemStream *m) {
        if (m->f)
                fclose(m->f);
        m->f = NULL;
        free(m->buf);
        m->buf = NULL;
}
#define _cleanup_memstream_ _cleanup_(memstream_done)

int genunits_format_timespan(usec_t t, char **ret) {
        static const struct {
                const char *suffix;
                usec_t usec;
        } units[] = {
                { "d", 24ULL * 3600 * USEC_PER_SEC },
                { "h", 3600 * USEC_PER_SEC },
                { "min", 60 * USEC_PER_SEC },
                { "s", USEC_PER_SEC },
                { "ms", 1000 },
                { "us", 1 },
        };
        _cleanup_memstream_ MemStream m = {};
        bool first = true;

        if (memstream_open(&m) < 0)
                return -ENOMEM;
        if (t == USEC_INFINITY)
                fputs("infinity", m.f);
        else if (t == 0)
                fputs("0", m.f);
        for (size_t i = 0; t != USEC_INFINITY && i < ELEMENTSOF(units); i++) {
                usec_t n = t / units[i].usec;

                if (n == 0)
                        continue;
                fprintf(m.f, "%s%llu%s", first ? "" : " ", (unsigned long long)n, units[i].suffix);
                t -= n * units[i].usec;
                first = false;
        }
        return memstream_finish(&m, ret);
}

/* a generated unit's head: the generator's line, what the unit is, and its [Unit] SourcePath= */
static void put_unit_head(FILE *f, const char *what, const char *deployment, const char *source) {
        fputs(GENUNITS_HEADER, f);
        fprintf(f, "# %s of Codebolt deployment %s (codebolt-upgrade-generator(8)).\n\n", what, deployment);
        fputs("[Unit]\n", f);
        fprintf(f, "SourcePath=%s\n", source);
}

/* a drop-in's head: the same lines, the source in a comment. A SourcePath= in a drop-in would stand for
 * the whole unit: `systemctl status` would show the unit as loaded from our configuration. */
static void put_dropin_head(FILE *f, const char *what, const char *deployment, const char *source) {
        fputs(GENUNITS_HEADER, f);
        fprintf(f,
                "# %s of Codebolt deployment %s (codebolt-upgrade-generator(8)), from %s.\n",
                what,
                deployment,
                source);
}

int genunits_server_dropin(const Config *c, const char *source, char **ret) {
        _cleanup_free_ char *stop = NULL, *start = NULL;
        _cleanup_memstream_ MemStream m = {};

        if (genunits_format_timespan(usec_add(c->timeout_drain, STOP_MARGIN_USEC), &stop) < 0 ||
            genunits_format_timespan(usec_add(c->timeout_migrations, c->timeout_ready), &start) < 0 ||
            memstream_open(&m) < 0)
                return -ENOMEM;

        put_dropin_head(m.f, "The server", c->deployment, source);
        fputs("\n[Unit]\n", m.f);
        /* the recovery puts back an interrupted upgrade before the server runs on its data; the check
         * smoke-tests the server once it is up */
        fputs("Wants=codebolt-upgrade-recover.service codebolt-upgrade-recover-check.service\n", m.f);
        fputs("After=codebolt-upgrade-recover.service\n", m.f);
        fputs("Before=codebolt-upgrade-recover-check.service\n", m.f);
        fputs("\n[Service]\n", m.f);
        /* only the starts the upgrade or the rollback makes while one is in flight, and the pin check;
         * "+": the server's User= cannot read the state directory (mode 0700) */
        fprintf(m.f,
                "ExecCondition=+" BINDIR "/codebolt-upgrade --deployment %s server-may-start\n",
                c->deployment);
        /* SIGTERM to the server alone: it drains its runs, which the default cgroup kill cuts short */
        fputs("KillMode=mixed\n", m.f);
        fprintf(m.f, "TimeoutStopSec=%s\n", stop);
        /* the migrations run inside the server's start */
        fprintf(m.f, "TimeoutStartSec=%s\n", start);
        return memstream_finish(&m, ret);
}

static bool name_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
               c == '-' || c == '.';
}

/* the shipped unit names a template mentions, with the deployment's names in their place; the text
 * between them is written as it is, in one piece (the generator writes some 400 files at boot) */
static void put_renamed(FILE *f, const char *line, size_t len, const char *deployment) {
        /* each starts at a name's start (the boundary below) and ends in "@": codebolt-upgrade@ is not
         * a part of codebolt-upgrade-watch@, which keeps its whole name */
        static const char *const bases[] = { "codebolt-upgrade@",
                                             "codebolt-rollback@",
                                             "codebolt-upgrade-watch@" };
        size_t i = 0, written = 0;

        while (i < len) {
                const char *c = memchr(line + i, 'c', len - i);
                const char *base = NULL;
                size_t l = 0;

                if (!c)
                        break;
                i = (size_t)(c - line);
                for (size_t b = 0; (i == 0 || !name_char(line[i - 1])) && b < ELEMENTSOF(bases); b++) {
                        l = strlen(bases[b]);
                        if (len - i >= l && memcmp(line + i, bases[b], l) == 0) {
                                base = bases[b];
                                break;
                        }
                }
                if (!base) {
                        i++;
                        continue;
                }
                fwrite(line + written, 1, i - written, f);
                fprintf(f, "%.*s-%s@", (int)(l - 1), base, deployment);
                i += l;
                written = i;
        }
        fwrite(line + written, 1, len - written, f);
}

static bool line_is(const char *p, size_t len, const char *s) {
        return len == strlen(s) && strncmp(p, s, len) == 0;
}

static bool line_has_key(const char *p, size_t len, const char *key) {
        size_t l = strlen(key);

        return len >= l && strncmp(p, key, l) == 0;
}

/* A template turned into deployment's unit: a service (interval NULL) gets Environment= in [Service],
 * a timer its interval as OnUnitActiveSec= in [Timer]. -EINVAL without [Unit] or without that section
 * (and for a timer, without OnUnitActiveSec= in it). */
static int derive(
        const char *template_text,
        const char *template_path,
        const char *deployment,
        const char *source,
        const char *interval,
        char **ret) {
        _cleanup_memstream_ MemStream m = {};
        const char *own = interval ? "[Timer]" : "[Service]";
        enum { SECTION_NONE, SECTION_UNIT, SECTION_OWN, SECTION_OTHER } section = SECTION_NONE;
        bool leading = true, seen_unit = false, seen_own = false, seen_interval = false;

        if (memstream_open(&m) < 0)
                return -ENOMEM;
        fputs(GENUNITS_HEADER, m.f);
        fprintf(m.f,
                "# %s for Codebolt deployment %s (codebolt-upgrade-generator(8)).\n",
                template_path,
                deployment);

        for (const char *p = template_text; *p;) {
                const char *eol = strchrnul(p, '\n');
                size_t len = eol - p;
                bool comment = len > 0 && (*p == '#' || *p == ';');

                /* the template's own topic comment speaks of the default deployment */
                if (leading && (len == 0 || comment)) {
                        p = *eol ? eol + 1 : eol;
                        continue;
                }
                if (leading)
                        fputc('\n', m.f);
                leading = false;

                if (len > 0 && *p == '[')
                        section = line_is(p, len, "[Unit]") ? SECTION_UNIT
                                  : line_is(p, len, own)    ? SECTION_OWN
                                                            : SECTION_OTHER;

                if (section == SECTION_UNIT && line_is(p, len, "[Unit]")) {
                        fprintf(m.f, "[Unit]\nSourcePath=%s\n", source);
                        seen_unit = true;
                } else if (section == SECTION_OWN && line_is(p, len, own)) {
                        /* a timer has no Environment=: the service it starts, found by name, has */
                        if (interval)
                                fputs("[Timer]\n", m.f);
                        else
                                fprintf(m.f, "[Service]\nEnvironment=CODEBOLT_DEPLOYMENT=%s\n", deployment);
                        seen_own = true;
                } else if (section == SECTION_OWN && interval && line_has_key(p, len, INTERVAL_KEY)) {
                        fprintf(m.f, INTERVAL_KEY "%s\n", interval);
                        seen_interval = true;
                } else if (
                        section == SECTION_UNIT && strncmp(p, "Description=", 12) == 0 && len > 12 &&
                        p[len - 1] != '\\') {
                        put_renamed(m.f, p, len, deployment);
                        fprintf(m.f, " (deployment %s)\n", deployment);
                } else if (strncmp(p, "Documentation=", 14) == 0)
                        /* the template's page (man:codebolt-upgrade@.service(8)) is this unit's too */
                        fprintf(m.f, "%.*s\n", (int)len, p);
                else {
                        put_renamed(m.f, p, len, deployment);
                        fputc('\n', m.f);
                }
                p = *eol ? eol + 1 : eol;
        }
        if (!seen_unit || !seen_own || (interval && !seen_interval))
                return -EINVAL;
        return memstream_finish(&m, ret);
}

int genunits_derive_unit(
        const char *template_text,
        const char *template_path,
        const char *deployment,
        const char *source,
        char **ret) {
        return derive(template_text, template_path, deployment, source, NULL, ret);
}

int genunits_derive_timer(
        const char *template_text,
        const char *template_path,
        const char *deployment,
        const char *source,
        usec_t interval,
        char **ret) {
        _cleanup_free_ char *s = NULL;

        if (genunits_format_timespan(interval, &s) < 0)
                return -ENOMEM;
        return derive(template_text, template_path, deployment, source, s, ret);
}

/* a [Timer] setting that adds to the list of triggers, which an empty assignment to any of them empties */
static bool is_trigger(const char *p, size_t len) {
        static const char *const keys[] = { "OnActiveSec=",     "OnBootSec=",         "OnStartupSec=",
                                            "OnUnitActiveSec=", "OnUnitInactiveSec=", "OnCalendar=" };

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (line_has_key(p, len, keys[i]))
                        return true;
        return false;
}

int genunits_watch_dropin(const char *template_text, const Config *c, const char *source, char **ret) {
        _cleanup_free_ char *interval = NULL, *others = NULL, *template_interval = NULL;
        _cleanup_memstream_ MemStream m = {}, o = {};
        bool in_timer = false;
        usec_t t;
        int r;

        /* the template's other triggers, which the reset below empties too, and its interval */
        if (memstream_open(&o) < 0)
                return -ENOMEM;
        for (const char *p = template_text, *eol; *p; p = *eol ? eol + 1 : eol) {
                size_t len;

                eol = strchrnul(p, '\n');
                len = eol - p;
                if (len > 0 && *p == '[')
                        in_timer = line_is(p, len, "[Timer]");
                else if (in_timer && line_has_key(p, len, INTERVAL_KEY)) {
                        free(template_interval);
                        template_interval = strndup(p + strlen(INTERVAL_KEY), len - strlen(INTERVAL_KEY));
                        if (!template_interval)
                                return -ENOMEM;
                } else if (in_timer && is_trigger(p, len))
                        fprintf(o.f, "%.*s\n", (int)len, p);
        }
        if (memstream_finish(&o, &others) < 0)
                return -ENOMEM;
        if (!template_interval || config_parse_timespan(template_interval, &t) < 0)
                return -EINVAL;
        if (t == c->watch_interval)
                return 0;

        if (genunits_format_timespan(c->watch_interval, &interval) < 0 || memstream_open(&m) < 0)
                return -ENOMEM;
        put_dropin_head(m.f, "[Watch] Interval=", c->deployment, source);
        fputs("\n[Timer]\n", m.f);
        /* an empty OnActiveSec= empties the whole list of triggers (an empty OnUnitActiveSec= too): one
         * reset, then the template's other triggers and the interval */
        fputs("OnActiveSec=\n", m.f);
        fputs(others, m.f);
        fprintf(m.f, INTERVAL_KEY "%s\n", interval);
        r = memstream_finish(&m, ret);
        return r < 0 ? r : 1;
}

static int auto_unit_names(const Config *c, char **ret_timer, char **ret_service) {
        _cleanup_free_ char *timer = NULL, *service = NULL;

        if (unitname_deployment_name("codebolt-upgrade-auto", c->deployment, NULL, ".timer", &timer) < 0 ||
            unitname_deployment_name("codebolt-upgrade-auto", c->deployment, NULL, ".service", &service) < 0)
                return -ENOMEM;
        if (ret_timer)
                *ret_timer = TAKE_PTR(timer);
        if (ret_service)
                *ret_service = TAKE_PTR(service);
        return 0;
}

int genunits_auto_timer(const Config *c, const char *source, char **ret) {
        _cleanup_free_ char *service = NULL, *delay = NULL;
        _cleanup_memstream_ MemStream m = {};

        int r;

        /* written raw, a trailing backslash would swallow the next line of the unit */
        r = calendar_spec_check(strempty(c->auto_schedule), NULL);
        if (r < 0)
                return r;
        if (auto_unit_names(c, NULL, &service) < 0 ||
            genunits_format_timespan(c->auto_randomized_delay, &delay) < 0 || memstream_open(&m) < 0)
                return -ENOMEM;
        put_unit_head(m.f, "[Auto] Schedule=", c->deployment, source);
        fprintf(m.f, "Description=Unattended upgrades of Codebolt deployment %s\n", c->deployment);
        fputs("\n[Timer]\n", m.f);
        fprintf(m.f, "OnCalendar=%s\n", strempty(c->auto_schedule));
        fprintf(m.f, "RandomizedDelaySec=%s\n", delay);
        fputs("Persistent=yes\n", m.f);
        fprintf(m.f, "Unit=%s\n", service);
        return memstream_finish(&m, ret);
}

int genunits_auto_service(const Config *c, const char *source, char **ret) {
        _cleanup_memstream_ MemStream m = {};

        if (memstream_open(&m) < 0)
                return -ENOMEM;
        put_unit_head(m.f, "The unattended upgrade", c->deployment, source);
        fprintf(m.f, "Description=Unattended upgrade of Codebolt deployment %s\n", c->deployment);
        fputs("After=network-online.target postgresql.service\n", m.f);
        fputs("Wants=network-online.target\n", m.f);
        fputs("\n[Service]\n", m.f);
        if (!config_deployment_is_default(c->deployment))
                fprintf(m.f, "Environment=CODEBOLT_DEPLOYMENT=%s\n", c->deployment);
        fputs("Type=oneshot\n", m.f);
        fputs("TimeoutStartSec=infinity\n", m.f);
        fputs("SyslogIdentifier=codebolt-upgrade-auto\n", m.f);
        fputs("ExecStart=" LIBEXECDIR "/auto\n", m.f);
        /* the shipped watch's sandbox (units/sandbox/), narrower still: the picker writes only the
         * release metadata it caches in the state directory, and writes nothing under /home */
        fputs(UNIT_SANDBOX_BASE UNIT_SANDBOX_OBSERVER UNIT_SANDBOX_ALONE, m.f);
        fputs("# the picker writes only the release metadata it caches in the state directory\n", m.f);
        fputs("StateDirectory=codebolt-upgrade\n", m.f);
        fputs("StateDirectoryMode=0755\n", m.f);
        fputs("ProtectSystem=strict\n", m.f);
        fputs("ProtectHome=read-only\n", m.f);
        return memstream_finish(&m, ret);
}

/* ---- the whole output ---- */

void genunits_done(GenUnits *u) {
        for (size_t i = 0; i < u->n_files; i++) {
                free(u->files[i].path);
                free(u->files[i].content);
                free(u->files[i].symlink);
        }
        free(u->files);
        strv_free(u->warnings);
        *u = (GenUnits){};
}

/* takes path and content (or symlink) */
static int add_file(GenUnits *u, char *path, char *content, char *symlink) {
        GenFile *files = realloc(u->files, (u->n_files + 1) * sizeof(GenFile));

        if (!files) {
                free(path);
                free(content);
                free(symlink);
                return -ENOMEM;
        }
        u->files = files;
        u->files[u->n_files++] = (GenFile){ .path = path, .content = content, .symlink = symlink };
        return 0;
}

/* s (formatted, NULL on OOM) onto the warnings */
static int push_warning(GenUnits *u, char *s) {
        _cleanup_free_ char *p = s;

        if (!p)
                return -ENOMEM;
        return strv_push(&u->warnings, p);
}

static int add_warning(GenUnits *u, const char *fmt, ...) _printf_(2, 3);
static int add_warning(GenUnits *u, const char *fmt, ...) {
        return push_warning(u, STRPRINTF_ARGS(fmt));
}

/* a deployment left out: its warning, and 1 for the caller */
static int add_skip(GenUnits *u, const char *fmt, ...) _printf_(2, 3);
static int add_skip(GenUnits *u, const char *fmt, ...) {
        int r = push_warning(u, STRPRINTF_ARGS(fmt));

        return r < 0 ? r : 1;
}

static int add_config_warning(GenUnits *u, const char *deployment, const ConfigError *e, int error) {
        /* a drop-in's name comes from a directory listing, a key from the file: neither may break the
         * kernel log's lines */
        _cleanup_free_ char *file = e->file ? cescape(e->file) : NULL,
                            *key = e->key ? cescape(e->key) : NULL;

        if ((e->file && !file) || (e->key && !key))
                return -ENOMEM;
        if (file && e->line > 0 && key)
                return add_skip(
                        u,
                        "%s:%u: %s: %s; deployment %s skipped",
                        file,
                        e->line,
                        key,
                        strempty(e->message),
                        deployment);
        if (file && e->line > 0)
                return add_skip(
                        u,
                        "%s:%u: %s; deployment %s skipped",
                        file,
                        e->line,
                        strempty(e->message),
                        deployment);
        if (file)
                return add_skip(
                        u,
                        "%s: %s%s%s; deployment %s skipped",
                        file,
                        key ? key : "",
                        key ? ": " : "",
                        e->message ?: strerror(-error),
                        deployment);
        return add_skip(u, "deployment %s: %s; skipped", deployment, e->message ?: strerror(-error));
}

/* the installed templates an extra deployment's units are derived from */
typedef enum Template {
        TEMPLATE_UPGRADE,
        TEMPLATE_ROLLBACK,
        TEMPLATE_WATCH_SERVICE,
        TEMPLATE_WATCH_TIMER,
        _TEMPLATE_MAX,
} Template;

static const struct {
        const char *name;   /* in UNITDIR */
        const char *base;   /* of the deployment's unit name (unitname_deployment_name()) */
        const char *suffix; /* likewise */
} templates[_TEMPLATE_MAX] = {
        [TEMPLATE_UPGRADE] = { "codebolt-upgrade@.service", "codebolt-upgrade", "@.service" },
        [TEMPLATE_ROLLBACK] = { "codebolt-rollback@.service", "codebolt-rollback", "@.service" },
        [TEMPLATE_WATCH_SERVICE] = { "codebolt-upgrade-watch@.service",
                                     "codebolt-upgrade-watch",
                                     "@.service" },
        [TEMPLATE_WATCH_TIMER] = { "codebolt-upgrade-watch@.timer", "codebolt-upgrade-watch", "@.timer" },
};

typedef struct Build {
        const char *root; /* "" or the root without a trailing slash */
        bool have_auto;   /* LIBEXECDIR/auto is installed */
        bool templates_read;
        char *templates[_TEMPLATE_MAX];
        int template_errors[_TEMPLATE_MAX];
        /* the server units taken so far, and by which deployment: two deployments naming the same
         * server would fight over it */
        char **claimed_units;
        char **claimed_by;
} Build;

static void build_done(Build *b) {
        for (size_t i = 0; i < _TEMPLATE_MAX; i++)
                free(b->templates[i]);
        strv_free(b->claimed_units);
        strv_free(b->claimed_by);
}

static int add_auto(GenUnits *u, const Config *c, const char *source) {
        _cleanup_free_ char *timer = NULL, *service = NULL, *timer_text = NULL, *service_text = NULL,
                            *timer_path = NULL, *link = NULL, *target = NULL;
        int r;

        r = auto_unit_names(c, &timer, &service);
        if (r < 0)
                return r;
        r = genunits_auto_service(c, source, &service_text);
        if (r < 0)
                return r;
        r = genunits_auto_timer(c, source, &timer_text);
        if (r < 0)
                return r;
        timer_path = strdup(timer);
        if (!timer_path || asprintf(&link, "timers.target.wants/%s", timer) < 0 ||
            asprintf(&target, "../%s", timer) < 0)
                return -ENOMEM;
        r = add_file(u, TAKE_PTR(service), TAKE_PTR(service_text), NULL);
        if (r < 0)
                return r;
        r = add_file(u, TAKE_PTR(timer_path), TAKE_PTR(timer_text), NULL);
        if (r < 0)
                return r;
        return add_file(u, TAKE_PTR(link), NULL, TAKE_PTR(target));
}

static int read_templates(Build *b) {
        if (b->templates_read)
                return 0;
        for (size_t i = 0; i < _TEMPLATE_MAX; i++) {
                _cleanup_free_ char *path = NULL;
                int r;

                if (asprintf(&path, "%s" UNITDIR "/%s", b->root, templates[i].name) < 0)
                        return -ENOMEM;
                r = state_read_file(path, &b->templates[i], NULL);
                if (r == -ENOMEM)
                        return r;
                b->template_errors[i] = r < 0 ? r : 0;
        }
        b->templates_read = true;
        return 0;
}

/* Deployment c's unit from template t, added to u: 0; or 1 and *ret_why, what is wrong with the
 * template (the caller's warning adds what that costs) */
static int add_derived_unit(
        GenUnits *u, Build *b, Template t, const Config *c, const char *source, char **ret_why) {
        _cleanup_free_ char *name = NULL, *text = NULL, *template_path = NULL;
        bool timer = t == TEMPLATE_WATCH_TIMER;
        int r;

        if (!b->templates[t])
                return asprintf(ret_why, "cannot be read (%s)", strerror(-b->template_errors[t])) < 0
                               ? -ENOMEM
                               : 1;
        if (asprintf(&template_path, UNITDIR "/%s", templates[t].name) < 0)
                return -ENOMEM;
        r = unitname_deployment_name(templates[t].base, c->deployment, NULL, templates[t].suffix, &name);
        if (r < 0)
                return r;
        if (timer)
                r = genunits_derive_timer(
                        b->templates[t], template_path, c->deployment, source, c->watch_interval, &text);
        else
                r = genunits_derive_unit(b->templates[t], template_path, c->deployment, source, &text);
        if (r == -EINVAL) {
                *ret_why =
                        strdup(timer ? "no [Unit] or no [Timer] section with " INTERVAL_KEY
                                     : "no [Unit] or no [Service] section");
                return *ret_why ? 1 : -ENOMEM;
        }
        if (r < 0)
                return r;
        return add_file(u, TAKE_PTR(name), TAKE_PTR(text), NULL);
}

/* moves every file of from to the end of to's */
static int move_files(GenUnits *to, GenUnits *from) {
        for (size_t i = 0; i < from->n_files; i++) {
                GenFile f = from->files[i];
                int r;

                from->files[i] = (GenFile){};
                r = add_file(to, f.path, f.content, f.symlink);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int copy_warnings(GenUnits *to, const GenUnits *from) {
        STRV_FOREACH (w, from->warnings) {
                int r = strv_push(&to->warnings, *w);

                if (r < 0)
                        return r;
        }
        return 0;
}

/* the units of templates first..last, into u; > 0 when one of them cannot be made, with *ret_missing
 * and *ret_why saying which and why */
static int add_derived_range(
        GenUnits *u,
        Build *b,
        const Config *c,
        const char *source,
        Template first,
        Template last,
        Template *ret_missing,
        char **ret_why) {
        int r;

        r = read_templates(b);
        if (r < 0)
                return r;
        for (Template t = first; t <= last; t++) {
                r = add_derived_unit(u, b, t, c, source, ret_why);
                if (r > 0)
                        *ret_missing = t;
                if (r != 0)
                        return r;
        }
        return 0;
}

/* an extra deployment's upgrade and rollback units, from the installed templates */
static int add_derived_units(GenUnits *u, Build *b, const Config *c, const char *source) {
        _cleanup_free_ char *why = NULL;
        Template t;
        int r;

        r = add_derived_range(u, b, c, source, TEMPLATE_UPGRADE, TEMPLATE_ROLLBACK, &t, &why);
        if (r <= 0)
                return r;
        return add_skip(
                u,
                "%s" UNITDIR "/%s: %s; deployment %s skipped",
                b->root,
                templates[t].name,
                why,
                c->deployment);
}

/* An extra deployment's watch service and timer, both or (with a warning) neither: an install older
 * than the watch has no templates for them, and the deployment's upgrades work without */
static int add_watch_units(GenUnits *u, Build *b, const Config *c, const char *source) {
        _cleanup_(genunits_done) GenUnits watch = {};
        _cleanup_free_ char *why = NULL;
        Template t;
        int r;

        r = add_derived_range(&watch, b, c, source, TEMPLATE_WATCH_SERVICE, TEMPLATE_WATCH_TIMER, &t, &why);
        if (r < 0)
                return r;
        if (r > 0)
                return add_warning(
                        u,
                        "%s" UNITDIR "/%s: %s; no watch units for deployment %s",
                        b->root,
                        templates[t].name,
                        why,
                        c->deployment);
        return move_files(u, &watch);
}

/* the default deployment's [Watch] Interval= on the shipped timer, when it is not the template's
 * already; without the template (an install older than the watch) there is no timer to set */
static int add_watch_dropin(GenUnits *u, Build *b, const Config *c, const char *source) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r;

        r = read_templates(b);
        if (r < 0)
                return r;
        if (!b->templates[TEMPLATE_WATCH_TIMER])
                return 0;
        r = genunits_watch_dropin(b->templates[TEMPLATE_WATCH_TIMER], c, source, &text);
        if (r == -EINVAL)
                return add_warning(
                        u,
                        "%s" UNITDIR "/%s: no " INTERVAL_KEY " in [Timer]; [Watch] Interval= of deployment "
                        "%s not applied",
                        b->root,
                        templates[TEMPLATE_WATCH_TIMER].name,
                        c->deployment);
        if (r <= 0)
                return r;
        path = strdup("codebolt-upgrade-watch@.timer.d/" DROPIN_NAME);
        if (!path)
                return -ENOMEM;
        return add_file(u, TAKE_PTR(path), TAKE_PTR(text), NULL);
}

/* all the files of one deployment into u (0), or none and a warning that says why (1) */
static int build_deployment(GenUnits *u, Build *b, const Config *c, const char *source) {
        _cleanup_(genunits_done) GenUnits mine = {};
        _cleanup_free_ char *path = NULL, *text = NULL, *why = NULL;
        bool bad_schedule = false;
        int r;

        for (size_t i = 0; b->claimed_units && b->claimed_units[i]; i++)
                if (streq(b->claimed_units[i], c->server_unit))
                        return add_skip(
                                u,
                                "%s: Server.Unit: %s is already the server unit of deployment %s; "
                                "deployment %s skipped",
                                source,
                                c->server_unit,
                                b->claimed_by[i],
                                c->deployment);

        if (asprintf(&path, "%s.d/" DROPIN_NAME, c->server_unit) < 0)
                return -ENOMEM;
        r = genunits_server_dropin(c, source, &text);
        if (r < 0)
                return r;
        r = add_file(&mine, TAKE_PTR(path), TAKE_PTR(text), NULL);
        if (r < 0)
                return r;

        if (!config_deployment_is_default(c->deployment)) {
                /* a template that cannot be used skips the deployment: its warning is all it leaves */
                r = add_derived_units(&mine, b, c, source);
                if (r < 0)
                        return r;
                if (r > 0) {
                        r = copy_warnings(u, &mine);
                        return r < 0 ? r : 1;
                }
        }

        /* the default deployment's watch is the shipped timer, perhaps with a drop-in */
        r = config_deployment_is_default(c->deployment) ? add_watch_dropin(&mine, b, c, source)
                                                        : add_watch_units(&mine, b, c, source);
        if (r < 0)
                return r;

        if (c->auto_schedule) {
                r = calendar_spec_check(c->auto_schedule, &why);
                if (r == -ENOMEM)
                        return r;
                bad_schedule = r < 0;
        }
        if (bad_schedule) {
                /* the unit file would not load, or mean something else: the timer alone is left out */
                _cleanup_free_ char *file = cescape(c->auto_schedule_file ?: source);

                if (!file)
                        return -ENOMEM;
                r = add_warning(
                        &mine,
                        "%s:%u: Auto.Schedule: not a calendar event systemd can use (systemd.time(7)): %s; "
                        "no "
                        "timer for deployment %s",
                        file,
                        c->auto_schedule_line,
                        why ?: "malformed",
                        c->deployment);
                if (r < 0)
                        return r;
        } else if (c->auto_schedule && b->have_auto) {
                r = add_auto(&mine, c, source);
                if (r < 0)
                        return r;
        } else if (c->auto_schedule) {
                r = add_warning(
                        &mine,
                        "%s: Auto.Schedule: " LIBEXECDIR "/auto is not installed: no timer for "
                        "deployment %s",
                        source,
                        c->deployment);
                if (r < 0)
                        return r;
        }

        r = move_files(u, &mine);
        if (r < 0)
                return r;
        r = copy_warnings(u, &mine);
        if (r < 0)
                return r;

        r = strv_push(&b->claimed_units, c->server_unit);
        if (r < 0)
                return r;
        r = strv_push(&b->claimed_by, c->deployment);
        return r < 0 ? r : 0;
}

static int build_one(GenUnits *u, Build *b, const char *deployment) {
        _cleanup_(config_done) Config c = {};
        _cleanup_free_ char *source = NULL;
        int r;

        if (config_deployment_is_default(deployment))
                source = strdup(ETC_CONF);
        else if (asprintf(&source, DEPLOYMENTS_DIR "/%s.conf", deployment) < 0)
                source = NULL;
        if (!source)
                return -ENOMEM;

        {
                _cleanup_(config_error_done) ConfigError e = {};

                r = config_load(b->root, deployment, &c, &e);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return add_config_warning(u, deployment, &e, r);
        }
        return build_deployment(u, b, &c, source);
}

int genunits_build(const char *root, GenUnits *ret) {
        _cleanup_strv_free_ char **deployments = NULL;
        _cleanup_free_ char *rootdir = strdup(root ?: paths_root()), *auto_path = NULL;
        _cleanup_(genunits_done) GenUnits u = {};
        _cleanup_(build_done) Build b = {};
        int r;

        if (!rootdir)
                return -ENOMEM;
        for (size_t l = strlen(rootdir); l > 0 && rootdir[l - 1] == '/'; l--)
                rootdir[l - 1] = 0;
        b.root = rootdir;

        if (asprintf(&auto_path, "%s" LIBEXECDIR "/auto", rootdir) < 0)
                return -ENOMEM;
        /* the timer only with the service it starts, and that only with its helper installed */
        b.have_auto = access(auto_path, X_OK) == 0;

        /* the default deployment is the base every other one is layered on */
        r = build_one(&u, &b, "default");
        if (r < 0)
                return r;
        if (r > 0) {
                r = add_warning(&u, "the shared configuration is broken: every deployment skipped");
                if (r < 0)
                        return r;
                *ret = u;
                u = (GenUnits){};
                return 0;
        }

        r = config_list_deployments(rootdir, &deployments);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                r = add_warning(&u, "%s" DEPLOYMENTS_DIR ": cannot be listed (%s)", rootdir, strerror(-r));
                if (r < 0)
                        return r;
        }
        STRV_FOREACH (d, deployments) {
                if (!config_deployment_name_is_valid(*d) || config_deployment_is_default(*d)) {
                        /* the name is anything a file name can be, a newline included */
                        _cleanup_free_ char *name = cescape(*d);

                        if (!name)
                                return -ENOMEM;
                        r = add_warning(
                                &u,
                                "%s" DEPLOYMENTS_DIR "/%s.conf: not a valid deployment name (letters, "
                                "digits, _ and -; not \"default\"); skipped",
                                rootdir,
                                name);
                        if (r < 0)
                                return r;
                        continue;
                }
                r = build_one(&u, &b, *d);
                if (r < 0)
                        return r;
        }

        *ret = u;
        u = (GenUnits){};
        return 0;
}
