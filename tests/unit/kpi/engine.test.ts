import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { AuditArea, type FindingFacts } from '../../../shared/kpi/engine/audit.js'
import { DAY_MS, Deadlines, HOUR_MS } from '../../../shared/kpi/engine/deadlines.js'
import { modelSamples, versionKey } from '../../../shared/kpi/engine/model.js'
import { CLOCK_KPI, type IncidentFacts, PrivacyArea } from '../../../shared/kpi/engine/privacy.js'
import type { Sample } from '../../../shared/kpi/engine/sample.js'
import { awarenessStateMigration, entityStateMigration } from '../../../shared/kpi/entity-state.js'

const T0 = Date.UTC(2026, 5, 1)
const value = (samples: Sample[], kpiId: string, scope: Record<string, string> = {}) =>
  samples.find((s) => s.kpiId === kpiId && JSON.stringify(s.scope) === JSON.stringify(scope))?.value

describe('migration 0003', () => {
  it('is exactly what shared/kpi/entity-state.ts generates', () => {
    const file = readFileSync(
      new URL('../../../deploy/clickhouse/migrations/0003_entity_state.sql', import.meta.url),
      'utf8',
    )
    expect(file).toBe(entityStateMigration())
  })
})

describe('migration 0018', () => {
  it('is exactly what shared/kpi/entity-state.ts generates, and leaves 0003 as it was applied', () => {
    const file = readFileSync(
      new URL('../../../deploy/clickhouse/migrations/0018_incident_awareness.sql', import.meta.url),
      'utf8',
    )
    expect(file).toBe(awarenessStateMigration())
    expect(entityStateMigration()).not.toContain('awareness_at')
    expect(file).toContain('ADD COLUMN IF NOT EXISTS awareness_at')
    expect(file).toContain('ALTER TABLE incident_state_mv MODIFY QUERY')
  })
})

describe('Deadlines', () => {
  it('returns due entities earliest first, once, and follows reschedules', () => {
    const d = new Deadlines<string>()
    d.schedule('a', 30)
    d.schedule('b', 10)
    d.schedule('c', 20)
    d.schedule('a', 5) // moved earlier: the old entry is stale
    d.schedule('c', undefined) // cancelled
    expect(d.next()).toBe(5)
    expect(d.takeDue(15)).toEqual(['a', 'b'])
    expect(d.takeDue(100)).toEqual([])
    expect(d.size).toBe(0)
  })

  it('keeps heap order under many random operations', () => {
    const d = new Deadlines<number>()
    const want = new Map<number, number>()
    let seed = 7
    const rand = () => (seed = (seed * 48271) % 2147483647)
    for (let i = 0; i < 5000; i++) {
      const id = rand() % 300
      const at = rand() % 10_000
      d.schedule(id, at)
      want.set(id, at)
    }
    const due = d.takeDue(5000)
    const expected = [...want].filter(([, at]) => at <= 5000).sort((a, b) => a[1] - b[1])
    expect(due.map((id) => want.get(id))).toEqual(expected.map(([, at]) => at))
    expect(new Set(due)).toEqual(new Set(expected.map(([id]) => id)))
  })
})

function incident(o: Partial<IncidentFacts> & { incidentId: string }): IncidentFacts {
  return {
    severity: 'high',
    notifiable: false,
    detectedAt: T0,
    occurredAt: null,
    containedAt: null,
    resolvedAt: null,
    notifiedAt: null,
    awarenessAt: null,
    recordsAffected: 0n,
    ...o,
  }
}

