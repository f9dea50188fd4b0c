import { setTimeout as sleep } from 'node:timers/promises'
import { type Kafka, Partitioners, type Producer, type TopicMessages } from 'kafkajs'
import { type EventType, encodeKafkaMessage, eventTypes, topicForType } from '../../shared/events/index.js'
import type { Topics } from '../../shared/kafka/topics.js'
import type { Logger } from '../../shared/logger.js'
import { createLiveGenerator, type DemoEvent, generateHistory, type Seed } from './generator.js'

/**
 * The demo feed: produces the seeded history as fast as the broker takes it, then live events at a
 * steady rate until the duration is over or the signal aborts. Events are keyed by their entity
 * (partitionKeyOf), so one incident's, model's or finding's events stay in order on one partition.
 */

export type FeedPhase = 'history' | 'live'

export interface DemoFeedOptions {
  kafka: Kafka
  topics: Topics
  seed: Seed
  /** The history ends here and live events follow it. Default: the current time. */
  now?: Date
  history: boolean
  /** Months of history (1-36). */
  months: number
  /** Live events per second; 0 skips the live phase. */
  rate: number
  /** Length of the live phase; undefined runs until `signal` aborts. */
  durationMs?: number
  /** Called after every batch; `total` is 0 when the live phase is open-ended. */
  onProgress?(done: number, total: number, phase: FeedPhase): void
  log: Logger
  signal?: AbortSignal
  /** Messages per sendBatch while producing the history. Default 1000. */
  historyBatchSize?: number
  /** Interval between live sends in ms. Default 50. */
  tickMs?: number
}

export interface DemoFeedResult {
  /** The `now` the history was generated for (and live events follow). */
  now: string
  history: number
  live: number
  total: number
  byType: Record<EventType, number>
  historyMs: number
  liveMs: number
  /** Live events per second actually achieved. */
  liveRate: number
  /** True when the signal stopped the feed before it was done. */
  aborted: boolean
}

/** Largest burst the live token bucket lets through after a stall, in seconds of `rate`. */
const BURST_S = 0.5

export async function runDemoFeed(opts: DemoFeedOptions): Promise<DemoFeedResult> {
  const { kafka, topics, log, signal } = opts
  if (!Number.isFinite(opts.rate) || opts.rate < 0)
    throw new RangeError(`rate must be >= 0, got ${opts.rate}`)
  if (opts.durationMs !== undefined && !(opts.durationMs >= 0)) {
    throw new RangeError(`durationMs must be >= 0, got ${opts.durationMs}`)
  }
  const now = opts.now ?? new Date()
  const byType = Object.fromEntries(eventTypes.map((t) => [t, 0])) as Record<EventType, number>
  const result: DemoFeedResult = {
    now: now.toISOString(),
    history: 0,
    live: 0,
    total: 0,
    byType,
    historyMs: 0,
    liveMs: 0,
    liveRate: 0,
    aborted: false,
  }

  // Idempotent: a batch retried after a partial failure (e.g. "not the leader" right after the topics
  // were created) must not write the partitions that had succeeded twice.
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    idempotent: true,
    maxInFlightRequests: 1,
    // The idempotent producer wants unlimited retries; a stuck send still ends with the process.
    retry: { initialRetryTime: 200, maxRetryTime: 5_000, retries: Number.MAX_SAFE_INTEGER },
    createPartitioner: Partitioners.DefaultPartitioner,
  })
  await producer.connect()
  try {
    if (opts.history && !signal?.aborted) {
      const startedAt = performance.now()
      const events = generateHistory({ seed: opts.seed, now, months: opts.months })
      log.info({ events: events.length, months: opts.months, now: result.now }, 'producing demo history')
      const batchSize = opts.historyBatchSize ?? 1000
      opts.onProgress?.(0, events.length, 'history')
      for (let i = 0; i < events.length; i += batchSize) {
        if (signal?.aborted) break
        const batch = events.slice(i, i + batchSize)
        await send(producer, topics, batch)
        for (const e of batch) byType[e.type]++
        result.history += batch.length
        opts.onProgress?.(result.history, events.length, 'history')
      }
      result.historyMs = performance.now() - startedAt
      log.info({ events: result.history, ms: Math.round(result.historyMs) }, 'demo history produced')
    }

    const liveWanted = opts.rate > 0 && (opts.durationMs === undefined || opts.durationMs > 0)
    if (liveWanted && !signal?.aborted) {
      log.info({ rate: opts.rate, durationMs: opts.durationMs ?? null }, 'producing live demo events')
      await runLive(producer, opts, now, result)
      log.info(
        { events: result.live, ms: Math.round(result.liveMs), rate: result.liveRate },
        'live demo stopped',
      )
    }
  } finally {
    result.aborted = signal?.aborted === true
    result.total = result.history + result.live
    await producer.disconnect().catch((err: unknown) => log.warn({ err }, 'producer disconnect failed'))
  }
  return result
}

