import { describe, expect, it } from 'vitest'
import { toPostableAlerts } from '../../../services/alerter/sinks/alertmanager/sender.js'
import { valueVsThreshold } from '../../../services/alerter/sinks/render.js'
import { alertJobSchema } from '../../../shared/alerts/alert-job.js'
import { parseAlertingConfig, selectSinks } from '../../../shared/alerts/routing.js'
import {
  type BreachState,
  evaluate,
  fingerprint,
  type Hysteresis,
  identify,
  NO_HYSTERESIS,
  OK,
  resolvesAt,
  type Transition,
  toAlertJob,
  toTransitionRow,
} from '../../../shared/kpi/breach-state.js'
import { getKpi } from '../../../shared/kpi/catalog.js'
import { kpiDefinitionVersion } from '../../../shared/kpi/definition-version.js'
import { modelSamples } from '../../../shared/kpi/engine/model.js'
import { DEFAULT_LIFECYCLE, resolveLifecycle, staleAfterConfigured } from '../../../shared/kpi/lifecycle.js'
import { evaluateFreshness, FRESH, type Freshness, staleFingerprint } from '../../../shared/kpi/staleness.js'
import { type EffectiveThresholds, parseAimsConfig } from '../../../shared/kpi/thresholds.js'

const T0 = Date.parse('2026-03-01T00:00:00.000Z')
const MIN = 60_000
const at = (minutes: number) => new Date(T0 + minutes * MIN)

/** higher_is_better like model accuracy: warning below 0.85, critical below 0.8, fires at once. */
const ACCURACY: EffectiveThresholds = {
  enabled: true,
  op: 'lt',
  warning: 0.85,
  critical: 0.8,
  for: '0s',
  forMs: 0,
}

function run(samples: [number, number | null][], hy: Hysteresis, start?: BreachState) {
  let state: BreachState | undefined = start
  const transitions: Transition[] = []
  for (const [minute, value] of samples) {
    const r = evaluate(state, { value, at: at(minute) }, ACCURACY, hy)
    state = r.next
    transitions.push(...r.transitions)
  }
  return { state: state ?? OK, transitions }
}
const kinds = (ts: Transition[]) => ts.map((t) => `${t.kind}@${(t.at.getTime() - T0) / MIN}`)

/** A value crossing the warning threshold at every evaluation, one a minute. */
const oscillating = (n: number): [number, number][] =>
  Array.from({ length: n }, (_, i) => [i, i % 2 === 0 ? 0.83 : 0.9])

