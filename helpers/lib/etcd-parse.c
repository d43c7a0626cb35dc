/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* etcd-parse.c: etcd's v3 JSON gateway on the wire: base64, 64-bit integers as strings, the answers
 * and the error objects, parsed (pure; fuzzed) */
#define _GNU_SOURCE
#include <assert.h>
#include <inttypes.h>
#include <limits.h>

#include <cjson/cJSON.h>

#include "etcd-parse.h"
#include "errmsg.h"
#include "json-util.h"

#define ERROR_MESSAGE_MAX 1024

/* ---- base64, as Go's encoding/base64.StdEncoding writes it (padded) ---- */

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *etcd_base64_encode(const void *p, size_t n) {
        const uint8_t *s = p;
        char *out, *o;

        if (n > (SIZE_MAX - 1) / 4 * 3 - 2)
                return NULL;
        out = o = malloc((n + 2) / 3 * 4 + 1);
        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t)s[i] << 16;

                if (i + 1 < n)
                        v |= (uint32_t)s[i + 1] << 8;
                if (i + 2 < n)
                        v |= s[i + 2];
                *o++ = b64_alphabet[(v >> 18) & 63];
                *o++ = b64_alphabet[(v >> 12) & 63];
                *o++ = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
                *o++ = i + 2 < n ? b64_alphabet[v & 63] : '=';
        }
        *o = 0;
        return out;
}

static int b64_value(char ch) {
        const char *p = ch ? strchr(b64_alphabet, ch) : NULL;

        return p ? (int)(p - b64_alphabet) : -1;
}

/* strict: padded, no whitespace; the result is NUL-terminated (it may hold NULs itself) */
static int base64_decode(const char *s, char **ret, size_t *ret_size) {
        size_t l = strlen(s), n = 0;
        _cleanup_free_ char *out = NULL;

        if (l % 4 != 0)
                return -EBADMSG;
        out = malloc(l / 4 * 3 + 1);
        if (!out)
                return -ENOMEM;

        for (size_t i = 0; i < l; i += 4) {
                int a = b64_value(s[i]), b = b64_value(s[i + 1]), c = b64_value(s[i + 2]),
                    d = b64_value(s[i + 3]);
                bool last = i + 4 == l;
                uint32_t v;

                if (a < 0 || b < 0)
                        return -EBADMSG;
                v = (uint32_t)a << 18 | (uint32_t)b << 12;
                if (last && s[i + 2] == '=' && s[i + 3] == '=') {
                        if (v & 0xffff) /* bits the padding drops must be zero */
                                return -EBADMSG;
                        out[n++] = (char)(v >> 16);
                        break;
                }
                if (c < 0)
                        return -EBADMSG;
                v |= (uint32_t)c << 6;
                if (last && s[i + 3] == '=') {
                        if (v & 0xff)
                                return -EBADMSG;
                        out[n++] = (char)(v >> 16);
                        out[n++] = (char)(v >> 8);
                        break;
                }
                if (d < 0)
                        return -EBADMSG;
                v |= (uint32_t)d;
                out[n++] = (char)(v >> 16);
                out[n++] = (char)(v >> 8);
                out[n++] = (char)v;
        }
        out[n] = 0;

        *ret = TAKE_PTR(out);
        if (ret_size)
                *ret_size = n;
        return 0;
}

/* ---- parsing the answers ---- */

int etcd_parse_int64(const cJSON *o, const char *name, int64_t *ret) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
        const char *s;
        char *end;
        long long l;

        if (!v || cJSON_IsNull(v)) {
                *ret = 0;
                return 0;
        }
        if (cJSON_IsNumber(v)) {
                int64_t i;

                if (json_number_to_int64(v->valuedouble, INT64_MIN, INT64_MAX, &i) < 0)
                        return -EBADMSG;
                *ret = i;
                return 0;
        }
        if (!cJSON_IsString(v))
                return -EBADMSG;

        s = v->valuestring;
        /* digits only, an optional minus: strtoll() would also take blanks and a plus */
        if (!s[s[0] == '-'] || strspn(s + (s[0] == '-'), "0123456789") != strlen(s + (s[0] == '-')))
                return -EBADMSG;
        errno = 0;
        l = strtoll(s, &end, 10);
        if (errno != 0 || *end)
                return -EBADMSG;
        *ret = (int64_t)l;
        return 0;
}

cJSON *etcd_parse_object(const char *body, size_t size) {
        cJSON *j = body ? cJSON_ParseWithLength(body, size) : NULL;

        if (j && !cJSON_IsObject(j)) {
                cJSON_Delete(j);
                return NULL;
        }
        return j;
}

int etcd_parse_header(const cJSON *o, int64_t *ret_revision) {
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "header");
        int64_t rev;

        if (!cJSON_IsObject(h) || !cJSON_GetObjectItemCaseSensitive(h, "revision"))
                return -EBADMSG;
        if (etcd_parse_int64(h, "revision", &rev) < 0 || rev < 0)
                return -EBADMSG;
        if (ret_revision)
                *ret_revision = rev;
        return 0;
}

void etcd_kv_done(EtcdKv *kv) {
        if (!kv)
                return;
        free(kv->key);
        free(kv->value);
        *kv = (EtcdKv){};
}

void etcd_kvs_free(EtcdKv *kvs, size_t n) {
        if (!kvs)
                return;
        for (size_t i = 0; i < n; i++)
                etcd_kv_done(&kvs[i]);
        free(kvs);
}

