/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* config.c: the layered upgrade.conf (vendor, /etc, .conf.d, per deployment) */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <ini.h>
#include <limits.h>
#include <regex.h>
#include <stddef.h>
#include <stdint.h>
#include <strings.h>
#include <sys/stat.h>

#include "config.h"
#include "errmsg.h"
#include "journal-pattern.h"
#include "macro.h"
#include "paths.h"
#include "pg-conninfo.h"
#include "strv.h"
#include "time-util.h"

#define VENDOR_CONF "/usr/lib/codebolt-upgrade/upgrade.conf"
#define ETC_DIR "/etc/codebolt-upgrade"
#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

/* ---- values ---- */

int config_parse_bool(const char *s, bool *ret) {
        static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        return -EINVAL;
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int mul_add(usec_t *sum, usec_t n, usec_t unit) {
        if (n > 0 && unit > (USEC_INFINITY - 1) / n)
                return -ERANGE;
        if (*sum > USEC_INFINITY - 1 - n * unit)
                return -ERANGE;
        *sum += n * unit;
        return 0;
}

int config_parse_timespan(const char *s, usec_t *ret) {
        static const struct {
                const char *suffix;
                usec_t usec;
        } units[] = {
                { "", USEC_PER_SEC },
                { "us", 1 },
                { "usec", 1 },
                { "µs", 1 },
                { "μs", 1 },
                { "ms", USEC_PER_MSEC },
                { "msec", USEC_PER_MSEC },
                { "s", USEC_PER_SEC },
                { "sec", USEC_PER_SEC },
                { "second", USEC_PER_SEC },
                { "seconds", USEC_PER_SEC },
                { "m", USEC_PER_MINUTE },
                { "min", USEC_PER_MINUTE },
                { "minute", USEC_PER_MINUTE },
                { "minutes", USEC_PER_MINUTE },
                { "h", USEC_PER_HOUR },
                { "hr", USEC_PER_HOUR },
                { "hour", USEC_PER_HOUR },
                { "hours", USEC_PER_HOUR },
                { "d", USEC_PER_DAY },
                { "day", USEC_PER_DAY },
                { "days", USEC_PER_DAY },
                { "w", USEC_PER_WEEK },
                { "week", USEC_PER_WEEK },
                { "weeks", USEC_PER_WEEK },
                { "M", USEC_PER_MONTH },
                { "month", USEC_PER_MONTH },
                { "months", USEC_PER_MONTH },
                { "y", USEC_PER_YEAR },
                { "year", USEC_PER_YEAR },
                { "years", USEC_PER_YEAR },
        };
        usec_t sum = 0;
        const char *p;
        bool any = false;

        if (!s)
                return -EINVAL;

        p = s;
        while (is_blank(*p))
                p++;
        if (startswith(p, "infinity")) {
                const char *e = p + strlen("infinity");
                while (is_blank(*e))
                        e++;
                if (*e)
                        return -EINVAL;
                *ret = USEC_INFINITY;
                return 0;
        }

        for (;;) {
                const char *digits, *frac = NULL, *unit;
                size_t ndigits, nfrac = 0, nunit;
                usec_t n = 0, per = 0;
                int r;

                while (is_blank(*p))
                        p++;
                if (!*p)
                        break;

                digits = p;
                ndigits = strspn(p, "0123456789");
                if (ndigits == 0)
                        return -EINVAL;
                p += ndigits;
                if (*p == '.') {
                        frac = ++p;
                        nfrac = strspn(p, "0123456789");
                        if (nfrac == 0)
                                return -EINVAL;
                        p += nfrac;
                }
                while (is_blank(*p))
                        p++;
                unit = p;
                nunit = strcspn(p, " \t\n\r0123456789.");
                p += nunit;

                for (size_t i = 0; i < ELEMENTSOF(units); i++)
                        if (strlen(units[i].suffix) == nunit && strncmp(units[i].suffix, unit, nunit) == 0) {
                                per = units[i].usec;
                                break;
                        }
                if (per == 0)
                        return -EINVAL;

                for (size_t i = 0; i < ndigits; i++) {
                        if (n > (UINT64_MAX - 9) / 10)
                                return -ERANGE;
                        n = n * 10 + (usec_t)(digits[i] - '0');
                }
                r = mul_add(&sum, n, per);
                if (r < 0)
                        return r;

                /* 1.5h: each decimal digit adds its share of the unit, down to what a µs can carry */
                for (size_t i = 0, scale = 10; i < nfrac && per / scale > 0; i++, scale *= 10) {
                        r = mul_add(&sum, (usec_t)(frac[i] - '0'), per / scale);
                        if (r < 0)
                                return r;
                }
                any = true;
        }
        if (!any)
                return -EINVAL;

        *ret = sum;
        return 0;
}

static const char *const snapshot_mode_table[] = {
        [SNAPSHOT_TEMPLATE] = "template", [SNAPSHOT_DUMP] = "dump", [SNAPSHOT_NONE] = "none",
        [SNAPSHOT_DELTA] = "delta",       [SNAPSHOT_AUTO] = "auto",
};

static const char *const role_table[] = {
        [ROLE_UNSET] = NULL,
        [ROLE_STAGING] = "staging",
        [ROLE_PRODUCTION] = "production",
};

static const char *const enforce_pin_table[] = {
        [ENFORCE_PIN_YES] = "yes",
        [ENFORCE_PIN_WARN] = "warn",
        [ENFORCE_PIN_NO] = "no",
};

static const char *const rollback_policy_table[] = {
        [ROLLBACK_AUTO] = "auto",
        [ROLLBACK_MINOR_ONLY] = "minor-only",
        [ROLLBACK_RESTORE_ALWAYS] = "restore-always",
        [ROLLBACK_NONE] = "none",
};

static const char *const auto_track_table[] = {
        [TRACK_PATCH] = "patch",
        [TRACK_MINOR] = "minor",
};

static const char *const lb_driver_table[] = {
        [LB_DRIVER_NONE] = "none",
        [LB_DRIVER_HAPROXY] = "haproxy",
        [LB_DRIVER_HEALTH] = "health",
};

static const char *table_lookup(const char *const *table, size_t n, int i) {
        return i >= 0 && (size_t)i < n ? table[i] : NULL;
}

static int table_find(const char *const *table, size_t n, const char *s) {
        for (size_t i = 0; i < n; i++)
                if (table[i] && streq(table[i], s))
                        return (int)i;
        return -EINVAL;
}

const char *config_snapshot_mode_to_string(SnapshotMode m) {
        return table_lookup(snapshot_mode_table, ELEMENTSOF(snapshot_mode_table), m);
}

const char *config_role_to_string(PolicyRole r) {
        return table_lookup(role_table, ELEMENTSOF(role_table), r);
}

const char *config_enforce_pin_to_string(EnforcePin e) {
        return table_lookup(enforce_pin_table, ELEMENTSOF(enforce_pin_table), e);
}

const char *config_rollback_policy_to_string(RollbackPolicy p) {
        return table_lookup(rollback_policy_table, ELEMENTSOF(rollback_policy_table), p);
}

const char *config_auto_track_to_string(AutoTrack t) {
        return table_lookup(auto_track_table, ELEMENTSOF(auto_track_table), t);
}

const char *config_lb_driver_to_string(LoadBalancerDriver d) {
        return table_lookup(lb_driver_table, ELEMENTSOF(lb_driver_table), d);
}

bool config_deployment_is_default(const char *deployment) {
        return !deployment || streq(deployment, "default");
}

/* a letter or digit first, then only allowed, at most max characters */
static bool is_identifier(const char *s, const char *allowed, size_t max) {
        size_t n;

        if (!s || !isalnum((unsigned char)s[0]))
                return false;
        n = strlen(s);
        return n <= max && strspn(s, allowed) == n;
}

bool config_deployment_name_is_valid(const char *name) {
        return is_identifier(name, ALNUM "_-", 64);
}

bool config_cluster_id_is_valid(const char *id) {
        return is_identifier(id, ALNUM "._-", 63);
}

const char *config_server_address(const Config *c) {
        return c->server_address ?: "127.0.0.1";
}

bool config_cluster_enabled(const Config *c) {
        return c && c->cluster_name;
}

/* ---- one parser per kind of key: each writes its field only on success ---- */

typedef int (*ParseFn)(const char *value, void *field);
/* a parser whose refusal says more than the key's expected text: *ret_why is added to it */
typedef int (*ParseWhyFn)(const char *value, void *field, char **ret_why);

static bool has_control(const char *s) {
        for (; *s; s++)
                if (iscntrl((unsigned char)*s))
                        return true;
        return false;
}

static bool only_chars(const char *s, const char *allowed) {
        return s[strspn(s, allowed)] == 0;
}

static int set_string(char **field, const char *value) {
        char *copy = strdup(value);

        if (!copy)
                return -ENOMEM;
        free(*field);
        *field = copy;
        return 0;
}

static int parse_string(const char *value, void *field) {
        if (has_control(value))
                return -EINVAL;
        return set_string(field, value);
}

/* an absolute path without . or .. parts, with // collapsed and no trailing / */
static int normalize_path(const char *s, char **ret) {
        _cleanup_free_ char *p = NULL;
        char *t;

        if (s[0] != '/' || has_control(s))
                return -EINVAL;
        p = malloc(strlen(s) + 1);
        if (!p)
                return -ENOMEM;

        t = p;
        for (const char *c = s; *c;) {
                size_t l;

                c += strspn(c, "/");
                l = strcspn(c, "/");
                if (l == 0)
                        break;
                if ((l == 1 && c[0] == '.') || (l == 2 && c[0] == '.' && c[1] == '.'))
                        return -EINVAL;
                *t++ = '/';
                memcpy(t, c, l);
                t += l;
                c += l;
        }
        if (t == p)
                *t++ = '/';
        *t = 0;

        *ret = TAKE_PTR(p);
        return 0;
}

static int parse_path(const char *value, void *field) {
        char *p;
        int r;

        r = normalize_path(value, &p);
        if (r < 0)
                return r;
        free(*(char **)field);
        *(char **)field = p;
        return 0;
}

/* a node_exporter textfile: an absolute path whose file name ends in .prom (the only files the textfile
 * collector reads), with something before the suffix */
#define STRLEN_PROM (sizeof(".prom") - 1)

static int parse_prom_path(const char *value, void *field) {
        _cleanup_free_ char *p = NULL;
        const char *base;
        int r;

        r = normalize_path(value, &p);
        if (r < 0)
                return r;
        base = strrchr(p, '/') + 1;
        if (strlen(base) <= STRLEN_PROM || !streq(base + strlen(base) - STRLEN_PROM, ".prom"))
                return -EINVAL;
        free(*(char **)field);
        *(char **)field = TAKE_PTR(p);
        return 0;
}

static bool is_url(const char *s, bool allow_file) {
        const char *rest = startswith(s, "https://") ?: startswith(s, "http://");

        if (!rest && allow_file)
                rest = startswith(s, "file://");
        return rest && *rest && !has_control(s) && !strpbrk(s, " \t");
}

static int parse_url(const char *value, void *field) {
        if (!is_url(value, false))
                return -EINVAL;
        return set_string(field, value);
}

static int parse_path_or_url(const char *value, void *field) {
        if (value[0] == '/')
                return parse_path(value, field);
        if (!is_url(value, true))
                return -EINVAL;
        return set_string(field, value);
}

/* a file name under /etc/codebolt-upgrade/credentials/ */
static int parse_credential(const char *value, void *field) {
        if (!value[0] || value[0] == '.' || strlen(value) > 255 || !only_chars(value, ALNUM "._-@"))
                return -EINVAL;
        return set_string(field, value);
}

static int parse_service_unit(const char *value, void *field) {
        size_t n = strlen(value);

        /* a unit that can be started: no template (foo@.service) */
        if (n <= strlen(".service") || n > 255 || !streq(value + n - strlen(".service"), ".service") ||
            !only_chars(value, ALNUM ":_.\\@-") || strstr(value, "@.service") || value[0] == '@')
                return -EINVAL;
        return set_string(field, value);
}

static int parse_user(const char *value, void *field) {
        if (!value[0] || value[0] == '-' || value[0] == '.' || strlen(value) > 256 ||
            !only_chars(value, ALNUM "_.-"))
                return -EINVAL;
        return set_string(field, value);
}

/* [@scope/]name, npm's rules for new packages */
static int parse_npm_package(const char *value, void *field) {
        static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789-._~";
        const char *name = value;

        if (strlen(value) > 214)
                return -EINVAL;
        if (value[0] == '@') {
                const char *slash = strchr(value, '/');
                size_t l;

                if (!slash)
                        return -EINVAL;
                l = (size_t)(slash - value - 1);
                if (l == 0 || strspn(value + 1, chars) != l || value[1] == '.' || value[1] == '_')
                        return -EINVAL;
                name = slash + 1;
        }
        if (!name[0] || name[0] == '.' || name[0] == '_' || !only_chars(name, chars))
                return -EINVAL;
        return set_string(field, value);
}

/* a database name the helpers can quote in CREATE DATABASE … TEMPLATE and suffix with _pre_<id> */
static int parse_db_name(const char *value, void *field) {
        if (!value[0] || strlen(value) > 63 || isdigit((unsigned char)value[0]) ||
            !only_chars(value, ALNUM "_"))
                return -EINVAL;
        return set_string(field, value);
}

/* libpq's conninfo (key=value or URI), which must not carry a secret: it reaches pg_dump's and
 * pg_restore's command line, and secrets live in credential files */
static int parse_conninfo(const char *value, void *field, char **ret_why) {
        _cleanup_free_ char *secret = NULL;
        int r;

        r = pg_conninfo_find_secret(value, &secret);
        if (r == -EOPNOTSUPP)
                return errmsg_set(ret_why, r, "libpq (libpq.so.5), which reads it, cannot be opened");
        if (r < 0)
                return r;
        if (r > 0)
                return errmsg_set(
                        ret_why,
                        -EPERM,
                        "it sets %s%s, which libpq marks secret: pg_dump and pg_restore get the connection "
                        "string as an argument (-d), readable by every local user in /proc/<pid>/cmdline. "
                        "Secrets go in credential files instead: the database password in the file "
                        "[Database] PasswordCredential= names, owned by root with mode 0600 under "
                        "/etc/codebolt-upgrade/credentials/",
                        secret,
                        streq(secret, "password") && (startswith(value, "postgresql://") ||
                                                      startswith(value, "postgres://"))
                                ? " (the user:password@ of the URI, or ?password=)"
                                : "=");
        return set_string(field, value);
}

/* the pattern matched against journal lines, case-insensitively; bounded before regcomp() sees it */
static int parse_regex(const char *value, void *field, char **ret_why) {
        regex_t re;
        int r;

        if (has_control(value))
                return -EINVAL;
        r = journal_error_pattern_check(value, ret_why);
        if (r < 0)
                return r;
        r = journal_compile_error_pattern(value, &re);
        if (r < 0)
                return r;
        regfree(&re);
        return set_string(field, value);
}

/* an npm dist-tag */
static int parse_channel(const char *value, void *field) {
        if (!isalpha((unsigned char)value[0]) || strlen(value) > 128 || !only_chars(value, ALNUM "._-"))
                return -EINVAL;
        return set_string(field, value);
}

/* a tool or capability name as `codebolt tool list` prints it */
static int normalize_name(const char *word, char **ret) {
        if (!*word || strlen(word) > 128 || !only_chars(word, ALNUM "._@/-"))
                return -EINVAL;
        *ret = strdup(word);
        return *ret ? 0 : -ENOMEM;
}

/* whitespace-separated, each word optionally in "" or ''; appends, dropping duplicates */
static int parse_word_list(const char *value, void *field, int (*normalize)(const char *word, char **ret)) {
        _cleanup_strv_free_ char **l = NULL;
        char ***list = field;
        size_t n = 0, old = 0;

        for (char **i = *list; i && *i; i++)
                old++;

        for (const char *p = value;;) {
                _cleanup_free_ char *word = NULL, *path = NULL;
                size_t len;
                bool dup = false;
                char **grown;
                int r;

                p += strspn(p, " \t");
                if (!*p)
                        break;
                if (*p == '"' || *p == '\'') {
                        const char *end = strchr(p + 1, *p);
                        if (!end || (end[1] && !strchr(" \t", end[1])))
                                return -EINVAL;
                        len = (size_t)(end - p - 1);
                        word = strndup(p + 1, len);
                        p = end + 1;
                } else {
                        len = strcspn(p, " \t");
                        word = strndup(p, len);
                        p += len;
                }
                if (!word)
                        return -ENOMEM;

                r = normalize(word, &path);
                if (r < 0)
                        return r;

                for (char **i = *list; i && *i; i++)
                        dup = dup || streq(*i, path);
                for (size_t i = 0; i < n; i++)
                        dup = dup || streq(l[i], path);
                if (dup)
                        continue;

                grown = realloc(l, (n + 2) * sizeof(char *));
                if (!grown)
                        return -ENOMEM;
                l = grown;
                l[n++] = TAKE_PTR(path);
                l[n] = NULL;
        }

        if (n > 0) {
                char **merged = realloc(*list, (old + n + 1) * sizeof(char *));
                if (!merged)
                        return -ENOMEM;
                memcpy(merged + old, l, (n + 1) * sizeof(char *));
                free(TAKE_PTR(l));
                *list = merged;
        }
        return 0;
}

static int parse_paths(const char *value, void *field) {
        return parse_word_list(value, field, normalize_path);
}

static int parse_names(const char *value, void *field) {
        return parse_word_list(value, field, normalize_name);
}

static int parse_bool_field(const char *value, void *field) {
        return config_parse_bool(value, field);
}

static int parse_timespan_field(const char *value, void *field) {
        return config_parse_timespan(value, field);
}

/* a finite time span of at least min */
static int parse_finite_timespan_min(const char *value, usec_t min, usec_t *ret) {
        usec_t t;
        int r;

        r = config_parse_timespan(value, &t);
        if (r < 0)
                return r;
        if (t < min || t == USEC_INFINITY)
                return -EINVAL;
        *ret = t;
        return 0;
}

static int parse_interval(const char *value, void *field) {
        return parse_finite_timespan_min(value, 1, field);
}

/* a wait that must end: the roll goes on only after it */
static int parse_finite_timespan(const char *value, void *field) {
        return parse_finite_timespan_min(value, 0, field);
}

static int parse_unsigned(const char *value, unsigned min, unsigned max, unsigned *ret) {
        unsigned long long v = 0;

        if (!value[0] || strlen(value) > 10 || !only_chars(value, "0123456789"))
                return -EINVAL;
        for (const char *c = value; *c; c++)
                v = v * 10 + (unsigned)(*c - '0');
        if (v < min || v > max)
                return -EINVAL;
        *ret = (unsigned)v;
        return 0;
}

static int parse_percent(const char *value, void *field) {
        return parse_unsigned(value, 1, 100, field);
}

int config_parse_size(const char *s, uint64_t *ret) {
        static const char suffixes[] = "KMGT";
        uint64_t v = 0, factor = 1;
        const char *c = s, *p;

        if (!s || !*s || strlen(s) > 24)
                return -EINVAL;
        for (; *c >= '0' && *c <= '9'; c++) {
                if (v > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t)(*c - '0');
        }
        if (c == s)
                return -EINVAL;
        if (*c && (p = strchr(suffixes, *c))) {
                for (const char *i = suffixes; i <= p; i++)
                        factor *= 1024;
                c++;
        }
        if (*c == 'B')
                c++;
        if (*c)
                return -EINVAL;
        if (v > UINT64_MAX / factor)
                return -ERANGE;
        *ret = v * factor;
        return 0;
}

static int parse_size_field(const char *value, void *field) {
        return config_parse_size(value, field);
}

static int parse_port(const char *value, void *field) {
        return parse_unsigned(value, 1, 65535, field);
}

static int parse_keep(const char *value, void *field) {
        return parse_unsigned(value, 1, UINT_MAX, field);
}

static int parse_slots(const char *value, void *field) {
        return parse_unsigned(value, 1, 64, field);
}

static int parse_cluster_id(const char *value, void *field) {
        if (!config_cluster_id_is_valid(value))
                return -EINVAL;
        return set_string(field, value);
}

/* HOST:PORT: a host name, an IPv4 address or an [IPv6] address, and a port from 1 to 65535 */
static bool is_host_port(const char *s) {
        const char *colon;
        unsigned port;

        if (s[0] == '[') {
                const char *end = strchr(s, ']');
                size_t n = end ? (size_t)(end - s - 1) : 0;

                if (n == 0 || strspn(s + 1, "0123456789abcdefABCDEF:.") != n || end[1] != ':')
                        return false;
                colon = end + 1;
        } else {
                size_t n = strcspn(s, ":");

                if (n == 0 || n > 253 || strspn(s, ALNUM ".-") != n || s[0] == '.' || s[0] == '-')
                        return false;
                colon = s + n;
                if (*colon != ':')
                        return false;
        }
        return parse_unsigned(colon + 1, 1, 65535, &port) >= 0;
}

/* [Server] Address=: a host name, an IPv4 address, or an IPv6 address with or without brackets,
 * stored as a URL takes it ("[::1]") */
static int parse_address(const char *value, void *field) {
        _cleanup_free_ char *host = NULL;
        size_t n = strlen(value);

        if (strchr(value, ':')) {
                const char *a = value[0] == '[' ? value + 1 : value;
                size_t m = value[0] == '[' ? n - 2 : n;

                if (value[0] == '[' && (n < 3 || value[n - 1] != ']'))
                        return -EINVAL;
                if (m == 0 || m > 45 || strspn(a, "0123456789abcdefABCDEF:.") != m)
                        return -EINVAL;
                if (asprintf(&host, "[%.*s]", (int)m, a) < 0)
                        return -ENOMEM;
        } else {
                if (n == 0 || n > 253 || strspn(value, ALNUM ".-") != n || value[0] == '.' ||
                    value[0] == '-')
                        return -EINVAL;
                host = strdup(value);
                if (!host)
                        return -ENOMEM;
        }
        free(*(char **)field);
        *(char **)field = TAKE_PTR(host);
        return 0;
}

/* http://HOST:PORT or https://HOST:PORT (no user, no path), stored without a trailing / */
static int normalize_etcd_url(const char *word, char **ret) {
        const char *rest = startswith(word, "https://") ?: startswith(word, "http://");
        _cleanup_free_ char *url = NULL;
        size_t n;

        if (!rest)
                return -EINVAL;
        url = strdup(word);
        if (!url)
                return -ENOMEM;
        n = strlen(url);
        if (n > 0 && url[n - 1] == '/')
                url[n - 1] = 0;
        if (!is_host_port(url + (rest - word)))
                return -EINVAL;
        *ret = TAKE_PTR(url);
        return 0;
}

/* an HAProxy admin socket: an absolute path, or tcp:HOST:PORT */
static int normalize_lb_socket(const char *word, char **ret) {
        const char *hostport = startswith(word, "tcp:");

        if (word[0] == '/')
                return normalize_path(word, ret);
        if (!hostport || !is_host_port(hostport))
                return -EINVAL;
        *ret = strdup(word);
        return *ret ? 0 : -ENOMEM;
}

static int parse_etcd_urls(const char *value, void *field) {
        return parse_word_list(value, field, normalize_etcd_url);
}

static int parse_lb_sockets(const char *value, void *field) {
        return parse_word_list(value, field, normalize_lb_socket);
}

/* an HAProxy proxy or server name, with the characters HAProxy allows in one */
static int parse_haproxy_name(const char *value, void *field) {
        if (strlen(value) > 128 || !only_chars(value, ALNUM "._:-"))
                return -EINVAL;
        return set_string(field, value);
}

#define DEFINE_PARSE_ENUM(name, type, table)                         \
        static int name(const char *value, void *field) {            \
                int i = table_find(table, ELEMENTSOF(table), value); \
                if (i < 0)                                           \
                        return i;                                    \
                *(type *)field = (type)i;                            \
                return 0;                                            \
        }

DEFINE_PARSE_ENUM(parse_snapshot_mode, SnapshotMode, snapshot_mode_table)
DEFINE_PARSE_ENUM(parse_role, PolicyRole, role_table)
DEFINE_PARSE_ENUM(parse_enforce_pin, EnforcePin, enforce_pin_table)
DEFINE_PARSE_ENUM(parse_rollback_policy, RollbackPolicy, rollback_policy_table)
DEFINE_PARSE_ENUM(parse_auto_track, AutoTrack, auto_track_table)
DEFINE_PARSE_ENUM(parse_lb_driver, LoadBalancerDriver, lb_driver_table)

/* ---- the keys ---- */

typedef enum FieldKind {
        FIELD_STRING, /* char *: an empty assignment restores the default */
        FIELD_LIST,   /* char **: an empty assignment empties it */
        FIELD_VALUE,  /* a plain value of size bytes: an empty assignment restores the default */
} FieldKind;

typedef struct ConfigKey {
        const char *section;
        const char *name;
        ParseFn parse;
        ParseWhyFn parse_why; /* instead of parse */
        FieldKind kind;
        size_t offset;
        size_t size;
        const char *expected;
} ConfigKey;

#define KEY(sec, key, fn, k, field, exp)                                                                \
        {                                                                                               \
                .section = sec, .name = key, .parse = fn, .kind = k, .offset = offsetof(Config, field), \
                .size = sizeof(((Config *)NULL)->field), .expected = exp,                               \
        }

#define KEY_WHY(sec, key, fn, k, field, exp)                                                                \
        {                                                                                                   \
                .section = sec, .name = key, .parse_why = fn, .kind = k, .offset = offsetof(Config, field), \
                .size = sizeof(((Config *)NULL)->field), .expected = exp,                                   \
        }

#define EXPECT_BOOL "expected yes/no"
#define EXPECT_TIMESPAN "expected a time span like 90s, 5min, 24h"
#define EXPECT_FINITE_TIMESPAN "expected a time span like 10s, 1min (not infinity)"
#define EXPECT_PATH "expected an absolute path (without . or .. parts)"
#define EXPECT_PATH_OR_URL "expected an absolute path or an http://, https:// or file:// URL"
#define EXPECT_URL "expected an http:// or https:// URL"
#define EXPECT_CREDENTIAL "expected a credential name: a file name in /etc/codebolt-upgrade/credentials/"
#define EXPECT_USER "expected a user name"
#define EXPECT_TEXT "expected text without control characters"

static const ConfigKey config_keys[] = {
        KEY("Server",
            "Unit",
            parse_service_unit,
            FIELD_STRING,
            server_unit,
            "expected a service unit name such as codebolt.service"),
        KEY("Server", "User", parse_user, FIELD_STRING, server_user, EXPECT_USER),
        KEY("Server",
            "Package",
            parse_npm_package,
            FIELD_STRING,
            package,
            "expected an npm package name such as @codebolt/server"),
        KEY("Server", "Registry", parse_url, FIELD_STRING, registry, EXPECT_URL),
        KEY("Server", "NpmConfig", parse_path, FIELD_STRING, npm_config, EXPECT_PATH),
        KEY("Server",
            "ReleaseMetadata",
            parse_path_or_url,
            FIELD_STRING,
            release_metadata,
            EXPECT_PATH_OR_URL),
        KEY("Server", "Port", parse_port, FIELD_VALUE, port, "expected a port number from 1 to 65535"),
        KEY("Server",
            "Address",
            parse_address,
            FIELD_STRING,
            server_address,
            "expected a host name, an IPv4 address or an IPv6 address"),
        KEY("Server", "InstallRoot", parse_path, FIELD_STRING, install_root, EXPECT_PATH),

        KEY("Database",
            "Name",
            parse_db_name,
            FIELD_STRING,
            db_name,
            "expected a database name of letters, digits and _ (at most 63, not starting with a digit)"),
        KEY_WHY("Database",
                "Connection",
                parse_conninfo,
                FIELD_STRING,
                db_connection,
                "expected a libpq connection string without a password or other secret (the password goes "
                "in the file "
                "PasswordCredential= names)"),
        KEY("Database", "OSUser", parse_user, FIELD_STRING, db_os_user, EXPECT_USER),
        KEY("Database",
            "PasswordCredential",
            parse_credential,
            FIELD_STRING,
            db_password_credential,
            EXPECT_CREDENTIAL),

        KEY("Storage",
            "Paths",
            parse_paths,
            FIELD_LIST,
            storage_paths,
            "expected absolute paths (without . or .. parts) separated by spaces"),
        KEY("Storage", "Config", parse_path, FIELD_STRING, storage_config, EXPECT_PATH),
        KEY("Storage", "MasterKeyId", parse_path, FIELD_STRING, master_key_id, EXPECT_PATH),

        KEY("Backup", "Directory", parse_path, FIELD_STRING, backup_directory, EXPECT_PATH),
        KEY("Backup", "Keep", parse_keep, FIELD_VALUE, backup_keep, "expected a whole number, 1 or more"),
        KEY("Backup", "VerifyRestore", parse_bool_field, FIELD_VALUE, verify_restore, EXPECT_BOOL),
        KEY("Backup",
            "Snapshot",
            parse_snapshot_mode,
            FIELD_VALUE,
            snapshot,
            "expected one of template|dump|none|delta|auto"),

        KEY("Policy", "Role", parse_role, FIELD_VALUE, role, "expected one of staging|production"),
        KEY("Policy", "StagingLedger", parse_path_or_url, FIELD_STRING, staging_ledger, EXPECT_PATH_OR_URL),
        KEY("Policy", "ExportLedger", parse_path, FIELD_STRING, export_ledger, EXPECT_PATH),
        KEY("Policy", "BakeTime", parse_timespan_field, FIELD_VALUE, bake_time, EXPECT_TIMESPAN),
        KEY("Policy", "AllowMajor", parse_bool_field, FIELD_VALUE, allow_major, EXPECT_BOOL),
        KEY("Policy",
            "AllowIncompatible",
            parse_names,
            FIELD_LIST,
            allow_incompatible,
            "expected tool or capability names separated by spaces"),
        KEY("Policy",
            "EnforcePin",
            parse_enforce_pin,
            FIELD_VALUE,
            enforce_pin,
            "expected one of yes|warn|no"),
        KEY("Policy",
            "Rollback",
            parse_rollback_policy,
            FIELD_VALUE,
            rollback,
            "expected one of auto|minor-only|restore-always|none"),

        KEY("Timeouts", "Drain", parse_timespan_field, FIELD_VALUE, timeout_drain, EXPECT_TIMESPAN),
        KEY("Timeouts",
            "Migrations",
            parse_timespan_field,
            FIELD_VALUE,
            timeout_migrations,
            EXPECT_TIMESPAN),
        KEY("Timeouts", "Ready", parse_timespan_field, FIELD_VALUE, timeout_ready, EXPECT_TIMESPAN),
        KEY("Timeouts", "Smoke", parse_timespan_field, FIELD_VALUE, timeout_smoke, EXPECT_TIMESPAN),
        KEY("Timeouts", "Hook", parse_timespan_field, FIELD_VALUE, timeout_hook, EXPECT_TIMESPAN),
        KEY("Timeouts", "Slot", parse_timespan_field, FIELD_VALUE, timeout_slot, EXPECT_TIMESPAN),

        KEY("Smoke", "Steps", parse_path, FIELD_STRING, smoke_steps, EXPECT_PATH),
        KEY("Smoke", "User", parse_string, FIELD_STRING, smoke_user, EXPECT_TEXT),
        KEY("Smoke",
            "PasswordCredential",
            parse_credential,
            FIELD_STRING,
            smoke_password_credential,
            EXPECT_CREDENTIAL),
        KEY_WHY("Smoke",
                "ErrorPattern",
                parse_regex,
                FIELD_STRING,
                error_pattern,
                "expected an extended regular expression (regex(7))"),

        KEY("Watch", "Period", parse_timespan_field, FIELD_VALUE, watch_period, EXPECT_TIMESPAN),
        KEY("Watch",
            "Interval",
            parse_interval,
            FIELD_VALUE,
            watch_interval,
            "expected a time span above 0 like 5min"),
        KEY("Watch", "AutoRollback", parse_bool_field, FIELD_VALUE, watch_auto_rollback, EXPECT_BOOL),
        KEY("Watch",
            "BaselineWindow",
            parse_interval,
            FIELD_VALUE,
            watch_baseline_window,
            "expected a time span above 0 like 1h"),
        KEY("Watch",
            "SuccessDrop",
            parse_percent,
            FIELD_VALUE,
            watch_success_drop,
            "expected percentage points from 1 to 100"),
        KEY("Watch",
            "MaxLag",
            parse_interval,
            FIELD_VALUE,
            watch_max_lag,
            "expected a time span above 0 like 60s"),
        KEY("Watch",
            "MemoryGrowth",
            parse_size_field,
            FIELD_VALUE,
            watch_memory_growth,
            "expected a size per day like 256M"),

        KEY("Auto", "Schedule", parse_string, FIELD_STRING, auto_schedule, EXPECT_TEXT),
        KEY("Auto", "Track", parse_auto_track, FIELD_VALUE, auto_track, "expected one of patch|minor"),
        KEY("Auto",
            "Channel",
            parse_channel,
            FIELD_STRING,
            auto_channel,
            "expected an npm dist-tag such as latest"),
        KEY("Auto",
            "RandomizedDelaySec",
            parse_timespan_field,
            FIELD_VALUE,
            auto_randomized_delay,
            EXPECT_TIMESPAN),

        KEY("Notify", "URL", parse_url, FIELD_STRING, notify_url, EXPECT_URL),
        KEY("Notify",
            "TokenCredential",
            parse_credential,
            FIELD_STRING,
            notify_token_credential,
            EXPECT_CREDENTIAL),
        KEY("Notify",
            "AnnounceLead",
            parse_timespan_field,
            FIELD_VALUE,
            notify_announce_lead,
            EXPECT_TIMESPAN),
        KEY("Notify",
            "MetricsFile",
            parse_prom_path,
            FIELD_STRING,
            notify_metrics_file,
            "expected an absolute path of a file whose name ends in .prom (node_exporter's textfile "
            "collector reads only those)"),

        KEY("Cluster",
            "Name",
            parse_cluster_id,
            FIELD_STRING,
            cluster_name,
            "expected a cluster name: a letter or digit, then letters, digits, ., _ and - (at most 63)"),
        KEY("Cluster",
            "Etcd",
            parse_etcd_urls,
            FIELD_LIST,
            cluster_etcd,
            "expected http://HOST:PORT or https://HOST:PORT URLs (port 1 to 65535, no user or path) "
            "separated by spaces"),
        KEY("Cluster",
            "HostId",
            parse_cluster_id,
            FIELD_STRING,
            cluster_host_id,
            "expected a host id: a letter or digit, then letters, digits, ., _ and - (at most 63)"),
        KEY("Cluster",
            "Slots",
            parse_slots,
            FIELD_VALUE,
            cluster_slots,
            "expected a whole number from 1 to 64"),
        KEY("Cluster",
            "MinHealthy",
            parse_finite_timespan,
            FIELD_VALUE,
            cluster_min_healthy,
            EXPECT_FINITE_TIMESPAN),
        KEY("Cluster", "AutoRevert", parse_bool_field, FIELD_VALUE, cluster_auto_revert, EXPECT_BOOL),
        KEY("Cluster", "User", parse_user, FIELD_STRING, cluster_user, EXPECT_USER),
        KEY("Cluster",
            "PasswordCredential",
            parse_credential,
            FIELD_STRING,
            cluster_password_credential,
            EXPECT_CREDENTIAL),
        KEY("Cluster", "EtcdCA", parse_credential, FIELD_STRING, cluster_etcd_ca, EXPECT_CREDENTIAL),
        KEY("Cluster",
            "EtcdCertificate",
            parse_credential,
            FIELD_STRING,
            cluster_etcd_certificate,
            EXPECT_CREDENTIAL),
        KEY("Cluster", "EtcdKey", parse_credential, FIELD_STRING, cluster_etcd_key, EXPECT_CREDENTIAL),

        KEY("LoadBalancer",
            "Driver",
            parse_lb_driver,
            FIELD_VALUE,
            lb_driver,
            "expected one of haproxy|health|none"),
        KEY("LoadBalancer",
            "Socket",
            parse_lb_sockets,
            FIELD_LIST,
            lb_sockets,
            "expected HAProxy admin sockets separated by spaces: absolute paths or tcp:HOST:PORT (port 1 "
            "to 65535)"),
        KEY("LoadBalancer",
            "Backend",
            parse_haproxy_name,
            FIELD_STRING,
            lb_backend,
            "expected an HAProxy backend name: letters, digits, ., _, : and -"),
        KEY("LoadBalancer",
            "Server",
            parse_haproxy_name,
            FIELD_STRING,
            lb_server,
            "expected an HAProxy server name: letters, digits, ., _, : and -"),
        KEY("LoadBalancer", "Grace", parse_finite_timespan, FIELD_VALUE, lb_grace, EXPECT_FINITE_TIMESPAN),
};

static bool section_is_known(const char *section) {
        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++)
                if (streq(config_keys[i].section, section))
                        return true;
        return false;
}

