import { Readable } from 'node:stream'
import type { ClickHouseClient } from '@clickhouse/client'

/**
 * Rows in ClickHouse's TabSeparated input format, for bulk inserts. ClickHouse parses it several times
 * faster than JSONEachRow (no field names to match, no JSON grammar), which made it the collector's insert
 * format: with JSONEachRow the server spent more CPU per row than the whole collector did.
 *
 * Values are written by their JavaScript type, which is what the row types of fact-rows.ts and
 * dead-letter.ts hold for each ClickHouse column type:
 *   string → String, LowCardinality(String), DateTime64 ('YYYY-MM-DD HH:MM:SS.mmm'), UInt64 given as text
 *   number → UInt*, Float64 (finite only)      boolean → Bool      null / undefined → NULL of a Nullable
 *   array  → Array(T)                           plain object → Map(String, T)
 * Strings are escaped as the format defines: backslash, tab, newline (and, for safety, CR and NUL) become
 * \\ \t \n \r \0; inside an array or map they are single-quoted with ' escaped as \'. Other characters,
 * any Unicode included, are written as they are (the body is UTF-8).
 */

export type TabSeparatedValue =
  | string
  | number
  | boolean
  | null
  | undefined
  | readonly TabSeparatedValue[]
  | { readonly [key: string]: TabSeparatedValue }

// The characters each context must escape: a field its delimiters and the escape character; a quoted
// string inside an array or map also its quote. Tested first, as almost no string has any.
const FIELD_SPECIAL = /[\\\t\n\r\0]/
const FIELD_SPECIALS = /[\\\t\n\r\0]/g
const QUOTED_SPECIAL = /[\\\t\n\r\0']/
const QUOTED_SPECIALS = /[\\\t\n\r\0']/g
const ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
  '\0': '\\0',
  "'": "\\'",
}
const escapeChar = (c: string) => ESCAPES[c]!

/** A string field. */
function escaped(s: string): string {
  return FIELD_SPECIAL.test(s) ? s.replace(FIELD_SPECIALS, escapeChar) : s
}

/** A string inside an array or map: quoted, so it may hold the separators of the enclosing value. */
function quoted(s: string): string {
  return `'${QUOTED_SPECIAL.test(s) ? s.replace(QUOTED_SPECIALS, escapeChar) : s}'`
}

function number(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`TabSeparated: ${n} is not a storable number`)
  return String(n)
}

/** An element of an array or map value. */
function element(value: TabSeparatedValue): string {
  if (typeof value === 'string') return quoted(value)
  if (value === null || value === undefined) return 'NULL'
  return field(value)
}

function field(value: TabSeparatedValue): string {
  switch (typeof value) {
    case 'string':
      return escaped(value)
    case 'number':
      return number(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'undefined':
      return '\\N'
    default: {
      if (value === null) return '\\N'
      if (Array.isArray(value)) {
        let out = '['
        for (let i = 0; i < value.length; i++) out += i === 0 ? element(value[i]) : `,${element(value[i])}`
        return `${out}]`
      }
      const entries: string[] = []
      for (const [key, item] of Object.entries(value)) entries.push(`${quoted(key)}:${element(item)}`)
      return `{${entries.join(',')}}`
    }
  }
}

/**
 * Rows of text are turned into bytes in pieces this size, so a batch is held off the JS heap; small, so
 * the text of few rows is alive on the heap at any time.
 */
const CHUNK_CHARS = 32 * 1024

/**
 * Collects rows of one table as TabSeparated bytes. `push` encodes a row right away, so a batch in
 * memory is a few Buffers rather than many row objects the garbage collector would have to keep moving.
 */
export class TabSeparatedRows<Row extends object> {
  private readonly buffers: Buffer[] = []
  private pending = ''
  /** Rows pushed so far. */
  rows = 0

  constructor(readonly columns: readonly (keyof Row & string)[]) {}

  push(row: Row): void {
    let line = ''
    for (let i = 0; i < this.columns.length; i++) {
      const value = row[this.columns[i]!] as TabSeparatedValue
      line += i === 0 ? field(value) : `\t${field(value)}`
    }
    this.pending += `${line}\n`
    this.rows++
    if (this.pending.length >= CHUNK_CHARS) this.flush()
  }

  private flush(): void {
    if (this.pending === '') return
    this.buffers.push(Buffer.from(this.pending, 'utf8'))
    this.pending = ''
  }

  /** The encoded rows; the same bytes on every call, so a retried insert sends them again. */
  bytes(): readonly Buffer[] {
    this.flush()
    return this.buffers
  }

  /** A fresh byte stream of the rows, the form `client.insert` takes for a raw format. */
  stream(): Readable {
    return Readable.from(this.bytes(), { objectMode: false })
  }
}

/** Inserts the rows into `table` (their columns only, so the others take their DEFAULTs). */
export async function insertTabSeparated(
  client: ClickHouseClient,
  table: string,
  rows: { readonly rows: number; readonly columns: readonly string[]; stream(): Readable },
): Promise<void> {
  if (rows.rows === 0) return
  await client.insert({
    table,
    columns: rows.columns as [string, ...string[]],
    format: 'TabSeparated',
    values: rows.stream(),
  })
}
