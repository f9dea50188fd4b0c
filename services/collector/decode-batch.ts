import type { KafkaMessage } from 'kafkajs'
import { TabSeparatedRows } from '../../shared/clickhouse/tab-separated.js'
import { errorMessage } from '../../shared/errors.js'
import {
  type AimsEvent,
  appendFactRows,
  type DecodeResult,
  decodeKafkaMessage,
  type EventType,
  type FactRowByTable,
  type FactTable,
  factColumns,
  factTables,
  kafkaHeaders,
  scopeKey,
  scopesOf,
} from '../../shared/events/index.js'
import { type Rejected, rejected } from './dead-letter.js'

export type { Rejected }

/** Rows per fact table, encoded as they are decoded, ready for one insert each. */
export type EncodedFacts = { [T in FactTable]: TabSeparatedRows<FactRowByTable[T]> }

function emptyEncodedFacts(): EncodedFacts {
  return Object.fromEntries(
    factTables.map((table) => [table, new TabSeparatedRows(factColumns[table])]),
  ) as EncodedFacts
}

/**
 * Bytes of rejected messages one batch holds before it is sealed early. Rejected values stay in memory
 * until they are written (the dead-letter row keeps them whole up to its cap), so a run of huge bad
 * messages must not pile up to COLLECTOR_MAX_BATCH_ROWS of them.
 */
export const MAX_REJECTED_BYTES_PER_BATCH = 16 * 1024 * 1024

/** Kafka message → event or reject: the native CloudEvents decoder, or another contract's (OCSF). */
export type MessageDecoder = (
  message: KafkaMessage,
  maxBytes: number,
  expectedType?: EventType,
) => DecodeResult

/** Never throws: a decoder bug on one message becomes that message's rejection, not a stuck partition. */
function decodeSafely(
  decode: MessageDecoder,
  message: KafkaMessage,
  maxEventBytes: number,
  expectedType?: EventType,
): DecodeResult {
  try {
    return decode(message, maxEventBytes, expectedType)
  } catch (err) {
    return { ok: false, errorType: 'invalid_envelope', reason: `could not be decoded: ${errorMessage(err)}` }
  }
}

/**
 * Fact rows, rejects and touched scopes of consecutive messages of one partition, the unit the collector
 * inserts and commits. Several Kafka batches may be decoded into one, so inserts stay large while fetches
 * stay small. Decoding is pure (no I/O), so the collector's hot path is one tight loop.
 */
export class DecodedBatch {
  readonly facts: EncodedFacts = emptyEncodedFacts()
  readonly rejected: Rejected[] = []
  /**
   * KPI scopes touched by the accepted events, as their scopeKey (their JSON): deduplicated, in
   * first-seen order, one string per scope until they are published (kpiTriggerJson).
   */
  readonly scopeKeys = new Set<string>()
  /** The latest event time among the accepted events (ISO-8601), empty when none was accepted. */
  latestEventTime = ''
  accepted = 0
  /** Messages decoded so far, accepted or rejected. */
  messages = 0
  /** Bytes of the rejected messages held (values and headers). */
  rejectedBytes = 0
  /** Offset of the last message decoded, and the partition's high watermark when it was fetched. */
  lastOffset = ''
  highWatermark = ''

  constructor(
    readonly topic: string,
    readonly partition: number,
    /** The one event type this topic carries; any other is rejected as wrong_topic. */
    readonly expectedType?: EventType,
    /** How this topic's messages are decoded: CloudEvents by default, OCSF on the OCSF topic. */
    private readonly decode: MessageDecoder = decodeKafkaMessage,
  ) {}

  /** Whether the batch should be sealed: enough messages, or enough rejected bytes held. */
  isFull(maxRows: number): boolean {
    return this.messages >= maxRows || this.rejectedBytes >= MAX_REJECTED_BYTES_PER_BATCH
  }

  /**
   * Decodes `messages[from, to)` into this batch, stopping early once it is full (isFull); returns the
   * index of the first message not decoded. A bad message never stops the batch.
   */
  add(
    messages: readonly KafkaMessage[],
    from: number,
    to: number,
    maxEventBytes: number,
    maxRows: number,
  ): number {
    let i = from
    while (i < to && !this.isFull(maxRows)) {
      const message = messages[i++]!
      const decoded = decodeSafely(this.decode, message, maxEventBytes, this.expectedType)
      if (!decoded.ok) this.reject(message, decoded)
      else {
        try {
          this.accept(decoded.event)
        } catch (err) {
          // A valid event the fact encoder cannot write is a bug in the contract or the encoder; it is
          // dead-lettered rather than allowed to stop the partition.
          this.reject(message, {
            errorType: 'invalid_data',
            reason: `could not be stored: ${errorMessage(err)}`,
          })
        }
      }
      this.messages++
      this.lastOffset = message.offset
    }
    return i
  }

  private accept(event: AimsEvent): void {
    appendFactRows(this.facts, event)
    this.accepted++
    // RFC 3339 UTC timestamps of equal precision compare correctly as strings; mixed offsets are rare
    // and only make this "latest" approximate, which is all the trigger's latency figure needs.
    if (event.time > this.latestEventTime) this.latestEventTime = event.time
    for (const scope of scopesOf(event)) this.scopeKeys.add(scopeKey(scope))
  }

  private reject(message: KafkaMessage, why: { errorType: string; reason: string }): void {
    const headers = kafkaHeaders(message.headers)
    const r = rejected(
      { topic: this.topic, partition: this.partition, offset: message.offset },
      message,
      headers,
      why,
    )
    this.rejected.push(r)
    this.rejectedBytes += r.valueBytes + (r.key?.length ?? 0)
    for (const [name, values] of headers) {
      for (const v of values) this.rejectedBytes += name.length + (v?.length ?? 0)
    }
  }
}
