import {
  AUDIT_FINDING_TYPE,
  type AuditFindingEvent,
  auditFindingEventSchema,
} from '../../../shared/events/audit-finding.js'
import type { KpiDefinition } from '../../../shared/kpi/catalog.js'
import {
  type NonconformitySettings,
  nonconformityReferences,
  primaryReference,
} from '../../../shared/kpi/nonconformity.js'

/**
 * A breach episode → the audit-finding event that opens its nonconformity (contract v1, unchanged).
 * Everything in it derives from the episode and the request, so whoever builds it for the same episode
 * (another replica, a restart) builds the same ids: the finding id and the event id name the breach, and
 * the collector keeps one copy of an event id.
 *
 * How the finding points back at the breach: `source` is the breach's path in the read API, `subject` and
 * the `breachid` extension its id; `isorefs` lists every reference cited (9.1 and 10.2 of both standards,
 * then the KPI's own), since the contract files a finding under one (standard, clause).
 */

export interface BreachEpisode {
  breachId: string
  fingerprint: string
  kpiId: string
  scope: Record<string, string>
  /** When the breach fired (ms). */
  startedAt: number
  /** Since when it has been critical (ms); null when opened on request for a breach that never was. */
  criticalSince: number | null
}

export interface OpenRequest {
  /** When the finding is raised (ms): the time the breach had been critical for `after`, or the request's. */
  raisedAt: number
  openedBy: 'timer' | 'request'
  /** The caller's name (token name or JWT subject) for an on-demand request. */
  requestedBy?: string
  /** The caller's words, for an on-demand request. */
  reason?: string
  /** The finding of this KPI and scope's previous breach episode. */
  repeatOf?: string
}

const DAY_MS = 86_400_000
const TITLE_MAX = 500

export const findingIdOf = (breachId: string) => `NC-${breachId}`
export const eventIdOf = (breachId: string) => `${findingIdOf(breachId)}-opened`
/** The breach in the read API: the finding's `source`. */
export const breachSource = (breachId: string) => `/api/breaches/${encodeURIComponent(breachId)}`

function describeScope(scope: Readonly<Record<string, string>>): string {
  const entries = Object.entries(scope).sort(([a], [b]) => a.localeCompare(b))
  return entries.length === 0 ? 'overall' : entries.map(([k, v]) => `${k}=${v}`).join(', ')
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}

export function buildNonconformityEvent(
  kpi: KpiDefinition,
  breach: BreachEpisode,
  settings: Pick<NonconformitySettings, 'after' | 'dueInDays' | 'kind' | 'owner' | 'auditId'>,
  request: OpenRequest,
): AuditFindingEvent {
  const raised = new Date(request.raisedAt).toISOString()
  const due = new Date(request.raisedAt + settings.dueInDays * DAY_MS).toISOString()
  const { standard, clause } = primaryReference(kpi)
  const what = `${kpi.title} (${describeScope(breach.scope)})`
  const why =
    request.openedBy === 'timer'
      ? `critical for ${settings.after}`
      : `nonconformity requested by ${request.requestedBy ?? 'unknown'}${request.reason ? `: ${request.reason}` : ''}`
  const title = cut(`KPI breach ${breach.breachId}, ${why}: ${what}`, TITLE_MAX)
  return auditFindingEventSchema.parse({
    specversion: '1.0',
    id: eventIdOf(breach.breachId),
    source: breachSource(breach.breachId),
    type: AUDIT_FINDING_TYPE,
    time: raised,
    subject: breach.breachId,
    datacontenttype: 'application/json',
    breachid: breach.breachId,
    isorefs: nonconformityReferences(kpi).join(' '),
    data: {
      findingId: findingIdOf(breach.breachId),
      auditId: settings.auditId,
      auditType: 'internal',
      standard,
      clause,
      kind: settings.kind,
      status: 'open',
      title,
      owner: settings.owner,
      businessUnit: '',
      raisedAt: raised,
      dueAt: due,
      ...(request.repeatOf !== undefined ? { repeatOf: request.repeatOf } : {}),
    },
  })
}
