import type { z } from 'zod'
import { quote } from '../common.js'
import { describeIssues, eventErrorMap, formatPath } from '../issues.js'
import type { ParseResult } from '../parse.js'
import { PRIVACY_INCIDENT_TYPE, privacyIncidentEventSchema } from '../privacy-incident.js'
import {
  type AimsExtension,
  dataSecurityFindingSchema,
  incidentFindingSchema,
  OCSF_DATA_SECURITY_FINDING,
  OCSF_INCIDENT_FINDING,
  OCSF_PERSONAL_DATA,
  type OcsfFinding,
} from './schema.js'
import {
  activityCaptions,
  caption,
  classCaptions,
  dataCategoryCaptions,
  type OcsfPhase,
  severityById,
  statusById,
} from './vocabulary.js'

/**
 * OCSF Incident Finding (2005) and Data Security Finding (2006) → the privacy-incident contract
 * (aims.privacy_incident.v1). The mapping, attribute by attribute, is documented in
 * docs/ocsf-mapping.md; the comments below say where each contract field comes from.
 *
 * The result is validated by the native contract's own schema, so an OCSF event obeys exactly the rules
 * a native one does (timeline order, a timestamp for each status, …). Reasons name the OCSF attribute a
 * producer has to fix, followed by the contract field it feeds: `unmapped.aims.containedAt (data.containedAt): …`.
 */

const parseOptions = { error: eventErrorMap }

/** OCSF base-event attributes: a problem there is an envelope problem, as for CloudEvents attributes. */
const ENVELOPE_ATTRIBUTES = new Set([
  'class_uid',
  'category_uid',
  'type_uid',
  'activity_id',
  'time',
  'metadata',
])

/** OCSF epoch milliseconds → RFC 3339 UTC (the contract's timestamp form). */
const iso = (ms: number): string => new Date(ms).toISOString()
const isoOf = (v: number | string | undefined): string | undefined =>
  v === undefined ? undefined : typeof v === 'number' ? iso(v) : v

type Failure = Extract<ParseResult, { ok: false }>

function fail(errorType: Failure['errorType'], problems: string[]): Failure {
  return { ok: false, errorType, reason: problems.join('; ') }
}

/** Validates one decoded JSON value as an OCSF finding and maps it to a privacy-incident event. */
export function mapOcsfFinding(raw: unknown): ParseResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    const kind = raw === null ? 'null' : Array.isArray(raw) ? 'array' : typeof raw
    return fail('invalid_envelope', [`event must be a JSON object (an OCSF event), got ${kind}`])
  }
  const classUid = (raw as { class_uid?: unknown }).class_uid
  if (classUid === undefined) return fail('invalid_envelope', ['class_uid: is required'])
  if (classUid !== OCSF_INCIDENT_FINDING && classUid !== OCSF_DATA_SECURITY_FINDING) {
    return fail('unknown_type', [
      `class_uid: ${quote(classUid)} is not an OCSF class this topic accepts (${OCSF_INCIDENT_FINDING} Incident Finding, ${OCSF_DATA_SECURITY_FINDING} Data Security Finding)`,
    ])
  }
  const schema = classUid === OCSF_INCIDENT_FINDING ? incidentFindingSchema : dataSecurityFindingSchema
  const parsed = (schema as z.ZodType<OcsfFinding>).safeParse(raw, parseOptions)
  if (!parsed.success) {
    const issues = parsed.error.issues
    const envelope = issues.some((i) => ENVELOPE_ATTRIBUTES.has(String(i.path[0])))
    return fail(envelope ? 'invalid_envelope' : 'invalid_data', [describeIssues(issues)])
  }
  return mapParsed(parsed.data)
}

/** Where each contract field came from, for reasons: contract field → OCSF attribute. */
type Sources = Record<string, string>

