import {
  type EntityStateDef,
  INCIDENT_RANK,
  ORDER_KEY_TYPE,
  stateBackfill,
  stateTableDdl,
  stateViewDdl,
} from './entity-state.js'
import type { RegimeIncidentFacts } from './regimes.js'

/**
 * The state the notification clocks read, per incident, kept by ClickHouse at insert like the other
 * entity states (shared/kpi/entity-state.ts) in its own table, so the v1 incident state (migration 0003)
 * stays as it is. Migration 0010 is generated here (a unit test checks the file).
 * Lifecycle rules: awareness, classification, the regimes and jurisdictions named are sticky (a later
 * event that omits them keeps them); reports are the union of all reports ever given (a report once sent
 * stays sent; the earliest time of a step counts).
 */

const TIME = "DateTime64(3, 'UTC')"
const optionalTime = (name: string) =>
  ({ name, type: 'Int64', reduce: { kind: 'sticky' }, encoding: 'time' }) as const

export const incidentClockState: EntityStateDef = {
  table: 'incident_clock_state',
  facts: 'privacy_incident_events',
  key: ['incident_id'],
  rank: INCIDENT_RANK,
  fields: [
    { name: 'version', type: ORDER_KEY_TYPE, expr: '__k', reduce: { kind: 'max' } },
    { name: 'last_event_at', type: TIME, expr: 'event_time', reduce: { kind: 'max' } },
    { name: 'status', type: 'String', expr: 'toString(status)', reduce: { kind: 'latest' } },
    { name: 'severity', type: 'String', expr: 'toString(severity)', reduce: { kind: 'latest' } },
    { name: 'category', type: 'String', expr: 'toString(category)', reduce: { kind: 'latest' } },
    { name: 'business_unit', type: 'String', expr: 'toString(business_unit)', reduce: { kind: 'latest' } },
    { name: 'notifiable', type: 'Bool', reduce: { kind: 'latest' } },
    { name: 'detected_at', type: TIME, reduce: { kind: 'latest' } },
    optionalTime('regulator_notified_at'),
    optionalTime('awareness_at'),
    optionalTime('classified_at'),
    { name: 'regimes', type: 'Array(String)', given: 'notEmpty(regimes)', reduce: { kind: 'sticky' } },
    {
      name: 'jurisdictions',
      type: 'Array(String)',
      given: 'notEmpty(jurisdictions)',
      reduce: { kind: 'sticky' },
    },
    {
      name: 'reports',
      type: 'Array(Tuple(String, Int64))',
      expr: 'arrayMap((s, t) -> (s, toUnixTimestamp64Milli(t)), report_steps, report_sent_at)',
      reduce: { kind: 'union' },
    },
  ],
}

/** Columns migration 0010 adds to privacy_incident_events (what the event's optional fields carry). */
export const REGIME_FACT_COLUMNS = [
  ['awareness_at', `Nullable(${TIME})`],
  ['classified_at', `Nullable(${TIME})`],
  ['regimes', 'Array(String)'],
  ['jurisdictions', 'Array(String)'],
  ['report_steps', 'Array(String)'],
  ['report_sent_at', `Array(${TIME})`],
] as const

/** Migration 0010: the fact columns, then the clock state table, its view and its back-fill. */
export function regimeClockMigration(): string {
  const header = `-- Regulatory notification clocks (issue 13 item 6): generated from shared/kpi/regime-state.ts (a unit
-- test checks this file is exactly what it generates). privacy_incident_events gains the optional fields
-- of the incident contract that the clocks need; incident_clock_state keeps, per incident, what the clocks
-- read, fed by a materialized view and back-filled once from the facts stored before it existed.
`
  const parts = [
    `ALTER TABLE privacy_incident_events\n${REGIME_FACT_COLUMNS.map(([c, t]) => `  ADD COLUMN IF NOT EXISTS ${c} ${t}`).join(',\n')}`,
    stateTableDdl(incidentClockState),
    stateViewDdl(incidentClockState),
    stateBackfill(incidentClockState),
  ]
  return `${header}\n${parts.map((p) => `${p};`).join('\n\n')}\n`
}

type Row = Record<string, unknown>
const time = (v: unknown): number | null => (v === null || v === undefined ? null : Date.parse(String(v)))

/** A row of `stateMergeSelect(incidentClockState)` (or `stateFromFacts`) as the clocks read it. */
export function toRegimeFacts(r: Row): RegimeIncidentFacts {
  const reports = new Map<string, number>()
  for (const entry of (r.reports as unknown[] | undefined) ?? []) {
    // JSON formats give a tuple as an array, or as an object keyed by position.
    const [step, at] = Array.isArray(entry) ? entry : Object.values(entry as object)
    const t = Number(at)
    const key = String(step)
    const known = reports.get(key)
    if (known === undefined || t < known) reports.set(key, t)
  }
  const detectedAt = time(r.detected_at)
  if (detectedAt === null || Number.isNaN(detectedAt)) {
    throw new Error(`incident_clock_state row without detected_at: ${String(r.incident_id)}`)
  }
  return {
    incidentId: String(r.incident_id),
    detectedAt,
    awarenessAt: time(r.awareness_at),
    classifiedAt: time(r.classified_at),
    notifiable: r.notifiable === true || r.notifiable === 1 || r.notifiable === 'true',
    notifiedAt: time(r.regulator_notified_at),
    businessUnit: String(r.business_unit ?? ''),
    category: String(r.category ?? ''),
    severity: String(r.severity ?? ''),
    regimes: ((r.regimes as unknown[] | null | undefined) ?? []).map(String),
    jurisdictions: ((r.jurisdictions as unknown[] | null | undefined) ?? []).map(String),
    reports,
  }
}
