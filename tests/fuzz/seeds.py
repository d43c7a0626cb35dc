#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# seeds.py TARGET SRC OUTDIR: write the seed corpus of one fuzz target into OUTDIR, derived from the
# fixtures of SRC/tests/fixtures (and the shipped data/ files they stand beside) each time, so that the
# seeds follow the fixtures. Each seed is one input in the target's format (see its fuzz-*.c).
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

target, src, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
fixtures = src / 'tests' / 'fixtures'
standin = fixtures / 'standin'
seeds = []
# the releases of the long upgrade chain that metadata_plan_path starts from
CHAIN = 4000


def node(*args):
    """stdout of a node script, or None without node (the seeds from the fixtures remain)"""
    exe = shutil.which('node') or shutil.which('nodejs')
    if not exe:
        return None
    return subprocess.run([exe, *args], check=True, capture_output=True, text=True).stdout


def package_json(spec, version):
    """a stand-in version's package.json as mkpkg.js writes it: the codebolt block of its base,
    overridden field by field, with the base's migrations before its own"""
    entries = {v['version']: v for v in spec['versions']}

    def block(v):
        e = entries[v]
        base = block(e['base']) if e.get('base') else {'migrations': []}
        merged = {**base, **e.get('codebolt', {})}
        merged['migrations'] = base['migrations'] + e.get('migrations', [])
        return merged

    return {'name': spec['name'], 'version': version,
            'engines': entries[version].get('engines', spec['engines']), 'codebolt': block(version)}


def registry_documents():
    """the registry documents the tests read: the stand-in's package as the test registry serves it
    (tests/fixtures/standin/versions.json), and the fixture documents"""
    spec = json.loads((standin / 'versions.json').read_text())
    versions = {v['version']: package_json(spec, v['version']) for v in spec['versions']}
    releases = [v for v in versions if '-' not in v]
    docs = [{'name': spec['name'], 'dist-tags': {'latest': releases[-1]}, 'versions': versions}]
    # each major line on its own: smaller documents with the same shapes
    for major in sorted({v.split('.')[0] for v in versions}):
        line = {v: m for v, m in versions.items() if v.split('.')[0] == major}
        docs.append({'dist-tags': {'latest': list(line)[-1]}, 'versions': line})
    for f in (fixtures / 'completion' / 'release-metadata.json', fixtures / 'http' / 'release.json'):
        docs.append(json.loads(f.read_text()))
    return docs


def ranges_and_versions():
    """every range the fixtures declare (upgradeFrom, engines.node, codebolt.postgres) and every
    version they name"""
    spec = json.loads((standin / 'versions.json').read_text())
    versions = [v['version'] for v in spec['versions']]
    ranges = {spec['engines']['node']}
    for v in spec['versions']:
        for key in ('upgradeFrom', 'postgres'):
            if key in v.get('codebolt', {}):
                ranges.add(v['codebolt'][key])
        if 'node' in v.get('engines', {}):
            ranges.add(v['engines']['node'])
    for doc in registry_documents()[-2:]:
        for v, m in doc['versions'].items():
            versions.append(v)
            ranges.add(m.get('engines', {}).get('node', ''))
            for key in ('upgradeFrom', 'postgres'):
                ranges.add(m.get('codebolt', {}).get(key, ''))
    return sorted(set(versions)), sorted(ranges)


def metrics_text():
    """what the stand-in server's GET /metrics returns, with numbers for its counters"""
    js = (standin / 'server.js').read_text()
    body = re.search(r'function metrics\(\) \{.*?return \[(.*?)\]\.join', js, re.S).group(1)
    lines = [m.group(2) for m in re.finditer(r"([`'])(.*?)\1,", body)]
    numbers = iter(['3', '41', '2', '0.25', '58916864', '7', '9'])
    return '\n'.join(re.sub(r'\$\{[^}]*\}', lambda _: next(numbers), line) for line in lines)


def conf_files():
    """every configuration file of the fixtures, and the shipped template"""
    files = sorted(p for p in fixtures.rglob('*.conf')
                   if p.is_file() and 'expected' not in p.relative_to(fixtures).parts)
    return [p.read_bytes() for p in files] + [(src / 'data' / 'upgrade.conf.in').read_bytes()]


