#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// diff.js: semver_range_satisfies() (helpers/lib/semver.c, through tests/unit/semver-oracle) against
// the npm semver package pinned in package.json, on deterministic pseudo-random (range, version) pairs.
//
//   node diff.js --oracle PATH [--cases N] [--seed S]   compare; exit 0 only with zero mismatches
//   node diff.js --list [--cases N] [--seed S]          print the cases (range<TAB>version), no oracle
//
// npm's answer for a case is "invalid" when semver.valid(version) or semver.validRange(range) is null,
// else semver.satisfies(version, range) with default options (strict, includePrerelease off).
//
// Deliberate exclusions: inputs that semver.h refuses (or leaves undefined) on purpose while npm takes
// them. None is generated; each is a line of the contract, not a divergence:
//   - versions that are not exact SemVer: a leading 'v' or '=', surrounding whitespace, longer than
//     SEMVER_MAX_LEN (128) characters (npm takes up to 256);
//   - numbers above 2^53 - 2 in a range, or 2^53 - 1 in a version or a numeric prerelease identifier:
//     npm refuses them or compares them as doubles, semver.c compares uint64_t exactly;
//   - a number after a wildcard (1.x.3, x.1, ^1.x.3): npm ignores the number, semver.c refuses it;
//   - in a range, '=' or more than one 'v' before a version (==1.x, v=1, vv1), '=' on a hyphen bound
//     (1.2.3 - =2): npm's loose prefix [v=\s]*; semver.c takes an operator then at most one 'v';
//   - whitespace other than space and tab (npm's \s also matches \n, \r, \v, \f and Unicode spaces),
//     and whitespace inside an operator (> =1, ~ >1);
//   - a 'v' then whitespace, '=' and whitespace (1.2.3-1-2.dev = 1): npm's unanchored comparator trim
//     splits the prerelease at -2, its [v=\s]* prefix then swallows "v = " and leaves a lone '=', so npm
//     calls the range invalid; 1.2.3-1-2.d = 1 and 1.2.3-1-2.dev =1 it takes. A regex accident, not a rule.
// Malformed ranges and versions that both must refuse are generated too (answer "invalid").
'use strict'

const { spawnSync } = require('child_process')
const fs = require('fs')
const path = require('path')

const MIN_CASES = 10000
const DEFAULT_CASES = 20000
const DEFAULT_SEED = 0x5e3e2026
const MAX_RANGE_NUMBER = 2 ** 53 - 2
const MAX_VERSION_NUMBER = 2 ** 53 - 1

// the features each case is tagged with; every one must be hit
const REQUIRED_TAGS = [
  'op >=', 'op >', 'op <=', 'op <', 'op =', 'bare version',
  'op ^', 'op ~', 'op ~>',
  'x 1.x', 'x 1.5.x', 'x *', 'x 1', 'x 1.5', 'x X',
  'hyphen', 'AND', '||', 'empty set',
  'prerelease comparator', 'prerelease version', 'build metadata', "leading 'v'",
  '^0.x', '^0.0.x', '~0.x', 'large number', 'whitespace variant',
  'malformed range', 'malformed version', 'fixed',
]

function usage (msg) {
  process.stderr.write(`diff.js: ${msg}\nusage: node diff.js (--oracle PATH | --list) [--cases N] [--seed S]\n`)
  process.exit(2)
}

function parseArgs (argv) {
  const a = { cases: DEFAULT_CASES, seed: DEFAULT_SEED, oracle: null, list: false }
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) usage(`${argv[i]} needs a value`)
      return argv[++i]
    }
    switch (argv[i]) {
      case '--oracle': a.oracle = value(); break
      case '--cases': a.cases = Number(value()); break
      case '--seed': a.seed = Number(value()); break
      case '--list': a.list = true; break
      default: usage(`unknown argument '${argv[i]}'`)
    }
  }
  if (!Number.isInteger(a.cases) || a.cases < MIN_CASES) usage(`--cases must be an integer >= ${MIN_CASES}`)
  if (!Number.isInteger(a.seed) || a.seed < 0 || a.seed > 0xffffffff) usage('--seed must be an integer in [0, 2^32)')
  if (!a.list && !a.oracle) usage('--oracle PATH is required')
  return a
}

