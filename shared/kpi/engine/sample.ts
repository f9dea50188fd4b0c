import type { Severity } from '../../alerts/alert-job.js'
import type { Rational } from '../fairness/exact.js'

/** One comparison a fairness value rests on (a group against its reference), judged on its own. */
export interface JudgedComparison {
  exact: Rational
  ci_low: number
  ci_high: number
}

/** What is known about a value beside the number (every field optional: plain KPIs have none). */
export interface Measurement {
  value: number | null
  /** The value as an exact rational (values computed from counts); thresholds are compared with it. */
  exact?: Rational | null
  /** The sample behind the value (fairness: the two groups' rate denominators). */
  n?: number | null
  /** Confidence interval of the value. */
  ci_low?: number | null
  ci_high?: number | null
  /**
   * Why there is no value (with value null: not estimable, status insufficient_data) or what to know about
   * one (excluded groups, derived from counts, reported and derived disagree): lines of `code: detail`.
   */
  reason?: string | null
  /**
   * Reference forms of fairness KPIs: every group's comparison with the reference, each judged (the worst
   * decides). Absent: the value and its interval are judged.
   */
  comparisons?: readonly JudgedComparison[] | undefined
}

/**
 * One computed value of one KPI series at one time (ms since the epoch); value null = no value. The
 * measurement fields are optional, so a plain `{ kpiId, scope, value, at }` is a sample as before.
 */
export interface Sample extends Measurement {
  kpiId: string
  scope: Record<string, string>
  value: number | null
  at: number
  /**
   * When the series' inputs last arrived (ms; model KPIs: the latest evaluation of the model in that
   * environment, on its current version's series only; privacy and audit aggregates: the area's latest
   * event). Absent: the series is not watched for staleness.
   */
  inputAt?: number
  /** Set once judged: the level the value reaches that its interval does not confirm (interval policy). */
  uncertain?: Severity | null
}
