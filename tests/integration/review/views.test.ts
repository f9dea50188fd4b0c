import { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Processor } from '../../../services/processor/processor.js'
import { ALERTS_QUEUE, type AlertJob } from '../../../shared/alerts/alert-job.js'
import { queryRows } from '../../../shared/clickhouse/client.js'
import { HttpServer } from '../../../shared/http/server.js'
import { topicNames } from '../../../shared/kafka/topics.js'
import { enabledKpis } from '../../../shared/kpi/thresholds.js'
import { createRedis } from '../../../shared/redis/client.js'
import { apiGet, rawGet as rawGetAs, testAuth } from '../../helpers/api.js'
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
import { settled } from '../../helpers/settled.js'

const HOUR = 3600_000
const DAY = 24 * HOUR

/**
 * The review page's views and static routes on real parts: events through Kafka and the collector into
 * ClickHouse, KPIs evaluated by the processor at the test's clock, the page served by the processor's
 * HTTP server. Some events are sent twice and some out of order: the views must not double count.
 */
describe('review page: views API and static routes', () => {
  let stack: TestStack
  let collector: Awaited<ReturnType<typeof startTestCollector>>
  let redis: Redis
  let http: HttpServer
  let processor: Processor
  let base: string
  const now = new Date(Math.floor(Date.now() / 1000) * 1000)
  const at = (offsetMs: number) => new Date(now.getTime() + offsetMs).toISOString()

  const auth = testAuth()
  /** As an executive (the review page's audience); the role tests live in tests/integration/http. */
  const get = (path: string) => apiGet(base, path, auth.tokens.executive)
  /** A raw request: fetch would normalise `..` segments away before they reach the server. */
  const rawGet = (path: string) => rawGetAs(base, path, auth.tokens.executive)

  beforeAll(async () => {
    stack = await openStack(testConfig())
    redis = createRedis(stack.cfg, 'worker')
    http = new HttpServer(stack.health, stack.log, { auth: auth.authenticator })
    collector = await startTestCollector(stack)
    processor = await startTestProcessor(stack, {
      redis,
      http,
      clock: () => now,
      scheduleSweep: false,
    })
    base = (await http.listen('127.0.0.1', 0)).url

    const topics = topicNames(stack.cfg)
    const fair = modelMetricsEvent({
      modelId: 'loan-approval',
      modelVersion: 'v1',
      time: at(-3 * DAY),
      accuracy: 0.92,
      groups: [
        { group: 'female', tp: 38, fp: 3, tn: 52, fn: 7 }, // selection rate 0.41
        { group: 'male', tp: 40, fp: 2, tn: 50, fn: 8 }, // 0.42
      ],
    })
    const unfair = modelMetricsEvent({
      modelId: 'loan-approval',
      modelVersion: 'v2',
      time: at(-2 * HOUR),
      accuracy: 0.83,
      groups: [
        { group: 'female', tp: 25, fp: 5, tn: 60, fn: 10 }, // 0.30
        { group: 'male', tp: 40, fp: 2, tn: 50, fn: 8 }, // 0.42
      ],
    })
    const json = (key: string, e: unknown) => ({ key, value: JSON.stringify(e) })
    await produce(stack.kafka, topics.modelMetrics, [
      json('loan-approval', fair),
      json('loan-approval', unfair),
      json('loan-approval', unfair), // a duplicate delivery
    ])

    const overdue = incidentEvent({
      incidentId: 'INC-V-OVERDUE',
      status: 'detected',
      time: at(-80 * HOUR),
      detectedAt: at(-80 * HOUR),
      notifiable: true,
      severity: 'high',
    })
    const onTimeBase = { incidentId: 'INC-V-ONTIME', detectedAt: at(-100 * HOUR), notifiable: true }
    const lateBase = { incidentId: 'INC-V-LATE', detectedAt: at(-10 * DAY), notifiable: true }
    await produce(stack.kafka, topics.privacyIncidents, [
      json('INC-V-OVERDUE', overdue),
      json('INC-V-OVERDUE', overdue), // duplicate
      // Out of order: the notification arrives before the detection event.
      json(
        'INC-V-ONTIME',
        incidentEvent({
          ...onTimeBase,
          status: 'notified',
          time: at(-80 * HOUR),
          regulatorNotifiedAt: at(-80 * HOUR),
        }),
      ),
      json('INC-V-ONTIME', incidentEvent({ ...onTimeBase, status: 'detected', time: at(-100 * HOUR) })),
      json('INC-V-LATE', incidentEvent({ ...lateBase, status: 'detected', time: at(-10 * DAY) })),
      json(
        'INC-V-LATE',
        incidentEvent({
          ...lateBase,
          status: 'notified',
          time: at(-10 * DAY + 90 * HOUR),
          regulatorNotifiedAt: at(-10 * DAY + 90 * HOUR),
        }),
      ),
      json(
        'INC-V-QUIET',
        incidentEvent({
          incidentId: 'INC-V-QUIET',
          status: 'detected',
          time: at(-5 * HOUR),
          detectedAt: at(-5 * HOUR),
          notifiable: false,
        }),
      ),
    ])

    const major = findingEvent({
      findingId: 'F-V-MAJOR',
      status: 'open',
      time: at(-20 * DAY),
      raisedAt: at(-20 * DAY),
      dueAt: at(-2 * DAY),
      kind: 'major_nc',
      standard: 'ISO27001',
      clause: 'A.8.8',
    })
    await produce(stack.kafka, topics.auditFindings, [
      json('F-V-MAJOR', major),
      json('F-V-MAJOR', major), // duplicate
      json(
        'F-V-MINOR',
        findingEvent({
          findingId: 'F-V-MINOR',
          status: 'in_progress',
          time: at(-3 * DAY),
          raisedAt: at(-5 * DAY),
          dueAt: at(20 * DAY),
          kind: 'minor_nc',
          standard: 'ISO42001',
          clause: 'A.6.2.6',
        }),
      ),
      json(
        'F-V-CLOSED',
        findingEvent({
          findingId: 'F-V-CLOSED',
          status: 'closed',
          time: at(-DAY),
          raisedAt: at(-30 * DAY),
          closedAt: at(-DAY),
          kind: 'minor_nc',
          standard: 'ISO42001',
          clause: 'A.6.2.6',
        }),
      ),
      json(
        'F-V-OBS',
        findingEvent({
          findingId: 'F-V-OBS',
          status: 'open',
          time: at(-DAY),
          raisedAt: at(-DAY),
          kind: 'observation',
          standard: 'ISO42001',
          clause: 'A.6.2.6',
        }),
      ),
    ])

    await waitFor('every event stored', async () => {
      const [m, i, f] = await Promise.all([
        count(stack.ch, 'SELECT count() AS n FROM model_metric_events'),
        count(stack.ch, 'SELECT count() AS n FROM privacy_incident_events'),
        count(stack.ch, 'SELECT count() AS n FROM audit_finding_events'),
      ])
      return m >= 2 && i >= 6 && f >= 4 ? true : undefined
    })
    await settled(stack)
    await processor.sweepNow()
  })

  afterAll(async () => {
    await processor?.stop()
    await collector?.stop()
    await http?.close()
    const alerts = redis
      ? new Queue<AlertJob>(ALERTS_QUEUE, { connection: redis.duplicate(), prefix: stack.cfg.REDIS_PREFIX })
      : undefined
    await alerts?.obliterate({ force: true }).catch(() => undefined)
    await alerts?.close()
    redis?.disconnect()
    await stack?.close()
  })

  it('scorecard: one tile per KPI with its worst status, thresholds and ISO references', async () => {
    const { status, body } = await get('/api/views/scorecard')
    expect(status).toBe(200)
    // The KPIs the processor computes: the catalog but the fairness parity set beyond its default four.
    expect(body.kpis).toHaveLength(enabledKpis(undefined).length)
    const total = Object.values(body.summary as Record<string, number>).reduce((a, b) => a + b, 0)
    expect(total).toBe(enabledKpis(undefined).length)

    const dir = body.kpis.find((k: { id: string }) => k.id === 'model.disparate_impact_ratio')
    expect(dir).toMatchObject({
      status: 'warning',
      area: 'model',
      thresholds: { op: 'lt', warning: 0.8, critical: 0.6 },
      worst: { scope: { model_id: 'loan-approval', model_version: 'v2', attribute: 'gender' } },
    })
    expect(dir.worst.value).toBeCloseTo(0.3 / 0.42, 6)
    expect(dir.counts).toMatchObject({ warning: 1, ok: 1 })
    expect(dir.iso).toEqual(
      expect.arrayContaining([
        { standard: 'ISO42001', id: 'A.5.4', title: expect.any(String) },
        { standard: 'ISO27001', id: 'A.5.34', title: 'Privacy and protection of PII' },
      ]),
    )
    // Counts split by scope carry their total; the overdue major NC is critical.
    const major = body.kpis.find((k: { id: string }) => k.id === 'audit.open_major_ncs')
    expect(major).toMatchObject({ status: 'critical', total: 1 })
    const clock = body.kpis.find((k: { id: string }) => k.id === 'privacy.notification_clock_hours')
    expect(clock.status).toBe('critical')
    expect(clock.worst.scope).toEqual({ incident_id: 'INC-V-OVERDUE' })

    const audit = await get('/api/views/scorecard?area=audit')
    expect(audit.body.kpis.every((k: { area: string }) => k.area === 'audit')).toBe(true)
  })

  it('models: accuracy vs bias per version, the four-fifths breach out of tolerance', async () => {
    const { status, body } = await get('/api/views/models')
    expect(status).toBe(200)
    expect(body.tolerance).toEqual({
      accuracy: { warning: 0.85, critical: 0.8 },
      disparateImpactRatio: { warning: 0.8, critical: 0.6 },
      disparateImpactGap: 0.2,
    })
    const model = body.models.find((m: { modelId: string }) => m.modelId === 'loan-approval')
    expect(model.latestVersion).toBe('v2')
    expect(model.versions.map((v: { modelVersion: string }) => v.modelVersion)).toEqual(['v1', 'v2'])
    const [v1, v2] = model.versions
    expect(v1).toMatchObject({ status: 'ok', outOfTolerance: false, accuracy: { value: 0.92, status: 'ok' } })
    expect(v2).toMatchObject({ outOfTolerance: true, accuracy: { value: 0.83, status: 'warning' } })
    expect(v2.disparateImpact.attribute).toBe('gender')
    expect(v2.disparateImpact.ratio).toBeCloseTo(0.3 / 0.42, 6)
    expect(v2.disparateImpact.gap).toBeCloseTo(1 - 0.3 / 0.42, 6)
    expect(v2.worstFairness).toMatchObject({ attribute: 'gender', metric: 'disparateImpactRatio' })
    expect(v2.breachedMetrics).toEqual(
      expect.arrayContaining([
        'accuracy',
        'disparateImpactRatio:gender',
        'demographicParityDifference:gender',
      ]),
    )
    // The duplicate evaluation did not double the group counts: same ratio as one event.
    expect(v2.attributes[0].demographicParityDifference.value).toBeCloseTo(0.12, 6)

    const none = await get('/api/views/models?model=no-such-model')
    expect(none.body.models).toEqual([])
  })

  it('incidents: the 72-hour rule per notifiable incident, latest state, no duplicates', async () => {
    const { status, body } = await get('/api/views/incidents')
    expect(status).toBe(200)
    expect(body).toMatchObject({ deadlineHours: 72, warningHours: 48 })
    const ids = body.incidents.map((i: { incidentId: string }) => i.incidentId)
    expect(ids).toEqual(['INC-V-LATE', 'INC-V-ONTIME', 'INC-V-OVERDUE']) // by detection time
    const byId = Object.fromEntries(body.incidents.map((i: { incidentId: string }) => [i.incidentId, i]))
    expect(byId['INC-V-OVERDUE']).toMatchObject({
      state: 'overdue',
      level: 'critical',
      notifiedAt: null,
      hoursToNotify: null,
      hoursOpen: 80,
      severity: 'high',
    })
    expect(byId['INC-V-ONTIME']).toMatchObject({
      state: 'notified_on_time',
      level: 'ok',
      status: 'notified',
      hoursToNotify: 20,
      hoursOpen: null,
    })
    expect(byId['INC-V-LATE']).toMatchObject({ state: 'notified_late', hoursToNotify: 90 })
    expect(body.summary).toEqual({ total: 3, notifiedOnTime: 1, notifiedLate: 1, running: 0, overdue: 1 })

    // A window of 5 days drops the late one (notified, detected 10 days ago); clocks always show.
    const recent = await get('/api/views/incidents?days=5')
    expect(recent.body.incidents.map((i: { incidentId: string }) => i.incidentId)).toEqual([
      'INC-V-ONTIME',
      'INC-V-OVERDUE',
    ])
  })

  it('nonconformities: open NCs by standard, clause and kind', async () => {
    const { status, body } = await get('/api/views/nonconformities')
    expect(status).toBe(200)
    expect(body.groups).toEqual([
      expect.objectContaining({
        standard: 'ISO27001',
        standardTitle: 'ISO/IEC 27001:2022',
        clause: 'A.8.8',
        clauseTitle: 'Management of technical vulnerabilities',
        kind: 'major_nc',
        open: 1,
        overdue: 1,
      }),
      expect.objectContaining({
        standard: 'ISO42001',
        clause: 'A.6.2.6',
        kind: 'minor_nc',
        open: 1,
        overdue: 0,
      }),
    ])
    expect(body.groups[0].findings).toEqual([
      expect.objectContaining({ findingId: 'F-V-MAJOR', overdue: true, status: 'open' }),
    ])
    expect(body.totals).toEqual({
      ISO27001: { major: 1, minor: 0, overdue: 1 },
      ISO42001: { major: 0, minor: 1, overdue: 0 },
    })
    const only = await get('/api/views/nonconformities?standard=ISO42001&kind=minor_nc')
    expect(only.body.groups.map((g: { clause: string }) => g.clause)).toEqual(['A.6.2.6'])
  })

  it('alert deliveries: summarised per open breach from the delivery log', async () => {
    const [t] = await queryRows<{ transition_id: string; breach_id: string; fingerprint: string }>(
      stack.ch,
      `SELECT transition_id, breach_id, fingerprint FROM breach_transitions
       WHERE kpi_id = 'model.disparate_impact_ratio' LIMIT 1`,
    )
    expect(t).toBeDefined()
    const row = (attempt: number, outcome: string, reason: string, offsetMs: number) => ({
      attempted_at: new Date(now.getTime() + offsetMs).toISOString().replace('T', ' ').replace('Z', ''),
      job_id: t!.transition_id,
      transition_id: t!.transition_id,
      fingerprint: t!.fingerprint,
      kpi_id: 'model.disparate_impact_ratio',
      transition: 'firing',
      sink: 'webhook',
      attempt,
      outcome,
      status_code: outcome === 'ok' ? 200 : 503,
      reason,
      latency_ms: 12,
    })
    const first = row(1, 'retryable', 'http_503', 1000)
    await stack.ch.client.insert({
      table: 'alert_deliveries',
      values: [first, first, row(2, 'ok', '', 2000)], // the first attempt logged twice
      format: 'JSONEachRow',
    })
    const { status, body } = await get('/api/views/alert-deliveries')
    expect(status).toBe(200)
    const mine = body.breaches.find((b: { breachId: string }) => b.breachId === t!.breach_id)
    expect(mine).toMatchObject({
      delivered: 1,
      failedAttempts: 1,
      lastFailure: 'http_503',
      lastOutcome: 'ok',
      deliveredTo: ['webhook'],
    })
  })

  it('rejects bad query parameters with 400 and the reason', async () => {
    for (const path of [
      '/api/views/incidents?days=0',
      '/api/views/incidents?days=abc',
      '/api/views/incidents?limit=100000',
      '/api/views/incidents?since=2026-01-01',
      '/api/views/nonconformities?standard=ISO9001',
      '/api/views/nonconformities?kind=observation',
      '/api/views/scorecard?area=finance',
      '/api/views/models?model=bad%20id',
      '/api/views/alert-deliveries?state=resolved',
    ]) {
      const res = await get(path)
      expect(res.status, path).toBe(400)
      expect(res.body.error, path).toBe('bad request')
      expect(res.body.reasons.length, path).toBeGreaterThan(0)
    }
    const unknown = await get('/api/views/scorecard?colour=red')
    expect(unknown.body.reasons).toEqual(['unknown query parameter(s): colour'])
  })

  it('serves the page, its assets and Chart.js, and nothing else from the file system', async () => {
    const page = await get('/')
    expect(page.status).toBe(200)
    expect(page.type).toBe('text/html; charset=utf-8')
    expect(page.body).toContain('data-testid="scorecard"')
    expect(page.body).toContain('/assets/chart.umd.js')
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(page.headers.get('x-content-type-options')).toBe('nosniff')

    const breachPage = await get('/review/breaches/0123abcd-1700000000000')
    expect(breachPage.status).toBe(200)
    expect(breachPage.body).toBe(page.body)

    const css = await get('/assets/page.css')
    expect([css.status, css.type]).toEqual([200, 'text/css; charset=utf-8'])
    const js = await get('/assets/page.js')
    expect([js.status, js.type]).toEqual([200, 'text/javascript; charset=utf-8'])
    const chart = await get('/assets/chart.umd.js')
    expect([chart.status, chart.type]).toEqual([200, 'text/javascript; charset=utf-8'])
    expect(chart.body).toContain('Chart.js v4')
    expect(chart.headers.get('cache-control')).toContain('max-age')

    for (const path of [
      '/assets/mount.ts',
      '/assets/page.html',
      '/assets/..%2Fviews.ts',
      '/assets/..%2F..%2F..%2F..%2Fpackage.json',
      '/assets/%2e%2e%2f%2e%2e%2fprocessor.ts',
      '/assets/../../package.json',
      '/assets/..\\..\\package.json',
      '/assets/',
      '/assets/constructor',
      '/assets/__proto__',
    ]) {
      const res = await rawGet(path)
      expect(res.status, path).toBe(404)
      expect(res.body, path).not.toContain('aims-kpi-pipeline')
      expect(res.body, path).not.toContain('import ')
    }
  })

  it('documents the views in the OpenAPI document', async () => {
    const { body } = await get('/api/openapi.json')
    for (const path of [
      '/api/views/scorecard',
      '/api/views/models',
      '/api/views/incidents',
      '/api/views/nonconformities',
      '/api/views/alert-deliveries',
    ]) {
      expect(body.paths[path]?.get, path).toBeDefined()
    }
    const params = body.paths['/api/views/incidents'].get.parameters.map((p: { name: string }) => p.name)
    expect(params).toEqual(['days', 'limit'])
  })
})
