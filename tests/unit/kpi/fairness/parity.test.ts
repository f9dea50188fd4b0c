import { describe, expect, it } from 'vitest'
import { ConfigError, UserInputError } from '../../../../shared/errors.js'
import {
  ALL_FAIRNESS_KPIS,
  computeFairnessKpi,
  computeFairnessKpis,
  DEFAULT_FAIRNESS_KPIS,
  type EstimableFairnessKpi,
  type FairnessKpiResult,
  type FairnessKpiSpecInput,
  type FairnessOptionsInput,
  type GroupInput,
  katzRatioInterval,
  kpiName,
  moverSum,
  newcombeInterval,
  rational,
  wilsonInterval,
} from '../../../../shared/kpi/fairness/index.js'
import { fairnessReport, type GroupCounts } from '../../../../shared/kpi/fairness.js'

const g = (group: string, tp: number, fp: number, tn: number, fn: number): GroupCounts => ({
  group,
  tp,
  fp,
  tn,
  fn,
})

// Rates by hand (n = 100 each):
//        sel    TPR     FPR    FNR     PPV    FDR    FOR    NPV    acc
// a     40/100  30/40   10/60  10/40   30/40  10/40  10/60  50/60  80/100
// b     20/100  10/20   10/80  10/20   10/20  10/20  10/80  70/80  80/100
// c     50/100  45/55   5/45   10/55   45/50  5/50   10/50  40/50  85/100
const A = g('a', 30, 10, 50, 10)
const B = g('b', 10, 10, 70, 10)
const C = g('c', 45, 5, 40, 10)
const ALL = { minSamples: 1 } // formula tests: no group is too small

function kpi(
  groups: readonly GroupInput[],
  spec: FairnessKpiSpecInput,
  options: FairnessOptionsInput = ALL,
): EstimableFairnessKpi {
  const r = computeFairnessKpi(groups, spec, options)
  if (!r.estimable) throw new Error(`not estimable: ${r.reason} ${r.detail}`)
  return r
}

function notEstimable(r: FairnessKpiResult) {
  if (r.estimable) throw new Error(`expected not estimable, got ${r.value}`)
  return r
}

