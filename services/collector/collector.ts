import type { Consumer, Kafka, Message, Producer, TopicMessages } from 'kafkajs'
import { CompressionTypes, Partitioners } from 'kafkajs'
import { backoffDelay, sleep } from '../../shared/backoff.js'
import type { ClickHouse } from '../../shared/clickhouse/client.js'
import { insertTabSeparated, TabSeparatedRows } from '../../shared/clickhouse/tab-separated.js'
import type { Config } from '../../shared/config/env.js'
import { errorMessage } from '../../shared/errors.js'
import { factTables, kpiTriggerJson, MAX_SCOPES_PER_TRIGGER } from '../../shared/events/index.js'
import { decodeOcsfMessage } from '../../shared/events/ocsf/index.js'
import type { Health } from '../../shared/http/health.js'
import { eventTopics, ocsfTopic, type Topics, topicNames } from '../../shared/kafka/topics.js'
import type { Logger } from '../../shared/logger.js'
import { errorsTotal } from '../../shared/metrics/registry.js'
import { type DeadLetterRow, deadLetterColumns, toDeadLetterMessage, toDeadLetterRow } from './dead-letter.js'
import type { DecodedBatch } from './decode-batch.js'
import { type DeliveryControl, Lane, type LaneContext, type Writer } from './lane.js'
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
 * Kafka event topics → validated fact rows in ClickHouse. Per partition (see Lane): decode batches,
 * insert facts and rejects, publish rejects to the dead-letter topic and the touched scopes to the
 * trigger topic, and only then commit the offsets. A crash anywhere before the commit redelivers the
 * batch, which the ReplacingMergeTree fact tables absorb (event id is the dedupe key).
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
  // tests/bench/bare-consumer.ts reads with the same fetch sizes.
  const consumer = kafka.consumer({
    groupId: cfg.COLLECTOR_GROUP_ID,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    ...collectorFetchSizes,
    maxWaitTimeInMs: 250,
    allowAutoTopicCreation: false,
  })
  wireConsumerHealth(consumer, health, log)
  const lanes = new Map<string, Lane>()
  // Every join starts a new offset manager: reading resumes from the last commit, so whatever a lane
  // accepted but has not yet handed to a delivery will be read again (by this consumer or another).
  consumer.on(consumer.events.GROUP_JOIN, () => {
    for (const lane of lanes.values()) lane.restart()
  })
  await producer.connect()
  await consumer.connect()
  // OCSF findings, when configured, arrive on a topic of their own and are decoded by the OCSF mapping.
  const ocsf = ocsfTopic(cfg)
  const subscribed = ocsf === undefined ? eventTopics(topics) : [...eventTopics(topics), ocsf]
  await consumer.subscribe({ topics: subscribed, fromBeginning: true })

  const writer = new BatchWriter(ch, producer, topics, metrics, log, health, cfg.COLLECTOR_MAX_BACKOFF_MS)
  const context: LaneContext = {
    cfg,
    log,
    metrics,
    writer,
    consumer,
    stopping: stopping.signal,
    decoderFor: (topic) => (topic === ocsf ? decodeOcsfMessage : undefined),
  }
  health.set('clickhouse', true)
  await consumer.run({
    // Offsets are committed by each partition's lane once a batch is delivered. kafkajs would commit the
    // resolved offsets, which here mark what has been read, ahead of what is stored.
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: cfg.KAFKA_TOPIC_PARTITIONS,
    eachBatch: async (payload) => {
      const { batch } = payload
      const key = `${batch.topic}\u0000${batch.partition}`
      let lane = lanes.get(key)
      if (lane === undefined) {
        lane = new Lane(batch.topic, batch.partition, context)
        lanes.set(key, lane)
      }
      const before = lane.accept(payload)
      // Moves the fetch position on, so kafkajs fetches the next batch while the lane decodes this one.
      payload.resolveOffset(batch.messages[batch.messages.length - 1]!.offset)
      await before
      await payload.heartbeat()
    },
  })
  log.info({ topics: subscribed, group: cfg.COLLECTOR_GROUP_ID }, 'collector consuming')

  return {
    async stop() {
      stopping.abort()
      // Deliveries give up at their next attempt (one that is mid-insert finishes it first); what lanes
      // hold is dropped uncommitted.
      await consumer.disconnect()
      await Promise.all([...lanes.values()].map((lane) => lane.settled()))
      await producer.disconnect()
      health.remove('kafka-consumer')
      health.remove('clickhouse')
      log.info('collector stopped')
    },
  }
}

/**
 * kafkajs fetch sizes. Small, because a fetched batch stays in memory until it is decoded: 1 MB per fetch
 * (~2.8k small events) bounds that, and half of it per partition lets two partitions share a fetch.
 * Inserts stay large regardless: a lane decodes many fetches into one batch (COLLECTOR_MAX_BATCH_ROWS).
 */
export const collectorFetchSizes = {
  maxBytesPerPartition: 512 * 1024,
  maxBytes: 1024 * 1024,
} as const

/**
 * Writes one decoded batch everywhere it has to go, retrying until it succeeds or the consumer gives the
 * partition up (shutdown, seek).
 */
class BatchWriter implements Writer {
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
    if (batch.rejected.length > 0 || batch.scopeKeys.size > 0) {
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
    const outgoing: { topic: string; message: Message }[] = []
    for (const r of batch.rejected) {
      outgoing.push({ topic: this.topics.deadLetter, message: toDeadLetterMessage(r, now) })
    }
    if (batch.scopeKeys.size > 0) {
      const keys = [...batch.scopeKeys]
      const producedAt = now.toISOString()
      for (let i = 0; i < keys.length; i += MAX_SCOPES_PER_TRIGGER) {
        const value = kpiTriggerJson(
          keys.slice(i, i + MAX_SCOPES_PER_TRIGGER),
          batch.latestEventTime,
          producedAt,
        )
        outgoing.push({ topic: this.topics.kpiTriggers, message: { value } })
        this.metrics.triggers.inc()
      }
    }
    await Promise.all(
      produceRequests(outgoing).map((topicMessages) =>
        this.producer.sendBatch({ topicMessages, acks: -1, compression: CompressionTypes.None }),
      ),
    )
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

/** Bytes of messages per produce request, well under the broker's default 1 MB batch limit. */
const PRODUCE_REQUEST_BYTES = 512 * 1024

/**
 * The messages grouped into produce requests of at most PRODUCE_REQUEST_BYTES (a larger message goes
 * alone). A request's messages for one partition travel as one record batch, which the broker refuses
 * over its message size limit: a large batch's triggers must go out in several requests.
 */
function produceRequests(outgoing: readonly { topic: string; message: Message }[]): TopicMessages[][] {
  const size = (v: string | Buffer | null | undefined) =>
    v == null ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length
  const requests: TopicMessages[][] = []
  let current: TopicMessages[] = []
  let bytes = 0
  for (const { topic, message } of outgoing) {
    let messageBytes = size(message.value) + size(message.key)
    for (const [name, value] of Object.entries(message.headers ?? {})) {
      messageBytes += name.length
      for (const v of Array.isArray(value) ? value : [value]) messageBytes += size(v)
    }
    if (current.length > 0 && bytes + messageBytes > PRODUCE_REQUEST_BYTES) {
      requests.push(current)
      current = []
      bytes = 0
    }
    const last = current[current.length - 1]
    if (last?.topic === topic) last.messages.push(message)
    else current.push({ topic, messages: [message] })
    bytes += messageBytes
  }
  if (current.length > 0) requests.push(current)
  return requests
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
