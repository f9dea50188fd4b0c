import type { AlertJob } from '../../../shared/alerts/alert-job.js'

/** Wording shared by the sinks, so Slack, PagerDuty and Alertmanager say the same thing. */

export function formatNumber(v: number | null): string {
  if (v === null) return 'n/a'
  if (Number.isInteger(v)) return String(v)
  return Math.abs(v) >= 100 ? v.toFixed(1) : String(Number(v.toPrecision(4)))
}

/** "[95 % CI 0.61–0.78, n=2000]" for a value with an interval (fairness KPIs); '' otherwise. */
export function uncertaintyText(job: AlertJob): string {
  const u = job.uncertainty
  if (!u) return ''
  const parts = [
    u.ciLow !== null && u.ciHigh !== null ? `CI ${formatNumber(u.ciLow)}–${formatNumber(u.ciHigh)}` : '',
    u.n !== null ? `n=${u.n}` : '',
  ].filter((p) => p !== '')
  return parts.length === 0 ? '' : ` [${parts.join(', ')}]`
}

/** "value 0.72 ratio [CI 0.61–0.78, n=2000] vs threshold 0.8 (higher is better)" */
export function valueVsThreshold(job: AlertJob): string {
  if (job.stale) {
    return `stale: no input since ${job.stale.lastInputAt ?? 'ever'} (expected within ${job.stale.expectedWithin})`
  }
  const unit = job.kpi.unit ? ` ${job.kpi.unit}` : ''
  const dir = job.kpi.direction === 'higher_is_better' ? 'higher is better' : 'lower is better'
  return `value ${formatNumber(job.value)}${unit}${uncertaintyText(job)} vs threshold ${formatNumber(job.threshold)}${unit} (${dir})`
}

/** "ISO/IEC 27001:2022 A.5.24, A.5.25; ISO/IEC 42001:2023 9.1" (empty when none). */
export function isoReferences(job: AlertJob): string {
  const parts: string[] = []
  if (job.iso.iso27001.length > 0) parts.push(`ISO/IEC 27001:2022 ${job.iso.iso27001.join(', ')}`)
  if (job.iso.iso42001.length > 0) parts.push(`ISO/IEC 42001:2023 ${job.iso.iso42001.join(', ')}`)
  return parts.join('; ')
}

/** "model_id=credit-v3, env=prod" */
export function scopeText(job: AlertJob): string {
  const entries = Object.entries(job.scope)
  return entries.length === 0 ? 'global' : entries.map(([k, v]) => `${k}=${v}`).join(', ')
}

/** "FIRING critical", "ESCALATED warning → critical", "RESOLVED" */
export function headline(job: AlertJob): string {
  switch (job.kind) {
    case 'firing':
      return `FIRING ${job.severity}`
    case 'escalated':
      return `ESCALATED ${job.previousSeverity ?? 'warning'} -> ${job.severity}`
    case 'resolved':
      return 'RESOLVED'
    case 'acknowledged':
      return `ACKNOWLEDGED by ${job.response?.acknowledged?.by ?? 'someone'}`
    case 'unacknowledged':
      return `UNACKNOWLEDGED ${job.severity}: nobody has it, escalation resumes`
    case 'escalation': {
      const e = job.response?.escalation
      return `ESCALATION step ${e?.step ?? '?'}/${e?.steps ?? '?'} ${job.severity}, not acknowledged`
    }
    case 'reminder':
      return `REMINDER ${job.response?.escalation?.reminder ?? ''} ${job.severity}, not acknowledged`.replace(
        '  ',
        ' ',
      )
    default: {
      const never: never = job.kind
      throw new Error(`unknown transition kind ${String(never)}`)
    }
  }
}

/**
 * "acknowledged by alice at 2026-12-01T10:00:00.000Z; owner bob; escalation step 1/2 (critical-unacked)";
 * '' when the job carries no response information.
 */
export function responseText(job: AlertJob): string {
  const r = job.response
  if (!r) return ''
  const parts: string[] = []
  if (r.acknowledged) {
    parts.push(
      `acknowledged by ${r.acknowledged.by} at ${r.acknowledged.at}${r.acknowledged.comment ? ` (${r.acknowledged.comment})` : ''}`,
    )
  }
  if (r.owner) parts.push(`owner ${r.owner}`)
  if (r.escalation) {
    parts.push(
      `escalation step ${r.escalation.step}/${r.escalation.steps} (${r.escalation.policy})${r.escalation.reminder > 0 ? `, reminder ${r.escalation.reminder}` : ''}`,
    )
  }
  if (r.releasedFromSilence) parts.push(`held by silence ${r.releasedFromSilence} until it ended`)
  return parts.join('; ')
}
