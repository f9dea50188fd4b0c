import type { AlertJob } from '../../shared/alerts/alert-job.js'
import { policyFor, startPlan } from '../../shared/alerts/escalation.js'
import type { ResponseState } from '../../shared/alerts/response.js'
import { type AlertingConfig, selectSinks } from '../../shared/alerts/routing.js'
import { silencesFor } from '../../shared/alerts/silence.js'

/**
 * What the response loop says about one alert job before it is delivered:
 * - firing / escalated: held when an active silence covers it (the breach is recorded, delivery waits for
 *   the silence to end); otherwise delivered, its sinks remembered, and its escalation policy started;
 * - acknowledged: delivered to every sink that was told about the breach (none told: nothing to send);
 * - unacknowledged: the same, unless the breach has resolved meanwhile;
 * - escalation / reminder: dropped when the breach was acknowledged or resolved since it was enqueued;
 * - resolved: ends the escalation; a breach whose firing a silence held (nobody was told) is not
 *   announced as resolved either.
 */

export interface ResponseGateDeps {
  state: ResponseState
  routing: AlertingConfig
  clock: () => Date
}

export type Gate =
  | { deliver: true; sinks: string[] }
  | { deliver: false; reason: 'silenced' | 'never_notified' | 'acknowledged' | 'resolved' }

export async function gateAlert(alert: AlertJob, deps: ResponseGateDeps): Promise<Gate> {
  const { state, routing } = deps
  const now = deps.clock().getTime()
  const routed = () => alert.sinks ?? selectSinks(alert, routing)
  switch (alert.kind) {
    case 'firing':
    case 'escalated': {
      const [silence] = silencesFor(await state.silences(), alert, now)
      if (silence) {
        await state.hold(alert, now, silence.id)
        return { deliver: false, reason: 'silenced' }
      }
      const sinks = routed()
      await state.addSinks(alert.breachId, sinks)
      const policy = policyFor(alert, routing.escalation)
      if (policy) {
        // A job a silence held counts from its release: nobody could acknowledge what nobody was told.
        const anchor = alert.response?.releasedFromSilence ? now : Date.parse(alert.at)
        await state.startEscalation(alert, startPlan(policy, anchor))
      }
      return { deliver: true, sinks }
    }
    case 'acknowledged':
    case 'unacknowledged': {
      const r = await state.get(alert.breachId)
      if (alert.kind === 'unacknowledged' && r.resolvedAt !== undefined)
        return { deliver: false, reason: 'resolved' }
      const sinks = alert.sinks ?? r.sinks
      return sinks.length > 0 ? { deliver: true, sinks } : { deliver: false, reason: 'never_notified' }
    }
    case 'escalation':
    case 'reminder': {
      const r = await state.get(alert.breachId)
      if (r.resolvedAt !== undefined) return { deliver: false, reason: 'resolved' }
      if (r.ack) return { deliver: false, reason: 'acknowledged' }
      const sinks = routed()
      await state.addSinks(alert.breachId, sinks)
      return { deliver: true, sinks }
    }
    case 'resolved': {
      await state.markResolved(alert.breachId, Date.parse(alert.at))
      const r = await state.get(alert.breachId)
      if (r.held) await state.unhold(alert.breachId, r.held.heldAt)
      if (r.held && r.sinks.length === 0) return { deliver: false, reason: 'never_notified' }
      return { deliver: true, sinks: routed() }
    }
    default: {
      const never: never = alert.kind
      throw new Error(`unknown alert kind ${String(never)}`)
    }
  }
}
