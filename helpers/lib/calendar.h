/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* calendar.h: whether a calendar event (systemd.time(7)) is safe to write as a timer's OnCalendar= */
#pragma once

/* The directory systemd reads time zones from (a zone is valid when its file there is a TZif file). */
#define CALENDAR_ZONEINFO_DIR "/usr/share/zoneinfo"

/* 0 when spec is a calendar event that systemd's parser accepts, in the forms this checker knows:
 *   a shorthand (minutely hourly daily weekly monthly yearly annually quarterly semiannually
 *   biannually semi-annually bi-annually), or
 *   [WEEKDAYS] [[YYYY-]MM-DD] [HH:MM[:SS[.ffffff]]]
 * with WEEKDAYS names or three-letter abbreviations joined by ',' and '..' (or '-'), each date and time
 * field '*' or a ','-list of N, N..M, N/R, N..M/R, '~' before the day counting from the end of the
 * month, then optionally a time zone: UTC or a name in CALENDAR_ZONEINFO_DIR. Parts are separated by
 * one space. Stricter than systemd where it costs nothing (no @epoch, no local zone abbreviation that
 * is not a zone file, no trailing ',', at most 6 decimals), never laxer: a spec accepted here is one a
 * timer loads. -EINVAL otherwise, and *ret_why (when ret_why is not NULL) says what is wrong, in a
 * form that fits after "Schedule=: ". -ENOMEM when memory ran out. */
int calendar_spec_check(const char *spec, char **ret_why);
