import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Config } from '../../../shared/config/env.js'
import { apiGet, testAuth } from '../../helpers/api.js'
import { testConfig, waitFor } from '../../helpers/infra.js'
import { configEnv, REPO_ROOT } from '../../helpers/pipeline.js'

/**
 * Hostile HTTP against the real processor process (its own embedded ClickHouse, the run's broker and
 * Redis): the targets that used to kill the pipeline, then more than a thousand generated requests
 * (random bytes in targets, methods and headers, huge headers, bad encodings, hostile query values on
 * every route with an admin token, bodies, protocol junk, overlong URLs, requests sent too slowly).
 * Every request must get a 4xx, or, where a request cannot be answered at all, a closed connection,
 * and that case is listed explicitly. Afterwards the process is up, serves, and lost nothing to a crash.
 * Bounded: each exchange waits at most EXCHANGE_TIMEOUT_MS, the whole run is seeded and finite.
 */

const SEED = 20_261_201
const HEADERS_TIMEOUT_MS = 2_000
/** Generous: an answer normally takes milliseconds; a loaded 2-core machine may take far longer. */
const EXCHANGE_TIMEOUT_MS = 15_000
const PARALLEL = 16

/** mulberry32: a small seeded PRNG, so a failure can be replayed. */
function prng(seed: number) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1))
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!
  const bytes = (n: number, lo = 0, hi = 255) => Buffer.from(Array.from({ length: n }, () => int(lo, hi)))
  const word = (n: number, alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789') =>
    Array.from({ length: n }, () => alphabet[int(0, alphabet.length - 1)]).join('')
  return { next, int, pick, bytes, word }
}

interface Case {
  kind: string
  data: Buffer
  /** The server may close without answering (CONNECT without a tunnel handler): asserted per case. */
  mayClose?: boolean
  /** Send the bytes and keep the socket open (a slow client): the server must answer 408 or close. */
  stall?: boolean
}

interface Outcome {
  status?: number
  closedWithoutAnswer: boolean
  timedOut: boolean
}

function exchange(port: number, c: Case): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    let buf = Buffer.alloc(0)
    let settled = false
    const done = (o: Outcome) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve(o)
    }
    const timer = setTimeout(() => done({ closedWithoutAnswer: false, timedOut: true }), EXCHANGE_TIMEOUT_MS)
    const statusOf = () => {
      const m = /^HTTP\/1\.[01] (\d{3}) /.exec(buf.subarray(0, 64).toString('latin1'))
      return m ? Number(m[1]) : undefined
    }
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      const end = buf.indexOf('\r\n\r\n')
      if (end < 0) return
      const head = buf.subarray(0, end).toString('latin1')
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0)
      if (buf.length >= end + 4 + length)
        done({ status: statusOf(), closedWithoutAnswer: false, timedOut: false })
    })
    socket.on('close', () =>
      done({ status: statusOf(), closedWithoutAnswer: statusOf() === undefined, timedOut: false }),
    )
    socket.on('error', () => undefined)
    socket.write(c.data)
    if (!c.stall) socket.end()
  })
}

function request(method: string, target: string | Buffer, headers: string[] = [], body = ''): Buffer {
  return Buffer.concat([
    Buffer.from(`${method} `, 'latin1'),
    typeof target === 'string' ? Buffer.from(target, 'latin1') : target,
    Buffer.from(
      ` HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers.map((h) => `${h}\r\n`).join('')}Connection: close\r\n\r\n${body}`,
      'latin1',
    ),
  ])
}

/** The request targets that killed the whole pipeline before (issue 11), and their relatives. */
const KNOWN_BAD_TARGETS = [
  '//[',
  '//a:99999/',
  'http://a:b/',
  '//x%',
  '//[::1',
  'http://[/',
  '//a b',
  '/%',
  '/%zz',
  '/%c0%af',
  '/api/kpis/%E0%A4%A',
  '/api/%',
  '/assets/%',
  '/\\\\evil',
  '*',
  'http://[::1]:99999/api/kpis',
  '/api/kpis/..%2f..%2fetc%2fpasswd',
  '/review/breaches/%',
]

