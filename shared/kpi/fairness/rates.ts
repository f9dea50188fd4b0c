import { UserInputError } from '../../errors.js'
import { fromCounts, type Rational } from './exact.js'
import { wilsonInterval } from './intervals.js'

/**
 * Per-group counts and the rates computed from them (Fairlearn / AIF360 definitions).
 *
 * A group arrives either with full confusion counts (labels known) or, when labels have not arrived
 * yet, with prediction-only counts: how many the model selected (predicted positive) out of how many.
 * Only the selection rate exists without labels.
 */

/** Full confusion counts of one group (labels known); the same shape as the model-metrics event. */
export interface ConfusionCounts {
  /** Group name within the protected attribute, e.g. "female". */
  group: string
  tp: number
  fp: number
  tn: number
  fn: number
}

/** Prediction-only counts of one group: `selected` predicted positive out of `total`. */
export interface PredictionCounts {
  /** Group name within the protected attribute, e.g. "female". */
  group: string
  selected: number
  total: number
}

export type GroupInput = ConfusionCounts | PredictionCounts

export function isLabelled(g: GroupInput): g is ConfusionCounts {
  return 'tp' in g
}

/** The group's sample size: tp + fp + tn + fn, or `total`. */
export function groupSize(g: GroupInput): number {
  return isLabelled(g) ? g.tp + g.fp + g.tn + g.fn : g.total
}

export const RATE_NAMES = [
  'selection_rate',
  'tpr',
  'fpr',
  'fnr',
  'ppv',
  'fdr',
  'for',
  'npv',
  'accuracy',
] as const
export type RateName = (typeof RATE_NAMES)[number]

export interface RateDefinition {
  title: string
  /** The formula from confusion counts. */
  formula: string
  /** Whether a higher rate is better for the group (picks the `best` reference group). */
  higherIsBetter: boolean
  /** Whether the rate needs labels (everything but the selection rate). */
  needsLabels: boolean
}

/**
 * "Better" follows the usual reading where the positive prediction is the favourable outcome (a loan
 * granted, a candidate short-listed): the four-fifths rule compares with the group selected most.
 */
export const RATE_DEFINITIONS: Record<RateName, RateDefinition> = {
  selection_rate: {
    title: 'selection rate',
    formula: '(tp + fp) / n',
    higherIsBetter: true,
    needsLabels: false,
  },
  tpr: { title: 'true positive rate', formula: 'tp / (tp + fn)', higherIsBetter: true, needsLabels: true },
  fpr: { title: 'false positive rate', formula: 'fp / (fp + tn)', higherIsBetter: false, needsLabels: true },
  fnr: { title: 'false negative rate', formula: 'fn / (tp + fn)', higherIsBetter: false, needsLabels: true },
  ppv: { title: 'precision (PPV)', formula: 'tp / (tp + fp)', higherIsBetter: true, needsLabels: true },
  fdr: { title: 'false discovery rate', formula: 'fp / (tp + fp)', higherIsBetter: false, needsLabels: true },
  for: { title: 'false omission rate', formula: 'fn / (tn + fn)', higherIsBetter: false, needsLabels: true },
  npv: {
    title: 'negative predictive value',
    formula: 'tn / (tn + fn)',
    higherIsBetter: true,
    needsLabels: true,
  },
  accuracy: { title: 'accuracy', formula: '(tp + tn) / n', higherIsBetter: true, needsLabels: true },
}

/** Successes x out of n trials behind one rate of one group. */
export interface RateCounts {
  x: number
  n: number
}

/** x and n of a rate; null when the rate needs labels and the group has prediction-only counts. */
export function rateCounts(g: GroupInput, rate: RateName): RateCounts | null {
  if (!isLabelled(g)) return rate === 'selection_rate' ? { x: g.selected, n: g.total } : null
  const { tp, fp, tn, fn } = g
  switch (rate) {
    case 'selection_rate':
      return { x: tp + fp, n: tp + fp + tn + fn }
    case 'tpr':
      return { x: tp, n: tp + fn }
    case 'fpr':
      return { x: fp, n: fp + tn }
    case 'fnr':
      return { x: fn, n: tp + fn }
    case 'ppv':
      return { x: tp, n: tp + fp }
    case 'fdr':
      return { x: fp, n: tp + fp }
    case 'for':
      return { x: fn, n: tn + fn }
    case 'npv':
      return { x: tn, n: tn + fn }
    case 'accuracy':
      return { x: tp + tn, n: tp + fp + tn + fn }
  }
}

/** Why a group's rate takes no part in a comparison. */
export type ExclusionReason = 'labels_missing' | 'zero_denominator' | 'below_minimum'

/** One rate of one group with its Wilson interval, or the reason it has none. */
export interface GroupRate {
  group: string
  rate: RateName
  /** Numerator and denominator counts (0 / 0 when labels are missing). */
  x: number
  n: number
  /** x / n as one IEEE-754 division (the stored value); null when excluded for a zero denominator
   * or missing labels. A group below the minimum keeps its value and interval, for display. */
  value: number | null
  exact: Rational | null
  ci_low: number | null
  ci_high: number | null
  /** null when the rate takes part in comparisons. */
  excluded: ExclusionReason | null
}

export function groupRate(g: GroupInput, rate: RateName, level: number, minSamples: number): GroupRate {
  const c = rateCounts(g, rate)
  if (c === null) {
    return {
      group: g.group,
      rate,
      x: 0,
      n: 0,
      value: null,
      exact: null,
      ci_low: null,
      ci_high: null,
      excluded: 'labels_missing',
    }
  }
  if (c.n === 0) {
    return {
      group: g.group,
      rate,
      x: 0,
      n: 0,
      value: null,
      exact: null,
      ci_low: null,
      ci_high: null,
      excluded: 'zero_denominator',
    }
  }
  const ci = wilsonInterval(c.x, c.n, level)
  return {
    group: g.group,
    rate,
    x: c.x,
    n: c.n,
    value: c.x / c.n,
    exact: fromCounts(c.x, c.n),
    ci_low: ci.low,
    ci_high: ci.high,
    excluded: c.n < minSamples ? 'below_minimum' : null,
  }
}

function isCount(v: unknown): boolean {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

/**
 * Rejects impossible counts with a UserInputError naming the group: negative, fractional or unsafe
 * integers, selected > total, sums beyond 2^53, duplicate group names. Empty groups are allowed (they
 * are "not estimable", not invalid).
 */
export function validateGroups(groups: readonly GroupInput[]): void {
  const seen = new Set<string>()
  groups.forEach((g, i) => {
    const where = `groups[${i}] ${JSON.stringify(g.group)}`
    if (typeof g.group !== 'string') throw new UserInputError(`groups[${i}]: group must be a string`)
    if (seen.has(g.group)) throw new UserInputError(`${where}: duplicate group`)
    seen.add(g.group)
    const fields = isLabelled(g) ? (['tp', 'fp', 'tn', 'fn'] as const) : (['selected', 'total'] as const)
    for (const f of fields) {
      const v = (g as unknown as Record<string, unknown>)[f]
      if (!isCount(v)) throw new UserInputError(`${where}: ${f} must be a non-negative safe integer`)
    }
    if (!Number.isSafeInteger(groupSize(g))) throw new UserInputError(`${where}: counts add up beyond 2^53`)
    if (!isLabelled(g) && g.selected > g.total) {
      throw new UserInputError(`${where}: selected (${g.selected}) exceeds total (${g.total})`)
    }
  })
}