// mulberry32: small, fast and the same on every node
function prng (seed) {
  let s = seed >>> 0
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const r = {
    next,
    int: n => Math.floor(next() * n),
    chance: p => next() < p,
    pick: arr => arr[Math.floor(next() * arr.length)],
    // [[weight, value-or-thunk], ...]
    weighted: choices => {
      const total = choices.reduce((sum, c) => sum + c[0], 0)
      let x = next() * total
      for (const [w, v] of choices) {
        if ((x -= w) < 0) return typeof v === 'function' ? v() : v
      }
      const v = choices[choices.length - 1][1]
      return typeof v === 'function' ? v() : v
    },
  }
  return r
}

const LARGE = [
  4294967295, 4294967296, 9007199254740990, MAX_RANGE_NUMBER, 1000000000000,
]
const PRE_WORDS = [
  'alpha', 'beta', 'rc', 'pre', 'a', 'b', 'A', 'Z', 'z', 'x', 'X', '-', '--', '0a', '1-2', 'alpha-1',
  'beta2', 'next', 'dev', 'rc-1',
]
const BUILD_IDS = ['build', '1', '001', '5114f85', 'x', '0', 'exp-1', 'sha', 'X']
const X = ['x', 'X', '*']
const SPACES = [' ', '  ', '\t', ' \t ']

// what one generated case carries besides its text
class Ctx {
  constructor (rnd) {
    this.rnd = rnd
    this.tags = new Set()
    this.anchors = [] // {num: [M, m, p], pre: [ids] | null}
  }

  tag (t) { this.tags.add(t) }

  number (max = MAX_RANGE_NUMBER) {
    const rnd = this.rnd
    const n = rnd.weighted([
      [30, 0], [20, 1], [12, () => 2 + rnd.int(2)], [20, () => 4 + rnd.int(9)],
      [12, () => 10 + rnd.int(90)], [3, () => { this.tag('large number'); return rnd.pick(LARGE) }],
    ])
    return Math.min(n, max)
  }

  preIds () {
    const rnd = this.rnd
    const ids = []
    const count = rnd.weighted([[60, 1], [30, 2], [10, 3]])
    for (let i = 0; i < count; i++) {
      ids.push(rnd.weighted([
        [45, () => rnd.pick(PRE_WORDS)], [40, () => String(rnd.int(12))],
        [3, () => String(rnd.pick([MAX_VERSION_NUMBER, 4294967296, 123456789012]))],
      ]))
    }
    return ids
  }

  build () {
    const rnd = this.rnd
    this.tag('build metadata')
    const ids = [rnd.pick(BUILD_IDS)]
    if (rnd.chance(0.3)) ids.push(rnd.pick(BUILD_IDS))
    return '+' + ids.join('.')
  }

