import type { Message, Producer, TopicMessages } from 'kafkajs'
import { CompressionTypes } from 'kafkajs'
import { backoffDelay, sleep } from '../../shared/backoff.js'
import type { ClickHouse } from '../../shared/clickhouse/client.js'
import { insertTabSeparated, TabSeparatedRows } from '../../shared/clickhouse/tab-separated.js'
import { errorMessage } from '../../shared/errors.js'
import {
  factTables,
  kpiTriggerJson,
  MAX_SCOPES_PER_TRIGGER,
  triggerKeyOfScopeKey,
} from '../../shared/events/index.js'
import type { Health } from '../../shared/http/health.js'
import type { Topics } from '../../shared/kafka/topics.js'
import type { Logger } from '../../shared/logger.js'
import { errorsTotal } from '../../shared/metrics/registry.js'
import {
  type DeadLetterFailureRow,
  type DeadLetterLimits,
  type DeadLetterRow,
  deadLetterColumns,
  messageBytes,
  minimalDeadLetterRow,
  type Rejected,
  toDeadLetterFailureRow,
  toDeadLetterMessage,
  toDeadLetterRow,
} from './dead-letter.js'
import type { DecodedBatch } from './decode-batch.js'
import { clickHouseErrorCode, isClickHouseDataError, isKafkaRefusal } from './failures.js'
import type { DeliveryControl, Writer } from './lane.js'
import type { CollectorMetrics } from './metrics.js'

const HEARTBEAT_EVERY_MS = 3_000

export interface BatchWriterOptions {
  ch: ClickHouse
  producer: Producer
  topics: Topics
  metrics: CollectorMetrics
  log: Logger
  health: Health
  limits: DeadLetterLimits
  /** Longest wait between retries, in ms. */
  maxBackoffMs: number
  /** Attempts at a rejected message's own write that fail because of the message, before it is skipped. */
  deadLetterAttempts: number
}

const deadLetterFailureColumns: readonly (keyof DeadLetterFailureRow)[] = [
  'topic',
  'partition',
  'offset',
  'value_bytes',
  'value_sha256',
  'error_type',
  'reason',
  'stage',
  'error',
]

/**
 * Writes one decoded batch everywhere it has to go, in order: facts, dead-letter rows, dead-letter
 * copies, triggers. Facts and triggers are retried until they succeed or the consumer gives the
 * partition up (shutdown, seek): their failures are the infrastructure's. A rejected message's own
 * writes (its row, its topic copy) get `deadLetterAttempts` attempts that fail because of the message;
 * after that it is recorded (error log line, aims_collector_unwritable_total, a dead_letter_failures
 * row) and skipped, so no message can hold its partition.
 */
export class BatchWriter implements Writer {
  constructor(private readonly o: BatchWriterOptions) {}

  async deliver(batch: DecodedBatch, control: DeliveryControl): Promise<boolean> {
    if (!(await this.retrying('clickhouse', control, () => this.insertFacts(batch)))) return false
    this.o.health.set('clickhouse', true)
    if (batch.rejected.length > 0) {
      if (!(await this.storeDeadLetters(batch.rejected, control))) return false
      if (!(await this.publishDeadLetters(batch.rejected, control))) return false
    }
    if (batch.scopeKeys.size > 0) {
      if (!(await this.retrying('kafka-produce', control, () => this.publishTriggers(batch)))) return false
    }
    return true
  }

  private async insertFacts(batch: DecodedBatch): Promise<void> {
    const { ch, metrics } = this.o
    const started = performance.now()
    const inserts: Promise<unknown>[] = []
    for (const table of factTables) {
      const rows = batch.facts[table]
      if (rows.rows === 0) continue
      metrics.insertRows.observe({ table }, rows.rows)
      inserts.push(insertTabSeparated(ch.client, table, rows))
    }
    await Promise.all(inserts)
    if (inserts.length === 0) return
    metrics.insertSeconds.observe((performance.now() - started) / 1000)
    metrics.lastInsert.set(Date.now() / 1000)
  }

  private insertDeadLetterRows(rows: readonly DeadLetterRow[]): Promise<void> {
    const encoded = new TabSeparatedRows<DeadLetterRow>(deadLetterColumns)
    for (const row of rows) encoded.push(row)
    return insertTabSeparated(this.o.ch.client, 'dead_letters', encoded)
  }

