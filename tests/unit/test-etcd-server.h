/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-etcd-server.h: a private, throwaway etcd for a test (the installed /usr/bin/etcd on free ports of
 * 127.0.0.1, a scratch data directory), never the host's */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "macro.h"

#define TEST_ETCD_BINARY "/usr/bin/etcd"
#define TEST_ETCDCTL_BINARY "/usr/bin/etcdctl"

typedef struct TestEtcd {
        pid_t pid;   /* the etcd process; 0: not running */
        pid_t owner; /* the process that started it, the only one that stops it */
        char *dir;   /* the scratch directory: data/, etcd.log */
        char *url;   /* "http://127.0.0.1:PORT" (https:// with TLS), its client URL */
        int port;
        /* with TLS (else NULL), PEM files under dir: the CA that signed etcd's certificate and the
         * client's, and a client certificate and its key, which etcd requires */
        char *ca;
        char *certificate;
        char *key;
} TestEtcd;

/* Start etcd and wait until it answers /health (a missing binary, a failed start or no answer in
 * 30 s fails the test with etcd's log). Both its client and peer URLs are on 127.0.0.1; a port taken
 * between the choice and etcd's bind is chosen again. It dies with the process that started it. For
 * an unchecked Check fixture (one etcd per TCase: give each test keys of its own). */
void test_etcd_start(TestEtcd *e);

/* test_etcd_start() serving https only, to clients with a certificate of its CA (made for the test
 * with openssl in dir: e->ca, e->certificate, e->key) */
void test_etcd_start_tls(TestEtcd *e);

/* Kill that etcd (only the pid it started, only from the process that started it) and remove its
 * directory; safe to call twice, and on a TestEtcd never started. */
void test_etcd_stop(TestEtcd *e);

/* Run etcdctl against e with args (NULL-terminated), as user "NAME:PASSWORD" (NULL: none); fails the
 * test unless it exits 0. Its output goes to the test's stderr. */
void test_etcdctl(const TestEtcd *e, const char *user, ...) __attribute__((sentinel));

/* a URL of 127.0.0.1 on which nothing listens, nor will while the test runs (the port stays bound,
 * never listening: *ret_fd, close it at the end) */
char *test_etcd_dead_url(int *ret_fd);
