import { epochMs } from '../../shared/events/index.js'

/**
 * Moves the timestamps of an event file by one amount, so that its latest event happened just now:
 * example files keep their realistic lifecycles (an incident detected, contained two hours later,
 * notified the next day) but land inside today's KPI windows instead of the day they were written.
 *
 * What counts as a timestamp: any string in the RFC 3339 shape the contracts admit (envelope `time`,
 * `detectedAt`, `window.end`, …); for OCSF, also the numbers under `time`, `*_time` (OCSF's timestamp_t,
 * epoch milliseconds) and `*At` (the `unmapped.aims` extension). A string keeps its own UTC offset and
 * fraction digits: `2025-03-03T10:12:00+01:00` stays a `+01:00` time.
 */

export type EventFormat = 'native' | 'ocsf'

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

/** The event time of one parsed line (epoch ms), if it has a valid one. */
export function eventTime(event: unknown, format: EventFormat): number | undefined {
  if (typeof event !== 'object' || event === null) return undefined
  const time = (event as { time?: unknown }).time
  if (format === 'ocsf') return typeof time === 'number' && Number.isFinite(time) ? time : undefined
  if (typeof time !== 'string') return undefined
  const ms = epochMs(time)
  return Number.isNaN(ms) ? undefined : ms
}

/**
 * The shift that moves the latest event time of `events` to `now`, in whole seconds (so fraction
 * digits stay as written) and never past `now`. Undefined when no event has a time.
 */
export function shiftToNow(events: readonly unknown[], format: EventFormat, now: number): number | undefined {
  let latest: number | undefined
  for (const e of events) {
    const t = eventTime(e, format)
    if (t !== undefined && (latest === undefined || t > latest)) latest = t
  }
  if (latest === undefined) return undefined
  return Math.floor((now - latest) / 1000) * 1000
}

/** One RFC 3339 text moved by `deltaMs` (whole seconds), in its own offset. */
export function shiftTimestamp(text: string, deltaMs: number): string {
  const m = RFC3339.exec(text)
  const ms = epochMs(text)
  if (m === null || Number.isNaN(ms)) return text
  const [, , fraction = '', zone] = m
  const offsetMinutes =
    zone === 'Z'
      ? 0
      : (zone!.startsWith('-') ? -1 : 1) * (Number(zone!.slice(1, 3)) * 60 + Number(zone!.slice(4, 6)))
  // Whole seconds of the shifted instant, written as wall-clock time in the original offset.
  const seconds = Math.floor(ms / 1000) * 1000 + deltaMs
  const local = new Date(seconds + offsetMinutes * 60_000).toISOString().slice(0, 19)
  return `${local}${fraction}${zone}`
}

/** A deep copy of `value` with every timestamp moved by `deltaMs`. */
export function shiftEvent(value: unknown, deltaMs: number, format: EventFormat, key = ''): unknown {
  if (typeof value === 'string') return shiftTimestamp(value, deltaMs)
  if (typeof value === 'number') {
    const isTime = format === 'ocsf' && (key === 'time' || key.endsWith('_time') || /[a-z]At$/.test(key))
    return isTime && Number.isInteger(value) ? value + deltaMs : value
  }
  if (Array.isArray(value)) return value.map((v) => shiftEvent(v, deltaMs, format, key))
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = shiftEvent(v, deltaMs, format, k)
    return out
  }
  return value
}

/**
 * The lines of a file with every timestamp moved so that the latest event time is `now`. Lines that are
 * not JSON stay as they are (the caller reports them as invalid, with their line numbers).
 */
export function shiftLinesToNow(lines: readonly string[], format: EventFormat, now: number): string[] {
  const parsed = lines.map((line) => {
    try {
      return { ok: true as const, value: JSON.parse(line) as unknown }
    } catch {
      return { ok: false as const }
    }
  })
  const delta = shiftToNow(
    parsed.flatMap((p) => (p.ok ? [p.value] : [])),
    format,
    now,
  )
  if (delta === undefined) return [...lines]
  return lines.map((line, i) => {
    const p = parsed[i]!
    return p.ok && typeof p.value === 'object' && p.value !== null
      ? JSON.stringify(shiftEvent(p.value, delta, format))
      : line
  })
}