static int parse_kv(const cJSON *j, EtcdKv *ret) {
        _cleanup_(etcd_kv_done) EtcdKv kv = {};
        const cJSON *v;
        size_t key_size;
        int r;

        if (!cJSON_IsObject(j))
                return -EBADMSG;

        v = cJSON_GetObjectItemCaseSensitive(j, "key");
        if (!cJSON_IsString(v))
                return -EBADMSG;
        r = base64_decode(v->valuestring, &kv.key, &key_size);
        if (r < 0)
                return r;
        if (key_size == 0 || memchr(kv.key, 0, key_size))
                return -EBADMSG;

        v = cJSON_GetObjectItemCaseSensitive(j, "value");
        if (!v || cJSON_IsNull(v))
                kv.value = strdup("");
        else if (!cJSON_IsString(v))
                return -EBADMSG;
        else {
                r = base64_decode(v->valuestring, &kv.value, &kv.value_size);
                if (r < 0)
                        return r;
        }
        if (!kv.value)
                return -ENOMEM;

        if (etcd_parse_int64(j, "create_revision", &kv.create_revision) < 0 ||
            etcd_parse_int64(j, "mod_revision", &kv.mod_revision) < 0 ||
            etcd_parse_int64(j, "version", &kv.version) < 0 || etcd_parse_int64(j, "lease", &kv.lease) < 0)
                return -EBADMSG;

        *ret = kv;
        kv = (EtcdKv){};
        return 0;
}

int etcd_parse_range(const char *body, size_t size, EtcdKv **ret, size_t *ret_n, int64_t *ret_revision) {
        _cleanup_json_ cJSON *j = etcd_parse_object(body, size);
        const cJSON *kvs, *item;
        EtcdKv *list = NULL;
        size_t n = 0;
        int64_t rev;
        int r;

        assert(ret);
        assert(ret_n);

        if (!j)
                return -EBADMSG;
        r = etcd_parse_header(j, &rev);
        if (r < 0)
                return r;

        /* no match: the gateway leaves "kvs" out */
        kvs = cJSON_GetObjectItemCaseSensitive(j, "kvs");
        if (kvs && !cJSON_IsNull(kvs)) {
                int count;

                if (!cJSON_IsArray(kvs))
                        return -EBADMSG;
                count = cJSON_GetArraySize(kvs);
                if (count > 0) {
                        list = calloc((size_t)count, sizeof(EtcdKv));
                        if (!list)
                                return -ENOMEM;
                }
                cJSON_ArrayForEach (item, kvs) {
                        r = parse_kv(item, &list[n]);
                        if (r < 0) {
                                etcd_kvs_free(list, n);
                                return r;
                        }
                        n++;
                }
        }

        *ret = list;
        *ret_n = n;
        if (ret_revision)
                *ret_revision = rev;
        return 0;
}

int etcd_parse_txn(const char *body, size_t size, bool *ret_succeeded) {
        _cleanup_json_ cJSON *j = etcd_parse_object(body, size);
        const cJSON *s;
        int r;

        assert(ret_succeeded);

        if (!j)
                return -EBADMSG;
        r = etcd_parse_header(j, NULL);
        if (r < 0)
                return r;

        /* a failed compare: proto3 leaves the false out */
        s = cJSON_GetObjectItemCaseSensitive(j, "succeeded");
        if (s && !cJSON_IsNull(s) && !cJSON_IsBool(s))
                return -EBADMSG;
        *ret_succeeded = cJSON_IsTrue(s);
        return 0;
}

int etcd_error_to_errno(int64_t code, const char *message) {
        static const char *const auth[] = {
                "user name is empty",    "revision of auth store is old",
                "authentication failed", "invalid auth token",
                "Unauthenticated",
        };

        switch (code) {
        case 5:
                return -ENOENT;
        case 7:
                return -EPERM;
        case 16:
                return -EACCES;
        }
        for (size_t i = 0; i < ELEMENTSOF(auth); i++)
                if (message && strstr(message, auth[i]))
                        return -EACCES;
        return -EREMOTEIO;
}

char *etcd_one_line(const char *s) {
        char *c = strdup(s);

        if (!c)
                return NULL;
        if (strlen(c) > ERROR_MESSAGE_MAX)
                c[ERROR_MESSAGE_MAX] = 0;
        for (char *p = c; *p; p++)
                if ((unsigned char)*p < ' ' || *p == 0x7f)
                        *p = ' ';
        return c;
}

int etcd_parse_error(const char *body, size_t size, char **ret_message) {
        _cleanup_json_ cJSON *j = etcd_parse_object(body, size);
        const cJSON *e;
        const char *message = NULL;
        int64_t code = 0;
        char *m;
        int r;

        if (!j)
                return 0;
        e = cJSON_GetObjectItemCaseSensitive(j, "error");
        if (!e || cJSON_IsNull(e))
                return 0;

        if (cJSON_IsObject(e)) {
                /* the form a stream (watch, keepalive) fails with */
                message = json_get_string(e, "message");
                if (etcd_parse_int64(e, "grpc_code", &code) < 0)
                        code = 0;
        } else {
                /* a response of its own with an "error" field (LeaseGrantResponse) is no error object */
                if (!cJSON_GetObjectItemCaseSensitive(j, "code") &&
                    (cJSON_GetObjectItemCaseSensitive(j, "header") ||
                     cJSON_GetObjectItemCaseSensitive(j, "result")))
                        return 0;
                message = json_get_string(j, "message");
                if (!message || !*message)
                        message = cJSON_IsString(e) ? e->valuestring : NULL;
                if (etcd_parse_int64(j, "code", &code) < 0)
                        code = 0;
        }
        if (message && !*message)
                message = NULL;

        r = etcd_error_to_errno(code, message);
        if (ret_message) {
                if (message)
                        m = etcd_one_line(message);
                else if (asprintf(&m, "etcd error (code %" PRIi64 ")", code) < 0)
                        m = NULL;
                if (!m)
                        return -ENOMEM;
                *ret_message = m;
        }
        return r;
}