  // a version with wildcards or missing parts, or an exact one; returns its text
  partial ({ allowX = true, preChance = 0.2 } = {}) {
    const rnd = this.rnd
    const num = [this.number(), this.number(), this.number()]
    let text
    let pre = null
    const form = allowX
      ? rnd.weighted([[55, 'exact'], [7, 'M'], [7, 'M.m'], [7, 'M.x'], [7, 'M.m.x'], [5, 'M.x.x'], [6, '*'], [2, 'wild-pre']])
      : 'exact'
    switch (form) {
      case 'exact':
        text = num.join('.')
        if (rnd.chance(preChance)) {
          pre = this.preIds()
          text += '-' + pre.join('.')
          this.tag('prerelease comparator')
        }
        break
      case 'M':
        text = `${num[0]}`
        this.tag('x 1')
        break
      case 'M.m':
        text = `${num[0]}.${num[1]}`
        this.tag('x 1.5')
        break
      case 'M.x': {
        const x = rnd.pick(X)
        text = `${num[0]}.${x}` + (rnd.chance(0.3) ? `.${rnd.pick(X)}` : '')
        this.tag(x === 'X' ? 'x X' : x === '*' ? 'x *' : 'x 1.x')
        break
      }
      case 'M.m.x': {
        const x = rnd.pick(X)
        text = `${num[0]}.${num[1]}.${x}`
        this.tag(x === 'X' ? 'x X' : x === '*' ? 'x *' : 'x 1.5.x')
        break
      }
      case 'M.x.x':
        text = `${num[0]}.x.x`
        this.tag('x 1.x')
        break
      case '*': {
        const x = rnd.pick(X)
        text = x + (rnd.chance(0.2) ? `.${rnd.pick(X)}` : '') + (rnd.chance(0.1) ? `.${rnd.pick(X)}` : '')
        this.tag(x === 'X' ? 'x X' : 'x *')
        break
      }
      case 'wild-pre':
        // npm ignores a prerelease on a wildcard version
        text = `${num[0]}.${num[1]}.${rnd.pick(X)}-${this.preIds().join('.')}`
        this.tag('x 1.5.x')
        break
    }
    // npm takes build metadata only after three parts, as semver.c does
    if (text.split('.').length >= 3 && rnd.chance(0.08)) text += this.build()
    if (rnd.chance(0.05)) {
      text = 'v' + text
      this.tag("leading 'v'")
    }
    this.anchors.push({ num, pre })
    return { text, num, form }
  }

  opSpace () {
    return this.rnd.weighted([[85, ''], [10, ' '], [5, () => { this.tag('whitespace variant'); return this.rnd.pick(SPACES) }]])
  }

  comparator () {
    const rnd = this.rnd
    const op = rnd.weighted([
      [10, ''], [8, '='], [10, '>='], [8, '>'], [10, '<='], [8, '<'], [14, '^'], [10, '~'], [6, '~>'],
    ])
    const p = this.partial({ preChance: 0.25 })
    this.tag(op === '' ? 'bare version' : `op ${op}`)
    if (op === '^' && p.num[0] === 0 && p.form !== '*' && p.form !== 'M') {
      this.tag('^0.x')
      if (p.num[1] === 0 && (p.form === 'exact' || p.form === 'M.m.x' || p.form === 'wild-pre')) this.tag('^0.0.x')
    }
    if ((op === '~' || op === '~>') && p.num[0] === 0 && p.form !== '*') this.tag('~0.x')
    return op + (op ? this.opSpace() : '') + p.text
  }

  hyphen () {
    this.tag('hyphen')
    const a = this.partial({ preChance: 0.2 })
    const b = this.partial({ preChance: 0.2 })
    const sep = this.rnd.weighted([[85, ' - '], [15, () => { this.tag('whitespace variant'); return this.rnd.pick(['  -  ', '\t-\t', ' -\t', '\t- ']) }]])
    return a.text + sep + b.text
  }

  set () {
    const rnd = this.rnd
    return rnd.weighted([
      [12, () => this.hyphen()],
      [2, () => { this.tag('empty set'); return '' }],
      [86, () => {
        const n = rnd.weighted([[50, 1], [38, 2], [12, 3]])
        const comps = []
        for (let i = 0; i < n; i++) comps.push(this.comparator())
        if (n > 1) this.tag('AND')
        let out = comps[0]
        for (let i = 1; i < n; i++) {
          out += rnd.weighted([[85, ' '], [15, () => { this.tag('whitespace variant'); return rnd.pick(SPACES) }]]) + comps[i]
        }
        return out
      }],
    ])
  }

  range () {
    const rnd = this.rnd
    const n = rnd.weighted([[62, 1], [28, 2], [10, 3]])
    let out = this.set()
    for (let i = 1; i < n; i++) {
      this.tag('||')
      const sep = rnd.weighted([[70, ' || '], [15, '||'], [15, () => { this.tag('whitespace variant'); return rnd.pick(['  ||  ', '\t||\t', ' ||', '|| ']) }]])
      out += sep + this.set()
    }
    if (rnd.chance(0.04)) {
      this.tag('whitespace variant')
      out = rnd.pick(SPACES) + out + rnd.pick(SPACES)
    }
    return out
  }