function mapParsed(f: OcsfFinding): ParseResult {
  const problems: string[] = []
  const envelopeProblems: string[] = []

  // ----- class-level consistency -----
  if (activityCaptions[f.activity_id] === undefined) {
    envelopeProblems.push(
      `activity_id: ${caption(activityCaptions, f.activity_id)} is not one of 1 (Create), 2 (Update), 3 (Close)`,
    )
  }
  const expectedType = f.class_uid * 100 + f.activity_id
  if (f.type_uid !== expectedType) {
    envelopeProblems.push(
      `type_uid: must be class_uid × 100 + activity_id = ${expectedType}, got ${f.type_uid}`,
    )
  }
  if (envelopeProblems.length > 0) return fail('invalid_envelope', envelopeProblems)

  const severity = severityById[f.severity_id]?.severity
  if (severity === undefined) {
    problems.push(
      `severity_id: ${caption(severityById, f.severity_id)} has no privacy-incident severity (use 1-6: Informational/Low → low, Medium, High, Critical/Fatal → critical)`,
    )
  }
  const statuses = statusById[f.class_uid]!
  const phase: OcsfPhase | undefined = statuses[f.status_id]?.phase
  if (phase === undefined) {
    problems.push(
      `status_id: ${caption(statuses, f.status_id)} has no privacy-incident status for ${classCaptions[f.class_uid]} (use ${Object.entries(
        statuses,
      )
        .filter(([, s]) => s.phase)
        .map(([id, s]) => `${id} ${s.caption}`)
        .join(', ')})`,
    )
  }

  // Data Security Finding: a privacy incident only when personal data is involved.
  const findings = f.class_uid === OCSF_INCIDENT_FINDING ? f.finding_info_list : [f.finding_info]
  if (f.class_uid === OCSF_DATA_SECURITY_FINDING) {
    const category = f.data_security?.category_id
    if (category === undefined) {
      problems.push(
        `data_security.category_id: is required (only findings about personal data, ${OCSF_PERSONAL_DATA} Personal, are privacy incidents)`,
      )
    } else if (category !== OCSF_PERSONAL_DATA) {
      problems.push(
        `data_security.category_id: ${caption(dataCategoryCaptions, category)} is not personal data; only ${OCSF_PERSONAL_DATA} (Personal) makes a Data Security Finding a privacy incident`,
      )
    }
  }
  if (problems.length > 0) return fail('invalid_data', problems)

  const ext: AimsExtension = f.unmapped?.aims ?? {}
  const sources: Sources = {}
  const from = (field: string, attribute: string) => {
    sources[field] = attribute
  }

  // ----- identity -----
  // OCSF has no incident id: metadata.correlation_uid ties an incident's events together; without it,
  // the (first) finding's uid names the incident.
  const incidentId = f.metadata.correlation_uid ?? findings[0]!.uid
  from(
    'incidentId',
    f.metadata.correlation_uid !== undefined
      ? 'metadata.correlation_uid'
      : f.class_uid === OCSF_INCIDENT_FINDING
        ? 'finding_info_list[0].uid'
        : 'finding_info.uid',
  )

  // ----- lifecycle times -----
  // Detection: unmapped.aims.detectedAt, else the earliest finding's created_time (awareness, which OCSF
  // has no attribute for either, is unmapped.aims.awarenessAt, else detection).
  const created = findings.map((x) => x.created_time).filter((t): t is number => t !== undefined)
  let detectedAt = isoOf(ext.detectedAt)
  from('detectedAt', 'unmapped.aims.detectedAt')
  if (detectedAt === undefined && created.length > 0) {
    detectedAt = iso(Math.min(...created))
    from(
      'detectedAt',
      f.class_uid === OCSF_INCIDENT_FINDING
        ? 'finding_info_list[].created_time'
        : 'finding_info.created_time',
    )
  }
  if (detectedAt === undefined) {
    return fail('invalid_data', [
      `unmapped.aims.detectedAt (data.detectedAt): is required when no ${f.class_uid === OCSF_INCIDENT_FINDING ? 'finding_info_list[]' : 'finding_info'}.created_time is given (the detection time; the 72-hour clock starts there unless unmapped.aims.awarenessAt is given)`,
    ])
  }
  const occurredAt = f.start_time === undefined ? undefined : iso(f.start_time)
  from('occurredAt', 'start_time')

  // When a status says resolved/closed without its own time, the event's time is when it happened:
  // an Incident Finding's `time` is the activity's; a Data Security Finding's `time` is when the
  // finding was created, so its finding_info.modified_time is preferred.
  const modified = f.class_uid === OCSF_DATA_SECURITY_FINDING ? f.finding_info.modified_time : undefined
  const eventTime = iso(modified ?? f.time)
  const eventTimeAttribute = modified !== undefined ? 'finding_info.modified_time' : 'time'

  // Times the extension gives are passed on as given: the contract refuses, say, a resolvedAt on an
  // incident whose status_id is still open, naming the attribute.
  let closedAt = isoOf(ext.closedAt)
  from('closedAt', 'unmapped.aims.closedAt')
  let resolvedAt = isoOf(ext.resolvedAt)
  from('resolvedAt', 'unmapped.aims.resolvedAt')
  if (phase === 'closed' && closedAt === undefined) {
    closedAt = eventTime
    from('closedAt', eventTimeAttribute)
  }
  // Closing resolves: without a resolution time of its own, the closure time is it.
  if (phase === 'closed' && resolvedAt === undefined) {
    resolvedAt = closedAt
    from('resolvedAt', sources.closedAt!)
  }
  if (phase === 'resolved' && resolvedAt === undefined) {
    resolvedAt = eventTime
    from('resolvedAt', eventTimeAttribute)
  }
  let containedAt = isoOf(ext.containedAt)
  from('containedAt', 'unmapped.aims.containedAt')
  // Containment is never later than resolution: without its own time, the resolution time is it.
  if (containedAt === undefined && resolvedAt !== undefined) {
    containedAt = resolvedAt
    from('containedAt', `${sources.resolvedAt} (no unmapped.aims.containedAt)`)
  }
  const regulatorNotifiedAt = isoOf(ext.regulatorNotifiedAt)
  from('regulatorNotifiedAt', 'unmapped.aims.regulatorNotifiedAt')
  // The notification clocks' fields (shared/kpi/regimes.ts) have no OCSF attribute either.
  const awarenessAt = isoOf(ext.awarenessAt)
  const classifiedAt = isoOf(ext.classifiedAt)
  const reports = ext.reports?.map((r) => ({ ...r, sentAt: isoOf(r.sentAt)! }))
  for (const field of ['awarenessAt', 'classifiedAt', 'regimes', 'jurisdictions', 'reports'] as const) {
    from(field, `unmapped.aims.${field}`)
  }

  // The contract's status: OCSF's phase, refined by what the extension says happened while open.
  const status =
    phase === 'closed'
      ? 'closed'
      : phase === 'resolved'
        ? 'resolved'
        : regulatorNotifiedAt !== undefined
          ? 'notified'
          : containedAt !== undefined
            ? 'contained'
            : 'detected'
  from('status', 'status_id')
  from('severity', 'severity_id')

  // ----- classification and impact -----
  const suppressed = f.class_uid === OCSF_DATA_SECURITY_FINDING && f.status_id === 3
  const notifiable = ext.notifiable ?? (suppressed ? false : f.is_suspected_breach === true)
  from('notifiable', ext.notifiable !== undefined ? 'unmapped.aims.notifiable' : 'is_suspected_breach')
  const category = ext.category ?? (f.class_uid === OCSF_DATA_SECURITY_FINDING ? 'data_leak' : 'other')
  from('category', 'unmapped.aims.category')
  for (const field of [
    'businessUnit',
    'recordsAffected',
    'dataSubjectsAffected',
    'aiSystemId',
    'controls',
  ] as const) {
    from(field, `unmapped.aims.${field}`)
  }

  const data = {
    incidentId,
    status,
    severity,
    category,
    ...(ext.businessUnit !== undefined ? { businessUnit: ext.businessUnit } : {}),
    ...(occurredAt !== undefined ? { occurredAt } : {}),
    detectedAt,
    ...(containedAt !== undefined ? { containedAt } : {}),
    ...(resolvedAt !== undefined ? { resolvedAt } : {}),
    ...(closedAt !== undefined ? { closedAt } : {}),
    notifiable,
    ...(regulatorNotifiedAt !== undefined ? { regulatorNotifiedAt } : {}),
    ...(awarenessAt !== undefined ? { awarenessAt } : {}),
    ...(classifiedAt !== undefined ? { classifiedAt } : {}),
    ...(ext.regimes !== undefined ? { regimes: ext.regimes } : {}),
    ...(ext.jurisdictions !== undefined ? { jurisdictions: ext.jurisdictions } : {}),
    ...(reports !== undefined ? { reports } : {}),
    recordsAffected: ext.recordsAffected ?? 0,
    dataSubjectsAffected: ext.dataSubjectsAffected ?? 0,
    ...(ext.aiSystemId !== undefined ? { aiSystemId: ext.aiSystemId } : {}),
    ...(ext.controls !== undefined ? { controls: ext.controls } : {}),
  }

  const product = f.metadata.product
  const envelope = {
    specversion: '1.0',
    // metadata.uid is the event's own id; without one, an id derived from what identifies this report
    // of this incident, so a redelivered event still dedupes.
    id: f.metadata.uid ?? `ocsf-${f.class_uid}-${incidentId}-${f.activity_id}-${f.time}`,
    source: `/ocsf/${slug(product.vendor_name ?? 'unknown')}/${slug(product.name ?? 'unknown')}`,
    type: PRIVACY_INCIDENT_TYPE,
    time: iso(f.time),
    subject: incidentId,
    datacontenttype: 'application/json',
    data,
  }
  const checked = privacyIncidentEventSchema.safeParse(envelope, parseOptions)
  if (checked.success) return { ok: true, event: checked.data }
  const lines = checked.error.issues.map((issue) => {
    const [root, field, ...rest] = issue.path
    if (root !== 'data') {
      const attribute =
        root === 'id'
          ? 'metadata.uid'
          : root === 'time'
            ? 'time'
            : root === 'subject'
              ? sources.incidentId
              : 'metadata'
      return `${attribute} (${formatPath(issue.path)}): ${issue.message}`
    }
    const attribute = sources[String(field)] ?? `unmapped.aims.${String(field)}`
    const tail = formatPath(rest)
    return `${attribute}${tail.startsWith('[') || tail === '' ? tail : `.${tail}`} (${formatPath(issue.path)}): ${issue.message}`
  })
  return fail(
    checked.error.issues.some((i) => i.path[0] !== 'data') ? 'invalid_envelope' : 'invalid_data',
    lines,
  )
}

/** A product or vendor name as a URI path segment. */
function slug(name: string): string {
  const s = name
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^-+|-+$/g, '')
  return (s || 'unknown').slice(0, 80)
}
