import { mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../../shared/config/env.js'
import type { ConfigError } from '../../../shared/errors.js'
import { authFromConfig, LOCAL_ADMIN_TOKEN_FILE } from '../../../shared/http/auth/from-config.js'
import { parseRoleMap, rolesFromClaims } from '../../../shared/http/auth/oidc.js'
import { areasOf, parseRoles } from '../../../shared/http/auth/roles.js'
import { cookieValue, SessionCodec } from '../../../shared/http/auth/session.js'
import { generateToken, hashToken, parseTokensFile, tokenLine } from '../../../shared/http/auth/tokens.js'
import { RateLimiter } from '../../../shared/http/limits.js'

const HASH = 'a'.repeat(64)

describe('tokens file', () => {
  it('parses names, roles and hashes, with comments and blank lines', () => {
    const text = `# name roles sha256\n\nalice  executive  ${HASH}\nci ml,security ${'b'.repeat(64)} # CI reader\n`
    expect(parseTokensFile(text, 'tokens')).toEqual([
      { name: 'alice', roles: ['executive'], sha256: HASH },
      { name: 'ci', roles: ['ml', 'security'], sha256: 'b'.repeat(64) },
    ])
  })

  it('names the file, the line and the field of every problem, without echoing values', () => {
    const token = generateToken()
    const text = [
      `alice boss ${HASH}`,
      `bob admin ${token}`,
      `alice admin ${'c'.repeat(64)}`,
      'just-two fields',
    ].join('\n')
    let err: ConfigError | undefined
    try {
      parseTokensFile(text, '/etc/aims/tokens')
    } catch (e) {
      err = e as ConfigError
    }
    expect(err?.issues).toEqual([
      '/etc/aims/tokens:1: roles: unknown role "boss" (roles: executive, ml, security, auditor, admin, metrics)',
      '/etc/aims/tokens:2: sha256: must be 64 lowercase hex digits (the hash, never the token itself)',
      '/etc/aims/tokens:3: name: already used on line 1',
      '/etc/aims/tokens:4: expected "name roles sha256", got 2 field(s)',
    ])
    expect(err?.message).not.toContain(token)
    expect(err?.message).toMatch(/^HTTP_TOKENS_FILE: /)
  })

  it('makes random tokens whose line round-trips through the parser', () => {
    const a = generateToken()
    expect(a).toMatch(/^aims_[A-Za-z0-9_-]{43}$/)
    expect(generateToken()).not.toBe(a)
    const line = tokenLine({ name: 'x', roles: ['auditor'], sha256: hashToken(a) })
    expect(parseTokensFile(line, 'f')[0]?.sha256).toBe(hashToken(a))
  })
})

describe('roles', () => {
  it('maps roles to the KPI areas they see', () => {
    const p = (...roles: Parameters<typeof parseRoles>[0][]) => ({
      name: 'x',
      roles: new Set(parseRoles(roles.join(','))),
      via: 'token' as const,
    })
    expect([...areasOf(p('ml'))]).toEqual(['model'])
    expect([...areasOf(p('security'))]).toEqual(['privacy'])
    expect([...areasOf(p('ml', 'security'))].sort()).toEqual(['model', 'privacy'])
    expect([...areasOf(p('auditor'))].sort()).toEqual(['audit', 'model', 'privacy'])
    expect([...areasOf(p('metrics'))]).toEqual([])
  })

  it('reads OIDC roles from a nested claim, through a value map or by name', () => {
    const payload = { realm_access: { roles: ['aims-ml', 'other'] }, scope: 'auditor admin' }
    const map = parseRoleMap('aims-ml=ml; aims-admins=admin,auditor')
    expect([...rolesFromClaims(payload, 'realm_access.roles', map)]).toEqual(['ml'])
    expect([...rolesFromClaims(payload, 'scope', undefined)].sort()).toEqual(['admin', 'auditor'])
    expect([...rolesFromClaims(payload, 'missing.claim', undefined)]).toEqual([])
    expect([
      ...rolesFromClaims({ constructor: { prototype: ['admin'] } }, 'constructor.prototype', undefined),
    ]).toEqual(['admin'])
    expect([...rolesFromClaims({}, 'constructor.prototype', undefined)]).toEqual([])
    expect(() => parseRoleMap('aims=boss')).toThrow(/OIDC_ROLE_MAP: aims: unknown role "boss"/)
    expect(() => parseRoleMap('nothing')).toThrow(/OIDC_ROLE_MAP: "nothing" is not value=role/)
  })
})

describe('session cookies', () => {
  let now = 1_000_000
  const codec = new SessionCodec('k'.repeat(40), 3600, () => now)
  const p = { name: 'alice', roles: new Set(['executive' as const]), via: 'token' as const }

  it('round-trips, expires, never outlives its credential, and cannot be forged', () => {
    const { value, maxAgeS } = codec.issue(p)
    expect(maxAgeS).toBe(3600)
    expect(codec.read(value)?.principal).toEqual({
      name: 'alice',
      roles: new Set(['executive']),
      via: 'session',
    })
    const short = codec.issue(p, now + 60)
    expect(short.maxAgeS).toBe(60)
    const [body, sig] = value.split('.') as [string, string]
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString())
    const elevated = Buffer.from(JSON.stringify({ ...claims, r: ['admin'] })).toString('base64url')
    expect(codec.read(`${elevated}.${sig}`)).toBeUndefined()
    expect(new SessionCodec('other'.repeat(8), 3600, () => now).read(value)).toBeUndefined()
    expect(codec.read('garbage')).toBeUndefined()
    now += 3601
    expect(codec.read(value)).toBeUndefined()
  })

  it('finds its cookie among others', () => {
    expect(cookieValue('a=1; aims_session=xyz.abc; b=2', 'aims_session')).toBe('xyz.abc')
    expect(cookieValue('aims_sessionx=1', 'aims_session')).toBeUndefined()
    expect(cookieValue(undefined, 'aims_session')).toBeUndefined()
  })
})

