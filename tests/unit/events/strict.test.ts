import { createRequire } from 'node:module'
import type { IHeaders } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import {
  type DecodeResult,
  decodeKafkaMessage,
  epochMs,
  findUnsafeContent,
  firstHeader,
  formatPath,
  kafkaHeaders,
  parseEvent,
  TIMESTAMP_PATTERN,
  timestamp,
} from '../../../shared/events/index.js'
import { eventJsonSchemas } from '../../../shared/events/json-schema.js'
import { exampleEvents, type LooseJson, MAX_BYTES, sample, validExampleFiles } from './fixtures.js'

/** Issue 11's strict contracts: type per topic, UTF-8, control characters, forbidden keys, timestamps. */

const buf = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value))

function failure(result: DecodeResult) {
  if (result.ok) throw new Error('expected a rejection')
  return { errorType: result.errorType, reason: result.reason }
}

// kafkajs's own record decoder, fed hand-encoded bytes: headers exactly as the collector receives them.
const require = createRequire(import.meta.url)
const Encoder = require('kafkajs/src/protocol/encoder')
const Decoder = require('kafkajs/src/protocol/decoder')
const decodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0/decoder')

function headersAsKafkajsDecodesThem(pairs: [string, string | Buffer | null][]): IHeaders {
  const body = new Encoder()
    .writeInt8(0)
    .writeVarLong(0)
    .writeVarInt(0)
    .writeVarIntBytes(null)
    .writeVarIntBytes(Buffer.from('v'))
    .writeVarInt(pairs.length)
  for (const [name, value] of pairs) {
    body.writeVarIntString(name)
    if (value === null) body.writeVarInt(-1)
    else body.writeVarIntBytes(Buffer.from(value))
  }
  return decodeRecord(new Decoder(body.buffer), { firstOffset: '0', firstTimestamp: '0', magicByte: 2 })
    .headers
}

/** Every string leaf of a value, with its path. */
function stringPaths(value: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (typeof value === 'string') return [path]
  if (Array.isArray(value)) return value.flatMap((v, i) => stringPaths(v, [...path, i]))
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => stringPaths(v, [...path, k]))
  }
  return []
}

function setAt(target: LooseJson, path: (string | number)[], value: unknown): void {
  let node = target
  for (const segment of path.slice(0, -1)) node = node[segment]
  node[path[path.length - 1]!] = value
}

describe('event type per topic', () => {
  it('refuses a valid event of another type, naming both types', () => {
    const model = sample('model-metrics')
    expect(decodeKafkaMessage({ value: buf(model) }, MAX_BYTES, 'aims.model_metrics.v1').ok).toBe(true)
    expect(failure(decodeKafkaMessage({ value: buf(model) }, MAX_BYTES, 'aims.privacy_incident.v1'))).toEqual(
      {
        errorType: 'wrong_topic',
        reason:
          'type: "aims.model_metrics.v1" does not belong on this topic, which carries "aims.privacy_incident.v1" only',
      },
    )
    expect(parseEvent(sample('audit-findings'), 'aims.model_metrics.v1')).toMatchObject({
      ok: false,
      errorType: 'wrong_topic',
    })
  })
})

describe('UTF-8', () => {
  const line = JSON.stringify(sample('audit-findings'))
  const at = line.indexOf('"title":"') + 9

  it.each([
    ['a stray continuation byte', [0x80]],
    ['an invalid lead byte', [0xff]],
    ['an overlong encoding', [0xc0, 0xaf]],
    ['an encoded surrogate', [0xed, 0xa0, 0x80]],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['a truncated sequence', [0xe2, 0x82]],
  ])('refuses %s in the value, with its offset', (_, bytes) => {
    const value = Buffer.concat([
      Buffer.from(line.slice(0, at)),
      Buffer.from(bytes),
      Buffer.from(line.slice(at)),
    ])
    expect(failure(decodeKafkaMessage({ value }, MAX_BYTES))).toEqual({
      errorType: 'not_utf8',
      reason: `value is not valid UTF-8 (first invalid byte at offset ${at}); it would be stored with replacement characters instead of what was sent`,
    })
  })

  it('refuses invalid UTF-8 in a binary-mode attribute and in content-type', () => {
    const event = sample('privacy-incidents')
    const headers: IHeaders = {
      ce_specversion: '1.0',
      ce_id: 'x',
      ce_source: Buffer.from([0x2f, 0xff]),
      ce_type: event.type,
      ce_time: event.time,
    }
    expect(failure(decodeKafkaMessage({ value: buf(event.data), headers }, MAX_BYTES))).toMatchObject({
      errorType: 'not_utf8',
      reason: expect.stringMatching(
        /^header "ce_source" is not valid UTF-8 \(first invalid byte at offset 1\)/,
      ),
    })
    const contentType = { 'content-type': Buffer.from([0xfe]) }
    expect(failure(decodeKafkaMessage({ value: buf(event), headers: contentType }, MAX_BYTES))).toMatchObject(
      {
        errorType: 'not_utf8',
      },
    )
  })

  it('accepts every valid multi-byte character', () => {
    const event = sample('audit-findings')
    event.data.title = 'Überwachung — 監視 — 🛡️ monitoring'
    const result = decodeKafkaMessage({ value: buf(event) }, MAX_BYTES)
    expect(result.ok && result.event.type === 'aims.audit_finding.v1' && result.event.data.title).toBe(
      event.data.title,
    )
  })
})

