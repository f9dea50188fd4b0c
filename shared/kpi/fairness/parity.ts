import { abs, add, cmp, div, max, min, ONE, type Rational, rational, sub } from './exact.js'
import { type Interval, katzRatioInterval, moverSum, newcombeInterval } from './intervals.js'
import {
  type GroupInput,
  type GroupRate,
  groupRate,
  groupSize,
  isLabelled,
  RATE_DEFINITIONS,
  type RateName,
  validateGroups,
} from './rates.js'
import {
  DEFAULT_FAIRNESS_KPIS,
  type FairnessKpiSpec,
  type FairnessKpiSpecInput,
  type FairnessOptions,
  type FairnessOptionsInput,
  kpiName,
  METRIC_RATES,
  parseOptions,
  parseSpec,
} from './spec.js'

/**
 * One fairness KPI of one protected attribute from its per-group counts: value, sample size,
 * confidence interval and the comparisons behind it, or "not estimable" with a machine-readable reason.
 * Definitions, intervals and the rules are documented in README.md beside this file.
 */

export const NOT_ESTIMABLE_REASONS = [
  /** Fewer than two groups (spread) or no group besides the reference has an estimable rate. */
  'too_few_groups',
  /** A label-dependent metric and at least one group has prediction-only counts. */
  'labels_missing',
  /** `belowMinimum: 'not_estimable'` and a group's rate is below the minimum or has no denominator. */
  'below_minimum',
  /** The named reference group is not among the groups. */
  'reference_missing',
  /** The reference group's rate is excluded (below the minimum, zero denominator). */
  'reference_not_estimable',
  /** A ratio whose denominator rate is 0 (the reference's, or every group's for the spread). */
  'zero_reference_rate',
  /** Intersectional groups: more combinations than the cap. */
  'too_many_cells',
] as const
export type NotEstimableReason = (typeof NOT_ESTIMABLE_REASONS)[number]

/** What a comparison compares: one rate, or the average odds (TPR and FPR together). */
export type Measure = RateName | 'average_odds'

/** One group compared with another on one measure. */
export interface Comparison {
  measure: Measure
  /** The group compared (numerator of a ratio, minuend of a difference). */
  group: string
  /** The group it is compared with (the reference; for the spread, the other extreme group). */
  reference: string
  /** Difference group − reference or ratio group / reference, in IEEE-754 arithmetic (stored). */
  value: number
  /** The same value exactly (what thresholds are compared with). */
  exact: Rational
  ci_low: number
  ci_high: number
  /** The sample behind the comparison: the two groups' denominators of the rate(s) compared. */
  n: number
}

interface ResultBase {
  /** `kpiName(spec)`, e.g. `disparate_impact_ratio`. */
  name: string
  spec: FairnessKpiSpec
  level: number
  minSamples: number
  /** Every group's rate(s) used by the metric, with Wilson intervals and exclusions. */
  rates: GroupRate[]
}

export interface EstimableFairnessKpi extends ResultBase {
  estimable: true
  value: number
  exact: Rational
  /** The sample behind the value: that of the headline comparison (its two groups' denominators). */
  n: number
  ci_low: number
  ci_high: number
  /** The measure and the two groups of the headline comparison: [group, reference]. */
  measure: Measure
  groups: [string, string]
  /** Every comparison made; `judge` reads them (see there). */
  comparisons: Comparison[]
  reason: null
  detail: null
}

export interface NotEstimableFairnessKpi extends ResultBase {
  estimable: false
  value: null
  exact: null
  n: null
  ci_low: null
  ci_high: null
  measure: null
  groups: null
  comparisons: []
  reason: NotEstimableReason
  /** For people: which groups, which counts. */
  detail: string
}

export type FairnessKpiResult = EstimableFairnessKpi | NotEstimableFairnessKpi

class NotEstimable {
  constructor(
    readonly reason: NotEstimableReason,
    readonly detail: string,
  ) {}
}

type Usable = GroupRate & { value: number; exact: Rational }

function quoteList(names: readonly string[]): string {
  return names.map((n) => JSON.stringify(n)).join(', ')
}

function describeExclusions(rates: readonly GroupRate[]): string {
  const out = rates
    .filter((r) => r.excluded !== null)
    .map(
      (r) =>
        `${JSON.stringify(r.group)} ${r.rate} ${r.excluded}${r.excluded === 'below_minimum' ? ` (n=${r.n})` : ''}`,
    )
  return out.length === 0 ? '' : `; excluded: ${out.join(', ')}`
}