describe('hysteresis', () => {
  it('without it, a value oscillating across the threshold opens a breach at every other evaluation', () => {
    const { transitions } = run(oscillating(10), NO_HYSTERESIS)
    expect(transitions.filter((t) => t.kind === 'firing')).toHaveLength(5)
    expect(transitions.filter((t) => t.kind === 'resolved')).toHaveLength(5)
  })

  it('resolve_after: the same oscillation keeps one breach open; N healthy evaluations in a row resolve it', () => {
    const hy = { ...NO_HYSTERESIS, resolveAfter: 3 }
    const flapping = run(oscillating(10), hy)
    expect(kinds(flapping.transitions)).toEqual(['firing@0'])
    expect(flapping.state).toMatchObject({ status: 'firing', startedAt: at(0), clearCount: 1 })
    // Two healthy in a row are not enough; a breaching one starts the count again.
    const interrupted = run(
      [
        [10, 0.9],
        [11, 0.83],
        [12, 0.9],
        [13, 0.9],
      ],
      hy,
      flapping.state,
    )
    expect(interrupted.transitions).toEqual([])
    const healed = run([[14, 0.91]], hy, interrupted.state)
    expect(kinds(healed.transitions)).toEqual(['resolved@14'])
    expect(healed.transitions[0]).toMatchObject({ startedAt: at(0), severity: 'warning', value: 0.91 })
    expect(healed.state).toEqual(OK)
  })

  it('clear: resolves only once the value is beyond the clear threshold, exactly', () => {
    const hy = { ...NO_HYSTERESIS, clear: 0.87 }
    const { transitions, state } = run(
      [
        [0, 0.84], // warning: fires
        [1, 0.86], // ok, but not clear
        [2, 0.84],
        [3, 0.869],
      ],
      hy,
    )
    expect(kinds(transitions)).toEqual(['firing@0'])
    expect(state.status).toBe('firing')
    // lt: 0.87 itself does not cross the clear threshold, so it clears.
    expect(kinds(run([[4, 0.87]], hy, state).transitions)).toEqual(['resolved@4'])
  })

  it('keep_firing_for: the value must stay clear that long; the timer resolves it without a new sample', () => {
    const hy = { ...NO_HYSTERESIS, keepFiringForMs: 10 * MIN }
    const fired = run([[0, 0.7]], hy)
    expect(kinds(fired.transitions)).toEqual(['firing@0'])
    expect(fired.state).toMatchObject({ severity: 'critical' })
    const clear = run(
      [
        [1, 0.9],
        [5, 0.9],
      ],
      hy,
      fired.state,
    )
    expect(clear.transitions).toEqual([])
    // The breach resolves at clearSince + keep_firing_for, which the processor's timer brings.
    expect(resolvesAt(clear.state, hy)).toBe(at(11).getTime())
    // A dip back in resets the clock.
    const dip = run([[6, 0.84]], hy, clear.state)
    expect(resolvesAt(dip.state, hy)).toBeUndefined()
    const again = run(
      [
        [7, 0.9],
        [16, 0.9],
      ],
      hy,
      dip.state,
    )
    expect(again.transitions).toEqual([])
    expect(kinds(run([[17, 0.9]], hy, again.state).transitions)).toEqual(['resolved@17'])
  })

  it('keep_firing_for with resolve_after: no timer before the count is reached', () => {
    const hy = { clear: null, resolveAfter: 3, keepFiringForMs: 5 * MIN }
    const r = run(
      [
        [0, 0.7],
        [1, 0.9],
        [2, 0.9],
      ],
      hy,
    )
    expect(resolvesAt(r.state, hy)).toBeUndefined()
    const third = run([[3, 0.9]], hy, r.state)
    expect(resolvesAt(third.state, hy)).toBe(at(6).getTime())
    expect(kinds(run([[6, 0.9]], hy, third.state).transitions)).toEqual(['resolved@6'])
  })

  it('no data holds the count where it is (missing evidence is not recovery)', () => {
    const hy = { ...NO_HYSTERESIS, resolveAfter: 2 }
    const r = run(
      [
        [0, 0.7],
        [1, 0.9],
        [2, null],
        [3, 0.9],
      ],
      hy,
    )
    expect(kinds(r.transitions)).toEqual(['firing@0', 'resolved@3'])
  })

  it('escalation still happens during a clearing count, and restarts it', () => {
    const hy = { ...NO_HYSTERESIS, resolveAfter: 2 }
    const r = run(
      [
        [0, 0.84],
        [1, 0.9],
        [2, 0.7],
        [3, 0.9],
      ],
      hy,
    )
    expect(r.transitions.map((t) => t.kind)).toEqual(['firing', 'escalated'])
    expect(r.state).toMatchObject({ status: 'firing', severity: 'critical', clearCount: 1 })
  })
})

