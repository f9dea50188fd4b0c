import { describe, expect, it } from 'vitest'
import {
  deriveMetrics,
  overallFromAttributes,
  reconcileMetrics,
  reportedDecimals,
  sumConfusion,
} from '../../../../shared/kpi/fairness/index.js'

// tp 45, fp 5, tn 40, fn 10 (n = 100):
// accuracy 85/100, precision 45/50 = 0.9, recall 45/55 = 9/11, F1 = 2·45/(2·45 + 5 + 10) = 90/105 = 6/7
const C = { tp: 45, fp: 5, tn: 40, fn: 10 }

describe('derived overall metrics', () => {
  it('follow the definitions', () => {
    const m = deriveMetrics(C)
    expect(m.accuracy).toBe(0.85)
    expect(m.precision).toBe(0.9)
    expect(m.recall).toBe(45 / 55)
    expect(m.f1).toBe(90 / 105)
    // F1 as the harmonic mean of precision and recall, the textbook form
    expect(m.f1).toBeCloseTo((2 * 0.9 * (9 / 11)) / (0.9 + 9 / 11), 15)
  })

  it('are null on a zero denominator', () => {
    expect(deriveMetrics({ tp: 0, fp: 0, tn: 10, fn: 0 })).toEqual({
      accuracy: 1,
      precision: null, // nothing predicted positive
      recall: null, // no actual positive
      f1: null,
    })
  })

  it('sum the groups of an attribute; several attributes should agree', () => {
    const sex = [
      { group: 'f', tp: 20, fp: 2, tn: 15, fn: 3 },
      { group: 'm', tp: 25, fp: 3, tn: 25, fn: 7 },
    ]
    expect(sumConfusion(sex)).toEqual(C)
    const age = [
      { group: 'young', tp: 40, fp: 5, tn: 20, fn: 5 },
      { group: 'old', tp: 5, fp: 0, tn: 20, fn: 5 },
    ]
    const wrong = [{ group: 'x', tp: 44, fp: 6, tn: 40, fn: 10 }]
    const predictionOnly = [{ group: 'p', selected: 50, total: 100 }]
    expect(sumConfusion(predictionOnly)).toBeNull()
    expect(
      overallFromAttributes([
        { attribute: 'pred', groups: predictionOnly },
        { attribute: 'sex', groups: sex },
        { attribute: 'age', groups: age },
        { attribute: 'bad', groups: wrong },
      ]),
    ).toEqual({ confusion: C, attribute: 'sex', mismatched: ['bad'] })
    expect(overallFromAttributes([])).toEqual({ confusion: null, attribute: null, mismatched: [] })
  })
})

describe('reconciling reported metrics', () => {
  it('reported values win; derived fill the gaps', () => {
    const r = reconcileMetrics({ accuracy: 0.85 }, C)
    expect(r.accuracy).toMatchObject({ value: 0.85, source: 'reported', derived: 0.85, disagreement: false })
    expect(r.f1).toMatchObject({ value: 90 / 105, source: 'derived', reported: null, tolerance: null })
    expect(reconcileMetrics({}, null).recall).toMatchObject({
      value: null,
      source: 'none',
      disagreement: false,
    })
    expect(reconcileMetrics({ recall: 0.5 }, null).recall).toMatchObject({ value: 0.5, source: 'reported' })
  })

  it('tolerate rounding: half a count of the denominator or half the last reported decimal', () => {
    // precision: n = 50, so 0.5/50 = 0.01; reported 0.9 has 1 decimal: 0.05 → tolerance 0.05 + 1e-9
    const p = reconcileMetrics({ precision: 0.86, recall: 0.8182 }, C)
    expect(p.precision.tolerance).toBeCloseTo(0.01 + 1e-9, 15) // 0.86: 2 decimals, 0.005 < 0.01
    expect(p.precision.disagreement).toBe(true) // |0.86 − 0.9| = 0.04 > 0.01
    expect(reconcileMetrics({ precision: 0.9 }, C).precision.disagreement).toBe(false)
    // recall 9/11 = 0.818181…: reported 0.8182 is within 0.5/55 ≈ 0.0091
    expect(p.recall.disagreement).toBe(false)
    // 0.8 could be 9/11 rounded to one decimal; 0.78 (two decimals) cannot
    expect(reconcileMetrics({ recall: 0.8 }, C).recall.disagreement).toBe(false)
    expect(reconcileMetrics({ recall: 0.78 }, C).recall).toMatchObject({ disagreement: true, reported: 0.78 })
  })

  it('at a million samples the reported rounding dominates, and 0 or 1 are exact', () => {
    const big = { tp: 876_543, fp: 0, tn: 0, fn: 123_457 } // accuracy 0.876543, n = 10^6: 0.5/n = 5e-7
    expect(reconcileMetrics({ accuracy: 0.8765 }, big).accuracy.disagreement).toBe(false) // ±5e-5 rounding
    expect(reconcileMetrics({ accuracy: 0.87655 }, big).accuracy.disagreement).toBe(true) // 7e-6 > 5e-6
    const almost = { tp: 999_999, fp: 0, tn: 0, fn: 1 } // 0.999999
    expect(reconcileMetrics({ accuracy: 1 }, almost).accuracy.disagreement).toBe(true)
    expect(reconcileMetrics({ accuracy: 0.999999 }, almost).accuracy.disagreement).toBe(false)
  })

  it('count decimals as written', () => {
    expect(reportedDecimals(0.8765)).toBe(4)
    expect(reportedDecimals(1e-7)).toBe(7)
    expect(reportedDecimals(1.5e-7)).toBe(8)
    expect(reportedDecimals(5)).toBe(0)
  })
})
