import { type GroupInput, isLabelled } from './rates.js'

/**
 * Overall accuracy, precision, recall and F1 from confusion counts, for producers that send counts but
 * not the metrics; reconciled with the metrics a producer does report (reported values win, a
 * disagreement beyond rounding is flagged with both numbers).
 */

export interface Confusion {
  tp: number
  fp: number
  tn: number
  fn: number
}

export const OVERALL_METRICS = ['accuracy', 'precision', 'recall', 'f1'] as const
export type OverallMetric = (typeof OVERALL_METRICS)[number]

/** Numerator and denominator of each metric (F1 = 2tp / (2tp + fp + fn), the harmonic mean). */
export function metricCounts(c: Confusion, metric: OverallMetric): { x: number; n: number } {
  switch (metric) {
    case 'accuracy':
      return { x: c.tp + c.tn, n: c.tp + c.fp + c.tn + c.fn }
    case 'precision':
      return { x: c.tp, n: c.tp + c.fp }
    case 'recall':
      return { x: c.tp, n: c.tp + c.fn }
    case 'f1':
      return { x: 2 * c.tp, n: 2 * c.tp + c.fp + c.fn }
  }
}

/** The four metrics; null where the denominator is 0 (e.g. precision with no positive prediction). */
export function deriveMetrics(c: Confusion): Record<OverallMetric, number | null> {
  const out = {} as Record<OverallMetric, number | null>
  for (const m of OVERALL_METRICS) {
    const { x, n } = metricCounts(c, m)
    out[m] = n === 0 ? null : x / n
  }
  return out
}

/** Sum of one attribute's group counts: the overall confusion (each attribute partitions the sample).
 * null when a group has prediction-only counts. */
export function sumConfusion(groups: readonly GroupInput[]): Confusion | null {
  const sum: Confusion = { tp: 0, fp: 0, tn: 0, fn: 0 }
  for (const g of groups) {
    if (!isLabelled(g)) return null
    sum.tp += g.tp
    sum.fp += g.fp
    sum.tn += g.tn
    sum.fn += g.fn
  }
  return sum
}

export interface OverallFromAttributes {
  /** The sum over the first fully labelled attribute; null when none is. */
  confusion: Confusion | null
  /** The attribute it was summed from. */
  attribute: string | null
  /** Labelled attributes whose sums differ from it (a producer inconsistency to report). */
  mismatched: string[]
}

/** The overall confusion from the attributes of one evaluation; each should give the same sums. */
export function overallFromAttributes(
  attributes: readonly { attribute: string; groups: readonly GroupInput[] }[],
): OverallFromAttributes {
  let confusion: Confusion | null = null
  let attribute: string | null = null
  const mismatched: string[] = []
  for (const a of attributes) {
    const s = sumConfusion(a.groups)
    if (s === null) continue
    if (confusion === null) {
      confusion = s
      attribute = a.attribute
    } else if (
      s.tp !== confusion.tp ||
      s.fp !== confusion.fp ||
      s.tn !== confusion.tn ||
      s.fn !== confusion.fn
    ) {
      mismatched.push(a.attribute)
    }
  }
  return { confusion, attribute, mismatched }
}

/** Fractional digits of a reported number as written (its shortest round-trip decimal). */
export function reportedDecimals(v: number): number {
  const [mantissa = '', exp = '0'] = String(v).toLowerCase().split('e')
  const frac = mantissa.split('.')[1]?.length ?? 0
  return Math.max(0, frac - Number(exp))
}

export interface ReconciledMetric {
  /** What the KPI uses: the reported value when there is one, else the derived one. */
  value: number | null
  source: 'reported' | 'derived' | 'none'
  reported: number | null
  derived: number | null
  /** |reported − derived| allowed as rounding: 0.5 / n (half a count of the metric's denominator) or
   * half a unit of the reported value's last decimal (none for a reported 0 or 1), whichever is
   * larger, plus 1e-9. */
  tolerance: number | null
  /** The reported and derived values differ by more than `tolerance`. */
  disagreement: boolean
}

/**
 * Reported metrics reconciled with those derived from `confusion` (null: nothing to derive from).
 * Tolerance: a count-derived value can only change in steps of 1/n, and a producer that rounds to d
 * decimals is off by up to 0.5·10^-d; beyond both (plus 1e-9 for floating point) the two sources
 * disagree about the same evaluation.
 */
export function reconcileMetrics(
  reported: Partial<Record<OverallMetric, number>>,
  confusion: Confusion | null,
): Record<OverallMetric, ReconciledMetric> {
  const derived = confusion === null ? null : deriveMetrics(confusion)
  const out = {} as Record<OverallMetric, ReconciledMetric>
  for (const m of OVERALL_METRICS) {
    const r = reported[m] ?? null
    const d = derived?.[m] ?? null
    let tolerance: number | null = null
    let disagreement = false
    if (r !== null && d !== null && confusion !== null) {
      const { n } = metricCounts(confusion, m)
      // 0 and 1 carry no decimals to round (JSON cannot tell 1 from 1.0): taken as exact.
      const rounding = Number.isInteger(r) ? 0 : 0.5 * 10 ** -reportedDecimals(r)
      tolerance = Math.max(0.5 / n, rounding) + 1e-9
      disagreement = Math.abs(r - d) > tolerance
    }
    out[m] = {
      value: r ?? d,
      source: r !== null ? 'reported' : d !== null ? 'derived' : 'none',
      reported: r,
      derived: d,
      tolerance,
      disagreement,
    }
  }
  return out
}
