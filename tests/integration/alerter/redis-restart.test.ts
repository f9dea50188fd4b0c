import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Alerter, startAlerter } from '../../../services/alerter/alerter.js'
import { MemoryDeliveryLog } from '../../../services/alerter/delivery-log.js'
import { alertJobId } from '../../../shared/alerts/alert-job.js'
import { parseAlertingConfig } from '../../../shared/alerts/routing.js'
import { sampleAlert } from '../../helpers/alert-fixtures.js'
import { freePort, HttpReceiver } from '../../helpers/http-receiver.js'
import {
  alerterConfig,
  capturingLogger,
  fastOptions,
  type Producer,
  producer,
  waitForJobState,
} from './harness.js'

/**
 * (e) A Redis server the test owns (AOF on, fsync always) is killed and restarted while alert jobs wait
 * for retry: every alert is delivered, each exactly once.
 */

const SECRET = 'restart-test-hmac-secret-001'
const N = 10

class OwnRedis {
  private proc?: ChildProcess
  constructor(
    readonly port: number,
    readonly dir: string,
  ) {}
  get url() {
    return `redis://127.0.0.1:${this.port}`
  }
  async start(): Promise<void> {
    this.proc = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--dir',
        this.dir,
        '--save',
        '',
      ],
      { stdio: 'ignore' },
    )
    const probe = new Redis(this.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    })
    probe.on('error', () => {})
    const deadline = Date.now() + 10_000
    for (;;) {
      try {
        await probe.connect()
        if ((await probe.ping()) === 'PONG') break
      } catch {
        if (Date.now() > deadline) throw new Error('own redis-server did not start')
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    probe.disconnect()
  }
  async kill(): Promise<void> {
    const p = this.proc
    if (!p || p.exitCode !== null) return
    const exited = new Promise((r) => p.once('exit', r))
    p.kill('SIGKILL')
    await exited
  }
}

describe('Redis restarted while alerts are queued', { timeout: 60_000 }, () => {
  let redis: OwnRedis
  let dir: string
  let receiver: HttpReceiver
  let alerter: Alerter | undefined
  let prod: Producer | undefined
  let healthy = false
  const ok = new Map<string, number>()

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aims-redis-'))
    redis = new OwnRedis(await freePort(), dir)
    await redis.start()
    receiver = await HttpReceiver.start((req) => {
      if (!healthy) return { status: 503, body: 'down for maintenance' }
      const key = req.headers['idempotency-key'] ?? ''
      ok.set(key, (ok.get(key) ?? 0) + 1)
      return { status: 200 }
    })
  }, 60_000)

  afterAll(async () => {
    // Bounded: a BullMQ close can wait on a connection that is still reconnecting after the restart;
    // the assertions are done by then, and the owned redis-server is killed below either way.
    const bounded = (p: Promise<unknown> | undefined) =>
      Promise.race([p, new Promise((r) => setTimeout(r, 10_000).unref())]).catch(() => undefined)
    await bounded(prod?.close())
    await bounded(alerter?.close())
    await bounded(receiver?.stop())
    await redis?.kill()
    await rm(dir, { recursive: true, force: true })
  }, 60_000)

  it('loses nothing and duplicates nothing', async () => {
    const cfg = alerterConfig({ REDIS_URL: redis.url, ALERTER_MAX_ATTEMPTS: '50' })
    alerter = await startAlerter({
      cfg,
      log: capturingLogger('warn').log,
      deliveryLog: new MemoryDeliveryLog(),
      alerting: parseAlertingConfig({
        sinks: { hook: { type: 'webhook', url: `${receiver.url}/hook`, secret: SECRET } },
      }),
      options: { ...fastOptions, maxBackoffMs: 500 },
    })
    prod = producer(cfg)
    const jobs = Array.from({ length: N }, () => sampleAlert())
    for (const j of jobs) await prod.add(j)
    // Every job has been tried and is waiting for a retry.
    await receiver.waitFor(
      'a first attempt of every job',
      (reqs) => new Set(reqs.map((r) => r.headers['idempotency-key'])).size === N,
    )

    // A second batch is added just before the crash: waiting, active or first-attempted when it hits.
    const late = Array.from({ length: N }, () => sampleAlert())
    for (const j of late) await prod.add(j)
    jobs.push(...late)
    await redis.kill()
    await new Promise((r) => setTimeout(r, 1000))
    await redis.start()
    healthy = true

    for (const j of jobs) await waitForJobState(prod.queue, alertJobId(j.transitionId), 'completed', 60_000)
    expect([...ok.keys()].sort()).toEqual(jobs.map((j) => j.transitionId).sort())
    expect([...ok.values()].every((n) => n === 1)).toBe(true)
    expect(jobs).toHaveLength(2 * N)
  })
})
