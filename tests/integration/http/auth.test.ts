import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { Redis } from 'ioredis'
import { exportJWK, generateKeyPair, type JWK, SignJWT, UnsecuredJWT } from 'jose'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mountReadApi } from '../../../services/processor/read-api.js'
import { mountReviewPage } from '../../../services/processor/review-page/mount.js'
import { KPI_VALUE_HEARTBEAT_MS } from '../../../services/processor/series.js'
import { mountReviewPackApi } from '../../../services/review-pack/api.js'
import { type ClickHouse, createClickHouse } from '../../../shared/clickhouse/client.js'
import { migrate } from '../../../shared/clickhouse/migrate.js'
import { authFromConfig } from '../../../shared/http/auth/from-config.js'
import type { Role } from '../../../shared/http/auth/roles.js'
import { Health } from '../../../shared/http/health.js'
import { HttpServer } from '../../../shared/http/server.js'
import { KPIS } from '../../../shared/kpi/catalog.js'
import { createRedis } from '../../../shared/redis/client.js'
import { apiGet, bearer, type Json, testAuth } from '../../helpers/api.js'
import { testConfig } from '../../helpers/infra.js'

/**
 * Who may read what, on a real listener: the processor's read API and review page mounted on an HTTP
 * server whose authentication comes from configuration (a tokens file, METRICS_TOKEN, and OIDC against a
 * JWKS this test serves on loopback with keys it makes). ClickHouse (embedded) holds two breaches of two
 * areas and one large dead letter, so area filtering and payload rules are checked on real rows.
 */

const ISSUER = 'https://issuer.aims.test'
const AUDIENCE = 'aims-read-api'
const PAYLOAD_CAP = 512
const MODEL_BREACH = 'aaaaaaaaaaaaaaaa-1700000000000'
const PRIVACY_BREACH = 'bbbbbbbbbbbbbbbb-1700000000000'
type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey']

