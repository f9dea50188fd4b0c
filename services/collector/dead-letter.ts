import { createHash } from 'node:crypto'
import type { IHeaders, Message } from 'kafkajs'
import type { KafkaHeaders } from '../../shared/events/index.js'

/**
 * What a rejected message becomes: a copy on the dead-letter topic and a row in `dead_letters`. Neither
 * can fail because of what the producer sent:
 * - header names are data (a Map, and a prototype-free object for kafkajs), so `constructor` or
 *   `__proto__` are names like any other;
 * - the topic copy always fits the broker's message size limit, its own headers included: the original
 *   headers are kept while they fit a budget, the key and value are cut to what is left, and a cut value
 *   carries its original length and sha256 (every copy does, cut or not);
 * - the row keeps the value whole up to a cap (COLLECTOR_DEAD_LETTER_STORE_MAX_BYTES), cut beyond it with
 *   the same length and sha256.
 */

/** A message the collector refused, with everything needed to replay it and to understand why. */
export interface Rejected {
  topic: string
  partition: number
  offset: string
  key: Buffer | null
  value: Buffer | null
  headers: KafkaHeaders
  errorType: string
  reason: string
  /** Length and sha256 (hex) of the value as received; an absent value counts as empty. */
  valueBytes: number
  valueSha256: string
}

export function rejected(
  where: { topic: string; partition: number; offset: string },
  message: { key?: Buffer | null; value: Buffer | null },
  headers: KafkaHeaders,
  why: { errorType: string; reason: string },
): Rejected {
  const value = message.value ?? null
  return {
    ...where,
    key: message.key ?? null,
    value,
    headers,
    ...why,
    valueBytes: value?.length ?? 0,
    valueSha256: sha256(value ?? EMPTY),
  }
}

const EMPTY = Buffer.alloc(0)

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** Headers the collector adds to a dead-lettered message, beside the original ones. */
export const deadLetterHeaders = {
  reason: 'aims-dlq-reason',
  errorType: 'aims-dlq-error-type',
  topic: 'aims-dlq-topic',
  partition: 'aims-dlq-partition',
  offset: 'aims-dlq-offset',
  rejectedAt: 'aims-dlq-rejected-at',
  /** Length of the original value in bytes. */
  valueBytes: 'aims-dlq-value-bytes',
  /** sha256 of the original value, hex. */
  valueSha256: 'aims-dlq-value-sha256',
  /** "true" when the copy's value is only the first bytes of the original. */
  truncated: 'aims-dlq-truncated',
  /** Set only when the key was cut: the original key's length and sha256. */
  keyBytes: 'aims-dlq-key-bytes',
  keySha256: 'aims-dlq-key-sha256',
  /** Set only when original headers had to be left out: how many (name and value pairs). */
  headersDropped: 'aims-dlq-headers-dropped',
} as const

const OWN_PREFIX = 'aims-dlq-'

/** Longest reason kept, in characters (a hostile key or value quoted in a reason cannot bloat it). */
export const MAX_REASON_CHARS = 2000
/** Longest key kept on the topic copy and in the row, in bytes. */
export const MAX_KEY_BYTES = 4096
/** Bytes of original headers (names and values) kept on the topic copy; the rest are left out, counted. */
export const MAX_ORIGINAL_HEADER_BYTES = 64 * 1024
/** Longest header value kept as text in the row's `headers` map, in characters. */
export const MAX_STORED_HEADER_CHARS = 4096

/**
 * What a record batch and a record take beyond their keys, values and header names and values, as upper
 * bounds: the batch header is 61 bytes, a record's fixed fields and varint lengths at most 36 bytes, and
 * each header's two varint lengths at most 10 bytes. The broker's limit applies to the whole batch.
 */
const BATCH_OVERHEAD = 61
const RECORD_OVERHEAD = 36
const HEADER_OVERHEAD = 10
const RESERVED_FOR_LAST_HEADERS =
  2 * HEADER_OVERHEAD + deadLetterHeaders.truncated.length + 5 + deadLetterHeaders.headersDropped.length + 10

export interface DeadLetterLimits {
  /** The dead-letter topic's max.message.bytes: a record batch with one copy must not exceed it. */
  maxMessageBytes: number
  /** Most bytes of a value stored in `dead_letters.value_base64`. */
  storeMaxBytes: number
}

export function cutReason(reason: string): string {
  return reason.length <= MAX_REASON_CHARS ? reason : `${reason.slice(0, MAX_REASON_CHARS - 1)}…`
}

/** Upper bound of the bytes one message takes in a record batch of its own. */
export function messageBytes(message: Message): number {
  let n = BATCH_OVERHEAD + RECORD_OVERHEAD + size(message.key) + size(message.value)
  const headers = message.headers ?? {}
  for (const name of Object.keys(headers)) {
    const value = headers[name]
    for (const v of Array.isArray(value) ? value : [value]) {
      n += HEADER_OVERHEAD + Buffer.byteLength(name) + size(v as Buffer | string | undefined)
    }
  }
  return n
}

function size(v: Buffer | string | null | undefined): number {
  return v == null ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length
}

/**
 * The dead-letter topic copy: the original key, value and headers as far as they fit `maxMessageBytes`,
 * plus the aims-dlq-* headers. Original headers named aims-dlq-* (a dead letter replayed and refused
 * again) are replaced by this rejection's.
 */
