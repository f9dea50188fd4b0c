import { describe, expect, it } from 'vitest'
import {
  bandFromComparator,
  computeFairnessKpi,
  differenceBand,
  type FairnessLevels,
  type GroupInput,
  judge,
  outside,
  ratioBand,
  rational,
} from '../../../../shared/kpi/fairness/index.js'

const sel = (group: string, selected: number, total: number): GroupInput => ({ group, selected, total })
const DIR = { metric: 'demographic_parity', form: 'ratio' } as const
const DPD = { metric: 'demographic_parity', form: 'difference' } as const
const RATIO_LEVELS: FairnessLevels = { warning: ratioBand('0.8'), critical: ratioBand('0.6') }
const DIFF_LEVELS: FairnessLevels = { warning: differenceBand('0.1'), critical: differenceBand('0.25') }

describe('bands', () => {
  it('ratio bands are symmetric on the log scale by default, exact', () => {
    const b = ratioBand('0.6')
    expect(b.high!.value).toEqual(rational(5, 3))
    expect(ratioBand().low!.value).toEqual(rational(4, 5))
    expect(ratioBand().high!.value).toEqual(rational(5, 4))
    expect(outside(rational(5, 4), ratioBand())).toBeNull() // edges are acceptable
    expect(outside(rational(126, 100), ratioBand())).toBe('high')
    expect(outside(rational(4, 5), ratioBand())).toBeNull()
    expect(outside(0.7999999999999999, ratioBand())).toBe('low') // a float is taken as the exact binary value
    expect(ratioBand('0.8', '1.5').high!.value).toEqual(rational(3, 2))
    expect(() => ratioBand('0')).toThrow(/low must be > 0/)
    expect(() => ratioBand('0.8', '0.7')).toThrow(/high must be >= low/)
  })

  it('difference bands are ±tolerance, edges acceptable', () => {
    expect(outside(rational(-1, 10), differenceBand('0.1'))).toBeNull()
    expect(outside(rational(-11, 100), differenceBand('0.1'))).toBe('low')
    expect(() => differenceBand('-0.1')).toThrow(/>= 0/)
  })

  it("a catalog comparator gives a one-sided band with the catalog's edge semantics", () => {
    expect(outside(rational(1, 20), bandFromComparator('gt', 0.05))).toBeNull()
    expect(outside(rational(1, 20), bandFromComparator('gte', 0.05))).toBe('high')
    expect(outside(rational(4, 5), bandFromComparator('lt', 0.8))).toBeNull()
    expect(outside(rational(4, 5), bandFromComparator('lte', 0.8))).toBe('low')
    expect(outside(rational(-5), bandFromComparator('gt', 0.05))).toBeNull()
  })
})

describe('exact thresholds (the issue’s cases)', () => {
  it('a DIR of exactly 4/5 (selection 0.6 vs 0.75) does not breach; 0.79 does', () => {
    const exact = computeFairnessKpi([sel('f', 60, 100), sel('m', 75, 100)], DIR)
    expect(exact.value).toBe(0.7999999999999999) // stored as computed…
    expect(judge(exact, RATIO_LEVELS, 'point').status).toBe('ok') // …judged exactly
    expect(judge(exact, { warning: bandFromComparator('lt', 0.8), critical: null }, 'point').status).toBe(
      'ok',
    )
    const below = computeFairnessKpi([sel('f', 79, 100), sel('m', 100, 100)], DIR)
    expect(judge(below, RATIO_LEVELS, 'point').status).toBe('warning')
  })

  it('an accuracy gap of 0.75 − 0.70 is not > 0.05; a DPD of 0.4 − 0.3 is not > 0.1', () => {
    const a = { group: 'a', tp: 40, fp: 10, tn: 35, fn: 15 } // accuracy 75/100
    const b = { group: 'b', tp: 35, fp: 15, tn: 35, fn: 15 } // accuracy 70/100
    const gap = computeFairnessKpi([a, b], { metric: 'accuracy', form: 'difference' })
    expect(gap.value).toBe(0.050000000000000044)
    expect(judge(gap, { warning: differenceBand('0.05'), critical: null }, 'point').status).toBe('ok')
    expect(judge(gap, { warning: bandFromComparator('gt', 0.05), critical: null }, 'point').status).toBe('ok')
    expect(judge(gap, { warning: bandFromComparator('gte', 0.05), critical: null }, 'point').status).toBe(
      'warning',
    )
    const dpd = computeFairnessKpi([sel('f', 40, 100), sel('m', 30, 100)], DPD)
    expect(dpd.value).toBe(0.10000000000000003)
    expect(judge(dpd, DIFF_LEVELS, 'point').status).toBe('ok')
  })
})

