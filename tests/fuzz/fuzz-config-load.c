/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-config-load.c: the bytes as /etc/codebolt-upgrade/upgrade.conf of a root of its own, through
 * config_load(), as every helper and the generator read it. One scratch root per process, removed at
 * exit; each input overwrites the file. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>

#include "config.h"
#include "fuzz.h"
#include "macro.h"

static char *root = NULL, *file = NULL;

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *ftw) {
        return remove(p) < 0 ? -1 : 0;
}

static void remove_root(void) {
        (void)nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void make_root(void) {
        _cleanup_free_ char *etc = NULL, *dir = NULL;

        /* in memory where there is a tmpfs: thousands of rewrites a second, no disk in the way */
        root = strdup("/dev/shm/fuzz-config-load.XXXXXX");
        if (root && !mkdtemp(root)) {
                free(root);
                root = strdup("/tmp/fuzz-config-load.XXXXXX");
                if (root && !mkdtemp(root))
                        abort();
        }
        if (!root || asprintf(&etc, "%s/etc", root) < 0 || asprintf(&dir, "%s/codebolt-upgrade", etc) < 0 ||
            asprintf(&file, "%s/upgrade.conf", dir) < 0 || mkdir(etc, 0755) < 0 || mkdir(dir, 0755) < 0)
                abort();
        atexit(remove_root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(config_done) Config c = {};
        _cleanup_(config_error_done) ConfigError e = {};
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!root)
                make_root();
        fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t)size))
                abort();

        r = config_load(root, NULL, &c, &e);
        if (r < 0) {
                /* a refusal names the file, for the one log line */
                FUZZ_CHECK(r == -ENOMEM || (e.file && streq(e.file, file) && e.message));
                return 0;
        }
        FUZZ_CHECK(c.sources && streq(c.sources[0], file));
        FUZZ_CHECK(c.port > 0 && c.port <= 65535);
        FUZZ_CHECK(config_snapshot_mode_to_string(c.snapshot));
        FUZZ_CHECK(config_rollback_policy_to_string(c.rollback));
        /* the cluster's keys: what config_check_rules() promises every reader */
        FUZZ_CHECK(config_cluster_enabled(&c) == (c.cluster_etcd != NULL));
        FUZZ_CHECK(config_lb_driver_to_string(c.lb_driver));
        FUZZ_CHECK(c.cluster_slots >= 1 && c.cluster_slots <= 64);
        FUZZ_CHECK(c.lb_driver != LB_DRIVER_HAPROXY || (c.lb_sockets && c.lb_backend));
        FUZZ_CHECK(!c.cluster_etcd_certificate == !c.cluster_etcd_key);
        FUZZ_CHECK(config_server_address(&c)[0] != 0);
        return 0;
}
