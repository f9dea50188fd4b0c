import { describe, expect, it } from 'vitest'
import {
  criticalValue,
  katzRatioInterval,
  moverSum,
  newcombeInterval,
  wilsonInterval,
} from '../../../../shared/kpi/fairness/intervals.js'

/**
 * Hand-computed cases. The level Z2 = P(|Z| < 2) = erf(√2) makes the critical value exactly 2, so the
 * closed forms reduce to fractions: with z = 2, Wilson's centre is (x + 2) / (n + 4) and its half-width
 * 2·√(x(n − x)/n + 1) / (n + 4).
 */
const Z2 = 0.9544997361036416

describe('critical value', () => {
  it('matches the standard normal quantiles', () => {
    expect(criticalValue(0.95)).toBeCloseTo(1.959963984540054, 14)
    expect(criticalValue(0.9)).toBeCloseTo(1.6448536269514722, 14)
    expect(criticalValue(0.99)).toBeCloseTo(2.5758293035489004, 14)
    expect(criticalValue(0.999)).toBeCloseTo(3.2905267314918945, 14)
    expect(criticalValue(Z2)).toBeCloseTo(2, 14)
  })

  it('rejects a level outside (0, 1)', () => {
    for (const bad of [0, 1, -0.5, 1.5, Number.NaN])
      expect(() => criticalValue(bad)).toThrow(/must be in \(0, 1\)/)
  })
})

describe('Wilson score interval', () => {
  it('x = 12 of 16 at z = 2: centre 14/20, half-width 2·√(12·4/16 + 1)/20 = 0.2 → [0.5, 0.9]', () => {
    const w = wilsonInterval(12, 16, Z2)
    expect(w.low).toBeCloseTo(0.5, 13)
    expect(w.high).toBeCloseTo(0.9, 13)
  })

  it('x = 6 of 12 at z = 2: centre 8/16, half-width 2·√(6·6/12 + 1)/16 = 0.25 → [0.25, 0.75]', () => {
    const w = wilsonInterval(6, 12, Z2)
    expect(w.low).toBeCloseTo(0.25, 13)
    expect(w.high).toBeCloseTo(0.75, 13)
  })

  it('x = 0 of 4 at z = 2: centre 2/8, half-width 2·√1/8 → exactly [0, 0.5]', () => {
    const w = wilsonInterval(0, 4, Z2)
    expect(w.low).toBe(0)
    expect(w.high).toBeCloseTo(0.5, 13)
    expect(wilsonInterval(4, 4, Z2).high).toBe(1) // x = n: exactly 1
  })

  it('x = 3 of 10 at 95 %: (0.3 + z²/20)/(1 + z²/10) ∓ z·√(0.021 + z²/400)/(1 + z²/10)', () => {
    const z = 1.959963984540054
    const d = 1 + (z * z) / 10
    const centre = (0.3 + (z * z) / 20) / d // 0.35550…
    const half = (z * Math.sqrt(0.021 + (z * z) / 400)) / d // 0.24771…
    const w = wilsonInterval(3, 10, 0.95)
    expect(w.low).toBeCloseTo(centre - half, 14) // 0.10779…
    expect(w.high).toBeCloseTo(centre + half, 14) // 0.60322…
    expect(w.low).toBeCloseTo(0.10779126740630104, 12)
  })

  it('rejects impossible counts', () => {
    expect(() => wilsonInterval(5, 4, 0.95)).toThrow(/0 <= x <= n/)
    expect(() => wilsonInterval(0, 0, 0.95)).toThrow(/n >= 1/)
    expect(() => wilsonInterval(1.5, 4, 0.95)).toThrow(/integers/)
  })
})

