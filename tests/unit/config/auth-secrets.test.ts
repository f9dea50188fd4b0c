import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../../shared/config/env.js'
import { readSecret } from '../../../shared/config/files.js'
import { ConfigError } from '../../../shared/errors.js'
import { authFromConfig } from '../../../shared/http/auth/from-config.js'
import { SESSION_COOKIE } from '../../../shared/http/auth/session.js'
import { generateToken, hashToken, tokenLine } from '../../../shared/http/auth/tokens.js'

/**
 * METRICS_TOKEN_FILE and HTTP_SESSION_SECRET_FILE: the HTTP authentication secrets as mounted files, with
 * the rules of their inline forms (one or the other, the same minimum length), errors naming the variable.
 */

let dir: string
const metricsToken = `${'m'.repeat(20)}etrics-token-from-a-file`
const sessionSecret = 's'.repeat(40)

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aims-auth-secrets-'))
  await writeFile(join(dir, 'metrics-token'), `${metricsToken}\n`)
  await writeFile(join(dir, 'session-secret'), sessionSecret)
  await writeFile(join(dir, 'short'), 'x'.repeat(23))
  await writeFile(join(dir, 'empty'), '')
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** The error of `fn`: a ConfigError is expected. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn()
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
  throw new Error('expected a ConfigError')
}

describe('loadConfig: inline or file, never both', () => {
  it('accepts either form of each secret', () => {
    const files = loadConfig({ METRICS_TOKEN_FILE: '/m', HTTP_SESSION_SECRET_FILE: '/s' })
    expect(files.METRICS_TOKEN_FILE).toBe('/m')
    expect(files.HTTP_SESSION_SECRET_FILE).toBe('/s')
    const inline = loadConfig({ METRICS_TOKEN: 'a'.repeat(24), HTTP_SESSION_SECRET: 'b'.repeat(32) })
    expect(inline.METRICS_TOKEN).toHaveLength(24)
    expect(inline.HTTP_SESSION_SECRET).toHaveLength(32)
  })

  it('refuses both forms at once, naming the file variable, and never echoes the value', () => {
    const err = configError(() =>
      loadConfig({
        METRICS_TOKEN: 'inline-metrics-token-value-1',
        METRICS_TOKEN_FILE: '/m',
        HTTP_SESSION_SECRET: 'inline-session-secret-value-123456',
        HTTP_SESSION_SECRET_FILE: '/s',
      }),
    )
    expect(err.issues).toEqual([
      'METRICS_TOKEN_FILE: set METRICS_TOKEN or METRICS_TOKEN_FILE, not both',
      'HTTP_SESSION_SECRET_FILE: set HTTP_SESSION_SECRET or HTTP_SESSION_SECRET_FILE, not both',
    ])
    expect(err.message).not.toContain('inline-metrics-token-value-1')
    expect(err.message).not.toContain('inline-session-secret-value-123456')
  })

  it('treats an empty inline value as unset, so an empty METRICS_TOKEN beside the file is no conflict', () => {
    expect(loadConfig({ METRICS_TOKEN: '', METRICS_TOKEN_FILE: '/m' }).METRICS_TOKEN_FILE).toBe('/m')
  })
})

describe('readSecret with the inline rules', () => {
  it('applies the minimum length to the content, naming the variable and the path but not the content', () => {
    const short = join(dir, 'short')
    const err = configError(() => readSecret(undefined, 'METRICS_TOKEN_FILE', short, { minLength: 24 }))
    expect(err.message).toBe(`METRICS_TOKEN_FILE: ${short} must hold at least 24 characters`)
    expect(err.message).not.toContain('x'.repeat(23))
    // The trailing newline is not part of the secret, so it does not count towards the length.
    expect(readSecret(undefined, 'METRICS_TOKEN_FILE', join(dir, 'metrics-token'), { minLength: 44 })).toBe(
      metricsToken,
    )
    expect(() =>
      readSecret(undefined, 'METRICS_TOKEN_FILE', join(dir, 'metrics-token'), { minLength: 45 }),
    ).toThrow(/must hold at least 45 characters/)
  })

  it('still refuses an empty or missing file', () => {
    expect(() => readSecret(undefined, 'HTTP_SESSION_SECRET_FILE', join(dir, 'empty'))).toThrow(
      /^HTTP_SESSION_SECRET_FILE: .* is empty$/,
    )
    expect(() => readSecret(undefined, 'HTTP_SESSION_SECRET_FILE', join(dir, 'missing'))).toThrow(
      /^HTTP_SESSION_SECRET_FILE: cannot read .*missing \(no such file\)$/,
    )
  })
})

