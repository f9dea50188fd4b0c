import { describe, expect, it } from 'vitest'
import { alertJobSchema } from '../../../shared/alerts/alert-job.js'
import {
  type BreachState,
  classify,
  evaluate,
  identify,
  judgeSample,
  reasonCodes,
  type Sample,
  toAlertJob,
  toKpiValueRow,
} from '../../../shared/kpi/breach-state.js'
import { getKpi, KPIS } from '../../../shared/kpi/catalog.js'
import {
  type FairnessGroupFacts,
  fairnessKpiSample,
  type ModelVersionFacts,
  modelPlan,
  modelSamples,
  versionKey,
} from '../../../shared/kpi/engine/model.js'
import type { Sample as EngineSample } from '../../../shared/kpi/engine/sample.js'
import { katzRatioInterval, rational } from '../../../shared/kpi/fairness/index.js'
import {
  enabledKpis,
  parseAimsConfig,
  resolveFairnessSettings,
  resolveThresholds,
} from '../../../shared/kpi/thresholds.js'

/**
 * Fairness in the pipeline (issue 12): the catalog and config, the engine's samples from group counts
 * (prediction-only counts, labels arriving later, intersections, derived metrics), and the breach machine
 * judging them exactly, with insufficient data and the interval policy.
 */

const T0 = Date.parse('2026-03-01T00:00:00.000Z')
const at = (minutes: number) => new Date(T0 + minutes * 60_000)
const PROD = { model_id: 'm', environment: 'production', model_version: '1', attribute: 'sex' }
const DIR = getKpi('model.disparate_impact_ratio')
const GAP = getKpi('model.accuracy_gap')
const DPD = getKpi('model.demographic_parity_difference')
const EOD = getKpi('model.equalized_odds_difference')

function issuesOf(input: unknown): string[] {
  try {
    parseAimsConfig(input, 'aims.yaml')
  } catch (err) {
    return (err as { issues: string[] }).issues
  }
  throw new Error('expected a ConfigError')
}

type Counts = { tp?: number; fp?: number; tn?: number; fn?: number; selected?: number; total?: number }
function group(name: string, c: Counts, o: { attribute?: string; version?: number; cells?: string[] } = {}) {
  return {
    modelId: 'm',
    environment: 'production',
    modelVersion: '1',
    attribute: o.attribute ?? 'sex',
    group: name,
    version: versionKey(o.version ?? 1),
    tp: c.tp ?? 0,
    fp: c.fp ?? 0,
    tn: c.tn ?? 0,
    fn: c.fn ?? 0,
    selected: c.selected ?? 0,
    total: c.total ?? 0,
    cellAttributes: o.cells ?? [],
  } satisfies FairnessGroupFacts
}
const version = (o: Partial<ModelVersionFacts> = {}): ModelVersionFacts => ({
  modelId: 'm',
  environment: 'production',
  modelVersion: '1',
  firstSeen: 1,
  accuracy: null,
  f1: null,
  auc: null,
  baseline: null,
  ...o,
})

const find = (samples: EngineSample[], kpiId: string, scope: Record<string, string> = PROD) =>
  samples.find((s) => s.kpiId === kpiId && JSON.stringify(s.scope) === JSON.stringify(scope))!
const machine = (s: EngineSample, minutes = 0): Sample => ({ ...s, at: at(minutes) })

/** A ratio sample as the engine makes it from selected-of-total counts of two groups. */
function ratioSample(
  x1: number,
  n1: number,
  x2: number,
  n2: number,
  config?: Parameters<typeof resolveFairnessSettings>[2],
) {
  return fairnessKpiSample(
    DIR,
    PROD,
    [group('a', { selected: x1, total: n1 }), group('b', { selected: x2, total: n2 })],
    T0,
    config,
  )
}

