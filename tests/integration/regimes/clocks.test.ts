import { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import { chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Processor, TICK_MS } from '../../../services/processor/processor.js'
import { snapshotFromState } from '../../../services/processor/snapshot.js'
import { ALERTS_QUEUE, type AlertJob } from '../../../shared/alerts/alert-job.js'
import { queryRows } from '../../../shared/clickhouse/client.js'
import { HttpServer } from '../../../shared/http/server.js'
import { topicNames } from '../../../shared/kafka/topics.js'
import { REGIME_STEP_KPIS, regimeKpiId } from '../../../shared/kpi/regimes.js'
import { runReference } from '../../../shared/kpi/run.js'
import { parseAimsConfig } from '../../../shared/kpi/thresholds.js'
import { createRedis } from '../../../shared/redis/client.js'
import { incidentAlertJobs } from '../../helpers/alert-jobs.js'
import { apiGet, type Json, loginLink, testAuth } from '../../helpers/api.js'
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

const HOUR = 3_600_000
/** The processor's clock is moved just past a mark and held there: a mark fires within HOLD_MS of it. */
const HOLD_MS = 500
/** A generous bound for a loaded machine (2 cores shared by several test runs), not a latency claim. */
const WAIT_MS = 30_000 + 100 * TICK_MS

const EARLY_WARNING = regimeKpiId('nis2', 'early_warning')
const NOTIFICATION = regimeKpiId('nis2', 'notification')
const FINAL_REPORT = regimeKpiId('nis2', 'final_report')
const DORA_INITIAL = regimeKpiId('dora', 'initial')

const iso = (ms: number) => new Date(ms).toISOString()

/**
 * Regulatory notification clocks end to end: events through real Kafka and the collector into ClickHouse
 * (chDB), the processor's timer index with a controlled clock, breach transitions as alert jobs in Redis.
 * NIS2 applies through a config rule on the incident's jurisdiction; DORA and GDPR Art. 34 through the
 * event's own list.
 */
describe('regulatory notification clocks', () => {
  let stack: TestStack
  let collector: Awaited<ReturnType<typeof startTestCollector>>
  let redis: Redis
  let http: HttpServer
  let processor: Processor
  let alerts: Queue<AlertJob>
  let base: string
  let doraDetected = 0
  const auth = testAuth()
  let now = Date.parse('2026-01-29T08:00:00Z')
  const config = parseAimsConfig(
    { regimes: { rules: [{ match: { jurisdiction: 'EU' }, apply: ['nis2'] }] } },
    'test config',
  )

  beforeAll(async () => {
    stack = await openStack(testConfig({ SWEEP_INTERVAL_MS: '3600000' }))
    redis = createRedis(stack.cfg, 'worker')
    http = new HttpServer(stack.health, stack.log, { auth: auth.authenticator })
    collector = await startTestCollector(stack)
    processor = await startTestProcessor(stack, {
      redis,
      http,
      clock: () => new Date(now),
      aimsConfig: config,
    })
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

  /** The page's view of one incident's clocks, as the security team reads it. */
  const clocksOf = async (incidentId: string): Promise<Json> => {
    const res = await apiGet(base, '/api/views/regime-clocks?state=all', auth.tokens.security)
    expect(res.status).toBe(200)
    return res.body.incidents.find((i: Json) => i.incidentId === incidentId)
  }
  const stepsOf = (incident: Json, regime: string) =>
    Object.fromEntries(
      incident.regimes.find((r: Json) => r.regime === regime).steps.map((s: Json) => [s.step, s]),
    )

  const send = async (incidentId: string, data: Record<string, unknown>, detectedAt: number) => {
    const base = incidentEvent({
      incidentId,
      status: 'detected',
      time: iso(now),
      detectedAt: iso(detectedAt),
      notifiable: false,
      severity: 'high',
    })
    await produce(stack.kafka, topicNames(stack.cfg).privacyIncidents, [
      { key: incidentId, value: JSON.stringify({ ...base, data: { ...base.data, ...data } }) },
    ])
    await settled(stack)
  }

  it('NIS2: early warning at 24 h with a warning before it, notification at 72 h, final report one month after the notification', async () => {
    const id = 'INC-NIS2-1'
    const detected = now - 2 * HOUR
    const aware = now - HOUR
    await send(id, { awarenessAt: iso(aware), jurisdictions: ['EU'] }, detected)
    expect(await jobsFor(EARLY_WARNING, id)).toEqual([])

    // The warning mark (0.75 of 24 h after awareness), then the deadline itself.
    now = aware + 18 * HOUR + HOLD_MS
    const [warning] = await waitForJobs('the early warning mark', EARLY_WARNING, id, 1)
    expect(warning).toMatchObject({ kind: 'firing', severity: 'warning', value: 0.75 })
    expect(warning!.at).toBe(iso(aware + 18 * HOUR))

    now = aware + 24 * HOUR + HOLD_MS
    const escalated = await waitForJobs('the early warning deadline', EARLY_WARNING, id, 2)
    expect(escalated[1]).toMatchObject({ kind: 'escalated', severity: 'critical', value: 1 })
    expect(escalated[1]!.at).toBe(iso(aware + 24 * HOUR))

    // The early warning is sent (late): its clock stops and the breach resolves; the notification runs on.
    now = aware + 25 * HOUR
    const reports = [{ regime: 'nis2', step: 'early_warning', sentAt: iso(aware + 25 * HOUR) }]
    await send(id, { awarenessAt: iso(aware), jurisdictions: ['EU'], reports }, detected)
    const resolved = await waitForJobs('the early warning resolved', EARLY_WARNING, id, 3)
    expect(resolved[2]).toMatchObject({ kind: 'resolved', value: 0 })
    expect(await jobsFor(NOTIFICATION, id)).toEqual([])
    const page = stepsOf(await clocksOf(id), 'nis2')
    expect(page.early_warning).toMatchObject({ state: 'sent_late', sentAt: iso(aware + 25 * HOUR) })
    expect(page.notification).toMatchObject({ state: 'running', level: 'ok', dueAt: iso(aware + 72 * HOUR) })
    expect(page.notification.hoursLeft).toBe(47)
    expect(page.final_report).toMatchObject({ state: 'waiting', dueAt: null })

    now = aware + 54 * HOUR + HOLD_MS
    const [notificationWarning] = await waitForJobs('the notification mark', NOTIFICATION, id, 1)
    expect(notificationWarning).toMatchObject({ kind: 'firing', severity: 'warning', value: 0.75 })
    expect(notificationWarning!.at).toBe(iso(aware + 54 * HOUR))

    // Notified at 60 h, in time (a later event that omits the first report keeps it: reports stay sent).
    const notifiedAt = aware + 60 * HOUR
    now = notifiedAt
    await send(
      id,
      { jurisdictions: ['EU'], reports: [{ regime: 'nis2', step: 'notification', sentAt: iso(notifiedAt) }] },
      detected,
    )
    const notified = await waitForJobs('the notification resolved', NOTIFICATION, id, 2)
    expect(notified[1]).toMatchObject({ kind: 'resolved', value: 0 })
    expect((await jobsFor(EARLY_WARNING, id)).length).toBe(3)

    // The final report: one calendar month after the notification, clamped (Jan 31 → Feb 28).
    expect(iso(notifiedAt)).toBe('2026-01-31T19:00:00.000Z')
    const due = Date.parse('2026-02-28T19:00:00.000Z')
    const warnAt = notifiedAt + Math.ceil(0.75 * (due - notifiedAt))
    now = warnAt - HOUR
    await processor.sweepNow()
    expect(await jobsFor(FINAL_REPORT, id)).toEqual([])
    now = warnAt + HOLD_MS
    const [finalWarning] = await waitForJobs('the final report mark', FINAL_REPORT, id, 1)
    expect(finalWarning).toMatchObject({ kind: 'firing', severity: 'warning', value: 0.75 })
    expect(finalWarning!.at).toBe(iso(warnAt))
    now = due + HOLD_MS
    const finalDue = await waitForJobs('the final report deadline', FINAL_REPORT, id, 2)
    expect(finalDue[1]).toMatchObject({ kind: 'escalated', severity: 'critical' })
    expect(finalDue[1]!.at).toBe(iso(due))
  })

  it('DORA: the initial notification is due 4 h after classification', async () => {
    const id = 'INC-DORA-1'
    const detected = now
    doraDetected = detected
    const classified = detected + 2 * HOUR
    now = classified
    await send(id, { regimes: ['dora'], classifiedAt: iso(classified) }, detected)
    expect(await jobsFor(DORA_INITIAL, id)).toEqual([])

    now = classified + 4 * HOUR + HOLD_MS
    const jobs = await waitForJobs('the DORA initial notification deadline', DORA_INITIAL, id, 2)
    // The clock runs from detection (the 24 h cap's anchor) to classification + 4 h: warning at 0.75.
    expect(jobs[0]).toMatchObject({ kind: 'firing', severity: 'warning' })
    expect(jobs[0]!.at).toBe(iso(detected + 4.5 * HOUR))
    expect(jobs[1]).toMatchObject({ kind: 'escalated', severity: 'critical', value: 1 })
    expect(jobs[1]!.at).toBe(iso(classified + 4 * HOUR))
    const page = stepsOf(await clocksOf(id), 'dora')
    expect(page.initial).toMatchObject({
      state: 'overdue',
      level: 'critical',
      dueAt: iso(classified + 4 * HOUR),
    })
    expect(page.intermediate).toMatchObject({ state: 'waiting' })
  })

  it('GDPR Art. 34 "without undue delay" is never late', async () => {
    const id = 'INC-ART34-1'
    const detected = now
    await send(id, { regimes: ['gdpr_art34'] }, detected)
    now = detected + 400 * 24 * HOUR
    await processor.sweepNow()
    await settled(stack)
    const all = (await alerts.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized']))
      .map((j) => j.data)
      .filter((d) => d.scope.incident_id === id)
    expect(all).toEqual([])
    const page = stepsOf(await clocksOf(id), 'gdpr_art34')
    expect(page.communication).toMatchObject({ state: 'no_deadline', level: 'ok', dueAt: null })
    expect(page.communication.hoursElapsed).toBe(400 * 24)
  })

  it('the live clocks equal the reference SQL over the facts, series by series', async () => {
    const start = now
    // A spread of cases: anchors from awareness, classification and a report; months across a month end.
    await send('INC-EQ-1', { jurisdictions: ['EU', 'US'] }, start - 30 * HOUR)
    await send(
      'INC-EQ-2',
      {
        regimes: ['dora', 'hipaa'],
        awarenessAt: iso(start - 20 * HOUR),
        classifiedAt: iso(start - 19 * HOUR),
        reports: [{ regime: 'dora', step: 'initial', sentAt: iso(start - 17 * HOUR) }],
      },
      start - 21 * HOUR,
    )
    await send(
      'INC-EQ-3',
      {
        regimes: ['nis2'],
        reports: [
          { regime: 'nis2', step: 'early_warning', sentAt: iso(start - 50 * HOUR) },
          { regime: 'nis2', step: 'notification', sentAt: iso(start - 40 * HOUR) },
        ],
      },
      start - 60 * HOUR,
    )
    const regimeKpis = new Set(REGIME_STEP_KPIS.map((k) => k.kpiId))
    const key = (s: { kpiId: string; scope: Record<string, string> }) => `${s.kpiId} ${s.scope.incident_id}`
    for (const at of [start, start + 10 * HOUR, start + 40 * 24 * HOUR]) {
      const [reference, live] = await Promise.all([
        runReference(stack.ch, new Date(at), { areas: ['privacy'], config }),
        snapshotFromState(stack.ch, new Date(at), config),
      ])
      const ref = new Map(reference.filter((s) => regimeKpis.has(s.kpiId)).map((s) => [key(s), s.value]))
      const got = new Map(live.filter((s) => regimeKpis.has(s.kpiId)).map((s) => [key(s), s.value]))
      expect(ref.size, iso(at)).toBeGreaterThanOrEqual(5)
      expect([...got].sort(), iso(at)).toEqual([...ref].sort())
    }
  })

  it('the review page shows the per-regime clocks to the security team, and no such section to an executive', async () => {
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
      ],
    })
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
      await page.goto(loginLink(base, auth.tokens.security))
      const step = (incident: string, regime: string, name: string) =>
        page.locator(
          `[data-testid="regime-step"][data-incident="${incident}"][data-regime="${regime}"][data-step="${name}"]`,
        )
      const early = step('INC-NIS2-1', 'nis2', 'early_warning')
      await early.waitFor({ timeout: WAIT_MS })
      expect(await early.getAttribute('data-state')).toBe('sent_late')
      expect(await early.textContent()).toContain('Sent late')
      expect(await step('INC-DORA-1', 'dora', 'initial').textContent()).toContain('Overdue')
      expect(await step('INC-ART34-1', 'gdpr_art34', 'communication').textContent()).toContain(
        'never counted late',
      )
      expect(await page.locator('#regime-clocks-section').isVisible()).toBe(true)

      const exec = await browser.newPage({ viewport: { width: 1280, height: 900 } })
      await exec.goto(loginLink(base, auth.tokens.executive))
      await exec.locator('#scorecard-section').waitFor({ timeout: WAIT_MS })
      await exec.locator('#regime-clocks-section').waitFor({ state: 'hidden', timeout: WAIT_MS })
      expect(await exec.locator('nav.sections a[href="/#regime-clocks-section"]').isVisible()).toBe(false)
    } finally {
      await browser.close()
    }
  })

  it('a replica taking over the privacy area resolves a firing clock whose report arrived while no processor ran', async () => {
    const id = 'INC-DORA-1'
    const before = await jobsFor(DORA_INITIAL, id)
    expect(before.map((j) => j.kind)).toEqual(['firing', 'escalated'])
    await processor.stop()
    const sentAt = now
    const event = incidentEvent({
      incidentId: id,
      status: 'detected',
      time: iso(now),
      detectedAt: iso(doraDetected),
      notifiable: false,
      severity: 'high',
    })
    const reports = [{ regime: 'dora', step: 'initial', sentAt: iso(sentAt) }]
    await produce(stack.kafka, topicNames(stack.cfg).privacyIncidents, [
      { key: id, value: JSON.stringify({ ...event, data: { ...event.data, regimes: ['dora'], reports } }) },
    ])
    // Stored before the new replica starts: it learns of the report from state, not only from a trigger.
    await waitFor(
      'the report stored',
      async () => {
        const rows = await queryRows<{ n: string }>(
          stack.ch,
          "SELECT count() AS n FROM privacy_incident_events WHERE incident_id = {id:String} AND has(report_steps, 'dora/initial')",
          { id },
        )
        return Number(rows[0]?.n) > 0 ? true : undefined
      },
      WAIT_MS,
    )
    const takeover = new HttpServer(stack.health, stack.log, { auth: auth.authenticator })
    processor = await startTestProcessor(stack, {
      redis,
      http: takeover,
      clock: () => new Date(now),
      aimsConfig: config,
    })
    await processor.ready()
    const jobs = await waitForJobs('the restored DORA breach resolved', DORA_INITIAL, id, 3)
    expect(jobs[2]).toMatchObject({ kind: 'resolved', value: 0 })
    // The intermediate report's clock now runs from the initial notification.
    const page = stepsOf(await clocksOf(id), 'dora')
    expect(page.intermediate).toMatchObject({ state: 'running', dueAt: iso(sentAt + 72 * HOUR) })
  })
})
