import type { Consumer, Kafka } from 'kafkajs'
import { backoffDelay, sleep } from '../../shared/backoff.js'
import type { Config } from '../../shared/config/env.js'
import { errorMessage } from '../../shared/errors.js'
import { type KpiScope, kpiTriggerSchema } from '../../shared/events/index.js'
import type { Health } from '../../shared/http/health.js'
import { topicNames } from '../../shared/kafka/topics.js'
import type { Logger } from '../../shared/logger.js'
import { errorsTotal } from '../../shared/metrics/registry.js'
import type { ProcessorMetrics } from './metrics.js'

/** Where triggers go: the processor's ownership and areas. */
export interface TriggerRouter {
  /** The partitions this replica owns after a (re)join of the group. */
  assigned(partitions: readonly number[]): void
  /** Evaluates the scopes of one partition's batch at `now`; rejects to be retried. */
  route(partition: number, scopes: readonly KpiScope[], now: number): Promise<void>
}

export interface TriggerConsumerDeps {
  cfg: Config
  log: Logger
  kafka: Kafka
  health: Health
  metrics: ProcessorMetrics
  clock: () => Date
  router: TriggerRouter
}

/**
 * Reads aims.kpi-triggers.v1. Triggers are keyed by owner (an area, or a model), so the partitions a
 * replica is assigned are exactly the series it owns; the group's assignment is the ownership, and a
 * rebalance moves it. Each fetched batch of a partition is evaluated as one round (its scopes coalesced),
 * and its offsets are committed after the round's values, transitions and alert jobs are stored.
 */
export async function startTriggerConsumer(deps: TriggerConsumerDeps): Promise<{ stop(): Promise<void> }> {
  const { cfg, log, kafka, health, metrics, clock, router } = deps
  const stopping = new AbortController()
  const topic = topicNames(cfg).kpiTriggers
  const consumer: Consumer = kafka.consumer({
    groupId: cfg.PROCESSOR_GROUP_ID,
    maxWaitTimeInMs: 50,
    sessionTimeout: cfg.PROCESSOR_SESSION_TIMEOUT_MS,
    heartbeatInterval: Math.min(3_000, Math.floor(cfg.PROCESSOR_SESSION_TIMEOUT_MS / 3)),
  })
  health.set('trigger-consumer', false, 'joining group')
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    health.set('trigger-consumer', true)
    const partitions = e.payload.memberAssignment[topic] ?? []
    log.info({ partitions }, 'trigger partitions assigned')
    router.assigned(partitions)
  })
  consumer.on(consumer.events.CRASH, (e) =>
    health.set('trigger-consumer', false, errorMessage(e.payload.error)),
  )
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    autoCommit: true,
    autoCommitThreshold: 1,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: cfg.KAFKA_TOPIC_PARTITIONS,
    eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary, heartbeat, isRunning, isStale }) => {
      const scopes: KpiScope[] = []
      let oldestProducedAt = Number.POSITIVE_INFINITY
      for (const message of batch.messages) {
        const parsed = kpiTriggerSchema.safeParse(safeJson(message.value?.toString() ?? ''))
        if (!parsed.success) {
          // Only the collector writes this topic; a bad trigger is a bug, not a reason to stop.
          errorsTotal().inc({ stage: 'processor_trigger', error_type: 'invalid_trigger' })
          log.error({ partition: batch.partition, offset: message.offset }, 'invalid trigger message skipped')
          continue
        }
        for (const s of parsed.data.scopes) scopes.push(s)
        oldestProducedAt = Math.min(oldestProducedAt, Date.parse(parsed.data.producedAt))
      }
      let evaluated = true
      if (scopes.length > 0) {
        // An evaluation may wait for an area being taken over (seconds on a large history): the group
        // must keep hearing from this member meanwhile, or it would hand the partitions on and start a
        // rebalance that starts the take-over again.
        const beat = setInterval(() => void heartbeat().catch(() => undefined), 1_000)
        try {
          evaluated = await evaluateBatch()
        } finally {
          clearInterval(beat)
        }
        if (Number.isFinite(oldestProducedAt)) {
          metrics.triggerLatency.observe(Math.max(0, Date.now() - oldestProducedAt) / 1000)
        }
      }
      const last = batch.messages[batch.messages.length - 1]
      // Abandoned (stopping, or the partition moved): not committed, the next owner evaluates it.
      if (!evaluated) return
      if (last) resolveOffset(last.offset)
      await commitOffsetsIfNecessary()

      async function evaluateBatch(): Promise<boolean> {
        for (let attempt = 1; ; attempt++) {
          if (stopping.signal.aborted || !isRunning() || isStale()) return false
          try {
            await router.route(batch.partition, scopes, clock().getTime())
            health.set('evaluation', true)
            return true
          } catch (err) {
            health.set('evaluation', false, errorMessage(err))
            errorsTotal().inc({ stage: 'processor_evaluate', error_type: (err as Error).name })
            const delay = backoffDelay(attempt, 200, 10_000)
            log.warn({ err: errorMessage(err), attempt, retryInMs: delay }, 'evaluation failed, retrying')
            await sleep(delay, stopping.signal)
          }
        }
      }
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
