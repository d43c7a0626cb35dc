/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-util.h: what the unit tests share: stderr captured, scratch trees removed, a recording HTTP
 * server forked on 127.0.0.1 */
#pragma once

#include <cjson/cJSON.h>

#include "macro.h"

/* stderr goes to a temporary file until test_capture_end() (the output may be large) */
void test_capture_begin(void);

/* stderr back where it was; returns what was written to it since test_capture_begin() (free it) */
char *test_capture_end(void);

/* The whole file FIXTURES/dir/name (fixtures: the FIXTURES directory the test was built with), read
 * into a NUL-terminated buffer; *ret_size its length. Fails the test when it cannot be read or is empty. */
char *test_read_fixture(const char *fixtures, const char *dir, const char *name, size_t *ret_size);

/* the fixture (as test_read_fixture()) parsed as JSON; fails the test when it is not JSON */
cJSON *test_fixture_json(const char *fixtures, const char *dir, const char *name);

/* text parsed as JSON; fails the test, naming text, when it is not JSON */
cJSON *test_json(const char *text);

/* rm -rf DIR, never following a symlink */
void rm_rf(const char *dir);

/* rm_rf() and free() of *DIR: the test's scratch directory goes away with it */
void rm_rf_freep(char **dir);
#define _cleanup_rm_rf_ _cleanup_(rm_rf_freep)

/* a request as the test HTTP server read it; a header the request lacks is NULL */
typedef struct TestHttpRequest {
        char *method;
        char *path;
        char *authorization;
        char *content_type;
        char *body;
} TestHttpRequest;

/* answers one request on FD (in a process of its own: it may hang or exit) */
typedef void (*TestHttpHandler)(int fd, const TestHttpRequest *request);

/* forks the test program's HTTP server on a free port of 127.0.0.1: each connection in a child that
 * records the request (test_http_records()) and then calls HANDLER; for a Check fixture */
void test_http_server_start(TestHttpHandler handler);

/* kills the server and every connection still open, and removes its record */
void test_http_server_stop(void);

/* "http://127.0.0.1:PORT" PATH of the running server (free it) */
char *test_http_url(const char *path);

/* the requests the server read so far, in order, each {method, path, authorization, content_type, body} */
cJSON *test_http_records(void);

/* writes a whole response with Content-Type TYPE and BODY, then the connection closes */
void test_http_respond(int fd, int status, const char *reason, const char *type, const char *body);
