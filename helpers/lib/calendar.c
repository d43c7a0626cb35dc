/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* calendar.c: whether a calendar event (systemd.time(7)) is safe to write as a timer's OnCalendar= */
#define _GNU_SOURCE
#include <assert.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>

#include "calendar.h"
#include "errmsg.h"
#include "macro.h"

#define USEC_PER_SEC_LL 1000000LL
/* the years systemd's calendar specs can name */
#define YEAR_MIN 1970
#define YEAR_MAX 2199
/* longer than any event written by hand; keeps every number below far from overflow */
#define SPEC_MAX 256
#define ZONE_NAME_MAX 128

typedef struct Field {
        const char *name;
        long long from, to; /* seconds: in µs */
        bool usec;
        bool year;
} Field;

static const Field field_year = { "year", YEAR_MIN, YEAR_MAX, false, true };
static const Field field_month = { "month", 1, 12, false, false };
static const Field field_day = { "day", 1, 31, false, false };
static const Field field_hour = { "hour", 0, 23, false, false };
static const Field field_minute = { "minute", 0, 59, false, false };
static const Field field_second = { "second", 0, 60 * USEC_PER_SEC_LL - 1, true, false };

/* a whole number (seconds: with up to 6 decimals, in µs); *p moves past it */
static int parse_number(const char **p, const Field *f, long long *ret) {
        const char *s = *p;
        long long v = 0;
        size_t n = strspn(s, "0123456789");

        if (n == 0 || n > 9)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                v = v * 10 + (s[i] - '0');
        s += n;
        if (f->usec) {
                v *= USEC_PER_SEC_LL;
                /* "1.5" is a decimal, "1..5" a range */
                if (s[0] == '.' && s[1] != '.') {
                        long long scale = USEC_PER_SEC_LL / 10;

                        s++;
                        n = strspn(s, "0123456789");
                        if (n == 0 || n > 6)
                                return -EINVAL;
                        for (size_t i = 0; i < n; i++, scale /= 10)
                                v += (s[i] - '0') * scale;
                        s += n;
                }
        }
        *p = s;
        *ret = v;
        return 0;
}

/* systemd reads the years 0-69 as 2000-2069 and 70-99 as 1970-1999 */
static long long fix_year(const Field *f, long long v) {
        if (!f->year || v < 0)
                return v;
        if (v < 70)
                return v + 2000;
        if (v < 100)
                return v + 1900;
        return v;
}

static long long shown(const Field *f, long long v) {
        return f->usec ? v / USEC_PER_SEC_LL : v;
}

/* One field: '*' or a ','-list of N[..M][/R], up to its end. end_of_month: the day counts from the end
 * of the month, where systemd allows only the last 28. */
static int not_a_list(const Field *f, const char *text, char **ret_why) {
        return errmsg_set(ret_why, -EINVAL, "the %s '%s' is not '*' or a list of numbers", f->name, text);
}