/** Comparison of two groups' rates by difference (Newcombe) or ratio (Katz). */
function compareRates(form: 'difference' | 'ratio', g: Usable, ref: Usable, level: number): Comparison {
  if (form === 'difference') {
    const ci = newcombeInterval(g.x, g.n, ref.x, ref.n, level)
    return {
      measure: g.rate,
      group: g.group,
      reference: ref.group,
      value: g.value - ref.value,
      exact: sub(g.exact, ref.exact),
      ci_low: ci.low,
      ci_high: ci.high,
      n: g.n + ref.n,
    }
  }
  if (ref.x === 0) {
    throw new NotEstimable(
      'zero_reference_rate',
      `${RATE_DEFINITIONS[ref.rate].title} of ${JSON.stringify(ref.group)} is 0 (0 of ${ref.n}): the ratio is undefined`,
    )
  }
  const ci = katzRatioInterval(g.x, g.n, ref.x, ref.n, level)
  return {
    measure: g.rate,
    group: g.group,
    reference: ref.group,
    value: g.value / ref.value,
    exact: div(g.exact, ref.exact),
    ci_low: ci.low,
    ci_high: ci.high,
    n: g.n + ref.n,
  }
}

/** How far a ratio is from parity on the log scale, for ordering: max(r, 1/r); r = 0 is worst. */
function ratioSeverity(a: Rational, b: Rational): -1 | 0 | 1 {
  if (a.num === 0n || b.num === 0n) return a.num === 0n && b.num === 0n ? 0 : a.num === 0n ? 1 : -1
  const fold = (r: Rational) => (cmp(r, ONE) >= 0 ? r : div(ONE, r))
  return cmp(fold(a), fold(b))
}

/** The comparison furthest from parity (first on ties). */
function worst(form: 'difference' | 'ratio', comparisons: readonly Comparison[]): Comparison {
  let w = comparisons[0]!
  for (const c of comparisons) {
    const worse =
      form === 'difference' ? cmp(abs(c.exact), abs(w.exact)) > 0 : ratioSeverity(c.exact, w.exact) > 0
    if (worse) w = c
  }
  return w
}

/** |x| over an interval of x: the smallest and largest |x| the interval allows. */
function absInterval(low: number, high: number): Interval {
  return {
    low: low > 0 ? low : high < 0 ? -high : 0,
    high: Math.max(Math.abs(low), Math.abs(high)),
  }
}

class Computation {
  readonly rates: GroupRate[]
  private readonly byGroup = new Map<string, Map<RateName, GroupRate>>()

  constructor(
    readonly groups: readonly GroupInput[],
    readonly spec: FairnessKpiSpec,
    readonly options: FairnessOptions,
  ) {
    const rateNames = METRIC_RATES[spec.metric]
    this.rates = []
    for (const g of groups) {
      const m = new Map<RateName, GroupRate>()
      for (const r of rateNames) {
        const gr = groupRate(g, r, options.level, options.minSamples)
        m.set(r, gr)
        this.rates.push(gr)
      }
      this.byGroup.set(g.group, m)
    }
  }

  usable(group: string, rate: RateName): Usable | undefined {
    const r = this.byGroup.get(group)?.get(rate)
    return r !== undefined && r.excluded === null ? (r as Usable) : undefined
  }

  /** Groups, in input order, whose every listed rate is usable. */
  participants(rates: readonly RateName[]): GroupInput[] {
    return this.groups.filter((g) => rates.every((r) => this.usable(g.group, r) !== undefined))
  }

  tooFew(what: string, count: number, needed: string): NotEstimable {
    return new NotEstimable(
      'too_few_groups',
      `${count} group(s) with ${what} estimable (minimum ${this.options.minSamples} per rate), ${needed} needed${describeExclusions(this.rates)}`,
    )
  }

  /** The reference group for the reference forms; `best` by `better` (a > b means a is better off). */
  reference(rates: readonly RateName[], better: (a: GroupInput, b: GroupInput) => number): GroupInput {
    const ref = this.spec.reference
    const participants = this.participants(rates)
    let chosen: GroupInput | undefined
    if (ref === 'majority') {
      for (const g of this.groups) if (chosen === undefined || groupSize(g) > groupSize(chosen)) chosen = g
      if (chosen === undefined) throw this.tooFew(rates.join(' and '), 0, 'a reference and one more group')
    } else if (ref === 'best') {
      for (const g of participants) if (chosen === undefined || better(g, chosen) > 0) chosen = g
      if (chosen === undefined) throw this.tooFew(rates.join(' and '), 0, 'a reference and one more group')
    } else if (typeof ref === 'object') {
      chosen = this.groups.find((g) => g.group === ref.group)
      if (chosen === undefined) {
        throw new NotEstimable(
          'reference_missing',
          `reference group ${JSON.stringify(ref.group)} is not among ${quoteList(this.groups.map((g) => g.group))}`,
        )
      }
    } else throw new Error(`reference() called for ${ref}`)
    const c = chosen
    if (!participants.includes(c)) {
      const why = rates
        .map((r) => this.byGroup.get(c.group)!.get(r)!)
        .filter((r) => r.excluded !== null)
        .map(
          (r) =>
            `${r.rate} ${r.excluded}${r.excluded === 'below_minimum' ? ` (n=${r.n} < ${this.options.minSamples})` : ''}`,
        )
      throw new NotEstimable(
        'reference_not_estimable',
        `reference group ${JSON.stringify(c.group)} (${ref === 'majority' || ref === 'best' ? ref : 'named'}): ${why.join(', ')}`,
      )
    }
    return c
  }

