/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* backup: the guide's verified, portable backup, taken while the server still serves */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "background.h"
#include "backup-manifest.h"
#include "checks.h"
#include "credentials.h"
#include "events.h"
#include "helper.h"
#include "current.h"
#include "delta.h"
#include "fd-util.h"
#include "json-util.h"
#include "ledger.h"
#include "plan.h"
#include "log.h"
#include "macro.h"
#include "paths.h"
#include "roll.h"
#include "pg-client.h"
#include "pg-slot.h"
#include "spawn.h"
#include "state.h"
#include "stores.h"
#include "watchstate.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

/* the .partial directory: removed on every way out but the rename, so a half-written backup never
 * stays behind looking like one */
static void remove_partialp(char **path) {
        int r;

        if (!*path)
                return;
        r = backup_manifest_remove_tree(*path);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Failed to remove the unfinished backup %s: %m", *path);
        else
                log_info("Removed the unfinished backup %s.", *path);
        free(*path);
        *path = NULL;
}

/* the scratch database of the trial restore: dropped on every way out, once created */
typedef struct Scratch {
        PgTarget admin; /* on dbname postgres */
        char *name;
        int server_version;
        bool created;
} Scratch;

static void scratch_done(Scratch *s) {
        _cleanup_free_ char *error = NULL;
        int r;

        if (s->created) {
                r = pg_drop_database(&s->admin, s->name, s->server_version, &error);
                if (r < 0)
                        log_warning_errno(
                                r,
                                "Failed to drop the scratch database %s (drop it by hand): %s",
                                s->name,
                                error ?: "");
        }
        free(s->name);
}

static int server_version(const PgTarget *t, int *ret) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = pg_server_version(t, ret, &error);
        if (r < 0)
                return log_error_errno(r, "Failed to ask PostgreSQL for its version: %s", error ?: "");
        return 0;
}

static int fsync_path(const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 || fsync(fd) < 0)
                return -errno;
        return 0;
}

/* failed attempts of this same upgrade leave "<stamp>-<from>-to-<to>.partial" behind: garbage */
static int remove_leftover_partials(const char *base, const char *from, const char *to) {
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_free_ char *suffix = NULL;
        struct dirent *de;

        if (asprintf(&suffix, "-%s-to-%s" BACKUP_MANIFEST_PARTIAL_SUFFIX, from, to) < 0) {
                suffix = NULL;
                return log_oom();
        }
        d = opendir(base);
        if (!d)
                return log_error_errno(errno, "Failed to read %s: %m", base);
        while ((de = readdir(d))) {
                _cleanup_free_ char *p = NULL;
                size_t l = strlen(de->d_name), ls = strlen(suffix);
                int r;

                if (l <= ls || !streq(de->d_name + l - ls, suffix))
                        continue;
                if (asprintf(&p, "%s/%s", base, de->d_name) < 0) {
                        p = NULL;
                        return log_oom();
                }
                r = backup_manifest_remove_tree(p);
                if (r < 0 && r != -ENOENT)
                        log_warning_errno(r, "Failed to remove %s, left by an earlier attempt: %m", p);
                else
                        log_info("Removed %s, left unfinished by an earlier attempt.", p);
        }
        return 0;
}

/* snapshot: NULL, or the slot's exported snapshot (Snapshot=delta) */
static int dump_database(const PgTarget *t, const char *path, const char *snapshot, uint64_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        int status = 0, r;

        /* opened by us: the directory is root's (0700), the dump runs as the database's OS user */
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create %s: %m", path);
        r = pg_dump_run(t, fd, snapshot, &status);
        if (r == -EPERM)
                return log_error_errno(
                        r,
                        "[Database] Connection= carries a secret (password=, sslpassword=): it would "
                        "be visible in pg_dump's command line; keep secrets in PasswordCredential=.");
        if (r < 0)
                return log_error_errno(r, "Failed to run pg_dump as %s: %m", strempty(t->os_user));
        if (status != 0)
                return log_error_errno(
                        EPROTO,
                        "pg_dump of database %s failed with exit status %d (its messages are above).",
                        t->dbname,
                        status);
        if (fsync(fd) < 0 || fstat(fd, &st) < 0)
                return log_error_errno(errno, "Failed to write %s: %m", path);
        *ret_size = (uint64_t)st.st_size;
        return 0;
}

