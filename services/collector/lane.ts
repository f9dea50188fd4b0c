import type { Consumer, EachBatchPayload } from 'kafkajs'
import type { Config } from '../../shared/config/env.js'
import { errorMessage } from '../../shared/errors.js'
import type { EventType } from '../../shared/events/index.js'
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
  consumer: Pick<Consumer, 'commitOffsets' | 'seek' | 'pause' | 'resume'>
  stopping: AbortSignal
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
 * - Backpressure, per partition: while the lane waits for a delivery (ClickHouse slow or failing for this
 *   partition's table), it pauses the fetching of its own topic-partition and `accept` returns at once, so
 *   kafkajs goes on fetching every other partition (its fetch loop waits for every partition's eachBatch
 *   before it fetches again). Once the delivery is done the partition is resumed. Otherwise `accept`
 *   returns once the batch before is decoded (CPU work this thread does anyway). At most one fetched,
 *   one open and one delivering batch per partition are in memory (plus a fetch already under way when
 *   the pause came, which kafkajs drops).
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
  private deliveryInFlight = false
  /** Whether this lane has paused its partition's fetching (it waits for a delivery). */
  private paused = false
  /** Settles the pending `accept` early, when the lane pauses. */
  private release: (() => void) | undefined

  constructor(
    private readonly topic: string,
    private readonly partition: number,
    private readonly context: LaneContext,
    /** The event type this topic carries (DecodedBatch rejects any other). */
    private readonly expectedType?: EventType,
    private readonly decoder?: MessageDecoder,
  ) {}

  /**
   * Takes a fetched batch (its offsets are resolved by the caller). Resolves once the batch before is
   * decoded, or at once when the lane has paused its partition to wait for a delivery.
   */
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
    if (this.paused) return Promise.resolve()
    return new Promise<void>((resolve) => {
      this.release = resolve
      // `before` never rejects: the chain catches every failure.
      void before.then(() => {
        if (this.release === resolve) this.release = undefined
        resolve()
      })
    })
  }

  /** Whether the lane has paused its partition (for tests and the progress report). */
  isPaused(): boolean {
    return this.paused
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
      this.open ??= new DecodedBatch(this.topic, this.partition, this.expectedType, this.decoder)
      from = this.open.add(
        messages,
        from,
        messages.length,
        cfg.COLLECTOR_MAX_EVENT_BYTES,
        cfg.COLLECTOR_MAX_BATCH_ROWS,
      )
      this.open.highWatermark = batch.highWatermark
      if (this.open.isFull(cfg.COLLECTOR_MAX_BATCH_ROWS)) await this.seal(control, epoch)
    }
    // Records after the last message (a transaction's commit marker, aborted records) are consumed too:
    // the commit moves past them, or the partition would show a lag of one forever.
    const last = batch.lastOffset()
    if (this.open !== undefined && epoch === this.epoch && BigInt(last) > BigInt(this.open.lastOffset)) {
      this.open.lastOffset = last
    }
    // Caught up: deliver now rather than wait for more (latency); behind: keep filling (large inserts).
    const caughtUp = BigInt(batch.highWatermark) - 1n <= BigInt(batch.lastOffset())
    if (caughtUp && this.open !== undefined && epoch === this.epoch) await this.seal(control, epoch)
  }

  /** Hands the open batch to a delivery once the previous delivery is done. */
  private async seal(control: DeliveryControl, epoch: number): Promise<void> {
    const sealed = this.open!
    this.open = undefined
    // Waiting for ClickHouse (or the broker) on this partition's behalf: fetch the others meanwhile.
    if (this.deliveryInFlight) this.setPaused(true)
    let previous: { delivered: boolean; epoch: number }
    try {
      previous = await this.delivering
    } finally {
      this.setPaused(false)
    }
    if (epoch !== this.epoch) return
    if (!previous.delivered && previous.epoch === epoch) {
      // Given up: the consumer is stopping or restarting, and reading will resume from the last commit.
      // (A delivery of an earlier epoch may give up: this epoch re-read its batch already.)
      this.restart()
      return
    }
    this.deliveryInFlight = true
    this.delivering = this.deliverAndCommit(sealed, control).then(
      (delivered) => {
        this.deliveryInFlight = false
        return { delivered, epoch }
      },
      (err: unknown) => {
        this.deliveryInFlight = false
        this.rewind(err)
        return { delivered: false, epoch }
      },
    )
  }

  /** Pauses or resumes the fetching of this lane's partition only. */
  private setPaused(paused: boolean): void {
    if (this.paused === paused) return
    this.paused = paused
    const { consumer, log, metrics } = this.context
    const { topic, partition } = this
    try {
      if (paused) consumer.pause([{ topic, partitions: [partition] }])
      else consumer.resume([{ topic, partitions: [partition] }])
    } catch (err) {
      // Only when the consumer is not running, and then nothing is fetched anyway.
      log.debug(
        { topic, partition, paused, err: errorMessage(err) },
        'could not pause or resume the partition',
      )
    }
    metrics.paused.set({ topic, partition: String(partition) }, paused ? 1 : 0)
    if (paused) {
      this.release?.()
      this.release = undefined
    }
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