static const ConfigKey *key_find(const char *section, const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++)
                if (streq(config_keys[i].section, section) && streq(config_keys[i].name, name))
                        return &config_keys[i];
        return NULL;
}

/* restore one key to its default: what an empty assignment does */
static int key_reset(const ConfigKey *k, Config *c, const Config *defaults) {
        void *field = (uint8_t *)c + k->offset;
        const void *def = (const uint8_t *)defaults + k->offset;

        switch (k->kind) {
        case FIELD_STRING: {
                const char *d = *(char *const *)def;
                char *copy = NULL;

                if (d) {
                        copy = strdup(d);
                        if (!copy)
                                return -ENOMEM;
                }
                free(*(char **)field);
                *(char **)field = copy;
                return 0;
        }
        case FIELD_LIST:
                strv_free(*(char ***)field);
                *(char ***)field = NULL;
                return 0;
        case FIELD_VALUE:
                memcpy(field, def, k->size);
                return 0;
        }
        return -EINVAL;
}

/* ---- defaults ---- */

void config_done(Config *c) {
        if (!c)
                return;

        free(c->deployment);
        strv_free(c->sources);
        free(c->server_unit);
        free(c->server_user);
        free(c->package);
        free(c->registry);
        free(c->npm_config);
        free(c->release_metadata);
        free(c->install_root);
        free(c->server_address);
        free(c->db_name);
        free(c->db_connection);
        free(c->db_os_user);
        free(c->db_password_credential);
        strv_free(c->storage_paths);
        strv_free(c->allow_incompatible);
        free(c->storage_config);
        free(c->master_key_id);
        free(c->backup_directory);
        free(c->staging_ledger);
        free(c->export_ledger);
        free(c->smoke_steps);
        free(c->smoke_user);
        free(c->smoke_password_credential);
        free(c->error_pattern);
        free(c->auto_schedule);
        free(c->auto_schedule_file);
        free(c->auto_channel);
        free(c->notify_url);
        free(c->notify_token_credential);
        free(c->notify_metrics_file);
        free(c->cluster_name);
        strv_free(c->cluster_etcd);
        free(c->cluster_host_id);
        free(c->cluster_user);
        free(c->cluster_password_credential);
        free(c->cluster_etcd_ca);
        free(c->cluster_etcd_certificate);
        free(c->cluster_etcd_key);
        strv_free(c->lb_sockets);
        free(c->lb_backend);
        free(c->lb_server);
        *c = (Config){};
}

