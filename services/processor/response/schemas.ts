import { z } from 'zod'
import { silenceLabelSchema, silenceTextSchema } from '../../../shared/alerts/silence.js'

/** Request and response schemas of the response API (acknowledge, assign, comment; silences). */

export const RESPONSE_BODY_LIMIT_BYTES = 16 * 1024

const isoTime = z.iso.datetime({
  offset: true,
  message: 'must be an ISO-8601 date-time, e.g. 2026-11-01T00:00:00Z',
})

/** CONTROL_CHARS of shared/events/common.ts less LF (\x0a): a comment may have several lines. */
const COMMENT_CONTROL_CHARS = '\\x00-\\x09\\x0b-\\x1f\\x7f-\\x9f'

/** Free text of a person: up to 2000 characters, line breaks allowed, no other control characters. */
const commentText = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(2000, 'must be at most 2000 characters')
  .regex(
    new RegExp(`^[^${COMMENT_CONTROL_CHARS}]*$`),
    'must not contain control characters other than line breaks',
  )

export const breachParams = z.strictObject({
  id: z.string().regex(/^[0-9a-f]{32}-\d{1,16}$/, 'must be a breach id (fingerprint-start)'),
})
export const silenceParams = z.strictObject({
  id: z.string().regex(/^[0-9a-f-]{36}$/, 'must be a silence id'),
})

/** A body is optional: `curl -X POST …/ack` acknowledges without a comment. */
export const ackBody = z.strictObject({ comment: commentText.optional() }).nullish()
export const assignBody = z.strictObject({ owner: silenceTextSchema(200), comment: commentText.optional() })
export const commentBody = z.strictObject({ comment: commentText })

export const ACTIONS = ['ack', 'unack', 'assign', 'comment'] as const
export type ActionKind = (typeof ACTIONS)[number]

export const actionSchema = z.object({
  actionId: z.string(),
  action: z.enum(ACTIONS),
  actor: z.string(),
  actorRoles: z.array(z.string()),
  owner: z.string().nullable(),
  comment: z.string().nullable(),
  at: z.string(),
})

export const responseSchema = z.object({
  acknowledged: z.object({ by: z.string(), at: z.string(), comment: z.string().optional() }).nullable(),
  owner: z.string().nullable(),
  escalation: z
    .object({
      policy: z.string(),
      stepsDone: z.number(),
      steps: z.number().nullable(),
      remindersDone: z.number(),
      nextAt: z.string().nullable(),
    })
    .nullable(),
  heldBySilence: z.string().nullable(),
})

export const actionResponse = z.object({
  breachId: z.string(),
  action: actionSchema,
  response: responseSchema,
})
export const actionsResponse = z.object({
  breachId: z.string(),
  actions: z.array(actionSchema),
  response: responseSchema,
})

export const responseListQuery = z.strictObject({
  ids: z
    .string()
    .max(6000)
    .transform((s) => s.split(',').filter((x) => x.length > 0))
    .pipe(
      z
        .array(z.string().regex(/^[0-9a-f]{32}-\d{1,16}$/, 'must be breach ids separated by commas'))
        .min(1, 'at least one breach id')
        .max(100, 'at most 100 breach ids'),
    ),
})
export const responseListResponse = z.object({
  breaches: z.record(z.string(), responseSchema),
})

export const silenceBody = z
  .strictObject({
    /** KPI id; omitted: every KPI whose scope has the labels (admin only). */
    kpi: z
      .string()
      .regex(/^[a-z]+\.[a-z0-9_]{1,100}$/, 'must be a KPI id, e.g. model.accuracy')
      .optional(),
    scope: z
      .record(silenceLabelSchema, silenceTextSchema(200))
      .refine((s) => Object.keys(s).length <= 20, 'at most 20 labels')
      .optional(),
    startsAt: isoTime.optional(),
    endsAt: isoTime,
    reason: silenceTextSchema(500),
  })
  .refine((b) => b.kpi !== undefined || Object.keys(b.scope ?? {}).length > 0, {
    message: 'a silence needs a KPI or at least one scope label',
    path: ['kpi'],
  })

export const silencesQuery = z.strictObject({
  state: z.enum(['active', 'pending', 'ended', 'all']).default('all'),
  limit: z.coerce.number().int().min(1).max(1000, 'must be at most 1000').default(200),
})

export const silenceView = z.object({
  id: z.string(),
  kpi: z.string().nullable(),
  scope: z.record(z.string(), z.string()),
  startsAt: z.string(),
  endsAt: z.string(),
  author: z.string(),
  reason: z.string(),
  createdAt: z.string(),
  expiredAt: z.string().nullable(),
  expiredBy: z.string().nullable(),
  state: z.enum(['active', 'pending', 'ended']),
})
export const silenceResponse = z.object({ silence: silenceView })
export const silencesResponse = z.object({ silences: z.array(silenceView) })
