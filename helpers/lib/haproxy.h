/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* haproxy.h: HAProxy 2.6's runtime API (its admin socket): a server's state set, its `show stat` row
 * read, and the load balancer's drain and undrain of a rolling upgrade ([LoadBalancer] Driver=haproxy).
 *
 * A socket is named as `Socket=` names it: an absolute path (`stats socket /run/haproxy/admin.sock level
 * admin`), or `tcp:HOST:PORT` (`stats socket ipv4@127.0.0.10:9999 level admin`; HOST may be a name, an
 * IPv4 address or a bracketed IPv6 one). Each command is one connection in HAProxy's non-interactive
 * mode: the command line is sent, the answer read to the end, bounded in time and size. A site with
 * several HAProxy processes names one socket each: the *_all() calls and the waits act on every one.
 * Nothing here logs: errors are -errno and a one-line message naming the socket and what failed. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "time-util.h"

/* how long one command may take to connect and answer */
#define HAPROXY_COMMAND_TIMEOUT_USEC (10 * USEC_PER_SEC)
/* the largest answer read; a larger one is -EFBIG */
#define HAPROXY_ANSWER_MAX ((size_t)16 * 1024 * 1024)
/* how often the waits read `show stat` */
#define HAPROXY_POLL_INTERVAL_USEC (200 * USEC_PER_MSEC)

/* the administrative states of `set server <backend>/<server> state …` */
typedef enum HaproxyState {
        HAPROXY_STATE_READY,
        HAPROXY_STATE_DRAIN,
        HAPROXY_STATE_MAINT,
        _HAPROXY_STATE_MAX,
} HaproxyState;

/* a server's row of `show stat`; the strings are owned (haproxy_server_stat_done()) */
typedef struct HaproxyServerStat {
        uint64_t scur;      /* sessions open on the server now */
        char *status;       /* as HAProxy prints it: "UP", "DOWN", "DRAIN", "MAINT", "UP 1/2" (up, one
                             * check failed), "DOWN 1/2" (down, one check passed), "NOLB", "no check",
                             * "MAINT (via b/s)" … */
        char *check_status; /* the last health check's result: "L7OK", "L7STS", "L4CON" … (without the
                             * "* " HAProxy puts before it while the next check runs); NULL: none */
        char *check_code;   /* its HTTP status, "503"; NULL: none */
        char *last_chk;     /* its text: the HTTP reason, "Connection refused" …; NULL: none */
} HaproxyServerStat;

/* a server in the load balancer, as the calls on every HAProxy of a site name it: backend/server
 * behind each of the admin sockets (the strings are borrowed) */
typedef struct HaproxyServer {
        char *const *sockets; /* NULL-terminated: one socket per HAProxy process */
        const char *backend;
        const char *server;
} HaproxyServer;

/* frees the strings of *s and zeroes it (a zeroed struct is left alone) */
void haproxy_server_stat_done(HaproxyServerStat *s);

/* "ready", "drain", "maint"; NULL for a value out of range */
const char *haproxy_state_to_string(HaproxyState state);

/* Whether name may be a backend or server name in a command: HAProxy's own rule (letters, digits, '-',
 * '_', '.', ':'), not empty. Anything else (a space, ';', a newline) could smuggle in another command. */
bool haproxy_name_valid(const char *name);

/* Checks the syntax of a socket name (nothing is connected or resolved): 0, or -EINVAL (a relative
 * path, tcp: without a host or with a bad port) / -ENAMETOOLONG (a path longer than a unix socket
 * address holds) and a message naming it. */
int haproxy_socket_check(const char *socket, char **ret_error);

/* Sends one command line (no newline in it) to socket and reads the answer to its end. The whole
 * exchange is bounded by timeout. 0 and the answer (NUL-terminated; *ret_size, when not NULL, its
 * length); -ENOENT (no such socket path), -ECONNREFUSED (nobody listening), -ETIMEDOUT (no connection
 * or no whole answer in time), -EFBIG (an answer over HAPROXY_ANSWER_MAX), another -errno of the
 * socket calls, or -EINVAL (a bad socket name or command); each with a message naming the socket. */
