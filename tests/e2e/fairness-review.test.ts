import { randomUUID } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Redis } from 'ioredis'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Processor } from '../../services/processor/processor.js'
import { HttpServer } from '../../shared/http/server.js'
import { topicNames } from '../../shared/kafka/topics.js'
import { parseAimsConfig } from '../../shared/kpi/thresholds.js'
import { createRedis } from '../../shared/redis/client.js'
import { bearer, loginLink, testAuth } from '../helpers/api.js'
import { testConfig, waitFor } from '../helpers/infra.js'
import {
  openStack,
  produce,
  REPO_ROOT,
  startTestCollector,
  startTestProcessor,
  type TestStack,
} from '../helpers/pipeline.js'

/**
 * The review page shows fairness figures with what they rest on (issue 12), in a real browser: events
 * through Kafka and the collector, the processor's read API and page, headless Chromium. A value with
 * its interval and n, an uncertain value (interval policy: beyond the line, not confirmed), and an
 * attribute that cannot be assessed ("Insufficient data", its own badge, never "OK" or "No data").
 * Screenshot: test-artifacts/fairness-review.png.
 */

const CHROMIUM = '/usr/bin/chromium'
const SCREENSHOT = join(REPO_ROOT, 'test-artifacts', 'fairness-review.png')
const HOUR = 3_600_000

