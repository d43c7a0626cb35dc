/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* http.c: HTTP(S) and file:// requests with libcurl, JSON in and out */
#define _GNU_SOURCE
#include <assert.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <strings.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "dlopen-util.h"
#include "http.h"
#include "http-loopback.h"
#include "errmsg.h"
#include "fd-util.h"
#include "json-util.h"

/* libcurl, opened on the first request (helpers/lib/dlopen-util.c says why) */
static typeof(curl_easy_cleanup) *sym_curl_easy_cleanup;
static typeof(curl_slist_free_all) *sym_curl_slist_free_all;
static typeof(curl_global_init) *sym_curl_global_init;
static typeof(curl_easy_getinfo) *sym_curl_easy_getinfo;
static typeof(curl_easy_strerror) *sym_curl_easy_strerror;
static typeof(curl_slist_append) *sym_curl_slist_append;
static typeof(curl_easy_setopt) *sym_curl_easy_setopt;
static typeof(curl_easy_init) *sym_curl_easy_init;
static typeof(curl_easy_perform) *sym_curl_easy_perform;

DEFINE_TRIVIAL_CLEANUP_FUNC(CURL *, sym_curl_easy_cleanup);
#define _cleanup_curl_ _cleanup_(sym_curl_easy_cleanupp)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct curl_slist *, sym_curl_slist_free_all);
#define _cleanup_curl_slist_ _cleanup_(sym_curl_slist_free_allp)

#define HTTP_FETCH_TIMEOUT (60 * USEC_PER_SEC)
#define HTTP_FETCH_MAX_REDIRECTS 5L

/* a growing, always NUL-terminated body; with on_data, shown to it after each arrival */
typedef struct Buffer {
        char *data;
        size_t size;
        size_t allocated;
        bool too_big;
        bool oom;
        CURL *curl;
        HttpStreamFunc on_data;
        void *userdata;
        int stopped;          /* what on_data returned when it ended the transfer */
        usec_t first_byte_by; /* CLOCK_MONOTONIC; 0: no such limit */
        bool silent;          /* ended for no first byte by then */
} Buffer;

/* one request as the public functions describe it */
typedef struct Request {
        const char *method;
        const char *url;
        const char *bearer_token;
        const HttpOptions *options; /* NULL: none */
        const char *json_body;
        usec_t timeout;
        bool fetch;
        HttpStreamFunc on_data;
        void *userdata;
} Request;