static int check_field(const char *s, size_t len, const Field *f, bool end_of_month, char **ret_why) {
        _cleanup_free_ char *text = strndup(s, len);
        long long to = f->to - (end_of_month ? 3 : 0);
        const char *p;

        if (!text)
                return -ENOMEM;
        if (streq(text, "*"))
                return 0;
        if (len == 0)
                return errmsg_set(ret_why, -EINVAL, "the %s is empty", f->name);
        /* systemd narrows the bound again for each further day of such a list: one is always right */
        if (end_of_month && strchr(text, ','))
                return errmsg_set(
                        ret_why,
                        -EINVAL,
                        "the day '%s' counted from the end of the month ('~') must be one value or range",
                        text);

        for (p = text;;) {
                long long start, stop = -1, repeat = 0;

                if (parse_number(&p, f, &start) < 0)
                        return not_a_list(f, text, ret_why);
                if (p[0] == '.' && p[1] == '.') {
                        p += 2;
                        if (parse_number(&p, f, &stop) < 0)
                                return errmsg_set(
                                        ret_why, -EINVAL, "the %s range in '%s' has no end", f->name, text);
                        repeat = f->usec ? USEC_PER_SEC_LL : 1;
                }
                if (*p == '/') {
                        p++;
                        if (parse_number(&p, f, &repeat) < 0 || repeat == 0)
                                return errmsg_set(
                                        ret_why,
                                        -EINVAL,
                                        "the %s repetition in '%s' is not a number above 0",
                                        f->name,
                                        text);
                }
                if (*p != 0 && *p != ',')
                        return not_a_list(f, text, ret_why);

                start = fix_year(f, start);
                stop = fix_year(f, stop);
                /* as systemd: a range ends on its last repetition */
                if (stop > start && repeat > 0)
                        stop -= (stop - start) % repeat;

                if (start < f->from || start > to || (stop >= 0 && (stop < f->from || stop > to)))
                        return errmsg_set(
                                ret_why,
                                -EINVAL,
                                "the %s in '%s' is outside %lld..%lld%s",
                                f->name,
                                text,
                                shown(f, f->from),
                                shown(f, to),
                                end_of_month ? " (counting from the end of the month)" : "");
                if (repeat > to - f->from || (stop >= 0 && start + repeat > stop) ||
                    (stop < 0 && !end_of_month && start + repeat > to) ||
                    (stop < 0 && end_of_month && start - repeat < f->from))
                        return errmsg_set(
                                ret_why,
                                -EINVAL,
                                "the %s in '%s' is an empty range or repeats past the %s's end",
                                f->name,
                                text,
                                f->name);

                if (*p == 0)
                        return 0;
                p++; /* ',': a value must follow */
        }
}

/* a ','-list of weekdays and weekday ranges (Mon..Fri, or the older Mon-Fri) */
static int check_weekdays(const char *s, char **ret_why) {
        static const char *const days[] = {
                "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
        };

        for (const char *p = s;;) {
                int first = -1;

                for (;;) {
                        size_t n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
                        int day = -1;

                        for (size_t i = 0; i < ELEMENTSOF(days); i++)
                                if ((n == 3 || n == strlen(days[i])) && strncasecmp(p, days[i], n) == 0)
                                        day = (int)i;
                        if (day < 0)
                                return errmsg_set(
                                        ret_why,
                                        -EINVAL,
                                        "'%s' is not a weekday list like Mon..Fri or Sat,Sun",
                                        s);
                        p += n;
                        if (first >= 0) {
                                if (day < first)
                                        return errmsg_set(
                                                ret_why,
                                                -EINVAL,
                                                "the weekday range in '%s' runs backwards (the week starts "
                                                "on Monday)",
                                                s);
                                break;
                        }
                        if (p[0] == '.' && p[1] == '.')
                                p += 2;
                        else if (p[0] == '-')
                                p++;
                        else
                                break;
                        first = day;
                }
                if (*p == 0)
                        return 0;
                if (*p != ',' || p[1] == 0)
                        return errmsg_set(
                                ret_why, -EINVAL, "'%s' is not a weekday list like Mon..Fri or Sat,Sun", s);
                p++;
        }
}

/* [YYYY-]MM-DD, '~' before the day counting it from the end of the month */
static int check_date(const char *s, char **ret_why) {
        const char *seps[2];
        size_t n = 0;
        bool end_of_month;
        int r;

        for (const char *p = s; *p; p++)
                if (*p == '-' || *p == '~') {
                        if (n == ELEMENTSOF(seps))
                                return errmsg_set(
                                        ret_why, -EINVAL, "the date '%s' has more than three parts", s);
                        seps[n++] = p;
                }
        assert(n > 0);
        /* '~' only before the day */
        if (n == 2 && *seps[0] == '~')
                return errmsg_set(ret_why, -EINVAL, "in the date '%s', '~' may only come before the day", s);
        end_of_month = *seps[n - 1] == '~';

        if (n == 2) {
                r = check_field(s, (size_t)(seps[0] - s), &field_year, false, ret_why);
                if (r < 0)
                        return r;
        }
        r = check_field(
                n == 2 ? seps[0] + 1 : s,
                (size_t)(seps[n - 1] - (n == 2 ? seps[0] + 1 : s)),
                &field_month,
                false,
                ret_why);
        if (r < 0)
                return r;
        return check_field(seps[n - 1] + 1, strlen(seps[n - 1] + 1), &field_day, end_of_month, ret_why);
}

