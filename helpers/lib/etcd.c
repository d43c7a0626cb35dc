/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* etcd.c: a client of etcd's v3 JSON gateway, over libcurl */
#define _GNU_SOURCE
#include <assert.h>
#include <inttypes.h>
#include <limits.h>

#include <cjson/cJSON.h>

#include "etcd.h"
#include "errmsg.h"
#include "http.h"
#include "json-util.h"
#include "strv.h"

#define ETCD_TIMEOUT_DEFAULT (5 * USEC_PER_SEC)

struct EtcdClient {
        char **endpoints; /* without a trailing slash */
        size_t n_endpoints;
        size_t current; /* the endpoint that answered last, tried first */
        char *user;
        char *password;
        char *ca;
        char *certificate;
        char *key;
        usec_t timeout;
        char *token;        /* NULL: none yet (or none needed) */
        bool auth_disabled; /* the cluster said authentication is not enabled */
};

/* ---- the client ---- */

EtcdClient *etcd_client_free(EtcdClient *c) {
        if (!c)
                return NULL;
        strv_free(c->endpoints);
        free(c->user);
        erase_and_freep(&c->password);
        erase_and_freep(&c->token);
        free(c->ca);
        free(c->certificate);
        free(c->key);
        free(c);
        return NULL;
}

/* http:// or https://, a host, at most a path; no blank, no control character, no query */
static int endpoint_normalize(const char *url, char **ret) {
        const char *rest = startswith(url, "http://") ?: startswith(url, "https://");
        char *s;
        size_t l;

        if (!rest || !*rest || *rest == '/')
                return -EINVAL;
        for (const char *p = url; *p; p++)
                if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '?' || *p == '#')
                        return -EINVAL;

        s = strdup(url);
        if (!s)
                return -ENOMEM;
        l = strlen(s);
        while (l > 0 && s[l - 1] == '/')
                s[--l] = 0;
        *ret = s;
        return 0;
}

