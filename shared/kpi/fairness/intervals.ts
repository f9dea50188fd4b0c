/**
 * Confidence intervals for proportions and their comparisons, from counts. Pure, no dependencies.
 * - one proportion x/n: Wilson score interval (Wilson 1927);
 * - difference p1 − p2 of independent proportions: Newcombe's hybrid score interval, method 10 of
 *   Newcombe 1998, built from the two Wilson intervals;
 * - ratio p1 / p2: the log interval of Katz et al. 1978, with a documented rule for x1 = 0;
 * - a sum of independent estimates, each with its own interval: MOVER (Zou & Donner 2008), of which
 *   Newcombe's method is the two-term case; used for the average odds difference.
 * Checked against statsmodels (tests/unit/kpi/fairness/statsmodels.test.ts) to 1e-9 relative.
 */

export interface Interval {
  low: number
  high: number
}

const SQRT2 = Math.SQRT2
const SQRT_PI = Math.sqrt(Math.PI)

/** erfc(x) for x ≥ 0, to about 1e-15 relative (series below 1.5, continued fraction above). */
function erfc(x: number): number {
  if (x < 1.5) {
    // erf(x) = 2/√π · e^(−x²) · Σ 2^k x^(2k+1) / (1·3·…·(2k+1)): positive terms, no cancellation.
    let term = x
    let sum = x
    for (let k = 1; k < 200; k++) {
      term *= (2 * x * x) / (2 * k + 1)
      sum += term
      if (term < sum * 1e-17) break
    }
    return 1 - (2 / SQRT_PI) * Math.exp(-x * x) * sum
  }
  // erfc(x) = e^(−x²)/√π · 1 / (x + (1/2) / (x + 1 / (x + (3/2) / (x + …)))), modified Lentz.
  const tiny = 1e-300
  let f = x
  let c = f
  let d = 0
  for (let k = 1; k < 5000; k++) {
    const a = k / 2
    d = x + a * d
    d = d === 0 ? tiny : d
    d = 1 / d
    c = x + a / c
    c = c === 0 ? tiny : c
    const delta = c * d
    f *= delta
    if (Math.abs(delta - 1) < 1e-16) break
  }
  return Math.exp(-x * x) / SQRT_PI / f
}

/** P(Z > z) for a standard normal Z, z ≥ 0. */
function upperTail(z: number): number {
  return 0.5 * erfc(z / SQRT2)
}

function density(z: number): number {
  return Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI)
}

const criticalValues = new Map<number, number>()

/**
 * The two-sided critical value z with P(|Z| > z) = 1 − level, e.g. 1.959963984540054 for 0.95
 * (scipy's `norm.isf((1 − level) / 2)`). Newton's method on the upper tail from the
 * Abramowitz–Stegun 26.2.23 start; quadratic convergence, so a few steps reach full precision.
 */
export function criticalValue(level: number): number {
  if (!(level > 0 && level < 1)) throw new RangeError(`confidence level ${level} must be in (0, 1)`)
  const cached = criticalValues.get(level)
  if (cached !== undefined) return cached
  const p = (1 - level) / 2
  const t = Math.sqrt(-2 * Math.log(p))
  let z =
    t -
    (2.515517 + 0.802853 * t + 0.010328 * t * t) / (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t ** 3)
  z = Math.max(z, 0)
  for (let i = 0; i < 50; i++) {
    const step = (upperTail(z) - p) / density(z)
    z += step
    if (Math.abs(step) <= 1e-16 * Math.max(1, Math.abs(z))) break
  }
  if (criticalValues.size < 64) criticalValues.set(level, z)
  return z
}

function checkCounts(x: number, n: number, what: string): void {
  if (!Number.isSafeInteger(x) || !Number.isSafeInteger(n) || x < 0 || n < 1 || x > n) {
    throw new RangeError(`${what}: need integers 0 <= x <= n, n >= 1 (got x=${x}, n=${n})`)
  }
}

/**
 * Wilson score interval for x successes in n trials. At x = 0 the lower bound is exactly 0 and at
 * x = n the upper bound is exactly 1 (the closed form gives them up to rounding).
 */
