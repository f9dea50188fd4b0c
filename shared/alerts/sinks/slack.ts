import { z } from 'zod'
import { DEFAULT_SINK_TIMEOUT_MS, httpUrl, rateLimitSchema, timeoutMsSchema } from '../sink-config.js'

export const slackSinkSchema = z
  .object({
    type: z.literal('slack'),
    /** Incoming-webhook URL, usually `${SLACK_WEBHOOK_URL}`; a secret (the path is the token). */
    webhookUrl: httpUrl(),
    /** Channel override (only honoured by legacy webhooks). Default the webhook's channel. */
    channel: z.string().min(1).optional(),
    /** Display name override (legacy webhooks). Default the app's name. */
    username: z.string().min(1).optional(),
    /** Request timeout in ms. Default 10000. */
    timeoutMs: timeoutMsSchema.default(DEFAULT_SINK_TIMEOUT_MS),
    /** Most messages per window; Slack allows about 1 per second per webhook. Default unlimited. */
    rateLimit: rateLimitSchema.optional(),
  })
  .strict()

export type SlackSinkConfig = z.infer<typeof slackSinkSchema>
