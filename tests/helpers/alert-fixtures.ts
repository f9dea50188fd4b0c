import { randomUUID } from 'node:crypto'
import type { AlertJob } from '../../shared/alerts/alert-job.js'

/** A valid alert transition; `overrides` replace top-level fields. Unique ids each call. */
export function sampleAlert(overrides: Partial<AlertJob> = {}): AlertJob {
  const id = randomUUID().slice(0, 8)
  const at = new Date().toISOString()
  return {
    transitionId: `fp-${id}.2024-01-01T00_00_00Z.firing`,
    breachId: `fp-${id}.2024-01-01T00_00_00Z`,
    fingerprint: `fp-${id}`,
    kind: 'firing',
    severity: 'critical',
    kpi: {
      id: 'model.disparate_impact_ratio',
      title: 'Disparate impact ratio',
      unit: 'ratio',
      direction: 'higher_is_better',
      area: 'model',
    },
    scope: { model_id: 'credit-scoring', model_version: '3', protected_attribute: 'sex' },
    value: 0.72,
    threshold: 0.8,
    iso: { iso27001: ['A.5.34'], iso42001: ['9.1', 'A.7.4'] },
    startsAt: at,
    at,
    summary: 'Disparate impact ratio 0.72 below 0.8 for credit-scoring v3 (sex)',
    description:
      'The four-fifths rule is breached: the least favoured group is selected at 72% of the rate of the most favoured.',
    links: {
      review: 'http://127.0.0.1:8080/review/kpi/model.disparate_impact_ratio',
      api: 'http://127.0.0.1:8080/api/kpis/model.disparate_impact_ratio',
    },
    ...overrides,
  }
}

/** The resolve transition of `firing`. */
export function resolveOf(firing: AlertJob, at = new Date().toISOString()): AlertJob {
  return {
    ...firing,
    transitionId: firing.transitionId.replace(/\.firing$/, '.resolved').replace(/\.escalated$/, '.resolved'),
    kind: 'resolved',
    previousSeverity: undefined,
    value: 0.85,
    at,
    summary: `Resolved: ${firing.summary}`,
  }
}
