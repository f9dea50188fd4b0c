import type { IHeaders } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import {
  type DecodeResult,
  decodeKafkaMessage,
  encodeKafkaMessage,
  formatLineError,
  parseEvent,
  parseJsonlLine,
} from '../../../shared/events/index.js'
import { allValidLines, exampleLines, type LooseJson, MAX_BYTES, sample } from './fixtures.js'

const buf = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value))

function failure(result: DecodeResult) {
  if (result.ok) throw new Error('expected a rejection')
  return { errorType: result.errorType, reason: result.reason }
}

/** Binary mode: the envelope's attributes as ce_ headers, data alone as the value. */
function binaryMessage(event: LooseJson, extraHeaders: IHeaders = {}) {
  const { data, datacontenttype: _contentType, ...attributes } = event
  const headers: IHeaders = { 'content-type': 'application/json', ...extraHeaders }
  for (const [name, value] of Object.entries(attributes)) headers[`ce_${name}`] = Buffer.from(String(value))
  return { value: buf(data), headers, key: null }
}

describe('decodeKafkaMessage: structured mode', () => {
  it('accepts every example with content-type application/cloudevents+json, application/json or none', () => {
    for (const line of allValidLines()) {
      for (const headers of [
        undefined,
        { 'content-type': 'application/cloudevents+json; charset=utf-8' },
        { 'content-type': Buffer.from('application/json') },
      ]) {
        const result = decodeKafkaMessage({ value: buf(line), headers }, MAX_BYTES)
        expect(result).toMatchObject({ ok: true, mode: 'structured' })
      }
    }
  })

  it('rejects an unsupported content type', () => {
    const result = decodeKafkaMessage(
      { value: buf(allValidLines()[0]!), headers: { 'content-type': 'application/avro' } },
      MAX_BYTES,
    )
    expect(failure(result)).toMatchObject({
      errorType: 'invalid_envelope',
      reason: expect.stringContaining('content-type: "application/avro" is not supported'),
    })
  })

  it('tolerates a byte-order mark', () => {
    const result = decodeKafkaMessage({ value: buf(`\uFEFF${allValidLines()[0]}`) }, MAX_BYTES)
    expect(result.ok).toBe(true)
  })
})

describe('decodeKafkaMessage: binary mode', () => {
  it('accepts the attributes from ce_ headers and the data from the value', () => {
    for (const line of allValidLines()) {
      const event = JSON.parse(line)
      const result = decodeKafkaMessage(binaryMessage(event), MAX_BYTES)
      expect(result).toMatchObject({ ok: true, mode: 'binary' })
      if (!result.ok) continue
      const structured = parseEvent(event)
      expect(structured.ok && result.event).toEqual(structured.ok && structured.event)
    }
  })

  it('reads repeated headers and string header values', () => {
    const event = sample('audit-findings')
    const message = binaryMessage(event, { ce_traceparent: ['00-abc-01', '00-def-01'] })
    message.headers.ce_id = event.id as string
    const result = decodeKafkaMessage(message, MAX_BYTES)
    expect(result).toMatchObject({ ok: true, event: { id: event.id, traceparent: '00-abc-01' } })
  })

  it('reports a missing ce_ attribute as an envelope error', () => {
    const message = binaryMessage(sample('privacy-incidents'))
    delete message.headers.ce_time
    expect(failure(decodeKafkaMessage(message, MAX_BYTES))).toEqual({
      errorType: 'invalid_envelope',
      reason: 'time: is required',
    })
  })

  it('reports bad data with its path under data', () => {
    const event = sample('model-metrics')
    event.data.fairness[0].groups[1] = { group: 'x', tp: 0, fp: 0, tn: 0, fn: 0 }
    const { errorType, reason } = failure(decodeKafkaMessage(binaryMessage(event), MAX_BYTES))
    expect(errorType).toBe('invalid_data')
    expect(reason).toContain('data.fairness[0].groups[1]: group "x" has no samples (tp+fp+tn+fn = 0)')
  })

  it('rejects binary data that is not JSON', () => {
    const message = binaryMessage(sample('privacy-incidents'), { 'content-type': 'text/plain' })
    expect(failure(decodeKafkaMessage(message, MAX_BYTES))).toMatchObject({ errorType: 'invalid_envelope' })
    const notJson = binaryMessage(sample('privacy-incidents'))
    notJson.value = Buffer.from('{"incidentId":')
    expect(failure(decodeKafkaMessage(notJson, MAX_BYTES)).errorType).toBe('not_json')
  })
})

