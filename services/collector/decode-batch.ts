import type { IHeaders, KafkaMessage } from 'kafkajs'
import { TabSeparatedRows } from '../../shared/clickhouse/tab-separated.js'
import {
  appendFactRows,
  type DecodeResult,
  decodeKafkaMessage,
  type FactRowByTable,
  type FactTable,
  factColumns,
  factTables,
  type KafkaMessageLike,
  scopeKey,
  scopesOf,
} from '../../shared/events/index.js'

/** A message the collector refused, with everything needed to replay it and to understand why. */
export interface Rejected {
  topic: string
  partition: number
  offset: string
  key: Buffer | null
  value: Buffer | null
  headers: IHeaders
  errorType: string
  reason: string
}

/** Kafka message → event or reject: the native CloudEvents decoder, or another contract's (OCSF). */
export type MessageDecoder = (message: KafkaMessageLike, maxBytes: number) => DecodeResult

/** Rows per fact table, encoded as they are decoded, ready for one insert each. */
export type EncodedFacts = { [T in FactTable]: TabSeparatedRows<FactRowByTable[T]> }

function emptyEncodedFacts(): EncodedFacts {
  return Object.fromEntries(
    factTables.map((table) => [table, new TabSeparatedRows(factColumns[table])]),
  ) as EncodedFacts
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
  /** Offset of the last message decoded, and the partition's high watermark when it was fetched. */
  lastOffset = ''
  highWatermark = ''

  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly decode: MessageDecoder = decodeKafkaMessage,
  ) {}

  /** Decodes `messages[from, to)` into this batch. A bad message never stops the batch. */
  add(messages: readonly KafkaMessage[], from: number, to: number, maxEventBytes: number): void {
    for (let i = from; i < to; i++) {
      const message = messages[i]!
      const decoded = this.decode(message, maxEventBytes)
      if (!decoded.ok) {
        this.rejected.push({
          topic: this.topic,
          partition: this.partition,
          offset: message.offset,
          key: message.key ?? null,
          value: message.value,
          headers: message.headers ?? {},
          errorType: decoded.errorType,
          reason: decoded.reason,
        })
        continue
      }
      this.accepted++
      appendFactRows(this.facts, decoded.event)
      // RFC 3339 UTC timestamps of equal precision compare correctly as strings; mixed offsets are rare
      // and only make this "latest" approximate, which is all the trigger's latency figure needs.
      if (decoded.event.time > this.latestEventTime) this.latestEventTime = decoded.event.time
      for (const scope of scopesOf(decoded.event)) this.scopeKeys.add(scopeKey(scope))
    }
    if (to > from) {
      this.messages += to - from
      this.lastOffset = messages[to - 1]!.offset
    }
  }
}
