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
 * then commit the offsets. Within a partition the next batch is read and decoded while the previous one
 * is delivered (see Lane). A crash anywhere before the commit redelivers the batch, which the
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
  const lanes = new Map<string, Lane>()
  const context: BatchContext = { cfg, log, metrics, writer, consumer, lanes, stopping: stopping.signal }
  health.set('clickhouse', true)
  await consumer.run({
    // Offsets are committed by each partition's lane once a batch is delivered (see handleBatch). kafkajs
    // would commit the resolved offsets, which here mark what has been read, ahead of what is stored.
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: cfg.KAFKA_TOPIC_PARTITIONS,
    eachBatch: (payload) => handleBatch(payload, context),
  })
  log.info({ topics: eventTopics(topics), group: cfg.COLLECTOR_GROUP_ID }, 'collector consuming')

  return {
    async stop() {
      stopping.abort()
      // Deliveries give up at their next attempt; one that is mid-insert finishes it first.
      await Promise.allSettled([...lanes.values()].map((lane) => lane.previous()))
      await consumer.disconnect()
      await producer.disconnect()
      health.remove('kafka-consumer')
      health.remove('clickhouse')
      log.info('collector stopped')
    },
  }
}

interface BatchContext {
  cfg: Config
  log: Logger
  metrics: CollectorMetrics
  writer: BatchWriter
  consumer: Consumer
  lanes: Map<string, Lane>
  stopping: AbortSignal
}

/**
 * A partition's deliveries, chained so they run one at a time and in offset order, each followed by the
 * commit of its offsets. The lane lets the consumer read and decode the partition's next batch while
 * the previous one is being inserted (the JavaScript thread decodes while ClickHouse parses), without
 * ever committing an offset before everything up to it is stored.
 */
class Lane {
  private last: Promise<boolean> = Promise.resolve(true)
  /** The highest offset this lane committed: a commit never moves the group's position backwards. */
  committed = -1n

  /** The previous delivery: true once delivered and committed, false if it gave up; rejects on a bug. */
  previous(): Promise<boolean> {
    return this.last
  }

  follow(delivery: Promise<boolean>): void {
    // The next batch of the partition awaits it; this only keeps a rejection from going unhandled meanwhile.
    delivery.catch(() => undefined)
    this.last = delivery
  }

  reset(): void {
    this.last = Promise.resolve(true)
  }
}

/**
 * One partition batch: decode it, wait for the partition's previous delivery, then start this one and
 * return, so kafkajs fetches the next batch while it runs. A crash anywhere before a commit redelivers
 * from the last commit, which the ReplacingMergeTree fact tables absorb (event id is the dedupe key).
 */
async function handleBatch(payload: EachBatchPayload, context: BatchContext): Promise<void> {
  const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload
  const { cfg, lanes, stopping } = context
  if (batch.messages.length === 0) return
  const key = `${batch.topic}\u0000${batch.partition}`
  let lane = lanes.get(key)
  if (lane === undefined) {
    lane = new Lane()
    lanes.set(key, lane)
  }
  const control: DeliveryControl = {
    heartbeat,
    shouldGiveUp: () => stopping.aborted || !isRunning() || isStale(),
  }
  // Large batches are split so one insert never exceeds the configured row budget.
  for (let start = 0; start < batch.messages.length; start += cfg.COLLECTOR_MAX_BATCH_ROWS) {
    const slice = batch.messages.slice(start, start + cfg.COLLECTOR_MAX_BATCH_ROWS)
    const decoded = decodeBatch(batch.topic, batch.partition, slice, cfg.COLLECTOR_MAX_EVENT_BYTES)
    // While ClickHouse is failing, the previous delivery keeps retrying and the partition's consumption
    // waits here: eachBatch does not return, so kafkajs fetches nothing more for it and memory stays bounded.
    if (!(await lane.previous())) {
      // It gave up: the consumer is stopping, or the partition was sought elsewhere. Either way reading
      // resumes from the last commit (or the seek), so this batch is dropped unresolved.
      lane.reset()
      return
    }
    const last = slice[slice.length - 1]!
    lane.follow(deliverAndCommit(decoded, last.offset, batch.highWatermark, lane, control, context))
    // Moves the fetch position on; the commit follows the delivery, in the lane.
    resolveOffset(last.offset)
  }
  await heartbeat()
}

async function deliverAndCommit(
  decoded: DecodedBatch,
  lastOffset: string,
  highWatermark: string,
  lane: Lane,
  control: DeliveryControl,
  { writer, consumer, metrics, log }: BatchContext,
): Promise<boolean> {
  if (!(await writer.deliver(decoded, control))) return false
  const { topic, partition } = decoded
  countOutcomes(topic, decoded, metrics)
  // Kafka commits the offset of the next message to read.
  const next = BigInt(lastOffset) + 1n
  if (next > lane.committed) {
    try {
      await consumer.commitOffsets([{ topic, partition, offset: next.toString() }])
      lane.committed = next
    } catch (err) {
      // Stored but not committed: the next commit covers it, or it is redelivered and deduplicated.
      errorsTotal().inc({ stage: 'collector_commit', error_type: (err as Error).name ?? 'Error' })
      log.warn({ topic, partition, offset: lastOffset, err: errorMessage(err) }, 'offset commit failed')
    }
  }
  const lag = Number(highWatermark) - Number(lastOffset) - 1
  metrics.lag.set({ topic, partition: String(partition) }, Math.max(0, lag))
  return true
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
 * partition up (shutdown, seek).
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
