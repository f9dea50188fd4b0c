import type { MinimalJob } from 'bullmq'
import { describe, expect, it } from 'vitest'
import { fullJitterBackoff, MAX_RETRY_AFTER_MS } from '../../../services/alerter/backoff.js'
import { ALERT_BACKOFF_TYPE } from '../../../shared/alerts/queue.js'

const job = (delay: number) =>
  ({ opts: { backoff: { type: ALERT_BACKOFF_TYPE, delay } } }) as unknown as MinimalJob

describe('fullJitterBackoff', () => {
  it('draws uniformly below base·2^(n-1), capped', () => {
    const top = fullJitterBackoff({ random: () => 0.999999, maxDelayMs: 10_000 })
    expect(top(1, ALERT_BACKOFF_TYPE, new Error('x'), job(1000))).toBe(999)
    expect(top(3, ALERT_BACKOFF_TYPE, new Error('x'), job(1000))).toBe(3999)
    expect(top(10, ALERT_BACKOFF_TYPE, new Error('x'), job(1000))).toBe(9999)
    const bottom = fullJitterBackoff({ random: () => 0 })
    expect(bottom(5, ALERT_BACKOFF_TYPE, new Error('x'), job(1000))).toBe(0)
  })

  it('never waits less than the Retry-After the sink asked for (capped at 1 h)', () => {
    const b = fullJitterBackoff({ random: () => 0 })
    const err = Object.assign(new Error('429'), { retryAfterMs: 5000 })
    expect(b(1, ALERT_BACKOFF_TYPE, err, job(100))).toBe(5000)
    const huge = Object.assign(new Error('429'), { retryAfterMs: 10 * MAX_RETRY_AFTER_MS })
    expect(b(1, ALERT_BACKOFF_TYPE, huge, job(100))).toBe(MAX_RETRY_AFTER_MS)
  })

  it('spreads retries (full jitter), mean about half the ceiling', () => {
    const b = fullJitterBackoff()
    const draws = Array.from({ length: 2000 }, () =>
      Number(b(4, ALERT_BACKOFF_TYPE, new Error('x'), job(1000))),
    )
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0)
    expect(Math.max(...draws)).toBeLessThan(8000)
    const mean = draws.reduce((a, c) => a + c, 0) / draws.length
    expect(mean).toBeGreaterThan(3400)
    expect(mean).toBeLessThan(4600)
  })

  it('rejects impossible options and foreign types', () => {
    expect(() => fullJitterBackoff({ maxDelayMs: 0 })).toThrow(/maxDelayMs/)
    expect(() => fullJitterBackoff()(1, 'linear', new Error('x'), job(1))).toThrow(/unknown backoff type/)
  })
})
