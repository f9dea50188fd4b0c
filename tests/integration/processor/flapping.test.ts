import { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BreachStore } from '../../../services/processor/breach-store.js'
import type { Processor } from '../../../services/processor/processor.js'
import { ALERTS_QUEUE, type AlertJob } from '../../../shared/alerts/alert-job.js'
import { queryRows } from '../../../shared/clickhouse/client.js'
import { HttpServer } from '../../../shared/http/server.js'
import { topicNames } from '../../../shared/kafka/topics.js'
import { fingerprint, OPEN_BREACHES_SQL, type StoredTransition } from '../../../shared/kpi/breach-state.js'
import { staleFingerprint } from '../../../shared/kpi/staleness.js'
import { parseAimsConfig } from '../../../shared/kpi/thresholds.js'
import { createRedis } from '../../../shared/redis/client.js'
import { apiJson, testAuth } from '../../helpers/api.js'
import { modelMetricsEvent } from '../../helpers/events.js'
import { testConfig, waitFor } from '../../helpers/infra.js'
import {
  openStack,
  produce,
  startTestCollector,
  startTestProcessor,
  type TestStack,
} from '../../helpers/pipeline.js'

const MIN = 60_000
const DAY = 86_400_000
const MODEL = 'churn-flap'
const KEEP_MODEL = 'churn-keep'
const SCOPE = { model_id: MODEL, environment: 'production', model_version: '1.0' }
const GROUPS = [
  { group: 'a', tp: 40, fp: 10, tn: 40, fn: 10 },
  { group: 'b', tp: 40, fp: 10, tn: 40, fn: 10 },
]

/**
 * Hysteresis and staleness on real parts: model evaluations through Kafka and the collector, state in
 * ClickHouse, breaches and alert jobs in Redis; the clock is the test's (days pass in a sweep).
 */