describe('authentication and roles (tokens, OIDC JWTs, sessions, /metrics)', () => {
  const auth = testAuth()
  const metricsToken = `metrics-${'m'.repeat(30)}`
  const dir = mkdtempSync(join(tmpdir(), 'aims-auth-'))
  const logLines: string[] = []
  let ch: ClickHouse
  let http: HttpServer
  let redis: Redis
  let base: string
  let jwks: Server
  let signingKey: PrivateKey
  let foreignKey: PrivateKey
  const kid = 'test-key-1'

  const jwt = (
    claims: Record<string, unknown>,
    opts: { exp?: number; iss?: string; aud?: string; key?: PrivateKey } = {},
  ) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid })
      .setIssuer(opts.iss ?? ISSUER)
      .setAudience(opts.aud ?? AUDIENCE)
      .setSubject('alice@example.com')
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? Math.floor(Date.now() / 1000) + 300)
      .sign(opts.key ?? signingKey)

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true })
    signingKey = pair.privateKey
    foreignKey = (await generateKeyPair('ES256')).privateKey
    const publicJwk: JWK = { ...(await exportJWK(pair.publicKey)), kid, alg: 'ES256', use: 'sig' }
    jwks = createServer((req, res) => {
      res.writeHead(req.url === '/jwks.json' ? 200 : 404, { 'content-type': 'application/json' })
      res.end(req.url === '/jwks.json' ? JSON.stringify({ keys: [publicJwk] }) : '{}')
    })
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', () => r()))
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`

    const tokensFile = join(dir, 'tokens')
    writeFileSync(tokensFile, `# test tokens\n${auth.tokensFile}`)
    const cfg = testConfig({
      HTTP_TOKENS_FILE: tokensFile,
      METRICS_TOKEN: metricsToken,
      OIDC_ISSUER: ISSUER,
      OIDC_AUDIENCE: AUDIENCE,
      OIDC_JWKS_URL: jwksUrl,
      OIDC_ROLES_CLAIM: 'realm_access.roles',
      OIDC_ROLE_MAP: 'aims-ml=ml;aims-sec=security;aims-admins=admin',
      HTTP_SESSION_SECRET: 's'.repeat(40),
    })
    const resolved = authFromConfig(cfg, { servesApi: true })
    expect(resolved.localAdmin, 'no generated token once auth is configured').toBeUndefined()

    ch = await createClickHouse(cfg)
    await migrate(ch)
    await ch.client.command({
      query: `INSERT INTO breach_transitions (transition_id, breach_id, fingerprint, kpi_id, scope, transition, state, severity, previous_severity, value, threshold, started_at, at) VALUES
        ('${MODEL_BREACH}-firing', '${MODEL_BREACH}', 'aaaaaaaaaaaaaaaa', 'model.disparate_impact_ratio', map('model_id', 'm1'), 'firing', 'firing', 'warning', '', 0.7, 0.8, now64(3), now64(3)),
        ('${PRIVACY_BREACH}-firing', '${PRIVACY_BREACH}', 'bbbbbbbbbbbbbbbb', 'privacy.mttc_hours', map(), 'firing', 'firing', 'critical', '', 30, 24, now64(3), now64(3))`,
    })
    await ch.client.command({
      query: `INSERT INTO dead_letters (topic, partition, offset, key, value_base64, headers, error_type, reason) VALUES
        ('t.in', 0, 7, 'k1', base64Encode(repeat('x', 100000)), map('ce_type', 'aims.x', 'h2', repeat('y', 5000)), 'schema', 'data.title: required')`,
    })

    // Everything the server logs, at the most verbose level, for the secrets check.
    const sink = new Writable({
      write(chunk, _enc, done) {
        logLines.push(chunk.toString())
        done()
      },
    })
    http = new HttpServer(new Health(), pino({ level: 'trace' }, sink), {
      auth: resolved.authenticator,
      limits: { rateLimitBurst: 10_000 },
    })
    const deps = {
      ch,
      kpis: KPIS,
      config: undefined,
      currentWindowMs: KPI_VALUE_HEARTBEAT_MS,
      clock: () => new Date(),
    }
    mountReadApi(http, { ...deps, deadLetterPayloadBytes: PAYLOAD_CAP })
    mountReviewPage(http, deps)
    redis = createRedis(cfg, 'producer')
    mountReviewPackApi(http, { ...deps, redis, redisPrefix: cfg.REDIS_PREFIX })
    base = (await http.listen('127.0.0.1', 0)).url
  })

  afterAll(async () => {
    await http?.close()
    redis?.disconnect()
    await ch?.close()
    await new Promise((r) => jwks?.close(r))
    rmSync(dir, { recursive: true, force: true })
  })

  it('without a credential: 401 everywhere but the probes and the sign-in page; the page redirects', async () => {
    for (const path of [
      '/api/kpis',
      '/api/views/scorecard',
      '/api/dead-letters',
      '/api/openapi.json',
      '/api/review-packs',
      '/metrics',
      '/assets/page.js',
    ]) {
      const res = await apiGet(base, path)
      expect(res.status, path).toBe(401)
      expect(res.headers.get('www-authenticate'), path).toBe('Bearer realm="aims"')
    }
    const page = await apiGet(base, '/review/breaches/x-1')
    expect(page.status).toBe(303)
    expect(page.headers.get('location')).toBe('/login#next=%2Freview%2Fbreaches%2Fx-1')
    expect((await apiGet(base, '/healthz')).status).toBe(200)
    expect((await apiGet(base, '/login')).status).toBe(200)
    expect((await apiGet(base, '/assets/login.js')).status).toBe(200)
    const wrong = await apiGet(base, '/api/kpis', 'aims_not-a-real-token')
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get('www-authenticate')).toContain('invalid_token')
    const basic = await apiGet(base, '/api/kpis', undefined, { headers: { authorization: 'Basic YTpi' } })
    expect(basic.status).toBe(401)
  })

  it('each role reaches exactly its routes (403 for the others)', async () => {
    const R: Role[] = ['executive', 'ml', 'security', 'auditor', 'admin', 'metrics']
    const allowed: Record<string, Role[]> = {
      '/': ['executive', 'ml', 'security', 'auditor', 'admin'],
      '/api/kpis': ['executive', 'ml', 'security', 'auditor', 'admin'],
      '/api/openapi.json': ['executive', 'ml', 'security', 'auditor', 'admin'],
      '/api/views/scorecard': ['executive', 'ml', 'security', 'auditor', 'admin'],
      '/api/views/models': ['executive', 'ml', 'auditor', 'admin'],
      '/api/views/incidents': ['executive', 'security', 'auditor', 'admin'],
      '/api/views/nonconformities': ['executive', 'auditor', 'admin'],
      '/api/views/alert-deliveries': ['executive', 'auditor', 'admin'],
      '/api/views/regime-clocks': ['security', 'auditor', 'admin'],
      '/api/dead-letters': ['auditor', 'admin'],
      '/api/review-packs': ['executive', 'auditor', 'admin'],
      '/metrics': ['metrics', 'admin'],
    }
    for (const [path, roles] of Object.entries(allowed)) {
      for (const role of R) {
        const res = await apiGet(base, path, auth.tokens[role])
        expect(res.status, `${role} ${path}`).toBe(roles.includes(role) ? 200 : 403)
      }
    }
  })

  it('KPI and breach lists hold only the areas of the caller', async () => {
    const areasOf = async (token: string) => {
      const kpis: Json = (await apiGet(base, '/api/kpis', token)).body
      const score: Json = (await apiGet(base, '/api/views/scorecard', token)).body
      const breaches: Json = (await apiGet(base, '/api/breaches', token)).body
      return {
        kpis: [...new Set(kpis.kpis.map((k: Json) => k.area))].sort(),
        scorecard: [...new Set(score.kpis.map((k: Json) => k.area))].sort(),
        breaches: breaches.breaches.map((b: Json) => b.breachId).sort(),
      }
    }
    expect(await areasOf(auth.tokens.ml)).toEqual({
      kpis: ['model'],
      scorecard: ['model'],
      breaches: [MODEL_BREACH],
    })
    expect(await areasOf(auth.tokens.security)).toEqual({
      kpis: ['privacy'],
      scorecard: ['privacy'],
      breaches: [PRIVACY_BREACH],
    })
    expect(await areasOf(auth.tokens.executive)).toEqual({
      kpis: ['audit', 'model', 'privacy'],
      scorecard: ['audit', 'model', 'privacy'],
      breaches: [MODEL_BREACH, PRIVACY_BREACH].sort(),
    })
    const ml = auth.tokens.ml
    expect((await apiGet(base, '/api/kpis/model.accuracy', ml)).status).toBe(200)
    expect((await apiGet(base, '/api/kpis/privacy.mttc_hours', ml)).status).toBe(403)
    expect((await apiGet(base, '/api/kpis/privacy.mttc_hours/history', ml)).status).toBe(403)
    expect((await apiGet(base, `/api/breaches/${MODEL_BREACH}`, ml)).status).toBe(200)
    expect((await apiGet(base, `/api/breaches/${PRIVACY_BREACH}`, ml)).status).toBe(403)
    expect((await apiGet(base, `/api/breaches/${PRIVACY_BREACH}`, auth.tokens.security)).status).toBe(200)
  })

  it('dead letters: no raw payload for auditors, a capped one for admins, and a hard limit', async () => {
    const audited: Json = (await apiGet(base, '/api/dead-letters', auth.tokens.auditor)).body
    expect(audited.deadLetters).toHaveLength(1)
    expect(Object.keys(audited.deadLetters[0]).sort()).toEqual(
      ['error_type', 'key', 'offset', 'partition', 'reason', 'received_at', 'topic'].sort(),
    )
    const admin: Json = (await apiGet(base, '/api/dead-letters', auth.tokens.admin)).body
    const row = admin.deadLetters[0]
    expect(row.value_bytes).toBe(100_000)
    expect(row.value_truncated).toBe(true)
    expect(Buffer.from(row.value_base64, 'base64').toString()).toBe('x'.repeat(PAYLOAD_CAP))
    expect(row.headers.ce_type).toBe('aims.x')
    expect(row.headers.h2).toHaveLength(512)
    const tooMany = await apiGet(base, '/api/dead-letters?limit=10000', auth.tokens.admin)
    expect(tooMany.status).toBe(400)
    expect(tooMany.body.reasons).toEqual(['limit: must be at most 500'])
  })

  it('accepts a JWT from the configured issuer, mapped to roles through the claim', async () => {
    const mlJwt = await jwt({ realm_access: { roles: ['aims-ml', 'unrelated-group'] } })
    expect((await apiGet(base, '/api/views/models', mlJwt)).status).toBe(200)
    expect((await apiGet(base, '/api/views/incidents', mlJwt)).status).toBe(403)
    const kpis: Json = (await apiGet(base, '/api/kpis', mlJwt)).body
    expect(new Set(kpis.kpis.map((k: Json) => k.area))).toEqual(new Set(['model']))
    const noRole = await jwt({ realm_access: { roles: ['nobody'] } })
    expect((await apiGet(base, '/api/kpis', noRole)).status).toBe(403)
  })

  it('refuses expired, wrong-audience, wrong-issuer, unsigned, HMAC and foreign-key JWTs', async () => {
    const claims = { realm_access: { roles: ['aims-admins'] } }
    const now = Math.floor(Date.now() / 1000)
    const hmac = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject('mallory')
      .setExpirationTime(now + 300)
      .sign(new TextEncoder().encode('a shared secret that nobody configured'))
    const refused: Record<string, string> = {
      expired: await jwt(claims, { exp: now - 120 }),
      'wrong audience': await jwt(claims, { aud: 'someone-else' }),
      'wrong issuer': await jwt(claims, { iss: 'https://evil.example' }),
      'alg none': new UnsecuredJWT(claims)
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject('mallory')
        .setExpirationTime(now + 300)
        .encode(),
      'HS256 with the key id': hmac,
      'foreign key, same key id': await jwt(claims, { key: foreignKey }),
    }
    for (const [what, token] of Object.entries(refused)) {
      const res = await apiGet(base, '/api/kpis', token)
      expect(res.status, what).toBe(401)
    }
    expect((await apiGet(base, '/api/kpis', await jwt(claims))).status).toBe(200)
  })

  it('/metrics answers its own token and admins only', async () => {
    const res = await apiGet(base, '/metrics', metricsToken)
    expect(res.status).toBe(200)
    expect(res.body).toContain('aims_http_requests_total')
    expect((await apiGet(base, '/api/kpis', metricsToken)).status).toBe(403)
    expect((await apiGet(base, '/metrics', auth.tokens.auditor)).status).toBe(403)
    expect((await apiGet(base, '/metrics')).status).toBe(401)
  })

  it('the review page session: a bearer credential becomes an HttpOnly, SameSite=Strict cookie', async () => {
    const made = await fetch(`${base}/auth/session`, {
      method: 'POST',
      headers: bearer(auth.tokens.executive),
    })
    expect(made.status).toBe(204)
    const cookie = made.headers.get('set-cookie') ?? ''
    expect(cookie).toMatch(/^aims_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/)
    const session = cookie.split(';')[0]!
    expect(
      (await apiGet(base, '/api/views/scorecard', undefined, { headers: { cookie: session } })).status,
    ).toBe(200)
    expect((await apiGet(base, '/', undefined, { headers: { cookie: session } })).status).toBe(200)
    // The session keeps the token's role: no dead letters for an executive.
    expect(
      (await apiGet(base, '/api/dead-letters', undefined, { headers: { cookie: session } })).status,
    ).toBe(403)
    const forged = `${session.slice(0, -3)}abc`
    expect((await apiGet(base, '/api/kpis', undefined, { headers: { cookie: forged } })).status).toBe(401)
    // A session cannot mint another session: only a bearer credential can.
    const again = await fetch(`${base}/auth/session`, { method: 'POST', headers: { cookie: session } })
    expect(again.status).toBe(400)
    const out = await fetch(`${base}/auth/logout`, { method: 'POST' })
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0')
  })

  it('never lets a credential reach the logs, the metrics or a response', async () => {
    const secrets = [...Object.values(auth.tokens), metricsToken]
    const jwtAdmin = await jwt({ realm_access: { roles: ['aims-admins'] } })
    const expired = await jwt({}, { exp: Math.floor(Date.now() / 1000) - 999 })
    secrets.push(jwtAdmin, expired)
    const made = await fetch(`${base}/auth/session`, { method: 'POST', headers: bearer(jwtAdmin) })
    const session = (made.headers.get('set-cookie') ?? '').split(';')[0]!
    secrets.push(session.split('=')[1]!)
    const bodies: string[] = []
    const attempts: [string, Record<string, string>][] = [
      ['/api/kpis', bearer(jwtAdmin)],
      ['/api/kpis', bearer(expired)],
      ['/api/kpis', { cookie: session }],
      ['/api/kpis', { authorization: `Basic ${Buffer.from(`u:${auth.tokens.admin}`).toString('base64')}` }],
      ['/api/kpis', { authorization: `Bearer ${auth.tokens.admin}x` }],
      [`/api/kpis?token=${auth.tokens.admin}`, {}],
      [`/api/kpis?token=${auth.tokens.admin}`, bearer(auth.tokens.admin)],
      [`/api/kpis/no.such_kpi`, bearer(auth.tokens.admin)],
      [`/api/breaches/${auth.tokens.admin}`, bearer(auth.tokens.admin)],
      ['/api/views/scorecard', { authorization: `Bearer ${'z'.repeat(9000)}` }],
      ['/readyz', bearer(auth.tokens.admin)],
      ['/metrics', bearer(metricsToken)],
    ]
    for (const [path, headers] of attempts) {
      const res = await fetch(`${base}${path}`, { headers, redirect: 'manual' })
      bodies.push(`${res.status} ${await res.text()} ${JSON.stringify([...res.headers.entries()])}`)
    }
    const metrics = await (await fetch(`${base}/metrics`, { headers: bearer(metricsToken) })).text()
    const logs = logLines.join('')
    for (const secret of secrets) {
      expect(logs.includes(secret), 'a credential in the logs').toBe(false)
      expect(metrics.includes(secret), 'a credential in the metrics').toBe(false)
      for (const b of bodies)
        expect(b.includes(secret), `a credential in a response: ${b.slice(0, 80)}`).toBe(false)
    }
    // The checks saw something: failures were counted by reason, without the credential.
    expect(metrics).toMatch(/aims_http_auth_failures_total\{reason="jwt_expired"\} [1-9]/)
  })
})
