import { gzipSync } from 'node:zlib'
import type { IHeaders } from 'kafkajs'
import { type EventType, encodeKafkaMessage, formatPath } from '../../../shared/events/index.js'
import { readExampleLines } from '../../helpers/pipeline.js'

/**
 * Generated Kafka messages for the collector fuzz test: valid events mixed with hostile ones of every
 * class issue 11 names, each with the outcome the collector must reach (stored, or dead-lettered with an
 * error type and a reason that names the field or the cause). Deterministic for a seed.
 */

export type Expected =
  | { outcome: 'stored'; eventId: string }
  | { outcome: 'dead-letter'; errorType: string; reason: RegExp; kind: string }

export interface FuzzMessage {
  key: Buffer | string | null
  value: Buffer | string | null
  headers?: IHeaders
  /** Sent in a gzip-compressed produce request of its own. */
  compressed?: boolean
  expected: Expected
}

type Json = Record<string, unknown>
const TYPES: EventType[] = ['aims.privacy_incident.v1', 'aims.model_metrics.v1', 'aims.audit_finding.v1']
const FILES: Record<EventType, string> = {
  'aims.privacy_incident.v1': 'privacy-incidents.jsonl',
  'aims.model_metrics.v1': 'model-metrics.jsonl',
  'aims.audit_finding.v1': 'audit-findings.jsonl',
}
const ENTITY: Record<EventType, string> = {
  'aims.privacy_incident.v1': 'incidentId',
  'aims.model_metrics.v1': 'modelId',
  'aims.audit_finding.v1': 'findingId',
}
const FORBIDDEN = ['__proto__', 'constructor', 'prototype'] as const
const HOSTILE_HEADER_NAMES = [
  'constructor',
  '__proto__',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'aims-dlq-reason',
]
const CONTROLS = [
  '\u0000',
  '\u0001',
  '\t',
  '\n',
  '\r',
  '\u001b',
  '\u001f',
  '\u007f',
  '\u0080',
  '\u0085',
  '\u009f',
]

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** mulberry32: small, fast, deterministic. */
function prng(seed: number) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number) => Math.floor(next() * n)
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!
  return { next, int, pick }
}

function stringPaths(value: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (typeof value === 'string') return [path]
  if (Array.isArray(value)) return value.flatMap((v, i) => stringPaths(v, [...path, i]))
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => stringPaths(v, [...path, k]))
  }
  return []
}

function objectPaths(value: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => objectPaths(v, [...path, i]))
  if (value !== null && typeof value === 'object') {
    return [path, ...Object.entries(value).flatMap(([k, v]) => objectPaths(v, [...path, k]))]
  }
  return []
}

function at(root: unknown, path: (string | number)[]): unknown {
  let node = root
  for (const segment of path) node = (node as Record<string | number, unknown>)[segment]
  return node
}

export interface FuzzPlan {
  /** Messages per event topic type, in production order. */
  byType: Map<EventType, FuzzMessage[]>
  valid: number
  hostile: number
}

/**
 * `hostile` hostile messages and `valid` valid ones, spread over the three event types. Hostile
 * classes: bad JSON, bad UTF-8, too large, huge compressed, huge near the broker limit, wrong type for
 * the topic, forbidden keys, control characters, out-of-range numbers and dates, tombstones, bad
 * content types, binary-mode CloudEvents with hostile ce_ headers; hostile header names, huge header
 * values, many headers and huge keys ride on valid and hostile messages alike.
 */
