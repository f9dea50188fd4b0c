import { CompressionTypes, type KafkaMessage, type Message, Partitioners } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deadLetterHeaders } from '../../../services/collector/dead-letter.js'
import { collectorMetrics } from '../../../services/collector/metrics.js'
import { queryRows } from '../../../shared/clickhouse/client.js'
import { type EventType, factTables, topicRoleOfType } from '../../../shared/events/index.js'
import { eventTopics, topicNames } from '../../../shared/kafka/topics.js'
import { errorsTotal } from '../../../shared/metrics/registry.js'
import { testConfig, waitFor } from '../../helpers/infra.js'
import { count, openStack, startTestCollector, type TestStack } from '../../helpers/pipeline.js'
import { header, readTopic, type TopicReader } from '../../helpers/topic-reader.js'
import { type Expected, type FuzzMessage, fuzzPlan } from './hostile-messages.js'

const HOSTILE = 10_000
const VALID = 2_500
const MAX_EVENT_BYTES = 16 * 1024
/** Bytes per produce request: a request's messages for one partition form one record batch. */
const REQUEST_BYTES = 600 * 1024

/**
 * The collector against ≥10,000 hostile Kafka messages of every class issue 11 names, mixed with valid
 * events and spread over every partition of the three event topics, in one collector throughout.
 * Afterwards: every valid event is stored once, every hostile message is dead-lettered exactly once with
 * the expected error type and a reason naming its field or cause, every partition is committed to its
 * end, and the collector never failed a lane, crashed or skipped a message.
 */
describe('collector fuzz: hostile messages never stop or fool it', () => {
  let stack: TestStack
  let collector: Awaited<ReturnType<typeof startTestCollector>>
  let deadLetters: TopicReader
  const consumerStates: boolean[] = []
  let sampler: NodeJS.Timeout | undefined

  beforeAll(async () => {
    stack = await openStack(testConfig({ COLLECTOR_MAX_EVENT_BYTES: String(MAX_EVENT_BYTES) }))
    collector = await startTestCollector(stack)
    deadLetters = await readTopic(
      stack.kafka,
      topicNames(stack.cfg).deadLetter,
      `${stack.cfg.KAFKA_CLIENT_ID}-dlq`,
    )
    await waitFor('the collector to join its group', () =>
      stack.health.report().components['kafka-consumer']?.ready ? true : undefined,
    )
    sampler = setInterval(() => {
      consumerStates.push(stack.health.report().components['kafka-consumer']?.ready === true)
    }, 250)
  })
  afterAll(async () => {
    if (sampler) clearInterval(sampler)
    await deadLetters?.stop()
    await collector?.stop()
    await stack?.close()
  })

  it('stores every valid event, dead-letters every hostile one with its reason, and leaves no partition behind', async () => {
    const topics = topicNames(stack.cfg)
    const plan = fuzzPlan({ seed: 20261101, valid: VALID, hostile: HOSTILE, maxEventBytes: MAX_EVENT_BYTES })
    expect(plan.hostile).toBeGreaterThanOrEqual(10_000)

    // Produce, round-robin over partitions, remembering where each message landed.
    const expectedAt = new Map<string, Expected>()
    const kinds = new Map<string, number>()
    // Idempotent: a request kafkajs retries after a timeout (a loaded machine) is not written twice, so
    // each message sits at the offset this test computes for it.
    const producer = stack.kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: true,
      maxInFlightRequests: 1,
    })
    await producer.connect()
    try {
      for (const [type, messages] of plan.byType) {
        const topic = topics[topicRoleOfType[type as EventType]]
        const partitions = stack.cfg.KAFKA_TOPIC_PARTITIONS
        for (let partition = 0; partition < partitions; partition++) {
          const mine = messages.filter((_, i) => i % partitions === partition)
          for (const chunk of requests(mine)) {
            const sent: Message[] = chunk.map((m) => ({
              partition,
              key: m.key,
              value: m.value,
              ...(m.headers ? { headers: m.headers } : {}),
            }))
            const [meta] = await producer.send({
              topic,
              acks: -1,
              compression: chunk[0]!.compressed ? CompressionTypes.GZIP : CompressionTypes.None,
              messages: sent,
            })
            chunk.forEach((m, i) => {
              expectedAt.set(`${topic}/${partition}/${BigInt(meta!.baseOffset!) + BigInt(i)}`, m.expected)
              const kind = m.expected.outcome === 'stored' ? 'valid' : m.expected.kind
              kinds.set(kind, (kinds.get(kind) ?? 0) + 1)
            })
          }
        }
      }
    } finally {
      await producer.disconnect()
    }
    const hostile = [...expectedAt].filter(([, e]) => e.outcome === 'dead-letter')
    const valid = [...expectedAt].filter(([, e]) => e.outcome === 'stored')
    expect(hostile.length).toBe(plan.hostile)
    expect(valid.length).toBe(plan.valid)
    // Every class is represented.
    for (const kind of [
      'bad json',
      'bad utf-8',
      'too large',
      'compressed huge',
      'huge near the broker limit',
      'wrong type for topic',
      'forbidden key',
      'control character',
      'out of range',
      'tombstone',
      'content type',
      'binary forbidden attribute',
      'binary control character',
      'binary wrong type',
      'binary date',
      'binary specversion',
      'binary bad utf-8',
      'binary content type',
      'binary bad json',
    ]) {
      expect(kinds.get(kind) ?? 0, kind).toBeGreaterThan(0)
    }

    // Every partition committed to its end.
    await waitFor(
      'every partition committed to its end',
      async () => ((await behind(stack, eventTopics(topics))) === 0 ? true : undefined),
      120_000,
      250,
    )

    // Stored: exactly the valid events, each once.
    const storedIds = new Set<string>()
    for (const table of factTables) {
      if (table === 'model_group_counts') continue
      const rows = await queryRows<{ event_id: string }>(
        stack.ch,
        `SELECT DISTINCT event_id FROM ${table} WHERE startsWith(event_id, 'fz')`,
      )
      for (const r of rows) storedIds.add(r.event_id)
    }
    const validIds = new Set(valid.map(([, e]) => (e as { eventId: string }).eventId))
    expect(storedIds.size).toBe(validIds.size)
    expect([...storedIds].filter((id) => !validIds.has(id))).toEqual([])

    // Dead-lettered: exactly the hostile messages, on the topic and in the table, with their reasons.
    const letters = await waitFor('every dead letter on the topic', () => {
      const byWhere = new Map<string, KafkaMessage>()
      for (const m of deadLetters.messages) {
        const where = `${header(m, deadLetterHeaders.topic)}/${header(m, deadLetterHeaders.partition)}/${header(m, deadLetterHeaders.offset)}`
        byWhere.set(where, m)
      }
      return byWhere.size >= hostile.length ? byWhere : undefined
    })
    // Exactly the hostile messages (a copy the collector's producer retried may appear twice on the topic,
    // as any at-least-once copy can; the set of messages dead-lettered is what must be exact).
    expect(letters.size).toBe(hostile.length)
    const rows = await queryRows<{
      topic: string
      partition: number
      offset: string
      error_type: string
      reason: string
    }>(stack.ch, 'SELECT topic, partition, offset, error_type, reason FROM dead_letters FINAL')
    const rowAt = new Map(rows.map((r) => [`${r.topic}/${r.partition}/${r.offset}`, r]))
    const unexpected = rows.filter(
      (r) => expectedAt.get(`${r.topic}/${r.partition}/${r.offset}`)?.outcome !== 'dead-letter',
    )
    expect(unexpected.slice(0, 5)).toEqual([])
    expect(rows.length - rowAt.size, 'rows repeated after FINAL').toBe(0)
    expect(rows.length).toBe(hostile.length)
    const mismatches: string[] = []
    for (const [where, e] of hostile) {
      if (e.outcome !== 'dead-letter') continue
      const letter = letters.get(where)
      const row = rowAt.get(where)
      const reason = letter ? header(letter, deadLetterHeaders.reason) : undefined
      const errorType = letter ? header(letter, deadLetterHeaders.errorType) : undefined
      if (!letter || !row)
        mismatches.push(`${where} (${e.kind}): missing on the ${letter ? 'table' : 'topic'}`)
      else if (errorType !== e.errorType || !e.reason.test(reason ?? '') || row.reason !== reason) {
        mismatches.push(
          `${where} (${e.kind}): expected ${e.errorType} ${e.reason}, got ${errorType} ${reason}`,
        )
      }
      if (letter?.value && letter.value.length > 1_048_588) mismatches.push(`${where}: copy over the limit`)
    }
    expect(mismatches.slice(0, 10)).toEqual([])

    // One collector throughout: no lane failed and was rewound, no consumer crash, nothing skipped.
    const errors = (await errorsTotal().get()).values
    expect(
      errors.filter((v) => ['collector_lane', 'collector_consumer'].includes(String(v.labels.stage))),
    ).toEqual([])
    expect((await collectorMetrics().unwritable.get()).values.filter((v) => v.value > 0)).toEqual([])
    expect(consumerStates.length).toBeGreaterThan(0)
    expect(consumerStates.every(Boolean)).toBe(true)
    expect(await count(stack.ch, 'SELECT count() AS n FROM dead_letter_failures')).toBe(0)
  }, 240_000)
})