static int strdup_all(char **const *fields, const char *const *values, size_t n) {
        for (size_t i = 0; i < n; i++) {
                *fields[i] = strdup(values[i]);
                if (!*fields[i])
                        return -ENOMEM;
        }
        return 0;
}

int config_init_defaults(Config *ret) {
        static const char *const stores[] = {
                "/var/lib/codebolt/shadow-git",
                "/var/lib/codebolt/vectordb",
                "/var/lib/codebolt/kg",
                "/var/lib/codebolt/capabilities",
        };
        _cleanup_(config_done) Config c = {
                .port = 3456,
                .backup_keep = 5,
                .verify_restore = true,
                .snapshot = SNAPSHOT_TEMPLATE,
                .role = ROLE_UNSET,
                .bake_time = 24 * USEC_PER_HOUR,
                .allow_major = false,
                .enforce_pin = ENFORCE_PIN_YES,
                .rollback = ROLLBACK_AUTO,
                .timeout_drain = 10 * USEC_PER_MINUTE,
                .timeout_migrations = 30 * USEC_PER_MINUTE,
                .timeout_ready = 5 * USEC_PER_MINUTE,
                .timeout_smoke = 5 * USEC_PER_MINUTE,
                .timeout_hook = 5 * USEC_PER_MINUTE,
                .timeout_slot = 30 * USEC_PER_MINUTE,
                .watch_period = 48 * USEC_PER_HOUR,
                .watch_interval = 5 * USEC_PER_MINUTE,
                .watch_auto_rollback = false,
                .watch_baseline_window = USEC_PER_HOUR,
                .watch_success_drop = 10,
                .watch_max_lag = 60 * USEC_PER_SEC,
                .watch_memory_growth = UINT64_C(256) * 1024 * 1024,
                .auto_track = TRACK_PATCH,
                .auto_randomized_delay = 0,
                .notify_announce_lead = 0,
                .cluster_slots = 1,
                .cluster_min_healthy = 30 * USEC_PER_SEC,
                .cluster_auto_revert = false,
                .lb_driver = LB_DRIVER_NONE,
                .lb_grace = 10 * USEC_PER_SEC,
        };
        char **const fields[] = {
                &c.deployment,
                &c.server_unit,
                &c.package,
                &c.install_root,
                &c.db_name,
                &c.db_os_user,
                &c.db_password_credential,
                &c.storage_config,
                &c.master_key_id,
                &c.backup_directory,
                &c.export_ledger,
                &c.smoke_steps,
                &c.smoke_user,
                &c.smoke_password_credential,
                &c.error_pattern,
                &c.notify_token_credential,
                &c.cluster_password_credential,
        };
        const char *const values[] = {
                "default",
                "codebolt.service",
                "@codebolt/server",
                "/opt/codebolt",
                "codebolt",
                "postgres",
                "db-password",
                "/etc/codebolt/codebolt-server.yaml",
                "/etc/codebolt/master-key-id",
                "/backups/codebolt",
                "/var/lib/codebolt-upgrade/public/ledger.json",
                DATADIR "/smoke-steps.json",
                "smoke",
                "smoke-password",
                "^(error|fatal|panic)\\b",
                "webhook-token",
                "etcd-password",
        };
        int r;

        _Static_assert(ELEMENTSOF(fields) == ELEMENTSOF(values), "one default per field");
        r = strdup_all(fields, values, ELEMENTSOF(values));
        if (r < 0)
                return r;

        c.storage_paths = calloc(ELEMENTSOF(stores) + 1, sizeof(char *));
        if (!c.storage_paths)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(stores); i++) {
                c.storage_paths[i] = strdup(stores[i]);
                if (!c.storage_paths[i])
                        return -ENOMEM;
        }

        *ret = c;
        c = (Config){};
        return 0;
}

