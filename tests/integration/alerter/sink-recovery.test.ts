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
  dropPrefix,
  fastOptions,
  type Producer,
  producer,
  waitForJobState,
} from './harness.js'

/**
 * (c) One sink down (connection refused, then 500s), then back: it gets the alert exactly once after
 * recovery, and the healthy sink of the same job is never sent to twice.
 */

const SECRET = 'recovery-test-hmac-secret-01'

describe('a sink down, then back', { timeout: 60_000 }, () => {
  const cfg = alerterConfig()
  const logged = capturingLogger()
  const deliveries = new MemoryDeliveryLog()
  let steady: HttpReceiver
  let flaky: HttpReceiver | undefined
  let flakyPort: number
  let alerter: Alerter
  let prod: Producer

  beforeAll(async () => {
    steady = await HttpReceiver.start()
    flakyPort = await freePort()
    alerter = await startAlerter({
      cfg,
      log: logged.log,
      deliveryLog: deliveries,
      alerting: parseAlertingConfig({
        sinks: {
          steady: { type: 'webhook', url: `${steady.url}/hook`, secret: SECRET },
          flaky: {
            type: 'webhook',
            url: `http://127.0.0.1:${flakyPort}/hook/sEcReTpAtH`,
            secret: SECRET,
            timeoutMs: 2000,
          },
        },
      }),
      options: fastOptions,
    })
    prod = producer(cfg)
  }, 60_000)

  afterAll(async () => {
    await prod?.close()
    await alerter?.close()
    await steady?.stop()
    await flaky?.stop()
    await dropPrefix(cfg.REDIS_PREFIX)
  }, 60_000)

  it('retries the failed sink only, and delivers it once after recovery', async () => {
    const job = sampleAlert()
    const jobId = alertJobId(job.transitionId)
    await prod.add(job)

    // Connection refused: the flaky sink is retried (a few attempts), the steady one delivered once.
    const flakyRows = () => deliveries.rows.filter((r) => r.sink === 'flaky')
    await steady.waitFor('the steady delivery', (reqs) => reqs.length === 1)
    const deadline = Date.now() + 20_000
    while (flakyRows().length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    expect(
      flakyRows()
        .slice(0, 3)
        .map((r) => [r.outcome, r.reason]),
    ).toEqual([
      ['retryable', 'network_error'],
      ['retryable', 'network_error'],
      ['retryable', 'network_error'],
    ])

    // Back, but answering 500 twice before it recovers.
    flaky = await HttpReceiver.start(
      (_req, i) => (i < 2 ? { status: 500, body: 'overloaded' } : { status: 200, body: 'ok' }),
      flakyPort,
    )
    const done = await waitForJobState(prod.queue, jobId, 'completed')

    const statuses = flaky.requests.map((_, i) => (i < 2 ? 500 : 200))
    expect(statuses).toEqual([500, 500, 200])
    expect(new Set(flaky.requests.map((r) => r.headers['idempotency-key']))).toEqual(
      new Set([job.transitionId]),
    )
    expect(steady.requests).toHaveLength(1)
    expect(done.returnvalue).toMatchObject({ delivered: ['flaky'], skipped: ['steady'] })

    // The log tells the story: steady ok once then skipped, flaky failures then one ok.
    const steadyRows = deliveries.rows.filter((r) => r.sink === 'steady')
    expect(steadyRows[0]).toMatchObject({ outcome: 'ok', attempt: 1 })
    expect(
      steadyRows.slice(1).every((r) => r.outcome === 'skipped' && r.reason === 'already_delivered'),
    ).toBe(true)
    expect(flakyRows().filter((r) => r.outcome === 'ok')).toHaveLength(1)
    expect(flakyRows().filter((r) => r.reason === 'server_error')).toHaveLength(2)

    // Nothing more arrives afterwards (no late duplicate).
    await new Promise((r) => setTimeout(r, 500))
    expect(flaky.requests).toHaveLength(3)
    expect(steady.requests).toHaveLength(1)

    // No secret in any log line.
    const text = logged.lines.join('\n')
    expect(text).toContain('connection refused')
    for (const s of [SECRET, 'sEcReTpAtH']) expect(text).not.toContain(s)
  })
})
