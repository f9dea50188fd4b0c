import type { Redis } from 'ioredis'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findingIdOf } from '../../../services/processor/nonconformity/finding.js'
import type { Processor } from '../../../services/processor/processor.js'
import { queryRows } from '../../../shared/clickhouse/client.js'
import { HttpServer } from '../../../shared/http/server.js'
import { topicNames } from '../../../shared/kafka/topics.js'
import { createRedis } from '../../../shared/redis/client.js'
import { loginLink, testAuth } from '../../helpers/api.js'
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

const CHROMIUM = '/usr/bin/chromium'
/** Generous bounds for a loaded machine; the page refreshes the section every 5 s. */
const PAGE_BOUND_MS = 30_000
const WAIT_MS = 60_000

/**
 * The breach page opens a nonconformity on demand: signed in as security, the breach of a critical
 * incident shows no finding and a form; submitting it sends the finding (stored by the collector) and the
 * page shows its id. An executive may read the breach but is told the role cannot open one.
 */
describe('the breach page opens a nonconformity on demand', () => {
  const auth = testAuth()
  let stack: TestStack
  let collector: Awaited<ReturnType<typeof startTestCollector>>
  let redis: Redis
  let http: HttpServer
  let processor: Processor
  let browser: Browser
  let base: string
  let breachId: string

  beforeAll(async () => {
    stack = await openStack(testConfig())
    redis = createRedis(stack.cfg, 'worker')
    http = new HttpServer(stack.health, stack.log, { auth: auth.authenticator })
    collector = await startTestCollector(stack)
    processor = await startTestProcessor(stack, { redis, http })
    base = (await http.listen('127.0.0.1', 0)).url
    await processor.ready()
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
    const now = Date.now()
    await produce(stack.kafka, topicNames(stack.cfg).privacyIncidents, [
      {
        key: 'INC-NC-PAGE',
        value: JSON.stringify(
          incidentEvent({
            incidentId: 'INC-NC-PAGE',
            status: 'detected',
            severity: 'critical',
            time: new Date(now).toISOString(),
            detectedAt: new Date(now - 3_600_000).toISOString(),
            notifiable: false,
          }),
        ),
      },
    ])
    await settled(stack)
    breachId = await waitFor(
      'the critical breach',
      async () => {
        const [row] = await queryRows<{ breach_id: string }>(
          stack.ch,
          `SELECT DISTINCT breach_id FROM breach_transitions
           WHERE kpi_id = 'privacy.incidents_opened' AND transition = 'firing'`,
        )
        return row?.breach_id
      },
      WAIT_MS,
    )
  })
  afterAll(async () => {
    await browser?.close()
    await processor?.stop()
    await http?.close()
    await collector?.stop()
    if (redis) {
      const keys = await redis.keys(`${stack.cfg.REDIS_PREFIX}:*`)
      if (keys.length > 0) await redis.del(...keys)
      redis.disconnect()
    }
    await stack?.close()
  })

  const openBreachPage = async (token: string) => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    await page.goto(`${loginLink(base, token)}&next=${encodeURIComponent(`/review/breaches/${breachId}`)}`)
    await page.waitForURL(`${base}/review/breaches/${encodeURIComponent(breachId)}`, {
      timeout: PAGE_BOUND_MS,
    })
    return { page, context }
  }

  it('tells a role that cannot open one so, and sends nothing', async () => {
    const { page, context } = await openBreachPage(auth.tokens.executive)
    try {
      await page.locator('button.nc-open').click({ timeout: PAGE_BOUND_MS })
      await expect
        .poll(() => page.getByTestId('nc-status').textContent(), { timeout: PAGE_BOUND_MS })
        .toMatch(/role cannot open/)
      expect(
        await count(
          stack.ch,
          `SELECT count() AS n FROM breach_nonconformities WHERE breach_id = {id:String}`,
          {
            id: breachId,
          },
        ),
      ).toBe(0)
    } finally {
      await context.close()
    }
  })

  it('opens it for security with the reason given, and shows the finding', async () => {
    const { page, context } = await openBreachPage(auth.tokens.security)
    try {
      await page.locator('#nc-reason').fill('second exposure this month', { timeout: PAGE_BOUND_MS })
      await page.locator('button.nc-open').click()
      const finding = page.getByTestId('nc-finding')
      await finding.waitFor({ timeout: PAGE_BOUND_MS })
      expect(await finding.textContent()).toContain(findingIdOf(breachId))
      expect(await finding.textContent()).toContain('ISO27001 A.5.24')
      const section = (await page.locator('#breach-nonconformity').textContent()) ?? ''
      expect(section).toContain('on request by test-security')
      expect(section).not.toMatch(/null|undefined/)
      const [row] = await waitFor(
        'the finding stored by the collector',
        async () => {
          const rows = await queryRows<{ title: string; source: string }>(
            stack.ch,
            'SELECT title, source FROM audit_finding_events WHERE finding_id = {id:String}',
            { id: findingIdOf(breachId) },
          )
          return rows.length > 0 ? rows : undefined
        },
        WAIT_MS,
      )
      expect(row!.title).toContain('requested by test-security: second exposure this month')
      expect(row!.source).toBe(`/api/breaches/${breachId}`)
    } finally {
      await context.close()
    }
  })
})
