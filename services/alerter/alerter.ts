import { type Job, Queue, Worker } from 'bullmq'
import type { Redis } from 'ioredis'
import { ALERTS_QUEUE, type AlertJob } from '../../shared/alerts/alert-job.js'
import { createAlertQueue } from '../../shared/alerts/queue.js'
import { ResponseState } from '../../shared/alerts/response.js'
import { type AlertingConfig, defaultAlertingConfig } from '../../shared/alerts/routing.js'
import { type ClickHouse, type ClickHouseConfig, createClickHouse } from '../../shared/clickhouse/client.js'
import type { Config } from '../../shared/config/env.js'
import { errorMessage } from '../../shared/errors.js'
import type { Health } from '../../shared/http/health.js'
import type { Logger } from '../../shared/logger.js'
import { errorsTotal } from '../../shared/metrics/registry.js'
import { createRedis } from '../../shared/redis/client.js'
import { fullJitterBackoff } from './backoff.js'
import { DeliveredStore } from './delivered-store.js'
import { type DeliverySummary, deliverAlertJob } from './delivery.js'
import { ClickHouseDeliveryLog, type DeliveryLog } from './delivery-log.js'
import { alerterMetrics } from './metrics.js'
import { SinkRateLimiter } from './rate-limiter.js'
import { ResponseLoop, type TickResult } from './response-loop.js'
import { createSenders } from './sinks/index.js'
import type { AlertSender } from './sinks/sink.js'

/** Tuning of the delivery engine; the defaults suit production. */
export interface AlerterOptions {
  /** Jobs delivered in parallel by this process. Default ALERTER_CONCURRENCY. */
  concurrency?: number
  /**
   * How long a worker's lock on a job lasts without renewal, in ms (renewed every half of it while the
   * worker lives). A crashed worker's job is redelivered to another worker after this. Default 30000.
   */
  lockDurationMs?: number
  /** How often this worker looks for jobs whose worker died, in ms. Default 30000. */
  stalledIntervalMs?: number
  /** Times a job may be redelivered after its worker died before it fails. Default 2. */
  maxStalledCount?: number
  /** Ceiling of one retry delay in ms (exponential backoff with full jitter). Default 300000. */
  maxBackoffMs?: number
  /** A rate-limited sink waits in place up to this many ms; beyond it the job is delayed. Default 1000. */
  maxInlineThrottleMs?: number
  /** Period of the queue-depth gauge refresh in ms; 0 turns it off. Default 5000. */
  queueStatsIntervalMs?: number
  /**
   * Period of the response loop (escalation steps and reminders due, silences ended) in ms; 0 turns the
   * timer off (tests call `response.tick()` with their clock). Default 1000.
   */
  responseTickMs?: number
}

export interface AlerterDeps {
  cfg: Pick<
    Config,
    'REDIS_URL' | 'REDIS_PREFIX' | 'ALERTER_CONCURRENCY' | 'ALERTER_MAX_ATTEMPTS' | 'LOG_FORMAT'
  > &
    Partial<ClickHouseConfig>
  log: Logger
  /** Sinks and routes (the `alerting` section of the config file). Default: one console sink for everything. */
  alerting?: AlertingConfig
  /**
   * Where delivery attempts are recorded. Default: `alert_deliveries` in ClickHouse, through `clickhouse`
   * if given, else a client opened lazily from `cfg` (so the alerter starts and pages while ClickHouse
   * is down). A child-process worker in embedded mode passes its own log or `noopDeliveryLog`.
   */
  deliveryLog?: DeliveryLog
  clickhouse?: ClickHouse
  /** Readiness registry of the process; the alerter reports as component `alerter`. */
  health?: Health
  options?: AlerterOptions
  /** Time of the response loop (silences, escalation); tests move it. Default the system clock. */
  clock?: () => Date
}

