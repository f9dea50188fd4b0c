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

/**
 * What an alert job announces: a breach transition, or a step of the response loop on an open breach
 * (shared/alerts/response.ts): `acknowledged` (someone has it), `unacknowledged` (they handed it back:
 * nobody has it, the escalation resumes), `escalation` (a step of an escalation policy: nobody
 * acknowledged in time) and `reminder` (still unacknowledged after the last step).
 */
export const alertKindSchema = z.enum([
  ...transitionKindSchema.options,
  'acknowledged',
  'unacknowledged',
  'escalation',
  'reminder',
])
export type AlertKind = z.infer<typeof alertKindSchema>

/** Who has the breach and how far its escalation went, as known when the job was made. */
export const responseInfoSchema = z
  .object({
    acknowledged: z
      .object({ by: z.string().min(1), at: z.iso.datetime({ offset: true }), comment: z.string().optional() })
      .strict()
      .optional(),
    owner: z.string().min(1).optional(),
    /** escalation and reminder jobs: the policy, the step reached (1-based) of how many, the reminder number. */
    escalation: z
      .object({
        policy: z.string().min(1),
        step: z.number().int().min(1),
        steps: z.number().int().min(1),
        reminder: z.number().int().min(0),
      })
      .strict()
      .optional(),
    /** A job held by a silence and delivered when it expired. */
    releasedFromSilence: z.string().min(1).optional(),
  })
  .strict()
export type ResponseInfo = z.infer<typeof responseInfoSchema>

export const alertJobSchema = z
  .object({
    /** Deterministic id of this transition (also the BullMQ jobId, the webhook Idempotency-Key). */
    transitionId: z.string().min(1),
    /** Id of the breach episode this transition belongs to (fingerprint + start). */
    breachId: z.string().min(1),
    /** Stable hash of KPI id + scope labels; PagerDuty dedup_key, Alertmanager identity. */
    fingerprint: z.string().min(1),
    kind: alertKindSchema,
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
    /** Acknowledgement, owner, escalation step (optional: jobs without it stay valid). */
    response: responseInfoSchema.optional(),
    /**
     * The sinks this job goes to, instead of the routes: an escalation step's sinks, or, for an
     * acknowledgement, every sink that was told about the breach.
     */
    sinks: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict()

export type AlertJob = z.infer<typeof alertJobSchema>

export const ALERTS_QUEUE = 'aims-alerts'

/** BullMQ rejects ':' in custom ids; the transition id is made of safe characters only. */
export function alertJobId(transitionId: string): string {
  return transitionId.replace(/[^A-Za-z0-9_.-]/g, '_')
}