describe('staleness', () => {
  const DAY = 86_400_000
  const st = { staleAfter: '2d', staleAfterMs: 2 * DAY, staleSeverity: 'warning' as const, staleAlert: true }

  it('goes stale at the exact deadline after the last input, once, and back when an input arrives', () => {
    const input = T0
    const early = evaluateFreshness(FRESH, input, T0 + DAY, st)
    expect(early).toEqual({ next: FRESH, transitions: [], deadline: T0 + 2 * DAY })

    const late = evaluateFreshness(early.next, input, T0 + 2 * DAY + 5000, st)
    expect(late.next).toEqual({
      status: 'stale',
      since: new Date(T0 + 2 * DAY),
      severity: 'warning',
      alerted: true,
    })
    expect(late.transitions).toHaveLength(1)
    expect(late.transitions[0]).toMatchObject({
      kind: 'firing',
      severity: 'warning',
      value: null,
      startedAt: new Date(T0 + 2 * DAY),
      at: new Date(T0 + 2 * DAY),
      stale: { lastInputAt: new Date(T0), after: '2d' },
    })
    expect(late.deadline).toBeUndefined()

    // Evaluating the same old input again (a restart, another trigger) notifies nobody.
    const still = evaluateFreshness(late.next, input, T0 + 3 * DAY, st)
    expect(still).toEqual({ next: late.next, transitions: [], deadline: undefined })

    const back = evaluateFreshness(still.next, T0 + 3 * DAY, T0 + 3 * DAY + 1000, st)
    expect(back.next).toEqual(FRESH)
    expect(back.transitions.map((t) => [t.kind, t.startedAt.getTime()])).toEqual([['resolved', T0 + 2 * DAY]])
    expect(back.deadline).toBe(T0 + 5 * DAY)
  })

  it('stale_alert false: stale and back without an alert', () => {
    const quiet = { ...st, staleAlert: false }
    const gone = evaluateFreshness(FRESH, T0, T0 + 3 * DAY, quiet)
    expect(gone.next).toMatchObject({ status: 'stale', alerted: false })
    expect(gone.transitions).toEqual([])
    const back = evaluateFreshness(gone.next, T0 + 3 * DAY, T0 + 3 * DAY, quiet)
    expect(back.next).toEqual(FRESH)
    expect(back.transitions).toEqual([])
    // An alert sent before the setting changed is still resolved when data returns.
    const alerted: Freshness = { status: 'stale', since: new Date(T0), severity: 'warning', alerted: true }
    expect(
      evaluateFreshness(alerted, T0 + 3 * DAY, T0 + 3 * DAY, quiet).transitions.map((t) => t.kind),
    ).toEqual(['resolved'])
  })

  it('a series no longer watched leaves its stale episode resolved; a fresh one stays quiet', () => {
    const stale: Freshness = { status: 'stale', since: new Date(T0), severity: 'critical', alerted: true }
    const off = { ...st, staleAfter: null, staleAfterMs: null }
    expect(evaluateFreshness(stale, T0, T0 + DAY, off).transitions.map((t) => t.kind)).toEqual(['resolved'])
    expect(evaluateFreshness(stale, null, T0 + DAY, st).transitions.map((t) => t.kind)).toEqual(['resolved'])
    expect(evaluateFreshness(FRESH, null, T0, st)).toEqual({
      next: FRESH,
      transitions: [],
      deadline: undefined,
    })
  })

  it('alerts under its own fingerprint, with a message saying since when, and a row marked stale', () => {
    const kpi = getKpi('model.accuracy')
    const scope = { model_id: 'm', environment: 'production', model_version: '1' }
    const fp = fingerprint(kpi.id, scope)
    const staleFp = staleFingerprint(fp)
    expect(staleFp).toMatch(/^[0-9a-f]{32}$/)
    expect(staleFp).not.toBe(fp)
    const [t] = evaluateFreshness(FRESH, T0, T0 + 3 * DAY, st).transitions
    const identified = identify(kpi.id, scope, t!, staleFp)
    const job = toAlertJob(kpi, identified, 'http://localhost:8080')
    expect(job).toMatchObject({ kind: 'firing', fingerprint: staleFp, severity: 'warning', value: null })
    expect(job.summary).toBe(
      '[WARNING] Model accuracy: stale, no input since 2026-03-01T00:00:00.000Z (expected within 2d), model_id=m, environment=production, model_version=1',
    )
    expect(toTransitionRow(identified).condition).toBe('stale')
    expect(alertJobSchema.parse(job).stale).toEqual({
      lastInputAt: '2026-03-01T00:00:00.000Z',
      expectedWithin: '2d',
    })
  })

  it('sinks say stale, Alertmanager labels it, and routes can take stale alerts apart', () => {
    const kpi = getKpi('model.accuracy')
    const scope = { model_id: 'm', environment: 'production', model_version: '1' }
    const fp = fingerprint(kpi.id, scope)
    const [t] = evaluateFreshness(FRESH, T0, T0 + 3 * DAY, st).transitions
    const stale = toAlertJob(kpi, identify(kpi.id, scope, t!, staleFingerprint(fp)), 'http://x')
    const fired = evaluate(undefined, { value: 0.7, at: at(0) }, ACCURACY).transitions[0]!
    const value = toAlertJob(kpi, identify(kpi.id, scope, fired, fp), 'http://x')
    expect(valueVsThreshold(stale)).toBe(
      'stale: no input since 2026-03-01T00:00:00.000Z (expected within 2d)',
    )
    expect(valueVsThreshold(value)).toContain('vs threshold 0.8')
    const [alert] = toPostableAlerts(stale, { firingEndsAfterSec: 3600 })
    expect(alert!.labels).toMatchObject({
      alertname: 'model.accuracy',
      condition: 'stale',
      fingerprint: stale.fingerprint,
    })
    expect(toPostableAlerts(value, { firingEndsAfterSec: 3600 })[0]!.labels.condition).toBeUndefined()
    const routing = parseAlertingConfig({
      sinks: { pipelines: { type: 'console' }, oncall: { type: 'console' } },
      routes: [
        { match: { condition: 'stale' }, sinks: ['pipelines'] },
        { match: { condition: 'value' }, sinks: ['oncall'] },
      ],
    })
    expect(selectSinks(stale, routing)).toEqual(['pipelines'])
    expect(selectSinks(value, routing)).toEqual(['oncall'])
  })
})