function generate(adminToken: string): Case[] {
  const r = prng(SEED)
  const cases: Case[] = KNOWN_BAD_TARGETS.map((t) => ({ kind: 'known bad target', data: request('GET', t) }))
  const auth = `Authorization: Bearer ${adminToken}`
  const apiPrefixes = ['/api/', '/api/kpis/', '/api/breaches/', '/api/views/', '/assets/', '/x/']

  // Random bytes in the target, after a prefix that keeps it off the page routes (those redirect).
  for (let i = 0; i < 200; i++) {
    const raw = r.next() < 0.5 ? r.bytes(r.int(1, 64)) : r.bytes(r.int(1, 64), 0x21, 0x7e)
    cases.push({
      kind: 'random target bytes',
      data: request('GET', Buffer.concat([Buffer.from(r.pick(apiPrefixes)), raw])),
    })
  }
  // Random and unexpected methods.
  const methods = [
    'PUT',
    'DELETE',
    'PATCH',
    'OPTIONS',
    'TRACE',
    'get',
    'Get',
    'G ET',
    'GET\t',
    'PROPFIND',
    'BREW',
    '',
  ]
  for (let i = 0; i < 100; i++) {
    const m =
      i % 3 === 0
        ? r.word(r.int(1, 12), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ_-')
        : i % 3 === 1
          ? r.pick(methods)
          : r.bytes(r.int(1, 8)).toString('latin1')
    cases.push({
      kind: 'random method',
      data: request(m, r.pick(['/api/kpis', '/healthz', '/metrics', '/api/dead-letters', '/'])),
    })
  }
  cases.push({ kind: 'CONNECT (no tunnel)', data: request('CONNECT', '127.0.0.1:80') })
  // Random headers (names and values of any byte) on an API route, no credential.
  for (let i = 0; i < 150; i++) {
    const headers = Array.from({ length: r.int(1, 10) }, () => {
      const name =
        r.next() < 0.5
          ? r.word(r.int(1, 20), 'abcdefghijklmnopqrstuvwxyz-_.~!#$%&*+^`|')
          : r.bytes(r.int(1, 20), 0x21, 0xff).toString('latin1')
      const value =
        r.next() < 0.5 ? r.word(r.int(0, 80)) : r.bytes(r.int(0, 80)).toString('latin1').replace(/\r\n/g, '')
      return `${name}: ${value}`
    })
    cases.push({ kind: 'random headers', data: request('GET', '/api/kpis', headers) })
  }
  // Conflicting framing (request smuggling shapes).
  for (const h of [
    ['Content-Length: 5', 'Transfer-Encoding: chunked'],
    ['Content-Length: 5', 'Content-Length: 6'],
    ['Transfer-Encoding: chunked, identity'],
    ['Content-Length: -1'],
    ['Content-Length: abc'],
    ['Transfer-Encoding: xchunked'],
  ]) {
    cases.push({ kind: 'conflicting framing', data: request('POST', '/auth/session', [auth, ...h], 'hello') })
  }
  // Huge headers: one large value, or very many small ones (node: 431).
  for (let i = 0; i < 50; i++) {
    const headers =
      i % 2 === 0
        ? [`X-Big: ${'a'.repeat(r.int(17_000, 64_000))}`]
        : Array.from({ length: r.int(1_700, 3_000) }, (_, j) => `X-H${j}: v`)
    cases.push({ kind: 'huge headers', data: request('GET', '/api/kpis', headers) })
  }
  // Bad percent-encodings in paths and query strings, with and without a credential.
  const badEscapes = [
    '%',
    '%g1',
    '%c0%af',
    '%ff%fe',
    '%00',
    '%u2215',
    '%252e%252e',
    '%e2%82',
    '%ed%a0%80',
    '%%',
    '%1',
  ]
  for (let i = 0; i < 150; i++) {
    const esc = r.pick(badEscapes)
    const target =
      i % 3 === 0
        ? `${r.pick(['/api/kpis/', '/api/breaches/', '/assets/', '/api/kpis/model.accuracy/'])}${esc}${r.word(r.int(0, 5))}`
        : i % 3 === 1
          ? `/api/kpis?area=${esc}`
          : `/api/views/incidents?days=${esc}&limit=${r.word(3)}`
    cases.push({ kind: 'bad encoding', data: request('GET', target, i % 2 ? [auth] : []) })
  }
  // Hostile values on every route, with an admin token: each invalid by construction (400).
  const longString = (n: number) => r.word(n)
  const hostile: (() => string)[] = [
    () => `/api/kpis?area=${r.word(r.int(1, 10))}x`,
    () => `/api/kpis?status=${r.pick(['OK', 'fine', '', 'critical,warning'])}`,
    () => `/api/kpis?${r.word(r.int(1, 12))}=${r.word(3)}`,
    () => `/api/kpis?__proto__=${r.word(3)}`,
    () => `/api/kpis?constructor[prototype][x]=1`,
    () =>
      `/api/kpis/model.accuracy/history?limit=${r.pick(['0', '-1', '10001', '1e9', 'NaN', '1.5', '0x10', ''])}`,
    () =>
      `/api/kpis/model.accuracy/history?from=${r.pick(['yesterday', '2026-13-01T00:00:00Z', '0070-06-01', '1e12', "'; DROP TABLE kpi_values; --"])}`,
    () =>
      `/api/kpis/model.accuracy/history?fingerprint=${r.pick(['xyz', 'ABCDEF12', "' OR 1=1 --", '0'.repeat(65)])}`,
    () => `/api/kpis/model.accuracy/history?limit=1&limit=2`,
    () => `/api/kpis/${r.pick(['MODEL.ACCURACY', 'model.', '.x', 'model.accuracy;drop', "model.accuracy'"])}`,
    () => `/api/breaches?state=${r.pick(['closed', 'OPEN', '1', "' OR ''='"])}`,
    () => `/api/breaches?limit=${r.pick(['2001', '-5', 'all'])}`,
    () => `/api/breaches?kpi=${longString(101)}`,
    () => `/api/breaches?since=${r.pick(['now', '2026-02-30T00:00:00', '99999-01-01T00:00:00Z'])}`,
    () => `/api/breaches/${r.pick(["x' OR '1'='1", 'a b', '<script>', '../../etc'])}`,
    () => `/api/dead-letters?limit=${r.pick(['501', '10000', '0'])}`,
    () => `/api/dead-letters?topic=${longString(251)}`,
    () => `/api/dead-letters?error_type=${longString(51)}`,
    () => `/api/views/scorecard?area=${r.pick(['finance', 'MODEL', ''])}x`,
    () => `/api/views/models?model=${r.pick(['bad id', '<x>', "a'b", '%00'])}`,
    () => `/api/views/incidents?days=${r.pick(['0', '3651', 'abc', '-1'])}`,
    () => `/api/views/incidents?limit=${r.pick(['5001', '0'])}`,
    () => `/api/views/nonconformities?standard=${r.pick(['ISO9001', 'iso27001', ''])}x`,
    () => `/api/views/nonconformities?kind=${r.pick(['observation', 'ofi', 'major'])}`,
    () => `/api/views/alert-deliveries?state=${r.pick(['resolved', 'x'])}`,
    () => `/api/openapi.json?x=${r.word(3)}`,
  ]
  for (let i = 0; i < 260; i++) {
    cases.push({
      kind: 'hostile query value',
      data: request('GET', r.pick(hostile)().replaceAll(' ', '%20'), [auth]),
    })
  }
  // Routes added later draw from their own generator, so the cases above stay the same ones.
  const later = prng(SEED + 1)
  const laterHostile: (() => string)[] = [
    () => `/api/views/regime-clocks?state=${later.pick(['closed', 'OPEN', '', "' OR 1=1 --"])}x`,
    () => `/api/views/regime-clocks?limit=${later.pick(['0', '5001', '-1', 'all', '1e9'])}`,
    () => `/api/views/regime-clocks?regime=${later.pick(['nis2', 'dora'])}`,
  ]
  for (let i = 0; i < 30; i++) {
    cases.push({
      kind: 'hostile query value',
      data: request('GET', later.pick(laterHostile)().replaceAll(' ', '%20'), [auth]),
    })
  }
  // Path traversal and unknown paths.
  for (let i = 0; i < 50; i++) {
    const t = r.pick([
      '/assets/../../package.json',
      '/assets/..%2F..%2Fpackage.json',
      '/assets/page.html',
      '/assets/mount.ts',
      `/assets/${r.word(r.int(1, 30))}`,
      `/api/${r.word(r.int(1, 30))}`,
      `/${r.word(r.int(1, 30))}`,
      '/api/kpis/model.accuracy/history/extra',
      '/.env',
      '/api/../../../etc/passwd',
    ])
    cases.push({ kind: 'traversal or unknown path', data: request('GET', t, i % 2 ? [auth] : []) })
  }
  // Bodies: over the limit (413 with a credential, 401 without), garbage JSON, bad chunking.
  for (let i = 0; i < 50; i++) {
    const big = 'x'.repeat(r.int(16_385, 60_000))
    const which = i % 4
    if (which === 0)
      cases.push({
        kind: 'oversized body',
        data: request(
          'POST',
          '/auth/session',
          [auth, 'Content-Type: application/json', `Content-Length: ${big.length}`],
          big,
        ),
      })
    else if (which === 1)
      cases.push({
        kind: 'body without credential',
        data: request(
          'POST',
          '/auth/session',
          ['Content-Type: application/json', `Content-Length: ${big.length}`],
          big,
        ),
      })
    else if (which === 2)
      cases.push({
        kind: 'bad chunking',
        data: request(
          'POST',
          '/auth/session',
          [auth, 'Content-Type: application/json', 'Transfer-Encoding: chunked'],
          `${r.pick(['zz', '-1', 'fffffffffffffffff', ''])}\r\n{}\r\n0\r\n\r\n`,
        ),
      })
    else
      cases.push({
        kind: 'body on a GET route',
        data: request(
          'POST',
          '/api/kpis',
          [auth, 'Content-Type: application/json', 'Content-Length: 2'],
          '{}',
        ),
      })
  }
  // The response API with an admin token: queries, ids and bodies invalid by construction (400). Fixed
  // lists, not drawn from the PRNG, so the cases generated before and after stay the same.
  const responseReads = [
    "/api/breaches/x'%20OR%20'1'='1/actions",
    `/api/breaches/${'a'.repeat(32)}-x/actions`,
    '/api/response/breaches?ids=x',
    '/api/response/breaches?ids=',
    `/api/response/breaches?ids=${Array.from({ length: 101 }, (_, i) => `${'a'.repeat(32)}-${i}`).join(',')}`,
    '/api/silences?state=expired',
    '/api/silences?limit=1001',
    '/api/silences?since=yesterday',
  ]
  for (const path of responseReads)
    cases.push({ kind: 'hostile query value', data: request('GET', path, [auth]) })
  const breach = `${'ab'.repeat(16)}-1764000000000`
  const writes: [string, string][] = [
    [`/api/breaches/${breach}/ack`, '{"comment":5}'],
    [`/api/breaches/${breach}/ack`, '{"comment":"a","extra":1}'],
    [`/api/breaches/${breach}/ack`, '{"comment":"bell\u0007"}'],
    [`/api/breaches/${breach}/assign`, '{}'],
    [`/api/breaches/${breach}/assign`, `{"owner":"${'o'.repeat(201)}"}`],
    [`/api/breaches/${breach}/comment`, '{"comment":""}'],
    [`/api/breaches/${breach}/comment`, 'not json'],
    ['/api/breaches/x%27/ack', '{}'],
    ['/api/silences', '{"reason":"no end"}'],
    ['/api/silences', '{"kpi":"nope","endsAt":"2099-01-01T00:00:00Z","reason":"r"}'],
    ['/api/silences', '{"endsAt":"2099-01-01T00:00:00Z","reason":"no matcher"}'],
    ['/api/silences', '{"kpi":"model.accuracy","endsAt":"2000-01-01T00:00:00Z","reason":"past"}'],
    ['/api/silences', '{"scope":{"bad label":"x"},"endsAt":"2099-01-01T00:00:00Z","reason":"r"}'],
    ['/api/silences/not-a-silence/expire', '{}'],
  ]
  for (let i = 0; i < 48; i++) {
    const [path, body] = writes[i % writes.length]!
    cases.push({
      kind: 'response API write',
      data: request(
        'POST',
        path,
        [auth, 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`],
        body,
      ),
    })
  }
  // Not HTTP/1.1 at all.
  const junk = [
    Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
    Buffer.from('GET / HTTP/9.9\r\nHost: x\r\n\r\n'),
    Buffer.from('GET /api/kpis HTTP/1.1\r\nConnection: close\r\n\r\n'), // no Host
    Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]), // a TLS ClientHello's start
    Buffer.from('GET /api/kpis HTTP/1.1\nHost: x\n\n'),
    Buffer.from('GET /api/kpis HTTP/1.1\r\nHost: x\r\n Folded: header\r\n\r\n'),
    Buffer.from('GET /api/kpis HTTP/1.1\r\nHost: x\r\nHost: y\r\nX\r\n\r\n'),
  ]
  for (let i = 0; i < 30; i++)
    cases.push({ kind: 'protocol junk', data: i < junk.length ? junk[i]! : r.bytes(r.int(1, 200)) })
  // Overlong targets: 414 up to the header limit, 431 beyond.
  for (let i = 0; i < 20; i++) {
    const n = i % 2 ? r.int(4_200, 15_000) : r.int(17_000, 40_000)
    cases.push({ kind: 'overlong target', data: request('GET', `/api/kpis?area=${'a'.repeat(n)}`) })
  }
  // Sent too slowly: a partial request line or headers, then nothing (node: 408 after the headers timeout).
  for (let i = 0; i < 20; i++) {
    const partial = r.pick([
      'GET /api/kpis HTTP/1.1\r\nHost: x\r\n',
      'GET /api/kp',
      'G',
      `GET / HTTP/1.1\r\nX-Slow: ${r.word(10)}`,
    ])
    cases.push({ kind: 'slow client', data: Buffer.from(partial), stall: true, mayClose: true })
  }
  // Opening a breach's nonconformity (POST): bad ids, unknown breaches, hostile bodies, no credential.
  const breachBodies = [
    '{}',
    '{"reason":"ok"}',
    '{"reason":"line\\nbreak"}',
    '{"reason":""}',
    '{"reason":123}',
    `{"reason":"${'r'.repeat(301)}"}`,
    '{"extra":1}',
    '{"__proto__":{"x":1}}',
    '{"constructor":{"prototype":{"x":1}}}',
    'not json',
    '[]',
    'null',
    `{"reason":"${'r'.repeat(5_000)}"}`,
  ]
  for (let i = 0; i < 60; i++) {
    const id = r.pick([
      `${r.word(32, '0123456789abcdef')}-${r.int(0, 2_000_000_000_000)}`,
      "x' OR '1'='1",
      'a b',
      '<script>',
      r.word(201),
      '%00',
    ])
    const body = r.pick(breachBodies)
    const type = r.pick(['Content-Type: application/json', 'Content-Type: text/plain', ''])
    const headers = [
      ...(i % 5 === 4 ? [] : [auth]),
      ...(type ? [type] : []),
      `Content-Length: ${body.length}`,
    ]
    cases.push({
      kind: 'nonconformity request',
      data: request('POST', `/api/breaches/${id.replaceAll(' ', '%20')}/nonconformity`, headers, body),
    })
  }
  // The review pack routes (drawn last, so the cases above stay those of the seed), with an admin token:
  // hostile query values and bodies, each invalid by construction (400).
  const hostilePackQueries: (() => string)[] = [
    () => `/api/review-packs?limit=${r.pick(['0', '501', 'all', '-1'])}`,
    () =>
      `/api/review-packs/${r.pick(['2026-Q3', '2026-Q9-20261002T090000Z', "x' OR '1'='1", '<p>', '..%2f..'])}`,
    () => `/api/review-packs/2026-Q3-20261002T090000Z?format=${r.pick(['pdf', 'xml', ''])}x`,
    () => `/api/review-packs/${r.word(r.int(1, 40))}/verify`,
    () =>
      `/api/review-packs/jobs/${r.pick(['', 'x', r.word(r.int(1, 80)), '00000000-0000-0000-0000-00000000000g'])}`,
  ]
  for (let i = 0; i < 40; i++) {
    cases.push({
      kind: 'hostile query value',
      data: request('GET', r.pick(hostilePackQueries)().replaceAll(' ', '%20'), [auth]),
    })
  }
  const hostileBodies: [string, () => string][] = [
    [
      '/api/review-packs',
      () => JSON.stringify({ period: r.pick(['2026-Q5', '2026-13', 'Q3', "'; DROP", '']) }),
    ],
    ['/api/review-packs', () => JSON.stringify({ period: '2026-Q3', [r.word(5)]: 1 })],
    ['/api/review-packs', () => r.pick(['{', '[]', 'null', '"2026-Q3"', '{"period":1}'])],
    [
      '/api/review-packs/2026-Q3-20261002T090000Z/record',
      () =>
        JSON.stringify({
          heldOn: r.pick(['yesterday', '2026-02-30']),
          attendees: [],
          decisions: [],
          actions: [],
        }),
    ],
    [
      '/api/review-packs/2026-Q3-20261002T090000Z/record',
      () =>
        JSON.stringify({
          heldOn: '2026-10-10',
          attendees: [{ name: 'A' }],
          decisions: ['x'.repeat(r.int(2_001, 5_000))],
          actions: [],
        }),
    ],
    ['/api/review-packs/not-a-pack/record', () => '{}'],
  ]
  for (let i = 0; i < 60; i++) {
    const [path, body] = r.pick(hostileBodies)
    const text = body()
    cases.push({
      kind: 'hostile body',
      data: request(
        'POST',
        path,
        [auth, 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(text, 'latin1')}`],
        text,
      ),
    })
  }
  return cases
}

describe('HTTP fuzz against the processor process', () => {
  const auth = testAuth()
  const dir = mkdtempSync(join(tmpdir(), 'aims-fuzz-'))
  let child: ChildProcess
  let out = ''
  let base: string
  let port: number
  let cfg: Config

  beforeAll(async () => {
    writeFileSync(join(dir, 'tokens'), auth.tokensFile)
    cfg = testConfig({
      HTTP_TOKENS_FILE: join(dir, 'tokens'),
      CLICKHOUSE_DATA_DIR: join(dir, 'clickhouse'),
      DATA_DIR: dir,
      LOG_LEVEL: 'info',
      HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
      HTTP_RATE_LIMIT_BURST: '1000000',
    })
    child = spawn(process.execPath, ['--import', 'tsx', 'services/processor/main.ts'], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...configEnv(cfg), LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const keep = (b: Buffer) => {
      out = (out + b.toString()).slice(-200_000)
    }
    child.stdout!.on('data', keep)
    child.stderr!.on('data', keep)
    process.once('exit', () => child.kill('SIGKILL'))
    base = await waitFor(
      'the processor to listen',
      () => (/"msg":"processor started"/.test(out) ? /"url":"(http:[^"]+)"/.exec(out)?.[1] : undefined),
      90_000,
    )
    port = Number(new URL(base).port)
  })

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM')
      await new Promise((r) => {
        child.once('exit', r)
        setTimeout(r, 12_000)
      })
      if (child.exitCode === null) child.kill('SIGKILL')
    }
    rmSync(dir, { recursive: true, force: true })
    // The processor's queues in the shared Redis.
    const redis = new Redis(cfg.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 })
    try {
      await redis.connect()
      let cursor = '0'
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${cfg.REDIS_PREFIX}:*`, 'COUNT', 1000)
        cursor = next
        if (keys.length) await redis.del(...keys)
      } while (cursor !== '0')
    } finally {
      redis.disconnect()
    }
  })

  it('answers every hostile request with a 4xx (or, where listed, a closed connection) and stays up', async () => {
    const cases = generate(auth.tokens.admin)
    expect(cases.length).toBeGreaterThanOrEqual(1_000)
    const failures: string[] = []
    const closed: Record<string, number> = {}
    const statuses: Record<number, number> = {}
    for (let i = 0; i < cases.length; i += PARALLEL) {
      const batch = cases.slice(i, i + PARALLEL)
      const outcomes = await Promise.all(batch.map((c) => exchange(port, c)))
      batch.forEach((c, j) => {
        const o = outcomes[j]!
        const what = `#${i + j} ${c.kind}: ${JSON.stringify(c.data.subarray(0, 80).toString('latin1'))}`
        if (o.timedOut) failures.push(`${what}: no answer within ${EXCHANGE_TIMEOUT_MS} ms`)
        else if (o.status !== undefined) {
          statuses[o.status] = (statuses[o.status] ?? 0) + 1
          if (o.status < 400 || o.status > 499) failures.push(`${what}: status ${o.status}`)
        } else if (c.mayClose) closed[c.kind] = (closed[c.kind] ?? 0) + 1
        else failures.push(`${what}: closed without an answer`)
      })
      expect(
        child.exitCode,
        `the process exited during batch ${i / PARALLEL}:\n${out.slice(-3000)}`,
      ).toBeNull()
    }
    process.stderr.write(
      `[http fuzz] ${cases.length} requests; statuses ${JSON.stringify(statuses)}; closed ${JSON.stringify(closed)}\n`,
    )
    expect(failures.slice(0, 20)).toEqual([])
    // Every class of 4xx the server is meant to give showed up.
    for (const s of [400, 401, 404, 405, 408, 413, 414, 431])
      expect(statuses[s], `some ${s}`).toBeGreaterThan(0)

    // Still up, still serving, and nothing escaped to the process level.
    expect(child.exitCode).toBeNull()
    expect((await apiGet(base, '/healthz')).status).toBe(200)
    const kpis = await apiGet(base, '/api/kpis', auth.tokens.admin)
    expect(kpis.status).toBe(200)
    expect(kpis.body.kpis.length).toBeGreaterThan(0)
    const metrics = await apiGet(base, '/metrics', auth.tokens.admin)
    expect(metrics.body).toMatch(/aims_unhandled_rejections_total 0\b/)
    expect(out).not.toMatch(/"level":60/)
  })
})
