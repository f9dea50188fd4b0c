import { ConfigError } from '../../errors.js'
import type { Comparator } from '../catalog.js'

/**
 * Exact rational arithmetic for threshold comparisons. A fairness value computed from counts is a
 * ratio of integers (a rate, a difference or quotient of rates), so "is it below 0.8?" has an exact
 * answer; IEEE-754 gives 0.6 / 0.75 = 0.7999999999999999 and 0.75 − 0.70 = 0.050000000000000044.
 * Here values are `Rational`s of BigInts and thresholds are exact decimals, compared by
 * cross-multiplication.
 *
 * Precision: a threshold is a decimal with at most `MAX_FRACTION_DIGITS` (12) fractional digits,
 * e.g. `0.8`, `0.05`, `0.333333333333`. A threshold given as a number (JSON/YAML config) is read through
 * its shortest round-trip decimal (`String(0.1)` = "0.1"), i.e. as the decimal the person wrote, not as
 * the binary double 0.1000000000000000055…; a number that needs more than 12 fractional digits is
 * rejected. A computed float (an interval bound involves square roots and logarithms) is compared as
 * the exact binary number it is (`fromFloat`): only its own rounding, a few ulps, is inexact.
 */

/** num / den, den > 0, in lowest terms. Never NaN, never infinite. */
export interface Rational {
  readonly num: bigint
  readonly den: bigint
}

/** A threshold as written in config: a decimal string or a number (read as its shortest decimal). */
export type DecimalInput = string | number

export const MAX_FRACTION_DIGITS = 12
/** Longest decimal text accepted, a bound on the BigInts a threshold can create. */
const MAX_DECIMAL_CHARS = 40

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a
  let y = b < 0n ? -b : b
  while (y !== 0n) {
    const t = x % y
    x = y
    y = t
  }
  return x
}

/** num / den in lowest terms; den must not be 0. */
export function rational(num: bigint | number, den: bigint | number = 1n): Rational {
  let n = BigInt(num)
  let d = BigInt(den)
  if (d === 0n) throw new RangeError('rational: zero denominator')
  if (d < 0n) {
    n = -n
    d = -d
  }
  const g = gcd(n, d)
  return g > 1n ? { num: n / g, den: d / g } : { num: n, den: d }
}

/** The exact value of a count ratio, e.g. tp / (tp + fn). Counts must be safe integers, den > 0. */
export function fromCounts(num: number, den: number): Rational {
  if (!Number.isSafeInteger(num) || !Number.isSafeInteger(den)) {
    throw new RangeError(`fromCounts: ${num} / ${den} are not safe integers`)
  }
  return rational(num, den)
}

export const ZERO: Rational = { num: 0n, den: 1n }
export const ONE: Rational = { num: 1n, den: 1n }

export function add(a: Rational, b: Rational): Rational {
  return rational(a.num * b.den + b.num * a.den, a.den * b.den)
}

export function sub(a: Rational, b: Rational): Rational {
  return rational(a.num * b.den - b.num * a.den, a.den * b.den)
}

export function mul(a: Rational, b: Rational): Rational {
  return rational(a.num * b.num, a.den * b.den)
}

/** a / b; b must not be 0. */
export function div(a: Rational, b: Rational): Rational {
  if (b.num === 0n) throw new RangeError('div: division by zero')
  return rational(a.num * b.den, a.den * b.num)
}

export function neg(a: Rational): Rational {
  return { num: -a.num, den: a.den }
}

export function abs(a: Rational): Rational {
  return a.num < 0n ? neg(a) : a
}

/** 1 / a; a must not be 0. */
export function reciprocal(a: Rational): Rational {
  return div(ONE, a)
}

/** -1, 0 or 1 as a <, =, > b: exact, by cross-multiplication (denominators are positive). */
export function cmp(a: Rational, b: Rational): -1 | 0 | 1 {
  const l = a.num * b.den
  const r = b.num * a.den
  return l < r ? -1 : l > r ? 1 : 0
}

export function max(a: Rational, b: Rational): Rational {
  return cmp(a, b) >= 0 ? a : b
}

export function min(a: Rational, b: Rational): Rational {
  return cmp(a, b) <= 0 ? a : b
}

/** The nearest double (for display and storage; comparisons use the Rational). */
export function toFloat(a: Rational): number {
  // Scale so both parts fit a double's 53-bit significand before dividing: one rounding step.
  const bits = (x: bigint) => (x < 0n ? -x : x).toString(2).length
  const shift = Math.max(0, Math.max(bits(a.num), bits(a.den)) - 60)
  if (shift === 0) return Number(a.num) / Number(a.den)
  const s = BigInt(shift)
  return Number(a.num >> s) / Number(a.den >> s)
}

