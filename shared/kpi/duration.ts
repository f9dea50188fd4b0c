import { z } from 'zod'

/**
 * Durations as written in the catalog and the config file: one or more `<integer><unit>` parts, unit one
 * of ms, s, m, h, d, e.g. `0s`, `5m`, `1h30m`, `30d`. Same spelling as Prometheus' `for:`.
 */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const WHOLE = /^(?:\d+(?:ms|s|m|h|d))+$/
const PART = /(\d+)(ms|s|m|h|d)/g

export function isDuration(text: string): boolean {
  return WHOLE.test(text)
}

/** Milliseconds of a duration such as `1h30m`; throws on anything else. */
export function parseDuration(text: string): number {
  if (!WHOLE.test(text)) throw new Error(`"${text}" is not a duration like 30s, 5m, 1h30m, 30d`)
  let ms = 0
  for (const m of text.matchAll(PART)) ms += Number(m[1]) * UNIT_MS[m[2]!]!
  return ms
}

export const durationSchema = z
  .string()
  .refine(isDuration, { message: 'expected a duration like 30s, 5m, 1h30m or 30d' })
