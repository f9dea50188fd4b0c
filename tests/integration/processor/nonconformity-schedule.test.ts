import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BreachEpisode } from '../../../services/processor/nonconformity/finding.js'
import { type Claim, NonconformitySchedule } from '../../../services/processor/nonconformity/schedule.js'
import { createRedis } from '../../../shared/redis/client.js'
import { testConfig } from '../../helpers/infra.js'

/**
 * The shared nonconformity timers and claims, against the run's real Redis (this file's own key prefix):
 * what makes one finding per breach episode whatever the number of replicas, restarts and requests.
 */
describe('nonconformity timers and claims in Redis', () => {
  const cfg = testConfig()
  let redis: Redis
  let other: Redis
  let a: NonconformitySchedule
  let b: NonconformitySchedule

  const episode = (n: number): BreachEpisode => ({
    breachId: `fp${n}-1000`,
    fingerprint: `fp${n}`,
    kpiId: 'privacy.incidents_opened',
    scope: { severity: 'critical' },
    startedAt: 1000,
    criticalSince: 1000,
  })
  const claim = (by: Claim['openedBy'], event: string): Claim => ({
    event,
    openedBy: by,
    requestedBy: by === 'request' ? 'alice' : '',
    criticalSince: 1000,
  })

  beforeAll(() => {
    redis = createRedis(cfg, 'worker')
    // Two replicas: two connections, one key space.
    a = new NonconformitySchedule(redis, cfg.REDIS_PREFIX)
    other = redis.duplicate()
    b = new NonconformitySchedule(other, cfg.REDIS_PREFIX)
  })
  afterAll(async () => {
    const keys = await redis.keys(`${cfg.REDIS_PREFIX}:*`)
    if (keys.length > 0) await redis.del(...keys)
    redis.disconnect()
    other.disconnect()
  })

  it('keeps the first schedule of an episode, and hands each due timer to one taker', async () => {
    expect(await a.schedule(episode(1), 5_000)).toBe(true)
    expect(await b.schedule(episode(1), 9_000)).toBe(false) // a redrive or another replica: no change
    expect(await a.schedule(episode(2), 6_000)).toBe(true)

    expect(await a.takeDue(4_999, 30_000)).toEqual([])
    const [first, second] = await Promise.all([a.takeDue(6_000, 30_000), b.takeDue(6_000, 30_000)])
    const taken = [...first!, ...second!]
    expect(taken.map((t) => t.episode.breachId).sort()).toEqual(['fp1-1000', 'fp2-1000'])
    expect(taken.find((t) => t.episode.breachId === 'fp1-1000')?.dueAt).toBe(5_000)
  })

  it('gives a taken timer back after the lease when its taker never finished, and never after finish', async () => {
    expect(await b.takeDue(6_000 + 29_999, 30_000)).toEqual([])
    const again = await b.takeDue(6_000 + 30_000, 30_000)
    expect(again.map((t) => t.episode.breachId).sort()).toEqual(['fp1-1000', 'fp2-1000'])
    await a.finish('fp1-1000')
    await a.finish('fp2-1000')
    expect(await a.takeDue(Number.MAX_SAFE_INTEGER, 30_000)).toEqual([])
  })

  it('records one claim per episode: a second claimer gets the first one back', async () => {
    const first = await a.claim('fp3-1000', claim('request', '{"id":"one"}'))
    const second = await b.claim('fp3-1000', claim('timer', '{"id":"two"}'))
    expect(first.event).toBe('{"id":"one"}')
    expect(second).toEqual(first)
    expect(await b.claimed('fp3-1000')).toEqual(first)
    expect(await a.claimed('fp4-1000')).toBeUndefined()
  })

  it('never schedules an episode whose nonconformity is claimed', async () => {
    expect(await a.schedule({ ...episode(3), breachId: 'fp3-1000' }, 1)).toBe(false)
    expect(await a.takeDue(Number.MAX_SAFE_INTEGER, 30_000)).toEqual([])
  })
})
