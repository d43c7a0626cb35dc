/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cescape.h: C-style escapes for names from the file system put into a log line */
#pragma once

/* s with every byte that could break or forge a log line escaped as C writes it: \a \b \t \n \v \f \r,
 * a backslash as \\, any other control byte, DEL and every byte from 0x80 up as \xNN. Printable
 * ASCII (space and quotes included) stays as it is, so an ordinary name reads unchanged. A new string,
 * or NULL when memory ran out or s is NULL. */
char *cescape(const char *s);
