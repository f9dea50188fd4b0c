import type { AlertJob, Severity } from '../../../../shared/alerts/alert-job.js'
import type { AlertmanagerSinkConfig } from '../../../../shared/alerts/sinks/alertmanager.js'
import { postJson, urlSecrets } from '../http.js'
import { isoReferences, responseText, scopeText, valueVsThreshold } from '../render.js'
import type { AlertSender, DeliveryResult, SendContext } from '../sink.js'

/** One element of the body of `POST /api/v2/alerts` (Alertmanager's `postableAlert`). */
export interface PostableAlert {
  labels: Record<string, string>
  annotations: Record<string, string>
  startsAt: string
  endsAt: string
  generatorURL: string
}

const RESERVED = new Set(['alertname', 'kpi', 'fingerprint', 'severity', 'iso27001', 'iso42001', 'area'])

/** Alertmanager label names must match [a-zA-Z_][a-zA-Z0-9_]*; scope keys that clash get `scope_`. */
export function labelName(key: string): string {
  let name = key.replace(/[^A-Za-z0-9_]/g, '_')
  if (!/^[A-Za-z_]/.test(name)) name = `_${name}`
  return RESERVED.has(name) ? `scope_${name}` : name
}

function labelsFor(job: AlertJob, severity: Severity): Record<string, string> {
  const labels: Record<string, string> = {
    alertname: job.kpi.id,
    kpi: job.kpi.id,
    fingerprint: job.fingerprint,
    severity,
  }
  for (const [k, v] of Object.entries(job.scope)) if (v !== '') labels[labelName(k)] = v
  if (job.kpi.area) labels.area = job.kpi.area
  if (job.stale) labels.condition = 'stale'
  // Empty label values mean "no label" to Alertmanager, so standards without references are left out.
  if (job.iso.iso27001.length > 0) labels.iso27001 = job.iso.iso27001.join(',')
  if (job.iso.iso42001.length > 0) labels.iso42001 = job.iso.iso42001.join(',')
  return labels
}

/**
 * The alerts to post for one transition. Severity is a label, so it is part of the alert's identity:
 * an escalation posts the new critical alert firing and the old warning alert resolved, and a resolve
 * ends the alert of the severity that had been crossed (`endsAt` = the transition time).
 */
export function toPostableAlerts(
  job: AlertJob,
  cfg: Pick<AlertmanagerSinkConfig, 'firingEndsAfterSec'>,
): PostableAlert[] {
  const refs = isoReferences(job)
  const annotations: Record<string, string> = {
    summary: job.summary,
    description: `${job.description}\n${job.kpi.title} (${scopeText(job)}): ${valueVsThreshold(job)}.${refs ? `\nEvidence for ${refs}.` : ''}`,
    value: job.value === null ? '' : String(job.value),
    threshold: job.threshold === null ? '' : String(job.threshold),
    runbook_url: job.links.review,
    dashboard: job.links.review,
    api: job.links.api,
    transition: job.kind,
    transition_id: job.transitionId,
    ...(refs ? { iso_references: refs } : {}),
    // Alertmanager has no acknowledgement: the firing alert is posted again with who has it.
    ...(job.response ? { response: responseText(job) } : {}),
    ...(job.response?.acknowledged ? { acknowledged_by: job.response.acknowledged.by } : {}),
    ...(job.response?.owner ? { owner: job.response.owner } : {}),
    // The sample and confidence interval behind the value (fairness KPIs).
    ...(job.uncertainty
      ? {
          n: job.uncertainty.n === null ? '' : String(job.uncertainty.n),
          ci_low: job.uncertainty.ciLow === null ? '' : String(job.uncertainty.ciLow),
          ci_high: job.uncertainty.ciHigh === null ? '' : String(job.uncertainty.ciHigh),
        }
      : {}),
  }
  const base = { annotations, startsAt: job.startsAt, generatorURL: job.links.review }
  if (job.kind === 'resolved') return [{ ...base, labels: labelsFor(job, job.severity), endsAt: job.at }]
  const endsAt = new Date(Date.parse(job.at) + cfg.firingEndsAfterSec * 1000).toISOString()
  const alerts: PostableAlert[] = [{ ...base, labels: labelsFor(job, job.severity), endsAt }]
  if (job.kind === 'escalated' && job.previousSeverity && job.previousSeverity !== job.severity) {
    alerts.push({ ...base, labels: labelsFor(job, job.previousSeverity), endsAt: job.at })
  }
  return alerts
}

export class AlertmanagerSender implements AlertSender {
  readonly type = 'alertmanager' as const
  private readonly endpoint: string

  constructor(
    readonly name: string,
    private readonly cfg: AlertmanagerSinkConfig,
  ) {
    this.endpoint = `${cfg.url.replace(/\/+$/, '')}/api/v2/alerts`
  }

  send(job: AlertJob, ctx: SendContext): Promise<DeliveryResult> {
    return postJson(this.endpoint, JSON.stringify(toPostableAlerts(job, this.cfg)), {
      timeoutMs: this.cfg.timeoutMs,
      headers: this.cfg.authorization ? { authorization: this.cfg.authorization } : {},
      secrets: [...urlSecrets(this.cfg.url), this.cfg.authorization ?? ''],
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    })
  }
}