describe('PrivacyArea', () => {
  const marks = () => [48 * HOUR_MS, 72 * HOUR_MS]

  it('keeps windowed aggregates exact as time passes and incidents change', () => {
    const area = new PrivacyArea({ clockMarks: marks })
    area.upsert(
      [
        incident({
          incidentId: 'A',
          severity: 'critical',
          recordsAffected: 100n,
          occurredAt: T0 - 2 * HOUR_MS,
        }),
        incident({ incidentId: 'B', detectedAt: T0 - 29 * DAY_MS, recordsAffected: 5n }),
      ],
      T0,
    )
    let a = area.aggregates(T0)
    expect(value(a, 'privacy.incidents_opened', { severity: 'critical' })).toBe(1)
    expect(value(a, 'privacy.incidents_opened', { severity: 'high' })).toBe(1)
    expect(value(a, 'privacy.records_affected')).toBe(105)
    expect(value(a, 'privacy.mttd_hours')).toBe(2)
    // B leaves the 30-day window one day later: a deadline, no event.
    expect(area.nextDeadline()).toBe(T0 + DAY_MS)
    area.advanceTo(T0 + DAY_MS)
    a = area.aggregates(T0 + DAY_MS)
    expect(value(a, 'privacy.incidents_opened', { severity: 'high' })).toBe(0)
    expect(value(a, 'privacy.records_affected')).toBe(100)
    // A is downgraded and contained: the old contribution is taken back, the new one added.
    area.upsert(
      [
        incident({
          incidentId: 'A',
          severity: 'low',
          recordsAffected: 7n,
          occurredAt: T0 - 2 * HOUR_MS,
          containedAt: T0 + 6 * HOUR_MS,
        }),
      ],
      T0 + 2 * DAY_MS,
    )
    a = area.aggregates(T0 + 2 * DAY_MS)
    expect(value(a, 'privacy.incidents_opened', { severity: 'critical' })).toBe(0)
    expect(value(a, 'privacy.incidents_opened', { severity: 'low' })).toBe(1)
    expect(value(a, 'privacy.records_affected')).toBe(7)
    expect(value(a, 'privacy.mttc_hours')).toBe(6)
    // 90 days after containment nothing is left, and the area holds nothing.
    area.advanceTo(T0 + 100 * DAY_MS)
    a = area.aggregates(T0 + 100 * DAY_MS)
    expect(value(a, 'privacy.mttc_hours')).toBeNull()
    expect(value(a, 'privacy.records_affected')).toBe(0)
    expect(area.held).toBe(0)
  })

  it('samples a clock at each mark, at the mark itself, and gives 0 once when it stops', () => {
    const area = new PrivacyArea({ clockMarks: marks })
    const i = incident({ incidentId: 'C', notifiable: true })
    expect(area.upsert([i], T0 + HOUR_MS).filter((s) => s.kpiId === CLOCK_KPI)).toEqual([
      { kpiId: CLOCK_KPI, scope: { incident_id: 'C' }, value: 1, at: T0 + HOUR_MS },
    ])
    expect(area.nextDeadline()).toBe(T0 + 48 * HOUR_MS)
    // A tick long after both marks still samples each at its own time, in order.
    expect(area.advanceTo(T0 + 80 * HOUR_MS)).toEqual([
      { kpiId: CLOCK_KPI, scope: { incident_id: 'C' }, value: 48, at: T0 + 48 * HOUR_MS },
      { kpiId: CLOCK_KPI, scope: { incident_id: 'C' }, value: 72, at: T0 + 72 * HOUR_MS },
    ])
    // The 72-hour ratio decided at 72 h: late.
    expect(value(area.aggregates(T0 + 80 * HOUR_MS), 'privacy.notified_within_72h_ratio')).toBe(0)
    const notified = area.upsert([{ ...i, notifiedAt: T0 + 81 * HOUR_MS }], T0 + 82 * HOUR_MS)
    expect(notified).toEqual([
      { kpiId: CLOCK_KPI, scope: { incident_id: 'C' }, value: 0, at: T0 + 82 * HOUR_MS },
    ])
    expect(area.clockSamples(T0 + 83 * HOUR_MS)).toEqual([])
  })

  it('runs the 72 hours from awareness when the incident gives it, from detection otherwise', () => {
    const area = new PrivacyArea({ clockMarks: marks })
    // Detected at T0, the controller aware 10 h later: the clock starts at T0 + 10 h.
    const aware = incident({ incidentId: 'A', notifiable: true, awarenessAt: T0 + 10 * HOUR_MS })
    expect(area.upsert([aware], T0 + 12 * HOUR_MS).filter((s) => s.kpiId === CLOCK_KPI)).toEqual([
      { kpiId: CLOCK_KPI, scope: { incident_id: 'A' }, value: 2, at: T0 + 12 * HOUR_MS },
    ])
    expect(area.nextDeadline()).toBe(T0 + 58 * HOUR_MS)
    expect(area.advanceTo(T0 + 90 * HOUR_MS)).toEqual([
      { kpiId: CLOCK_KPI, scope: { incident_id: 'A' }, value: 48, at: T0 + 58 * HOUR_MS },
      { kpiId: CLOCK_KPI, scope: { incident_id: 'A' }, value: 72, at: T0 + 82 * HOUR_MS },
    ])
    // Notified 80 h after detection, 70 h after awareness: on time.
    area.upsert([{ ...aware, notifiedAt: T0 + 80 * HOUR_MS }], T0 + 90 * HOUR_MS)
    expect(value(area.aggregates(T0 + 90 * HOUR_MS), 'privacy.notified_within_72h_ratio')).toBe(1)
    // The same notification without an awareness time is late (80 h after detection).
    const v1 = new PrivacyArea({ clockMarks: marks })
    v1.upsert(
      [incident({ incidentId: 'B', notifiable: true, notifiedAt: T0 + 80 * HOUR_MS })],
      T0 + 90 * HOUR_MS,
    )
    expect(value(v1.aggregates(T0 + 90 * HOUR_MS), 'privacy.notified_within_72h_ratio')).toBe(0)
  })

  it('gives a restored breach of a stopped clock its resolving 0 at the full evaluation', () => {
    const area = new PrivacyArea({ clockMarks: marks })
    const stopped = incident({ incidentId: 'D', notifiable: true, notifiedAt: T0 + HOUR_MS })
    area.watchClocks([stopped])
    area.upsert([stopped], T0 + 2 * HOUR_MS)
    expect(area.clockSamples(T0 + 2 * HOUR_MS)).toEqual([])
    const area2 = new PrivacyArea({ clockMarks: marks })
    area2.watchClocks([stopped])
    expect(area2.clockSamples(T0 + 2 * HOUR_MS)).toEqual([
      { kpiId: CLOCK_KPI, scope: { incident_id: 'D' }, value: 0, at: T0 + 2 * HOUR_MS },
    ])
  })

  it('keeps sums exact past 2^53 milliseconds (BigInt), dividing once at the end', () => {
    const area = new PrivacyArea({ clockMarks: () => [] })
    const n = 3000
    const big = Array.from({ length: n }, (_, k) =>
      incident({
        incidentId: `I${k}`,
        detectedAt: T0 - 80 * DAY_MS,
        containedAt: T0 - 80 * DAY_MS + 3_000_000_000_000 + k, // ~95 years: the sum exceeds 2^53
      }),
    )
    area.upsert(big, T0 + 3_000_000_000_000)
    let sum = 0n
    for (let k = 0; k < n; k++) sum += BigInt(3_000_000_000_000 + k)
    expect(value(area.aggregates(T0 + 3_000_000_000_000), 'privacy.mttc_hours')).toBe(
      Number(sum) / n / HOUR_MS,
    )
  })
})

