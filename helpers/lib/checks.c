/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* checks.c: the rules of the gates before an upgrade */
#define _GNU_SOURCE
#include <ctype.h>
#include <inttypes.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "json-util.h"
#include "ledger.h"
#include "macro.h"
#include "semver.h"
#include "strv.h"

#define MIB ((uint64_t)1024 * 1024)

const char *check_result_to_string(CheckResult r) {
        static const char *const names[_CHECK_RESULT_MAX] = {
                [CHECK_PASS] = "pass",
                [CHECK_FAIL] = "fail",
                [CHECK_SKIPPED] = "skipped",
        };
        return r >= 0 && r < _CHECK_RESULT_MAX ? names[r] : NULL;
}

int checks_node_version(const char *output, char **ret) {
        _cleanup_free_ char *s = NULL;
        SemVer v = {};
        size_t len;
        int r;

        if (!output)
                return -EBADMSG;
        output += strspn(output, " \t\n");
        if (*output == 'v')
                output++;
        len = strcspn(output, " \t\r\n");
        s = strndup(output, len);
        if (!s)
                return -ENOMEM;
        r = semver_parse(s, &v);
        semver_done(&v);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return -EBADMSG;
        *ret = TAKE_PTR(s);
        return 0;
}

int checks_pg_version(long num, char **ret) {
        long major, minor, patch;

        if (num <= 0)
                return -EINVAL;
        if (num >= 100000) { /* 10 and later: major * 10000 + minor */
                major = num / 10000;
                minor = num % 10000;
                patch = 0;
        } else { /* 9.6.24 is 90624 */
                major = num / 10000;
                minor = (num / 100) % 100;
                patch = num % 100;
        }
        return asprintf(ret, "%ld.%ld.%ld", major, minor, patch) < 0 ? -ENOMEM : 0;
}

/* append "item" to a ", "-joined list */
static int list_add(char **list, const char *item) {
        char *s;

        if (asprintf(&s, "%s%s%s", strempty(*list), *list ? ", " : "", item) < 0)
                return -ENOMEM;
        free(*list);
        *list = s;
        return 0;
}

int checks_clients_below(const cJSON *clients, int64_t min, char **ret_list, size_t *ret_n) {
        _cleanup_free_ char *list = NULL;
        const cJSON *c;
        size_t n = 0;

        cJSON_ArrayForEach (c, clients) {
                _cleanup_free_ char *item = NULL, *proto = NULL;
                int64_t p;
                int r;

                r = json_get_int64_range(c, "protocol", 0, INT64_MAX, &p);
                if (r >= 0 && p >= min)
                        continue;
                if (r >= 0 ? asprintf(&proto, "protocol %" PRId64, p) < 0
                           : !(proto = strdup(r == -ENOENT ? "no protocol given" : "a malformed protocol")))
                        return -ENOMEM;
                if (asprintf(
                            &item,
                            "%s (%s %s, %s)",
                            json_get_string(c, "id") ?: "?",
                            json_get_string(c, "kind") ?: "client",
                            json_get_string(c, "version") ?: "?",
                            proto) < 0 ||
                    list_add(&list, item) < 0)
                        return -ENOMEM;
                n++;
        }
        *ret_list = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}

int checks_runs_in_flight(const cJSON *answer, uint32_t *ret) {
        int64_t n;
        int r;

        r = json_get_int64_range(answer, "count", 0, UINT32_MAX, &n);
        if (r == -ENOENT)
                return -EBADMSG;
        if (r < 0)
                return r;
        *ret = (uint32_t)n;
        return 0;
}

int checks_incompatible(const char *output, char *const *allow, char **ret_blocking, char **ret_allowed) {
        _cleanup_free_ char *blocking = NULL, *allowed = NULL;

        for (const char *p = strempty(output); *p;) {
                size_t len = strcspn(p, "\n");
                _cleanup_free_ char *line = strndup(p, len), *item = NULL;
                char name[129], version[129], status[33], extra;
                int n;

                if (!line)
                        return -ENOMEM;
                p += len + (p[len] == '\n');
                if (strspn(line, " \t\r") == strlen(line))
                        continue;
                n = sscanf(line, "%128s %128s %32s %c", name, version, status, &extra);
                if (n != 3 ||
                    (!streq(status, "ok") && !streq(status, "incompatible") && !streq(status, "disabled")))
                        return -EBADMSG;
                if (!streq(status, "incompatible"))
                        continue;
                if (asprintf(&item, "%s %s", name, version) < 0 ||
                    list_add(strv_contains(allow, name) ? &allowed : &blocking, item) < 0)
                        return -ENOMEM;
        }
        *ret_blocking = TAKE_PTR(blocking);
        *ret_allowed = TAKE_PTR(allowed);
        return 0;
}

