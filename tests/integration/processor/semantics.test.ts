import { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Processor } from '../../../services/processor/processor.js'
import { ALERTS_QUEUE, type AlertJob } from '../../../shared/alerts/alert-job.js'
import { queryRows } from '../../../shared/clickhouse/client.js'
import { HttpServer } from '../../../shared/http/server.js'
import { topicNames } from '../../../shared/kafka/topics.js'
import { createRedis } from '../../../shared/redis/client.js'
import { findingEvent, incidentEvent, modelMetricsEvent } from '../../helpers/events.js'
import { testConfig, waitFor } from '../../helpers/infra.js'
import {
  openStack,
  produce,
  startTestCollector,
  startTestProcessor,
  type TestStack,
} from '../../helpers/pipeline.js'

const HOUR = 3_600_000

/**
 * Latest-state semantics end to end (Kafka → collector → ClickHouse → processor → kpi_values and alert
 * jobs), the three cases reported against the first processor, each of which it got wrong:
 * - an incident reopened after `resolved` must leave MTTR;
 * - a repeat finding stays a repeat when a later status update omits `repeatOf`;
 * - a staging evaluation never moves (or pages for) the production series of the same model version.
 * Assertions read only kpi_values and the alert queue, so the same file runs against either processor.
 */
describe('latest-state semantics through the pipeline', () => {
  let stack: TestStack
  let collector: Awaited<ReturnType<typeof startTestCollector>>
  let redis: Redis
  let http: HttpServer
  let processor: Processor
  let alerts: Queue<AlertJob>
  const clock = () => new Date()

  beforeAll(async () => {
    stack = await openStack(testConfig())
    redis = createRedis(stack.cfg, 'worker')
    http = new HttpServer(stack.health, stack.log)
    collector = await startTestCollector(stack)
    processor = await startTestProcessor(stack, {
      redis,
      http,
      clock,
      scheduleSweep: false,
    })
    alerts = new Queue<AlertJob>(ALERTS_QUEUE, {
      connection: redis.duplicate(),
      prefix: stack.cfg.REDIS_PREFIX,
    })
  })
  afterAll(async () => {
    await processor?.stop()
    await collector?.stop()
    await alerts?.obliterate({ force: true }).catch(() => undefined)
    await alerts?.close()
    redis?.disconnect()
    await stack?.close()
  })

  /** The latest value written for the series of `kpiId` whose scope contains `scope`, with its write time. */
  async function latest(kpiId: string, scope: Record<string, string> = {}) {
    const rows = await queryRows<{ value: number | null; evaluated_at: string }>(
      stack.ch,
      `SELECT value, evaluated_at FROM kpi_values
       WHERE kpi_id = {kpi:String} AND ${
         Object.keys(scope)
           .map((k) => `scope['${k}'] = {${k}:String}`)
           .join(' AND ') || '1'
       }
       ORDER BY evaluated_at DESC LIMIT 1`,
      { kpi: kpiId, ...scope },
    )
    return rows[0]
  }

  async function jobsFor(kpiId: string): Promise<AlertJob[]> {
    const jobs = await alerts.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized'])
    return jobs.map((j) => j.data).filter((d) => d.kpi.id === kpiId)
  }

  it('drops the resolution of a reopened incident from MTTR', async () => {
    const detected = Date.now() - 20 * HOUR
    const at = (h: number) => new Date(detected + h * HOUR).toISOString()
    const base = { incidentId: 'INC-REOPEN-1', detectedAt: at(0), notifiable: false }
    const topic = topicNames(stack.cfg).privacyIncidents
    await produce(stack.kafka, topic, [
      {
        key: base.incidentId,
        value: JSON.stringify(
          incidentEvent({
            ...base,
            status: 'resolved',
            time: at(10),
            containedAt: at(2),
            resolvedAt: at(10),
          }),
        ),
      },
    ])
    const resolved = await waitFor('MTTR with the resolved incident', async () => {
      const v = await latest('privacy.mttr_hours')
      return v?.value === 10 ? v : undefined
    })
    // Reopened: reported back at "contained", which carries no resolution time.
    await produce(stack.kafka, topic, [
      {
        key: base.incidentId,
        value: JSON.stringify(
          incidentEvent({ ...base, status: 'contained', time: at(12), containedAt: at(2) }),
        ),
      },
    ])
    const reopened = await waitFor('MTTR after the reopen', async () => {
      const v = await latest('privacy.mttr_hours')
      return v && v.evaluated_at > resolved.evaluated_at ? v : undefined
    })
    expect(reopened.value).toBeNull() // no incident resolved in the window any more
    expect((await latest('privacy.mttc_hours'))?.value).toBe(2) // still contained after 2 h
  })

  it('keeps a repeat finding a repeat when a later update omits repeatOf', async () => {
    const raised = new Date(Date.now() - 5 * 24 * HOUR).toISOString()
    const topic = topicNames(stack.cfg).auditFindings
    const scope = { standard: 'ISO27001' as const, clause: 'A.8.9' }
    const event = (findingId: string, status: 'open' | 'in_progress', repeatOf?: string) => {
      const e = findingEvent({
        findingId,
        status,
        raisedAt: raised,
        time: new Date().toISOString(),
        ...scope,
      })
      if (repeatOf) Object.assign(e.data, { repeatOf })
      return { key: findingId, value: JSON.stringify(e) }
    }
    await produce(stack.kafka, topic, [
      event('F-REP-1', 'open', 'F-OLD-1'),
      event('F-REP-2', 'open', 'F-OLD-2'),
    ])
    await waitFor('two repeats on the control', async () =>
      (await latest('audit.repeat_findings', scope))?.value === 2 ? true : undefined,
    )
    await waitFor('the repeat breach (≥ 2)', async () =>
      (await jobsFor('audit.repeat_findings')).some((j) => j.kind === 'firing') ? true : undefined,
    )
    // A status update that does not repeat repeatOf: still a repeat.
    await produce(stack.kafka, topic, [event('F-REP-1', 'in_progress')])
    await waitFor('the update evaluated', async () =>
      (await latest('audit.open_minor_ncs', scope)) !== undefined &&
      (
        await queryRows(
          stack.ch,
          "SELECT 1 FROM audit_finding_events WHERE finding_id = 'F-REP-1' AND status = 'in_progress'",
        )
      ).length > 0
        ? true
        : undefined,
    )
    await processor.sweepNow()
    expect((await latest('audit.repeat_findings', scope))?.value).toBe(2)
    expect((await jobsFor('audit.repeat_findings')).map((j) => j.kind)).toEqual(['firing'])
  })

  it('keeps staging evaluations out of the production series and its alerts', async () => {
    const topic = topicNames(stack.cfg).modelMetrics
    const evaluation = (environment: 'production' | 'staging', accuracy: number) => {
      const e = modelMetricsEvent({
        modelId: 'env-model',
        modelVersion: '2.0',
        time: new Date().toISOString(),
        groups: [
          { group: 'a', tp: 40, fp: 10, tn: 40, fn: 10 },
          { group: 'b', tp: 40, fp: 10, tn: 40, fn: 10 },
        ],
      })
      Object.assign(e.data, { environment, metrics: { accuracy } })
      return { key: 'env-model', value: JSON.stringify(e) }
    }
    await produce(stack.kafka, topic, [evaluation('production', 0.95)])
    const scope = { model_id: 'env-model', model_version: '2.0' }
    await waitFor('production accuracy', async () =>
      (await latest('model.accuracy', scope))?.value === 0.95 ? true : undefined,
    )
    await produce(stack.kafka, topic, [evaluation('staging', 0.6)])
    await waitFor('the staging evaluation stored', async () =>
      (
        await queryRows(
          stack.ch,
          "SELECT 1 FROM model_metric_events WHERE model_id = 'env-model' AND environment = 'staging'",
        )
      ).length > 0
        ? true
        : undefined,
    )
    await new Promise((r) => setTimeout(r, 2_000)) // give a wrong processor time to page
    await processor.sweepNow()
    const production = await queryRows<{ value: number }>(
      stack.ch,
      `SELECT argMax(value, evaluated_at) AS value FROM kpi_values
       WHERE kpi_id = 'model.accuracy' AND scope['model_id'] = 'env-model' AND scope['environment'] != 'staging'`,
    )
    expect(production[0]?.value).toBe(0.95)
    expect(await jobsFor('model.accuracy')).toEqual([])
  })
})
