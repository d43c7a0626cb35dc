/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* etcd-parse.h: etcd's v3 JSON gateway on the wire (etcd.h is its client): keys and values are base64
 * there, 64-bit integers JSON strings (a number is accepted too); the answers and the error objects,
 * parsed (pure; fuzzed). An answer that is not what the gateway sends is -EBADMSG. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "macro.h"

/* one key-value as etcd keeps it */
typedef struct EtcdKv {
        char *key;   /* never empty; a key holding a NUL byte is refused (-EBADMSG) */
        char *value; /* NUL-terminated (the value may hold NULs: value_size counts them) */
        size_t value_size;
        int64_t create_revision;
        int64_t mod_revision;
        int64_t version; /* 1 on creation, +1 on each put */
        int64_t lease;   /* 0: none */
} EtcdKv;
/* free the strings of kv and reset it; takes NULL */
void etcd_kv_done(EtcdKv *kv);
/* etcd_kv_done() of each, then the array; takes NULL */
void etcd_kvs_free(EtcdKv *kvs, size_t n);

/* base64 of n bytes at p, as Go's encoding/base64.StdEncoding writes it (padded); NULL on OOM */
char *etcd_base64_encode(const void *p, size_t n);

/* A 64-bit integer member name of o as the gateway writes it: a string of decimal digits (a JSON number
 * is taken too). Absent or null is 0, as proto3 leaves out zeros; anything else -EBADMSG. */
int etcd_parse_int64(const cJSON *o, const char *name, int64_t *ret);

/* the body parsed when it is a JSON object, else NULL (free it with cJSON_Delete()) */
cJSON *etcd_parse_object(const char *body, size_t size);

/* the header every answer carries, and its revision (required; *ret_revision optional); -EBADMSG */
int etcd_parse_header(const cJSON *o, int64_t *ret_revision);

/* What an etcd error means here: by code first (5 not found: -ENOENT; 7 permission denied: -EPERM;
 * 16 unauthenticated: -EACCES), by message where etcd gives authentication failures another code (a
 * wrong or missing user or password, a stale token: -EACCES); -EREMOTEIO for any other. */
int etcd_error_to_errno(int64_t code, const char *message);

/* a copy of a server's message fit for one line of a log: control characters as blanks, cut at 1024
 * bytes; NULL on OOM */
char *etcd_one_line(const char *s);

/* The gateway's answers, parsed (pure; fuzzed). Each takes the body as received. */
/* range: every kv (none: *ret = NULL, *ret_n = 0), and the header's revision (optional) */
int etcd_parse_range(const char *body, size_t size, EtcdKv **ret, size_t *ret_n, int64_t *ret_revision);
/* txn: *ret_succeeded false when "succeeded" is absent or false */
int etcd_parse_txn(const char *body, size_t size, bool *ret_succeeded);
/* an etcd error object: etcd_error_to_errno() of its code and message, with *ret_message (optional: its
 * message on one line); 0 when the body is no error (also when it is no JSON at all); -ENOMEM */
int etcd_parse_error(const char *body, size_t size, char **ret_message);
