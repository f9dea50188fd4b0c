import { describe, expect, it } from 'vitest'
import {
  abs,
  add,
  cmp,
  compare,
  div,
  formatRational,
  fromCounts,
  fromFloat,
  mul,
  parseDecimal,
  rational,
  reciprocal,
  sub,
  toFloat,
} from '../../../../shared/kpi/fairness/exact.js'

const r = (n: number | bigint, d: number | bigint = 1) => rational(n, d)

describe('exact rationals', () => {
  it('keep lowest terms with a positive denominator', () => {
    expect(r(6, -8)).toEqual({ num: -3n, den: 4n })
    expect(r(0, 5)).toEqual({ num: 0n, den: 1n })
    expect(() => r(1, 0)).toThrow(/zero denominator/)
  })

  it('add, subtract, multiply, divide exactly', () => {
    expect(add(r(1, 6), r(1, 3))).toEqual(r(1, 2))
    expect(sub(r(3, 4), r(7, 10))).toEqual(r(1, 20)) // 15/20 − 14/20
    expect(mul(r(2, 3), r(9, 4))).toEqual(r(3, 2))
    expect(div(r(3, 5), r(3, 4))).toEqual(r(4, 5)) // 0.6 / 0.75
    expect(reciprocal(r(4, 5))).toEqual(r(5, 4))
    expect(abs(r(-1, 3))).toEqual(r(1, 3))
    expect(() => div(r(1), r(0))).toThrow(/division by zero/)
  })

  it('compare by cross-multiplication, also beyond 2^53', () => {
    expect(cmp(r(1, 3), r(2, 6))).toBe(0)
    // 2^53 + 1 and 2^53 are the same double, not the same rational.
    const big = 2n ** 53n
    expect(cmp(r(big + 1n, 3), r(big, 3))).toBe(1)
    expect(cmp(r(-1, 2), r(1, 3))).toBe(-1)
  })

  it('read counts exactly and reject unsafe ones', () => {
    expect(fromCounts(60, 100)).toEqual(r(3, 5))
    expect(() => fromCounts(0.5, 1)).toThrow(/safe integers/)
  })

  it('turn a double into its exact binary value', () => {
    // 0.1 is 3602879701896397 / 2^55.
    expect(fromFloat(0.1)).toEqual(r(3602879701896397n, 2n ** 55n))
    expect(fromFloat(-2.5)).toEqual(r(-5, 2))
    expect(fromFloat(2 ** 60)).toEqual(r(2n ** 60n))
    expect(fromFloat(5e-324)).toEqual(r(1n, 2n ** 1074n)) // the smallest subnormal
    expect(fromFloat(0)).toEqual(r(0))
    expect(() => fromFloat(Number.NaN)).toThrow(/not finite/)
  })

  it('round back to the nearest double for storage', () => {
    expect(toFloat(r(1, 3))).toBe(1 / 3)
    expect(toFloat(r(4, 5))).toBe(0.8)
    // 10^30 / (3·10^30): both parts beyond 2^60 are scaled first, still 1/3.
    expect(toFloat(r(10n ** 30n, 3n * 10n ** 30n + 3n))).toBeCloseTo(1 / 3, 15)
    expect(formatRational(r(4, 5))).toBe('4/5')
    expect(formatRational(r(-3))).toBe('-3')
  })
})

describe('decimal thresholds', () => {
  it('parse exactly, numbers through their shortest decimal', () => {
    expect(parseDecimal('0.8')).toEqual(r(4, 5))
    expect(parseDecimal(0.1)).toEqual(r(1, 10)) // not 3602879701896397 / 2^55
    expect(parseDecimal(0.05)).toEqual(r(1, 20))
    expect(parseDecimal('-0.05')).toEqual(r(-1, 20))
    expect(parseDecimal('.5')).toEqual(r(1, 2))
    expect(parseDecimal('1.25')).toEqual(r(5, 4))
    expect(parseDecimal('1e-3')).toEqual(r(1, 1000))
    expect(parseDecimal(1e-7)).toEqual(r(1, 10_000_000)) // String(1e-7) = "1e-7"
    expect(parseDecimal('2.5E+2')).toEqual(r(250))
    expect(parseDecimal(' 0.333333333333 ')).toEqual(r(333333333333, 10 ** 12)) // 12 digits: accepted
    expect(parseDecimal('0.50000000000000')).toEqual(r(1, 2)) // trailing zeros are not precision
  })

  it('reject what is not an exact decimal of at most 12 fractional digits, naming the field', () => {
    expect(() => parseDecimal('0.0000000000001', 'kpis.x.warning')).toThrow(
      /kpis\.x\.warning: 0\.0000000000001 has more than 12 fractional digits/,
    )
    expect(() => parseDecimal(1 / 3)).toThrow(/more than 12 fractional digits/)
    expect(() => parseDecimal(1e-13)).toThrow(/more than 12/)
    expect(() => parseDecimal('abc')).toThrow(/not a decimal number/)
    expect(() => parseDecimal('')).toThrow(/decimal number of at most/)
    expect(() => parseDecimal('1'.repeat(41))).toThrow(/at most 40 characters/)
    expect(() => parseDecimal(Number.POSITIVE_INFINITY)).toThrow(/not a finite number/)
    expect(() => parseDecimal('1e31')).toThrow(/too large/)
    expect(() => parseDecimal('0x10')).toThrow(/not a decimal number/)
  })
})

describe('compare (the exact breach test)', () => {
  // The cases of the issue: IEEE-754 crosses each threshold, the exact value does not.
  it('a disparate impact ratio of exactly 4/5 is not < 0.8', () => {
    const ratio = div(fromCounts(60, 100), fromCounts(75, 100)) // 0.6 / 0.75 = 4/5
    expect(0.6 / 0.75).toBe(0.7999999999999999)
    expect(compare(ratio, 'lt', 0.8)).toBe(false)
    expect(compare(ratio, 'lt', '0.8')).toBe(false)
    expect(compare(ratio, 'lte', 0.8)).toBe(true)
    expect(compare(0.6 / 0.75, 'lt', 0.8)).toBe(true) // the float, taken exactly, is below
    const lower = div(fromCounts(79, 100), fromCounts(100, 100)) // 0.79
    expect(compare(lower, 'lt', 0.8)).toBe(true)
  })

  it('an accuracy gap of 0.75 − 0.70 is not > 0.05, a DPD of 0.4 − 0.3 is not > 0.1', () => {
    const gap = sub(fromCounts(75, 100), fromCounts(70, 100)) // 5/100
    expect(0.75 - 0.7).toBe(0.050000000000000044)
    expect(compare(gap, 'gt', 0.05)).toBe(false)
    expect(compare(gap, 'gte', 0.05)).toBe(true)
    const dpd = sub(fromCounts(40, 100), fromCounts(30, 100))
    expect(0.4 - 0.3).toBe(0.10000000000000003)
    expect(compare(dpd, 'gt', 0.1)).toBe(false)
    expect(compare(dpd, 'gt', '0.099999999999')).toBe(true)
  })

  it('accepts a threshold already exact', () => {
    expect(compare(r(5, 3), 'gt', r(5, 3))).toBe(false)
    expect(compare(r(5, 3), 'gte', r(5, 3))).toBe(true)
  })
})
