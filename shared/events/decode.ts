import { isUtf8 } from 'node:buffer'
import type { IHeaders } from 'kafkajs'
import { quote } from './common.js'
import { mayHoldUnsafeContent } from './content.js'
import { firstHeader, type KafkaHeaders, kafkaHeaders } from './kafka-headers.js'
import { type AimsEvent, type EventFailure, type EventType, validateEvent } from './parse.js'

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
  value: Buffer | null | undefined
  headers?: IHeaders
  key?: Buffer | null
}

export type DecodeResult = { ok: true; event: AimsEvent; mode: 'structured' | 'binary' } | EventFailure

const STRUCTURED_CONTENT_TYPE = 'application/cloudevents+json'
const BINARY_PREFIX = 'ce_'

/**
 * kafkajs hands a header as Buffer, string or (for repeated keys) an array; the first value wins. A header
 * without a value (null) reads as an empty string.
 */
export function headerText(headers: IHeaders | undefined, name: string): string | undefined {
  const value = firstHeader(kafkaHeaders(headers), name)
  return value === undefined ? undefined : (value?.toString('utf8') ?? '')
}

function mediaType(contentType: string): string {
  const semicolon = contentType.indexOf(';')
  return (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase()
}

/** Offset of the first byte that breaks UTF-8 (the value is known to be invalid). */
export function firstInvalidUtf8Offset(bytes: Buffer): number {
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!
    const need =
      b < 0x80 ? 0 : b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1
    if (need < 0) return i
    if (need > 0 && !isUtf8(bytes.subarray(i, i + need + 1))) return i
    i += need + 1
  }
  return bytes.length
}

function notUtf8(what: string, bytes: Buffer): EventFailure<'not_utf8'> {
  return {
    ok: false,
    errorType: 'not_utf8',
    reason: `${what} is not valid UTF-8 (first invalid byte at offset ${firstInvalidUtf8Offset(bytes)}); it would be stored with replacement characters instead of what was sent`,
  }
}

/**
 * Text of a header that must be UTF-8: the text, absent (undefined), or the failure naming the header.
 * A header without a value (kcat's `-H name`) says nothing, so it reads as absent.
 */
function headerString(headers: KafkaHeaders, name: string): string | undefined | EventFailure<'not_utf8'> {
  const value = firstHeader(headers, name)
  if (value === undefined || value === null) return undefined
  if (!isUtf8(value)) return notUtf8(`header ${quote(name)}`, value)
  return value.toString('utf8')
}

function parseJson(text: string): { ok: true; json: unknown } | EventFailure<'not_json'> {
  try {
    return { ok: true, json: JSON.parse(text) }
  } catch (err) {
    return { ok: false, errorType: 'not_json', reason: `value is not valid JSON: ${(err as Error).message}` }
  }
}

/**
 * Validates one Kafka message. Never throws: every outcome is a result, so one bad message cannot stop
 * a batch. `maxBytes` bounds the value before any decoding work is spent on it. `expectedType` is the
 * event type the message's topic carries (the collector passes it; any other type is refused).
 */
export function decodeKafkaMessage(
  msg: KafkaMessageLike,
  maxBytes: number,
  expectedType?: EventType,
): DecodeResult {
  const value = msg.value
  if (value === null || value === undefined || value.length === 0) {
    return { ok: false, errorType: 'empty', reason: 'message has no value (tombstone or zero bytes)' }
  }
  if (value.length > maxBytes) {
    return {
      ok: false,
      errorType: 'too_large',
      reason: `value is ${value.length} bytes, over the ${maxBytes}-byte limit`,
    }
  }
  const headers = kafkaHeaders(msg.headers)
  const contentType = headerString(headers, 'content-type')
  if (typeof contentType === 'object') return contentType
  const binary = headers.has(`${BINARY_PREFIX}specversion`)

  if (binary) {
    if (contentType !== undefined && mediaType(contentType) !== 'application/json') {
      return {
        ok: false,
        errorType: 'invalid_envelope',
        reason: `content-type: binary-mode data must be application/json, got ${quote(contentType)}`,
      }
    }
  } else if (contentType !== undefined) {
    const media = mediaType(contentType)
    if (media !== STRUCTURED_CONTENT_TYPE && media !== 'application/json') {
      return {
        ok: false,
        errorType: 'invalid_envelope',
        reason: `content-type: ${quote(contentType)} is not supported (structured mode needs ${STRUCTURED_CONTENT_TYPE}; binary mode needs ce_specversion and the other ce_ headers)`,
      }
    }
  }

  if (!isUtf8(value)) return notUtf8('value', value)
  let text = value.toString('utf8')
  // Some Windows tools prepend a byte-order mark, which JSON.parse refuses.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
  const parsed = parseJson(text)
  if (!parsed.ok) return parsed
  const checkContent = mayHoldUnsafeContent(text)

  if (binary) {
    // No prototype: a `ce___proto__` header becomes an attribute named "__proto__", which the content
    // check refuses by name, instead of an assignment that would silently vanish.
    const envelope: Record<string, unknown> = Object.create(null)
    for (const name of headers.keys()) {
      if (!name.startsWith(BINARY_PREFIX)) continue
      const attribute = headerString(headers, name)
      if (typeof attribute === 'object') return attribute
      envelope[name.slice(BINARY_PREFIX.length)] = attribute
    }
    if (contentType !== undefined) envelope.datacontenttype = contentType
    // Set last so a stray `ce_data` header cannot stand in for the value.
    envelope.data = parsed.json
    // Header values are not JSON text: the whole envelope is walked.
    const result = validateEvent(envelope, expectedType, true)
    return result.ok ? { ok: true, event: result.event, mode: 'binary' } : result
  }

  const result = validateEvent(parsed.json, expectedType, checkContent)
  return result.ok ? { ok: true, event: result.event, mode: 'structured' } : result
}