describe('authentication from configuration', () => {
  it('refuses a non-loopback address without authentication, naming what to set', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aims-auth-'))
    const cfg = loadConfig({ HTTP_HOST: '0.0.0.0', DATA_DIR: dir })
    expect(() => authFromConfig(cfg, { servesApi: true })).toThrow(
      /HTTP_HOST: 0\.0\.0\.0 is not a loopback address and no authentication is configured: set HTTP_TOKENS_FILE .* or OIDC_ISSUER, OIDC_AUDIENCE and OIDC_JWKS_URL/,
    )
    // A process serving only /metrics may use METRICS_TOKEN alone.
    const metricsOnly = loadConfig({ HTTP_HOST: '10.0.0.5', DATA_DIR: dir, METRICS_TOKEN: 'm'.repeat(32) })
    expect(authFromConfig(metricsOnly, { servesApi: false }).localAdmin).toBeUndefined()
    expect(() => authFromConfig(metricsOnly, { servesApi: true })).toThrow(/HTTP_TOKENS_FILE/)
  })

  it('on loopback makes one admin token, mode 0600, kept across restarts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aims-auth-'))
    const cfg = loadConfig({ HTTP_HOST: '127.0.0.1', DATA_DIR: join(dir, 'data') })
    const first = authFromConfig(cfg, { servesApi: true }).localAdmin
    const file = join(dir, 'data', LOCAL_ADMIN_TOKEN_FILE)
    expect(first).toEqual({ token: expect.stringMatching(/^aims_/), file })
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(readFileSync(file, 'utf8').trim()).toBe(first?.token)
    expect(authFromConfig(cfg, { servesApi: true }).localAdmin?.token).toBe(first?.token)
    expect(authFromConfig(cfg, { servesApi: false }).localAdmin).toBeUndefined()
  })

  it('requires the whole OIDC triple and never echoes a secret in a config error', () => {
    expect(() => loadConfig({ OIDC_ISSUER: 'https://idp' })).toThrow(
      /OIDC_AUDIENCE: required with OIDC_ISSUER/,
    )
    expect(() =>
      loadConfig({
        OIDC_ISSUER: 'https://idp',
        OIDC_AUDIENCE: 'a',
        OIDC_JWKS_URL: 'http://idp.example/jwks',
      }),
    ).toThrow(/OIDC_JWKS_URL: must be https/)
    expect(() => loadConfig({ OIDC_ALGORITHMS: 'RS256,none' })).toThrow(/OIDC_ALGORITHMS/)
    expect(() => loadConfig({ OIDC_ALGORITHMS: 'HS256' })).toThrow(/OIDC_ALGORITHMS/)
    let message = ''
    try {
      loadConfig({ METRICS_TOKEN: 'short-secret', HTTP_SESSION_SECRET: 'tiny-secret' })
    } catch (err) {
      message = (err as Error).message
    }
    expect(message).toContain('METRICS_TOKEN: must be at least 24 characters')
    expect(message).toContain('HTTP_SESSION_SECRET: must be at least 32 characters')
    expect(message).not.toContain('short-secret')
    expect(message).not.toContain('tiny-secret')
  })
})

describe('rate limiter', () => {
  it('allows a burst, then refills at its rate, and forgets the least recent client when full', () => {
    let t = 0
    const limiter = new RateLimiter(2, 3, 2, () => t)
    expect([1, 2, 3, 4].map(() => limiter.take('a'))).toEqual([0, 0, 0, 1])
    t += 500 // one token back at 2/s
    expect(limiter.take('a')).toBe(0)
    expect(limiter.take('a')).toBe(1)
    limiter.take('b')
    limiter.take('c') // evicts a
    expect(limiter.size).toBe(2)
    expect(limiter.take('a')).toBe(0) // a fresh bucket
  })
})