describe('spread forms (Fairlearn max − min, min / max)', () => {
  // [metric, max group, its x/n, min group, its x/n, exact max − min]
  const cases: [
    FairnessKpiSpecInput['metric'],
    string,
    [number, number],
    string,
    [number, number],
    [number, number],
  ][] = [
    ['demographic_parity', 'c', [50, 100], 'b', [20, 100], [3, 10]], // 1/2 − 1/5
    ['equal_opportunity', 'c', [45, 55], 'b', [10, 20], [7, 22]], // 9/11 − 1/2
    ['false_positive_rate', 'a', [10, 60], 'c', [5, 45], [1, 18]], // 1/6 − 1/9
    ['false_negative_rate', 'b', [10, 20], 'c', [10, 55], [7, 22]], // 1/2 − 2/11
    ['predictive_parity', 'c', [45, 50], 'b', [10, 20], [2, 5]], // 9/10 − 1/2
    ['false_discovery_rate', 'b', [10, 20], 'c', [5, 50], [2, 5]], // 1/2 − 1/10
    ['false_omission_rate', 'c', [10, 50], 'b', [10, 80], [3, 40]], // 1/5 − 1/8
    ['negative_predictive_value', 'b', [70, 80], 'c', [40, 50], [3, 40]], // 7/8 − 4/5
    ['accuracy', 'c', [85, 100], 'a', [80, 100], [1, 20]], // 17/20 − 4/5; a and b tie at 4/5: first listed
  ]

  for (const [metric, hi, [xh, nh], lo, [xl, nl], [num, den]] of cases) {
    it(`${metric}: difference ${num}/${den} between ${hi} and ${lo}, Newcombe interval, n = ${nh + nl}`, () => {
      const r = kpi([A, B, C], { metric, form: 'difference' })
      expect(r.exact).toEqual(rational(num, den))
      expect(r.value).toBe(xh / nh - xl / nl) // one division per rate, then the difference
      expect(r.groups).toEqual([hi, lo])
      expect(r.n).toBe(nh + nl)
      const ci = newcombeInterval(xh, nh, xl, nl, 0.95)
      expect([r.ci_low, r.ci_high]).toEqual([ci.low, ci.high])
      expect(r.comparisons).toHaveLength(1)
    })

    it(`${metric}: ratio min / max = (${xl}/${nl}) / (${xh}/${nh}), Katz interval`, () => {
      const r = kpi([A, B, C], { metric, form: 'ratio' })
      expect(r.exact).toEqual(rational(xl * nh, nl * xh))
      expect(r.value).toBe(xl / nl / (xh / nh))
      expect(r.groups).toEqual([lo, hi])
      const ci = katzRatioInterval(xl, nl, xh, nh, 0.95)
      expect([r.ci_low, r.ci_high]).toEqual([ci.low, ci.high])
    })
  }

  it('names the catalog KPIs as today', () => {
    expect(DEFAULT_FAIRNESS_KPIS.map(kpiName)).toEqual([
      'demographic_parity_difference',
      'disparate_impact_ratio',
      'equalized_odds_difference',
      'accuracy_gap',
    ])
    expect(kpiName({ metric: 'equal_opportunity', form: 'ratio', reference: { group: 'm' } })).toBe(
      'equal_opportunity_ratio_vs_reference',
    )
    expect(new Set(ALL_FAIRNESS_KPIS.map(kpiName)).size).toBe(ALL_FAIRNESS_KPIS.length)
  })

  it('carries every group rate with its Wilson interval', () => {
    const r = kpi([A, B, C], { metric: 'equal_opportunity', form: 'difference' })
    const b = r.rates.find((x) => x.group === 'b')!
    expect(b).toMatchObject({ rate: 'tpr', x: 10, n: 20, value: 0.5, excluded: null })
    const w = wilsonInterval(10, 20, 0.95)
    expect([b.ci_low, b.ci_high]).toEqual([w.low, w.high])
  })

  it('uses the confidence level asked for', () => {
    const r = kpi(
      [A, B, C],
      { metric: 'demographic_parity', form: 'difference' },
      { minSamples: 1, level: 0.9 },
    )
    const ci = newcombeInterval(50, 100, 20, 100, 0.9)
    expect([r.ci_low, r.ci_high]).toEqual([ci.low, ci.high])
    expect(r.level).toBe(0.9)
  })
})

describe('equalized odds', () => {
  it('difference: max(TPR gap 7/22, FPR gap 1/18) with the interval [max of lows, max of highs]', () => {
    const r = kpi([A, B, C], { metric: 'equalized_odds', form: 'difference' })
    const tpr = newcombeInterval(45, 55, 10, 20, 0.95) // c − b
    const fpr = newcombeInterval(10, 60, 5, 45, 0.95) // a − c
    expect(r.exact).toEqual(rational(7, 22))
    expect(r.value).toBe(Math.max(45 / 55 - 10 / 20, 10 / 60 - 5 / 45))
    expect(r.ci_low).toBe(Math.max(tpr.low, fpr.low))
    expect(r.ci_high).toBe(Math.max(tpr.high, fpr.high))
    expect(r.measure).toBe('tpr')
    expect(r.groups).toEqual(['c', 'b'])
    expect(r.n).toBe(75)
    expect(r.comparisons.map((c) => c.measure)).toEqual(['tpr', 'fpr'])
  })

  it('ratio (Fairlearn): min(TPR ratio (1/2)/(9/11) = 11/18, FPR ratio (1/9)/(1/6) = 2/3) = 11/18', () => {
    const r = kpi([A, B, C], { metric: 'equalized_odds', form: 'ratio' })
    const tpr = katzRatioInterval(10, 20, 45, 55, 0.95)
    const fpr = katzRatioInterval(5, 45, 10, 60, 0.95)
    expect(r.exact).toEqual(rational(11, 18))
    expect(r.ci_low).toBe(Math.min(tpr.low, fpr.low))
    expect(r.ci_high).toBe(Math.min(tpr.high, fpr.high))
  })

  it('against the majority: largest |TPR or FPR difference|, unsigned', () => {
    // all n = 100: the majority is the first listed, a. b: TPR 1/2 − 3/4 = −1/4, FPR 1/8 − 1/6 = −1/24;
    // c: TPR 9/11 − 3/4 = 3/44, FPR 1/9 − 1/6 = −1/18 → 1/4 (b, TPR)
    const r = kpi([A, B, C], { metric: 'equalized_odds', form: 'difference', reference: 'majority' })
    expect(r.exact).toEqual(rational(1, 4))
    expect(r.value).toBe(0.25)
    expect(r.groups).toEqual(['b', 'a'])
    expect(r.comparisons.map((c) => c.exact)).toEqual([
      rational(-1, 4),
      rational(-1, 24),
      rational(3, 44),
      rational(-1, 18),
    ])
    // |d| bounds: an interval wholly below 0 flips; one across 0 starts at 0.
    const lows = r.comparisons.map((c) => (c.ci_low > 0 ? c.ci_low : c.ci_high < 0 ? -c.ci_high : 0))
    const highs = r.comparisons.map((c) => Math.max(Math.abs(c.ci_low), Math.abs(c.ci_high)))
    expect(r.ci_low).toBe(Math.max(...lows))
    expect(r.ci_high).toBe(Math.max(...highs))
  })
})