/* ---- errors ---- */

void config_error_done(ConfigError *e) {
        if (!e)
                return;
        free(e->file);
        free(e->key);
        free(e->message);
        *e = (ConfigError){};
}

/* fill *e (when there is one) with copies; a field that cannot be copied stays NULL */
static void error_fill(
        ConfigError *e, const char *file, unsigned line, const char *key, const char *message) {
        if (!e)
                return;
        config_error_done(e);
        e->file = file ? strdup(file) : NULL;
        e->line = line;
        e->key = key ? strdup(key) : NULL;
        e->message = message ? strdup(message) : NULL;
}

/* ---- reading one file with inih ---- */

/* where a key was last assigned, for the rules between keys that config_load() checks at the end */
typedef struct KeyOrigin {
        size_t source; /* Config.sources[source - 1]; 0: never assigned */
        unsigned line;
} KeyOrigin;

typedef struct Parser {
        Config *config;
        const Config *defaults;
        KeyOrigin *origins; /* one per config_keys[] */
        const char *path;
        FILE *f;
        char *line; /* getline()'s buffer */
        size_t line_size;
        unsigned lineno;

        /* the first error, which stops the file */
        int error;
        unsigned error_line;
        char *error_key;
        char *error_message;
} Parser;

static void parser_done(Parser *p) {
        free(p->line);
        free(p->error_key);
        free(p->error_message);
}