export function toDeadLetterMessage(r: Rejected, now: Date, limits: DeadLetterLimits): Message {
  const headers: IHeaders = Object.create(null)
  const own: [string, string][] = [
    [deadLetterHeaders.reason, cutReason(r.reason)],
    [deadLetterHeaders.errorType, r.errorType],
    [deadLetterHeaders.topic, r.topic],
    [deadLetterHeaders.partition, String(r.partition)],
    [deadLetterHeaders.offset, r.offset],
    [deadLetterHeaders.rejectedAt, now.toISOString()],
    [deadLetterHeaders.valueBytes, String(r.valueBytes)],
    [deadLetterHeaders.valueSha256, r.valueSha256],
  ]
  let budget = limits.maxMessageBytes - BATCH_OVERHEAD - RECORD_OVERHEAD
  const take = (name: string, values: readonly (Buffer | string)[]) => {
    headers[name] = values.length === 1 ? values[0]! : [...values]
    for (const v of values) budget -= HEADER_OVERHEAD + Buffer.byteLength(name) + size(v)
  }
  for (const [name, value] of own) take(name, [value])
  // Room for the two headers added last: whether the value was cut, and how many headers were left out.
  budget -= RESERVED_FOR_LAST_HEADERS

  // A key gets at most half of what is left (and MAX_KEY_BYTES), so the value keeps some room.
  let key = r.key
  if (key !== null && key.length > Math.min(MAX_KEY_BYTES, Math.floor(budget / 2))) {
    take(deadLetterHeaders.keyBytes, [String(key.length)])
    take(deadLetterHeaders.keySha256, [sha256(key)])
    key = key.subarray(0, Math.max(0, Math.min(MAX_KEY_BYTES, Math.floor(budget / 2))))
  }
  budget -= key?.length ?? 0

  let headerBudget = Math.min(MAX_ORIGINAL_HEADER_BYTES, Math.max(0, budget))
  let dropped = 0
  for (const [name, values] of r.headers) {
    if (name.startsWith(OWN_PREFIX)) continue
    // kafkajs cannot send a header without a value: it travels as an empty one.
    const kept = values.map((v) => v ?? EMPTY)
    const cost = kept.reduce((n, v) => n + HEADER_OVERHEAD + Buffer.byteLength(name) + v.length, 0)
    if (cost > headerBudget) {
      dropped += kept.length
      continue
    }
    headerBudget -= cost
    take(name, kept)
  }
  if (dropped > 0) take(deadLetterHeaders.headersDropped, [String(dropped)])

  let value = r.value
  const room = Math.max(0, budget)
  const truncated = value !== null && value.length > room
  if (truncated) value = value!.subarray(0, room)
  take(deadLetterHeaders.truncated, [String(truncated)])
  return { key, value, headers }
}

/** A row of `dead_letters` (migrations 0001 and 0100); `received_at` is left to its DEFAULT. */
export type DeadLetterRow = {
  topic: string
  partition: number
  offset: string
  key: string | null
  value_base64: string
  value_bytes: number
  value_sha256: string
  value_truncated: boolean
  headers: Record<string, string>
  error_type: string
  reason: string
}

export const deadLetterColumns: readonly (keyof DeadLetterRow)[] = [
  'topic',
  'partition',
  'offset',
  'key',
  'value_base64',
  'value_bytes',
  'value_sha256',
  'value_truncated',
  'headers',
  'error_type',
  'reason',
]

function cutText(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}

/** The row an operator lists in ClickHouse: the value whole up to `storeMaxBytes`, headers as text. */
export function toDeadLetterRow(r: Rejected, limits: Pick<DeadLetterLimits, 'storeMaxBytes'>): DeadLetterRow {
  // A prototype-free object: header names such as __proto__ are keys like any other.
  const headers: Record<string, string> = Object.create(null)
  let headerChars = 0
  for (const [name, values] of r.headers) {
    const text = cutText(values.map((v) => v?.toString('utf8') ?? '').join(','), MAX_STORED_HEADER_CHARS)
    headerChars += name.length + text.length
    if (headerChars > MAX_ORIGINAL_HEADER_BYTES) break
    headers[cutText(name, MAX_STORED_HEADER_CHARS)] = text
  }
  const value = r.value ?? EMPTY
  const truncated = value.length > limits.storeMaxBytes
  return {
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    key: r.key ? cutText(r.key.toString('utf8'), MAX_KEY_BYTES) : null,
    value_base64: (truncated ? value.subarray(0, limits.storeMaxBytes) : value).toString('base64'),
    value_bytes: r.valueBytes,
    value_sha256: r.valueSha256,
    value_truncated: truncated,
    headers,
    error_type: r.errorType,
    reason: cutReason(r.reason),
  }
}

/** The row that stands in when the full row is refused by ClickHouse: what happened, no payload. */
export function minimalDeadLetterRow(row: DeadLetterRow): DeadLetterRow {
  return {
    ...row,
    key: null,
    value_base64: '',
    value_truncated: row.value_bytes > 0,
    headers: {},
    reason: cutText(row.reason, 200),
  }
}

/** A row of `dead_letter_failures` (migration 0100). */
export interface DeadLetterFailureRow {
  topic: string
  partition: number
  offset: string
  value_bytes: number
  value_sha256: string
  error_type: string
  reason: string
  stage: 'dead-letter-topic' | 'clickhouse'
  error: string
}

export function toDeadLetterFailureRow(
  r: Rejected,
  stage: DeadLetterFailureRow['stage'],
  error: string,
): DeadLetterFailureRow {
  return {
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    value_bytes: r.valueBytes,
    value_sha256: r.valueSha256,
    error_type: r.errorType,
    reason: cutReason(r.reason),
    stage,
    error: cutText(error, MAX_REASON_CHARS),
  }
}
