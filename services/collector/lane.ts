import type { Consumer, EachBatchPayload } from 'kafkajs'
import type { Config } from '../../shared/config/env.js'
import { errorMessage } from '../../shared/errors.js'
import type { Logger } from '../../shared/logger.js'
import { errorsTotal } from '../../shared/metrics/registry.js'
import { DecodedBatch, type MessageDecoder } from './decode-batch.js'
import type { CollectorMetrics } from './metrics.js'

/** How a delivery writes a batch out (BatchWriter) and learns that it should stop retrying. */
export interface DeliveryControl {
  heartbeat(): Promise<void>
  shouldGiveUp(): boolean
}

export interface Writer {
  /** True once the batch is stored and published; false if it gave up (control.shouldGiveUp). */
  deliver(batch: DecodedBatch, control: DeliveryControl): Promise<boolean>
}

export interface LaneContext {
  cfg: Pick<Config, 'COLLECTOR_MAX_BATCH_ROWS' | 'COLLECTOR_MAX_EVENT_BYTES'>
  log: Logger
  metrics: CollectorMetrics
  writer: Writer
  consumer: Pick<Consumer, 'commitOffsets' | 'seek'>
  stopping: AbortSignal
  /** The decoder of a topic whose messages are not native events (OCSF); default the native one. */
  decoderFor?: (topic: string) => MessageDecoder | undefined
}

/**
 * One partition's way from Kafka to ClickHouse, as a pipeline whose steps overlap: kafkajs fetches the
 * next batch while the lane decodes the one before (JSON, validation, TabSeparated rows), while
 * ClickHouse stores the batch sealed before that. On a 2-core machine this keeps this thread and
 * ClickHouse busy at the same time instead of taking turns.
 *
 * - Decoding: fetched batches are decoded in order into the open batch. It is sealed when it holds
 *   COLLECTOR_MAX_BATCH_ROWS messages (large inserts, while behind) or the partition is caught up (low
 *   latency, once there).
 * - Delivery: sealed batches are delivered one at a time, in offset order, each followed by the commit
 *   of its last offset. Nothing is committed before everything up to it is stored, so a crash anywhere
 *   redelivers from the last commit, which the ReplacingMergeTree fact tables absorb.
 * - Backpressure: `accept` returns once the batch before is decoded, and sealing waits for the previous
 *   delivery. While ClickHouse is failing, that delivery keeps retrying and the partition's consumption
 *   waits: at most one fetched, one open and one delivering batch per partition are in memory.
 *
 * Offsets are resolved (the fetch position moves on) as batches are accepted, ahead of delivery. That is
 * safe because reading restarts from the last commit whenever accepted work is abandoned: a delivery
 * gives up only when the consumer stops or the partition is rewound, a group join starts a new offset
 * manager, and a failure (a bug: nothing here throws by design) rewinds the partition with a seek.
 */
export class Lane {
  private open: DecodedBatch | undefined
  /** Bumped when reading restarts: work accepted before is dropped. */
  private epoch = 0
  private decoding: Promise<void> = Promise.resolve()
  /** The latest delivery: whether it stored its batch, and in which epoch it was sealed. */
  private delivering: Promise<{ delivered: boolean; epoch: number }> = Promise.resolve({
    delivered: true,
    epoch: 0,
  })
  /** The highest offset committed: a commit never moves the group's position backwards. */
  private committed = -1n
  /** Where reading must resume for nothing to be lost: the last commit, else the first offset read. */
  private resumeAt: string | undefined

  constructor(
    private readonly topic: string,
    private readonly partition: number,
    private readonly context: LaneContext,
  ) {}

  /** Takes a fetched batch (its offsets are resolved by the caller); resolves once the one before is decoded. */
  accept(payload: EachBatchPayload): Promise<void> {
    const { batch, heartbeat, isRunning, isStale } = payload
    this.resumeAt ??= batch.firstOffset() ?? undefined
    const control: DeliveryControl = {
      heartbeat,
      shouldGiveUp: () => this.context.stopping.aborted || !isRunning() || isStale(),
    }
    const epoch = this.epoch
    const before = this.decoding
    this.decoding = before
      // From the next turn of the event loop: kafkajs sends the next fetch first, so the broker prepares
      // it while this thread decodes.
      .then(() => new Promise((resolve) => setImmediate(resolve)))
      .then(() => this.decode(payload, control, epoch))
      .catch((err: unknown) => this.rewind(err))
    return before
  }

