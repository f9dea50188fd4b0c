import { describe, expect, it } from 'vitest'
import { alertJobId, alertJobSchema } from '../../../shared/alerts/alert-job.js'
import {
  type BreachState,
  breachId,
  classify,
  evaluate,
  evaluateAbsent,
  fingerprint,
  identify,
  OK,
  restoreStates,
  type StoredTransition,
  type Transition,
  toAlertJob,
  toKpiValueRow,
  toTransitionRow,
  transitionId,
} from '../../../shared/kpi/breach-state.js'
import { getKpi } from '../../../shared/kpi/catalog.js'
import { type EffectiveThresholds, resolveThresholds } from '../../../shared/kpi/thresholds.js'

const T0 = Date.parse('2026-03-01T00:00:00.000Z')
const at = (minutes: number) => new Date(T0 + minutes * 60_000)

/** lower_is_better: warning > 0.1, critical > 0.2, for 5 minutes. */
const LOWER: EffectiveThresholds = {
  enabled: true,
  op: 'gt',
  warning: 0.1,
  critical: 0.2,
  for: '5m',
  forMs: 300_000,
}
const NOW_FIRE: EffectiveThresholds = { ...LOWER, for: '0s', forMs: 0 }

/** Feeds (minute, value) samples through the machine; returns every transition and the last state. */
function run(samples: [number, number | null][], th: EffectiveThresholds, start?: BreachState) {
  let state: BreachState | undefined = start
  const transitions: Transition[] = []
  const states: BreachState[] = []
  for (const [minute, value] of samples) {
    const r = evaluate(state, { value, at: at(minute) }, th)
    state = r.next
    states.push(r.next)
    transitions.push(...r.transitions)
  }
  return { state: state ?? OK, transitions, states }
}
const kinds = (ts: Transition[]) => ts.map((t) => `${t.kind}:${t.severity}`)

describe('classify', () => {
  it('compares with the KPI operator, critical first', () => {
    expect(classify(0.05, LOWER)).toBe('ok')
    expect(classify(0.1, LOWER)).toBe('ok') // gt: equal is not a breach
    expect(classify(0.15, LOWER)).toBe('warning')
    expect(classify(0.25, LOWER)).toBe('critical')
    expect(classify(null, LOWER)).toBe('no_data')
    expect(classify(Number.NaN, LOWER)).toBe('no_data')
    const higher: EffectiveThresholds = { ...LOWER, op: 'lt', warning: 0.85, critical: 0.8 }
    expect(classify(0.9, higher)).toBe('ok')
    expect(classify(0.82, higher)).toBe('warning')
    expect(classify(0.79, higher)).toBe('critical')
    const gte: EffectiveThresholds = { ...LOWER, op: 'gte', warning: 48, critical: 72 }
    expect(classify(47.99, gte)).toBe('ok')
    expect(classify(48, gte)).toBe('warning')
    expect(classify(72, gte)).toBe('critical')
  })

  it('never breaches when disabled or without thresholds', () => {
    expect(classify(99, { ...LOWER, enabled: false })).toBe('ok')
    expect(classify(99, { ...LOWER, warning: null, critical: null })).toBe('ok')
    expect(classify(0.15, { ...LOWER, warning: null })).toBe('ok')
    expect(classify(0.25, { ...LOWER, warning: null })).toBe('critical')
  })
})

