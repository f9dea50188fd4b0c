import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { describeScenario } from '../../services/demo/generator.js'
import { apiGet, localAdminToken, loginLink } from '../helpers/api.js'
import { waitFor } from '../helpers/infra.js'
import { REPO_ROOT } from '../helpers/pipeline.js'

/**
 * The review page end to end, as a user gets it: the run command itself (`npm start`'s entry point) as a
 * child process with its own local Kafka broker, embedded ClickHouse under a temporary DATA_DIR and the
 * demo feed; a headless Chromium signs in with the link the run command prints (its generated admin
 * token), opens the page and waits for the demo's four-fifths-rule breach. Then
 * Ctrl-C (SIGINT) must stop everything (exit 0, no JVM left behind), and a second start on the same
 * DATA_DIR must still have the first run's KPI history.
 */

const CHROMIUM = '/usr/bin/chromium'
const SCREENSHOT = join(REPO_ROOT, 'test-artifacts', 'review-page.png')
const READY_TIMEOUT_MS = 60_000
const BREACH_TIMEOUT_MS = 30_000
const STOP_TIMEOUT_MS = 10_000

/** What the test reads from the page's global scope. */
interface BrowserGlobals {
  __sameDocument?: boolean
  Chart?: unknown
  document: { querySelector(selector: string): { textContent: string | null } | null }
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
      () => reject(new Error(`not ready after ${READY_TIMEOUT_MS} ms:\n${out.slice(-4000)}`)),
      READY_TIMEOUT_MS,
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
  }
}

