/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* main.c: codebolt-upgrade, the operator's command: its options, its verb table, main() */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdlib.h>

#include "cli.h"
#include "helper.h"
#include "config.h"
#include "log.h"
#include "macro.h"
#include "verbs.h"

bool arg_json = false;
bool arg_discard_since = false;
bool arg_dry_run = false;
bool arg_coordinated = false;
bool arg_auto_revert = false;
bool arg_follow = false;
bool arg_yes = false;
bool arg_no_follow = false;
const char *arg_deployment = NULL;

/* needs no configuration: it runs even when the configuration does not load */
#define CLI_VERB_NO_CONFIG VERB_PROGRAM_FLAG(0)

static const Verb verbs[] = {
        { "status", 1, VERB_ANY, 0, verb_status },
        { "history", 1, VERB_ANY, 0, verb_history },
        { "plan", 2, VERB_ANY, 0, verb_plan },
        { "upgrade", 2, VERB_ANY, 0, verb_upgrade },
        /* a broken config must not break a hook script's version check */
        { "satisfies", 3, 3, CLI_VERB_NO_CONFIG, verb_satisfies },
        { "clear", 2, VERB_ANY, 0, verb_clear },
        { "rollback", 2, VERB_ANY, 0, verb_rollback },
        { "pin", 2, VERB_ANY, 0, verb_pin },
        { "hold", 1, 2, 0, verb_hold },
        { "unhold", 1, 1, 0, verb_unhold },
        /* the server's start condition: a config error does not stop it */
        { "server-may-start", 1, 1, CLI_VERB_NO_CONFIG, verb_server_may_start },
        { "clean", 1, VERB_ANY, 0, verb_clean },
        { "cluster", 2, VERB_ANY, 0, verb_cluster },
        {},
};

/* the usage line a wrong call of verb gets, or NULL: such a call is an unknown command */
static const char *usage_of(const char *verb) {
        if (streq(verb, "satisfies"))
                return "codebolt-upgrade satisfies VERSION RANGE";
        if (streq(verb, "cluster"))
                return "codebolt-upgrade cluster status|start VERSION|pause|resume|abort|unlock "
                       "HOST|join|leave";
        if (streq(verb, "upgrade"))
                return "codebolt-upgrade upgrade VERSION [--yes] [--no-follow]";
        if (streq(verb, "server-may-start"))
                return "codebolt-upgrade [--deployment NAME] server-may-start";
        return NULL;
}

static void help(void) {
        printf("codebolt-upgrade [--deployment NAME] COMMAND [--json]\n\n"
               "Safe upgrades of a self-hosted Codebolt server: systemctl start codebolt-upgrade@VERSION\n\n"
               "Commands:\n"
               "  upgrade VERSION [--yes] [--no-follow]\n"
               "               upgrade to VERSION: the plan, a confirmation on a terminal (--yes: none),\n"
               "               then the upgrade followed live to its end (--no-follow: only started);\n"
               "               exit 0 upgraded, 1 back on the old version, 2 refused, 3 held\n"
               "  status [--follow]\n"
               "               the upgrade in flight (phase, migrations) or the last result; --follow\n"
               "               follows the one in flight live (--json: an object per change)\n"
               "  history      every upgrade attempted on this host (the ledger)\n"
               "  plan VERSION   every check an upgrade to VERSION makes, read-only; exit 0 when it\n"
               "               would proceed\n"
               "  satisfies VERSION RANGE\n"
               "               exit 0 when VERSION satisfies the npm-style RANGE, 1 when not, 2 when\n"
               "               either is malformed (for hook scripts)\n"
               "  clear VERSION  allow a version whose upgrade failed here to be tried again\n"
               "  rollback VERSION [--discard-since]\n"
               "               roll back the upgrade to VERSION after it succeeded; a full restore (a\n"
               "               breaking migration was applied) discards what was written since, and\n"
               "               needs --discard-since\n"
               "  pin VERSION  pin the deployment to VERSION by hand (not while an upgrade is in flight)\n"
               "  hold [REASON]  pause the unattended upgrades (the auto timer's runs do nothing)\n"
               "  unhold       resume them\n"
               "  server-may-start\n"
               "               the server unit's ExecCondition=: exit 0 when the server may start, 1\n"
               "               when this start must be skipped (an upgrade in flight, the pin)\n"
               "  clean [--dry-run]\n"
               "               drop the failed databases, snapshots and releases beyond retention\n"
               "               ([Backup] Keep=), after listing each with the reason and its size; never\n"
               "               one a rollback may still need; --dry-run only lists\n"
               "  cluster status [--json] [--follow]\n"
               "               the cluster's roll, and every member's version, phase, slot and heartbeat;\n"
               "               --follow prints it again at every change (--json: one line each)\n"
               "  cluster start VERSION [--coordinated] [--auto-revert]\n"
               "               start a roll of the cluster to VERSION, after its gates\n"
               "  cluster pause|resume|abort\n"
               "               steer the roll under way\n"
               "  cluster unlock HOST\n"
               "               release the slot HOST holds (a host that crashed holding it)\n"
               "  cluster join|leave\n"
               "               make this host a member of its cluster, or no longer one\n\n"
               "Options:\n"
               "  --json             machine-readable output\n"
               "  --deployment NAME  a deployment of /etc/codebolt-upgrade/deployments/NAME.conf\n"
               "  -h --help          this help\n"
               "  --version          the version of codebolt-upgrade\n\n"
               "Examples:\n"
               "  codebolt-upgrade plan 1.5.0             what an upgrade to 1.5.0 would do\n"
               "  codebolt-upgrade upgrade 1.5.0          upgrade, and watch it (rolls back by itself on a\n"
               "                                          failure)\n"
               "  systemctl start codebolt-upgrade@1.5.0  the same, as a unit (for timers and scripts)\n"
               "  codebolt-upgrade status                 what happened, or what is happening\n"
               "  journalctl -u codebolt-upgrade@1.5.0    every step of it\n"
               "  codebolt-upgrade rollback 1.5.0         back to the old version after a success\n"
               "  codebolt-upgrade clear 1.5.1            try a version again after it failed here\n\n"
               "See codebolt-upgrade(8).\n");
}

