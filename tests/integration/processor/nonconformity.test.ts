import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BreachStore } from '../../../services/processor/breach-store.js'
import { buildNonconformityEvent, findingIdOf } from '../../../services/processor/nonconformity/finding.js'
import { NonconformityOpener } from '../../../services/processor/nonconformity/opener.js'
import { NonconformitySchedule } from '../../../services/processor/nonconformity/schedule.js'
import { type Processor, TICK_MS } from '../../../services/processor/processor.js'
import { queryRows } from '../../../shared/clickhouse/client.js'
import { HttpServer } from '../../../shared/http/server.js'
import { topicNames } from '../../../shared/kafka/topics.js'
import { KPIS } from '../../../shared/kpi/catalog.js'
import { resolveNonconformity } from '../../../shared/kpi/nonconformity.js'
import { enabledKpis, parseAimsConfig } from '../../../shared/kpi/thresholds.js'
import { createRedis } from '../../../shared/redis/client.js'
import { apiGet, bearer, type Json, testAuth } from '../../helpers/api.js'
import { incidentEvent } from '../../helpers/events.js'
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

const HOUR = 3_600_000
/** The clock is moved this far past a timer and held there (see deadlines.test.ts). */
const HOLD_MS = 500
/** Generous bound for a loaded 2-core machine; normally a tick or two. */
const WAIT_MS = 60_000 + 100 * TICK_MS
const KPI = 'privacy.incidents_opened'

/**
 * Breach → nonconformity, end to end with real Kafka, ClickHouse and Redis and a controlled clock: a
 * critical breach held for `after` opens one audit finding on aims.audit-findings.v1 that the collector
 * stores and the NC KPIs count, with two processor replicas ticking the same timers; the next episode of the same KPI and scope is a repeat of it; a request
 * opens one at once, and its timer then adds nothing.
 */
