import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { Job } from 'bullmq'
import { Redis } from 'ioredis'
import pino from 'pino'
import type { AlerterOptions } from '../../../services/alerter/alerter.js'
import type { AlertJob } from '../../../shared/alerts/alert-job.js'
import {
  ALERT_BACKOFF_TYPE,
  type AlertQueue,
  createAlertQueue,
  enqueueAlert,
} from '../../../shared/alerts/queue.js'
import { type Config, loadConfig } from '../../../shared/config/env.js'
import type { Logger } from '../../../shared/logger.js'
import { createRedis } from '../../../shared/redis/client.js'

/**
 * Shared pieces of the alerter integration tests: a config isolated by its own Redis prefix, a logger
 * whose lines the test can read, a producer queue, and fast lock/backoff settings.
 */

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

export function alerterConfig(overrides: Record<string, string> = {}): Config {
  const id = `${process.pid}-${randomBytes(3).toString('hex')}`
  return loadConfig({
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    REDIS_URL,
    REDIS_PREFIX: `aims-test:alerter:${id}`,
    CLICKHOUSE_DATABASE: `t_alerter_${id.replace(/-/g, '_')}`,
    CLICKHOUSE_DATA_DIR: join(tmpdir(), `aims-alerter-ch-${process.pid}`),
    ALERTER_MAX_ATTEMPTS: '20',
    ...overrides,
  })
}

/** Fast failure detection and retries, for tests. */
export const fastOptions: AlerterOptions = {
  lockDurationMs: 2000,
  stalledIntervalMs: 500,
  maxBackoffMs: 300,
  queueStatsIntervalMs: 0,
}

/** A pino logger that keeps every line (to look for secrets) and prints nothing. */
export function capturingLogger(level = 'debug'): { log: Logger; lines: string[] } {
  const lines: string[] = []
  const log = pino(
    {
      level,
      redact: {
        paths: ['*.password', '*.routingKey', '*.secret', '*.webhookUrl', 'headers.authorization'],
        censor: '[redacted]',
      },
    },
    new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk))
        cb()
      },
    }),
  )
  return { log, lines }
}

export interface Producer {
  queue: AlertQueue
  redis: Redis
  /** Enqueues with a short backoff base (50 ms) so retries are quick. */
  add(job: AlertJob): Promise<Job<AlertJob, unknown, string>>
  close(): Promise<void>
}

export function producer(cfg: Config): Producer {
  const redis = createRedis(cfg, 'producer')
  redis.on('error', () => {})
  const queue = createAlertQueue(cfg, redis)
  queue.on('error', () => {})
  return {
    queue,
    redis,
    add: (job) => enqueueAlert(queue, job, { backoff: { type: ALERT_BACKOFF_TYPE, delay: 50 } }),
    close: async () => {
      await queue.close()
      await redis.quit().catch(() => {})
    },
  }
}

/** Polls a job's state until it is `want` (completed or failed). */
export async function waitForJobState(
  queue: AlertQueue,
  jobId: string,
  want: 'completed' | 'failed',
  timeoutMs = 30_000,
): Promise<Job<AlertJob, unknown, string>> {
  const deadline = Date.now() + timeoutMs
  let last = 'missing'
  while (Date.now() < deadline) {
    const job = await queue.getJob(jobId)
    if (job) {
      last = await job.getState()
      // Read again: the copy fetched before the state check may predate the move.
      if (last === want) return (await queue.getJob(jobId)) ?? job
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`job ${jobId} not ${want} after ${timeoutMs} ms (state ${last})`)
}

/** Deletes every key under the test's prefix. */
export async function dropPrefix(prefix: string, url = REDIS_URL): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 })
  redis.on('error', () => {})
  try {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500)
      cursor = next
      if (keys.length > 0) await redis.del(...keys)
    } while (cursor !== '0')
  } catch {
    // best effort
  } finally {
    redis.disconnect()
  }
}

/** `${NAME}`: a config reference to an environment variable (built so no template literal is implied). */
export const envRef = (name: string) => ['$', '{', name, '}'].join('')
