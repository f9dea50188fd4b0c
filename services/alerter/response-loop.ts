import type { AlertJob } from '../../shared/alerts/alert-job.js'
import { advancePlan, dueNotice, escalationTransitionId } from '../../shared/alerts/escalation.js'
import { type AlertQueue, enqueueAlert } from '../../shared/alerts/queue.js'
import type { ResponseState } from '../../shared/alerts/response.js'
import type { AlertingConfig } from '../../shared/alerts/routing.js'
import { silenceEnd, silencesFor } from '../../shared/alerts/silence.js'
import type { Logger } from '../../shared/logger.js'

/**
 * The timed half of the response loop, run by every alerter replica on a short interval (and by tests
 * with their own clock): escalation steps and reminders that came due, and held alerts whose silence
 * ended. Each is enqueued with a deterministic job id before the shared state moves on by
 * compare-and-set, so replicas and restarts deliver each once (see ResponseState).
 */

export interface ResponseLoopDeps {
  state: ResponseState
  routing: AlertingConfig
  queue: AlertQueue
  clock: () => Date
  log: Logger
}

export interface TickResult {
  /** Escalation steps and reminders enqueued by this call. */
  escalations: number
  /** Held alerts released by this call. */
  releases: number
}

/** Ended silences stay in Redis this long (the API lists them from ClickHouse afterwards too). */
const KEEP_ENDED_SILENCES_MS = 7 * 24 * 3600_000

export class ResponseLoop {
  constructor(private readonly deps: ResponseLoopDeps) {}

  async tick(): Promise<TickResult> {
    const { state, routing, queue, log } = this.deps
    const now = this.deps.clock().getTime()
    const silences = await state.silences()
    let escalations = 0
    let releases = 0

    for (const { breachId, due } of await state.dueEscalations(now)) {
      const r = await state.get(breachId)
      const policy = r.plan ? routing.escalation?.find((p) => p.name === r.plan!.policy) : undefined
      if (!r.plan || !r.base || !policy || r.ack || r.resolvedAt !== undefined) {
        // Acknowledged, resolved, or its policy left the config: the breach leaves the schedule.
        await state.advance(breachId, due, undefined)
        continue
      }
      const plan = { ...r.plan, due }
      const [silence] = silencesFor(silences, r.base, now)
      if (silence) {
        await state.advance(breachId, due, { ...plan, due: silenceEnd(silence) })
        continue
      }
      const notice = dueNotice(policy, plan)
      if (!notice) {
        await state.advance(breachId, due, undefined)
        continue
      }
      const { previousSeverity: _previous, ...base } = r.base
      const job: AlertJob = {
        ...base,
        kind: notice.kind,
        transitionId: escalationTransitionId(breachId, notice),
        at: new Date(due).toISOString(),
        response: {
          ...(r.owner ? { owner: r.owner } : {}),
          escalation: {
            policy: policy.name,
            step: notice.step,
            steps: policy.steps.length,
            reminder: notice.reminder,
          },
        },
        sinks: notice.sinks,
      }
      await enqueueAlert(queue, job)
      const next = advancePlan(policy, plan)
      if (await state.advance(breachId, due, dueNotice(policy, next) ? next : undefined, next)) {
        escalations++
        log.info(
          { breachId, kind: notice.kind, step: notice.step, reminder: notice.reminder },
          'breach not acknowledged: escalated',
        )
      }
    }

    for (const breachId of await state.heldBreaches()) {
      const r = await state.get(breachId)
      if (!r.held) {
        await state.forgetHeld(breachId)
        continue
      }
      if (r.resolvedAt !== undefined) {
        await state.unhold(breachId, r.held.heldAt)
        continue
      }
      if (silencesFor(silences, r.held.job, now).length > 0) continue
      const held = r.held.job
      const job: AlertJob = {
        ...held,
        transitionId: `${held.transitionId}-released-${r.held.heldAt}`,
        response: {
          ...held.response,
          ...(r.ack ? { acknowledged: r.ack } : {}),
          ...(r.owner ? { owner: r.owner } : {}),
          releasedFromSilence: r.held.silenceId || 'unknown',
        },
      }
      await enqueueAlert(queue, job)
      if (await state.unhold(breachId, r.held.heldAt)) {
        releases++
        log.info({ breachId, silence: r.held.silenceId }, 'silence ended: held alert released')
      }
    }

    await state.pruneSilences(now, KEEP_ENDED_SILENCES_MS, silenceEnd)
    return { escalations, releases }
  }
}
