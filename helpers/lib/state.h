/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* state.h: state files written atomically (temp file, fsync, rename, fsync of the directory) */
#pragma once

#include <cjson/cJSON.h>
#include <stddef.h>
#include <sys/types.h>

/* Read and parse a JSON file: -ENOENT when missing, -EBADMSG when it is not JSON. */
int state_read_json(const char *path, cJSON **ret);

/* Replace path with j (pretty-printed, newline-terminated) and the given mode; a reader sees the
 * old or the new content, never a mix, and after a crash the file is one of the two. */
int state_write_json_atomic(const char *path, const cJSON *j, mode_t mode);

/* As state_write_json_atomic(), but only when path does not exist yet: -EEXIST otherwise. The check
 * and the creation are one step (renameat2(RENAME_NOREPLACE)). */
int state_create_json_exclusive(const char *path, const cJSON *j, mode_t mode);

/* Replace path with s ("1.5.0\n" for the pin) atomically. */
int state_write_string_atomic(const char *path, const char *s, mode_t mode);

/* Replace path with size bytes at data atomically. */
int state_write_atomic(const char *path, const void *data, size_t size, mode_t mode);

/* Read a whole file into a NUL-terminated buffer; *ret_size (optional) gets its length. */
int state_read_file(const char *path, char **ret, size_t *ret_size);
/* everything up to EOF from fd, NUL-terminated; -EFBIG past max bytes (size_hint: the expected size) */
int state_read_fd(int fd, size_t size_hint, size_t max, char **ret, size_t *ret_size);

/* Read a small text file with leading and trailing whitespace removed; -EBADMSG when it holds a
 * NUL byte. */
int state_read_string(const char *path, char **ret);
/* what state_read_string() makes of a file's size bytes (NUL-terminated): -EBADMSG on a NUL inside */
int state_string_from_buffer(const char *buf, size_t size, char **ret);
/* size bytes of JSON: -EBADMSG when they are not JSON */
int state_parse_json(const char *buf, size_t size, cJSON **ret);

/* Remove path and make the removal durable: -ENOENT when it did not exist. */
int state_unlink(const char *path);