describe('a breach critical past the configured time opens a nonconformity (two replicas)', () => {
  const auth = testAuth()
  const aimsConfig = parseAimsConfig({ nonconformity: { after: '4h', dueInDays: 14 } })
  let stack: TestStack
  let collector: Awaited<ReturnType<typeof startTestCollector>>
  let redis: Redis
  let http: HttpServer
  let processor: Processor
  /** A second replica: same consumer group, Redis and clock; it takes its share of timers and triggers. */
  let replica: Processor
  let replicaHttp: HttpServer
  let replicaRedis: Redis
  let base: string
  let now = Date.now()

  beforeAll(async () => {
    stack = await openStack(testConfig({ SWEEP_INTERVAL_MS: '3600000' }))
    redis = createRedis(stack.cfg, 'worker')
    http = new HttpServer(stack.health, stack.log, { auth: auth.authenticator })
    collector = await startTestCollector(stack)
    processor = await startTestProcessor(stack, { redis, http, aimsConfig, clock: () => new Date(now) })
    base = (await http.listen('127.0.0.1', 0)).url
    replicaHttp = new HttpServer(stack.health, stack.log, { auth: auth.authenticator })
    replicaRedis = redis.duplicate()
    replica = await startTestProcessor(stack, {
      redis: replicaRedis,
      http: replicaHttp,
      aimsConfig,
      clock: () => new Date(now),
    })
    await processor.ready()
    await replica.ready()
  })
  afterAll(async () => {
    await replica?.stop()
    replicaRedis?.disconnect()
    await processor?.stop()
    await replicaHttp?.close()
    await http?.close()
    await collector?.stop()
    if (redis) {
      const keys = await redis.keys(`${stack.cfg.REDIS_PREFIX}:*`)
      if (keys.length > 0) await redis.del(...keys)
      redis.disconnect()
    }
    await stack?.close()
  })

  const incident = (id: string, severity: 'critical' | 'high', detected: number, at: number) =>
    produce(stack.kafka, topicNames(stack.cfg).privacyIncidents, [
      {
        key: id,
        value: JSON.stringify(
          incidentEvent({
            incidentId: id,
            status: 'detected',
            severity,
            time: new Date(at).toISOString(),
            detectedAt: new Date(detected).toISOString(),
            notifiable: false,
          }),
        ),
      },
    ])

  /** The open breach episode of incidents_opened{severity=critical} started at `startedAt`. */
  const breachAt = (startedAt: number) =>
    waitFor(
      `the critical breach started at ${new Date(startedAt).toISOString()}`,
      async () => {
        const [row] = await queryRows<{ breach_id: string }>(
          stack.ch,
          `SELECT DISTINCT breach_id FROM breach_transitions
           WHERE kpi_id = {kpi:String} AND transition = 'firing' AND severity = 'critical'
             AND started_at = fromUnixTimestamp64Milli({at:Int64})`,
          { kpi: KPI, at: startedAt },
        )
        return row?.breach_id
      },
      WAIT_MS,
    )

  const resolvedBreach = (breachId: string) =>
    waitFor(
      `breach ${breachId} resolved`,
      async () =>
        (await count(
          stack.ch,
          `SELECT count() AS n FROM breach_transitions WHERE breach_id = {id:String} AND transition = 'resolved'`,
          { id: breachId },
        )) > 0
          ? true
          : undefined,
      WAIT_MS,
    )

  interface FindingRow {
    event_id: string
    source: string
    standard: string
    clause: string
    kind: string
    status: string
    raised_at: string
    due_at: string
    repeat_of: string
  }
  /** Every stored row of the finding (duplicates included: ReplacingMergeTree may not have merged). */
  const findingRows = (findingId: string) =>
    queryRows<FindingRow>(
      stack.ch,
      `SELECT event_id, source, standard, clause, kind, status, toString(raised_at) AS raised_at,
              toString(due_at) AS due_at, repeat_of
       FROM audit_finding_events WHERE finding_id = {id:String}`,
      { id: findingId },
    )
  const storedFinding = (findingId: string) =>
    waitFor(
      `finding ${findingId} stored by the collector`,
      async () => {
        const rows = await findingRows(findingId)
        return rows.length > 0 ? rows : undefined
      },
      WAIT_MS,
    )

  /** The latest value of an NC KPI for ISO 27001 A.5.24 (where incident KPIs file their findings). */
  const ncKpi = async (kpiId: string) => {
    const [row] = await queryRows<{ value: number | null }>(
      stack.ch,
      `SELECT value FROM kpi_values
       WHERE kpi_id = {kpi:String} AND scope['standard'] = 'ISO27001' AND scope['clause'] = 'A.5.24'
       ORDER BY evaluated_at DESC LIMIT 1`,
      { kpi: kpiId },
    )
    return row?.value ?? null
  }
  const ncKpiReaches = (kpiId: string, value: number) =>
    waitFor(`${kpiId} = ${value}`, async () => ((await ncKpi(kpiId)) === value ? true : undefined), WAIT_MS)

  const post = async (breachId: string, token: string, body: unknown = {}) => {
    const res = await fetch(`${base}/api/breaches/${encodeURIComponent(breachId)}/nonconformity`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(token) },
      body: JSON.stringify(body),
    })
    return { status: res.status, body: (await res.json()) as Json }
  }

  let firstFinding = ''
  let firstBreach = ''

  it('opens one nonconformity when the breach has been critical for 4 h, counted by the NC KPIs', async () => {
    const t0 = now
    await incident('INC-NC-1', 'critical', t0 - HOUR, t0)
    await settled(stack)
    firstBreach = await breachAt(t0)
    firstFinding = findingIdOf(firstBreach)

    // Just before the 4 hours: nothing.
    now = t0 + 4 * HOUR - 60_000
    await Promise.all([processor.sweepNow(), replica.sweepNow()])
    expect(await findingRows(firstFinding)).toEqual([])

    now = t0 + 4 * HOUR + HOLD_MS // and held there
    const [row] = await storedFinding(firstFinding)
    expect(row).toMatchObject({
      source: `/api/breaches/${firstBreach}`,
      standard: 'ISO27001',
      clause: 'A.5.24',
      kind: 'minor_nc',
      status: 'open',
      repeat_of: '',
    })
    // Raised when the breach had been critical for exactly `after`; due 14 days later.
    expect(row!.raised_at).toBe(new Date(t0 + 4 * HOUR).toISOString().replace('T', ' ').replace('Z', ''))
    expect(row!.due_at).toBe(
      new Date(t0 + 4 * HOUR + 14 * 24 * HOUR).toISOString().replace('T', ' ').replace('Z', ''),
    )
    await ncKpiReaches('audit.open_minor_ncs', 1)

    // The breach record links to its finding.
    const breach = await apiGet(base, `/api/breaches/${firstBreach}`, auth.tokens.auditor)
    expect(breach.status).toBe(200)
    expect(breach.body.nonconformity).toMatchObject({
      findingId: firstFinding,
      repeatOf: null,
      openedBy: 'timer',
      standard: 'ISO27001',
      clause: 'A.5.24',
    })
    expect(breach.body.nonconformity.references).toEqual(
      expect.arrayContaining([
        'ISO27001:9.1',
        'ISO27001:10.2',
        'ISO42001:9.1',
        'ISO42001:10.2',
        'ISO27001:A.5.24',
      ]),
    )
  })

  it('sends it once: more ticks, a restarted opener (another replica) and a request add no event', async () => {
    const otherRedis = redis.duplicate()
    const other = await NonconformityOpener.start({
      cfg: stack.cfg,
      ch: stack.ch,
      redis: otherRedis,
      kafka: stack.kafka,
      store: new BreachStore(otherRedis, stack.cfg.REDIS_PREFIX),
      kpis: enabledKpis(aimsConfig),
      config: aimsConfig,
      clock: () => new Date(now),
      log: stack.log,
    })
    try {
      expect(await other.tick()).toBe(0)
      await Promise.all([processor.sweepNow(), replica.sweepNow()])
    } finally {
      await other.stop()
      otherRedis.disconnect()
    }
    const again = await post(firstBreach, auth.tokens.security)
    expect(again.status).toBe(200)
    expect(again.body).toMatchObject({ created: false, nonconformity: { findingId: firstFinding } })
    await settled(stack)
    expect(await findingRows(firstFinding)).toHaveLength(1)
    expect(
      await count(stack.ch, `SELECT count() AS n FROM breach_nonconformities WHERE breach_id = {id:String}`, {
        id: firstBreach,
      }),
    ).toBeGreaterThanOrEqual(1)
  })

  it('marks the next breach episode of the same KPI and scope as a repeat of the first finding', async () => {
    // The first episode ends: its incident is no longer critical.
    await incident('INC-NC-1', 'high', now - 5 * HOUR, now)
    await settled(stack)
    await resolvedBreach(firstBreach)

    const t1 = now
    await incident('INC-NC-2', 'critical', t1 - HOUR, t1)
    await settled(stack)
    const secondBreach = await breachAt(t1)
    expect(secondBreach).not.toBe(firstBreach)

    now = t1 + 4 * HOUR + HOLD_MS
    const rows = await storedFinding(findingIdOf(secondBreach))
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({ repeat_of: firstFinding, clause: 'A.5.24' })
    await ncKpiReaches('audit.repeat_findings', 1)
    await ncKpiReaches('audit.open_minor_ncs', 2)

    const breach = await apiGet(base, `/api/breaches/${secondBreach}`, auth.tokens.executive)
    expect(breach.body.nonconformity).toMatchObject({
      findingId: findingIdOf(secondBreach),
      repeatOf: firstFinding,
    })

    await incident('INC-NC-2', 'high', t1 - HOUR, now)
    await settled(stack)
    await resolvedBreach(secondBreach)
  })

  it('opens one on request at once (roles checked); its timer then adds nothing', async () => {
    const t2 = now
    await incident('INC-NC-3', 'critical', t2 - HOUR, t2)
    await settled(stack)
    const third = await breachAt(t2)

    // Documented in the OpenAPI document with the roles it accepts.
    const doc = await apiGet(base, '/api/openapi.json', auth.tokens.auditor)
    expect(doc.status).toBe(200)
    expect(Object.keys(doc.body.paths['/api/breaches/{id}/nonconformity'])).toEqual(['post'])

    expect((await post('no-such-breach', auth.tokens.admin)).status).toBe(404)
    expect((await post(third, auth.tokens.ml)).status).toBe(403)
    expect((await post(third, auth.tokens.executive)).status).toBe(403)
    const bad = await post(third, auth.tokens.auditor, { reason: 'line\nbreak' })
    expect(bad.status).toBe(400)
    expect(JSON.stringify(bad.body)).toMatch(/reason/)
    expect((await post(third, auth.tokens.auditor, { reason: 'ok', extra: 1 })).status).toBe(400)

    const opened = await post(third, auth.tokens.security, {
      reason: 'customer data exposed twice this month',
    })
    expect(opened.status).toBe(201)
    expect(opened.body).toMatchObject({
      breachId: third,
      created: true,
      nonconformity: { findingId: findingIdOf(third), openedBy: 'request', requestedBy: 'test-security' },
    })
    // The latest earlier finding of the series: the second episode's.
    expect(opened.body.nonconformity.repeatOf).toMatch(/^NC-/)
    expect(opened.body.nonconformity.repeatOf).not.toBe(firstFinding)
    await storedFinding(findingIdOf(third))

    now = t2 + 4 * HOUR + HOLD_MS
    await Promise.all([processor.sweepNow(), replica.sweepNow()])
    await Promise.all([processor.sweepNow(), replica.sweepNow()])
    await settled(stack)
    expect(await findingRows(findingIdOf(third))).toHaveLength(1)
    await ncKpiReaches('audit.repeat_findings', 2)
  })

  it('counts the time from the escalation to critical, not from the warning', async () => {
    // A notifiable incident's 72-hour clock: warning at 48 h, escalated to critical at 72 h.
    const detected = now - 47 * HOUR
    await produce(stack.kafka, topicNames(stack.cfg).privacyIncidents, [
      {
        key: 'INC-NC-CLOCK',
        value: JSON.stringify(
          incidentEvent({
            incidentId: 'INC-NC-CLOCK',
            status: 'detected',
            time: new Date(detected).toISOString(),
            detectedAt: new Date(detected).toISOString(),
            notifiable: true,
          }),
        ),
      },
    ])
    await settled(stack)
    const clockBreach = async (transition: string) =>
      waitFor(
        `the clock breach ${transition}`,
        async () => {
          const [row] = await queryRows<{ breach_id: string }>(
            stack.ch,
            `SELECT DISTINCT breach_id FROM breach_transitions
             WHERE kpi_id = 'privacy.notification_clock_hours' AND scope['incident_id'] = 'INC-NC-CLOCK'
               AND transition = {t:String}`,
            { t: transition },
          )
          return row?.breach_id
        },
        WAIT_MS,
      )
    now = detected + 48 * HOUR + HOLD_MS
    const breach = await clockBreach('firing')
    now = detected + 72 * HOUR + HOLD_MS
    expect(await clockBreach('escalated')).toBe(breach)

    // 4 h after the warning has long passed; 4 h after the escalation has not.
    now = detected + 76 * HOUR - 60_000
    await Promise.all([processor.sweepNow(), replica.sweepNow()])
    expect(await findingRows(findingIdOf(breach))).toEqual([])

    now = detected + 76 * HOUR + HOLD_MS
    const [row] = await storedFinding(findingIdOf(breach))
    expect(row!.raised_at).toBe(
      new Date(detected + 76 * HOUR).toISOString().replace('T', ' ').replace('Z', ''),
    )
    const detail = await apiGet(base, `/api/breaches/${breach}`, auth.tokens.security)
    expect(detail.body.nonconformity).toMatchObject({
      findingId: findingIdOf(breach),
      criticalSince: new Date(detected + 72 * HOUR).toISOString(),
    })
  })

  it('sends a finding claimed by a replica that stopped before sending it', async () => {
    const kpi = KPIS.find((k) => k.id === KPI)!
    const fp = 'c0ffee00c0ffee00c0ffee00c0ffee00'
    const episode = {
      breachId: `${fp}-${now - HOUR}`,
      fingerprint: fp,
      kpiId: KPI,
      scope: { severity: 'critical' },
      startedAt: now - HOUR,
      criticalSince: now - HOUR,
    }
    const event = buildNonconformityEvent(kpi, episode, resolveNonconformity(kpi, aimsConfig.nonconformity), {
      raisedAt: now,
      openedBy: 'timer',
    })
    // What a replica leaves when it stops between the claim and the send: a claim and a taken timer.
    const schedule = new NonconformitySchedule(redis, stack.cfg.REDIS_PREFIX)
    await schedule.schedule(episode, now)
    await schedule.claim(episode.breachId, {
      event: JSON.stringify(event),
      openedBy: 'timer',
      requestedBy: '',
      criticalSince: episode.criticalSince,
    })
    const rows = await storedFinding(findingIdOf(episode.breachId))
    expect(rows).toHaveLength(1)
    expect(rows[0]!.event_id).toBe(event.id)
    await waitFor(
      'the link row',
      async () =>
        (await count(
          stack.ch,
          'SELECT count() AS n FROM breach_nonconformities WHERE breach_id = {id:String}',
          {
            id: episode.breachId,
          },
        )) > 0
          ? true
          : undefined,
      WAIT_MS,
    )
  })
})
