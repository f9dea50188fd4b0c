import type { Silence } from '../../../shared/alerts/silence.js'
import { type ClickHouse, queryRows } from '../../../shared/clickhouse/client.js'
import { parseClickHouseTime, toClickHouseTime } from '../../../shared/kpi/breach-state.js'
import type { ActionKind } from './schemas.js'

/** The response loop's evidence in ClickHouse: breach actions (0008) and silences (0009). */

export interface BreachSummary {
  breachId: string
  fingerprint: string
  kpiId: string
  scope: Record<string, string>
  startedAt: Date
  severity: 'warning' | 'critical'
  value: number | null
  threshold: number | null
  resolved: boolean
}

const BREACH_SQL = `
SELECT any(fingerprint) AS fingerprint, any(kpi_id) AS kpi_id, any(scope) AS scope,
       min(started_at) AS started_at,
       if(countIf(severity = 'critical') > 0, 'critical', 'warning') AS severity,
       argMax(tuple(value), at).1 AS value, argMax(tuple(threshold), at).1 AS threshold,
       countIf(transition = 'resolved') > 0 AS resolved
FROM (SELECT DISTINCT transition_id, fingerprint, kpi_id, scope, transition, severity, value, threshold, started_at, at
      FROM breach_transitions WHERE breach_id = {id:String})
HAVING count() > 0`

export async function findBreach(ch: ClickHouse, breachId: string): Promise<BreachSummary | undefined> {
  const [row] = await queryRows<{
    fingerprint: string
    kpi_id: string
    scope: Record<string, string>
    started_at: string
    severity: 'warning' | 'critical'
    value: number | null
    threshold: number | null
    resolved: number | boolean
  }>(ch, BREACH_SQL, { id: breachId })
  if (!row) return undefined
  return {
    breachId,
    fingerprint: row.fingerprint,
    kpiId: row.kpi_id,
    scope: row.scope,
    startedAt: parseClickHouseTime(row.started_at),
    severity: row.severity,
    value: row.value,
    threshold: row.threshold,
    resolved: Boolean(Number(row.resolved)),
  }
}

/** KPI id of each breach (the caller checks areas); breaches unknown to ClickHouse are absent. */
export async function kpisOfBreaches(ch: ClickHouse, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map()
  const rows = await queryRows<{ breach_id: string; kpi_id: string }>(
    ch,
    'SELECT breach_id, any(kpi_id) AS kpi_id FROM breach_transitions WHERE has({ids:Array(String)}, breach_id) GROUP BY breach_id',
    { ids },
  )
  return new Map(rows.map((r) => [r.breach_id, r.kpi_id]))
}

export interface ActionRow {
  action_id: string
  breach_id: string
  fingerprint: string
  kpi_id: string
  scope: Record<string, string>
  action: ActionKind
  actor: string
  actor_roles: string[]
  owner: string
  comment: string
  at: string
}

export async function insertAction(ch: ClickHouse, row: ActionRow): Promise<void> {
  await ch.client.insert({ table: 'breach_actions', values: [row], format: 'JSONEachRow' })
}

export async function listActions(ch: ClickHouse, breachId: string): Promise<ActionRow[]> {
  return queryRows<ActionRow>(
    ch,
    `SELECT action_id, breach_id, fingerprint, kpi_id, scope, action, actor, actor_roles, owner, comment, at
     FROM breach_actions WHERE breach_id = {id:String}
     ORDER BY at, recorded_at, action_id LIMIT 1 BY action_id LIMIT 10000`,
    { id: breachId },
  )
}

interface SilenceRow {
  silence_id: string
  kpi_id: string
  scope: Record<string, string>
  starts_at: string
  ends_at: string
  author: string
  reason: string
  created_at: string
  expired_at: string | null
  expired_by: string
  version: string | number
}

const iso = (text: string) => parseClickHouseTime(text).toISOString()

export async function insertSilence(ch: ClickHouse, s: Silence, version: number): Promise<void> {
  const row: SilenceRow = {
    silence_id: s.id,
    kpi_id: s.kpi ?? '',
    scope: s.scope,
    starts_at: toClickHouseTime(new Date(s.startsAt)),
    ends_at: toClickHouseTime(new Date(s.endsAt)),
    author: s.author,
    reason: s.reason,
    created_at: toClickHouseTime(new Date(s.createdAt)),
    expired_at: s.expiredAt ? toClickHouseTime(new Date(s.expiredAt)) : null,
    expired_by: s.expiredBy ?? '',
    version,
  }
  await ch.client.insert({ table: 'silences', values: [row], format: 'JSONEachRow' })
}

/** Every silence in its latest version, newest first. */
export async function listSilences(ch: ClickHouse, limit: number): Promise<Silence[]> {
  const rows = await queryRows<SilenceRow>(
    ch,
    `SELECT * FROM silences ORDER BY silence_id, version DESC LIMIT 1 BY silence_id`,
  )
  return rows
    .map(
      (r): Silence => ({
        id: r.silence_id,
        kpi: r.kpi_id === '' ? null : r.kpi_id,
        scope: r.scope,
        startsAt: iso(r.starts_at),
        endsAt: iso(r.ends_at),
        author: r.author,
        reason: r.reason,
        createdAt: iso(r.created_at),
        ...(r.expired_at ? { expiredAt: iso(r.expired_at) } : {}),
        ...(r.expired_by ? { expiredBy: r.expired_by } : {}),
      }),
    )
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
    .slice(0, limit)
}
