/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* http-parse.h: an HTTP/1.1 response read as it arrives, for the loopback client (http-loopback.h):
 * the status line and headers, then a body by Content-Length, in chunks, or up to the end of the
 * connection. Nothing here does I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* the head (status line and headers) may be no larger; more is -EBADMSG */
#define HTTP_PARSE_HEAD_MAX ((size_t)64U * 1024U)

typedef enum HttpParseState {
        HTTP_PARSE_HEAD,
        HTTP_PARSE_BODY_LENGTH,   /* Content-Length bytes left in remaining */
        HTTP_PARSE_CHUNK_SIZE,    /* a chunk-size line, in line */
        HTTP_PARSE_CHUNK_DATA,    /* the chunk's bytes left in remaining */
        HTTP_PARSE_CHUNK_END,     /* the CRLF after a chunk's data, in line */
        HTTP_PARSE_TRAILER,       /* trailer lines up to an empty one, in line */
        HTTP_PARSE_BODY_TO_CLOSE, /* no length given: the body ends with the connection */
        HTTP_PARSE_DONE,
} HttpParseState;

typedef struct HttpParser {
        /* set before the first byte */
        bool head_request; /* a HEAD request: the answer has no body, whatever its headers say */
        size_t body_max;   /* a larger body is -EFBIG */

        HttpParseState state;
        long status;    /* the final (non-1xx) status, once the head is read */
        char *location; /* the Location header of that head, or NULL */
        char *body;     /* NUL-terminated once the head is read; never NULL then */
        size_t size;    /* the body's length */

        /* internal */
        char *line; /* the head, or a chunk line, as it arrives */
        size_t line_size, body_allocated;
        uint64_t remaining;
} HttpParser;

/* Take the next n bytes of the connection. 0: more is wanted; 1: the response is complete (bytes after
 * it are ignored); -EBADMSG: not an HTTP/1.x response this parser takes; -EFBIG: a body over body_max;
 * -ENOMEM. After an error the parser takes nothing more. */
int http_parse_feed(HttpParser *p, const char *data, size_t n);

/* The connection ended: 1 when that completes the response (a body read to the close); -ECONNRESET
 * when it was cut short, -EBADMSG when no head had come. */
int http_parse_eof(HttpParser *p);

/* free what p holds and make it ready for another response (head_request and body_max kept); takes
 * NULL */
void http_parse_done(HttpParser *p);
