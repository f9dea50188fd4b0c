import { z } from 'zod'
import { rateLimitSchema } from '../sink-config.js'

/** Writes each alert as one log line of the alerter (the default sink of local runs). */
export const consoleSinkSchema = z
  .object({
    type: z.literal('console'),
    /** Most lines per window. Default unlimited. */
    rateLimit: rateLimitSchema.optional(),
  })
  .strict()

export type ConsoleSinkConfig = z.infer<typeof consoleSinkSchema>
