import { isUtf8 } from 'node:buffer'
import { quote } from '../common.js'
import { findUnsafeContent, mayHoldUnsafeContent } from '../content.js'
import type { DecodeResult, KafkaMessageLike } from '../decode.js'
import { firstInvalidUtf8Offset, headerText } from '../decode.js'
import { formatPath } from '../issues.js'
import { mapOcsfFinding } from './map.js'

/**
 * Kafka message → privacy-incident event, for a topic carrying OCSF findings as JSON (one event per
 * message, as OCSF producers and security lakes stream them). Same contract as the native decoder:
 * never throws, bounds the value before decoding it, and the failure types and wording of the size and
 * JSON checks are the native ones, so the dead-letter topic reads the same whichever topic a reject
 * came from.
 */
export function decodeOcsfMessage(msg: KafkaMessageLike, maxBytes: number): DecodeResult {
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
  const contentType = headerText(msg.headers, 'content-type')
  if (contentType !== undefined && !/^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i.test(contentType.trim())) {
    return {
      ok: false,
      errorType: 'invalid_envelope',
      reason: `content-type: ${quote(contentType)} is not JSON (OCSF events are JSON objects)`,
    }
  }
  // The native decoder's byte-level rules: valid UTF-8 (never stored with replacement characters) and
  // no control characters or prototype keys anywhere, each refused naming where.
  if (!isUtf8(value)) {
    return {
      ok: false,
      errorType: 'not_utf8',
      reason: `value is not valid UTF-8 (first invalid byte at offset ${firstInvalidUtf8Offset(value)}); it would be stored with replacement characters instead of what was sent`,
    }
  }
  let text = value.toString('utf8')
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    return { ok: false, errorType: 'not_json', reason: `value is not valid JSON: ${(err as Error).message}` }
  }
  if (mayHoldUnsafeContent(text)) {
    const findings = findUnsafeContent(json)
    if (findings.length > 0) {
      return {
        ok: false,
        errorType: 'invalid_data',
        reason: findings.map((f) => `${formatPath(f.path) || '(event)'}: ${f.message}`).join('; '),
      }
    }
  }
  const result = mapOcsfFinding(json)
  return result.ok ? { ok: true, event: result.event, mode: 'structured' } : result
}