describe('decodeKafkaMessage: rejected before parsing', () => {
  it('empty: a tombstone or zero bytes', () => {
    expect(failure(decodeKafkaMessage({ value: null }, MAX_BYTES)).errorType).toBe('empty')
    expect(failure(decodeKafkaMessage({ value: Buffer.alloc(0) }, MAX_BYTES)).errorType).toBe('empty')
  })

  it('too_large: over the byte limit, named with both sizes', () => {
    const line = allValidLines()[0]!
    const size = Buffer.byteLength(line)
    expect(failure(decodeKafkaMessage({ value: buf(line) }, size - 1))).toEqual({
      errorType: 'too_large',
      reason: `value is ${size} bytes, over the ${size - 1}-byte limit`,
    })
    expect(decodeKafkaMessage({ value: buf(line) }, size).ok).toBe(true)
  })

  it('not_json: names the parser error', () => {
    expect(failure(decodeKafkaMessage({ value: buf('{"specversion":') }, MAX_BYTES))).toMatchObject({
      errorType: 'not_json',
      reason: expect.stringMatching(/^value is not valid JSON: /),
    })
  })

  it('never throws, whatever the bytes', () => {
    for (const value of [
      'null',
      '42',
      '"text"',
      '[]',
      '{}',
      '{"type":7}',
      '{"type":"aims.model_metrics.v1","data":null}',
      '\u0000\u0001',
    ]) {
      const result = decodeKafkaMessage({ value: buf(value) }, MAX_BYTES)
      expect(result.ok, value).toBe(false)
    }
  })
})

describe('encodeKafkaMessage', () => {
  it('round-trips every example through both modes, keyed by the entity id', () => {
    for (const line of allValidLines()) {
      const parsed = parseEvent(JSON.parse(line))
      if (!parsed.ok) throw new Error(parsed.reason)
      for (const encoding of ['structured', 'binary'] as const) {
        const message = encodeKafkaMessage(parsed.event, encoding)
        const decoded = decodeKafkaMessage(
          { value: Buffer.from(message.value), headers: message.headers },
          MAX_BYTES,
        )
        expect(decoded).toMatchObject({ ok: true, mode: encoding })
        if (decoded.ok) expect(decoded.event).toEqual(parsed.event)
        expect(message.key).toBe(
          (parsed.event.data as Record<string, unknown>).incidentId ??
            (parsed.event.data as Record<string, unknown>).modelId ??
            (parsed.event.data as Record<string, unknown>).findingId,
        )
      }
    }
  })
})

describe('parseJsonlLine', () => {
  it('skips blank lines and judges the rest as the collector would', () => {
    expect(parseJsonlLine('   ', MAX_BYTES)).toEqual({ kind: 'blank' })
    expect(parseJsonlLine(exampleLines('privacy-incidents')[0]!, MAX_BYTES).kind).toBe('event')
    expect(parseJsonlLine(`${exampleLines('privacy-incidents')[0]!}\r`, MAX_BYTES).kind).toBe('event')
    expect(parseJsonlLine(exampleLines('invalid')[0]!, MAX_BYTES)).toMatchObject({
      kind: 'invalid',
      errorType: 'not_json',
    })
    expect(parseJsonlLine(exampleLines('privacy-incidents')[0]!, 100)).toMatchObject({
      kind: 'invalid',
      errorType: 'too_large',
    })
  })

  it('formats errors with the line number first', () => {
    expect(formatLineError(12, 'data.severity: is required')).toBe('line 12: data.severity: is required')
  })
})
