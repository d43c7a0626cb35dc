#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# rolling.sh [--out FILE.md] [--json FILE.json] [N...]: how long a rolling upgrade of a cluster takes, and
# what the clients behind HAProxy see of it. For each N (default: 2 3 4), one after the other, a cluster
# world of N hosts on Codebolt 1.4.0 (tests/integration/lib/cluster.sh: its own network namespace,
# PostgreSQL, etcd, HAProxy, N host sandboxes), every host in one cluster with [Cluster] Slots=1 (the
# default) and MinHealthy=$MIN_HEALTHY, rolled to 1.5.0 (`cluster start`, then every host's
# codebolt-upgrade@1.5.0.service started at once) under 50 logged-in API calls a second through HAProxy.
# Measured, from the journal of each host's unit and the load generator's --latency-out lines (one clock:
# every sandbox shares the machine's): the roll's total time, each host's steps (slot wait, backup,
# leaving HAProxy, drain and stop, stop to UP in HAProxy again, soak), failed requests, and the latency
# percentiles of the 10 s before the roll against those during it.
# Prints the report (markdown) on stdout; --out writes it to FILE.md as well (docs/performance.md is
# written so), --json the raw figures. A benchmark, never a test: it asserts nothing but that the roll
# ended with every host on 1.5.0 (a world whose roll failed is reported as such, with its journals on
# stderr). Root, like the scenarios, and CBU_BUILD_DIR naming the build (meson's `benchmark` sets it):
#   sudo CBU_BUILD_DIR=$PWD/build bench/rolling.sh --out docs/performance.md --json docs/performance.json
source "$(dirname "$0")/../tests/integration/lib/sandbox.sh"
source "$(dirname "$0")/../tests/integration/lib/codebolt.sh"
source "$(dirname "$0")/../tests/integration/lib/cluster.sh"

MIN_HEALTHY=5s
RATE=50
STEADY=10 # seconds of load measured before the roll
CLUSTER=bench
FROM=1.4.0
TO=1.5.0

out_md='' out_json='' sizes=()
while [ $# -gt 0 ]; do
        case $1 in
        # internal: one world, in a process of its own (below)
        --world) world_n=$2 world_dir=$3; shift 3 ;;
        --out) out_md=$2; shift 2 ;;
        --json) out_json=$2; shift 2 ;;
        [1-9]) sizes+=("$1"); shift ;;
        *) echo "usage: rolling.sh [--out FILE.md] [--json FILE.json] [N...] (N: 1 to 9 hosts)" >&2; exit 2 ;;
        esac
