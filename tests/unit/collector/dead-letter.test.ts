import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import type { Message } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import {
  type DeadLetterLimits,
  deadLetterHeaders,
  MAX_KEY_BYTES,
  MAX_ORIGINAL_HEADER_BYTES,
  MAX_REASON_CHARS,
  messageBytes,
  minimalDeadLetterRow,
  type Rejected,
  rejected,
  toDeadLetterMessage,
  toDeadLetterRow,
} from '../../../services/collector/dead-letter.js'
import { produceRequests } from '../../../services/collector/writer.js'

/** The dead-letter copy and row: header names are data, and the copy always fits the broker's limit. */

// kafkajs's own record encoder: the exact bytes a record takes in a batch (whose header is 61 bytes).
const require = createRequire(import.meta.url)
const encodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (r: {
  key: Buffer | null
  value: Buffer | null
  headers: Message['headers']
}) => { buffer: Buffer }

function batchBytes(m: Message): number {
  return (
    61 +
    encodeRecord({
      key: (m.key as Buffer | null) ?? null,
      value: (m.value as Buffer | null) ?? null,
      headers: m.headers,
    }).buffer.length
  )
}

function headerText(m: Message, name: string): string | undefined {
  const headers = m.headers ?? {}
  if (!Object.hasOwn(headers, name)) return undefined
  const v = headers[name]
  return (Array.isArray(v) ? v[0] : v)?.toString()
}

const now = new Date('2026-11-01T10:00:00Z')
const limits: DeadLetterLimits = { maxMessageBytes: 1_048_588, storeMaxBytes: 4 * 1024 * 1024 }

function reject(
  o: {
    value?: Buffer | null
    key?: Buffer | null
    headers?: [string, Buffer | null][]
    reason?: string
  } = {},
): Rejected {
  const headers = new Map<string, (Buffer | null)[]>()
  for (const [name, value] of o.headers ?? []) headers.set(name, [...(headers.get(name) ?? []), value])
  return rejected(
    { topic: 'aims.privacy-incidents.v1', partition: 2, offset: '41' },
    { key: o.key ?? null, value: o.value === undefined ? Buffer.from('not json') : o.value },
    headers,
    { errorType: 'not_json', reason: o.reason ?? 'value is not valid JSON: Unexpected token' },
  )
}

describe('dead-letter copy on the topic', () => {
  it('keeps key, value and headers as they came, hostile names included, with length and sha256', () => {
    const value = Buffer.from('not json at all')
    const r = reject({
      value,
      key: Buffer.from('INC-1'),
      headers: [
        ['constructor', Buffer.from('c')],
        ['__proto__', Buffer.from('p')],
        ['toString', null],
        ['dup', Buffer.from('1')],
        ['dup', Buffer.from('2')],
      ],
    })
    const m = toDeadLetterMessage(r, now, limits)
    expect(m.value).toEqual(value)
    expect(m.key).toEqual(Buffer.from('INC-1'))
    expect(headerText(m, 'constructor')).toBe('c')
    expect(headerText(m, '__proto__')).toBe('p')
    // kafkajs cannot send a header without a value: it travels empty.
    expect(headerText(m, 'toString')).toBe('')
    expect(m.headers!.dup).toEqual([Buffer.from('1'), Buffer.from('2')])
    expect(headerText(m, deadLetterHeaders.valueBytes)).toBe(String(value.length))
    expect(headerText(m, deadLetterHeaders.valueSha256)).toBe(
      createHash('sha256').update(value).digest('hex'),
    )
    expect(headerText(m, deadLetterHeaders.truncated)).toBe('false')
    expect(headerText(m, deadLetterHeaders.offset)).toBe('41')
    expect(headerText(m, deadLetterHeaders.rejectedAt)).toBe(now.toISOString())
    // kafkajs encodes it (this threw on `constructor` before).
    expect(batchBytes(m)).toBeGreaterThan(value.length)
  })

  it('always fits the broker limit, whatever the sizes of value, key and headers', () => {
    const sizes = [0, 1, 1000, 64 * 1024, 1_048_000, 1_048_300, 1_048_588, 2 * 1024 * 1024]
    for (const maxMessageBytes of [1_048_588, 200_000, 5_000]) {
      for (const valueBytes of sizes) {
        for (const [keyBytes, headerBytes, headerCount] of [
          [0, 0, 0],
          [10, 100, 3],
          [20_000, 30_000, 2],
          [100, 200_000, 1],
          [100, 500, 400],
        ] as const) {
          const headers: [string, Buffer][] = Array.from({ length: headerCount }, (_, i) => [
            `h-${i}`,
            Buffer.alloc(Math.floor(headerBytes / Math.max(1, headerCount)), 'h'),
          ])
          const r = reject({
            value: Buffer.alloc(valueBytes, 'v'),
            key: keyBytes ? Buffer.alloc(keyBytes, 'k') : null,
            headers,
            reason: 'x'.repeat(10_000),
          })
          const m = toDeadLetterMessage(r, now, { ...limits, maxMessageBytes })
          const where = `max ${maxMessageBytes}, value ${valueBytes}, key ${keyBytes}, headers ${headerCount}×${headerBytes}`
          expect(batchBytes(m), where).toBeLessThanOrEqual(maxMessageBytes)
          expect(messageBytes(m), where).toBeGreaterThanOrEqual(batchBytes(m))
          const cut = (m.value as Buffer).length < valueBytes
          expect(headerText(m, deadLetterHeaders.truncated), where).toBe(String(cut))
          expect(headerText(m, deadLetterHeaders.valueBytes), where).toBe(String(valueBytes))
          // What is kept of the value is its beginning.
          expect(Buffer.alloc((m.value as Buffer).length, 'v').equals(m.value as Buffer), where).toBe(true)
        }
      }
    }
  })

  it('cuts a long key and reason, says so, and counts the headers it leaves out', () => {
    const key = Buffer.alloc(MAX_KEY_BYTES * 3, 'k')
    const r = reject({
      key,
      headers: [
        ['small', Buffer.from('s')],
        ['huge', Buffer.alloc(MAX_ORIGINAL_HEADER_BYTES + 1, 'h')],
      ],
      reason: 'r'.repeat(MAX_REASON_CHARS * 2),
    })
    const m = toDeadLetterMessage(r, now, limits)
    expect((m.key as Buffer).length).toBe(MAX_KEY_BYTES)
    expect(headerText(m, deadLetterHeaders.keyBytes)).toBe(String(key.length))
    expect(headerText(m, deadLetterHeaders.keySha256)).toBe(createHash('sha256').update(key).digest('hex'))
    expect(headerText(m, 'small')).toBe('s')
    expect(headerText(m, 'huge')).toBeUndefined()
    expect(headerText(m, deadLetterHeaders.headersDropped)).toBe('1')
    expect(headerText(m, deadLetterHeaders.reason)).toHaveLength(MAX_REASON_CHARS)
  })

  it("replaces a replayed dead letter's aims-dlq-* headers with this rejection's", () => {
    const r = reject({ headers: [[deadLetterHeaders.reason, Buffer.from('an older reason')]] })
    const m = toDeadLetterMessage(r, now, limits)
    expect(m.headers![deadLetterHeaders.reason]).toBe(r.reason)
  })
})

