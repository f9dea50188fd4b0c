import { z } from 'zod'
import { rateLimitSchema } from '../sink-config.js'

/** Writes each alert to the alerter's terminal or log (the default sink of local runs). */
export const consoleSinkSchema = z
  .object({
    type: z.literal('console'),
    /**
     * `line`: one line per alert on stdout, cut to the terminal's width (people); `json`: one log entry
     * per alert with every field (machines); `auto`: line when stdout is a terminal, json otherwise.
     * Default auto.
     */
    format: z.enum(['auto', 'line', 'json']).optional(),
    /** Most lines per window. Default unlimited. */
    rateLimit: rateLimitSchema.optional(),
  })
  .strict()

export type ConsoleSinkConfig = z.infer<typeof consoleSinkSchema>
