import type { ClickHouse } from '../../shared/clickhouse/client.js'
import { errorMessage } from '../../shared/errors.js'
import type { Logger } from '../../shared/logger.js'
import { errorsTotal } from '../../shared/metrics/registry.js'
import { alerterMetrics } from './metrics.js'

/** One row of `alert_deliveries`: one attempt (or skip) of one alert to one sink. */
export interface DeliveryRow {
  /** ISO-8601 UTC. */
  attempted_at: string
  job_id: string
  transition_id: string
  fingerprint: string
  kpi_id: string
  /** firing, escalated, resolved. */
  transition: string
  sink: string
  attempt: number
  /** ok, retryable, permanent, throttled, skipped. */
  outcome: string
  status_code: number | null
  /** The failure reason label (or `already_delivered` for a skip); empty when ok. */
  reason: string
  /** Transition time → end of this attempt, in ms (for ok rows: how long until on-call was told). */
  latency_ms: number
}

/**
 * Where delivery attempts are recorded. `record` never throws and never waits on storage: paging must
 * not depend on the evidence store being up.
 */
export interface DeliveryLog {
  record(row: DeliveryRow): void
  /** Writes what is buffered; resolves even when the write failed (rows are kept for the next try). */
  flush(): Promise<void>
  /** Flushes and stops. */
  close(): Promise<void>
}

export const noopDeliveryLog: DeliveryLog = {
  record: () => {},
  flush: async () => {},
  close: async () => {},
}

/** Keeps rows in memory (tests, the bench). */
export class MemoryDeliveryLog implements DeliveryLog {
  readonly rows: DeliveryRow[] = []
  record(row: DeliveryRow): void {
    this.rows.push(row)
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

export interface ClickHouseDeliveryLogOptions {
  /** The client, or a factory called on first flush (and again after a failure) so start-up needs no ClickHouse. */
  clickhouse: ClickHouse | (() => Promise<ClickHouse>)
  log: Logger
  /** Flush period in ms. Default 1000. */
  flushIntervalMs?: number
  /** A flush starts early once this many rows wait. Default 500. */
  maxBatchRows?: number
  /** Rows kept while ClickHouse is unreachable; beyond it the oldest are dropped (counted). Default 50000. */
  maxBufferedRows?: number
}

/**
 * The delivery log in ClickHouse, lightly batched: rows are buffered and inserted every second (or at
 * 500 rows). A failed insert is logged and counted, and its rows stay buffered for the next flush;
 * deliveries go on regardless.
 */
export class ClickHouseDeliveryLog implements DeliveryLog {
  private buffer: DeliveryRow[] = []
  private timer: NodeJS.Timeout | undefined
  private flushing: Promise<void> | undefined
  private client: ClickHouse | undefined
  private closed = false
  private readonly flushIntervalMs: number
  private readonly maxBatchRows: number
  private readonly maxBufferedRows: number
  private readonly metrics = alerterMetrics()

  constructor(private readonly opts: ClickHouseDeliveryLogOptions) {
    this.flushIntervalMs = opts.flushIntervalMs ?? 1000
    this.maxBatchRows = opts.maxBatchRows ?? 500
    this.maxBufferedRows = opts.maxBufferedRows ?? 50_000
    for (const [k, v] of Object.entries({
      flushIntervalMs: this.flushIntervalMs,
      maxBatchRows: this.maxBatchRows,
      maxBufferedRows: this.maxBufferedRows,
    })) {
      if (!(Number.isInteger(v) && v > 0))
        throw new Error(`ClickHouseDeliveryLog: ${k} must be a positive integer (got ${v})`)
    }
    if (typeof opts.clickhouse !== 'function') this.client = opts.clickhouse
  }

  record(row: DeliveryRow): void {
    if (this.closed) return
    this.buffer.push(row)
    if (this.buffer.length > this.maxBufferedRows) {
      const dropped = this.buffer.length - this.maxBufferedRows
      this.buffer.splice(0, dropped)
      this.metrics.logRowsDropped.inc(dropped)
    }
    if (this.buffer.length >= this.maxBatchRows) void this.flush()
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined
        void this.flush()
      }, this.flushIntervalMs)
      this.timer.unref()
    }
  }

  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => (this.buffer.length > 0 ? this.flush() : undefined))
    if (this.buffer.length === 0) return Promise.resolve()
    const run = this.write().finally(() => {
      this.flushing = undefined
    })
    this.flushing = run
    return run
  }

  private async write(): Promise<void> {
    const rows = this.buffer
    this.buffer = []
    try {
      if (!this.client) {
        const factory = this.opts.clickhouse as () => Promise<ClickHouse>
        this.client = await factory()
      }
      await this.client.client.insert({ table: 'alert_deliveries', values: rows, format: 'JSONEachRow' })
    } catch (err) {
      // Keep the rows (oldest first) for the next flush, and try again later.
      this.buffer = rows.concat(this.buffer)
      if (this.buffer.length > this.maxBufferedRows) {
        const dropped = this.buffer.length - this.maxBufferedRows
        this.buffer.splice(0, dropped)
        this.metrics.logRowsDropped.inc(dropped)
      }
      this.metrics.logWriteFailures.inc()
      errorsTotal().inc({ stage: 'alerter_delivery_log', error_type: 'clickhouse_write' })
      this.opts.log.warn(
        { err: errorMessage(err), rows: rows.length, buffered: this.buffer.length },
        'delivery log write to ClickHouse failed; rows kept for the next flush',
      )
      if (!this.closed && !this.timer) {
        this.timer = setTimeout(() => {
          this.timer = undefined
          void this.flush()
        }, this.flushIntervalMs * 5)
        this.timer.unref()
      }
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    await this.flush()
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    if (this.buffer.length > 0) {
      this.opts.log.warn(
        { rows: this.buffer.length },
        'delivery log closed with rows ClickHouse did not take',
      )
    }
  }
}