describe('evaluate', () => {
  it('stays ok while the value is fine', () => {
    const r = run(
      [
        [0, 0.05],
        [1, 0.1],
        [2, 0],
      ],
      LOWER,
    )
    expect(r.state).toEqual(OK)
    expect(r.transitions).toEqual([])
  })

  it('goes pending, then fires once the condition held for `for`', () => {
    const r = run(
      [
        [0, 0.15],
        [2, 0.16],
        [4, 0.17],
      ],
      LOWER,
    )
    expect(r.state).toEqual({ status: 'pending', since: at(0), level: 'warning' })
    expect(r.transitions).toEqual([])
    const fired = evaluate(r.state, { value: 0.18, at: at(5) }, LOWER) // exactly 5 minutes: fires
    expect(fired.transitions).toEqual([
      { kind: 'firing', severity: 'warning', value: 0.18, threshold: 0.1, startedAt: at(5), at: at(5) },
    ])
    expect(fired.next).toEqual({
      status: 'firing',
      startedAt: at(5),
      severity: 'warning',
      current: 'warning',
    })
  })

  it('does not fire one millisecond early', () => {
    const pending = evaluate(undefined, { value: 0.15, at: at(0) }, LOWER).next
    const early = evaluate(pending, { value: 0.15, at: new Date(at(5).getTime() - 1) }, LOWER)
    expect(early.transitions).toEqual([])
    expect(early.next.status).toBe('pending')
  })

  it('fires at once when `for` is 0', () => {
    const r = evaluate(undefined, { value: 0.3, at: at(0) }, NOW_FIRE)
    expect(kinds(r.transitions)).toEqual(['firing:critical'])
    expect(r.transitions[0]!.threshold).toBe(0.2)
  })

  it('clears a pending breach silently', () => {
    const r = run(
      [
        [0, 0.15],
        [3, 0.05],
      ],
      LOWER,
    )
    expect(r.state).toEqual(OK)
    expect(r.transitions).toEqual([])
  })

  it('fires critical directly when the value went critical while pending', () => {
    const r = run(
      [
        [0, 0.15],
        [3, 0.25],
        [5, 0.3],
      ],
      LOWER,
    )
    expect(kinds(r.transitions)).toEqual(['firing:critical'])
  })

  it('fires at the level of the sample that completes `for`', () => {
    const r = run(
      [
        [0, 0.3],
        [3, 0.3],
        [5, 0.15],
      ],
      LOWER,
    )
    expect(kinds(r.transitions)).toEqual(['firing:warning'])
  })

  it('notifies once while the breach holds, then resolves', () => {
    const r = run(
      [
        [0, 0.15],
        [5, 0.15],
        [6, 0.16],
        [7, 0.19],
        [60, 0.12],
        [61, 0.02],
      ],
      LOWER,
    )
    expect(kinds(r.transitions)).toEqual(['firing:warning', 'resolved:warning'])
    const resolved = r.transitions[1]!
    expect(resolved).toEqual({
      kind: 'resolved',
      severity: 'warning',
      value: 0.02,
      threshold: 0.1,
      startedAt: at(5),
      at: at(61),
    })
    expect(r.state).toEqual(OK)
  })

  it('escalates warning → critical once critical held for `for`', () => {
    const r = run(
      [
        [0, 0.15],
        [5, 0.15],
        [10, 0.25],
        [12, 0.26],
        [15, 0.27],
        [16, 0.3],
      ],
      LOWER,
    )
    expect(kinds(r.transitions)).toEqual(['firing:warning', 'escalated:critical'])
    const esc = r.transitions[1]!
    expect(esc).toMatchObject({ previousSeverity: 'warning', threshold: 0.2, startedAt: at(5), at: at(15) })
    expect(r.state).toEqual({ status: 'firing', startedAt: at(5), severity: 'critical', current: 'critical' })
  })

  it('escalates at once when `for` is 0', () => {
    const r = run(
      [
        [0, 0.15],
        [1, 0.25],
      ],
      NOW_FIRE,
    )
    expect(kinds(r.transitions)).toEqual(['firing:warning', 'escalated:critical'])
  })

  it('drops a pending escalation when the value falls back to warning', () => {
    const r = run(
      [
        [0, 0.15],
        [5, 0.15],
        [10, 0.25],
        [12, 0.15],
        [14, 0.25],
        [18, 0.25],
      ],
      LOWER,
    )
    expect(kinds(r.transitions)).toEqual(['firing:warning']) // critical since 14 only: 4 minutes
    expect(r.state).toMatchObject({
      status: 'firing',
      severity: 'warning',
      current: 'critical',
      criticalSince: at(14),
    })
  })

  it('de-escalates critical → warning silently and keeps the breach critical', () => {
    const r = run(
      [
        [0, 0.3],
        [5, 0.3],
        [6, 0.15],
        [7, 0.3],
        [8, 0.15],
      ],
      LOWER,
    )
    expect(kinds(r.transitions)).toEqual(['firing:critical'])
    expect(r.state).toEqual({ status: 'firing', startedAt: at(5), severity: 'critical', current: 'warning' })
    const resolved = evaluate(r.state, { value: 0.01, at: at(9) }, LOWER)
    expect(kinds(resolved.transitions)).toEqual(['resolved:critical'])
    expect(resolved.transitions[0]!.threshold).toBe(0.2)
  })

  it('holds every state on no data', () => {
    expect(evaluate(undefined, { value: null, at: at(0) }, LOWER)).toEqual({ next: OK, transitions: [] })
    const pending: BreachState = { status: 'pending', since: at(0), level: 'warning' }
    expect(evaluate(pending, { value: null, at: at(30) }, LOWER)).toEqual({ next: pending, transitions: [] })
    const firing: BreachState = {
      status: 'firing',
      startedAt: at(0),
      severity: 'critical',
      current: 'critical',
    }
    expect(evaluate(firing, { value: null, at: at(30) }, LOWER)).toEqual({ next: firing, transitions: [] })
    // a pending that saw only no_data after its start fires on the next breaching sample
    expect(kinds(evaluate(pending, { value: 0.15, at: at(31) }, LOWER).transitions)).toEqual([
      'firing:warning',
    ])
  })

  it('resolves a firing breach when the KPI gets disabled or loses its thresholds', () => {
    const firing: BreachState = {
      status: 'firing',
      startedAt: at(0),
      severity: 'warning',
      current: 'warning',
    }
    expect(
      kinds(evaluate(firing, { value: 0.5, at: at(1) }, { ...LOWER, enabled: false }).transitions),
    ).toEqual(['resolved:warning'])
    const none = { ...LOWER, warning: null, critical: null }
    const r = evaluate(firing, { value: 0.5, at: at(1) }, none)
    expect(r.transitions[0]).toMatchObject({ kind: 'resolved', threshold: null })
  })

  it('damps flapping around the threshold with `for`', () => {
    // value crosses 0.1 back and forth every minute for an hour: never held 5 minutes → never fires
    const samples: [number, number][] = Array.from({ length: 60 }, (_, m) => [m, m % 2 === 0 ? 0.11 : 0.09])
    expect(run(samples, LOWER).transitions).toEqual([])
    // without `for`, each up-crossing is a new breach with its own id
    const flapping = run(samples.slice(0, 6), NOW_FIRE).transitions
    expect(kinds(flapping)).toEqual([
      'firing:warning',
      'resolved:warning',
      'firing:warning',
      'resolved:warning',
      'firing:warning',
      'resolved:warning',
    ])
    const ids = flapping.map((t) => transitionId('fp', t.startedAt, t.kind, t.severity))
    expect(new Set(ids).size).toBe(6)
  })

  it('resolves a vanished scope and clears a vanished pending', () => {
    const firing: BreachState = {
      status: 'firing',
      startedAt: at(0),
      severity: 'critical',
      current: 'critical',
    }
    const r = evaluateAbsent(firing, at(10), LOWER)
    expect(r.transitions).toEqual([
      { kind: 'resolved', severity: 'critical', value: null, threshold: 0.2, startedAt: at(0), at: at(10) },
    ])
    expect(evaluateAbsent({ status: 'pending', since: at(0), level: 'warning' }, at(1), LOWER)).toEqual({
      next: OK,
      transitions: [],
    })
    expect(evaluateAbsent(undefined, at(1), LOWER)).toEqual({ next: OK, transitions: [] })
  })

  it('is deterministic: replaying the same samples yields the same transitions and ids', () => {
    const samples: [number, number | null][] = [
      [0, 0.15],
      [5, 0.16],
      [9, null],
      [10, 0.3],
      [15, 0.3],
      [20, 0.12],
      [25, 0.01],
      [30, 0.5],
      [35, 0.5],
    ]
    const a = run(samples, LOWER)
    const b = run(samples, LOWER)
    expect(b.transitions).toEqual(a.transitions)
    const ids = (ts: Transition[]) =>
      ts.map((t) => identify('model.accuracy_gap', { model_id: 'm' }, t).transitionId)
    expect(ids(b.transitions)).toEqual(ids(a.transitions))
    expect(kinds(a.transitions)).toEqual([
      'firing:warning',
      'escalated:critical',
      'resolved:critical',
      'firing:critical',
    ])
  })
})

