import type { Redis } from 'ioredis'
import type { Kafka } from 'kafkajs'
import type { AlertJob } from '../../shared/alerts/alert-job.js'
import { createAlertQueue, enqueueAlert } from '../../shared/alerts/queue.js'
import type { ClickHouse } from '../../shared/clickhouse/client.js'
import type { Config } from '../../shared/config/env.js'
import type { Health } from '../../shared/http/health.js'
import type { HttpServer } from '../../shared/http/server.js'
import { KPIS } from '../../shared/kpi/catalog.js'
import type { AimsConfig } from '../../shared/kpi/thresholds.js'
import type { Logger } from '../../shared/logger.js'
import { KPI_VALUE_HEARTBEAT_MS, KpiEvaluator } from './evaluator.js'
import { processorMetrics } from './metrics.js'
import { mountReadApi } from './read-api.js'
import { mountReviewPage } from './review-page/mount.js'
import { startSweep } from './sweep.js'
import { startTriggerConsumer } from './trigger-consumer.js'

export interface ProcessorDeps {
  cfg: Config
  log: Logger
  kafka: Kafka
  ch: ClickHouse
  /** A `createRedis(cfg, 'worker')` connection (BullMQ queue and sweep worker). */
  redis: Redis
  health: Health
  http: HttpServer
  aimsConfig: AimsConfig | undefined
  /** Evaluation time; tests move it instead of sleeping. */
  clock?: () => Date
  /** Off in tests that drive the sweep themselves with `sweepNow()`. Default on. */
  scheduleSweep?: boolean
}

export interface Processor {
  evaluator: KpiEvaluator
  /** Runs a full sweep now, at the clock's time. */
  sweepNow(): Promise<void>
  stop(): Promise<void>
}

/** Triggers and the sweep → KPI values, breach transitions and alert jobs; plus the read API. */
export async function startProcessor(deps: ProcessorDeps): Promise<Processor> {
  const { cfg, log, kafka, ch, redis, health, http, aimsConfig } = deps
  const clock = deps.clock ?? (() => new Date())
  const metrics = processorMetrics()
  const kpis = KPIS.filter((k) => aimsConfig?.kpis?.[k.id]?.enabled !== false)
  const alerts = createAlertQueue(cfg, redis)
  const enqueue = (job: AlertJob) => enqueueAlert(alerts, job)
  const evaluator = new KpiEvaluator({
    ch,
    kpis,
    config: aimsConfig,
    baseUrl: cfg.PUBLIC_BASE_URL,
    enqueue,
    log,
    metrics,
  })
  const restored = await evaluator.restore()
  log.info({ kpis: kpis.length, openBreaches: restored }, 'breach states restored')

  mountReadApi(http, {
    ch,
    kpis,
    config: aimsConfig,
    deadLetterPayloadBytes: cfg.HTTP_DEAD_LETTER_PAYLOAD_BYTES,
    // A steady series is rewritten once per heartbeat, so it is current for a heartbeat and two sweeps.
    currentWindowMs: KPI_VALUE_HEARTBEAT_MS + 2 * cfg.SWEEP_INTERVAL_MS,
    clock,
  })
  mountReviewPage(http, {
    ch,
    kpis,
    config: aimsConfig,
    // A steady series is rewritten once per heartbeat, so it is current for a heartbeat and two sweeps.
    currentWindowMs: KPI_VALUE_HEARTBEAT_MS + 2 * cfg.SWEEP_INTERVAL_MS,
    clock,
    log,
  })
  const triggers = await startTriggerConsumer({ cfg, log, kafka, health, evaluator, metrics, clock })
  const sweep =
    deps.scheduleSweep === false
      ? undefined
      : await startSweep({ cfg, log, redis, health, evaluator, metrics, clock })
  const sweepNow = async () => {
    await evaluator.evaluate({ now: clock(), cause: 'sweep' })
  }
  return {
    evaluator,
    sweepNow: sweep?.runNow ?? sweepNow,
    async stop() {
      await triggers.stop()
      await sweep?.stop()
      await alerts.close()
      health.remove('sweep')
      health.remove('evaluation')
    },
  }
}