static void parser_fail(Parser *p, int error, const char *key, const char *message) {
        if (p->error)
                return;
        p->error = error;
        p->error_line = p->lineno;
        p->error_key = key ? strdup(key) : NULL;
        p->error_message = message ? strdup(message) : NULL;
}

static void parser_fail_section(Parser *p, const char *section, size_t n, const char *message) {
        _cleanup_free_ char *s = strndup(section, n);
        parser_fail(p, -EINVAL, s, message);
}

/* Feeds inih one line at a time, and holds the habits of systemd's parser where inih differs: an indented
 * line is an ordinary line (inih would glue it to the previous value), a section header stands alone and
 * must be known, there is no "Key: value" and no inline comment (inih would silently cut the value at
 * " ;"). It stops at the first error, and counts lines exactly as inih does. */
static char *parser_read_line(char *str, int num, void *stream) {
        Parser *p = stream;
        char *s, *eq;
        ssize_t n;
        size_t len;

        if (p->error)
                return NULL;

        errno = 0;
        n = getline(&p->line, &p->line_size, p->f);
        if (n < 0) {
                if (errno != 0)
                        parser_fail(p, -errno, NULL, "cannot be read");
                return NULL;
        }
        p->lineno++;

        s = p->line;
        /* inih skips a UTF-8 byte order mark on the first line; so do we, before looking at the line */
        if (p->lineno == 1 && startswith(s, "\xEF\xBB\xBF"))
                s += 3;
        s += strspn(s, " \t");
        len = strlen(s);
        while (len > 0 && is_blank(s[len - 1]))
                s[--len] = 0;

        if (len + 1 > (size_t)num) {
                _cleanup_free_ char *m = NULL;
                if (asprintf(
                            &m,
                            "line longer than %d characters (split Paths= over several lines)",
                            num - 1) < 0)
                        m = NULL;
                parser_fail(p, -EINVAL, NULL, m ?: "line too long");
                return NULL;
        }

        if (len > 0 && !strchr(";#", s[0])) {
                if (s[0] == '[') {
                        if (s[len - 1] != ']') {
                                parser_fail(
                                        p, -EINVAL, NULL, "expected a [Section] header alone on its line");
                                return NULL;
                        }
                        s[len - 1] = 0;
                        if (!section_is_known(s + 1)) {
                                parser_fail_section(p, s + 1, len - 2, "unknown section");
                                return NULL;
                        }
                        s[len - 1] = ']';
                } else {
                        eq = s + strcspn(s, "=:");
                        if (*eq != '=' || eq == s) {
                                parser_fail(p, -EINVAL, NULL, "expected Key=Value");
                                return NULL;
                        }
                        for (const char *c = eq + 1; (c = strchr(c, ';')); c++)
                                if (is_blank(c[-1])) {
                                        parser_fail(
                                                p,
                                                -EINVAL,
                                                NULL,
                                                "comments go on their own line: ' ;' in a value is not "
                                                "allowed");
                                        return NULL;
                                }
                }
        }

        memcpy(str, s, len);
        str[len] = 0;
        return str;
}