static void buffer_done(Buffer *b) {
        free(b->data);
        *b = (Buffer){};
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_result = CURLE_FAILED_INIT;
static char *global_error = NULL; /* why libcurl could not be opened; NULL: it was */

static void global_init(void) {
        static void *dl = NULL;
        static const DlSym syms[] = {
                DLSYM_ARG(curl_easy_cleanup), DLSYM_ARG(curl_slist_free_all), DLSYM_ARG(curl_global_init),
                DLSYM_ARG(curl_easy_getinfo), DLSYM_ARG(curl_easy_strerror),  DLSYM_ARG(curl_slist_append),
                DLSYM_ARG(curl_easy_setopt),  DLSYM_ARG(curl_easy_init),      DLSYM_ARG(curl_easy_perform),
        };

        if (dlopen_many(&dl, "libcurl.so.4", syms, ELEMENTSOF(syms), &global_error) < 0)
                return;
        global_result = sym_curl_global_init(CURL_GLOBAL_DEFAULT);
}

void http_response_done(HttpResponse *r) {
        if (!r)
                return;
        free(r->body);
        *r = (HttpResponse){};
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata) {
        Buffer *b = userdata;
        size_t n = size * nmemb;

        if (n > HTTP_BODY_MAX - b->size) {
                b->too_big = true;
                return 0; /* makes curl fail with CURLE_WRITE_ERROR */
        }

        if (b->size + n + 1 > b->allocated) {
                size_t a = b->allocated ?: 16384;
                char *p;

                while (a < b->size + n + 1)
                        a *= 2;
                if (a > HTTP_BODY_MAX + 1)
                        a = HTTP_BODY_MAX + 1;

                p = realloc(b->data, a);
                if (!p) {
                        b->oom = true;
                        return 0;
                }
                b->data = p;
                b->allocated = a;
        }

        memcpy(b->data + b->size, ptr, n);
        b->size += n;
        b->data[b->size] = 0;

        if (b->on_data) {
                HttpResponse sofar = { .body = b->data, .size = b->size };
                int r;

                (void)sym_curl_easy_getinfo(b->curl, CURLINFO_RESPONSE_CODE, &sofar.status);
                r = b->on_data(&sofar, b->userdata);
                if (r != 0) {
                        b->stopped = r;
                        return 0;
                }
        }
        return n;
}

/* ends the transfer when the body has not started by b->first_byte_by */
static int progress_cb(
        void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
        Buffer *b = userdata;

        if (b->size == 0 && now_monotonic() >= b->first_byte_by) {
                b->silent = true;
                return 1;
        }
        return 0;
}

static int curl_code_to_errno(CURLcode c, long os_errno, const Buffer *b) {
        switch (c) {
        case CURLE_OK:
                return 0;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        case CURLE_URL_MALFORMAT:
        case CURLE_BAD_FUNCTION_ARGUMENT:
                return -EINVAL;
        case CURLE_UNSUPPORTED_PROTOCOL:
                return -EPROTONOSUPPORT;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -EHOSTUNREACH;
        case CURLE_COULDNT_CONNECT:
                if (os_errno == ECONNREFUSED || os_errno == EHOSTUNREACH || os_errno == ENETUNREACH ||
                    os_errno == ETIMEDOUT)
                        return (int)-os_errno;
                return -ECONNREFUSED;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_FILESIZE_EXCEEDED:
                return -EFBIG;
        case CURLE_WRITE_ERROR:
                if (b->stopped < 0)
                        return b->stopped;
                if (b->too_big)
                        return -EFBIG;
                if (b->oom)
                        return -ENOMEM;
                return -EIO;
        case CURLE_FILE_COULDNT_READ_FILE:
                return -ENOENT;
        case CURLE_REMOTE_ACCESS_DENIED:
                return -EACCES;
        case CURLE_TOO_MANY_REDIRECTS:
                return -ELOOP;
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
                return -ECONNRESET;
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
                return -EBADMSG;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
                return -EPROTO;
        case CURLE_ABORTED_BY_CALLBACK:
                return b->silent ? -ETIMEDOUT : -ECANCELED;
        default:
                return -EIO;
        }
}

static bool contains_secret(const char *msg, const char *secret) {
        return secret && *secret && strstr(msg, secret);
}

/* curl's message, unless it somehow carries a secret: then only the generic text for the code */
static int set_curl_error(char **ret_error, int r, CURLcode c, const char *errbuf, const Request *q) {
        const char *msg = errbuf && *errbuf ? errbuf : sym_curl_easy_strerror(c);

        if (contains_secret(msg, q->bearer_token) ||
            (q->options && contains_secret(msg, q->options->authorization)))
                msg = sym_curl_easy_strerror(c);
        return errmsg_set(ret_error, r, "%s", msg);
}

static bool method_valid(const char *method) {
        if (!method || !*method)
                return false;
        for (const char *p = method; *p; p++)
                if (!(*p >= 'A' && *p <= 'Z'))
                        return false;
        return true;
}

static long timeout_ms(usec_t timeout) {
        usec_t ms;

        if (timeout == 0 || timeout == USEC_INFINITY)
                return 0;
        ms = (timeout + 999) / 1000;
        return ms > LONG_MAX ? LONG_MAX : (long)ms;
}

static int headers_add(struct curl_slist **l, const char *header) {
        struct curl_slist *n = sym_curl_slist_append(*l, header);

        if (!n)
                return -ENOMEM;
        *l = n;
        return 0;
}

static int request_headers(const Request *q, struct curl_slist **ret) {
        _cleanup_curl_slist_ struct curl_slist *l = NULL;
        bool has_body = q->json_body;

        if (q->options && q->options->authorization) {
                _cleanup_erase_free_ char *h = NULL;

                if (asprintf(&h, "Authorization: %s", q->options->authorization) < 0)
                        return -ENOMEM;
                /* libcurl keeps its own copy */
                if (headers_add(&l, h) < 0)
                        return -ENOMEM;
        }

        if (!q->fetch) {
                if (headers_add(&l, "Accept: application/json") < 0)
                        return -ENOMEM;
                if (has_body && headers_add(&l, "Content-Type: application/json") < 0)
                        return -ENOMEM;
                /* no 100-continue round trip for larger bodies */
                if (headers_add(&l, "Expect:") < 0)
                        return -ENOMEM;
        }

        *ret = TAKE_PTR(l);
        return 0;
}

#define SETOPT(curl, opt, val)                                      \
        do {                                                        \
                CURLcode _c = sym_curl_easy_setopt(curl, opt, val); \
                if (_c != CURLE_OK)                                 \
                        return _c;                                  \
        } while (0)

static CURLcode setup(CURL *curl, const Request *q, struct curl_slist *headers, char *errbuf, Buffer *body) {
        const HttpOptions *o = q->options;

        SETOPT(curl, CURLOPT_ERRORBUFFER, errbuf);
        SETOPT(curl, CURLOPT_URL, q->url);
        SETOPT(curl, CURLOPT_PROTOCOLS_STR, q->fetch ? "file,http,https" : "http,https");
        SETOPT(curl, CURLOPT_NOSIGNAL, 1L);
        SETOPT(curl, CURLOPT_NOPROGRESS, 1L);
        SETOPT(curl, CURLOPT_USERAGENT, "codebolt-upgrade/" PACKAGE_VERSION);
        SETOPT(curl, CURLOPT_TIMEOUT_MS, timeout_ms(q->timeout));
        SETOPT(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HTTP_BODY_MAX);
        SETOPT(curl, CURLOPT_WRITEFUNCTION, write_cb);
        SETOPT(curl, CURLOPT_WRITEDATA, body);
        if (headers)
                SETOPT(curl, CURLOPT_HTTPHEADER, headers);

        /* only metadata fetches follow redirects: an API call with a token goes where it was sent */
        if (q->fetch) {
                SETOPT(curl, CURLOPT_FOLLOWLOCATION, 1L);
                SETOPT(curl, CURLOPT_MAXREDIRS, HTTP_FETCH_MAX_REDIRECTS);
                SETOPT(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        } else
                SETOPT(curl, CURLOPT_FOLLOWLOCATION, 0L);

        if (q->bearer_token) {
                SETOPT(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
                SETOPT(curl, CURLOPT_XOAUTH2_BEARER, q->bearer_token);
        }

        if (o) {
                if (o->connect_timeout > 0)
                        SETOPT(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms(o->connect_timeout));
                if (o->first_byte_timeout > 0) {
                        body->first_byte_by = now_monotonic() + o->first_byte_timeout;
                        SETOPT(curl, CURLOPT_NOPROGRESS, 0L);
                        SETOPT(curl, CURLOPT_XFERINFOFUNCTION, progress_cb);
                        SETOPT(curl, CURLOPT_XFERINFODATA, body);
                }
                if (o->ca)
                        SETOPT(curl, CURLOPT_CAINFO, o->ca);
                if (o->certificate) {
                        SETOPT(curl, CURLOPT_SSLCERT, o->certificate);
                        SETOPT(curl, CURLOPT_SSLKEY, o->key);
                }
        }

        if (streq(q->method, "GET"))
                SETOPT(curl, CURLOPT_HTTPGET, 1L);
        else if (streq(q->method, "HEAD"))
                SETOPT(curl, CURLOPT_NOBODY, 1L);
        else {
                if (!streq(q->method, "POST"))
                        SETOPT(curl, CURLOPT_CUSTOMREQUEST, q->method);
                if (q->json_body || streq(q->method, "POST")) {
                        SETOPT(curl,
                               CURLOPT_POSTFIELDSIZE_LARGE,
                               (curl_off_t)strlen(strempty(q->json_body)));
                        SETOPT(curl, CURLOPT_POSTFIELDS, strempty(q->json_body));
                }
        }

        return CURLE_OK;
}

#undef SETOPT

static int options_check(const HttpOptions *o, char **ret_error) {
        if (!o)
                return 0;
        if (o->authorization && strpbrk(o->authorization, "\r\n"))
                return errmsg_set(ret_error, -EINVAL, "authorization contains a line break");
        if (!o->certificate != !o->key)
                return errmsg_set(
                        ret_error, -EINVAL, "a client certificate needs its key, and a key its certificate");
        return 0;
}

static bool loopback_enabled = true;

void http_set_loopback(bool enabled) {
        loopback_enabled = enabled;
}

/* start + timeout, where a timeout of 0 is none (http.h) */
static usec_t deadline_after(usec_t start, usec_t timeout) {
        return timeout == 0 ? USEC_INFINITY : usec_add(start, timeout);
}

static bool redirect_status(long status) {
        return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

static int perform_curl(const Request *q, HttpResponse *ret, char **ret_error);

/* q through libcurl from url on: where a fetch's redirect leads off what the loopback client takes */
static int perform_curl_from(const Request *q, const char *url, HttpResponse *ret, char **ret_error) {
        Request rest = *q;

        rest.url = url;
        return perform_curl(&rest, ret, ret_error);
}

/* q through the loopback client (http-loopback.h): *ret_taken false when it is not one for it (nothing
 * done), else true and perform()'s outcome. A fetch follows redirects here while they stay on loopback,
 * and hands the rest to libcurl. */
static int perform_loopback(const Request *q, HttpResponse *ret, bool *ret_taken, char **ret_error) {
        _cleanup_free_ char *url = NULL;
        usec_t start = now_monotonic();
        const HttpOptions *o = q->options;
        _cleanup_erase_free_ char *bearer = NULL;
        const char *authorization = o ? o->authorization : NULL;
        int r;

        *ret_taken = false;
        if (!loopback_enabled || (o && (o->ca || o->certificate || o->key)))
                return 0;
        for (unsigned redirects = 0;; redirects++) {
                _cleanup_(http_loopback_target_done) HttpLoopbackTarget t = {};
                _cleanup_http_response_ HttpResponse resp = {};
                _cleanup_free_ char *location = NULL, *next = NULL;
                const char *u = url ?: q->url;

                r = http_loopback_target(u, &t);
                if (r != 0)
                        *ret_taken = true;
                if (r < 0)
                        return errmsg_set(ret_error, r, "out of memory");
                if (r == 0) {
                        if (!url)
                                return 0;
                        /* redirected off loopback: libcurl takes it from here */
                        return perform_curl_from(q, u, ret, ret_error);
                }
                /* a raw Authorization header replaces the bearer one, as libcurl lets it */
                if (q->bearer_token && !bearer && !authorization) {
                        if (asprintf(&bearer, "Bearer %s", q->bearer_token) < 0)
                                return errmsg_set(ret_error, -ENOMEM, "out of memory");
                        authorization = bearer;
                }

                r = http_loopback_perform(
                        &t,
                        &(HttpLoopbackRequest){
                                .method = q->method,
                                .authorization = authorization,
                                .json_body = q->json_body,
                                .accept_json = !q->fetch,
                                .deadline = deadline_after(start, q->timeout),
                                .connect_deadline =
                                        o ? deadline_after(start, o->connect_timeout) : USEC_INFINITY,
                                .first_byte_deadline =
                                        o ? deadline_after(start, o->first_byte_timeout) : USEC_INFINITY,
                                .on_data = q->on_data,
                                .userdata = q->userdata,
                        },
                        &resp,
                        &location,
                        ret_error);
                if (r < 0)
                        return r;
                if (!q->fetch || !redirect_status(resp.status) || !location) {
                        if (ret) {
                                *ret = resp;
                                resp = (HttpResponse){};
                        }
                        return r;
                }
                if (redirects >= HTTP_FETCH_MAX_REDIRECTS)
                        return errmsg_set(
                                ret_error, -ELOOP, "more than %ld redirects", HTTP_FETCH_MAX_REDIRECTS);
                /* an absolute path stays on this server; an absolute URL is followed as it is */
                if (location[0] == '/' && location[1] != '/')
                        r = asprintf(&next, "http://%s%s", t.host, location);
                else if (
                        strncasecmp(location, "http://", 7) == 0 ||
                        strncasecmp(location, "https://", 8) == 0)
                        r = (next = strdup(location)) ? 0 : -1;
                else {
                        /* a relative reference or another scheme: libcurl resolves it, from here */
                        return perform_curl_from(q, u, ret, ret_error);
                }
                if (r < 0)
                        return errmsg_set(ret_error, -ENOMEM, "out of memory");
                free(url);
                url = TAKE_PTR(next);
        }
}

/* 0, or the positive value on_data ended the transfer with; *ret filled in both cases */
static int perform(const Request *q, HttpResponse *ret, char **ret_error) {
        const char *bearer_token = q->bearer_token && *q->bearer_token ? q->bearer_token : NULL;
        Request req = *q;
        bool taken = false;
        int r;

        assert(q->url);

        req.bearer_token = bearer_token;
        if (!method_valid(q->method))
                return errmsg_set(ret_error, -EINVAL, "invalid HTTP method");
        if (bearer_token && strpbrk(bearer_token, "\r\n"))
                return errmsg_set(ret_error, -EINVAL, "bearer token contains a line break");
        if (q->json_body && (streq(q->method, "GET") || streq(q->method, "HEAD")))
                return errmsg_set(ret_error, -EINVAL, "a %s request carries no body", q->method);
        r = options_check(q->options, ret_error);
        if (r < 0)
                return r;

        r = perform_loopback(&req, ret, &taken, ret_error);
        if (taken)
                return r;
        return perform_curl(&req, ret, ret_error);
}

/* perform() through libcurl, the request checked */
static int perform_curl(const Request *q, HttpResponse *ret, char **ret_error) {
        _cleanup_curl_ CURL *curl = NULL;
        _cleanup_curl_slist_ struct curl_slist *headers = NULL;
        /* libcurl's API fixes the error buffer's size; it lives on the heap all the same */
        _cleanup_free_ char *errbuf = NULL;
        _cleanup_(buffer_done) Buffer body = { .on_data = q->on_data, .userdata = q->userdata };
        long status = 0, os_errno = 0;
        curl_off_t connected = 0;
        CURLcode c;
        int r;

        (void)pthread_once(&global_once, global_init);
        if (global_error)
                return errmsg_set(ret_error, -EOPNOTSUPP, "%s", global_error);
        if (global_result != CURLE_OK)
                return errmsg_set(ret_error, -EIO, "libcurl: %s", sym_curl_easy_strerror(global_result));

        curl = sym_curl_easy_init();
        errbuf = calloc(1, CURL_ERROR_SIZE);
        if (!curl || !errbuf || request_headers(q, &headers) < 0)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        body.curl = curl;

        c = setup(curl, q, headers, errbuf, &body);
        if (c == CURLE_OK)
                c = sym_curl_easy_perform(curl);
        if (c != CURLE_OK && !(c == CURLE_WRITE_ERROR && body.stopped > 0)) {
                (void)sym_curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
                r = curl_code_to_errno(c, os_errno, &body);
                if (r == -EFBIG)
                        return errmsg_set(
                                ret_error,
                                r,
                                "response body larger than %zu MiB",
                                HTTP_BODY_MAX / 1024 / 1024);
                if (r == body.stopped)
                        return r;
                /* with a connect timeout, "never connected" is told apart from a timeout after sending */
                if (q->options && q->options->connect_timeout > 0 && r == -ETIMEDOUT &&
                    sym_curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connected) == CURLE_OK &&
                    connected == 0)
                        r = -EHOSTUNREACH;
                return set_curl_error(ret_error, r, c, errbuf, q);
        }

        (void)sym_curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);

        if (!body.data) {
                body.data = strdup("");
                if (!body.data)
                        return errmsg_set(ret_error, -ENOMEM, "out of memory");
        }

        if (ret)
                *ret = (HttpResponse){
                        .status = status,
                        .body = TAKE_PTR(body.data),
                        .size = body.size,
                };
        return body.stopped;
}

int http_request(
        const char *method,
        const char *url,
        const char *bearer_token,
        const char *json_body,
        usec_t timeout,
        HttpResponse *ret,
        char **ret_error) {

        assert(ret);
        return perform(
                &(Request){ .method = method,
                            .url = url,
                            .bearer_token = bearer_token,
                            .json_body = json_body,
                            .timeout = timeout },
                ret,
                ret_error);
}

int http_request_with(
        const char *method,
        const char *url,
        const HttpOptions *o,
        const char *json_body,
        usec_t timeout,
        HttpResponse *ret,
        char **ret_error) {

        assert(ret);
        return http_request_stream(method, url, o, json_body, timeout, NULL, NULL, ret, ret_error);
}

int http_request_stream(
        const char *method,
        const char *url,
        const HttpOptions *o,
        const char *json_body,
        usec_t timeout,
        HttpStreamFunc on_data,
        void *userdata,
        HttpResponse *ret,
        char **ret_error) {

        return perform(
                &(Request){ .method = method,
                            .url = url,
                            .options = o,
                            .json_body = json_body,
                            .timeout = timeout,
                            .on_data = on_data,
                            .userdata = userdata },
                ret,
                ret_error);
}

static bool blank(const char *s) {
        return s[strspn(s, " \t\r\n")] == 0;
}

int http_json(
        const char *method,
        const char *url,
        const char *bearer_token,
        const cJSON *body,
        usec_t timeout,
        long *ret_status,
        cJSON **ret_json,
        char **ret_error) {

        _cleanup_http_response_ HttpResponse resp = {};
        _cleanup_json_ cJSON *json = NULL;
        _cleanup_free_ char *s = NULL;
        int r;

        if (body || !(streq(method, "GET") || streq(method, "HEAD"))) {
                s = body ? cJSON_PrintUnformatted(body) : strdup("{}");
                if (!s)
                        return errmsg_set(ret_error, -ENOMEM, "out of memory");
        }

        r = http_request(method, url, bearer_token, s, timeout, &resp, ret_error);
        if (r < 0)
                return r;

        if (!blank(resp.body)) {
                json = cJSON_ParseWithLength(resp.body, resp.size);
                if (!json && resp.status < 400)
                        return errmsg_set(
                                ret_error, -EBADMSG, "HTTP %ld response is not valid JSON", resp.status);
        }

        if (ret_status)
                *ret_status = resp.status;
        if (ret_json)
                *ret_json = TAKE_PTR(json);
        return 0;
}

static int read_local(const char *path, char **ret_body, size_t *ret_size, char **ret_error) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_(buffer_done) Buffer b = {};
        struct stat st;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errmsg_set(ret_error, -errno, "%s: %s", path, strerror(errno));
        if (fstat(fd, &st) < 0)
                return errmsg_set(ret_error, -errno, "%s: %s", path, strerror(errno));
        if (S_ISDIR(st.st_mode))
                return errmsg_set(ret_error, -EISDIR, "%s: is a directory", path);
        if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > HTTP_BODY_MAX)
                return errmsg_set(
                        ret_error, -EFBIG, "%s: larger than %zu MiB", path, HTTP_BODY_MAX / 1024 / 1024);

        for (;;) {
                ssize_t n;

                /* read straight into the body, growing it as write_cb() would */
                if (b.allocated - b.size < 2) {
                        size_t a = b.allocated ? b.allocated * 2 : 16384;
                        char *p;

                        if (a > HTTP_BODY_MAX + 2)
                                a = HTTP_BODY_MAX + 2;
                        if (a <= b.allocated)
                                return errmsg_set(ret_error, -EFBIG, "%s: file too large", path);
                        p = realloc(b.data, a);
                        if (!p)
                                return errmsg_set(ret_error, -ENOMEM, "out of memory");
                        b.data = p;
                        b.allocated = a;
                }

                n = read_eintr(fd, b.data + b.size, b.allocated - b.size - 1);
                if (n < 0)
                        return errmsg_set(ret_error, (int)n, "%s: %s", path, strerror((int)-n));
                if (n == 0)
                        break;
                b.size += (size_t)n;
                b.data[b.size] = 0;
                if (b.size > HTTP_BODY_MAX)
                        return errmsg_set(ret_error, -EFBIG, "%s: file too large", path);
        }

        if (!b.data) {
                b.data = strdup("");
                if (!b.data)
                        return errmsg_set(ret_error, -ENOMEM, "out of memory");
        }

        if (ret_size)
                *ret_size = b.size;
        *ret_body = TAKE_PTR(b.data);
        return 0;
}

static int status_to_errno(long status) {
        switch (status) {
        case 404:
        case 410:
                return -ENOENT;
        case 401:
        case 403:
                return -EACCES;
        default:
                return -EREMOTEIO;
        }
}

int http_fetch_file(const char *url, char **ret_body, size_t *ret_size, char **ret_error) {
        _cleanup_http_response_ HttpResponse resp = {};
        int r;

        assert(url);
        assert(ret_body);

        if (url[0] == '/')
                return read_local(url, ret_body, ret_size, ret_error);

        r = perform(
                &(Request){ .method = "GET", .url = url, .timeout = HTTP_FETCH_TIMEOUT, .fetch = true },
                &resp,
                ret_error);
        if (r < 0)
                return r;

        /* file:// has no status; anything but 2xx from a server is a failure here */
        if (resp.status != 0 && (resp.status < 200 || resp.status >= 300))
                return errmsg_set(
                        ret_error, status_to_errno(resp.status), "server answered HTTP %ld", resp.status);

        if (ret_size)
                *ret_size = resp.size;
        *ret_body = TAKE_PTR(resp.body);
        return 0;
}
