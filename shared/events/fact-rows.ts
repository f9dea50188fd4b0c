import { cellName, type IntersectionalCell, marginalGroups } from '../kpi/fairness/intersectional.js'
import type { AuditFindingEvent } from './audit-finding.js'
import { AUDIT_FINDING_TYPE } from './audit-finding.js'
import type { ModelMetricsEvent } from './model-metrics.js'
import { intersectionName, MODEL_METRICS_TYPE, namedMetrics } from './model-metrics.js'
import type { AimsEvent } from './parse.js'
import type { PrivacyIncidentEvent } from './privacy-incident.js'
import { PRIVACY_INCIDENT_TYPE } from './privacy-incident.js'
import { toClickHouseDateTime } from './time.js'

/**
 * Event → rows of the fact tables in deploy/clickhouse/migrations/0001_facts.sql. Keys are the column
 * names exactly (a unit test parses the DDL to keep them in step); `ingested_at` is left to its DEFAULT.
 * Value conventions (the collector writes them as TabSeparated, see shared/clickhouse/tab-separated.ts;
 * JSONEachRow reads them the same way): DateTime64 columns get 'YYYY-MM-DD HH:MM:SS.mmm' in UTC (parsed
 * by ClickHouse's default input format, no best_effort setting needed), absent Nullable values null,
 * absent String values '', UInt64 numbers (all bounded far below 2^53 by the schemas).
 * Rows are type aliases rather than interfaces so they are assignable to Record<string, unknown>.
 */

function optionalDateTime(value: string | undefined): string | null {
  return value === undefined ? null : toClickHouseDateTime(value)
}

export type PrivacyIncidentRow = {
  event_id: string
  event_time: string
  source: string
  incident_id: string
  status: string
  severity: string
  category: string
  business_unit: string
  occurred_at: string | null
  detected_at: string
  contained_at: string | null
  resolved_at: string | null
  closed_at: string | null
  notifiable: boolean
  regulator_notified_at: string | null
  records_affected: number
  data_subjects_affected: number
  ai_system_id: string
  controls: string[]
  /** Notification regimes (migration 0010): see shared/events/privacy-incident-regimes.ts. */
  awareness_at: string | null
  classified_at: string | null
  regimes: string[]
  jurisdictions: string[]
  /** Reports as two parallel arrays: `regime/step` and its sending time. */
  report_steps: string[]
  report_sent_at: string[]
}

export type ModelMetricRow = {
  event_id: string
  event_time: string
  source: string
  model_id: string
  model_version: string
  environment: string
  business_unit: string
  baseline_version: string
  window_start: string
  window_end: string
  sample_size: number
  /** Named and extra metrics in one map, e.g. { accuracy: 0.91, log_loss: 0.3 }. */
  metrics: Record<string, number>
}

export type ModelGroupCountRow = {
  event_id: string
  event_time: string
  model_id: string
  model_version: string
  environment: string
  attribute: string
  group_name: string
  tp: number
  fp: number
  tn: number
  fn: number
  /** Prediction-only counts (0 / 0 when the event gave none for the group; a given total is >= 1). */
  selected: number
  total: number
  /** An intersection's attributes, in order, when the row is one of its cells; [] otherwise. */
  cell_attributes: string[]
}

export type AuditFindingRow = {
  event_id: string
  event_time: string
  source: string
  finding_id: string
  audit_id: string
  audit_type: string
  standard: string
  clause: string
  kind: string
  status: string
  business_unit: string
  title: string
  owner: string
  raised_at: string
  due_at: string | null
  closed_at: string | null
  repeat_of: string
}

export interface FactRowByTable {
  privacy_incident_events: PrivacyIncidentRow
  model_metric_events: ModelMetricRow
  model_group_counts: ModelGroupCountRow
  audit_finding_events: AuditFindingRow
}
export type FactTable = keyof FactRowByTable

/** One row tagged with its table. */
export type FactRow = { [T in FactTable]: { table: T; row: FactRowByTable[T] } }[FactTable]

/** Rows grouped by table, the shape a batched insert wants (one INSERT per non-empty table). */
export type FactBatch = { [T in FactTable]: FactRowByTable[T][] }

/** Where appendFactRows puts rows: a FactBatch, or per-table encoders that keep no row objects. */
export type FactSink = { [T in FactTable]: { push(row: FactRowByTable[T]): unknown } }

