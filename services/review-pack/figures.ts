import { createHash } from 'node:crypto'
import { type ClickHouse, queryRows } from '../../shared/clickhouse/client.js'
import { formatNowParam, getKpi, type KpiArea, kpiAreaSchema } from '../../shared/kpi/catalog.js'
import { canonicalJson, kpiDefinitionVersion } from '../../shared/kpi/definition-version.js'
import { findingState, incidentState, stateFromFacts } from '../../shared/kpi/entity-state.js'
import { modelReferenceQueries, referenceSql } from '../../shared/kpi/sql.js'
import type { ResolverConfig } from '../../shared/kpi/thresholds.js'
import { factVocabulary } from '../../shared/kpi/vocabulary.js'
import type { Period } from './period.js'

/**
 * Every figure of a review pack, computed from the stored facts and the breach and delivery log as known
 * at the pack's time T (ingested_at / recorded_at / attempted_at <= T), so the same call later, on the
 * same stored rows, returns the same figures: that is what verification does. Each figure names the input
 * set it was computed from; an input set carries its query parameters and the sha256 of its rows.
 */

/** A JSON value of a figure: a number, or a small object for intervals, timelines and counts. */
export type FigureValue = number | string | null | { [key: string]: FigureValue } | FigureValue[]

export interface Figure {
  /** Stable and readable: what a verification report names, e.g. `kpi privacy.mttc_hours {} at end`. */
  id: string
  value: FigureValue
  kpiId?: string
  /** shared/kpi/definition-version.ts: the definition the value was computed with. */
  definitionVersion?: string
  /** The id of the input set it was computed from. */
  input: string
}

export interface InputSet {
  id: string
  /** The query's name and its parameters: enough to run it again. */
  query: string
  params: Record<string, string>
  rows: number
  sha256: string
}

export interface FigureSet {
  figures: Figure[]
  inputs: InputSet[]
}

export interface FigureParams {
  period: Period
  /** What was known: facts ingested, transitions recorded and deliveries attempted by then. */
  knownAt: Date
  config?: ResolverConfig
  /**
   * The fact columns hashed per table (all but ingested_at, which a redelivered duplicate changes). Taken
   * from the schema at generation and stored in the manifest, so a later added column does not change
   * what verification hashes.
   */
  factColumns?: Record<string, string[]>
}

const FACT_TABLES: Record<KpiArea, string[]> = {
  privacy: ['privacy_incident_events'],
  audit: ['audit_finding_events'],
  model: ['model_metric_events', 'model_group_counts'],
}

/** Series per incident (the notification clocks) are summarised in a pack: count and longest. */
const PER_ENTITY_LABEL = 'incident_id'
/**
 * A pack reports each model's production version in use at each edge (its latest evaluated version):
 * management reviews the models in service, not every staging run or superseded version.
 */
const PRODUCTION = 'production'

async function productionVersions(
  ch: ClickHouse,
  params: Record<string, string>,
): Promise<Map<string, string>> {
  const rows = await queryRows<{ model_id: string; model_version: string }>(
    ch,
    `SELECT model_id, argMax(model_version, (event_time, event_id)) AS model_version
     FROM model_metric_events
     WHERE environment = '${PRODUCTION}' AND ${KNOWN_FILTER}
     GROUP BY model_id`,
    params,
  )
  return new Map(rows.map((r) => [r.model_id, r.model_version]))
}

/** The "happened by now" filter of the reference SQL, to which "and known by T" is added. */
const EVENT_AXIS_FILTER = 'event_time <= {now:DateTime64(3)}'
const KNOWN_FILTER = `${EVENT_AXIS_FILTER} AND ingested_at <= {known_at:DateTime64(3)}`

/**
 * A reference query (shared/kpi/sql.ts, event-time axis) restricted to the facts known at
 * `{known_at}`: what had happened by `now` according to what was stored by T.
 */