export function wilsonInterval(x: number, n: number, level: number): Interval {
  checkCounts(x, n, 'wilsonInterval')
  const z = criticalValue(level)
  const p = x / n
  const z2 = z * z
  const denom = 1 + z2 / n
  const center = (p + z2 / (2 * n)) / denom
  const dist = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom
  return {
    low: x === 0 ? 0 : Math.max(0, center - dist),
    high: x === n ? 1 : Math.min(1, center + dist),
  }
}

/**
 * Newcombe's hybrid score interval (1998, method 10) for p1 − p2, p1 = x1/n1, p2 = x2/n2 independent:
 * low = d − √((p1 − l1)² + (u2 − p2)²), high = d + √((u1 − p1)² + (p2 − l2)²), with (l, u) the Wilson
 * intervals at the same level. Defined for every x including 0 and n.
 */
export function newcombeInterval(x1: number, n1: number, x2: number, n2: number, level: number): Interval {
  checkCounts(x1, n1, 'newcombeInterval')
  checkCounts(x2, n2, 'newcombeInterval')
  const p1 = x1 / n1
  const p2 = x2 / n2
  const w1 = wilsonInterval(x1, n1, level)
  const w2 = wilsonInterval(x2, n2, level)
  const d = p1 - p2
  return {
    low: d - Math.sqrt((p1 - w1.low) ** 2 + (w2.high - p2) ** 2),
    high: d + Math.sqrt((p2 - w2.low) ** 2 + (w1.high - p1) ** 2),
  }
}

/**
 * Log (Katz) interval for the ratio p1 / p2 (Katz et al. 1978): exp(ln(p1/p2) ± z·√(1/x1 − 1/n1 +
 * 1/x2 − 1/n2)), no continuity correction. Requires x2 > 0 (otherwise the ratio is undefined: the
 * caller reports "not estimable"). When x1 = 0 the ratio is 0 and the log interval does not exist:
 * the lower bound is 0 (exact: a ratio of rates is never negative) and the upper bound is that of the
 * interval with 0.5 added to every count and sample size (statsmodels' "log-adjusted"). When
 * x1 = n1 and x2 = n2 the interval collapses to [1, 1] (the method's known weakness at the boundary).
 */
export function katzRatioInterval(x1: number, n1: number, x2: number, n2: number, level: number): Interval {
  checkCounts(x1, n1, 'katzRatioInterval')
  checkCounts(x2, n2, 'katzRatioInterval')
  if (x2 === 0) throw new RangeError('katzRatioInterval: x2 = 0, the ratio is undefined')
  const z = criticalValue(level)
  const logInterval = (a: number, m: number, b: number, k: number): Interval => {
    const ratio = a / m / (b / k)
    const d = z * Math.sqrt(1 / a - 1 / m + 1 / b - 1 / k)
    return { low: Math.exp(Math.log(ratio) - d), high: Math.exp(Math.log(ratio) + d) }
  }
  if (x1 === 0) return { low: 0, high: logInterval(0.5, n1 + 0.5, x2 + 0.5, n2 + 0.5).high }
  return logInterval(x1, n1, x2, n2)
}

/** An estimate with its interval, as MOVER combines them. */
export interface Estimate {
  value: number
  low: number
  high: number
}

/**
 * MOVER ("method of variance estimates recovery", Zou & Donner 2008) for the sum of independent
 * estimates: Σθ − √Σ(θ − l)², Σθ + √Σ(u − θ)². With two differences it is how Newcombe's method
 * combines two Wilson intervals; here it joins the TPR and FPR differences of the average odds
 * difference (disjoint samples: actual positives and actual negatives).
 */
export function moverSum(parts: readonly Estimate[]): Interval {
  let value = 0
  let lowSq = 0
  let highSq = 0
  for (const p of parts) {
    value += p.value
    lowSq += (p.value - p.low) ** 2
    highSq += (p.high - p.value) ** 2
  }
  return { low: value - Math.sqrt(lowSq), high: value + Math.sqrt(highSq) }
}
