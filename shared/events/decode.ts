import type { IHeaders } from 'kafkajs'
import { quote } from './common.js'
import { type AimsEvent, type EventFailure, parseEvent } from './parse.js'

/**
 * Kafka message → validated event, for both CloudEvents Kafka protocol binding modes:
 * - structured: the value is the whole JSON envelope; `content-type` is application/cloudevents+json
 *   (or application/json, or absent, which lenient producers such as kcat send);
 * - binary: attributes travel as `ce_<name>` headers (ce_specversion marks the mode), `content-type` is
 *   the data's media type (application/json or absent) and the value is the data alone.
 *
 * Cost model (the collector decodes 50k+ events/s per core): the size check comes before any decoding,
 * the value is turned into text and JSON-parsed exactly once, the type is read off the parsed object to
 * pick one z.compile'd schema (no union trial), and timestamps are compared as numbers read by fixed
 * position (see time.ts). Profiling shows JSON.parse as the largest single cost left.
 */

/** The fields of a kafkajs message this needs; `KafkaMessage` from eachBatch fits as is. */
export interface KafkaMessageLike {
  value: Buffer | null
  headers?: IHeaders
  key?: Buffer | null
}

export type DecodeResult = { ok: true; event: AimsEvent; mode: 'structured' | 'binary' } | EventFailure

const STRUCTURED_CONTENT_TYPE = 'application/cloudevents+json'
const BINARY_PREFIX = 'ce_'

/** kafkajs hands a header as Buffer, string or (for repeated keys) an array; the first value wins. */
export function headerText(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name]
  if (value === undefined) return undefined
  const first = Array.isArray(value) ? value[0] : value
  if (first === undefined) return undefined
  return typeof first === 'string' ? first : first.toString('utf8')
}

function mediaType(contentType: string): string {
  const semicolon = contentType.indexOf(';')
  return (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase()
}

function parseJson(value: Buffer): { ok: true; json: unknown } | EventFailure<'not_json'> {
  let text = value.toString('utf8')
  // Some Windows tools prepend a byte-order mark, which JSON.parse refuses.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
  try {
    return { ok: true, json: JSON.parse(text) }
  } catch (err) {
    return { ok: false, errorType: 'not_json', reason: `value is not valid JSON: ${(err as Error).message}` }
  }
}

/**
 * Validates one Kafka message. Never throws: every outcome is a result, so one bad message cannot stop
 * a batch. `maxBytes` bounds the value before any decoding work is spent on it.
 */
export function decodeKafkaMessage(msg: KafkaMessageLike, maxBytes: number): DecodeResult {
  const value = msg.value
  if (value === null || value.length === 0) {
    return { ok: false, errorType: 'empty', reason: 'message has no value (tombstone or zero bytes)' }
  }
  if (value.length > maxBytes) {
    return {
      ok: false,
      errorType: 'too_large',
      reason: `value is ${value.length} bytes, over the ${maxBytes}-byte limit`,
    }
  }
  const contentType = headerText(msg.headers, 'content-type')
  const binary = msg.headers !== undefined && msg.headers[`${BINARY_PREFIX}specversion`] !== undefined

  if (binary) {
    if (contentType !== undefined && mediaType(contentType) !== 'application/json') {
      return {
        ok: false,
        errorType: 'invalid_envelope',
        reason: `content-type: binary-mode data must be application/json, got ${quote(contentType)}`,
      }
    }
    const parsed = parseJson(value)
    if (!parsed.ok) return parsed
    const envelope: Record<string, unknown> = {}
    for (const name in msg.headers) {
      if (name.startsWith(BINARY_PREFIX))
        envelope[name.slice(BINARY_PREFIX.length)] = headerText(msg.headers, name)
    }
    if (contentType !== undefined) envelope.datacontenttype = contentType
    // Set last so a stray `ce_data` header cannot stand in for the value.
    envelope.data = parsed.json
    const result = parseEvent(envelope)
    return result.ok ? { ok: true, event: result.event, mode: 'binary' } : result
  }

  if (contentType !== undefined) {
    const media = mediaType(contentType)
    if (media !== STRUCTURED_CONTENT_TYPE && media !== 'application/json') {
      return {
        ok: false,
        errorType: 'invalid_envelope',
        reason: `content-type: ${quote(contentType)} is not supported (structured mode needs ${STRUCTURED_CONTENT_TYPE}; binary mode needs ce_specversion and the other ce_ headers)`,
      }
    }
  }
  const parsed = parseJson(value)
  if (!parsed.ok) return parsed
  const result = parseEvent(parsed.json)
  return result.ok ? { ok: true, event: result.event, mode: 'structured' } : result
}