static int strdup_optional(const char *s, char **ret) {
        *ret = NULL;
        if (!s)
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int etcd_client_new(const EtcdOptions *o, EtcdClient **ret, char **ret_error) {
        _cleanup_etcd_client_ EtcdClient *c = NULL;
        int r;

        assert(o);
        assert(ret);

        if (strv_length(o->endpoints) == 0)
                return errmsg_set(ret_error, -EINVAL, "no etcd endpoint");
        if (o->user && !o->password)
                return errmsg_set(ret_error, -EINVAL, "etcd user %s without a password", o->user);
        if (!o->certificate != !o->key)
                return errmsg_set(
                        ret_error,
                        -EINVAL,
                        "an etcd client certificate needs its key, and a key its certificate");

        c = calloc(1, sizeof(EtcdClient));
        if (!c)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        c->timeout = o->timeout > 0 ? o->timeout : ETCD_TIMEOUT_DEFAULT;

        STRV_FOREACH (e, o->endpoints) {
                _cleanup_free_ char *n = NULL;

                r = endpoint_normalize(*e, &n);
                if (r == -EINVAL)
                        return errmsg_set(ret_error, r, "not an http:// or https:// etcd endpoint: %s", *e);
                if (r < 0 || strv_push(&c->endpoints, n) < 0)
                        return errmsg_set(ret_error, -ENOMEM, "out of memory");
                c->n_endpoints++;
        }

        if (strdup_optional(o->user, &c->user) < 0 || strdup_optional(o->password, &c->password) < 0 ||
            strdup_optional(o->ca, &c->ca) < 0 || strdup_optional(o->certificate, &c->certificate) < 0 ||
            strdup_optional(o->key, &c->key) < 0)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");

        *ret = TAKE_PTR(c);
        return 0;
}

static HttpOptions http_options(const EtcdClient *c, const char *authorization, usec_t connect_timeout) {
        return (HttpOptions){
                .authorization = authorization,
                .ca = c->ca,
                .certificate = c->certificate,
                .key = c->key,
                .connect_timeout = connect_timeout,
        };
}

/* the request never reached etcd: any other endpoint may take it */
static bool not_sent(int r) {
        return r == -ECONNREFUSED || r == -EHOSTUNREACH || r == -ENETUNREACH;
}

/* it may have reached etcd: only a request that may be repeated goes elsewhere */
static bool lost_after_sending(int r) {
        return r == -ETIMEDOUT || r == -ECONNRESET;
}

/* appends "; URL: what" to *failures (best effort: it only feeds a message) */
static void failure_add(char **failures, const char *endpoint, const char *what) {
        const char *before = strempty(*failures), *sep = *failures ? "; " : "";
        char *s;

        if (asprintf(&s, "%s%s%s: %s", before, sep, endpoint, strempty(what)) < 0)
                return;
        free(*failures);
        *failures = s;
}

/* POST body to path on the endpoints in turn; *ret_endpoint: the one that answered */
static int post(
        EtcdClient *c,
        const char *path,
        const char *body,
        const char *authorization,
        bool repeatable,
        HttpResponse *ret,
        const char **ret_endpoint,
        char **ret_error) {

        _cleanup_free_ char *failures = NULL;
        HttpOptions o = http_options(c, authorization, c->timeout);

        for (size_t i = 0; i < c->n_endpoints; i++) {
                size_t k = (c->current + i) % c->n_endpoints;
                _cleanup_free_ char *url = NULL, *err = NULL;
                int r;

                if (asprintf(&url, "%s%s", c->endpoints[k], path) < 0)
                        return errmsg_set(ret_error, -ENOMEM, "out of memory");
                r = http_request_with("POST", url, &o, body, c->timeout, ret, &err);
                if (r >= 0) {
                        c->current = k;
                        *ret_endpoint = c->endpoints[k];
                        return 0;
                }
                if (lost_after_sending(r) && !repeatable)
                        return errmsg_set(
                                ret_error,
                                r,
                                "%s%s: %s (the outcome is unknown)",
                                c->endpoints[k],
                                path,
                                strempty(err));
                if (!not_sent(r) && !lost_after_sending(r))
                        return errmsg_set(ret_error, r, "%s%s: %s", c->endpoints[k], path, strempty(err));
                failure_add(&failures, c->endpoints[k], err);
        }

        return errmsg_set(ret_error, -EHOSTUNREACH, "no etcd endpoint answered: %s", strempty(failures));
}

/* an answer that is an error: its errno with the endpoint and message; 0 for a 2xx answer */
static int answer_error(const HttpResponse *resp, const char *endpoint, const char *path, char **ret_error) {
        _cleanup_free_ char *message = NULL;
        int r;

        r = etcd_parse_error(resp->body, resp->size, &message);
        if (r == -ENOMEM)
                return errmsg_set(ret_error, r, "out of memory");
        if (r < 0)
                return errmsg_set(ret_error, r, "%s%s: %s", endpoint, path, message);
        if (resp->status < 200 || resp->status >= 300)
                return errmsg_set(ret_error, -EREMOTEIO, "%s%s: HTTP %ld", endpoint, path, resp->status);
        return 0;
}

static int authenticate(EtcdClient *c, char **ret_error) {
        _cleanup_json_ cJSON *req = cJSON_CreateObject(), *j = NULL;
        _cleanup_erase_free_ char *body = NULL;
        _cleanup_free_ char *message = NULL;
        _cleanup_http_response_ HttpResponse resp = {};
        const char *endpoint, *token, *path = "/v3/auth/authenticate";
        int r;

        /* the password is referenced, not copied; the printed body is erased */
        if (!req || !cJSON_AddStringToObject(req, "name", c->user) ||
            !cJSON_AddItemToObject(req, "password", cJSON_CreateStringReference(c->password)))
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        body = cJSON_PrintUnformatted(req);
        if (!body)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");

        r = post(c, path, body, NULL, true, &resp, &endpoint, ret_error);
        if (r < 0)
                return r;

        r = etcd_parse_error(resp.body, resp.size, &message);
        if (r < 0 && message && strstr(message, "authentication is not enabled")) {
                c->auth_disabled = true;
                return 0;
        }
        if (r < 0)
                return errmsg_set(
                        ret_error, r, "%s%s as %s: %s", endpoint, path, c->user, strempty(message));
        r = answer_error(&resp, endpoint, path, ret_error);
        if (r < 0)
                return r;

        j = etcd_parse_object(resp.body, resp.size);
        token = json_get_string(j, "token");
        if (!token || !*token || strpbrk(token, "\r\n"))
                return errmsg_set(ret_error, -EBADMSG, "%s%s: no token in the answer", endpoint, path);
        c->token = strdup(token);
        if (!c->token)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        return 0;
}

static int ensure_token(EtcdClient *c, char **ret_error) {
        if (!c->user || c->token || c->auth_disabled)
                return 0;
        return authenticate(c, ret_error);
}

static void token_drop(EtcdClient *c) {
        erase_and_freep(&c->token);
        c->token = NULL;
        c->auth_disabled = false;
}

/* POST body (a JSON object) to path with the token, renewed once when refused; *ret: the 2xx answer
 * that is no error object */
static int call(
        EtcdClient *c,
        const char *path,
        const cJSON *body,
        bool repeatable,
        HttpResponse *ret,
        const char **ret_endpoint,
        char **ret_error) {

        _cleanup_free_ char *s = cJSON_PrintUnformatted(body);
        int r;

        if (!s)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");

        for (unsigned attempt = 0;; attempt++) {
                _cleanup_http_response_ HttpResponse resp = {};
                const char *endpoint;

                r = ensure_token(c, ret_error);
                if (r < 0)
                        return r;

                r = post(c, path, s, c->token, repeatable, &resp, &endpoint, ret_error);
                if (r < 0)
                        return r;
                r = answer_error(&resp, endpoint, path, ret_error);
                /* a stale token, or a cluster that turned authentication on since */
                if (r == -EACCES && c->user && attempt == 0) {
                        token_drop(c);
                        continue;
                }
                if (r < 0)
                        return r;

                *ret = resp;
                resp = (HttpResponse){};
                *ret_endpoint = endpoint;
                return 0;
        }
}

/* call() for an answer that is a JSON object with a header */
static int call_object(
        EtcdClient *c,
        const char *path,
        const cJSON *body,
        bool repeatable,
        cJSON **ret,
        const char **ret_endpoint,
        char **ret_error) {

        _cleanup_http_response_ HttpResponse resp = {};
        _cleanup_json_ cJSON *j = NULL;
        const char *endpoint;
        int r;

        r = call(c, path, body, repeatable, &resp, &endpoint, ret_error);
        if (r < 0)
                return r;
        j = etcd_parse_object(resp.body, resp.size);
        if (!j)
                return errmsg_set(ret_error, -EBADMSG, "%s%s: the answer is no JSON object", endpoint, path);
        *ret = TAKE_PTR(j);
        *ret_endpoint = endpoint;
        return 0;
}

static int bad_answer(char **ret_error, int r, const char *endpoint, const char *path) {
        if (r == -ENOMEM)
                return errmsg_set(ret_error, r, "out of memory");
        return errmsg_set(ret_error, r, "%s%s: unexpected answer", endpoint, path);
}

/* adds name: base64 of the n bytes at p */
static int add_base64(cJSON *o, const char *name, const void *p, size_t n) {
        _cleanup_free_ char *s = etcd_base64_encode(p, n);

        if (!s || !cJSON_AddStringToObject(o, name, s))
                return -ENOMEM;
        return 0;
}

/* adds name: the integer as a string, as the gateway writes them */
static int add_int64(cJSON *o, const char *name, int64_t v) {
        char buf[32];

        (void)snprintf(buf, sizeof(buf), "%" PRIi64, v);
        return cJSON_AddStringToObject(o, name, buf) ? 0 : -ENOMEM;
}

/* the end of the range of every key starting with prefix: the prefix with its last byte below 0xff
 * raised by one, cut after it; all 0xff (or empty): "\0", which etcd takes as "every key above" */
static int prefix_end(const char *prefix, char **ret, size_t *ret_size) {
        size_t l = strlen(prefix);
        char *e = strdup(prefix);

        if (!e)
                return -ENOMEM;
        while (l > 0 && (unsigned char)e[l - 1] == 0xff)
                l--;
        if (l == 0) {
                e[0] = 0;
                *ret = e;
                *ret_size = 1;
                return 0;
        }
        e[l - 1] = (char)((unsigned char)e[l - 1] + 1);
        e[l] = 0;
        *ret = e;
        *ret_size = l;
        return 0;
}

/* {"key": …} and, with prefix, the "range_end" of every key under it ("": every key) */
static int add_key_range(cJSON *o, const char *key, bool prefix) {
        _cleanup_free_ char *end = NULL;
        size_t end_size;

        if (!prefix)
                return add_base64(o, "key", key, strlen(key));
        if (prefix_end(key, &end, &end_size) < 0)
                return -ENOMEM;
        /* the empty prefix starts at the smallest key, "\0" */
        if (add_base64(o, "key", key, *key ? strlen(key) : 1) < 0 ||
            add_base64(o, "range_end", end, end_size) < 0)
                return -ENOMEM;
        return 0;
}

static int range(
        EtcdClient *c,
        const char *key,
        bool prefix,
        EtcdKv **ret,
        size_t *ret_n,
        int64_t *ret_revision,
        char **ret_error) {

        _cleanup_json_ cJSON *req = cJSON_CreateObject();
        _cleanup_http_response_ HttpResponse resp = {};
        const char *endpoint, *path = "/v3/kv/range";
        int r;

        if (!req || add_key_range(req, key, prefix) < 0)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        r = call(c, path, req, true, &resp, &endpoint, ret_error);
        if (r < 0)
                return r;

        r = etcd_parse_range(resp.body, resp.size, ret, ret_n, ret_revision);
        if (r < 0)
                return bad_answer(ret_error, r, endpoint, path);
        return 0;
}

int etcd_get(EtcdClient *c, const char *key, EtcdKv *ret, int64_t *ret_revision, char **ret_error) {
        EtcdKv *kvs = NULL;
        size_t n = 0;
        int64_t rev;
        int r;

        assert(c);
        assert(key);

        if (!*key)
                return errmsg_set(ret_error, -EINVAL, "empty etcd key");
        r = range(c, key, false, &kvs, &n, &rev, ret_error);
        if (r < 0)
                return r;
        if (n == 0)
                return errmsg_set(ret_error, -ENOENT, "etcd key %s does not exist", key);
        if (n > 1 || !streq(kvs[0].key, key)) {
                etcd_kvs_free(kvs, n);
                return errmsg_set(ret_error, -EBADMSG, "etcd answered a read of %s with another key", key);
        }

        if (ret)
                *ret = kvs[0];
        else
                etcd_kv_done(&kvs[0]);
        free(kvs);
        if (ret_revision)
                *ret_revision = rev;
        return 0;
}

int etcd_get_prefix(
        EtcdClient *c,
        const char *prefix,
        EtcdKv **ret,
        size_t *ret_n,
        int64_t *ret_revision,
        char **ret_error) {

        assert(c);
        assert(prefix);
        assert(ret);
        assert(ret_n);

        return range(c, prefix, true, ret, ret_n, ret_revision, ret_error);
}

/* {"key", "value", "lease"} of a put, alone or in a txn */
static cJSON *put_request(const char *key, const char *value, int64_t lease) {
        _cleanup_json_ cJSON *o = cJSON_CreateObject();

        if (!o || add_base64(o, "key", key, strlen(key)) < 0 ||
            add_base64(o, "value", value, strlen(value)) < 0)
                return NULL;
        if (lease != 0 && add_int64(o, "lease", lease) < 0)
                return NULL;
        return TAKE_PTR(o);
}

/* an answer with a header and nothing we need from it */
static int call_plain(EtcdClient *c, const char *path, const cJSON *req, bool repeatable, char **ret_error) {
        _cleanup_json_ cJSON *j = NULL;
        const char *endpoint;
        int r;

        r = call_object(c, path, req, repeatable, &j, &endpoint, ret_error);
        if (r < 0)
                return r;
        r = etcd_parse_header(j, NULL);
        if (r < 0)
                return bad_answer(ret_error, r, endpoint, path);
        return 0;
}

int etcd_put(EtcdClient *c, const char *key, const char *value, int64_t lease, char **ret_error) {
        _cleanup_json_ cJSON *req = NULL;

        assert(c);
        assert(key);
        assert(value);

        if (!*key)
                return errmsg_set(ret_error, -EINVAL, "empty etcd key");
        req = put_request(key, value, lease);
        if (!req)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        /* a put repeated puts the same value again */
        return call_plain(c, "/v3/kv/put", req, true, ret_error);
}

/* o[name] = [item]; takes item (NULL: out of memory) */
static int add_single(cJSON *o, const char *name, cJSON *item) {
        cJSON *a = item ? cJSON_AddArrayToObject(o, name) : NULL;

        if (!a || !cJSON_AddItemToArray(a, item)) {
                cJSON_Delete(item);
                return -ENOMEM;
        }
        return 0;
}

/* {name: item}; takes item (NULL: out of memory) */
static cJSON *wrap(const char *name, cJSON *item) {
        _cleanup_json_ cJSON *o = cJSON_CreateObject(), *i = item;

        if (!o || !i || !cJSON_AddItemToObject(o, name, i))
                return NULL;
        i = NULL;
        return TAKE_PTR(o);
}

/* the compare "the key's version is version" */
static cJSON *version_equal(const char *key, int64_t version) {
        _cleanup_json_ cJSON *o = cJSON_CreateObject();

        if (!o || add_base64(o, "key", key, strlen(key)) < 0 ||
            !cJSON_AddStringToObject(o, "target", "VERSION") ||
            !cJSON_AddStringToObject(o, "result", "EQUAL") || add_int64(o, "version", version) < 0)
                return NULL;
        return TAKE_PTR(o);
}

/* one txn: when the key's version is `version`, then the request `op` ("request_put" or
 * "request_delete_range"; takes request); 1 done, 0 compare failed. Never repeated after a lost
 * answer. */
static int txn_if_version(
        EtcdClient *c, const char *key, int64_t version, const char *op, cJSON *request, char **ret_error) {
        _cleanup_json_ cJSON *req = cJSON_CreateObject();
        _cleanup_http_response_ HttpResponse resp = {};
        const char *endpoint, *path = "/v3/kv/txn";
        bool succeeded;
        int r;

        if (!req) {
                cJSON_Delete(request);
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        }
        if (add_single(req, "success", wrap(op, request)) < 0 ||
            add_single(req, "compare", version_equal(key, version)) < 0)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");

        r = call(c, path, req, false, &resp, &endpoint, ret_error);
        if (r < 0)
                return r;
        r = etcd_parse_txn(resp.body, resp.size, &succeeded);
        if (r < 0)
                return bad_answer(ret_error, r, endpoint, path);
        return succeeded;
}

int etcd_put_if_version(
        EtcdClient *c,
        const char *key,
        const char *value,
        int64_t version,
        int64_t lease,
        char **ret_error) {

        assert(c);
        assert(key);
        assert(value);

        if (!*key)
                return errmsg_set(ret_error, -EINVAL, "empty etcd key");
        if (version < 0)
                return errmsg_set(ret_error, -EINVAL, "negative etcd version");
        return txn_if_version(c, key, version, "request_put", put_request(key, value, lease), ret_error);
}

static cJSON *delete_request(const char *key) {
        _cleanup_json_ cJSON *o = cJSON_CreateObject();

        if (!o || add_base64(o, "key", key, strlen(key)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

int etcd_delete(EtcdClient *c, const char *key, char **ret_error) {
        _cleanup_json_ cJSON *req = NULL;

        assert(c);
        assert(key);

        if (!*key)
                return errmsg_set(ret_error, -EINVAL, "empty etcd key");
        req = delete_request(key);
        if (!req)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        return call_plain(c, "/v3/kv/deleterange", req, true, ret_error);
}

int etcd_delete_if_version(EtcdClient *c, const char *key, int64_t version, char **ret_error) {
        assert(c);
        assert(key);

        if (!*key)
                return errmsg_set(ret_error, -EINVAL, "empty etcd key");
        if (version <= 0)
                return errmsg_set(ret_error, -EINVAL, "deleting needs a version above 0");
        return txn_if_version(c, key, version, "request_delete_range", delete_request(key), ret_error);
}

/* POST {name: value} to a lease endpoint (each may be repeated: a grant only leaves a lease that
 * expires unused, a keepalive or a revoke is the same again); *ret: the answer */
static int lease_call(
        EtcdClient *c,
        const char *path,
        const char *name,
        int64_t value,
        cJSON **ret,
        const char **ret_endpoint,
        char **ret_error) {

        _cleanup_json_ cJSON *req = cJSON_CreateObject();

        if (!req || add_int64(req, name, value) < 0)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        return call_object(c, path, req, true, ret, ret_endpoint, ret_error);
}

int etcd_lease_grant(EtcdClient *c, int64_t ttl, int64_t *ret_id, char **ret_error) {
        _cleanup_json_ cJSON *j = NULL;
        const char *endpoint, *path = "/v3/lease/grant", *error;
        int64_t id;
        int r;

        assert(c);
        assert(ret_id);

        if (ttl <= 0)
                return errmsg_set(ret_error, -EINVAL, "a lease needs a TTL above 0");
        r = lease_call(c, path, "TTL", ttl, &j, &endpoint, ret_error);
        if (r < 0)
                return r;

        error = json_get_string(j, "error");
        if (error && *error) {
                _cleanup_free_ char *m = etcd_one_line(error);

                return errmsg_set(ret_error, -EREMOTEIO, "%s%s: %s", endpoint, path, strempty(m));
        }
        if (etcd_parse_header(j, NULL) < 0 || etcd_parse_int64(j, "ID", &id) < 0 || id == 0)
                return bad_answer(ret_error, -EBADMSG, endpoint, path);
        *ret_id = id;
        return 0;
}

int etcd_lease_keepalive(EtcdClient *c, int64_t id, int64_t *ret_ttl, char **ret_error) {
        _cleanup_json_ cJSON *j = NULL;
        const char *endpoint, *path = "/v3/lease/keepalive";
        const cJSON *result;
        int64_t ttl;
        int r;

        assert(c);

        r = lease_call(c, path, "ID", id, &j, &endpoint, ret_error);
        if (r < 0)
                return r;

        /* a stream of one answer: {"result": {"header", "ID", "TTL"}}; a TTL of 0 (left out): gone */
        result = cJSON_GetObjectItemCaseSensitive(j, "result");
        if (!cJSON_IsObject(result) || etcd_parse_header(result, NULL) < 0 ||
            etcd_parse_int64(result, "TTL", &ttl) < 0)
                return bad_answer(ret_error, -EBADMSG, endpoint, path);
        if (ttl <= 0)
                return errmsg_set(
                        ret_error,
                        -ENOENT,
                        "%s%s: lease %" PRIi64 " expired or revoked",
                        endpoint,
                        path,
                        id);
        if (ret_ttl)
                *ret_ttl = ttl;
        return 0;
}

int etcd_lease_revoke(EtcdClient *c, int64_t id, char **ret_error) {
        _cleanup_json_ cJSON *j = NULL;
        const char *endpoint, *path = "/v3/lease/revoke";
        int r;

        assert(c);

        r = lease_call(c, path, "ID", id, &j, &endpoint, ret_error);
        if (r < 0)
                return r;
        if (etcd_parse_header(j, NULL) < 0)
                return bad_answer(ret_error, -EBADMSG, endpoint, path);
        return 0;
}

/* ---- watch ---- */

typedef struct Watch {
        size_t consumed; /* the bytes of the stream already read as messages */
        bool created;    /* etcd confirmed the watch: from here on, a timeout means "no change" */
        bool changed;
        int64_t revision;
        int error; /* < 0: the watch failed with message */
        char *message;
} Watch;

static void watch_done(Watch *w) {
        free(w->message);
        *w = (Watch){};
}

static int watch_fail(Watch *w, int r, const char *message) {
        w->error = r;
        free(w->message);
        w->message = message ? etcd_one_line(message) : NULL;
        return 1;
}

static bool blank(const char *s, size_t size) {
        for (size_t i = 0; i < size; i++)
                if (!strchr(" \t\r\n", s[i]) || s[i] == 0)
                        return false;
        return true;
}

/* one message of the stream, {"result": {"created", "canceled", "events", …}}: 1 when the watch is
 * over (changed or failed), else 0 */
static int watch_message(Watch *w, const char *line, size_t size) {
        _cleanup_free_ char *message = NULL;
        _cleanup_json_ cJSON *j = NULL;
        const cJSON *result, *events, *kv;
        int64_t rev;
        int r;

        if (blank(line, size))
                return 0;

        r = etcd_parse_error(line, size, &message);
        if (r < 0)
                return watch_fail(w, r, message);

        j = etcd_parse_object(line, size);
        /* not every message has a revision in its header (a canceled watch's has none) */
        result = cJSON_GetObjectItemCaseSensitive(j, "result");
        if (!cJSON_IsObject(result))
                return watch_fail(w, -EBADMSG, "unexpected watch message");

        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "canceled"))) {
                const char *reason = json_get_string(result, "cancel_reason");

                /* the start revision was compacted away: the caller reads again */
                if (etcd_parse_int64(result, "compact_revision", &rev) == 0 && rev > 0) {
                        w->changed = true;
                        w->revision = rev;
                        return 1;
                }
                return watch_fail(w, etcd_error_to_errno(0, reason), reason ?: "watch canceled");
        }
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "created")))
                w->created = true;

        events = cJSON_GetObjectItemCaseSensitive(result, "events");
        if (!events || cJSON_IsNull(events))
                return 0;
        if (!cJSON_IsArray(events))
                return watch_fail(w, -EBADMSG, "unexpected watch events");
        if (cJSON_GetArraySize(events) == 0)
                return 0;
        kv = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(events, 0), "kv");
        if (!cJSON_IsObject(kv) || etcd_parse_int64(kv, "mod_revision", &rev) < 0 || rev <= 0)
                return watch_fail(w, -EBADMSG, "unexpected watch event");
        w->changed = true;
        w->revision = rev;
        return 1;
}

