/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* http-parse.c: see http-parse.h */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http-parse.h"
#include "macro.h"

/* a chunk-size line or a trailer line may be no longer */
#define LINE_MAX_BYTES 4096U

void http_parse_done(HttpParser *p) {
        if (!p)
                return;
        free(p->location);
        free(p->body);
        free(p->line);
        *p = (HttpParser){ .head_request = p->head_request, .body_max = p->body_max };
}

static int fail(HttpParser *p, int r) {
        p->state = HTTP_PARSE_DONE;
        p->status = -1; /* whatever head came, the answer is no good: nothing more is taken */
        return r;
}

/* append n bytes to the pending line; -EBADMSG past max */
static int line_append(HttpParser *p, const char *data, size_t n, size_t max) {
        char *l;

        if (n > max || p->line_size > max - n)
                return -EBADMSG;
        l = realloc(p->line, p->line_size + n + 1);
        if (!l)
                return -ENOMEM;
        memcpy(l + p->line_size, data, n);
        p->line = l;
        p->line_size += n;
        p->line[p->line_size] = 0;
        return 0;
}

static void line_reset(HttpParser *p) {
        p->line_size = 0;
        if (p->line)
                p->line[0] = 0;
}

static int body_append(HttpParser *p, const char *data, size_t n) {
        if (n > p->body_max || p->size > p->body_max - n)
                return -EFBIG;
        if (p->size + n + 1 > p->body_allocated) {
                size_t a = p->body_allocated ?: 16384;
                char *b;

                while (a < p->size + n + 1)
                        a *= 2;
                if (a > p->body_max + 1)
                        a = p->body_max + 1;
                b = realloc(p->body, a);
                if (!b)
                        return -ENOMEM;
                p->body = b;
                p->body_allocated = a;
        }
        memcpy(p->body + p->size, data, n);
        p->size += n;
        p->body[p->size] = 0;
        return 0;
}

static bool is_token_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* s without leading and trailing blanks (spaces, tabs), in place */
static char *trim(char *s) {
        char *e;

        s += strspn(s, " \t");
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                *--e = 0;
        return s;
}

/* a decimal length of at most 18 digits (no sign, no blanks) */
static int parse_length(const char *s, uint64_t *ret) {
        uint64_t v = 0;
        size_t n = strlen(s);

        if (n == 0 || n > 18 || strspn(s, "0123456789") != n)
                return -EBADMSG;
        for (; *s; s++)
                v = v * 10 + (uint64_t)(*s - '0');
        *ret = v;
        return 0;
}

/* whether the last coding of a Transfer-Encoding value is chunked */
static bool last_coding_chunked(const char *value) {
        const char *last = strrchr(value, ',');
        _cleanup_free_ char *copy = strdup(last ? last + 1 : value);

        return copy && strcasecmp(trim(copy), "chunked") == 0;
}

/* "HTTP/1.x NNN[ reason]" */
static int parse_status_line(const char *l, long *ret) {
        if (strncmp(l, "HTTP/1.", 7) != 0 || !(l[7] >= '0' && l[7] <= '9') || l[8] != ' ')
                return -EBADMSG;
        l += 9;
        if (strspn(l, "0123456789") != 3 || !(l[3] == 0 || l[3] == ' ') || l[0] < '1' || l[0] > '5')
                return -EBADMSG;
        *ret = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
        return 0;
}

typedef struct Head {
        long status;
        bool chunked, to_close;
        bool has_length;
        uint64_t length;
        char *location;
} Head;

