import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { ClickHouseLogLevel, createClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type LocalClickHouseServer,
  startLocalClickHouseServer,
} from '../../../deploy/clickhouse/local-server.js'
import { type ClickHouse, createClickHouse, queryRows } from '../../../shared/clickhouse/client.js'
import { loadConfig } from '../../../shared/config/env.js'
import { defineClickHouseContract } from '../../contract/clickhouse.contract.js'
import { type SpawnedClickHouse, spawnLocalClickHouse } from '../../helpers/clickhouse-server.js'

/**
 * The contract against the local ClickHouse server in a child process, reached through CLICKHOUSE_URL as
 * the services reach it; then what only an HTTP server has: ClickHouse's wire shape, per-request state,
 * outages and restarts.
 */

const root = mkdtempSync(join(tmpdir(), 'aims-ch-http-'))
const database = `contract_${process.pid}`
let server: SpawnedClickHouse

beforeAll(async () => {
  server = await spawnLocalClickHouse(join(root, 'shared'))
}, 60_000)

afterAll(async () => {
  await server?.stop()
  rmSync(root, { recursive: true, force: true })
})

// These tests provoke errors on purpose; the client would log each one.
const quiet = { level: ClickHouseLogLevel.OFF }

const configFor = (url: string, db = database) =>
  loadConfig({
    CLICKHOUSE_URL: url,
    CLICKHOUSE_DATABASE: db,
    CLICKHOUSE_REQUEST_TIMEOUT_MS: '20000',
    LOG_LEVEL: 'warn',
  })

defineClickHouseContract('local HTTP server', () => createClickHouse(configFor(server.url)))

interface Sent {
  status: number
  headers: Headers
  text: string
}

/** One raw HTTP request to the server, the way any ClickHouse HTTP client would send it. */
async function send(
  sql: string | undefined,
  opts: {
    params?: Record<string, string>
    body?: string | Uint8Array
    headers?: Record<string, string>
    method?: string
    url?: string
  } = {},
): Promise<Sent> {
  const url = new URL(opts.url ?? server.url)
  for (const [k, v] of Object.entries(opts.params ?? {})) url.searchParams.set(k, v)
  const method = opts.method ?? 'POST'
  if (sql !== undefined && (method === 'GET' || opts.body !== undefined)) url.searchParams.set('query', sql)
  const res = await fetch(url, {
    method,
    headers: opts.headers,
    body: method === 'GET' ? undefined : (opts.body ?? sql),
  })
  return { status: res.status, headers: res.headers, text: await res.text() }
}

function expectException(sent: Sent, status: number, code: number, type: string): void {
  expect(sent.status).toBe(status)
  expect(sent.headers.get('x-clickhouse-exception-code')).toBe(String(code))
  expect(sent.text).toMatch(
    new RegExp(`^Code: ${code}\\. DB::Exception: .*\\(${type}\\) \\(version [0-9.]+\\)\\n$`, 's'),
  )
}

