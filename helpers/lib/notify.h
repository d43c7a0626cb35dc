/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* notify.h: the [Notify] URL= webhook: one JSON POST per event */
#pragma once

#include <cjson/cJSON.h>

#include "time-util.h"

/* Events: "started", "failed", "rolled-back", "restored", "held", "succeeded", and "downtime" (the
 * backup's announcement that the server is about to stop). */

/* The body of one notification: {"event": event, "time": now, <every member of fields, copied>}.
 * fields: NULL or a JSON object, else -EINVAL; members named "event" or "time" are left out (the
 * envelope wins). now: an ISO 8601 UTC timestamp. */
int notify_build_payload(const char *event, const cJSON *fields, const char *now, cJSON **ret);

/* POST the payload for event (time: now, UTC) to url, an http:// or https:// URL. token: NULL for no
 * Authorization header, else "Authorization: Bearer <token>". timeout: the whole transfer.
 * Any 2xx answer is success, whatever its body. Otherwise: -EREMOTEIO for another HTTP status (named
 * in ret_error), or http_request()'s -errno for a transport failure. ret_error (optional): on failure a
 * malloc'd one-line explanation, which never contains the token; untouched on success. */
int notify_send(
        const char *url,
        const char *token,
        const char *event,
        const cJSON *fields,
        usec_t timeout,
        char **ret_error);

/* url as it may be logged: without user:password@, query or fragment, where secrets travel */
int notify_url_for_log(const char *url, char **ret);
