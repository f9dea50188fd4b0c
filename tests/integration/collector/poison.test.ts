import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { promisify } from 'node:util'
import { CompressionTypes, ConfigResourceTypes, type IHeaders, Partitioners } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deadLetterHeaders } from '../../../services/collector/dead-letter.js'
import { collectorMetrics } from '../../../services/collector/metrics.js'
import { queryRows } from '../../../shared/clickhouse/client.js'
import { topicNames } from '../../../shared/kafka/topics.js'
import { incidentEvent } from '../../helpers/events.js'
import { testConfig, waitFor } from '../../helpers/infra.js'
import { count, openStack, startTestCollector, type TestStack } from '../../helpers/pipeline.js'
import { header, readTopic, type TopicReader } from '../../helpers/topic-reader.js'

const run = promisify(execFile)

/**
 * The three messages that used to block their partition forever (issue 11): each is dead-lettered, the
 * partition's committed offset reaches its end, and the events produced behind it on the same partition
 * are stored and trigger the processor. Each case uses a partition of its own.
 */
describe('collector: poison messages never block a partition', () => {
  let stack: TestStack
  let collector: Awaited<ReturnType<typeof startTestCollector>>
  let deadLetters: TopicReader
  let triggers: TopicReader
  const topic = () => topicNames(stack.cfg).privacyIncidents

  beforeAll(async () => {
    stack = await openStack(
      testConfig({ COLLECTOR_MAX_BACKOFF_MS: '1000', COLLECTOR_DEAD_LETTER_ATTEMPTS: '2' }),
    )
    collector = await startTestCollector(stack)
    const id = stack.cfg.KAFKA_CLIENT_ID
    deadLetters = await readTopic(stack.kafka, topicNames(stack.cfg).deadLetter, `${id}-dlq`)
    triggers = await readTopic(stack.kafka, topicNames(stack.cfg).kpiTriggers, `${id}-triggers`)
  })
  afterAll(async () => {
    await deadLetters?.stop()
    await triggers?.stop()
    await collector?.stop()
    await stack?.close()
  })

  interface Poison {
    value: Buffer
    headers?: IHeaders
    compression?: CompressionTypes
  }

  /**
   * Produces the poison messages and then valid events to `partition`, and waits until the partition is
   * committed to its end, the valid events are stored and triggered, and every poison message is
   * dead-lettered. Returns the dead letters of this partition.
   */
  async function behindPoison(tag: string, partition: number, poisons: Poison[]) {
    const producer = stack.kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: true,
      maxInFlightRequests: 1,
    })
    await producer.connect()
    const offsets: string[] = []
    for (const p of poisons) {
      const [meta] = await producer.send({
        topic: topic(),
        acks: -1,
        compression: p.compression ?? CompressionTypes.None,
        messages: [{ partition, value: p.value, ...(p.headers ? { headers: p.headers } : {}) }],
      })
      offsets.push(meta!.baseOffset!)
    }
    const incidents = Array.from({ length: 5 }, (_, i) => `INC-${tag}-${i}`)
    const valid = incidents.map((incidentId, i) =>
      incidentEvent({
        incidentId,
        status: 'detected',
        time: `2026-02-0${i + 1}T10:00:00Z`,
        detectedAt: '2026-02-01T09:00:00Z',
        notifiable: false,
      }),
    )
    await producer.send({
      topic: topic(),
      acks: -1,
      messages: valid.map((e) => ({ partition, value: JSON.stringify(e) })),
    })
    await producer.disconnect()

    await waitFor(
      `the events behind the poison on partition ${partition} stored`,
      async () =>
        (await count(
          stack.ch,
          'SELECT uniqExact(event_id) AS n FROM privacy_incident_events WHERE event_id IN {ids:Array(String)}',
          { ids: valid.map((e) => e.id) },
        )) === valid.length
          ? true
          : undefined,
      60_000,
    )
    await waitFor(`triggers for partition ${partition}`, () => {
      const named = new Set<string>()
      for (const m of triggers.messages) {
        for (const s of JSON.parse(m.value!.toString()).scopes) named.add(s.incidentId)
      }
      return incidents.every((i) => named.has(i)) ? true : undefined
    })
    await waitFor(`partition ${partition} committed to its end`, async () => {
      const admin = stack.kafka.admin()
      await admin.connect()
      try {
        const ends = await admin.fetchTopicOffsets(topic())
        const [committed] = await admin.fetchOffsets({
          groupId: stack.cfg.COLLECTOR_GROUP_ID,
          topics: [topic()],
        })
        const end = ends.find((e) => e.partition === partition)!.high
        const at = committed!.partitions.find((p) => p.partition === partition)!.offset
        return at === end ? true : undefined
      } finally {
        await admin.disconnect()
      }
    })
    const mine = await waitFor('the dead letters', () => {
      const found = deadLetters.messages.filter(
        (m) =>
          header(m, deadLetterHeaders.topic) === topic() &&
          header(m, deadLetterHeaders.partition) === String(partition) &&
          offsets.includes(header(m, deadLetterHeaders.offset) ?? ''),
      )
      return found.length >= poisons.length ? found : undefined
    })
    expect(mine.map((m) => header(m, deadLetterHeaders.offset)).sort()).toEqual([...offsets].sort())
    return mine
  }

  it('dead-letters non-JSON messages whose headers are named like Object.prototype members', async () => {
    const names = ['constructor', 'toString', '__proto__', 'hasOwnProperty']
    const poisons = names.map((name) => {
      const headers: IHeaders = Object.create(null)
      headers[name] = Buffer.from(`value of ${name}`)
      headers.origin = Buffer.from('poison-test')
      return { value: Buffer.from(`not json: ${name}`), headers }
    })
    const letters = await behindPoison('hdr', 0, poisons)
    for (const name of names) {
      const letter = letters.find((m) => m.value?.toString() === `not json: ${name}`)
      expect(letter, name).toBeDefined()
      // The original headers travel with the copy, the hostile name included.
      expect(header(letter!, name)).toBe(`value of ${name}`)
      expect(header(letter!, 'origin')).toBe('poison-test')
      expect(header(letter!, deadLetterHeaders.errorType)).toBe('not_json')
    }
    const rows = await queryRows<{ headers: Record<string, string>; error_type: string }>(
      stack.ch,
      'SELECT headers, error_type FROM dead_letters FINAL WHERE partition = 0 ORDER BY offset',
    )
    expect(rows.map((r) => r.error_type)).toEqual(['not_json', 'not_json', 'not_json', 'not_json'])
    expect(rows.map((r) => Object.keys(r.headers).filter((k) => k !== 'origin'))).toEqual(
      names.map((n) => [n]),
    )
  }, 120_000)

  it('dead-letters a 2 MiB value sent gzip-compressed, truncated to fit, with its length and sha256', async () => {
    const value = Buffer.from(`{"huge":"${'x'.repeat(2 * 1024 * 1024)}"}`)
    const [letter] = await behindPoison('gzip', 1, [{ value, compression: CompressionTypes.GZIP }])
    expect(header(letter!, deadLetterHeaders.errorType)).toBe('too_large')
    expect(header(letter!, deadLetterHeaders.valueBytes)).toBe(String(value.length))
    expect(header(letter!, deadLetterHeaders.valueSha256)).toBe(
      createHash('sha256').update(value).digest('hex'),
    )
    expect(header(letter!, deadLetterHeaders.truncated)).toBe('true')
    expect(letter!.value!.length).toBeLessThan(1_048_588)
    expect(value.subarray(0, letter!.value!.length).equals(letter!.value!)).toBe(true)
  }, 120_000)

  it('dead-letters an invalid uncompressed value just under the broker limit', async () => {
    const value = Buffer.from(`{"almost":"${'y'.repeat(1_048_300 - 12)}`)
    expect(value.length).toBe(1_048_299)
    const [letter] = await behindPoison('edge', 2, [{ value }])
    expect(header(letter!, deadLetterHeaders.errorType)).toBe('not_json')
    expect(header(letter!, deadLetterHeaders.valueBytes)).toBe(String(value.length))
    // The copy plus its headers must fit the broker's limit, so the value is cut by what the headers take.
    expect(header(letter!, deadLetterHeaders.truncated)).toBe('true')
    expect(value.subarray(0, letter!.value!.length).equals(letter!.value!)).toBe(true)
    // ClickHouse keeps the whole value (under the storage cap).
    const [row] = await queryRows<{ value_base64: string }>(
      stack.ch,
      'SELECT value_base64 FROM dead_letters FINAL WHERE partition = 2',
    )
    expect(Buffer.from(row!.value_base64, 'base64').equals(value)).toBe(true)
  }, 120_000)

  it('dead-letters what kcat sends with headers without a value, and stores a valid event whose content-type has none', async () => {
    const partition = 1
    const admin = stack.kafka.admin()
    await admin.connect()
    const endOf = async () =>
      (await admin.fetchTopicOffsets(topic())).find((p) => p.partition === partition)!.high
    const first = await endOf()
    const kcat = async (headers: string[], line: string) => {
      const brokers = stack.cfg.KAFKA_BROKERS!.join(',')
      const args = [
        '-P',
        '-b',
        brokers,
        '-t',
        topic(),
        '-p',
        String(partition),
        ...headers.flatMap((h) => ['-H', h]),
      ]
      const child = run('kcat', args)
      child.child.stdin!.end(`${line}\n`)
      await child
    }
    // `-H name` without `=value` sends a header whose value is null; kafkajs adds the inherited member.
    await kcat(['toString', 'constructor=x'], 'not json, from kcat')
    const valid = incidentEvent({
      incidentId: 'INC-kcat-null-header',
      status: 'detected',
      time: '2026-03-02T10:00:00Z',
      detectedAt: '2026-03-02T09:00:00Z',
      notifiable: false,
    })
    await kcat(['content-type'], JSON.stringify(valid))
    await waitFor('the valid event stored', async () =>
      (await count(
        stack.ch,
        'SELECT count() AS n FROM privacy_incident_events WHERE event_id = {id:String}',
        {
          id: valid.id,
        },
      )) === 1
        ? true
        : undefined,
    )
    const letter = await waitFor('the dead letter', () =>
      deadLetters.messages.find(
        (m) =>
          header(m, deadLetterHeaders.partition) === String(partition) &&
          header(m, deadLetterHeaders.offset) === first,
      ),
    )
    expect(letter.value?.toString()).toBe('not json, from kcat')
    expect(header(letter, deadLetterHeaders.errorType)).toBe('not_json')
    expect(header(letter, 'toString')).toBe('')
    expect(header(letter, 'constructor')).toBe('x')
    await waitFor('the partition committed to its end', async () => {
      const [committed] = await admin.fetchOffsets({
        groupId: stack.cfg.COLLECTOR_GROUP_ID,
        topics: [topic()],
      })
      return committed!.partitions.find((p) => p.partition === partition)!.offset === (await endOf())
        ? true
        : undefined
    })
    await admin.disconnect()
  }, 120_000)

  it('records and skips a rejected message that neither the dead-letter topic nor ClickHouse will take', async () => {
    const dlqTopic = topicNames(stack.cfg).deadLetter
    const admin = stack.kafka.admin()
    await admin.connect()
    // Real faults, both about the message: the broker now refuses any dead-letter copy as too large, and
    // the dead_letters table refuses every row (a CHECK constraint).
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: dlqTopic,
          configEntries: [{ name: 'max.message.bytes', value: '200' }],
        },
      ],
    })
    await stack.ch.client.command({ query: 'ALTER TABLE dead_letters ADD CONSTRAINT refuse_all CHECK 0' })
    try {
      const value = Buffer.from('not json, and unwritable')
      const producer = stack.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
      await producer.connect()
      const [meta] = await producer.send({ topic: topic(), acks: -1, messages: [{ partition: 0, value }] })
      const valid = incidentEvent({
        incidentId: 'INC-unwritable-behind',
        status: 'detected',
        time: '2026-03-01T10:00:00Z',
        detectedAt: '2026-03-01T09:00:00Z',
        notifiable: false,
      })
      await producer.send({
        topic: topic(),
        acks: -1,
        messages: [{ partition: 0, value: JSON.stringify(valid) }],
      })
      await producer.disconnect()

      const failures = await waitFor(
        'both failures recorded',
        async () => {
          const rows = await queryRows<{
            stage: string
            value_sha256: string
            value_bytes: string
            offset: string
          }>(
            stack.ch,
            'SELECT stage, value_sha256, value_bytes, offset FROM dead_letter_failures FINAL ORDER BY stage',
          )
          return rows.length >= 2 ? rows : undefined
        },
        90_000,
      )
      const sha = createHash('sha256').update(value).digest('hex')
      expect(failures).toEqual([
        {
          stage: 'clickhouse',
          value_sha256: sha,
          value_bytes: String(value.length),
          offset: meta!.baseOffset,
        },
        {
          stage: 'dead-letter-topic',
          value_sha256: sha,
          value_bytes: String(value.length),
          offset: meta!.baseOffset,
        },
      ])
      const counted = (await collectorMetrics().unwritable.get()).values
      for (const stage of ['clickhouse', 'dead-letter-topic']) {
        expect(counted.find((v) => v.labels.stage === stage && v.labels.topic === topic())?.value).toBe(1)
      }
      // The partition went on: the event behind it is stored.
      await waitFor('the event behind it stored', async () =>
        (await count(
          stack.ch,
          'SELECT count() AS n FROM privacy_incident_events WHERE event_id = {id:String}',
          {
            id: valid.id,
          },
        )) === 1
          ? true
          : undefined,
      )
    } finally {
      await stack.ch.client.command({ query: 'ALTER TABLE dead_letters DROP CONSTRAINT refuse_all' })
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: dlqTopic,
            configEntries: [{ name: 'max.message.bytes', value: '1048588' }],
          },
        ],
      })
      await admin.disconnect()
    }
  }, 120_000)
})
