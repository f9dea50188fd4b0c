import { type ClickHouse, queryRows } from '../../shared/clickhouse/client.js'
import { formatNowParam } from '../../shared/kpi/catalog.js'
import { AUDIT_WINDOWS, type FindingFacts } from '../../shared/kpi/engine/audit.js'
import type { FairnessGroupFacts, ModelVersionFacts } from '../../shared/kpi/engine/model.js'
import { versionKey } from '../../shared/kpi/engine/model.js'
import { type IncidentFacts, PRIVACY_WINDOWS } from '../../shared/kpi/engine/privacy.js'
import {
  type EntityStateDef,
  fairnessGroupState,
  findingState,
  incidentState,
  modelVersionState,
  stateFromFacts,
  stateMergeSelect,
} from '../../shared/kpi/entity-state.js'
import type { Axis } from '../../shared/kpi/sql.js'
import { factVocabulary } from '../../shared/kpi/vocabulary.js'

/**
 * Reads entity state back from the state tables ClickHouse keeps at insert (shared/kpi/entity-state.ts):
 * by id for what a trigger names (primary-key lookups), or everything that can contribute at `now` when
 * an area is taken over. Never the fact tables.
 */

const time = (v: unknown): number | null => (v === null || v === undefined ? null : Date.parse(String(v)))
const mustTime = (v: unknown): number => {
  const t = time(v)
  if (t === null || Number.isNaN(t)) throw new Error(`state row without a time: ${String(v)}`)
  return t
}
/** An event time, never later than its arrival: a producer's clock ahead must not postpone staleness. */
const notAfter = (eventAt: number | null, ingestedAt: number | null): number | null =>
  eventAt === null || ingestedAt === null ? eventAt : Math.min(eventAt, ingestedAt)
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v))
const NOW = `toUnixTimestamp64Milli(toDateTime64({now:DateTime64(3)}, 3, 'UTC'))`
const ms = (col: string) => `toUnixTimestamp64Milli(${col})`

type Row = Record<string, unknown>

function toIncident(r: Row): IncidentFacts {
  return {
    incidentId: String(r.incident_id),
    severity: String(r.severity),
    notifiable: r.notifiable === true || r.notifiable === 1 || r.notifiable === 'true',
    detectedAt: mustTime(r.detected_at),
    occurredAt: time(r.occurred_at),
    containedAt: time(r.contained_at),
    resolvedAt: time(r.resolved_at),
    notifiedAt: time(r.regulator_notified_at),
    awarenessAt: time(r.awareness_at),
    recordsAffected: BigInt(String(r.records_affected ?? 0)),
    lastInputAt: notAfter(time(r.last_event_at), time(r.last_ingested_at)),
  }
}

function toFinding(r: Row): FindingFacts {
  return {
    findingId: String(r.finding_id),
    standard: String(r.standard),
    clause: String(r.clause),
    kind: String(r.kind),
    status: String(r.status),
    raisedAt: mustTime(r.raised_at),
    dueAt: time(r.due_at),
    closedAt: time(r.closed_at),
    repeatOf: r.repeat_of === null || r.repeat_of === undefined ? null : String(r.repeat_of),
    lastInputAt: notAfter(time(r.last_event_at), time(r.last_ingested_at)),
  }
}

function toVersion(r: Row): ModelVersionFacts {
  return {
    modelId: String(r.model_id),
    environment: String(r.environment),
    modelVersion: String(r.model_version),
    firstSeen: mustTime(r.first_event_at),
    lastEventAt: notAfter(time(r.last_event_at), time(r.last_ingested_at)),
    accuracy: num(r.accuracy),
    f1: num(r.f1),
    auc: num(r.auc),
    precision: num(r.precision),
    recall: num(r.recall),
    baseline:
      r.baseline_version === null || r.baseline_version === undefined ? null : String(r.baseline_version),
  }
}

function toGroup(r: Row): FairnessGroupFacts {
  return {
    modelId: String(r.model_id),
    environment: String(r.environment),
    modelVersion: String(r.model_version),
    attribute: String(r.attribute),
    group: String(r.group_name),
    version: versionKey(r.version as string),
    tp: Number(r.tp),
    fp: Number(r.fp),
    tn: Number(r.tn),
    fn: Number(r.fn),
    selected: Number(r.selected ?? 0),
    total: Number(r.total ?? 0),
    cellAttributes: ((r.cell_attributes as unknown[] | undefined) ?? []).map(String),
  }
}

