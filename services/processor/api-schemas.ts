import { z } from 'zod'

/** Query parameters of the read API; the handlers validate with these and the OpenAPI document is built from them. */

const isoTime = z.iso.datetime({
  offset: true,
  message: 'must be an ISO-8601 date-time, e.g. 2026-11-01T00:00:00Z',
})
const limit = z.coerce.number().int().min(1).max(10_000).default(500)

export const kpiListQuery = z.strictObject({
  area: z.enum(['privacy', 'model', 'audit']).optional(),
  status: z.enum(['ok', 'warning', 'critical', 'no_data']).optional(),
})
export const historyQuery = z.strictObject({
  from: isoTime.optional(),
  to: isoTime.optional(),
  fingerprint: z
    .string()
    .regex(/^[0-9a-f]{8,64}$/, 'must be a series fingerprint (hex)')
    .optional(),
  limit: limit,
})
export const breachesQuery = z.strictObject({
  state: z.enum(['open', 'resolved', 'all']).default('all'),
  since: isoTime.optional(),
  kpi: z.string().max(100).optional(),
  limit: limit,
})
export const deadLettersQuery = z.strictObject({
  topic: z.string().max(250).optional(),
  error_type: z.string().max(50).optional(),
  since: isoTime.optional(),
  limit: limit,
})