describe('average odds difference (AIF360)', () => {
  it('½[(FPR_g − FPR_ref) + (TPR_g − TPR_ref)] against the majority, MOVER interval', () => {
    // b vs a: ½[(1/8 − 1/6) + (1/2 − 3/4)] = ½(−1/24 − 6/24) = −7/48
    // c vs a: ½[(1/9 − 1/6) + (9/11 − 3/4)] = ½(−1/18 + 3/44) = ½(5/396) = 5/792 → b is the worst
    const r = kpi([A, B, C], { metric: 'average_odds', form: 'difference', reference: 'majority' })
    expect(r.exact).toEqual(rational(-7, 48))
    expect(r.comparisons.map((c) => c.exact)).toEqual([rational(-7, 48), rational(5, 792)])
    expect(r.groups).toEqual(['b', 'a'])
    expect(r.n).toBe(100 + 100) // b's 20 positives + 80 negatives, a's 40 + 60
    const t = newcombeInterval(10, 20, 30, 40, 0.95)
    const f = newcombeInterval(10, 80, 10, 60, 0.95)
    const m = moverSum([
      { value: 10 / 20 - 30 / 40, low: t.low, high: t.high },
      { value: 10 / 80 - 10 / 60, low: f.low, high: f.high },
    ])
    expect(r.ci_low).toBeCloseTo(m.low / 2, 15)
    expect(r.ci_high).toBeCloseTo(m.high / 2, 15)
    expect(r.value).toBeCloseTo(-7 / 48, 15)
  })

  it('against the best-off group: highest TPR − FPR (c: 9/11 − 1/9)', () => {
    const r = kpi([A, B, C], { metric: 'average_odds', form: 'difference', reference: 'best' })
    expect(r.comparisons.map((c) => c.reference)).toEqual(['c', 'c'])
  })

  it('has no ratio form and no spread form', () => {
    expect(() =>
      computeFairnessKpi([A, B], { metric: 'average_odds', form: 'ratio', reference: 'majority' }),
    ).toThrow(ConfigError)
    expect(() => computeFairnessKpi([A, B], { metric: 'average_odds', form: 'difference' })).toThrow(
      /spec\.reference: average_odds compares each group with a reference group/,
    )
  })
})

