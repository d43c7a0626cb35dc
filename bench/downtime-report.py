#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# downtime-report.py RESULTS FROM TO FAILING [--out=FILE.md] [--json=FILE.json] [--growth=FILE.json]
# PROCEDURE...: the report of
# bench/downtime.sh from its raw results (RESULTS/<procedure>/<trial>/{probe.log,journal.json,trial.json},
# RESULTS/yardsticks/<trial>/yardsticks.json, RESULTS/benchmarks.txt, RESULTS/machine.json). Prints the
# markdown section; --out puts it into FILE.md in place of the previous one of the same world, small or full
# (bench/report_section.py).
# --growth: the --json of a run on the same world with a larger database (downtime.sh --growth), compared.
import json
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report_section import replace_section  # noqa: E402

args = [a for a in sys.argv[1:] if a]
out_md = next((a.split('=', 1)[1] for a in args if a.startswith('--out=')), '')
out_json = next((a.split('=', 1)[1] for a in args if a.startswith('--json=')), '')
growth_json = next((a.split('=', 1)[1] for a in args if a.startswith('--growth=')), '')
growth = json.load(open(growth_json)) if growth_json else None
args = [a for a in args if not a.startswith('--')]
results, v_from, v_to, v_failing, procedures = args[0], args[1], args[2], args[3], args[4:]
machine = json.load(open(os.path.join(results, 'machine.json')))

UPGRADES = ('template', 'dump', 'none', 'delta')
TITLES = {
    'guide': 'the guide by hand (stop, `npm install -g`, start)',
    'floor': 'the floor (installed first, stop, symlink switch, start)',
    'template': '`codebolt-upgrade@` with `Snapshot=template`',
    'dump': '`codebolt-upgrade@` with `Snapshot=dump`',
    'none': '`codebolt-upgrade@` with `Snapshot=none`',
    'delta': '`codebolt-upgrade@` with `Snapshot=delta`',
    'minor-rollback': 'minor rollback (`codebolt-rollback@` after a success)',
    'restore-snapshot': 'full restore from the snapshot (`Snapshot=template`)',
    'restore-dump': 'full restore from the final dump (`Snapshot=dump`)',
    'restore-delta': 'full restore from the dump and the delta (`Snapshot=delta`)',
}
# the product's downtime, cut at these journal marks (the first message matching each), in this order
MARKS_SERVER = r'^codebolt-server \S+ starting$'
MARKS_MIGRATED = r'^migrations: \d+ applied, 0 failed$'
MARKS = [
    ('stop_req', 'drain', r'^drain: stopping '),
    ('stopped', 'drain', r'\.service stopped\.$'),
    ('rp_begin', 'snapshot', r"^snapshot: (copying (database|the stores')|dumping database|reading the changes)"),
    # Snapshot=delta's read of the slot at the stop (not cuts of their own: inside the database part)
    ('slot_read', 'snapshot', r'^snapshot: reading the changes since the backup from the slot '),
    ('slot_done', 'snapshot', r'^Read \d+ changes of the slot \S+ at the stop |^Delta of database '),
    ('db_done', 'snapshot', r'^Database \S+: its part of the restore point is taken\.$'),
    ('count', 'snapshot', r'^snapshot: counting rows'),
    ('restore_point', 'snapshot', r'^Restore point ready'),
    ('switched', 'switch', r'^Switched deployment '),
    ('server', None, MARKS_SERVER),
    ('migrated', None, MARKS_MIGRATED),
]
# the backup phase cut at its status lines: its start (the helper, the announcement, the gates' facts),
# pg_dump with the stores' copy beside it, the config and the first reading of the checksums, the
# verification (the second reading beside the dump's listing and the trial restore)
BACKUP_STEPS = ['start', 'dump and stores', 'config and checksums', 'verification']
SEGMENTS = [  # name, the mark it ends at; the first starts at the first failed answer
    ('drain', 'stop_req'),
    ('stop', 'stopped'),
    ('snapshot start', 'rp_begin'),
    ('database part', 'db_done'),
    ('stores beyond it', 'count'),
    ('row count', 'restore_point'),
    ('switch', 'switched'),
    ('start', 'server'),
    ('migrations', 'migrated'),
    ('ready', 'up'),
]