describe('authFromConfig reads the files', () => {
  it('accepts the metrics token from its file for /metrics only, and lets a metrics-only process start off loopback', async () => {
    const cfg = loadConfig({
      HTTP_HOST: '0.0.0.0',
      DATA_DIR: dir,
      METRICS_TOKEN_FILE: join(dir, 'metrics-token'),
    })
    const { authenticator, localAdmin } = authFromConfig(cfg, { servesApi: false })
    expect(localAdmin).toBeUndefined()
    const ok = await authenticator.authenticate({ authorization: `Bearer ${metricsToken}` })
    expect(ok.ok && [...ok.principal.roles]).toEqual(['metrics'])
    // The newline the file ended with is not part of the token.
    expect((await authenticator.authenticate({ authorization: `Bearer ${metricsToken}x` })).ok).toBe(false)
    // The API needs API credentials: the metrics token alone does not let the processor start.
    expect(() => authFromConfig(cfg, { servesApi: true })).toThrow(
      /^HTTP_HOST: 0\.0\.0\.0 .*HTTP_TOKENS_FILE/,
    )
  })

  it('stops start-up when a file breaks the rules of the inline variable, naming the file variable', () => {
    const base = { HTTP_HOST: '127.0.0.1', DATA_DIR: dir }
    const short = configError(() =>
      authFromConfig(loadConfig({ ...base, METRICS_TOKEN_FILE: join(dir, 'short') }), { servesApi: false }),
    )
    expect(short.message).toMatch(/^METRICS_TOKEN_FILE: .*short must hold at least 24 characters$/)
    const tooShort = configError(() =>
      authFromConfig(loadConfig({ ...base, HTTP_SESSION_SECRET_FILE: join(dir, 'short') }), {
        servesApi: false,
      }),
    )
    expect(tooShort.message).toMatch(/^HTTP_SESSION_SECRET_FILE: .*short must hold at least 32 characters$/)
    const missing = configError(() =>
      authFromConfig(loadConfig({ ...base, METRICS_TOKEN_FILE: join(dir, 'nope') }), { servesApi: false }),
    )
    expect(missing.message).toMatch(/^METRICS_TOKEN_FILE: cannot read /)
  })

  it('refuses a metrics token file holding the same token as an API token', async () => {
    const apiToken = generateToken()
    await writeFile(join(dir, 'same-token'), apiToken)
    await writeFile(
      join(dir, 'tokens'),
      `${tokenLine({ name: 'ops', roles: ['admin'], sha256: hashToken(apiToken) })}\n`,
    )
    const cfg = loadConfig({
      HTTP_TOKENS_FILE: join(dir, 'tokens'),
      METRICS_TOKEN_FILE: join(dir, 'same-token'),
    })
    expect(() => authFromConfig(cfg, { servesApi: true })).toThrow(
      'METRICS_TOKEN_FILE: must differ from every token of HTTP_TOKENS_FILE',
    )
  })

  it('signs sessions with the key from the file, so two replicas reading it accept each other’s cookies', async () => {
    const apiToken = generateToken()
    await writeFile(
      join(dir, 'tokens-2'),
      `${tokenLine({ name: 'reviewer', roles: ['executive'], sha256: hashToken(apiToken) })}\n`,
    )
    const env = {
      HTTP_HOST: '0.0.0.0',
      HTTP_TOKENS_FILE: join(dir, 'tokens-2'),
      HTTP_SESSION_SECRET_FILE: join(dir, 'session-secret'),
    }
    const a = authFromConfig(loadConfig(env), { servesApi: true }).authenticator
    const b = authFromConfig(loadConfig(env), { servesApi: true }).authenticator
    const cookie = a.sessions.issue({ name: 'reviewer', roles: new Set(['executive']), via: 'token' }).value
    const onB = await b.authenticate({ cookie: `${SESSION_COOKIE}=${cookie}` })
    expect(onB.ok && onB.principal.name).toBe('reviewer')
    // Without the shared file each process has its own random key: the other's cookie is refused.
    const { HTTP_SESSION_SECRET_FILE: _, ...withoutKey } = env
    const c = authFromConfig(loadConfig(withoutKey), { servesApi: true }).authenticator
    expect((await c.authenticate({ cookie: `${SESSION_COOKIE}=${cookie}` })).ok).toBe(false)
  })
})