/* the slot's name: the upgrade's id, or the time when run by hand */
static int delta_name(Helper *h, const char *id, char **ret) {
        char stamp[sizeof("YYYYmmddHHMMSS")];
        time_t now = time(NULL);
        struct tm tm;

        if (!*id) {
                if (!gmtime_r(&now, &tm) || strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm) == 0)
                        return -EOVERFLOW;
                id = stamp;
        }
        return delta_slot_name(h->config.db_name, id, ret);
}

/* Snapshot=delta or auto: whether the dump reads a logical slot's exported snapshot, so that the slot
 * holds every change after it (docs/architecture.md, "Snapshot=delta"). 1 with *ret_export and
 * *ret_facts (the schema and large objects before the dump) when it does, 0 when the snapshot phase
 * takes template (said once here), <0 (logged) when explicit delta cannot be used. */
static int delta_begin(
        Helper *h, const PgTarget *t, const char *id, PgSlotExport *ret_export, DeltaFacts *ret_facts) {
        _cleanup_(delta_facts_done) DeltaFacts facts = {};
        _cleanup_free_ char *error = NULL, *reason = NULL, *slot = NULL;
        const char *mode = config_snapshot_mode_to_string(h->config.snapshot);
        int r;

        if (h->config.snapshot != SNAPSHOT_DELTA && h->config.snapshot != SNAPSHOT_AUTO)
                return 0;
        if (h->current.cluster_roll) {
                log_info("Snapshot=%s: a cluster roll takes no delta of the shared database.", mode);
                return 0;
        }
        r = delta_probe(t, &facts, &error);
        if (r == -ENOMEM)
                return log_oom();
        r = delta_decide(h->config.snapshot, r < 0 ? NULL : &facts, error, &reason);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(
                        r, "Snapshot=delta cannot be used: %s. Or set Snapshot=template or auto.", reason);
        if (r == 0) {
                log_notice("Snapshot=auto: the snapshot phase takes a template copy: %s.", reason);
                return 0;
        }

        r = delta_name(h, id, &slot);
        if (r < 0)
                return log_error_errno(
                        r, "Cannot name a replication slot for database %s: %m", h->config.db_name);
        /* recorded first: a crash after the CREATE still leaves the rollback the name to drop */
        r = helper_set_current_string(h, CURRENT_DELTA_SLOT, offsetof(Current, delta_slot), slot);
        if (r < 0)
                return r;
        /* an earlier attempt's, whose changes began before this dump */
        free(error);
        error = NULL;
        r = pg_slot_drop(t, slot, &error);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to drop the leftover replication slot %s: %s", slot, error ?: "");

        log_status("backup: making the logical replication slot %s", slot);
        free(error);
        error = NULL;
        r = pg_slot_export(t, slot, DELTA_PLUGIN, ret_export, &error);
        if (r < 0 && h->config.snapshot == SNAPSHOT_DELTA)
                return log_error_errno(
                        r, "Failed to make the logical replication slot %s: %s", slot, error ?: "");
        if (r < 0) {
                log_notice(
                        "Snapshot=auto: the snapshot phase takes a template copy: the logical replication "
                        "slot "
                        "%s could not be made (%s).",
                        slot,
                        error ?: strerror(-r));
                return 0;
        }
        log_info(
                "Logical replication slot %s (%s) made at %s: the dump reads its snapshot %s.",
                slot,
                DELTA_PLUGIN,
                ret_export->lsn,
                ret_export->snapshot);
        *ret_facts = facts;
        facts = (DeltaFacts){};
        return 1;
}

/* the manifest's "delta": what the snapshot phase compares the stop with; "fingerprint" null when the
 * schema changed while the database was dumped (the stop then takes template) */
static int delta_manifest(
        const PgTarget *t, const char *slot, const char *lsn, const DeltaFacts *before, cJSON **ret) {
        _cleanup_(delta_facts_done) DeltaFacts after = {};
        _cleanup_free_ char *error = NULL;
        _cleanup_json_ cJSON *j = NULL;
        int r;

        r = delta_probe(t, &after, &error);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to read the schema of database %s again: %s", t->dbname, error ?: "");
        j = delta_facts_to_json(before);
        if (!j)
                return log_oom();
        if (json_set_string(j, "slot", slot) < 0 || json_set_string(j, "plugin", DELTA_PLUGIN) < 0 ||
            json_set_string(j, "lsn", lsn) < 0)
                return log_oom();
        if (!streq(after.fingerprint, before->fingerprint)) {
                log_notice(
                        "The schema of database %s changed while it was dumped: the snapshot phase will "
                        "take a template copy.",
                        t->dbname);
                if (json_set_item(j, "fingerprint", cJSON_CreateNull()) < 0)
                        return log_oom();
        }
        *ret = TAKE_PTR(j);
        return 0;
}

