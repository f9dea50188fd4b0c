import type { IHeaders } from 'kafkajs'

/**
 * Kafka record headers as a Map from name to values, in the order they came. A header name is producer
 * data like any other: `constructor`, `__proto__` or `toString` are valid names, so headers never live in
 * a plain object here.
 *
 * kafkajs hands headers to consumers as a plain object built by a reduce that looks each name up with
 * `obj[name]`, which finds Object.prototype's members: a single header `constructor: x` arrives as
 * `constructor: [Object, x]`. Only Buffers (and the nulls of headers without a value) are header values;
 * anything else in such a list came from the prototype and is dropped.
 */
export type KafkaHeaders = ReadonlyMap<string, readonly (Buffer | null)[]>

function isHeaderValue(v: unknown): v is Buffer | string | null {
  return v === null || typeof v === 'string' || Buffer.isBuffer(v)
}

function asBuffer(v: Buffer | string | null): Buffer | null {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v
}

/** The headers of a kafkajs message (or of a producer-side message object) as a Map. */
export function kafkaHeaders(headers: IHeaders | undefined): KafkaHeaders {
  const out = new Map<string, (Buffer | null)[]>()
  if (headers === undefined || headers === null) return out
  for (const name of Object.keys(headers)) {
    const raw: unknown = (headers as Record<string, unknown>)[name]
    if (!Array.isArray(raw)) {
      // The common case: one value.
      if (isHeaderValue(raw)) out.set(name, [asBuffer(raw)])
      continue
    }
    const values: (Buffer | null)[] = []
    for (const v of raw) if (isHeaderValue(v)) values.push(asBuffer(v))
    if (values.length > 0) out.set(name, values)
  }
  return out
}

/** The first value of a header: undefined when absent, null when it has no value. */
export function firstHeader(headers: KafkaHeaders, name: string): Buffer | null | undefined {
  return headers.get(name)?.[0]
}

/** Bytes a header takes on the wire (name and values), without the varint lengths. */
export function headerBytes(name: string, values: readonly (Buffer | null)[]): number {
  let n = 0
  for (const v of values) n += Buffer.byteLength(name) + (v?.length ?? 0)
  return n
}
