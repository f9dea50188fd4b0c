import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Alerter, startAlerter } from '../../../services/alerter/alerter.js'
import { MemoryDeliveryLog } from '../../../services/alerter/delivery-log.js'
import { verifyWebhookSignature } from '../../../services/alerter/sinks/webhook/signature.js'
import { alertJobId } from '../../../shared/alerts/alert-job.js'
import { parseAlertingConfig } from '../../../shared/alerts/routing.js'
import { registry } from '../../../shared/metrics/registry.js'
import { sampleAlert } from '../../helpers/alert-fixtures.js'
import { HttpReceiver } from '../../helpers/http-receiver.js'
import {
  alerterConfig,
  capturingLogger,
  dropPrefix,
  envRef,
  fastOptions,
  type Producer,
  producer,
  waitForJobState,
} from './harness.js'

/** (b) The generic webhook: a receiver verifies the HMAC; a tampered body or a replay fails. */

const SECRET = 'integration-hmac-secret-0123'
const WRONG = 'some-other-secret-not-shared'

async function failedJobs(): Promise<number> {
  const m = await registry.getSingleMetric('aims_alert_failed_jobs_total')?.get()
  return m?.values.reduce((a, v) => a + v.value, 0) ?? 0
}

describe('generic webhook, HMAC-signed', { timeout: 60_000 }, () => {
  const cfg = alerterConfig()
  const logged = capturingLogger()
  let receiver: HttpReceiver
  let alerter: Alerter
  let prod: Producer
  const verdicts: string[] = []

  beforeAll(async () => {
    // The receiver a customer would write: verify, then accept.
    receiver = await HttpReceiver.start((req) => {
      const check = verifyWebhookSignature(
        SECRET,
        req.headers['x-aims-timestamp'],
        req.body,
        req.headers['x-signature'],
        300,
      )
      verdicts.push(check.ok ? 'ok' : check.reason)
      return check.ok ? { status: 204 } : { status: 401, body: `signature rejected: ${check.reason}` }
    })
    process.env.AIMS_TEST_HOOK_SECRET = SECRET
    alerter = await startAlerter({
      cfg,
      log: logged.log,
      deliveryLog: new MemoryDeliveryLog(),
      alerting: parseAlertingConfig({
        sinks: {
          signed: {
            type: 'webhook',
            url: `${receiver.url}/aims?token=tok-123`,
            secret: envRef('AIMS_TEST_HOOK_SECRET'),
          },
          missigned: { type: 'webhook', url: `${receiver.url}/aims`, secret: WRONG },
        },
        routes: [
          { match: { scope: { tenant: 'wrong-secret' } }, sinks: ['missigned'] },
          { sinks: ['signed'] },
        ],
      }),
      options: fastOptions,
    })
    prod = producer(cfg)
  }, 60_000)

  afterAll(async () => {
    delete process.env.AIMS_TEST_HOOK_SECRET
    await prod?.close()
    await alerter?.close()
    await receiver?.stop()
    await dropPrefix(cfg.REDIS_PREFIX)
  }, 60_000)

  it('the receiver verifies the signature; a tampered body or an old timestamp fails', async () => {
    const job = sampleAlert()
    await prod.add(job)
    await waitForJobState(prod.queue, alertJobId(job.transitionId), 'completed')
    expect(verdicts).toEqual(['ok'])
    const req = receiver.requests[0]!
    expect(JSON.parse(req.body)).toEqual({ version: 'aims.alert.v1', ...job })
    expect(req.headers['idempotency-key']).toBe(job.transitionId)

    const ts = req.headers['x-aims-timestamp']
    const sig = req.headers['x-signature']
    const tampered = req.body.replace('"value":0.72', '"value":0.95')
    expect(tampered).not.toBe(req.body)
    expect(verifyWebhookSignature(SECRET, ts, tampered, sig)).toEqual({ ok: false, reason: 'bad_signature' })
    // The same captured request replayed ten minutes later.
    expect(verifyWebhookSignature(SECRET, ts, req.body, sig, 300, Date.now() + 600_000)).toEqual({
      ok: false,
      reason: 'stale',
    })
  })

  it('a receiver rejecting the signature (401) fails the job at once, without retries or leaked secrets', async () => {
    const before = await failedJobs()
    const job = sampleAlert({ scope: { tenant: 'wrong-secret' } })
    await prod.add(job)
    const failed = await waitForJobState(prod.queue, alertJobId(job.transitionId), 'failed')
    expect(failed.attemptsMade).toBe(1)
    expect(failed.failedReason).toMatch(
      /missigned: auth_error \(HTTP 401: signature rejected: bad_signature\)/,
    )
    expect(verdicts.at(-1)).toBe('bad_signature')
    expect(
      receiver.requests.filter((r) => JSON.parse(r.body).transitionId === job.transitionId),
    ).toHaveLength(1)
    expect(await failedJobs()).toBe(before + 1)
    await alerter.refreshQueueStats()
    const depth = await registry.getSingleMetric('aims_alert_queue_jobs')!.get()
    expect(depth.values.find((v) => v.labels.state === 'failed')?.value).toBe(1)
    expect(depth.values.find((v) => v.labels.state === 'waiting')?.value).toBe(0)
    const everything = `${logged.lines.join('\n')}\n${failed.failedReason}\n${JSON.stringify(failed.stacktrace)}`
    for (const secret of [SECRET, WRONG, 'tok-123']) expect(everything).not.toContain(secret)
  })
})
