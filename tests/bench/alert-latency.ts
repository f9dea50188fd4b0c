import { randomBytes } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import pino from 'pino'
import { startAlerter } from '../../services/alerter/alerter.js'
import { MemoryDeliveryLog } from '../../services/alerter/delivery-log.js'
import { createAlertQueue, enqueueAlert } from '../../shared/alerts/queue.js'
import { parseAlertingConfig } from '../../shared/alerts/routing.js'
import { loadConfig } from '../../shared/config/env.js'
import { createRedis } from '../../shared/redis/client.js'
import { sampleAlert } from '../helpers/alert-fixtures.js'
import { HttpReceiver } from '../helpers/http-receiver.js'

/**
 * Transition → delivery latency of the alerter: N alert jobs enqueued to a real Redis at a steady rate,
 * delivered through the HMAC-signed webhook sink to a local receiver; latency = arrival at the receiver
 * minus the transition's `at` (set when enqueued). Goal: p99 < 500 ms.
 */

export interface AlertLatencyOptions {
  /** Alerts to send. Default 500. */
  n?: number
  /** Enqueue rate per second. Default 200. */
  ratePerSec?: number
  /** Default REDIS_URL or redis://127.0.0.1:6379. */
  redisUrl?: string
  /** Worker concurrency. Default 8 (ALERTER_CONCURRENCY's default). */
  concurrency?: number
}

export interface AlertLatencyResult {
  n: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  /** Requests the receiver got (n when nothing was duplicated). */
  received: number
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

export async function benchAlertLatency(opts: AlertLatencyOptions = {}): Promise<AlertLatencyResult> {
  const n = opts.n ?? 500
  const rate = opts.ratePerSec ?? 200
  const prefix = `aims-bench:alerter:${process.pid}-${randomBytes(3).toString('hex')}`
  const cfg = loadConfig({
    REDIS_URL: opts.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_PREFIX: prefix,
    ALERTER_CONCURRENCY: String(opts.concurrency ?? 8),
    LOG_LEVEL: 'silent',
  })
  const latencies: number[] = []
  let received = 0
  let allIn: () => void = () => {}
  const finished = new Promise<void>((r) => {
    allIn = r
  })
  const receiver = await HttpReceiver.start((req) => {
    received++
    latencies.push(req.at - Date.parse(JSON.parse(req.body).at))
    if (latencies.length >= n) allIn()
    return { status: 204 }
  })
  const alerter = await startAlerter({
    cfg,
    log: pino({ level: 'silent' }),
    deliveryLog: new MemoryDeliveryLog(),
    alerting: parseAlertingConfig({
      sinks: {
        hook: { type: 'webhook', url: `${receiver.url}/hook`, secret: 'bench-hmac-secret-0123456789' },
      },
    }),
    options: { queueStatsIntervalMs: 0 },
  })
  const redis = createRedis(cfg, 'producer')
  const queue = createAlertQueue(cfg, redis)
  try {
    const started = Date.now()
    for (let i = 0; i < n; i++) {
      const due = started + (i * 1000) / rate
      const wait = due - Date.now()
      if (wait > 0) await new Promise((r) => setTimeout(r, wait))
      const at = new Date().toISOString()
      await enqueueAlert(queue, sampleAlert({ at, startsAt: at }))
    }
    const timeout = setTimeout(() => allIn(), 60_000)
    await finished
    clearTimeout(timeout)
  } finally {
    await alerter.close()
    await queue.obliterate({ force: true }).catch(() => {})
    await queue.close()
    // The delivered-state hashes live beside the queue.
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) await redis.del(...keys)
    } while (cursor !== '0')
    await redis.quit()
    await receiver.stop()
  }
  const sorted = [...latencies].sort((a, b) => a - b)
  const result: AlertLatencyResult = {
    n: latencies.length,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.at(-1) ?? Number.NaN,
    received,
  }
  console.log(
    `alert latency (transition → webhook, ${result.n}/${n} alerts at ${rate}/s): p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, max ${result.maxMs} ms (goal p99 < 500 ms)`,
  )
  return result
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const n = Number(process.env.BENCH_ALERTS ?? 500)
  benchAlertLatency({ n }).then(
    (r) => process.exit(r.n === n && r.p99Ms < 500 ? 0 : 1),
    (err) => {
      console.error(err)
      process.exit(1)
    },
  )
}