describe('policies', () => {
  it('the same 0.7 ratio: from 20 samples uncertain, from 200,000 a breach', () => {
    // 7/10 ÷ 10/10: Katz var = 1/7 − 1/10 + 1/10 − 1/10 = 3/70 → 0.7·exp(±1.96·0.207) = [0.466, 1.050]
    const small = computeFairnessKpi([sel('f', 7, 10), sel('m', 10, 10)], DIR, { minSamples: 10 })
    expect(small.ci_low).toBeCloseTo(0.7 * Math.exp(-1.959963984540054 * Math.sqrt(3 / 70)), 12)
    expect(judge(small, RATIO_LEVELS, 'point')).toMatchObject({ status: 'warning', uncertain: null })
    const j = judge(small, RATIO_LEVELS, 'interval')
    expect(j).toMatchObject({ status: 'ok', uncertain: 'warning', reason: null })
    expect(j.deciding).toMatchObject({ group: 'f', reference: 'm' })
    // 70,000/100,000 ÷ 1: var = 1/70000 − 1/100000 → [0.6964, 0.7036], wholly below 0.8
    const large = computeFairnessKpi([sel('f', 70_000, 100_000), sel('m', 100_000, 100_000)], DIR)
    expect(judge(large, RATIO_LEVELS, 'interval')).toMatchObject({ status: 'warning', uncertain: null })
  })

  it('a point beyond critical whose interval only clears warning: warning, critical uncertain', () => {
    // 50/200 ÷ 100/200 = 0.5; var = 1/50 − 1/200 + 1/100 − 1/200 = 0.02 → 0.5·exp(±0.2772) = [0.379, 0.660]
    const r = computeFairnessKpi([sel('f', 50, 200), sel('m', 100, 200)], DIR)
    expect(r.ci_high).toBeCloseTo(0.5 * Math.exp(1.959963984540054 * Math.sqrt(0.02)), 12)
    expect(judge(r, RATIO_LEVELS, 'point')).toMatchObject({ status: 'critical', uncertain: null })
    expect(judge(r, RATIO_LEVELS, 'interval')).toMatchObject({ status: 'warning', uncertain: 'critical' })
  })

  it('against a reference, a large group confidently beyond decides even when a small one leads', () => {
    // majority r (first of the two largest); g: 0.35 − 0.5 = −0.15 from 100,000 each (interval ≈ ±0.004);
    // s: 9/30 − 0.5 = −0.2, Newcombe ≈ [−0.33, −0.02]: further out, but reaches back into ±0.1
    const groups = [sel('r', 50_000, 100_000), sel('g', 35_000, 100_000), sel('s', 9, 30)]
    const r = computeFairnessKpi(groups, { ...DPD, reference: 'majority' })
    if (!r.estimable) throw new Error(r.detail)
    expect(r.groups).toEqual(['s', 'r'])
    expect(r.ci_high).toBeGreaterThan(-0.1)
    const j = judge(r, DIFF_LEVELS, 'interval')
    expect(j).toMatchObject({ status: 'warning', uncertain: null })
    expect(j.deciding).toMatchObject({ group: 'g', reference: 'r' })
    // without g, s alone is uncertain
    const alone = computeFairnessKpi([groups[0]!, groups[2]!], { ...DPD, reference: 'majority' })
    expect(judge(alone, DIFF_LEVELS, 'interval')).toMatchObject({ status: 'ok', uncertain: 'warning' })
  })

  it('a ratio above the band against a reference is adverse too', () => {
    // 65/100 ÷ 50/100 = 1.3 > 1.25
    const r = computeFairnessKpi([sel('r', 50, 100), sel('x', 65, 100)], {
      ...DIR,
      reference: { group: 'r' },
    })
    expect(judge(r, RATIO_LEVELS, 'point').status).toBe('warning')
    expect(judge(r, { warning: bandFromComparator('lt', 0.8), critical: null }, 'point').status).toBe('ok')
  })

  it('equalized odds is judged on its combined interval', () => {
    // TPR 0.8 vs 0.6 from 10,000 positives each (FPR 0.1 both): EOD 0.2 with an interval ≈ ±0.013
    const x = { group: 'x', tp: 8000, fp: 1000, tn: 9000, fn: 2000 }
    const y = { group: 'y', tp: 6000, fp: 1000, tn: 9000, fn: 4000 }
    const r = computeFairnessKpi([x, y], { metric: 'equalized_odds', form: 'difference' })
    expect(r.value).toBeCloseTo(0.2, 15)
    expect(judge(r, DIFF_LEVELS, 'interval')).toMatchObject({ status: 'warning', uncertain: null })
    expect(judge(r, { warning: bandFromComparator('gt', 0.1), critical: null }, 'interval').status).toBe(
      'warning',
    )
    expect(judge(r, { warning: bandFromComparator('gt', 0.25), critical: null }, 'point').status).toBe('ok')
  })

  it('not estimable is insufficient data under every policy, never ok', () => {
    const r = computeFairnessKpi([sel('only', 50, 100)], DIR)
    for (const policy of ['point', 'interval'] as const) {
      expect(judge(r, RATIO_LEVELS, policy)).toEqual({
        status: 'insufficient_data',
        uncertain: null,
        deciding: null,
        reason: 'too_few_groups',
      })
    }
  })

  it('no levels: ok', () => {
    const r = computeFairnessKpi([sel('f', 1, 100), sel('m', 99, 100)], DIR)
    expect(judge(r, { warning: null, critical: null }, 'point').status).toBe('ok')
  })
})
