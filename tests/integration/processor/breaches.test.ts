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
  count,
  openStack,
  produce,
  startTestCollector,
  startTestProcessor,
  type TestStack,
} from '../../helpers/pipeline.js'

const HOUR = 3600_000

/**
 * The processor end to end on real parts: events through Kafka and the collector, KPIs over ClickHouse,
 * alert jobs on a real Redis. The clock is the test's, so the 72-hour rule takes no 72 hours.
 */
describe('processor: breaches from events, with their lifecycle', () => {
  let stack: TestStack
  let collector: Awaited<ReturnType<typeof startTestCollector>>
  let redis: Redis
  let http: HttpServer
  let processor: Processor
  let alerts: Queue<AlertJob>
  let now = new Date()
  const clock = () => now

  async function startProc(): Promise<Processor> {
    return startTestProcessor(stack, {
      redis,
      http,
      clock,
      scheduleSweep: false,
    })
  }

  beforeAll(async () => {
    stack = await openStack(testConfig())
    redis = createRedis(stack.cfg, 'worker')
    http = new HttpServer(stack.health, stack.log)
    collector = await startTestCollector(stack)
    processor = await startProc()
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

  async function jobsFor(kpiId: string, scope?: Record<string, string>): Promise<AlertJob[]> {
    const jobs = await alerts.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized'])
    return jobs
      .map((j) => j.data)
      .filter((d) => d.kpi.id === kpiId && Object.entries(scope ?? {}).every(([k, v]) => d.scope[k] === v))
      .sort((a, b) => a.at.localeCompare(b.at) || a.kind.localeCompare(b.kind))
  }

  async function transitionsFor(kpiId: string): Promise<{ transition: string; severity: string }[]> {
    return queryRows(
      stack.ch,
      'SELECT DISTINCT transition_id, transition, severity, at FROM breach_transitions WHERE kpi_id = {k:String} ORDER BY at',
      { k: kpiId },
    )
  }

  it('fires a four-fifths-rule breach once and resolves it after a healthy evaluation', async () => {
    now = new Date()
    const topic = topicNames(stack.cfg).modelMetrics
    const unfair = modelMetricsEvent({
      modelId: 'loan-approval',
      modelVersion: '3.0',
      time: new Date(now.getTime() - 2 * HOUR).toISOString(),
      groups: [
        { group: 'female', tp: 25, fp: 5, tn: 60, fn: 10 }, // selection rate 0.30
        { group: 'male', tp: 40, fp: 2, tn: 50, fn: 8 }, // selection rate 0.42
      ],
    })
    await produce(stack.kafka, topic, [{ key: 'loan-approval', value: JSON.stringify(unfair) }])
    const scope = { model_id: 'loan-approval', model_version: '3.0', attribute: 'gender' }
    const [firing] = await waitFor('a disparate impact alert job', async () => {
      const jobs = await jobsFor('model.disparate_impact_ratio', scope)
      return jobs.length > 0 ? jobs : undefined
    })
    expect(firing).toMatchObject({ kind: 'firing', severity: 'warning', threshold: 0.8 })
    expect(firing!.value).toBeCloseTo(0.3 / 0.42, 6)
    expect(firing!.iso.iso42001).toEqual(expect.arrayContaining(['A.5.4', 'A.6.2.6', 'A.7.4']))
    expect(firing!.summary).toContain('loan-approval')

    // The same state evaluated again (another trigger, a sweep) notifies nobody.
    await processor.sweepNow()
    await produce(stack.kafka, topic, [{ key: 'loan-approval', value: JSON.stringify(unfair) }])
    await new Promise((r) => setTimeout(r, 1500))
    expect(await jobsFor('model.disparate_impact_ratio', scope)).toHaveLength(1)

    now = new Date(now.getTime() + 60_000)
    const healthy = modelMetricsEvent({
      modelId: 'loan-approval',
      modelVersion: '3.0',
      time: new Date(now.getTime() - HOUR).toISOString(),
      groups: [
        { group: 'female', tp: 36, fp: 4, tn: 52, fn: 8 }, // 0.40
        { group: 'male', tp: 40, fp: 2, tn: 50, fn: 8 }, // 0.42
      ],
    })
    await produce(stack.kafka, topic, [{ key: 'loan-approval', value: JSON.stringify(healthy) }])
    const jobs = await waitFor('the resolve job', async () => {
      const all = await jobsFor('model.disparate_impact_ratio', scope)
      return all.length >= 2 ? all : undefined
    })
    expect(jobs.map((j) => j.kind)).toEqual(['firing', 'resolved'])
    expect(jobs[1]!.fingerprint).toBe(firing!.fingerprint)
    expect(jobs[1]!.breachId).toBe(firing!.breachId)
    expect((await transitionsFor('model.disparate_impact_ratio')).map((t) => t.transition)).toEqual([
      'firing',
      'resolved',
    ])
  })

  it('runs the 72-hour notification clock on the sweep: warning at 48 h, critical at 72 h', async () => {
    const detected = new Date('2026-03-02T08:00:00Z')
    now = new Date(detected.getTime() + HOUR)
    const topic = topicNames(stack.cfg).privacyIncidents
    const base = { incidentId: 'INC-CLOCK-1', detectedAt: detected.toISOString(), notifiable: true }
    await produce(stack.kafka, topic, [
      {
        key: base.incidentId,
        value: JSON.stringify(incidentEvent({ ...base, status: 'detected', time: detected.toISOString() })),
      },
    ])
    const scope = { incident_id: 'INC-CLOCK-1' }
    await waitFor('the incident evaluated', async () =>
      (await count(
        stack.ch,
        "SELECT count() AS n FROM kpi_values WHERE kpi_id = 'privacy.notification_clock_hours' AND scope['incident_id'] = 'INC-CLOCK-1'",
      )) > 0
        ? true
        : undefined,
    )
    expect(await jobsFor('privacy.notification_clock_hours', scope)).toHaveLength(0)

    now = new Date(detected.getTime() + 47 * HOUR)
    await processor.sweepNow()
    expect(await jobsFor('privacy.notification_clock_hours', scope)).toHaveLength(0)

    // The clock is sampled at its 48 h mark itself, however late the evaluation that finds it passed.
    now = new Date(detected.getTime() + 49 * HOUR)
    await processor.sweepNow()
    let jobs = await jobsFor('privacy.notification_clock_hours', scope)
    expect(jobs.map((j) => [j.kind, j.severity])).toEqual([['firing', 'warning']])
    expect(jobs[0]!.value).toBe(48)
    expect(jobs[0]!.at).toBe(new Date(detected.getTime() + 48 * HOUR).toISOString())

    now = new Date(detected.getTime() + 73 * HOUR)
    await processor.sweepNow()
    await processor.sweepNow()
    jobs = await jobsFor('privacy.notification_clock_hours', scope)
    expect(jobs.map((j) => [j.kind, j.severity])).toEqual([
      ['firing', 'warning'],
      ['escalated', 'critical'],
    ])

    // Notifying the regulator stops the clock: the breach resolves.
    const notifiedAt = new Date(detected.getTime() + 74 * HOUR).toISOString()
    now = new Date(detected.getTime() + 75 * HOUR)
    await produce(stack.kafka, topic, [
      {
        key: base.incidentId,
        value: JSON.stringify(
          incidentEvent({ ...base, status: 'notified', time: notifiedAt, regulatorNotifiedAt: notifiedAt }),
        ),
      },
    ])
    jobs = await waitFor('the clock resolved', async () => {
      const all = await jobsFor('privacy.notification_clock_hours', scope)
      return all.length >= 3 ? all : undefined
    })
    expect(jobs.map((j) => j.kind)).toEqual(['firing', 'escalated', 'resolved'])
  })

  it('fires on an overdue corrective action and resolves when the finding closes', async () => {
    const raised = new Date('2026-05-04T09:00:00Z')
    const due = new Date(raised.getTime() + 10 * 24 * HOUR)
    now = new Date(raised.getTime() + HOUR)
    const topic = topicNames(stack.cfg).auditFindings
    const base = {
      findingId: 'F-OVERDUE-1',
      raisedAt: raised.toISOString(),
      dueAt: due.toISOString(),
      standard: 'ISO27001' as const,
      clause: 'A.8.8',
    }
    await produce(stack.kafka, topic, [
      {
        key: base.findingId,
        value: JSON.stringify(findingEvent({ ...base, status: 'open', time: raised.toISOString() })),
      },
    ])
    const scope = { standard: 'ISO27001' }
    // The finding is an open minor NC: its (standard, clause) series appears once it is evaluated.
    await waitFor('the finding evaluated', async () =>
      (await count(
        stack.ch,
        "SELECT count() AS n FROM kpi_values WHERE kpi_id = 'audit.open_minor_ncs' AND scope['clause'] = 'A.8.8'",
      )) > 0
        ? true
        : undefined,
    )
    expect(await jobsFor('audit.overdue_corrective_actions', scope)).toHaveLength(0)

    now = new Date(due.getTime() + 24 * HOUR)
    await processor.sweepNow()
    let jobs = await jobsFor('audit.overdue_corrective_actions', scope)
    expect(jobs.map((j) => [j.kind, j.value])).toEqual([['firing', 1]])

    const closedAt = new Date(due.getTime() + 30 * HOUR).toISOString()
    now = new Date(due.getTime() + 31 * HOUR)
    await produce(stack.kafka, topic, [
      {
        key: base.findingId,
        value: JSON.stringify(findingEvent({ ...base, status: 'closed', closedAt, time: closedAt })),
      },
    ])
    jobs = await waitFor('the overdue breach resolved', async () => {
      const all = await jobsFor('audit.overdue_corrective_actions', scope)
      return all.length >= 2 ? all : undefined
    })
    expect(jobs.map((j) => j.kind)).toEqual(['firing', 'resolved'])
  })

  it('a restarted processor replaying every trigger adds no transition and no job', async () => {
    const distinctTransitions = () =>
      count(stack.ch, 'SELECT uniqExact(transition_id) AS n FROM breach_transitions')
    const before = {
      transitions: await distinctTransitions(),
      jobs: await alerts.getJobCountByTypes(
        'waiting',
        'completed',
        'failed',
        'delayed',
        'active',
        'prioritized',
      ),
    }
    expect(before.transitions).toBeGreaterThanOrEqual(7)
    await processor.stop()

    // A new consumer group reads the trigger topic from the start: a full replay.
    stack.cfg.PROCESSOR_GROUP_ID = `${stack.cfg.PROCESSOR_GROUP_ID}-replay`
    processor = await startProc()
    await waitFor('the replay consumed', async () => {
      const admin = stack.kafka.admin()
      await admin.connect()
      try {
        const ends = await admin.fetchTopicOffsets(topicNames(stack.cfg).kpiTriggers)
        const [c] = await admin.fetchOffsets({
          groupId: stack.cfg.PROCESSOR_GROUP_ID,
          topics: [topicNames(stack.cfg).kpiTriggers],
        })
        const total = ends.reduce((n, e) => n + Number(e.high), 0)
        const done = (c?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0)
        return total > 0 && done >= total ? true : undefined
      } finally {
        await admin.disconnect()
      }
    })
    await processor.sweepNow()
    expect(await distinctTransitions()).toBe(before.transitions)
    expect(
      await alerts.getJobCountByTypes('waiting', 'completed', 'failed', 'delayed', 'active', 'prioritized'),
    ).toBe(before.jobs)
  })
})
