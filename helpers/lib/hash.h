/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hash.h: SHA-256 digests (OpenSSL EVP) as 64 lowercase hex characters */
#pragma once

#include <stddef.h>

#define HASH_SHA256_HEX_LEN 64

/* digest of size bytes at data */
int hash_sha256_buf(const void *data, size_t size, char **ret_hex);
/* digest of what is left to read from fd (streamed; fd is not closed) */
int hash_sha256_fd(int fd, char **ret_hex);
/* digest of the file at path (streamed) */
int hash_sha256_file(const char *path, char **ret_hex);