export function knownAtSql(eventAxisSql: string): string {
  if (!eventAxisSql.includes(EVENT_AXIS_FILTER)) {
    throw new Error('reference SQL has no event-time filter to restrict to known facts')
  }
  return eventAxisSql.replaceAll(EVENT_AXIS_FILTER, KNOWN_FILTER)
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

/** `{a=1, b=2}`: a scope as it reads in a figure id (labels sorted). */
export function scopeKey(scope: Readonly<Record<string, string>>): string {
  const labels = Object.keys(scope).sort()
  return `{${labels.map((k) => `${k}=${scope[k]}`).join(', ')}}`
}

export async function factColumnsOf(ch: ClickHouse): Promise<Record<string, string[]>> {
  const tables = Object.values(FACT_TABLES).flat()
  const rows = await queryRows<{ table: string; name: string }>(
    ch,
    `SELECT table, name FROM system.columns
     WHERE database = currentDatabase() AND table IN {tables:Array(String)} AND name != 'ingested_at'
     ORDER BY table, position`,
    { tables },
  )
  const out: Record<string, string[]> = {}
  for (const r of rows) out[r.table] = [...(out[r.table] ?? []), r.name]
  return out
}

interface ReferenceRow {
  kpi_id: string
  scope: Record<string, string>
  value: number | null
  n?: string | number | null
  ci_low?: number | null
  ci_high?: number | null
  reason?: string
}

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v))

export async function computeFigures(ch: ClickHouse, params: FigureParams): Promise<FigureSet> {
  const { period, knownAt, config } = params
  const factColumns = params.factColumns ?? (await factColumnsOf(ch))
  const known = formatNowParam(knownAt)
  const figures: Figure[] = []
  const inputs: InputSet[] = []
  const versions = new Map<string, string>()
  const versionOf = (kpiId: string) => {
    let v = versions.get(kpiId)
    if (v === undefined) {
      v = kpiDefinitionVersion(getKpi(kpiId), config)
      versions.set(kpiId, v)
    }
    return v
  }

  // Facts per area at the start and the end of the period, and every KPI series on them.
  for (const area of kpiAreaSchema.options) {
    for (const [edge, at] of [
      ['start', period.start],
      ['end', period.end],
    ] as const) {
      const input = `facts ${area} at ${edge}`
      const queryParams = { now: formatNowParam(at), known_at: known }
      inputs.push(await hashFacts(ch, input, area, queryParams, factColumns))
      const queries =
        area === 'model'
          ? modelReferenceQueries('event_time', config)
          : [referenceSql[area]('event_time', config)]
      const current = area === 'model' ? await productionVersions(ch, queryParams) : undefined
      const clocks = new Map<string, number[]>()
      for (const query of queries) {
        for (const r of await queryRows<ReferenceRow>(ch, knownAtSql(query), queryParams)) {
          if (PER_ENTITY_LABEL in r.scope) {
            clocks.set(r.kpi_id, [
              ...(clocks.get(r.kpi_id) ?? []),
              ...(r.value === null ? [] : [Number(r.value)]),
            ])
            continue
          }
          if (current && current.get(r.scope.model_id ?? '') !== r.scope.model_version) continue
          if (current && r.scope.environment !== PRODUCTION) continue
          const value: FigureValue =
            r.n === undefined
              ? num(r.value)
              : { value: num(r.value), n: num(r.n), ci_low: num(r.ci_low), ci_high: num(r.ci_high) }
          figures.push({
            id: `kpi ${r.kpi_id} ${scopeKey(r.scope)} at ${edge}`,
            value,
            kpiId: r.kpi_id,
            definitionVersion: versionOf(r.kpi_id),
            input,
          })
        }
      }
      // One figure per per-incident KPI: how many clocks run and the longest one, not one row per incident.
      for (const [kpiId, values] of clocks) {
        figures.push({
          id: `kpi ${kpiId} {} at ${edge}`,
          value: {
            value: values.length === 0 ? null : Math.max(...values),
            n: values.length,
            ci_low: null,
            ci_high: null,
          },
          kpiId,
          definitionVersion: versionOf(kpiId),
          input,
        })
      }
    }
  }

  const periodParams = {
    start: formatNowParam(period.start),
    end: formatNowParam(period.end),
    now: formatNowParam(period.end),
    known_at: known,
  }
  figures.push(...(await auditFigures(ch, periodParams)))
  figures.push(...(await incidentFigures(ch, periodParams)))
  const breaches = await breachFigures(ch, periodParams, period, versionOf)
  figures.push(...breaches.figures)
  inputs.push(...breaches.inputs)
  const deliveries = await deliveryFigures(ch, periodParams)
  figures.push(...deliveries.figures)
  inputs.push(deliveries.input)

  figures.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  return { figures, inputs }
}

