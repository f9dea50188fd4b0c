import type { Consumer, Kafka } from 'kafkajs'
import { backoffDelay, sleep } from '../../shared/backoff.js'
import type { Config } from '../../shared/config/env.js'
import { errorMessage } from '../../shared/errors.js'
import { type KpiScope, kpiTriggerSchema } from '../../shared/events/index.js'
import type { Health } from '../../shared/http/health.js'
import { topicNames } from '../../shared/kafka/topics.js'
import type { Logger } from '../../shared/logger.js'
import { errorsTotal } from '../../shared/metrics/registry.js'
import { coalesceScopes } from './dirty-scopes.js'
import type { KpiEvaluator } from './evaluator.js'
import type { ProcessorMetrics } from './metrics.js'

export interface TriggerConsumerDeps {
  cfg: Config
  log: Logger
  kafka: Kafka
  health: Health
  evaluator: KpiEvaluator
  metrics: ProcessorMetrics
  clock: () => Date
}

/**
 * Reads aims.kpi-triggers.v1 and evaluates the touched scopes, one round per fetched batch: the scopes
 * of every trigger in the batch are coalesced, so a scope hit by a thousand events is evaluated once.
 * Offsets are committed after the round is stored and its alert jobs are enqueued.
 */
export async function startTriggerConsumer(deps: TriggerConsumerDeps): Promise<{ stop(): Promise<void> }> {
  const { cfg, log, kafka, health, evaluator, metrics, clock } = deps
  const stopping = new AbortController()
  const consumer: Consumer = kafka.consumer({ groupId: cfg.PROCESSOR_GROUP_ID, maxWaitTimeInMs: 100 })
  health.set('trigger-consumer', false, 'joining group')
  consumer.on(consumer.events.GROUP_JOIN, () => health.set('trigger-consumer', true))
  consumer.on(consumer.events.CRASH, (e) =>
    health.set('trigger-consumer', false, errorMessage(e.payload.error)),
  )
  await consumer.connect()
  await consumer.subscribe({ topic: topicNames(cfg).kpiTriggers, fromBeginning: true })
  await consumer.run({
    autoCommit: true,
    autoCommitThreshold: 1,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary, heartbeat, isRunning, isStale }) => {
      const scopes: KpiScope[] = []
      let oldestProducedAt = Number.POSITIVE_INFINITY
      for (const message of batch.messages) {
        const parsed = kpiTriggerSchema.safeParse(safeJson(message.value?.toString() ?? ''))
        if (!parsed.success) {
          // Only the collector writes this topic; a bad trigger is a bug, not a reason to stop.
          errorsTotal().inc({ stage: 'processor_trigger', error_type: 'invalid_trigger' })
          log.error({ offset: message.offset }, 'invalid trigger message skipped')
          continue
        }
        scopes.push(...parsed.data.scopes)
        oldestProducedAt = Math.min(oldestProducedAt, Date.parse(parsed.data.producedAt))
      }
      if (scopes.length > 0) {
        for (let attempt = 1; ; attempt++) {
          if (stopping.signal.aborted || !isRunning() || isStale()) return
          try {
            await evaluator.evaluate({ now: clock(), cause: 'trigger', dirty: coalesceScopes(scopes) })
            health.set('evaluation', true)
            break
          } catch (err) {
            health.set('evaluation', false, errorMessage(err))
            errorsTotal().inc({ stage: 'processor_evaluate', error_type: (err as Error).name })
            const delay = backoffDelay(attempt, 200, 10_000)
            log.warn({ err: errorMessage(err), attempt, retryInMs: delay }, 'evaluation failed, retrying')
            await sleep(delay, stopping.signal)
            await heartbeat().catch(() => undefined)
          }
        }
        if (Number.isFinite(oldestProducedAt)) {
          metrics.triggerLatency.observe(Math.max(0, Date.now() - oldestProducedAt) / 1000)
        }
      }
      const last = batch.messages[batch.messages.length - 1]
      if (last) resolveOffset(last.offset)
      await commitOffsetsIfNecessary()
    },
  })
  return {
    async stop() {
      stopping.abort()
      await consumer.disconnect()
      health.remove('trigger-consumer')
    },
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
