import { DelayedError, type Job, UnrecoverableError } from 'bullmq'
import { type AlertJob, alertJobSchema } from '../../shared/alerts/alert-job.js'
import type { AlertingConfig } from '../../shared/alerts/routing.js'
import { selectSinks } from '../../shared/alerts/routing.js'
import { errorMessage } from '../../shared/errors.js'
import type { Logger } from '../../shared/logger.js'
import type { DeliveredStore } from './delivered-store.js'
import type { DeliveryLog, DeliveryRow } from './delivery-log.js'
import type { AlerterMetrics } from './metrics.js'
import type { SinkRateLimiter } from './rate-limiter.js'
import { type Gate, gateAlert, type ResponseGateDeps } from './response-gate.js'
import type { AlertSender, DeliveryResult, FailureReason } from './sinks/sink.js'

/**
 * One attempt of one alert job: fan out to the selected sinks in parallel, skip those already done,
 * record every outcome, then tell BullMQ what to do with the job:
 * - every sink delivered → return (job completes);
 * - some sink retryable → throw SinkRetryError (BullMQ retries with the backoff, honouring Retry-After);
 * - only local rate limiting left → move the job to delayed without spending an attempt;
 * - nothing retryable left but a permanent failure → UnrecoverableError (job fails now, stays failed).
 */

/** Thrown when at least one sink should be retried; carries the longest Retry-After asked for. */
export class SinkRetryError extends Error {
  override readonly name = 'SinkRetryError'
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message)
  }
}

export interface DeliveryDeps {
  senders: ReadonlyMap<string, AlertSender>
  routing: AlertingConfig
  store: DeliveredStore
  limiter: SinkRateLimiter
  deliveryLog: DeliveryLog
  metrics: AlerterMetrics
  log: Logger
  /** A rate-limited sink waits in place up to this long, beyond it the job is delayed. */
  maxInlineThrottleMs: number
  /** Acknowledgements, escalation and silences (response-gate.ts). Absent: every job goes by its routes. */
  response?: ResponseGateDeps
}

type SinkOutcome =
  | { sink: string; kind: 'done' }
  | { sink: string; kind: 'permanent'; reason: string; detail: string }
  | { sink: string; kind: 'retry'; reason: string; detail: string; retryAfterMs?: number }
  | { sink: string; kind: 'throttled'; waitMs: number }

export interface DeliverySummary {
  sinks: string[]
  delivered: string[]
  skipped: string[]
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function deliverAlertJob(
  job: Job<AlertJob, unknown, string>,
  token: string | undefined,
  deps: DeliveryDeps,
): Promise<DeliverySummary> {
  const parsed = alertJobSchema.safeParse(job.data)
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(job)'}: ${i.message}`).join('; ')
    deps.log.error({ jobId: job.id, issues }, 'invalid alert job; not delivered')
    throw new UnrecoverableError(`invalid alert job: ${issues}`)
  }
  const alert = parsed.data
  const jobId = job.id ?? alert.transitionId
  const attempt = Math.max(1, job.attemptsStarted ?? job.attemptsMade + 1)
  const log = deps.log.child({ jobId, transition: alert.kind, kpi: alert.kpi.id, attempt })
  const gate: Gate = deps.response
    ? await gateAlert(alert, deps.response)
    : { deliver: true, sinks: alert.sinks ?? selectSinks(alert, deps.routing) }
  if (!gate.deliver) {
    // Recorded like an attempt, so the breach shows why nobody was told (e.g. held by a silence).
    deps.metrics.deliveries.inc({ sink: '', outcome: 'held', reason: gate.reason })
    deps.deliveryLog.record({
      attempted_at: new Date().toISOString(),
      job_id: jobId,
      transition_id: alert.transitionId,
      fingerprint: alert.fingerprint,
      kpi_id: alert.kpi.id,
      transition: alert.kind,
      sink: '',
      attempt,
      outcome: 'held',
      reason: gate.reason,
      status_code: null,
      latency_ms: Math.max(0, Date.now() - Date.parse(alert.at)),
    })
    log.info({ reason: gate.reason }, 'alert not delivered by the response loop')
    return { sinks: [], delivered: [], skipped: [] }
  }
  const sinks = gate.sinks
  if (sinks.length === 0) {
    deps.metrics.unrouted.inc()
    log.warn({ severity: alert.severity, scope: alert.scope }, 'alert matched no route; not delivered')
    return { sinks, delivered: [], skipped: [] }
  }

  const state = await deps.store.get(jobId)
  const skipped: string[] = []
  const delivered: string[] = []

  const row = (sink: string, outcome: string, reason: string, status: number | null): DeliveryRow => ({
    attempted_at: new Date().toISOString(),
    job_id: jobId,
    transition_id: alert.transitionId,
    fingerprint: alert.fingerprint,
    kpi_id: alert.kpi.id,
    transition: alert.kind,
    sink,
    attempt,
    outcome,
    status_code: status,
    reason,
    latency_ms: Math.max(0, Date.now() - Date.parse(alert.at)),
  })

