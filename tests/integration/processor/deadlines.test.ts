import { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Processor, TICK_MS } from '../../../services/processor/processor.js'
import { ALERTS_QUEUE, type AlertJob } from '../../../shared/alerts/alert-job.js'
import { HttpServer } from '../../../shared/http/server.js'
import { topicNames } from '../../../shared/kafka/topics.js'
import { createRedis } from '../../../shared/redis/client.js'
import { findingEvent, incidentEvent } from '../../helpers/events.js'
import { testConfig, waitFor } from '../../helpers/infra.js'
import {
  openStack,
  produce,
  startTestCollector,
  startTestProcessor,
  type TestStack,
} from '../../helpers/pipeline.js'
import { settled } from '../../helpers/settled.js'

const HOUR = 3_600_000
const DAY = 24 * HOUR

/**
 * Deadlines fire from the processor's timer index, not from a periodic sweep: with the clock under the
 * test's control, the clock is moved to just past a deadline and then held there. Nothing else happens
 * (no event, no sweep call), yet the transition appears, stamped with the deadline itself. Since the
 * processor's clock never passes the deadline by more than HOLD_MS, the deadline fired within HOLD_MS of
 * its time. (How long that takes in wall-clock time is the benchmark's business; the wait below is only
 * a generous bound for a loaded machine.)
 */
const HOLD_MS = 500

describe('deadlines fire on time from the timer index', () => {
  let stack: TestStack
  let collector: Awaited<ReturnType<typeof startTestCollector>>
  let redis: Redis
  let http: HttpServer
  let processor: Processor
  let alerts: Queue<AlertJob>
  let now = Date.now()

  beforeAll(async () => {
    stack = await openStack(testConfig({ SWEEP_INTERVAL_MS: '3600000' }))
    redis = createRedis(stack.cfg, 'worker')
    http = new HttpServer(stack.health, stack.log)
    collector = await startTestCollector(stack)
    processor = await startTestProcessor(stack, {
      redis,
      http,
      clock: () => new Date(now),
      // The timer loop runs (that is what is tested); the hourly sweep never comes within the test.
    })
    alerts = new Queue<AlertJob>(ALERTS_QUEUE, {
      connection: redis.duplicate(),
      prefix: stack.cfg.REDIS_PREFIX,
    })
    await processor.ready()
  })
  afterAll(async () => {
    await processor?.stop()
    await collector?.stop()
    await alerts?.obliterate({ force: true }).catch(() => undefined)
    await alerts?.close()
    redis?.disconnect()
    await stack?.close()
  })

  const jobsFor = async (kpiId: string) =>
    (await alerts.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized']))
      .map((j) => j.data)
      .filter((d) => d.kpi.id === kpiId)

  it('fires the 48-hour mark of a notification clock at the mark', async () => {
    const detected = now - 47 * HOUR
    await produce(stack.kafka, topicNames(stack.cfg).privacyIncidents, [
      {
        key: 'INC-DEADLINE-1',
        value: JSON.stringify(
          incidentEvent({
            incidentId: 'INC-DEADLINE-1',
            status: 'detected',
            time: new Date(detected).toISOString(),
            detectedAt: new Date(detected).toISOString(),
            notifiable: true,
          }),
        ),
      },
    ])
    await settled(stack)
    expect(await jobsFor('privacy.notification_clock_hours')).toEqual([])

    now = detected + 48 * HOUR + HOLD_MS // and held there
    const [job] = await waitFor(
      'the 48-hour warning',
      async () => {
        const jobs = await jobsFor('privacy.notification_clock_hours')
        return jobs.length > 0 ? jobs : undefined
      },
      30_000 + 100 * TICK_MS,
    )
    expect(job).toMatchObject({ kind: 'firing', severity: 'warning', value: 48 })
    expect(job!.at).toBe(new Date(detected + 48 * HOUR).toISOString())
  })

  it('makes a corrective action overdue right after its due time', async () => {
    const raised = now - 5 * DAY
    const due = now + 2 * HOUR
    await produce(stack.kafka, topicNames(stack.cfg).auditFindings, [
      {
        key: 'F-DEADLINE-1',
        value: JSON.stringify(
          findingEvent({
            findingId: 'F-DEADLINE-1',
            status: 'open',
            kind: 'major_nc',
            standard: 'ISO27001',
            clause: 'A.5.24',
            time: new Date(raised).toISOString(),
            raisedAt: new Date(raised).toISOString(),
            dueAt: new Date(due).toISOString(),
          }),
        ),
      },
    ])
    await settled(stack)
    expect(await jobsFor('audit.overdue_corrective_actions')).toEqual([])

    now = due + HOLD_MS
    const [job] = await waitFor(
      'the overdue corrective action',
      async () => {
        const jobs = await jobsFor('audit.overdue_corrective_actions')
        return jobs.length > 0 ? jobs : undefined
      },
      30_000 + 100 * TICK_MS,
    )
    expect(job).toMatchObject({
      kind: 'firing',
      severity: 'warning',
      value: 1,
      scope: { standard: 'ISO27001' },
    })
    const firedAt = Date.parse(job!.at)
    expect(firedAt).toBeGreaterThan(due)
    expect(firedAt).toBeLessThanOrEqual(due + HOLD_MS)
  })
})