/** Rows of the area's fact tables happened by `now` and known at `known_at`, duplicates counted once. */
async function hashFacts(
  ch: ClickHouse,
  id: string,
  area: KpiArea,
  params: Record<string, string>,
  factColumns: Record<string, string[]>,
): Promise<InputSet> {
  let rows = 0
  const parts: string[] = []
  for (const table of FACT_TABLES[area]) {
    const columns = factColumns[table]
    if (!columns || columns.length === 0) throw new Error(`fact table ${table}: no columns to hash`)
    const [r] = await queryRows<{ rows: string; sha256: string }>(
      ch,
      `SELECT count() AS rows, lower(hex(SHA256(arrayStringConcat(arraySort(groupArray(h)))))) AS sha256
       FROM (
         SELECT DISTINCT SHA256(toJSONString(tuple(${columns.map((c) => `\`${c}\``).join(', ')}))) AS h
         FROM ${table}
         WHERE ${KNOWN_FILTER}
       )`,
      params,
    )
    rows += Number(r!.rows)
    parts.push(`${table}:${r!.sha256}`)
  }
  return {
    id,
    query: `facts_known_at:${FACT_TABLES[area].join(',')}`,
    params: { ...params, columns: canonicalJson(FACT_TABLES[area].map((t) => factColumns[t])) },
    rows,
    sha256: sha256(parts.join('\n')),
  }
}

const findingsAtEnd = () =>
  knownAtSql(stateFromFacts(findingState, { asOf: { axis: 'event_time', param: 'now' } }))

const inPeriod = (col: string) =>
  `(${col} IS NOT NULL AND ${col} >= toDateTime64({start:DateTime64(3)}, 3, 'UTC') AND ${col} < toDateTime64({end:DateTime64(3)}, 3, 'UTC'))`

/** Audit results and the NC / corrective action trend, per standard, from the findings known at T. */
async function auditFigures(ch: ClickHouse, params: Record<string, string>): Promise<Figure[]> {
  const input = 'facts audit at end'
  const nc = `kind IN ('${factVocabulary.majorNc}', '${factVocabulary.minorNc}')`
  const results = await queryRows<{
    standard: string
    audit_type: string
    kind: string
    findings: string
    audits: string
  }>(
    ch,
    `SELECT standard, audit_type, kind, count() AS findings, uniqExact(audit_id) AS audits
     FROM (${findingsAtEnd()})
     WHERE ${inPeriod('raised_at')}
     GROUP BY standard, audit_type, kind
     ORDER BY standard, audit_type, kind`,
    params,
  )
  const trend = await queryRows<{ standard: string; month: string; raised: string; closed: string }>(
    ch,
    `SELECT standard, month, sum(raised) AS raised, sum(closed) AS closed
     FROM (
       SELECT standard, formatDateTime(raised_at, '%Y-%m') AS month, 1 AS raised, 0 AS closed
       FROM (${findingsAtEnd()}) WHERE ${nc} AND ${inPeriod('raised_at')}
       UNION ALL
       SELECT standard, formatDateTime(assumeNotNull(closed_at), '%Y-%m') AS month, 0 AS raised, 1 AS closed
       FROM (${findingsAtEnd()}) WHERE ${nc} AND ${inPeriod('closed_at')}
     )
     GROUP BY standard, month
     ORDER BY standard, month`,
    params,
  )
  return [
    ...results.map((r) => ({
      id: `audit results ${r.standard} ${r.audit_type} ${r.kind}`,
      value: { findings: Number(r.findings), audits: Number(r.audits) },
      input,
    })),
    ...trend.map((r) => ({
      id: `nc trend ${r.standard} ${r.month}`,
      value: { raised: Number(r.raised), closed: Number(r.closed) },
      input,
    })),
  ]
}

/** Incidents detected in the period and how their regulator notification went (GDPR Art. 33). */
async function incidentFigures(ch: ClickHouse, params: Record<string, string>): Promise<Figure[]> {
  const deadlineMs = factVocabulary.notificationDeadlineHours * 3_600_000
  const incidents = knownAtSql(stateFromFacts(incidentState, { asOf: { axis: 'event_time', param: 'now' } }))
  // The 72 hours run from awareness, else detection (shared/kpi/engine/privacy.ts clockStart).
  const notifiedMs =
    'toUnixTimestamp64Milli(regulator_notified_at) - toUnixTimestamp64Milli(ifNull(awareness_at, detected_at))'
  const rows = await queryRows<{
    severity: string
    detected: string
    notifiable_n: string
    notified_on_time: string
    notified_late: string
    unnotified: string
    records: string
  }>(
    ch,
    `SELECT severity, count() AS detected, countIf(notifiable) AS notifiable_n,
       countIf(notifiable AND regulator_notified_at IS NOT NULL AND ${notifiedMs} <= ${deadlineMs}) AS notified_on_time,
       countIf(notifiable AND regulator_notified_at IS NOT NULL AND ${notifiedMs} > ${deadlineMs}) AS notified_late,
       countIf(notifiable AND regulator_notified_at IS NULL) AS unnotified,
       sum(records_affected) AS records
     FROM (${incidents})
     WHERE ${inPeriod('detected_at')}
     GROUP BY severity
     ORDER BY severity`,
    params,
  )
  return rows.map((r) => ({
    id: `incidents ${r.severity}`,
    value: {
      detected: Number(r.detected),
      notifiable: Number(r.notifiable_n),
      notified_on_time: Number(r.notified_on_time),
      notified_late: Number(r.notified_late),
      unnotified: Number(r.unnotified),
      records_affected: Number(r.records),
    },
    input: 'facts privacy at end',
  }))
}

interface TransitionRow {
  transition_id: string
  breach_id: string
  fingerprint: string
  kpi_id: string
  scope: Record<string, string>
  transition: string
  severity: string
  value: number | null
  threshold: number | null
  started_text: string
  at_text: string
}

interface DeliveryRow {
  transition_id: string
  sink: string
  attempt: number
  outcome: string
  status_code: number | null
  attempted_text: string
}

const BREACHES_IN_PERIOD = `
  SELECT breach_id
  FROM (
    SELECT breach_id, transition, at FROM breach_transitions
    WHERE recorded_at <= {known_at:DateTime64(3)} AND at < {end:DateTime64(3)}
    LIMIT 1 BY transition_id
  )
  GROUP BY breach_id
  HAVING countIf(transition = 'resolved') = 0 OR maxIf(at, transition = 'resolved') >= {start:DateTime64(3)}`

const ms = (chTime: string) => new Date(`${chTime.replace(' ', 'T')}Z`).getTime()

/**
 * Breaches open at some point in the period, as recorded by T: per breach its timeline (transitions)
 * and delivery evidence (every attempt to every sink), per series the time in breach within the period.
 */
async function breachFigures(
  ch: ClickHouse,
  params: Record<string, string>,
  period: Period,
  versionOf: (kpiId: string) => string,
): Promise<FigureSet> {
  const transitions = await queryRows<TransitionRow>(
    ch,
    `SELECT transition_id, breach_id, fingerprint, kpi_id, scope, transition, severity, value, threshold,
       toString(started_at) AS started_text, toString(at) AS at_text
     FROM breach_transitions
     WHERE recorded_at <= {known_at:DateTime64(3)} AND at < {end:DateTime64(3)}
       AND breach_id IN (${BREACHES_IN_PERIOD})
     ORDER BY breach_id, at, transition_id
     LIMIT 1 BY transition_id`,
    params,
  )
  const deliveries = await queryRows<DeliveryRow>(
    ch,
    `SELECT transition_id, sink, attempt, outcome, status_code, toString(attempted_at) AS attempted_text
     FROM alert_deliveries
     WHERE attempted_at <= {known_at:DateTime64(3)}
       AND transition_id IN (
         SELECT transition_id FROM breach_transitions
         WHERE recorded_at <= {known_at:DateTime64(3)} AND breach_id IN (${BREACHES_IN_PERIOD}))
     ORDER BY transition_id, attempted_at, sink, attempt`,
    params,
  )
  const deliveriesOf = new Map<string, DeliveryRow[]>()
  for (const d of deliveries) {
    const list = deliveriesOf.get(d.transition_id) ?? []
    list.push(d)
    deliveriesOf.set(d.transition_id, list)
  }
  const byBreach = new Map<string, TransitionRow[]>()
  for (const t of transitions) {
    const list = byBreach.get(t.breach_id) ?? []
    list.push(t)
    byBreach.set(t.breach_id, list)
  }

  const figures: Figure[] = []
  const inputs: InputSet[] = []
  const perSeries = new Map<
    string,
    { kpiId: string; scope: Record<string, string>; ms: number; count: number }
  >()
  for (const [breachId, list] of byBreach) {
    const first = list[0]!
    const resolved = list.find((t) => t.transition === 'resolved')
    const evidence = list.map((t) => ({ transition: t, deliveries: deliveriesOf.get(t.transition_id) ?? [] }))
    const input = `breach ${breachId}`
    inputs.push({
      id: input,
      query: 'breach_transitions+alert_deliveries',
      params: { breach_id: breachId, end: params.end!, known_at: params.known_at! },
      rows: list.length + evidence.reduce((n, e) => n + e.deliveries.length, 0),
      sha256: sha256(canonicalJson(evidence)),
    })
    const label = `${first.kpi_id} ${scopeKey(first.scope)}`
    figures.push({
      id: `breach ${label} started ${first.started_text}`,
      value: {
        severity: list.reduce((s, t) => (t.severity === 'critical' ? 'critical' : s), first.severity),
        started_at: first.started_text,
        resolved_at: resolved ? resolved.at_text : null,
        timeline: evidence.map(({ transition: t, deliveries: ds }) => ({
          transition: t.transition,
          severity: t.severity,
          at: t.at_text,
          value: t.value,
          threshold: t.threshold,
          deliveries: ds.map((d) => ({
            sink: d.sink,
            attempt: d.attempt,
            outcome: d.outcome,
            status_code: d.status_code,
            attempted_at: d.attempted_text,
          })),
        })),
      },
      kpiId: first.kpi_id,
      definitionVersion: versionOf(first.kpi_id),
      input,
    })
    const from = Math.max(ms(first.started_text), period.start.getTime())
    const to = Math.min(resolved ? ms(resolved.at_text) : period.end.getTime(), period.end.getTime())
    const series = perSeries.get(label) ?? { kpiId: first.kpi_id, scope: first.scope, ms: 0, count: 0 }
    series.ms += Math.max(0, to - from)
    series.count += 1
    perSeries.set(label, series)
  }
  for (const [label, s] of perSeries) {
    figures.push({
      id: `time in breach ${label}`,
      value: { hours: s.ms / 3_600_000, breaches: s.count },
      kpiId: s.kpiId,
      definitionVersion: versionOf(s.kpiId),
      input: `breaches of ${label}`,
    })
    const own = [...byBreach.entries()].filter(
      ([, l]) => `${l[0]!.kpi_id} ${scopeKey(l[0]!.scope)}` === label,
    )
    inputs.push({
      id: `breaches of ${label}`,
      query: 'breach_transitions',
      params: { end: params.end!, start: params.start!, known_at: params.known_at! },
      rows: own.reduce((n, [, l]) => n + l.length, 0),
      sha256: sha256(canonicalJson(own.map(([, l]) => l))),
    })
  }
  return { figures, inputs }
}

/** Alert delivery in the period per sink: attempts, outcomes and latency (notification performance). */
async function deliveryFigures(
  ch: ClickHouse,
  params: Record<string, string>,
): Promise<{ figures: Figure[]; input: InputSet }> {
  const where = `attempted_at <= {known_at:DateTime64(3)} AND ${inPeriod('attempted_at')}`
  const rows = await queryRows<{ sink: string; outcome: string; attempts: string; p50: number; p95: number }>(
    ch,
    `SELECT sink, outcome, count() AS attempts,
       round(quantileExact(0.5)(latency_ms), 3) AS p50, round(quantileExact(0.95)(latency_ms), 3) AS p95
     FROM alert_deliveries WHERE ${where}
     GROUP BY sink, outcome ORDER BY sink, outcome`,
    params,
  )
  const [h] = await queryRows<{ rows: string; sha256: string }>(
    ch,
    `SELECT count() AS rows, lower(hex(SHA256(arrayStringConcat(arraySort(groupArray(h)))))) AS sha256
     FROM (SELECT SHA256(toJSONString(tuple(*))) AS h FROM alert_deliveries WHERE ${where})`,
    params,
  )
  const input: InputSet = {
    id: 'alert deliveries in period',
    query: 'alert_deliveries',
    params: { start: params.start!, end: params.end!, known_at: params.known_at! },
    rows: Number(h!.rows),
    sha256: h!.sha256,
  }
  return {
    figures: rows.map((r) => ({
      id: `alert deliveries ${r.sink} ${r.outcome}`,
      value: { attempts: Number(r.attempts), latency_ms_p50: r.p50, latency_ms_p95: r.p95 },
      input: input.id,
    })),
    input,
  }
}
