import { z } from 'zod'
import { ConfigError } from '../../errors.js'
import type { RateName } from './rates.js'

/**
 * What to compute (a fairness KPI spec) and how (options), as zod schemas so a config file can carry
 * them and a wrong value stops start-up naming the field.
 */

/** The parity set, each a comparison of one rate (or two, for the odds metrics) between groups. */
export const PARITY_METRICS = [
  'demographic_parity',
  'equal_opportunity',
  'false_positive_rate',
  'false_negative_rate',
  'predictive_parity',
  'false_discovery_rate',
  'false_omission_rate',
  'negative_predictive_value',
  'accuracy',
  'average_odds',
  'equalized_odds',
] as const
export type ParityMetric = (typeof PARITY_METRICS)[number]

/** The rates each metric compares. */
export const METRIC_RATES: Record<ParityMetric, readonly RateName[]> = {
  demographic_parity: ['selection_rate'],
  equal_opportunity: ['tpr'],
  false_positive_rate: ['fpr'],
  false_negative_rate: ['fnr'],
  predictive_parity: ['ppv'],
  false_discovery_rate: ['fdr'],
  false_omission_rate: ['for'],
  negative_predictive_value: ['npv'],
  accuracy: ['accuracy'],
  average_odds: ['tpr', 'fpr'],
  equalized_odds: ['tpr', 'fpr'],
}

/**
 * Which groups are compared:
 * - `spread`: the two extreme groups, max − min and min / max (Fairlearn's `*_difference` and
 *   `*_ratio`, what the catalog computes today);
 * - `majority`: every group against the largest group (most samples; ties: the first listed);
 * - `best`: every group against the best-off group on that rate (highest TPR, lowest FPR, …; for the
 *   odds metrics the highest TPR − FPR; ties: more samples, then the first listed);
 * - `{ group }`: every group against the named group (AIF360's privileged group).
 */
export const referenceSchema = z.union([
  z.enum(['spread', 'majority', 'best']),
  z.strictObject({ group: z.string().min(1).max(100) }),
])
export type Reference = z.infer<typeof referenceSchema>

export const fairnessKpiSpecSchema = z
  .strictObject({
    metric: z.enum(PARITY_METRICS),
    /** `difference` (group − reference; band around 0) or `ratio` (group / reference; band around 1). */
    form: z.enum(['difference', 'ratio']),
    /** Default `spread`. */
    reference: referenceSchema.default('spread'),
  })
  .superRefine((s, ctx) => {
    if (s.metric === 'average_odds' && s.form !== 'difference') {
      ctx.addIssue({ code: 'custom', path: ['form'], message: 'average_odds has the difference form only' })
    }
    if (s.metric === 'average_odds' && s.reference === 'spread') {
      ctx.addIssue({
        code: 'custom',
        path: ['reference'],
        message: 'average_odds compares each group with a reference group (majority, best or a named group)',
      })
    }
    if (s.metric === 'equalized_odds' && s.form === 'ratio' && s.reference !== 'spread') {
      ctx.addIssue({
        code: 'custom',
        path: ['reference'],
        message: 'the equalized odds ratio is defined over the spread (min of the TPR and FPR ratios) only',
      })
    }
  })
export type FairnessKpiSpec = z.infer<typeof fairnessKpiSpecSchema>
export type FairnessKpiSpecInput = z.input<typeof fairnessKpiSpecSchema>

export const fairnessOptionsSchema = z.strictObject({
  /** Confidence level of every interval, in (0, 1). Default 0.95. */
  level: z.number().gt(0, 'must be in (0, 1)').lt(1, 'must be in (0, 1)').default(0.95),
  /**
   * Minimum denominator of a rate for a group to take part: n for the selection rate and accuracy,
   * actual positives for TPR/FNR, actual negatives for FPR, predicted positives for PPV/FDR, predicted
   * negatives for NPV/FOR. Default 30 (see README: at 30 the 95 % Wilson interval of a rate is at most
   * ±0.17 wide, and one sample moves the rate by 3.3 points).
   */
  minSamples: z.number().int('must be an integer').min(1, 'must be >= 1').max(1e12).default(30),
  /**
   * A group whose rate is below `minSamples` (or has a zero denominator): `exclude` leaves it out and
   * lists it (the attribute is still assessed over the others), `not_estimable` makes the whole KPI
   * "not estimable". Default `exclude`.
   */
  belowMinimum: z.enum(['exclude', 'not_estimable']).default('exclude'),
  /**
   * Intersectional KPIs only: the most attribute combinations (cells) assessed together; more is
   * "not estimable" (too_many_cells) rather than a silent cut. Default 64.
   */
  maxCells: z.number().int('must be an integer').min(2, 'must be >= 2').max(10_000).default(64),
})
export type FairnessOptions = z.infer<typeof fairnessOptionsSchema>
export type FairnessOptionsInput = z.input<typeof fairnessOptionsSchema>

function parseOrThrow<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const r = schema.safeParse(input)
  if (r.success) return r.data
  const issues = r.error.issues.map((i) => `${[what, ...i.path.map(String)].join('.')}: ${i.message}`)
  throw new ConfigError(issues.join('; '), issues)
}

export function parseSpec(spec: FairnessKpiSpecInput): FairnessKpiSpec {
  return parseOrThrow(fairnessKpiSpecSchema, spec, 'spec')
}

export function parseOptions(options: FairnessOptionsInput = {}): FairnessOptions {
  return parseOrThrow(fairnessOptionsSchema, options, 'options')
}

/**
 * A stable snake_case name for a spec, e.g. `equal_opportunity_difference_vs_majority`. The catalog's
 * four existing KPIs keep their names: demographic_parity_difference, disparate_impact_ratio,
 * equalized_odds_difference, accuracy_gap (all `spread`).
 */
export function kpiName(spec: FairnessKpiSpecInput): string {
  const s = parseSpec(spec)
  const suffix =
    s.reference === 'spread'
      ? ''
      : s.reference === 'majority'
        ? '_vs_majority'
        : s.reference === 'best'
          ? '_vs_best'
          : '_vs_reference'
  if (s.reference === 'spread' && s.metric === 'demographic_parity' && s.form === 'ratio') {
    return 'disparate_impact_ratio'
  }
  if (s.reference === 'spread' && s.metric === 'accuracy' && s.form === 'difference') return 'accuracy_gap'
  return `${s.metric}_${s.form}${suffix}`
}

/** Today's four catalog KPIs (Fairlearn spread forms): the small default set. */
export const DEFAULT_FAIRNESS_KPIS: readonly FairnessKpiSpec[] = [
  { metric: 'demographic_parity', form: 'difference', reference: 'spread' },
  { metric: 'demographic_parity', form: 'ratio', reference: 'spread' },
  { metric: 'equalized_odds', form: 'difference', reference: 'spread' },
  { metric: 'accuracy', form: 'difference', reference: 'spread' },
]

/** Every metric in every form it has, spread and against the majority group. */
export const ALL_FAIRNESS_KPIS: readonly FairnessKpiSpec[] = PARITY_METRICS.flatMap((metric) => {
  const out: FairnessKpiSpec[] = []
  for (const form of ['difference', 'ratio'] as const) {
    for (const reference of ['spread', 'majority'] as const) {
      if (fairnessKpiSpecSchema.safeParse({ metric, form, reference }).success) {
        out.push({ metric, form, reference })
      }
    }
  }
  return out
})