describe('processor: flapping and stale series', () => {
  let stack: TestStack
  let collector: Awaited<ReturnType<typeof startTestCollector>>
  let redis: Redis
  let http: HttpServer
  let processor: Processor
  let alerts: Queue<AlertJob>
  let base: string
  const auth = testAuth()
  let now = new Date('2026-06-01T08:00:00.000Z')
  const clock = () => now
  let aimsConfig: ReturnType<typeof parseAimsConfig>
  const fp = fingerprint('model.accuracy', SCOPE)
  const keepFp = fingerprint('model.accuracy', { ...SCOPE, model_id: KEEP_MODEL })

  beforeAll(async () => {
    stack = await openStack(testConfig())
    redis = createRedis(stack.cfg, 'worker')
    http = new HttpServer(stack.health, stack.log, { auth: auth.authenticator })
    collector = await startTestCollector(stack)
    aimsConfig = parseAimsConfig({
      lifecycle: {
        // Every series of a production model: stale after 2 days without an evaluation, shown, not paged...
        model: {
          overrides: [{ match: { environment: 'production' }, stale_after: '2d', stale_alert: false }],
        },
        // ...but accuracy pages (one stale alert per model version), and resolves after 3 healthy evaluations.
        'model.accuracy': {
          stale_alert: true,
          resolve_after: 3,
          // One model instead keeps its breach firing for 30 minutes of healthy values.
          overrides: [{ match: { model_id: KEEP_MODEL }, resolve_after: 1, keep_firing_for: '30m' }],
        },
      },
    })
    processor = await startTestProcessor(stack, { redis, http, aimsConfig, clock, scheduleSweep: false })
    await processor.ready()
    alerts = new Queue<AlertJob>(ALERTS_QUEUE, {
      connection: redis.duplicate(),
      prefix: stack.cfg.REDIS_PREFIX,
    })
    base = (await http.listen('127.0.0.1', 0)).url
  }, 120_000)

  afterAll(async () => {
    await http?.close()
    await processor?.stop()
    await collector?.stop()
    await alerts?.obliterate({ force: true }).catch(() => undefined)
    await alerts?.close()
    redis?.disconnect()
    await stack?.close()
  })

  async function jobs(fingerprintOf: string): Promise<AlertJob[]> {
    const all = await alerts.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized'])
    return all
      .map((j) => j.data)
      .filter((d) => d.fingerprint === fingerprintOf)
      .sort((a, b) => a.at.localeCompare(b.at) || a.kind.localeCompare(b.kind))
  }

  const transitions = (fingerprintOf: string) =>
    queryRows<{ transition: string; condition: string; at: string }>(
      stack.ch,
      'SELECT DISTINCT transition_id, transition, condition, at FROM breach_transitions WHERE fingerprint = {fp:String} ORDER BY at',
      { fp: fingerprintOf },
    )

  const latest = async (series = fp) =>
    (
      await queryRows<{ value: number | null; status: string; reason: string; evaluated_at: string }>(
        stack.ch,
        `SELECT value, status, reason, evaluated_at FROM kpi_values
         WHERE fingerprint = {fp:String} ORDER BY evaluated_at DESC LIMIT 1`,
        { fp: series },
      )
    )[0]

  /** One evaluation of the model, a minute after the last, waited for until its accuracy is the latest value. */
  async function evaluation(accuracy: number, model = MODEL): Promise<void> {
    now = new Date(now.getTime() + MIN)
    const event = modelMetricsEvent({
      modelId: model,
      modelVersion: '1.0',
      time: now.toISOString(),
      accuracy,
      groups: GROUPS,
    })
    await produce(stack.kafka, topicNames(stack.cfg).modelMetrics, [
      { key: model, value: JSON.stringify(event) },
    ])
    await waitFor(`accuracy ${accuracy} evaluated`, async () => {
      const row = await latest(model === MODEL ? fp : keepFp)
      return row && row.value === accuracy && row.status !== 'stale' ? row : undefined
    })
  }

  it('a value oscillating across the threshold every evaluation opens one breach, resolved after 3 healthy ones', async () => {
    // Warning below 0.85: 0.83 breaches, 0.9 is healthy; ten evaluations alternate, ending breached.
    for (let i = 0; i < 10; i++) await evaluation(i % 2 === 0 ? 0.9 : 0.83)
    expect((await transitions(fp)).map((t) => t.transition)).toEqual(['firing'])
    const fired = await jobs(fp)
    expect(fired.map((j) => [j.kind, j.severity])).toEqual([['firing', 'warning']])

    await evaluation(0.9)
    await evaluation(0.91)
    expect((await jobs(fp)).map((j) => j.kind)).toEqual(['firing'])
    await evaluation(0.92)
    const resolved = await waitFor('the breach resolved', async () => {
      const all = await jobs(fp)
      return all.length >= 2 ? all : undefined
    })
    expect(resolved.map((j) => j.kind)).toEqual(['firing', 'resolved'])
    expect(resolved[1]!.breachId).toBe(fired[0]!.breachId)
    expect((await transitions(fp)).map((t) => t.transition)).toEqual(['firing', 'resolved'])
  })

  it('a model with no evaluation for 2 days goes stale at that exact time, alerted on its own, and back when data returns', async () => {
    const lastInput = now.getTime()
    const staleFp = staleFingerprint(fp)

    now = new Date(lastInput + 2 * DAY - MIN)
    await processor.sweepNow()
    expect(await jobs(staleFp)).toEqual([])
    expect((await latest())!.status).toBe('ok')

    now = new Date(lastInput + 2 * DAY + 5 * MIN)
    await processor.sweepNow()
    const stale = await jobs(staleFp)
    expect(stale.map((j) => [j.kind, j.severity])).toEqual([['firing', 'warning']])
    // The model's other series are stale too, without alerts of their own.
    const everyStaleJob = (
      await alerts.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized'])
    )
      .map((j) => j.data)
      .filter((d) => d.stale !== undefined && d.scope.model_id === MODEL)
    expect(everyStaleJob.map((d) => d.kpi.id)).toEqual(['model.accuracy'])
    const f1 = await queryRows<{ status: string }>(
      stack.ch,
      `SELECT status FROM kpi_values WHERE fingerprint = {fp:String} ORDER BY evaluated_at DESC LIMIT 1`,
      { fp: fingerprint('model.f1', SCOPE) },
    )
    expect(f1).toEqual([{ status: 'stale' }])
    expect(stale[0]!.startsAt).toBe(new Date(lastInput + 2 * DAY).toISOString())
    expect(stale[0]!.kpi.id).toBe('model.accuracy')
    expect(stale[0]!.scope).toEqual(SCOPE)
    expect(stale[0]!.summary).toContain('stale, no input since')
    expect(stale[0]!.stale).toEqual({ lastInputAt: new Date(lastInput).toISOString(), expectedWithin: '2d' })
    // Shown as stale, never ok: the series' row, its reason, and the scorecard.
    const row = (await latest())!
    expect(row.status).toBe('stale')
    expect(row.value).toBe(0.92)
    expect(row.reason).toContain(
      `stale: no input since ${new Date(lastInput).toISOString()} (expected within 2d)`,
    )
    expect((await transitions(staleFp)).map((t) => [t.transition, t.condition])).toEqual([
      ['firing', 'stale'],
    ])
    // A Redis that lost its data gets the open stale alert back from ClickHouse, as a stale alert.
    const restoredStore = new BreachStore(redis, `${stack.cfg.REDIS_PREFIX}:restore-check`)
    await restoredStore.restoreOnce(() =>
      queryRows<StoredTransition>(stack.ch, OPEN_BREACHES_SQL, { kpi_ids: [] }),
    )
    expect((await restoredStore.get([staleFp])).get(staleFp)).toEqual({
      kpiId: 'model.accuracy',
      scope: SCOPE,
      startedAt: lastInput + 2 * DAY,
      severity: 'warning',
      condition: 'stale',
    })
    const card = await apiJson<{ kpis: { id: string; status: string; counts: Record<string, number> }[] }>(
      base,
      '/api/views/scorecard',
      auth.tokens.executive,
    )
    const accuracy = card.kpis.find((k) => k.id === 'model.accuracy')!
    expect(accuracy.counts.stale).toBeGreaterThanOrEqual(1)
    const open = await apiJson<{ breaches: { breachId: string; condition: string; state: string }[] }>(
      base,
      '/api/breaches?state=open',
      auth.tokens.executive,
    )
    expect(open.breaches.find((b) => b.breachId === stale[0]!.breachId)).toMatchObject({
      condition: 'stale',
      state: 'open',
    })
    // The value's breach is untouched: nothing was open, nothing fired.
    expect((await jobs(fp)).map((j) => j.kind)).toEqual(['firing', 'resolved'])

    // Later sweeps do not alert again, nor does a restarted processor (its evaluation of every model
    // finds the same old input, and the stale alert open in the breach store).
    now = new Date(now.getTime() + DAY)
    await processor.sweepNow()
    expect(await jobs(staleFp)).toHaveLength(1)
    await processor.stop()
    processor = await startTestProcessor(stack, {
      redis,
      http: new HttpServer(stack.health, stack.log),
      aimsConfig,
      clock,
      scheduleSweep: false,
    })
    await processor.ready()
    await processor.sweepNow()
    expect(await jobs(staleFp)).toHaveLength(1)
    expect((await latest())!.status).toBe('stale')

    await evaluation(0.93)
    const back = await waitFor('the stale alert resolved', async () => {
      const all = await jobs(staleFp)
      return all.length >= 2 ? all : undefined
    })
    expect(back.map((j) => j.kind)).toEqual(['firing', 'resolved'])
    expect(back[1]!.breachId).toBe(stale[0]!.breachId)
    expect((await latest())!.status).toBe('ok')
    expect((await latest(fingerprint('model.f1', SCOPE)))!.status).not.toBe('stale')
    expect((await transitions(staleFp)).map((t) => t.transition)).toEqual(['firing', 'resolved'])
  })

  it('keep_firing_for: a breach whose value turned healthy resolves on the timer, exactly that long after', async () => {
    await evaluation(0.7, KEEP_MODEL)
    const fired = await waitFor('the critical breach', async () => {
      const all = await jobs(keepFp)
      return all.length > 0 ? all : undefined
    })
    expect(fired.map((j) => [j.kind, j.severity])).toEqual([['firing', 'critical']])
    await evaluation(0.9, KEEP_MODEL)
    const healthySince = now.getTime()

    // No evaluation arrives any more: only time moves.
    now = new Date(healthySince + 29 * MIN)
    await processor.sweepNow()
    expect((await jobs(keepFp)).map((j) => j.kind)).toEqual(['firing'])
    now = new Date(healthySince + 31 * MIN)
    await processor.sweepNow()
    const resolved = await jobs(keepFp)
    expect(resolved.map((j) => j.kind)).toEqual(['firing', 'resolved'])
    expect(resolved[1]!.at).toBe(new Date(healthySince + 30 * MIN).toISOString())
    expect(resolved[1]!.value).toBe(0.9)
  })
})
