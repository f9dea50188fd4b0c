import type { Comparator } from '../catalog.js'
import { cmp, type DecimalInput, fromFloat, neg, type Rational, reciprocal, toThreshold } from './exact.js'
import type { Comparison, FairnessKpiResult, NotEstimableReason } from './parity.js'

/**
 * Whether a fairness KPI breaches: tolerance bands, compared exactly, under a `point` or `interval`
 * policy. The breach machine calls `judge` with the result of `computeFairnessKpi`.
 */

/** One edge of a band; `inclusive`: a value exactly on the edge is acceptable. */
export interface BandEdge {
  value: Rational
  inclusive: boolean
}

/** The acceptable region of a KPI; a value outside it breaches. A missing edge is unbounded. */
export interface Band {
  low: BandEdge | null
  high: BandEdge | null
}

/**
 * A ratio band: acceptable `low` ≤ r ≤ `high`; `high` defaults to 1 / `low`, so both directions are
 * adverse symmetrically on the log scale (0.8 → 0.8–1.25, 0.6 → 0.6–5/3, exactly). Edges inclusive: a
 * ratio of exactly 4/5 passes the four-fifths rule ("less than four-fifths" is adverse, 29 CFR
 * 1607.4(D)).
 */
export function ratioBand(low: DecimalInput | Rational = '0.8', high?: DecimalInput | Rational): Band {
  const lo = toThreshold(low, 'band.low')
  if (lo.num <= 0n) throw new RangeError('ratioBand: low must be > 0')
  const hi = high === undefined ? reciprocal(lo) : toThreshold(high, 'band.high')
  if (cmp(hi, lo) < 0) throw new RangeError('ratioBand: high must be >= low')
  return { low: { value: lo, inclusive: true }, high: { value: hi, inclusive: true } }
}

/** A difference band around 0: acceptable |d| ≤ tolerance (edges inclusive: 0.05 is not "> 0.05"). */
export function differenceBand(tolerance: DecimalInput | Rational = '0.1'): Band {
  const t = toThreshold(tolerance, 'band.tolerance')
  if (t.num < 0n) throw new RangeError('differenceBand: tolerance must be >= 0')
  return { low: { value: neg(t), inclusive: true }, high: { value: t, inclusive: true } }
}

/**
 * The band of a catalog threshold: the value breaches when `value <op> threshold` (gt 0.1 → acceptable
 * ≤ 0.1; lt 0.8 → acceptable ≥ 0.8; gte/lte make the edge itself adverse).
 */
export function bandFromComparator(op: Comparator, threshold: DecimalInput | Rational): Band {
  const value = toThreshold(threshold)
  switch (op) {
    case 'gt':
      return { low: null, high: { value, inclusive: true } }
    case 'gte':
      return { low: null, high: { value, inclusive: false } }
    case 'lt':
      return { low: { value, inclusive: true }, high: null }
    case 'lte':
      return { low: { value, inclusive: false }, high: null }
  }
}

/** Which side of the band a value lies beyond, or null when it is acceptable. Exact. */
export function outside(value: Rational | number, band: Band): 'low' | 'high' | null {
  const v = typeof value === 'number' ? fromFloat(value) : value
  if (band.low !== null) {
    const c = cmp(v, band.low.value)
    if (c < 0 || (c === 0 && !band.low.inclusive)) return 'low'
  }
  if (band.high !== null) {
    const c = cmp(v, band.high.value)
    if (c > 0 || (c === 0 && !band.high.inclusive)) return 'high'
  }
  return null
}

/**
 * `point`: the value alone decides (today's behaviour). `interval`: a level fires only when the point
 * AND the whole confidence interval lie beyond the band on the same side; when the point is beyond but
 * the interval reaches back into the band, the level is reported `uncertain` instead.
 */
export type BreachPolicy = 'point' | 'interval'

export interface FairnessLevels {
  warning: Band | null
  critical: Band | null
}

export type FairnessStatus = 'ok' | 'warning' | 'critical' | 'insufficient_data'

export interface FairnessJudgement {
  status: FairnessStatus
  /** The most severe level the point estimate reaches but the interval does not confirm (interval
   * policy only, and only when more severe than `status`); null otherwise. */
  uncertain: 'warning' | 'critical' | null
  /** The comparison that set `status` (or, when ok, `uncertain`); null when ok and certain. */
  deciding: Comparison | null
  /** Why the KPI is not estimable, when status is insufficient_data. */
  reason: NotEstimableReason | null
}

type Verdict = 'within' | 'uncertain' | 'beyond'

function verdict(
  c: Pick<Comparison, 'exact' | 'ci_low' | 'ci_high'>,
  band: Band,
  policy: BreachPolicy,
): Verdict {
  const side = outside(c.exact, band)
  if (side === null) return 'within'
  if (policy === 'point') return 'beyond'
  // The whole interval is beyond on that side when its nearer bound is.
  const nearer = side === 'low' ? c.ci_high : c.ci_low
  return outside(nearer, band) === side ? 'beyond' : 'uncertain'
}

/**
 * The status of a KPI result. Not estimable → `insufficient_data` (never ok). Otherwise each level's
 * band is checked, critical first, against:
 * - the single comparison of a spread form;
 * - every group's comparison of a reference form (the worst decides: a large group confidently beyond
 *   the band fires even when the headline, a small group further out, is uncertain);
 * - the headline of the equalized odds metrics, whose interval already combines its components.
 */
export function judge(
  result: FairnessKpiResult,
  levels: FairnessLevels,
  policy: BreachPolicy,
): FairnessJudgement {
  if (!result.estimable) {
    return { status: 'insufficient_data', uncertain: null, deciding: null, reason: result.reason }
  }
  const candidates: Pick<Comparison, 'exact' | 'ci_low' | 'ci_high'>[] =
    result.spec.metric === 'equalized_odds' ? [result] : result.comparisons
  const decide = (band: Band | null): { v: Verdict; at: number } => {
    let best: { v: Verdict; at: number } = { v: 'within', at: -1 }
    if (band === null) return best
    candidates.forEach((c, i) => {
      const v = verdict(c, band, policy)
      if (v === 'beyond' && best.v !== 'beyond') best = { v, at: i }
      else if (v === 'uncertain' && best.v === 'within') best = { v, at: i }
    })
    return best
  }
  const asComparison = (i: number): Comparison | null => {
    if (i < 0) return null
    if (result.spec.metric === 'equalized_odds') {
      return {
        measure: result.measure,
        group: result.groups[0],
        reference: result.groups[1],
        value: result.value,
        exact: result.exact,
        ci_low: result.ci_low,
        ci_high: result.ci_high,
        n: result.n,
      }
    }
    return result.comparisons[i] ?? null
  }
  const critical = decide(levels.critical)
  const warning = decide(levels.warning)
  if (critical.v === 'beyond')
    return { status: 'critical', uncertain: null, deciding: asComparison(critical.at), reason: null }
  if (warning.v === 'beyond') {
    return {
      status: 'warning',
      uncertain: critical.v === 'uncertain' ? 'critical' : null,
      deciding: asComparison(warning.at),
      reason: null,
    }
  }
  const unsure = critical.v === 'uncertain' ? critical : warning.v === 'uncertain' ? warning : null
  return {
    status: 'ok',
    uncertain: unsure === null ? null : unsure === critical ? 'critical' : 'warning',
    deciding: unsure === null ? null : asComparison(unsure.at),
    reason: null,
  }
}