def probe(path, end_version):
    """(down, up): the first answer that is not 200, and the first 200 of end_version after it, in
    milliseconds since the epoch; (None, None) when the server never went down"""
    down = None
    for line in open(path):
        parts = line.split()
        if len(parts) < 3:
            continue
        t, status, version = float(parts[0]), parts[1], parts[2]
        if down is None:
            if status != '200':
                down = t
        elif status == '200' and version == end_version:
            return down, t
    return down, None


def journal(path):
    entries = []
    for line in open(path):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        msg = e.get('MESSAGE')
        if not isinstance(msg, str):
            continue
        entries.append((int(e['__REALTIME_TIMESTAMP']) / 1000.0, e.get('CODEBOLT_UPGRADE_PHASE'),
                        e.get('UNIT') or e.get('_SYSTEMD_UNIT', ''), msg))
    return entries


def first(entries, phase, pattern, after=0.0):
    rx = re.compile(pattern)
    for t, p, _, msg in entries:
        if t >= after and (phase is None or p == phase) and rx.search(msg):
            return t
    return None


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def spread(xs):
    xs = [x for x in xs if x is not None]
    return (min(xs), max(xs)) if xs else (None, None)


def fmt(x, digits=2):
    return '–' if x is None else f'{x:.{digits}f}'


def trial_dirs(name):
    d = os.path.join(results, name)
    return [os.path.join(d, t) for t in sorted(os.listdir(d), key=int)] if os.path.isdir(d) else []


peak = {}  # phase -> (self kB, largest child kB), the largest seen
figures = {}
for name in procedures:
    trials = []
    for d in trial_dirs(name):
        meta = json.load(open(os.path.join(d, 'trial.json')))
        entries = journal(os.path.join(d, 'journal.json'))
        down, up = probe(os.path.join(d, 'probe.log'), meta['end'])
        t = {'downtime_s': (up - down) / 1000 if down and up else (0.0 if down is None else None),
             'procedure_s': (meta['end_ns'] - meta['start_ns']) / 1e9}
        for ts, phase, _, msg in entries:
            m = re.match(r'^(\S+): peak memory (\d+) kB, largest child (\d+) kB\.$', msg)
            if m:
                old = peak.get(m[1], (0, 0))
                peak[m[1]] = (max(old[0], int(m[2])), max(old[1], int(m[3])))
        if name in UPGRADES and down and up:
            # the marks in their order, looked for from the drain's start (the first failed answer may come a
            # moment after the stop's request). A step that did not happen has no mark (no row count with
            # Snapshot=template, no database copy with none): its mark takes the next one's time, so that
            # the time before it stays with the segment it belongs to and the step's own is 0.
            after = first(entries, 'drain', r'^drain: asking') or down
            points = {}
            for key, phase, pattern in MARKS:
                points[key] = first(entries, phase, pattern, after)
                after = points[key] or after
            points['up'] = up
            following = up
            for _, mark in reversed(SEGMENTS):
                if points.get(mark) is None:
                    points[mark] = following
                following = points[mark]
            split, prev = {}, down
            for seg, mark in SEGMENTS:
                end = max(points[mark], prev)
                split[seg], prev = (end - prev) / 1000, end
            t['split_s'] = split
            t['marks_ms'] = {k: round(v - down, 1) for k, v in points.items() if v is not None}
            backup0 = first(entries, 'backup', r'.')
            drain0 = first(entries, 'drain', r'.')
            t['backup_s'] = (drain0 - backup0) / 1000 if backup0 and drain0 else None
            # the backup's own steps, for the goal's why
            bmarks = [backup0, first(entries, 'backup', r'^backup: dumping database'),
                      first(entries, 'backup', r'^backup: copying the server config'),
                      first(entries, 'backup', r'^backup: verifying checksums'), drain0]
            if all(bmarks):
                t['backup_split_s'] = {k: (bmarks[i + 1] - bmarks[i]) / 1000 for i, k in enumerate(BACKUP_STEPS)}
            t['unit_s'] = t['procedure_s']
        if name in ('guide', 'floor') + UPGRADES and down and up:
            # the server's own migrations, the same work in every procedure that ends on the new version
            started = first(entries, None, MARKS_SERVER, down)
            migrated = first(entries, None, MARKS_MIGRATED, started) if started else None
            t['server_migrations_s'] = (migrated - started) / 1000 if migrated else None
        if name.startswith('restore-'):
            started = first(entries, None, r'^Starting codebolt-rollback@')
            t['restore_s'] = (up - started) / 1000 if started and up else None
        trials.append(t)
    figures[name] = trials

