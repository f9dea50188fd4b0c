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

/** The row an operator lists in ClickHouse (`dead_letters`, migration 0001). */
export function toDeadLetterRow(r: Rejected): Record<string, unknown> {
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
