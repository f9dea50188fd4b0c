import { randomUUID } from 'node:crypto'
import { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BreachStore } from '../../../services/processor/breach-store.js'
import type { Processor } from '../../../services/processor/processor.js'
import { ALERTS_QUEUE, type AlertJob } from '../../../shared/alerts/alert-job.js'
import { queryRows } from '../../../shared/clickhouse/client.js'
import { HttpServer } from '../../../shared/http/server.js'
import { topicNames } from '../../../shared/kafka/topics.js'
import { fingerprint, reasonCodes } from '../../../shared/kpi/breach-state.js'
import { parseAimsConfig } from '../../../shared/kpi/thresholds.js'
import { createRedis } from '../../../shared/redis/client.js'
import { apiJson, testAuth } from '../../helpers/api.js'
import { testConfig, waitFor } from '../../helpers/infra.js'
import {
  openStack,
  produce,
  startTestCollector,
  startTestProcessor,
  type TestStack,
} from '../../helpers/pipeline.js'

/**
 * Fairness end to end (issue 12): model-metrics events through Kafka and the collector into ClickHouse,
 * the processor computing the fairness KPIs with the fairness module, judging them exactly, writing n,
 * the interval and the reason to kpi_values, and alert jobs on a real Redis. Each case has a model of its
 * own (triggers are keyed by model), so the cases do not wait on each other.
 */

const HOUR = 3_600_000
const DIR = 'model.disparate_impact_ratio'
const EOD = 'model.equalized_odds_difference'

type Group = { group: string; tp: number; fp: number; tn: number; fn: number }
type Prediction = { group: string; selected: number; total: number }
type Cell = { values: Record<string, string>; selected: number; total: number }

/** A v1 model-metrics event with any of the fairness parts (fairness, predictions, intersections). */
function modelEvent(o: {
  modelId: string
  modelVersion?: string
  time: Date
  sampleSize: number
  fairness?: { attribute: string; groups: Group[] }[]
  predictions?: { attribute: string; groups: Prediction[] }[]
  intersections?: { attributes: string[]; cells: Cell[] }[]
}) {
  return {
    specversion: '1.0',
    id: randomUUID(),
    source: '/tests/fairness',
    type: 'aims.model_metrics.v1',
    time: o.time.toISOString(),
    data: {
      modelId: o.modelId,
      modelVersion: o.modelVersion ?? '1.0',
      environment: 'production',
      window: { start: new Date(o.time.getTime() - 24 * HOUR).toISOString(), end: o.time.toISOString() },
      sampleSize: o.sampleSize,
      fairness: o.fairness ?? [],
      ...(o.predictions ? { predictions: o.predictions } : {}),
      ...(o.intersections ? { intersections: o.intersections } : {}),
    },
  }
}

/** Confusion counts with `selected` predicted positive out of `n` (tp/fp and tn/fn split evenly-ish). */
function selecting(group: string, selected: number, n: number): Group {
  const tp = Math.floor(selected * 0.8)
  const tn = Math.floor((n - selected) * 0.8)
  return { group, tp, fp: selected - tp, tn, fn: n - selected - tn }
}

interface Row {
  value: number | null
  status: string
  n: string | null
  ci_low: number | null
  ci_high: number | null
  reason: string
}