yard = []
d = os.path.join(results, 'yardsticks')
for t in sorted(os.listdir(d), key=int) if os.path.isdir(d) else []:
    yard.append(json.load(open(os.path.join(d, t, 'yardsticks.json'))))
y = {k: median([x[k] for x in yard]) for k in ('pg_dump', 'copy', 'pg_restore', 'rsync', 'createdb')
     if all(k in x for x in yard)} if yard else {}

bench_txt = open(os.path.join(results, 'benchmarks.txt')).read() if os.path.exists(
    os.path.join(results, 'benchmarks.txt')) else ''
m = re.search(r'codebolt-upgrade-generator, (\d+) deployments .*?median (\d+\.\d+) ms', bench_txt)
generator_ms = float(m[2]) if m else None
m = re.search(r'/bin/true timed the same way: median (\d+\.\d+) ms', bench_txt)
true_ms = float(m[1]) if m else None
m = re.search(r'metadata_plan_path, (\d+) versions.*?search min [\d.]+ ms, median ([\d.]+)\s+ms.*?metadata_parse median '
              r'([\d.]+) ms', bench_txt, re.S)
plan_ms = float(m[2]) + float(m[3]) if m else None


def med(name, key='downtime_s'):
    return median([t.get(key) for t in figures.get(name, [])])


floor = med('floor')
goals = []


def goal(what, value, limit, how):
    ok = None if value is None or limit is None else value <= limit
    goals.append((what, value, limit, how, ok))


if floor is not None:
    goal('`Snapshot=none` downtime', med('none'), 1.1 * floor, '≤ 1.1 × the floor')
    if y:
        goal('`Snapshot=template` downtime', med('template'), 1.1 * (floor + y['copy']),
             '≤ 1.1 × (the floor + the file copy of the database)')
    goal('minor rollback downtime', med('minor-rollback'), floor + 1, '≤ the floor + 1 s')
    goal('full restore from the snapshot (rollback start → up)', med('restore-snapshot', 'restore_s'), floor + 2,
         '≤ the floor + 2 s')
if y:
    goal('backup and its verification', median([med(n, 'backup_s') for n in UPGRADES if n in figures]),
         1.3 * (y['pg_dump'] + y['rsync'] + y['pg_restore']), '≤ 1.3 × (pg_dump + rsync + pg_restore)')
worst = max(peak.items(), key=lambda kv: kv[1][0]) if peak else None
if worst:
    goal(f'largest helper peak memory ({worst[0]})', worst[1][0] / 1024, 10.0, '≤ 10 MB (MB)')
goal(f'generator, 50 deployments (ms; `/bin/true` timed the same way: {fmt(true_ms, 1)} ms)', generator_ms, 20.0,
     '≤ 20 ms')
goal('`plan` path search, 20,000 versions (ms)', plan_ms, 1000.0, '< 1 s')


def growth_med(name, key='downtime_s'):
    return median([t.get(key) for t in growth['procedures'].get(name, [])]) if growth else None


if growth:
    db_here, db_there = machine['world']['db_bytes'] / 1048576, growth['machine']['world']['db_bytes'] / 1048576
    small_d, large_d = (med('delta'), growth_med('delta')) if db_here < db_there else (growth_med('delta'), med('delta'))
    goal(f'`Snapshot=delta` downtime, database {min(db_here, db_there):,.0f} MB → {max(db_here, db_there):,.0f} MB '
         '(ratio)', large_d / small_d if small_d and large_d else None, 1.1, '≤ 1.1 ×')

w = machine['world']
md = []
# one section per world, so that a quick --small run does not replace the full world's figures
world_name = 'small' if machine['small'] else 'full'
md.append(f'## Downtime of one upgrade, beside the guide and the floor: the {world_name} world\n')
md.append(f'Written by `bench/downtime.sh`{" --small" if machine["small"] else ""}. One server upgraded '
          f'{v_from} → {v_to} (two migrations, one of them an index over the history table), every procedure '
          f'on a fresh copy of one world, {machine["trials"]} trial{"s" if machine["trials"] > 1 else ""} each, '
          'taken in turns (trial 1 of every procedure, then trial 2 …) so that the machine\'s other work weighs '
          'on all alike.\n')
