/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-etcd-parse.c: an answer of etcd's JSON gateway (the bytes as received, not NUL-terminated)
 * through etcd_parse_range(), etcd_parse_txn() and etcd_parse_error(); what range accepts is written
 * out again (keys and values base64) and must parse to the same kvs */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>

#include <openssl/evp.h>

#include "etcd-parse.h"
#include "fuzz.h"

#define EXACT (INT64_C(1) << 53)

static void add_base64(FILE *f, const char *name, const char *p, size_t n) {
        _cleanup_free_ unsigned char *b = malloc((n + 2) / 3 * 4 + 1);

        if (!b)
                abort();
        (void)EVP_EncodeBlock(b, (const unsigned char *)p, (int)n);
        fprintf(f, "\"%s\":\"%s\"", name, b);
}

/* the kvs as the gateway would write them */
static char *range_body(const EtcdKv *kvs, size_t n, int64_t revision, size_t *ret_size) {
        char *s = NULL;
        FILE *f = open_memstream(&s, ret_size);

        if (!f)
                abort();
        fprintf(f, "{\"header\":{\"revision\":\"%" PRIi64 "\"},\"kvs\":[", revision);
        for (size_t i = 0; i < n; i++) {
                fputs(i ? ",{" : "{", f);
                add_base64(f, "key", kvs[i].key, strlen(kvs[i].key));
                fputc(',', f);
                add_base64(f, "value", kvs[i].value, kvs[i].value_size);
                /* mod_revision as a JSON number where a double holds it exactly */
                if (kvs[i].mod_revision > -EXACT && kvs[i].mod_revision < EXACT)
                        fprintf(f, ",\"mod_revision\":%" PRIi64, kvs[i].mod_revision);
                else
                        fprintf(f, ",\"mod_revision\":\"%" PRIi64 "\"", kvs[i].mod_revision);
                fprintf(f,
                        ",\"create_revision\":\"%" PRIi64 "\",\"version\":\"%" PRIi64
                        "\",\"lease\":\"%" PRIi64 "\"}",
                        kvs[i].create_revision,
                        kvs[i].version,
                        kvs[i].lease);
        }
        fputs("]}", f);
        if (fclose(f) != 0)
                abort();
        return s;
}

static void check_range(const uint8_t *data, size_t size) {
        _cleanup_free_ char *again = NULL;
        EtcdKv *kvs = NULL, *kvs2 = NULL;
        size_t n = 0, n2 = 0, again_size = 0;
        int64_t rev = -1, rev2 = -1;
        int r;

        r = etcd_parse_range((const char *)data, size, &kvs, &n, &rev);
        FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);
        if (r < 0) {
                FUZZ_CHECK(!kvs && n == 0 && rev == -1);
                return;
        }
        FUZZ_CHECK((n == 0) == (kvs == NULL));
        FUZZ_CHECK(rev >= 0);
        for (size_t i = 0; i < n; i++) {
                FUZZ_CHECK(kvs[i].key && *kvs[i].key);
                FUZZ_CHECK(kvs[i].value && kvs[i].value[kvs[i].value_size] == 0);
        }

        again = range_body(kvs, n, rev, &again_size);
        r = etcd_parse_range(again, again_size, &kvs2, &n2, &rev2);
        FUZZ_CHECK(r == 0 || r == -ENOMEM);
        if (r == 0) {
                FUZZ_CHECK(n2 == n && rev2 == rev);
                for (size_t i = 0; i < n; i++) {
                        FUZZ_CHECK(streq(kvs[i].key, kvs2[i].key));
                        FUZZ_CHECK(kvs[i].value_size == kvs2[i].value_size);
                        FUZZ_CHECK(memcmp(kvs[i].value, kvs2[i].value, kvs[i].value_size) == 0);
                        FUZZ_CHECK(kvs[i].create_revision == kvs2[i].create_revision);
                        FUZZ_CHECK(kvs[i].mod_revision == kvs2[i].mod_revision);
                        FUZZ_CHECK(kvs[i].version == kvs2[i].version);
                        FUZZ_CHECK(kvs[i].lease == kvs2[i].lease);
                }
        }
        etcd_kvs_free(kvs, n);
        etcd_kvs_free(kvs2, n2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *message = NULL;
        bool succeeded = false;
        int r;

        check_range(data, size);

        r = etcd_parse_txn((const char *)data, size, &succeeded);
        FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);

        r = etcd_parse_error((const char *)data, size, &message);
        FUZZ_CHECK(r == 0 || r == -EREMOTEIO || r == -ENOENT || r == -EACCES || r == -EPERM || r == -ENOMEM);
        if (r == 0 || r == -ENOMEM)
                FUZZ_CHECK(!message);
        else {
                /* one line for a log */
                FUZZ_CHECK(message);
                for (const char *p = message; *p; p++)
                        FUZZ_CHECK((unsigned char)*p >= ' ' && *p != 0x7f);
        }
        free(message);
        return 0;
}
