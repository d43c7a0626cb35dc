/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hash.c: SHA-256 digests (libgcrypt, which libsystemd maps already; OpenSSL's libcrypto would add a
 * megabyte to every helper) as 64 lowercase hex characters */
#define _GNU_SOURCE
#include <assert.h>
#include <fcntl.h>
#include <gcrypt.h>

#include "fd-util.h"
#include "hash.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(gcry_md_hd_t, gcry_md_close);
#define _cleanup_md_ _cleanup_(gcry_md_closep)

/* libgcrypt wants its initialization once per process, before any other call; libsystemd does the same
 * when it uses it (and skips it when it sees it done) */
static void digest_library_init(void) {
        if (gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P))
                return;
        (void)gcry_check_version(NULL);
        (void)gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
        (void)gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
}

static int digest_new(gcry_md_hd_t *ret) {
        digest_library_init();
        if (gcry_md_open(ret, GCRY_MD_SHA256, 0) != 0)
                return -ENOMEM;
        return 0;
}

static int digest_finish_hex(gcry_md_hd_t md_hd, char **ret_hex) {
        static const char hexchars[] = "0123456789abcdef";
        const unsigned char *md = gcry_md_read(md_hd, GCRY_MD_SHA256);
        unsigned len = gcry_md_get_algo_dlen(GCRY_MD_SHA256);
        char *hex;

        if (!md || len * 2 != HASH_SHA256_HEX_LEN)
                return -EIO;

        hex = malloc(HASH_SHA256_HEX_LEN + 1);
        if (!hex)
                return -ENOMEM;
        for (unsigned i = 0; i < len; i++) {
                hex[2 * i] = hexchars[md[i] >> 4];
                hex[2 * i + 1] = hexchars[md[i] & 0xf];
        }
        hex[HASH_SHA256_HEX_LEN] = 0;

        *ret_hex = hex;
        return 0;
}

int hash_sha256_buf(const void *data, size_t size, char **ret_hex) {
        _cleanup_md_ gcry_md_hd_t ctx = NULL;
        int r;

        assert(data || size == 0);
        assert(ret_hex);

        r = digest_new(&ctx);
        if (r < 0)
                return r;
        if (size > 0)
                gcry_md_write(ctx, data, size);
        return digest_finish_hex(ctx, ret_hex);
}

int hash_sha256_fd(int fd, char **ret_hex) {
        _cleanup_md_ gcry_md_hd_t ctx = NULL;
        _cleanup_free_ unsigned char *buf = NULL;
        const size_t bufsize = 128 * 1024;
        int r;

        assert(fd >= 0);
        assert(ret_hex);

        r = digest_new(&ctx);
        if (r < 0)
                return r;

        buf = malloc(bufsize);
        if (!buf)
                return -ENOMEM;

        for (;;) {
                ssize_t n = read_eintr(fd, buf, bufsize);
                if (n < 0)
                        return (int)n;
                if (n == 0)
                        break;
                gcry_md_write(ctx, buf, (size_t)n);
        }

        return digest_finish_hex(ctx, ret_hex);
}

int hash_sha256_file(const char *path, char **ret_hex) {
        _cleanup_close_ int fd = -EBADF;

        assert(path);
        assert(ret_hex);

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        return hash_sha256_fd(fd, ret_hex);
}

struct HashSha256 {
        gcry_md_hd_t md;
};

int hash_sha256_begin(HashSha256 **ret) {
        HashSha256 *h;
        int r;

        assert(ret);

        h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        r = digest_new(&h->md);
        if (r < 0) {
                free(h);
                return r;
        }
        *ret = h;
        return 0;
}

void hash_sha256_update(HashSha256 *h, const void *data, size_t size) {
        assert(h);
        assert(data || size == 0);

        if (size > 0)
                gcry_md_write(h->md, data, size);
}

int hash_sha256_end(HashSha256 *h, char **ret_hex) {
        assert(h);
        assert(ret_hex);

        return digest_finish_hex(h->md, ret_hex);
}

HashSha256 *hash_sha256_free(HashSha256 *h) {
        if (!h)
                return NULL;
        gcry_md_close(h->md);
        free(h);
        return NULL;
}
