import { describe, expect, it } from 'vitest'
import { ProgressTracker } from '../../../services/collector/progress.js'
import { Health } from '../../../shared/http/health.js'

/** When a partition counts as stalled and stuck, and how readiness says so. */

describe('partition progress', () => {
  it('stalls while it has lag and its committed offset does not move, and is stuck after the threshold', () => {
    const t = new ProgressTracker(60_000)
    expect(t.observe('p0', 10n, 50n, 0)).toEqual({ lag: 40n, stalledMs: 0, stuck: false })
    expect(t.observe('p0', 10n, 60n, 30_000)).toEqual({ lag: 50n, stalledMs: 30_000, stuck: false })
    expect(t.observe('p0', 10n, 60n, 60_000)).toEqual({ lag: 50n, stalledMs: 60_000, stuck: true })
    // It moves: the clock starts again.
    expect(t.observe('p0', 11n, 60n, 61_000)).toEqual({ lag: 49n, stalledMs: 0, stuck: false })
    expect(t.observe('p0', 11n, 60n, 62_000).stalledMs).toBe(1_000)
  })

  it('is never stalled without lag, however long its offset stays', () => {
    const t = new ProgressTracker(1_000)
    for (let now = 0; now < 10_000; now += 1_000) expect(t.observe('p1', 70n, 70n, now).stuck).toBe(false)
    // A committed offset past the end (a truncated log) is no lag either.
    expect(t.observe('p1', 80n, 70n, 20_000)).toEqual({ lag: 0n, stalledMs: 0, stuck: false })
  })

  it('forgets partitions it no longer owns', () => {
    const t = new ProgressTracker(1_000)
    t.observe('p2', 0n, 5n, 0)
    t.retain(new Set())
    expect(t.observe('p2', 0n, 5n, 5_000).stalledMs).toBe(0)
  })
})

describe('readiness with a degraded component', () => {
  it('stays ready, says degraded with the detail, and recovers', () => {
    const health = new Health()
    health.set('kafka-consumer', true)
    health.set('kafka-partitions', true)
    expect(health.report()).toMatchObject({ ready: true, status: 'ready' })
    health.degrade('kafka-partitions', 'aims.audit-findings.v1[1] has not advanced for 65 s')
    expect(health.report()).toMatchObject({
      ready: true,
      status: 'degraded',
      components: {
        'kafka-partitions': { ready: true, degraded: true, detail: expect.stringContaining('[1]') },
      },
    })
    health.set('kafka-consumer', false, 'crashed')
    expect(health.report()).toMatchObject({ ready: false, status: 'not_ready' })
    health.set('kafka-consumer', true)
    health.set('kafka-partitions', true)
    expect(health.report()).toMatchObject({ ready: true, status: 'ready' })
    expect(health.report().components['kafka-partitions']).toEqual({ ready: true, since: expect.any(String) })
  })
})
