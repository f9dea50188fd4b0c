import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { snapshotAsOf } from '../../../services/processor/snapshot.js'
import { type ClickHouse, createClickHouse } from '../../../shared/clickhouse/client.js'
import { migrate } from '../../../shared/clickhouse/migrate.js'
import { loadConfig } from '../../../shared/config/env.js'
import { runReference } from '../../../shared/kpi/run.js'
import { generateFacts } from './fact-generator.js'
import { expectSameSamples } from './same-samples.js'

/**
 * KPI history's as-of evaluation (snapshotAsOf: the live engines over entity state as of T, unchanged
 * entities from the state tables and the others reduced again from their facts) against the reference
 * queries as of T on the same axis, over the generated history with duplicate facts and lifecycles that
 * straddle T: same series, same values, n, intervals and reasons, at times spread through the history.
 */

const dataDir = mkdtempSync(join(tmpdir(), 'aims-kpi-as-of-'))
const NOW = new Date('2026-06-01T00:00:00.000Z')
const DAY = 86_400_000
let ch: ClickHouse

beforeAll(async () => {
  ch = await createClickHouse(
    loadConfig({
      CLICKHOUSE_DATA_DIR: dataDir,
      CLICKHOUSE_DATABASE: `kpi_as_of_${process.pid}`,
      LOG_LEVEL: 'warn',
    }),
  )
  await migrate(ch)
  const counts = await generateFacts(ch, { now: NOW, scale: 0.1 })
  expect(counts.total).toBeGreaterThan(50_000)
}, 600_000)

afterAll(async () => {
  await ch?.close()
  rmSync(dataDir, { recursive: true, force: true })
})

it('evaluates as of T what the reference computes from the facts as of T', { timeout: 600_000 }, async () => {
  let compared = 0
  for (const days of [300, 120, 30, 1]) {
    const at = new Date(NOW.getTime() - days * DAY)
    const [asOf, reference] = await Promise.all([
      snapshotAsOf(ch, at, 'event_time'),
      runReference(ch, at, { axis: 'event_time' }),
    ])
    compared += expectSameSamples(asOf, reference, `event_time ${at.toISOString()}`)
  }
  // Every fact was ingested by now: known at now is everything, as the state tables hold it.
  const now = new Date(Date.now() + 1000)
  compared += expectSameSamples(
    await snapshotAsOf(ch, now, 'ingested_at'),
    await runReference(ch, now, { axis: 'ingested_at' }),
    'ingested_at now',
  )
  expect(compared).toBeGreaterThan(1000)
})
