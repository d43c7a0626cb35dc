/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* config.h: the layered upgrade.conf (vendor, /etc, .conf.d, per deployment) */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef uint64_t usec_t;
#define USEC_PER_SEC ((usec_t) 1000000ULL)
#define USEC_INFINITY ((usec_t) UINT64_MAX)

typedef enum SnapshotMode {
        SNAPSHOT_TEMPLATE,
        SNAPSHOT_DUMP,
        SNAPSHOT_NONE,
} SnapshotMode;

typedef enum PolicyRole {
        ROLE_UNSET,
        ROLE_STAGING,
        ROLE_PRODUCTION,
} PolicyRole;

typedef enum EnforcePin {
        ENFORCE_PIN_YES,
        ENFORCE_PIN_WARN,
        ENFORCE_PIN_NO,
} EnforcePin;

typedef enum RollbackPolicy {
        ROLLBACK_AUTO,
        ROLLBACK_MINOR_ONLY,
        ROLLBACK_RESTORE_ALWAYS,
        ROLLBACK_NONE,
} RollbackPolicy;

typedef enum AutoTrack {
        TRACK_PATCH,
        TRACK_MINOR,
} AutoTrack;

typedef struct Config {
        char *deployment; /* "default", or the name of deployments/<name>.conf */

        /* [Server] */
        char *server_unit;    /* codebolt.service */
        char *server_user;    /* NULL: read the server unit's User= */
        char *package;        /* @codebolt/server */
        char *registry;       /* NULL: npm's default */
        char *npm_config;     /* NULL or an npmrc path */
        char *release_metadata; /* NULL: the registry's document; else a file path or URL */
        unsigned port;        /* 3456 */

        /* [Database] */
        char *db_name;        /* codebolt */
        char *db_connection;  /* NULL: local socket */
        char *db_os_user;     /* postgres */
        char *db_password_credential; /* db-password */

        /* [Storage] */
        char **storage_paths; /* the four stores */
        char *storage_config; /* /etc/codebolt/codebolt-server.yaml */
        char *master_key_id;  /* /etc/codebolt/master-key-id */

        /* [Backup] */
        char *backup_directory; /* /backups/codebolt */
        unsigned backup_keep;   /* 5 */
        bool verify_restore;    /* yes */
        SnapshotMode snapshot;  /* template */

        /* [Policy] */
        PolicyRole role;
        char *staging_ledger;
        char *export_ledger; /* /var/lib/codebolt-upgrade/public/ledger.json */
        usec_t bake_time;    /* 24h */
        bool allow_major;    /* no */
        EnforcePin enforce_pin;
        RollbackPolicy rollback;

        /* [Timeouts] */
        usec_t timeout_drain;      /* 10min */
        usec_t timeout_migrations; /* 30min */
        usec_t timeout_ready;      /* 5min */
        usec_t timeout_smoke;      /* 5min */
        usec_t timeout_hook;       /* 5min */

        /* [Smoke] */
        char *smoke_steps;               /* DATADIR/smoke-steps.json */
        char *smoke_user;                /* smoke */
        char *smoke_password_credential; /* smoke-password */
        char *error_pattern;             /* ^(error|fatal|panic)\b, case-insensitive */

        /* [Watch] */
        usec_t watch_period;   /* 48h */
        usec_t watch_interval; /* 5min */
        bool watch_auto_rollback;

        /* [Auto] */
        char *auto_schedule;
        AutoTrack auto_track;
        char *auto_channel;
        usec_t auto_randomized_delay;

        /* [Notify] */
        char *notify_url;
        char *notify_token_credential; /* webhook-token */
        usec_t notify_announce_lead;
} Config;

/* The error a failed load reports: the file, the line (0 when none) and the key, for one log line. */
typedef struct ConfigError {
        char *file;
        unsigned line;
        char *key;
        char *message;
} ConfigError;

void config_error_done(ConfigError *e);

/* Fill *c with the defaults of DESIGN §5. */
int config_init_defaults(Config *c);

/* Load the layers for deployment (NULL or "default" for the default one), all under root
 * (NULL: $CODEBOLT_UPGRADE_ROOT, or "/"). On failure returns -errno and fills *ret_error. */
int config_load(const char *root, const char *deployment, Config *ret, ConfigError *ret_error);

void config_done(Config *c);

/* "90s", "5min", "24h", "2d", "1h 30min", "infinity" */
int config_parse_timespan(const char *s, usec_t *ret);
int config_parse_bool(const char *s, bool *ret);
