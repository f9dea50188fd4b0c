import { describe, expect, it } from 'vitest'
import {
  accuracy,
  accuracyGap,
  demographicParityDifference,
  disparateImpactRatio,
  equalizedOddsDifference,
  fairnessReport,
  falsePositiveRate,
  type GroupCounts,
  selectionRate,
  truePositiveRate,
} from '../../../shared/kpi/fairness.js'

const g = (group: string, tp: number, fp: number, tn: number, fn: number): GroupCounts => ({
  group,
  tp,
  fp,
  tn,
  fn,
})

// Hand-computed: A sel 0.4, TPR 0.75, FPR 1/6, acc 0.8; B sel 0.2, TPR 0.5, FPR 0.125, acc 0.8;
// C sel 0.5, TPR 45/55, FPR 5/45, acc 0.85.
const A = g('a', 30, 10, 50, 10)
const B = g('b', 10, 10, 70, 10)
const C = g('c', 45, 5, 40, 10)

describe('per-group rates', () => {
  it('follow the Fairlearn definitions', () => {
    expect(selectionRate(A)).toBe(0.4)
    expect(truePositiveRate(A)).toBe(0.75)
    expect(falsePositiveRate(A)).toBeCloseTo(1 / 6, 15)
    expect(accuracy(A)).toBe(0.8)
    expect(selectionRate(C)).toBe(0.5)
    expect(truePositiveRate(C)).toBeCloseTo(45 / 55, 15)
  })

  it('have no value (null, never NaN) on a zero denominator', () => {
    const empty = g('empty', 0, 0, 0, 0)
    expect(selectionRate(empty)).toBeNull()
    expect(accuracy(empty)).toBeNull()
    expect(truePositiveRate(empty)).toBeNull()
    expect(falsePositiveRate(empty)).toBeNull()
    expect(truePositiveRate(g('no positives', 0, 3, 7, 0))).toBeNull()
    expect(falsePositiveRate(g('no negatives', 3, 0, 0, 7))).toBeNull()
  })
})

describe('group metrics', () => {
  it('match hand-computed values on three groups', () => {
    expect(demographicParityDifference([A, B, C])).toBeCloseTo(0.3, 15)
    expect(disparateImpactRatio([A, B, C])).toBeCloseTo(0.4, 15)
    expect(equalizedOddsDifference([A, B, C])).toBeCloseTo(45 / 55 - 0.5, 15) // TPR gap 0.318 > FPR gap 0.056
    expect(accuracyGap([A, B, C])).toBeCloseTo(0.05, 15)
  })

  it('use the FPR gap when it is the larger', () => {
    const x = g('x', 50, 40, 60, 50) // TPR 0.5, FPR 0.4
    const y = g('y', 50, 10, 90, 50) // TPR 0.5, FPR 0.1
    expect(equalizedOddsDifference([x, y])).toBeCloseTo(0.3, 15)
  })

  it('give 0 differences and ratio 1 for a single group', () => {
    expect(fairnessReport([A])).toEqual({
      demographicParityDifference: 0,
      disparateImpactRatio: 1,
      equalizedOddsDifference: 0,
      accuracyGap: 0,
    })
  })

  it('give null for no groups', () => {
    expect(fairnessReport([])).toEqual({
      demographicParityDifference: null,
      disparateImpactRatio: null,
      equalizedOddsDifference: null,
      accuracyGap: null,
    })
  })

  it('give a null ratio when every selection rate is 0', () => {
    const none1 = g('n1', 0, 0, 10, 5)
    const none2 = g('n2', 0, 0, 20, 1)
    expect(disparateImpactRatio([none1, none2])).toBeNull()
    expect(demographicParityDifference([none1, none2])).toBe(0)
    expect(disparateImpactRatio([none1])).toBeNull()
  })

  it('give ratio 0 when one group is never selected and another is', () => {
    expect(disparateImpactRatio([A, g('never', 0, 0, 10, 5)])).toBe(0)
  })

  it('leave out an empty group', () => {
    const empty = g('empty', 0, 0, 0, 0)
    expect(fairnessReport([A, B, empty])).toEqual(fairnessReport([A, B]))
  })

  it('leave a group without positives out of the TPR gap only', () => {
    const noPositives = g('np', 0, 5, 15, 0) // TPR none, FPR 0.25, sel 0.25
    // TPR gap over A, B: 0.25; FPR gap over A, B, np: 0.25 − 0.125 = 0.125
    expect(equalizedOddsDifference([A, B, noPositives])).toBeCloseTo(0.25, 15)
    expect(demographicParityDifference([A, B, noPositives])).toBeCloseTo(0.2, 15)
  })

  it('fall back to the gap that exists', () => {
    const onlyPos1 = g('p1', 8, 0, 0, 2) // TPR 0.8, no FPR
    const onlyPos2 = g('p2', 5, 0, 0, 5) // TPR 0.5, no FPR
    expect(equalizedOddsDifference([onlyPos1, onlyPos2])).toBeCloseTo(0.3, 15)
    const onlyNeg1 = g('n1', 0, 1, 9, 0) // FPR 0.1
    const onlyNeg2 = g('n2', 0, 4, 6, 0) // FPR 0.4
    expect(equalizedOddsDifference([onlyNeg1, onlyNeg2])).toBeCloseTo(0.3, 15)
    expect(equalizedOddsDifference([onlyPos1, onlyNeg1])).toBe(0) // one TPR, one FPR: both gaps 0
  })

  it('never return NaN or Infinity', () => {
    const cases: GroupCounts[][] = [[], [g('z', 0, 0, 0, 0)], [g('a', 0, 0, 1, 0), g('b', 0, 0, 0, 1)]]
    for (const groups of cases) {
      for (const v of Object.values(fairnessReport(groups))) {
        if (v !== null) expect(Number.isFinite(v)).toBe(true)
      }
    }
  })
})