  /**
   * The rows of `dead_letters`, all at once. If ClickHouse refuses them as data `deadLetterAttempts`
   * times, row by row, each falling back to a row without payload; a row refused even so is recorded and
   * skipped (its topic copy still goes out).
   */
  private async storeDeadLetters(rejected: readonly Rejected[], control: DeliveryControl): Promise<boolean> {
    const rows = rejected.map((r) => toDeadLetterRow(r, this.o.limits))
    let refusals = 0
    const whole = await this.retrying(
      'clickhouse-dead-letters',
      control,
      () => this.insertDeadLetterRows(rows),
      (err) => isClickHouseDataError(err) && ++refusals >= this.o.deadLetterAttempts,
    )
    if (whole !== 'stopped-early') return whole
    for (const [i, row] of rows.entries()) {
      if (control.shouldGiveUp()) return false
      let last: unknown
      for (const attempt of [row, minimalDeadLetterRow(row)]) {
        try {
          await this.insertDeadLetterRows([attempt])
          last = undefined
          break
        } catch (err) {
          last = err
          if (!isClickHouseDataError(err)) break
        }
      }
      if (last === undefined) continue
      if (!isClickHouseDataError(last)) {
        // ClickHouse itself failed in the middle: start over (the rows already stored are deduplicated).
        return this.storeDeadLetters(rejected, control)
      }
      await this.recordUnwritable(rejected[i]!, 'clickhouse', last)
    }
    return true
  }

