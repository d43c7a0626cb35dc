/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* http.h: HTTP(S) and file:// requests, JSON in and out: plain http:// to a loopback address through a
 * small client of our own (http-loopback.h), everything else through libcurl */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "macro.h"
#include "time-util.h"

/* the largest body we accept; more is -EFBIG */
#define HTTP_BODY_MAX ((size_t)64U * 1024U * 1024U)

typedef struct HttpResponse {
        long status; /* the HTTP status; 0 for file:// */
        char *body;  /* always NUL-terminated, never NULL after success */
        size_t size; /* without the terminating NUL */
} HttpResponse;

/* free the body and reset *r; takes NULL */
void http_response_done(HttpResponse *r);
#define _cleanup_http_response_ _cleanup_(http_response_done)

/*
 * Conventions for every function here:
 * - timeout: the whole transfer; 0 or USEC_INFINITY means none.
 * - bearer_token: NULL for none; sent as "Authorization: Bearer <token>", never part of an error message;
 *   a token containing CR or LF is -EINVAL.
 * - an HTTP status >= 400 is not a failure of the call: the status is handed back.
 * - transport failures map to -errno: -ECONNREFUSED (nothing listens), -EHOSTUNREACH (unresolvable or
 *   unreachable host), -ETIMEDOUT, -ECONNRESET (the peer hung up mid-transfer), -EFBIG (body over
 *   HTTP_BODY_MAX), -EPROTO (TLS), -EINVAL (malformed URL), -EPROTONOSUPPORT (scheme not allowed), -EIO.
 * - ret_error (optional): on failure, a malloc'd one-line explanation (curl's message); untouched on
 * success.
 * - redirects are not followed, except by http_fetch_file().
 */

/* method: "GET", "POST", "PUT", "DELETE", …; json_body: NULL for none, else sent with
 * Content-Type: application/json. Only http:// and https:// URLs. */
int http_request(
        const char *method,
        const char *url,
        const char *bearer_token,
        const char *json_body,
        usec_t timeout,
        HttpResponse *ret,
        char **ret_error);

/* Send body as JSON (NULL: no body for GET and HEAD, an empty object for any other method) and
 * parse the answer as JSON. *ret_json is NULL when the body is empty, or when the status is >= 400
 * and the body is not JSON (a 503 page from a proxy); a 2xx/3xx body that is not JSON is -EBADMSG.
 * ret_status and ret_json may be NULL. */
int http_json(
        const char *method,
        const char *url,
        const char *bearer_token,
        const cJSON *body,
        usec_t timeout,
        long *ret_status,
        cJSON **ret_json,
        char **ret_error);

/* What http_request_with() and http_request_stream() take beyond the conventions above. */
typedef struct HttpOptions {
        /* sent as "Authorization: <value>" as it is (etcd's gateway takes its token bare); NULL: none;
         * never part of an error message; CR or LF in it is -EINVAL */
        const char *authorization;
        const char *ca;          /* a PEM file of the CAs to trust for https (NULL: the system's) */
        const char *certificate; /* a client certificate and its key (PEM files), both or neither */
        const char *key;
        /* the time to connect (0: libcurl's default). A connection that was never made within it,
         * whatever the reason, is -EHOSTUNREACH, so that a caller can tell "not sent" from a timeout
         * after the request went out (-ETIMEDOUT): only the latter may have had an effect. */
        usec_t connect_timeout;
        /* the time from the start to the first byte of the body (0: none): a server that took the
         * request and went silent is given up on early in a long transfer; -ETIMEDOUT */
        usec_t first_byte_timeout;
} HttpOptions;

/* http_request() with the options o (NULL: none): a raw Authorization header, TLS files, a connect
 * timeout. Only http:// and https:// URLs. */
int http_request_with(
        const char *method,
        const char *url,
        const HttpOptions *o,
        const char *json_body,
        usec_t timeout,
        HttpResponse *ret,
        char **ret_error);

/* Called each time more of a streamed body arrived: sofar holds the status and everything received
 * until now (NUL-terminated). 0 reads on; a positive value ends the transfer there, and a negative one
 * fails it, either returned by http_request_stream() (a negative one without *ret_error). */
typedef int (*HttpStreamFunc)(const HttpResponse *sofar, void *userdata);

/* http_request_with() for a long or endless answer (a watch): on_data sees the body as it arrives
 * (NULL: nobody looks before the end, as in http_request_with()).
 * Returns on_data's positive value when it ended the transfer, 0 when the server ended the body, each
 * with *ret (optional) holding what was received; or -errno (-ETIMEDOUT when timeout passed first,
 * whatever on_data saw). */
int http_request_stream(
        const char *method,
        const char *url,
        const HttpOptions *o,
        const char *json_body,
        usec_t timeout,
        HttpStreamFunc on_data,
        void *userdata,
        HttpResponse *ret,
        char **ret_error);

/* The whole document at url: file://, http:// or https://, or an absolute local path. Follows up to
 * 5 redirects (to http/https only). An HTTP status >= 400 is a failure here: 404/410 → -ENOENT,
 * 401/403 → -EACCES, others → -EREMOTEIO. A missing local file is -ENOENT. Timeout: 60 s.
 * *ret_body is NUL-terminated; ret_size may be NULL. */
int http_fetch_file(const char *url, char **ret_body, size_t *ret_size, char **ret_error);

/* Whether plain http:// to a loopback address goes through the small client (the default) or libcurl
 * like every other URL: for tests, which run the same requests through both. */
void http_set_loopback(bool enabled);