export interface Alerter {
  worker: Worker<AlertJob, DeliverySummary, string>
  /** The alerts queue (for stats and tests; producers use createAlertQueue/enqueueAlert). */
  queue: Queue<AlertJob, unknown, string>
  senders: ReadonlyMap<string, AlertSender>
  /** The response loop: its shared state, and one pass of its timed work now. */
  response: { state: ResponseState; tick(): Promise<TickResult> }
  /** Refreshes the queue-depth gauge now. */
  refreshQueueStats(): Promise<void>
  /** Stops taking jobs, lets the ones in hand finish, flushes the delivery log, closes connections. */
  close(): Promise<void>
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v <= 0)
    throw new Error(`alerter option ${name} must be a positive integer (got ${v})`)
  return v
}

/**
 * Starts the delivery engine: a BullMQ worker on ALERTS_QUEUE that fans each breach transition out to
 * the sinks its routes select, exactly one notification per transition and sink (see DeliveredStore).
 */
export async function startAlerter(deps: AlerterDeps): Promise<Alerter> {
  const { cfg } = deps
  const log = deps.log.child({ component: 'alerter' })
  const o = deps.options ?? {}
  const concurrency = positiveInt('concurrency', o.concurrency ?? cfg.ALERTER_CONCURRENCY)
  const lockDuration = positiveInt('lockDurationMs', o.lockDurationMs ?? 30_000)
  const stalledInterval = positiveInt('stalledIntervalMs', o.stalledIntervalMs ?? 30_000)
  const maxStalledCount = positiveInt('maxStalledCount', o.maxStalledCount ?? 2)
  const maxBackoffMs = positiveInt('maxBackoffMs', o.maxBackoffMs ?? 300_000)
  const maxInlineThrottleMs = o.maxInlineThrottleMs ?? 1000
  if (!(maxInlineThrottleMs >= 0))
    throw new Error(`alerter option maxInlineThrottleMs must be >= 0 (got ${maxInlineThrottleMs})`)
  const statsEvery = o.queueStatsIntervalMs ?? 5000
  if (!(statsEvery >= 0))
    throw new Error(`alerter option queueStatsIntervalMs must be >= 0 (got ${statsEvery})`)

  const routing = deps.alerting ?? defaultAlertingConfig()
  const senders = createSenders(routing.sinks, { peopleTerminal: cfg.LOG_FORMAT !== 'json' })
  const metrics = alerterMetrics()
  const health = deps.health
  health?.set('alerter', false, 'starting')

  let ownedClickHouse: Promise<ClickHouse> | undefined
  const deliveryLog =
    deps.deliveryLog ??
    new ClickHouseDeliveryLog({
      log,
      clickhouse:
        deps.clickhouse ??
        (() => {
          if (!cfg.CLICKHOUSE_DATABASE || !cfg.CLICKHOUSE_DATA_DIR) {
            return Promise.reject(new Error('no ClickHouse configured for the delivery log'))
          }
          ownedClickHouse ??= createClickHouse(cfg as ClickHouseConfig).catch((err) => {
            ownedClickHouse = undefined
            throw err
          })
          return ownedClickHouse
        }),
    })

  const quietErrors = (name: string, conn: Redis) => {
    let last = 0
    conn.on('error', (err: Error) => {
      if (Date.now() - last < 10_000) return
      last = Date.now()
      log.warn({ connection: name, err: err.message }, 'redis connection error')
    })
  }
  // Store and rate limiter wait out a Redis outage (no per-request retry limit); the stats connection
  // fails fast so the gauge and readiness report the outage.
  const stateRedis = createRedis(cfg, 'worker')
  const workerRedis = createRedis(cfg, 'worker')
  const statsRedis = createRedis(cfg, 'producer')
  quietErrors('state', stateRedis)
  quietErrors('worker', workerRedis)
  quietErrors('stats', statsRedis)

  const store = new DeliveredStore(stateRedis, cfg.REDIS_PREFIX)
  const clock = deps.clock ?? (() => new Date())
  const responseState = new ResponseState(stateRedis, cfg.REDIS_PREFIX)
  const responseQueue = createAlertQueue(cfg, stateRedis)
  responseQueue.on('error', (err) => log.debug({ err: err.message }, 'alerts queue error (response loop)'))
  const responseLoop = new ResponseLoop({ state: responseState, routing, queue: responseQueue, clock, log })
  const limiter = new SinkRateLimiter(stateRedis, cfg.REDIS_PREFIX)
  const queue = new Queue<AlertJob, unknown, string>(ALERTS_QUEUE, {
    connection: statsRedis,
    prefix: cfg.REDIS_PREFIX,
  })
  queue.on('error', (err) => log.debug({ err: err.message }, 'alerts queue error'))

  const worker = new Worker<AlertJob, DeliverySummary, string>(
    ALERTS_QUEUE,
    (job, token) =>
      deliverAlertJob(job, token, {
        senders,
        routing,
        store,
        limiter,
        deliveryLog,
        metrics,
        log,
        maxInlineThrottleMs,
        response: { state: responseState, routing, clock },
      }),
    {
      connection: workerRedis,
      prefix: cfg.REDIS_PREFIX,
      concurrency,
      lockDuration,
      stalledInterval,
      maxStalledCount,
      settings: { backoffStrategy: fullJitterBackoff({ maxDelayMs: maxBackoffMs }) },
      autorun: false,
    },
  )
  worker.on('failed', (job: Job<AlertJob, DeliverySummary, string> | undefined, err: Error) => {
    if (!job?.finishedOn) return // will be retried
    metrics.failedJobs.inc()
    errorsTotal().inc({ stage: 'alerter', error_type: 'alert_undelivered' })
    log.error(
      { jobId: job.id, attemptsMade: job.attemptsMade, kpi: job.data?.kpi?.id, err: err.message },
      'alert job failed for good; it stays in the failed set',
    )
  })
  worker.on('error', (err) => {
    errorsTotal().inc({ stage: 'alerter', error_type: 'worker_error' })
    log.warn({ err: errorMessage(err) }, 'alerter worker error')
  })

  let statsInFlight = false
  const refreshQueueStats = async () => {
    if (statsInFlight) return
    statsInFlight = true
    try {
      const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed')
      metrics.queueJobs.set({ state: 'waiting' }, (counts.waiting ?? 0) + (counts.prioritized ?? 0))
      for (const state of ['active', 'delayed', 'failed'] as const)
        metrics.queueJobs.set({ state }, counts[state] ?? 0)
      health?.set('alerter', worker.isRunning())
    } catch (err) {
      health?.set('alerter', false, `redis: ${errorMessage(err)}`)
    } finally {
      statsInFlight = false
    }
  }
  const responseEvery = o.responseTickMs ?? 1000
  let responseInFlight: Promise<unknown> | undefined
  const responseTimer =
    responseEvery > 0
      ? setInterval(() => {
          responseInFlight ??= responseLoop
            .tick()
            .catch((err) => {
              errorsTotal().inc({ stage: 'alerter', error_type: 'response_tick' })
              log.warn({ err: errorMessage(err) }, 'response loop tick failed; the next one retries')
            })
            .finally(() => {
              responseInFlight = undefined
            })
        }, responseEvery)
      : undefined
  responseTimer?.unref()

  const statsTimer = statsEvery > 0 ? setInterval(() => void refreshQueueStats(), statsEvery) : undefined
  statsTimer?.unref()

  const running = worker.run().catch((err) => {
    log.error({ err: errorMessage(err) }, 'alerter worker stopped')
    health?.set('alerter', false, 'worker stopped')
  })
  await worker.waitUntilReady()
  health?.set('alerter', true)
  log.info(
    { sinks: [...senders.keys()], concurrency, queue: ALERTS_QUEUE, prefix: cfg.REDIS_PREFIX },
    'alerter started',
  )

  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= (async () => {
      if (statsTimer) clearInterval(statsTimer)
      if (responseTimer) clearInterval(responseTimer)
      await responseInFlight
      health?.set('alerter', false, 'stopping')
      await worker.close()
      await running
      await deliveryLog.close()
      await queue.close()
      await responseQueue.close()
      await Promise.allSettled([stateRedis.quit(), workerRedis.quit(), statsRedis.quit()])
      if (ownedClickHouse) await (await ownedClickHouse.catch(() => undefined))?.close()
      health?.remove('alerter')
      log.info('alerter stopped')
    })()
    return closing
  }

  return {
    worker,
    queue,
    senders,
    response: { state: responseState, tick: () => responseLoop.tick() },
    refreshQueueStats,
    close,
  }
}