def journal_messages():
    """the MESSAGE= fields of the recorded journals (export format, text fields)"""
    messages = []
    for f in sorted((fixtures / 'journal').glob('*.export')):
        for line in f.read_bytes().split(b'\n'):
            if line.startswith(b'MESSAGE='):
                messages.append(line[len(b'MESSAGE='):])
    return messages


def tool_lists():
    """`codebolt tool list --status` and `capability list --status` as the stand-in CLI prints them,
    as shipped and with each item turned incompatible or disabled"""
    js = (standin / 'codebolt.js').read_text()
    outputs = []
    for kind in ('tool', 'capability'):
        block = re.search(kind + r': \[(.*?)\]', js, re.S).group(1)
        items = re.findall(r"name: '([^']*)', version: '([^']*)', status: '([^']*)'", block)
        outputs.append(''.join(f'{n} {v} {s}\n' for n, v, s in items))
        for i, (n, v, _) in enumerate(items):
            for status in ('incompatible', 'disabled'):
                changed = items[:i] + [(n, v, status)] + items[i + 1:]
                outputs.append(''.join(f'{a} {b} {c}\n' for a, b, c in changed))
    return outputs


def cluster_documents():
    """the cluster's etcd values (tests/fixtures/cluster/<kind>.json), each as `kind\\nvalue`, and the
    roll in every state and mode"""
    out = []
    for f in sorted((fixtures / 'cluster').glob('*.json')):
        out.append(f'{f.stem}\n{f.read_text()}')
    roll = json.loads((fixtures / 'cluster' / 'roll.json').read_text())
    for state in ('rolling', 'paused', 'aborting', 'done', 'aborted'):
        for mode in ('rolling', 'coordinated'):
            for upgraded in ([], ['h1'], ['h1', 'h2']):
                out.append('roll\n' + json.dumps({**roll, 'state': state, 'mode': mode, 'upgraded': upgraded,
                                                  'failed': ['h2'] if state == 'paused' else []}))
        # a coordinated roll with some members stopped
        out.append('roll\n' + json.dumps({**roll, 'state': state, 'mode': 'coordinated', 'upgraded': [],
                                          'failed': [], 'stopped': ['h1']}))
    for slots, holders in ((1, []), (1, ['h1']), (2, ['h1', 'fuzz-host']), (1, ['h1', 'h2', 'h3'])):
        out.append('sem\n' + json.dumps({'total_slots': slots, 'holders': holders}))
    return out


def json_paths():
    """the save, until and fail_if paths of the shipped steps file, each in an answer that holds it,
    and a few paths into the fixture documents"""
    steps = json.loads((src / 'data' / 'smoke-steps.json').read_text())['steps']
    pairs = []
    for s in steps:
        wanted = [(p, 1) for p in s.get('save', {}).values()]
        wanted += list(s.get('until', {}).items()) + list(s.get('fail_if', {}).items())
        for path, value in wanted:
            answer = value
            for part in reversed(path.split('.')):
                answer = [answer] if part.isdigit() and part == '0' else {part: answer}
            pairs.append((path, answer))
    for doc in registry_documents()[-2:]:
        pairs += [('dist-tags.latest', doc), ('name', doc), ('versions', doc), ('', doc)]
    return pairs


def show_stat_seeds():
    """each row of the recorded `show stat` answers (tests/fixtures/haproxy/), as `backend/server\ncsv`,
    with the answer whole, with its columns in reverse order, and with CRLF line ends"""
    out = []
    for f in sorted((fixtures / 'haproxy').glob('*.csv')):
        text = f.read_bytes()
        lines = text.split(b'\n')
        header = lines[0].removeprefix(b'# ').split(b',')
        rows = [line.split(b',') for line in lines[1:] if line]
        reversed_text = b'\n'.join([b'# ' + b','.join(reversed(header))] +
                                   [b','.join(reversed(r)) for r in rows if b'"' not in b','.join(r)]) + b'\n'
        for r in rows:
            name = r[0] + b'/' + r[1] + b'\n'
            out += [name + text, name + reversed_text, name + text.replace(b'\n', b'\r\n')]
    return out