describe('reference groups', () => {
  it('best on the selection rate is the most selected group: ratios against it are ≤ 1', () => {
    // c selects 1/2: a 2/5 ÷ 1/2 = 4/5, b 1/5 ÷ 1/2 = 2/5 → worst b, the same as min / max
    const r = kpi([A, B, C], { metric: 'demographic_parity', form: 'ratio', reference: 'best' })
    expect(r.comparisons.map((c) => [c.group, c.exact])).toEqual([
      ['a', rational(4, 5)],
      ['b', rational(2, 5)],
    ])
    expect(r.exact).toEqual(rational(2, 5))
  })

  it('best on FPR is the lowest (c, 1/9): differences a 1/18, b 1/72 → a', () => {
    const r = kpi([A, B, C], { metric: 'false_positive_rate', form: 'difference', reference: 'best' })
    expect(r.groups).toEqual(['a', 'c'])
    expect(r.exact).toEqual(rational(1, 18))
  })

  it('a named group: TPR a − b = 1/4, c − b = 7/22 → c', () => {
    const r = kpi([A, B, C], { metric: 'equal_opportunity', form: 'difference', reference: { group: 'b' } })
    expect(r.comparisons.map((c) => c.exact)).toEqual([rational(1, 4), rational(7, 22)])
    expect(r.groups).toEqual(['c', 'b'])
    expect(r.n).toBe(55 + 20)
  })

  it('the majority is the largest group; ratios furthest from 1 on the log scale lead', () => {
    const big = g('big', 20, 30, 100, 50) // n = 200, selection 1/4
    // a 2/5 ÷ 1/4 = 8/5, b 1/5 ÷ 1/4 = 4/5, c 1/2 ÷ 1/4 = 2 → c (|ln 2| > |ln 8/5| > |ln 4/5|)
    const r = kpi([A, B, C, big], { metric: 'demographic_parity', form: 'ratio', reference: 'majority' })
    expect(r.comparisons.map((c) => c.reference)).toEqual(['big', 'big', 'big'])
    expect(r.exact).toEqual(rational(2))
    const never = g('never', 0, 0, 60, 40) // ratio 0: the worst of all
    expect(
      kpi([A, B, C, big, never], { metric: 'demographic_parity', form: 'ratio', reference: 'majority' })
        .groups,
    ).toEqual(['never', 'big'])
    const r0 = kpi([big, never], { metric: 'demographic_parity', form: 'ratio', reference: 'majority' })
    expect(r0.ci_low).toBe(0) // x1 = 0: [0, upper of the adjusted log interval]
    expect(r0.ci_high).toBeGreaterThan(0)
  })

  it('signs differences group − reference', () => {
    const r = kpi([A, B], { metric: 'demographic_parity', form: 'difference', reference: { group: 'a' } })
    expect(r.exact).toEqual(rational(-1, 5))
    expect(r.value).toBe(0.2 - 0.4)
  })
})

