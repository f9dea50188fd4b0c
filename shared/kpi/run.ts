import { type ClickHouse, queryRows } from '../clickhouse/client.js'
import type { KpiScope } from '../events/index.js'
import { type KpiArea, type KpiDefinition, kpiQueryParams } from './catalog.js'

/** One computed KPI value: the KPI, the scope labels of its series, the value (null = no value). */
export interface KpiSample {
  kpiId: string
  scope: Record<string, string>
  value: number | null
}

/** Label values restricting an evaluation to some scopes, e.g. `{ model_id: ['credit-scoring'] }`. */
export type DirtyScopes = Readonly<Record<string, readonly string[]>>

/**
 * Runs one KPI's standalone SQL at evaluation time `now`, optionally only for the `dirty` scopes (see
 * `kpiQueryParams`), and returns one sample per scope row.
 */
export async function runKpi(
  ch: ClickHouse,
  kpi: KpiDefinition,
  now: Date,
  dirty?: DirtyScopes,
): Promise<KpiSample[]> {
  const rows = await queryRows<Record<string, unknown>>(ch, kpi.sql, kpiQueryParams(kpi, now, dirty))
  return rows.map((row) => toSample(kpi, row, 'value'))
}

/**
 * Evaluates several KPIs, running each batch query once for all its members (a full sweep: 5 queries
 * for the 21 KPIs) and the others one by one. Samples come back grouped by KPI, in `kpis` order.
 * Queries run one after the other: a sweep should not monopolise the server.
 */
export async function runKpis(
  ch: ClickHouse,
  kpis: readonly KpiDefinition[],
  now: Date,
  dirty?: DirtyScopes,
): Promise<Map<string, KpiSample[]>> {
  const out = new Map<string, KpiSample[]>(kpis.map((k) => [k.id, []]))
  const batches = new Map<string, KpiDefinition[]>()
  const single: KpiDefinition[] = []
  for (const kpi of kpis) {
    if (kpi.batch) batches.set(kpi.batch.id, [...(batches.get(kpi.batch.id) ?? []), kpi])
    else single.push(kpi)
  }
  for (const members of batches.values()) {
    const first = members[0]!
    if (members.length === 1) {
      out.set(first.id, await runKpi(ch, first, now, dirty))
      continue
    }
    const rows = await queryRows<Record<string, unknown>>(
      ch,
      first.batch!.sql,
      kpiQueryParams(first, now, dirty),
    )
    for (const kpi of members) {
      const { column, scopeSet } = kpi.batch!
      const mine = scopeSet === undefined ? rows : rows.filter((row) => row.scope_set === scopeSet)
      out.set(
        kpi.id,
        mine.map((row) => toSample(kpi, row, column)),
      )
    }
  }
  for (const kpi of single) out.set(kpi.id, await runKpi(ch, kpi, now, dirty))
  return out
}

/** A result row → sample; the value must be a finite number, anything else is null. */
export function toSample(kpi: KpiDefinition, row: Record<string, unknown>, column = 'value'): KpiSample {
  const scope: Record<string, string> = {}
  for (const label of kpi.scope) scope[label] = String(row[label] ?? '')
  const raw = row[column]
  let value: number | null = null
  if (raw !== null && raw !== undefined) {
    const n = typeof raw === 'number' ? raw : Number(raw)
    value = Number.isFinite(n) ? n : null
  }
  return { kpiId: kpi.id, scope, value }
}

/**
 * Whether a series of `kpi` was covered by an evaluation restricted to `dirty`: true for a sweep (no
 * `dirty`), for KPIs without filters, and for scopes whose filter labels are among the dirty values.
 * A covered series missing from the result is gone (`evaluateAbsent`); an uncovered one is untouched.
 */
export function coveredBy(
  kpi: KpiDefinition,
  scope: Readonly<Record<string, string>>,
  dirty?: DirtyScopes,
): boolean {
  if (!dirty) return true
  return kpi.filters.every((f) => {
    const values = dirty[f.label]
    if (!values || values.length === 0) return true
    const have = scope[f.label]
    return have !== undefined && values.includes(have)
  })
}

/**
 * What a batch of trigger scopes asks to re-evaluate: the areas touched and the filter values
 * (`model_id`, `incident_id`) for the KPIs that take filters. Evaluate every KPI of those areas with
 * `dirty`: filtered KPIs then compute only the touched scopes, the others are recomputed whole.
 */
export function dirtyFromScopes(scopes: readonly KpiScope[]): { areas: Set<KpiArea>; dirty: DirtyScopes } {
  const areas = new Set<KpiArea>()
  const modelIds = new Set<string>()
  const incidentIds = new Set<string>()
  for (const s of scopes) {
    areas.add(s.area)
    if (s.area === 'model') modelIds.add(s.modelId)
    else if (s.area === 'privacy') incidentIds.add(s.incidentId)
  }
  const dirty: Record<string, string[]> = {}
  if (modelIds.size > 0) dirty.model_id = [...modelIds]
  if (incidentIds.size > 0) dirty.incident_id = [...incidentIds]
  return { areas, dirty }
}