/** Token-bucket pacing: tokens accrue at `rate` per second, one batch is sent every tick. */
async function runLive(
  producer: Producer,
  opts: DemoFeedOptions,
  now: Date,
  result: DemoFeedResult,
): Promise<void> {
  const { rate, signal, topics } = opts
  const tickMs = opts.tickMs ?? 50
  const generator = createLiveGenerator({ seed: opts.seed, now })
  const limit =
    opts.durationMs === undefined ? Number.POSITIVE_INFINITY : Math.round((rate * opts.durationMs) / 1000)
  const capacity = Math.max(1, rate * BURST_S, (rate * tickMs * 2) / 1000)
  const spacingMs = 1000 / rate
  const startedAt = performance.now()
  const endAt = opts.durationMs === undefined ? Number.POSITIVE_INFINITY : startedAt + opts.durationMs
  // Event times follow the wall clock but never precede the history's `now`.
  const wallOffset = Math.max(Date.now(), now.getTime()) - startedAt
  let tokens = 0
  let last = startedAt
  let lastAt = 0

  while (!signal?.aborted && result.live < limit) {
    const t = Math.min(performance.now(), endAt)
    tokens = Math.min(capacity, tokens + ((t - last) * rate) / 1000)
    last = t
    const n = Math.min(Math.floor(tokens), limit - result.live)
    if (n > 0) {
      tokens -= n
      const batch: DemoEvent[] = new Array(n)
      // Spread the batch's event times over the interval it stands for, as if they arrived one by one.
      const wall = t + wallOffset
      for (let k = 0; k < n; k++) {
        lastAt = Math.max(lastAt, Math.round(wall - (n - 1 - k) * spacingMs))
        batch[k] = generator.next(new Date(lastAt))
      }
      await send(producer, topics, batch)
      for (const e of batch) result.byType[e.type]++
      result.live += n
      opts.onProgress?.(result.live, Number.isFinite(limit) ? limit : 0, 'live')
    }
    if (t >= endAt) break
    const wait = Math.min(tickMs, endAt - performance.now())
    if (wait > 0) {
      try {
        await sleep(wait, undefined, { signal })
      } catch {
        break // aborted
      }
    }
  }
  result.liveMs = performance.now() - startedAt
  result.liveRate = result.liveMs > 0 ? Math.round((result.live * 1000) / result.liveMs) : 0
}

async function send(producer: Producer, topics: Topics, events: DemoEvent[]): Promise<void> {
  const byTopic = new Map<string, TopicMessages>()
  for (const event of events) {
    const topic = topicForType(event.type, topics)
    let entry = byTopic.get(topic)
    if (!entry) {
      entry = { topic, messages: [] }
      byTopic.set(topic, entry)
    }
    entry.messages.push(encodeKafkaMessage(event))
  }
  await producer.sendBatch({ topicMessages: [...byTopic.values()], acks: -1 })
}