describe('dead-letter row in ClickHouse', () => {
  it('keeps the value whole up to the cap and cuts it beyond, with length and sha256', () => {
    const small = toDeadLetterRow(reject({ value: Buffer.alloc(1000, 'a') }), { storeMaxBytes: 1000 })
    expect(small).toMatchObject({ value_bytes: 1000, value_truncated: false })
    expect(Buffer.from(small.value_base64, 'base64')).toHaveLength(1000)
    const value = Buffer.alloc(1001, 'a')
    const big = toDeadLetterRow(reject({ value }), { storeMaxBytes: 1000 })
    expect(big).toMatchObject({
      value_bytes: 1001,
      value_truncated: true,
      value_sha256: createHash('sha256').update(value).digest('hex'),
    })
    expect(Buffer.from(big.value_base64, 'base64')).toHaveLength(1000)
  })

  it('stores hostile header names as keys like any other', () => {
    const row = toDeadLetterRow(
      reject({
        headers: [
          ['__proto__', Buffer.from('p')],
          ['constructor', Buffer.from('c')],
          ['n', null],
        ],
      }),
      limits,
    )
    expect(Object.keys(row.headers)).toEqual(['__proto__', 'constructor', 'n'])
    // biome-ignore lint/suspicious/noProto: a header named __proto__ must be stored as plain data
    expect(row.headers.__proto__).toBe('p')
    expect(row.headers.n).toBe('')
  })

  it('has a payload-free stand-in for a row ClickHouse refuses', () => {
    const row = minimalDeadLetterRow(toDeadLetterRow(reject({ value: Buffer.alloc(10, 'a') }), limits))
    expect(row).toMatchObject({ value_base64: '', value_truncated: true, key: null, headers: {} })
  })

  it('counts a tombstone as an empty value', () => {
    const r = reject({ value: null })
    expect(r.valueBytes).toBe(0)
    expect(r.valueSha256).toBe(createHash('sha256').update(Buffer.alloc(0)).digest('hex'))
    expect(toDeadLetterMessage(r, now, limits).value).toBeNull()
  })
})

describe('produce requests', () => {
  it('group messages under the budget (record overheads counted), a larger one alone', () => {
    const m = (bytes: number): Message => ({ value: Buffer.alloc(bytes) })
    const requests = produceRequests(
      [m(400), m(400), m(400), m(2000), m(100)].map((message) => ({ topic: 't', message })),
      1000,
    )
    expect(requests.map((r) => r.flatMap((t) => t.messages.map((x) => (x.value as Buffer).length)))).toEqual([
      [400, 400],
      [400],
      [2000],
      [100],
    ])
  })
})