describe('local HTTP server: the wire', () => {
  it('answers health checks like a server', async () => {
    expect(await send(undefined, { method: 'GET', url: `${server.url}/ping` })).toMatchObject({
      status: 200,
      text: 'Ok.\n',
    })
    expect(await send(undefined, { method: 'GET' })).toMatchObject({ status: 200, text: 'Ok.\n' })
    expect((await send(undefined, { method: 'GET', url: `${server.url}/play` })).status).toBe(404)
  })

  it('reports errors with the status, header and text of ClickHouse', async () => {
    expectException(await send('SELECT * FROM no_such_table'), 404, 60, 'UNKNOWN_TABLE')
    expectException(await send('SELEKT 1'), 400, 62, 'SYNTAX_ERROR')
    expectException(
      await send('SELECT 1', { params: { database: 'no_such_db' } }),
      404,
      81,
      'UNKNOWN_DATABASE',
    )
    expectException(await send('SELECT 1', { params: { no_such_setting: '1' } }), 404, 115, 'UNKNOWN_SETTING')
    expectException(
      await send('SELECT {n:UInt64}', { params: { param_n: 'x' } }),
      500,
      457,
      'BAD_QUERY_PARAMETER',
    )
    expectException(await send(''), 400, 62, 'SYNTAX_ERROR')
  })

  it('sends the result headers the client reads', async () => {
    const sent = await send('SELECT 1 AS one FORMAT JSONEachRow', { params: { query_id: 'wire-q-1' } })
    expect(sent.status).toBe(200)
    expect(sent.text).toBe('{"one":1}\n')
    expect(sent.headers.get('x-clickhouse-query-id')).toBe('wire-q-1')
    expect(sent.headers.get('x-clickhouse-format')).toBe('JSONEachRow')
    expect(sent.headers.get('x-clickhouse-timezone')).toBe('UTC')
    expect(JSON.parse(sent.headers.get('x-clickhouse-summary')!)).toMatchObject({ result_rows: '1' })
  })

  it('takes a gzip body and reports the rows written', async () => {
    const db = { database }
    await send('CREATE TABLE IF NOT EXISTS wire_gz (a UInt64) ENGINE = MergeTree ORDER BY a', { params: db })
    const sent = await send('INSERT INTO wire_gz FORMAT JSONEachRow', {
      params: db,
      headers: { 'Content-Encoding': 'gzip' },
      body: gzipSync('{"a":1}\n{"a":2}\n{"a":"18446744073709551615"}\n'),
    })
    expect(sent.status).toBe(200)
    expect(JSON.parse(sent.headers.get('x-clickhouse-summary')!)).toMatchObject({ written_rows: '3' })
    expect((await send('SELECT max(a) FROM wire_gz', { params: db })).text).toBe('18446744073709551615\n')
  })

  it('compresses the response when asked to', async () => {
    const sent = await send('SELECT number FROM numbers(3) FORMAT CSV', {
      params: { enable_http_compression: '1' },
      headers: { 'Accept-Encoding': 'gzip' },
    })
    expect(sent.headers.get('content-encoding')).toBe('gzip')
    expect(sent.text).toBe('0\n1\n2\n')
  })

  it('refuses a second statement, however it is smuggled', async () => {
    const db = { database }
    await send('CREATE TABLE IF NOT EXISTS wire_victim (a UInt8) ENGINE = MergeTree ORDER BY a', {
      params: db,
    })
    for (const sql of [
      'SELECT 1; DROP TABLE wire_victim',
      'INSERT INTO wire_victim VALUES (1); DROP TABLE wire_victim',
      'INSERT INTO wire_victim SELECT 1; DROP TABLE wire_victim',
      'CREATE TABLE IF NOT EXISTS wire_x (a UInt8) ENGINE = Memory; DROP TABLE wire_victim',
    ]) {
      const sent = await send(sql, { params: db })
      expectException(sent, 400, 62, 'SYNTAX_ERROR')
      expect(sent.text).toMatch(/Multi-statements are not allowed/)
    }
    expect((await send('SELECT 1 -- ; DROP TABLE wire_victim\n; ', { params: db })).text).toBe('1\n')
    expect((await send("SELECT ';' /* ; */", { params: db })).text).toBe(';\n')
    expect((await send('EXISTS TABLE wire_victim', { params: db })).text).toBe('1\n')
  })

  it('treats GET as read-only', async () => {
    expect(await send('SELECT 1', { method: 'GET' })).toMatchObject({ status: 200, text: '1\n' })
    expectException(
      await send('CREATE TABLE wire_get (a UInt8) ENGINE = Memory', { method: 'GET', params: { database } }),
      500,
      164,
      'READONLY',
    )
  })

  it('keeps settings, SET and USE to the request that made them', async () => {
    const maxThreads = async (params?: Record<string, string>) =>
      (await send("SELECT getSetting('max_threads')", { params })).text.trim()
    const baseline = await maxThreads()
    expect(await maxThreads({ max_threads: '3' })).toBe('3')
    expect(await maxThreads()).toBe(baseline)
    expect((await send('SET max_threads = 2, max_block_size = 100')).status).toBe(200)
    expect(await maxThreads()).toBe(baseline)
    expect((await send("SELECT getSetting('max_block_size')")).text).not.toBe('100\n')
    expectException(await send('SET no_such_setting = 1'), 404, 115, 'UNKNOWN_SETTING')
    // Settings that would wedge a shared connection if they outlived their request.
    expect((await send('SET max_memory_usage = 1')).status).toBe(200)
    expect((await send('SELECT 7')).text).toBe('7\n')
    expect((await send('SET readonly = 1')).status).toBe(200)
    expect(
      (await send('CREATE TABLE IF NOT EXISTS wire_rw (a UInt8) ENGINE = Memory', { params: { database } }))
        .status,
    ).toBe(200)
    expect(await maxThreads({ max_threads: '4' })).toBe('4')
    expect((await send('USE system')).status).toBe(200)
    expect((await send('SELECT currentDatabase()')).text).toBe('default\n')
    expect((await send('SELECT currentDatabase()', { params: { database } })).text).toBe(`${database}\n`)
  })

  it('sends an error after the first bytes in the framing the client parses', async () => {
    const query =
      "SELECT number, throwIf(number = 300000, 'boom') AS t FROM numbers(400000) SETTINGS max_block_size = 4096"
    const raw = await send(`${query} FORMAT JSONEachRow`)
    expect(raw.status).toBe(200)
    expect(raw.text).toMatch(
      /\r\n__exception__\r\n[0-9a-f]+\r\nCode: 395\. .*\n\d+ [0-9a-f]+\r\n__exception__\r\n$/s,
    )
    const client = createClient({ url: server.url, log: quiet })
    try {
      const rs = await client.query({ query, format: 'JSONEachRow' })
      await expect(rs.json()).rejects.toMatchObject({
        code: '395',
        type: 'FUNCTION_THROW_IF_VALUE_IS_NON_ZERO',
      })
    } finally {
      await client.close()
    }
  })

  it('accepts query parameters sent as multipart form data', async () => {
    const client = createClient({ url: server.url, use_multipart_params: true, log: quiet })
    try {
      const rs = await client.query({
        query: 'SELECT {s:String} AS s, {a:Array(UInt8)} AS a',
        query_params: { s: "multi'part\n", a: [1, 2] },
        format: 'JSONEachRow',
      })
      expect(await rs.json()).toEqual([{ s: "multi'part\n", a: [1, 2] }])
    } finally {
      await client.close()
    }
  })

  it('survives malformed requests and keeps serving', async () => {
    await new Promise<void>((done) => {
      const socket = connect(Number(new URL(server.url).port), '127.0.0.1', () =>
        socket.end('NOT HTTP AT ALL\r\n\r\n'),
      )
      socket.on('data', () => undefined)
      socket.on('close', () => done())
      socket.on('error', () => done())
    })
    expectException(
      await send('SELECT 1', { headers: { 'Content-Encoding': 'gzip' }, body: 'this is not gzip' }),
      500,
      271,
      'CANNOT_DECOMPRESS',
    )
    expectException(
      await send('SELECT 1', { headers: { 'Content-Encoding': 'lzma-9000' } }),
      500,
      89,
      'UNKNOWN_COMPRESSION_METHOD',
    )
    expect((await send('SELECT 42')).text).toBe('42\n')
  })
})