describe('the catalog and the config file', () => {
  it('holds the whole parity set, four on by default, the rest on when the config says so', () => {
    const fairness = KPIS.filter((k) => k.fairness)
    expect(fairness).toHaveLength(21)
    expect(
      enabledKpis(undefined)
        .filter((k) => k.fairness)
        .map((k) => k.id),
    ).toEqual([
      'model.demographic_parity_difference',
      'model.disparate_impact_ratio',
      'model.equalized_odds_difference',
      'model.accuracy_gap',
    ])
    const config = parseAimsConfig({
      kpis: {
        'model.equal_opportunity_difference': { enabled: true },
        'model.accuracy_gap': { enabled: false },
      },
    })
    const on = enabledKpis(config).map((k) => k.id)
    expect(on).toContain('model.equal_opportunity_difference')
    expect(on).not.toContain('model.accuracy_gap')
    expect(on).toContain('model.label_coverage')
    expect(getKpi('model.average_odds_difference').fairness?.reference).toBe('majority')
  })

  it('resolves policy, minimum sample and reference per KPI and scope, over the module defaults', () => {
    expect(resolveFairnessSettings(DIR, PROD)).toEqual({
      reference: 'spread',
      policy: 'point',
      level: 0.95,
      minSamples: 30,
      belowMinimum: 'exclude',
      maxCells: 64,
    })
    const config = parseAimsConfig({
      fairness: { policy: 'interval', minSamples: 50, level: 0.9 },
      kpis: {
        'model.disparate_impact_ratio': {
          reference: 'majority',
          overrides: [
            { match: { attribute: 'sex' }, reference: { group: 'male' }, minSamples: 200 },
            { match: { model_id: 'other' }, policy: 'point' },
          ],
        },
      },
    })
    expect(resolveFairnessSettings(DIR, PROD, config)).toMatchObject({
      reference: { group: 'male' },
      policy: 'interval',
      level: 0.9,
      minSamples: 200,
    })
    expect(resolveFairnessSettings(DIR, { ...PROD, attribute: 'age' }, config).reference).toBe('majority')
    expect(resolveFairnessSettings(DPD, PROD, config).reference).toBe('spread')
    expect(resolveThresholds(DIR, { ...PROD, model_id: 'other' }, config).fairness).toEqual({
      form: 'ratio',
      policy: 'point',
    })
    expect(resolveThresholds(getKpi('model.accuracy'), PROD, config).fairness).toBeUndefined()
  })

  it('rejects impossible fairness settings, naming the field', () => {
    const issues = issuesOf({
      fairness: { policy: 'sometimes', minSamples: 0 },
      kpis: {
        'model.disparate_impact_ratio': {
          warning: 1.2,
          overrides: [{ match: { attribute: 'x' }, critical: 0 }],
        },
        'model.accuracy_gap': { warning: 0.0500000000001, reference: { group: '' } },
        'model.average_odds_difference': { reference: 'spread' },
        'model.equalized_odds_ratio': { overrides: [{ match: { attribute: 'x' }, reference: 'best' }] },
        'model.accuracy': { policy: 'interval' },
      },
    })
    expect([...issues].sort()).toEqual(
      [
        'aims.yaml: kpis.model.disparate_impact_ratio.warning: model.disparate_impact_ratio is a ratio judged against the band [t, 1/t]: t must be in (0, 1], got 1.2',
        'aims.yaml: kpis.model.disparate_impact_ratio.overrides[0].critical: model.disparate_impact_ratio is a ratio judged against the band [t, 1/t]: t must be in (0, 1], got 0',
        'aims.yaml: kpis.model.accuracy_gap.reference.group: Too small: expected string to have >=1 characters',
        'aims.yaml: kpis.model.accuracy_gap.warning: 0.0500000000001 has more than 12 fractional digits (thresholds are exact decimals with at most 12)',
        'aims.yaml: kpis.model.average_odds_difference.reference: average_odds compares each group with a reference group (majority, best or a named group)',
        'aims.yaml: kpis.model.equalized_odds_ratio.overrides[0].reference: the equalized odds ratio is defined over the spread (min of the TPR and FPR ratios) only',
        'aims.yaml: kpis.model.accuracy: unknown key "policy"',
        'aims.yaml: fairness.policy: Invalid option: expected one of "point"|"interval"',
        'aims.yaml: fairness.minSamples: must be >= 1',
      ].sort(),
    )
  })
})

