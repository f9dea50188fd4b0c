import type { Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs'
import { CompressionTypes, Partitioners } from 'kafkajs'
import { backoffDelay, sleep } from '../../shared/backoff.js'
import type { ClickHouse } from '../../shared/clickhouse/client.js'
import { insertTabSeparated, TabSeparatedRows } from '../../shared/clickhouse/tab-separated.js'
import type { Config } from '../../shared/config/env.js'
import { errorMessage } from '../../shared/errors.js'
import { factTables, type KpiTrigger, MAX_SCOPES_PER_TRIGGER } from '../../shared/events/index.js'
import type { Health } from '../../shared/http/health.js'
import { eventTopics, type Topics, topicNames } from '../../shared/kafka/topics.js'
import type { Logger } from '../../shared/logger.js'
import { errorsTotal } from '../../shared/metrics/registry.js'
import { type DeadLetterRow, deadLetterColumns, toDeadLetterMessage, toDeadLetterRow } from './dead-letter.js'
import { type DecodedBatch, decodeBatch } from './decode-batch.js'
import { type CollectorMetrics, collectorMetrics } from './metrics.js'

export interface CollectorDeps {
  cfg: Config
  log: Logger
  kafka: Kafka
  ch: ClickHouse
  health: Health
}

export interface Collector {
  /** Leaves the consumer group; an in-flight batch is abandoned uncommitted (it will be redelivered). */
  stop(): Promise<void>
}

const HEARTBEAT_EVERY_MS = 3_000

/**
 * Kafka event topics → validated fact rows in ClickHouse. Per partition batch: decode, insert facts and
 * rejects, publish rejects to the dead-letter topic and the touched scopes to the trigger topic, and only
 * then commit the offsets. A crash anywhere before the commit redelivers the batch, which the
 * ReplacingMergeTree fact tables absorb (event id is the dedupe key).
 */
export async function startCollector(deps: CollectorDeps): Promise<Collector> {
  const { cfg, log, kafka, ch, health } = deps
  const topics = topicNames(cfg)
  const metrics = collectorMetrics()
  const stopping = new AbortController()

  // Not idempotent on purpose: a duplicate dead letter or trigger is harmless (both are deduplicated
  // downstream), and kafkajs's idempotent mode would retry forever through a shutdown.
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  })
  const consumer = kafka.consumer({
    groupId: cfg.COLLECTOR_GROUP_ID,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    maxBytesPerPartition: 8 * 1024 * 1024,
    maxBytes: 32 * 1024 * 1024,
    maxWaitTimeInMs: 250,
    allowAutoTopicCreation: false,
  })
  wireConsumerHealth(consumer, health, log)
  await producer.connect()
  await consumer.connect()
  await consumer.subscribe({ topics: eventTopics(topics), fromBeginning: true })

  const writer = new BatchWriter(ch, producer, topics, metrics, log, health, cfg.COLLECTOR_MAX_BACKOFF_MS)
  health.set('clickhouse', true)
  await consumer.run({
    // Offsets are resolved only after a batch is fully delivered, so committing every resolved offset
    // (threshold 1) commits exactly what is safe, once per batch.
    autoCommit: true,
    autoCommitThreshold: 1,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: cfg.KAFKA_TOPIC_PARTITIONS,
    eachBatch: async (payload) => {
      await handleBatch(payload, writer, cfg, metrics, stopping.signal)
    },
  })
  log.info({ topics: eventTopics(topics), group: cfg.COLLECTOR_GROUP_ID }, 'collector consuming')

  return {
    async stop() {
      stopping.abort()
      await consumer.disconnect()
      await producer.disconnect()
      health.remove('kafka-consumer')
      health.remove('clickhouse')
      log.info('collector stopped')
    },
  }
}

async function handleBatch(
  { batch, resolveOffset, commitOffsetsIfNecessary, heartbeat, isRunning, isStale }: EachBatchPayload,
  writer: BatchWriter,
  cfg: Config,
  metrics: CollectorMetrics,
  stopping: AbortSignal,
): Promise<void> {
  if (batch.messages.length === 0) return
  // Large batches are split so one insert never exceeds the configured row budget.
  for (let start = 0; start < batch.messages.length; start += cfg.COLLECTOR_MAX_BATCH_ROWS) {
    const slice = batch.messages.slice(start, start + cfg.COLLECTOR_MAX_BATCH_ROWS)
    const decoded = decodeBatch(batch.topic, batch.partition, slice, cfg.COLLECTOR_MAX_EVENT_BYTES)
    const delivered = await writer.deliver(decoded, {
      heartbeat,
      shouldGiveUp: () => stopping.aborted || !isRunning() || isStale(),
    })
    // Given up (shutdown or rebalance): leave the rest uncommitted; it is redelivered to whoever owns it.
    if (!delivered) return
    countOutcomes(batch.topic, decoded, metrics)
    const last = slice[slice.length - 1]!
    resolveOffset(last.offset)
    await commitOffsetsIfNecessary()
    const lag = Number(batch.highWatermark) - Number(last.offset) - 1
    metrics.lag.set({ topic: batch.topic, partition: String(batch.partition) }, Math.max(0, lag))
  }
  await heartbeat()
}

