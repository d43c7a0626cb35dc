/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-backup-list-read.c: a backup's files.sha256 read by backup_list_read(); what it accepts
 * is sorted and unique, and written back it is the same text byte for byte */
#define _GNU_SOURCE
#include <errno.h>

#include "backup-manifest.h"
#include "fuzz.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_file_list_ BackupFileList *l = NULL, *some = NULL;
        _cleanup_free_ char *error = NULL, *sha = NULL, *text = NULL, *sha_again = NULL;
        size_t lines = 0, text_size = 0;
        FILE *f, *out;
        int r;

        if (size == 0)
                return 0;
        f = fmemopen((void *)data, size, "r");
        if (!f)
                return 0;
        r = backup_list_read(f, "files.sha256", NULL, false, &l, &lines, &sha, &error);
        fclose(f);
        FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);
        if (r == -EBADMSG)
                FUZZ_CHECK(error && strncmp(error, "files.sha256:", 13) == 0);
        if (r < 0)
                return 0;
        FUZZ_CHECK(l->n == lines);
        for (size_t i = 1; i < l->n; i++)
                FUZZ_CHECK(strcmp(backup_list_path(l, i - 1), backup_list_path(l, i)) < 0);

        /* the text is exactly what the writer makes of the list */
        out = open_memstream(&text, &text_size);
        FUZZ_CHECK(out);
        FUZZ_CHECK(backup_list_write(l, out, &sha_again) == 0);
        fclose(out);
        FUZZ_CHECK(text_size == size && memcmp(text, data, size) == 0);
        FUZZ_CHECK(streq(sha, sha_again));

        /* a selection keeps what the whole list holds under the prefix */
        f = fmemopen((void *)data, size, "r");
        FUZZ_CHECK(f);
        FUZZ_CHECK(backup_list_read(f, "files.sha256", "stores/", true, &some, NULL, NULL, NULL) == 0);
        fclose(f);
        for (size_t i = 0; i < some->n; i++)
                FUZZ_CHECK(backup_list_find(l, backup_list_path(some, i)));
        return 0;
}