/** Sends SIGINT and returns how long the process took to exit, and its exit code. */
async function stop(run: Run): Promise<{ ms: number; code: number | null; signal: NodeJS.Signals | null }> {
  const t0 = Date.now()
  run.child.kill('SIGINT')
  const result = await Promise.race([
    run.exited,
    new Promise<undefined>((r) => setTimeout(() => r(undefined), STOP_TIMEOUT_MS + 2_000)),
  ])
  if (!result) {
    run.child.kill('SIGKILL')
    throw new Error(`did not exit within ${STOP_TIMEOUT_MS} ms of SIGINT:\n${run.output().slice(-4000)}`)
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

  it('shows the scorecard and the four-fifths breach within 30 s of ready, stops cleanly, and keeps its history', async () => {
    const scenario = describeScenario().models.drifting

    // ----- first run: the demo feed -----
    const first = await start(env(true))
    runs.push(first)
    times.ready = `${(first.readyMs / 1000).toFixed(1)} s`
    expect(first.kafkaPid, 'the local broker logs its pid').toBeGreaterThan(0)
    expect(brokersUsing(dataDir), 'its JVM runs on this DATA_DIR').toHaveLength(1)

    // Signing in: the banner's link holds the admin token kept (mode 0600) under DATA_DIR; logs never do.
    const token = localAdminToken(dataDir)
    const link = await waitFor(
      'the sign-in link in the banner',
      () => /sign in +(\S+)/.exec(first.output())?.[1],
    )
    expect(link).toBe(loginLink(base, token))
    const logLines = first
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
    expect(logLines.length).toBeGreaterThan(0)
    expect(logLines.filter((l) => l.includes(token))).toEqual([])
    expect((await apiGet(base, '/api/views/scorecard')).status).toBe(401)
    const anonymous = await apiGet(base, '/')
    expect([anonymous.status, anonymous.headers.get('location')]).toEqual([303, '/login#next=%2F'])

    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } })
    const problems: string[] = []
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`))
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`)
    })
    // The banner's link signs the browser in and opens the page.
    await page.goto(loginLink(base, token))
    await page.waitForURL(`${base}/`)
    expect(page.url(), 'the token leaves the address bar').not.toContain(token)
    const scorecard = page.getByTestId('scorecard')
    const breachRow = page
      .locator(`[data-testid="breach-row"][data-kpi="model.disparate_impact_ratio"]`)
      .filter({ hasText: scenario.modelId })
    const deadline = first.readyAt + BREACH_TIMEOUT_MS
    await scorecard
      .locator('[data-testid="kpi-tile"]')
      .first()
      .waitFor({ timeout: deadline - Date.now() })
    await breachRow.first().waitFor({ timeout: Math.max(1, deadline - Date.now()) })
    times['first breach visible'] = `${((Date.now() - first.readyAt) / 1000).toFixed(1)} s after ready`

    // The breach row says what breached, where, and links to its history.
    const row = breachRow.first()
    await expect(row.textContent()).resolves.toContain(scenario.latestVersion)
    await expect(row.textContent()).resolves.toContain(scenario.breachedAttribute)
    const href = await row.locator('a').getAttribute('href')
    expect(href).toMatch(/^\/review\/breaches\/[0-9a-f]+-\d+$/)

    // The scorecard: every KPI of the catalog, each with a status in words and its ISO references.
    const tiles = scorecard.locator('[data-testid="kpi-tile"]')
    expect(await tiles.count()).toBe(21)
    const dirTile = scorecard.locator('[data-kpi="model.disparate_impact_ratio"]')
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
      { timeout: 12_000 },
    )
    expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobals).__sameDocument)).toBe(true)

    // Charts drew (Chart.js, not hand-made SVG) and the live-data sections filled in.
    expect(await page.locator('canvas#models-chart').count()).toBe(1)
    expect(await page.evaluate(() => typeof (globalThis as unknown as BrowserGlobals).Chart)).toBe('function')
    await page
      .locator('[data-testid="incident-clock"][data-incident="INC-2417"]')
      .waitFor({ timeout: 10_000 })
    await page.locator('[data-testid="nc-row"][data-clause="A.6.2.6"]').first().waitFor({ timeout: 10_000 })

    mkdirSync(join(REPO_ROOT, 'test-artifacts'), { recursive: true })
    await page.waitForTimeout(500)
    await page.screenshot({ path: SCREENSHOT, fullPage: true })

    // The alert link target: that breach's transitions (and delivery attempts), same page, no reload.
    await row.locator('a').click()
    await page.locator('[data-testid="transition-row"]').first().waitFor({ timeout: 10_000 })
    expect(page.url()).toBe(`${base}${href}`)
    await expect(page.locator('#breach-title').textContent()).resolves.toContain('Disparate impact ratio')
    expect(problems).toEqual([])
    await page.close()

    const firstRunEnd = new Date().toISOString()
    const stopped = await stop(first)
    times['stop (SIGINT → exit)'] = `${(stopped.ms / 1000).toFixed(1)} s`
    expect(stopped, first.output().slice(-3000)).toMatchObject({ code: 0, signal: null })
    expect(stopped.ms).toBeLessThan(STOP_TIMEOUT_MS)
    expect(isAlive(first.kafkaPid!), 'the broker JVM is gone').toBe(false)
    expect(brokersUsing(dataDir)).toEqual([])

    // ----- second run, same DATA_DIR, no demo feed: what the first run computed is still there -----
    const second = await start(env(false))
    runs.push(second)
    times['ready (restart)'] = `${(second.readyMs / 1000).toFixed(1)} s`
    expect(localAdminToken(dataDir), 'the same admin token after a restart').toBe(token)
    const history: { points: { evaluated_at: string; scope: Record<string, string> }[] } = (
      await apiGet(
        base,
        `/api/kpis/model.disparate_impact_ratio/history?to=${encodeURIComponent(firstRunEnd)}&limit=10000`,
        token,
      )
    ).body
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
      .waitFor({ timeout: 20_000 })
    await again
      .locator('[data-testid="breach-row"][data-kpi="model.disparate_impact_ratio"]')
      .filter({ hasText: scenario.modelId })
      .first()
      .waitFor({ timeout: 20_000 })
    await again.close()

    const stoppedAgain = await stop(second)
    times['stop (restart)'] = `${(stoppedAgain.ms / 1000).toFixed(1)} s`
    expect(stoppedAgain).toMatchObject({ code: 0, signal: null })
    expect(isAlive(second.kafkaPid!)).toBe(false)
    expect(brokersUsing(dataDir)).toEqual([])
  }, 150_000)
})
