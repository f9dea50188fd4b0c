import { z } from 'zod'

/**
 * Building blocks of every sink's config schema (each sink's own schema lives in
 * `shared/alerts/sinks/<name>.ts`, where routing can own them). No I/O at import time: `${VAR}` references are read from
 * `process.env` when a config is parsed, i.e. at start-up.
 */

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g

/**
 * A string in which every `${NAME}` is replaced by the environment variable NAME when the config is
 * parsed. A missing or empty variable is a validation error naming the variable (never its value).
 */
export function envString() {
  return z.string().transform((raw, ctx) => {
    const missing: string[] = []
    const resolved = raw.replace(ENV_REF, (_, name: string) => {
      const value = process.env[name]
      if (value === undefined || value === '') {
        missing.push(name)
        return ''
      }
      return value
    })
    if (missing.length > 0) {
      for (const name of missing) {
        ctx.addIssue({ code: 'custom', message: `environment variable ${name} is not set` })
      }
      return z.NEVER
    }
    return resolved
  })
}

/** A secret (routing key, HMAC secret): literal or `${ENV_VAR}`; never printed in errors or logs. */
export function secretString(minLength = 1) {
  return envString().pipe(
    z
      .string()
      .min(minLength, minLength > 1 ? `must be at least ${minLength} characters` : 'must not be empty'),
  )
}

/** An http(s) URL, literal or with `${ENV_VAR}` parts (a Slack webhook URL carries its token). */
export function httpUrl() {
  return envString().pipe(
    z.string().refine((s) => {
      try {
        const u = new URL(s)
        return u.protocol === 'http:' || u.protocol === 'https:'
      } catch {
        return false
      }
    }, 'must be an http:// or https:// URL'),
  )
}

export const rateLimitSchema = z
  .object({
    /** Most notifications sent to this sink in `perSeconds` (also the burst size). */
    max: z.number().int('must be an integer').positive('must be > 0'),
    /** Length of the window in seconds. */
    perSeconds: z.number().positive('must be > 0'),
  })
  .strict()
export type RateLimit = z.infer<typeof rateLimitSchema>

/** Request timeout of one delivery in milliseconds (1 ms - 120 s). */
export const timeoutMsSchema = z
  .number()
  .int('must be an integer')
  .min(1, 'must be >= 1')
  .max(120_000, 'must be <= 120000')

export const DEFAULT_SINK_TIMEOUT_MS = 10_000

/** Sink names are metric labels and Redis hash fields: short, plain. */
export const sinkNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, 'sink names may hold only letters, digits, _ and - (max 63)')
