import { z } from 'zod'
import { AUDIT_FINDING_TYPE, type AuditFindingEvent, auditFindingEventSchema } from './audit-finding.js'
import { quote } from './common.js'
import { describeIssues, eventErrorMap } from './issues.js'
import { MODEL_METRICS_TYPE, type ModelMetricsEvent, modelMetricsEventSchema } from './model-metrics.js'
import {
  PRIVACY_INCIDENT_TYPE,
  type PrivacyIncidentEvent,
  privacyIncidentEventSchema,
} from './privacy-incident.js'

/** Every event type of contract v1 with its full (envelope + data) schema. */
export const eventSchemas = {
  [PRIVACY_INCIDENT_TYPE]: privacyIncidentEventSchema,
  [MODEL_METRICS_TYPE]: modelMetricsEventSchema,
  [AUDIT_FINDING_TYPE]: auditFindingEventSchema,
} as const

export type EventType = keyof typeof eventSchemas
export const eventTypes = Object.keys(eventSchemas) as EventType[]

export type AimsEvent = PrivacyIncidentEvent | ModelMetricsEvent | AuditFindingEvent

/** All three as one schema, for callers that want a single zod value; parseEvent is the fast path. */
export const aimsEventSchema = z.discriminatedUnion('type', [
  privacyIncidentEventSchema,
  modelMetricsEventSchema,
  auditFindingEventSchema,
])

/**
 * Why a message was rejected; the dead-letter topic and table carry it as `error_type`.
 * - empty: no value (tombstone or zero bytes)        - too_large: over the configured byte limit
 * - not_json: the value does not parse as JSON        - unknown_type: `type` names no v1 event type
 * - invalid_envelope: CloudEvents attributes are wrong - invalid_data: `data` breaks its type's contract
 */
export const eventErrorTypes = [
  'empty',
  'too_large',
  'not_json',
  'unknown_type',
  'invalid_envelope',
  'invalid_data',
] as const
export type EventErrorType = (typeof eventErrorTypes)[number]

export type EventFailure<E extends EventErrorType = EventErrorType> = {
  ok: false
  errorType: E
  reason: string
}
export type ParseResult =
  | { ok: true; event: AimsEvent }
  | EventFailure<'unknown_type' | 'invalid_envelope' | 'invalid_data'>

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && Object.hasOwn(eventSchemas, value)
}

// Ahead-of-time compiled copies: valid events (the common case at 50k+/s) skip zod's generic per-node
// dispatch; invalid ones fall back to the regular parser, so reasons are identical either way.
const compiledSchemas: ReadonlyMap<string, z.ZodType<AimsEvent>> = new Map(
  Object.entries(eventSchemas).map(([type, schema]) => [type, z.compile(schema) as z.ZodType<AimsEvent>]),
)

const parseOptions = { error: eventErrorMap }

/**
 * Validates one decoded JSON value as a v1 event. Dispatch reads `type` once and picks that type's
 * schema directly, so a message is validated by exactly one schema and its errors are about that type.
 * The returned event is a fresh object with defaults filled in (businessUnit '', controls [], ...).
 */
export function parseEvent(raw: unknown): ParseResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return {
      ok: false,
      errorType: 'invalid_envelope',
      reason: `event must be a JSON object, got ${raw === null ? 'null' : Array.isArray(raw) ? 'array' : typeof raw}`,
    }
  }
  const type = (raw as { type?: unknown }).type
  if (typeof type !== 'string') {
    return {
      ok: false,
      errorType: 'invalid_envelope',
      reason: type === undefined ? 'type: is required' : 'type: must be a string',
    }
  }
  const schema = compiledSchemas.get(type)
  if (schema === undefined) {
    return {
      ok: false,
      errorType: 'unknown_type',
      reason: `type: unknown event type ${quote(type)} (known: ${eventTypes.join(', ')})`,
    }
  }
  const result = schema.safeParse(raw, parseOptions)
  if (result.success) return { ok: true, event: result.data }
  // The envelope is checked first in spirit: if its attributes are wrong the data is not trusted either.
  const envelopeIssues = result.error.issues.filter((i) => i.path[0] !== 'data')
  return envelopeIssues.length > 0
    ? { ok: false, errorType: 'invalid_envelope', reason: describeIssues(envelopeIssues) }
    : { ok: false, errorType: 'invalid_data', reason: describeIssues(result.error.issues) }
}
