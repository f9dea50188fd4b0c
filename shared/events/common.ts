import { z } from 'zod'
import { isKnownReference, isoStandards, standardTitles } from '../iso/index.js'
import { epochMs } from './time.js'

/**
 * Building blocks shared by the event schemas. Every bound here exists because something downstream
 * would otherwise break or mislead: ClickHouse rejects a whole insert batch on one unstorable
 * DateTime64, unbounded strings bloat LowCardinality columns, and an unbounded count overflows sums.
 */

/** DateTime64(3) stores 1900..2299; nothing this product measures happened before 1970. */
const EARLIEST_MS = Date.UTC(1970, 0, 1)
const LATEST_MS = Date.UTC(2300, 0, 1) - 1

/** RFC 3339 with a mandatory zone: a zone-less time would be read in whatever zone the reader runs in. */
export const timestamp = z.iso
  .datetime({
    offset: true,
    // Only the format failure gets this wording; a missing or non-string value keeps "is required" etc.
    error: (issue) =>
      issue.code === 'invalid_format'
        ? 'must be an RFC 3339 timestamp with a time zone, e.g. "2025-03-01T09:30:00Z"'
        : undefined,
  })
  .refine((s) => {
    const at = epochMs(s)
    // NaN: malformed, which the format check above already reports; one issue per mistake is enough.
    return Number.isNaN(at) || (at >= EARLIEST_MS && at <= LATEST_MS)
  }, 'must lie between 1970-01-01 and 2299-12-31 (UTC)')

/**
 * C0 and C1 control characters, spelt as \x escapes rather than \p{Cc} so the exported JSON Schema
 * patterns work in every regex dialect producers use (ECMA-262, RE2, Python re, PCRE).
 */
export const CONTROL_CHARS = '\\x00-\\x1f\\x7f-\\x9f'

/** Ids end up in sorting keys and Kafka keys; whitespace in them is always a producer bug. */
export const identifier = z
  .string()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  .regex(new RegExp(`^[^\\s${CONTROL_CHARS}]+$`), 'must not contain spaces or control characters')

/** One-line human text (titles, owners, group names): printable, not blank. */
export function text(max: number) {
  return z
    .string()
    .max(max, `must be at most ${max} characters`)
    .regex(
      new RegExp(`^[^${CONTROL_CHARS}]*\\S[^${CONTROL_CHARS}]*$`),
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