/** The fields the KPI engines read (the state tables hold more, for views and reviews). */
const INCIDENT_FIELDS = [
  'severity',
  'notifiable',
  'detected_at',
  'occurred_at',
  'contained_at',
  'resolved_at',
  'regulator_notified_at',
  'awareness_at',
  'records_affected',
  'last_event_at',
  'last_ingested_at',
]
const FINDING_FIELDS = [
  'standard',
  'clause',
  'kind',
  'status',
  'raised_at',
  'due_at',
  'closed_at',
  'repeat_of',
  'last_event_at',
  'last_ingested_at',
]
const VERSION_FIELDS = [
  'first_event_at',
  'last_event_at',
  'last_ingested_at',
  'accuracy',
  'f1',
  'auc',
  'baseline_version',
]
const GROUP_FIELDS = ['version', 'tp', 'fp', 'tn', 'fn', 'selected', 'total', 'cell_attributes']

const INCIDENTS_BY_ID = stateMergeSelect(incidentState, {
  where: 'incident_id IN {ids:Array(String)}',
  fields: INCIDENT_FIELDS,
})
const FINDINGS_BY_ID = stateMergeSelect(findingState, {
  where: 'finding_id IN {ids:Array(String)}',
  fields: FINDING_FIELDS,
})
const VERSIONS_BY_MODEL = stateMergeSelect(modelVersionState, {
  where: 'model_id IN {ids:Array(String)}',
  fields: VERSION_FIELDS,
})
const GROUPS_BY_MODEL = stateMergeSelect(fairnessGroupState, {
  where: 'model_id IN {ids:Array(String)}',
  fields: GROUP_FIELDS,
})

/** Incidents that contribute at `now` or later without an event, plus `ids` whatever their state. */
const INCIDENTS_LIVE_FILTER = `${ms('detected_at')} > ${NOW} - ${PRIVACY_WINDOWS.durations}
    OR ${ms('contained_at')} > ${NOW} - ${PRIVACY_WINDOWS.durations}
    OR ${ms('resolved_at')} > ${NOW} - ${PRIVACY_WINDOWS.durations}
    OR (notifiable AND regulator_notified_at IS NULL)
    OR has({ids:Array(String)}, incident_id)`
const INCIDENTS_LIVE = stateMergeSelect(incidentState, {
  fields: INCIDENT_FIELDS,
  having: INCIDENTS_LIVE_FILTER,
})

const NC = `kind IN ('${factVocabulary.majorNc}', '${factVocabulary.minorNc}')`
const FINDINGS_LIVE_FILTER = `(${NC} AND status IN (${factVocabulary.findingOpenStatuses.map((s) => `'${s}'`).join(', ')}))
    OR (${NC} AND ${ms('closed_at')} > ${NOW} - ${AUDIT_WINDOWS.closed})
    OR (repeat_of IS NOT NULL AND ${ms('raised_at')} > ${NOW} - ${AUDIT_WINDOWS.repeats})`
const FINDINGS_LIVE = stateMergeSelect(findingState, { fields: FINDING_FIELDS, having: FINDINGS_LIVE_FILTER })

/**
 * The same reads as of `{now}` on one time axis: the entities the live path would hold had only the facts
 * that had happened (event_time) or were known (ingested_at) by then been inserted. An entity with no
 * fact after `now` on that axis is as the state table holds it; the others are reduced again from their
 * facts up to `now` (the same lifecycle rules, shared/kpi/entity-state.ts). So a time near the present
 * costs the entities that changed since, not the whole history.
 */
function asOfSelect(def: EntityStateDef, axis: Axis, fields: readonly string[], where = '1'): string {
  const stored = (name: string) => def.fields.some((f) => f.name === name)
  // Without a last_event_at field the latest event time is the top bits of the order key (`version`).
  const last =
    axis === 'ingested_at' ? 'last_ingested_at' : stored('last_event_at') ? 'last_event_at' : 'version'
  const settledBy =
    last === 'version'
      ? `bitShiftRight(version, 72) <= toUnixTimestamp64Milli({now:DateTime64(3)})`
      : `${last} <= {now:DateTime64(3)}`
  const keys = def.key.join(', ')
  const columns = [...def.key, ...fields].join(', ')
  const settled = stateMergeSelect(def, { fields: [...fields, last], having: settledBy })
  const changed = stateFromFacts(def, {
    where: `(${keys}) IN (SELECT ${keys} FROM ${def.facts} WHERE ${axis} > {now:DateTime64(3)})`,
    asOf: { axis, param: 'now' },
  })
  return `SELECT ${columns}
FROM (
  SELECT ${columns} FROM (${settled})
  UNION ALL
  SELECT ${columns} FROM (${changed})
)
WHERE ${where}`
}
const AS_OF = {
  event_time: asOfQueries('event_time'),
  ingested_at: asOfQueries('ingested_at'),
}
function asOfQueries(axis: Axis) {
  return {
    incidents: asOfSelect(incidentState, axis, INCIDENT_FIELDS, INCIDENTS_LIVE_FILTER),
    findings: asOfSelect(findingState, axis, FINDING_FIELDS, FINDINGS_LIVE_FILTER),
    versions: asOfSelect(modelVersionState, axis, VERSION_FIELDS),
    groups: asOfSelect(fairnessGroupState, axis, GROUP_FIELDS),
  }
}