describe('identity', () => {
  it('fingerprint is stable, label-order independent and distinguishes scopes', () => {
    const a = fingerprint('model.accuracy', { model_id: 'm1', model_version: '3' })
    const b = fingerprint('model.accuracy', { model_version: '3', model_id: 'm1' })
    expect(a).toBe(b)
    expect(a).toMatch(/^[0-9a-f]{32}$/)
    expect(fingerprint('model.accuracy', { model_id: 'm1', model_version: '4' })).not.toBe(a)
    expect(fingerprint('model.f1', { model_id: 'm1', model_version: '3' })).not.toBe(a)
    // no ambiguity from separators inside values
    expect(fingerprint('k', { a: 'x,b=y' })).not.toBe(fingerprint('k', { a: 'x', b: 'y' }))
    expect(fingerprint('privacy.mttc_hours', {})).toBe(fingerprint('privacy.mttc_hours', {}))
  })

  it('breach and transition ids derive from the fingerprint, start, kind and severity; safe as job ids', () => {
    const fp = fingerprint('privacy.notification_clock_hours', { incident_id: 'INC-1' })
    const start = new Date('2026-03-01T10:00:00.000Z')
    expect(breachId(fp, start)).toBe(`${fp}-${start.getTime()}`)
    const id = transitionId(fp, start, 'escalated', 'critical')
    expect(id).toBe(`${fp}-${start.getTime()}-escalated-critical`)
    expect(alertJobId(id)).toBe(id)
    expect(transitionId(fp, start, 'firing', 'warning')).not.toBe(id)
  })
})

