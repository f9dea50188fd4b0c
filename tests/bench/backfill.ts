import { join } from 'node:path'
import { backfill } from '../../services/processor/history.js'
import { snapshotFromState } from '../../services/processor/snapshot.js'
import { createClickHouse } from '../../shared/clickhouse/client.js'
import { migrate } from '../../shared/clickhouse/migrate.js'
import { loadConfig } from '../../shared/config/env.js'
import { generateFacts } from '../integration/kpi/fact-generator.js'

/**
 * `npm run bench -- backfill`: KPI history for `days` daily steps (npm run backfill's work, event-time
 * axis) over generated facts (tests/integration/kpi/fact-generator.ts, a year of history with duplicates;
 * BENCH_BACKFILL_FACTS sets the size, ~10 M for the figure), against one live full evaluation at
 * the end (the processor's path: every series from the state tables, as a cold replica takes over).
 */

export interface BackfillBench {
  facts: number
  days: number
  rows: number
  backfillSeconds: number
  secondsPerStep: number
  liveEvaluationSeconds: number
  /** Backfill time over one live full evaluation. */
  ratio: number
}

const DAY = 86_400_000
/** Rows per unit of the generator's scale (its doc: scale 1 ≈ 1.2 M rows). */
const ROWS_PER_SCALE = 1_200_000

export async function benchBackfill(
  workDir: string,
  log: (s: string) => void,
  opts: { facts: number; days: number },
): Promise<BackfillBench> {
  const cfg = loadConfig({
    CLICKHOUSE_DATA_DIR: join(workDir, 'clickhouse-backfill'),
    CLICKHOUSE_DATABASE: 'bench_backfill',
    LOG_LEVEL: 'warn',
  })
  const ch = await createClickHouse(cfg)
  try {
    await migrate(ch)
    const now = new Date('2026-06-01T00:00:00.000Z')
    const counts = await generateFacts(ch, { now, scale: opts.facts / ROWS_PER_SCALE })
    log(`backfill: ${counts.total} fact rows generated`)
    let started = performance.now()
    const samples = await snapshotFromState(ch, now)
    const liveEvaluationSeconds = (performance.now() - started) / 1000
    log(
      `backfill: one live full evaluation: ${samples.length} series in ${liveEvaluationSeconds.toFixed(2)} s`,
    )
    started = performance.now()
    let last = 0
    const result = await backfill(ch, {
      from: new Date(now.getTime() - (opts.days - 1) * DAY),
      to: now,
      stepMs: DAY,
      axis: 'event_time',
      onProgress: (finished, total) => {
        if (finished - last >= 10 || finished === total) {
          last = finished
          log(`backfill: ${finished}/${total} steps, ${((performance.now() - started) / 1000).toFixed(1)} s`)
        }
      },
    })
    const backfillSeconds = (performance.now() - started) / 1000
    return {
      facts: counts.total,
      days: opts.days,
      rows: result.rows,
      backfillSeconds,
      secondsPerStep: backfillSeconds / result.steps,
      liveEvaluationSeconds,
      ratio: backfillSeconds / liveEvaluationSeconds,
    }
  } finally {
    await ch.close()
  }
}

export function formatBackfillBench(r: BackfillBench): string {
  return `backfill: ${r.days} daily steps over ${r.facts} fact rows in ${r.backfillSeconds.toFixed(1)} s (${r.secondsPerStep.toFixed(2)} s a step, ${r.rows} history rows); one live full evaluation ${r.liveEvaluationSeconds.toFixed(2)} s; ratio ${r.ratio.toFixed(1)}`
}
