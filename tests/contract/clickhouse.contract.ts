import { copyFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ClickHouse, queryRows } from '../../shared/clickhouse/client.js'
import { loadMigrations, migrate, migrationsDir } from '../../shared/clickhouse/migrate.js'

/**
 * What the product relies on from ClickHouse, asserted identically against every way of reaching it
 * (embedded chDB, the local HTTP server, a real server). Each test file passes an `open` that yields a
 * ClickHouse bound to a database of its own.
 */
export function defineClickHouseContract(name: string, open: () => Promise<ClickHouse>): void {
  describe(`ClickHouse contract: ${name}`, () => {
    let ch: ClickHouse
    const scratchDirs: string[] = []

    beforeAll(async () => {
      ch = await open()
    }, 60_000)

    afterAll(async () => {
      await ch?.close()
      await Promise.all(scratchDirs.map((d) => rm(d, { recursive: true, force: true })))
    })

    const rows = <T>(query: string, params: Record<string, unknown> = {}) => queryRows<T>(ch, query, params)
    const run = (query: string) => ch.client.command({ query })

    /** The rejection of `p`, which must be the client's ClickHouseError with this code and type. */
    async function clickHouseError(p: Promise<unknown>, code: string, type: string): Promise<Error> {
      const err = await p.then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err, 'expected the call to fail').toBeInstanceOf(Error)
      // By name: embedded mode raises the ClickHouseError class of @clickhouse/client-common, a different
      // class object from the one @clickhouse/client exports.
      expect((err as Error).constructor.name).toBe('ClickHouseError')
      expect(err).toMatchObject({ code, type })
      return err as Error
    }

    describe('connection', () => {
      it('answers ping', async () => {
        const result = await ch.client.ping()
        expect(result.success).toBe(true)
      })

      it('runs in the configured database', async () => {
        expect(await rows<{ db: string }>('SELECT currentDatabase() AS db')).toEqual([{ db: ch.database }])
      })
    })

    describe('DDL', () => {
      it('creates, alters and drops tables, idempotently with IF [NOT] EXISTS', async () => {
        const ddl = 'CREATE TABLE IF NOT EXISTS ddl_t (id UInt32, name String) ENGINE = MergeTree ORDER BY id'
        await run(ddl)
        await run(ddl)
        await run('ALTER TABLE ddl_t ADD COLUMN IF NOT EXISTS score Float64 DEFAULT 0')
        await run('ALTER TABLE ddl_t ADD COLUMN IF NOT EXISTS score Float64 DEFAULT 0')
        const columns = await rows<{ name: string; type: string }>(
          'SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = {t:String} ORDER BY position',
          { t: 'ddl_t' },
        )
        expect(columns).toEqual([
          { name: 'id', type: 'UInt32' },
          { name: 'name', type: 'String' },
          { name: 'score', type: 'Float64' },
        ])
        await run('ALTER TABLE ddl_t DROP COLUMN IF EXISTS name')
        await run('DROP TABLE IF EXISTS ddl_t')
        await run('DROP TABLE IF EXISTS ddl_t')
        expect(await rows('EXISTS TABLE ddl_t')).toEqual([{ result: 0 }])
        await clickHouseError(run('DROP TABLE ddl_t'), '60', 'UNKNOWN_TABLE')
      })
    })

    describe('migrations', () => {
      it('applies every migration once, even when two runners race', async () => {
        const all = (await loadMigrations()).map((m) => `${m.version}_${m.name}`)
        const [a, b] = await Promise.all([migrate(ch), migrate(ch)])
        // Each racer may apply any subset; together they applied everything, and nothing failed.
        expect(new Set([...a, ...b])).toEqual(new Set(all))
        expect(await migrate(ch)).toEqual([])
        expect(await migrate(ch)).toEqual([])
        const recorded = await rows<{ version: string }>(
          'SELECT version FROM schema_migrations FINAL ORDER BY version',
        )
        expect(recorded.map((r) => r.version)).toEqual(all.map((m) => m.slice(0, 4)))
        const tables = (await rows<{ name: string }>('SHOW TABLES')).map((r) => r.name)
        expect(tables).toEqual(
          expect.arrayContaining(['privacy_incident_events', 'kpi_values', 'breach_transitions']),
        )
      })

      it('applies a new migration once and refuses an edited one', async () => {
        const dir = await mkdtemp(join(tmpdir(), 'aims-migrations-'))
        scratchDirs.push(dir)
        for (const f of await readdir(migrationsDir)) await copyFile(join(migrationsDir, f), join(dir, f))
        await writeFile(
          join(dir, '0999_contract_extra.sql'),
          '-- added by the contract test\nCREATE TABLE IF NOT EXISTS contract_extra (a UInt8) ENGINE = MergeTree ORDER BY a;\n',
        )
        expect(await migrate(ch, undefined, dir)).toEqual(['0999_contract_extra'])
        expect(await migrate(ch, undefined, dir)).toEqual([])
        await writeFile(
          join(dir, '0999_contract_extra.sql'),
          'CREATE TABLE IF NOT EXISTS contract_extra2 (a UInt8) ENGINE = Memory;\n',
        )
        await expect(migrate(ch, undefined, dir)).rejects.toThrow(
          /0999_contract_extra changed after it was applied/,
        )
      })
    })

    describe('inserts', () => {
      beforeAll(async () => {
        await run(
          'CREATE TABLE IF NOT EXISTS ins_t (id UInt32, u UInt64, i Int64, label String) ENGINE = MergeTree ORDER BY id',
        )
      })

      it('inserts 10 000 JSONEachRow rows in one call', async () => {
        const values = Array.from({ length: 10_000 }, (_, n) => ({
          id: n,
          u: String(n * 3),
          i: String(-n),
          label: `row ${n}`,
        }))
        await ch.client.insert({ table: 'ins_t', values, format: 'JSONEachRow' })
        expect(
          await rows('SELECT count() AS n, sum(u) AS su, sum(i) AS si FROM ins_t WHERE id < 10000'),
        ).toEqual([
          { n: '10000', su: String(3 * ((9_999 * 10_000) / 2)), si: String(-((9_999 * 10_000) / 2)) },
        ])
      })

      it('keeps 64-bit values exact both ways', async () => {
        const extremes = [
          { id: 20_001, u: '18446744073709551615', i: '-9223372036854775808', label: 'max' },
          { id: 20_002, u: '9007199254740993', i: '9223372036854775807', label: 'past 2^53' },
        ]
        await ch.client.insert({ table: 'ins_t', values: extremes, format: 'JSONEachRow' })
        expect(await rows('SELECT id, u, i, label FROM ins_t WHERE id > 20000 ORDER BY id')).toEqual(extremes)
      })

      it('inserts through exec with a stream body', async () => {
        const body = Readable.from(['{"id":30001,"u":"1","i":"2","label":"exec"}\n'])
        const result = await ch.client.exec({ query: 'INSERT INTO ins_t FORMAT JSONEachRow', values: body })
        result.stream.resume()
        expect(await rows('SELECT label FROM ins_t WHERE id = 30001')).toEqual([{ label: 'exec' }])
      })
    })

    describe('parameter binding', () => {
      const nasty = [
        "it's",
        "back\\slash \\' \\n literal",
        'tab\tnew\nline\r',
        "'); DROP TABLE ins_t; --",
        // A placeholder look-alike must stay text, not become a binding.
        '{x:String} $' + '{y} %s ?',
        'ünïcödé — 日本語 — 🚀',
        '',
      ]

      it('round-trips any String, injection-proof', async () => {
        for (const s of nasty) {
          expect(await rows('SELECT {s:String} AS s, length({s:String}) AS n', { s })).toEqual([
            { s, n: String(Buffer.byteLength(s)) },
          ])
        }
        expect(await rows('EXISTS TABLE ins_t')).toEqual([{ result: 1 }])
      })

      it('filters on bound values', async () => {
        await run('CREATE TABLE IF NOT EXISTS param_t (k String, v UInt64) ENGINE = MergeTree ORDER BY k')
        await ch.client.insert({
          table: 'param_t',
          values: nasty.map((k, n) => ({ k, v: String(n) })),
          format: 'JSONEachRow',
        })
        for (const [n, k] of nasty.entries()) {
          expect(await rows('SELECT v FROM param_t WHERE k = {k:String}', { k })).toEqual([{ v: String(n) }])
        }
        expect(
          await rows('SELECT count() AS c FROM param_t WHERE k IN {ks:Array(String)}', { ks: nasty }),
        ).toEqual([{ c: String(nasty.length) }])
      })

      it('binds UInt64, DateTime64, Array, Map and Nullable', async () => {
        const result = await rows(
          `SELECT {u:UInt64} AS u, {big:UInt64} AS big, {t:DateTime64(3, 'UTC')} AS t,
                  {a:Array(String)} AS a, {m:Map(String, UInt64)} AS m, {n:Nullable(String)} AS n`,
          {
            u: '18446744073709551615',
            big: 9_007_199_254_740_993n,
            t: '2024-02-29 23:59:58.125',
            a: ["o'clock", 'back\\slash', 'ü'],
            m: { "k'1": 1, k2: 2 },
            n: null,
          },
        )
        expect(result).toEqual([
          {
            u: '18446744073709551615',
            big: '9007199254740993',
            t: '2024-02-29T23:59:58.125Z',
            a: ["o'clock", 'back\\slash', 'ü'],
            m: { "k'1": '1', k2: '2' },
            n: null,
          },
        ])
      })

      // Whole seconds only: chdb's own parameter formatter (embedded mode) drops a Date's milliseconds,
      // while @clickhouse/client sends them to a server. Pass DateTime64 values as strings to keep them.
      it('binds a Date', async () => {
        expect(
          await rows("SELECT {t:DateTime64(3, 'UTC')} AS t", { t: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)) }),
        ).toEqual([{ t: '2024-01-02T03:04:05.000Z' }])
      })
    })

    describe('types returned', () => {
      it('maps ClickHouse types to JSON as the product expects', async () => {
        const [row] = await rows<Record<string, unknown>>(
          `SELECT toUInt64('18446744073709551615') AS u64, toInt64(-42) AS i64, toUInt32(7) AS u32,
                  toFloat64(1.5) AS f64, toDateTime64('2024-01-02 03:04:05.678', 3, 'UTC') AS dt64,
                  CAST(NULL AS Nullable(String)) AS nul, CAST('x' AS Nullable(String)) AS notnul,
                  map('a', 1.5, 'b', 2) AS m, [1, 2, 3] AS arr, ['x', 'y'] AS sarr, true AS b,
                  CAST('v' AS LowCardinality(String)) AS lc`,
        )
        expect(row).toEqual({
          u64: '18446744073709551615',
          i64: '-42',
          u32: 7,
          f64: 1.5,
          dt64: '2024-01-02T03:04:05.678Z',
          nul: null,
          notnul: 'x',
          m: { a: 1.5, b: 2 },
          arr: [1, 2, 3],
          sarr: ['x', 'y'],
          b: true,
          lc: 'v',
        })
      })
    })

    describe('ReplacingMergeTree', () => {
      it('FINAL collapses duplicates before any merge', async () => {
        await run(
          'CREATE TABLE IF NOT EXISTS rmt_t (k String, ver UInt32, val String) ENGINE = ReplacingMergeTree(ver) ORDER BY k',
        )
        await ch.client.insert({
          table: 'rmt_t',
          values: [
            { k: 'a', ver: 1, val: 'old' },
            { k: 'b', ver: 1, val: 'only' },
          ],
          format: 'JSONEachRow',
        })
        await ch.client.insert({
          table: 'rmt_t',
          values: [{ k: 'a', ver: 2, val: 'new' }],
          format: 'JSONEachRow',
        })
        await ch.client.insert({
          table: 'rmt_t',
          values: [{ k: 'a', ver: 2, val: 'new' }],
          format: 'JSONEachRow',
        })
        expect(await rows('SELECT k, val FROM rmt_t FINAL ORDER BY k')).toEqual([
          { k: 'a', val: 'new' },
          { k: 'b', val: 'only' },
        ])
        expect(
          await rows('SELECT argMax(val, ver) AS val FROM rmt_t WHERE k = {k:String}', { k: 'a' }),
        ).toEqual([{ val: 'new' }])
      })
    })

    describe('errors', () => {
      it('raises UNKNOWN_TABLE (60) for a missing table', async () => {
        const err = await clickHouseError(rows('SELECT * FROM no_such_table'), '60', 'UNKNOWN_TABLE')
        expect(err.message).toMatch(/no_such_table/)
      })

      it('raises SYNTAX_ERROR (62) for bad SQL', async () => {
        await clickHouseError(rows('SELEKT 1'), '62', 'SYNTAX_ERROR')
      })

      it('raises BAD_QUERY_PARAMETER (457) for a parameter of the wrong type', async () => {
        await clickHouseError(
          rows('SELECT {n:UInt64} AS n', { n: 'not a number' }),
          '457',
          'BAD_QUERY_PARAMETER',
        )
      })

      it('raises UNKNOWN_QUERY_PARAMETER (456) for a missing parameter', async () => {
        await clickHouseError(rows('SELECT {missing:String} AS s'), '456', 'UNKNOWN_QUERY_PARAMETER')
      })

      it('raises type errors on insert', async () => {
        await clickHouseError(
          ch.client.insert({ table: 'ins_t', values: [{ id: 'not a number' }], format: 'JSONEachRow' }),
          '27',
          'CANNOT_PARSE_INPUT_ASSERTION_FAILED',
        )
      })

      it('keeps working after errors', async () => {
        expect(await rows('SELECT 1 AS one')).toEqual([{ one: 1 }])
      })
    })

    describe('command and exec', () => {
      it('command runs a statement and discards any output', async () => {
        const result = await ch.client.command({ query: 'SELECT number FROM numbers(10)' })
        expect(result.query_id).toEqual(expect.any(String))
        expect(result).not.toHaveProperty('stream')
      })

      it('exec hands back the raw output stream', async () => {
        const result = await ch.client.exec({
          query: 'SELECT number AS n FROM numbers(3) FORMAT JSONEachRow',
        })
        let text = ''
        for await (const chunk of result.stream) text += Buffer.from(chunk as Uint8Array).toString('utf8')
        expect(text).toBe('{"n":"0"}\n{"n":"1"}\n{"n":"2"}\n')
      })
    })

    describe('streaming', () => {
      it('streams 100 000 rows', async () => {
        const rs = await ch.client.query({
          query: 'SELECT number AS n, toString(number) AS s FROM numbers(100000)',
          format: 'JSONEachRow',
        })
        let count = 0
        let last: { n: string; s: string } | undefined
        for await (const batch of rs.stream<{ n: string; s: string }>()) {
          for (const row of batch) {
            const current = row.json()
            if (current.n !== String(count))
              throw new Error(`row ${count} came back as ${JSON.stringify(current)}`)
            last = current
            count++
          }
        }
        expect(count).toBe(100_000)
        expect(last).toEqual({ n: '99999', s: '99999' })
      })
    })
  })
}