function finding(o: Partial<FindingFacts> & { findingId: string }): FindingFacts {
  return {
    standard: 'ISO27001',
    clause: 'A.5.24',
    kind: 'major_nc',
    status: 'open',
    raisedAt: T0,
    dueAt: null,
    closedAt: null,
    repeatOf: null,
    ...o,
  }
}

describe('AuditArea', () => {
  it('fires overdue at the due date by time alone, and reports a pair series down to 0 once', () => {
    const area = new AuditArea()
    area.upsert([finding({ findingId: 'F1', dueAt: T0 + DAY_MS })], T0)
    let s = area.samples(T0)
    expect(value(s, 'audit.open_major_ncs', { standard: 'ISO27001', clause: 'A.5.24' })).toBe(1)
    expect(value(s, 'audit.overdue_corrective_actions', { standard: 'ISO27001' })).toBe(0)
    expect(area.nextDeadline()).toBe(T0 + DAY_MS + 1) // overdue strictly after the due time
    area.advanceTo(T0 + DAY_MS + 1)
    s = area.samples(T0 + DAY_MS + 1)
    expect(value(s, 'audit.overdue_corrective_actions', { standard: 'ISO27001' })).toBe(1)
    // An unchanged pair is not re-sent; the per-standard series always are.
    expect(s.some((x) => x.kpiId === 'audit.open_major_ncs')).toBe(false)
    area.upsert(
      [finding({ findingId: 'F1', status: 'closed', dueAt: T0 + DAY_MS, closedAt: T0 + 2 * DAY_MS })],
      T0 + 2 * DAY_MS,
    )
    s = area.samples(T0 + 2 * DAY_MS)
    expect(value(s, 'audit.open_major_ncs', { standard: 'ISO27001', clause: 'A.5.24' })).toBe(0)
    expect(value(s, 'audit.overdue_corrective_actions', { standard: 'ISO27001' })).toBe(0)
    expect(value(s, 'audit.mean_days_to_close', { standard: 'ISO27001' })).toBe(2)
    expect(value(s, 'audit.on_time_closure_rate', { standard: 'ISO27001' })).toBe(0)
    s = area.samples(T0 + 3 * DAY_MS, true)
    expect(s.some((x) => x.kpiId === 'audit.open_major_ncs')).toBe(false)
  })
})

describe('modelSamples', () => {
  it('keeps environments apart and reads fairness from the latest evaluation of each attribute', () => {
    const v = (environment: string, modelVersion: string, firstSeen: number, accuracy: number) => ({
      modelId: 'm',
      environment,
      modelVersion,
      firstSeen,
      accuracy,
      f1: null,
      auc: null,
      baseline: null,
    })
    const g = (version: number, group: string, tp: number, fp: number, tn: number, fn: number) => ({
      modelId: 'm',
      environment: 'production',
      modelVersion: '2',
      attribute: 'sex',
      group,
      version: versionKey(BigInt(version) << 72n),
      tp,
      fp,
      tn,
      fn,
    })
    const samples = modelSamples(
      [v('production', '1', 1, 0.95), v('production', '2', 2, 0.9), v('staging', '2', 3, 0.6)],
      [
        g(10, 'a', 30, 0, 70, 0),
        g(10, 'b', 30, 0, 70, 0),
        g(20, 'a', 42, 0, 58, 0),
        g(20, 'b', 30, 0, 70, 0),
      ],
      T0,
    )
    const prod2 = { model_id: 'm', environment: 'production', model_version: '2' }
    expect(value(samples, 'model.accuracy', prod2)).toBe(0.9)
    expect(value(samples, 'model.accuracy_drop_points', prod2)).toBe((0.95 - 0.9) * 100)
    expect(value(samples, 'model.accuracy', { ...prod2, environment: 'staging' })).toBe(0.6)
    // staging's first version: no baseline (production is another line)
    expect(value(samples, 'model.accuracy_drop_points', { ...prod2, environment: 'staging' })).toBeNull()
    expect(value(samples, 'model.disparate_impact_ratio', { ...prod2, attribute: 'sex' })).toBe(0.3 / 0.42)
  })
})
