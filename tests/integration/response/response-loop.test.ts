import type { Redis } from 'ioredis'
import { chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Alerter, startAlerter } from '../../../services/alerter/alerter.js'
import type { PagerdutyEvent } from '../../../services/alerter/sinks/pagerduty/sender.js'
import type { Processor } from '../../../services/processor/processor.js'
import { restoreResponseState } from '../../../services/processor/response/restore.js'
import { type AlertQueue, createAlertQueue } from '../../../shared/alerts/queue.js'
import { ResponseState } from '../../../shared/alerts/response.js'
import { queryRows } from '../../../shared/clickhouse/client.js'
import { HttpServer } from '../../../shared/http/server.js'
import { topicNames } from '../../../shared/kafka/topics.js'
import { type AimsConfig, parseAimsConfig } from '../../../shared/kpi/thresholds.js'
import { createRedis } from '../../../shared/redis/client.js'
import { type RunningAlertmanager, startAlertmanager } from '../../helpers/alertmanager.js'
import { bearer, type Json, testAuth } from '../../helpers/api.js'
import { modelMetricsEvent } from '../../helpers/events.js'
import { HttpReceiver } from '../../helpers/http-receiver.js'
import { testConfig, waitFor } from '../../helpers/infra.js'
import {
  openStack,
  produce,
  startTestCollector,
  startTestProcessor,
  type TestStack,
} from '../../helpers/pipeline.js'
import { dropPrefix, fastOptions } from '../alerter/harness.js'

/**
 * The response loop end to end on real parts: model metrics through Kafka and the collector, the
 * breach evaluated over ClickHouse, alert jobs and the response state in Redis, two alerter replicas
 * delivering to a PagerDuty stand-in (three services: on-call, the security lead, the CISO, told apart
 * by routing key). The clock is the test's: processor, API and alerters read it; the response loop
 * runs when the test calls `tick()` on both replicas at once.
 */

const MIN = 60_000
const KEYS = { oncall: 'pd-oncall-key-0001', lead: 'pd-lead-key-0002', ciso: 'pd-ciso-key-0003' }

