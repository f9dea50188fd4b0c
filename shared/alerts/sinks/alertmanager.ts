import { z } from 'zod'
import {
  DEFAULT_SINK_TIMEOUT_MS,
  envString,
  httpUrl,
  rateLimitSchema,
  timeoutMsSchema,
} from '../sink-config.js'

export const alertmanagerSinkSchema = z
  .object({
    type: z.literal('alertmanager'),
    /** Base URL of one Alertmanager, e.g. http://alertmanager:9093; alerts go to `<url>/api/v2/alerts`. */
    url: httpUrl(),
    /** Optional `Authorization` header value (e.g. `Bearer ${AM_TOKEN}`); a secret. Default none. */
    authorization: envString().optional(),
    /**
     * Seconds after a firing/escalated transition at which the alert's `endsAt` is set. Alertmanager
     * resolves an alert by itself at `endsAt`, and this pipeline notifies once per transition instead of
     * re-sending every evaluation, so keep it longer than the longest breach you expect. Default 604800 (7 d).
     */
    firingEndsAfterSec: z.number().int().positive('must be > 0').default(604_800),
    /** Request timeout in ms. Default 10000. */
    timeoutMs: timeoutMsSchema.default(DEFAULT_SINK_TIMEOUT_MS),
    /** Most notifications per window (token bucket shared by every alerter process). Default unlimited. */
    rateLimit: rateLimitSchema.optional(),
  })
  .strict()

export type AlertmanagerSinkConfig = z.infer<typeof alertmanagerSinkSchema>