typedef struct ConfigFile {
        const char *what;
        const char *path; /* NULL: not set */
} ConfigFile;

typedef struct ConfigSources {
        ConfigFile file[2];
} ConfigSources;

/* what config/ holds: the server config and the master key's identifier (never the key) */
static ConfigSources config_sources(const Helper *h) {
        return (ConfigSources){ .file = {
                                        { "The server config ([Storage] Config=)",
                                          h->config.storage_config },
                                        { "The master-key identifier ([Storage] MasterKeyId=)",
                                          h->config.master_key_id },
                                } };
}

/* every source before the dump, which can take long: a typo in Paths= fails in a second */
static int check_sources(Helper *h) {
        const ConfigSources sources = config_sources(h);
        const ConfigFile *files = sources.file;

        STRV_FOREACH (store, h->config.storage_paths) {
                _cleanup_free_ char *p = paths_rooted(*store);
                struct stat st;

                if (!p)
                        return log_oom();
                if (stat(p, &st) < 0)
                        return log_error_errno(
                                errno, "Store %s ([Storage] Paths=) cannot be backed up: %m", p);
                if (!S_ISDIR(st.st_mode))
                        return log_error_errno(
                                ENOTDIR, "Store %s ([Storage] Paths=) is not a directory.", p);
        }
        for (size_t i = 0; i < ELEMENTSOF(sources.file); i++) {
                _cleanup_free_ char *p = NULL;
                struct stat st;

                if (!files[i].path)
                        continue;
                p = paths_rooted(files[i].path);
                if (!p)
                        return log_oom();
                if (stat(p, &st) < 0)
                        return log_error_errno(errno, "%s %s cannot be backed up: %m", files[i].what, p);
                if (!S_ISREG(st.st_mode))
                        return log_error_errno(EBADFD, "%s %s is not a regular file.", files[i].what, p);
        }
        return 0;
}

static int copy_store(const char *partial, const char *store, uint64_t *vanished) {
        _cleanup_free_ char *src = paths_rooted(store), *dst = NULL;
        int r;

        if (!src)
                return log_oom();
        r = backup_manifest_copy_path(partial, BACKUP_MANIFEST_STORES, store, &dst);
        if (r < 0)
                return log_error_errno(r, "[Storage] Paths= entry %s cannot be backed up: %m", store);
        log_status("backup: copying %s", store);
        /* files that vanish: the server still writes; the snapshot phase copies the delta once it stopped */
        r = stores_rsync(src, dst, true);
        if (r < 0)
                return r;
        if (r == STORES_RSYNC_VANISHED) {
                (*vanished)++;
                log_notice(
                        "Some files of %s vanished while it was copied (the server still runs); the "
                        "snapshot copies the final state after the stop.",
                        src);
        }
        return 0;
}

typedef struct StoresCopy {
        const Helper *h;
        const char *partial;
} StoresCopy;

static int copy_stores(void *userdata) {
        const StoresCopy *c = userdata;
        uint64_t vanished = 0;
        int r;

        STRV_FOREACH (store, c->h->config.storage_paths) {
                r = copy_store(c->partial, *store, &vanished);
                if (r < 0)
                        return r;
        }
        if (vanished > 0)
                log_info(
                        "%" PRIu64
                        " stores changed while they were copied; snapshot copies them again after the stop.",
                        vanished);
        return 0;
}

typedef struct ChecksumsCheck {
        const char *partial;
        const BackupFileList *files;
} ChecksumsCheck;

/* every file read again gives the checksum of the first reading (compared as it is read: no second
 * list) */
static int check_checksums(void *userdata) {
        const ChecksumsCheck *c = userdata;
        _cleanup_free_ char *bad = NULL;
        int r;

        r = backup_manifest_check_tree(
                c->partial, NULL, BACKUP_HASH_SKIP_MANIFEST, NULL, c->files, NULL, NULL, &bad);
        if (r == -EBADMSG)
                return log_error_errno(
                        r,
                        "Backup file %s/%s changed after it was written: the backup is not reliable.",
                        c->partial,
                        strempty(bad));
        if (r < 0)
                return log_error_errno(r, "Failed to verify the checksums of %s: %m", c->partial);
        return 0;
}

