/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* config.h: the layered upgrade.conf (vendor, /etc, .conf.d, per deployment) */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "time-util.h"

typedef enum SnapshotMode {
        SNAPSHOT_TEMPLATE,
        SNAPSHOT_DUMP,
        SNAPSHOT_NONE,
        SNAPSHOT_DELTA, /* the dump from a logical slot's snapshot plus the changes since: delta.h */
        SNAPSHOT_AUTO,  /* delta where PostgreSQL allows it, else template */
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

typedef enum LoadBalancerDriver {
        LB_DRIVER_NONE,
        LB_DRIVER_HAPROXY,
        LB_DRIVER_HEALTH,
} LoadBalancerDriver;

/* Paths in a Config are as written (absolute, normalized: no //, no trailing /, no . or ..); callers take
 * them under CODEBOLT_UPGRADE_ROOT with paths_rooted(). Strings that are NULL mean "not set". */
typedef struct Config {
        char *deployment; /* "default", or the name of deployments/<name>.conf */
        char **sources;   /* the files read, in order (for SourcePath= and error messages); may be NULL */

        /* [Server] */
        char *server_unit;      /* codebolt.service */
        char *server_user;      /* NULL: read the server unit's User= */
        char *package;          /* @codebolt/server */
        char *registry;         /* NULL: npm's default */
        char *npm_config;       /* NULL or an npmrc path */
        char *release_metadata; /* NULL: the registry's document; else a file path or URL */
        unsigned port;          /* 3456 */
        char *server_address;   /* NULL: 127.0.0.1 (config_server_address()); an IPv6 one in [] */
        char *install_root;     /* /opt/codebolt: releases/<version> and the current link */

        /* [Database] */
        char *db_name;                /* codebolt */
        char *db_connection;          /* NULL: local socket */
        char *db_os_user;             /* postgres */
        char *db_password_credential; /* db-password */

        /* [Storage] */
        char **storage_paths; /* the four stores; Paths= appends, an empty Paths= empties it (NULL) */
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
        char *export_ledger;       /* /var/lib/codebolt-upgrade/public/ledger.json */
        usec_t bake_time;          /* 24h */
        bool allow_major;          /* no */
        char **allow_incompatible; /* tools and capabilities allowed to be "incompatible"; NULL: none */
        EnforcePin enforce_pin;
        RollbackPolicy rollback;

        /* [Timeouts] */
        usec_t timeout_drain;      /* 10min */
        usec_t timeout_migrations; /* 30min */
        usec_t timeout_ready;      /* 5min */
        usec_t timeout_smoke;      /* 5min */
        usec_t timeout_hook;       /* 5min */
        usec_t timeout_slot;       /* 30min: waiting for a cluster slot */

        /* [Smoke] */
        char *smoke_steps;               /* DATADIR/smoke-steps.json */
        char *smoke_user;                /* smoke */
        char *smoke_password_credential; /* smoke-password */
        char *error_pattern;             /* ^(error|fatal|panic)\b, case-insensitive */

        /* [Watch] */
        usec_t watch_period;   /* 48h */
        usec_t watch_interval; /* 5min */
        bool watch_auto_rollback;
        usec_t watch_baseline_window; /* 1h: the errors before the upgrade are counted over this */
        unsigned watch_success_drop;  /* 10: percentage points of agent run success rate */
        usec_t watch_max_lag;         /* 60s: event-log ingestion lag */
        uint64_t watch_memory_growth; /* 256M: bytes per day the memory trend may project */

        /* [Auto] */
        char *auto_schedule;      /* as written: the generator checks it before it becomes OnCalendar= */
        char *auto_schedule_file; /* the file and line that set auto_schedule (NULL, 0: the default) */
        unsigned auto_schedule_line;
        AutoTrack auto_track;
        char *auto_channel;
        usec_t auto_randomized_delay;

        /* [Notify] */
        char *notify_url;
        char *notify_token_credential; /* webhook-token */
        usec_t notify_announce_lead;
        char *notify_metrics_file; /* node_exporter's textfile; NULL: none (helpers/shared/metrics-file.h) */

        /* [Cluster]: the host is in a cluster only with Name= set (config_cluster_enabled()); without it
         * the other keys are ignored, and config_load() refuses Etcd= */
        char *cluster_name;                /* NULL: in no cluster */
        char **cluster_etcd;               /* http(s)://HOST:PORT, without a trailing /; NULL: none */
        char *cluster_host_id;             /* NULL: the app-specific machine id, computed at run time */
        unsigned cluster_slots;            /* 1: how many hosts upgrade at once */
        usec_t cluster_min_healthy;        /* 30s: the soak after a host's upgrade */
        bool cluster_auto_revert;          /* no */
        char *cluster_user;                /* the etcd user; NULL: no authentication */
        char *cluster_password_credential; /* etcd-password */
        char *cluster_etcd_ca;             /* credential names; NULL: the system's CAs */
        char *cluster_etcd_certificate;    /* NULL: no client certificate (set with cluster_etcd_key) */
        char *cluster_etcd_key;

        /* [LoadBalancer] */
        LoadBalancerDriver lb_driver; /* none */
        char **lb_sockets; /* HAProxy admin sockets: absolute paths or tcp:HOST:PORT; NULL: none */
        char *lb_backend;  /* the HAProxy backend; NULL: unset */
        char *lb_server;   /* the HAProxy server; NULL: the short hostname, resolved at run time */
        usec_t lb_grace;   /* 10s */
} Config;

/* The error a failed load reports: the file, the line (0 when none) and the key, for one log line. */
typedef struct ConfigError {
        char *file;
        unsigned line;
        char *key;
        char *message;
} ConfigError;

/* frees the fields of a ConfigError (for _cleanup_) */
void config_error_done(ConfigError *e);

/* Fill *c with the defaults documented in codebolt-upgrade.conf(5) (deployment "default"). */
int config_init_defaults(Config *c);

/* Load the layers for deployment (NULL, "" or "default" for the default one), all under root
 * (NULL: $CODEBOLT_UPGRADE_ROOT, or "/"):
 *   /usr/lib/codebolt-upgrade/upgrade.conf            vendor defaults
 *   /etc/codebolt-upgrade/upgrade.conf
 *   /etc/codebolt-upgrade/upgrade.conf.d/<name>.conf  every *.conf, in strcmp() order of the names
 *   /etc/codebolt-upgrade/deployments/<name>.conf     only for a deployment other than "default"
 * later files win; a missing file is skipped, except the deployment's own file (-ENOENT: no such
 * deployment). An empty assignment resets a key to its default (Paths= to an empty list). An unknown
 * section or key, a bad value, a line inih cannot read or an inline comment fails the whole load; so
 * does a broken rule between keys, checked once every layer is read ([Cluster] Name= and Etcd= both or
 * neither, EtcdCertificate= and EtcdKey= both or neither, [LoadBalancer] Driver=haproxy with Socket= and
 * Backend=), naming the file and line that last set the key at fault.
 * On failure returns -errno and, when ret_error is not NULL, fills it (any of its fields may be NULL
 * when memory ran out); *ret is written only on success and released with config_done(). */
int config_load(const char *root, const char *deployment, Config *ret, ConfigError *ret_error);

/* frees everything a Config holds (for _cleanup_); *c is left zeroed for another config_load() */
void config_done(Config *c);

/* The names of the extra deployments: every deployments/<name>.conf under root (NULL as for
 * config_load()), sorted; *ret is NULL when there are none. Names are returned as found: check each
 * with config_deployment_name_is_valid() (config_load() refuses the invalid ones). */
int config_list_deployments(const char *root, char ***ret);

/* a deployment name usable in deployments/<name>.conf and codebolt-upgrade-<name>@.service:
 * [A-Za-z0-9_-], starting with a letter or digit, at most 64 characters */
bool config_deployment_name_is_valid(const char *name);

/* a cluster name or host id ([Cluster] Name=, HostId=, the hosts/<id> keys of etcd): a letter or digit,
 * then letters, digits, ., _ and -, at most 63 characters */
bool config_cluster_id_is_valid(const char *id);

/* the address the server answers on, for the URLs of /health, the drain and the smoke test:
 * [Server] Address=, 127.0.0.1 when unset; an IPv6 address comes in brackets ("[::1]") */
const char *config_server_address(const Config *c);

/* whether the host is in a cluster: [Cluster] Name= is set (config_load() then guarantees an Etcd=) */
bool config_cluster_enabled(const Config *c);

/* whether deployment names the default deployment: NULL or "default" (every other name has its
 * deployments/<name>.conf, its own unit names and CODEBOLT_DEPLOYMENT=) */
bool config_deployment_is_default(const char *deployment);

/* "90s", "5min", "24h", "2d", "1h 30min", "1.5h", "infinity"; a bare number is seconds. Units as
 * systemd.time(7): us usec ms msec s sec second(s) m min minute(s) h hr hour(s) d day(s) w week(s)
 * M month(s) y year(s). -EINVAL when malformed, -ERANGE when it overflows. */
int config_parse_timespan(const char *s, usec_t *ret);
/* yes/no, true/false, on/off, 1/0 (and y/n, t/f), case-insensitive */
int config_parse_bool(const char *s, bool *ret);
/* a size as systemd writes it: bytes, or with K, M, G, T (1024-based, optionally followed by B) */
int config_parse_size(const char *s, uint64_t *ret);

/* the configuration words of the enums, as written in upgrade.conf; NULL for an unknown value */
const char *config_snapshot_mode_to_string(SnapshotMode m);
const char *config_role_to_string(PolicyRole r); /* ROLE_UNSET: NULL */
const char *config_enforce_pin_to_string(EnforcePin e);
const char *config_rollback_policy_to_string(RollbackPolicy p);
const char *config_auto_track_to_string(AutoTrack t);
const char *config_lb_driver_to_string(LoadBalancerDriver d);
