/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* http-loopback.h: plain HTTP/1.1 to a server on this host, without libcurl.
 *
 * Most requests of a phase go to the Codebolt server, its registry or etcd on a loopback address. Opening
 * libcurl costs a helper about 8 MB resident (the TLS, Kerberos and LDAP libraries Debian builds it with,
 * and their initialisation), more than the whole helper otherwise. So http.c sends a plain http:// URL
 * whose host is a loopback address literal (127.0.0.0/8, [::1]) through this client, and every other URL
 * through libcurl; both keep http.h's conventions. One request per connection ("Connection: close");
 * no proxy (none is ever wanted for loopback), no TLS, no redirect of its own. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "http.h"
#include "time-util.h"

typedef struct HttpLoopbackTarget {
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        } addr;
        socklen_t addr_len;
        char *host;   /* the Host header: the URL's host and port as written */
        char *target; /* the request target: the path and query ("/" when empty), without the fragment */
} HttpLoopbackTarget;

/* 1 and *ret filled when url is http:// to a loopback address literal, with an optional port and no
 * user info; 0 for any other URL (libcurl's, which also judges whether it is well-formed); -ENOMEM */
int http_loopback_target(const char *url, HttpLoopbackTarget *ret);
void http_loopback_target_done(HttpLoopbackTarget *t);

typedef struct HttpLoopbackRequest {
        const char *method;         /* validated by the caller */
        const char *authorization;  /* the Authorization header's value, or NULL */
        const char *json_body;      /* NULL: none; else sent as application/json */
        bool accept_json;           /* "Accept: application/json" */
        usec_t deadline;            /* CLOCK_MONOTONIC; USEC_INFINITY: none */
        usec_t connect_deadline;    /* not connected by then: -EHOSTUNREACH; USEC_INFINITY: none */
        usec_t first_byte_deadline; /* no byte of the body by then: -ETIMEDOUT; USEC_INFINITY: none */
        HttpStreamFunc on_data;     /* as http_request_stream()'s */
        void *userdata;
} HttpLoopbackRequest;

/* Send q to t and read the answer. 0, or the positive value on_data ended the transfer with, and *ret
 * filled; or -errno as http.h lists them, with *ret_error (optional) set. ret_location (optional): the
 * answer's Location header (NULL when none), for a caller that follows redirects. */
int http_loopback_perform(
        const HttpLoopbackTarget *t,
        const HttpLoopbackRequest *q,
        HttpResponse *ret,
        char **ret_location,
        char **ret_error);
