import { z } from 'zod'
import {
  DEFAULT_SINK_TIMEOUT_MS,
  envString,
  httpUrl,
  rateLimitSchema,
  secretString,
  timeoutMsSchema,
} from '../sink-config.js'

export const webhookSinkSchema = z
  .object({
    type: z.literal('webhook'),
    /** Receiver URL; may carry a token, so it is treated as a secret and never logged. */
    url: httpUrl(),
    /** Shared HMAC-SHA256 secret (at least 16 characters), usually `${AIMS_WEBHOOK_SECRET}`. */
    secret: secretString(16),
    /** Extra request headers (values may use `${ENV_VAR}`). Default none. */
    headers: z.record(z.string().regex(/^[A-Za-z0-9-]+$/, 'must be a header name'), envString()).optional(),
    /** Request timeout in ms. Default 10000. */
    timeoutMs: timeoutMsSchema.default(DEFAULT_SINK_TIMEOUT_MS),
    /** Most requests per window (token bucket shared by every alerter process). Default unlimited. */
    rateLimit: rateLimitSchema.optional(),
  })
  .strict()

export type WebhookSinkConfig = z.infer<typeof webhookSinkSchema>