done
[ "$(id -u)" = 0 ] || { echo "rolling.sh needs root, like the integration scenarios (unshare, mounts)" >&2; exit 1; }
ls "$CBU_TARBALLS"/*.tgz >/dev/null 2>&1 || fail "no stand-in tarballs in $CBU_TARBALLS (the build packs them)"

# cpu_ticks: the machine's busy and total CPU time so far, in ticks (/proc/stat: all but idle and iowait)
cpu_ticks() {
        awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}

# world N DIR: one world of N hosts rolled under load; writes DIR/world.json, DIR/latency.tsv and each
# host's journal as DIR/host<I>.tsv (microseconds since the epoch, message). cluster_up tears the world
# down when the process exits.
world() {
        local n=$1 dir=$2 i roll_id state t0 t1 ok=true why='' load0 load1 cpu0 cpu1 _
        cluster_up "$FROM" "$n"
        cl_join_all "$CLUSTER" "$MIN_HEALTHY"
        cl 1 codebolt-upgrade cluster start "$TO" >/dev/null
        roll_id=$(cl 1 codebolt-upgrade cluster status --json | jq -r .roll.id)
        cl_load_start "$RATE" "$dir/latency.tsv"
        # the login, then the steady state measured
        sleep $((STEADY + 2))
        # what else the machine runs weighs on every figure: its load and CPU use during the roll
        load0=$(cut -d' ' -f1 /proc/loadavg) cpu0=$(cpu_ticks)
        t0=$(date +%s%N)
        sb_log "roll $roll_id: codebolt-upgrade@$TO started on $n hosts at once"
        for i in $(seq "$n"); do
                cl "$i" systemctl start --no-block "codebolt-upgrade@$TO.service"
        done
        # sampled once a second: the benchmark's own load stays small beside the roll's
        for _ in $(seq 1200); do
                sleep 1
                cl_units_busy "$TO" || break
        done
        t1=$(date +%s%N)
        load1=$(cut -d' ' -f1 /proc/loadavg) cpu1=$(cpu_ticks)
        cl_units_busy "$TO" && { ok=false; why="not over after 20 minutes"; }
        sleep 1
        cl_load_stop
        sb_log "$(((t1 - t0) / 1000000)) ms (sampled); $CL_LOAD_REQUESTS requests, $CL_LOAD_FAILED failed"
        for i in $(seq "$n"); do
                [ "$(cl_health_version "$i")" = "$TO" ] || { ok=false; why="$why host $i runs '$(cl_health_version "$i")';"; }
                cl "$i" journalctl --sync
                cl "$i" journalctl -b --no-pager -o json --output-fields=MESSAGE -u "codebolt-upgrade@$TO.service" |
                        jq -r '[.__REALTIME_TIMESTAMP, (.MESSAGE | tostring)] | @tsv' >"$dir/host$i.tsv"
        done
        state=$(cl 1 codebolt-upgrade cluster status --json | jq -r .roll.state)
        [ "$state" = "done" ] || { ok=false; why="$why the roll is $state;"; }
        cl_load_failures >"$dir/failures.jsonl"
        jq -n --argjson n "$n" --arg roll "$roll_id" --argjson t0 "$((t0 / 1000))" --argjson t1 "$((t1 / 1000))" \
                --argjson requests "$CL_LOAD_REQUESTS" --argjson failed "$CL_LOAD_FAILED" --argjson ok "$ok" \
                --arg why "$why" --argjson up_ms "$CL_UP_MS" --arg state "$state" \
                --arg load "$load0 → $load1" \
                --argjson cpu "$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { split(a, x, " "); split(b, y, " ");
                        printf "%.0f", (y[2] > x[2] ? 100 * (y[1] - x[1]) / (y[2] - x[2]) : 0) }')" \
                '{n: $n, roll: $roll, started_us: $t0, sampled_end_us: $t1, requests: $requests, failed: $failed,
                  ok: $ok, why: $why, roll_state: $state, world_up_ms: $up_ms, loadavg_1min: $load,
                  cpu_busy_percent: $cpu}' >"$dir/world.json"
        # a roll that did not end well leaves its journals on stderr (the teardown prints them on failure)
        $ok || SB_FAILED=1
}

if [ -n "${world_n:-}" ]; then
        SB_NAME=rolling-$world_n
        world "$world_n" "$world_dir"
        exit 0
fi
[ ${#sizes[@]} -gt 0 ] || sizes=(2 3 4)
results=$(mktemp -d /var/tmp/cbu-rolling-bench.XXXXXX)
trap 'rm -rf "$results"' EXIT

machine=$(jq -n --arg nproc "$(nproc)" --arg mem "$(free -m | awk '/^Mem:/ { print $2 }')" \
        --arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)" \
        --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" --arg kernel "$(uname -r)" \
        --arg commit "$(git -C "$SB_SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
        --arg dirty "$(git -C "$SB_SRC" status --porcelain --untracked-files=no 2>/dev/null | wc -l)" \
        --arg sanitize "$(meson introspect --buildoptions "$CBU_BUILD_DIR" | jq -r '.[] | select(.name == "b_sanitize") | .value | if type == "array" then join(",") else . end')" \
        --arg date "$(date -u +%Y-%m-%dT%H:%MZ)" \
        '{nproc: $nproc, mem_mb: $mem, cpu: $cpu, loadavg: $load, kernel: $kernel, commit: $commit,
          dirty: ($dirty != "0"), sanitize: $sanitize, date: $date}')
echo "$machine" >"$results/machine.json"

for n in "${sizes[@]}"; do
        mkdir "$results/n$n"
        # each world in a process of its own (a subshell on the left of || would run without set -e):
        # cluster_up's teardown runs when it ends, before the next world
        bash "$0" --world "$n" "$results/n$n" >&2 || echo "the world of $n hosts ended with $?" >&2
done

rc=0
CBU_BENCH_DIR=$(dirname "$(realpath "$0")") python3 - "$results" "$out_md" "$out_json" "$MIN_HEALTHY" "$RATE" "$STEADY" "$FROM" "$TO" "${sizes[@]}" <<'PY' || rc=$?
import json, os, statistics, sys
sys.path.insert(0, os.environ['CBU_BENCH_DIR'])
from report_section import replace_section

results, out_md, out_json, min_healthy, rate, steady, v_from, v_to = sys.argv[1:9]
sizes = [int(n) for n in sys.argv[9:]]
steady_ms = int(steady) * 1000
machine = json.load(open(os.path.join(results, 'machine.json')))

# the journal lines that mark each step, as the helpers print them (helpers/shared/roll.c, balancer.c,
# helpers/drain.c, the "phase … completed" event of helpers/shared/helper.c); the first match counts
MARKS = {
    **{f'{phase}_done': (lambda p: lambda m: m == f'Upgrade to {v_to}: phase {p} completed.')(phase)
       for phase in ('stage', 'snapshot', 'switch', 'migrate', 'smoke')},
    'slot_taken': lambda m: m.startswith('Took the cluster slot of '),
    'lb_leaving': lambda m: m.startswith('drain: taking ') and m.endswith(' out of the load balancer'),
    'lb_out': lambda m: ' is out of the load balancer' in m,
    'stopped': lambda m: m == 'codebolt.service stopped.',
    'lb_up': lambda m: m.endswith(' is back in the load balancer and UP.'),
    'soaked': lambda m: m.startswith('Soak passed: '),
    'released': lambda m: m.startswith('Released the cluster slot of '),
}
# the per-host columns: (key, heading, from mark, to mark)
STEPS = [
    ('staged', 'preflight + stage', 'start', 'stage_done'),
    ('slot_wait', 'slot wait', 'stage_done', 'slot_taken'),
    ('backup', 'backup', 'slot_taken', 'lb_leaving'),
    ('lb_leave', 'leave HAProxy', 'lb_leaving', 'lb_out'),
    ('drain', 'drain + stop', 'lb_out', 'stopped'),
    ('stop_to_up', 'stop → UP', 'stopped', 'lb_up'),
    ('soak', 'soak', 'lb_up', 'soaked'),
    ('held', 'slot held', 'slot_taken', 'released'),
    ('unit', 'unit', 'start', 'end'),
]
# stop → UP, phase by phase
STOP_TO_UP = [
    ('snapshot', 'snapshot (the stores\' delta)', 'stopped', 'snapshot_done'),
    ('switch', 'switch (the current symlink)', 'snapshot_done', 'switch_done'),
    ('migrate', 'migrate-watch (the server started, migrations, ready)', 'switch_done', 'migrate_done'),
    ('smoke', 'smoke test', 'migrate_done', 'smoke_done'),
    ('lb_back', 'back UP in HAProxy', 'smoke_done', 'lb_up'),
]


def host_marks(path):
    marks = {}
    with open(path) as f:
        lines = [l.rstrip('\n').split('\t', 1) for l in f if '\t' in l]
    if not lines:
        return marks
    marks['start'] = int(lines[0][0])
    marks['end'] = int(lines[-1][0])
    for us, message in lines:
        for key, match in MARKS.items():
            if key not in marks and match(message):
                marks[key] = int(us)
    return marks


def percentile(values, p):
    """nearest rank"""
    if not values:
        return None
    values = sorted(values)
    return values[max(0, min(len(values) - 1, -(-len(values) * p // 100) - 1))]


def window(rows, start_ms, end_ms):
    inside = [r for r in rows if start_ms <= r[0] < end_ms]
    ok = [r[1] for r in inside if r[2] == 200]
    return {'requests': len(inside), 'failed': len(inside) - len(ok),
            'p50_ms': percentile(ok, 50), 'p99_ms': percentile(ok, 99), 'max_ms': max(ok) if ok else None}


worlds = []
for n in sizes:
    d = os.path.join(results, f'n{n}')
    try:
        w = json.load(open(os.path.join(d, 'world.json')))
    except (OSError, ValueError):
        worlds.append({'n': n, 'ok': False, 'why': 'the world did not come up or was cut short'})
        continue
    hosts = []
    for i in range(1, n + 1):
        marks = host_marks(os.path.join(d, f'host{i}.tsv'))
        steps = {key: (marks[b] - marks[a]) / 1e6 if a in marks and b in marks else None
                 for key, _, a, b in STEPS + STOP_TO_UP}
        hosts.append({'host': f'cb{i}', 'marks_us': marks, 'steps_s': steps})
    placed = sorted((h for h in hosts if 'slot_taken' in h['marks_us']), key=lambda h: h['marks_us']['slot_taken'])
    for place, h in enumerate(placed, 1):
        h['place'] = place
    # the slot passing from one host to the next: released → taken
    handovers = [(b['marks_us']['slot_taken'] - a['marks_us'].get('released', b['marks_us']['slot_taken'])) / 1e6
                 for a, b in zip(placed, placed[1:])]
    starts = [h['marks_us']['start'] for h in hosts if 'start' in h['marks_us']]
    ends = [h['marks_us']['end'] for h in hosts if 'end' in h['marks_us']]
    w['hosts'] = sorted(hosts, key=lambda h: h.get('place', 99))
    w['handovers_s'] = handovers
    w['total_s'] = (max(ends) - min(starts)) / 1e6 if starts and ends else None
    rows = []
    with open(os.path.join(d, 'latency.tsv')) as f:
        for line in f:
            t, ms, status, _ = line.rstrip('\n').split('\t', 3)
            rows.append((int(t), float(ms), int(status)))
    if starts and ends:
        t0, t1 = min(starts) // 1000, max(ends) // 1000
        w['steady'] = window(rows, t0 - steady_ms, t0)
        w['during_roll'] = window(rows, t0, t1)
    worlds.append(w)


def s(v):
    return '–' if v is None else f'{v:.1f}'


def ms(v):
    return '–' if v is None else f'{v:.0f}'


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


md = []
m = machine
md.append('## The rolling upgrade of a cluster\n')
md.append('Written by `bench/rolling.sh` (docs/architecture.md, "A host\'s part in a rolling roll").\n')
md.append(f'For N hosts, each N its own world (`tests/integration/lib/cluster.sh`: one network namespace, '
          f'PostgreSQL in a sandbox of its own, etcd, HAProxy with `inter 500ms fall 2 rise 2`, N host sandboxes '
          f'each a systemd of its own running the stand-in server): every host on {v_from} joins one cluster with '
          f'`[Cluster] Slots=1` (the default) and `MinHealthy={min_healthy}`; `cluster start {v_to}`, then every '
          f'host\'s `codebolt-upgrade@{v_to}.service` started at the same moment, under {rate} logged-in API calls '
          f'a second through HAProxy (`tests/fixtures/traffic/load.js`, a fresh connection each).\n')
md.append('Every time comes from the journal of each host\'s unit (one clock: the sandboxes share the '
          'machine\'s) and from the load generator\'s `--latency-out` lines:\n')
md.append('- **total**: the first unit\'s start to the last unit\'s end;\n'
          '- per host, in the order the hosts took the slot: **preflight + stage** (the unit\'s start → stage '
          'done; the hosts stage side by side), **slot wait** (→ "Took the cluster slot"), **backup** (slot → "drain: taking … out of the load balancer"; the migrator, first to take '
          'the slot, dumps the database and restores it on trial, the others back up their own stores and config), **leave HAProxy** (→ "… is out of the load balancer": '
          '`state drain`, no session open, `state maint`), **drain + stop** (→ "codebolt.service stopped.": '
          'the app\'s drain and the stop), **stop → UP** (→ "… is back in the load balancer and UP.": the '
          'stores\' delta, switch, the server\'s start and migrations, smoke test, HAProxy\'s health check), **soak** (→ "Soak passed"), **slot held** '
          '("Took" → "Released the cluster slot"), **unit** (the unit\'s start to its end);\n'
          f'- **failed** requests over the whole load ({steady} s before the roll, the roll, 1 s after; the goal '
          'is 0), and the **p50/p99 latency** of the answered requests that started in the '
          f'{steady} s before the roll (steady) and during it (roll).\n')
md.append(f'Machine: {m["nproc"]} CPUs ({m["cpu"]}), {m["mem_mb"]} MB of memory, Linux {m["kernel"]}, load average '
          f'{m["loadavg"]} when the run began (a shared machine: other work ran beside it). Build: commit '
          f'`{m["commit"]}`{" with local changes" if m["dirty"] else ""}, sanitizers `{m["sanitize"]}` (the '
          f'helpers run several times slower than in a plain build). Run {m["date"]}.\n')
md.append('Rerun (root, about 15 minutes for N = 2, 3, 4, one world after the other):\n')
md.append('```sh\nsudo CBU_BUILD_DIR=$PWD/build bench/rolling.sh --out docs/performance.md '
          '--json docs/performance.json [N...]\n```\n')
md.append('or `meson test -C build --benchmark --no-rebuild -v rolling` (the report on stdout only). '
          '`docs/performance.json` keeps the raw figures: each host\'s journal marks in microseconds since '
          'the epoch.\n')

md.append('### Summary\n')
md.append('| N | total (s) | slot wait | backup | leave HAProxy | drain + stop | stop → UP | soak | slot held '
          '| failed / requests | p50 steady → roll (ms) | p99 steady → roll (ms) | CPU busy |')
md.append('| ---: |' + ' ---: |' * 12)
for w in worlds:
    if not w.get('hosts'):
        md.append(f'| {w["n"]} | failed: {w.get("why", "")} |' + ' |' * 11)
        continue
    cols = [s(median([h['steps_s'][k] for h in w['hosts']])) for k, *_ in STEPS[1:-1]]
    st, ro = w.get('steady', {}), w.get('during_roll', {})
    md.append(f'| {w["n"]} | {s(w["total_s"])}{"" if w["ok"] else " (failed)"} | ' + ' | '.join(cols) +
              f' | {w["failed"]} / {w["requests"]} | {ms(st.get("p50_ms"))} → {ms(ro.get("p50_ms"))} '
              f'| {ms(st.get("p99_ms"))} → {ms(ro.get("p99_ms"))} | {w["cpu_busy_percent"]} % |')
md.append('\nThe per-host columns are medians over the hosts, in seconds.\n')
md.append(f'Reading the figures: the slot serialises each host\'s backup, drain, switch, migrations, smoke test '
          f'and soak, so the total grows by about one "slot held" per host, while preflight and stage overlap. On '
          f'{m["nproc"]} CPUs the hosts\' own work (npm install, pg_dump and its trial restore, helpers built with '
          f'sanitizers) competes with the servers answering the load, and so does whatever else the machine runs: '
          f'the latency during the roll and the stop → UP times measure that contention as much as the roll\'s '
          f'own steps. Compare worlds with their CPU and load figures below.\n')

for w in worlds:
    md.append(f'### {w["n"]} hosts\n')
    if not w.get('hosts'):
        md.append(f'No figures: {w.get("why", "")}.\n')
        continue
    if not w['ok']:
        md.append(f'**The roll did not end well:** {w["why"]} (the timings below are what the journals show).\n')
    held = sum(h['steps_s']['held'] or 0 for h in w['hosts'])
    md.append(f'Roll `{w["roll"]}`, {s(w["total_s"])} s in all, of which the slot was held {s(held)} s '
              f'({100 * held / w["total_s"]:.0f} %); the world came up in {w["world_up_ms"] / 1000:.1f} s. '
              f'During the roll the machine\'s CPUs were {w["cpu_busy_percent"]} % busy, its 1-minute load average '
              f'{w["loadavg_1min"]}. '
              f'{w["failed"]} of {w["requests"]} requests failed. Slot handovers (released → next host took it): '
              f'{", ".join(s(x) + " s" for x in w["handovers_s"]) or "none"}.\n')
    md.append('| place | host | ' + ' | '.join(h for _, h, *_ in STEPS) + ' |')
    md.append('| ---: | --- |' + ' ---: |' * len(STEPS))
    for h in w['hosts']:
        md.append(f'| {h.get("place", "–")} | {h["host"]} | ' + ' | '.join(s(h['steps_s'][k]) for k, *_ in STEPS) + ' |')
    md.append('\nstop → UP, phase by phase (median over the hosts): ' +
              ', '.join(f'{name} {s(median([h["steps_s"][k] for h in w["hosts"]]))} s' for k, name, *_ in STOP_TO_UP) + '.')
    st, ro = w.get('steady', {}), w.get('during_roll', {})
    md.append('\n| window | requests | failed | p50 (ms) | p99 (ms) | max (ms) |')
    md.append('| --- | ---: | ---: | ---: | ---: | ---: |')
    for name, x in ((f'steady ({steady} s before)', st), ('during the roll', ro)):
        md.append(f'| {name} | {x.get("requests", "–")} | {x.get("failed", "–")} | {ms(x.get("p50_ms"))} '
                  f'| {ms(x.get("p99_ms"))} | {ms(x.get("max_ms"))} |')
    md.append('')

report = '\n'.join(md).rstrip('\n') + '\n'
sys.stdout.write(report)
if not all(w.get('hosts') for w in worlds):
    sys.stderr.write('a world gave no figures: the report is not written to files\n')
    sys.exit(2)
if out_md:
    replace_section(out_md, 'rolling', report)
if out_json:
    with open(out_json, 'w') as f:
        json.dump({'machine': machine, 'min_healthy': min_healthy, 'rate': int(rate), 'from': v_from, 'to': v_to,
                   'worlds': worlds}, f, indent=1)
        f.write('\n')
# a roll that did not end well is reported, and the benchmark fails
sys.exit(0 if all(w['ok'] for w in worlds) else 3)
PY
case $rc in
0) ;;
3) echo "a roll did not end well: see the report and the journals above" >&2; exit 1 ;;
*)
        # the raw figures stay for a look at what went wrong
        trap - EXIT
        echo "the report was not written ($rc): the raw figures are in $results" >&2
        exit 1
        ;;
esac
