import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Alerter, startAlerter } from '../../../services/alerter/alerter.js'
import { MemoryDeliveryLog } from '../../../services/alerter/delivery-log.js'
import type { PagerdutyEvent } from '../../../services/alerter/sinks/pagerduty/sender.js'
import { alertJobId } from '../../../shared/alerts/alert-job.js'
import { parseAlertingConfig } from '../../../shared/alerts/routing.js'
import { resolveOf, sampleAlert } from '../../helpers/alert-fixtures.js'
import { HttpReceiver, type Reply } from '../../helpers/http-receiver.js'
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

/**
 * (f) PagerDuty Events API v2 against a local stand-in for the SaaS endpoint: 400 is not retried,
 * 429 is, after the Retry-After it asked for.
 */

const ROUTING_KEY = 'pd-integration-routing-key-0001'

describe('PagerDuty Events v2', { timeout: 60_000 }, () => {
  const cfg = alerterConfig()
  const logged = capturingLogger()
  const deliveries = new MemoryDeliveryLog()
  let pd: HttpReceiver
  let alerter: Alerter
  let prod: Producer
  /** Scripted answers per dedup_key; default 202. */
  const script = new Map<string, Reply[]>()

  beforeAll(async () => {
    pd = await HttpReceiver.start((req) => {
      const ev = JSON.parse(req.body) as PagerdutyEvent
      const next = script.get(ev.dedup_key)?.shift()
      return (
        next ?? { status: 202, headers: { 'content-type': 'application/json' }, body: '{"status":"success"}' }
      )
    })
    process.env.AIMS_TEST_PD_KEY = ROUTING_KEY
    alerter = await startAlerter({
      cfg,
      log: logged.log,
      deliveryLog: deliveries,
      alerting: parseAlertingConfig({
        sinks: {
          oncall: { type: 'pagerduty', routingKey: envRef('AIMS_TEST_PD_KEY'), url: `${pd.url}/v2/enqueue` },
        },
        routes: [{ match: { severity: ['critical'] }, sinks: ['oncall'] }],
      }),
      options: fastOptions,
    })
    prod = producer(cfg)
  }, 60_000)

  afterAll(async () => {
    delete process.env.AIMS_TEST_PD_KEY
    await prod?.close()
    await alerter?.close()
    await pd?.stop()
    await dropPrefix(cfg.REDIS_PREFIX)
  }, 60_000)

  const eventsFor = (fingerprint: string) =>
    pd.requests
      .map((r) => ({ ev: JSON.parse(r.body) as PagerdutyEvent, at: r.at }))
      .filter((e) => e.ev.dedup_key === fingerprint)

  it('triggers and resolves by dedup_key', async () => {
    const firing = sampleAlert()
    await prod.add(firing)
    await prod.add(firing) // a replayed transition: same job id, dropped by BullMQ
    await waitForJobState(prod.queue, alertJobId(firing.transitionId), 'completed')
    await prod.add(firing) // and again after completion
    const resolved = resolveOf(firing)
    await prod.add(resolved)
    await waitForJobState(prod.queue, alertJobId(resolved.transitionId), 'completed')
    const events = eventsFor(firing.fingerprint).map((e) => e.ev)
    expect(events.map((e) => e.event_action)).toEqual(['trigger', 'resolve'])
    expect(events[0]).toMatchObject({
      routing_key: ROUTING_KEY,
      payload: { severity: 'critical', component: firing.kpi.id },
    })
    expect(events[1]).toEqual({
      routing_key: ROUTING_KEY,
      event_action: 'resolve',
      dedup_key: firing.fingerprint,
    })
  })

  it('enqueueAlert refuses a job that breaks the contract', async () => {
    const bad = { ...sampleAlert(), severity: 'page' } as unknown as Parameters<typeof prod.add>[0]
    await expect(prod.add(bad)).rejects.toThrow(/severity/)
  })

  it('a 400 (invalid event) is not retried: the job fails after one request', async () => {
    const job = sampleAlert()
    script.set(job.fingerprint, [
      { status: 400, body: '{"status":"invalid event","message":"Event object is invalid"}' },
    ])
    await prod.add(job)
    const failed = await waitForJobState(prod.queue, alertJobId(job.transitionId), 'failed')
    await new Promise((r) => setTimeout(r, 300))
    expect(eventsFor(job.fingerprint)).toHaveLength(1)
    expect(failed.attemptsMade).toBe(1)
    expect(failed.failedReason).toContain('oncall: client_error (HTTP 400')
    expect(failed.failedReason).not.toContain(ROUTING_KEY)
  })

  it('a 429 is retried after its Retry-After, then delivered once', async () => {
    const job = sampleAlert()
    script.set(job.fingerprint, [
      { status: 429, headers: { 'retry-after': '1' }, body: '{"status":"throttle event"}' },
      { status: 429, headers: { 'retry-after': '1' }, body: '{"status":"throttle event"}' },
    ])
    await prod.add(job)
    const done = await waitForJobState(prod.queue, alertJobId(job.transitionId), 'completed')
    const events = eventsFor(job.fingerprint)
    expect(events).toHaveLength(3)
    // Backoff base is 50 ms here; only Retry-After explains a wait of a second.
    expect(events[1]!.at - events[0]!.at).toBeGreaterThanOrEqual(950)
    expect(events[2]!.at - events[1]!.at).toBeGreaterThanOrEqual(950)
    expect(done.attemptsMade).toBe(3)
    expect(
      deliveries.rows
        .filter((r) => r.fingerprint === job.fingerprint)
        .map((r) => [r.outcome, r.reason, r.status_code]),
    ).toEqual([
      ['retryable', 'rate_limited', 429],
      ['retryable', 'rate_limited', 429],
      ['ok', '', 202],
    ])
  })

  it('warnings are not routed to PagerDuty', async () => {
    const job = sampleAlert({ severity: 'warning' })
    await prod.add(job)
    await waitForJobState(prod.queue, alertJobId(job.transitionId), 'completed')
    expect(eventsFor(job.fingerprint)).toHaveLength(0)
    expect(logged.lines.join('\n')).toContain('alert matched no route')
    expect(logged.lines.join('\n')).not.toContain(ROUTING_KEY)
  })
})
