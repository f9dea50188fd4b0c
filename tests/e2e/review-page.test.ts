import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { describeScenario } from '../../services/demo/generator.js'
import { loadConfig } from '../../shared/config/env.js'
import { createKafka } from '../../shared/kafka/client.js'
import { enabledKpis } from '../../shared/kpi/thresholds.js'
import { createLogger } from '../../shared/logger.js'
import { apiGet, bearer, localAdminToken, loginLink } from '../helpers/api.js'
import { REPO_ROOT } from '../helpers/pipeline.js'

/**
 * The review page end to end, as a user gets it: the run command itself (`npm start`'s entry point) as a
 * child process with its own local Kafka broker, embedded ClickHouse under a temporary DATA_DIR and the
 * demo feed; a headless Chromium opens the page and waits for the demo's four-fifths-rule breach. The
 * page must fit a laptop (1280 px) and a phone (390 px): screenshots of both land in test-artifacts/.
 * Then Ctrl-C (SIGINT) must stop everything (exit 0, no JVM left behind), and a second start on the same
 * DATA_DIR must still have the first run's KPI history.
 *
 * The test asserts behaviour, not speed (latency belongs in the benchmark): every wait below is a
 * generous bound that only turns a hang into a failure, sized for a 2-core machine that also runs the
 * rest of the suite. How long things took is printed as figures, not asserted.
 */

const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts')
/** Start-up of the run command, broker included. */
const READY_BOUND_MS = 180_000
/** From ready to the demo's breach on the page: the demo history is ingested and evaluated first. */
const BREACH_BOUND_MS = 120_000
/** Anything else the page should show once its data exists (a few 5 s refreshes). */
const PAGE_BOUND_MS = 60_000
/** SIGINT to exit; the run command itself gives up after 10 s (SHUTDOWN_DEADLINE_MS). */
const STOP_BOUND_MS = 20_000
const TEST_BOUND_MS = 2 * READY_BOUND_MS + BREACH_BOUND_MS + 8 * PAGE_BOUND_MS + 2 * STOP_BOUND_MS

/** What the test reads from the page's global scope. */
interface BrowserElement {
  textContent: string | null
  getBoundingClientRect(): { left: number; right: number; width: number }
  closest(selector: string): BrowserElement | null
}
interface BrowserGlobals {
  __sameDocument?: boolean
  Chart?: {
    getChart?(canvas: unknown): { scales: { x: { ticks: { label?: unknown }[] } } } | undefined
  }
  document: {
    querySelector(selector: string): BrowserElement | null
    querySelectorAll(selector: string): Iterable<BrowserElement>
    documentElement: { clientWidth: number; scrollWidth: number }
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

interface Run {
  child: ChildProcess
  output: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** ms from spawn to the "ready" line. */
  readyMs: number
  readyAt: number
  kafkaPid: number | undefined
  /** The local broker's address, from its "ready at" line. */
  brokers: string
}

/** Starts the run command and resolves on its "ready" banner. */
async function start(env: Record<string, string>): Promise<Run> {
  const childEnv: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) childEnv[k] = v
  // Nothing of the test run's own infrastructure leaks in: the run command starts its own broker.
  for (const k of Object.keys(childEnv)) {
    if (
      /^(KAFKA_|CLICKHOUSE_|REDIS_|AIMS_|DEMO|HTTP_|PUBLIC_BASE_URL|DATA_DIR|LOG_|NODE_OPTIONS|VITEST)/.test(
        k,
      )
    )
      delete childEnv[k]
  }
  const startedAt = Date.now()
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/all-in-one/main.ts'], {
    cwd: REPO_ROOT,
    env: { ...childEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-200_000)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  )
  process.once('exit', () => child.kill('SIGKILL'))

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`not ready after ${READY_BOUND_MS} ms:\n${out.slice(-4000)}`)),
      READY_BOUND_MS,
    )
    const check = () => {
      if (/AIMS KPI pipeline ready in/.test(out)) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout!.on('data', check)
    void exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`exited (${code ?? signal}) before ready:\n${out.slice(-4000)}`))
    })
  })
  const readyAt = Date.now()
  const pid = /Kafka [\d.]+ ready at \S+ in \d+ ms \(pid (\d+)\)/.exec(out)?.[1]
  return {
    child,
    output: () => out,
    exited,
    readyMs: readyAt - startedAt,
    readyAt,
    kafkaPid: pid ? Number(pid) : undefined,
    brokers: /Kafka [\d.]+ ready at (\S+) in/.exec(out)?.[1] ?? '',
  }
}