describe('local HTTP server: outages', () => {
  let ch: ClickHouse | undefined
  afterAll(async () => {
    await ch?.close()
  })

  it('refuses connections once stopped, and a restart on the folder has the data', async () => {
    const dir = join(root, 'outage')
    const first = await spawnLocalClickHouse(dir)
    ch = await createClickHouse(configFor(first.url, 'outage'))
    await ch.client.command({
      query: 'CREATE TABLE IF NOT EXISTS kept (n UInt32) ENGINE = MergeTree ORDER BY n',
    })
    await ch.client.insert({ table: 'kept', values: [{ n: 1 }, { n: 2 }], format: 'JSONEachRow' })

    await first.stop()
    expect(await first.exited).toBe(0)
    await expect(queryRows(ch, 'SELECT count() AS c FROM kept')).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    })
    await ch.close()

    const second = await spawnLocalClickHouse(dir)
    ch = await createClickHouse(configFor(second.url, 'outage'))
    expect(await queryRows(ch, 'SELECT sum(n) AS s FROM kept')).toEqual([{ s: '3' }])
    await ch.client.insert({ table: 'kept', values: [{ n: 4 }], format: 'JSONEachRow' })

    // An abrupt outage: no clean shutdown, the folder's lock dies with the process.
    second.kill('SIGKILL')
    expect(await second.exited).toBe('SIGKILL')
    await ch.close()
    const third = await spawnLocalClickHouse(dir)
    try {
      ch = await createClickHouse(configFor(third.url, 'outage'))
      expect(await queryRows(ch, 'SELECT sum(n) AS s FROM kept')).toEqual([{ s: '7' }])
    } finally {
      await ch.close()
      ch = undefined
      await third.stop()
    }
  }, 90_000)
})

describe('local HTTP server: in-process, with a password and a request cap', () => {
  const password = 'correct horse'
  let local: LocalClickHouseServer

  beforeAll(async () => {
    local = await startLocalClickHouseServer({
      dataDir: join(root, 'in-process'),
      password,
      maxRequestBytes: 64 * 1024,
    })
  }, 60_000)

  afterAll(async () => {
    await local?.stop()
  })

  const auth = (pw: string) => ({ Authorization: `Basic ${Buffer.from(`default:${pw}`).toString('base64')}` })

  it('checks the password the way ClickHouse does', async () => {
    expectException(
      await send('SELECT 1', { url: local.url, headers: auth('wrong') }),
      403,
      516,
      'AUTHENTICATION_FAILED',
    )
    expect(await send('SELECT 1', { url: local.url, headers: auth(password) })).toMatchObject({
      status: 200,
      text: '1\n',
    })
    expect(
      await send('SELECT 1', {
        url: local.url,
        headers: { 'X-ClickHouse-User': 'anyone', 'X-ClickHouse-Key': password },
      }),
    ).toMatchObject({ status: 200, text: '1\n' })
    const client = createClient({ url: local.url, password: 'wrong', log: quiet })
    try {
      await expect(client.query({ query: 'SELECT 1' })).rejects.toMatchObject({
        code: '516',
        type: 'AUTHENTICATION_FAILED',
      })
    } finally {
      await client.close()
    }
  })

  it('refuses a body over the cap and keeps serving', async () => {
    const big = `SELECT '${'x'.repeat(100 * 1024)}'`
    expectException(
      await send(big, { url: local.url, headers: auth(password) }),
      413,
      229,
      'QUERY_IS_TOO_LARGE',
    )
    expect((await send('SELECT 2', { url: local.url, headers: auth(password) })).text).toBe('2\n')
  })

  it('stops: the port refuses connections afterwards', async () => {
    await local.stop()
    await expect(fetch(`${local.url}/ping`)).rejects.toThrow()
  })
})
