import { Queue, Worker } from 'bullmq'
import type { Redis } from 'ioredis'
import type { Config } from '../../shared/config/env.js'
import { errorMessage } from '../../shared/errors.js'
import type { Health } from '../../shared/http/health.js'
import type { Logger } from '../../shared/logger.js'
import type { KpiEvaluator } from './evaluator.js'
import type { ProcessorMetrics } from './metrics.js'

export const SWEEP_QUEUE = 'aims-sweep'
const SCHEDULER_ID = 'kpi-sweep'

export interface SweepDeps {
  cfg: Config
  log: Logger
  redis: Redis
  health: Health
  evaluator: KpiEvaluator
  metrics: ProcessorMetrics
  clock: () => Date
}

/**
 * The sweep re-evaluates the whole catalog on a timer, for KPIs that change with time alone (an action
 * becoming overdue, the 72-hour notification clock). A BullMQ job scheduler makes one job per interval
 * however many processor replicas upsert it, and one worker takes each job: one sweep across replicas.
 */
export async function startSweep(
  deps: SweepDeps,
): Promise<{ stop(): Promise<void>; runNow(): Promise<void> }> {
  const { cfg, log, redis, health, evaluator, metrics, clock } = deps
  const queue = new Queue(SWEEP_QUEUE, { connection: redis, prefix: cfg.REDIS_PREFIX })
  await queue.upsertJobScheduler(
    SCHEDULER_ID,
    { every: cfg.SWEEP_INTERVAL_MS },
    { name: 'sweep', opts: { removeOnComplete: 100, removeOnFail: 100, attempts: 1 } },
  )

  const sweep = async () => {
    const started = performance.now()
    const result = await evaluator.evaluate({ now: clock(), cause: 'sweep' })
    metrics.sweepSeconds.observe((performance.now() - started) / 1000)
    metrics.lastSweep.set(Date.now() / 1000)
    health.set('sweep', true)
    log.debug({ series: result.series, ms: Math.round(result.ms) }, 'sweep done')
  }
  const worker = new Worker(SWEEP_QUEUE, sweep, {
    connection: redis.duplicate(),
    prefix: cfg.REDIS_PREFIX,
    concurrency: 1,
  })
  worker.on('failed', (_job, err) => {
    health.set('sweep', false, errorMessage(err))
    log.warn({ err: errorMessage(err) }, 'sweep failed; the next one retries')
  })
  return {
    runNow: sweep,
    async stop() {
      await worker.close()
      await queue.close()
    },
  }
}
