import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Processor, TICK_MS } from '../../../services/processor/processor.js'
import { snapshotFromState } from '../../../services/processor/snapshot.js'
import { ALERTS_QUEUE, type AlertJob } from '../../../shared/alerts/alert-job.js'
import { createClickHouse, queryRows } from '../../../shared/clickhouse/client.js'
import { migrate, migrationsDir } from '../../../shared/clickhouse/migrate.js'
import { loadConfig } from '../../../shared/config/env.js'
import { HttpServer } from '../../../shared/http/server.js'
import { topicNames } from '../../../shared/kafka/topics.js'
import { CLOCK_KPI } from '../../../shared/kpi/engine/privacy.js'
import { incidentState, stateMergeSelect } from '../../../shared/kpi/entity-state.js'
import { runReference } from '../../../shared/kpi/run.js'
import { createRedis } from '../../../shared/redis/client.js'
import { incidentAlertJobs } from '../../helpers/alert-jobs.js'
import { apiGet, type Json, testAuth } from '../../helpers/api.js'
import { incidentEvent } from '../../helpers/events.js'
import { testConfig } from '../../helpers/infra.js'
import {
  openStack,
  produce,
  startTestCollector,
  startTestProcessor,
  type TestStack,
} from '../../helpers/pipeline.js'
import { settled } from '../../helpers/settled.js'

const HOUR = 3_600_000
/** The processor's clock is moved just past a mark and held there: a mark fires within HOLD_MS of it. */
const HOLD_MS = 500
/** A generous bound for a loaded machine (2 cores shared by several test runs), not a latency claim. */
const WAIT_MS = 30_000 + 100 * TICK_MS
const iso = (ms: number) => new Date(ms).toISOString()

/**
 * GDPR Art. 33: 72 hours from becoming aware. An incident detected at T and the controller aware at
 * T + 10 h: the 72-hour clock (privacy.notification_clock_hours, the GDPR entry of the regime catalog),
 * the page's regime clock, the 72-hour ratio and the incidents view all run from T + 10 h; real Kafka, collector, ClickHouse (chDB), Redis
 * and the processor's timer index with a controlled clock.
 */
