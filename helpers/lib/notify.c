/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* notify.c: the [Notify] URL= webhook: one JSON POST per event */
#define _GNU_SOURCE
#include <assert.h>

#include "current.h"
#include "errmsg.h"
#include "http.h"
#include "json-util.h"
#include "notify.h"

int notify_build_payload(const char *event, const cJSON *fields, const char *now, cJSON **ret) {
        _cleanup_json_ cJSON *p = NULL;
        const cJSON *f;

        assert(ret);

        if (!event || !*event || !now || !*now)
                return -EINVAL;
        if (fields && !cJSON_IsObject(fields))
                return -EINVAL;

        p = cJSON_CreateObject();
        if (!p || !cJSON_AddStringToObject(p, "event", event) || !cJSON_AddStringToObject(p, "time", now))
                return -ENOMEM;

        cJSON_ArrayForEach (f, fields) {
                cJSON *copy;

                if (!f->string || streq(f->string, "event") || streq(f->string, "time") ||
                    cJSON_GetObjectItemCaseSensitive(p, f->string))
                        continue;
                copy = cJSON_Duplicate(f, true);
                if (!copy)
                        return -ENOMEM;
                if (!cJSON_AddItemToObject(p, f->string, copy)) {
                        cJSON_Delete(copy);
                        return -ENOMEM;
                }
        }

        *ret = TAKE_PTR(p);
        return 0;
}

int notify_send(
        const char *url,
        const char *token,
        const char *event,
        const cJSON *fields,
        usec_t timeout,
        char **ret_error) {

        _cleanup_http_response_ HttpResponse resp = {};
        _cleanup_json_ cJSON *payload = NULL;
        _cleanup_free_ char *now = NULL, *body = NULL, *error = NULL;
        int r;

        if (!url || !*url)
                return errmsg_set(ret_error, -EINVAL, "no webhook URL");

        now = current_timestamp();
        if (!now)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        r = notify_build_payload(event, fields, now, &payload);
        if (r == -EINVAL)
                return errmsg_set(ret_error, r, "invalid event or fields");
        if (r < 0)
                return errmsg_set(ret_error, r, "out of memory");
        body = cJSON_PrintUnformatted(payload);
        if (!body)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");

        /* not http_json(): a webhook may answer 2xx with any body ("ok"), and that is success */
        r = http_request("POST", url, token, body, timeout, &resp, &error);
        if (r < 0) {
                /* http already keeps the token out of its messages; this is a second guard */
                if (!error || (token && *token && strstr(error, token)))
                        return errmsg_set(ret_error, r, "%s", strerror(-r));
                return errmsg_set(ret_error, r, "%s", error);
        }
        if (resp.status < 200 || resp.status > 299)
                return errmsg_set(ret_error, -EREMOTEIO, "the webhook answered HTTP %ld", resp.status);
        return 0;
}

int notify_url_for_log(const char *url, char **ret) {
        const char *scheme_end, *authority, *at, *rest;
        size_t authority_len, rest_len;
        char *s;

        assert(url);
        assert(ret);

        scheme_end = strstr(url, "://");
        authority = scheme_end ? scheme_end + 3 : url;
        authority_len = strcspn(authority, "/?#");

        /* user:password@host: keep only the host */
        at = memrchr(authority, '@', authority_len);
        rest = authority + authority_len;
        rest_len = strcspn(rest, "?#");
        if (at) {
                authority_len -= (size_t)(at + 1 - authority);
                authority = at + 1;
        }

        if (asprintf(
                    &s,
                    "%.*s%.*s%.*s",
                    (int)(scheme_end ? scheme_end + 3 - url : 0),
                    url,
                    (int)authority_len,
                    authority,
                    (int)rest_len,
                    rest) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}
