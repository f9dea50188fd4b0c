import type { AlertJob } from '../../../shared/alerts/alert-job.js'
import type { Logger } from '../../../shared/logger.js'

/**
 * The one interface every sink implements (Alertmanager's `notify.Notifier`): send one alert
 * transition, report whether a failure is worth retrying. A sender never loops or retries; the retry,
 * backoff and rate-limit policy lives once, in the delivery engine.
 */

/** Why a delivery failed; the `reason` label of `aims_alert_deliveries_total`. */
export type FailureReason =
  | 'client_error'
  | 'server_error'
  | 'rate_limited'
  | 'auth_error'
  | 'network_error'
  | 'timeout'
  /** The sender threw: a bug, not a remote failure. Retried. */
  | 'internal_error'

export type DeliveryResult =
  | { outcome: 'ok'; status?: number }
  | {
      outcome: 'retryable'
      reason: FailureReason
      /** Human-readable, secret-free. */
      detail: string
      status?: number
      /** The remote asked to wait this long (Retry-After). */
      retryAfterMs?: number
    }
  | { outcome: 'permanent'; reason: FailureReason; detail: string; status?: number }

export const ok = (status?: number): DeliveryResult =>
  status === undefined ? { outcome: 'ok' } : { outcome: 'ok', status }

export function retryable(
  reason: FailureReason,
  detail: string,
  extra: { status?: number; retryAfterMs?: number } = {},
): DeliveryResult {
  return { outcome: 'retryable', reason, detail, ...extra }
}

export function permanent(
  reason: FailureReason,
  detail: string,
  extra: { status?: number } = {},
): DeliveryResult {
  return { outcome: 'permanent', reason, detail, ...extra }
}

export interface SendContext {
  /** Attempt number of this job (1 on the first delivery, counting stalled restarts). */
  attempt: number
  log: Logger
  /** Aborted when the worker shuts down hard. */
  signal?: AbortSignal
}

export type SinkType = 'alertmanager' | 'pagerduty' | 'slack' | 'webhook' | 'console'

export interface AlertSender {
  readonly name: string
  readonly type: SinkType
  send(job: AlertJob, ctx: SendContext): Promise<DeliveryResult>
}
