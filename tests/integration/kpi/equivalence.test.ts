import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { snapshotFromState } from '../../../services/processor/snapshot.js'
import { type ClickHouse, createClickHouse } from '../../../shared/clickhouse/client.js'
import { migrate } from '../../../shared/clickhouse/migrate.js'
import { loadConfig } from '../../../shared/config/env.js'
import { classify } from '../../../shared/kpi/breach-state.js'
import { getKpi } from '../../../shared/kpi/catalog.js'
import { runReference } from '../../../shared/kpi/run.js'
import { resolveThresholds } from '../../../shared/kpi/thresholds.js'
import { type GeneratedCounts, generateFacts } from './fact-generator.js'

/**
 * The equivalence gate on a generated history (~300k fact rows with duplicates and lifecycles spread over
 * two years; EQUIVALENCE_SCALE=8.4 for the benchmark's ~10 M): at several evaluation times, the series
 * the processor computes from the state tables (snapshotFromState, the path a replica takes over with)
 * equal the reference queries over the facts — same series, same value to the bit, same status.
 */

const scale = Number(process.env.EQUIVALENCE_SCALE ?? 0.25)
const dataDir = mkdtempSync(join(tmpdir(), 'aims-kpi-equivalence-'))
const NOW = new Date('2026-06-01T00:00:00.000Z')
const DAY = 86_400_000
let ch: ClickHouse
let counts: GeneratedCounts

beforeAll(async () => {
  ch = await createClickHouse(
    loadConfig({
      CLICKHOUSE_DATA_DIR: dataDir,
      CLICKHOUSE_DATABASE: `kpi_equivalence_${process.pid}`,
      LOG_LEVEL: 'warn',
    }),
  )
  await migrate(ch)
  counts = await generateFacts(ch, { now: NOW, scale })
}, 600_000)

afterAll(async () => {
  await ch?.close()
  rmSync(dataDir, { recursive: true, force: true })
})

it('computes from state exactly what the reference computes from the facts', {
  timeout: 600_000,
}, async () => {
  expect(counts.total).toBeGreaterThan(100_000)
  const key = (kpiId: string, scope: Record<string, string>) =>
    `${kpiId} ${JSON.stringify(Object.entries(scope).sort())}`
  for (const now of [NOW, new Date(NOW.getTime() + 3 * DAY), new Date(NOW.getTime() + 45 * DAY)]) {
    const [reference, live] = await Promise.all([runReference(ch, now), snapshotFromState(ch, now)])
    const ref = new Map(reference.map((s) => [key(s.kpiId, s.scope), s]))
    const got = new Map(live.map((s) => [key(s.kpiId, s.scope), s]))
    const missing = [...ref.keys()].filter((k) => !got.has(k))
    const extra = [...got.keys()].filter((k) => !ref.has(k))
    expect({ missing: missing.slice(0, 5), extra: extra.slice(0, 5) }, now.toISOString()).toEqual({
      missing: [],
      extra: [],
    })
    let differing = 0
    let breaching = 0
    for (const [k, r] of ref) {
      const g = got.get(k)!
      const th = resolveThresholds(getKpi(r.kpiId), r.scope)
      const status = classify(r.value, th)
      if (!Object.is(g.value, r.value) || classify(g.value, th) !== status) {
        differing++
        if (differing <= 5) expect(g.value, `${k} at ${now.toISOString()}`).toBe(r.value)
      }
      if (status === 'warning' || status === 'critical') breaching++
    }
    expect(differing, now.toISOString()).toBe(0)
    // The data set exercises both sides of the thresholds, or the check would prove little.
    expect(breaching).toBeGreaterThan(0)
    expect(ref.size).toBeGreaterThan(1000)
  }
})