/** Sends SIGINT and returns how long the process took to exit, and its exit code. */
async function stop(run: Run): Promise<{ ms: number; code: number | null; signal: NodeJS.Signals | null }> {
  const t0 = Date.now()
  run.child.kill('SIGINT')
  const result = await Promise.race([
    run.exited,
    new Promise<undefined>((r) => setTimeout(() => r(undefined), STOP_BOUND_MS)),
  ])
  if (!result) {
    run.child.kill('SIGKILL')
    throw new Error(`did not exit within ${STOP_BOUND_MS} ms of SIGINT:\n${run.output().slice(-4000)}`)
  }
  return { ms: Date.now() - t0, ...result }
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Command lines of the Kafka JVMs whose arguments mention `dataDir`. */
function brokersUsing(dataDir: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', 'kafka.Kafka'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes(dataDir))
  } catch {
    return [] // pgrep exits 1 when nothing matches
  }
}

/** Sends raw values (valid or not) to a topic, as a misbehaving producer would. */
async function produceRaw(brokers: string, topic: string, values: string[]): Promise<void> {
  const kafka = createKafka(
    loadConfig({ KAFKA_CLIENT_ID: 'e2e-raw' }),
    [brokers],
    createLogger({ LOG_LEVEL: 'silent', LOG_FORMAT: 'json' }),
  )
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  try {
    await producer.send({ topic, acks: -1, messages: values.map((value) => ({ value })) })
  } finally {
    await producer.disconnect()
  }
}

/**
 * The page fits `width`: nothing scrolls sideways, no card, tile or panel sticks out of the viewport,
 * and every model version's status cell is fully in view horizontally (not scrolled or cut away).
 */
async function expectFits(page: Page, width: number): Promise<void> {
  const report = await page.evaluate(() => {
    const g = globalThis as unknown as BrowserGlobals
    const vw = g.document.documentElement.clientWidth
    const out = (sel: string) =>
      [...g.document.querySelectorAll(sel)]
        .filter((el) => {
          const r = el.getBoundingClientRect()
          return r.width > 0 && (r.left < -1 || r.right > vw + 1)
        })
        .map((el) => `${sel}: ${el.textContent?.trim().slice(0, 40)}`)
    const status = [...g.document.querySelectorAll('[data-testid="model-status"]')].map((el) => {
      const r = el.getBoundingClientRect()
      const box = el.closest('.table-scroll')?.getBoundingClientRect()
      return (
        r.width > 0 && r.left >= 0 && r.right <= vw && (!box || (r.left >= box.left && r.right <= box.right))
      )
    })
    return {
      vw,
      scrollWidth: g.document.documentElement.scrollWidth,
      outside: [...out('.panel'), ...out('.stat'), ...out('.tile'), ...out('[data-testid="breach-row"]')],
      status,
    }
  })
  expect(report.vw).toBe(width)
  expect(report.scrollWidth, 'the page scrolls sideways').toBeLessThanOrEqual(width)
  expect(report.outside).toEqual([])
  expect(report.status.length).toBeGreaterThan(0)
  expect(report.status.every(Boolean), 'every model status in view').toBe(true)
}