/* the head in p->line (its lines, the blank line that ends it cut off) */
static int parse_head(HttpParser *p, Head *h) {
        char *save = NULL, *l;
        int r;

        l = strtok_r(p->line, "\n", &save);
        if (!l)
                return -EBADMSG;
        l[strcspn(l, "\r")] = 0;
        r = parse_status_line(l, &h->status);
        if (r < 0)
                return r;

        while ((l = strtok_r(NULL, "\n", &save))) {
                char *colon, *name, *value;
                size_t n = strlen(l);

                if (n > 0 && l[n - 1] == '\r')
                        l[--n] = 0;
                /* the blank line that ends the head */
                if (n == 0)
                        break;
                /* a line folded onto the previous one is obsolete, and a way to smuggle */
                if (l[0] == ' ' || l[0] == '\t' || strchr(l, '\r'))
                        return -EBADMSG;
                colon = strchr(l, ':');
                if (!colon || colon == l)
                        return -EBADMSG;
                *colon = 0;
                name = l;
                for (const char *c = name; *c; c++)
                        if (!is_token_char(*c))
                                return -EBADMSG;
                value = trim(colon + 1);

                if (strcasecmp(name, "Content-Length") == 0) {
                        uint64_t v;

                        r = parse_length(value, &v);
                        if (r < 0 || (h->has_length && v != h->length))
                                return -EBADMSG;
                        h->has_length = true;
                        h->length = v;
                } else if (strcasecmp(name, "Transfer-Encoding") == 0) {
                        /* chunked last, or the body runs to the close */
                        if (last_coding_chunked(value))
                                h->chunked = true;
                        else
                                h->to_close = true;
                } else if (strcasecmp(name, "Location") == 0 && !h->location) {
                        h->location = strdup(value);
                        if (!h->location)
                                return -ENOMEM;
                }
        }
        return 0;
}

/* the end of a head in p->line, searched from "from": the offset just past the blank line, or 0 */
static size_t head_end(const HttpParser *p, size_t from) {
        for (size_t i = from; i < p->line_size; i++) {
                if (p->line[i] != '\n')
                        continue;
                if (i + 1 < p->line_size && p->line[i + 1] == '\n')
                        return i + 2;
                if (i + 2 < p->line_size && p->line[i + 1] == '\r' && p->line[i + 2] == '\n')
                        return i + 3;
        }
        return 0;
}

/* the head is whole in p->line up to end: take it. *ret_rest: a copy of what came after it (NULL if
 * nothing), for the caller to go on with. */
static int head_done(HttpParser *p, size_t end, char **ret_rest, size_t *ret_rest_size) {
        _cleanup_free_ char *rest = NULL;
        size_t rest_size = p->line_size - end;
        Head h = {};
        int r;

        if (rest_size > 0) {
                rest = malloc(rest_size);
                if (!rest)
                        return -ENOMEM;
                memcpy(rest, p->line + end, rest_size);
        }
        p->line[end] = 0;
        r = parse_head(p, &h);
        line_reset(p);
        if (r < 0) {
                free(h.location);
                return r;
        }
        *ret_rest = TAKE_PTR(rest);
        *ret_rest_size = rest_size;

        /* an interim answer (100 Continue, 103 Early Hints): the real one follows */
        if (h.status < 200) {
                free(h.location);
                return 0;
        }

        p->status = h.status;
        p->location = h.location;
        p->body = strdup("");
        if (!p->body)
                return -ENOMEM;
        if (p->head_request || h.status == 204 || h.status == 304)
                p->state = HTTP_PARSE_DONE;
        else if (h.chunked)
                p->state = HTTP_PARSE_CHUNK_SIZE;
        else if (h.to_close)
                p->state = HTTP_PARSE_BODY_TO_CLOSE;
        else if (h.has_length) {
                if (h.length > p->body_max)
                        return -EFBIG;
                p->remaining = h.length;
                p->state = h.length == 0 ? HTTP_PARSE_DONE : HTTP_PARSE_BODY_LENGTH;
        } else
                p->state = HTTP_PARSE_BODY_TO_CLOSE;
        return p->state == HTTP_PARSE_DONE ? 1 : 0;
}

/* a chunk-size line: hex digits, then optional extensions after ';' */
static int parse_chunk_size(const char *l, uint64_t *ret) {
        uint64_t v = 0;
        size_t digits = 0;

        for (; *l; l++, digits++) {
                int d;

                if (*l >= '0' && *l <= '9')
                        d = *l - '0';
                else if (*l >= 'a' && *l <= 'f')
                        d = *l - 'a' + 10;
                else if (*l >= 'A' && *l <= 'F')
                        d = *l - 'A' + 10;
                else
                        break;
                if (digits >= 15)
                        return -EBADMSG;
                v = v * 16 + (uint64_t)d;
        }
        l += strspn(l, " \t");
        if (digits == 0 || !(*l == 0 || *l == ';' || *l == '\r'))
                return -EBADMSG;
        *ret = v;
        return 0;
}

