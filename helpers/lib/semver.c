/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* semver.c: exact SemVer 2.0.0 versions, their precedence, and npm's range subset */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>

#include "macro.h"
#include "semver.h"

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

#define DIGITS "0123456789"
#define IDENT_CHARS DIGITS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-"
#define VERSION_CHARS IDENT_CHARS ".+"

/* the reasons semver_why_invalid() gives; compared by address */
static const char why_empty[] = "empty: name an exact version such as 1.5.0";
static const char why_too_long[] = "longer than " STRINGIFY(SEMVER_MAX_LEN) " characters";
static const char why_chars[] = "only [0-9A-Za-z.+-] may appear in a version";
static const char why_three[] = "a version has three numbers: major.minor.patch";
static const char why_leading_zero[] = "a number in a version has no leading zeros (1.5.0, not 01.05.00)";
static const char why_empty_ident[] =
        "a version has no empty parts (nothing between two dots, or after '-' or '+')";
static const char why_too_large[] = "a number in a version is too large";
static const char why_plus[] = "'+' appears once in a version, before the build metadata";
static const char why_v[] = "a leading 'v' is not part of the version";
static const char why_range[] = "a range is not an exact version";
static const char why_tag[] = "a tag is not a version: name an exact version such as 1.5.0";
static const char why_other[] = "not an exact SemVer 2.0.0 version (such as 1.5.0 or 1.5.0-rc.1)";

/* a version as views into some string, for comparing without allocating */
typedef struct Version {
        uint64_t num[3];
        const char *pre; /* dot-separated identifiers, not NUL-terminated */
        size_t pre_len;  /* 0: no prerelease */
} Version;

static int sign(int r) {
        return (r > 0) - (r < 0);
}

static bool all_digits(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return n > 0;
}