  /** Reading restarts from the last commit (a group join): drop what was accepted but not sealed. */
  restart(): void {
    this.epoch++
    this.open = undefined
    // The first batch read after the restart starts at the commit to resume from.
    this.resumeAt = undefined
  }

  /** Settles once the work in hand is done or given up. */
  settled(): Promise<unknown> {
    return Promise.allSettled([this.decoding, this.delivering])
  }

  private async decode(payload: EachBatchPayload, control: DeliveryControl, epoch: number): Promise<void> {
    const { cfg } = this.context
    const { batch } = payload
    const { messages } = batch
    for (let from = 0; from < messages.length; ) {
      if (epoch !== this.epoch) return
      this.open ??= new DecodedBatch(this.topic, this.partition, this.context.decoderFor?.(this.topic))
      const to = Math.min(messages.length, from + cfg.COLLECTOR_MAX_BATCH_ROWS - this.open.messages)
      this.open.add(messages, from, to, cfg.COLLECTOR_MAX_EVENT_BYTES)
      this.open.highWatermark = batch.highWatermark
      from = to
      if (this.open.messages >= cfg.COLLECTOR_MAX_BATCH_ROWS) await this.seal(control, epoch)
    }
    // Caught up: deliver now rather than wait for more (latency); behind: keep filling (large inserts).
    const caughtUp = BigInt(batch.highWatermark) - 1n <= BigInt(batch.lastOffset())
    if (caughtUp && this.open !== undefined && epoch === this.epoch) await this.seal(control, epoch)
  }

  /** Hands the open batch to a delivery once the previous delivery is done. */
  private async seal(control: DeliveryControl, epoch: number): Promise<void> {
    const sealed = this.open!
    this.open = undefined
    const previous = await this.delivering
    if (epoch !== this.epoch) return
    if (!previous.delivered && previous.epoch === epoch) {
      // Given up: the consumer is stopping or restarting, and reading will resume from the last commit.
      // (A delivery of an earlier epoch may give up: this epoch re-read its batch already.)
      this.restart()
      return
    }
    this.delivering = this.deliverAndCommit(sealed, control).then(
      (delivered) => ({ delivered, epoch }),
      (err: unknown) => {
        this.rewind(err)
        return { delivered: false, epoch }
      },
    )
  }

  private async deliverAndCommit(batch: DecodedBatch, control: DeliveryControl): Promise<boolean> {
    const { writer, consumer, metrics, log } = this.context
    if (!(await writer.deliver(batch, control))) return false
    const { topic, partition } = this
    if (batch.accepted > 0) metrics.messages.inc({ topic, outcome: 'accepted', reason: '' }, batch.accepted)
    for (const r of batch.rejected) {
      metrics.messages.inc({ topic, outcome: 'rejected', reason: r.errorType })
      metrics.deadLetters.inc({ topic, error_type: r.errorType })
    }
    // Kafka commits the offset of the next message to read.
    const next = BigInt(batch.lastOffset) + 1n
    if (next > this.committed) {
      try {
        await consumer.commitOffsets([{ topic, partition, offset: next.toString() }])
        this.committed = next
        this.resumeAt = next.toString()
      } catch (err) {
        // Stored but not committed: the next commit covers it, or it is redelivered and deduplicated.
        errorsTotal().inc({ stage: 'collector_commit', error_type: (err as Error).name ?? 'Error' })
        log.warn(
          { topic, partition, offset: batch.lastOffset, err: errorMessage(err) },
          'offset commit failed',
        )
      }
    }
    metrics.lag.set(
      { topic, partition: String(partition) },
      Math.max(0, Number(batch.highWatermark) - Number(next)),
    )
    return true
  }

  /** After an unexpected failure: drop the lane's work and read the partition again from the last commit. */
  private rewind(err: unknown): void {
    const { consumer, log } = this.context
    const { topic, partition, resumeAt } = this
    errorsTotal().inc({ stage: 'collector_lane', error_type: (err as Error).name ?? 'Error' })
    log.error({ topic, partition, resumeAt, err: errorMessage(err) }, 'collector lane failed; reading again')
    this.restart()
    if (resumeAt === undefined) return
    try {
      consumer.seek({ topic, partition, offset: resumeAt })
    } catch (seekErr) {
      // Only when the consumer is not running, and then reading restarts from the last commit anyway.
      log.warn({ topic, partition, err: errorMessage(seekErr) }, 'could not rewind the partition')
    }
  }
}
