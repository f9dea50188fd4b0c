import { DAY_MS, HOUR_MS } from './engine/deadlines.js'
import { type AsOf, stateFromFacts } from './entity-state.js'
import { incidentClockState } from './regime-state.js'
import { type Anchor, REGIME_STEP_KPIS, type Regime, type RegimeStep } from './regimes.js'
import type { RegimeRule, RegimesConfig } from './regimes-config.js'

/**
 * The reference definition of the regime clock KPIs (shared/kpi/regimes.ts) over the facts: which
 * regimes apply (the event's list, else the config rules), each step's start and due time, and the share
 * of the allowed time used, for every step whose clock runs at `{now}`. Not on the live path
 * (engine/regime-clocks.ts is); the equivalence tests check both agree, and it spells the rules out for
 * an auditor. Calendar months use ClickHouse's addMonths, which clamps to the month's last day too.
 */

const NOW = `toUnixTimestamp64Milli(toDateTime64({now:DateTime64(3)}, 3, 'UTC'))`
const quote = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
const list = (values: readonly string[]) => `[${values.map(quote).join(', ')}]`
const asList = (v: string | readonly string[]) => (typeof v === 'string' ? [v] : v)

function ruleCondition(rule: RegimeRule): string {
  const m = rule.match
  const parts: string[] = []
  if (m.business_unit !== undefined) parts.push(`has(${list(asList(m.business_unit))}, business_unit)`)
  if (m.category !== undefined) parts.push(`has(${list(asList(m.category))}, category)`)
  if (m.severity !== undefined) parts.push(`has(${list(asList(m.severity))}, severity)`)
  if (m.jurisdiction !== undefined) parts.push(`hasAny(jurisdictions, ${list(asList(m.jurisdiction))})`)
  return `(${parts.join(' AND ')})`
}

/** Whether `regime` applies, as a condition on the clock state's columns. */
export function appliesSql(regime: string, config: RegimesConfig | undefined): string {
  const rules = (config?.rules ?? []).filter((r) => (r.apply as readonly string[]).includes(regime))
  const byRule = rules.length === 0 ? '0' : rules.map(ruleCondition).join(' OR ')
  return `if(notEmpty(regimes), has(regimes, ${quote(regime)}), ${byRule})`
}

/** Incidents any regime of the config could apply to (the live path loads exactly these). */
export function anyRegimeSql(config: RegimesConfig | undefined): string {
  const rules = config?.rules ?? []
  return `(notEmpty(regimes)${rules.map((r) => ` OR ${ruleCondition(r)}`).join('')})`
}

const reportMs = (regime: string, step: string) => {
  const key = quote(`${regime}/${step}`)
  return `if(has(arrayMap(x -> x.1, reports), ${key}), arrayMin(arrayMap(x -> x.2, arrayFilter(x -> x.1 = ${key}, reports))), NULL)`
}

function anchorMs(regime: Regime, anchor: Anchor): string {
  if (anchor === 'detected') return 'det'
  if (anchor === 'awareness') return 'ifNull(aware, det)'
  if (anchor === 'classified') return 'cls'
  return reportMs(regime.id, anchor.afterStep)
}

function dueMs(anchor: string, step: RegimeStep): string {
  const a = step.allowed
  if ('hours' in a) return `${anchor} + ${a.hours * HOUR_MS}`
  if ('days' in a) return `${anchor} + ${a.days * DAY_MS}`
  if ('months' in a) {
    return `toUnixTimestamp64Milli(addMonths(fromUnixTimestamp64Milli(${anchor}, 'UTC'), ${a.months}))`
  }
  return 'NULL'
}

/** One step as a tuple (kpi_id, start, due, sent, applies) over the clock state's columns. */
function stepTuple(kpiId: string, regime: Regime, step: RegimeStep, config: RegimesConfig | undefined) {
  const anchor = anchorMs(regime, step.anchor)
  let start = `(${anchor})`
  let due = `(${dueMs(anchor, step)})`
  if (step.cap) {
    const capStart = anchorMs(regime, step.cap.anchor)
    const capDue = `${capStart} + ${step.cap.hours * HOUR_MS}`
    start = `if(${start} IS NULL, ${capStart}, least(${start}, ${capStart}))`
    due = `if(${due} IS NULL, ${capDue}, least(${due}, ${capDue}))`
  }
  const nullableMs = (e: string) => `CAST(${e} AS Nullable(Int64))`
  return `(${quote(kpiId)}, ${nullableMs(start)}, ${nullableMs(due)}, ${nullableMs(reportMs(regime.id, step.id))}, toUInt8(${appliesSql(regime.id, config)}))`
}

/**
 * The regime clock series at `{now}`: rows (kpi_id, scope, value), the privacy reference's shape. The
 * state is reduced from the facts once; each step is a tuple of an ARRAY JOIN.
 */
export function regimeReferenceSql(asOf: AsOf, config: RegimesConfig | undefined): string {
  const state = stateFromFacts(incidentClockState, { asOf })
  const steps = REGIME_STEP_KPIS.map(({ kpiId, regime, step }) => stepTuple(kpiId, regime, step, config))
  return `SELECT kpi_id, CAST(map('incident_id', incident_id), 'Map(String, String)') AS scope,
  CAST(if(__due - __start <= 0, if(__now >= __due, 1, 0), greatest(0, (__now - __start) / (__due - __start))) AS Nullable(Float64)) AS value
FROM (
  SELECT incident_id, ${NOW} AS __now, s.1 AS kpi_id, s.2 AS __start, s.3 AS __due, s.4 AS __sent, s.5 AS __applies
  FROM (
    SELECT incident_id, business_unit, category, severity, regimes, jurisdictions, reports,
      toUnixTimestamp64Milli(detected_at) AS det, toUnixTimestamp64Milli(awareness_at) AS aware,
      toUnixTimestamp64Milli(classified_at) AS cls
    FROM (${state})
  )
  ARRAY JOIN [
    ${steps.join(',\n    ')}
  ] AS s
)
WHERE __applies = 1 AND __start IS NOT NULL AND __due IS NOT NULL AND __sent IS NULL`
}
