/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* starting.h: the start marker that lets the upgrade's own start of the server through its start
 * condition */
#pragma once

#include "helper.h"

/* Around the server's start (or restart) by the upgrade or the rollback: begin writes this process's
 * PID to /run/codebolt-upgrade/<deployment>.starting right before StartUnit/RestartUnit, so that the
 * server unit's `ExecCondition=codebolt-upgrade server-may-start` lets this start through while it
 * refuses every other one. Logs its failure (the caller only returns it). */
int helper_starting_begin(const Helper *h);
/* remove the marker once the start job ended; a failure is only a warning */
void helper_starting_end(const Helper *h);
