import { z } from 'zod'
import {
  DEFAULT_SINK_TIMEOUT_MS,
  httpUrl,
  rateLimitSchema,
  secretString,
  timeoutMsSchema,
} from '../sink-config.js'

export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue'

export const pagerdutySinkSchema = z
  .object({
    type: z.literal('pagerduty'),
    /** Integration (routing) key of the PagerDuty service, usually `${PAGERDUTY_ROUTING_KEY}`; a secret. */
    routingKey: secretString(),
    /** Events API v2 endpoint. Default https://events.pagerduty.com/v2/enqueue. */
    url: httpUrl().default(PAGERDUTY_EVENTS_URL),
    /** `payload.source` of every event. Default aims-kpi-pipeline. */
    source: z.string().min(1).default('aims-kpi-pipeline'),
    /** Request timeout in ms. Default 10000. */
    timeoutMs: timeoutMsSchema.default(DEFAULT_SINK_TIMEOUT_MS),
    /** Most notifications per window (token bucket shared by every alerter process). Default unlimited. */
    rateLimit: rateLimitSchema.optional(),
  })
  .strict()

export type PagerdutySinkConfig = z.infer<typeof pagerdutySinkSchema>
