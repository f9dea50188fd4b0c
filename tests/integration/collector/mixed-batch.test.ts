import type { KafkaMessage } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deadLetterHeaders } from '../../../services/collector/dead-letter.js'
import { queryRows } from '../../../shared/clickhouse/client.js'
import { decodeKafkaMessage } from '../../../shared/events/index.js'
import { topicNames } from '../../../shared/kafka/topics.js'
import { testConfig, waitFor } from '../../helpers/infra.js'
import {
  count,
  openStack,
  produce,
  readExampleLines,
  startTestCollector,
  type TestStack,
  uncommitted,
} from '../../helpers/pipeline.js'

/** Copies an example event under a new id (and entity id), so every test owns its facts. */
function variant(line: string, id: string, patch: Record<string, unknown> = {}): Record<string, unknown> {
  const e = JSON.parse(line)
  return { ...e, id, data: { ...e.data, ...patch } }
}

describe('collector: a batch of valid, broken and duplicate events', () => {
  let stack: TestStack
  let collector: Awaited<ReturnType<typeof startTestCollector>>
  // Keyed by the rejected message's own partition and offset (from the dead letter's headers): delivery
  // is at least once, so a reader rebalance re-reads what it had not committed and a batch retried after
  // a failed write publishes its dead letters again. What must hold is one dead letter per bad message.
  const deadLetterByOffset = new Map<string, KafkaMessage>()
  const deadLetters = () => [...deadLetterByOffset.values()]

  beforeAll(async () => {
    stack = await openStack(testConfig({ COLLECTOR_MAX_EVENT_BYTES: '4096' }))
    collector = await startTestCollector(stack)
    const consumer = stack.kafka.consumer({ groupId: `${stack.cfg.KAFKA_CLIENT_ID}-dlq-reader` })
    await consumer.connect()
    await consumer.subscribe({ topic: topicNames(stack.cfg).deadLetter, fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ message }) => {
        const source = (name: string) => message.headers?.[name]?.toString() ?? '?'
        deadLetterByOffset.set(
          `${source(deadLetterHeaders.partition)}:${source(deadLetterHeaders.offset)}`,
          message,
        )
      },
    })
    afterAllConsumer = () => consumer.disconnect()
  })
  let afterAllConsumer = async () => {}
  afterAll(async () => {
    await afterAllConsumer()
    await collector?.stop()
    await stack?.close()
  })

  it('stores every valid event once and dead-letters every bad one with its reason', async () => {
    const topic = topicNames(stack.cfg).privacyIncidents
    const template = readExampleLines('privacy-incidents.jsonl')[0]!
    const valid = Array.from({ length: 50 }, (_, i) =>
      variant(template, `mixed-${i}`, { incidentId: `INC-MIX-${i % 10}` }),
    )
    const invalidLines = readExampleLines('invalid.jsonl')
    const tooLarge = JSON.stringify(variant(template, 'huge', { category: 'x'.repeat(5000) }))
    const messages = [
      ...valid.map((e) => ({
        key: String((e.data as { incidentId: string }).incidentId),
        value: JSON.stringify(e),
      })),
      // Producer retries and replays: the same events again.
      ...valid.slice(0, 20).map((e) => ({ value: JSON.stringify(e) })),
      ...invalidLines.map((value) => ({ key: 'bad', value, headers: { origin: 'test-suite' } })),
      { value: tooLarge },
      { value: null },
    ]
    // Interleave the bad ones among the good ones so they share batches.
    messages.sort((a, b) => (String(a.value).length % 7) - (String(b.value).length % 7))
    await produce(stack.kafka, topic, messages)

    const badCount = invalidLines.length + 2
    await waitFor('dead letters published', () => (deadLetterByOffset.size >= badCount ? true : undefined))
    await waitFor('offsets committed', async () =>
      (await uncommitted(stack.kafka, stack.cfg.COLLECTOR_GROUP_ID, topic)) === 0 ? true : undefined,
    )

    // Valid: each event id once, whatever merges have or have not happened.
    expect(await count(stack.ch, 'SELECT uniqExact(event_id) AS n FROM privacy_incident_events')).toBe(50)
    expect(await count(stack.ch, 'SELECT count() AS n FROM privacy_incident_events FINAL')).toBe(50)
    expect(await count(stack.ch, 'SELECT uniqExact(incident_id) AS n FROM privacy_incident_events')).toBe(10)

    // Bad: each on the dead-letter topic with the original bytes and headers plus the reason.
    expect(deadLetters()).toHaveLength(badCount)
    for (const line of invalidLines) {
      const dlq = deadLetters().find((m) => m.value?.toString() === line)
      expect(dlq, `dead letter for ${line.slice(0, 60)}`).toBeDefined()
      // Judged as the collector judges it on this topic: another type's event is on the wrong topic.
      const expected = decodeKafkaMessage({ value: Buffer.from(line) }, 4096, 'aims.privacy_incident.v1')
      expect(expected.ok).toBe(false)
      if (expected.ok) continue
      expect(dlq!.headers![deadLetterHeaders.reason]!.toString()).toBe(expected.reason)
      expect(dlq!.headers![deadLetterHeaders.errorType]!.toString()).toBe(expected.errorType)
      expect(dlq!.headers![deadLetterHeaders.topic]!.toString()).toBe(topic)
      expect(dlq!.headers!.origin!.toString()).toBe('test-suite')
      expect(dlq!.key?.toString()).toBe('bad')
    }
    const reasons = deadLetters().map((m) => m.headers![deadLetterHeaders.errorType]!.toString())
    expect(reasons).toContain('too_large')
    expect(reasons).toContain('empty')

    // And in ClickHouse for operators, with the same reasons.
    const rows = await queryRows<{
      error_type: string
      reason: string
      value_base64: string
      offset: string
    }>(stack.ch, 'SELECT error_type, reason, value_base64, offset FROM dead_letters FINAL ORDER BY offset')
    expect(rows).toHaveLength(badCount)
    for (const r of rows) expect(r.reason.length).toBeGreaterThan(5)
    expect(rows.map((r) => Buffer.from(r.value_base64, 'base64').toString())).toEqual(
      expect.arrayContaining(invalidLines),
    )
  })

  it('keeps the state with the latest event time when lifecycle events arrive out of order', async () => {
    const topic = topicNames(stack.cfg).privacyIncidents
    const lines = readExampleLines('privacy-incidents.jsonl')
      .map((l) => JSON.parse(l))
      .filter((e) => e.data.incidentId === 'INC-2025-0142')
    expect(lines.length).toBeGreaterThanOrEqual(3)
    const ooo = lines.map((e, i) => ({ ...e, id: `ooo-${i}`, data: { ...e.data, incidentId: 'INC-OOO' } }))
    const latest = ooo.reduce((a, b) => (Date.parse(a.time) >= Date.parse(b.time) ? a : b))
    // Newest first: the last to arrive is the oldest state.
    const reversed = [...ooo].sort((a, b) => Date.parse(b.time) - Date.parse(a.time))
    await produce(
      stack.kafka,
      topic,
      reversed.map((e) => ({ key: 'INC-OOO', value: JSON.stringify(e) })),
    )
    await waitFor('out-of-order lifecycle stored', async () =>
      (await count(
        stack.ch,
        "SELECT uniqExact(event_id) AS n FROM privacy_incident_events WHERE incident_id = 'INC-OOO'",
      )) === ooo.length
        ? true
        : undefined,
    )
    const [state] = await queryRows<{ status: string; contained_at: string | null }>(
      stack.ch,
      `SELECT argMax(status, (event_time, event_id)) AS status,
              argMaxIf(contained_at, (event_time, event_id), contained_at IS NOT NULL) AS contained_at
       FROM privacy_incident_events WHERE incident_id = 'INC-OOO'`,
    )
    expect(state!.status).toBe(latest.data.status)
    expect(state!.status).not.toBe(reversed[reversed.length - 1].data.status)
  })
})