describe('fairness end to end: insufficient data, exact thresholds, intervals, intersections, labels later', () => {
  let stack: TestStack
  let collector: Awaited<ReturnType<typeof startTestCollector>>
  let redis: Redis
  let http: HttpServer
  let processor: Processor
  let alerts: Queue<AlertJob>
  let store: BreachStore
  let base: string
  const auth = testAuth()
  let now = new Date('2026-04-01T12:00:00.000Z')
  const clock = () => now
  let step = 0
  /** Each event a minute after the one before, an hour before the evaluation time. */
  const next = () => {
    step++
    now = new Date(Date.parse('2026-04-01T12:00:00.000Z') + step * 60_000)
    return new Date(now.getTime() - HOUR)
  }

  beforeAll(async () => {
    stack = await openStack(testConfig())
    redis = createRedis(stack.cfg, 'worker')
    http = new HttpServer(stack.health, stack.log, { auth: auth.authenticator })
    collector = await startTestCollector(stack)
    // The interval policy for two models; the small one with a minimum sample of 10 so its 20 samples
    // are judged at all (the default minimum of 30 would make it insufficient data).
    const aimsConfig = parseAimsConfig({
      kpis: {
        [DIR]: {
          overrides: [
            { match: { model_id: 'small-sample' }, policy: 'interval', minSamples: 10 },
            { match: { model_id: 'large-sample' }, policy: 'interval' },
          ],
        },
      },
    })
    processor = await startTestProcessor(stack, {
      redis,
      http,
      aimsConfig,
      clock,
      scheduleSweep: false,
    })
    await processor.ready()
    alerts = new Queue<AlertJob>(ALERTS_QUEUE, {
      connection: redis.duplicate(),
      prefix: stack.cfg.REDIS_PREFIX,
    })
    store = new BreachStore(redis, stack.cfg.REDIS_PREFIX)
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

  const send = (event: ReturnType<typeof modelEvent>) =>
    produce(stack.kafka, topicNames(stack.cfg).modelMetrics, [
      { key: event.data.modelId, value: JSON.stringify(event) },
    ])

  const scopeOf = (modelId: string, attribute: string, modelVersion = '1.0') => ({
    model_id: modelId,
    environment: 'production',
    model_version: modelVersion,
    attribute,
  })

  /** The latest kpi_values row of a series (null-safe), once `ready` accepts it. */
  async function latest(
    kpiId: string,
    scope: Record<string, string>,
    ready: (r: Row) => boolean,
  ): Promise<Row> {
    return waitFor(`${kpiId} ${JSON.stringify(scope)}`, async () => {
      const rows = await queryRows<{
        r: [number | null, string, string | null, number | null, number | null, string]
      }>(
        stack.ch,
        `SELECT argMax((value, status, n, ci_low, ci_high, reason), evaluated_at) AS r
         FROM kpi_values WHERE fingerprint = {fp:String} HAVING count() > 0`,
        { fp: fingerprint(kpiId, scope) },
      )
      const t = rows[0]?.r
      if (!t) return undefined
      const row: Row = { value: t[0], status: t[1], n: t[2], ci_low: t[3], ci_high: t[4], reason: t[5] }
      return ready(row) ? row : undefined
    })
  }

  async function jobsFor(kpiId: string, modelId: string): Promise<AlertJob[]> {
    const jobs = await alerts.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized'])
    return jobs
      .map((j) => j.data)
      .filter((d) => d.kpi.id === kpiId && d.scope.model_id === modelId)
      .sort((a, b) => a.at.localeCompare(b.at) || a.kind.localeCompare(b.kind))
  }

  /** Whether the series has an open breach in the shared store (committed before its row is written). */
  const open = async (kpiId: string, scope: Record<string, string>) =>
    (await store.get([fingerprint(kpiId, scope)])).has(fingerprint(kpiId, scope))

  it('a single-group attribute is insufficient data on every fairness KPI, and breaches nothing', async () => {
    await send(
      modelEvent({
        modelId: 'one-group',
        time: next(),
        sampleSize: 500,
        fairness: [{ attribute: 'region', groups: [selecting('emea', 100, 500)] }],
      }),
    )
    const scope = scopeOf('one-group', 'region')
    for (const kpiId of [DIR, 'model.demographic_parity_difference', EOD, 'model.accuracy_gap']) {
      const row = await latest(kpiId, scope, () => true)
      expect(row, kpiId).toMatchObject({ value: null, status: 'insufficient_data', n: null, ci_low: null })
      expect(reasonCodes(row.reason)).toEqual(['too_few_groups'])
      expect(await open(kpiId, scope)).toBe(false)
    }
    expect(await jobsFor(DIR, 'one-group')).toEqual([])
  })

  it('a disparate impact ratio of exactly 4/5 does not breach; 0.79 does', async () => {
    // 0.6 / 0.75 is 0.7999999999999999 in floating point, exactly 4/5.
    await send(
      modelEvent({
        modelId: 'four-fifths',
        modelVersion: '1.0',
        time: next(),
        sampleSize: 2000,
        fairness: [{ attribute: 'sex', groups: [selecting('f', 600, 1000), selecting('m', 750, 1000)] }],
      }),
    )
    const exact = await latest(DIR, scopeOf('four-fifths', 'sex', '1.0'), () => true)
    expect(exact).toMatchObject({ value: 0.7999999999999999, status: 'ok', n: '2000' })
    expect(exact.ci_low!).toBeLessThan(0.8)
    expect(await open(DIR, scopeOf('four-fifths', 'sex', '1.0'))).toBe(false)

    await send(
      modelEvent({
        modelId: 'four-fifths',
        modelVersion: '2.0',
        time: next(),
        sampleSize: 20_000,
        fairness: [
          { attribute: 'sex', groups: [selecting('f', 5925, 10_000), selecting('m', 7500, 10_000)] },
        ],
      }),
    )
    const [firing] = await waitFor('the 0.79 breach', async () => {
      const jobs = await jobsFor(DIR, 'four-fifths')
      return jobs.length > 0 ? jobs : undefined
    })
    expect(firing).toMatchObject({ kind: 'firing', severity: 'warning', threshold: 0.8 })
    expect(firing!.scope.model_version).toBe('2.0')
    expect(firing!.value).toBeCloseTo(0.79, 12)
    expect(firing!.uncertainty?.n).toBe(20_000)
    expect(firing!.summary).toMatch(/0\.79 \[CI 0\.7\d+–0\.8\d*, n=20000\] \(tolerance 0\.8–1\.25\)/)
    expect(await jobsFor(DIR, 'four-fifths')).toHaveLength(1)
  })

  it('under the interval policy a ratio of 0.7 from 20 samples is uncertain and pages nobody; from 200,000 it breaches', async () => {
    await send(
      modelEvent({
        modelId: 'small-sample',
        time: next(),
        sampleSize: 20,
        predictions: [
          {
            attribute: 'sex',
            groups: [
              { group: 'f', selected: 7, total: 10 },
              { group: 'm', selected: 10, total: 10 },
            ],
          },
        ],
      }),
    )
    const small = await latest(DIR, scopeOf('small-sample', 'sex'), () => true)
    expect(small.value).toBeCloseTo(0.7, 12)
    expect(small).toMatchObject({ status: 'ok', n: '20' })
    expect(small.ci_high!).toBeGreaterThan(0.8)
    expect(reasonCodes(small.reason)).toEqual(['uncertain_warning'])
    expect(await open(DIR, scopeOf('small-sample', 'sex'))).toBe(false)

    await send(
      modelEvent({
        modelId: 'large-sample',
        time: next(),
        sampleSize: 200_000,
        predictions: [
          {
            attribute: 'sex',
            groups: [
              { group: 'f', selected: 70_000, total: 100_000 },
              { group: 'm', selected: 100_000, total: 100_000 },
            ],
          },
        ],
      }),
    )
    const [firing] = await waitFor('the confirmed breach', async () => {
      const jobs = await jobsFor(DIR, 'large-sample')
      return jobs.length > 0 ? jobs : undefined
    })
    expect(firing).toMatchObject({ kind: 'firing', severity: 'warning' })
    expect(firing!.uncertainty!.ciHigh!).toBeLessThan(0.8)
    expect(firing!.uncertainty!.n).toBe(200_000)
    const large = await latest(DIR, scopeOf('large-sample', 'sex'), () => true)
    expect(large).toMatchObject({ status: 'warning', reason: '' })
    expect(await jobsFor(DIR, 'small-sample')).toEqual([])
  })

  it('an intersectional cell below the minimum makes the intersection insufficient while its parent attributes are assessed', async () => {
    // Cells of 20 are below the minimum of 30; only male / old (200) is left: too few to compare.
    // The parent attributes sum the cells: sex f 40 (9 selected), m 220 (68); age young 40, old 220.
    const cell = (sex: string, age: string, selected: number, total: number): Cell => ({
      values: { sex, age },
      selected,
      total,
    })
    await send(
      modelEvent({
        modelId: 'intersect',
        time: next(),
        sampleSize: 260,
        intersections: [
          {
            attributes: ['sex', 'age'],
            cells: [
              cell('f', 'young', 5, 20),
              cell('f', 'old', 4, 20),
              cell('m', 'young', 8, 20),
              cell('m', 'old', 60, 200),
            ],
          },
        ],
      }),
    )
    const x = await latest(DIR, scopeOf('intersect', 'sex×age'), () => true)
    expect(x).toMatchObject({ value: null, status: 'insufficient_data' })
    expect(reasonCodes(x.reason)).toEqual(['too_few_groups'])
    expect(x.reason).toContain('"sex=f;age=young" selection_rate below_minimum (n=20)')
    const sex = await latest(DIR, scopeOf('intersect', 'sex'), () => true)
    expect(sex.value).toBe(9 / 40 / (68 / 220))
    expect(sex).toMatchObject({ status: 'warning', n: '260' })
    const age = await latest(DIR, scopeOf('intersect', 'age'), () => true)
    expect(age.value).toBe(64 / 220 / (13 / 40)) // old 64 of 220 against young 13 of 40
    expect(age.status).not.toBe('insufficient_data')
  })

  it('prediction-only counts give DPD and DIR at once; EOD and the label coverage follow the labels', async () => {
    const predictions = [
      {
        attribute: 'sex',
        groups: [
          { group: 'f', selected: 300, total: 1000 },
          { group: 'm', selected: 320, total: 1000 },
        ],
      },
    ]
    await send(modelEvent({ modelId: 'late-labels', time: next(), sampleSize: 2000, predictions }))
    const scope = scopeOf('late-labels', 'sex')
    const dir = await latest(DIR, scope, () => true)
    expect(dir).toMatchObject({ value: 300 / 1000 / (320 / 1000), status: 'ok', n: '2000' })
    const dpd = await latest('model.demographic_parity_difference', scope, () => true)
    expect(dpd.value).toBeCloseTo(0.02, 12)
    const eod = await latest(EOD, scope, () => true)
    expect(eod).toMatchObject({ value: null, status: 'insufficient_data' })
    expect(reasonCodes(eod.reason)).toEqual(['labels_missing'])
    const versionScope = { model_id: 'late-labels', environment: 'production', model_version: '1.0' }
    expect((await latest('model.label_coverage', versionScope, () => true)).value).toBe(0)

    // Four weeks later: the same predictions with labels for 600 of each group.
    await send(
      modelEvent({
        modelId: 'late-labels',
        time: next(),
        sampleSize: 2000,
        predictions,
        fairness: [
          {
            attribute: 'sex',
            groups: [
              { group: 'f', tp: 150, fp: 30, tn: 380, fn: 40 },
              { group: 'm', tp: 170, fp: 22, tn: 370, fn: 38 },
            ],
          },
        ],
      }),
    )
    const labelled = await latest(EOD, scope, (r) => r.value !== null)
    expect(labelled.status).not.toBe('insufficient_data')
    expect(Number(labelled.n)).toBeGreaterThan(0)
    expect(labelled.ci_low!).toBeLessThanOrEqual(labelled.value!)
    expect((await latest('model.label_coverage', versionScope, (r) => r.value !== 0)).value).toBe(0.6)
    // the selection rate still reads every prediction, not the labelled 60 %
    expect((await latest(DIR, scope, () => true)).value).toBe(300 / 1000 / (320 / 1000))
    // accuracy derived from the labelled counts: (150 + 380 + 170 + 370) / 1200
    const accuracy = await latest('model.accuracy', versionScope, (r) => r.value !== null)
    expect(accuracy.value).toBe(1070 / 1200)
    expect(reasonCodes(accuracy.reason)).toEqual(['derived'])
  })

  it('insufficient data never resolves a firing breach; a healthy evaluation does', async () => {
    const scope = scopeOf('flaky', 'sex')
    await send(
      modelEvent({
        modelId: 'flaky',
        time: next(),
        sampleSize: 2000,
        fairness: [{ attribute: 'sex', groups: [selecting('f', 250, 1000), selecting('m', 500, 1000)] }],
      }),
    )
    await waitFor('the breach', async () => ((await jobsFor(DIR, 'flaky')).length > 0 ? true : undefined))
    expect(await open(DIR, scope)).toBe(true)

    // Next evaluation: only one group reported (the other had no traffic).
    await send(
      modelEvent({
        modelId: 'flaky',
        time: next(),
        sampleSize: 1000,
        fairness: [{ attribute: 'sex', groups: [selecting('m', 500, 1000)] }],
      }),
    )
    const row = await latest(DIR, scope, (r) => r.status === 'insufficient_data')
    expect(row.value).toBeNull()
    expect(await open(DIR, scope)).toBe(true)
    expect((await jobsFor(DIR, 'flaky')).map((j) => j.kind)).toEqual(['firing'])

    await send(
      modelEvent({
        modelId: 'flaky',
        time: next(),
        sampleSize: 2000,
        fairness: [{ attribute: 'sex', groups: [selecting('f', 480, 1000), selecting('m', 500, 1000)] }],
      }),
    )
    const jobs = await waitFor('the resolve', async () => {
      const all = await jobsFor(DIR, 'flaky')
      return all.length >= 2 ? all : undefined
    })
    expect(jobs.map((j) => j.kind)).toEqual(['firing', 'resolved'])
    expect(await open(DIR, scope)).toBe(false)
  })

  it('the read API shows insufficient data, intervals and uncertain values distinctly', async () => {
    // As an executive, who reads the model views and the scorecard; role tests live in tests/integration/http.
    const get = (path: string) => apiJson(base, path, auth.tokens.executive)
    const one = (await get('/api/views/models?model=one-group')).models[0].versions[0]
    expect(one.attributes[0]).toMatchObject({
      attribute: 'region',
      status: 'insufficient_data',
      disparateImpactRatio: { value: null, status: 'insufficient_data', n: null, ciLow: null },
    })
    expect(one.attributes[0].disparateImpactRatio.reason).toMatch(/^too_few_groups: /)
    expect(one.insufficientMetrics).toEqual(expect.arrayContaining(['disparateImpactRatio:region']))
    // Its fairness is not ok but not a breach either (its accuracy, derived from the counts as 0.8, is).
    expect(one.fairnessStatus).toBe('insufficient_data')
    expect(one.accuracy).toMatchObject({ value: 0.8, status: 'warning' })
    expect(one.accuracy.reason).toMatch(/^derived: /)

    const small = (await get('/api/views/models?model=small-sample')).models[0].versions[0]
    const dir = small.attributes[0].disparateImpactRatio
    expect(dir).toMatchObject({ status: 'ok', n: 20, uncertain: 'warning' })
    expect(dir.ciLow).toBeLessThan(dir.value)
    expect(dir.ciHigh).toBeGreaterThan(0.8)
    expect(small.uncertainMetrics).toEqual(['disparateImpactRatio:sex'])

    const coverage = (await get('/api/views/models?model=late-labels')).models[0].versions[0].labelCoverage
    expect(coverage).toMatchObject({ value: 0.6 })

    const insufficient = await get('/api/kpis?area=model&status=insufficient_data')
    const series = insufficient.kpis.flatMap((k: { series: unknown[] }) => k.series)
    expect(series.length).toBeGreaterThan(0)
    for (const x of series) {
      expect(x.status).toBe('insufficient_data')
      expect(x.value).toBeNull()
      expect(x.reason).toMatch(/^(too_few_groups|labels_missing): /)
    }
    const scorecard = await get('/api/views/scorecard?area=model')
    const tile = scorecard.kpis.find((k: { id: string }) => k.id === DIR)
    expect(tile.counts.insufficient_data).toBeGreaterThan(0)
    expect(tile.status).toBe('warning') // breaches outrank insufficient data, which outranks ok
  })
})