static int parser_handle(void *user, const char *section, const char *name, const char *value) {
        Parser *p = user;
        _cleanup_free_ char *key = NULL, *why = NULL;
        const ConfigKey *k;
        int r;

        if (p->error)
                return 0;

        if (!*section) {
                parser_fail(p, -EINVAL, name, "assignment outside of any [Section]");
                return 0;
        }
        if (asprintf(&key, "%s.%s", section, name) < 0) {
                parser_fail(p, -ENOMEM, NULL, NULL);
                return 0;
        }

        k = key_find(section, name);
        if (!k) {
                parser_fail(p, -EINVAL, key, "unknown key");
                return 0;
        }

        if (!*value)
                r = key_reset(k, p->config, p->defaults);
        else if (k->parse_why)
                r = k->parse_why(value, (uint8_t *)p->config + k->offset, &why);
        else
                r = k->parse(value, (uint8_t *)p->config + k->offset);
        if (r == -ENOMEM) {
                parser_fail(p, r, key, NULL);
                return 0;
        }
        if (r < 0) {
                _cleanup_free_ char *message = NULL;

                if (why && asprintf(&message, "%s: %s", k->expected, why) < 0)
                        message = NULL;
                parser_fail(p, -EINVAL, key, message ?: k->expected);
                return 0;
        }
        /* this file is the last of Config.sources */
        p->origins[k - config_keys] = (KeyOrigin){ strv_length(p->config->sources), p->lineno };

        /* a bad Schedule= costs only the timer, which the generator leaves out naming this line */
        if (k->offset == offsetof(Config, auto_schedule)) {
                free(p->config->auto_schedule_file);
                p->config->auto_schedule_file = NULL;
                p->config->auto_schedule_line = 0;
                if (p->config->auto_schedule) {
                        p->config->auto_schedule_file = strdup(p->path);
                        if (!p->config->auto_schedule_file) {
                                parser_fail(p, -ENOMEM, key, NULL);
                                return 0;
                        }
                        p->config->auto_schedule_line = p->lineno;
                }
        }
        return 1;
}

