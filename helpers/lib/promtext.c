/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* promtext.c: reading samples out of the Prometheus text exposition format */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "promtext.h"

typedef struct Label {
        const char *name;
        size_t name_len;
        const char *value; /* just after the opening quote; escapes not yet undone */
} Label;

typedef struct Sample {
        const char *labels; /* just after the '{', or NULL without labels */
        const char *end;    /* of the line */
        double value;
} Sample;

static bool is_blank(char c) {
        return c == ' ' || c == '\t';
}

static const char *skip_blanks(const char *p, const char *end) {
        while (p < end && is_blank(*p))
                p++;
        return p;
}

static bool is_alpha_(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool at_close(const char *p, const char *end, char close) {
        return close ? p < end && *p == close : p == end;
}

/* The next `name="value"` of a label set; *p just after the '{' or the previous pair's ','. close is
 * '}' in a sample, or 0 for a selector without braces (the set ends at end). Returns 1 and the pair, 0
 * at the close (*p then after it), -EBADMSG when the set does not parse. */
static int label_next(const char **p, const char *end, char close, Label *ret) {
        const char *s = skip_blanks(*p, end);
        Label l;

        if (at_close(s, end, close)) {
                *p = close ? s + 1 : s;
                return 0;
        }
        if (s == end || !is_alpha_(*s))
                return -EBADMSG;
        l.name = s;
        while (s < end && (is_alpha_(*s) || is_digit(*s)))
                s++;
        l.name_len = s - l.name;
        s = skip_blanks(s, end);
        if (s == end || *s != '=')
                return -EBADMSG;
        s = skip_blanks(s + 1, end);
        if (s == end || *s != '"')
                return -EBADMSG;
        l.value = ++s;
        for (;; s++) {
                if (s == end)
                        return -EBADMSG;
                if (*s == '"')
                        break;
                if (*s == '\\') {
                        s++;
                        if (s == end || (*s != '\\' && *s != '"' && *s != 'n'))
                                return -EBADMSG;
                }
        }
        s = skip_blanks(s + 1, end);
        if (s < end && *s == ',')
                s++;
        else if (!at_close(s, end, close))
                return -EBADMSG;
        *p = s;
        *ret = l;
        return 1;
}

/* the next character of a label value label_next() has checked, or -1 at its closing quote */
static int value_char(const char **p) {
        char c = *(*p)++;

        if (c == '"')
                return -1;
        if (c != '\\')
                return (unsigned char)c;
        c = *(*p)++;
        return c == 'n' ? '\n' : (unsigned char)c;
}

static bool value_eq(const char *a, const char *b) {
        for (;;) {
                int x = value_char(&a), y = value_char(&b);
                if (x != y)
                        return false;
                if (x < 0)
                        return true;
        }
}

/* the selector's set: its pairs from *ret_p up to *ret_end, closed by *ret_close; -EINVAL when it
 * does not parse */
static int selector_open(const char *labels, const char **ret_p, const char **ret_end, char *ret_close) {
        const char *p = strempty(labels), *end = p + strlen(p), *s;
        char close = 0;
        Label l;
        int r;

        p = skip_blanks(p, end);
        while (end > p && is_blank(end[-1]))
                end--;
        if (p < end && *p == '{') {
                if (end[-1] != '}')
                        return -EINVAL;
                p++;
                close = '}';
        }
        s = p;
        while ((r = label_next(&s, end, close, &l)) > 0)
                ;
        if (r < 0 || s != end)
                return -EINVAL;
        *ret_p = p;
        *ret_end = end;
        *ret_close = close;
        return 0;
}

static bool sample_has(const Sample *sample, const Label *want) {
        const char *s = sample->labels;
        Label l;

        while (s && label_next(&s, sample->end, '}', &l) > 0)
                if (l.name_len == want->name_len && memcmp(l.name, want->name, l.name_len) == 0)
                        return value_eq(l.value, want->value);
        /* an absent label has the empty value */
        return *want->value == '"';
}

static bool sample_matches(const Sample *sample, const char *sel, const char *sel_end, char close) {
        Label want;

        while (label_next(&sel, sel_end, close, &want) > 0)
                if (!sample_has(sample, &want))
                        return false;
        return true;
}

static bool valid_name(const char *name) {
        if (!name || !(is_alpha_(*name) || *name == ':'))
                return false;
        for (const char *c = name; *c; c++)
                if (!is_alpha_(*c) && !is_digit(*c) && *c != ':')
                        return false;
        return true;
}

/* The sample on the line [p, end) if its metric name is name: 1 and *ret; 0 for a comment, a blank
 * line or another name; -EBADMSG when the line does not parse. */
static int sample_parse(const char *p, const char *end, const char *name, Sample *ret) {
        const char *s = skip_blanks(p, end), *t, *v;
        size_t len = strlen(name);
        Sample sample = { .end = end };
        Label l;
        char *num_end;
        int r;

        if (s == end || *s == '#')
                return 0;
        for (t = s; t < end && !is_blank(*t) && *t != '{'; t++)
                ;
        if ((size_t)(t - s) != len || memcmp(s, name, len) != 0)
                return 0;

        s = skip_blanks(t, end);
        if (s < end && *s == '{') {
                sample.labels = t = s + 1;
                while ((r = label_next(&t, end, '}', &l)) > 0)
                        ;
                if (r < 0)
                        return r;
                s = skip_blanks(t, end);
        }

        /* the value: one token, all of which strtod() must take */
        for (v = s; v < end && !is_blank(*v); v++)
                ;
        if (v == s)
                return -EBADMSG;
        sample.value = strtod(s, &num_end);
        /* out of range reads as ±HUGE_VAL (Inf) or a value near 0, the nearest a double holds */
        if (num_end != v)
                return -EBADMSG;

        /* an optional timestamp in milliseconds, then an optional exemplar */
        s = skip_blanks(v, end);
        if (s < end && *s != '#') {
                if (*s == '-')
                        s++;
                for (t = s; t < end && is_digit(*t); t++)
                        ;
                if (t == s)
                        return -EBADMSG;
                s = skip_blanks(t, end);
        }
        if (s < end && (*s != '#' || !is_blank(s[-1])))
                return -EBADMSG;

        *ret = sample;
        return 1;
}

/* Calls each sample of name matching labels in turn until it returns non-zero; returns that, or 0. */
static int foreach_sample(
        const char *text,
        const char *name,
        const char *labels,
        int (*f)(const Sample *s, void *userdata),
        void *userdata) {
        const char *sel, *sel_end;
        char close;
        int r;

        assert(text);
        if (!valid_name(name))
                return -EINVAL;
        r = selector_open(labels, &sel, &sel_end, &close);
        if (r < 0)
                return r;

        for (const char *p = text; *p;) {
                size_t len = strcspn(p, "\n");
                const char *end = p + len;
                Sample sample;

                if (end > p && end[-1] == '\r')
                        end--;
                r = sample_parse(p, end, name, &sample);
                if (r < 0)
                        return r;
                if (r > 0 && sample_matches(&sample, sel, sel_end, close)) {
                        r = f(&sample, userdata);
                        if (r != 0)
                                return r;
                }
                p += len + (p[len] == '\n');
        }
        return 0;
}

static int take_first(const Sample *s, void *userdata) {
        *(double *)userdata = s->value;
        return 1;
}

int promtext_value(const char *text, const char *name, const char *labels, double *ret) {
        double v;
        int r;

        r = foreach_sample(text, name, labels, take_first, &v);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        *ret = v;
        return 0;
}

typedef struct Sum {
        double sum;
        int n;
} Sum;

static int add_up(const Sample *s, void *userdata) {
        Sum *sum = userdata;

        sum->sum += s->value;
        sum->n++;
        return 0;
}

int promtext_sum(const char *text, const char *name, const char *labels, double *ret) {
        Sum sum = {};
        int r;

        r = foreach_sample(text, name, labels, add_up, &sum);
        if (r < 0)
                return r;
        if (sum.n == 0)
                return -ENOENT;
        *ret = sum.sum;
        return sum.n;
}