int haproxy_command(
        const char *socket,
        const char *command,
        usec_t timeout,
        char **ret_answer,
        size_t *ret_size,
        char **ret_error);

/* `set server <backend>/<server> state <state>` on socket. HAProxy answers nothing on success: 0.
 * -ENOENT with HAProxy's words ("No such backend.", "No such server.") for an unknown name,
 * -EREMOTEIO with them for any other answer (e.g. a socket without `level admin`), -EINVAL for a name
 * that haproxy_name_valid() refuses, or haproxy_command()'s errors. */
int haproxy_set_server_state(
        const char *socket, const char *backend, const char *server, HaproxyState state, char **ret_error);

/* haproxy_set_server_state() of srv's backend/server on every socket of srv, each tried even when one
 * before failed. 0 when all took it; else the error of the first that failed, and a message naming
 * every one that failed ("; " between them). -EINVAL when srv has no socket. */
int haproxy_set_server_state_all(const HaproxyServer *srv, HaproxyState state, char **ret_error);

/* Reads the row of backend/server out of a `show stat` answer (csv, size bytes, no NUL needed). The
 * first line is the header, "# pxname,svname,…": the columns are found by their names, in any order;
 * pxname, svname, scur and status are required, check_status, check_code and last_chk optional.
 * Fields may be quoted as HAProxy quotes them ("a, ""b""": a comma or a quote inside); lines end in
 * \n or \r\n. The first row whose pxname and svname are exactly backend and server is read (a NUL byte
 * ends a text copied out). 0 and *ret; -ENOENT when no row matches; -EBADMSG when the header is
 * missing or lacks a required column, a quote is not closed, or the row's scur is not a number or its
 * status empty; -ENOMEM. Pure: no I/O. */
int haproxy_parse_stat(
        const char *csv, size_t size, const char *backend, const char *server, HaproxyServerStat *ret);

/* `show stat -1 4 -1` (the servers of every proxy) on socket, and the row of backend/server in it.
 * 0 and *ret; -ENOENT for an unknown backend or server; -EBADMSG for an
 * answer that is not a `show stat` table; -EINVAL for a bad name; or haproxy_command()'s errors. Each
 * with a message naming the socket. */
int haproxy_server_stat(
        const char *socket,
        const char *backend,
        const char *server,
        HaproxyServerStat *ret,
        char **ret_error);

/* Whether a status takes new traffic with its health check passed: "UP", or "no check" (a server
 * without a health check, up as soon as it is ready). "UP 1/2" (a check failing) is not. */
bool haproxy_status_is_up(const char *status);

/* Polls `show stat` on every socket of srv every HAPROXY_POLL_INTERVAL_USEC until its backend/server
 * has no session open (scur 0) on all of them. 0; -ETIME when the CLOCK_MONOTONIC
 * deadline passes first (the message names the socket and the sessions still open; a reading at the
 * deadline is given 5 s, so the call may end that much after it); -ECANCELED as soon as *cancel (when
 * cancel is not NULL) is non-zero; -EINVAL when srv has no socket; haproxy_server_stat()'s errors at
 * once. */
int haproxy_wait_idle(
        const HaproxyServer *srv, usec_t deadline, const volatile sig_atomic_t *cancel, char **ret_error);

/* As haproxy_wait_idle(), until srv's status is up (haproxy_status_is_up()) on every socket:
 * HAProxy's own health check passed. The -ETIME message names the status and the last check. */
int haproxy_wait_up(
        const HaproxyServer *srv, usec_t deadline, const volatile sig_atomic_t *cancel, char **ret_error);

/* Takes srv out of the load balancer: `state drain` on every socket (no new sessions; open ones go
 * on), haproxy_wait_idle() until deadline, then `state maint`. On an error or -ETIME the server is left
 * draining (taking no new sessions): haproxy_undrain() takes it back. */
int haproxy_drain(
        const HaproxyServer *srv, usec_t deadline, const volatile sig_atomic_t *cancel, char **ret_error);

/* Gives srv back to the load balancer: `state ready` on every socket, then haproxy_wait_up() until
 * deadline. */
int haproxy_undrain(
        const HaproxyServer *srv, usec_t deadline, const volatile sig_atomic_t *cancel, char **ret_error);