/* apply one file; a missing one is skipped unless required; a directory is skipped when skip_dirs */
static int config_apply_file(
        Config *c,
        const Config *defaults,
        KeyOrigin *origins,
        const char *path,
        bool required,
        bool skip_dirs,
        ConfigError *e) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_(parser_done)
                Parser p = { .config = c, .defaults = defaults, .origins = origins, .path = path };
        struct stat st;
        int r;

        f = fopen(path, "re");
        if (!f) {
                r = -errno;
                if (r == -ENOENT && !required)
                        return 0;
                error_fill(
                        e,
                        path,
                        0,
                        NULL,
                        r == -ENOENT ? "no such deployment: the file does not exist" : "cannot be read");
                return r;
        }
        if (fstat(fileno(f), &st) < 0) {
                r = -errno;
                error_fill(e, path, 0, NULL, "cannot be read");
                return r;
        }
        if (S_ISDIR(st.st_mode)) {
                if (skip_dirs)
                        return 0;
                error_fill(e, path, 0, NULL, "is a directory");
                return -EISDIR;
        }

        r = strv_push(&c->sources, path);
        if (r < 0)
                return r;

        p.f = f;
        r = ini_parse_stream(parser_read_line, &p, parser_handle, &p);
        if (r > 0 && (!p.error || (unsigned)r < p.error_line)) {
                /* a line inih refused before ours saw anything wrong with it */
                error_fill(e, path, (unsigned)r, NULL, "expected [Section] or Key=Value");
                return -EINVAL;
        }
        if (p.error) {
                error_fill(e, path, p.error_line, p.error_key, p.error_message);
                return p.error;
        }
        if (r < 0) {
                error_fill(e, path, 0, NULL, "cannot be read");
                return r == -2 ? -ENOMEM : -EIO;
        }
        return 0;
}