describe('control characters', () => {
  const controls = ['\u0000', '\t', '\n', '\r', '\u001b', '\u001f', '\u007f', '\u0080', '\u009b', '\u009f']

  it('are refused in every string of every example, naming the field', () => {
    let checked = 0
    for (const file of validExampleFiles) {
      for (const [index, example] of exampleEvents(file).entries()) {
        // `type` is read first to pick the schema: a changed type is an unknown type (tested elsewhere).
        for (const path of stringPaths(example).filter((p) => p[0] !== 'type')) {
          for (const control of [controls[checked % controls.length]!]) {
            const event = structuredClone(sample(file, index))
            let original = event
            for (const segment of path) original = original[segment]
            setAt(event, path, `${String(original).slice(0, 3)}${control}`)
            const text = JSON.stringify(event)
            const result = failure(decodeKafkaMessage({ value: buf(text) }, MAX_BYTES))
            const code = control.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')
            expect(result.reason, `${file}[${index}] ${formatPath(path)}`).toBe(
              `${formatPath(path)}: must not contain control characters (U+${code} at index ${Math.min(3, String(original).length)})`,
            )
            expect(result.errorType).toBe(path[0] === 'data' ? 'invalid_data' : 'invalid_envelope')
            checked++
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(100)
  })

  it('refuses a title that is only a control character (it used to pass as non-blank)', () => {
    for (const control of controls) {
      const event = sample('audit-findings')
      event.data.title = control
      expect(failure(decodeKafkaMessage({ value: buf(event) }, MAX_BYTES)).reason).toMatch(
        /^data\.title: must not contain control characters/,
      )
      // parseEvent on its own applies the same rule (the CLI and other callers).
      expect(parseEvent(event)).toMatchObject({ ok: false, errorType: 'invalid_data' })
    }
  })

  it('refuses control characters in keys and lone surrogates in strings', () => {
    const event = sample('model-metrics')
    event.data.metrics.extra = { 'log\tloss': 0.3 }
    expect(failure(decodeKafkaMessage({ value: buf(event) }, MAX_BYTES)).reason).toBe(
      'data.metrics.extra["log\\tloss"]: the key must not contain control characters (U+0009 at index 3)',
    )
    const lone = JSON.stringify(sample('audit-findings')).replace('"title":"', '"title":"\\ud800')
    expect(failure(decodeKafkaMessage({ value: buf(lone) }, MAX_BYTES)).reason).toBe(
      'data.title: must be well-formed Unicode (lone surrogate at index 0)',
    )
  })

  it('refuses control characters in binary-mode attributes', () => {
    const event = sample('privacy-incidents')
    const headers: IHeaders = {
      ce_specversion: '1.0',
      ce_id: 'id\u0000',
      ce_source: event.source,
      ce_type: event.type,
      ce_time: event.time,
    }
    expect(failure(decodeKafkaMessage({ value: buf(event.data), headers }, MAX_BYTES))).toEqual({
      errorType: 'invalid_envelope',
      reason: 'id: must not contain control characters (U+0000 at index 2)',
    })
  })
})

describe('forbidden keys', () => {
  const places: [string, (key: string) => string][] = [
    ['the envelope', (k) => JSON.stringify(sample('model-metrics')).replace('{', `{"${k}":1,`)],
    ['data', (k) => JSON.stringify(sample('model-metrics')).replace('"data":{', `"data":{"${k}":1,`)],
    [
      'data.metrics.extra',
      (k) => {
        const e = sample('model-metrics')
        e.data.metrics.extra = { log_loss: 0.3 }
        return JSON.stringify(e).replace('"extra":{', `"extra":{"${k}":{"x":1},`)
      },
    ],
    [
      'data.fairness[0].groups[0]',
      (k) => JSON.stringify(sample('model-metrics')).replace('"groups":[{', `"groups":[{"${k}":0,`),
    ],
  ]

  for (const key of ['__proto__', 'constructor', 'prototype']) {
    it.each(places)(`"${key}" in %s is refused, naming its path`, (place, make) => {
      const result = failure(decodeKafkaMessage({ value: buf(make(key)) }, MAX_BYTES))
      const where = place === 'the envelope' ? '' : `${place}.`
      expect(result.reason).toBe(
        `${where}${key}: key "${key}" is not allowed (__proto__, constructor and prototype are refused anywhere)`,
      )
      expect(result.errorType).toBe(place === 'the envelope' ? 'invalid_envelope' : 'invalid_data')
    })
  }

  it('refuses them as binary-mode attributes (ce___proto__, ce_constructor)', () => {
    const event = sample('privacy-incidents')
    for (const name of ['__proto__', 'constructor', 'prototype']) {
      const headers: IHeaders = Object.create(null)
      Object.assign(headers, {
        ce_specversion: '1.0',
        ce_id: 'x',
        ce_source: event.source,
        ce_type: event.type,
        ce_time: event.time,
      })
      headers[`ce_${name}`] = 'polluted'
      expect(failure(decodeKafkaMessage({ value: buf(event.data), headers }, MAX_BYTES)).reason).toBe(
        `${name}: key "${name}" is not allowed (__proto__, constructor and prototype are refused anywhere)`,
      )
    }
  })

  it('walks deeply nested values without recursion', () => {
    const deep = `${'['.repeat(200_000)}"\\u0000"${']'.repeat(200_000)}`
    const findings = findUnsafeContent(JSON.parse(deep))
    expect(findings).toHaveLength(1)
    expect(findings[0]!.path).toHaveLength(200_000)
    const event = JSON.stringify(sample('privacy-incidents')).replace('{', `{"nested":${deep},`)
    expect(failure(decodeKafkaMessage({ value: buf(event) }, 10 * MAX_BYTES)).errorType).toBe(
      'invalid_envelope',
    )
  })
})

describe('Kafka headers', () => {
  it('reads the headers kafkajs decodes, without the Object.prototype members its decoder mixes in', () => {
    const raw = headersAsKafkajsDecodesThem([
      ['constructor', 'c'],
      ['__proto__', 'p'],
      ['toString', null],
      ['hasOwnProperty', 'h'],
      ['dup', '1'],
      ['dup', '2'],
    ])
    // What kafkajs hands over: `constructor: [Object, <c>]` and so on.
    expect(Array.isArray(raw.constructor)).toBe(true)
    const headers = kafkaHeaders(raw)
    expect([...headers.keys()]).toEqual(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'dup'])
    expect(headers.get('constructor')).toEqual([Buffer.from('c')])
    expect(headers.get('__proto__')).toEqual([Buffer.from('p')])
    expect(headers.get('toString')).toEqual([null])
    expect(headers.get('dup')).toEqual([Buffer.from('1'), Buffer.from('2')])
    expect(firstHeader(headers, 'valueOf')).toBeUndefined()
  })

  it('decodes messages whose headers are hostile or have no value, without throwing', () => {
    const value = buf(sample('privacy-incidents'))
    for (const pairs of [
      [['content-type', null]],
      [['constructor', 'x']],
      [['__proto__', 'x']],
      [['ce_specversion', null]],
      [
        ['content-type', 'application/json'],
        ['content-type', 'text/plain'],
      ],
    ] as [string, string | null][][]) {
      const result = decodeKafkaMessage({ value, headers: headersAsKafkajsDecodesThem(pairs) }, MAX_BYTES)
      expect(typeof result.ok, JSON.stringify(pairs)).toBe('boolean')
    }
    // A header without a value says nothing: a content-type without one reads as absent.
    const noValue = headersAsKafkajsDecodesThem([['content-type', null]])
    expect(decodeKafkaMessage({ value, headers: noValue }, MAX_BYTES)).toMatchObject({
      ok: true,
      mode: 'structured',
    })
  })
})

describe('timestamps: the JSON Schema and the validator agree exactly', () => {
  /** An independent reading of the rule: RFC 3339, upper-case T and Z, years 1970-2298 as written. */
  function oracle(s: string): boolean {
    const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d{1,9})?(Z|([+-])(\d\d):(\d\d))$/.exec(s)
    if (m === null) return false
    const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as number[]
    const date = new Date(0)
    date.setUTCFullYear(year!, month! - 1 + 1, 0)
    const daysInMonth = date.getUTCDate()
    const zoneOk = m[8] === 'Z' || (Number(m[10]) <= 23 && Number(m[11]) <= 59)
    return (
      year! >= 1970 &&
      year! <= 2298 &&
      month! >= 1 &&
      month! <= 12 &&
      day! >= 1 &&
      day! <= daysInMonth &&
      hour! <= 23 &&
      minute! <= 59 &&
      second! <= 59 &&
      zoneOk
    )
  }

  const corpus = (() => {
    const out = [
      '0070-06-01T00:00:00Z',
      '1969-12-31T23:59:59Z',
      '1969-12-31T23:59:59.999-01:00',
      '1970-01-01T00:00:00Z',
      '1970-01-01T00:00:00+23:59',
      '1972-02-29T00:00:00Z',
      '1973-02-29T00:00:00Z',
      '2000-02-29T12:00:00Z',
      '2023-02-29T12:00:00Z',
      '2024-02-29T12:00:00Z',
      '2100-02-29T12:00:00Z',
      '2200-02-29T12:00:00Z',
      '2296-02-29T12:00:00Z',
      '2298-12-31T23:59:59.999999999-23:59',
      '2299-01-01T00:00:00Z',
      '9999-12-31T23:59:59Z',
      '2025-04-31T10:00:00Z',
      '2025-13-01T10:00:00Z',
      '2025-00-01T10:00:00Z',
      '2025-01-00T10:00:00Z',
      '2025-01-01T24:00:00Z',
      '2025-01-01T23:60:00Z',
      '2025-01-01T23:59:60Z',
      '2025-01-01t10:00:00Z',
      '2025-01-01T10:00:00z',
      '2025-01-01 10:00:00Z',
      '2025-01-01T10:00Z',
      '2025-01-01T10:00:00',
      '2025-01-01T10:00:00.Z',
      '2025-01-01T10:00:00.1234567890Z',
      '2025-01-01T10:00:00+24:00',
      '2025-01-01T10:00:00+01:60',
      '2025-01-01T10:00:00+0100',
      '+02025-01-01T10:00:00Z',
      '2025-01-01T10:00:00Z\n',
    ]
    // Every month end and the day after, across leap and century years.
    for (const year of [1970, 1999, 2000, 2001, 2004, 2100, 2104, 2200, 2298]) {
      for (let month = 1; month <= 12; month++) {
        for (const day of [28, 29, 30, 31, 32]) {
          const mm = String(month).padStart(2, '0')
          out.push(`${year}-${mm}-${day}T00:00:00Z`)
        }
      }
    }
    return out
  })()

  it("the exported pattern is the validator's pattern, on every timestamp field", () => {
    let fields = 0
    const visit = (node: unknown): void => {
      if (Array.isArray(node)) {
        node.forEach(visit)
        return
      }
      if (node === null || typeof node !== 'object') return
      const schema = node as Record<string, unknown>
      if (schema.format === 'date-time') {
        expect(schema.pattern).toBe(TIMESTAMP_PATTERN.source)
        fields++
      }
      for (const value of Object.values(schema)) visit(value)
    }
    for (const { schema } of eventJsonSchemas()) visit(schema)
    expect(fields).toBeGreaterThanOrEqual(12)
  })

  it('accepts and rejects exactly what an independent reading of the rule does', () => {
    const exported = new RegExp(TIMESTAMP_PATTERN.source)
    for (const s of corpus) {
      const expected = oracle(s)
      expect(timestamp.safeParse(s).success, s).toBe(expected)
      expect(exported.test(s), s).toBe(expected)
    }
  })

  it('never reinterprets a year: 0070 is rejected, and epochMs reads it as the year 70', () => {
    const event = sample('audit-findings')
    event.data.raisedAt = '0070-06-01T00:00:00Z'
    expect(parseEvent(event)).toMatchObject({
      ok: false,
      reason: 'data.raisedAt: must lie between 1970-01-01 and 2298-12-31 (year 0070 as written)',
    })
    expect(epochMs('0070-06-01T00:00:00Z')).toBe(Date.parse('0070-06-01T00:00:00Z'))
    expect(new Date(epochMs('0070-06-01T00:00:00Z')).getUTCFullYear()).toBe(70)
  })

  it('names an impossible date as such', () => {
    const event = sample('audit-findings')
    event.data.raisedAt = '2025-02-30T10:00:00Z'
    expect(parseEvent(event)).toMatchObject({
      ok: false,
      reason:
        'data.raisedAt: must be a real date and time ("2025-02-30T10:00:00Z" is not), e.g. "2025-03-01T09:30:00Z"',
    })
  })
})