describe('not estimable', () => {
  it('a single-group attribute: every KPI, never 0 / 1 / ok', () => {
    for (const spec of ALL_FAIRNESS_KPIS) {
      const r = notEstimable(computeFairnessKpi([A], spec, ALL))
      expect(r.reason, kpiName(spec)).toBe('too_few_groups')
      expect([r.value, r.n, r.ci_low, r.ci_high]).toEqual([null, null, null, null])
    }
    expect(notEstimable(computeFairnessKpi([], DEFAULT_FAIRNESS_KPIS[0]!)).reason).toBe('too_few_groups')
  })

  it('equalized odds with each rate defined for one group only (the legacy code reads 0)', () => {
    const onlyPositives = g('p', 8, 0, 0, 2) // TPR 0.8, no FPR
    const onlyNegatives = g('n', 0, 1, 9, 0) // FPR 0.1, no TPR
    expect(fairnessReport([onlyPositives, onlyNegatives]).equalizedOddsDifference).toBe(0)
    const r = notEstimable(computeFairnessKpi([onlyPositives, onlyNegatives], DEFAULT_FAIRNESS_KPIS[2]!, ALL))
    expect(r.reason).toBe('too_few_groups')
    expect(r.detail).toMatch(/"n" tpr zero_denominator/)
    // also when only one of the two gaps exists: it is merely a lower bound of the metric
    const alsoNegatives = g('n2', 0, 4, 6, 0) // FPR 0.4
    expect(fairnessReport([onlyPositives, onlyNegatives, alsoNegatives]).equalizedOddsDifference).toBeCloseTo(
      0.3,
      15,
    )
    const partial = computeFairnessKpi(
      [onlyPositives, onlyNegatives, alsoNegatives],
      DEFAULT_FAIRNESS_KPIS[2]!,
      ALL,
    )
    expect(notEstimable(partial).detail).toMatch(/^1 group\(s\) with a true positive rate estimable/)
  })

  it('a zero denominator leaves the group out of that rate only, and says so', () => {
    const noPositives = g('np', 0, 5, 15, 0) // no TPR; FPR 1/4
    const r = kpi([A, B, noPositives], { metric: 'false_positive_rate', form: 'difference' })
    expect(r.groups).toEqual(['np', 'b']) // 1/4 − 1/8
    const t = kpi([A, B, noPositives], { metric: 'equal_opportunity', form: 'difference' })
    expect(t.rates.find((x) => x.group === 'np')).toMatchObject({ excluded: 'zero_denominator', value: null })
    expect(t.groups).toEqual(['a', 'b'])
  })

  it('groups below the minimum (default 30 per rate denominator) are left out and listed', () => {
    // b has 20 actual positives: below 30 for TPR, so the TPR gap is c − a = 9/11 − 3/4 = 3/44
    const r = kpi([A, B, C], { metric: 'equal_opportunity', form: 'difference' }, {})
    expect(r.minSamples).toBe(30)
    expect(r.exact).toEqual(rational(3, 44))
    expect(r.rates.find((x) => x.group === 'b')).toMatchObject({
      excluded: 'below_minimum',
      n: 20,
      value: 0.5,
    })
    // selection rates have n = 100: nobody left out
    expect(kpi([A, B, C], DEFAULT_FAIRNESS_KPIS[0]!, {}).exact).toEqual(rational(3, 10))
  })

  it('or make the KPI not estimable when asked to', () => {
    const r = notEstimable(
      computeFairnessKpi(
        [A, B, C],
        { metric: 'equal_opportunity', form: 'difference' },
        { belowMinimum: 'not_estimable' },
      ),
    )
    expect(r.reason).toBe('below_minimum')
    expect(r.detail).toContain('"b" tpr below_minimum (n=20)')
  })

  it('two groups where one is too small: too few groups, with the reason', () => {
    const r = notEstimable(computeFairnessKpi([A, g('tiny', 1, 0, 1, 0)], DEFAULT_FAIRNESS_KPIS[0]!))
    expect(r.reason).toBe('too_few_groups')
    expect(r.detail).toContain('"tiny" selection_rate below_minimum (n=2)')
  })

  it('labels missing: selection-rate KPIs from prediction-only counts, the rest not estimable', () => {
    const groups: GroupInput[] = [
      { group: 'f', selected: 60, total: 100 },
      { group: 'm', selected: 75, total: 100 },
    ]
    expect(kpi(groups, { metric: 'demographic_parity', form: 'ratio' }, {}).exact).toEqual(rational(4, 5))
    for (const spec of ALL_FAIRNESS_KPIS.filter((s) => s.metric !== 'demographic_parity')) {
      expect(notEstimable(computeFairnessKpi(groups, spec)).reason, kpiName(spec)).toBe('labels_missing')
    }
    // mixed: one group labelled, one not
    const mixed: GroupInput[] = [A, { group: 'm', selected: 75, total: 100 }]
    expect(kpi(mixed, DEFAULT_FAIRNESS_KPIS[0]!).exact).toEqual(rational(7, 20)) // 3/4 − 2/5
    expect(notEstimable(computeFairnessKpi(mixed, DEFAULT_FAIRNESS_KPIS[3]!)).detail).toContain('"m"')
  })

  it('a named reference that is missing or too small', () => {
    expect(
      notEstimable(
        computeFairnessKpi([A, B], { metric: 'accuracy', form: 'difference', reference: { group: 'z' } }),
      ).reason,
    ).toBe('reference_missing')
    const r = notEstimable(
      computeFairnessKpi([A, B, C], {
        metric: 'equal_opportunity',
        form: 'ratio',
        reference: { group: 'b' },
      }),
    )
    expect(r.reason).toBe('reference_not_estimable')
    expect(r.detail).toContain('tpr below_minimum (n=20 < 30)')
  })

  it('a majority group whose rate is not estimable', () => {
    const big = g('big', 2, 10, 300, 3) // largest, but 5 actual positives
    const r = notEstimable(
      computeFairnessKpi([A, C, big], {
        metric: 'equal_opportunity',
        form: 'difference',
        reference: 'majority',
      }),
    )
    expect(r.reason).toBe('reference_not_estimable')
  })

  it('a ratio over a zero rate', () => {
    const none1 = g('n1', 0, 0, 40, 5)
    const none2 = g('n2', 0, 0, 50, 1)
    expect(notEstimable(computeFairnessKpi([none1, none2], DEFAULT_FAIRNESS_KPIS[1]!)).reason).toBe(
      'zero_reference_rate',
    )
    expect(kpi([none1, none2], DEFAULT_FAIRNESS_KPIS[0]!).value).toBe(0) // the difference exists
    expect(
      notEstimable(
        computeFairnessKpi([A, none1], {
          metric: 'demographic_parity',
          form: 'ratio',
          reference: { group: 'n1' },
        }),
      ).reason,
    ).toBe('zero_reference_rate')
  })
})