describe('lifecycle config', () => {
  const model = { model_id: 'credit', environment: 'production', model_version: '2' }

  it('resolves area, area overrides, KPI and KPI overrides in order', () => {
    const cfg = parseAimsConfig({
      lifecycle: {
        model: {
          resolve_after: 2,
          overrides: [
            { match: { environment: 'production' }, stale_after: '2d', stale_severity: 'critical' },
          ],
        },
        'model.accuracy': {
          clear: 0.87,
          keep_firing_for: '1h',
          overrides: [{ match: { model_id: 'credit' }, stale_after: null }],
        },
      },
    })
    expect(staleAfterConfigured(cfg)).toBe(true)
    expect(resolveLifecycle(getKpi('model.accuracy'), model, cfg.lifecycle)).toEqual({
      clear: 0.87,
      resolveAfter: 2,
      keepFiringForMs: 3_600_000,
      staleAfter: null,
      staleAfterMs: null,
      staleSeverity: 'critical',
      staleAlert: true,
    })
    expect(resolveLifecycle(getKpi('model.f1'), model, cfg.lifecycle)).toMatchObject({
      clear: null,
      resolveAfter: 2,
      staleAfterMs: 2 * 86_400_000,
    })
    expect(
      resolveLifecycle(getKpi('model.f1'), { ...model, environment: 'staging' }, cfg.lifecycle).staleAfterMs,
    ).toBeNull()
    expect(resolveLifecycle(getKpi('model.f1'), model, undefined)).toEqual(DEFAULT_LIFECYCLE)
    expect(staleAfterConfigured(parseAimsConfig({ lifecycle: { model: { resolve_after: 2 } } }))).toBe(false)
  })

  it("is part of a KPI's definition version when set, and leaves the version alone when not", () => {
    const accuracy = getKpi('model.accuracy')
    const plain = kpiDefinitionVersion(accuracy, parseAimsConfig({}))
    expect(kpiDefinitionVersion(accuracy, parseAimsConfig({ lifecycle: {} }))).toBe(plain)
    expect(
      kpiDefinitionVersion(accuracy, parseAimsConfig({ lifecycle: { audit: { resolve_after: 2 } } })),
    ).toBe(plain)
    const own = kpiDefinitionVersion(
      accuracy,
      parseAimsConfig({ lifecycle: { 'model.accuracy': { resolve_after: 2 } } }),
    )
    const area = kpiDefinitionVersion(
      accuracy,
      parseAimsConfig({ lifecycle: { model: { resolve_after: 2 } } }),
    )
    expect(new Set([plain, own, area]).size).toBe(3)
  })

  it('rejects what cannot work, naming the field', () => {
    const bad = (lifecycle: unknown) => () => parseAimsConfig({ lifecycle }, 'aims.yaml')
    expect(bad({ 'model.accuracy': { clear: 0.82 } })).toThrow(
      'aims.yaml: lifecycle.model.accuracy.clear: must be >= the warning and critical thresholds of model.accuracy',
    )
    expect(bad({ model: { clear: 0.9 } })).toThrow('lifecycle.model.clear: clear is set per KPI')
    expect(bad({ 'model.disparate_impact_ratio': { clear: 0.9 } })).toThrow(/tolerance band/)
    expect(bad({ 'privacy.notification_clock_hours': { stale_after: '2d' } })).toThrow(
      /lifecycle\.privacy\.notification_clock_hours\.stale_after: privacy\.notification_clock_hours is a per-incident clock/,
    )
    // The privacy and audit feeds as a whole are watched through their aggregates.
    expect(() =>
      parseAimsConfig({ lifecycle: { privacy: { stale_after: '30d' }, audit: { stale_after: '90d' } } }),
    ).not.toThrow()
    expect(bad({ model: { stale_after: '0s' } })).toThrow(
      /lifecycle\.model\.stale_after: must be longer than 0s/,
    )
    expect(bad({ model: { resolve_after: 0 } })).toThrow(/lifecycle\.model\.resolve_after/)
    expect(bad({ model: { keep_firing_for: 'soon' } })).toThrow(/lifecycle\.model\.keep_firing_for/)
    expect(bad({ model: { overrides: [{ match: { incident_id: 'x' }, stale_after: '1d' }] } })).toThrow(
      /lifecycle\.model\.overrides\[0\]\.match\.incident_id: "incident_id" is not a scope label/,
    )
    expect(bad({ 'model.nope': {} })).toThrow(/lifecycle: unknown key "model.nope"/)
    expect(bad({ model: { staleAfter: '1d' } })).toThrow(/unknown key "staleAfter"/)
  })
})

