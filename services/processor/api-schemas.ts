import { z } from 'zod'

/**
 * Request and response schemas of the read API: the routes declare them, Fastify validates with them
 * (a bad parameter is a 400 naming it), and the OpenAPI document is generated from the same declarations.
 */

const isoTime = z.iso.datetime({
  offset: true,
  message: 'must be an ISO-8601 date-time, e.g. 2026-11-01T00:00:00Z',
})
const limit = (max: number, dflt: number) =>
  z.coerce.number().int().min(1).max(max, `must be at most ${max}`).default(dflt)

export const kpiIdParams = z.strictObject({
  id: z.string().regex(/^[a-z]+\.[a-z0-9_]{1,100}$/, 'must be a KPI id, e.g. model.accuracy'),
})
export const breachIdParams = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9._:-]{1,200}$/, 'must be a breach id'),
})

export const kpiListQuery = z.strictObject({
  area: z.enum(['privacy', 'model', 'audit']).optional(),
  status: z.enum(['ok', 'warning', 'critical', 'no_data', 'insufficient_data', 'stale']).optional(),
})
export const kpiQuery = z.strictObject({})
export const historyQuery = z.strictObject({
  from: isoTime.optional(),
  to: isoTime.optional(),
  fingerprint: z
    .string()
    .regex(/^[0-9a-f]{8,64}$/, 'must be a series fingerprint (hex)')
    .optional(),
  limit: limit(10_000, 500),
})
export const breachesQuery = z.strictObject({
  state: z.enum(['open', 'resolved', 'all']).default('all'),
  since: isoTime.optional(),
  kpi: z.string().max(100).optional(),
  limit: limit(2_000, 500),
})
/** Raw payloads are large (up to the collector's event limit each): few rows, and cut per row. */
export const DEAD_LETTERS_MAX_LIMIT = 500
export const deadLettersQuery = z.strictObject({
  topic: z.string().max(250).optional(),
  error_type: z.string().max(50).optional(),
  since: isoTime.optional(),
  limit: limit(DEAD_LETTERS_MAX_LIMIT, 100),
})

/**
 * One rejected event. The raw payload and the Kafka headers are the producer's data, possibly personal
 * data: only admins get them, cut to HTTP_DEAD_LETTER_PAYLOAD_BYTES (`value_bytes` is the whole length).
 * The schema also strips any column not listed here from the response.
 */
export const deadLetterSchema = z.object({
  received_at: z.string(),
  topic: z.string(),
  partition: z.number(),
  offset: z.string(),
  key: z.string().nullable(),
  error_type: z.string(),
  reason: z.string(),
  value_bytes: z.number().optional().describe('admin only: size of the raw value in bytes'),
  value_truncated: z.boolean().optional().describe('admin only: value_base64 holds only the first bytes'),
  value_base64: z
    .string()
    .optional()
    .describe('admin only: the raw value (base64), cut to the payload limit'),
  headers: z
    .record(z.string(), z.string())
    .optional()
    .describe('admin only: the Kafka headers (at most 16, each cut)'),
})
export const deadLettersResponse = z.object({ deadLetters: z.array(deadLetterSchema) })

// ----- responses: the top-level shape of each answer (keys not listed are dropped) ---------------------

/** Rows whose columns are documented with the route. */
const row = z.looseObject({})
const kpiDescription = z.looseObject({
  id: z.string(),
  title: z.string(),
  description: z.string(),
  unit: z.string(),
  area: z.enum(['privacy', 'model', 'audit']),
  window: z.string(),
})
export const kpiListResponse = z.object({
  generatedAt: z.string(),
  kpis: z.array(kpiDescription.extend({ series: z.array(row) })),
})
export const kpiResponse = kpiDescription.extend({ series: z.array(row) })
export const historyResponse = z.object({
  kpi: kpiDescription,
  from: z.string(),
  to: z.string(),
  points: z.array(row),
})
export const breachesResponse = z.object({
  breaches: z.array(
    z.looseObject({
      breachId: z.string(),
      state: z.enum(['open', 'resolved']),
      severity: z.enum(['warning', 'critical']),
    }),
  ),
})
export const breachResponse = z.object({
  breachId: z.string(),
  transitions: z.array(row),
  deliveries: z.array(row),
  /** The nonconformity (audit finding) this breach opened, or null. */
  nonconformity: z.looseObject({ findingId: z.string(), repeatOf: z.string().nullable() }).nullable(),
})