  // a version near what the range names, so that both answers are common
  version () {
    const rnd = this.rnd
    let num
    let pre = null
    if (this.anchors.length && rnd.chance(0.8)) {
      const a = rnd.pick(this.anchors)
      num = a.num.slice()
      pre = a.pre
      rnd.weighted([
        [30, () => {}],
        [45, () => {
          const i = rnd.int(3)
          num[i] = Math.max(0, num[i] + rnd.pick([-1, 1, 1, 2]))
          for (let j = i + 1; j < 3; j++) num[j] = rnd.chance(0.6) ? 0 : this.number()
          pre = null
        }],
        [25, () => { num[rnd.int(3)] = this.number(); pre = null }],
      ])
      num = num.map(n => Math.min(n, MAX_VERSION_NUMBER))
    } else {
      num = [this.number(), this.number(), this.number()]
    }
    let text = num.join('.')
    if (rnd.chance(0.35)) {
      if (pre && rnd.chance(0.6)) {
        pre = pre.slice()
        const i = rnd.int(pre.length)
        if (/^[0-9]+$/.test(pre[i]) && Number(pre[i]) < 1000) pre[i] = String(Math.max(0, Number(pre[i]) + rnd.pick([-1, 1])))
        else if (rnd.chance(0.5)) pre.push(String(rnd.int(3)))
        else pre[i] = rnd.pick(PRE_WORDS)
      } else {
        pre = this.preIds()
      }
      text += '-' + pre.join('.')
      this.tag('prerelease version')
    }
    if (rnd.chance(0.1)) text += this.build()
    return text
  }
}

// ranges and versions that both implementations must refuse
const MALFORMED_RANGES = [
  '1.2.3.4', '01.2.3', '1.02', '1.2-beta', '1.2.3-', '1.2.3-01', '1.2.3+', '1.2.3-beta..1', '1.2.3+b..c',
  '>', '>=', '<', '<=', '^', '~', '~>', '=', '1.2.3 ^', '>=1.2.3 <', '- 1.2.3', '1.2.3 -', '1.2.3 - 2 - 3',
  '1.2.3 -2', '1.2.3- 2', '>1.2.3 - 2', '1.2.3 - >=2', '1.2.3 - 2 <3', '>=1.2.3<2', '=>1.2.3', '<<1', '>>1',
  '<>1', '^~1', '~^1', '>=^1', '1.2.3 | 2', '|', 'latest', 'next', 'foo', '1.x || foo', 'foo || *',
  '1.2.3;rm', '1.2.3,2.0.0', '**', 'x*', '1.2.3-*', '1.x-beta', '1-beta', 'V1.2.3', '1.2.3 - 2.x.x.x',
  '-1.2.3', '1.-2.3', '1.x+b', '1+b', '1.2+b', '1.2.3-beta_1', '1.2.3+b!', 'a.b.c', '>= >=1', '^ ^1', '~1 ~', '1.2.3 ||| 2',
]
const MALFORMED_VERSIONS = [
  '', '1', '1.2', '1.2.3.4', '01.2.3', '1.02.3', '1.2.03', '1.2.3-', '1.2.3-01', '1.2.3+', '1.2.3-a..b',
  '1.2.3+a..b', 'x', '1.x', '1.2.x', '*', '^1.2.3', '>=1.2.3', 'latest', '1.2.3-beta_1', '1.2.3 - 2.0.0',
  'V1.2.3', '-1.2.3', '1.2.3-+', '1.2.3-a+', '1.2.3-α',
]

