/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hash.h: SHA-256 digests (OpenSSL EVP) as 64 lowercase hex characters */
#pragma once

#include <stddef.h>

#include "macro.h"

#define HASH_SHA256_HEX_LEN 64

/* digest of size bytes at data */
int hash_sha256_buf(const void *data, size_t size, char **ret_hex);
/* digest of what is left to read from fd (streamed; fd is not closed) */
int hash_sha256_fd(int fd, char **ret_hex);
/* digest of the file at path (streamed) */
int hash_sha256_file(const char *path, char **ret_hex);

/* A digest fed piece by piece (a text streamed out or in, never held whole) */
typedef struct HashSha256 HashSha256;
/* a new digest; -ENOMEM */
int hash_sha256_begin(HashSha256 **ret);
/* feed size bytes at data */
void hash_sha256_update(HashSha256 *h, const void *data, size_t size);
/* the digest of everything fed, as hex; h stays usable only for hash_sha256_free() */
int hash_sha256_end(HashSha256 *h, char **ret_hex);
/* frees h and returns NULL; h may be NULL */
HashSha256 *hash_sha256_free(HashSha256 *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(HashSha256 *, hash_sha256_free);
