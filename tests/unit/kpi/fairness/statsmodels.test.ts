import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import {
  criticalValue,
  katzRatioInterval,
  newcombeInterval,
  wilsonInterval,
} from '../../../../shared/kpi/fairness/intervals.js'

/**
 * Property test of the intervals against an independent implementation: statsmodels (Debian bookworm
 * ships 0.13.5, python3-statsmodels), run as a real Python process:
 * - `proportion_confint(method='wilson')`                    ↔ wilsonInterval
 * - `confint_proportions_2indep(compare='diff', method='newcomb')` ↔ newcombeInterval
 * - `confint_proportions_2indep(compare='ratio', method='log')`    ↔ katzRatioInterval (x1, x2 > 0)
 * Where the definitions differ, the test says so and checks the documented rule instead:
 * - Wilson at x = 0 (x = n): ours is exactly 0 (1); statsmodels' closed form reaches it up to rounding.
 * - Ratio at x1 = 0: statsmodels' 'log' divides by zero; ours is [0, upper bound of 'log-adjusted'].
 * - Ratio at x2 = 0: undefined; ours throws (the KPI is "not estimable" before it gets there).
 * Everywhere else: 1e-9 relative.
 */

// Debian's packages install for Debian's interpreter; a python3 earlier on PATH (pyenv, a venv)
// would not see them.
const PYTHON = '/usr/bin/python3'
const SCRIPT = fileURLToPath(new URL('./statsmodels_intervals.py', import.meta.url))
const REL = 1e-9

interface Case {
  x1: number
  n1: number
  x2: number
  n2: number
  level: number
}
interface Reference {
  z: number
  wilson1: [number, number]
  wilson2: [number, number]
  newcomb: [number, number]
  log: [number, number] | null
  log_adjusted: [number, number] | null
}

