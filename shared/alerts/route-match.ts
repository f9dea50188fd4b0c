import { z } from 'zod'
import { type AlertJob, severitySchema } from './alert-job.js'

/**
 * Which alerts a route or an escalation policy takes (its own module so that routing.ts and
 * escalation.ts both build on it without importing each other).
 */

const oneOrMany = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)])

export const routeMatchSchema = z
  .object({
    /** Severities this route takes. Default any. */
    severity: z.array(severitySchema).min(1).optional(),
    /** KPI ids this route takes. Default any. */
    kpi: z.array(z.string().min(1)).min(1).optional(),
    /** Catalog area(s) (privacy, model, audit): `kpi.area`, else the prefix of the KPI id. Default any. */
    area: oneOrMany.optional(),
    /** Scope labels: each given label must equal the value (or one of the values). Default any. */
    scope: z.record(z.string().min(1), oneOrMany).optional(),
    /** `stale`: only stale alerts (inputs stopped arriving); `value`: only thresholds crossed. Default any. */
    condition: z.enum(['value', 'stale']).optional(),
  })
  .strict()
export type RouteMatch = z.infer<typeof routeMatchSchema>

const asList = (v: string | string[]) => (Array.isArray(v) ? v : [v])

/** The KPI's catalog area: `kpi.area`, else the prefix of a catalog id (`<area>.<name>`). */
export function alertArea(job: AlertJob): string | undefined {
  if (job.kpi.area) return job.kpi.area
  const dot = job.kpi.id.indexOf('.')
  return dot > 0 ? job.kpi.id.slice(0, dot) : undefined
}

export function routeMatches(job: AlertJob, match: RouteMatch | undefined): boolean {
  if (!match) return true
  if (match.severity && !match.severity.includes(job.severity)) return false
  if (match.kpi && !match.kpi.includes(job.kpi.id)) return false
  if (match.condition !== undefined && match.condition !== (job.stale ? 'stale' : 'value')) return false
  if (match.area !== undefined) {
    const area = alertArea(job)
    if (area === undefined || !asList(match.area).includes(area)) return false
  }
  for (const [label, want] of Object.entries(match.scope ?? {})) {
    const have = job.scope[label]
    if (have === undefined || !asList(want).includes(have)) return false
  }
  return true
}
