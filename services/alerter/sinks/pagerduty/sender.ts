import type { AlertJob } from '../../../../shared/alerts/alert-job.js'
import type { PagerdutySinkConfig } from '../../../../shared/alerts/sinks/pagerduty.js'
import { postJson } from '../http.js'
import { headline, isoReferences, responseText, scopeText, valueVsThreshold } from '../render.js'
import type { AlertSender, DeliveryResult, SendContext } from '../sink.js'

/** PagerDuty Events API v2 event (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/). */
export interface PagerdutyEvent {
  routing_key: string
  event_action: 'trigger' | 'acknowledge' | 'resolve'
  dedup_key: string
  payload?: {
    summary: string
    source: string
    severity: 'critical' | 'error' | 'warning' | 'info'
    timestamp: string
    component: string
    group?: string
    class: string
    custom_details: Record<string, unknown>
  }
  links?: { href: string; text: string }[]
  client?: string
  client_url?: string
}

const MAX_SUMMARY = 1024

/**
 * trigger on firing and escalated (same dedup_key: PagerDuty folds it into the open alert), and on an
 * escalation step or reminder (on the next route's service it opens the incident there), acknowledge on
 * an acknowledgement, resolve on resolved. dedup_key is the breach fingerprint, so every alerter
 * instance and retry names one alert.
 */
export function toPagerdutyEvent(
  job: AlertJob,
  cfg: Pick<PagerdutySinkConfig, 'routingKey' | 'source'>,
): PagerdutyEvent {
  if (job.kind === 'resolved') {
    return { routing_key: cfg.routingKey, event_action: 'resolve', dedup_key: job.fingerprint }
  }
  if (job.kind === 'acknowledged') {
    return { routing_key: cfg.routingKey, event_action: 'acknowledge', dedup_key: job.fingerprint }
  }
  const response = responseText(job)
  const summary = `[${headline(job)}] ${job.summary}`
  return {
    routing_key: cfg.routingKey,
    event_action: 'trigger',
    dedup_key: job.fingerprint,
    payload: {
      summary: summary.length > MAX_SUMMARY ? `${summary.slice(0, MAX_SUMMARY - 3)}...` : summary,
      source: cfg.source,
      severity: job.severity === 'critical' ? 'critical' : 'warning',
      timestamp: job.at,
      component: job.kpi.id,
      ...(job.kpi.area ? { group: job.kpi.area } : {}),
      class: job.kind,
      custom_details: {
        kpi: job.kpi.title,
        kpi_id: job.kpi.id,
        scope: scopeText(job),
        value: job.value,
        threshold: job.threshold,
        unit: job.kpi.unit,
        comparison: valueVsThreshold(job),
        description: job.description,
        iso27001: job.iso.iso27001,
        iso42001: job.iso.iso42001,
        iso_references: isoReferences(job),
        started_at: job.startsAt,
        transition_id: job.transitionId,
        ...(job.previousSeverity ? { previous_severity: job.previousSeverity } : {}),
        ...(response ? { response } : {}),
        ...(job.response?.owner ? { owner: job.response.owner } : {}),
      },
    },
    links: [
      { href: job.links.review, text: 'Management review' },
      { href: job.links.api, text: 'KPI data (API)' },
    ],
    client: 'AIMS KPI pipeline',
    client_url: job.links.review,
  }
}

export class PagerdutySender implements AlertSender {
  readonly type = 'pagerduty' as const

  constructor(
    readonly name: string,
    private readonly cfg: PagerdutySinkConfig,
  ) {}

  send(job: AlertJob, ctx: SendContext): Promise<DeliveryResult> {
    // 202 accepted; 400 invalid event (permanent); 429 throttled (retry, Retry-After); 5xx retry.
    return postJson(this.cfg.url, JSON.stringify(toPagerdutyEvent(job, this.cfg)), {
      timeoutMs: this.cfg.timeoutMs,
      secrets: [this.cfg.routingKey],
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    })
  }
}