describe('model input times', () => {
  it("watch the version each line is evaluated on now, with its latest evaluation's time", () => {
    const v = (environment: string, modelVersion: string, firstSeen: number, lastEventAt: number | null) => ({
      modelId: 'm',
      environment,
      modelVersion,
      firstSeen,
      lastEventAt,
      accuracy: 0.9,
      f1: null,
      auc: null,
      baseline: null,
    })
    const samples = modelSamples(
      [
        v('production', '1', T0, T0 + 10 * MIN), // rolled back to: evaluated last
        v('production', '2', T0 + MIN, T0 + 5 * MIN),
        v('staging', '3', T0, T0 + 2 * MIN),
        v('canary', '1', T0, null),
      ],
      [],
      T0 + 20 * MIN,
    )
    const inputOf = (environment: string, version: string) =>
      samples.find(
        (s) =>
          s.kpiId === 'model.accuracy' &&
          s.scope.environment === environment &&
          s.scope.model_version === version,
      )!.inputAt
    expect(inputOf('production', '1')).toBe(T0 + 10 * MIN)
    expect(inputOf('production', '2')).toBeUndefined()
    expect(inputOf('staging', '3')).toBe(T0 + 2 * MIN)
    expect(inputOf('canary', '1')).toBeUndefined()
    // Every KPI of the watched version carries it.
    const prod1 = samples.filter((s) => s.scope.environment === 'production' && s.scope.model_version === '1')
    expect(prod1.length).toBeGreaterThan(3)
    expect(prod1.every((s) => s.inputAt === T0 + 10 * MIN)).toBe(true)
  })
})
