/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* macro.h: cleanup attributes and ownership helpers shared by every module */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
#define _warn_unused_result_ __attribute__((warn_unused_result))

/* around a call that passes on a format its caller gave (checked there by _printf_(n, 0)) */
#define DISABLE_WARNING_FORMAT_NONLITERAL \
        _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wformat-nonliteral\"")
#define REENABLE_WARNING _Pragma("GCC diagnostic pop")

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* hand a pointer out of a cleanup scope */
#define TAKE_PTR(p)                        \
        ({                                 \
                __typeof__(p) _ptr_ = (p); \
                (p) = NULL;                \
                _ptr_;                     \
        })

#define TAKE_FD(fd)              \
        ({                       \
                int _fd_ = (fd); \
                (fd) = -EBADF;   \
                _fd_;            \
        })

#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func) \
        static inline void func##p(type *p) {   \
                if (*p)                         \
                        func(*p);               \
        }

/* free() for _cleanup_free_: takes a pointer to any pointer */
static inline void freep(void *p) {
        free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

/* a secret (a password, a token) must not outlive its use in memory: zeroed, then freed */
static inline void erase_and_freep(char **p) {
        if (*p) {
                explicit_bzero(*p, strlen(*p));
                free(*p);
        }
}
#define _cleanup_erase_free_ _cleanup_(erase_and_freep)

/* close() for _cleanup_close_: a negative fd is left alone, errno is kept */
static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
#define _cleanup_close_ _cleanup_(closep)

/* fclose() for _cleanup_fclose_: a NULL stream is left alone */
static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* a NULL-terminated string vector */
static inline void strv_free(char **l) {
        if (!l)
                return;
        for (char **i = l; *i; i++)
                free(*i);
        free(l);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)

#define STRV_FOREACH(s, l) for (char **s = (l); s && *s; s++)

/* -errno, or -EIO when a failed call did not set errno */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

/* s, or "" for NULL */
static inline const char *strempty(const char *s) {
        return s ?: "";
}

/* strcmp() == 0 where either may be NULL (equal when both are) */
static inline int streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}
#define streq(a, b) (strcmp((a), (b)) == 0)

/* what follows prefix in s, or NULL when s does not start with it */
static inline const char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);
        return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}