describe("Newcombe's hybrid score interval", () => {
  it('12/16 − 6/12 at z = 2, from the Wilson intervals [0.5, 0.9] and [0.25, 0.75]', () => {
    // d = 0.75 − 0.5 = 0.25
    // low  = d − √((0.75 − 0.5)² + (0.75 − 0.5)²) = 0.25 − √0.125  = −0.10355…
    // high = d + √((0.5 − 0.25)² + (0.9 − 0.75)²) = 0.25 + √0.085  =  0.54154…
    const i = newcombeInterval(12, 16, 6, 12, Z2)
    expect(i.low).toBeCloseTo(0.25 - Math.sqrt(0.125), 13)
    expect(i.high).toBeCloseTo(0.25 + Math.sqrt(0.085), 13)
  })

  it('is antisymmetric: swapping the groups negates and swaps the bounds', () => {
    const a = newcombeInterval(12, 16, 6, 12, 0.95)
    const b = newcombeInterval(6, 12, 12, 16, 0.95)
    expect(b.low).toBeCloseTo(-a.high, 15)
    expect(b.high).toBeCloseTo(-a.low, 15)
  })

  it('is defined at zero and full counts: 0/4 − 4/4 at z = 2', () => {
    // Wilson [0, 0.5] and [0.5, 1]; d = −1; low = −1 − √(0² + 0²) = −1; high = −1 + √(0.5² + 0.5²)
    const i = newcombeInterval(0, 4, 4, 4, Z2)
    expect(i.low).toBe(-1)
    expect(i.high).toBeCloseTo(-1 + Math.sqrt(0.5), 13)
  })
})

describe('log (Katz) ratio interval', () => {
  it('(12/16) / (6/12) at z = 2: 1.5·exp(∓2·√(1/12 − 1/16 + 1/6 − 1/12)) = 1.5·exp(∓2·√(5/48))', () => {
    const i = katzRatioInterval(12, 16, 6, 12, Z2)
    expect(i.low).toBeCloseTo(1.5 * Math.exp(-2 * Math.sqrt(5 / 48)), 13) // 0.78660…
    expect(i.high).toBeCloseTo(1.5 * Math.exp(2 * Math.sqrt(5 / 48)), 13) // 2.86039…
  })

  it('x1 = 0: [0, upper bound with 0.5 added to every count and size]', () => {
    // 0/10 ÷ 5/10 → (0.5/10.5) / (5.5/10.5) = 1/11; var = 1/0.5 − 1/10.5 + 1/5.5 − 1/10.5
    const v = 1 / 0.5 - 1 / 10.5 + 1 / 5.5 - 1 / 10.5
    const i = katzRatioInterval(0, 10, 5, 10, Z2)
    expect(i.low).toBe(0)
    expect(i.high).toBeCloseTo((1 / 11) * Math.exp(2 * Math.sqrt(v)), 13)
  })

  it('collapses to [1, 1] when both rates are 1 (documented weakness), and is undefined for x2 = 0', () => {
    expect(katzRatioInterval(7, 7, 9, 9, 0.95)).toEqual({ low: 1, high: 1 })
    expect(() => katzRatioInterval(3, 10, 0, 10, 0.95)).toThrow(/undefined/)
  })
})

describe('MOVER sum', () => {
  it('0.1 [0, 0.25] + 0.2 [0.15, 0.3] = 0.3 [0.3 − √(0.1² + 0.05²), 0.3 + √(0.15² + 0.1²)]', () => {
    const i = moverSum([
      { value: 0.1, low: 0, high: 0.25 },
      { value: 0.2, low: 0.15, high: 0.3 },
    ])
    expect(i.low).toBeCloseTo(0.3 - Math.sqrt(0.0125), 15) // 0.18819…
    expect(i.high).toBeCloseTo(0.3 + Math.sqrt(0.0325), 15) // 0.48027…
  })

  it("with two differences' Wilson bounds it is Newcombe's interval", () => {
    // p1 − p2 = p1 + (−p2): MOVER of Wilson(12/16) and the negated Wilson(6/12)
    const m = moverSum([
      { value: 0.75, low: 0.5, high: 0.9 },
      { value: -0.5, low: -0.75, high: -0.25 },
    ])
    const n = newcombeInterval(12, 16, 6, 12, Z2)
    expect(m.low).toBeCloseTo(n.low, 13)
    expect(m.high).toBeCloseTo(n.high, 13)
  })
})