/* one line of a chunked body (in the states that read lines): up to and with its '\n' */
static int chunk_line(HttpParser *p) {
        uint64_t v;
        int r;

        p->line[strcspn(p->line, "\r\n")] = 0;
        switch (p->state) {
        case HTTP_PARSE_CHUNK_SIZE:
                r = parse_chunk_size(p->line, &v);
                if (r < 0)
                        return r;
                if (v > p->body_max || p->size > p->body_max - v)
                        return -EFBIG;
                p->remaining = v;
                p->state = v == 0 ? HTTP_PARSE_TRAILER : HTTP_PARSE_CHUNK_DATA;
                break;
        case HTTP_PARSE_CHUNK_END:
                if (p->line[0] != 0)
                        return -EBADMSG;
                p->state = HTTP_PARSE_CHUNK_SIZE;
                break;
        case HTTP_PARSE_TRAILER:
                if (p->line[0] == 0) {
                        p->state = HTTP_PARSE_DONE;
                        line_reset(p);
                        return 1;
                }
                break;
        default:
                return -EBADMSG;
        }
        line_reset(p);
        return 0;
}

int http_parse_feed(HttpParser *p, const char *data, size_t n) {
        /* what came after a head, in the buffer the head was gathered in: gone on with from here */
        _cleanup_free_ char *pending = NULL;
        int r = 0;

        assert(p);
        assert(data || n == 0);

        while (n > 0 && r == 0) {
                switch (p->state) {
                case HTTP_PARSE_HEAD: {
                        size_t from = p->line_size >= 2 ? p->line_size - 2 : 0, end, rest_size = 0;
                        char *rest = NULL;

                        r = line_append(p, data, n, HTTP_PARSE_HEAD_MAX);
                        if (r < 0)
                                return fail(p, r);
                        end = head_end(p, from);
                        if (end == 0)
                                return 0;
                        r = head_done(p, end, &rest, &rest_size);
                        free(pending);
                        pending = rest;
                        data = rest;
                        n = rest_size;
                        if (r < 0)
                                return fail(p, r);
                        break;
                }
                case HTTP_PARSE_BODY_LENGTH:
                case HTTP_PARSE_CHUNK_DATA: {
                        size_t k = n < p->remaining ? n : (size_t)p->remaining;

                        r = body_append(p, data, k);
                        if (r < 0)
                                return fail(p, r);
                        data += k;
                        n -= k;
                        p->remaining -= k;
                        if (p->remaining == 0) {
                                if (p->state == HTTP_PARSE_BODY_LENGTH) {
                                        p->state = HTTP_PARSE_DONE;
                                        return 1;
                                }
                                p->state = HTTP_PARSE_CHUNK_END;
                        }
                        break;
                }
                case HTTP_PARSE_CHUNK_SIZE:
                case HTTP_PARSE_CHUNK_END:
                case HTTP_PARSE_TRAILER: {
                        const char *nl = memchr(data, '\n', n);
                        size_t k = nl ? (size_t)(nl - data) + 1 : n;

                        r = line_append(p, data, k, LINE_MAX_BYTES);
                        if (r < 0)
                                return fail(p, r);
                        data += k;
                        n -= k;
                        if (nl) {
                                r = chunk_line(p);
                                if (r < 0)
                                        return fail(p, r);
                        }
                        break;
                }
                case HTTP_PARSE_BODY_TO_CLOSE:
                        r = body_append(p, data, n);
                        if (r < 0)
                                return fail(p, r);
                        n = 0;
                        break;
                case HTTP_PARSE_DONE:
                        return p->status > 0 ? 1 : -EBADMSG;
                }
        }
        return r;
}

int http_parse_eof(HttpParser *p) {
        assert(p);

        switch (p->state) {
        case HTTP_PARSE_HEAD:
                return fail(p, -EBADMSG);
        case HTTP_PARSE_BODY_TO_CLOSE:
                p->state = HTTP_PARSE_DONE;
                return 1;
        case HTTP_PARSE_DONE:
                return p->status > 0 ? 1 : -EBADMSG;
        default:
                return fail(p, -ECONNRESET);
        }
}
