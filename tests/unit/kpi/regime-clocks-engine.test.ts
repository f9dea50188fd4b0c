import { describe, expect, it } from 'vitest'
import { RegimeClockArea } from '../../../shared/kpi/engine/regime-clocks.js'
import type { RegimeIncidentFacts } from '../../../shared/kpi/regimes.js'
import { regimeKpiId } from '../../../shared/kpi/regimes.js'

const HOUR = 3_600_000
const T0 = Date.parse('2026-03-02T10:00:00Z')
const EARLY = regimeKpiId('nis2', 'early_warning')
const NOTIFY = regimeKpiId('nis2', 'notification')
const FINAL = regimeKpiId('nis2', 'final_report')

function nis2(o: Partial<RegimeIncidentFacts> = {}): RegimeIncidentFacts {
  return {
    incidentId: 'INC-1',
    detectedAt: T0,
    awarenessAt: null,
    classifiedAt: null,
    notifiable: false,
    notifiedAt: null,
    businessUnit: '',
    category: 'data_leak',
    severity: 'high',
    regimes: ['nis2'],
    jurisdictions: [],
    reports: new Map(),
    ...o,
  }
}

const area = () =>
  new RegimeClockArea({
    applicable: (f) => new Set(f.regimes.includes('nis2') ? (['nis2'] as const) : []),
    marks: () => [0.75, 1],
  })

describe('RegimeClockArea', () => {
  it('samples every running step on an event, and each mark at its own time whatever the tick', () => {
    const a = area()
    const first = a.upsert([nis2()], T0 + HOUR)
    expect(first.map((s) => [s.kpiId, s.value])).toEqual([
      [EARLY, 1 / 24],
      [NOTIFY, 1 / 72],
    ])
    expect(a.nextDeadline()).toBe(T0 + 18 * HOUR)
    // One late tick crosses three marks: each is sampled at its time, in order.
    const marks = a.advanceTo(T0 + 60 * HOUR)
    expect(marks.map((s) => [s.kpiId, s.value, s.at - T0])).toEqual([
      [EARLY, 0.75, 18 * HOUR],
      [EARLY, 1, 24 * HOUR],
      [NOTIFY, 0.75, 54 * HOUR],
    ])
    expect(a.advanceTo(T0 + 61 * HOUR)).toEqual([])
    expect(a.nextDeadline()).toBe(T0 + 72 * HOUR)
  })

  it('reads 0 once for a step whose report arrives, and starts the step anchored on it', () => {
    const a = area()
    a.upsert([nis2()], T0)
    const sent = nis2({ reports: new Map([['nis2/early_warning', T0 + 5 * HOUR]]) })
    const out = a.upsert([sent], T0 + 6 * HOUR)
    expect(out.map((s) => [s.kpiId, s.value])).toEqual([
      [EARLY, 0],
      [NOTIFY, 6 / 72],
    ])
    const notified = nis2({
      reports: new Map([
        ['nis2/early_warning', T0 + 5 * HOUR],
        ['nis2/notification', T0 + 7 * HOUR],
      ]),
    })
    const after = a.upsert([notified], T0 + 8 * HOUR)
    expect(after.map((s) => s.kpiId)).toEqual([NOTIFY, FINAL])
    expect(after[0]!.value).toBe(0)
    expect(after[1]!.value).toBeGreaterThan(0)
    // Nothing more is owed for the stopped steps.
    expect(a.upsert([notified], T0 + 9 * HOUR).map((s) => s.kpiId)).toEqual([FINAL])
  })

  it('gives a watched series (an open breach restored) its 0 when its clock no longer runs, then forgets the incident', () => {
    const a = area()
    a.watch([{ kpiId: EARLY, incidentId: 'INC-1' }])
    const out = a.upsert([nis2({ regimes: [] })], T0 + HOUR)
    expect(out).toEqual([{ kpiId: EARLY, scope: { incident_id: 'INC-1' }, value: 0, at: T0 + HOUR }])
    expect(a.held).toBe(0)
    expect(a.nextDeadline()).toBeUndefined()
  })
})