/* the verb argv[0] names, with the config it needs loaded first: its result, or 2 for a wrong call */
static int run(int argc, char *argv[]) {
        const Verb *verb = verbs_find(verbs, argv[0]);
        Config config = {};
        bool no_config = verb && (verb->flags & CLI_VERB_NO_CONFIG);
        int r, result;

        /* the config loads before the verb's arguments are looked at: a config error comes first */
        if (!no_config &&
            helper_config_load(arg_deployment ?: getenv("CODEBOLT_DEPLOYMENT"), &config, NULL) < 0)
                return 2;
        r = verbs_dispatch(verbs, argc, argv, no_config ? NULL : &config, &result, NULL);
        if (!no_config)
                config_done(&config);
        if (r < 0) {
                const char *usage = verb ? usage_of(verb->name) : NULL;

                if (usage)
                        log_error("Usage: %s", usage);
                else
                        log_error("Unknown command '%s'; see codebolt-upgrade --help.", argv[0]);
                return 2;
        }
        return result < 0 ? 1 : result;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                { "deployment", required_argument, NULL, 'd' },
                { "discard-since", no_argument, NULL, 'D' },
                { "dry-run", no_argument, NULL, 'n' },     /* clean */
                { "coordinated", no_argument, NULL, 'C' }, /* cluster start */
                { "auto-revert", no_argument, NULL, 'A' }, /* cluster start */
                { "follow", no_argument, NULL, 'F' },      /* status, cluster status */
                { "yes", no_argument, NULL, 'y' },         /* upgrade */
                { "no-follow", no_argument, NULL, 'N' },   /* upgrade */
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        int c;

        log_setup("codebolt-upgrade", NULL);
        log_set_target(LOG_TARGET_STDERR);

        while ((c = getopt_long(argc, argv, "hyd:", options, NULL)) >= 0)
                switch (c) {
                case 'j':
                        arg_json = true;
                        break;
                case 'd':
                        arg_deployment = optarg;
                        break;
                case 'D':
                        arg_discard_since = true;
                        break;
                case 'n':
                        arg_dry_run = true;
                        break;
                case 'C':
                        arg_coordinated = true;
                        break;
                case 'A':
                        arg_auto_revert = true;
                        break;
                case 'F':
                        arg_follow = true;
                        break;
                case 'y':
                        arg_yes = true;
                        break;
                case 'N':
                        arg_no_follow = true;
                        break;
                case 'h':
                        help();
                        return 0;
                case 'V':
                        /* meson's project(version:), the one place it is set */
                        printf("codebolt-upgrade %s\n", PACKAGE_VERSION);
                        return 0;
                default:
                        return 2;
                }
        if (optind >= argc) {
                help();
                return 2;
        }
        return run(argc - optind, argv + optind);
}
