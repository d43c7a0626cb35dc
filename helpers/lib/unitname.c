/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* unitname.c: systemd's unit-name escaping of an instance string */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "macro.h"
#include "unitname.h"

#define UNIT_NAME_PLAIN_CHARS        \
        "0123456789"                 \
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ" \
        "abcdefghijklmnopqrstuvwxyz" \
        ":_."

static int unhexchar(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -EINVAL;
}

int unitname_unescape(const char *s, char **ret) {
        _cleanup_free_ char *buf = NULL;
        char *t;

        if (!s)
                return -EINVAL;

        /* decoding only shortens */
        buf = malloc(strlen(s) + 1);
        if (!buf)
                return -ENOMEM;

        t = buf;
        for (const char *f = s; *f; f++) {
                int a, b;

                if (*f != '\\') {
                        *t++ = *f;
                        continue;
                }
                if (f[1] != 'x')
                        return -EINVAL;
                a = unhexchar(f[2]);
                if (a < 0)
                        return -EINVAL;
                b = unhexchar(f[3]);
                if (b < 0)
                        return -EINVAL;
                if (a == 0 && b == 0)
                        return -EINVAL;
                *t++ = (char)((a << 4) | b);
                f += 3;
        }
        *t = 0;

        *ret = TAKE_PTR(buf);
        return 0;
}

int unitname_escape(const char *s, char **ret) {
        static const char hex[] = "0123456789abcdef";
        _cleanup_free_ char *buf = NULL;
        char *t;

        if (!s)
                return -EINVAL;

        /* each byte grows to at most four */
        if (strlen(s) > (SIZE_MAX - 1) / 4)
                return -ENOMEM;
        buf = malloc(strlen(s) * 4 + 1);
        if (!buf)
                return -ENOMEM;

        t = buf;
        for (const char *f = s; *f; f++) {
                unsigned char c = (unsigned char)*f;

                if (c == '/')
                        *t++ = '-';
                else if ((f == s && c == '.') || !strchr(UNIT_NAME_PLAIN_CHARS, c)) {
                        /* a leading '.' would make a hidden unit */
                        *t++ = '\\';
                        *t++ = 'x';
                        *t++ = hex[c >> 4];
                        *t++ = hex[c & 15];
                } else
                        *t++ = (char)c;
        }
        *t = 0;

        *ret = TAKE_PTR(buf);
        return 0;
}

int unitname_deployment_name(
        const char *base, const char *deployment, const char *instance, const char *suffix, char **ret) {
        bool named = !config_deployment_is_default(deployment);

        if (asprintf(
                    ret,
                    "%s%s%s%s%s%s",
                    base,
                    named ? "-" : "",
                    named ? deployment : "",
                    instance ? "@" : "",
                    strempty(instance),
                    suffix) < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

int unitname_deployment_unit(const char *kind, const char *deployment, const char *instance, char **ret) {
        _cleanup_free_ char *base = NULL;

        if (asprintf(&base, "codebolt-%s", kind) < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return unitname_deployment_name(base, deployment, instance, ".service", ret);
}

int unitname_instance_for_version(const char *version, char **ret) {
        if (strchr(version, '+'))
                return unitname_escape(version, ret);
        *ret = strdup(version);
        return *ret ? 0 : -ENOMEM;
}
