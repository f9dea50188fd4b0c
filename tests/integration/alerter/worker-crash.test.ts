import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Alerter, startAlerter } from '../../../services/alerter/alerter.js'
import { MemoryDeliveryLog } from '../../../services/alerter/delivery-log.js'
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
  waitForJobState,
} from './harness.js'

/**
 * (d) A worker killed (SIGKILL) while the receiver holds its request open: the job's lock expires, a
 * new worker picks the job up and sends again with the same Idempotency-Key, and a deduping receiver
 * shows exactly one notification.
 */

const SECRET = 'crash-test-hmac-secret-00001'
const CHILD = fileURLToPath(new URL('./fixtures/worker-child.ts', import.meta.url))

function spawnWorker(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let err = ''
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker child not ready after 30 s: ${err}`)), 30_000)
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer)
        resolve(child)
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`worker child exited (${code}) before ready: ${err}`))
    })
  })
}

describe('worker killed mid-delivery', { timeout: 60_000 }, () => {
  const cfg = alerterConfig()
  let receiver: HttpReceiver
  let child: ChildProcess | undefined
  let second: Alerter | undefined
  let prod: Producer
  /** The receiver dedupes on Idempotency-Key: a key seen before is acknowledged, not notified again. */
  const notified: string[] = []

  beforeAll(async () => {
    receiver = await HttpReceiver.start((req, i) => {
      const key = req.headers['idempotency-key'] ?? ''
      const duplicate = notified.includes(key)
      if (!duplicate) notified.push(key)
      // The first request is processed but never answered: its worker dies waiting.
      return i === 0 ? { hold: true } : { status: 200, body: duplicate ? 'duplicate' : 'ok' }
    })
    prod = producer(cfg)
  }, 60_000)

  afterAll(async () => {
    child?.kill('SIGKILL')
    await second?.close()
    await prod?.close()
    await receiver?.stop()
    await dropPrefix(cfg.REDIS_PREFIX)
  }, 60_000)

  it('is retried by a new worker with the same Idempotency-Key, one notification', async () => {
    child = await spawnWorker({
      REDIS_URL: cfg.REDIS_URL,
      REDIS_PREFIX: cfg.REDIS_PREFIX,
      TEST_WEBHOOK_URL: `${receiver.url}/hook`,
      TEST_WEBHOOK_SECRET: SECRET,
    })
    const job = sampleAlert()
    const jobId = alertJobId(job.transitionId)
    await prod.add(job)
    await receiver.waitFor('the first attempt', (reqs) => reqs.length === 1)
    const exited = new Promise((r) => child!.once('exit', r))
    child.kill('SIGKILL')
    await exited
    child = undefined
    expect(await (await prod.queue.getJob(jobId))!.getState()).toBe('active')

    const killedAt = Date.now()
    const deliveries = new MemoryDeliveryLog()
    second = await startAlerter({
      cfg,
      log: capturingLogger().log,
      deliveryLog: deliveries,
      alerting: parseAlertingConfig({
        sinks: { hook: { type: 'webhook', url: `${receiver.url}/hook`, secret: SECRET } },
      }),
      options: fastOptions,
    })
    const done = await waitForJobState(prod.queue, jobId, 'completed', 30_000)
    const redeliveredAfterMs = Date.now() - killedAt

    expect(receiver.requests).toHaveLength(2)
    expect(receiver.requests.map((r) => r.headers['idempotency-key'])).toEqual([
      job.transitionId,
      job.transitionId,
    ])
    expect(notified).toEqual([job.transitionId])
    // The redelivery is the job's second start; the stalled restart did not spend a retry attempt.
    expect(deliveries.rows).toMatchObject([{ sink: 'hook', outcome: 'ok', attempt: 2 }])
    expect(receiver.requests[1]!.headers['x-aims-delivery-attempt']).toBe('2')
    expect(done.stalledCounter).toBe(1)
    // lock (2 s) + stalled check (0.5 s) + margin
    expect(redeliveredAfterMs).toBeLessThan(10_000)
  })
})
