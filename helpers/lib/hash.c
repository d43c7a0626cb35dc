/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hash.c: SHA-256 digests (OpenSSL EVP) as 64 lowercase hex characters */
#define _GNU_SOURCE
#include <assert.h>
#include <fcntl.h>
#include <openssl/evp.h>

#include "fd-util.h"
#include "hash.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MD_CTX *, EVP_MD_CTX_free);
#define _cleanup_evp_md_ctx_ _cleanup_(EVP_MD_CTX_freep)

static int digest_new(EVP_MD_CTX **ret) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();

        if (!ctx)
                return -ENOMEM;
        if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
                EVP_MD_CTX_free(ctx);
                return -EIO;
        }
        *ret = ctx;
        return 0;
}

static int digest_finish_hex(EVP_MD_CTX *ctx, char **ret_hex) {
        static const char hexchars[] = "0123456789abcdef";
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        char *hex;

        if (EVP_DigestFinal_ex(ctx, md, &len) != 1 || len * 2 != HASH_SHA256_HEX_LEN)
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
        _cleanup_evp_md_ctx_ EVP_MD_CTX *ctx = NULL;
        int r;

        assert(data || size == 0);
        assert(ret_hex);

        r = digest_new(&ctx);
        if (r < 0)
                return r;
        if (size > 0 && EVP_DigestUpdate(ctx, data, size) != 1)
                return -EIO;
        return digest_finish_hex(ctx, ret_hex);
}

int hash_sha256_fd(int fd, char **ret_hex) {
        _cleanup_evp_md_ctx_ EVP_MD_CTX *ctx = NULL;
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
                if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
                        return -EIO;
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