/** The columns each row fills, in DDL order; pass as the insert's column list so DEFAULTs apply. */
export const factColumns: { [T in FactTable]: readonly (keyof FactRowByTable[T])[] } = {
  privacy_incident_events: [
    'event_id',
    'event_time',
    'source',
    'incident_id',
    'status',
    'severity',
    'category',
    'business_unit',
    'occurred_at',
    'detected_at',
    'contained_at',
    'resolved_at',
    'closed_at',
    'notifiable',
    'regulator_notified_at',
    'records_affected',
    'data_subjects_affected',
    'ai_system_id',
    'controls',
    'awareness_at',
    'classified_at',
    'regimes',
    'jurisdictions',
    'report_steps',
    'report_sent_at',
  ],
  model_metric_events: [
    'event_id',
    'event_time',
    'source',
    'model_id',
    'model_version',
    'environment',
    'business_unit',
    'baseline_version',
    'window_start',
    'window_end',
    'sample_size',
    'metrics',
  ],
  model_group_counts: [
    'event_id',
    'event_time',
    'model_id',
    'model_version',
    'environment',
    'attribute',
    'group_name',
    'tp',
    'fp',
    'tn',
    'fn',
    'selected',
    'total',
    'cell_attributes',
  ],
  audit_finding_events: [
    'event_id',
    'event_time',
    'source',
    'finding_id',
    'audit_id',
    'audit_type',
    'standard',
    'clause',
    'kind',
    'status',
    'business_unit',
    'title',
    'owner',
    'raised_at',
    'due_at',
    'closed_at',
    'repeat_of',
  ],
}

export const factTables = Object.keys(factColumns) as FactTable[]

export function emptyFactBatch(): FactBatch {
  return {
    privacy_incident_events: [],
    model_metric_events: [],
    model_group_counts: [],
    audit_finding_events: [],
  }
}

export function privacyIncidentRow(event: PrivacyIncidentEvent): PrivacyIncidentRow {
  const d = event.data
  return {
    event_id: event.id,
    event_time: toClickHouseDateTime(event.time),
    source: event.source,
    incident_id: d.incidentId,
    status: d.status,
    severity: d.severity,
    category: d.category,
    business_unit: d.businessUnit,
    occurred_at: optionalDateTime(d.occurredAt),
    detected_at: toClickHouseDateTime(d.detectedAt),
    contained_at: optionalDateTime(d.containedAt),
    resolved_at: optionalDateTime(d.resolvedAt),
    closed_at: optionalDateTime(d.closedAt),
    notifiable: d.notifiable,
    regulator_notified_at: optionalDateTime(d.regulatorNotifiedAt),
    records_affected: d.recordsAffected,
    data_subjects_affected: d.dataSubjectsAffected,
    ai_system_id: d.aiSystemId ?? '',
    // Repeats carry no meaning and would double count "incidents per control".
    controls: d.controls.length > 1 ? [...new Set(d.controls)] : d.controls,
    awareness_at: optionalDateTime(d.awarenessAt),
    classified_at: optionalDateTime(d.classifiedAt),
    regimes: d.regimes ?? [],
    jurisdictions: d.jurisdictions ?? [],
    report_steps: (d.reports ?? []).map((r) => `${r.regime}/${r.step}`),
    report_sent_at: (d.reports ?? []).map((r) => toClickHouseDateTime(r.sentAt)),
  }
}

export function modelMetricRow(event: ModelMetricsEvent): ModelMetricRow {
  const d = event.data
  const metrics: Record<string, number> = {}
  for (const name of namedMetrics) {
    const value = d.metrics[name]
    if (value !== undefined) metrics[name] = value
  }
  if (d.metrics.extra !== undefined) Object.assign(metrics, d.metrics.extra)
  return {
    event_id: event.id,
    event_time: toClickHouseDateTime(event.time),
    source: event.source,
    model_id: d.modelId,
    model_version: d.modelVersion,
    environment: d.environment,
    business_unit: d.businessUnit,
    baseline_version: d.baselineVersion ?? '',
    window_start: toClickHouseDateTime(d.window.start),
    window_end: toClickHouseDateTime(d.window.end),
    sample_size: d.sampleSize,
    metrics,
  }
}

type Counts = { tp: number; fp: number; tn: number; fn: number; selected: number; total: number }
const NO_COUNTS: Counts = { tp: 0, fp: 0, tn: 0, fn: 0, selected: 0, total: 0 }

/**
 * One row per (attribute, group): a group's labelled confusion counts (`fairness`) and its prediction
 * counts (`predictions`) share a row; each intersection's cells are rows of the attribute
 * `intersectionName(attributes)` named by `cellName`; an attribute named by an intersection but sent
 * neither in `fairness` nor in `predictions` gets rows of the cells' sums (its parent attribute, assessed
 * even when cells are too small to judge).
 */
