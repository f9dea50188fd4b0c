import { z } from 'zod'

/**
 * The message between processor and alerter: one breach transition to notify. It carries everything a
 * sink needs to render and dedupe, so the alerter never reads ClickHouse to deliver.
 */

export const severitySchema = z.enum(['warning', 'critical'])
export type Severity = z.infer<typeof severitySchema>

/** firing: a breach starts; escalated: warning → critical; resolved: the condition cleared. */
export const transitionKindSchema = z.enum(['firing', 'escalated', 'resolved'])
export type TransitionKind = z.infer<typeof transitionKindSchema>

export const alertJobSchema = z
  .object({
    /** Deterministic id of this transition (also the BullMQ jobId, the webhook Idempotency-Key). */
    transitionId: z.string().min(1),
    /** Id of the breach episode this transition belongs to (fingerprint + start). */
    breachId: z.string().min(1),
    /** Stable hash of KPI id + scope labels; PagerDuty dedup_key, Alertmanager identity. */
    fingerprint: z.string().min(1),
    kind: transitionKindSchema,
    severity: severitySchema,
    previousSeverity: severitySchema.optional(),
    kpi: z.object({
      id: z.string(),
      title: z.string(),
      unit: z.string(),
      direction: z.enum(['higher_is_better', 'lower_is_better']),
      /** Catalog area (privacy, model, audit); optional, lets alert routes match by area. */
      area: z.string().min(1).optional(),
    }),
    scope: z.record(z.string(), z.string()),
    value: z.number().nullable(),
    /** The threshold crossed (for resolve: the one that had been crossed). */
    threshold: z.number().nullable(),
    /**
     * The sample behind `value` and its confidence interval, for values that have them (fairness KPIs).
     * Optional: jobs without it stay valid.
     */
    uncertainty: z
      .object({
        n: z.number().nullable(),
        ciLow: z.number().nullable(),
        ciHigh: z.number().nullable(),
      })
      .strict()
      .optional(),
    iso: z.object({ iso27001: z.array(z.string()), iso42001: z.array(z.string()) }),
    /** When the breach started firing (ISO-8601). */
    startsAt: z.iso.datetime({ offset: true }),
    /** When this transition happened (ISO-8601). */
    at: z.iso.datetime({ offset: true }),
    /**
     * Set on a stale alert (the series' inputs stopped arriving; no value crossed a threshold): when they
     * last came (null: never) and the interval they were expected within. Optional: other jobs omit it.
     */
    stale: z
      .object({ lastInputAt: z.iso.datetime({ offset: true }).nullable(), expectedWithin: z.string() })
      .strict()
      .optional(),
    summary: z.string(),
    description: z.string(),
    links: z.object({ review: z.string(), api: z.string() }),
  })
  .strict()

export type AlertJob = z.infer<typeof alertJobSchema>

export const ALERTS_QUEUE = 'aims-alerts'

/** BullMQ rejects ':' in custom ids; the transition id is made of safe characters only. */
export function alertJobId(transitionId: string): string {
  return transitionId.replace(/[^A-Za-z0-9_.-]/g, '_')
}
