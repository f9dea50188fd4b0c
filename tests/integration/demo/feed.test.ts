import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Admin, Consumer, Kafka } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { type LocalKafka, startLocalKafka } from '../../../deploy/kafka/local-broker.js'
import { runDemoFeed } from '../../../services/demo/feed.js'
import { generateHistory } from '../../../services/demo/generator.js'
import { type Config, loadConfig } from '../../../shared/config/env.js'
import { type AimsEvent, parseEvent, partitionKeyOf, topicForType } from '../../../shared/events/index.js'
import { createKafka } from '../../../shared/kafka/client.js'
import { ensureTopics, eventTopics, type Topics, topicNames } from '../../../shared/kafka/topics.js'
import { createLogger } from '../../../shared/logger.js'
import { testConfig, waitFor } from '../../helpers/infra.js'

/** The demo feed against the real broker: history then 2 s of live events at 200/s, read back. */

interface Received {
  topic: string
  key: string
  event: AimsEvent
  offset: number
  partition: number
}

let cfg: Config
let kafka: Kafka
let admin: Admin
let topics: Topics
const consumers: Consumer[] = []

let localKafka: LocalKafka | undefined
let localDataDir: string | undefined

beforeAll(async () => {
  if (inject('kafkaBrokers')) cfg = testConfig()
  else {
    // Run without the root global setup (e.g. a config that does not wire it): bring up a broker here.
    localDataDir = await mkdtemp(join(tmpdir(), 'aims-demo-kafka-'))
    localKafka = await startLocalKafka({ dataDir: localDataDir, port: 0 })
    const id = `t${process.pid}_${randomBytes(3).toString('hex')}`
    cfg = loadConfig({
      LOG_LEVEL: 'warn',
      LOG_FORMAT: 'json',
      KAFKA_BROKERS: localKafka.brokers.join(','),
      KAFKA_TOPIC_PREFIX: `${id}.`,
      KAFKA_CLIENT_ID: id,
    })
  }
  const log = createLogger(cfg)
  kafka = createKafka(cfg, cfg.KAFKA_BROKERS!, log)
  admin = kafka.admin()
  await admin.connect()
  await ensureTopics(admin, cfg)
  topics = topicNames(cfg)
})

afterAll(async () => {
  for (const c of consumers) await c.disconnect().catch(() => undefined)
  await admin?.disconnect()
  await localKafka?.stop()
  if (localDataDir) await rm(localDataDir, { recursive: true, force: true })
})

/** Reads every event topic from the beginning until `expected` messages have arrived. */
async function readAll(expected: number): Promise<Received[]> {
  const consumer = kafka.consumer({ groupId: `${cfg.KAFKA_CLIENT_ID}-reader-${consumers.length}` })
  consumers.push(consumer)
  await consumer.connect()
  await consumer.subscribe({ topics: eventTopics(topics), fromBeginning: true })
  const received: Received[] = []
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        const parsed = parseEvent(JSON.parse(m.value!.toString('utf8')))
        if (!parsed.ok) throw new Error(`invalid event on ${batch.topic}: ${parsed.reason}`)
        received.push({
          topic: batch.topic,
          key: m.key!.toString('utf8'),
          event: parsed.event,
          offset: Number(m.offset),
          partition: batch.partition,
        })
      }
    },
  })
  await waitFor(`${expected} messages (have ${received.length})`, () =>
    received.length >= expected ? true : undefined,
  )
  // Nothing more than what was produced arrives.
  await new Promise((r) => setTimeout(r, 500))
  await consumer.stop()
  return received
}

describe('demo feed on a real broker', () => {
  it('produces the history, then paced live events, all valid, keyed and routed by type', async () => {
    const now = new Date()
    const progress: { done: number; total: number; phase: string }[] = []
    const result = await runDemoFeed({
      kafka,
      topics,
      seed: 7,
      now,
      history: true,
      months: 2,
      rate: 200,
      durationMs: 2000,
      log: createLogger(cfg),
      onProgress: (done, total, phase) => progress.push({ done, total, phase }),
    })

    const history = generateHistory({ seed: 7, now, months: 2 })
    expect(result.history).toBe(history.length)
    expect(result.total).toBe(result.history + result.live)
    expect(result.aborted).toBe(false)
    // Pacing: 2 s at 200/s is 400 events, delivered over roughly 2 s.
    expect(result.live).toBeGreaterThanOrEqual(360)
    expect(result.live).toBeLessThanOrEqual(400)
    expect(result.liveMs).toBeGreaterThan(1900)
    // Never faster than the rate (above); slower only by what a loaded machine adds: a generous bound.
    expect(result.liveMs).toBeLessThan(30_000)
    expect(progress.at(-1)).toEqual({ done: result.live, total: 400, phase: 'live' })
    expect(progress.filter((p) => p.phase === 'history').at(-1)).toMatchObject({ done: history.length })

    const received = await readAll(result.total)
    expect(received).toHaveLength(result.total)
    const ids = new Set(received.map((r) => r.event.id))
    expect(ids.size).toBe(result.total)
    for (const e of history) expect(ids.has(e.id)).toBe(true)
    for (const r of received) {
      expect(r.topic).toBe(topicForType(r.event.type, topics))
      expect(r.key).toBe(partitionKeyOf(r.event))
    }
    const byType: Record<string, number> = {}
    for (const r of received) byType[r.event.type] = (byType[r.event.type] ?? 0) + 1
    expect(byType).toEqual(Object.fromEntries(Object.entries(result.byType).filter(([, n]) => n > 0)))

    // Live events carry wall-clock times spread over the live phase at ~200/s.
    const historyIds = new Set(history.map((e) => e.id))
    const liveTimes = received
      .filter((r) => !historyIds.has(r.event.id))
      .map((r) => Date.parse(r.event.time))
      .sort((a, b) => a - b)
    expect(liveTimes).toHaveLength(result.live)
    expect(liveTimes[0]!).toBeGreaterThanOrEqual(now.getTime())
    const spanS = (liveTimes.at(-1)! - liveTimes[0]!) / 1000
    expect(spanS).toBeGreaterThan(1.6)
    expect(spanS).toBeLessThan(3)
    const perSecond = liveTimes.length / spanS
    expect(perSecond).toBeGreaterThan(150)
    expect(perSecond).toBeLessThan(260)

    // Within a partition, one entity's events arrive in the order of their times.
    const lastTime = new Map<string, number>()
    for (const r of [...received].sort((a, b) => a.offset - b.offset)) {
      if (r.event.type === 'aims.model_metrics.v1') continue
      const key = `${r.topic}|${r.key}`
      const t = Date.parse(r.event.time)
      expect(t).toBeGreaterThanOrEqual(lastTime.get(key) ?? 0)
      lastTime.set(key, t)
    }
  })

  it('stops promptly on abort and reports it', async () => {
    const abort = new AbortController()
    setTimeout(() => abort.abort(), 600)
    const started = performance.now()
    const result = await runDemoFeed({
      kafka,
      topics,
      seed: 8,
      history: false,
      months: 1,
      rate: 1000,
      log: createLogger(cfg),
      signal: abort.signal,
    })
    const ms = performance.now() - started
    expect(result.aborted).toBe(true)
    expect(result.history).toBe(0)
    expect(result.live).toBeGreaterThan(200)
    expect(result.live).toBeLessThan(1000)
    // The abort ended the run (fewer events than asked, above); the time only has to be finite here.
    expect(ms).toBeLessThan(30_000)
  })
})
