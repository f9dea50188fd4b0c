import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Redis } from 'ioredis'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mountReviewPage } from '../../../services/processor/review-page/mount.js'
import { mountReviewPackApi } from '../../../services/review-pack/api.js'
import { PackJobs } from '../../../services/review-pack/jobs.js'
import { type ClickHouse, createClickHouse } from '../../../shared/clickhouse/client.js'
import { migrate } from '../../../shared/clickhouse/migrate.js'
import { loadConfig } from '../../../shared/config/env.js'
import { Health } from '../../../shared/http/health.js'
import { HttpServer } from '../../../shared/http/server.js'
import { KPIS } from '../../../shared/kpi/catalog.js'
import { createLogger } from '../../../shared/logger.js'
import { createRedis } from '../../../shared/redis/client.js'
import { apiGet, bearer, type Json, loginLink, testAuth } from '../../helpers/api.js'

/**
 * The review pack routes on a real listener with real tokens: who may generate, read, verify and record
 * (each role checked), bad input answered 400 naming the field, and the pack's page opened in headless
 * Chromium under its own Content-Security-Policy, its first page captured as a screenshot; the review
 * page lists the packs, linked, for the roles that read them and not for the others.
 * REVIEW_PACK_SCREENSHOT=<file.png> also writes that screenshot there (how docs/review-pack.png is made).
 */

const CHROMIUM = '/usr/bin/chromium'
const dataDir = mkdtempSync(join(tmpdir(), 'aims-review-pack-api-'))
const auth = testAuth()
const log = createLogger({ LOG_LEVEL: 'silent', LOG_FORMAT: 'json' })
let ch: ClickHouse
let http: HttpServer
let base: string
let redis: Redis
/** A second server over the same storage that never waits for a job: every heavy request answers 202. */
let asyncHttp: HttpServer
let asyncBase: string
const redisPrefix = `aims-test:pack-api-${process.pid}-${Date.now()}`
let browser: Browser | undefined

const at = (iso: string) => iso.replace('T', ' ').replace('Z', '')

async function post(path: string, token: string | undefined, body: unknown) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { ...bearer(token), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as Json }
}

beforeAll(async () => {
  ch = await createClickHouse(
    loadConfig({
      CLICKHOUSE_DATA_DIR: dataDir,
      CLICKHOUSE_DATABASE: `pack_api_${process.pid}`,
      LOG_LEVEL: 'warn',
    }),
  )
  await migrate(ch)
  await ch.client.insert({
    table: 'audit_finding_events',
    format: 'JSONEachRow',
    values: [
      {
        event_id: 'afe-1',
        event_time: at('2026-08-10T00:00:00Z'),
        ingested_at: at('2026-08-10T00:00:01Z'),
        source: 'test',
        finding_id: 'F-1',
        audit_id: 'AUD-1',
        audit_type: 'certification',
        standard: 'ISO42001',
        clause: '8.4',
        kind: 'major_nc',
        status: 'open',
        business_unit: 'bu',
        title: 'AI impact assessment missing',
        owner: 'ml-lead',
        raised_at: at('2026-08-10T00:00:00Z'),
        due_at: at('2026-09-10T00:00:00Z'),
        closed_at: null,
        repeat_of: '',
      },
    ],
  })
  http = new HttpServer(new Health(), log, { auth: auth.authenticator })
  redis = createRedis(loadConfig({ REDIS_PREFIX: redisPrefix }), 'producer')
  mountReviewPackApi(http, { ch, config: undefined, clock: () => new Date(), redis, redisPrefix, log })
  mountReviewPage(http, {
    ch,
    kpis: KPIS,
    config: undefined,
    currentWindowMs: 3_600_000,
    clock: () => new Date(),
  })
  ;({ url: base } = await http.listen('127.0.0.1', 0))
  asyncHttp = new HttpServer(new Health(), log, { auth: auth.authenticator })
  mountReviewPackApi(asyncHttp, {
    ch,
    config: undefined,
    clock: () => new Date(),
    redis,
    redisPrefix,
    log,
    syncWaitMs: 0,
  })
  ;({ url: asyncBase } = await asyncHttp.listen('127.0.0.1', 0))
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await http?.close()
  await asyncHttp?.close()
  if (redis) {
    const keys = await redis.keys(`${redisPrefix}:*`)
    if (keys.length > 0) await redis.del(...keys)
    redis.disconnect()
  }
  await ch?.close()
  rmSync(dataDir, { recursive: true, force: true })
})