  const deliverOne = async (sink: string): Promise<SinkOutcome> => {
    const prior = state.get(sink)
    if (prior?.o === 'ok') {
      skipped.push(sink)
      deps.metrics.deliveries.inc({ sink, outcome: 'skipped', reason: 'already_delivered' })
      deps.deliveryLog.record(row(sink, 'skipped', 'already_delivered', null))
      return { sink, kind: 'done' }
    }
    if (prior?.o === 'permanent') {
      return {
        sink,
        kind: 'permanent',
        reason: prior.r ?? 'client_error',
        detail: 'failed permanently earlier',
      }
    }
    const sender = deps.senders.get(sink)
    if (!sender) {
      // Routing is validated against the sinks, so this is a bug.
      return { sink, kind: 'permanent', reason: 'internal_error', detail: `no sender for sink ${sink}` }
    }
    const limit = deps.routing.sinks[sink]?.rateLimit
    if (limit) {
      const deadline = Date.now() + deps.maxInlineThrottleMs
      for (;;) {
        const waitMs = await deps.limiter.take(sink, limit)
        if (waitMs <= 0) break
        if (Date.now() + waitMs > deadline) {
          deps.metrics.deliveries.inc({ sink, outcome: 'throttled', reason: 'rate_limited' })
          deps.deliveryLog.record(row(sink, 'throttled', 'rate_limited', null))
          return { sink, kind: 'throttled', waitMs }
        }
        await sleep(waitMs)
      }
    }

    let result: DeliveryResult
    try {
      result = await sender.send(alert, { attempt, log })
    } catch (err) {
      // A sender must not throw; one that does has a bug. Retried, never crashes the worker.
      log.error({ sink, err: errorMessage(err) }, 'sink sender threw')
      result = { outcome: 'retryable', reason: 'internal_error' as FailureReason, detail: 'sender threw' }
    }

    const status = 'status' in result && result.status !== undefined ? result.status : null
    if (result.outcome === 'ok') {
      // Marked before the job is acknowledged: a later attempt of this job skips this sink.
      await deps.store.mark(jobId, sink, { o: 'ok', at: new Date().toISOString() })
      delivered.push(sink)
      deps.metrics.deliveries.inc({ sink, outcome: 'ok', reason: '' })
      deps.metrics.deliverySeconds.observe({ sink }, Math.max(0, Date.now() - Date.parse(alert.at)) / 1000)
      deps.deliveryLog.record(row(sink, 'ok', '', status))
      log.debug({ sink, status }, 'alert delivered')
      return { sink, kind: 'done' }
    }
    deps.metrics.deliveries.inc({ sink, outcome: result.outcome, reason: result.reason })
    deps.deliveryLog.record(row(sink, result.outcome, result.reason, status))
    if (result.outcome === 'permanent') {
      await deps.store.mark(jobId, sink, { o: 'permanent', at: new Date().toISOString(), r: result.reason })
      log.error({ sink, reason: result.reason, detail: result.detail }, 'alert delivery failed permanently')
      return { sink, kind: 'permanent', reason: result.reason, detail: result.detail }
    }
    log.warn({ sink, reason: result.reason, detail: result.detail }, 'alert delivery failed; will retry')
    return {
      sink,
      kind: 'retry',
      reason: result.reason,
      detail: result.detail,
      ...(result.retryAfterMs !== undefined ? { retryAfterMs: result.retryAfterMs } : {}),
    }
  }

  // allSettled: no sink is still sending when this attempt ends (a retry must not overlap it).
  const settled = await Promise.allSettled(sinks.map(deliverOne))
  const broken = settled.find((s) => s.status === 'rejected')
  if (broken) throw broken.reason
  const outcomes = settled.map((s) => (s as PromiseFulfilledResult<SinkOutcome>).value)
  const retry = outcomes.filter((o) => o.kind === 'retry')
  const throttled = outcomes.filter((o) => o.kind === 'throttled')
  const failed = outcomes.filter((o) => o.kind === 'permanent')

  if (retry.length > 0) {
    const waits = [...retry.map((o) => o.retryAfterMs ?? 0), ...throttled.map((o) => o.waitMs)]
    const retryAfterMs = Math.max(0, ...waits)
    const what = retry.map((o) => `${o.sink}: ${o.reason} (${o.detail})`).join('; ')
    throw new SinkRetryError(`delivery to retry: ${what}`, retryAfterMs > 0 ? retryAfterMs : undefined)
  }
  if (throttled.length > 0) {
    // Only our own rate limit stands in the way: wait without spending an attempt.
    const waitMs = Math.max(...throttled.map((o) => o.waitMs))
    await job.moveToDelayed(Date.now() + waitMs, token)
    throw new DelayedError()
  }
  if (failed.length > 0) {
    const what = failed.map((o) => `${o.sink}: ${o.reason} (${o.detail})`).join('; ')
    throw new UnrecoverableError(`delivery failed permanently: ${what}`)
  }
  return { sinks, delivered, skipped }
}