describe('input checks', () => {
  it('reject impossible counts as bad input, naming the group', () => {
    const spec = DEFAULT_FAIRNESS_KPIS[0]!
    expect(() => computeFairnessKpi([g('x', -1, 0, 0, 0)], spec)).toThrow(UserInputError)
    expect(() => computeFairnessKpi([g('x', 1.5, 0, 0, 0)], spec)).toThrow(
      /"x": tp must be a non-negative safe integer/,
    )
    expect(() => computeFairnessKpi([A, A], spec)).toThrow(/duplicate group/)
    expect(() => computeFairnessKpi([{ group: 'p', selected: 5, total: 4 }], spec)).toThrow(/exceeds total/)
    expect(() => computeFairnessKpi([g('x', 2 ** 52, 2 ** 52, 0, 0)], spec)).toThrow(/beyond 2\^53/)
  })

  it('reject bad options naming the field', () => {
    const spec = DEFAULT_FAIRNESS_KPIS[0]!
    expect(() => computeFairnessKpi([A, B], spec, { level: 1 })).toThrow(
      /options\.level: must be in \(0, 1\)/,
    )
    expect(() => computeFairnessKpi([A, B], spec, { minSamples: 0 })).toThrow(/options\.minSamples/)
    expect(() => computeFairnessKpi([A, B], spec, { bogus: 1 } as FairnessOptionsInput)).toThrow(ConfigError)
  })

  it('computes several KPIs at once, the catalog four by default', () => {
    expect(computeFairnessKpis([A, B, C]).map((r) => r.name)).toEqual(DEFAULT_FAIRNESS_KPIS.map(kpiName))
  })
})

describe('the catalog forms give today’s numbers (legacy fairness.ts, mirrored by the SQL)', () => {
  it('bit for bit on random groups wherever the metric is estimable, and estimable exactly where expected', () => {
    let seed = 42 // a 32-bit LCG (Numerical Recipes), exact in integer arithmetic
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1_664_525) + 1_013_904_223) >>> 0
      return Math.floor((seed / 2 ** 32) * n)
    }
    const count = () => (rand(4) === 0 ? 0 : rand(500))
    const keys = [
      'demographicParityDifference',
      'disparateImpactRatio',
      'equalizedOddsDifference',
      'accuracyGap',
    ] as const
    let compared = 0
    for (let i = 0; i < 500; i++) {
      const groups = Array.from({ length: 1 + rand(5) }, (_, k) =>
        g(`g${k}`, count(), count(), count(), count()),
      )
      const legacy = fairnessReport(groups)
      const results = computeFairnessKpis(groups, DEFAULT_FAIRNESS_KPIS, ALL)
      const sized = groups.filter((x) => x.tp + x.fp + x.tn + x.fn > 0)
      const withTpr = groups.filter((x) => x.tp + x.fn > 0).length
      const withFpr = groups.filter((x) => x.fp + x.tn > 0).length
      const anySelected = sized.some((x) => x.tp + x.fp > 0)
      const expected = [
        sized.length >= 2,
        sized.length >= 2 && anySelected,
        withTpr >= 2 && withFpr >= 2,
        sized.length >= 2,
      ]
      keys.forEach((key, k) => {
        const r = results[k]!
        const where = `${key} ${JSON.stringify(groups)}`
        expect(r.estimable, where).toBe(expected[k])
        if (r.estimable) {
          expect(r.value, where).toBe(legacy[key])
          compared++
        }
      })
    }
    expect(compared).toBeGreaterThan(1000)
  })
})
