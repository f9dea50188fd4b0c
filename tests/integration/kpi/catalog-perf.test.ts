import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type ClickHouse, createClickHouse, queryRows } from '../../../shared/clickhouse/client.js'
import { migrate } from '../../../shared/clickhouse/migrate.js'
import { loadConfig } from '../../../shared/config/env.js'
import { KPIS, kpiQueryParams } from '../../../shared/kpi/catalog.js'
import { runKpis } from '../../../shared/kpi/run.js'
import { type GeneratedCounts, generateFacts } from './fact-generator.js'

/**
 * Times a full sweep of the catalog over ~1.2 M generated fact rows (KPI_PERF_SCALE=8 for ~10 M). Prints
 * the timings; asserts only a loose bound (the benchmark asserts the real budget on 10 M rows).
 */

const scale = Number(process.env.KPI_PERF_SCALE ?? 1)
const dataDir = mkdtempSync(join(tmpdir(), 'aims-kpi-perf-'))
const NOW = new Date('2026-06-01T00:00:00.000Z')
let ch: ClickHouse
let counts: GeneratedCounts

beforeAll(async () => {
  ch = await createClickHouse(
    loadConfig({
      CLICKHOUSE_DATA_DIR: dataDir,
      CLICKHOUSE_DATABASE: `kpi_perf_${process.pid}`,
      LOG_LEVEL: 'warn',
    }),
  )
  await migrate(ch)
  const started = performance.now()
  counts = await generateFacts(ch, { now: NOW, scale })
  console.log(
    `[kpi-perf] generated ${counts.total} fact rows in ${Math.round(performance.now() - started)} ms`,
    counts,
  )
}, 600_000)

afterAll(async () => {
  await ch?.close()
  rmSync(dataDir, { recursive: true, force: true })
})

it('sweeps the whole catalog', { timeout: 600_000 }, async () => {
  // warm-up: first queries load marks and caches
  await runKpis(ch, KPIS, NOW)

  const queries = new Map<string, { sql: string; kpi: (typeof KPIS)[number] }>()
  for (const kpi of KPIS) queries.set(kpi.batch?.id ?? kpi.id, { sql: kpi.batch?.sql ?? kpi.sql, kpi })
  const lines: string[] = []
  for (const [name, { sql, kpi }] of queries) {
    const started = performance.now()
    const rows = await queryRows(ch, sql, kpiQueryParams(kpi, NOW))
    lines.push(
      `${name.padEnd(34)} ${String(rows.length).padStart(8)} rows ${(performance.now() - started).toFixed(0).padStart(6)} ms`,
    )
  }

  const cpu0 = process.cpuUsage()
  const started = performance.now()
  const results = await runKpis(ch, KPIS, NOW)
  const wallMs = performance.now() - started
  const cpu = process.cpuUsage(cpu0)
  const samples = [...results.values()].reduce((n, s) => n + s.length, 0)
  console.log(
    [
      `[kpi-perf] full sweep of ${KPIS.length} KPIs (${queries.size} queries) over ${counts.total} fact rows:`,
      `${wallMs.toFixed(0)} ms wall, ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms CPU, ${samples} samples`,
      ...lines.map((l) => `  ${l}`),
    ].join('\n'),
  )
  expect(samples).toBeGreaterThan(1000)
  for (const kpi of KPIS) expect(results.get(kpi.id)?.length, kpi.id).toBeGreaterThan(0)
  expect(wallMs).toBeLessThan(120_000 * scale)
})