/* HH:MM[:SS] */
static int check_time(const char *s, char **ret_why) {
        const char *c1 = strchr(s, ':'), *c2;
        int r;

        assert(c1);
        c2 = strchr(c1 + 1, ':');
        if (c2 && strchr(c2 + 1, ':'))
                return errmsg_set(ret_why, -EINVAL, "the time '%s' has more than three parts", s);

        r = check_field(s, (size_t)(c1 - s), &field_hour, false, ret_why);
        if (r < 0)
                return r;
        r = check_field(c1 + 1, c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1), &field_minute, false, ret_why);
        if (r < 0 || !c2)
                return r;
        return check_field(c2 + 1, strlen(c2 + 1), &field_second, false, ret_why);
}

/* UTC, or a zone whose file systemd would find: a TZif file under CALENDAR_ZONEINFO_DIR */
static bool zone_is_valid(const char *name) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        char magic[4];
        struct stat st;

        if (strcasecmp(name, "UTC") == 0)
                return true;
        if (!*name || strlen(name) > ZONE_NAME_MAX || name[0] == '/' || name[0] == '.' ||
            strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-") !=
                    strlen(name) ||
            strstr(name, "//") || name[strlen(name) - 1] == '/')
                return false;
        if (asprintf(&path, CALENDAR_ZONEINFO_DIR "/%s", name) < 0)
                return false;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return false;
        return read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) && memcmp(magic, "TZif", 4) == 0;
}

static bool is_shorthand(const char *s) {
        static const char *const names[] = {
                "minutely", "hourly",    "daily",        "weekly",     "monthly",       "yearly",
                "annually", "quarterly", "semiannually", "biannually", "semi-annually", "bi-annually",
        };

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcasecmp(s, names[i]) == 0)
                        return true;
        return false;
}

int calendar_spec_check(const char *spec, char **ret_why) {
        _cleanup_strv_free_ char **parts = NULL;
        size_t n = 0, i = 0;
        int r;

        if (!spec || !*spec)
                return errmsg_set(ret_why, -EINVAL, "empty");
        if (strlen(spec) > SPEC_MAX)
                return errmsg_set(ret_why, -EINVAL, "longer than %d characters", SPEC_MAX);
        for (const char *p = spec; *p; p++) {
                /* at the end of OnCalendar=, it would continue the line into the unit's next setting */
                if (*p == '\\')
                        return errmsg_set(
                                ret_why,
                                -EINVAL,
                                "a '\\' has no place in a calendar event (at the end of the line it would "
                                "join the timer's next setting to it)");
                if (*p < ' ' || *p > '~')
                        return errmsg_set(
                                ret_why,
                                -EINVAL,
                                "character %zu is not printable ASCII",
                                (size_t)(p - spec) + 1);
        }
        if (spec[0] == ' ' || spec[strlen(spec) - 1] == ' ' || strstr(spec, "  "))
                return errmsg_set(ret_why, -EINVAL, "its parts must be separated by single spaces");

        /* split at the spaces */
        parts = calloc(strlen(spec) / 2 + 2, sizeof(char *));
        if (!parts)
                return -ENOMEM;
        for (const char *p = spec; *p;) {
                size_t l = strcspn(p, " ");

                parts[n] = strndup(p, l);
                if (!parts[n++])
                        return -ENOMEM;
                p += l + (p[l] ? 1 : 0);
        }

        if (n > 1 && zone_is_valid(parts[n - 1]))
                n--;

        if (n == 1 && is_shorthand(parts[0]))
                return 0;

        if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", parts[i][0])) {
                r = check_weekdays(parts[i++], ret_why);
                if (r < 0)
                        return r;
        }
        if (i < n && strpbrk(parts[i], "-~") && !strchr(parts[i], ':')) {
                r = check_date(parts[i++], ret_why);
                if (r < 0)
                        return r;
        }
        if (i < n && strchr(parts[i], ':')) {
                r = check_time(parts[i++], ret_why);
                if (r < 0)
                        return r;
        }
        if (i < n)
                return errmsg_set(
                        ret_why,
                        -EINVAL,
                        "'%s' is not a weekday, a date (YYYY-MM-DD), a time (HH:MM[:SS]), UTC or a time "
                        "zone "
                        "of " CALENDAR_ZONEINFO_DIR " in its place",
                        parts[i]);
        return 0;
}