describe('GDPR Art. 33 from awareness', () => {
  let stack: TestStack
  let collector: Awaited<ReturnType<typeof startTestCollector>>
  let redis: Redis
  let http: HttpServer
  let processor: Processor
  let alerts: Queue<AlertJob>
  let base: string
  const auth = testAuth()
  let now = Date.parse('2026-04-01T08:00:00Z')

  beforeAll(async () => {
    stack = await openStack(testConfig({ SWEEP_INTERVAL_MS: '3600000' }))
    redis = createRedis(stack.cfg, 'worker')
    http = new HttpServer(stack.health, stack.log, { auth: auth.authenticator })
    collector = await startTestCollector(stack)
    processor = await startTestProcessor(stack, { redis, http, clock: () => new Date(now) })
    alerts = new Queue<AlertJob>(ALERTS_QUEUE, {
      connection: redis.duplicate(),
      prefix: stack.cfg.REDIS_PREFIX,
    })
    await processor.ready()
    base = (await http.listen('127.0.0.1', 0)).url
  })
  afterAll(async () => {
    await http?.close()
    await processor?.stop()
    await collector?.stop()
    await alerts?.obliterate({ force: true }).catch(() => undefined)
    await alerts?.close()
    redis?.disconnect()
    await stack?.close()
  })

  const { jobsFor, waitForJobs } = incidentAlertJobs(() => alerts, WAIT_MS)
  const send = async (id: string, detectedAt: number, data: Record<string, unknown>) => {
    const event = incidentEvent({
      incidentId: id,
      status: 'detected',
      time: iso(now),
      detectedAt: iso(detectedAt),
      notifiable: true,
      severity: 'high',
    })
    await produce(stack.kafka, topicNames(stack.cfg).privacyIncidents, [
      { key: id, value: JSON.stringify({ ...event, data: { ...event.data, ...data } }) },
    ])
    await settled(stack)
  }
  const incidentView = async (id: string): Promise<Json> => {
    const res = await apiGet(base, '/api/views/incidents?days=30', auth.tokens.security)
    expect(res.status).toBe(200)
    return res.body.incidents.find((i: Json) => i.incidentId === id)
  }

  const id = 'INC-AWARE-1'
  const detected = Date.parse('2026-04-01T00:00:00Z')
  const aware = detected + 10 * HOUR

  it('marks 48 h from awareness, not from detection, on the clock, the page and the incidents view', async () => {
    now = aware
    await send(id, detected, { awarenessAt: iso(aware) })
    expect((await incidentView(id)) as Json).toMatchObject({
      detectedAt: iso(detected),
      awarenessAt: iso(aware),
      clockHours: 0,
      state: 'running',
    })

    // 48 h after detection is 38 h after awareness: no mark yet.
    now = detected + 48 * HOUR + HOLD_MS
    await processor.sweepNow()
    await settled(stack)
    expect(await jobsFor(CLOCK_KPI, id)).toEqual([])

    now = aware + 48 * HOUR + HOLD_MS
    const [warning] = await waitForJobs('the 48 h mark after awareness', CLOCK_KPI, id, 1)
    expect(warning).toMatchObject({ kind: 'firing', severity: 'warning', value: 48 })
    expect(warning!.at).toBe(iso(aware + 48 * HOUR))

    // The 72-hour clock is the GDPR Art. 33 entry of the regime catalog: the page's clock agrees.
    now = aware + 54 * HOUR
    const res = await apiGet(base, '/api/views/regime-clocks?state=all', auth.tokens.security)
    expect(res.status).toBe(200)
    const clocks = res.body.incidents.find((i: Json) => i.incidentId === id)
    const gdpr = clocks.regimes.find((r: Json) => r.regime === 'gdpr_art33').steps[0]
    expect(gdpr).toMatchObject({ step: 'notification', state: 'running', dueAt: iso(aware + 72 * HOUR) })
    expect((await incidentView(id)).clockHours).toBe(54)
  })

  it('counts a notification 80 h after detection, 70 h after awareness, as on time; live equals the reference', async () => {
    const notifiedAt = detected + 80 * HOUR
    now = notifiedAt
    await send(id, detected, {
      awarenessAt: iso(aware),
      regulatorNotifiedAt: iso(notifiedAt),
      status: 'notified',
    })
    const clock = await waitForJobs('the clock resolved', CLOCK_KPI, id, 2)
    expect(clock[1]).toMatchObject({ kind: 'resolved', value: 0 })
    const view = await incidentView(id)
    expect(view).toMatchObject({ state: 'notified_on_time', hoursToNotify: 70, level: 'ok' })

    // A v1 incident (no awareness time) notified as late after detection is late: the ratio is 1 of 2.
    const v1 = 'INC-V1-1'
    await send(v1, notifiedAt - 80 * HOUR, { regulatorNotifiedAt: iso(notifiedAt), status: 'notified' })
    expect(await incidentView(v1)).toMatchObject({ state: 'notified_late', hoursToNotify: 80 })

    const at = new Date(now + HOUR)
    const [reference, live] = await Promise.all([
      runReference(stack.ch, at, { areas: ['privacy'] }),
      snapshotFromState(stack.ch, at),
    ])
    const ratio = (samples: { kpiId: string; value: number | null }[]) =>
      samples.find((s) => s.kpiId === 'privacy.notified_within_72h_ratio')?.value
    expect(ratio(reference)).toBe(0.5)
    expect(ratio(live)).toBe(0.5)
  })
})

describe('migration 0018 on a database that already holds incidents', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aims-0018-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('adds awareness to the incident state of facts stored before it, and keeps it for facts after', async () => {
    const before = join(dir, 'migrations-0017')
    mkdirSync(before)
    for (const f of readdirSync(migrationsDir).filter((f) => f < '0018')) {
      copyFileSync(join(migrationsDir, f), join(before, f))
    }
    const ch = await createClickHouse(
      loadConfig({ CLICKHOUSE_DATA_DIR: join(dir, 'ch'), CLICKHOUSE_DATABASE: 'upgrade', LOG_LEVEL: 'warn' }),
    )
    try {
      await migrate(ch, undefined, before)
      const insert = (id: string, awareness: string) =>
        ch.client.command({
          query: `INSERT INTO privacy_incident_events
            (event_id, event_time, source, incident_id, status, severity, category, business_unit,
             detected_at, notifiable, records_affected, awareness_at)
            VALUES ('${id}-e', '2026-04-01 10:00:00.000', 'test', '${id}', 'detected', 'high', 'leak', 'bu',
             '2026-04-01 00:00:00.000', true, 1, '${awareness}')`,
        })
      await insert('OLD', '2026-04-01 05:00:00.000')
      expect(await migrate(ch)).toContain('0018_incident_awareness')
      await insert('NEW', '2026-04-01 06:00:00.000')
      const rows = await queryRows<{ incident_id: string; awareness_at: string; severity: string }>(
        ch,
        `SELECT incident_id, awareness_at, severity FROM (${stateMergeSelect(incidentState)}) ORDER BY incident_id`,
      )
      expect(rows).toEqual([
        { incident_id: 'NEW', awareness_at: '2026-04-01T06:00:00.000Z', severity: 'high' },
        { incident_id: 'OLD', awareness_at: '2026-04-01T05:00:00.000Z', severity: 'high' },
      ])
    } finally {
      await ch.close()
    }
  })
})
