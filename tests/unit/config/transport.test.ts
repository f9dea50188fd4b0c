import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DevCertificates, makeDevCertificates } from '../../../deploy/tls/dev-certs.js'
import { loadConfig } from '../../../shared/config/env.js'
import { readSecret, readTlsFiles } from '../../../shared/config/files.js'
import { ConfigError } from '../../../shared/errors.js'
import { kafkaSecurity, saslFailure } from '../../../shared/kafka/client.js'
import { redisConnectionOptions } from '../../../shared/redis/client.js'

/** TLS and SASL settings: which combinations start, which stop start-up, and what the message names. */

function issues(env: Record<string, string>): string[] {
  try {
    loadConfig(env)
  } catch (err) {
    if (err instanceof ConfigError) return err.issues
    throw err
  }
  return []
}

let dir: string
let certs: DevCertificates
let otherCerts: DevCertificates

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aims-transport-unit-'))
  certs = await makeDevCertificates({ dir: join(dir, 'a'), clients: ['aims'] })
  otherCerts = await makeDevCertificates({ dir: join(dir, 'b'), clients: ['aims'] })
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('transport variables in loadConfig', () => {
  it('accepts TLS with a CA, mutual TLS and each SASL mechanism', () => {
    const cfg = loadConfig({
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: '/ca.pem',
      KAFKA_SSL_CERT_FILE: '/c.pem',
      KAFKA_SSL_KEY_FILE: '/k.pem',
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: 'aims',
      KAFKA_SASL_PASSWORD_FILE: '/run/secrets/kafka',
    })
    expect(cfg.KAFKA_SASL_MECHANISM).toBe('scram-sha-512')
    for (const m of ['scram-sha-256', 'plain'])
      expect(
        issues({
          KAFKA_SSL: 'true',
          KAFKA_SASL_MECHANISM: m,
          KAFKA_SASL_USERNAME: 'u',
          KAFKA_SASL_PASSWORD: 'p',
        }),
      ).toEqual([])
  })

  it.each([
    [{ KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: '/c.pem' }, 'KAFKA_SSL_CERT_FILE: needs KAFKA_SSL_KEY_FILE'],
    [{ KAFKA_SSL: 'true', KAFKA_SSL_KEY_FILE: '/k.pem' }, 'KAFKA_SSL_KEY_FILE: needs KAFKA_SSL_CERT_FILE'],
    [{ KAFKA_SSL_CA_FILE: '/ca.pem' }, 'KAFKA_SSL_CA_FILE: only used with KAFKA_SSL=true'],
    [
      { KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'u' },
      'KAFKA_SASL_PASSWORD_FILE: required',
    ],
    [{ KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_PASSWORD: 'p' }, 'KAFKA_SASL_USERNAME: required'],
    [
      {
        KAFKA_SASL_MECHANISM: 'scram-sha-256',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD: 'p',
        KAFKA_SASL_PASSWORD_FILE: '/f',
      },
      'KAFKA_SASL_PASSWORD_FILE: set KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE, not both',
    ],
    [
      { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' },
      'KAFKA_SASL_MECHANISM: plain sends the password in clear text; set KAFKA_SSL=true',
    ],
    [{ KAFKA_SASL_USERNAME: 'u' }, 'KAFKA_SASL_USERNAME: needs KAFKA_SASL_MECHANISM'],
    [
      { KAFKA_SASL_MECHANISM: 'gssapi' },
      'KAFKA_SASL_MECHANISM: must be scram-sha-256, scram-sha-512 or plain',
    ],
    [
      { CLICKHOUSE_URL: 'http://ch:8123', CLICKHOUSE_TLS_CA_FILE: '/ca.pem' },
      'CLICKHOUSE_TLS_CA_FILE: needs an https:// CLICKHOUSE_URL',
    ],
    [
      { CLICKHOUSE_URL: 'https://ch:8443', CLICKHOUSE_TLS_CERT_FILE: '/c.pem' },
      'CLICKHOUSE_TLS_CERT_FILE: needs CLICKHOUSE_TLS_KEY_FILE',
    ],
    [
      { CLICKHOUSE_URL: 'https://ch:8443', CLICKHOUSE_PASSWORD: 'p', CLICKHOUSE_PASSWORD_FILE: '/f' },
      'CLICKHOUSE_PASSWORD_FILE: set CLICKHOUSE_PASSWORD or CLICKHOUSE_PASSWORD_FILE, not both',
    ],
    [{ REDIS_TLS_CA_FILE: '/ca.pem' }, 'REDIS_TLS_CA_FILE: needs a rediss:// REDIS_URL'],
    [
      { REDIS_URL: 'rediss://r:6380', REDIS_TLS_KEY_FILE: '/k.pem' },
      'REDIS_TLS_KEY_FILE: needs REDIS_TLS_CERT_FILE',
    ],
    [{ REDIS_PASSWORD: 'p', REDIS_PASSWORD_FILE: '/f' }, 'REDIS_PASSWORD_FILE: set REDIS_PASSWORD or'],
  ])('refuses %j naming the variable', (env, expected) => {
    const found = issues(env as Record<string, string>)
    expect(
      found.some((i) => i.startsWith(expected)),
      found.join('\n'),
    ).toBe(true)
  })

  it('never repeats a password or URL credentials in its message', () => {
    let message = ''
    try {
      loadConfig({
        KAFKA_SASL_MECHANISM: 'scram-sha-1',
        KAFKA_SASL_PASSWORD: 'hunter2-secret',
        REDIS_URL: 'http://user:redis-secret@host:6379',
      })
    } catch (err) {
      message = (err as Error).message
    }
    expect(message).toContain('REDIS_URL')
    expect(message).not.toContain('hunter2-secret')
    expect(message).not.toContain('redis-secret')
  })
})

describe('files named by variables', () => {
  it('reads a password file without its trailing newline, and names the variable when it cannot', async () => {
    const file = join(dir, 'pw')
    await writeFile(file, 's3cret\n')
    expect(readSecret(undefined, 'KAFKA_SASL_PASSWORD_FILE', file)).toBe('s3cret')
    expect(readSecret('inline', 'KAFKA_SASL_PASSWORD_FILE', undefined)).toBe('inline')
    expect(() => readSecret(undefined, 'REDIS_PASSWORD_FILE', join(dir, 'missing'))).toThrow(
      /^REDIS_PASSWORD_FILE: cannot read .*missing \(no such file\)$/,
    )
    await writeFile(join(dir, 'empty'), '\n')
    expect(() => readSecret(undefined, 'REDIS_PASSWORD_FILE', join(dir, 'empty'))).toThrow(
      /REDIS_PASSWORD_FILE: .*empty is empty/,
    )
  })

  it('refuses an unreadable CA file with the variable and the reason', async () => {
    const locked = join(dir, 'locked.pem')
    await writeFile(locked, 'x')
    await chmod(locked, 0o000)
    const asRoot = process.getuid?.() === 0 // root reads any file: only the missing case applies then
    const names = { ca: 'KAFKA_SSL_CA_FILE', cert: 'KAFKA_SSL_CERT_FILE', key: 'KAFKA_SSL_KEY_FILE' }
    expect(() => readTlsFiles(names, { ca: join(dir, 'nope.pem') })).toThrow(
      /^KAFKA_SSL_CA_FILE: cannot read .*nope\.pem \(no such file\)/,
    )
    if (!asRoot) expect(() => readTlsFiles(names, { ca: locked })).toThrow(/permission denied/)
  })

  it('refuses a file that is not PEM and a key that does not match its certificate', async () => {
    const names = { ca: 'REDIS_TLS_CA_FILE', cert: 'REDIS_TLS_CERT_FILE', key: 'REDIS_TLS_KEY_FILE' }
    const notPem = join(dir, 'not.pem')
    await writeFile(notPem, 'hello')
    expect(() => readTlsFiles(names, { ca: notPem })).toThrow(
      /^REDIS_TLS_CA_FILE: .* is not a PEM certificate bundle \(no "BEGIN CERTIFICATE" block\)/,
    )
    expect(() =>
      readTlsFiles(names, { cert: certs.clients.aims!.cert, key: otherCerts.clients.aims!.key }),
    ).toThrow(/^REDIS_TLS_CERT_FILE\/REDIS_TLS_KEY_FILE: .* (key values mismatch|private key)/)
    const ok = readTlsFiles(names, {
      ca: certs.ca,
      cert: certs.clients.aims!.cert,
      key: certs.clients.aims!.key,
    })
    expect(ok.ca?.toString()).toContain('BEGIN CERTIFICATE')
    expect(ok.key?.toString()).toContain('PRIVATE KEY')
  })
})

describe('client options from the factories', () => {
  it('gives kafkajs TLS and SASL options from the files and the password file', async () => {
    const pw = join(dir, 'kafka-pw')
    await writeFile(pw, 'from-a-file\n')
    const security = kafkaSecurity(
      loadConfig({
        KAFKA_SSL: 'true',
        KAFKA_SSL_CA_FILE: certs.ca,
        KAFKA_SSL_CERT_FILE: certs.clients.aims!.cert,
        KAFKA_SSL_KEY_FILE: certs.clients.aims!.key,
        KAFKA_SSL_SERVERNAME: 'kafka.internal',
        KAFKA_SASL_MECHANISM: 'scram-sha-256',
        KAFKA_SASL_USERNAME: 'aims',
        KAFKA_SASL_PASSWORD_FILE: pw,
      }),
    )
    expect(security.ssl?.servername).toBe('kafka.internal')
    expect(security.ssl?.rejectUnauthorized).toBe(true)
    expect(String(security.ssl?.ca)).toContain('BEGIN CERTIFICATE')
    expect(security.ssl?.cert).toBeDefined()
    expect(security.sasl).toEqual({ mechanism: 'scram-sha-256', username: 'aims', password: 'from-a-file' })
    expect(kafkaSecurity(loadConfig({}))).toEqual({})
  })

  it('turns a refused SASL login into a message naming the user and broker, never the password', () => {
    const err = Object.assign(new Error('SASL SCRAM SHA256 authentication failed: invalid credentials'), {
      name: 'KafkaJSSASLAuthenticationError',
      broker: 'kafka-1:9093',
    })
    const explained = saslFailure(err, {
      brokers: ['kafka-1:9093'],
      username: 'aims',
      mechanism: 'scram-sha-256',
    })
    expect(explained?.message).toMatch(
      /^Kafka: SASL authentication failed for user "aims" at broker kafka-1:9093 \(SCRAM-SHA-256\): invalid credentials;/,
    )
    expect(
      saslFailure(new Error('Connection timeout'), { brokers: [], username: 'x', mechanism: 'plain' }),
    ).toBe(undefined)
  })

  it('gives ioredis the password, user and TLS files; rediss:// alone is TLS with the public roots', async () => {
    const pw = join(dir, 'redis-pw')
    await writeFile(pw, 'redis-pw\n')
    const options = redisConnectionOptions(
      loadConfig({
        REDIS_URL: 'rediss://redis:6380',
        REDIS_USERNAME: 'aims',
        REDIS_PASSWORD_FILE: pw,
        REDIS_TLS_CA_FILE: certs.ca,
        REDIS_TLS_CERT_FILE: certs.clients.aims!.cert,
        REDIS_TLS_KEY_FILE: certs.clients.aims!.key,
      }),
    )
    expect(options.password).toBe('redis-pw')
    expect(options.username).toBe('aims')
    expect(Object.keys(options.tls ?? {}).sort()).toEqual(['ca', 'cert', 'key'])
    expect(redisConnectionOptions(loadConfig({ REDIS_URL: 'rediss://redis:6380' })).tls).toEqual({})
    expect(redisConnectionOptions(loadConfig({}))).toEqual({})
  })
})