md.append(f'The world: a database of {w["db_bytes"] / 1048576:.0f} MB ({w["history_rows"]:,} history rows, the '
          f'rest memory rows), stores of {w["stores_bytes"] / 1048576:.0f} MB (three git repositories of many '
          f'objects, vectordb files), the release a package of {w["package_bytes"] / 1048576:.0f} MB in '
          f'{w["package_files"]:,} files. A sandbox (a real systemd as PID 1, its layers on disk), the local '
          'registry on loopback.\n')
md.append('**Downtime** is what a client sees: `bench/probe.js` asks `/health` every 20 ms on a fresh '
          'connection, and the downtime runs from the first answer that is not `200` to the first `200` of the '
          'version the procedure ends on. For a full restore the table also gives the restore\'s own part, from '
          'the rollback unit\'s start to that answer.\n')
md.append(f'Machine: {machine["nproc"]} CPUs ({machine["cpu"]}), {machine["mem_mb"]} MB of memory, Linux '
          f'{machine["kernel"]}, load average {machine["loadavg"]} when the run began. Build: commit '
          f'`{machine["commit"]}`{" with local changes" if machine["dirty"] else ""}, plain (`--buildtype=release`, '
          f'no sanitizers). Run {machine["date"]}.\n')
flags = ('--small ' if machine['small'] else '') + ('--growth ' if growth else '')
md.append('Rerun (root; on this machine the full world took an hour, `--small --growth` about 45 minutes):\n')
md.append(f'```sh\nsudo bench/downtime.sh {flags}--out docs/performance.md --json docs/downtime-{world_name}.json\n```\n')

md.append('### Downtime\n')
md.append('| procedure | downtime, median (s) | spread (s) | ratio to the floor | whole procedure (s) |')
md.append('| --- | ---: | ---: | ---: | ---: |')
for name in procedures:
    ts = figures.get(name, [])
    lo, hi = spread([t['downtime_s'] for t in ts])
    d = med(name)
    md.append(f'| {TITLES.get(name, name)} | {fmt(d)} | {fmt(lo)}–{fmt(hi)} | '
              f'{fmt(d / floor if d is not None and floor else None, 1)}× | {fmt(med(name, "procedure_s"), 1)} |')
    if name.startswith('restore-'):
        lo, hi = spread([t.get('restore_s') for t in ts])
        md.append(f'| … of which the restore (rollback start → up) | {fmt(med(name, "restore_s"))} | '
                  f'{fmt(lo)}–{fmt(hi)} | | |')
md.append('\n"Whole procedure": from the first command to the server answering as the end version (for the '
          'product, the unit\'s whole run: preflight, stage and backup happen while the server serves).\n')

# the downtime with the server's own migrations taken out: the floor's and the product's differ by what the
# product does, not by how long one index build took in that trial
bare = [n for n in ('guide', 'floor') + UPGRADES if any(t.get('server_migrations_s') for t in figures.get(n, []))]


def without_migrations(name):
    return [t['downtime_s'] - t['server_migrations_s'] for t in figures.get(name, [])
            if t.get('downtime_s') is not None and t.get('server_migrations_s')]


floor_bare = median(without_migrations('floor'))
if bare:
    md.append('### Without the server\'s migrations\n')
    md.append('The server applies its migrations when it starts (its "starting" line to "migrations: N applied"), '
              'the same work in each procedure below; it is most of the floor, and it varies from trial to trial '
              'more than the product\'s own steps weigh. Taken out, trial by trial:\n')
    md.append('| procedure | the migrations, median (s) | spread (s) | downtime without them, median (s) | spread (s) '
              '| beyond the floor\'s (s) |')
    md.append('| --- | ---: | ---: | ---: | ---: | ---: |')
    for name in bare:
        mig = [t.get('server_migrations_s') for t in figures[name]]
        rest = without_migrations(name)
        lo, hi = spread(mig)
        rlo, rhi = spread(rest)
        beyond = median(rest) - floor_bare if rest and floor_bare is not None else None
        md.append(f'| {TITLES.get(name, name)} | {fmt(median(mig))} | {fmt(lo)}–{fmt(hi)} | {fmt(median(rest))} | '
                  f'{fmt(rlo)}–{fmt(rhi)} | {fmt(beyond) if name != "floor" else "–"} |')
    md.append('')

