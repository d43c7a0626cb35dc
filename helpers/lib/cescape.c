/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cescape.c: C-style escapes for names from the file system put into a log line */
#include <stdlib.h>
#include <string.h>

#include "cescape.h"

char *cescape(const char *s) {
        static const char hex[] = "0123456789abcdef";
        char *buf, *t;

        if (!s)
                return NULL;
        /* every byte becomes at most 4 ("\xNN") */
        buf = malloc(strlen(s) * 4 + 1);
        if (!buf)
                return NULL;

        t = buf;
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                const char *named = NULL;

                switch (*p) {
                case '\a':
                        named = "\\a";
                        break;
                case '\b':
                        named = "\\b";
                        break;
                case '\t':
                        named = "\\t";
                        break;
                case '\n':
                        named = "\\n";
                        break;
                case '\v':
                        named = "\\v";
                        break;
                case '\f':
                        named = "\\f";
                        break;
                case '\r':
                        named = "\\r";
                        break;
                case '\\':
                        named = "\\\\";
                        break;
                }
                if (named) {
                        *t++ = named[0];
                        *t++ = named[1];
                } else if (*p < ' ' || *p >= 0x7f) {
                        *t++ = '\\';
                        *t++ = 'x';
                        *t++ = hex[*p >> 4];
                        *t++ = hex[*p & 0xf];
                } else
                        *t++ = (char)*p;
        }
        *t = 0;
        return buf;
}