describe('mapping', () => {
  const kpi = getKpi('model.disparate_impact_ratio')
  const scope = { model_id: 'credit-scoring', model_version: '7', attribute: 'sex' }
  const th = resolveThresholds(kpi, scope)
  const fired = evaluate(undefined, { value: 0.62, at: at(0) }, th).transitions[0]!
  const t = identify(kpi.id, scope, fired)

  it('maps a transition to a breach_transitions row (0002 columns)', () => {
    const row = toTransitionRow(t)
    expect(Object.keys(row).sort()).toEqual(
      [
        'transition_id',
        'breach_id',
        'fingerprint',
        'kpi_id',
        'scope',
        'transition',
        'state',
        'severity',
        'previous_severity',
        'value',
        'threshold',
        'started_at',
        'at',
      ].sort(),
    )
    expect(row).toMatchObject({
      transition_id: t.transitionId,
      breach_id: t.breachId,
      kpi_id: 'model.disparate_impact_ratio',
      transition: 'firing',
      state: 'firing',
      severity: 'warning', // 0.62 < 0.8 (warning) but not < 0.6 (critical)
      previous_severity: '',
      value: 0.62,
      started_at: '2026-03-01 00:00:00.000',
      at: '2026-03-01 00:00:00.000',
    })
  })

  it('maps a transition to a valid alert job', () => {
    const job = toAlertJob(kpi, t, 'https://aims.example.com/')
    expect(alertJobSchema.parse(job)).toEqual(job)
    expect(job).toMatchObject({
      transitionId: t.transitionId,
      fingerprint: t.fingerprint,
      kind: 'firing',
      kpi: { id: kpi.id, direction: 'higher_is_better', area: 'model' },
      scope,
      value: 0.62,
      startsAt: '2026-03-01T00:00:00.000Z',
      iso: kpi.iso,
    })
    expect(job.summary).toContain('Disparate impact ratio')
    expect(job.summary).toContain('model_id=credit-scoring')
    expect(job.links.api).toBe(`https://aims.example.com/api/breaches/${t.breachId}`)
    expect(job.previousSeverity).toBeUndefined()
  })

  it('carries previousSeverity on escalation and the crossed threshold on resolve', () => {
    const firing: BreachState = {
      status: 'firing',
      startedAt: at(0),
      severity: 'warning',
      current: 'warning',
    }
    const esc = evaluate(firing, { value: 0.5, at: at(1) }, { ...th, forMs: 0 }).transitions[0]!
    const job = toAlertJob(kpi, identify(kpi.id, scope, esc), 'http://x')
    expect(job).toMatchObject({
      kind: 'escalated',
      severity: 'critical',
      previousSeverity: 'warning',
      threshold: 0.6,
    })
    expect(toTransitionRow(identify(kpi.id, scope, esc)).previous_severity).toBe('warning')
    const res = evaluate({ ...firing, severity: 'critical' }, { value: 0.95, at: at(2) }, th).transitions[0]!
    const resolvedJob = toAlertJob(kpi, identify(kpi.id, scope, res), 'http://x')
    expect(resolvedJob).toMatchObject({ kind: 'resolved', severity: 'critical', threshold: 0.6, value: 0.95 })
    expect(resolvedJob.summary).toMatch(/^\[RESOLVED\]/)
  })

  it('maps a sample to a kpi_values row', () => {
    expect(toKpiValueRow(kpi.id, scope, { value: 0.7, at: at(0) }, th)).toEqual({
      evaluated_at: '2026-03-01 00:00:00.000',
      kpi_id: kpi.id,
      fingerprint: fingerprint(kpi.id, scope),
      scope,
      value: 0.7,
      status: 'warning',
      warning_threshold: 0.8,
      critical_threshold: 0.6,
      n: null,
      ci_low: null,
      ci_high: null,
      reason: '',
    })
  })
})