/** mulberry32: a small seeded generator, so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function randomCases(count: number, seed: number): Case[] {
  const r = rng(seed)
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1))
  // n log-uniform from 1 to 10^7: small groups, typical ones and very large ones.
  const size = () => Math.max(1, Math.round(10 ** (r() * 7)))
  // x with its edges over-represented: 0, n, 1, n − 1.
  const successes = (n: number) => {
    const u = r()
    if (u < 0.12) return 0
    if (u < 0.24) return n
    if (u < 0.3) return Math.min(1, n)
    if (u < 0.36) return Math.max(0, n - 1)
    return int(0, n)
  }
  const levels = [0.8, 0.9, 0.95, 0.99, 0.999]
  const level = () => (r() < 0.6 ? levels[int(0, levels.length - 1)]! : 0.5 + r() * 0.4999)
  return Array.from({ length: count }, () => {
    const n1 = size()
    const n2 = size()
    return { x1: successes(n1), n1, x2: successes(n2), n2, level: level() }
  })
}

function runStatsmodels(cases: Case[]): { version: string; results: Reference[] } {
  const input = JSON.stringify({
    cases: cases.map((c) => ({ x1: c.x1, n1: c.n1, x2: c.x2, n2: c.n2, alpha: 1 - c.level })),
  })
  const p = spawnSync(PYTHON, [SCRIPT], { input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  if (p.error !== undefined || p.status !== 0) {
    throw new Error(
      `${PYTHON} ${SCRIPT} failed (${p.error?.message ?? `exit ${p.status}`}): ${p.stderr}\n` +
        'statsmodels comes from Debian: run deploy/scripts/install-test-tools.sh as root',
    )
  }
  return JSON.parse(p.stdout)
}

function expectRel(actual: number, expected: number, what: string): void {
  const err = Math.abs(actual - expected)
  expect(err <= REL * Math.abs(expected), `${what}: ${actual} vs statsmodels ${expected} (|Δ| ${err})`).toBe(
    true,
  )
}

describe('intervals against statsmodels', () => {
  const cases = randomCases(400, 20_240_601)
  const { version, results } = runStatsmodels(cases)

  it('runs a statsmodels that has these methods (0.12+; Debian bookworm ships 0.13.5)', () => {
    const [major = 0, minor = 0] = version.split('.').map(Number)
    expect(major > 0 || minor >= 12, `statsmodels ${version}`).toBe(true)
    expect(results).toHaveLength(cases.length)
  })

  it('exercises the edges: zero counts, full counts, tiny and huge groups', () => {
    expect(cases.filter((c) => c.x1 === 0).length).toBeGreaterThan(20)
    expect(cases.filter((c) => c.x2 === c.n2).length).toBeGreaterThan(20)
    expect(cases.filter((c) => c.n1 < 30).length).toBeGreaterThan(50)
    expect(cases.filter((c) => c.n1 > 100_000).length).toBeGreaterThan(50)
    expect(cases.filter((c) => c.x1 > 0 && c.x2 > 0).length).toBeGreaterThan(200)
  })

  it('has the same critical value as scipy.stats.norm.isf', () => {
    cases.forEach((c, i) => {
      expectRel(criticalValue(c.level), results[i]!.z, `z(${c.level})`)
    })
  })

  it('agrees on Wilson intervals', () => {
    cases.forEach((c, i) => {
      const ref = results[i]!
      for (const [x, n, [lo, hi]] of [
        [c.x1, c.n1, ref.wilson1],
        [c.x2, c.n2, ref.wilson2],
      ] as const) {
        const w = wilsonInterval(x, n, c.level)
        const what = `wilson(${x}, ${n}, ${c.level})`
        if (x === 0) {
          expect(w.low).toBe(0)
          expect(Math.abs(lo), `${what} statsmodels low`).toBeLessThan(1e-15)
        } else expectRel(w.low, lo, `${what} low`)
        if (x === n) {
          expect(w.high).toBe(1)
          expect(Math.abs(hi - 1), `${what} statsmodels high`).toBeLessThan(1e-15)
        } else expectRel(w.high, hi, `${what} high`)
      }
    })
  })

  it("agrees on Newcombe's hybrid score interval for the difference", () => {
    cases.forEach((c, i) => {
      const d = newcombeInterval(c.x1, c.n1, c.x2, c.n2, c.level)
      const what = `newcombe(${c.x1}/${c.n1} − ${c.x2}/${c.n2}, ${c.level})`
      expectRel(d.low, results[i]!.newcomb[0], `${what} low`)
      expectRel(d.high, results[i]!.newcomb[1], `${what} high`)
      const p = c.x1 / c.n1 - c.x2 / c.n2
      expect(d.low <= p && p <= d.high, `${what} contains ${p}`).toBe(true)
    })
  })

  it('agrees on the log (Katz) ratio interval, with the documented rule at zero counts', () => {
    let plain = 0
    let zeroNumerator = 0
    cases.forEach((c, i) => {
      const ref = results[i]!
      const what = `katz(${c.x1}/${c.n1} ÷ ${c.x2}/${c.n2}, ${c.level})`
      if (c.x2 === 0) {
        expect(() => katzRatioInterval(c.x1, c.n1, c.x2, c.n2, c.level), what).toThrow(/undefined/)
        return
      }
      const k = katzRatioInterval(c.x1, c.n1, c.x2, c.n2, c.level)
      if (c.x1 === 0) {
        zeroNumerator++
        expect(k.low).toBe(0)
        expectRel(k.high, ref.log_adjusted![1], `${what} high (log-adjusted)`)
      } else {
        plain++
        expectRel(k.low, ref.log![0], `${what} low`)
        expectRel(k.high, ref.log![1], `${what} high`)
        const ratio = c.x1 / c.n1 / (c.x2 / c.n2)
        expect(
          k.low <= ratio * (1 + 1e-15) && ratio <= k.high * (1 + 1e-15),
          `${what} contains ${ratio}`,
        ).toBe(true)
      }
    })
    expect(plain).toBeGreaterThanOrEqual(200)
    expect(zeroNumerator).toBeGreaterThan(20)
  })
})
