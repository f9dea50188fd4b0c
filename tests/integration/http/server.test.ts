import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { Health } from '../../../shared/http/health.js'
import { HttpServer } from '../../../shared/http/server.js'
import { createLogger } from '../../../shared/logger.js'
import { registry } from '../../../shared/metrics/registry.js'
import { apiGet, bearer, testAuth } from '../../helpers/api.js'

/**
 * The server's own rules on a real listener, with a small area of its own: the per-client rate limit,
 * the concurrency cap (probes excepted), security headers on every kind of answer, 405 with Allow, and
 * the limits node enforces for it (413, 414, 431).
 */

const log = createLogger({ LOG_LEVEL: 'silent', LOG_FORMAT: 'json' })

function raw(port: number, data: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    let out = ''
    s.on('data', (b: Buffer) => {
      out += b.toString('latin1')
    })
    s.on('close', () => resolve(out))
    s.on('error', () => undefined)
    s.end(data)
  })
}

describe('HTTP server rules', () => {
  const auth = testAuth()
  const health = new Health()
  let http: HttpServer
  let base: string
  let port: number
  const held: (() => void)[] = []

  beforeAll(async () => {
    health.set('clickhouse', true, 'connected to 10.1.2.3:8123')
    http = new HttpServer(health, log, {
      auth: auth.authenticator,
      limits: { rateLimitPerS: 1, rateLimitBurst: 40, maxConcurrentRequests: 2, maxUrlBytes: 1024 },
    })
    http.register(async (app) => {
      app.get(
        '/api/echo',
        {
          schema: { querystring: z.strictObject({ n: z.coerce.number().int().max(5).default(1) }) },
          config: { access: ['auditor', 'admin'] },
        },
        async (req) => ({ n: req.query.n }),
      )
      app.get('/api/slow', { config: { access: ['admin'] } }, async () => {
        await new Promise<void>((r) => held.push(r))
        return { done: true }
      })
    }, {})
    ;({ url: base, port } = await http.listen('127.0.0.1', 0))
  })
  afterAll(async () => {
    for (const r of held) r()
    await http?.close()
  })

  it('puts the security headers on every kind of answer', async () => {
    const answers = [
      await apiGet(base, '/api/echo', auth.tokens.admin),
      await apiGet(base, '/api/echo'),
      await apiGet(base, '/api/echo?n=9', auth.tokens.admin),
      await apiGet(base, '/nowhere'),
      await apiGet(base, '/api/%zz'),
      await apiGet(base, '/healthz'),
    ]
    expect(answers.map((a) => a.status)).toEqual([200, 401, 400, 404, 400, 200])
    for (const a of answers) {
      expect(a.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
      expect(a.headers.get('content-security-policy')).toContain("script-src 'self'")
      expect(a.headers.get('x-content-type-options')).toBe('nosniff')
      expect(a.headers.get('referrer-policy')).toBe('no-referrer')
      expect(a.headers.get('x-frame-options')).toBe('DENY')
      expect(a.headers.get('cache-control')).toBe('no-store')
    }
    const parserError = await raw(port, 'GET /a b c HTTP/1.1\r\nHost: x\r\n\r\n')
    expect(parserError).toMatch(/^HTTP\/1\.1 400 /)
    expect(parserError).toMatch(/\r\nx-content-type-options: nosniff\r\n/)
  })

  it('names the bad parameter, and answers other methods with 405 and Allow', async () => {
    const bad = await apiGet(base, '/api/echo?n=9&extra=1', auth.tokens.admin)
    expect(bad.body).toEqual({
      error: 'bad request',
      reasons: ['n: Too big: expected number to be <=5', 'unknown query parameter(s): extra'],
    })
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const res = await fetch(`${base}/api/echo`, { method, headers: bearer(auth.tokens.admin) })
      expect(res.status, method).toBe(405)
      expect(res.headers.get('allow')).toBe('GET, HEAD')
    }
  })

  it('enforces the body, URL and header limits', async () => {
    const body = await fetch(`${base}/auth/session`, {
      method: 'POST',
      headers: { ...bearer(auth.tokens.admin), 'content-type': 'application/json' },
      body: JSON.stringify({ x: 'y'.repeat(20_000) }),
    })
    expect(body.status).toBe(413)
    expect((await apiGet(base, `/api/echo?n=${'1'.repeat(2_000)}`, auth.tokens.admin)).status).toBe(414)
    expect(
      await raw(port, `GET /api/echo HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
    ).toMatch(/^HTTP\/1\.1 431 /)
  })

  it('caps requests in progress (503, Retry-After) but never the probes', async () => {
    const slow = [1, 2].map(() => fetch(`${base}/api/slow`, { headers: bearer(auth.tokens.admin) }))
    await expect.poll(() => held.length, { timeout: 10_000 }).toBe(2)
    const third = await apiGet(base, '/api/echo', auth.tokens.admin)
    expect(third.status).toBe(503)
    expect(third.headers.get('retry-after')).toBe('1')
    expect((await apiGet(base, '/healthz')).status).toBe(200)
    expect((await apiGet(base, '/readyz')).status).toBe(200)
    for (const r of held.splice(0)) r()
    expect((await Promise.all(slow)).map((r) => r.status)).toEqual([200, 200])
    expect((await apiGet(base, '/api/echo', auth.tokens.admin)).status).toBe(200)
  })

  it('answers a client that half-closes after sending its request, even when the answer takes a while', async () => {
    // `raw` ends its side after writing, as nc and some proxies do: node's default drops such a request
    // if it is still in progress when the end arrives (seen with any route that queries ClickHouse).
    const answer = raw(
      port,
      `GET /api/slow HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${auth.tokens.admin}\r\nConnection: close\r\n\r\n`,
    )
    await expect.poll(() => held.length, { timeout: 10_000 }).toBe(1)
    for (const r of held.splice(0)) r()
    const text = await answer
    expect(text).toMatch(/^HTTP\/1\.1 200 /)
    expect(text).toContain('{"done":true}')
  })

  it('shows component details on /readyz to admins only', async () => {
    const anonymous = await apiGet(base, '/readyz')
    expect(anonymous.body.components.clickhouse).toEqual({ ready: true, since: expect.any(String) })
    expect(JSON.stringify(anonymous.body)).not.toContain('10.1.2.3')
    const admin = await apiGet(base, '/readyz', auth.tokens.admin)
    expect(admin.body.components.clickhouse.detail).toBe('connected to 10.1.2.3:8123')
  })

  it('rate-limits each client (429, Retry-After) and counts it', async () => {
    let limited: Awaited<ReturnType<typeof apiGet>> | undefined
    for (let i = 0; i < 60 && !limited; i++) {
      const res = await apiGet(base, '/api/echo', auth.tokens.auditor)
      if (res.status === 429) limited = res
      else expect(res.status).toBe(200)
    }
    expect(limited?.status).toBe(429)
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    // Probes are outside the rate limit.
    expect((await apiGet(base, '/healthz')).status).toBe(200)
    const counted = await registry.getSingleMetricAsString('aims_http_rejected_total')
    expect(counted).toMatch(/aims_http_rejected_total\{reason="rate_limited"\} [1-9]/)
  })
})