/* the stream so far: each complete line is one message */
static int watch_on_data(const HttpResponse *sofar, void *userdata) {
        Watch *w = userdata;

        for (;;) {
                const char *start = sofar->body + w->consumed;
                const char *nl = memchr(start, '\n', sofar->size - w->consumed);
                int r;

                if (!nl)
                        return 0;
                r = watch_message(w, start, (size_t)(nl - start));
                w->consumed = (size_t)(nl + 1 - sofar->body);
                if (r != 0)
                        return r;
        }
}

/* one watch on one endpoint until deadline: 1 over (w says how), 0 timed out (etcd confirmed the watch,
 * or the deadline passed while it was connected), -errno for a transport failure (with *ret_error) */
static int watch_endpoint(
        EtcdClient *c, const char *endpoint, const char *body, usec_t deadline, Watch *w, char **ret_error) {

        _cleanup_http_response_ HttpResponse resp = {};
        _cleanup_free_ char *url = NULL;
        usec_t now = now_monotonic(), left;
        HttpOptions o;
        int r;

        if (deadline != USEC_INFINITY && now >= deadline)
                return errmsg_set(ret_error, -ETIMEDOUT, "no time left");
        left = deadline == USEC_INFINITY ? USEC_INFINITY : deadline - now;
        o = http_options(c, c->token, left < c->timeout ? left : c->timeout);
        /* etcd confirms a watch at once: an endpoint that does not within the client's timeout is
         * given up on, not waited for until the caller's timeout */
        o.first_byte_timeout = o.connect_timeout;

        if (asprintf(&url, "%s/v3/watch", endpoint) < 0)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        r = http_request_stream("POST", url, &o, body, left, watch_on_data, w, &resp, ret_error);
        if (r > 0)
                return 1;
        /* confirmed and quiet, or the caller's time is up (a slow confirmation is no failure) */
        if (r == -ETIMEDOUT && (w->created || (deadline != USEC_INFINITY && now_monotonic() >= deadline)))
                return 0;
        if (r < 0)
                return r;

        /* the server ended the stream: an error answer (no newline after it), or a hang-up */
        if (resp.size > w->consumed &&
            watch_message(w, resp.body + w->consumed, resp.size - w->consumed) > 0)
                return 1;
        if (resp.status < 200 || resp.status >= 300)
                return watch_fail(w, -EREMOTEIO, "watch answered with an HTTP error");
        return errmsg_set(ret_error, -ECONNRESET, "the watch stream ended");
}

