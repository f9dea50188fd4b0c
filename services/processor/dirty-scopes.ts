import type { KpiScope } from '../../shared/events/index.js'
import type { KpiArea } from '../../shared/kpi/catalog.js'
import type { DirtyScopes } from '../../shared/kpi/run.js'

/** What one evaluation round covers: per area, the scope label values touched (or the whole area). */
export type DirtySet = Map<KpiArea, DirtyScopes>

/**
 * Coalesces the scopes of many trigger messages into one filter per area, so each scope is evaluated
 * once per batch however many events touched it. Labels are the KPI catalog's (snake_case).
 */
export function coalesceScopes(scopes: Iterable<KpiScope>): DirtySet {
  const acc = new Map<KpiArea, Map<string, Set<string>>>()
  const add = (area: KpiArea, label: string, value: string) => {
    const labels = acc.get(area) ?? new Map<string, Set<string>>()
    acc.set(area, labels)
    const values = labels.get(label) ?? new Set<string>()
    labels.set(label, values)
    values.add(value)
  }
  for (const s of scopes) {
    switch (s.area) {
      case 'privacy':
        add('privacy', 'incident_id', s.incidentId)
        break
      case 'model':
        add('model', 'model_id', s.modelId)
        break
      case 'audit':
        add('audit', 'standard', s.standard)
        add('audit', 'clause', s.clause)
        break
      default: {
        const unreachable: never = s
        throw new Error(`unknown scope area ${JSON.stringify(unreachable)}`)
      }
    }
  }
  const out: DirtySet = new Map()
  for (const [area, labels] of acc) {
    out.set(area, Object.fromEntries([...labels].map(([label, values]) => [label, [...values]])))
  }
  return out
}

/** Does a series' scope fall inside the filter that was evaluated (so its absence means it is gone)? */
export function withinFilter(
  scope: Readonly<Record<string, string>>,
  filterLabels: readonly string[],
  dirty: DirtyScopes | undefined,
): boolean {
  if (!dirty) return true
  return filterLabels.every((label) => {
    const values = dirty[label]
    const have = scope[label]
    return values === undefined || values.length === 0 || (have !== undefined && values.includes(have))
  })
}
