import { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Processor } from '../../../services/processor/processor.js'
import { ALERTS_QUEUE, type AlertJob } from '../../../shared/alerts/alert-job.js'
import { queryRows } from '../../../shared/clickhouse/client.js'
import { HttpServer } from '../../../shared/http/server.js'
import { topicNames } from '../../../shared/kafka/topics.js'
import { fingerprint } from '../../../shared/kpi/breach-state.js'
import { staleFingerprint } from '../../../shared/kpi/staleness.js'
import { parseAimsConfig } from '../../../shared/kpi/thresholds.js'
import { createRedis } from '../../../shared/redis/client.js'
import { allAlertJobs } from '../../helpers/alert-jobs.js'
import { testAuth } from '../../helpers/api.js'
import { incidentEvent } from '../../helpers/events.js'
import { testConfig, waitFor } from '../../helpers/infra.js'
import {
  openStack,
  produce,
  startTestCollector,
  startTestProcessor,
  type TestStack,
} from '../../helpers/pipeline.js'
import { settled } from '../../helpers/settled.js'

const MIN = 60_000
const DAY = 86_400_000

/**
 * A feed that stops: the privacy aggregates go stale when no incident event has arrived for the
 * configured interval (a SIEM that stopped sending looks like "no incidents" otherwise), alerting through
 * the KPI chosen to page, and come back with the next event; an area that never had an event is not
 * watched. Real Kafka, collector, ClickHouse (chDB), Redis; the clock is the test's.
 */
describe('processor: stale privacy feed', () => {
  let stack: TestStack
  let collector: Awaited<ReturnType<typeof startTestCollector>>
  let redis: Redis
  let http: HttpServer
  let processor: Processor
  let alerts: Queue<AlertJob>
  let now = new Date('2026-06-01T08:00:00.000Z')
  const clock = () => now
  const records = fingerprint('privacy.records_affected', {})
  const mttd = fingerprint('privacy.mttd_hours', {})

  beforeAll(async () => {
    stack = await openStack(testConfig())
    redis = createRedis(stack.cfg, 'worker')
    http = new HttpServer(stack.health, stack.log, { auth: testAuth().authenticator })
    collector = await startTestCollector(stack)
    const aimsConfig = parseAimsConfig({
      lifecycle: {
        // Every privacy aggregate is stale after 3 days without an incident event, shown, not paged...
        privacy: { stale_after: '3d', stale_alert: false },
        // ...but one of them pages, once for the feed.
        'privacy.records_affected': { stale_alert: true },
        audit: { stale_after: '30d' },
      },
    })
    processor = await startTestProcessor(stack, { redis, http, aimsConfig, clock, scheduleSweep: false })
    await processor.ready()
    alerts = new Queue<AlertJob>(ALERTS_QUEUE, {
      connection: redis.duplicate(),
      prefix: stack.cfg.REDIS_PREFIX,
    })
  }, 120_000)

  afterAll(async () => {
    await processor?.stop()
    await collector?.stop()
    await alerts?.obliterate({ force: true }).catch(() => undefined)
    await alerts?.close()
    redis?.disconnect()
    await http?.close()
    await stack?.close()
  })

  const staleJobs = async () =>
    (await allAlertJobs(alerts)).filter((d) => d.stale !== undefined).sort((a, b) => a.at.localeCompare(b.at))

  const status = async (fp: string) =>
    (
      await queryRows<{ status: string }>(
        stack.ch,
        'SELECT status FROM kpi_values WHERE fingerprint = {fp:String} ORDER BY evaluated_at DESC LIMIT 1',
        { fp },
      )
    )[0]?.status

  const incident = async (id: string) => {
    const event = incidentEvent({
      incidentId: id,
      status: 'detected',
      time: now.toISOString(),
      detectedAt: new Date(now.getTime() - MIN).toISOString(),
      notifiable: false,
    })
    await produce(stack.kafka, topicNames(stack.cfg).privacyIncidents, [
      { key: id, value: JSON.stringify(event) },
    ])
    await settled(stack)
  }

  it('goes stale 3 days after the last incident event, pages once through the chosen KPI, and is fresh again with the next event', async () => {
    const lastInput = now.getTime()
    await incident('INC-FEED-1')
    await waitFor('the incident counted', async () => ((await status(records)) === 'ok' ? true : undefined))

    now = new Date(lastInput + 3 * DAY - MIN)
    await processor.sweepNow()
    expect(await staleJobs()).toEqual([])
    expect(await status(mttd)).not.toBe('stale')

    now = new Date(lastInput + 3 * DAY + 5 * MIN)
    await processor.sweepNow()
    const stale = await staleJobs()
    // One alert for the feed (records affected); the audit area never had an event: not watched.
    expect(stale.map((j) => [j.kpi.id, j.kind, j.severity])).toEqual([
      ['privacy.records_affected', 'firing', 'warning'],
    ])
    expect(stale[0]!.fingerprint).toBe(staleFingerprint(records))
    expect(stale[0]!.startsAt).toBe(new Date(lastInput + 3 * DAY).toISOString())
    expect(stale[0]!.stale).toEqual({ lastInputAt: new Date(lastInput).toISOString(), expectedWithin: '3d' })
    // Every privacy aggregate shows stale, never ok.
    expect(await status(records)).toBe('stale')
    expect(await status(mttd)).toBe('stale')

    now = new Date(now.getTime() + MIN)
    await incident('INC-FEED-2')
    const back = await waitFor('the feed fresh again', async () => {
      const jobs = await staleJobs()
      return jobs.length >= 2 ? jobs : undefined
    })
    expect(back.map((j) => [j.kpi.id, j.kind])).toEqual([
      ['privacy.records_affected', 'firing'],
      ['privacy.records_affected', 'resolved'],
    ])
    await waitFor('the aggregates fresh', async () => ((await status(mttd)) === 'stale' ? undefined : true))
  })
})
