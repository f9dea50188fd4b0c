import { z } from 'zod'

/**
 * A review period: a calendar quarter (`2026-Q3`) or month (`2026-09`), in UTC. `start` is included and
 * `end` excluded; figures "at the end" are evaluated at `end` (the first instant after the period).
 */
export interface Period {
  label: string
  start: Date
  end: Date
}

const QUARTER = /^(\d{4})-Q([1-4])$/
const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/

export const periodLabelSchema = z
  .string()
  .regex(/^\d{4}-(Q[1-4]|0[1-9]|1[0-2])$/, 'expected a quarter like 2026-Q3 or a month like 2026-09')

export function parsePeriod(label: string): Period {
  const quarter = QUARTER.exec(label)
  if (quarter) {
    const year = Number(quarter[1])
    const firstMonth = (Number(quarter[2]) - 1) * 3
    return { label, start: utc(year, firstMonth), end: utc(year, firstMonth + 3) }
  }
  const month = MONTH.exec(label)
  if (month) {
    const year = Number(month[1])
    const m = Number(month[2]) - 1
    return { label, start: utc(year, m), end: utc(year, m + 1) }
  }
  throw new Error(`period "${label}": expected a quarter like 2026-Q3 or a month like 2026-09`)
}

/** The months a period spans (one for a month, three for a quarter), for trends month by month. */
export function monthsOf(period: Period): Period[] {
  const months: Period[] = []
  for (let d = period.start; d < period.end; ) {
    const next = utc(d.getUTCFullYear(), d.getUTCMonth() + 1)
    months.push({ label: d.toISOString().slice(0, 7), start: d, end: next })
    d = next
  }
  return months
}

const utc = (year: number, month: number) => new Date(Date.UTC(year, month, 1))