  /** Ties on the rate: the larger denominator, then the first listed (input order is kept by callers). */
  rateBetter(rate: RateName): (a: GroupInput, b: GroupInput) => number {
    const sign = RATE_DEFINITIONS[rate].higherIsBetter ? 1 : -1
    return (a, b) => {
      const ra = this.usable(a.group, rate)!
      const rb = this.usable(b.group, rate)!
      return sign * cmp(ra.exact, rb.exact) || Math.sign(ra.n - rb.n)
    }
  }

  /** Youden's J = TPR − FPR: best-off on both error rates at once (the odds metrics' `best`). */
  oddsBetter(): (a: GroupInput, b: GroupInput) => number {
    const j = (g: GroupInput) => sub(this.usable(g.group, 'tpr')!.exact, this.usable(g.group, 'fpr')!.exact)
    return (a, b) => cmp(j(a), j(b)) || Math.sign(groupSize(a) - groupSize(b))
  }

  /** The extreme pair of one rate: max − min (Newcombe) or min / max (Katz). */
  spreadOf(rate: RateName, form: 'difference' | 'ratio'): Comparison {
    const ps = this.participants([rate]).map((g) => this.usable(g.group, rate)!)
    if (ps.length < 2) throw this.tooFew(`a ${RATE_DEFINITIONS[rate].title}`, ps.length, 'two')
    let hi = ps[0]!
    for (const p of ps) if (cmp(p.exact, hi.exact) > 0) hi = p
    let lo = ps.find((p) => p !== hi)!
    for (const p of ps) if (p !== hi && cmp(p.exact, lo.exact) < 0) lo = p
    return form === 'difference'
      ? compareRates('difference', hi, lo, this.options.level)
      : compareRates('ratio', lo, hi, this.options.level)
  }

  /** Every other participant against the reference on one rate. */
  againstReference(rate: RateName, form: 'difference' | 'ratio'): Comparison[] {
    const ref = this.reference([rate], this.rateBetter(rate))
    const r = this.usable(ref.group, rate)!
    const others = this.participants([rate]).filter((g) => g !== ref)
    if (others.length === 0)
      throw this.tooFew(`a ${RATE_DEFINITIONS[rate].title}`, 1, 'a reference and one more group')
    return others.map((g) => compareRates(form, this.usable(g.group, rate)!, r, this.options.level))
  }

  /** Per other participant: [TPR difference, FPR difference] against the reference. */
  oddsAgainstReference(): [Comparison, Comparison][] {
    const ref = this.reference(['tpr', 'fpr'], this.oddsBetter())
    const others = this.participants(['tpr', 'fpr']).filter((g) => g !== ref)
    if (others.length === 0) throw this.tooFew('both TPR and FPR', 1, 'a reference and one more group')
    const level = this.options.level
    return others.map((g) => [
      compareRates('difference', this.usable(g.group, 'tpr')!, this.usable(ref.group, 'tpr')!, level),
      compareRates('difference', this.usable(g.group, 'fpr')!, this.usable(ref.group, 'fpr')!, level),
    ])
  }
}

type Headline = Pick<
  EstimableFairnessKpi,
  'value' | 'exact' | 'n' | 'ci_low' | 'ci_high' | 'measure' | 'groups'
>

function headlineOf(c: Comparison): Headline {
  return {
    value: c.value,
    exact: c.exact,
    n: c.n,
    ci_low: c.ci_low,
    ci_high: c.ci_high,
    measure: c.measure,
    groups: [c.group, c.reference],
  }
}

