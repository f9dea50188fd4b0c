import { type Job, type JobsOptions, Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import type { Config } from '../config/env.js'
import { UserInputError } from '../errors.js'
import { ALERTS_QUEUE, type AlertJob, alertJobId, alertJobSchema } from './alert-job.js'

/**
 * What producer (processor) and consumer (alerter) agree on about the alerts queue: its name and key
 * prefix, the job id, and the job options (attempts, backoff, retention).
 */

/** Name of the alerter's custom backoff strategy: exponential with full jitter, honouring Retry-After. */
export const ALERT_BACKOFF_TYPE = 'aims-full-jitter'

/** First retry delay ceiling in ms (doubles each attempt, capped by the alerter). */
export const DEFAULT_ALERT_BACKOFF_MS = 1_000

/** Completed jobs are kept 7 days (for inspection and to drop re-enqueued duplicates), then removed. */
export const COMPLETED_RETENTION_SEC = 7 * 24 * 3600

export type AlertQueue = Queue<AlertJob, unknown, string>

/** Job options of every alert job; `attempts` comes from ALERTER_MAX_ATTEMPTS. */
export function alertJobOptions(
  cfg: Pick<Config, 'ALERTER_MAX_ATTEMPTS'>,
  backoffMs = DEFAULT_ALERT_BACKOFF_MS,
): JobsOptions {
  return {
    attempts: cfg.ALERTER_MAX_ATTEMPTS,
    backoff: { type: ALERT_BACKOFF_TYPE, delay: backoffMs },
    removeOnComplete: { age: COMPLETED_RETENTION_SEC },
    // A job that failed its last attempt stays in the failed set: an undelivered page is evidence.
    removeOnFail: false,
  }
}

/**
 * The alerts queue with the agreed prefix and default job options. The connection is the caller's (a
 * `createRedis(cfg, 'producer')` client) and is not closed by `queue.close()`.
 */
export function createAlertQueue(
  cfg: Pick<Config, 'REDIS_PREFIX' | 'ALERTER_MAX_ATTEMPTS'>,
  connection: Redis,
): AlertQueue {
  return new Queue<AlertJob, unknown, string>(ALERTS_QUEUE, {
    connection,
    prefix: cfg.REDIS_PREFIX,
    defaultJobOptions: alertJobOptions(cfg),
  })
}

/**
 * Enqueues one transition. The job id is derived from the transition id, so enqueuing the same
 * transition twice (a replayed trigger, two processors) adds one job: BullMQ ignores the second add.
 * Options: the alert defaults, then the queue's defaults (createAlertQueue), then `overrides`.
 */
export async function enqueueAlert(
  queue: Queue<AlertJob, unknown, string>,
  job: AlertJob,
  overrides: JobsOptions = {},
): Promise<Job<AlertJob, unknown, string>> {
  const parsed = alertJobSchema.safeParse(job)
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(job)'}: ${i.message}`)
    throw new UserInputError(`invalid alert job ${job?.transitionId ?? ''}: ${issues.join('; ')}`)
  }
  const opts: JobsOptions = {
    ...alertJobOptions({ ALERTER_MAX_ATTEMPTS: 8 }),
    ...queue.defaultJobOptions,
    ...overrides,
    jobId: alertJobId(parsed.data.transitionId),
  }
  return queue.add(parsed.data.kind, parsed.data, opts)
}