// fixed cases: boundaries worth checking on every seed
const FIXED = [
  ['>=0.0.0', '0.0.0-0'], ['>=0.0.0 || 1.0.0-beta', '1.0.0-beta'], ['* || 1.0.0-beta', '1.0.0-beta'],
  ['>=v0.0.0 || 1.0.0-beta', '1.0.0-beta'], ['>=0.0.0+b || 1.0.0-beta', '1.0.0-beta'],
  ['>= v0.0.0 <=0.0.0-rc', '0.0.0-a'], ['>=0.0.0+b <=0.0.0-rc', '0.0.0-a'], ['>=0.0.0 <=0.0.0-rc', '0.0.0-a'],
  ['v0.0.0 - 1 || 1.0.0-beta', '1.0.0-beta'], ['v0.0.0 - * || 1.0.0-beta', '1.0.0-beta'], ['0.0.0 - * || 1.0.0-beta', '1.0.0-beta'], ['0.0.0+b - 1 || 1.0.0-beta', '1.0.0-beta'],
  ['0.0.0 - 1 || 1.0.0-beta', '1.0.0-beta'], ['0.0.0 - 0.0.0-rc', '0.0.0-a'], ['v0.0.0 - 0.0.0-rc', '0.0.0-a'],
  ['^0.0.0', '0.0.0'], ['^0.0.0', '0.0.1-0'], ['~0.0.0', '0.0.9'], ['0.x || 1.0.0-beta', '1.0.0-beta'],
  ['<0.0.0-0', '0.0.0-0'], ['<x || 1.0.0-beta', '1.0.0-beta'], ['>x', '0.0.0'], ['<=x', '0.0.0-0'],
  ['<=x || 1.0.0-beta', '1.0.0-beta'], ['^0.0.1', '0.0.2-0'], ['^0.0.1-rc', '0.0.1'], ['^0.1.0-rc', '0.1.9'],
  ['^9007199254740990.0.0', '9007199254740991.0.0'], ['~9007199254740990.9007199254740990', '9007199254740990.9007199254740990.5'],
  ['>=1.0.0-alpha', '1.0.0-Alpha'], ['>=1.0.0-a', '1.0.0--'], ['<1.0.0-0.0', '1.0.0-0'], ['1.0.0-0.0', '1.0.0-0.0'],
  ['>1.0.0-9007199254740991', '1.0.0-9007199254740990'], ['1.2.3 - 1.2.3', '1.2.3+b'], ['||', '1.0.0-rc.1'],
  ['\t1.x\t||\t2.x\t', '2.0.0'], ['>=\t1.2.3', '1.2.3'], ['~>\t1', '1.9.9'], ['^ v1.2', '1.9.0'],
]

const NPM_V_EQ_ACCIDENT = /v\s+=\s/

function generate (count, seed) {
  const rnd = prng(seed)
  const seen = new Set()
  const cases = []
  const add = (range, version, tags) => {
    const key = `${range}\t${version}`
    if (seen.has(key)) return
    seen.add(key)
    cases.push({ range, version, tags })
  }

  for (const [r, v] of FIXED) add(r, v, new Set(['fixed']))

  for (let tries = 0; cases.length < count; tries++) {
    if (tries > count * 20) throw new Error(`only ${cases.length} distinct cases after ${tries} tries`)
    const ctx = new Ctx(rnd)
    let range = ctx.range()
    let version = ctx.version()
    const roll = rnd.next()
    if (roll < 0.04) {
      // a malformed alternative or comparator inside an otherwise valid range
      const bad = rnd.pick(MALFORMED_RANGES)
      // in front of a comparator, a lone operator or a half hyphen would join it ("~> =1", "1.2.3 - 2")
      const prefix = !/[\s<>=^~-]$/.test(bad) && !/\s/.test(bad)
      range = rnd.weighted([[40, bad], [30, `${range} || ${bad}`], [prefix ? 30 : 0, `${bad} ${range}`]])
      ctx.tag('malformed range')
    } else if (roll < 0.05) {
      version = rnd.pick(MALFORMED_VERSIONS)
      ctx.tag('malformed version')
    }
    if (NPM_V_EQ_ACCIDENT.test(range)) continue
    add(range, version, ctx.tags)
  }
  return cases
}

