import { z } from 'zod'
import { CONTROL_CHARS } from '../events/common.js'
import type { AlertJob } from './alert-job.js'

/**
 * A silence (maintenance window): alerts of one KPI and/or scope labels are not delivered between
 * `startsAt` and `endsAt`. The breach is still evaluated and recorded; only delivery is held, and when
 * the silence ends (or is expired early) a breach that is still firing is delivered once.
 */

const oneLine = (max: number) =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .regex(new RegExp(`^[^${CONTROL_CHARS}]*$`), 'must not contain control characters')

export const silenceLabelSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'label names are letters, digits and _ (max 63)')

export const silenceSchema = z
  .object({
    id: z.string().min(1),
    /** KPI id the silence covers; null: every KPI whose scope has the labels. */
    kpi: z.string().nullable(),
    /** Scope labels that must all be equal. */
    scope: z.record(silenceLabelSchema, oneLine(200)),
    startsAt: z.iso.datetime({ offset: true }),
    endsAt: z.iso.datetime({ offset: true }),
    author: z.string().min(1),
    reason: oneLine(500),
    createdAt: z.iso.datetime({ offset: true }),
    /** Set when someone ended it early. */
    expiredAt: z.iso.datetime({ offset: true }).optional(),
    expiredBy: z.string().optional(),
  })
  .strict()
export type Silence = z.infer<typeof silenceSchema>

export { oneLine as silenceTextSchema }

/** When the silence stops holding alerts (ms): its end, or when it was expired early. */
export function silenceEnd(s: Silence): number {
  const end = Date.parse(s.endsAt)
  return s.expiredAt === undefined ? end : Math.min(end, Date.parse(s.expiredAt))
}

export function silenceActive(s: Silence, now: number): boolean {
  return Date.parse(s.startsAt) <= now && now < silenceEnd(s)
}

export function silenceCovers(s: Silence, job: Pick<AlertJob, 'kpi' | 'scope'>): boolean {
  if (s.kpi !== null && s.kpi !== job.kpi.id) return false
  return Object.entries(s.scope).every(([k, v]) => job.scope[k] === v)
}

/** The active silences that hold this alert at `now`, the one ending last first. */
export function silencesFor(
  silences: readonly Silence[],
  job: Pick<AlertJob, 'kpi' | 'scope'>,
  now: number,
): Silence[] {
  return silences
    .filter((s) => silenceActive(s, now) && silenceCovers(s, job))
    .sort((a, b) => silenceEnd(b) - silenceEnd(a))
}
