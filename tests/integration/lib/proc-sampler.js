#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// proc-sampler.js SECRETS OUTDIR: every 50 ms, read /proc/*/cmdline and /proc/*/environ of every process
// and look for each secret; also keep a copy of each version of every file named by --copy.
//   SECRETS  lines "LABEL VALUE" (read from a file: a secret in our own argv would be a hit on ourselves)
//   OUTDIR   hits.jsonl: one line per (pid, place, label) found, the secret replaced by <LABEL>;
//            summary.json on SIGTERM: samples, distinct pids, the command names seen, copies made;
//            copies/: the versions of the --copy files (what the checks search, as they search the
//            files themselves)
// hits.jsonl and summary.json never hold a secret's value.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const INTERVAL_MS = 50;

const args = process.argv.slice(2);
const copyPaths = [];
while (args[0] === '--copy') {
  copyPaths.push(args[1]);
  args.splice(0, 2);
}
if (args.length !== 2) {
  process.stderr.write('usage: proc-sampler.js [--copy FILE]... SECRETS OUTDIR\n');
  process.exit(2);
}
const [secretsFile, outDir] = args;

const secrets = fs.readFileSync(secretsFile, 'utf8').split('\n').filter(Boolean).map((l) => {
  const [label, value] = l.split(' ');
  return { label, value: Buffer.from(value) };
});
if (secrets.length === 0 || secrets.some((s) => !s.label || s.value.length < 16)) {
  process.stderr.write(`${secretsFile}: expected lines "LABEL VALUE", each value 16 bytes or more\n`);
  process.exit(2);
}

fs.mkdirSync(path.join(outDir, 'copies'), { recursive: true });
const hitsFile = path.join(outDir, 'hits.jsonl');
fs.writeFileSync(hitsFile, '');

const self = String(process.pid);
const pids = new Set();
const comms = new Set();
const reported = new Set();
const copied = new Set();
let samples = 0;
let copies = 0;

function readOrNull(p) {
  try {
    return fs.readFileSync(p);
  } catch {
    return null; // the process ended, or is a kernel thread
  }
}

// what a hit shows: NULs as spaces, each secret as <LABEL>, cut short
function shown(buf) {
  let s = buf.toString('utf8').replace(/\0/g, ' ');
  for (const sec of secrets) s = s.split(sec.value.toString()).join(`<${sec.label}>`);
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

function sample() {
  samples++;
  let entries;
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return;
  }
  for (const pid of entries) {
    if (!/^\d+$/.test(pid) || pid === self) continue;
    const cmdline = readOrNull(`/proc/${pid}/cmdline`);
    const environ = readOrNull(`/proc/${pid}/environ`);
    const comm = readOrNull(`/proc/${pid}/comm`);
    if (cmdline === null && environ === null) continue;
    pids.add(pid);
    const name = comm ? comm.toString().trim() : '?';
    comms.add(name);
    for (const [place, buf] of [['cmdline', cmdline], ['environ', environ]]) {
      if (!buf) continue;
      for (const sec of secrets) {
        // once per program a pid runs: after an exec the same pid is another program
        const key = `${pid} ${name} ${place} ${sec.label}`;
        if (reported.has(key) || buf.indexOf(sec.value) < 0) continue;
        reported.add(key);
        const hit = { label: sec.label, place, pid: Number(pid), comm: name, cmdline: shown(cmdline || Buffer.alloc(0)) };
        fs.appendFileSync(hitsFile, `${JSON.stringify(hit)}\n`);
      }
    }
  }
  for (const p of copyPaths) {
    const buf = readOrNull(p);
    if (!buf) continue;
    const digest = crypto.createHash('sha256').update(buf).digest('hex');
    if (copied.has(digest)) continue;
    copied.add(digest);
    fs.writeFileSync(path.join(outDir, 'copies', `${copies++}-${path.basename(p)}`), buf);
  }
}

function finish() {
  const summary = { samples, pids: pids.size, comms: [...comms].sort(), copies };
  fs.writeFileSync(path.join(outDir, 'summary.json'), `${JSON.stringify(summary)}\n`);
  process.exit(0);
}

process.on('SIGTERM', finish);
process.on('SIGINT', finish);
sample();
setInterval(sample, INTERVAL_MS);