ups = [n for n in UPGRADES if n in figures and any('split_s' in t for t in figures[n])]
if ups:
    md.append('### The product\'s downtime, phase by phase (median seconds)\n')
    md.append('| phase | ' + ' | '.join(f'`{n}`' for n in ups) + ' |')
    md.append('| --- |' + ' ---: |' * len(ups))
    for seg, _ in SEGMENTS:
        md.append(f'| {seg} | ' + ' | '.join(
            fmt(median([t['split_s'][seg] for t in figures[n] if 'split_s' in t])) for n in ups) + ' |')
    md.append('| **downtime** | ' + ' | '.join(fmt(med(n)) for n in ups) + ' |')
    md.append('\nThe cuts are journal lines: drain (first failed answer → "drain: stopping"), stop (→ '
              '"codebolt.service stopped."), snapshot start (→ the snapshot helper\'s first step: its own start), '
              'database part (→ "its part of the restore point is taken": the database copy, the final dump or the '
              'delta, while a child brings the stores\' copy up to date beside it), stores beyond it (→ "counting '
              'rows", or "Restore point ready" where the snapshot counts nothing: the stores\' copy when it takes '
              'longer than the database part, and the manifest written), row count (→ "Restore point ready"), switch (→ "Switched deployment"), start (→ the server\'s "starting" line: the next '
              'helper, systemd and node), migrations (→ "migrations: N applied"), ready (→ the first `200`).\n')

if growth:
    here_mb, there_mb = machine['world']['db_bytes'] / 1048576, growth['machine']['world']['db_bytes'] / 1048576
    md.append('### As the database grows\n')
    md.append(f'The same world with its database at {there_mb:,.0f} MB instead of {here_mb:,.0f} MB (more memory '
              'rows; the history the migration indexes, the stores and the release unchanged, so the floor\'s work '
              f'stays the same), {growth["machine"]["trials"]} trials in a sandbox of its own, run just before '
              '(`bench/downtime.sh --growth`). Median seconds.\n')
    md.append(f'| procedure | downtime at {here_mb:,.0f} MB | at {there_mb:,.0f} MB | growth | database part of '
              f'the snapshot at {here_mb:,.0f} MB | at {there_mb:,.0f} MB |')
    md.append('| --- | ---: | ---: | ---: | ---: | ---: |')
    for name in ('floor', 'template', 'delta'):
        a, b = med(name), growth_med(name)
        sa = median([t['split_s']['database part'] for t in figures.get(name, []) if 'split_s' in t])
        sb = median([t['split_s']['database part'] for t in growth['procedures'].get(name, [])
                     if 'split_s' in t])
        g = f'{(b / a - 1) * 100:+.0f} %' if a and b else '–'
        md.append(f'| {TITLES.get(name, name)} | {fmt(a)} | {fmt(b)} | {g} | {fmt(sa)} | {fmt(sb)} |')
    md.append('\n`template` copies the whole database while the server is down; `delta` reads only the changes '
              'since the backup\'s dump, so its downtime stays that of the floor plus a fixed part.\n')

if y:
    md.append('### The raw yardsticks (median seconds)\n')
    md.append('| `pg_dump -Fc` | file copy of the database\'s directory | `CREATE DATABASE … FILE_COPY` | '
              '`pg_restore` | `rsync` of the stores | the product\'s backup phase (dump, trial restore, stores, '
              'checksums) |')
    md.append('| ---: | ---: | ---: | ---: | ---: | ---: |')
    md.append(f'| {fmt(y["pg_dump"])} | {fmt(y["copy"])} | {fmt(y.get("createdb"))} | {fmt(y["pg_restore"])} | '
              f'{fmt(y["rsync"])} | {fmt(median([med(n, "backup_s") for n in UPGRADES if n in figures]))} |')
    md.append('')

if peak:
    md.append('### Peak memory of each helper (largest over every run)\n')
    md.append('| helper | its own process (MB) | the largest child it ran (MB) |')
    md.append('| --- | ---: | ---: |')
    for phase, (own, child) in sorted(peak.items()):
        md.append(f'| {phase} | {own / 1024:.1f} | {child / 1024:.1f} |')
    md.append('\nThe children are `pg_dump`, `pg_restore`, `rsync`, `npm` and the forked libpq sessions '
              '(`helpers/lib/pg-session.c` runs each in a child that drops to the database\'s user).\n')

