import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Alerter, startAlerter } from '../../../services/alerter/alerter.js'
import { MemoryDeliveryLog } from '../../../services/alerter/delivery-log.js'
import { SinkRateLimiter } from '../../../services/alerter/rate-limiter.js'
import { alertJobId } from '../../../shared/alerts/alert-job.js'
import { parseAlertingConfig } from '../../../shared/alerts/routing.js'
import { sampleAlert } from '../../helpers/alert-fixtures.js'
import { HttpReceiver } from '../../helpers/http-receiver.js'
import {
  alerterConfig,
  capturingLogger,
  dropPrefix,
  fastOptions,
  type Producer,
  producer,
  REDIS_URL,
  waitForJobState,
} from './harness.js'

/** Per-sink rate limit: a token bucket in Redis shared by every worker; throttling spends no attempt. */

describe('per-sink rate limit', { timeout: 60_000 }, () => {
  const cfg = alerterConfig()
  let receiver: HttpReceiver
  let alerter: Alerter
  let prod: Producer
  let redis: Redis
  const deliveries = new MemoryDeliveryLog()

  beforeAll(async () => {
    redis = new Redis(REDIS_URL)
    receiver = await HttpReceiver.start()
    alerter = await startAlerter({
      cfg,
      log: capturingLogger().log,
      deliveryLog: deliveries,
      alerting: parseAlertingConfig({
        sinks: {
          slack: {
            type: 'slack',
            webhookUrl: `${receiver.url}/services/x`,
            rateLimit: { max: 2, perSeconds: 1 },
          },
        },
      }),
      // A short in-place wait so most throttled jobs go through the delayed path.
      options: { ...fastOptions, maxInlineThrottleMs: 100 },
    })
    prod = producer(cfg)
  }, 60_000)

  afterAll(async () => {
    await prod?.close()
    await alerter?.close()
    await receiver?.stop()
    await dropPrefix(cfg.REDIS_PREFIX)
    redis?.disconnect()
  }, 60_000)

  it('the bucket gives max tokens at once, then one per perSeconds/max', async () => {
    const limiter = new SinkRateLimiter(redis, `${cfg.REDIS_PREFIX}:unit`)
    const limit = { max: 3, perSeconds: 3 }
    expect([
      await limiter.take('s', limit),
      await limiter.take('s', limit),
      await limiter.take('s', limit),
    ]).toEqual([0, 0, 0])
    const wait = await limiter.take('s', limit)
    expect(wait).toBeGreaterThan(900)
    expect(wait).toBeLessThanOrEqual(1000)
  })

  it('spreads deliveries to the budget, each once, without spending attempts', async () => {
    const jobs = Array.from({ length: 6 }, () => sampleAlert())
    const started = Date.now()
    for (const j of jobs) await prod.add(j)
    const done = await Promise.all(
      jobs.map((j) => waitForJobState(prod.queue, alertJobId(j.transitionId), 'completed', 20_000)),
    )
    const times = receiver.requests.map((r) => r.at - started).sort((a, b) => a - b)
    expect(times).toHaveLength(6)
    // Burst of 2, then one token every 500 ms: delivery i (0-based) no sooner than (i-1)·500 ms.
    for (let i = 2; i < times.length; i++) expect(times[i]!).toBeGreaterThanOrEqual((i - 1) * 500 - 50)
    expect(times[5]!).toBeLessThan(4000)
    expect(done.every((j) => j.attemptsMade <= 1)).toBe(true)
    expect(deliveries.rows.filter((r) => r.outcome === 'ok')).toHaveLength(6)
    expect(deliveries.rows.some((r) => r.outcome === 'throttled')).toBe(true)
  })
})