describe('judging fairness values exactly', () => {
  const th = resolveThresholds(DIR, PROD)

  it('passes a ratio of exactly 4/5 that IEEE-754 computes as 0.7999999999999999, fires at 0.79', () => {
    const exact = ratioSample(600, 1000, 750, 1000) // 0.6 / 0.75
    expect(exact.value).toBe(0.7999999999999999)
    expect(exact.exact).toEqual(rational(4, 5))
    expect(classify(exact, th)).toBe('ok')
    expect(classify(0.7999999999999999, th)).toBe('warning') // the same double without its rational
    expect(classify(ratioSample(5925, 10_000, 7500, 10_000), th)).toBe('warning') // exactly 0.79
    expect(classify(ratioSample(450, 1000, 750, 1000), th)).toBe('warning') // exactly 0.6: the critical edge passes
    expect(classify(ratioSample(440, 1000, 750, 1000), th)).toBe('critical')
  })

  it('does not fire an accuracy gap of exactly 0.75 − 0.70 (0.050000000000000044 in floating point)', () => {
    const s = fairnessKpiSample(
      GAP,
      PROD,
      [
        group('a', { tp: 375, tn: 375, fp: 125, fn: 125 }),
        group('b', { tp: 350, tn: 350, fp: 150, fn: 150 }),
      ],
      T0,
    )
    expect(s.value).toBe(0.050000000000000044)
    expect(s.exact).toEqual(rational(1, 20))
    expect(classify(s, resolveThresholds(GAP, PROD))).toBe('ok')
  })

  it('judges ratios against the band [t, 1/t] in both directions for reference forms', () => {
    const config = parseAimsConfig({
      kpis: { 'model.disparate_impact_ratio': { reference: { group: 'a' } } },
    })
    const thr = resolveThresholds(DIR, PROD, config)
    const favoured = (x: number) => ratioSample(400, 1000, x, 1000, config) // b against a
    expect(classify(favoured(500), thr)).toBe('ok') // exactly 1.25 = 1 / 0.8
    expect(classify(favoured(501), thr)).toBe('warning')
    expect(favoured(501).comparisons).toHaveLength(1)
  })

  it('under the interval policy: 0.7 from 20 samples is uncertain, from 200,000 it breaches', () => {
    const config = parseAimsConfig({
      kpis: { 'model.disparate_impact_ratio': { policy: 'interval', minSamples: 10 } },
    })
    const thr = resolveThresholds(DIR, PROD, config)
    const small = ratioSample(7, 10, 10, 10, config)
    expect(small.value).toBeCloseTo(0.7, 15)
    expect([small.ci_low, small.ci_high]).toEqual(
      Object.values(katzRatioInterval(7, 10, 10, 10, 0.95)).map((v) => v),
    )
    expect(small.ci_high!).toBeGreaterThan(0.8)
    expect(judgeSample(small, thr)).toEqual({ status: 'ok', uncertain: 'warning' })
    const row = toKpiValueRow(DIR.id, PROD, machine(small), thr)
    expect(row).toMatchObject({ status: 'ok', n: 20 })
    expect(reasonCodes(row.reason)).toEqual(['uncertain_warning'])
    expect(evaluate(undefined, machine(small), thr).transitions).toEqual([])

    const large = ratioSample(70_000, 100_000, 100_000, 100_000, config)
    expect(large.ci_high!).toBeLessThan(0.8)
    expect(judgeSample(large, thr)).toEqual({ status: 'warning', uncertain: null })
    // The point policy fires on the small sample too.
    expect(
      classify(small, resolveThresholds(DIR, PROD, parseAimsConfig({ fairness: { minSamples: 10 } }))),
    ).toBe('warning')
  })
})