md.append('### Goals\n')
md.append('| goal | measured | limit | met |')
md.append('| --- | ---: | ---: | --- |')
for what, value, limit, how, ok in goals:
    md.append(f'| {what}: {how} | {fmt(value)} | {fmt(limit)} | {"–" if ok is None else "yes" if ok else "**no**"} |')
md.append('')


def seg(name, segment):
    return median([t['split_s'][segment] for t in figures.get(name, []) if 'split_s' in t])


# why a goal is not met, from the same run's figures
why = []
for what, value, limit, how, ok in goals:
    if ok is not False:
        continue
    if what.startswith('`Snapshot=none`') and floor:
        parts = [(s_, seg('none', s_)) for s_ in ('snapshot start', 'switch')]
        text = (f'- **`Snapshot=none`**: {fmt(value - floor)} s more than the floor, where the goal leaves '
                f'{fmt(limit - floor)} s. Inside it, the steps the floor does not have: '
                + ', '.join(f'{n} {fmt(v)} s' for n, v in parts)
                + ', each mostly a phase program\'s start (systemd\'s sandbox, the configuration, '
                '`current.json` written and synced).')
        mig = {n: median([t.get('server_migrations_s') for t in figures.get(n, [])]) for n in ('floor', 'none')}
        rest = median(without_migrations('none'))
        if mig['floor'] and mig['none'] and rest is not None and floor_bare is not None:
            text += (f' The server\'s own migrations, the same work in both, took {fmt(mig["none"])} s (median) '
                     f'in these trials of `none` and {fmt(mig["floor"])} s in the floor\'s. Without them, '
                     f'`none` is down {fmt(rest)} s and the floor {fmt(floor_bare)} s: the product adds '
                     f'{fmt(rest - floor_bare)} s, '
                     + ('within' if rest - floor_bare <= limit - floor else 'more than')
                     + f' the {fmt(limit - floor)} s the goal leaves.')
        why.append(text)
    elif what.startswith('`Snapshot=template`') and floor and y:
        createdb = f'; PostgreSQL\'s own `CREATE DATABASE … FILE_COPY` alone, outside the product, ' \
                   f'{fmt(y["createdb"])} s' if 'createdb' in y else ''
        text = (f'- **`Snapshot=template`**: the database part {fmt(seg("template", "database part"))} s '
                f'(the raw copy {fmt(y["copy"])} s{createdb}), the stores beyond it '
                f'{fmt(seg("template", "stores beyond it"))} s and the phase programs\' starts as for `none`: '
                f'the goal leaves {fmt(limit - floor - y["copy"])} s beyond the floor and the raw copy. '
                'PostgreSQL\'s copy checkpoints before and after and syncs every file it wrote')
        if 'createdb' in y and floor + y['createdb'] > limit:
            text += (f'; the floor plus that copy alone come to {fmt(floor + y["createdb"])} s, more than the '
                     f'goal\'s {fmt(limit)} s before the product does anything of its own. That part of the goal '
                     'is PostgreSQL\'s, not the product\'s.')
        elif 'createdb' in y:
            text += (f'; the floor plus that copy come to {fmt(floor + y["createdb"])} s, which leaves '
                     f'{fmt(limit - floor - y["createdb"])} s of the goal to the product\'s own steps.')
        else:
            text += '.'
        rest = median(without_migrations('template'))
        if 'createdb' in y and rest is not None and floor_bare is not None:
            text += (f' Without the server\'s migrations (the table above), `template` is down {fmt(rest)} s and '
                     f'the floor plus PostgreSQL\'s copy alone come to {fmt(floor_bare + y["createdb"])} s, against '
                     f'the goal\'s {fmt(1.1 * (floor_bare + y["copy"]))} s counted the same way.')
        why.append(text)
    elif what.startswith('`Snapshot=delta` downtime, database') and growth:
        def slot_reads(trials):
            return [(t['marks_ms']['slot_done'] - t['marks_ms']['slot_read']) / 1000 for t in trials
                    if 'marks_ms' in t and t['marks_ms'].get('slot_read') is not None
                    and t['marks_ms'].get('slot_done') is not None]
        parts = [median([t['split_s']['database part'] for t in src_.get('delta', []) if 'split_s' in t])
                 for src_ in (figures, growth['procedures'])]
        reads = [slot_reads(src_.get('delta', [])) for src_ in (figures, growth['procedures'])]
        why.append(f'- **`Snapshot=delta` as the database grows**: ratio {fmt(value)}. The database part of the '
                   f'snapshot took {fmt(parts[0])} s here and {fmt(parts[1])} s in the other world; inside it, '
                   f'the read of the slot at the stop {fmt(min(reads[0]) if reads[0] else None)}–'
                   f'{fmt(max(reads[0]) if reads[0] else None)} s here and '
                   f'{fmt(min(reads[1]) if reads[1] else None)}–{fmt(max(reads[1]) if reads[1] else None)} s '
                   'there. Decoding starts again from the slot\'s restart point (the drain\'s checkpoint, '
                   'where it last saw no transaction running) and reads all the WAL written since, whatever '
                   'wrote it, even when none of it is a change of the database: it varies with what the '
                   'cluster wrote in those seconds.')
    elif what.startswith('full restore from the snapshot'):
        why.append(f'- **Full restore from the snapshot**: {fmt(value)} s from the rollback\'s start, where the goal '
                   f'allows {fmt(limit)} s: the rollback also counts the snapshot\'s rows before it swaps (the '
                   'upgrade failed before migrate counted them), which grows with the database, and puts the '
                   'stores back and checks them.')
    elif what.startswith('backup and its verification'):
        steps = {k: median([t['backup_split_s'][k] for n in UPGRADES for t in figures.get(n, [])
                            if 'backup_split_s' in t]) for k in BACKUP_STEPS}
        all_b = [t['backup_s'] for n in UPGRADES for t in figures.get(n, []) if t.get('backup_s')]
        why.append(f'- **Backup**: {fmt(value)} s against {fmt(limit)} s (every upgrade\'s backup: '
                   f'{fmt(min(all_b) if all_b else None)}–{fmt(max(all_b) if all_b else None)} s). Its steps, median: '
                   + ', '.join(f'{k} {fmt(v)} s' for k, v in steps.items())
                   + f'. The raw tools took pg_dump {fmt(y["pg_dump"])} s, rsync {fmt(y["rsync"])} s and pg_restore '
                   f'{fmt(y["pg_restore"])} s one after the other; the backup adds the exact row counts before '
                   'and after the dump, the trial restore\'s own counts, and two readings of every file for '
                   'the checksums.')
    elif what.startswith('largest helper peak memory'):
        high = sorted(f'{p_} {fmt(own / 1024, 1)} MB' for p_, (own, _) in peak.items() if own / 1024 > 10)
        low = [own / 1024 for p_, (own, _) in peak.items() if own / 1024 <= 10]
        files = w.get('stores_files')
        why.append(f'- **Peak memory**: over 10 MB: {", ".join(high)}; every other helper peaks at '
                   f'{fmt(max(low), 1) if low else "–"} MB or less. What grows with the world is the backup\'s '
                   'list of the stores\' files (`files.sha256`), held as a 32-byte digest and the name of each '
                   '(`helpers/lib/backup-list.c`)'
                   + (f': {files:,} files here' if files else '')
                   + '. A helper that opens libcurl, for any URL that is not plain HTTP to a loopback address, '
                   'maps about 8 MB more of TLS, Kerberos and LDAP libraries.')
    elif what.startswith('generator'):
        why.append(f'- **Generator**: {fmt(value, 1)} ms from the shell\'s exec to its exit, of which the same '
                   f'timing of `/bin/true` takes {fmt(true_ms, 1)} ms: the generator\'s own part is '
                   f'{fmt(value - true_ms, 1) if value and true_ms else "–"} ms, for 50 deployments and '
                   '400 files written.')
if why:
    md.append('### Why some goals are not met\n')
    md.extend(why)
    md.append('')
report = '\n'.join(md)
sys.stdout.write(report + '\n')
if out_md:
    replace_section(out_md, f'downtime-{world_name}', report)
if out_json:
    with open(out_json, 'w') as f:
        json.dump({'machine': machine, 'procedures': figures, 'yardsticks': yard, 'peak_kb': peak,
                   'growth': growth,
                   'generator_ms': generator_ms, 'plan_ms': plan_ms,
                   'goals': [{'goal': g[0], 'value': g[1], 'limit': g[2], 'met': g[4]} for g in goals]}, f, indent=1)
        f.write('\n')
