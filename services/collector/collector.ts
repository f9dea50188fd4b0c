import type { Admin, ConfigResourceTypes, Consumer, Kafka } from 'kafkajs'
import { Partitioners } from 'kafkajs'
import type { ClickHouse } from '../../shared/clickhouse/client.js'
import type { Config } from '../../shared/config/env.js'
import { errorMessage } from '../../shared/errors.js'
import { type EventType, PRIVACY_INCIDENT_TYPE, topicRoleOfType } from '../../shared/events/index.js'
import { decodeOcsfMessage } from '../../shared/events/ocsf/index.js'
import type { Health } from '../../shared/http/health.js'
import { eventTopics, ocsfTopic, type Topics, topicNames } from '../../shared/kafka/topics.js'
import type { Logger } from '../../shared/logger.js'
import { errorsTotal } from '../../shared/metrics/registry.js'
import type { DeadLetterLimits } from './dead-letter.js'
import { Lane, type LaneContext } from './lane.js'
import { collectorMetrics } from './metrics.js'
import { startProgressMonitor } from './progress.js'
import { applyDeadLetterRetention } from './retention.js'
import { BatchWriter } from './writer.js'

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

/** ConfigResourceTypes.TOPIC: Node's ESM loader does not see that export of kafkajs (CommonJS). */
const TOPIC_RESOURCE = 2 as ConfigResourceTypes.TOPIC

/** Kafka's default max.message.bytes (1 MiB + 12 bytes), when the broker cannot be asked. */
export const KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588

/**
 * Kafka event topics → validated fact rows in ClickHouse. Per partition (see Lane): decode batches,
 * insert facts and rejects, publish rejects to the dead-letter topic and the touched scopes to the
 * trigger topic, and only then commit the offsets. A crash anywhere before the commit redelivers the
 * batch, which the ReplacingMergeTree fact tables absorb (event id is the dedupe key). A partition
 * waiting for ClickHouse pauses only itself; the others keep being fetched (see Lane).
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
  const admin = kafka.admin()
  await admin.connect()
  const limits: DeadLetterLimits = {
    maxMessageBytes: await deadLetterMaxMessageBytes(cfg, admin, topics, log),
    storeMaxBytes: cfg.COLLECTOR_DEAD_LETTER_STORE_MAX_BYTES,
  }
  await applyDeadLetterRetention(ch, cfg.COLLECTOR_DEAD_LETTER_TTL_DAYS, log)

  const assignment = new Map<string, number[]>()
  wireConsumerHealth(consumer, health, log, assignment)
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

  const writer = new BatchWriter({
    ch,
    producer,
    topics,
    metrics,
    log,
    health,
    limits,
    maxBackoffMs: cfg.COLLECTOR_MAX_BACKOFF_MS,
    deadLetterAttempts: cfg.COLLECTOR_DEAD_LETTER_ATTEMPTS,
  })
  const context: LaneContext = { cfg, log, metrics, writer, consumer, stopping: stopping.signal }
  const typeOfTopic = expectedTypes(topics)
  health.set('clickhouse', true)
  const progress = startProgressMonitor({
    admin,
    groupId: cfg.COLLECTOR_GROUP_ID,
    assignment: () => assignment,
    metrics,
    health,
    log,
    stuckAfterMs: cfg.COLLECTOR_STUCK_AFTER_MS,
    intervalMs: Math.min(5_000, Math.max(500, Math.floor(cfg.COLLECTOR_STUCK_AFTER_MS / 4))),
  })
  await consumer.run({
    // Offsets are committed by each partition's lane once a batch is delivered. kafkajs would commit the
    // resolved offsets, which here mark what has been read, ahead of what is stored.
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: cfg.KAFKA_TOPIC_PARTITIONS * eventTopics(topics).length,
    eachBatch: async (payload) => {
      const { batch } = payload
      const key = `${batch.topic}\u0000${batch.partition}`
      let lane = lanes.get(key)
      if (lane === undefined) {
        lane =
          batch.topic === ocsf
            ? new Lane(batch.topic, batch.partition, context, PRIVACY_INCIDENT_TYPE, decodeOcsfMessage)
            : new Lane(batch.topic, batch.partition, context, typeOfTopic.get(batch.topic))
        lanes.set(key, lane)
      }
      const before = lane.accept(payload)
      // Moves the fetch position on, so kafkajs fetches the next batch while the lane decodes this one.
      payload.resolveOffset(batch.messages[batch.messages.length - 1]!.offset)
      // Returns once the batch before is decoded, or at once when the lane paused this partition to
      // wait for ClickHouse: kafkajs fetches no partition again until every eachBatch has returned.
      await before
      await payload.heartbeat()
    },
  })
  log.info(
    { topics: subscribed, group: cfg.COLLECTOR_GROUP_ID, deadLetterLimits: limits },
    'collector consuming',
  )

  return {
    async stop() {
      stopping.abort()
      progress.stop()
      // Deliveries give up at their next attempt (one that is mid-insert finishes it first); what lanes
      // hold is dropped uncommitted.
      await consumer.disconnect()
      await Promise.all([...lanes.values()].map((lane) => lane.settled()))
      await producer.disconnect()
      await admin.disconnect()
      health.remove('kafka-consumer')
      health.remove('clickhouse')
      log.info('collector stopped')
    },
  }
}

/** The one event type each event topic carries. */
export function expectedTypes(topics: Topics): Map<string, EventType> {
  return new Map(
    (Object.entries(topicRoleOfType) as [EventType, keyof Topics][]).map(([type, role]) => [
      topics[role],
      type,
    ]),
  )
}

/**
 * The largest record batch the dead-letter topic accepts: COLLECTOR_DEAD_LETTER_MAX_MESSAGE_BYTES when
 * set, else the topic's max.message.bytes as the broker reports it (its own default applies when the
 * topic has no override), else Kafka's default.
 */
async function deadLetterMaxMessageBytes(
  cfg: Config,
  admin: Admin,
  topics: Topics,
  log: Logger,
): Promise<number> {
  if (cfg.COLLECTOR_DEAD_LETTER_MAX_MESSAGE_BYTES !== undefined)
    return cfg.COLLECTOR_DEAD_LETTER_MAX_MESSAGE_BYTES
  try {
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: TOPIC_RESOURCE, name: topics.deadLetter, configNames: ['max.message.bytes'] }],
    })
    const value = Number(
      resources[0]?.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue,
    )
    if (Number.isInteger(value) && value > 0) return value
    throw new Error('the broker did not report max.message.bytes')
  } catch (err) {
    errorsTotal().inc({ stage: 'collector_describe_configs', error_type: (err as Error)?.name ?? 'Error' })
    log.warn(
      { topic: topics.deadLetter, err: errorMessage(err), assumed: KAFKA_DEFAULT_MAX_MESSAGE_BYTES },
      'could not read max.message.bytes of the dead-letter topic; set COLLECTOR_DEAD_LETTER_MAX_MESSAGE_BYTES if the broker differs from the default',
    )
    return KAFKA_DEFAULT_MAX_MESSAGE_BYTES
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

function wireConsumerHealth(
  consumer: Consumer,
  health: Health,
  log: Logger,
  assignment: Map<string, number[]>,
): void {
  health.set('kafka-consumer', false, 'joining group')
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    health.set('kafka-consumer', true)
    assignment.clear()
    for (const [topic, partitions] of Object.entries(e.payload.memberAssignment)) {
      assignment.set(topic, [...partitions])
    }
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
