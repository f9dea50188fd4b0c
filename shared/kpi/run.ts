import { type ClickHouse, queryRows } from '../clickhouse/client.js'
import { formatNowParam, type KpiArea, kpiAreaSchema } from './catalog.js'
import type { JudgedComparison, Sample } from './engine/sample.js'
import { type Rational, rational } from './fairness/exact.js'
import { type Axis, modelReferenceQueries, referenceSql } from './sql.js'
import type { ResolverConfig } from './thresholds.js'

/**
 * Runs the reference KPI queries (shared/kpi/sql.ts) at evaluation time `now`: every series of the given
 * areas, optionally reading the facts as of `now` on one time axis (event_time: what had happened;
 * ingested_at: what was known). `config` chooses the fairness KPIs and their settings, as it does for
 * the processor. Not the live path (the processor keeps KPIs incrementally); used to check it, and to
 * recompute figures independently. Reasons are codes only (the live path adds a detail for people).
 */
export async function runReference(
  ch: ClickHouse,
  now: Date,
  opts: { areas?: readonly KpiArea[]; axis?: Axis; config?: ResolverConfig } = {},
): Promise<Sample[]> {
  const out: Sample[] = []
  for (const area of opts.areas ?? kpiAreaSchema.options) {
    const queries =
      area === 'model'
        ? modelReferenceQueries(opts.axis, opts.config)
        : [referenceSql[area](opts.axis, opts.config)]
    for (const query of queries) {
      const rows = await queryRows<ReferenceRow>(ch, query, { now: formatNowParam(now) })
      for (const r of rows) out.push(toSample(r, now.getTime()))
    }
  }
  return out
}

interface ReferenceRow {
  kpi_id: string
  scope: Record<string, string>
  value: number | null
  exact?: string | null
  n?: string | number | null
  ci_low?: number | null
  ci_high?: number | null
  reason?: string
  comparisons?: [string, number, number][]
}

/** "num/den" (integers, den > 0) as a rational. */
function parseExact(text: string): Rational {
  const [num = '', den = '1'] = text.split('/')
  return rational(BigInt(num), BigInt(den))
}

const finite = (v: number | null | undefined) => {
  if (v === null || v === undefined) return null
  const x = Number(v)
  return Number.isFinite(x) ? x : null
}

function toSample(r: ReferenceRow, at: number): Sample {
  const sample: Sample = { kpiId: r.kpi_id, scope: r.scope, value: finite(r.value), at }
  if (r.exact !== undefined) {
    sample.exact = r.exact === null ? null : parseExact(r.exact)
    sample.n = r.n === null || r.n === undefined ? null : Number(r.n)
    sample.ci_low = finite(r.ci_low)
    sample.ci_high = finite(r.ci_high)
    sample.reason = r.reason ? r.reason : null
    if (r.comparisons && r.comparisons.length > 0) {
      sample.comparisons = r.comparisons.map(
        ([exact, lo, hi]): JudgedComparison => ({ exact: parseExact(exact), ci_low: lo, ci_high: hi }),
      )
    }
  }
  return sample
}
