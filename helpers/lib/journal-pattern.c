/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* journal-pattern.c: see journal-pattern.h */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "journal-pattern.h"
#include "macro.h"

#define WORD_BOUNDARY_BEFORE "(^|[^[:alnum:]_])"
#define WORD_BOUNDARY_AFTER "($|[^[:alnum:]_])"

int journal_error_pattern_translate(const char *pattern, char **ret) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0;
        bool in_bracket = false;
        char prev = 0; /* the last pattern character written outside a bracket, 0 at the start */

        if (!pattern || !ret)
                return -EINVAL;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        for (const char *p = pattern; *p; p++) {
                if (in_bracket) {
                        /* [:alnum:] and friends may hold a ']' of their own */
                        if (p[0] == '[' && p[1] == ':') {
                                const char *e = strstr(p + 2, ":]");
                                if (e) {
                                        fwrite(p, 1, (size_t)(e + 2 - p), f);
                                        p = e + 1;
                                        continue;
                                }
                        }
                        fputc(*p, f);
                        if (*p == ']')
                                in_bracket = false;
                        continue;
                }

                if (*p == '[') {
                        fputc(*p++, f);
                        if (*p == '^')
                                fputc(*p++, f);
                        if (*p == ']') /* a leading ']' is a literal */
                                fputc(*p++, f);
                        p--;
                        in_bracket = true;
                        prev = '[';
                        continue;
                }

                if (*p == '\\' && p[1] == 'b') {
                        /* a boundary opening the pattern or an alternative comes before a word */
                        bool before = prev == 0 || prev == '(' || prev == '|' || prev == '^';
                        fputs(before ? WORD_BOUNDARY_BEFORE : WORD_BOUNDARY_AFTER, f);
                        prev = ')';
                        p++;
                        continue;
                }

                if (*p == '\\' && p[1]) {
                        fputc(*p++, f);
                        fputc(*p, f);
                        prev = *p;
                        continue;
                }

                fputc(*p, f);
                prev = *p;
        }

        if (in_bracket)
                return -EINVAL;
        if (fclose(TAKE_PTR(f)) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* the end of the bracket expression at p ('['), past its ']'; the end of the string when unclosed */
static const char *bracket_end(const char *p) {
        p++;
        if (*p == '^')
                p++;
        if (*p == ']') /* a leading ']' is a literal */
                p++;
        for (; *p && *p != ']'; p++)
                /* [:alpha:], [.x.], [=e=] may hold a ']' of their own */
                if (p[0] == '[' && strchr(":.=", p[1])) {
                        char close[3] = { p[1], ']', 0 };
                        const char *e = strstr(p + 2, close);

                        if (!e)
                                return p + strlen(p);
                        p = e + 1;
                }
        return *p ? p + 1 : p;
}

/* {n}, {n,}, {n,m}, {,m} at p: its end and the positions glibc makes of one of the atom: a copy for
 * each required one, and each optional one (m - n of them) nests an alternative and costs about twice
 * that. NULL when p is not an interval (then '{' is an ordinary character); *ret_count is UINT_MAX when
 * a count is above the bound. */
static const char *interval_end(const char *p, unsigned *ret_count) {
        unsigned n[2] = {}, k = 0;
        bool digits[2] = {}, comma = false;

        for (p++;; p++) {
                if (*p >= '0' && *p <= '9') {
                        n[k] = n[k] > JOURNAL_ERROR_PATTERN_DUP_MAX ? n[k]
                                                                    : n[k] * 10 + (unsigned)(*p - '0');
                        digits[k] = true;
                } else if (*p == ',' && !comma) {
                        comma = true;
                        k = 1;
                } else if (*p == '}')
                        break;
                else
                        return NULL;
        }
        if (!digits[0] && !digits[1])
                return NULL;
        if (n[0] > JOURNAL_ERROR_PATTERN_DUP_MAX || n[1] > JOURNAL_ERROR_PATTERN_DUP_MAX)
                *ret_count = UINT_MAX;
        else if (!comma)
                *ret_count = n[0];
        else if (!digits[1]) /* {n,}: n copies and a star */
                *ret_count = n[0] + 1;
        else
                *ret_count = n[1] > n[0] ? n[0] + 2 * (n[1] - n[0]) : n[0];
        if (*ret_count == 0)
                *ret_count = 1;
        return p + 1;
}

int journal_error_pattern_check(const char *pattern, char **ret_why) {
        /* per open group: the positions so far, and those of its last item (what a repetition copies) */
        struct {
                unsigned long total, last;
        } stack[JOURNAL_ERROR_PATTERN_DEPTH_MAX + 1] = {};
        size_t depth = 0;
        bool can_repeat = false, repeated = false;

        if (!pattern)
                return -EINVAL;
        if (strlen(pattern) > JOURNAL_ERROR_PATTERN_MAX)
                return errmsg_set(ret_why, -EINVAL, "longer than %d bytes", JOURNAL_ERROR_PATTERN_MAX);

        for (const char *p = pattern; *p;) {
                size_t at = (size_t)(p - pattern) + 1;
                const char *next = p + 1;
                unsigned long size = 1, copies = 0;

                switch (*p) {
                case '\\':
                        if (p[1] >= '1' && p[1] <= '9')
                                return errmsg_set(
                                        ret_why,
                                        -EINVAL,
                                        "a back-reference (\\%c) at character %zu: matching one can take "
                                        "exponential time",
                                        p[1],
                                        at);
                        if (p[1])
                                next = p + 2;
                        break;
                case '[':
                        next = bracket_end(p);
                        break;
                case '(':
                        if (depth == JOURNAL_ERROR_PATTERN_DEPTH_MAX)
                                return errmsg_set(
                                        ret_why,
                                        -EINVAL,
                                        "parentheses nested deeper than %d (at character %zu)",
                                        JOURNAL_ERROR_PATTERN_DEPTH_MAX,
                                        at);
                        depth++;
                        stack[depth].total = stack[depth].last = 0;
                        can_repeat = repeated = false;
                        p = next;
                        continue;
                case ')':
                        /* an unmatched one is regcomp()'s to judge */
                        if (depth > 0) {
                                size = stack[depth].total ?: 1;
                                depth--;
                        }
                        break;
                case '|':
                        can_repeat = repeated = false;
                        p = next;
                        continue;
                case '*':
                case '?':
                        copies = 1;
                        break;
                case '+': /* x+ is xx* */
                        copies = 2;
                        break;
                case '{': {
                        unsigned count;
                        const char *e = interval_end(p, &count);

                        if (!e)
                                break;
                        if (count == UINT_MAX)
                                return errmsg_set(
                                        ret_why,
                                        -EINVAL,
                                        "a repetition count above %d at character %zu",
                                        JOURNAL_ERROR_PATTERN_DUP_MAX,
                                        at);
                        copies = count;
                        next = e;
                        break;
                }
                }

                if (copies > 0 && repeated)
                        return errmsg_set(
                                ret_why,
                                -EINVAL,
                                "a repetition operator right after another at character %zu (as in x++ or "
                                "a*?): POSIX leaves it undefined, and a run of them costs regcomp() "
                                "exponential time and memory",
                                at);
                if (copies > 0 && can_repeat) {
                        stack[depth].total += stack[depth].last * (copies - 1);
                        stack[depth].last *= copies;
                        repeated = true;
                } else {
                        /* an atom, or a repetition operator with nothing to repeat, taken literally */
                        stack[depth].total += size;
                        stack[depth].last = size;
                        can_repeat = true;
                        repeated = false;
                }
                if (stack[depth].total > JOURNAL_ERROR_PATTERN_SIZE_MAX)
                        return errmsg_set(
                                ret_why,
                                -EINVAL,
                                "its repetitions unroll to more than %d positions (at character %zu): use "
                                "smaller counts in {n,m} and fewer nested repetitions",
                                JOURNAL_ERROR_PATTERN_SIZE_MAX,
                                at);
                p = next;
        }
        return 0;
}

#define ERROR_REGEX_FLAGS (REG_EXTENDED | REG_ICASE | REG_NOSUB)

/* glibc's regcomp() knows \b; musl's and the BSDs' take it as a plain 'b' or reject it */
static bool regcomp_has_word_boundary(void) {
        static int cached = -1;
        regex_t re;

        if (cached >= 0)
                return cached;
        if (regcomp(&re, "a\\b", ERROR_REGEX_FLAGS) != 0)
                return (cached = 0);
        cached = regexec(&re, "a", 0, NULL, 0) == 0 && regexec(&re, "a-", 0, NULL, 0) == 0 &&
                 regexec(&re, "ab", 0, NULL, 0) != 0;
        regfree(&re);
        return cached;
}

int journal_compile_error_pattern(const char *pattern, regex_t *ret) {
        _cleanup_free_ char *translated = NULL;
        regex_t re;
        int r;

        if (!pattern || !ret)
                return -EINVAL;
        r = journal_error_pattern_check(pattern, NULL);
        if (r < 0)
                return r;

        if (strstr(pattern, "\\b") && !regcomp_has_word_boundary()) {
                r = journal_error_pattern_translate(pattern, &translated);
                if (r < 0)
                        return r;
                pattern = translated;
        }

        r = regcomp(&re, pattern, ERROR_REGEX_FLAGS);
        if (r == REG_ESPACE)
                return -ENOMEM;
        if (r != 0)
                return -EINVAL;
        *ret = re;
        return 0;
}
