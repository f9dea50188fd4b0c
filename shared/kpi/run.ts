import { type ClickHouse, queryRows } from '../clickhouse/client.js'
import { formatNowParam, type KpiArea, kpiAreaSchema } from './catalog.js'
import type { Sample } from './engine/sample.js'
import { type Axis, referenceSql } from './sql.js'

/**
 * Runs the reference KPI queries (shared/kpi/sql.ts) at evaluation time `now`: every series of the given
 * areas, optionally reading the facts as of `now` on one time axis (event_time: what had happened;
 * ingested_at: what was known). Not the live path (the processor keeps KPIs incrementally); used to check
 * it, and to recompute figures independently.
 */
export async function runReference(
  ch: ClickHouse,
  now: Date,
  opts: { areas?: readonly KpiArea[]; axis?: Axis } = {},
): Promise<Sample[]> {
  const out: Sample[] = []
  for (const area of opts.areas ?? kpiAreaSchema.options) {
    const rows = await queryRows<{ kpi_id: string; scope: Record<string, string>; value: number | null }>(
      ch,
      referenceSql[area](opts.axis),
      { now: formatNowParam(now) },
    )
    for (const r of rows) {
      const value = r.value === null ? null : Number(r.value)
      out.push({
        kpiId: r.kpi_id,
        scope: r.scope,
        value: value !== null && Number.isFinite(value) ? value : null,
        at: now.getTime(),
      })
    }
  }
  return out
}