describe('restoreStates', () => {
  const kpiId = 'model.accuracy'
  const scope = { model_id: 'm', model_version: '1' }
  const fp = fingerprint(kpiId, scope)
  const row = (
    transition: string,
    severity: string,
    startedAt: string,
    atText: string,
  ): StoredTransition => ({
    fingerprint: fp,
    kpi_id: kpiId,
    scope,
    transition,
    severity,
    started_at: startedAt,
    at: atText,
  })

  it('continues a firing or escalated breach and forgets resolved ones', () => {
    const restored = restoreStates([
      row('firing', 'warning', '2026-03-01T00:05:00.000Z', '2026-03-01T00:05:00.000Z'),
      row('escalated', 'critical', '2026-03-01T00:05:00.000Z', '2026-03-01 00:15:00.000'),
      row('escalated', 'critical', '2026-03-01T00:05:00.000Z', '2026-03-01 00:15:00.000'), // duplicate row
    ])
    expect(restored.get(fp)).toEqual({
      kpiId,
      scope,
      state: { status: 'firing', startedAt: at(5), severity: 'critical', current: 'critical' },
    })
    const closed = restoreStates([
      row('firing', 'warning', '2026-03-01 00:05:00.000', '2026-03-01 00:05:00.000'),
      row('resolved', 'warning', '2026-03-01 00:05:00.000', '2026-03-01 00:30:00.000'),
    ])
    expect(closed.size).toBe(0)
  })

  it('lets a restarted processor derive the same resolve id as one that never stopped', () => {
    const samples: [number, number][] = [
      [0, 0.15],
      [5, 0.15],
      [10, 0.3],
      [15, 0.3],
      [20, 0.01],
    ]
    const uninterrupted = run(samples, LOWER).transitions.map((t) => identify(kpiId, scope, t))
    // the processor stops after minute 15; what it had written is read back
    const written = run(samples.slice(0, 4), LOWER).transitions.map((t) => identify(kpiId, scope, t))
    const stored = written.map((t) => {
      const r = toTransitionRow(t)
      return {
        fingerprint: r.fingerprint,
        kpi_id: r.kpi_id,
        scope: r.scope,
        transition: r.transition,
        severity: r.severity,
        started_at: r.started_at,
        at: r.at,
      }
    })
    const restored = restoreStates(stored).get(fp)!.state
    const after = evaluate(restored, { value: 0.01, at: at(20) }, LOWER).transitions.map((t) =>
      identify(kpiId, scope, t),
    )
    expect(after.map((t) => t.transitionId)).toEqual([uninterrupted[2]!.transitionId])
    expect(uninterrupted.map((t) => t.kind)).toEqual(['firing', 'escalated', 'resolved'])
  })
})
