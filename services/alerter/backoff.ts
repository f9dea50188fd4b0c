import type { BackoffStrategy } from 'bullmq'
import { ALERT_BACKOFF_TYPE, DEFAULT_ALERT_BACKOFF_MS } from '../../shared/alerts/queue.js'

/** Longest Retry-After honoured (a remote asking for more is waited for this long). */
export const MAX_RETRY_AFTER_MS = 3_600_000

export interface BackoffOptions {
  /** Ceiling of one backoff delay in ms. Default 300000 (5 min). */
  maxDelayMs?: number
  /** Random source in [0, 1). Default Math.random. */
  random?: () => number
}

/** An error that carries a remote's Retry-After (the delivery engine throws it for retryable sinks). */
export interface RetryAfterCarrier {
  retryAfterMs?: number
}

/**
 * Exponential backoff with full jitter (AWS architecture blog): delay = random(0, min(cap, base·2^(n-1)))
 * where n is the number of attempts made and base the job's `backoff.delay`; never shorter than a
 * Retry-After the failing sink asked for. BullMQ calls it only for jobs whose backoff type is
 * ALERT_BACKOFF_TYPE.
 */
export function fullJitterBackoff(opts: BackoffOptions = {}): BackoffStrategy {
  const maxDelayMs = opts.maxDelayMs ?? 300_000
  if (!(maxDelayMs > 0)) throw new Error(`maxDelayMs must be > 0 (got ${maxDelayMs})`)
  const random = opts.random ?? Math.random
  return (attemptsMade, type, err, job) => {
    if (type !== undefined && type !== ALERT_BACKOFF_TYPE) {
      throw new Error(`unknown backoff type ${type}; alert jobs use ${ALERT_BACKOFF_TYPE}`)
    }
    const base = (job?.opts?.backoff as { delay?: number } | undefined)?.delay ?? DEFAULT_ALERT_BACKOFF_MS
    const ceiling = Math.min(maxDelayMs, base * 2 ** Math.max(0, attemptsMade - 1))
    const jittered = Math.floor(random() * ceiling)
    const asked = (err as RetryAfterCarrier | undefined)?.retryAfterMs
    const retryAfter = typeof asked === 'number' && asked > 0 ? Math.min(asked, MAX_RETRY_AFTER_MS) : 0
    return Math.max(jittered, retryAfter)
  }
}