  /**
   * The topic copies, in as few requests as fit. When a request fails because of its messages, they
   * are sent one by one, so one refused copy costs only its own attempts; a copy refused
   * `deadLetterAttempts` times is recorded and skipped.
   */
  private async publishDeadLetters(
    rejected: readonly Rejected[],
    control: DeliveryControl,
  ): Promise<boolean> {
    const now = new Date()
    let pending = rejected.map((r) => ({
      r,
      message: toDeadLetterMessage(r, now, this.o.limits),
      refusals: 0,
    }))
    let oneByOne = false
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (control.shouldGiveUp()) return false
      if (!oneByOne) {
        try {
          await this.send(pending.map((p) => ({ topic: this.o.topics.deadLetter, message: p.message })))
          return true
        } catch (err) {
          this.failed('kafka-dead-letter', attempt, err)
          oneByOne = isKafkaRefusal(err)
        }
      } else {
        const still: typeof pending = []
        for (const p of pending) {
          try {
            await this.send([{ topic: this.o.topics.deadLetter, message: p.message }])
          } catch (err) {
            this.failed('kafka-dead-letter', attempt, err)
            if (isKafkaRefusal(err)) p.refusals++
            if (p.refusals >= this.o.deadLetterAttempts) {
              await this.recordUnwritable(p.r, 'dead-letter-topic', err)
            } else still.push(p)
          }
        }
        pending = still
        if (pending.length === 0) return true
      }
      await this.backoff(attempt, control)
    }
    return true
  }

  private async publishTriggers(batch: DecodedBatch): Promise<void> {
    // Keyed by owner (an area, or one model): each processor replica gets the scopes it owns, in order.
    const byOwner = new Map<string, string[]>()
    for (const scope of batch.scopeKeys) {
      const owner = triggerKeyOfScopeKey(scope)
      const list = byOwner.get(owner)
      if (list) list.push(scope)
      else byOwner.set(owner, [scope])
    }
    const producedAt = new Date().toISOString()
    const outgoing: { topic: string; message: Message }[] = []
    for (const [key, keys] of byOwner) {
      for (let i = 0; i < keys.length; i += MAX_SCOPES_PER_TRIGGER) {
        const value = kpiTriggerJson(
          keys.slice(i, i + MAX_SCOPES_PER_TRIGGER),
          batch.latestEventTime,
          producedAt,
        )
        outgoing.push({ topic: this.o.topics.kpiTriggers, message: { key, value } })
      }
    }
    await this.send(outgoing)
    this.o.metrics.triggers.inc(outgoing.length)
  }

  private async send(outgoing: readonly { topic: string; message: Message }[]): Promise<void> {
    const budget = Math.min(PRODUCE_REQUEST_BYTES, this.o.limits.maxMessageBytes)
    await Promise.all(
      produceRequests(outgoing, budget).map((topicMessages) =>
        this.o.producer.sendBatch({ topicMessages, acks: -1, compression: CompressionTypes.None }),
      ),
    )
  }

  /** Never silent: a log line, a counter, and a row when ClickHouse takes it. */
  private async recordUnwritable(
    r: Rejected,
    stage: DeadLetterFailureRow['stage'],
    err: unknown,
  ): Promise<void> {
    const { log, metrics, ch } = this.o
    log.error(
      {
        topic: r.topic,
        partition: r.partition,
        offset: r.offset,
        sha256: r.valueSha256,
        bytes: r.valueBytes,
        errorType: r.errorType,
        stage,
        err: errorMessage(err),
      },
      'rejected message could not be written after bounded retries; recorded and skipped',
    )
    metrics.unwritable.inc({ topic: r.topic, stage })
    try {
      const rows = new TabSeparatedRows<DeadLetterFailureRow>(deadLetterFailureColumns)
      rows.push(toDeadLetterFailureRow(r, stage, errorMessage(err)))
      await insertTabSeparated(ch.client, 'dead_letter_failures', rows)
    } catch (recordErr) {
      log.warn(
        { topic: r.topic, offset: r.offset, err: errorMessage(recordErr) },
        'could not record the failure',
      )
    }
  }

  /**
   * Calls `attemptOnce` until it succeeds (true), the consumer gives the partition up (false), or
   * `stopEarly` says a failure should not be retried as a whole ('stopped-early').
   */
  private async retrying(
    stage: string,
    control: DeliveryControl,
    attemptOnce: () => Promise<void>,
    stopEarly: (err: unknown) => boolean = () => false,
  ): Promise<boolean | 'stopped-early'> {
    for (let attempt = 1; ; attempt++) {
      if (control.shouldGiveUp()) return false
      try {
        await attemptOnce()
        return true
      } catch (err) {
        this.failed(stage, attempt, err)
        if (stopEarly(err)) return 'stopped-early'
        await this.backoff(attempt, control)
      }
    }
  }

  private failed(stage: string, attempt: number, err: unknown): void {
    const { metrics, health, log } = this.o
    errorsTotal().inc({ stage: `collector_${stage}`, error_type: (err as Error)?.name ?? 'Error' })
    if (stage.startsWith('clickhouse') && !isClickHouseDataError(err)) {
      metrics.insertFailures.inc()
      // Unreachable (no ClickHouse error code): the process cannot work, it is not ready. ClickHouse
      // answering with an error (a missing table, too many parts) concerns some partitions only: they
      // stall and show as stuck (degraded), while the others go on.
      if (clickHouseErrorCode(err) === undefined) health.set('clickhouse', false, errorMessage(err))
    }
    log.warn({ stage, attempt, err: errorMessage(err) }, 'batch write failed, retrying')
  }

  /** Sleeps in slices so the group still hears from us and a shutdown is noticed promptly. */
  private async backoff(attempt: number, control: DeliveryControl): Promise<void> {
    const delay = backoffDelay(attempt, 200, this.o.maxBackoffMs)
    for (let waited = 0; waited < delay && !control.shouldGiveUp(); waited += HEARTBEAT_EVERY_MS) {
      await sleep(Math.min(HEARTBEAT_EVERY_MS, delay - waited))
      await control.heartbeat().catch(() => undefined)
    }
  }
}

/** Bytes of messages per produce request, well under the broker's default 1 MB batch limit. */
const PRODUCE_REQUEST_BYTES = 512 * 1024

/**
 * The messages grouped into produce requests of at most `budget` bytes (a larger message goes alone). A
 * request's messages for one partition travel as one record batch, which the broker refuses over its
 * message size limit: a large batch's triggers and dead letters must go out in several requests.
 */
export function produceRequests(
  outgoing: readonly { topic: string; message: Message }[],
  budget: number,
): TopicMessages[][] {
  const requests: TopicMessages[][] = []
  let current: TopicMessages[] = []
  let bytes = 0
  for (const { topic, message } of outgoing) {
    const size = messageBytes(message)
    if (current.length > 0 && bytes + size > budget) {
      requests.push(current)
      current = []
      bytes = 0
    }
    const last = current[current.length - 1]
    if (last?.topic === topic) last.messages.push(message)
    else current.push({ topic, messages: [message] })
    bytes += size
  }
  if (current.length > 0) requests.push(current)
  return requests
}