if target in ('metadata_parse', 'metadata_plan_path'):
    seeds = [json.dumps(d, indent=2) for d in registry_documents()]
    if target == 'metadata_plan_path':
        # A long line of minors, each upgradable only from the one before (the stand-in's upgradeFrom,
        # one step wide): the path search must stay well inside -timeout= on it, so a search that
        # evaluates every pair of releases fails here rather than at a site with a long history.
        chain = {f'1.{k}.0': {'version': f'1.{k}.0', 'codebolt': {'upgradeFrom': f'>=1.{k - 1}.0'}}
                 for k in range(1, CHAIN + 1)}
        seeds.append(json.dumps({'dist-tags': {'latest': f'1.{CHAIN}.0'}, 'versions': chain},
                                separators=(',', ':')))
elif target == 'semver_range_satisfies':
    versions, ranges = ranges_and_versions()
    seeds = [f'{v}\n{r}' for v in versions for r in ranges]
    # a sample of the differential test's cases: every range feature it covers
    listed = node(str(src / 'tests' / 'semver-diff' / 'diff.js'), '--list', '--cases', '10000')
    if listed is not None:
        for case in listed.splitlines()[::50]:
            r, _, v = case.partition('\t')
            seeds.append(f'{v}\n{r}')
elif target == 'promtext':
    text = metrics_text()
    for line in text.splitlines():
        m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s', line)
        if m:
            seeds.append(f'{m.group(1)} {m.group(2) or ""}\n{text}')
            seeds.append(f'{m.group(1)}\n{text}')
elif target == 'smoke_steps_parse':
    text = (src / 'data' / 'smoke-steps.json').read_text()
    seeds = [text]
    steps = json.loads(text)['steps']
    for n in range(1, len(steps)):
        seeds.append(json.dumps({'steps': steps[:n]}))
elif target == 'smoke_json_path':
    seeds = [f'{p}\n{json.dumps(a)}' for p, a in json_paths()]
elif target == 'config_load':
    seeds = conf_files()
elif target == 'journal_classify_line':
    seeds = journal_messages()
elif target == 'checks_incompatible':
    seeds = tool_lists()
elif target == 'haproxy_stat':
    seeds = show_stat_seeds()
elif target == 'cluster_docs':
    seeds = cluster_documents()
elif target == 'etcd_parse':
    # the gateway's answers as recorded from etcd 3.4, and each line of a recorded watch stream
    for f in sorted((fixtures / 'etcd').iterdir()):
        seeds.extend(f.read_bytes().splitlines(keepends=True) if f.suffix == '.jsonl' else [f.read_bytes()])
elif target == 'decoding_parse':
    # each change of a recorded delta file, as test_decoding printed it
    for f in sorted((fixtures / 'decoding').glob('*.jsonl')):
        seeds.extend(json.loads(line)['data'] for line in f.read_text().splitlines() if line)
elif target == 'http_parse':
    # the answers recorded from node's http module, whole (flags 0) and in pieces of 1, 2 and 7 bytes, and
    # each as the answer to a HEAD request
    for f in sorted((fixtures / 'http' / 'responses').glob('*.http')):
        text = f.read_bytes()
        seeds += [bytes([flags]) + text for flags in (0, 1, 2, 7, 0x80)]
elif target == 'backup_list_read':
    # the checksums of the old-format manifest fixture written as files.sha256 (sha256sum's format,
    # sorted by bytes, a name holding a line break or a backslash escaped), whole and cut at each line
    files = json.loads((fixtures / 'backup-manifest' / 'manifest-1.json').read_text())['files']
    some = next(iter(files.values()))
    names = dict(files, **{'stores/x/a\nb': some, 'stores/x/back\\slash': some, 'stores/x/ lead': some})

    def line(name, digest):
        if any(c in name for c in '\n\r\\'):
            escaped = name.replace('\\', '\\\\').replace('\n', '\\n').replace('\r', '\\r')
            return b'\\' + f'{digest}  {escaped}\n'.encode()
        return f'{digest}  {name}\n'.encode()

    lines = [line(n, names[n]) for n in sorted(names, key=lambda n: n.encode())]
    seeds = [b''.join(lines[:k]) for k in range(1, len(lines) + 1)]
else:
    sys.exit(f'seeds.py: no seeds for {target}')

if not seeds:
    sys.exit(f'seeds.py: {target}: the fixtures gave no seeds')
os.makedirs(out, exist_ok=True)
for i, seed in enumerate(seeds):
    (out / f'seed-{i:04d}').write_bytes(seed if isinstance(seed, bytes) else seed.encode())
print(f'{target}: {len(seeds)} seeds from the fixtures in {out}')