static int copy_config_file(const char *partial, const char *what, const char *path) {
        _cleanup_free_ char *src = paths_rooted(path), *dst = NULL;
        int status = 0, r;

        if (!src)
                return log_oom();
        r = backup_manifest_copy_path(partial, BACKUP_MANIFEST_CONFIG, path, &dst);
        if (r < 0)
                return log_error_errno(r, "%s %s cannot be backed up: %m", what, path);
        r = backup_manifest_rsync(src, dst, false, &status);
        if (r < 0)
                return log_error_errno(r, "Failed to run rsync for %s: %m", src);
        if (status != 0)
                return log_error_errno(
                        EPROTO, "rsync of %s to %s failed with exit status %d.", src, dst, status);
        return 0;
}

/* pg_restore --list: a dump it can read, with entries in it */
static int check_dump_listing(const char *path) {
        unsigned entries = 0;
        int status = 0, r;

        r = pg_restore_list(path, &entries, &status);
        if (r < 0)
                return log_error_errno(r, "Failed to run pg_restore --list %s: %m", path);
        if (status != 0)
                return log_error_errno(
                        EBADMSG,
                        "pg_restore --list %s failed with exit status %d: the dump is not readable.",
                        path,
                        status);
        if (entries == 0)
                return log_error_errno(
                        EBADMSG, "pg_restore --list %s lists nothing: the dump is empty.", path);
        log_info("pg_restore --list %s: %u entries.", path, entries);
        return 0;
}

/* What the dump holds, per table. The database kept serving during pg_dump, and its snapshot is not
 * one we can count in: a table with the same count before and after the dump holds that many rows in
 * it; a table that changed holds something in between, which the trial restore tells exactly. */
typedef struct Counts {
        cJSON *before;   /* live, just before pg_dump */
        cJSON *after;    /* live, just after */
        cJSON *restored; /* in the scratch database, or NULL without a trial restore */
} Counts;

static void counts_done(Counts *c) {
        cJSON_Delete(c->before);
        cJSON_Delete(c->after);
        cJSON_Delete(c->restored);
}

/* the manifest's "tables": exact where known; *ret_changed lists the tables written during the dump */
static int counts_resolve(const Counts *c, cJSON **ret_tables, cJSON **ret_changed) {
        _cleanup_free_ char *why = NULL;
        int r;

        r = backup_manifest_resolve_counts(c->before, c->after, c->restored, ret_tables, ret_changed, &why);
        if (r == -ENOMEM)
                return log_oom();
        if (r == -EBUSY)
                return log_error_errno(
                        r,
                        "%s while the database was dumped: a migration or another client changed the "
                        "schema.",
                        why);
        if (r < 0)
                return log_error_errno(r, "The trial restore does not match the database: %s.", why);
        return 0;
}

static int row_counts(const PgTarget *t, cJSON **ret) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = pg_table_row_counts(t, ret, &error);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to count the rows of database %s: %s", t->dbname, error ?: "");
        return 0;
}

static int trial_restore(Helper *h, const char *dump, const cJSON *properties, Counts *counts) {
        _cleanup_(scratch_done) Scratch s = {};
        _cleanup_(pg_restore_failure_done) PgRestoreFailure f = {};
        _cleanup_free_ char *error = NULL;
        int r;

        /* the same name for every attempt (one upgrade of a deployment runs at a time): with the
         * invocation id in it, what an attempt killed mid-restore left would stay for good */
        r = backup_manifest_db_name(h->config.db_name, "verify", "scratch", 8, &s.name);
        if (r < 0)
                return log_error_errno(r, "Cannot name a scratch database after %s: %m", h->config.db_name);
        r = helper_pg_target(h, "postgres", &s.admin);
        if (r < 0)
                return log_oom();
        r = server_version(&s.admin, &s.server_version);
        if (r < 0)
                return r;

        log_status("backup: verifying (trial restore into %s)", s.name);

        /* owned by the restoring role (no PG_RESTORE_OWNER): the scratch database is ours alone */
        r = pg_restore_dump(&s.admin, dump, s.name, properties, s.server_version, 0, &counts->restored, &f);
        /* created, so dropped on every way out from here */
        s.created = r >= 0 || f.step >= PG_RESTORE_STEP_OPEN;
        if (r < 0)
                switch (f.step) {
                case PG_RESTORE_STEP_DROP:
                        return log_error_errno(
                                r,
                                "Failed to drop the leftover scratch database %s: %s",
                                s.name,
                                f.error ?: "");
                case PG_RESTORE_STEP_SQL:
                        return log_oom();
                case PG_RESTORE_STEP_CREATE:
                        return log_error_errno(
                                r,
                                "Failed to create the scratch database %s for the trial restore: %s",
                                s.name,
                                f.error ?: "");
                case PG_RESTORE_STEP_OPEN:
                        return log_error_errno(r, "Failed to open %s: %m", dump);
                case PG_RESTORE_STEP_RUN:
                        return log_error_errno(
                                r, "Failed to run pg_restore as %s: %m", strempty(h->config.db_os_user));
                case PG_RESTORE_STEP_EXIT:
                        return log_error_errno(
                                r,
                                "The trial restore of %s into %s failed with exit status %d (pg_restore's "
                                "messages are above).",
                                dump,
                                s.name,
                                f.exit_status);
                case PG_RESTORE_STEP_COUNT:
                        return log_error_errno(
                                r, "Failed to count the rows of database %s: %s", s.name, f.error ?: "");
                }

        /* dropped here, not only by the cleanup, so a failure to drop is seen before success is declared */
        r = pg_drop_database(&s.admin, s.name, s.server_version, &error);
        if (r < 0)
                return log_error_errno(r, "Failed to drop the scratch database %s: %s", s.name, error ?: "");
        s.created = false;
        return 0;
}

