import crypto from 'node:crypto'
import type { Severity } from '../alerts/alert-job.js'
import type { Transition } from './breach-state.js'
import type { EffectiveLifecycle } from './lifecycle.js'

/**
 * Staleness of one KPI series, as a pure state machine beside the value's breach lifecycle:
 *
 *   fresh ──no input for stale_after──► stale ──an input newer than stale_after ago──► fresh
 *
 * - The clock is the time the series' inputs last arrived (model KPIs: the event time of the model's
 *   latest evaluation in that environment), not the time it was last evaluated: re-evaluating old data
 *   does not make it fresh.
 * - Going stale is an alert of its own: a breach with its own fingerprint (`staleFingerprint`), fired at
 *   the exact deadline (input time + stale_after, also its start: replays derive the same ids), resolved
 *   when data returns. The value's breach is untouched: a firing breach stays firing while stale (missing
 *   evidence is not evidence of recovery), and stale is never ok.
 * - `stale_alert: false`: the series goes stale (its status) without an alert, and back without one.
 * - A series no longer watched (stale_after removed, or its scope superseded: an older model version)
 *   leaves a stale episode resolved.
 */

export type Freshness =
  | { status: 'fresh' }
  | {
      status: 'stale'
      /** The deadline that passed: when the series went stale (part of the stale breach's id). */
      since: Date
      severity: Severity
      /** Whether a stale alert was sent (and is open in the breach store): only then is one resolved. */
      alerted: boolean
    }

export const FRESH: Freshness = Object.freeze({ status: 'fresh' }) as Freshness

export type Staleness = Pick<
  EffectiveLifecycle,
  'staleAfter' | 'staleAfterMs' | 'staleSeverity' | 'staleAlert'
>

export interface FreshnessEvaluation {
  next: Freshness
  /** 0 or 1; each carries `stale`. */
  transitions: Transition[]
  /** When the series goes stale if no input arrives (undefined: stale already, or not watched). */
  deadline: number | undefined
}

/** The series' freshness at `at` (ms), its inputs having last arrived at `lastInputAt` (ms, null: never). */
export function evaluateFreshness(
  prev: Freshness | undefined,
  lastInputAt: number | null,
  at: number,
  st: Staleness,
): FreshnessEvaluation {
  const state = prev ?? FRESH
  const detail = (): NonNullable<Transition['stale']> => ({
    lastInputAt: lastInputAt === null ? null : new Date(lastInputAt),
    after: st.staleAfter ?? '',
  })
  const back = (): FreshnessEvaluation => ({
    next: FRESH,
    transitions:
      state.status === 'stale' && state.alerted
        ? [
            {
              kind: 'resolved',
              severity: state.severity,
              value: null,
              threshold: null,
              startedAt: state.since,
              at: new Date(Math.max(at, state.since.getTime())),
              stale: detail(),
            },
          ]
        : [],
    deadline: undefined,
  })
  if (st.staleAfterMs === null || lastInputAt === null) return back()
  const deadline = lastInputAt + st.staleAfterMs
  if (at < deadline) return { ...back(), deadline }
  if (state.status === 'stale') return { next: state, transitions: [], deadline: undefined }
  const since = new Date(deadline)
  return {
    next: { status: 'stale', since, severity: st.staleSeverity, alerted: st.staleAlert },
    transitions: !st.staleAlert
      ? []
      : [
          {
            kind: 'firing',
            severity: st.staleSeverity,
            value: null,
            threshold: null,
            startedAt: since,
            at: since,
            stale: detail(),
          },
        ],
    deadline: undefined,
  }
}

/** The fingerprint of a series' stale alert: apart from its value breach (both may be open at once). */
export function staleFingerprint(fp: string): string {
  return crypto.createHash('sha256').update(`${fp}\u0000stale`).digest('hex').slice(0, 32)
}