describe('insufficient data in the breach machine', () => {
  const th = { ...resolveThresholds(DIR, PROD), for: '5m', forMs: 300_000 }
  const single = fairnessKpiSample(DIR, PROD, [group('only', { selected: 30, total: 100 })], T0)
  const breaching = ratioSample(300, 1000, 600, 1000)

  it('is its own status, never ok', () => {
    expect(single.value).toBeNull()
    expect(reasonCodes(single.reason)).toEqual(['too_few_groups'])
    expect(classify(single, th)).toBe('insufficient_data')
    expect(classify({ value: null }, th)).toBe('no_data')
    expect(toKpiValueRow(DIR.id, PROD, machine(single), th)).toMatchObject({
      value: null,
      status: 'insufficient_data',
      n: null,
      ci_low: null,
    })
  })

  it('never resolves a firing breach and never advances a pending one', () => {
    const firing: BreachState = {
      status: 'firing',
      startedAt: at(0),
      severity: 'critical',
      current: 'critical',
    }
    const held = evaluate(firing, machine(single, 10), th)
    expect(held).toEqual({ next: firing, transitions: [] })
    // pending since 0; insufficient data past the `for` does not fire it, nor clear it
    const pending = evaluate(undefined, machine(breaching, 0), th).next
    expect(pending.status).toBe('pending')
    const later = evaluate(pending, machine(single, 6), th)
    expect(later).toEqual({ next: pending, transitions: [] })
    // a healthy value resolves the breach
    const resolved = evaluate(firing, machine(ratioSample(700, 1000, 750, 1000), 20), th)
    expect(resolved.transitions.map((t) => t.kind)).toEqual(['resolved'])
  })

  it('carries n and the interval into the alert job and its summary', () => {
    const r = evaluate(undefined, machine(breaching), resolveThresholds(DIR, PROD))
    const t = identify(DIR.id, PROD, r.transitions[0]!)
    const job = toAlertJob(DIR, t, 'http://aims.example')
    expect(alertJobSchema.parse(job)).toEqual(job)
    expect(job.uncertainty).toEqual({ n: 2000, ciLow: breaching.ci_low, ciHigh: breaching.ci_high })
    expect(job.summary).toMatch(
      /^\[CRITICAL\] Disparate impact ratio: 0\.5 \[CI 0\.4\d+–0\.5\d+, n=2000\] \(tolerance 0\.6–1\.667\)/,
    )
  })
})

