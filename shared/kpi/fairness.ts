/**
 * Group fairness metrics from per-group confusion counts, as defined by Fairlearn
 * (`fairlearn.metrics`) and AIF360 (`ClassificationMetric`). Pure functions, no I/O.
 *
 * Rules shared with the SQL of the catalog (`catalog.ts`), which must give the very same numbers:
 * - A rate with a zero denominator has no value (`null`), never NaN or Infinity. A group with n = 0 has
 *   no selection rate and no accuracy; a group with no actual positives (tp + fn = 0) has no TPR and is
 *   left out of the TPR gap; a group with no actual negatives (fp + tn = 0) has no FPR and is left out
 *   of the FPR gap.
 * - A difference (max − min) over the groups that have a value: no group → null; a single group → 0.
 * - The disparate impact ratio min / max: no group → null; all selection rates 0 (max = 0) → null
 *   (0/0 is undefined, and "nobody selected" is not evidence of parity or of disparity); a single group
 *   with a non-zero rate → 1. A single group is accepted rather than rejected because the metric is then
 *   trivially fair by its own definition, which matches Fairlearn's `*_difference` / `*_ratio` on one
 *   group; the catalog reports it and thresholds never fire on it.
 * - Equalized odds difference = max(TPR gap, FPR gap) over the gaps that have a value; neither → null.
 *
 * Arithmetic: integer sums, one IEEE-754 division per rate, then max − min or min / max; ClickHouse
 * performs the same operations on Float64 so both sides agree bit for bit (counts below 2^53).
 *
 * Superseded by `./fairness/` (the full parity set, intervals, exact thresholds, "not estimable"), which
 * the evaluator (engine/model.ts) and the reference SQL (fairness-sql.ts) now use. No longer on any
 * path: kept as the record of the earlier definitions, which the module's spread forms with
 * minSamples 1 reproduce bit for bit wherever they are estimable (checked by the tests).
 */

import type { ConfusionCounts } from './fairness/rates.js'

export type GroupCounts = ConfusionCounts

export function groupSize(c: GroupCounts): number {
  return c.tp + c.fp + c.tn + c.fn
}

/** (tp + fp) / n: the share of the group the model selects (predicts positive). */
export function selectionRate(c: GroupCounts): number | null {
  const n = groupSize(c)
  return n === 0 ? null : (c.tp + c.fp) / n
}

/** tp / (tp + fn): true positive rate (recall); null when the group has no actual positives. */
export function truePositiveRate(c: GroupCounts): number | null {
  const p = c.tp + c.fn
  return p === 0 ? null : c.tp / p
}

/** fp / (fp + tn): false positive rate; null when the group has no actual negatives. */
export function falsePositiveRate(c: GroupCounts): number | null {
  const negatives = c.fp + c.tn
  return negatives === 0 ? null : c.fp / negatives
}

/** (tp + tn) / n. */
export function accuracy(c: GroupCounts): number | null {
  const n = groupSize(c)
  return n === 0 ? null : (c.tp + c.tn) / n
}

function present(values: (number | null)[]): number[] {
  return values.filter((v): v is number => v !== null)
}

/** max − min of the values that exist; null when none exist, 0 for a single one. */
export function spread(values: (number | null)[]): number | null {
  const v = present(values)
  if (v.length === 0) return null
  return Math.max(...v) - Math.min(...v)
}

/** max − min selection rate over the groups. */
export function demographicParityDifference(groups: GroupCounts[]): number | null {
  return spread(groups.map(selectionRate))
}

/** min / max selection rate over the groups; null when no group has a rate or every rate is 0. */
export function disparateImpactRatio(groups: GroupCounts[]): number | null {
  const v = present(groups.map(selectionRate))
  if (v.length === 0) return null
  const max = Math.max(...v)
  if (max === 0) return null
  return Math.min(...v) / max
}

/** max(TPR gap, FPR gap), each gap over the groups where that rate exists. */
export function equalizedOddsDifference(groups: GroupCounts[]): number | null {
  const tprGap = spread(groups.map(truePositiveRate))
  const fprGap = spread(groups.map(falsePositiveRate))
  if (tprGap === null) return fprGap
  if (fprGap === null) return tprGap
  return Math.max(tprGap, fprGap)
}

/** max − min group accuracy. */
export function accuracyGap(groups: GroupCounts[]): number | null {
  return spread(groups.map(accuracy))
}

export interface FairnessReport {
  demographicParityDifference: number | null
  disparateImpactRatio: number | null
  equalizedOddsDifference: number | null
  accuracyGap: number | null
}

export function fairnessReport(groups: GroupCounts[]): FairnessReport {
  return {
    demographicParityDifference: demographicParityDifference(groups),
    disparateImpactRatio: disparateImpactRatio(groups),
    equalizedOddsDifference: equalizedOddsDifference(groups),
    accuracyGap: accuracyGap(groups),
  }
}