static cJSON *strv_to_json(char **l) {
        cJSON *a = cJSON_CreateArray();

        STRV_FOREACH (s, l)
                if (!a || !cJSON_AddItemToArray(a, cJSON_CreateString(*s))) {
                        cJSON_Delete(a);
                        return NULL;
                }
        return a;
}

/* Before the server stops: the downtime window in the journal and to the [Notify] URL= webhook
 * ("announce"), then AnnounceLead= of notice for the people using it (a timer-driven run at night
 * still gives them its lead). */
static int announce(Helper *h, const char *from) {
        _cleanup_free_ char *message = NULL, *basis = NULL, *stop_at = NULL, *lead = NULL, *worst = NULL,
                            *expected = NULL;
        _cleanup_json_ cJSON *fields = NULL;
        _cleanup_json_ cJSON *ledger = NULL;
        usec_t max = plan_downtime_bound(&h->config), wait = h->config.notify_announce_lead;
        double seconds;
        time_t at = time(NULL) + (time_t)(wait / USEC_PER_SEC);
        struct tm tm;
        char stamp[sizeof("2026-11-26T10:57:13Z")];
        int r;

        /* an unreadable ledger only makes the estimate unknown */
        (void)ledger_load(h->config.deployment, &ledger);
        r = checks_expected_downtime(ledger, &seconds, &basis);
        if (r < 0)
                return log_oom();
        if (!gmtime_r(&at, &tm) || strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return log_error_errno(EOVERFLOW, "Failed to format the time.");
        lead = checks_format_duration(wait);
        worst = max == USEC_INFINITY ? strdup("without a bound") : checks_format_duration(max);
        if (!lead || !worst ||
            (isnan(seconds) ? !(expected = strdup("for a time not known yet"))
                            : asprintf(&expected, "for about %.0f s", seconds) < 0))
                return log_oom();
        if (asprintf(
                    &message,
                    "Codebolt %s will stop for the upgrade to %s %s%s (deployment %s), %s (%s; at most %s "
                    "by "
                    "the deadlines): in-flight agent runs finish, new ones wait.",
                    from,
                    h->version,
                    wait > 0 ? "at " : "in a moment",
                    wait > 0 ? stamp : "",
                    h->config.deployment,
                    expected,
                    basis,
                    worst) < 0)
                return log_oom();
        log_notice("%s", message);

        fields = cJSON_CreateObject();
        if (!fields || !cJSON_AddStringToObject(fields, "message", message) ||
            !cJSON_AddStringToObject(fields, "stop_at", stamp) ||
            !cJSON_AddItemToObject(
                    fields,
                    "expected_downtime_seconds",
                    isnan(seconds) ? cJSON_CreateNull() : cJSON_CreateNumber(seconds)) ||
            !cJSON_AddItemToObject(
                    fields,
                    "max_downtime_seconds",
                    max == USEC_INFINITY ? cJSON_CreateNull()
                                         : cJSON_CreateNumber((double)(max / USEC_PER_SEC))) ||
            !cJSON_AddStringToObject(fields, "basis", basis))
                return log_oom();
        helper_notify(h, "announce", fields);

        if (wait == 0)
                return 0;
        log_status(
                "backup: announced; %s stops at %s (AnnounceLead=%s)", h->config.server_unit, stamp, lead);
        for (usec_t waited = 0; waited < wait; waited += USEC_PER_SEC / 10) {
                if (helper_cancelled)
                        return log_error_errno(
                                ECANCELED,
                                "Stopped by signal %d while giving the announced lead of %s.",
                                (int)helper_cancelled,
                                lead);
                (void)usleep(100 * 1000);
        }
        return 0;
}

/* a count of the baseline as text, in a static buffer per key slot */
static const char *count_or_unknown(const cJSON *b, const char *key) {
        static char buf[4][24];
        static unsigned slot;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(b, key);
        char *s = buf[slot++ % 4];

        if (!cJSON_IsNumber(v))
                return "unknown";
        snprintf(s, sizeof(buf[0]), "%.0f", v->valuedouble);
        return s;
}

static int set_baseline(Current *current, void *userdata) {
        cJSON *copy = cJSON_Duplicate(userdata, true);

        if (!copy)
                return -ENOMEM;
        cJSON_Delete(current->baseline);
        current->baseline = copy;
        return 0;
}

/* What the watch after the upgrade compares with (watchstate.h), read from the version still running,
 * in readings spread over the backup's own steps. A signal that cannot be read is left out: the watch
 * then has nothing to compare it with. */
static int baseline_begin(Helper *h, BaselineCapture *b) {
        log_status("backup: taking the watch's baseline from %s", strempty(h->current.from));
        return watch_baseline_begin(&h->config, b) < 0 ? log_oom() : 0;
}

static int baseline_end(Helper *h, BaselineCapture *b) {
        _cleanup_json_ cJSON *j = NULL;
        const cJSON *memory;

        if (watch_baseline_end(&h->config, b, &j) < 0)
                return log_oom();
        memory = cJSON_GetObjectItemCaseSensitive(j, "memory_max");
        log_info(
                "Baseline for the watch: %s errors in %.0f s of %s's journal; agent runs %s succeeded, %s "
                "failed; "
                "memory %s%.1f MiB (%s).",
                count_or_unknown(j, "errors"),
                (double)(h->config.watch_baseline_window / USEC_PER_SEC),
                h->config.server_unit,
                count_or_unknown(j, "runs_succeeded"),
                count_or_unknown(j, "runs_failed"),
                cJSON_IsNumber(memory) ? "" : "unknown, ",
                cJSON_IsNumber(memory) ? memory->valuedouble / (1024.0 * 1024.0) : 0.0,
                json_get_string(j, "memory_source") ?: "no reading");
        return helper_update_current(h, set_baseline, j);
}

static int run(Helper *h) {
        _cleanup_free_ char *base = NULL, *name = NULL, *final = NULL, *dump = NULL, *created = NULL,
                            *error = NULL, *size_all = NULL, *size_dump = NULL;
        _cleanup_(remove_partialp) char *partial = NULL;
        _cleanup_(watch_baseline_done) BaselineCapture baseline = {};
        _cleanup_file_list_ BackupFileList *files = NULL;
        _cleanup_json_ cJSON *properties = NULL, *symlinks = NULL, *manifest = NULL, *tables = NULL,
                             *changed = NULL, *config_files = NULL;
        _cleanup_(counts_done) Counts counts = {};
        _cleanup_(pg_slot_export_done) PgSlotExport export = { .hold_fd = -EBADF };
        _cleanup_(delta_facts_done) DeltaFacts delta_before = {};
        _cleanup_json_ cJSON *delta = NULL;
        /* copies: every update of current.json replaces h->current */
        _cleanup_free_ char *from = NULL, *upgrade_id = NULL;
        const char *db = h->config.db_name;
        const ConfigSources sources = config_sources(h);
        BackupTreeStats stats = {};
        _cleanup_(background_done) Background stores_copy = {}, checksums_check = {};
        uint64_t dump_size = 0;
        struct stat st;
        PgTarget target;
        time_t now = time(NULL);
        bool dump_db;
        int r;

        if (!h->current.from)
                return log_error_errno(
                        EINVAL,
                        "current.json records no version to upgrade from: preflight did not finish.");
        from = strdup(h->current.from);
        upgrade_id = strdup(strempty(h->current.id));
        if (!from || !upgrade_id)
                return log_oom();
        /* a host of a rolling cluster upgrade waits for its turn here, after staging in parallel */
        r = roll_take_slot(h);
        if (r < 0)
                return r;
        r = baseline_begin(h, &baseline);
        if (r < 0)
                return r;

        base = paths_rooted(h->config.backup_directory);
        if (!base)
                return log_oom();
        if (stat(base, &st) < 0) {
                if (errno != ENOENT)
                        return log_error_errno(errno, "Failed to look at the backup directory %s: %m", base);
                /* created on first use, never by the package (docs/architecture.md, "Configuration") */
                r = paths_mkdir_p(base, 0700);
                if (r < 0)
                        return log_error_errno(r, "Failed to create the backup directory %s: %m", base);
                log_info("Created the backup directory %s (mode 0700).", base);
        }

        r = backup_manifest_dir_name(now, from, h->version, &name);
        if (r < 0)
                return log_error_errno(r, "Cannot name a backup of %s to %s: %m", from, h->version);
        if (asprintf(&final, "%s/%s", base, name) < 0 ||
            asprintf(&partial, "%s" BACKUP_MANIFEST_PARTIAL_SUFFIX, final) < 0) {
                partial = NULL;
                return log_oom();
        }

        r = check_sources(h);
        if (r < 0)
                return r;
        r = remove_leftover_partials(base, from, h->version);
        if (r < 0)
                return r;
        if (mkdir(partial, 0700) < 0) {
                r = log_error_errno(errno, "Failed to create %s: %m", partial);
                free(TAKE_PTR(partial)); /* not ours to remove */
                return r;
        }

        r = helper_pg_target(h, db, &target);
        if (r < 0)
                return log_oom();

        r = pg_database_properties(&target, db, &properties, &error);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to read the properties of database %s: %s", db, error ?: "");

        /* the database: in a cluster roll only the migrator dumps it, the one copy of the shared data
         * (another host's rollback is minor, and its smoke test only needs the row counts) */
        dump_db = !h->current.cluster_roll || h->current.cluster_migrator;

        /* the stores, beside the database's dump */
        StoresCopy sc = { .h = h, .partial = partial };
        r = background_begin(&stores_copy, "copy of the stores", copy_stores, &sc);
        if (r < 0)
                return r;

        log_status(dump_db ? "backup: dumping database %s" : "backup: counting the rows of database %s", db);
        r = row_counts(&target, &counts.before);
        if (r < 0)
                return r;
        if (dump_db) {
                if (asprintf(&dump, "%s/" BACKUP_MANIFEST_DUMP, partial) < 0)
                        return log_oom();
                r = delta_begin(h, &target, upgrade_id, &export, &delta_before);
                if (r < 0)
                        return r;
                r = dump_database(&target, dump, export.snapshot, &dump_size);
                if (r < 0)
                        return r;
                if (export.snapshot) {
                        _cleanup_free_ char *lsn = TAKE_PTR(export.lsn);

                        /* the dump has read what it needs: the slot keeps the changes since */
                        pg_slot_export_done(&export);
                        r = delta_manifest(&target, h->current.delta_slot, lsn, &delta_before, &delta);
                        if (r < 0)
                                return r;
                }
                r = row_counts(&target, &counts.after);
                if (r < 0)
                        return r;
        } else {
                log_info(
                        "Cluster roll %s: the migrator backs up the shared database %s; this host counts "
                        "its rows and backs up its own stores, config and master-key identifier.",
                        h->current.cluster_roll,
                        db);
                counts.after = cJSON_Duplicate(counts.before, true);
                if (!counts.after)
                        return log_oom();
        }

        if (watch_baseline_read(&h->config, &baseline) < 0)
                return log_oom();

        r = background_end(&stores_copy);
        if (r < 0)
                return r;

        /* the config, the master key's identifier */
        log_status("backup: copying the server config and the master-key identifier");
        config_files = cJSON_CreateArray();
        if (!config_files)
                return log_oom();
        for (size_t i = 0; i < ELEMENTSOF(sources.file); i++) {
                const ConfigFile *f = &sources.file[i];

                if (!f->path)
                        continue;
                r = copy_config_file(partial, f->what, f->path);
                if (r < 0)
                        return r;
                if (!cJSON_AddItemToArray(config_files, cJSON_CreateString(f->path)))
                        return log_oom();
        }

        /* the checksums; symlinks are recorded with their targets, not hashed or followed */
        log_status("backup: computing checksums");
        r = backup_manifest_hash_tree(partial, NULL, BACKUP_HASH_SKIP_MANIFEST, &files, &symlinks, &stats);
        if (r < 0)
                return log_error_errno(r, "Failed to compute the checksums of %s: %m", partial);
        if (stats.other > 0)
                log_notice(
                        "%" PRIu64 " special files (fifos, sockets, devices) are copied, not checksummed.",
                        stats.other);

        if (watch_baseline_read(&h->config, &baseline) < 0)
                return log_oom();

        /* verification: the files as written (beside the rest), the dump's listing, a trial restore */
        log_status("backup: verifying checksums");
        ChecksumsCheck cc = { .partial = partial, .files = files };
        r = background_begin(&checksums_check, "second reading of the checksums", check_checksums, &cc);
        if (r < 0)
                return r;

        if (dump_db) {
                log_status("backup: verifying the dump (pg_restore --list)");
                r = check_dump_listing(dump);
                if (r < 0)
                        return r;
                if (h->config.verify_restore) {
                        r = trial_restore(h, dump, properties, &counts);
                        if (r < 0)
                                return r;
                } else
                        log_info("VerifyRestore=no: no trial restore.");
        }
        r = background_end(&checksums_check);
        if (r < 0)
                return r;

        r = baseline_end(h, &baseline);
        if (r < 0)
                return r;

        r = counts_resolve(&counts, &tables, &changed);
        if (r < 0)
                return r;
        if (cJSON_GetArraySize(changed) > 0)
                log_notice(
                        "%d tables were written to while the database was dumped (the server still serves); "
                        "the manifest records what the dump holds%s.",
                        cJSON_GetArraySize(changed),
                        counts.restored ? " (counted in the trial restore)"
                                        : " (the lower bound: no trial restore)");

        /* the manifest, and only then the name that says "done" */
        created = current_timestamp();
        manifest = cJSON_CreateObject();
        if (!created || !manifest)
                return log_oom();
        if (!cJSON_AddStringToObject(manifest, "id", upgrade_id) ||
            !cJSON_AddStringToObject(manifest, "from", from) ||
            !cJSON_AddStringToObject(manifest, "to", h->version) ||
            !cJSON_AddStringToObject(manifest, "created", created) ||
            !cJSON_AddStringToObject(manifest, "deployment", h->config.deployment) ||
            !cJSON_AddItemToObject(manifest, "database", TAKE_PTR(properties)) ||
            !cJSON_AddItemToObject(manifest, "tables", TAKE_PTR(tables)) ||
            !cJSON_AddItemToObject(manifest, "tables_changed_during_dump", TAKE_PTR(changed)) ||
            !cJSON_AddItemToObject(manifest, "stores", strv_to_json(h->config.storage_paths)) ||
            !cJSON_AddItemToObject(manifest, "config", TAKE_PTR(config_files)) ||
            !cJSON_AddItemToObject(manifest, "symlinks", TAKE_PTR(symlinks)) ||
            !cJSON_AddBoolToObject(manifest, "database_dump", dump_db) ||
            !cJSON_AddBoolToObject(manifest, "trial_restore", counts.restored != NULL) ||
            !cJSON_AddBoolToObject(manifest, "verified", true))
                return log_oom();
        if (delta && !cJSON_AddItemToObject(manifest, "delta", TAKE_PTR(delta)))
                return log_oom();
        r = stores_write_manifest(partial, files, manifest);
        if (r < 0)
                return r;

        if (syscall(SYS_renameat2, AT_FDCWD, partial, AT_FDCWD, final, RENAME_NOREPLACE) < 0)
                return log_error_errno(errno, "Failed to rename %s to %s: %m", partial, final);
        free(TAKE_PTR(partial));
        r = fsync_path(base);
        if (r < 0)
                return log_error_errno(r, "Failed to sync %s: %m", base);

        r = helper_set_current_string(h, CURRENT_BACKUP, offsetof(Current, backup), final);
        if (r < 0)
                return r;

        size_dump = backup_manifest_format_bytes(dump_size);
        size_all = backup_manifest_format_bytes(stats.bytes);
        log_info(
                "Backup %s verified: %s in %" PRIu64 " files (database.dump %s), %" PRIu64
                " symlinks, %d tables%s.",
                final,
                strempty(size_all),
                stats.files,
                dump_db ? strempty(size_dump) : "not here: the migrator's",
                stats.symlinks,
                cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(manifest, "tables")),
                counts.restored ? ", trial restore matched" : "");
        return announce(h, from);
}

int main(int argc, char *argv[]) {
        return helper_main(argc, argv, "backup", 0, run);
}