describe('model samples from counts', () => {
  it('computes selection-rate KPIs from prediction-only counts at once, label-dependent ones after labels', () => {
    const predictions = [
      group('female', { selected: 300, total: 1000 }),
      group('male', { selected: 400, total: 1000 }),
    ]
    let s = modelSamples([version()], predictions, T0)
    expect(find(s, DIR.id).value).toBe(0.3 / 0.4)
    expect(find(s, DPD.id).value).toBeCloseTo(0.1, 15)
    expect(reasonCodes(find(s, EOD.id).reason)).toEqual(['labels_missing'])
    expect(reasonCodes(find(s, GAP.id).reason)).toEqual(['labels_missing'])
    expect(
      find(s, 'model.label_coverage', { model_id: 'm', environment: 'production', model_version: '1' }).value,
    ).toBe(0)

    // Labels for 600 of each group's predictions arrive with the next evaluation.
    const labelled = [
      group('female', { selected: 300, total: 1000, tp: 150, fp: 30, tn: 380, fn: 40 }, { version: 2 }),
      group('male', { selected: 400, total: 1000, tp: 200, fp: 40, tn: 320, fn: 40 }, { version: 2 }),
    ]
    s = modelSamples([version()], [...predictions, ...labelled], T0)
    expect(find(s, DIR.id).value).toBe(0.3 / 0.4) // still from every prediction
    expect(find(s, EOD.id).value).not.toBeNull()
    expect(find(s, EOD.id).n).toBeGreaterThan(0)
    expect(
      find(s, 'model.label_coverage', { model_id: 'm', environment: 'production', model_version: '1' }).value,
    ).toBe(0.6)
  })

  it('assesses an intersection over its cells (small ones insufficient) and caps their number', () => {
    const cells = ['sex', 'age']
    const cell = (name: string, selected: number, total: number) =>
      group(name, { selected, total }, { attribute: 'sex×age', cells })
    const groups = [
      cell('sex=f;age=old', 4, 20),
      cell('sex=f;age=young', 5, 20),
      cell('sex=m;age=old', 60, 200),
      cell('sex=m;age=young', 8, 20),
      group('f', { selected: 9, total: 40 }),
      group('m', { selected: 68, total: 220 }),
    ]
    const s = modelSamples([version()], groups, T0)
    const x = find(s, DIR.id, { ...PROD, attribute: 'sex×age' })
    expect(x.value).toBeNull()
    expect(reasonCodes(x.reason)).toEqual(['too_few_groups'])
    expect(x.reason).toContain('"sex=f;age=old" selection_rate below_minimum (n=20)')
    const parent = find(s, DIR.id)
    expect(parent.value).toBe(9 / 40 / (68 / 220))
    expect(parent.n).toBe(260)

    const capped = modelSamples(
      [version()],
      groups,
      T0,
      modelPlan(parseAimsConfig({ fairness: { maxCells: 3 } })),
    )
    expect(reasonCodes(find(capped, DIR.id, { ...PROD, attribute: 'sex×age' }).reason)).toEqual([
      'too_many_cells',
    ])
    expect(find(capped, DIR.id).value).not.toBeNull() // plain attributes are not capped
  })

  it('lists excluded groups in the reason of a value that is still estimable', () => {
    const s = fairnessKpiSample(
      DIR,
      PROD,
      [
        group('a', { selected: 30, total: 100 }),
        group('b', { selected: 40, total: 100 }),
        group('c', { selected: 1, total: 5 }),
      ],
      T0,
    )
    expect(s.value).toBe(0.3 / 0.4)
    expect(s.reason).toBe('excluded_groups: "c" selection rate below the minimum sample (n=5 < 30)')
  })

  it('derives accuracy, precision, recall and F1 from counts; a reported value wins and disagreement is flagged', () => {
    const counts = [
      group('a', { tp: 40, fp: 10, tn: 40, fn: 10 }),
      group('b', { tp: 30, fp: 20, tn: 30, fn: 20 }),
    ]
    const scope = { model_id: 'm', environment: 'production', model_version: '1' }
    let s = modelSamples([version()], counts, T0)
    // overall tp 70, fp 30, tn 70, fn 30
    expect(find(s, 'model.accuracy', scope)).toMatchObject({ value: 140 / 200 })
    expect(find(s, 'model.precision', scope).value).toBe(70 / 100)
    expect(find(s, 'model.recall', scope).value).toBe(70 / 100)
    expect(find(s, 'model.f1', scope).value).toBe(140 / 200)
    expect(reasonCodes(find(s, 'model.accuracy', scope).reason)).toEqual(['derived'])
    // reported 0.702 is within rounding (0.5/200 = 0.0025); 0.75 is not
    s = modelSamples([version({ accuracy: 0.702, precision: 0.75 })], counts, T0)
    expect(find(s, 'model.accuracy', scope)).toMatchObject({ value: 0.702, reason: null })
    expect(find(s, 'model.precision', scope).value).toBe(0.75)
    expect(find(s, 'model.precision', scope).reason).toMatch(
      /^disagreement: reported 0\.75, 0\.7 derived from the confusion counts of "sex"/,
    )
  })

  it('computes only the fairness KPIs of the plan, with their reference group', () => {
    const config = parseAimsConfig({
      kpis: {
        'model.equal_opportunity_difference': { enabled: true, reference: 'majority' },
        'model.accuracy_gap': { enabled: false },
      },
    })
    const counts = [
      group('a', { tp: 40, fp: 10, tn: 40, fn: 10 }),
      group('b', { tp: 30, fp: 20, tn: 30, fn: 20 }),
      group('c', { tp: 90, fp: 10, tn: 90, fn: 10 }),
    ]
    const s = modelSamples([version()], counts, T0, modelPlan(config))
    expect(s.some((x) => x.kpiId === GAP.id)).toBe(false)
    const eo = find(s, 'model.equal_opportunity_difference')
    // TPR a 0.8, b 0.6, c 0.9; majority c (200 samples): a − c = −0.1, b − c = −0.3 (the headline)
    expect(eo.value).toBeCloseTo(-0.3, 15)
    expect(eo.exact).toEqual(rational(-3, 10))
    expect(eo.comparisons).toHaveLength(2)
  })
})