export function modelGroupCountRows(event: ModelMetricsEvent): ModelGroupCountRow[] {
  const d = event.data
  const eventTime = toClickHouseDateTime(event.time)
  const attributes = new Map<string, { cells: string[]; groups: Map<string, Counts> }>()
  const groupOf = (attribute: string, group: string, cells: string[] = []) => {
    let a = attributes.get(attribute)
    if (a === undefined) {
      a = { cells, groups: new Map() }
      attributes.set(attribute, a)
    }
    let g = a.groups.get(group)
    if (g === undefined) {
      g = { ...NO_COUNTS }
      a.groups.set(group, g)
    }
    return g
  }
  for (const { attribute, groups } of d.fairness) {
    for (const { group, tp, fp, tn, fn } of groups)
      Object.assign(groupOf(attribute, group), { tp, fp, tn, fn })
  }
  for (const { attribute, groups } of d.predictions ?? []) {
    for (const { group, selected, total } of groups)
      Object.assign(groupOf(attribute, group), { selected, total })
  }
  const plain = new Set(attributes.keys())
  const derived = new Set<string>()
  for (const x of d.intersections ?? []) {
    const cells: IntersectionalCell[] = x.cells.map((c) => ({
      values: c.values,
      counts:
        c.total !== undefined
          ? { selected: c.selected ?? 0, total: c.total }
          : { tp: c.tp ?? 0, fp: c.fp ?? 0, tn: c.tn ?? 0, fn: c.fn ?? 0 },
    }))
    const name = intersectionName(x.attributes)
    for (const c of cells)
      Object.assign(groupOf(name, cellName(c.values, x.attributes), x.attributes), c.counts)
    for (const attribute of x.attributes) {
      if (plain.has(attribute) || derived.has(attribute)) continue
      derived.add(attribute)
      for (const { group, ...sums } of marginalGroups(cells, attribute))
        Object.assign(groupOf(attribute, group), sums)
    }
  }
  const rows: ModelGroupCountRow[] = []
  for (const [attribute, a] of attributes) {
    for (const [group, c] of a.groups) {
      rows.push({
        event_id: event.id,
        event_time: eventTime,
        model_id: d.modelId,
        model_version: d.modelVersion,
        environment: d.environment,
        attribute,
        group_name: group,
        tp: c.tp,
        fp: c.fp,
        tn: c.tn,
        fn: c.fn,
        selected: c.selected,
        total: c.total,
        cell_attributes: a.cells,
      })
    }
  }
  return rows
}

export function auditFindingRow(event: AuditFindingEvent): AuditFindingRow {
  const d = event.data
  return {
    event_id: event.id,
    event_time: toClickHouseDateTime(event.time),
    source: event.source,
    finding_id: d.findingId,
    audit_id: d.auditId,
    audit_type: d.auditType,
    standard: d.standard,
    clause: d.clause,
    kind: d.kind,
    status: d.status,
    business_unit: d.businessUnit,
    title: d.title,
    owner: d.owner,
    raised_at: toClickHouseDateTime(d.raisedAt),
    due_at: optionalDateTime(d.dueAt),
    closed_at: optionalDateTime(d.closedAt),
    repeat_of: d.repeatOf ?? '',
  }
}

/** Adds the rows of one valid event to `batch` (the collector's path: no per-event arrays). */
export function appendFactRows(batch: FactSink, event: AimsEvent): void {
  switch (event.type) {
    case PRIVACY_INCIDENT_TYPE:
      batch.privacy_incident_events.push(privacyIncidentRow(event))
      return
    case MODEL_METRICS_TYPE:
      batch.model_metric_events.push(modelMetricRow(event))
      for (const row of modelGroupCountRows(event)) batch.model_group_counts.push(row)
      return
    case AUDIT_FINDING_TYPE:
      batch.audit_finding_events.push(auditFindingRow(event))
      return
  }
}

/** The rows one valid event becomes, each tagged with its table (a model event: 1 + one per group). */
export function toFactRows(event: AimsEvent): FactRow[] {
  switch (event.type) {
    case PRIVACY_INCIDENT_TYPE:
      return [{ table: 'privacy_incident_events', row: privacyIncidentRow(event) }]
    case MODEL_METRICS_TYPE:
      return [
        { table: 'model_metric_events', row: modelMetricRow(event) },
        ...modelGroupCountRows(event).map((row) => ({ table: 'model_group_counts' as const, row })),
      ]
    case AUDIT_FINDING_TYPE:
      return [{ table: 'audit_finding_events', row: auditFindingRow(event) }]
  }
}
