import type { IHeaders, Message } from 'kafkajs'
import type { Rejected } from './decode-batch.js'

/** Headers the collector adds to a dead-lettered message, beside the original ones. */
export const deadLetterHeaders = {
  reason: 'aims-dlq-reason',
  errorType: 'aims-dlq-error-type',
  topic: 'aims-dlq-topic',
  partition: 'aims-dlq-partition',
  offset: 'aims-dlq-offset',
  rejectedAt: 'aims-dlq-rejected-at',
} as const

/** The dead-letter message keeps the original key, bytes and headers, so it can be replayed as it was. */
export function toDeadLetterMessage(r: Rejected, now: Date): Message {
  const headers: IHeaders = {
    ...r.headers,
    [deadLetterHeaders.reason]: r.reason,
    [deadLetterHeaders.errorType]: r.errorType,
    [deadLetterHeaders.topic]: r.topic,
    [deadLetterHeaders.partition]: String(r.partition),
    [deadLetterHeaders.offset]: r.offset,
    [deadLetterHeaders.rejectedAt]: now.toISOString(),
  }
  return { key: r.key, value: r.value, headers }
}

function headerText(value: IHeaders[string]): string {
  if (value === undefined) return ''
  if (Array.isArray(value)) return value.map((v) => v.toString()).join(',')
  return value.toString()
}

/** A row of `dead_letters` (migration 0001); `received_at` is left to its DEFAULT. */
export type DeadLetterRow = {
  topic: string
  partition: number
  offset: string
  key: string | null
  value_base64: string
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
  'headers',
  'error_type',
  'reason',
]

/** The row an operator lists in ClickHouse. */
export function toDeadLetterRow(r: Rejected): DeadLetterRow {
  return {
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    key: r.key ? r.key.toString('utf8') : null,
    value_base64: r.value ? r.value.toString('base64') : '',
    headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, headerText(v)])),
    error_type: r.errorType,
    reason: r.reason,
  }
}
