/**
 * RFC 3339 timestamp arithmetic without `Date` string parsing. The collector converts several
 * timestamps per event (validation ranges, ordering rules, DateTime64 columns), and V8's Date string
 * parser dominated its profile; fixed-position digit reads plus Date.UTC are an order of magnitude faster.
 * Input is the shape the `timestamp` schema admits: YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM).
 */

function digits(s: string, start: number, count: number): number {
  let n = 0
  for (let i = start; i < start + count; i++) {
    const d = s.charCodeAt(i) - 48
    if (d < 0 || d > 9) return Number.NaN
    n = n * 10 + d
  }
  return n
}

/** Index just past the fraction digits that start after position 19 (19 when there is no fraction). */
function fractionEnd(s: string): number {
  if (s.charCodeAt(19) !== 46 /* . */) return 19
  let end = 20
  while (end < s.length) {
    const d = s.charCodeAt(end) - 48
    if (d < 0 || d > 9) break
    end++
  }
  return end
}

/** The milliseconds of a fraction ending at `end`: storage keeps milliseconds, finer digits are truncated. */
function fractionMillis(s: string, end: number): number {
  let millis = 0
  for (let i = 20; i < 23; i++) millis = millis * 10 + (i < end ? s.charCodeAt(i) - 48 : 0)
  return millis
}

/** A 400-year Gregorian cycle is 146097 days: this is one year of it, in milliseconds. */
const GREGORIAN_CYCLE_YEAR_MS = (146_097 * 86_400_000) / 400

/** Epoch milliseconds of an RFC 3339 timestamp; NaN when it is not in the admitted shape. */
export function epochMs(s: string): number {
  if (s.length < 20 || s.charCodeAt(10) !== 84 /* T */) return Number.NaN
  const end = fractionEnd(s)
  const year = digits(s, 0, 4)
  // Date.UTC reads years 0-99 as 1900-1999; shifting by a 400-year Gregorian cycle (exactly 146097 days)
  // keeps the year as written. The `timestamp` schema admits no such year; this keeps epochMs honest.
  const shift = year < 100 ? 400 : 0
  const base =
    Date.UTC(
      year + shift,
      digits(s, 5, 2) - 1,
      digits(s, 8, 2),
      digits(s, 11, 2),
      digits(s, 14, 2),
      digits(s, 17, 2),
      fractionMillis(s, end),
    ) -
    shift * GREGORIAN_CYCLE_YEAR_MS
  const zone = s.charCodeAt(end)
  if (zone === 90 /* Z */ && end === s.length - 1) return base
  if ((zone === 43 /* + */ || zone === 45) /* - */ && end === s.length - 6) {
    const offsetMinutes = digits(s, end + 1, 2) * 60 + digits(s, end + 4, 2)
    return base - (zone === 43 ? 1 : -1) * offsetMinutes * 60_000
  }
  return Number.NaN
}

/**
 * 'YYYY-MM-DD HH:MM:SS.mmm' in UTC, the form ClickHouse's default DateTime64 input parsing reads.
 * UTC input (the common case) is rearranged as text; an offset goes through epoch milliseconds.
 */
export function toClickHouseDateTime(s: string): string {
  const end = fractionEnd(s)
  if (s.charCodeAt(end) === 90 /* Z */) {
    const millis = fractionMillis(s, end)
    return `${s.slice(0, 10)} ${s.slice(11, 19)}.${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}`
  }
  const iso = new Date(epochMs(s)).toISOString()
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`
}