uint64_t checks_backup_bytes(uint64_t db_bytes, uint64_t store_bytes) {
        uint64_t sum = db_bytes + store_bytes, margin = sum / 5;

        if (sum < db_bytes)
                return UINT64_MAX;
        if (margin < 64 * MIB)
                margin = 64 * MIB;
        return sum + margin < sum ? UINT64_MAX : sum + margin;
}

char *checks_format_duration(usec_t d) {
        uint64_t sec = d / USEC_PER_SEC, h = sec / 3600, min = (sec % 3600) / 60;
        char *s;
        int r;

        if (h > 0 && min > 0)
                r = asprintf(&s, "%lluh %llumin", (unsigned long long)h, (unsigned long long)min);
        else if (h > 0)
                r = asprintf(&s, "%lluh", (unsigned long long)h);
        else if (min > 0)
                r = asprintf(&s, "%llumin", (unsigned long long)min);
        else
                r = asprintf(&s, "%llus", (unsigned long long)sec);
        return r < 0 ? NULL : s;
}

int checks_parse_timestamp(const char *s, usec_t *ret) {
        struct tm tm = {};
        const char *end;
        time_t t;

        if (!s)
                return -EINVAL;
        end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (!end || *end)
                return -EINVAL;
        t = timegm(&tm);
        if (t < 0)
                return -EINVAL;
        *ret = (usec_t)t * USEC_PER_SEC;
        return 0;
}

int checks_staging(const cJSON *ledger, const char *version, usec_t bake, usec_t now, char **ret_reason) {
        const cJSON *e = ledger_last_change_for_version(ledger, version);
        _cleanup_free_ char *age = NULL, *want = NULL, *left = NULL;
        const char *result = json_get_string(e, "result"), *watch = json_get_string(e, "watch");
        usec_t finished;
        char *reason = NULL;
        int r = CHECK_FAIL;

        if (!e) {
                if (asprintf(&reason, "the staging ledger has no upgrade to %s: stage it first", version) <
                    0)
                        return -ENOMEM;
        } else if (!streq_ptr(result, "succeeded")) {
                if (asprintf(&reason, "the upgrade to %s ended %s on staging", version, strempty(result)) <
                    0)
                        return -ENOMEM;
        } else if (checks_parse_timestamp(json_get_string(e, "finished"), &finished) < 0) {
                if (asprintf(
                            &reason,
                            "the staging ledger's entry for %s has no valid \"finished\" time",
                            version) < 0)
                        return -ENOMEM;
        } else if (streq_ptr(watch, "degraded")) {
                if (asprintf(
                            &reason,
                            "%s succeeded on staging, but its watch there says degraded (see the staging "
                            "host's codebolt-upgrade status)",
                            version) < 0)
                        return -ENOMEM;
        } else {
                age = checks_format_duration(now > finished ? now - finished : 0);
                want = checks_format_duration(bake);
                if (!age || !want)
                        return -ENOMEM;
                if (now < finished || now - finished < bake) {
                        /* rounded up to the minute: "22h to go", not "21h 59min" a few seconds later */
                        usec_t rest = finished + bake - now, minute = 60 * USEC_PER_SEC;
                        left = checks_format_duration((rest + minute - 1) / minute * minute);
                        if (!left || asprintf(
                                             &reason,
                                             "%s succeeded on staging %s ago; BakeTime= is %s: %s to go",
                                             version,
                                             age,
                                             want,
                                             left) < 0)
                                return -ENOMEM;
                } else {
                        if (asprintf(
                                    &reason,
                                    "%s succeeded on staging %s ago (BakeTime= %s), watch %s",
                                    version,
                                    age,
                                    want,
                                    watch ?: "not reported") < 0)
                                return -ENOMEM;
                        r = CHECK_PASS;
                }
        }
        *ret_reason = reason;
        return r;
}

int checks_expected_downtime(const cJSON *ledger, double *ret_seconds, char **ret_basis) {
        const cJSON *e, *found = NULL;
        char *basis;

        cJSON_ArrayForEach (e, ledger) {
                const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "downtime_seconds");
                if (streq_ptr(json_get_string(e, "result"), "succeeded") && cJSON_IsNumber(d))
                        found = e;
        }
        if (!found) {
                basis = strdup("no earlier upgrade on this host to go by");
                if (!basis)
                        return -ENOMEM;
                *ret_seconds = NAN;
                *ret_basis = basis;
                return 0;
        }
        *ret_seconds = cJSON_GetObjectItemCaseSensitive(found, "downtime_seconds")->valuedouble;
        if (asprintf(
                    &basis,
                    "the last upgrade here (%s → %s) had the server down %.0f s",
                    strempty(json_get_string(found, "from")),
                    strempty(json_get_string(found, "to")),
                    *ret_seconds) < 0)
                return -ENOMEM;
        *ret_basis = basis;
        return 0;
}
