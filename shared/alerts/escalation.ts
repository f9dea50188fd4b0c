import { z } from 'zod'
import { durationSchema, isDuration, parseDuration } from '../kpi/duration.js'
import type { AlertJob } from './alert-job.js'
import { routeMatches, routeMatchSchema } from './route-match.js'
import { sinkNameSchema } from './sink-config.js'

/**
 * Escalation policies (`alerting.escalation`): while a firing breach stays unacknowledged, each step
 * tells more sinks, then reminders repeat to the last step's sinks. The first policy that matches the
 * breach applies. Each step and each reminder is its own alert job with an id derived from the breach
 * (`<breachId>-escalation-<step>`, `<breachId>-reminder-<n>`), so it is delivered once however many
 * alerter replicas or restarts look at it.
 *
 * ```yaml
 * alerting:
 *   escalation:
 *     - name: critical-unacknowledged
 *       match: { severity: [critical] }
 *       steps:
 *         - { after: 15m, sinks: [security-lead] }   # 15 min after firing without acknowledgement
 *         - { after: 30m, sinks: [ciso] }            # 30 min after the previous step
 *       repeat: 1h                                   # then every hour to the last step's sinks
 *       maxReminders: 12
 * ```
 */

export const escalationStepSchema = z
  .object({
    /** Time without acknowledgement since the previous step (the first step: since the breach fired). */
    after: durationSchema,
    /** Sinks (names under `alerting.sinks`) told at this step. */
    sinks: z.array(sinkNameSchema).min(1, 'must name at least one sink'),
  })
  .strict()

export const escalationPolicySchema = z
  .object({
    /** Shown in alerts and on the review page. */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'letters, digits, _ . - (max 63)'),
    /** Which breaches (severity, KPI, area, scope labels) this policy takes. Omitted: every breach. */
    match: routeMatchSchema.optional(),
    steps: z.array(escalationStepSchema).min(1, 'must have at least one step'),
    /** After the last step, remind its sinks at this interval while unacknowledged. Default: no reminders. */
    repeat: durationSchema.optional(),
    /** Most reminders per breach. Default: unlimited (until acknowledged or resolved). */
    maxReminders: z.number().int().min(1).optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    // Runs beside the field checks: a malformed duration is reported there, not parsed here.
    const zero = (d: string) => isDuration(d) && parseDuration(d) <= 0
    p.steps.forEach((s, i) => {
      if (zero(s.after))
        ctx.addIssue({ code: 'custom', path: ['steps', i, 'after'], message: 'must be longer than 0s' })
    })
    if (p.repeat !== undefined && zero(p.repeat))
      ctx.addIssue({ code: 'custom', path: ['repeat'], message: 'must be longer than 0s' })
    if (p.maxReminders !== undefined && p.repeat === undefined)
      ctx.addIssue({ code: 'custom', path: ['maxReminders'], message: 'needs `repeat`' })
  })

export const escalationPoliciesSchema = z.array(escalationPolicySchema)
export type EscalationPolicy = z.infer<typeof escalationPolicySchema>

/** The policy that applies to a breach (its firing or escalated job): the first that matches. */
export function policyFor(
  job: AlertJob,
  policies: readonly EscalationPolicy[] | undefined,
): EscalationPolicy | undefined {
  return policies?.find((p) => routeMatches(job, p.match))
}

/** Where a breach's escalation stands: what has been sent, and when the next one is due (ms). */
export interface EscalationPlan {
  policy: string
  stepsDone: number
  remindersDone: number
  due: number
}

/** The plan of a breach that starts to be watched at `anchor` (ms): the first step is due after its `after`. */
export function startPlan(policy: EscalationPolicy, anchor: number): EscalationPlan {
  return {
    policy: policy.name,
    stepsDone: 0,
    remindersDone: 0,
    due: anchor + parseDuration(policy.steps[0]!.after),
  }
}

/** What is due at `plan.due`: a step, or a reminder to the last step's sinks; undefined when nothing is left. */
export function dueNotice(
  policy: EscalationPolicy,
  plan: EscalationPlan,
): { kind: 'escalation' | 'reminder'; step: number; reminder: number; sinks: string[] } | undefined {
  if (plan.stepsDone < policy.steps.length) {
    const step = plan.stepsDone + 1
    return { kind: 'escalation', step, reminder: 0, sinks: [...policy.steps[step - 1]!.sinks] }
  }
  if (policy.repeat === undefined) return undefined
  if (policy.maxReminders !== undefined && plan.remindersDone >= policy.maxReminders) return undefined
  const last = policy.steps[policy.steps.length - 1]!
  return {
    kind: 'reminder',
    step: policy.steps.length,
    reminder: plan.remindersDone + 1,
    sinks: [...last.sinks],
  }
}

/**
 * The plan after the notice due at `plan.due` was sent (counts moved on, `due` the next notice's time);
 * `dueNotice` of it is undefined when the policy has nothing more to send.
 */
export function advancePlan(policy: EscalationPolicy, plan: EscalationPlan): EscalationPlan {
  const sent = dueNotice(policy, plan)
  const next: EscalationPlan =
    sent?.kind === 'escalation'
      ? { ...plan, stepsDone: plan.stepsDone + 1 }
      : { ...plan, remindersDone: plan.remindersDone + (sent ? 1 : 0) }
  const following = policy.steps[next.stepsDone]
  const wait = following ? parseDuration(following.after) : policy.repeat ? parseDuration(policy.repeat) : 0
  return { ...next, due: plan.due + wait }
}

/** Deterministic id of a step or reminder of a breach (its alert job's transition id). */
export function escalationTransitionId(
  breachId: string,
  notice: { kind: 'escalation' | 'reminder'; step: number; reminder: number },
): string {
  return notice.kind === 'escalation'
    ? `${breachId}-escalation-${notice.step}`
    : `${breachId}-reminder-${notice.reminder}`
}