describe('review page: intervals and insufficient data, distinctly', () => {
  let stack: TestStack
  let collector: Awaited<ReturnType<typeof startTestCollector>>
  let redis: Redis
  let http: HttpServer
  // The ML team's view of its models; role checks live in tests/integration/http.
  const auth = testAuth()
  const token = auth.tokens.ml
  let processor: Processor
  let browser: Browser
  let base: string
  const now = new Date()

  const event = (modelId: string, sampleSize: number, data: Record<string, unknown>) => ({
    specversion: '1.0',
    id: randomUUID(),
    source: '/tests/fairness-review',
    type: 'aims.model_metrics.v1',
    time: new Date(now.getTime() - HOUR).toISOString(),
    data: {
      modelId,
      modelVersion: '1.0',
      environment: 'production',
      window: {
        start: new Date(now.getTime() - 25 * HOUR).toISOString(),
        end: new Date(now.getTime() - HOUR).toISOString(),
      },
      sampleSize,
      metrics: { accuracy: 0.9 },
      fairness: [],
      ...data,
    },
  })

  beforeAll(async () => {
    stack = await openStack(testConfig())
    redis = createRedis(stack.cfg, 'worker')
    http = new HttpServer(stack.health, stack.log, { auth: auth.authenticator })
    collector = await startTestCollector(stack)
    processor = await startTestProcessor(stack, {
      redis,
      http,
      aimsConfig: parseAimsConfig({
        kpis: {
          'model.disparate_impact_ratio': {
            overrides: [{ match: { model_id: 'screening-pilot' }, policy: 'interval', minSamples: 10 }],
          },
        },
      }),
      clock: () => now,
      scheduleSweep: false,
    })
    base = (await http.listen('127.0.0.1', 0)).url
    const predictions = (f: [number, number], m: [number, number]) => [
      {
        attribute: 'sex',
        groups: [
          { group: 'female', selected: f[0], total: f[1] },
          { group: 'male', selected: m[0], total: m[1] },
        ],
      },
    ]
    await produce(
      stack.kafka,
      topicNames(stack.cfg).modelMetrics,
      [
        // Disparate impact 0.75 from 4,000 predictions: a breach, with its interval and n.
        event('loan-approval', 4000, { predictions: predictions([600, 2000], [800, 2000]) }),
        // 0.7 from 20 predictions under the interval policy: uncertain, not paged.
        event('screening-pilot', 20, { predictions: predictions([7, 10], [10, 10]) }),
        // One group only: cannot be assessed.
        event('churn-model', 900, {
          fairness: [
            { attribute: 'region', groups: [{ group: 'emea', tp: 300, fp: 100, tn: 400, fn: 100 }] },
          ],
        }),
      ].map((e) => ({ key: e.data.modelId, value: JSON.stringify(e) })),
    )
    await waitFor(
      'the three models evaluated',
      async () => {
        const res = await fetch(`${base}/api/views/models`, { headers: bearer(token) })
        const body = (await res.json()) as { models: { modelId: string }[] }
        return body.models.length >= 3 ? true : undefined
      },
      60_000,
    )
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    })
  }, 180_000)

  afterAll(async () => {
    await browser?.close()
    await http?.close()
    await processor?.stop()
    await collector?.stop()
    redis?.disconnect()
    await stack?.close()
  })

  it('shows the interval and n, "uncertain", and "Insufficient data" as three distinct things', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 1400 } })
    const problems: string[] = []
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`))
    await page.goto(loginLink(base, token))
    const models = page.locator('#models-body')
    const row = (modelId: string) => models.locator(`tr[data-model="${modelId}"]`)

    // The breach: the ratio with its interval and sample size.
    const loan = row('loan-approval')
    await loan.getByTestId('ci').waitFor({ timeout: 30_000 })
    expect(await loan.getByTestId('ci').textContent()).toMatch(/^CI 0\.\d{3}–0\.\d{3} · n=4,000$/)
    expect(await loan.locator('td[data-label="Disparate impact ratio"]').textContent()).toContain('0.750')

    // Uncertain: beyond the warning line, the interval reaching back; status stays OK.
    const pilot = row('screening-pilot')
    expect(await pilot.getByTestId('uncertain').textContent()).toContain('Uncertain: beyond the warning line')
    expect(await pilot.getByTestId('ci').textContent()).toMatch(/ · n=20$/)

    // Insufficient data: its own badge in the disparate impact column and a sub-row saying why.
    const churn = row('churn-model')
    const badge = churn.locator('.badge.st-insufficient_data')
    expect(await badge.first().textContent()).toContain('Insufficient data')
    // A dashed edge, so the badge differs from OK and No data by more than its colour.
    const border = await badge
      .first()
      .evaluate(
        (el) =>
          (
            globalThis as unknown as { getComputedStyle(e: unknown): { borderTopStyle: string } }
          ).getComputedStyle(el).borderTopStyle,
      )
    expect(border).toBe('dashed')
    const why = await models.locator('tr.sub-row.insufficient').first().textContent()
    expect(why).toContain('insufficient data (not estimable) on: ')
    expect(why).toContain('disparate impact (region)')

    // The disparate impact tile: the worst series (the breach) with its interval.
    const tile = page.locator('[data-testid="kpi-tile"][data-kpi="model.disparate_impact_ratio"]')
    expect(await tile.getAttribute('data-status')).toBe('warning')
    expect(await tile.getByTestId('ci').textContent()).toMatch(/n=4,000/)
    // The scorecard counts insufficient data apart from ok and from no data.
    expect(await page.locator('#stat-kpis').textContent()).toMatch(/\d+ insufficient data/)

    // The ML role reads no incidents, nonconformities or dead letters: those sections, their headline
    // tiles and their links are not shown at all (rather than empty).
    for (const id of [
      'incidents-section',
      'ncs-section',
      'dead-letters-section',
      'stat-incidents',
      'stat-ncs',
    ]) {
      expect(await page.locator(`#${id}`).isHidden(), id).toBe(true)
    }
    expect(await page.locator('nav.sections a[href="/#incidents-section"]').isHidden()).toBe(true)
    expect(await page.locator('#models-section').isVisible()).toBe(true)

    await page.locator('#models-section').scrollIntoViewIfNeeded()
    mkdirSync(join(REPO_ROOT, 'test-artifacts'), { recursive: true })
    await page.screenshot({ path: SCREENSHOT, fullPage: true })
    expect(problems).toEqual([])
    await page.close()
  })
})
