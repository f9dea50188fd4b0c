import { z } from 'zod'
import { AUDIT_FINDING_TYPE, type AuditFindingEvent, auditFindingEventSchema } from './audit-finding.js'
import { quote } from './common.js'
import { findUnsafeContent } from './content.js'
import { describeIssues, eventErrorMap, formatPath } from './issues.js'
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
 * - not_utf8: the value is not valid UTF-8            - not_json: the value does not parse as JSON
 * - unknown_type: `type` names no v1 event type       - wrong_topic: a v1 type that another topic carries
 * - invalid_envelope: CloudEvents attributes are wrong - invalid_data: `data` breaks its type's contract
 */
export const eventErrorTypes = [
  'empty',
  'too_large',
  'not_utf8',
  'not_json',
  'unknown_type',
  'wrong_topic',
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
  | EventFailure<'unknown_type' | 'wrong_topic' | 'invalid_envelope' | 'invalid_data'>

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && Object.hasOwn(eventSchemas, value)
}

// Ahead-of-time compiled copies: valid events (the common case at 50k+/s) skip zod's generic per-node
// dispatch; invalid ones fall back to the regular parser, so reasons are identical either way.
const compiledSchemas: ReadonlyMap<string, z.ZodType<AimsEvent>> = new Map(
  Object.entries(eventSchemas).map(([type, schema]) => [type, z.compile(schema) as z.ZodType<AimsEvent>]),
)

const parseOptions = { error: eventErrorMap }

/** A problem at `path`: about the data when the path starts in `data`, else about the envelope. */
function failureAt(issues: readonly { path: readonly PropertyKey[] }[]): 'invalid_envelope' | 'invalid_data' {
  return issues.some((i) => i.path[0] !== 'data') ? 'invalid_envelope' : 'invalid_data'
}

/**
 * Validates one decoded JSON value as a v1 event. Dispatch reads `type` once and picks that type's
 * schema directly, so a message is validated by exactly one schema and its errors are about that type.
 * `expectedType`, when given, is the one type the message's topic carries: any other is refused, valid or
 * not. Before the schema, every key and string is checked (content.ts): forbidden keys and control
 * characters are refused wherever they are, named by their path.
 * The returned event is a fresh object with defaults filled in (businessUnit '', controls [], ...).
 */
export function parseEvent(raw: unknown, expectedType?: EventType): ParseResult {
  return validateEvent(raw, expectedType, true)
}

/**
 * parseEvent for callers that already know the value cannot hold unsafe content (decode.ts checks the
 * raw JSON text first, which is much cheaper than walking every value): `checkContent` false skips the walk.
 */
export function validateEvent(
  raw: unknown,
  expectedType: EventType | undefined,
  checkContent: boolean,
): ParseResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return {
      ok: false,
      errorType: 'invalid_envelope',
      reason: `event must be a JSON object, got ${raw === null ? 'null' : Array.isArray(raw) ? 'array' : typeof raw}`,
    }
  }
  const type = Object.hasOwn(raw, 'type') ? (raw as { type?: unknown }).type : undefined
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
  if (expectedType !== undefined && type !== expectedType) {
    return {
      ok: false,
      errorType: 'wrong_topic',
      reason: `type: ${quote(type)} does not belong on this topic, which carries ${quote(expectedType)} only`,
    }
  }
  if (checkContent) {
    const findings = findUnsafeContent(raw)
    if (findings.length > 0) {
      return {
        ok: false,
        errorType: failureAt(findings),
        reason: findings.map((f) => `${formatPath(f.path) || '(event)'}: ${f.message}`).join('; '),
      }
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