describe('review pack API', () => {
  let packId: string

  it('lets auditors and admins generate a pack, nobody else', async () => {
    for (const role of ['executive', 'ml', 'security', 'metrics'] as const) {
      expect((await post('/api/review-packs', auth.tokens[role], { period: '2026-Q3' })).status, role).toBe(
        403,
      )
    }
    expect((await post('/api/review-packs', undefined, { period: '2026-Q3' })).status).toBe(401)
    const bad = await post('/api/review-packs', auth.tokens.auditor, { period: '2026-Q5' })
    expect(bad.status).toBe(400)
    expect(JSON.stringify(bad.body.reasons)).toMatch(/period/)
    const extra = await post('/api/review-packs', auth.tokens.auditor, { period: '2026-Q3', x: 1 })
    expect(extra.status).toBe(400)
    const made = await post('/api/review-packs', auth.tokens.auditor, { period: '2026-Q3' })
    expect(made.status).toBe(201)
    expect(made.body.sha256).toMatch(/^[0-9a-f]{64}$/)
    packId = made.body.packId
    expect(packId).toMatch(/^2026-Q3-\d{8}T\d{6}Z$/)
  }, 120_000)

  it('lets the review readers list, read and verify it', async () => {
    expect((await apiGet(base, '/api/review-packs', auth.tokens.ml)).status).toBe(403)
    const list = await apiGet(base, '/api/review-packs', auth.tokens.executive)
    expect(list.status).toBe(200)
    expect(list.body.packs).toEqual([expect.objectContaining({ packId, period: '2026-Q3', reviewed: false })])
    const one = await apiGet(base, `/api/review-packs/${packId}`, auth.tokens.executive)
    expect(one.status).toBe(200)
    expect(one.body.auditResults.ISO42001).toEqual([
      { auditType: 'certification', kind: 'major_nc', findings: 1, audits: 1 },
    ])
    expect(one.body.manifest.figures.length).toBeGreaterThan(0)
    expect((await apiGet(base, '/api/review-packs/nope', auth.tokens.executive)).status).toBe(400)
    expect((await apiGet(base, '/api/review-packs/2026-Q1-20260101T000000Z', auth.tokens.admin)).status).toBe(
      404,
    )
    const verified = await apiGet(base, `/api/review-packs/${packId}/verify`, auth.tokens.auditor)
    expect(verified.body).toMatchObject({ ok: true, differences: [] })
  }, 120_000)

  it('lets executives and admins record the review, naming a bad field', async () => {
    const record = {
      heldOn: '2026-10-10',
      attendees: [{ name: 'A. Chief', role: 'CEO' }],
      decisions: ['Complete the AI impact assessment before the surveillance audit'],
      actions: [{ id: 'MR-1', title: 'Impact assessment for credit', owner: 'ml-lead', due: '2026-11-30' }],
    }
    expect((await post(`/api/review-packs/${packId}/record`, auth.tokens.auditor, record)).status).toBe(403)
    const bad = await post(`/api/review-packs/${packId}/record`, auth.tokens.executive, {
      ...record,
      attendees: [],
    })
    expect(bad.status).toBe(400)
    expect(JSON.stringify(bad.body.reasons)).toMatch(/attendees/)
    const ok = await post(`/api/review-packs/${packId}/record`, auth.tokens.executive, record)
    expect(ok.status).toBe(201)
    const list = await apiGet(base, '/api/review-packs', auth.tokens.executive)
    expect(list.body.packs[0].reviewed).toBe(true)
  }, 120_000)

  it('serves the page, which headless Chromium renders under its own policy', async () => {
    const page = await apiGet(base, `/api/review-packs/${packId}?format=html`, auth.tokens.executive)
    expect(page.type).toMatch(/text\/html/)
    expect(page.headers.get('content-security-policy')).toMatch(/style-src 'sha256-/)
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
      ],
    })
    const context = await browser.newContext({
      extraHTTPHeaders: bearer(auth.tokens.executive),
      viewport: { width: 900, height: 1270 },
    })
    const tab = await context.newPage()
    const blocked: string[] = []
    tab.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) blocked.push(m.text())
    })
    await tab.goto(`${base}/api/review-packs/${packId}?format=html`)
    await tab.emulateMedia({ media: 'print' })
    await expect(tab.locator('h1').textContent()).resolves.toContain('Management review pack — 2026-Q3')
    // The inline style applied (the policy allows it by hash): section headings carry their border.
    // (A string: the function runs in the page, where the DOM's types are, not in this Node program.)
    const border = await tab.evaluate("getComputedStyle(document.querySelector('h2')).borderBottomStyle")
    expect(border).toBe('solid')
    expect(blocked).toEqual([])
    const shot = await tab.screenshot({ fullPage: false })
    expect(shot.subarray(1, 4).toString('latin1')).toBe('PNG')
    expect(shot.length).toBeGreaterThan(10_000)
    if (process.env.REVIEW_PACK_SCREENSHOT) writeFileSync(process.env.REVIEW_PACK_SCREENSHOT, shot)
  }, 120_000)

  it('answers 202 with a job to poll when the work outlasts the wait, and runs one job at a time', async () => {
    const postTo = async (url: string, token: string, body: unknown) => {
      const res = await fetch(`${asyncBase}${url}`, {
        method: 'POST',
        headers: { ...bearer(token), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
      return { status: res.status, body: (await res.json()) as Json, location: res.headers.get('location') }
    }
    const finished = async (jobPoll: string): Promise<Json> => {
      for (let i = 0; i < 900; i++) {
        const job = (await apiGet(asyncBase, jobPoll, auth.tokens.executive)).body
        if (job.status !== 'running') return job
        await new Promise((r) => setTimeout(r, 200))
      }
      throw new Error(`${jobPoll} still running after 180 s`)
    }
    // Another replica's generation holds the lease: a second one is refused, naming it; a verification
    // (a reader's job) is not held up by it.
    let release!: () => void
    const other = await new PackJobs(redis, redisPrefix, undefined).start(
      'generate',
      '2026-Q1',
      'someone',
      () => new Promise<void>((r) => (release = r)),
    )
    expect(other.started).toBe(true)
    const busy = await postTo('/api/review-packs', auth.tokens.admin, { period: '2026-08' })
    expect(busy.status).toBe(409)
    expect(busy.body.error).toContain('generate 2026-Q1')
    const meanwhile = await apiGet(asyncBase, `/api/review-packs/${packId}/verify`, auth.tokens.executive)
    expect(meanwhile.status).toBe(202)
    expect(await finished(meanwhile.body.poll)).toMatchObject({ status: 'done', result: { ok: true } })
    release()
    if (other.started) expect((await other.finished).status).toBe('done')

    const started = await postTo('/api/review-packs', auth.tokens.admin, { period: '2026-08' })
    expect(started.status).toBe(202)
    const poll = `/api/review-packs/jobs/${started.body.jobId}`
    expect(started.body).toEqual({ jobId: started.body.jobId, status: 'running', poll })
    expect(started.location).toBe(poll)
    expect((await apiGet(asyncBase, poll, auth.tokens.ml)).status).toBe(403)
    const job = await finished(poll)
    expect(job).toMatchObject({ kind: 'generate', target: '2026-08', by: expect.any(String), status: 'done' })
    expect(job.result.packId).toMatch(/^2026-08-\d{8}T\d{6}Z$/)

    // Verifying goes the same way; an unknown pack is a failed job that says so.
    const verify = await apiGet(
      asyncBase,
      `/api/review-packs/${job.result.packId}/verify`,
      auth.tokens.auditor,
    )
    expect(verify.status).toBe(202)
    expect(await finished(verify.body.poll)).toMatchObject({
      status: 'done',
      result: { ok: true, differences: [] },
    })
    const missing = await apiGet(
      asyncBase,
      '/api/review-packs/2026-Q1-20260101T000000Z/verify',
      auth.tokens.auditor,
    )
    expect(missing.status).toBe(202)
    expect(await finished(missing.body.poll)).toMatchObject({
      status: 'failed',
      error: 'no such review pack',
      errorStatus: 404,
    })
    expect((await apiGet(asyncBase, '/api/review-packs/jobs/not-a-job', auth.tokens.auditor)).status).toBe(
      400,
    )
    expect(
      (
        await apiGet(
          asyncBase,
          '/api/review-packs/jobs/00000000-0000-4000-8000-000000000000',
          auth.tokens.auditor,
        )
      ).status,
    ).toBe(404)
  }, 180_000)

  it('reports a job whose process stopped as interrupted, not as running forever', async () => {
    const jobId = '11111111-1111-4111-8111-111111111111'
    await redis.set(
      `${redisPrefix}:review-pack:job:${jobId}`,
      JSON.stringify({
        jobId,
        kind: 'generate',
        target: '2026-Q2',
        by: 'gone',
        status: 'running',
        startedAt: new Date().toISOString(),
      }),
    )
    const res = await apiGet(base, `/api/review-packs/jobs/${jobId}`, auth.tokens.auditor)
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ status: 'failed', error: expect.stringMatching(/^interrupted/) })
  })

  it('lists the packs on the review page for the readers of packs only', async () => {
    const open = async (token: string) => {
      const context = await browser!.newContext()
      const tab = await context.newPage()
      const packsAnswer = tab.waitForResponse((r) => r.url().includes('/api/review-packs'))
      await tab.goto(loginLink(base, token))
      await tab.waitForURL(`${base}/`)
      return { context, tab, packsAnswer }
    }
    const executive = await open(auth.tokens.executive)
    const link = executive.tab.locator('#packs-section a', { hasText: '2026-Q3' })
    await link.waitFor({ state: 'visible' })
    expect(await link.getAttribute('href')).toBe(`/api/review-packs/${packId}?format=html`)
    await expect(executive.tab.locator('nav.sections a[href="/#packs-section"]').isVisible()).resolves.toBe(
      true,
    )
    await executive.context.close()

    const ml = await open(auth.tokens.ml)
    // The page has loaded (the models section shows for the ML team) and the packs' answer was a 403.
    await ml.tab.locator('#models-section').waitFor({ state: 'visible' })
    expect((await ml.packsAnswer).status()).toBe(403)
    await expect(ml.tab.locator('#packs-section').isVisible()).resolves.toBe(false)
    await ml.context.close()
  }, 120_000)

  it('generates and verifies packs from the review page for the roles that may, following the job', async () => {
    const open = async (token: string) => {
      const context = await browser!.newContext()
      const tab = await context.newPage()
      await tab.goto(loginLink(base, token))
      await tab.waitForURL(`${base}/`)
      await tab.locator('#packs-section').waitFor({ state: 'visible' })
      return { context, tab }
    }
    // An executive reads and verifies packs but does not generate them: no form.
    const executive = await open(auth.tokens.executive)
    await expect(executive.tab.locator('#packs-generate').isVisible()).resolves.toBe(false)
    await executive.tab.locator('[data-testid="pack-verify"]').first().click()
    await expect
      .poll(() => executive.tab.locator('#packs-message').textContent(), { timeout: 120_000 })
      .toMatch(/verified: \d+ figures recomputed, no difference/)
    await executive.context.close()

    const admin = await open(auth.tokens.admin)
    const form = admin.tab.locator('#packs-generate')
    await form.waitFor({ state: 'visible' })
    await admin.tab.locator('#packs-period').fill('2026-07')
    await admin.tab.locator('#packs-generate-button').click()
    await expect
      .poll(() => admin.tab.locator('#packs-message').textContent(), { timeout: 120_000 })
      .toMatch(/^Pack 2026-07-\d{8}T\d{6}Z generated/)
    await admin.tab.locator('#packs-body a', { hasText: '2026-07' }).waitFor({ state: 'visible' })
    await admin.context.close()
  }, 300_000)
})