int etcd_watch(
        EtcdClient *c,
        const char *key,
        bool prefix,
        int64_t start_revision,
        usec_t timeout,
        int64_t *ret_revision,
        char **ret_error) {

        _cleanup_json_ cJSON *req = cJSON_CreateObject();
        _cleanup_free_ char *body = NULL, *failures = NULL;
        cJSON *create;
        usec_t deadline;
        bool auth_renewed = false;
        int r;

        assert(c);
        assert(key);

        if (!prefix && !*key)
                return errmsg_set(ret_error, -EINVAL, "empty etcd key");
        if (start_revision < 0)
                return errmsg_set(ret_error, -EINVAL, "negative etcd revision");
        create = cJSON_AddObjectToObject(req, "create_request");
        if (!create || add_key_range(create, key, prefix) < 0 ||
            (start_revision > 0 && add_int64(create, "start_revision", start_revision) < 0))
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        body = cJSON_PrintUnformatted(req);
        if (!body)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");

        deadline = timeout == USEC_INFINITY ? USEC_INFINITY : now_monotonic() + timeout;

        for (size_t i = 0; i < c->n_endpoints;) {
                size_t k = (c->current + i) % c->n_endpoints;
                const char *endpoint = c->endpoints[k];
                _cleanup_(watch_done) Watch w = {};
                _cleanup_free_ char *err = NULL;

                r = ensure_token(c, ret_error);
                if (r < 0)
                        return r;

                r = watch_endpoint(c, endpoint, body, deadline, &w, &err);
                if (r == 0)
                        return 0;
                if (r > 0 && w.changed) {
                        c->current = k;
                        if (ret_revision)
                                *ret_revision = w.revision;
                        return 1;
                }
                if (r > 0 && w.error == -EACCES && c->user && !auth_renewed) {
                        /* a stale token: once more with a new one, on the same endpoint */
                        token_drop(c);
                        auth_renewed = true;
                        continue;
                }
                if (r > 0)
                        return errmsg_set(
                                ret_error, w.error, "%s/v3/watch: %s", endpoint, strempty(w.message));
                if (!not_sent(r) && !lost_after_sending(r))
                        return errmsg_set(ret_error, r, "%s/v3/watch: %s", endpoint, strempty(err));
                failure_add(&failures, endpoint, err);
                i++;
        }

        return errmsg_set(ret_error, -EHOSTUNREACH, "no etcd endpoint answered: %s", strempty(failures));
}
