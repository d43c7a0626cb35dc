#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// probe.js URL OUT [INTERVAL_MS]: what a client sees of the server during an upgrade. Asks URL (the
// server's /health) every INTERVAL_MS (default 20) on a fresh connection, one request at a time, and
// writes one line per answer to OUT: the time the request was sent (milliseconds since the epoch, to the
// microsecond), the HTTP status or "refused"/"timeout"/"error", and the version the answer names
// ("-" when none). Runs until SIGTERM; bench/downtime.sh computes the downtime from the lines afterwards.
'use strict';

const fs = require('fs');
const http = require('http');

const [url, out, intervalArg] = process.argv.slice(2);
if (!url || !out) {
  process.stderr.write('usage: probe.js URL OUT [INTERVAL_MS]\n');
  process.exit(2);
}
const interval = Number(intervalArg || 20);
const fd = fs.openSync(out, 'w');
const agent = new http.Agent({ keepAlive: false });
const now = () => performance.timeOrigin + performance.now();
let stopping = false;

function record(sent, what, version) {
  fs.writeSync(fd, `${sent.toFixed(3)} ${what} ${version || '-'}\n`);
}

function ask() {
  const sent = now();
  let done = false;
  const finish = (what, version) => {
    if (done) return;
    done = true;
    record(sent, what, version);
    if (stopping) return;
    setTimeout(ask, Math.max(0, sent + interval - now()));
  };
  const req = http.get(url, { agent, timeout: 1000 }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (c) => { body += c; });
    res.on('end', () => {
      let version;
      try { version = JSON.parse(body).version; } catch { version = undefined; }
      finish(String(res.statusCode), version);
    });
    res.on('error', () => finish('error'));
  });
  req.on('timeout', () => { req.destroy(); finish('timeout'); });
  req.on('error', (e) => finish(e.code === 'ECONNREFUSED' ? 'refused' : 'error'));
}

process.on('SIGTERM', () => { stopping = true; fs.fsyncSync(fd); process.exit(0); });
ask();