describe('review page end to end: the run command, a browser, Ctrl-C and a restart', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'aims-e2e-review-'))
  const redisPrefix = `aims-e2e:${process.pid}_${randomBytes(3).toString('hex')}`
  let browser: Browser
  let port: number
  let base: string
  const times: Record<string, string> = {}
  const runs: Run[] = []

  const env = (demo: boolean) => ({
    DATA_DIR: dataDir,
    HTTP_PORT: String(port),
    PUBLIC_BASE_URL: base,
    KAFKA_LOCAL_PORT: '0',
    REDIS_URL: inject('redisUrl'),
    REDIS_PREFIX: redisPrefix,
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'info',
    DEMO: String(demo),
    SUMMARY_INTERVAL_S: '0',
  })

  beforeAll(async () => {
    port = await freePort()
    base = `http://127.0.0.1:${port}`
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
  })

  afterAll(async () => {
    for (const r of runs)
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL')
    await browser?.close()
    process.stderr.write(
      `[e2e review page] ${Object.entries(times)
        .map(([k, v]) => `${k}: ${v}`)
        .join(' · ')}\n`,
    )
    rmSync(dataDir, { recursive: true, force: true })
    // The runs' BullMQ keys in the shared Redis.
    const redis = new Redis(inject('redisUrl'), { lazyConnect: true, maxRetriesPerRequest: 1 })
    try {
      await redis.connect()
      const keys: string[] = []
      let cursor = '0'
      do {
        const [next, batch] = await redis.scan(cursor, 'MATCH', `${redisPrefix}*`, 'COUNT', 1000)
        cursor = next
        keys.push(...batch)
      } while (cursor !== '0')
      if (keys.length) await redis.del(...keys)
    } catch {
      // best effort
    } finally {
      redis.disconnect()
    }
  })

  it(
    'shows the breach, fits 1280 and 390 px, stops cleanly, keeps its history',
    async () => {
      const scenario = describeScenario().models.drifting

      // ----- first run: the demo feed -----
      const first = await start(env(true))
      runs.push(first)
      times.ready = `${(first.readyMs / 1000).toFixed(1)} s`
      expect(first.kafkaPid, 'the local broker logs its pid').toBeGreaterThan(0)
      expect(brokersUsing(dataDir), 'its JVM runs on this DATA_DIR').toHaveLength(1)

      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
      const problems: string[] = []
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`))
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console: ${m.text()}`)
      })
      // Signing in: the banner's link holds the admin token kept (mode 0600) under DATA_DIR; logs never do.
      const token = localAdminToken(dataDir)
      expect(first.output()).toContain(loginLink(base, token))
      const anonymous = await apiGet(base, '/api/views/scorecard')
      expect(anonymous.status, 'the API needs a credential').toBe(401)
      await page.goto(loginLink(base, token))
      await page.waitForURL(`${base}/`)
      expect(page.url(), 'the token leaves the address bar').not.toContain(token)
      const scorecard = page.getByTestId('scorecard')
      const breachRow = page
        .locator(`[data-testid="breach-row"][data-kpi="model.disparate_impact_ratio"]`)
        .filter({ hasText: scenario.modelId })
      await scorecard.locator('[data-testid="kpi-tile"]').first().waitFor({ timeout: PAGE_BOUND_MS })
      await breachRow.first().waitFor({ timeout: BREACH_BOUND_MS })
      times['first breach visible'] = `${((Date.now() - first.readyAt) / 1000).toFixed(1)} s after ready`

      // The breach row says what breached, where, and links to its history.
      const row = breachRow.first()
      await expect(row.textContent()).resolves.toContain(scenario.latestVersion)
      await expect(row.textContent()).resolves.toContain(scenario.breachedAttribute)
      const href = await row.locator('a').getAttribute('href')
      expect(href).toMatch(/^\/review\/breaches\/[0-9a-f]+-\d+$/)

      // The scorecard: every KPI of the catalog, each with a status in words and its ISO references.
      const tiles = scorecard.locator('[data-testid="kpi-tile"]')
      expect(await tiles.count()).toBe(enabledKpis(undefined).length)
      // The scorecard and the breach list are fetched side by side: the tile may show the breach one
      // refresh after the row does.
      const dirTile = scorecard.locator('[data-kpi="model.disparate_impact_ratio"]')
      await scorecard
        .locator(
          '[data-kpi="model.disparate_impact_ratio"][data-status="warning"], [data-kpi="model.disparate_impact_ratio"][data-status="critical"]',
        )
        .waitFor({ timeout: PAGE_BOUND_MS })
      await expect(dirTile.getAttribute('data-status')).resolves.toMatch(/warning|critical/)
      const text = (await scorecard.textContent()) ?? ''
      expect(text).toContain('ISO 27001')
      expect(text).toContain('ISO 42001')
      expect(text).toMatch(/A\.5\.24/) // incident management (27001 Annex A)
      expect(text).toMatch(/A\.6\.2\.6/) // AI system operation and monitoring (42001 Annex A)
      expect(text).toMatch(/Warning|Critical/)

      // It updates without a reload: the "updated" clock moves while the document stays the same.
      // (Functions passed to the page run in the browser: only globalThis there, no Node types here.)
      await page.evaluate(() => {
        ;(globalThis as unknown as BrowserGlobals).__sameDocument = true
      })
      const before = await page.getByTestId('updated').textContent()
      await page.waitForFunction(
        (prev) =>
          (globalThis as unknown as BrowserGlobals).document.querySelector('[data-testid="updated"]')
            ?.textContent !== prev,
        before,
        { timeout: PAGE_BOUND_MS },
      )
      expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobals).__sameDocument)).toBe(true)

      // Charts drew (Chart.js, not hand-made SVG) and the live-data sections filled in.
      expect(await page.locator('canvas#models-chart').count()).toBe(1)
      expect(await page.evaluate(() => typeof (globalThis as unknown as BrowserGlobals).Chart)).toBe(
        'function',
      )
      await page
        .locator('[data-testid="incident-clock"][data-incident="INC-2417"]')
        .waitFor({ timeout: PAGE_BOUND_MS })
      await page
        .locator('[data-testid="nc-row"][data-clause="A.6.2.6"]')
        .first()
        .waitFor({ timeout: PAGE_BOUND_MS })

      // The value now and the value when the breach fired are two labelled columns.
      const headers = (await page.getByTestId('breaches-table').locator('thead th').allTextContents()).map(
        (t) => t.trim(),
      )
      expect(headers).toContain('Value now')
      expect(headers).toContain('Value when it fired')
      await expect(row.getByTestId('value-at-firing').textContent()).resolves.toMatch(/^0\.\d{3}$/)
      await page.waitForFunction(
        () =>
          /^0\.\d{3}/.test(
            (globalThis as unknown as BrowserGlobals).document.querySelector(
              '[data-testid="breach-row"][data-kpi="model.disparate_impact_ratio"] [data-testid="value-now"]',
            )?.textContent ?? '',
          ),
        undefined,
        { timeout: PAGE_BOUND_MS },
      )

      // Dead letters: refused messages with their reasons, and never their bytes.
      const secret = `payload-${randomBytes(6).toString('hex')}`
      await produceRaw(first.brokers, 'aims.privacy-incidents.v1', [
        '{"specversion":"1.0","id":"x-1"',
        JSON.stringify({
          specversion: '1.0',
          id: secret,
          source: '/t',
          type: 'aims.vendor_assessment.v1',
          time: '2026-01-01T00:00:00Z',
          data: { note: secret },
        }),
      ])
      const deadRows = page.getByTestId('dead-letter-row')
      await deadRows
        .filter({ hasText: 'aims.vendor_assessment.v1' })
        .first()
        .waitFor({ timeout: PAGE_BOUND_MS })
      await deadRows
        .filter({ hasText: 'value is not valid JSON' })
        .first()
        .waitFor({ timeout: PAGE_BOUND_MS })
      const deadText = (await page.locator('#dead-letters-section').textContent()) ?? ''
      expect(deadText).toContain('aims.privacy-incidents.v1')
      expect(deadText).toMatch(/Not JSON|Unknown event type/)
      expect(await page.content(), 'no refused payload reaches the page').not.toContain(secret)

      // Laptop width: no horizontal scrolling, and every model version's status in view.
      mkdirSync(ARTIFACTS, { recursive: true })
      await page.locator('[data-testid="model-status"]').first().waitFor({ timeout: PAGE_BOUND_MS })
      await expectFits(page, 1280)
      await page.screenshot({ path: join(ARTIFACTS, 'review-page-1280.png'), fullPage: true })

      // The alert link target: that breach's transitions (and delivery attempts), same page, no reload.
      await row.locator('a').click()
      await page.locator('[data-testid="transition-row"]').first().waitFor({ timeout: PAGE_BOUND_MS })
      expect(page.url()).toBe(`${base}${href}`)
      await expect(page.locator('#breach-title').textContent()).resolves.toContain('Disparate impact ratio')
      const facts = (await page.locator('#breach-facts').textContent()) ?? ''
      expect(facts).toContain('Value when it fired')
      expect(facts).toContain('Value now')
      // The history chart's time axis never shows the same label twice.
      await page.waitForFunction(
        () => {
          const g = globalThis as unknown as BrowserGlobals
          const chart = g.Chart?.getChart?.(g.document.querySelector('#history-chart'))
          return (chart?.scales?.x?.ticks?.length ?? 0) > 1
        },
        undefined,
        { timeout: PAGE_BOUND_MS },
      )
      const ticks = await page.evaluate(() => {
        const g = globalThis as unknown as BrowserGlobals
        const chart = g.Chart!.getChart!(g.document.querySelector('#history-chart'))!
        return chart.scales.x.ticks.map((t) => String(t.label ?? ''))
      })
      const labelled = ticks.filter((t) => t !== '')
      expect(labelled.length).toBeGreaterThan(1)
      expect(new Set(labelled).size, labelled.join(' | ')).toBe(labelled.length)
      expect(problems).toEqual([])
      await page.close()

      // Phone width: the same page without sideways scrolling; tables become labelled cards.
      const phone = await browser.newPage({
        viewport: { width: 390, height: 844 },
        isMobile: true,
        hasTouch: true,
      })
      await phone.goto(loginLink(base, token))
      await phone.waitForURL(`${base}/`)
      await phone.locator('[data-testid="breach-row"]').first().waitFor({ timeout: PAGE_BOUND_MS })
      await phone.locator('[data-testid="model-status"]').first().waitFor({ timeout: PAGE_BOUND_MS })
      await phone.getByTestId('dead-letter-row').first().waitFor({ timeout: PAGE_BOUND_MS })
      await expectFits(phone, 390)
      await phone.screenshot({ path: join(ARTIFACTS, 'review-page-390.png'), fullPage: true })
      await phone.close()

      const firstRunEnd = new Date().toISOString()
      const stopped = await stop(first)
      times['stop (SIGINT → exit)'] = `${(stopped.ms / 1000).toFixed(1)} s`
      expect(stopped, first.output().slice(-3000)).toMatchObject({ code: 0, signal: null })
      expect(isAlive(first.kafkaPid!), 'the broker JVM is gone').toBe(false)
      expect(brokersUsing(dataDir)).toEqual([])

      // ----- second run, same DATA_DIR, no demo feed: what the first run computed is still there -----
      const second = await start(env(false))
      runs.push(second)
      times['ready (restart)'] = `${(second.readyMs / 1000).toFixed(1)} s`
      expect(localAdminToken(dataDir), 'the same admin token after a restart').toBe(token)
      const history = await fetch(
        `${base}/api/kpis/model.disparate_impact_ratio/history?to=${encodeURIComponent(firstRunEnd)}&limit=10000`,
        { headers: bearer(token) },
      ).then(
        (r) => r.json() as Promise<{ points: { evaluated_at: string; scope: Record<string, string> }[] }>,
      )
      const ours = history.points.filter((p) => p.scope.model_id === scenario.modelId)
      expect(ours.length).toBeGreaterThan(0)
      expect(ours.every((p) => Date.parse(p.evaluated_at) <= Date.parse(firstRunEnd))).toBe(true)

      const again = await browser.newPage({ viewport: { width: 1280, height: 900 } })
      await again.goto(loginLink(base, token))
      await again.waitForURL(`${base}/`)
      await again
        .getByTestId('scorecard')
        .locator('[data-testid="kpi-tile"]')
        .first()
        .waitFor({ timeout: PAGE_BOUND_MS })
      await again
        .locator('[data-testid="breach-row"][data-kpi="model.disparate_impact_ratio"]')
        .filter({ hasText: scenario.modelId })
        .first()
        .waitFor({ timeout: PAGE_BOUND_MS })
      await again.close()

      const stoppedAgain = await stop(second)
      times['stop (restart)'] = `${(stoppedAgain.ms / 1000).toFixed(1)} s`
      expect(stoppedAgain, second.output().slice(-3000)).toMatchObject({ code: 0, signal: null })
      expect(isAlive(second.kafkaPid!)).toBe(false)
      expect(brokersUsing(dataDir)).toEqual([])
    },
    TEST_BOUND_MS,
  )
})
