import { z } from 'zod'
import { isKnownReference, isoStandards, standardTitles } from '../iso/index.js'
import { epochMs } from './time.js'

/**
 * Building blocks shared by the event schemas. Every bound here exists because something downstream
 * would otherwise break or mislead: ClickHouse rejects a whole insert batch on one unstorable
 * DateTime64, unbounded strings bloat LowCardinality columns, and an unbounded count overflows sums.
 */

/**
 * The years a timestamp may name, as written. Nothing this product measures happened before 1970, and
 * DateTime64(3) stores up to 2299-12-31: with 2298 as the last year, every offset (±23:59) keeps the
 * UTC instant storable. The range is part of the pattern below, so the exported JSON Schema says exactly
 * what the validator enforces, and a year is never reinterpreted (`0070` is rejected, not read as 1970).
 */
export const TIMESTAMP_MIN_YEAR = 1970
export const TIMESTAMP_MAX_YEAR = 2298

/** Any year from 1970 to 2298, and the leap years among them (2000 is one; 2100 and 2200 are not). */
const YEAR = '(?:19[7-9]\\d|2[01]\\d\\d|22[0-8]\\d|229[0-8])'
const LEAP_YEAR =
  '(?:19(?:7[26]|8[048]|9[26])|20(?:[02468][048]|[13579][26])|2[12](?:0[48]|[2468][048]|[13579][26]))'
const MONTH_DAY =
  '(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\\d|30)|02-(?:0[1-9]|1\\d|2[0-8]))'
const TIME = '(?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(?:\\.\\d{1,9})?'
const ZONE = '(?:Z|[+-](?:[01]\\d|2[0-3]):[0-5]\\d)'

/**
 * RFC 3339 date-time with a mandatory zone (a zone-less time would be read in whatever zone the reader
 * runs in), upper-case `T` and `Z`, seconds required, at most nine fraction digits, a real calendar date
 * and a year from TIMESTAMP_MIN_YEAR to TIMESTAMP_MAX_YEAR. Only basic regex syntax, so producers'
 * validators (ECMA-262, RE2, Python re, PCRE) read the exported pattern the same way.
 */
export const TIMESTAMP_PATTERN = new RegExp(`^(?:${LEAP_YEAR}-02-29|${YEAR}-${MONTH_DAY})T${TIME}${ZONE}$`)

const TIMESTAMP_SHAPE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$/

/** Why a string is not a `timestamp`: the most specific of shape, year range and calendar. */
function timestampProblem(input: unknown): string {
  const example = 'e.g. "2025-03-01T09:30:00Z"'
  if (typeof input !== 'string' || !TIMESTAMP_SHAPE.test(input)) {
    return `must be an RFC 3339 timestamp with a time zone, ${example}`
  }
  const year = Number(input.slice(0, 4))
  if (year < TIMESTAMP_MIN_YEAR || year > TIMESTAMP_MAX_YEAR) {
    return `must lie between ${TIMESTAMP_MIN_YEAR}-01-01 and ${TIMESTAMP_MAX_YEAR}-12-31 (year ${input.slice(0, 4)} as written)`
  }
  return `must be a real date and time (${quote(input)} is not), ${example}`
}

export const timestamp = z
  .string()
  .regex(TIMESTAMP_PATTERN, { error: (issue) => timestampProblem(issue.input) })
  .meta({ format: 'date-time' })

/**
 * C0 and C1 control characters, spelt as \x escapes rather than \p{Cc} so the exported JSON Schema
 * patterns work in every regex dialect producers use (ECMA-262, RE2, Python re, PCRE).
 */
export const CONTROL_CHARS = '\\x00-\\x1f\\x7f-\\x9f'

/** A string without control characters, for free-form attributes that have no stricter shape. */
export function plain(max: number) {
  return z
    .string()
    .max(max, `must be at most ${max} characters`)
    .regex(new RegExp(`^[^${CONTROL_CHARS}]*$`), 'must not contain control characters')
}

/** Ids end up in sorting keys and Kafka keys; whitespace in them is always a producer bug. */
export const identifier = z
  .string()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  .regex(new RegExp(`^[^\\s${CONTROL_CHARS}]+$`), 'must not contain spaces or control characters')

/**
 * One-line human text (titles, owners, group names): printable, not blank. TAB, LF and CR are control
 * characters too: every text field of contract v1 is one line (dashboards, alerts and log lines show it
 * as such), so none of them may hold a line break.
 */
export function text(max: number) {
  return z
    .string()
    .max(max, `must be at most ${max} characters`)
    .regex(
      new RegExp(`^[^${CONTROL_CHARS}]*[^\\s${CONTROL_CHARS}][^${CONTROL_CHARS}]*$`),
      'must be non-blank text without control characters',
    )
}

/** A label used for grouping on dashboards (business unit). Absent means "not attributed": ''. */
export const businessUnit = z
  .string()
  .max(100, 'must be at most 100 characters')
  .regex(new RegExp(`^[^${CONTROL_CHARS}]*$`), 'must not contain control characters')
  .default('')
  .describe('Owning business unit, for per-unit KPIs; empty when not attributed.')

/** A non-negative integer count; `max` keeps sums over many events inside exact float range. */
export function count(max: number) {
  return z.number().int('must be an integer').min(0, 'must be >= 0').max(max, `must be <= ${max}`)
}

export const isoStandard = z.enum(isoStandards)

/** A known ISO reference in text form, "ISO27001:A.5.24" or "ISO42001:6.1.4"; see shared/iso. */
export const controlReference = z
  .string()
  .regex(/^(ISO27001|ISO42001):(A\.)?\d+(\.\d+)*$/, 'must look like "ISO27001:A.5.24" or "ISO42001:6.1.4"')
  .superRefine((ref, ctx) => {
    const colon = ref.indexOf(':')
    const standard = ref.slice(0, colon)
    const id = ref.slice(colon + 1)
    if (!isKnownReference(standard, id)) {
      ctx.addIssue({ code: 'custom', message: unknownReferenceMessage(standard as 'ISO27001', id) })
    }
  })
  .describe(
    'A clause or Annex A control as "<standard>:<id>": "ISO27001:A.5.24", "ISO27001:9.2.1", "ISO42001:A.6.2.6".',
  )

/** Names the bad id and, when it exists in the other standard, the likely mix-up. */
export function unknownReferenceMessage(standard: (typeof isoStandards)[number], id: string): string {
  const other = standard === 'ISO27001' ? 'ISO42001' : 'ISO27001'
  const hint = isKnownReference(other, id) ? ` (it is an ${standardTitles[other]} reference)` : ''
  return `${quote(id)} is not a clause or Annex A control of ${standardTitles[standard]}${hint}`
}

/** Quotes a producer-supplied value for a reason string, cut short so a reason stays one readable line. */
export function quote(value: unknown, max = 80): string {
  const s = typeof value === 'string' ? value : String(value)
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s)
}

/** Epoch ms of a timestamp that passed `timestamp`; NaN for anything else (refinements run defensively). */
export function ms(value: unknown): number {
  return typeof value === 'string' ? epochMs(value) : Number.NaN
}
