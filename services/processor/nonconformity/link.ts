import { type ClickHouse, queryRows } from '../../../shared/clickhouse/client.js'
import type { AuditFindingEvent } from '../../../shared/events/audit-finding.js'
import { parseClickHouseTime, toClickHouseTime } from '../../../shared/kpi/breach-state.js'
import type { BreachEpisode } from './finding.js'
import type { Claim } from './schedule.js'

/** A row of `breach_nonconformities` (0014), without the defaulted recorded_at. */
export interface LinkRow {
  breach_id: string
  fingerprint: string
  kpi_id: string
  scope: Record<string, string>
  finding_id: string
  event_id: string
  standard: string
  clause: string
  iso_references: string[]
  kind: string
  repeat_of: string
  opened_by: string
  requested_by: string
  critical_since: string | null
  raised_at: string
  due_at: string
}

/** The breach's nonconformity as the read API shows it (a type alias: assignable to the loose response schema). */
export type NonconformityLink = {
  findingId: string
  eventId: string
  kind: string
  standard: string
  clause: string
  references: string[]
  repeatOf: string | null
  openedBy: string
  requestedBy: string | null
  criticalSince: string | null
  raisedAt: string
  dueAt: string
}

const iso = (text: string) => parseClickHouseTime(text).toISOString()

export function toLinkRow(episode: BreachEpisode, event: AuditFindingEvent, claim: Claim): LinkRow {
  const d = event.data
  const refs = typeof event.isorefs === 'string' ? event.isorefs.split(' ').filter((r) => r !== '') : []
  return {
    breach_id: episode.breachId,
    fingerprint: episode.fingerprint,
    kpi_id: episode.kpiId,
    scope: { ...episode.scope },
    finding_id: d.findingId,
    event_id: event.id,
    standard: d.standard,
    clause: d.clause,
    iso_references: refs,
    kind: d.kind,
    repeat_of: d.repeatOf ?? '',
    opened_by: claim.openedBy,
    requested_by: claim.requestedBy,
    critical_since: claim.criticalSince === null ? null : toClickHouseTime(new Date(claim.criticalSince)),
    raised_at: toClickHouseTime(new Date(d.raisedAt)),
    due_at: toClickHouseTime(new Date(d.dueAt ?? d.raisedAt)),
  }
}

export function toLink(r: LinkRow): NonconformityLink {
  return {
    findingId: r.finding_id,
    eventId: r.event_id,
    kind: r.kind,
    standard: r.standard,
    clause: r.clause,
    references: [...r.iso_references],
    repeatOf: r.repeat_of || null,
    openedBy: r.opened_by,
    requestedBy: r.requested_by || null,
    criticalSince: r.critical_since === null ? null : iso(r.critical_since),
    raisedAt: iso(r.raised_at),
    dueAt: iso(r.due_at),
  }
}

/** The finding of the latest earlier episode of the same series (fingerprint). */
export const PREVIOUS_FINDING_SQL = `
SELECT finding_id FROM breach_nonconformities
WHERE fingerprint = {fingerprint:String} AND breach_id != {breach_id:String}
  AND raised_at <= {before:DateTime64(3)}
ORDER BY raised_at DESC, finding_id DESC
LIMIT 1`

const LINK_SQL = `
SELECT breach_id, fingerprint, kpi_id, scope, finding_id, event_id, standard, clause, iso_references, kind,
       repeat_of, opened_by, requested_by, critical_since, raised_at, due_at
FROM breach_nonconformities
WHERE breach_id = {id:String}
LIMIT 1`

/** The nonconformity a breach opened, if any. */
export async function nonconformityOf(ch: ClickHouse, breachId: string): Promise<NonconformityLink | null> {
  const [row] = await queryRows<LinkRow>(ch, LINK_SQL, { id: breachId })
  return row ? toLink(row) : null
}