function countOutcomes(topic: string, decoded: DecodedBatch, metrics: CollectorMetrics): void {
  if (decoded.accepted > 0) metrics.messages.inc({ topic, outcome: 'accepted', reason: '' }, decoded.accepted)
  for (const r of decoded.rejected) {
    metrics.messages.inc({ topic, outcome: 'rejected', reason: r.errorType })
    metrics.deadLetters.inc({ topic, error_type: r.errorType })
  }
}

interface DeliveryControl {
  heartbeat(): Promise<void>
  shouldGiveUp(): boolean
}

/**
 * Writes one decoded batch everywhere it has to go, retrying until it succeeds or the consumer gives the
 * partition up. While ClickHouse is failing the partition's consumption is paused by construction: its
 * eachBatch does not return, so kafkajs fetches nothing more for it and memory stays bounded.
 */
class BatchWriter {
  constructor(
    private readonly ch: ClickHouse,
    private readonly producer: Producer,
    private readonly topics: Topics,
    private readonly metrics: CollectorMetrics,
    private readonly log: Logger,
    private readonly health: Health,
    private readonly maxBackoffMs: number,
  ) {}

  async deliver(batch: DecodedBatch, control: DeliveryControl): Promise<boolean> {
    if (!(await this.retrying('clickhouse', control, () => this.insert(batch)))) return false
    this.health.set('clickhouse', true)
    if (batch.rejected.length > 0 || batch.scopes.length > 0) {
      if (!(await this.retrying('kafka-produce', control, () => this.publish(batch)))) return false
    }
    return true
  }

  private async insert(batch: DecodedBatch): Promise<void> {
    const started = performance.now()
    const inserts: Promise<unknown>[] = []
    for (const table of factTables) {
      const rows = batch.facts[table]
      if (rows.rows === 0) continue
      this.metrics.insertRows.observe({ table }, rows.rows)
      inserts.push(insertTabSeparated(this.ch.client, table, rows))
    }
    if (batch.rejected.length > 0) {
      const rows = new TabSeparatedRows<DeadLetterRow>(deadLetterColumns)
      for (const r of batch.rejected) rows.push(toDeadLetterRow(r))
      inserts.push(insertTabSeparated(this.ch.client, 'dead_letters', rows))
    }
    await Promise.all(inserts)
    this.metrics.insertSeconds.observe((performance.now() - started) / 1000)
    this.metrics.lastInsert.set(Date.now() / 1000)
  }

  private async publish(batch: DecodedBatch): Promise<void> {
    const now = new Date()
    const topicMessages = []
    if (batch.rejected.length > 0) {
      topicMessages.push({
        topic: this.topics.deadLetter,
        messages: batch.rejected.map((r) => toDeadLetterMessage(r, now)),
      })
    }
    if (batch.scopes.length > 0) {
      const messages = []
      for (let i = 0; i < batch.scopes.length; i += MAX_SCOPES_PER_TRIGGER) {
        const trigger: KpiTrigger = {
          scopes: batch.scopes.slice(i, i + MAX_SCOPES_PER_TRIGGER),
          eventTime: batch.latestEventTime,
          producedAt: now.toISOString(),
        }
        messages.push({ value: JSON.stringify(trigger) })
      }
      topicMessages.push({ topic: this.topics.kpiTriggers, messages })
      this.metrics.triggers.inc(messages.length)
    }
    await this.producer.sendBatch({ topicMessages, acks: -1, compression: CompressionTypes.None })
  }

  private async retrying(
    stage: string,
    control: DeliveryControl,
    attemptOnce: () => Promise<void>,
  ): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      if (control.shouldGiveUp()) return false
      try {
        await attemptOnce()
        return true
      } catch (err) {
        errorsTotal().inc({ stage: `collector_${stage}`, error_type: (err as Error).name ?? 'Error' })
        if (stage === 'clickhouse') {
          this.metrics.insertFailures.inc()
          this.health.set('clickhouse', false, errorMessage(err))
        }
        const delay = backoffDelay(attempt, 200, this.maxBackoffMs)
        this.log.warn(
          { stage, attempt, retryInMs: delay, err: errorMessage(err) },
          'batch write failed, retrying',
        )
        // Sleep in slices so the group still hears from us and a shutdown is noticed promptly.
        for (let waited = 0; waited < delay && !control.shouldGiveUp(); waited += HEARTBEAT_EVERY_MS) {
          await sleep(Math.min(HEARTBEAT_EVERY_MS, delay - waited))
          await control.heartbeat().catch(() => undefined)
        }
      }
    }
  }
}

function wireConsumerHealth(consumer: Consumer, health: Health, log: Logger): void {
  health.set('kafka-consumer', false, 'joining group')
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    health.set('kafka-consumer', true)
    log.info(
      { memberId: e.payload.memberId, assignment: e.payload.memberAssignment },
      'collector joined group',
    )
  })
  consumer.on(consumer.events.CRASH, (e) => {
    health.set('kafka-consumer', false, `crashed: ${errorMessage(e.payload.error)}`)
    errorsTotal().inc({ stage: 'collector_consumer', error_type: e.payload.error.name })
  })
  consumer.on(consumer.events.STOP, () => health.set('kafka-consumer', false, 'stopped'))
}
