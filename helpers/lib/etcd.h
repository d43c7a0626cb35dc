/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* etcd.h: a client of etcd's v3 JSON gateway (POST /v3/kv/range|put|txn|deleterange,
 * /v3/lease/grant|keepalive|revoke, /v3/watch, /v3/auth/authenticate), over libcurl.
 * Keys and values are base64 on the wire and plain bytes here; 64-bit integers are JSON strings
 * on the wire (a number is accepted too) and int64_t here. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcd-parse.h"
#include "macro.h"
#include "time-util.h"

/* how to reach the cluster; etcd_client_new() copies what it keeps */
typedef struct EtcdOptions {
        char **endpoints; /* "http://127.0.0.3:2379", "https://…"; tried in turn, at least one */
        const char *user; /* NULL: no authentication; else with password through /v3/auth/authenticate */
        const char *password;
        const char *ca;          /* PEM files for https (NULL: the system's CAs, no client certificate) */
        const char *certificate; /* client certificate and key, both or neither */
        const char *key;
        usec_t timeout; /* one request to one endpoint, and the time to connect to one; 0: 5 s */
} EtcdOptions;

/* one client is used by one thread at a time (two threads: two clients) */
typedef struct EtcdClient EtcdClient;

/* a client; no request is made yet. -EINVAL (with *ret_error) for no endpoint, a bad URL (http:// or
 * https:// and a host, nothing else), a user without a password, or a certificate without its key */
int etcd_client_new(const EtcdOptions *o, EtcdClient **ret, char **ret_error);
EtcdClient *etcd_client_free(EtcdClient *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(EtcdClient *, etcd_client_free);
#define _cleanup_etcd_client_ _cleanup_(etcd_client_freep)

/*
 * Conventions:
 * - 0 on success, -errno on failure, with a one-line *ret_error (optional, malloc'd) that names the
 *   endpoint and what failed; nothing is logged. Output parameters are written only on success.
 * - A transport failure on one endpoint tries the next, starting with the one that answered last;
 *   -EHOSTUNREACH when none answered. "Not sent" failures (refused, unreachable, no connection within
 *   the timeout) always move on; a timeout or reset after the request went out moves on only for
 *   requests that may be repeated — not for the compare-and-swap txns, which return -ETIMEDOUT or
 *   -ECONNRESET then (the outcome is unknown: read again). An endpoint that answered with an error is
 *   not retried elsewhere.
 * - An answer that is not what the gateway sends (bad JSON, wrong types, a kv without a key, bad
 *   base64) is -EBADMSG; etcd's own error object ({"error", "code", "message"}, or in a stream
 *   {"error": {"grpc_code", "message"}}) is -EREMOTEIO with its message, except: code 5 (not found: a
 *   lease) → -ENOENT; code 16 (unauthenticated), a wrong user or password, a missing one ("user name
 *   is empty") and a stale token ("revision of auth store is old") → -EACCES; code 7 (permission
 *   denied: the user's role does not allow it) → -EPERM.
 * - With a user, the token is fetched on the first request; a request refused with -EACCES renews it
 *   once and is repeated. A cluster with authentication disabled is used without a token.
 */

/* the key; -ENOENT when absent. ret (optional): the kv; *ret_revision (optional): the store's revision
 * at that read */
int etcd_get(EtcdClient *c, const char *key, EtcdKv *ret, int64_t *ret_revision, char **ret_error);
/* every key starting with prefix ("": every key), in key order (none: *ret_n = 0, *ret = NULL) */
int etcd_get_prefix(
        EtcdClient *c,
        const char *prefix,
        EtcdKv **ret,
        size_t *ret_n,
        int64_t *ret_revision,
        char **ret_error);
/* put unconditionally; lease 0: none (an unknown lease: -ENOENT) */
int etcd_put(EtcdClient *c, const char *key, const char *value, int64_t lease, char **ret_error);
/* Compare-and-swap in one txn: put only when the key's version is `version` (0: only when the key does
 * not exist). 1 when put, 0 when the compare failed (the gateway omits "succeeded" then), -errno. */
int etcd_put_if_version(
        EtcdClient *c, const char *key, const char *value, int64_t version, int64_t lease, char **ret_error);
/* delete the key (absent is fine: 0); etcd_delete_if_version() (version > 0): 1 deleted, 0 compare
 * failed */
int etcd_delete(EtcdClient *c, const char *key, char **ret_error);
int etcd_delete_if_version(EtcdClient *c, const char *key, int64_t version, char **ret_error);

/* leases: grant one of ttl seconds; keep it alive once (*ret_ttl, optional: the seconds left; -ENOENT
 * when it expired or was revoked); revoke it (keys on it go; -ENOENT when there is no such lease) */
int etcd_lease_grant(EtcdClient *c, int64_t ttl, int64_t *ret_id, char **ret_error);
int etcd_lease_keepalive(EtcdClient *c, int64_t id, int64_t *ret_ttl, char **ret_error);
int etcd_lease_revoke(EtcdClient *c, int64_t id, char **ret_error);

/* Wait until key (or every key under it, with prefix) changes at a revision >= start_revision (0: from
 * now on), or timeout passes (USEC_INFINITY: never): 1 changed (*ret_revision, optional: the revision
 * of the change), 0 timed out. One streaming POST /v3/watch, read until the first event; a
 * start_revision already compacted away counts as a change (*ret_revision: the compaction's revision:
 * read the key again). Endpoints are tried in turn within the timeout: one that does not confirm the
 * watch within the client's timeout is left for the next; none that answered is -EHOSTUNREACH. */
int etcd_watch(
        EtcdClient *c,
        const char *key,
        bool prefix,
        int64_t start_revision,
        usec_t timeout,
        int64_t *ret_revision,
        char **ret_error);
