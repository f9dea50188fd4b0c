import { rm } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Alerter, startAlerter } from '../../../services/alerter/alerter.js'
import { ClickHouseDeliveryLog } from '../../../services/alerter/delivery-log.js'
import { alertJobId } from '../../../shared/alerts/alert-job.js'
import { type ClickHouse, createClickHouse, queryRows } from '../../../shared/clickhouse/client.js'
import { migrate } from '../../../shared/clickhouse/migrate.js'
import { registry } from '../../../shared/metrics/registry.js'
import { sampleAlert } from '../../helpers/alert-fixtures.js'
import { freePort } from '../../helpers/http-receiver.js'
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
 * The delivery log in ClickHouse (embedded chDB, one folder for this test process): every attempt
 * becomes a row of alert_deliveries; with ClickHouse unreachable, alerts are still delivered.
 */

async function metricSum(name: string): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get()
  return m?.values.reduce((a, v) => a + v.value, 0) ?? 0
}

describe('delivery log', { timeout: 60_000 }, () => {
  const cfg = alerterConfig()
  let ch: ClickHouse
  let alerter: Alerter | undefined
  let prod: Producer

  beforeAll(async () => {
    ch = await createClickHouse(cfg)
    await migrate(ch)
    prod = producer(cfg)
  }, 120_000)

  afterAll(async () => {
    await prod?.close()
    await alerter?.close()
    await ch?.close()
    await dropPrefix(cfg.REDIS_PREFIX)
    await rm(cfg.CLICKHOUSE_DATA_DIR, { recursive: true, force: true })
  }, 60_000)

  it('records each attempt in alert_deliveries (ClickHouse, batched)', async () => {
    alerter = await startAlerter({ cfg, log: capturingLogger().log, clickhouse: ch, options: fastOptions })
    const job = sampleAlert()
    await prod.add(job)
    await waitForJobState(prod.queue, alertJobId(job.transitionId), 'completed')
    await alerter.close()
    alerter = undefined
    const rows = await queryRows<Record<string, unknown>>(
      ch,
      'SELECT job_id, transition_id, fingerprint, kpi_id, transition, sink, attempt, outcome, status_code, reason, latency_ms FROM alert_deliveries WHERE fingerprint = {fp:String}',
      { fp: job.fingerprint },
    )
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({
      job_id: alertJobId(job.transitionId),
      transition_id: job.transitionId,
      kpi_id: job.kpi.id,
      transition: 'firing',
      sink: 'console',
      attempt: 1,
      outcome: 'ok',
      status_code: null,
      reason: '',
    })
    expect(Number(rows[0]!.latency_ms)).toBeGreaterThanOrEqual(0)
  })

  it('keeps paging while ClickHouse is unreachable (logged, counted, not failed)', async () => {
    const deadUrl = `http://127.0.0.1:${await freePort()}`
    const { log, lines } = capturingLogger()
    const deliveryLog = new ClickHouseDeliveryLog({
      log,
      flushIntervalMs: 50,
      clickhouse: () =>
        createClickHouse({ ...cfg, CLICKHOUSE_URL: deadUrl, CLICKHOUSE_REQUEST_TIMEOUT_MS: 500 }),
    })
    const failuresBefore = await metricSum('aims_alert_delivery_log_write_failures_total')
    alerter = await startAlerter({ cfg, log, deliveryLog, options: fastOptions })
    const jobs = [sampleAlert(), sampleAlert()]
    for (const j of jobs) await prod.add(j)
    for (const j of jobs) await waitForJobState(prod.queue, alertJobId(j.transitionId), 'completed', 10_000)
    await new Promise((r) => setTimeout(r, 300))
    expect(await metricSum('aims_alert_delivery_log_write_failures_total')).toBeGreaterThan(failuresBefore)
    expect(lines.join('\n')).toContain('delivery log write to ClickHouse failed')
    await alerter.close()
    alerter = undefined
  })
})