/** Messages grouped into produce requests of at most REQUEST_BYTES, compressed ones alone. */
function requests(messages: FuzzMessage[]): FuzzMessage[][] {
  const out: FuzzMessage[][] = []
  let current: FuzzMessage[] = []
  let bytes = 0
  const size = (m: FuzzMessage) => {
    let n = (m.value?.length ?? 0) + (m.key?.length ?? 0)
    for (const [name, v] of Object.entries(m.headers ?? {})) n += name.length + (v?.length ?? 0)
    return n
  }
  for (const m of messages) {
    if (m.compressed) {
      out.push([m])
      continue
    }
    const s = size(m)
    if (current.length > 0 && bytes + s > REQUEST_BYTES) {
      out.push(current)
      current = []
      bytes = 0
    }
    current.push(m)
    bytes += s
  }
  if (current.length > 0) out.push(current)
  return out
}

/** Messages between the group's committed offsets and the end offsets, over all partitions of `topics`. */
async function behind(stack: TestStack, topics: string[]): Promise<number> {
  const admin = stack.kafka.admin()
  await admin.connect()
  try {
    let total = 0
    const committed = await admin.fetchOffsets({ groupId: stack.cfg.COLLECTOR_GROUP_ID, topics })
    for (const topic of topics) {
      const ends = await admin.fetchTopicOffsets(topic)
      const mine = committed.find((c) => c.topic === topic)
      for (const end of ends) {
        const at = Number(mine?.partitions.find((p) => p.partition === end.partition)?.offset ?? -1)
        total += Number(end.high) - Math.max(0, at)
      }
    }
    return total
  } finally {
    await admin.disconnect()
  }
}
