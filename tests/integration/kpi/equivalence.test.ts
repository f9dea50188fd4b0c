import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { snapshotFromState } from '../../../services/processor/snapshot.js'
import { type ClickHouse, createClickHouse } from '../../../shared/clickhouse/client.js'
import { migrate } from '../../../shared/clickhouse/migrate.js'
import { loadConfig } from '../../../shared/config/env.js'
import { classify } from '../../../shared/kpi/breach-state.js'
import { getKpi, KPIS } from '../../../shared/kpi/catalog.js'
import type { Sample } from '../../../shared/kpi/engine/sample.js'
import { runReference } from '../../../shared/kpi/run.js'
import { parseAimsConfig, resolveThresholds } from '../../../shared/kpi/thresholds.js'
import { type GeneratedCounts, generateFacts } from './fact-generator.js'
import { expectSameSamples } from './same-samples.js'

const toMachine = (s: Sample) => ({ ...s, at: new Date(s.at) })

/**
 * The equivalence gate on a generated history (~300k fact rows with duplicates and lifecycles spread over
 * two years; EQUIVALENCE_SCALE=8.4 for the benchmark's ~10 M): at several evaluation times, the series
 * the processor computes from the state tables (snapshotFromState, the path a replica takes over with)
 * equal the reference queries over the facts — same series, same value to the bit, same status, same n,
 * exact value, interval, reason and comparisons — with the default configuration and with the whole
 * fairness parity set under other reference groups and minimum samples.
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
    let insufficient = 0
    for (const [k, r] of ref) {
      const g = got.get(k)!
      const th = resolveThresholds(getKpi(r.kpiId), r.scope)
      const status = classify(toMachine(r), th)
      if (!Object.is(g.value, r.value) || classify(toMachine(g), th) !== status) {
        differing++
        if (differing <= 5) expect(g.value, `${k} at ${now.toISOString()}`).toBe(r.value)
      }
      if (status === 'warning' || status === 'critical') breaching++
      if (status === 'insufficient_data') insufficient++
    }
    expect(differing, now.toISOString()).toBe(0)
    // n, the exact value, the interval, the reason and the comparisons agree as well.
    expectSameSamples(live, reference, now.toISOString())
    // The data set exercises both sides of the thresholds and the not-estimable rules, or the check
    // would prove little.
    expect(breaching).toBeGreaterThan(0)
    expect(insufficient).toBeGreaterThan(0)
    expect(ref.size).toBeGreaterThan(1000)
  }
})

it('agrees on the whole parity set with other references, minimum samples and a per-scope override', {
  timeout: 600_000,
}, async () => {
  // Every fairness KPI on; difference KPIs against the best-off group, ratios against the majority (or
  // the spread where only it exists); a smaller minimum, not-estimable below it for one attribute.
  const kpis: Record<string, unknown> = {}
  for (const k of KPIS.filter((x) => x.fairness)) {
    const spreadOnly = k.fairness!.metric === 'equalized_odds' && k.fairness!.form === 'ratio'
    kpis[k.id] = {
      enabled: true,
      ...(spreadOnly ? {} : { reference: k.fairness!.form === 'difference' ? 'best' : 'majority' }),
      overrides: [
        {
          match: { attribute: 'sex' },
          belowMinimum: 'not_estimable',
          ...(spreadOnly ? {} : { reference: { group: 'g1' } }),
        },
      ],
    }
  }
  const config = parseAimsConfig({ fairness: { minSamples: 100, level: 0.9 }, kpis })
  const [reference, live] = await Promise.all([
    runReference(ch, NOW, { areas: ['model'], config }),
    snapshotFromState(ch, NOW, config),
  ])
  const models = live.filter((s) => getKpi(s.kpiId).area === 'model')
  const compared = expectSameSamples(models, reference, 'parity set')
  const fairness = reference.filter((s) => getKpi(s.kpiId).fairness)
  expect(new Set(fairness.map((s) => s.kpiId)).size).toBe(KPIS.filter((k) => k.fairness).length)
  expect(fairness.some((s) => s.value === null)).toBe(true)
  expect(fairness.some((s) => s.comparisons && s.comparisons.length > 1)).toBe(true)
  expect(compared).toBeGreaterThan(1000)
})