function compute(c: Computation): { headline: Headline; comparisons: Comparison[] } {
  const { metric, form, reference } = c.spec
  if (metric === 'equalized_odds') {
    if (reference === 'spread') {
      // Fairlearn: max of the TPR and FPR spreads (difference), min of their ratios (ratio). The
      // interval combines the two monotonically: if each covers its gap, it covers the max (min).
      const t = c.spreadOf('tpr', form)
      const f = c.spreadOf('fpr', form)
      const pickMax = form === 'difference'
      const lead = pickMax ? (cmp(t.exact, f.exact) >= 0 ? t : f) : cmp(t.exact, f.exact) <= 0 ? t : f
      const combine = pickMax ? Math.max : Math.min
      return {
        headline: {
          ...headlineOf(lead),
          value: combine(t.value, f.value),
          exact: pickMax ? max(t.exact, f.exact) : min(t.exact, f.exact),
          ci_low: combine(t.ci_low, f.ci_low),
          ci_high: combine(t.ci_high, f.ci_high),
        },
        comparisons: [t, f],
      }
    }
    // Largest |TPR or FPR difference| of any group against the reference, unsigned like Fairlearn's.
    const comparisons = c.oddsAgainstReference().flat()
    const lead = worst('difference', comparisons)
    let low = 0
    let high = 0
    for (const k of comparisons) {
      const a = absInterval(k.ci_low, k.ci_high)
      low = Math.max(low, a.low)
      high = Math.max(high, a.high)
    }
    return {
      headline: {
        ...headlineOf(lead),
        value: Math.abs(lead.value),
        exact: abs(lead.exact),
        ci_low: low,
        ci_high: high,
      },
      comparisons,
    }
  }
  if (metric === 'average_odds') {
    // AIF360: ½[(FPR_g − FPR_ref) + (TPR_g − TPR_ref)], interval by MOVER over the two differences.
    const comparisons = c.oddsAgainstReference().map(([t, f]): Comparison => {
      const ci = moverSum([
        { value: t.value, low: t.ci_low, high: t.ci_high },
        { value: f.value, low: f.ci_low, high: f.ci_high },
      ])
      return {
        measure: 'average_odds',
        group: t.group,
        reference: t.reference,
        value: (t.value + f.value) / 2,
        exact: div(add(t.exact, f.exact), rational(2)),
        ci_low: ci.low / 2,
        ci_high: ci.high / 2,
        n: t.n + f.n,
      }
    })
    const lead = worst('difference', comparisons)
    return { headline: headlineOf(lead), comparisons }
  }
  const rate = METRIC_RATES[metric][0]!
  if (reference === 'spread') {
    const pair = c.spreadOf(rate, form)
    return { headline: headlineOf(pair), comparisons: [pair] }
  }
  const comparisons = c.againstReference(rate, form)
  return { headline: headlineOf(worst(form, comparisons)), comparisons }
}

/**
 * One fairness KPI from the groups of one protected attribute. Throws UserInputError on impossible
 * counts and ConfigError on a bad spec or options; everything else is a result, possibly "not
 * estimable". Pure.
 */
export function computeFairnessKpi(
  groups: readonly GroupInput[],
  specInput: FairnessKpiSpecInput,
  optionsInput: FairnessOptionsInput = {},
): FairnessKpiResult {
  const spec = parseSpec(specInput)
  const options = parseOptions(optionsInput)
  validateGroups(groups)
  const c = new Computation(groups, spec, options)
  const base: ResultBase = {
    name: kpiName(spec),
    spec,
    level: options.level,
    minSamples: options.minSamples,
    rates: c.rates,
  }
  try {
    const rates = METRIC_RATES[spec.metric]
    const unlabelled = groups.filter((g) => !isLabelled(g))
    if (rates.some((r) => RATE_DEFINITIONS[r].needsLabels) && unlabelled.length > 0) {
      throw new NotEstimable(
        'labels_missing',
        `${spec.metric} needs labels; prediction-only counts for ${quoteList(unlabelled.map((g) => g.group))}`,
      )
    }
    if (options.belowMinimum === 'not_estimable' && c.rates.some((r) => r.excluded !== null)) {
      throw new NotEstimable(
        'below_minimum',
        `a group is below the minimum of ${options.minSamples}${describeExclusions(c.rates)}`,
      )
    }
    const { headline, comparisons } = compute(c)
    return { ...base, estimable: true, ...headline, comparisons, reason: null, detail: null }
  } catch (err) {
    if (!(err instanceof NotEstimable)) throw err
    return notEstimable(base, err.reason, err.detail)
  }
}

/** A "not estimable" result (also for callers that decide it before computing, e.g. a cell cap). */
export function notEstimable(
  base: Pick<ResultBase, 'spec' | 'level' | 'minSamples'> & Partial<Pick<ResultBase, 'rates'>>,
  reason: NotEstimableReason,
  detail: string,
): NotEstimableFairnessKpi {
  return {
    name: kpiName(base.spec),
    spec: base.spec,
    level: base.level,
    minSamples: base.minSamples,
    rates: base.rates ?? [],
    estimable: false,
    value: null,
    exact: null,
    n: null,
    ci_low: null,
    ci_high: null,
    measure: null,
    groups: null,
    comparisons: [],
    reason,
    detail,
  }
}

/** Several KPIs of one attribute (default: the catalog's four). */
export function computeFairnessKpis(
  groups: readonly GroupInput[],
  specs: readonly FairnessKpiSpecInput[] = DEFAULT_FAIRNESS_KPIS,
  options: FairnessOptionsInput = {},
): FairnessKpiResult[] {
  return specs.map((s) => computeFairnessKpi(groups, s, options))
}