/** The exact value of a finite double: every double is m · 2^e with an integer m. */
export function fromFloat(x: number): Rational {
  if (!Number.isFinite(x)) throw new RangeError(`fromFloat: ${x} is not finite`)
  if (x === 0) return ZERO
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, x)
  const hi = view.getUint32(0)
  const lo = view.getUint32(4)
  const sign = hi >>> 31 === 1 ? -1n : 1n
  const exponentBits = (hi >>> 20) & 0x7ff
  let mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo)
  let exponent: number
  if (exponentBits === 0) {
    exponent = -1074 // subnormal
  } else {
    mantissa |= 1n << 52n
    exponent = exponentBits - 1075
  }
  return exponent >= 0
    ? rational(sign * (mantissa << BigInt(exponent)))
    : rational(sign * mantissa, 1n << BigInt(-exponent))
}

const DECIMAL = /^([+-]?)(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$|^([+-]?)\.(\d+)(?:[eE]([+-]?\d+))?$/

/**
 * A decimal threshold as an exact rational: "0.8" → 4/5. Numbers are read through their shortest
 * round-trip decimal. At most `MAX_FRACTION_DIGITS` fractional digits (after any exponent). Throws a
 * ConfigError naming `field` otherwise.
 */
export function parseDecimal(input: DecimalInput, field = 'threshold'): Rational {
  if (typeof input === 'number' && !Number.isFinite(input)) {
    throw new ConfigError(`${field}: ${input} is not a finite number`)
  }
  const text = typeof input === 'number' ? String(input) : input.trim()
  if (text.length === 0 || text.length > MAX_DECIMAL_CHARS) {
    throw new ConfigError(`${field}: expected a decimal number of at most ${MAX_DECIMAL_CHARS} characters`)
  }
  const m = DECIMAL.exec(text)
  if (m === null) throw new ConfigError(`${field}: ${JSON.stringify(text)} is not a decimal number`)
  const sign = (m[1] ?? m[5]) === '-' ? -1n : 1n
  const intPart = m[2] ?? '0'
  const fracPart = m[3] ?? m[6] ?? ''
  const exp = Number(m[4] ?? m[7] ?? '0')
  // digits × 10^(exp − fractional digits)
  const digits = BigInt(intPart + fracPart)
  const scale = fracPart.length - exp
  let value: Rational
  if (scale <= 0) {
    if (-scale > 30) throw new ConfigError(`${field}: ${text} is too large`)
    value = rational(sign * digits * 10n ** BigInt(-scale))
  } else {
    value = rational(sign * digits, 10n ** BigInt(scale))
    // 0.50 reduces to 1/2 (one digit), 5e-13 needs thirteen: den must divide 10^12.
    if (!isTerminatingWithin(value.den, MAX_FRACTION_DIGITS)) {
      throw new ConfigError(
        `${field}: ${text} has more than ${MAX_FRACTION_DIGITS} fractional digits (thresholds are exact decimals with at most ${MAX_FRACTION_DIGITS})`,
      )
    }
  }
  return value
}

/** Whether 1/den is a decimal with at most `places` fractional digits (den divides 10^places). */
function isTerminatingWithin(den: bigint, places: number): boolean {
  return 10n ** BigInt(places) % den === 0n
}

/** A threshold already exact, or a decimal to parse. */
export function toThreshold(t: DecimalInput | Rational, field = 'threshold'): Rational {
  return typeof t === 'object' ? t : parseDecimal(t, field)
}

/** A value to compare: an exact Rational, or a double taken as its exact binary value. */
export function toValue(v: Rational | number): Rational {
  return typeof v === 'number' ? fromFloat(v) : v
}

/**
 * `value <op> threshold`, exactly: the breach test of the catalog's comparators ("gt" = the value
 * breaches when it is greater than the threshold). A ratio of exactly 4/5 is not `lt 0.8`.
 */
export function compare(
  value: Rational | number,
  op: Comparator,
  threshold: DecimalInput | Rational,
): boolean {
  const c = cmp(toValue(value), toThreshold(threshold))
  switch (op) {
    case 'gt':
      return c > 0
    case 'gte':
      return c >= 0
    case 'lt':
      return c < 0
    case 'lte':
      return c <= 0
  }
}

/** "num/den" (or "num" when den = 1): an exact, lossless text form for storage or audit trails. */
export function formatRational(a: Rational): string {
  return a.den === 1n ? a.num.toString() : `${a.num}/${a.den}`
}