export function fuzzPlan(o: {
  seed: number
  valid: number
  hostile: number
  maxEventBytes: number
}): FuzzPlan {
  const r = prng(o.seed)
  const templates = new Map(
    TYPES.map((t) => [t, readExampleLines(FILES[t]).map((l) => JSON.parse(l) as Json)]),
  )
  const byType = new Map<EventType, FuzzMessage[]>(TYPES.map((t) => [t, []]))
  let n = 0

  const fresh = (type: EventType, id: string): Json => {
    const e = structuredClone(r.pick(templates.get(type)!)) as Json & { data: Json }
    e.id = id
    e.data[ENTITY[type]] = `FZ-${ENTITY[type]}-${n % 97}`
    if (type === 'aims.audit_finding.v1' && e.data.repeatOf === e.data.findingId) delete e.data.repeatOf
    return e
  }
  const dead = (errorType: string, reason: RegExp, kind: string): Expected => ({
    outcome: 'dead-letter',
    errorType,
    reason,
    kind,
  })
  const whereOf = (path: (string | number)[]) => (path[0] === 'data' ? 'invalid_data' : 'invalid_envelope')

  /** Headers and keys that must change nothing about the outcome. */
  const decorate = (m: FuzzMessage): FuzzMessage => {
    const roll = r.next()
    if (roll < 0.15) {
      const headers: IHeaders = Object.create(null)
      for (const name of [r.pick(HOSTILE_HEADER_NAMES), r.pick(HOSTILE_HEADER_NAMES)]) {
        headers[name] = Buffer.from([0xff, 0xfe, r.int(256)])
      }
      // Spread copies own properties as data properties: `__proto__` stays a header name.
      m.headers = { ...(m.headers ?? {}), ...headers }
    } else if (roll < 0.17) {
      // Mostly a few KiB; now and then more than the 64 KiB of original headers a dead-letter copy keeps.
      const big = r.next() < 0.1 ? 70_000 : 2_000 + r.int(6_000)
      m.headers = { ...(m.headers ?? {}), 'x-big': Buffer.alloc(big, 'h') }
    } else if (roll < 0.19) {
      const many: IHeaders = { ...(m.headers ?? {}) }
      for (let i = 0; i < 300; i++) many[`x-h-${i}`] = `v${i}`
      m.headers = many
    } else if (roll < 0.21) {
      m.key = Buffer.alloc(5_000 + r.int(5_000), 'k')
    } else if (roll < 0.25) {
      m.key = Buffer.from([0xc0, 0xff, r.int(256), r.int(256)])
    }
    return m
  }

  const validMessage = (type: EventType): FuzzMessage => {
    const id = `fz-${n}`
    const e = fresh(type, id)
    if (r.next() < 0.25) {
      const encoded = encodeKafkaMessage(e as never, 'binary')
      return {
        key: encoded.key,
        value: encoded.value,
        headers: encoded.headers,
        expected: { outcome: 'stored', eventId: id },
      }
    }
    return {
      key: String((e.data as Json)[ENTITY[type]]),
      value: JSON.stringify(e),
      expected: { outcome: 'stored', eventId: id },
    }
  }

  const hostileMessage = (type: EventType): FuzzMessage => {
    const id = `fzh-${n}`
    const e = fresh(type, id)
    const text = JSON.stringify(e)
    const kind = r.int(14)
    switch (kind) {
      case 0: {
        const cut = 1 + r.int(text.length - 2)
        return {
          key: null,
          value: text.slice(0, cut),
          expected: dead('not_json', /^value is not valid JSON: /, 'bad json'),
        }
      }
      case 1: {
        const paths = stringPaths(e).filter((p) => p[0] !== 'type')
        const path = r.pick(paths)
        const original = String(at(e, path))
        const marker = `${original}\u2063`
        ;(at(e, path.slice(0, -1)) as Record<string | number, unknown>)[path[path.length - 1]!] = marker
        const withMarker = Buffer.from(JSON.stringify(e))
        const pos = withMarker.indexOf(Buffer.from('\u2063'))
        const bad = r.pick([[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80]])
        const value = Buffer.concat([
          withMarker.subarray(0, pos),
          Buffer.from(bad),
          withMarker.subarray(pos + 3),
        ])
        return {
          key: null,
          value,
          expected: dead(
            'not_utf8',
            new RegExp(`^value is not valid UTF-8 \\(first invalid byte at offset ${pos}\\)`),
            'bad utf-8',
          ),
        }
      }
      case 2: {
        const size = o.maxEventBytes + 1 + r.int(o.maxEventBytes)
        const value = `${text.slice(0, -1)},"pad":"${'p'.repeat(size)}"}`
        return {
          key: null,
          value,
          expected: dead(
            'too_large',
            new RegExp(
              `^value is ${Buffer.byteLength(value)} bytes, over the ${o.maxEventBytes}-byte limit$`,
            ),
            'too large',
          ),
        }
      }
      case 3: {
        const other = r.pick(TYPES.filter((t) => t !== type))
        const wrong = fresh(other, id)
        return {
          key: null,
          value: JSON.stringify(wrong),
          expected: dead(
            'wrong_topic',
            new RegExp(
              `^type: "${esc(other)}" does not belong on this topic, which carries "${esc(type)}" only$`,
            ),
            'wrong type for topic',
          ),
        }
      }
      case 4: {
        const path = r.pick(objectPaths(e))
        const key = r.pick(FORBIDDEN)
        ;(at(e, path) as Record<string, unknown>).zzforbidden = r.pick([1, 'x', { nested: true }, [1]])
        const value = JSON.stringify(e).replace('"zzforbidden":', `"${key}":`)
        const field = formatPath([...path, key])
        return {
          key: null,
          value,
          expected: dead(
            whereOf([...path, key]),
            new RegExp(`^${esc(field)}: key "${esc(key)}" is not allowed`),
            'forbidden key',
          ),
        }
      }
      case 5: {
        const path = r.pick(stringPaths(e).filter((p) => p[0] !== 'type'))
        const original = String(at(e, path))
        const index = r.int(original.length + 1)
        const control = r.pick(CONTROLS)
        ;(at(e, path.slice(0, -1)) as Record<string | number, unknown>)[path[path.length - 1]!] =
          `${original.slice(0, index)}${control}${original.slice(index)}`
        const code = control.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')
        return {
          key: null,
          value: JSON.stringify(e),
          expected: dead(
            whereOf(path),
            new RegExp(
              `^${esc(formatPath(path))}: must not contain control characters \\(U\\+${code} at index ${index}\\)`,
            ),
            'control character',
          ),
        }
      }
      case 6: {
        const d = e.data as Json
        const mutations: [string[], unknown][] =
          type === 'aims.privacy_incident.v1'
            ? [
                [['recordsAffected'], -1],
                [['recordsAffected'], 1e13],
                [['dataSubjectsAffected'], 2.5],
                [['detectedAt'], '0070-06-01T00:00:00Z'],
                [['detectedAt'], '1969-12-31T23:59:59Z'],
                [['detectedAt'], '2025-02-30T10:00:00Z'],
              ]
            : type === 'aims.model_metrics.v1'
              ? [
                  [['sampleSize'], 0],
                  [['sampleSize'], 1e13],
                  [['window', 'end'], '2299-01-01T00:00:00Z'],
                  [['window', 'start'], '2025-13-01T00:00:00Z'],
                ]
              : [
                  [['raisedAt'], '0070-06-01T00:00:00Z'],
                  [['raisedAt'], '2025-04-31T10:00:00Z'],
                  [['dueAt'], '1960-01-01T00:00:00Z'],
                ]
        const [path, value] = r.pick(mutations)
        ;(at(d, path.slice(0, -1)) as Json)[path[path.length - 1]!] = value
        return {
          key: null,
          value: JSON.stringify(e),
          expected: dead(
            'invalid_data',
            new RegExp(`(^|; )${esc(formatPath(['data', ...path]))}: `),
            'out of range',
          ),
        }
      }
      case 7: {
        // A number JSON.parse reads as Infinity, in a count (audit findings have none: their date instead).
        const field =
          type === 'aims.privacy_incident.v1'
            ? 'recordsAffected'
            : type === 'aims.model_metrics.v1'
              ? 'sampleSize'
              : undefined
        if (field === undefined) {
          const value = text.replace(/"raisedAt":"[^"]*"/, '"raisedAt":"1969-07-20T20:17:40Z"')
          return {
            key: null,
            value,
            expected: dead('invalid_data', /(^|; )data\.raisedAt: must lie between/, 'out of range'),
          }
        }
        const value = text.replace(new RegExp(`"${field}":\\d+`), `"${field}":1e400`)
        return {
          key: null,
          value,
          expected: dead(
            'invalid_data',
            new RegExp(`(^|; )data\\.${field}: must be a finite number, got Infinity`),
            'out of range',
          ),
        }
      }
      case 8:
        return {
          key: r.next() < 0.5 ? null : 'tombstone',
          value: null,
          expected: dead('empty', /^message has no value/, 'tombstone'),
        }
      case 9:
        return {
          key: null,
          value: text,
          headers: {
            'content-type': r.pick(['text/plain', 'application/avro', 'application/xml; charset=utf-8']),
          },
          expected: dead('invalid_envelope', /^content-type: ".*" is not supported/, 'content type'),
        }
      case 10:
      case 11: {
        const encoded = encodeKafkaMessage(e as never, 'binary')
        const headers: IHeaders = Object.create(null)
        Object.assign(headers, encoded.headers)
        const attack = r.int(7)
        let expected: Expected
        if (attack === 0) {
          const name = r.pick(FORBIDDEN)
          headers[`ce_${name}`] = 'polluted'
          expected = dead(
            'invalid_envelope',
            new RegExp(`^${esc(name)}: key "${esc(name)}" is not allowed`),
            'binary forbidden attribute',
          )
        } else if (attack === 1) {
          headers.ce_id = `${id}\u0007`
          expected = dead(
            'invalid_envelope',
            /^id: must not contain control characters \(U\+0007/,
            'binary control character',
          )
        } else if (attack === 2) {
          const other = r.pick(TYPES.filter((t) => t !== type))
          headers.ce_type = other
          expected = dead(
            'wrong_topic',
            new RegExp(`^type: "${esc(other)}" does not belong on this topic`),
            'binary wrong type',
          )
        } else if (attack === 3) {
          headers.ce_time = '0070-01-01T00:00:00Z'
          expected = dead(
            'invalid_envelope',
            /^time: must lie between 1970-01-01 and 2298-12-31/,
            'binary date',
          )
        } else if (attack === 4) {
          headers.ce_specversion = '2.0'
          expected = dead('invalid_envelope', /^specversion: must be "1\.0"/, 'binary specversion')
        } else if (attack === 5) {
          headers.ce_source = Buffer.from([0x2f, 0xff, 0x2f])
          expected = dead(
            'not_utf8',
            /^header "ce_source" is not valid UTF-8 \(first invalid byte at offset 1\)/,
            'binary bad utf-8',
          )
        } else {
          headers['content-type'] = 'text/plain'
          expected = dead(
            'invalid_envelope',
            /^content-type: binary-mode data must be application\/json/,
            'binary content type',
          )
        }
        return { key: encoded.key, value: encoded.value, headers, expected }
      }
      default: {
        // Binary mode whose data is not JSON at all.
        const encoded = encodeKafkaMessage(e as never, 'binary')
        return {
          key: encoded.key,
          value: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a]),
          headers: encoded.headers,
          expected: dead('not_json', /^value is not valid JSON: /, 'binary bad json'),
        }
      }
    }
  }

  const total = o.valid + o.hostile
  let validLeft = o.valid
  let hostileLeft = o.hostile
  for (let i = 0; i < total; i++) {
    const type = TYPES[i % 3]!
    const isValid = r.int(validLeft + hostileLeft) < validLeft
    const m = isValid ? validMessage(type) : hostileMessage(type)
    if (isValid) validLeft--
    else hostileLeft--
    byType.get(type)!.push(decorate(m))
    n++
  }

  // A few of the heaviest: 2 MiB values sent gzip-compressed, and values just under the broker limit.
  for (const [i, type] of TYPES.entries()) {
    const big = Buffer.from(`{"huge":"${'z'.repeat(2 * 1024 * 1024)}"}`)
    byType.get(type)!.push({
      key: `gz-${i}`,
      value: big,
      compressed: true,
      expected: dead('too_large', new RegExp(`^value is ${big.length} bytes, over the`), 'compressed huge'),
    })
    const edge = Buffer.from(`{"almost":"${'y'.repeat(1_048_300 - 13)}`)
    byType.get(type)!.push({
      key: null,
      value: edge,
      expected: dead(
        'too_large',
        new RegExp(`^value is ${edge.length} bytes, over the`),
        'huge near the broker limit',
      ),
    })
  }
  return { byType, valid: o.valid, hostile: o.hostile + 2 * TYPES.length }
}

/** Compressed size of a value as the broker would see it (for sanity checks in the test). */
export function gzippedSize(value: Buffer): number {
  return gzipSync(value).length
}
