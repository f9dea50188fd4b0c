import { randomUUID } from 'node:crypto'

/** Builders of valid v1 events for tests (the examples in shared/events/examples are the reference). */

export interface GroupCounts {
  group: string
  tp: number
  fp: number
  tn: number
  fn: number
}

export function modelMetricsEvent(o: {
  modelId: string
  modelVersion: string
  time: string
  accuracy?: number
  groups: GroupCounts[]
  attribute?: string
}) {
  const sampleSize = o.groups.reduce((n, g) => n + g.tp + g.fp + g.tn + g.fn, 0)
  const windowEnd = new Date(o.time)
  return {
    specversion: '1.0',
    id: randomUUID(),
    source: '/tests/ml-eval',
    type: 'aims.model_metrics.v1',
    time: o.time,
    data: {
      modelId: o.modelId,
      modelVersion: o.modelVersion,
      environment: 'production',
      window: {
        start: new Date(windowEnd.getTime() - 24 * 3600_000).toISOString(),
        end: windowEnd.toISOString(),
      },
      sampleSize,
      metrics: { accuracy: o.accuracy ?? 0.9 },
      fairness: [{ attribute: o.attribute ?? 'gender', groups: o.groups }],
    },
  }
}

export function incidentEvent(o: {
  incidentId: string
  time: string
  status: 'detected' | 'contained' | 'notified' | 'resolved' | 'closed'
  detectedAt: string
  notifiable: boolean
  severity?: 'low' | 'medium' | 'high' | 'critical'
  containedAt?: string
  resolvedAt?: string
  regulatorNotifiedAt?: string
}) {
  return {
    specversion: '1.0',
    id: randomUUID(),
    source: '/tests/siem',
    type: 'aims.privacy_incident.v1',
    time: o.time,
    data: {
      incidentId: o.incidentId,
      status: o.status,
      severity: o.severity ?? 'medium',
      category: 'misdirected_email',
      detectedAt: o.detectedAt,
      notifiable: o.notifiable,
      recordsAffected: 40,
      dataSubjectsAffected: 40,
      controls: ['ISO27001:A.5.24'],
      ...(o.containedAt ? { containedAt: o.containedAt } : {}),
      ...(o.resolvedAt ? { resolvedAt: o.resolvedAt } : {}),
      ...(o.regulatorNotifiedAt ? { regulatorNotifiedAt: o.regulatorNotifiedAt } : {}),
    },
  }
}

export function findingEvent(o: {
  findingId: string
  time: string
  status: 'open' | 'in_progress' | 'closed' | 'verified'
  raisedAt: string
  dueAt?: string
  closedAt?: string
  kind?: 'major_nc' | 'minor_nc' | 'observation' | 'ofi'
  standard?: 'ISO27001' | 'ISO42001'
  clause?: string
}) {
  return {
    specversion: '1.0',
    id: randomUUID(),
    source: '/tests/grc',
    type: 'aims.audit_finding.v1',
    time: o.time,
    data: {
      findingId: o.findingId,
      auditId: 'AUD-TEST-1',
      auditType: 'internal',
      standard: o.standard ?? 'ISO42001',
      clause: o.clause ?? 'A.6.2.6',
      kind: o.kind ?? 'minor_nc',
      status: o.status,
      title: 'Monitoring of the model in operation is not documented',
      owner: 'ml-platform-lead',
      raisedAt: o.raisedAt,
      ...(o.dueAt ? { dueAt: o.dueAt } : {}),
      ...(o.closedAt ? { closedAt: o.closedAt } : {}),
    },
  }
}