describe('response loop: acknowledge, escalate, silence', { timeout: 180_000 }, () => {
  const auth = testAuth()
  let stack: TestStack
  let redis: Redis
  let http: HttpServer
  let base: string
  let collector: Awaited<ReturnType<typeof startTestCollector>>
  let processor: Processor
  let alerters: Alerter[] = []
  let queue: AlertQueue
  let pd: HttpReceiver
  let am: RunningAlertmanager
  let aimsConfig: AimsConfig
  let now = new Date()
  const clock = () => now
  /** Breaches the earlier cases leave behind, for the page. */
  const seen: Record<string, { breachId: string; fingerprint: string }> = {}

  beforeAll(async () => {
    pd = await HttpReceiver.start(() => ({ status: 202, body: '{"status":"success"}' }))
    am = await startAlertmanager({ webhookUrl: `${pd.url}/alertmanager-notifications` })
    const sink = (key: string) => ({ type: 'pagerduty', routingKey: key, url: `${pd.url}/v2/enqueue` })
    aimsConfig = parseAimsConfig({
      alerting: {
        sinks: {
          oncall: sink(KEYS.oncall),
          lead: sink(KEYS.lead),
          ciso: sink(KEYS.ciso),
          am: { type: 'alertmanager', url: am.url },
        },
        routes: [{ match: { kpi: ['model.accuracy'] }, sinks: ['oncall', 'am'] }],
        escalation: [
          {
            name: 'critical-unacknowledged',
            match: { severity: ['critical'] },
            steps: [
              { after: '10m', sinks: ['lead'] },
              { after: '20m', sinks: ['ciso'] },
            ],
          },
        ],
      },
    })
    stack = await openStack(testConfig())
    redis = createRedis(stack.cfg, 'worker')
    http = new HttpServer(stack.health, stack.log, { auth: auth.authenticator })
    collector = await startTestCollector(stack)
    processor = await startTestProcessor(stack, { redis, http, clock, scheduleSweep: false, aimsConfig })
    base = (await http.listen('127.0.0.1', 0)).url
    for (let i = 0; i < 2; i++) {
      alerters.push(
        await startAlerter({
          cfg: stack.cfg,
          log: stack.log,
          alerting: aimsConfig.alerting,
          clickhouse: stack.ch,
          options: { ...fastOptions, responseTickMs: 0 },
          clock,
        }),
      )
    }
    queue = createAlertQueue(stack.cfg, redis)
  }, 120_000)

  afterAll(async () => {
    await Promise.all(alerters.map((a) => a.close()))
    alerters = []
    await queue?.close()
    await processor?.stop()
    await collector?.stop()
    await http?.close()
    redis?.disconnect()
    await stack?.close()
    await pd?.stop()
    await am?.stop()
    if (stack) await dropPrefix(stack.cfg.REDIS_PREFIX)
  }, 60_000)

  /** PagerDuty events received for one service (routing key) and breach (dedup_key). */
  const events = (key: string, fingerprint: string) =>
    pd.requests
      .map((r) => JSON.parse(r.body) as PagerdutyEvent)
      .filter((e) => e.routing_key === key && e.dedup_key === fingerprint)

  /** The alerts Alertmanager holds for one breach (its `fingerprint` label). */
  const amAlerts = async (fingerprint: string): Promise<Json[]> => {
    const res = await fetch(
      `${am.url}/api/v2/alerts?filter=${encodeURIComponent(`fingerprint="${fingerprint}"`)}`,
    )
    return (await res.json()) as Json[]
  }

  /** Every replica's response loop at the same moment, as two alerter processes would run it. */
  const tickAll = async () => {
    const results = await Promise.all(alerters.map((a) => a.response.tick()))
    return {
      escalations: results.reduce((n, r) => n + r.escalations, 0),
      releases: results.reduce((n, r) => n + r.releases, 0),
    }
  }

  /** Until nothing is waiting, active or delayed: what was enqueued has been delivered. */
  const drained = () =>
    waitFor('the alerts queue to drain', async () => {
      const c = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed')
      return Object.values(c).every((n) => n === 0) ? true : undefined
    })

  const post = async (
    path: string,
    token: string,
    body?: unknown,
  ): Promise<{ status: number; body: Json }> => {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { ...bearer(token), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    return { status: res.status, body: await res.json() }
  }
  const get = async (path: string, token: string): Promise<{ status: number; body: Json }> => {
    const res = await fetch(`${base}${path}`, { headers: bearer(token) })
    return { status: res.status, body: await res.json() }
  }

  /** A production model whose accuracy is below the critical floor (0.8): one critical breach. */
  async function failingModel(modelId: string): Promise<{ breachId: string; fingerprint: string }> {
    await evaluation(modelId, 0.5)
    return waitFor(`the accuracy breach of ${modelId}`, async () => {
      const [row] = await queryRows<{ breach_id: string; fingerprint: string }>(
        stack.ch,
        `SELECT breach_id, fingerprint FROM breach_transitions
         WHERE kpi_id = 'model.accuracy' AND scope['model_id'] = {m:String} AND transition = 'firing'`,
        { m: modelId },
      )
      return row ? { breachId: row.breach_id, fingerprint: row.fingerprint } : undefined
    })
  }

  /** The model evaluated again, healthy: its breach resolves. */
  async function recoveredModel(breachId: string, modelId: string): Promise<void> {
    await evaluation(modelId, 0.95)
    await waitFor(`the accuracy breach of ${modelId} to resolve`, async () => {
      const [row] = await queryRows<{ n: string }>(
        stack.ch,
        "SELECT count() AS n FROM breach_transitions WHERE breach_id = {b:String} AND transition = 'resolved'",
        { b: breachId },
      )
      return Number(row?.n) > 0 ? true : undefined
    })
  }

  async function evaluation(modelId: string, accuracy: number): Promise<void> {
    const event = modelMetricsEvent({
      modelId,
      modelVersion: '1.0',
      // A healthy evaluation is later than the failing one before it (the latest counts).
      time: new Date(now.getTime() - (accuracy < 0.8 ? 30 : 20) * MIN).toISOString(),
      accuracy,
      groups: [
        { group: 'a', tp: 40, fp: 10, tn: 40, fn: 10 },
        { group: 'b', tp: 40, fp: 10, tn: 40, fn: 10 },
      ],
    })
    await produce(stack.kafka, topicNames(stack.cfg).modelMetrics, [
      { key: modelId, value: JSON.stringify(event) },
    ])
  }

  it('an unacknowledged critical breach escalates to the next route after the configured time, exactly once', async () => {
    now = new Date()
    const t0 = now.getTime()
    const b = await failingModel('esc-model')
    seen.escalated = b
    await pd.waitFor('the on-call page', () => events(KEYS.oncall, b.fingerprint).length > 0)
    expect(events(KEYS.oncall, b.fingerprint)[0]).toMatchObject({ event_action: 'trigger' })

    now = new Date(t0 + 10 * MIN - 1)
    expect(await tickAll()).toEqual({ escalations: 0, releases: 0 })

    now = new Date(t0 + 10 * MIN)
    expect((await tickAll()).escalations).toBe(1)
    await pd.waitFor('the security lead page', () => events(KEYS.lead, b.fingerprint).length > 0)
    for (let i = 0; i < 3; i++) expect((await tickAll()).escalations).toBe(0)
    await drained()
    const lead = events(KEYS.lead, b.fingerprint)
    expect(lead).toHaveLength(1)
    expect(lead[0]).toMatchObject({ event_action: 'trigger', payload: { severity: 'critical' } })
    expect(lead[0]!.payload!.summary).toMatch(/^\[ESCALATION step 1\/2 critical, not acknowledged\] /)
    expect(events(KEYS.ciso, b.fingerprint)).toHaveLength(0)

    // A replica restarts between the steps: the schedule is in Redis, not in the process.
    await alerters[1]!.close()
    alerters[1] = await startAlerter({
      cfg: stack.cfg,
      log: stack.log,
      alerting: aimsConfig.alerting,
      clickhouse: stack.ch,
      options: { ...fastOptions, responseTickMs: 0 },
      clock,
    })
    // The second step counts from the first: 10 + 20 minutes.
    now = new Date(t0 + 30 * MIN)
    expect((await tickAll()).escalations).toBe(1)
    await pd.waitFor('the CISO page', () => events(KEYS.ciso, b.fingerprint).length > 0)
    await drained()
    expect(events(KEYS.ciso, b.fingerprint)).toHaveLength(1)
    expect(events(KEYS.lead, b.fingerprint)).toHaveLength(1)

    const actions = await get(`/api/breaches/${b.breachId}/actions`, auth.tokens.auditor)
    expect(actions.status).toBe(200)
    expect(actions.body.response.escalation).toMatchObject({
      policy: 'critical-unacknowledged',
      stepsDone: 2,
      steps: 2,
      nextAt: null,
    })
  })

  it('an acknowledgement before the time stops the escalation and reaches PagerDuty as acknowledge', async () => {
    const t0 = now.getTime()
    const b = await failingModel('ack-model')
    seen.acknowledged = b
    await pd.waitFor('the on-call page', () => events(KEYS.oncall, b.fingerprint).length > 0)

    // Roles: executives and auditors read, security acts on the privacy area only, the ML team on
    // models, admins on every area.
    now = new Date(t0 + 5 * MIN)
    expect((await post(`/api/breaches/${b.breachId}/ack`, auth.tokens.executive, {})).status).toBe(403)
    expect((await post(`/api/breaches/${b.breachId}/ack`, auth.tokens.auditor, {})).status).toBe(403)
    expect((await post(`/api/breaches/${b.breachId}/ack`, auth.tokens.security, {})).status).toBe(403)
    const bad = await post(`/api/breaches/${b.breachId}/ack`, auth.tokens.admin, { comment: 'a\u0007b' })
    expect(bad.status).toBe(400)
    expect(bad.body.reasons[0]).toMatch(/^comment: must not contain control characters/)
    const ack = await post(`/api/breaches/${b.breachId}/ack`, auth.tokens.admin, {
      comment: 'looking at the drift',
    })
    expect(ack.status).toBe(200)
    expect(ack.body.response.acknowledged).toEqual({
      by: 'test-admin',
      at: new Date(t0 + 5 * MIN).toISOString(),
      comment: 'looking at the drift',
    })
    const again = await post(`/api/breaches/${b.breachId}/ack`, auth.tokens.admin)
    expect(again.body).toEqual({ error: 'already acknowledged by test-admin' })
    expect(again.status).toBe(409)

    await pd.waitFor('the acknowledgement', () =>
      events(KEYS.oncall, b.fingerprint).some((e) => e.event_action === 'acknowledge'),
    )
    expect(events(KEYS.oncall, b.fingerprint).map((e) => e.event_action)).toEqual(['trigger', 'acknowledge'])
    // Alertmanager has no acknowledgement: it holds the alert again, annotated with who has it.
    await waitFor('the acknowledgement in Alertmanager', async () => {
      const [alert] = await amAlerts(b.fingerprint)
      return alert?.annotations?.acknowledged_by === 'test-admin' ? true : undefined
    })

    now = new Date(t0 + 11 * MIN)
    expect((await tickAll()).escalations).toBe(0)
    now = new Date(t0 + 40 * MIN)
    expect((await tickAll()).escalations).toBe(0)
    await drained()
    expect(events(KEYS.lead, b.fingerprint)).toHaveLength(0)
    expect(events(KEYS.ciso, b.fingerprint)).toHaveLength(0)

    now = new Date(t0 + 41 * MIN)
    const assigned = await post(`/api/breaches/${b.breachId}/assign`, auth.tokens.admin, {
      owner: 'ml-oncall',
    })
    expect(assigned.status).toBe(200)
    expect(
      (
        await post(`/api/breaches/${b.breachId}/comment`, auth.tokens.ml, {
          comment: 'retraining\nETA 2h',
        })
      ).status,
    ).toBe(200)
    const read = await get(`/api/breaches/${b.breachId}/actions`, auth.tokens.executive)
    expect(read.status).toBe(200)
    expect(read.body.actions.map((a: Json) => [a.action, a.actor, a.owner, a.comment])).toEqual([
      ['ack', 'test-admin', null, 'looking at the drift'],
      ['assign', 'test-admin', 'ml-oncall', null],
      ['comment', 'test-ml', null, 'retraining\nETA 2h'],
    ])
    expect(read.body.response).toMatchObject({ owner: 'ml-oncall', acknowledged: { by: 'test-admin' } })
    expect((await get(`/api/breaches/${b.breachId}/actions`, auth.tokens.security)).status).toBe(403)
    const listed = await get(`/api/response/breaches?ids=${b.breachId}`, auth.tokens.executive)
    expect(listed.body.breaches[b.breachId]).toMatchObject({ owner: 'ml-oncall' })
  })

  it('a silence holds delivery of a recorded breach; its expiry releases the still-firing breach once', async () => {
    const t0 = now.getTime()
    const created = await post('/api/silences', auth.tokens.admin, {
      kpi: 'model.accuracy',
      scope: { model_id: 'silenced-model' },
      endsAt: new Date(t0 + 30 * MIN).toISOString(),
      reason: 'planned retraining',
    })
    expect(created.status).toBe(201)
    expect(created.body.silence).toMatchObject({
      author: 'test-admin',
      state: 'active',
      kpi: 'model.accuracy',
    })
    const noMatcher = await post('/api/silences', auth.tokens.admin, {
      endsAt: new Date(t0 + 30 * MIN).toISOString(),
      reason: 'everything',
    })
    expect(noMatcher.status).toBe(400)
    expect(noMatcher.body.reasons[0]).toMatch(/^kpi: a silence needs a KPI or at least one scope label/)
    expect((await post('/api/silences', auth.tokens.auditor, created.body.silence)).status).toBe(403)

    const b = await failingModel('silenced-model')
    const held = await waitFor('the held alert', async () => {
      const r = await alerters[0]!.response.state.get(b.breachId)
      return r.held
    })
    expect(held).toMatchObject({ silenceId: created.body.silence.id, job: { kind: 'firing' } })
    now = new Date(t0 + 29 * MIN)
    expect(await tickAll()).toEqual({ escalations: 0, releases: 0 })
    await drained()
    expect(events(KEYS.oncall, b.fingerprint)).toHaveLength(0)
    expect(await amAlerts(b.fingerprint)).toEqual([])

    now = new Date(t0 + 30 * MIN)
    expect((await tickAll()).releases).toBe(1)
    await pd.waitFor('the released page', () => events(KEYS.oncall, b.fingerprint).length > 0)
    for (let i = 0; i < 3; i++) expect((await tickAll()).releases).toBe(0)
    await drained()
    const released = events(KEYS.oncall, b.fingerprint)
    expect(released).toHaveLength(1)
    expect(released[0]).toMatchObject({ event_action: 'trigger' })
    expect(released[0]!.payload!.custom_details.response).toMatch(/held by silence .+ until it ended/)
    const inAm = await waitFor('the released alert in Alertmanager', async () => {
      const alerts = await amAlerts(b.fingerprint)
      return alerts.length > 0 ? alerts : undefined
    })
    expect(inAm).toHaveLength(1)
    expect(inAm[0].labels).toMatchObject({
      kpi: 'model.accuracy',
      severity: 'critical',
      model_id: 'silenced-model',
    })

    // The held silence is on record, and ended.
    const list = await get('/api/silences?state=ended', auth.tokens.auditor)
    expect(list.body.silences.map((s: Json) => s.id)).toContain(created.body.silence.id)
    // Escalation counts from the release: nobody could acknowledge what nobody was told.
    now = new Date(t0 + 39 * MIN)
    expect((await tickAll()).escalations).toBe(0)
    now = new Date(t0 + 40 * MIN)
    expect((await tickAll()).escalations).toBe(1)
  })

  it('expiring a silence early releases what it held', async () => {
    const t0 = now.getTime()
    const created = await post('/api/silences', auth.tokens.admin, {
      scope: { model_id: 'window-model' },
      endsAt: new Date(t0 + 120 * MIN).toISOString(),
      reason: 'maintenance',
    })
    expect(created.status).toBe(201)
    const b = await failingModel('window-model')
    await waitFor('the held alert', async () => (await alerters[0]!.response.state.get(b.breachId)).held)
    now = new Date(t0 + 5 * MIN)
    const expired = await post(`/api/silences/${created.body.silence.id}/expire`, auth.tokens.admin)
    expect(expired.status).toBe(200)
    expect(expired.body.silence).toMatchObject({ state: 'ended', expiredBy: 'test-admin' })
    expect((await post(`/api/silences/${created.body.silence.id}/expire`, auth.tokens.admin)).status).toBe(
      409,
    )
    expect((await tickAll()).releases).toBe(1)
    await pd.waitFor('the released page', () => events(KEYS.oncall, b.fingerprint).length > 0)
    await drained()
    expect(events(KEYS.oncall, b.fingerprint)).toHaveLength(1)
  })

  it('a resolve stops the escalation; a breach that fired and resolved under a silence is never announced', async () => {
    const t0 = now.getTime()
    const b = await failingModel('resolving-model')
    await pd.waitFor('the on-call page', () => events(KEYS.oncall, b.fingerprint).length > 0)
    now = new Date(t0 + 2 * MIN)
    await recoveredModel(b.breachId, 'resolving-model')
    await pd.waitFor('the resolve', () =>
      events(KEYS.oncall, b.fingerprint).some((e) => e.event_action === 'resolve'),
    )
    // (Breaches of the earlier cases still escalate meanwhile: only this one's pages are counted.)
    now = new Date(t0 + 60 * MIN)
    await tickAll()
    await drained()
    expect(events(KEYS.lead, b.fingerprint)).toHaveLength(0)
    expect(events(KEYS.ciso, b.fingerprint)).toHaveLength(0)

    const t1 = now.getTime()
    const silence = await post('/api/silences', auth.tokens.admin, {
      kpi: 'model.accuracy',
      scope: { model_id: 'brief-model' },
      endsAt: new Date(t1 + 30 * MIN).toISOString(),
      reason: 'load test',
    })
    expect(silence.status).toBe(201)
    const quiet = await failingModel('brief-model')
    await waitFor('the held alert', async () => (await alerters[0]!.response.state.get(quiet.breachId)).held)
    now = new Date(t1 + 5 * MIN)
    await recoveredModel(quiet.breachId, 'brief-model')
    await waitFor('the held alert to be dropped', async () =>
      (await alerters[0]!.response.state.get(quiet.breachId)).held ? undefined : true,
    )
    now = new Date(t1 + 31 * MIN)
    expect((await tickAll()).releases).toBe(0)
    await drained()
    expect(events(KEYS.oncall, quiet.fingerprint)).toEqual([])
    expect(await amAlerts(quiet.fingerprint)).toEqual([])
  })

  it('withdrawing an acknowledgement resumes the escalation where it stopped', async () => {
    const t0 = now.getTime()
    const b = await failingModel('unack-model')
    seen.unacknowledged = b
    await pd.waitFor('the on-call page', () => events(KEYS.oncall, b.fingerprint).length > 0)
    now = new Date(t0 + 1 * MIN)
    expect((await post(`/api/breaches/${b.breachId}/unack`, auth.tokens.admin)).status).toBe(409)
    expect((await post(`/api/breaches/${b.breachId}/ack`, auth.tokens.admin)).status).toBe(200)
    now = new Date(t0 + 10 * MIN)
    await tickAll()
    await drained()
    expect(events(KEYS.lead, b.fingerprint)).toHaveLength(0)

    now = new Date(t0 + 12 * MIN)
    const unack = await post(`/api/breaches/${b.breachId}/unack`, auth.tokens.admin, {
      comment: 'handing back',
    })
    expect(unack.status).toBe(200)
    expect(unack.body.response).toMatchObject({ acknowledged: null, escalation: { stepsDone: 0 } })
    // Those told someone had it hear that nobody has now: on-call (PagerDuty logs the trigger on the
    // acknowledged incident), and Alertmanager holds the alert without acknowledged_by.
    await pd.waitFor('the hand-back', () =>
      events(KEYS.oncall, b.fingerprint).some((e) => e.payload?.summary.startsWith('[UNACKNOWLEDGED ')),
    )
    await waitFor('the hand-back in Alertmanager', async () => {
      const [alert] = await amAlerts(b.fingerprint)
      return alert?.annotations?.transition === 'unacknowledged' ? alert : undefined
    })
    expect((await amAlerts(b.fingerprint))[0]!.annotations.acknowledged_by).toBeUndefined()
    await tickAll()
    await pd.waitFor('the security lead page', () => events(KEYS.lead, b.fingerprint).length > 0)
    await tickAll()
    await drained()
    expect(events(KEYS.lead, b.fingerprint)).toHaveLength(1)
    const read = await get(`/api/breaches/${b.breachId}/actions`, auth.tokens.auditor)
    expect(read.body.actions.map((a: Json) => a.action)).toEqual(['ack', 'unack'])
  })

  it('the response API is in the OpenAPI document with the roles of each route', async () => {
    const doc = await get('/api/openapi.json', auth.tokens.executive)
    expect(doc.status).toBe(200)
    const ack = doc.body.paths['/api/breaches/{id}/ack'].post
    expect(ack.description).toContain('Roles: security, ml, admin.')
    expect(ack.requestBody).toBeDefined()
    expect(doc.body.paths['/api/silences'].post.description).toContain('Roles: security, ml, admin.')
    expect(doc.body.paths['/api/response/breaches'].get.parameters.map((p: Json) => p.name)).toEqual(['ids'])
  })

  it('the review page shows acknowledgement, owner, escalation step and silences, and acknowledges', async () => {
    const silence = await post('/api/silences', auth.tokens.admin, {
      kpi: 'model.accuracy',
      scope: { model_id: 'next-release' },
      endsAt: new Date(now.getTime() + 60 * MIN).toISOString(),
      reason: 'release rehearsal',
    })
    expect(silence.status).toBe(201)
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
      await page.goto(`${base}/login#token=${auth.tokens.admin}`)
      await page.waitForURL(`${base}/`)
      const acked = page.locator(
        `[data-testid=response-row][data-breach-id="${seen.acknowledged!.breachId}"]`,
      )
      await acked.waitFor({ timeout: 30_000 })
      expect(await acked.textContent()).toContain('acknowledged by test-admin')
      expect(await acked.textContent()).toContain('ml-oncall')
      const escalated = page.locator(
        `[data-testid=response-row][data-breach-id="${seen.escalated!.breachId}"]`,
      )
      expect(await escalated.textContent()).toContain('not acknowledged')
      expect(await escalated.textContent()).toContain('critical-unacknowledged: step 2 of 2')
      const silences = page.locator('[data-testid=silences-table]')
      await silences.waitFor({ timeout: 30_000 })
      expect(await silences.textContent()).toContain('test-admin: release rehearsal')

      await page.goto(`${base}/review/breaches/${seen.escalated!.breachId}`)
      const ack = page.locator('[data-testid=response-ack]')
      await ack.waitFor({ timeout: 30_000 })
      expect(await ack.textContent()).toBe('not acknowledged')
      expect(await page.locator('[data-testid=response-escalation]').textContent()).toContain('step 2 of 2')
      await page.fill('#response-comment', 'taking it from the page')
      await page.getByRole('button', { name: 'Acknowledge' }).click()
      await waitFor('the page to show the acknowledgement', async () =>
        (await ack.textContent())?.startsWith('acknowledged by test-admin') ? true : undefined,
      )
      expect(await page.locator('[data-testid=actions-table]').textContent()).toContain(
        'taking it from the page',
      )
    } finally {
      await browser.close()
    }
    const fp = seen.escalated!.fingerprint
    await pd.waitFor('the acknowledgement from the page', () =>
      events(KEYS.oncall, fp).some((e) => e.event_action === 'acknowledge'),
    )
    // Everyone told about the breach hears that someone has it: on-call, the lead and the CISO.
    await drained()
    for (const key of [KEYS.oncall, KEYS.lead, KEYS.ciso]) {
      expect(
        events(key, fp).filter((e) => e.event_action === 'acknowledge'),
        key,
      ).toHaveLength(1)
    }
  })

  it('after Redis loses the response state, acknowledgements, owners and silences come back from ClickHouse, never over newer state', async () => {
    const prefix = stack.cfg.REDIS_PREFIX
    const lost = await redis.keys(`${prefix}:response:*`)
    expect(lost.length).toBeGreaterThan(0)
    await redis.del(...lost)
    const acked = seen.acknowledged!.breachId
    expect((await get(`/api/breaches/${acked}/actions`, auth.tokens.admin)).body.response).toMatchObject({
      acknowledged: null,
    })

    const state = new ResponseState(redis, prefix)
    // The alerters hold delivery by the silences in Redis: none left.
    expect(await state.silences()).toEqual([])
    const restored = await restoreResponseState(stack.ch, state, now)
    // Acknowledged: the ack-model breach (by the API) and the escalated one (from the page); the
    // unacknowledged one stays so; silences: those of the earlier cases not yet ended.
    expect(restored).toMatchObject({ acknowledgements: 2, owners: 1 })
    expect(restored.silences).toBeGreaterThanOrEqual(1)
    const read = await get(`/api/breaches/${acked}/actions`, auth.tokens.admin)
    expect(read.body.response).toMatchObject({
      acknowledged: { by: 'test-admin', comment: 'looking at the drift' },
      owner: 'ml-oncall',
    })
    const unacked = await get(`/api/breaches/${seen.unacknowledged!.breachId}/actions`, auth.tokens.admin)
    expect(unacked.body.response).toMatchObject({ acknowledged: null })
    expect((await state.silences()).map((x) => x.reason)).toContain('release rehearsal')
    // Ended silences stay in ClickHouse only.
    expect((await state.silences()).map((x) => x.reason)).not.toContain('load test')

    // What Redis holds is as new or newer: a second run writes nothing, and changes nothing it holds.
    await state.setOwner(acked, 'newer-owner')
    expect(await restoreResponseState(stack.ch, state, now)).toEqual({
      silences: 0,
      acknowledgements: 0,
      owners: 0,
    })
    expect((await state.get(acked)).owner).toBe('newer-owner')
  })
})