/* ---- the rules between keys, checked once every layer is read ---- */

/* the first rule broken, naming where the key it blames was last set (each blames a key that is set) */
static int config_check_rules(const Config *c, const KeyOrigin *origins, ConfigError *e) {
        const struct {
                bool broken;
                const char *section, *name, *message;
        } rules[] = {
                { c->cluster_name && !c->cluster_etcd,
                  "Cluster",
                  "Name",
                  "a cluster needs at least one Etcd= URL (an empty Etcd= empties the list)" },
                { !c->cluster_name && c->cluster_etcd,
                  "Cluster",
                  "Etcd",
                  "Etcd= needs [Cluster] Name=, the cluster whose keys it holds (a host in no cluster sets "
                  "neither)" },
                { c->cluster_etcd_certificate && !c->cluster_etcd_key,
                  "Cluster",
                  "EtcdCertificate",
                  "EtcdCertificate= needs EtcdKey=, the client certificate's key (both or neither)" },
                { c->cluster_etcd_key && !c->cluster_etcd_certificate,
                  "Cluster",
                  "EtcdKey",
                  "EtcdKey= needs EtcdCertificate=, the client certificate (both or neither)" },
                { c->lb_driver == LB_DRIVER_HAPROXY && !c->lb_sockets,
                  "LoadBalancer",
                  "Driver",
                  "Driver=haproxy needs Socket=, at least one HAProxy admin socket" },
                { c->lb_driver == LB_DRIVER_HAPROXY && !c->lb_backend,
                  "LoadBalancer",
                  "Driver",
                  "Driver=haproxy needs Backend=, the HAProxy backend this server is in" },
        };

        for (size_t i = 0; i < ELEMENTSOF(rules); i++) {
                const KeyOrigin *o;
                _cleanup_free_ char *key = NULL;

                if (!rules[i].broken)
                        continue;
                o = &origins[key_find(rules[i].section, rules[i].name) - config_keys];
                if (asprintf(&key, "%s.%s", rules[i].section, rules[i].name) < 0)
                        return -ENOMEM;
                error_fill(
                        e, o->source > 0 ? c->sources[o->source - 1] : NULL, o->line, key, rules[i].message);
                return -EINVAL;
        }
        return 0;
}

/* the *.conf names of dir, sorted; none when dir does not exist */
static int list_conf_d(const char *dir, char ***ret) {
        _cleanup_strv_free_ char **names = NULL;
        DIR *d;
        struct dirent *de;
        int r = 0;

        d = opendir(dir);
        if (!d) {
                if (errno == ENOENT || errno == ENOTDIR) {
                        *ret = NULL;
                        return 0;
                }
                return -errno;
        }

        for (;;) {
                size_t l;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                r = -errno;
                        break;
                }
                l = strlen(de->d_name);
                if (de->d_name[0] == '.' || l <= strlen(".conf") ||
                    !streq(de->d_name + l - strlen(".conf"), ".conf"))
                        continue;
                r = strv_push(&names, de->d_name);
                if (r < 0)
                        break;
        }
        closedir(d);
        if (r < 0)
                return r;

        strv_sort(names, strv_length(names));
        *ret = TAKE_PTR(names);
        return 0;
}

/* root as given, or $CODEBOLT_UPGRADE_ROOT, without trailing slashes ("" for /) */
static char *root_dir(const char *root) {
        char *r = strdup(root ?: paths_root());

        if (!r)
                return NULL;
        for (size_t l = strlen(r); l > 0 && r[l - 1] == '/'; l--)
                r[l - 1] = 0;
        return r;
}

int config_list_deployments(const char *root, char ***ret) {
        _cleanup_free_ char *rootdir = root_dir(root), *dir = NULL;
        _cleanup_strv_free_ char **names = NULL;
        int r;

        if (!rootdir || asprintf(&dir, "%s" ETC_DIR "/deployments", rootdir) < 0)
                return -ENOMEM;
        r = list_conf_d(dir, &names);
        if (r < 0)
                return r;
        STRV_FOREACH (name, names)
                (*name)[strlen(*name) - strlen(".conf")] = 0;

        *ret = TAKE_PTR(names);
        return 0;
}

int config_load(const char *root, const char *deployment, Config *ret, ConfigError *ret_error) {
        _cleanup_(config_done) Config c = {}, defaults = {};
        _cleanup_free_ char *rootdir = NULL, *vendor = NULL, *etc = NULL, *dropins = NULL, *own = NULL;
        _cleanup_strv_free_ char **names = NULL;
        KeyOrigin origins[ELEMENTSOF(config_keys)] = {};
        bool is_default;
        int r;

        /* an empty name loads the default deployment too */
        is_default = (deployment && !*deployment) || config_deployment_is_default(deployment);
        if (!is_default && !config_deployment_name_is_valid(deployment)) {
                error_fill(
                        ret_error, NULL, 0, NULL, "invalid deployment name: use letters, digits, _ and -");
                return -EINVAL;
        }

        rootdir = root_dir(root);
        if (!rootdir)
                return -ENOMEM;

        r = config_init_defaults(&defaults);
        if (r < 0)
                return r;
        r = config_init_defaults(&c);
        if (r < 0)
                return r;
        if (!is_default) {
                r = set_string(&c.deployment, deployment);
                if (r < 0)
                        return r;
        }

        if (asprintf(&vendor, "%s" VENDOR_CONF, rootdir) < 0 ||
            asprintf(&etc, "%s" ETC_DIR "/upgrade.conf", rootdir) < 0 ||
            asprintf(&dropins, "%s" ETC_DIR "/upgrade.conf.d", rootdir) < 0)
                return -ENOMEM;

        r = config_apply_file(&c, &defaults, origins, vendor, false, false, ret_error);
        if (r < 0)
                return r;
        r = config_apply_file(&c, &defaults, origins, etc, false, false, ret_error);
        if (r < 0)
                return r;

        r = list_conf_d(dropins, &names);
        if (r < 0) {
                error_fill(ret_error, dropins, 0, NULL, "cannot list the directory");
                return r;
        }
        STRV_FOREACH (name, names) {
                _cleanup_free_ char *path = NULL;

                if (asprintf(&path, "%s/%s", dropins, *name) < 0)
                        return -ENOMEM;
                r = config_apply_file(&c, &defaults, origins, path, false, true, ret_error);
                if (r < 0)
                        return r;
        }

        if (!is_default) {
                if (asprintf(&own, "%s" ETC_DIR "/deployments/%s.conf", rootdir, deployment) < 0)
                        return -ENOMEM;
                r = config_apply_file(&c, &defaults, origins, own, true, false, ret_error);
                if (r < 0)
                        return r;
        }

        r = config_check_rules(&c, origins, ret_error);
        if (r < 0)
                return r;

        *ret = c;
        c = (Config){};
        return 0;
}
