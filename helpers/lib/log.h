/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* log.h: the programs' logging, to the journal with the upgrade's fields or to stderr */
#pragma once

#include <stdbool.h>
#include <syslog.h>

#include "macro.h"

typedef enum LogTarget {
        LOG_TARGET_AUTO,    /* decide from $CODEBOLT_UPGRADE_LOG, $JOURNAL_STREAM and the journal socket */
        LOG_TARGET_STDERR,  /* "identifier: message" */
        LOG_TARGET_JOURNAL, /* sd_journal_send with the CODEBOLT_UPGRADE_* fields */
} LogTarget;

/* Set SYSLOG_IDENTIFIER= (NULL: the program's name) and CODEBOLT_UPGRADE_PHASE= (NULL: none), and
 * (re)decide the target: $CODEBOLT_UPGRADE_LOG=stderr|journal forces one; otherwise the journal when
 * stderr is the stream $JOURNAL_STREAM names, or $INVOCATION_ID says a unit runs us; else stderr.
 * A message is never lost: when the journal is the target but cannot be reached, it goes to stderr. */
void log_setup(const char *identifier, const char *phase);
void log_set_deployment(const char *deployment);
void log_set_version(const char *version);
/* LOG_TARGET_AUTO decides again as log_setup() does */
void log_set_target(LogTarget target);
LogTarget log_get_target(void);
/* messages above this syslog priority are dropped (default LOG_INFO; $CODEBOLT_UPGRADE_LOG_LEVEL
 * takes a name such as "debug" or a number 0-7) */
void log_set_max_level(int priority);
int log_get_max_level(void);

/* Log one message; returns -abs(error), so "return log_error_errno(r, "Failed to …: %m");" works.
 * %m is strerror(abs(error)). errno is left unchanged. */
int log_full(int priority, int error, const char *fmt, ...) _printf_(3, 4);

/* An event of the message catalog (catalog/codebolt-upgrade.catalog): MESSAGE_ID= and extra
 * "FIELD=value" strings (NULL-terminated; NULL for none) beside the usual fields. Never filtered by
 * the max level: operators and the catalog rely on every event being there. */
int log_event(int priority, const char *message_id, char *const *fields, const char *fmt, ...)
        _printf_(4, 5);

/* the text of the last message logged at LOG_ERR or more severe, or NULL: the reason a phase failed */
const char *log_last_error(void);

/* One line of a child process's output, under the child's identifier and the given phase (NULL: the
 * phase set with log_setup()). Used by spawn to forward a subprocess's stdout and stderr. */
int log_forward(int priority, const char *identifier, const char *phase, const char *line);

/* Progress: STATUS= to the service manager (shown by systemctl status) and the same text at info.
 * Returns 0, or -errno when the notification could not be sent. */
int log_status(const char *fmt, ...) _printf_(1, 2);

#define log_debug(...) log_full(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, 0, __VA_ARGS__)

#define log_debug_errno(error, ...) log_full(LOG_DEBUG, (error), __VA_ARGS__)
#define log_info_errno(error, ...) log_full(LOG_INFO, (error), __VA_ARGS__)
#define log_notice_errno(error, ...) log_full(LOG_NOTICE, (error), __VA_ARGS__)
#define log_warning_errno(error, ...) log_full(LOG_WARNING, (error), __VA_ARGS__)
#define log_error_errno(error, ...) log_full(LOG_ERR, (error), __VA_ARGS__)

#define log_oom() log_full(LOG_ERR, ENOMEM, "Out of memory.")