/**
 * Query parameters travel in the URL, which a ClickHouse server accepts up to http_max_uri_size (1 MiB by
 * default): ids go in chunks of at most this many bytes, well under it.
 */
const CHUNK_BYTES = 256 * 1024

export async function byIds<T>(
  ch: ClickHouse,
  sql: string,
  ids: readonly string[],
  map: (r: Row) => T,
): Promise<T[]> {
  const chunks: string[][] = []
  let chunk: string[] = []
  let bytes = 0
  for (const id of new Set(ids)) {
    // URL-encoded, an id may take three bytes per byte of UTF-8, plus quoting and a comma.
    const size = Buffer.byteLength(id) * 3 + 3
    if (chunk.length > 0 && bytes + size > CHUNK_BYTES) {
      chunks.push(chunk)
      chunk = []
      bytes = 0
    }
    chunk.push(id)
    bytes += size
  }
  if (chunk.length > 0) chunks.push(chunk)
  const out: T[] = []
  for (const part of chunks) {
    for (const r of await queryRows<Row>(ch, sql, { ids: part })) out.push(map(r))
  }
  return out
}

/** The latest input of an area's feed (event time, never later than its arrival), from its facts. */
const LATEST_INPUT = {
  privacy: 'SELECT max(least(event_time, ingested_at)) AS t FROM privacy_incident_events',
  audit: 'SELECT max(least(event_time, ingested_at)) AS t FROM audit_finding_events',
} as const

export const stateReader = {
  /** When the area's latest event happened (null: none yet), for the staleness of its aggregates. */
  async latestInput(ch: ClickHouse, area: keyof typeof LATEST_INPUT): Promise<number | null> {
    const [row] = await queryRows<{ t: string | null }>(ch, `${LATEST_INPUT[area]} HAVING count() > 0`)
    return row ? time(row.t) : null
  },

  /** Every entity the live path would hold at `now`, as of `now` on one time axis (history, backfill). */
  async asOf(
    ch: ClickHouse,
    now: Date,
    axis: Axis,
  ): Promise<{
    incidents: IncidentFacts[]
    findings: FindingFacts[]
    versions: ModelVersionFacts[]
    groups: FairnessGroupFacts[]
  }> {
    const q = AS_OF[axis]
    const params = { now: formatNowParam(now), ids: [] }
    // One at a time: chDB runs parameterised queries one after another anyway.
    const incidents = (await queryRows<Row>(ch, q.incidents, params)).map(toIncident)
    const findings = (await queryRows<Row>(ch, q.findings, params)).map(toFinding)
    const versions = (await queryRows<Row>(ch, q.versions, params)).map(toVersion)
    const groups = (await queryRows<Row>(ch, q.groups, params)).map(toGroup)
    return { incidents, findings, versions, groups }
  },

  incidents: (ch: ClickHouse, ids: readonly string[]) => byIds(ch, INCIDENTS_BY_ID, ids, toIncident),
  findings: (ch: ClickHouse, ids: readonly string[]) => byIds(ch, FINDINGS_BY_ID, ids, toFinding),

  async liveIncidents(ch: ClickHouse, now: Date, alsoIds: readonly string[]): Promise<IncidentFacts[]> {
    const rows = await queryRows<Row>(ch, INCIDENTS_LIVE, { now: formatNowParam(now), ids: [...alsoIds] })
    return rows.map(toIncident)
  },

  async liveFindings(ch: ClickHouse, now: Date): Promise<FindingFacts[]> {
    const rows = await queryRows<Row>(ch, FINDINGS_LIVE, { now: formatNowParam(now) })
    return rows.map(toFinding)
  },

  /** Every version and fairness group of these models (all of them when `ids` is undefined). */
  async models(
    ch: ClickHouse,
    ids: readonly string[] | undefined,
  ): Promise<{ versions: ModelVersionFacts[]; groups: FairnessGroupFacts[] }> {
    if (ids === undefined) {
      const [versions, groups] = await Promise.all([
        queryRows<Row>(ch, stateMergeSelect(modelVersionState, { fields: VERSION_FIELDS })),
        queryRows<Row>(ch, stateMergeSelect(fairnessGroupState, { fields: GROUP_FIELDS })),
      ])
      return { versions: versions.map(toVersion), groups: groups.map(toGroup) }
    }
    const [versions, groups] = await Promise.all([
      byIds(ch, VERSIONS_BY_MODEL, ids, toVersion),
      byIds(ch, GROUPS_BY_MODEL, ids, toGroup),
    ])
    return { versions, groups }
  },
}
