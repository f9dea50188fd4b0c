import { expect } from 'vitest'
import { reasonCodes } from '../../../shared/kpi/breach-state.js'
import type { JudgedComparison, Sample } from '../../../shared/kpi/engine/sample.js'
import { cmp, type Rational } from '../../../shared/kpi/fairness/exact.js'

/**
 * The live path (the fairness module over the state tables) against the reference queries (SQL over the
 * facts), sample by sample: value to the bit (both are one IEEE-754 division per rate, then a difference
 * or quotient), n, the exact rational (equal as rationals), the reason codes (the live path adds a detail
 * for people), the comparisons a reference form is judged on, and the interval bounds to 1e-12 relative.
 * The bounds are not compared to the bit because they go through log and exp (Katz), whose V8 and
 * ClickHouse implementations may differ in the last place; 1e-12 is a thousand times coarser than that
 * and a million times finer than any threshold.
 */

const key = (s: Pick<Sample, 'kpiId' | 'scope'>) =>
  `${s.kpiId} ${JSON.stringify(Object.entries(s.scope).sort())}`

const close = (a: number | null | undefined, b: number | null | undefined) =>
  (a ?? null) === (b ?? null) ||
  (typeof a === 'number' && typeof b === 'number' && Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(a)))

const sameExact = (a: Rational | null | undefined, b: Rational | null | undefined) =>
  (a ?? null) === null ? (b ?? null) === null : b !== null && b !== undefined && cmp(a!, b) === 0

const sameComparisons = (a: readonly JudgedComparison[] = [], b: readonly JudgedComparison[] = []) =>
  a.length === b.length &&
  a.every(
    (c, i) =>
      sameExact(c.exact, b[i]!.exact) && close(c.ci_low, b[i]!.ci_low) && close(c.ci_high, b[i]!.ci_high),
  )

/** What differs between two samples of the same series, or null. */
export function sampleDifference(live: Sample, ref: Sample): string | null {
  const problems: string[] = []
  if (!Object.is(live.value, ref.value)) problems.push(`value ${live.value} vs ${ref.value}`)
  if ((live.n ?? null) !== (ref.n ?? null)) problems.push(`n ${live.n} vs ${ref.n}`)
  if (!sameExact(live.exact, ref.exact)) problems.push('exact')
  if (!close(live.ci_low, ref.ci_low) || !close(live.ci_high, ref.ci_high)) {
    problems.push(`ci [${live.ci_low}, ${live.ci_high}] vs [${ref.ci_low}, ${ref.ci_high}]`)
  }
  const lc = reasonCodes(live.reason).join(',')
  const rc = reasonCodes(ref.reason).join(',')
  if (lc !== rc) problems.push(`reason ${JSON.stringify(live.reason)} vs ${rc}`)
  if (!sameComparisons(live.comparisons, ref.comparisons)) problems.push('comparisons')
  return problems.length === 0 ? null : problems.join('; ')
}

/** Asserts both sets hold the same series with the same measurements; returns the number compared. */
export function expectSameSamples(
  live: readonly Sample[],
  reference: readonly Sample[],
  label: string,
): number {
  const ref = new Map(reference.map((s) => [key(s), s]))
  const got = new Map(live.map((s) => [key(s), s]))
  const missing = [...ref.keys()].filter((k) => !got.has(k))
  const extra = [...got.keys()].filter((k) => !ref.has(k))
  expect({ missing: missing.slice(0, 5), extra: extra.slice(0, 5) }, label).toEqual({
    missing: [],
    extra: [],
  })
  const differing: string[] = []
  for (const [k, r] of ref) {
    const d = sampleDifference(got.get(k)!, r)
    if (d !== null) differing.push(`${k}: ${d}`)
  }
  expect(differing.slice(0, 5), label).toEqual([])
  return ref.size
}