/* a numeric identifier: "0" or digits without a leading zero, fitting uint64_t */
static const char *parse_number(const char *s, size_t n, uint64_t *ret) {
        uint64_t v = 0;

        if (!all_digits(s, n))
                return why_three;
        if (n > 1 && s[0] == '0')
                return why_leading_zero;
        for (size_t i = 0; i < n; i++) {
                unsigned d = (unsigned)(s[i] - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return why_too_large;
                v = v * 10 + d;
        }
        *ret = v;
        return NULL;
}

/* dot-separated identifiers of [0-9A-Za-z-]; numeric ones without leading zeros when strict (prerelease,
 * not build metadata) */
static const char *check_identifiers(const char *s, size_t n, bool strict) {
        if (n == 0)
                return why_empty_ident;

        for (size_t i = 0; i <= n;) {
                size_t l = 0;

                while (i + l < n && s[i + l] != '.')
                        l++;
                if (l == 0)
                        return why_empty_ident;
                for (size_t k = 0; k < l; k++)
                        if (!strchr(IDENT_CHARS, s[i + k]) || s[i + k] == 0)
                                return s[i + k] == '+' ? why_plus : why_chars;
                if (strict && l > 1 && s[i] == '0' && all_digits(s + i, l))
                        return why_leading_zero;
                i += l + 1;
        }
        return NULL;
}

typedef struct Parsed {
        Version v;
        const char *build;
        size_t build_len; /* 0: no build metadata */
} Parsed;

/* NULL when s is an exact version (and *ret filled), else why not */
static const char *parse_exact(const char *s, Parsed *ret) {
        Parsed p = {};
        const char *why, *c;
        size_t n, core;

        n = strnlen(s, SEMVER_MAX_LEN + 1);
        if (n == 0)
                return why_empty;
        if (n > SEMVER_MAX_LEN)
                return why_too_long;
        if (s[strspn(s, VERSION_CHARS)] != 0)
                return why_chars;

        core = strcspn(s, "-+");
        c = s;
        for (unsigned i = 0; i < 3; i++) {
                size_t l = strcspn(c, ".-+");

                if (c + l > s + core || (i < 2 && c[l] != '.') || (i == 2 && c + l != s + core))
                        return why_three;
                why = parse_number(c, l, &p.v.num[i]);
                if (why)
                        return why;
                c += l + 1;
        }

        c = s + core;
        if (*c == '-') {
                p.v.pre = c + 1;
                p.v.pre_len = strcspn(p.v.pre, "+");
                why = check_identifiers(p.v.pre, p.v.pre_len, true);
                if (why)
                        return why;
                c = p.v.pre + p.v.pre_len;
        }
        if (*c == '+') {
                p.build = c + 1;
                p.build_len = strlen(p.build);
                why = check_identifiers(p.build, p.build_len, false);
                if (why)
                        return why;
        }

        *ret = p;
        return NULL;
}

int semver_parse(const char *s, SemVer *ret) {
        _cleanup_free_ char *pre = NULL, *build = NULL;
        Parsed p;

        if (!s)
                return -EINVAL;
        if (strnlen(s, SEMVER_MAX_LEN + 1) > SEMVER_MAX_LEN)
                return -E2BIG;
        if (parse_exact(s, &p))
                return -EINVAL;

        if (p.v.pre_len > 0) {
                pre = strndup(p.v.pre, p.v.pre_len);
                if (!pre)
                        return -ENOMEM;
        }
        if (p.build_len > 0) {
                build = strndup(p.build, p.build_len);
                if (!build)
                        return -ENOMEM;
        }

        *ret = (SemVer){
                .major = p.v.num[0],
                .minor = p.v.num[1],
                .patch = p.v.num[2],
                .prerelease = TAKE_PTR(pre),
                .build = TAKE_PTR(build),
        };
        return 0;
}

void semver_done(SemVer *v) {
        if (!v)
                return;
        free(v->prerelease);
        free(v->build);
        *v = (SemVer){};
}

static int compare_identifier(const char *a, size_t an, const char *b, size_t bn) {
        bool na = all_digits(a, an), nb = all_digits(b, bn);
        int r;

        /* numeric identifiers carry no leading zeros, so length orders them before the digits do */
        if (na && nb) {
                if (an != bn)
                        return an < bn ? -1 : 1;
                return sign(memcmp(a, b, an));
        }
        if (na != nb)
                return na ? -1 : 1;

        r = memcmp(a, b, an < bn ? an : bn);
        if (r != 0)
                return sign(r);
        return an < bn ? -1 : an > bn;
}

static int compare_prerelease(const char *a, size_t an, const char *b, size_t bn) {
        size_t i = 0, j = 0;

        /* a version without a prerelease outranks every prerelease of it */
        if (an == 0 || bn == 0)
                return an == bn ? 0 : an == 0 ? 1 : -1;

        for (;;) {
                size_t al = 0, bl = 0;
                int r;

                if (i > an || j > bn)
                        return i > an ? (j > bn ? 0 : -1) : 1;

                while (i + al < an && a[i + al] != '.')
                        al++;
                while (j + bl < bn && b[j + bl] != '.')
                        bl++;
                r = compare_identifier(a + i, al, b + j, bl);
                if (r != 0)
                        return r;
                i += al + 1;
                j += bl + 1;
        }
}

static int version_compare(const Version *a, const Version *b) {
        for (unsigned i = 0; i < 3; i++)
                if (a->num[i] != b->num[i])
                        return a->num[i] < b->num[i] ? -1 : 1;
        return compare_prerelease(a->pre, a->pre_len, b->pre, b->pre_len);
}

static Version version_of(const SemVer *v) {
        return (Version){
                .num = { v->major, v->minor, v->patch },
                .pre = v->prerelease,
                .pre_len = v->prerelease ? strlen(v->prerelease) : 0,
        };
}

int semver_compare(const SemVer *a, const SemVer *b) {
        Version va = version_of(a), vb = version_of(b);

        return version_compare(&va, &vb);
}

int semver_to_string(const SemVer *v, char **ret) {
        char *s;

        if (asprintf(
                    &s,
                    "%" PRIu64 ".%" PRIu64 ".%" PRIu64 "%s%s%s%s",
                    v->major,
                    v->minor,
                    v->patch,
                    v->prerelease ? "-" : "",
                    strempty(v->prerelease),
                    v->build ? "+" : "",
                    strempty(v->build)) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static bool is_wildcard(const char *s, size_t n) {
        return n == 1 && strchr("xX*", s[0]);
}

/* 1.5.x, 1.x, *, x: a version with a wildcard for a number */
static bool looks_like_xrange(const char *s) {
        size_t core = strcspn(s, "-+"), parts = 0;
        bool wild = false;

        for (size_t i = 0; i <= core;) {
                size_t l = strcspn(s + i, ".-+");

                if (i + l > core)
                        l = core - i;
                if (is_wildcard(s + i, l))
                        wild = true;
                else if (!all_digits(s + i, l))
                        return false;
                parts++;
                i += l + 1;
        }
        return wild && parts <= 3;
}

static bool looks_like_range(const char *s) {
        const char *h;

        if (strchr("^~<>=", s[0]) || strstr(s, "||") || looks_like_xrange(s))
                return true;

        /* 1.2.3 - 2.3.4 */
        h = strstr(s, " - ");
        return h && h > s && h[3] && strspn(s, VERSION_CHARS "*") == (size_t)(h - s) &&
               h[3 + strspn(h + 3, VERSION_CHARS "*")] == 0;
}

const char *semver_why_invalid(const char *s) {
        const char *why;
        Parsed p;

        if (!s || !*s)
                return why_empty;
        why = parse_exact(s, &p);
        if (!why)
                return NULL;
        if (why == why_too_long)
                return why;

        if (looks_like_range(s))
                return why_range;
        if ((s[0] == 'v' || s[0] == 'V') && s[1] >= '0' && s[1] <= '9')
                return why_v;
        if (((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')) && why != why_chars) {
                if (streq(s, "latest"))
                        return "'latest' is a tag, not a version: name an exact version such as 1.5.0";
                if (streq(s, "next"))
                        return "'next' is a tag, not a version: name an exact version such as 1.5.0";
                return why_tag;
        }
        return why ?: why_other;
}

/* ---- npm ranges ---- */

/* a version with wildcards or missing numbers: 1, 1.5, 1.5.x, *, 1.5.0-rc.1 */
typedef struct Partial {
        uint64_t num[3];
        unsigned nx; /* index of the first wildcard or missing number; 3 when exact */
        const char *pre;
        size_t pre_len;
        bool decorated; /* written with a leading 'v' or with build metadata */
} Partial;

static int parse_partial(const char *s, size_t n, Partial *ret) {
        Partial p = { .nx = 3 };
        size_t i = 0;
        unsigned count = 0;

        /* npm accepts a leading v in ranges */
        if (n > 0 && s[0] == 'v') {
                p.decorated = true;
                i++;
        }

        for (;;) {
                size_t l = 0;

                while (i + l < n && !strchr(".-+", s[i + l]))
                        l++;
                if (is_wildcard(s + i, l)) {
                        if (p.nx == 3)
                                p.nx = count;
                } else if (p.nx != 3 || parse_number(s + i, l, &p.num[count]))
                        /* 1.x.3 means nothing (npm takes it after ^, ~ and in hyphen ranges only) */
                        return -EINVAL;
                count++;
                i += l;
                if (count == 3 || i >= n || s[i] != '.')
                        break;
                i++;
        }
        if (count < 3) {
                if (i < n)
                        return -EINVAL;
                if (p.nx == 3)
                        p.nx = count;
        }

        if (i < n && s[i] == '-') {
                size_t l = 0;

                i++;
                while (i + l < n && s[i + l] != '+')
                        l++;
                if (check_identifiers(s + i, l, true))
                        return -EINVAL;
                /* npm ignores a prerelease on a wildcard version */
                if (p.nx == 3) {
                        p.pre = s + i;
                        p.pre_len = l;
                }
                i += l;
        }
        if (i < n && s[i] == '+') {
                i++;
                if (check_identifiers(s + i, n - i, false))
                        return -EINVAL;
                p.decorated = true;
                i = n;
        }
        if (i != n)
                return -EINVAL;

        *ret = p;
        return 0;
}

typedef enum Op {
        OP_NONE, /* no operator: a bare version */
        OP_EQ,
        OP_LT,
        OP_LE,
        OP_GT,
        OP_GE,
        OP_TILDE,
        OP_CARET,
} Op;

/* one comparator: v op b */
typedef struct Comparator {
        Op op; /* OP_EQ, OP_LT, OP_LE, OP_GT or OP_GE */
        Version b;
} Comparator;

struct SemVerRange {
        char *text;    /* the range; the comparators' prereleases point into it */
        Comparator *c; /* every comparator, set after set */
        size_t n, n_alloc;
        size_t *set_end; /* set i is c[set_end[i-1] (0 for i = 0) .. set_end[i]) */
        size_t n_sets, n_sets_alloc;
        bool oom;
};

DEFINE_TRIVIAL_CLEANUP_FUNC(SemVerRange *, semver_range_free);

static char prerelease_zero[] = "0";

static void emit_comparator(SemVerRange *e, Op op, const Version *b) {
        if (e->oom)
                return;
        if (e->n == e->n_alloc) {
                size_t k = e->n_alloc ? e->n_alloc * 2 : 8;
                Comparator *c = reallocarray(e->c, k, sizeof(Comparator));

                if (!c) {
                        e->oom = true;
                        return;
                }
                e->c = c;
                e->n_alloc = k;
        }
        e->c[e->n++] = (Comparator){ .op = op == OP_NONE ? OP_EQ : op, .b = *b };
}

static void emit(
        SemVerRange *e,
        Op op,
        uint64_t major,
        uint64_t minor,
        uint64_t patch,
        const char *pre,
        size_t pre_len) {
        Version b = { .num = { major, minor, patch }, .pre = pre, .pre_len = pre_len };

        /* npm turns >=0.0.0 into *, which matters for how || treats * */
        if (op == OP_GE && major == 0 && minor == 0 && patch == 0 && pre_len == 0)
                return;
        emit_comparator(e, op, &b);
}

/* a comparator on a version written out in full: npm drops only a >=0.0.0 spelt so or built by itself, so
 * >=v0.0.0 and >=0.0.0+build stay comparators (and no prerelease of 0.0.0 passes them) */
static void emit_exact(SemVerRange *e, Op op, const Partial *p) {
        Version b = { .num = { p->num[0], p->num[1], p->num[2] }, .pre = p->pre, .pre_len = p->pre_len };

        if (p->decorated)
                emit_comparator(e, op, &b);
        else
                emit(e, op, b.num[0], b.num[1], b.num[2], b.pre, b.pre_len);
}

/* <X.0.0-0 or the like: an upper bound that no prerelease of the bound itself passes */
static void emit_below(SemVerRange *e, uint64_t major, uint64_t minor, uint64_t patch) {
        emit(e, OP_LT, major, minor, patch, prerelease_zero, 1);
}

static int inc(uint64_t x, uint64_t *ret) {
        if (x == UINT64_MAX)
                return -EINVAL;
        *ret = x + 1;
        return 0;
}

static int emit_primitive(SemVerRange *e, Op op, const Partial *p) {
        uint64_t M = p->num[0], m = p->num[1];

        if (p->nx == 3) {
                emit_exact(e, op == OP_NONE ? OP_EQ : op, p);
                return 0;
        }

        if (op == OP_EQ)
                op = OP_NONE;
        if (p->nx == 0) {
                /* >* and <* allow nothing; everything else with * is any */
                if (op == OP_GT || op == OP_LT)
                        emit_below(e, 0, 0, 0);
                return 0;
        }
        if (p->nx == 1)
                m = 0;

        switch (op) {
        case OP_NONE:
                emit(e, OP_GE, M, m, 0, NULL, 0);
                if (p->nx == 1 ? inc(M, &M) : inc(m, &m))
                        return -EINVAL;
                emit_below(e, M, p->nx == 1 ? 0 : m, 0);
                return 0;
        case OP_GT: /* >1 is >=2.0.0, >1.2 is >=1.3.0 */
                if (p->nx == 1 ? inc(M, &M) : inc(m, &m))
                        return -EINVAL;
                emit(e, OP_GE, M, p->nx == 1 ? 0 : m, 0, NULL, 0);
                return 0;
        case OP_LE: /* <=1.2 is <1.3.0-0: every 1.2.x passes */
                if (p->nx == 1 ? inc(M, &M) : inc(m, &m))
                        return -EINVAL;
                emit_below(e, M, m, 0);
                return 0;
        case OP_LT:
                emit_below(e, M, m, 0);
                return 0;
        case OP_GE:
                emit(e, OP_GE, M, m, 0, NULL, 0);
                return 0;
        default:
                return -EINVAL;
        }
}

static int emit_tilde(SemVerRange *e, const Partial *p) {
        uint64_t next;

        switch (p->nx) {
        case 0:
                return 0;
        case 1:
                if (inc(p->num[0], &next))
                        return -EINVAL;
                emit(e, OP_GE, p->num[0], 0, 0, NULL, 0);
                emit_below(e, next, 0, 0);
                return 0;
        default:
                if (inc(p->num[1], &next))
                        return -EINVAL;
                emit(e, OP_GE, p->num[0], p->num[1], p->nx == 2 ? 0 : p->num[2], p->pre, p->pre_len);
                emit_below(e, p->num[0], next, 0);
                return 0;
        }
}

/* < the next version that changes the left-most non-zero of M.m(.patch, when with_patch; else of M.m,
 * where a 0.0 bumps the minor) */
static int emit_below_next_leftmost(
        SemVerRange *e, uint64_t M, uint64_t m, uint64_t patch, bool with_patch) {
        uint64_t next;

        if (M == 0 && m == 0 && with_patch) {
                if (inc(patch, &next))
                        return -EINVAL;
                emit_below(e, 0, 0, next);
        } else if (M == 0) {
                if (inc(m, &next))
                        return -EINVAL;
                emit_below(e, 0, next, 0);
        } else {
                if (inc(M, &next))
                        return -EINVAL;
                emit_below(e, next, 0, 0);
        }
        return 0;
}

static int emit_caret(SemVerRange *e, const Partial *p) {
        uint64_t M = p->num[0], m = p->num[1], next;

        switch (p->nx) {
        case 0:
                return 0;
        case 1:
                if (inc(M, &next))
                        return -EINVAL;
                emit(e, OP_GE, M, 0, 0, NULL, 0);
                emit_below(e, next, 0, 0);
                return 0;
        case 2:
                emit(e, OP_GE, M, m, 0, NULL, 0);
                return emit_below_next_leftmost(e, M, m, 0, false);
        default:
                /* the left-most non-zero number may not change */
                emit(e, OP_GE, M, m, p->num[2], p->pre, p->pre_len);
                return emit_below_next_leftmost(e, M, m, p->num[2], true);
        }
}

static int emit_hyphen(SemVerRange *e, const Partial *from, const Partial *to) {
        uint64_t next;

        if (from->nx == 3)
                emit_exact(e, OP_GE, from);
        else if (from->nx > 0)
                emit(e, OP_GE, from->num[0], from->nx > 1 ? from->num[1] : 0, 0, NULL, 0);

        switch (to->nx) {
        case 0:
                return 0;
        case 1:
                if (inc(to->num[0], &next))
                        return -EINVAL;
                emit_below(e, next, 0, 0);
                return 0;
        case 2:
                if (inc(to->num[1], &next))
                        return -EINVAL;
                emit_below(e, to->num[0], next, 0);
                return 0;
        default:
                emit(e, OP_LE, to->num[0], to->num[1], to->num[2], to->pre, to->pre_len);
                return 0;
        }
}

static bool is_space(char c) {
        return c == ' ' || c == '\t';
}

/* the next whitespace-separated word in s[*i..n), or false at the end */
static bool next_word(const char *s, size_t n, size_t *i, const char **ret, size_t *ret_len) {
        size_t start;

        while (*i < n && is_space(s[*i]))
                (*i)++;
        if (*i >= n)
                return false;
        start = *i;
        while (*i < n && !is_space(s[*i]))
                (*i)++;
        *ret = s + start;
        *ret_len = *i - start;
        return true;
}

static size_t parse_op(const char *w, size_t n, Op *ret) {
        static const struct {
                const char *s;
                Op op;
        } ops[] = {
                { ">=", OP_GE }, { "<=", OP_LE }, { "~>", OP_TILDE }, { ">", OP_GT },
                { "<", OP_LT },  { "=", OP_EQ },  { "~", OP_TILDE },  { "^", OP_CARET },
        };

        for (size_t k = 0; k < ELEMENTSOF(ops); k++) {
                size_t l = strlen(ops[k].s);
                if (n >= l && strncmp(w, ops[k].s, l) == 0) {
                        *ret = ops[k].op;
                        return l;
                }
        }
        *ret = OP_NONE;
        return 0;
}

/* one comparator set (no ||): appends its comparators to *e */
static int parse_set(const char *s, size_t n, SemVerRange *e) {
        const char *w[3], *word;
        size_t wl[3], l, i = 0, count = 0;
        Partial a, b;
        int r;

        while (next_word(s, n, &i, &word, &l)) {
                if (count < 3) {
                        w[count] = word;
                        wl[count] = l;
                }
                count++;
        }

        if (count == 3 && wl[1] == 1 && w[1][0] == '-') {
                if (parse_partial(w[0], wl[0], &a) < 0 || parse_partial(w[2], wl[2], &b) < 0)
                        return -EINVAL;
                return emit_hyphen(e, &a, &b);
        }

        i = 0;
        while (next_word(s, n, &i, &word, &l)) {
                size_t k;
                Op op;

                k = parse_op(word, l, &op);
                word += k;
                l -= k;
                /* ">= 1.2.3": the operator and its version may stand apart */
                if (l == 0 && op != OP_NONE && !next_word(s, n, &i, &word, &l))
                        return -EINVAL;

                if (parse_partial(word, l, &a) < 0)
                        return -EINVAL;

                if (op == OP_TILDE)
                        r = emit_tilde(e, &a);
                else if (op == OP_CARET)
                        r = emit_caret(e, &a);
                else
                        r = emit_primitive(e, op, &a);
                if (r < 0)
                        return r;
        }
        return 0;
}

SemVerRange *semver_range_free(SemVerRange *r) {
        if (!r)
                return NULL;
        free(r->text);
        free(r->c);
        free(r->set_end);
        free(r);
        return NULL;
}

int semver_range_parse(const char *range, SemVerRange **ret) {
        _cleanup_(semver_range_freep) SemVerRange *e = NULL;
        const char *s;

        if (!range)
                return -EINVAL;
        e = calloc(1, sizeof(SemVerRange));
        if (!e)
                return -ENOMEM;
        e->text = strdup(range);
        if (!e->text)
                return -ENOMEM;

        /* every alternative is parsed, so a malformed range fails however a version compares */
        for (s = e->text;;) {
                const char *end = strstr(s, "||");
                size_t n = end ? (size_t)(end - s) : strlen(s);
                int r;

                r = parse_set(s, n, e);
                if (e->oom)
                        return -ENOMEM;
                if (r < 0)
                        return r;
                if (e->n_sets == e->n_sets_alloc) {
                        size_t k = e->n_sets_alloc ? e->n_sets_alloc * 2 : 4;
                        size_t *ends = reallocarray(e->set_end, k, sizeof(size_t));

                        if (!ends)
                                return -ENOMEM;
                        e->set_end = ends;
                        e->n_sets_alloc = k;
                }
                e->set_end[e->n_sets++] = e->n;

                if (!end)
                        break;
                s = end + 2;
        }
        *ret = TAKE_PTR(e);
        return 0;
}

static bool comparator_holds(const Comparator *c, const Version *v) {
        int k = version_compare(v, &c->b);

        switch (c->op) {
        case OP_LT:
                return k < 0;
        case OP_LE:
                return k <= 0;
        case OP_GT:
                return k > 0;
        case OP_GE:
                return k >= 0;
        default:
                return k == 0;
        }
}

static size_t set_begin(const SemVerRange *r, size_t set) {
        return set == 0 ? 0 : r->set_end[set - 1];
}

int semver_range_match(const SemVerRange *r, const SemVer *v) {
        Version ver = version_of(v);
        bool any_set = false, match = false;

        for (size_t s = 0; s < r->n_sets; s++) {
                bool all = true, pre_allowed = false;

                if (set_begin(r, s) == r->set_end[s])
                        any_set = true;
                for (size_t i = set_begin(r, s); i < r->set_end[s]; i++) {
                        const Comparator *c = &r->c[i];

                        if (!comparator_holds(c, &ver))
                                all = false;
                        if (c->b.pre_len > 0 && memcmp(c->b.num, ver.num, sizeof(ver.num)) == 0)
                                pre_allowed = true;
                }
                if (all && (ver.pre_len == 0 || pre_allowed))
                        match = true;
        }

        /* npm reduces a range with a * alternative to *, which no prerelease satisfies */
        if (any_set)
                return ver.pre_len == 0;
        return match;
}

size_t semver_range_n_sets(const SemVerRange *r) {
        return r->n_sets;
}

/* an = comparator bounds from both sides: v >= b below, v <= b above */
bool semver_range_set_above_lower(const SemVerRange *r, size_t set, const SemVer *v) {
        Version ver = version_of(v);

        for (size_t i = set_begin(r, set); i < r->set_end[set]; i++) {
                const Comparator *c = &r->c[i];

                if (c->op == OP_LT || c->op == OP_LE)
                        continue;
                if (c->op == OP_GT ? version_compare(&ver, &c->b) <= 0 : version_compare(&ver, &c->b) < 0)
                        return false;
        }
        return true;
}

bool semver_range_set_below_upper(const SemVerRange *r, size_t set, const SemVer *v) {
        Version ver = version_of(v);

        for (size_t i = set_begin(r, set); i < r->set_end[set]; i++) {
                const Comparator *c = &r->c[i];

                if (c->op == OP_GT || c->op == OP_GE)
                        continue;
                if (c->op == OP_LT ? version_compare(&ver, &c->b) >= 0 : version_compare(&ver, &c->b) > 0)
                        return false;
        }
        return true;
}

int semver_range_satisfies(const char *range, const SemVer *v) {
        _cleanup_(semver_range_freep) SemVerRange *r = NULL;
        int k;

        if (!range || !v)
                return -EINVAL;
        k = semver_range_parse(range, &r);
        if (k < 0)
                return k;
        return semver_range_match(r, v);
}