function loadSemver () {
  const dir = path.join(__dirname, 'node_modules', 'semver')
  const pinned = JSON.parse(fs.readFileSync(path.join(__dirname, 'package.json'), 'utf8')).dependencies.semver
  let pkg
  try {
    pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'))
  } catch (e) {
    process.stderr.write(`diff.js: the semver package is not installed in ${path.dirname(dir)} ` +
      `(tools/deps.sh installs it there with npm ci): ${e.message}\n`)
    process.exit(1)
  }
  if (pkg.version !== pinned) {
    process.stderr.write(`diff.js: ${dir} is semver ${pkg.version}, package.json pins ${pinned}\n`)
    process.exit(1)
  }
  return { semver: require(dir), version: pkg.version }
}

// SemVer 2.0.0's own regular expression (semver.org), for what npm would take but semver.h refuses
const EXACT = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/

function npmAnswer (semver, range, version) {
  if (semver.valid(version) === null) return 'invalid'
  // a version npm takes must be exact, or the generator left the subset
  if (!EXACT.test(version) || version.length > 128) throw new Error(`generated a non-exact version '${version}'`)
  if (semver.validRange(range) === null) return 'invalid'
  return semver.satisfies(version, range) ? '1' : '0'
}

function main () {
  const args = parseArgs(process.argv.slice(2))
  const start = Date.now()
  const cases = generate(args.cases, args.seed)

  if (args.list) {
    process.stdout.write(cases.map(c => `${c.range}\t${c.version}\n`).join(''))
    return 0
  }

  const { semver, version: semverVersion } = loadSemver()

  const input = cases.map(c => `${c.range}\t${c.version}\n`).join('')
  const res = spawnSync(args.oracle, [], { input, maxBuffer: 256 << 20, encoding: 'utf8' })
  if (res.error) {
    process.stderr.write(`diff.js: running ${args.oracle}: ${res.error.message}\n`)
    return 1
  }
  if (res.status !== 0) {
    process.stderr.write(`diff.js: ${args.oracle} exited with ${res.status ?? res.signal}:\n${res.stderr}`)
    return 1
  }
  const ours = res.stdout.split('\n')
  if (ours.pop() !== '' || ours.length !== cases.length) {
    process.stderr.write(`diff.js: ${args.oracle} answered ${ours.length} lines for ${cases.length} cases\n`)
    return 1
  }

  const tagCounts = new Map(REQUIRED_TAGS.map(t => [t, 0]))
  const answers = { 1: 0, 0: 0, invalid: 0 }
  let mismatches = 0
  cases.forEach((c, i) => {
    const theirs = npmAnswer(semver, c.range, c.version)
    for (const t of c.tags) tagCounts.set(t, (tagCounts.get(t) ?? 0) + 1)
    answers[theirs]++
    if (theirs !== ours[i]) {
      mismatches++
      if (mismatches <= 200) {
        process.stdout.write(`mismatch: range ${JSON.stringify(c.range)} version ${JSON.stringify(c.version)}: ` +
          `npm ${theirs}, ours ${ours[i]}\n`)
      }
    }
  })
  if (mismatches > 200) process.stdout.write(`… and ${mismatches - 200} more mismatches\n`)

  process.stdout.write(`cases per feature (a case counts once for each feature it has):\n`)
  for (const [t, n] of tagCounts) process.stdout.write(`  ${t.padEnd(24)} ${n}\n`)
  process.stdout.write(`npm's answers: ${answers[1]} satisfied, ${answers[0]} not, ${answers.invalid} invalid\n`)

  const missing = REQUIRED_TAGS.filter(t => tagCounts.get(t) === 0)
  let rc = mismatches > 0 ? 1 : 0
  if (missing.length) {
    process.stdout.write(`no case hit: ${missing.join(', ')}\n`)
    rc = 1
  }
  if (cases.length < MIN_CASES || Object.values(answers).some(n => n === 0)) {
    process.stdout.write('the cases are too few or never give one of the answers\n')
    rc = 1
  }
  process.stdout.write(`semver-differential: ${cases.length} distinct cases (seed ${args.seed}, npm semver ` +
    `${semverVersion}), ${mismatches} mismatches, ${((Date.now() - start) / 1000).toFixed(1)} s\n`)
  return rc
}

process.exitCode = main()
