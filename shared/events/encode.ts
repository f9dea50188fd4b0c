import type { AimsEvent } from './parse.js'
import { partitionKeyOf } from './routing.js'

/**
 * Valid event → Kafka message, in either CloudEvents Kafka binding mode; decodeKafkaMessage reads both.
 * Structured is the default: the envelope stays in one JSON document that any tool can show or replay.
 * Binary puts attributes in `ce_` headers, for consumers that route on headers without parsing values.
 */

export type KafkaEncoding = 'structured' | 'binary'

export interface OutgoingKafkaMessage {
  key: string
  value: string
  headers: Record<string, string>
}

const ENVELOPE_ONLY = new Set(['data', 'datacontenttype'])

export function encodeKafkaMessage(
  event: AimsEvent,
  encoding: KafkaEncoding = 'structured',
): OutgoingKafkaMessage {
  const key = partitionKeyOf(event)
  if (encoding === 'structured') {
    return { key, value: JSON.stringify(event), headers: { 'content-type': 'application/cloudevents+json' } }
  }
  const headers: Record<string, string> = { 'content-type': event.datacontenttype ?? 'application/json' }
  for (const [name, value] of Object.entries(event)) {
    if (value !== undefined && !ENVELOPE_ONLY.has(name)) headers[`ce_${name}`] = String(value)
  }
  return { key, value: JSON.stringify(event.data), headers }
}
