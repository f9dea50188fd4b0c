import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DevCertificates, makeDevCertificates } from '../../../deploy/tls/dev-certs.js'
import { createClickHouse, queryRows } from '../../../shared/clickhouse/client.js'
import { loadConfig } from '../../../shared/config/env.js'
import { createRedis } from '../../../shared/redis/client.js'
import { type SpawnedClickHouse, spawnLocalClickHouse } from '../../helpers/clickhouse-server.js'
import { freePort } from '../../helpers/http-receiver.js'
import { waitFor } from '../../helpers/infra.js'

/**
 * ClickHouse over HTTPS and Redis over TLS through the project's factories only, against real servers that
 * demand a client certificate: the project's ClickHouse server process serving HTTPS with mutual TLS and a
 * password, and a Debian redis-server with `tls-auth-clients yes` and `requirepass`. Certificates are made
 * here with openssl; passwords come from files, as from a mounted secret.
 */

let dir: string
let certs: DevCertificates
let stranger: DevCertificates

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aims-tls-'))
  certs = await makeDevCertificates({ dir: join(dir, 'pki'), clients: ['aims'] })
  stranger = await makeDevCertificates({ dir: join(dir, 'stranger'), clients: ['aims'] })
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function secretFile(name: string, value: string): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, `${value}\n`, { mode: 0o600 })
  return path
}

describe('ClickHouse over HTTPS with mutual TLS', () => {
  const password = randomBytes(12).toString('hex')
  let server: SpawnedClickHouse
  let passwordFile: string

  beforeAll(async () => {
    passwordFile = await secretFile('clickhouse-password', password)
    server = await spawnLocalClickHouse(join(dir, 'clickhouse'), 0, [
      '--password',
      password,
      '--tls-cert',
      certs.server.cert,
      '--tls-key',
      certs.server.key,
      '--tls-ca',
      certs.ca,
    ])
  })

  afterAll(async () => {
    await server?.stop()
  })

  function config(env: Record<string, string> = {}) {
    return loadConfig({
      CLICKHOUSE_URL: server.url,
      CLICKHOUSE_PASSWORD_FILE: passwordFile,
      CLICKHOUSE_DATABASE: 'tls_test',
      CLICKHOUSE_TLS_CA_FILE: certs.ca,
      CLICKHOUSE_TLS_CERT_FILE: certs.clients.aims!.cert,
      CLICKHOUSE_TLS_KEY_FILE: certs.clients.aims!.key,
      CLICKHOUSE_REQUEST_TIMEOUT_MS: '20000',
      ...env,
    })
  }

  it('connects with the CA, the client certificate and the password file', async () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
    const ch = await createClickHouse(config())
    try {
      expect(await queryRows<{ n: number }>(ch, 'SELECT 41 + 1 AS n')).toEqual([{ n: 42 }])
    } finally {
      await ch.close()
    }
  })

  it.each<[string, () => Promise<Record<string, string>>, RegExp]>([
    [
      'a CA that did not sign the server certificate',
      async () => ({ CLICKHOUSE_TLS_CA_FILE: stranger.ca }),
      /self[- ]signed certificate|unable to verify/i,
    ],
    [
      'no client certificate',
      async () => ({ CLICKHOUSE_TLS_CERT_FILE: '', CLICKHOUSE_TLS_KEY_FILE: '' }),
      /certificate required|socket hang up|ECONNRESET/i,
    ],
    [
      'a wrong password',
      async () => ({ CLICKHOUSE_PASSWORD_FILE: await secretFile('clickhouse-wrong', 'not-the-password') }),
      /Authentication failed/i,
    ],
  ])('is refused with %s', async (_, env, reason) => {
    await expect(createClickHouse(config(await env()))).rejects.toThrow(reason)
  })
})

describe('Redis over TLS with mutual TLS and a password', () => {
  const password = randomBytes(12).toString('hex')
  let redisServer: ChildProcess
  let port: number
  let passwordFile: string

  beforeAll(async () => {
    passwordFile = await secretFile('redis-password', password)
    port = await freePort()
    // The password goes through stdin (`-` reads configuration from it), not the command line.
    redisServer = spawn(
      'redis-server',
      [
        '-',
        '--port',
        '0',
        '--bind',
        '127.0.0.1',
        '--tls-port',
        String(port),
        '--tls-cert-file',
        certs.server.cert,
        '--tls-key-file',
        certs.server.key,
        '--tls-ca-cert-file',
        certs.ca,
        '--tls-auth-clients',
        'yes',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
      ],
      { stdio: ['pipe', 'ignore', 'ignore'] },
    )
    process.once('exit', () => redisServer.kill('SIGKILL'))
    redisServer.stdin!.end(`requirepass ${password}\n`)
    const cfg = config()
    await waitFor('redis-server over TLS', async () => {
      const redis = createRedis(cfg, 'producer', { lazyConnect: true, retryStrategy: () => null })
      redis.on('error', () => {})
      try {
        await redis.connect()
        return (await redis.ping()) === 'PONG' ? true : undefined
      } finally {
        redis.disconnect()
      }
    })
  })

  afterAll(async () => {
    if (redisServer && redisServer.exitCode === null) {
      redisServer.kill('SIGTERM')
      await once(redisServer, 'exit')
    }
  })

  function config(env: Record<string, string> = {}) {
    return loadConfig({
      REDIS_URL: `rediss://127.0.0.1:${port}`,
      REDIS_PASSWORD_FILE: passwordFile,
      REDIS_TLS_CA_FILE: certs.ca,
      REDIS_TLS_CERT_FILE: certs.clients.aims!.cert,
      REDIS_TLS_KEY_FILE: certs.clients.aims!.key,
      ...env,
    })
  }

  /** One connection through the factory; the error it ends with, if any. */
  async function attempt(env: Record<string, string>): Promise<string | undefined> {
    const redis = createRedis(config(env), 'producer', { lazyConnect: true, retryStrategy: () => null })
    let lastError: string | undefined
    redis.on('error', (err: Error) => {
      lastError = err.message
    })
    try {
      await redis.connect()
      await redis.set('aims-tls-test', 'ok', 'EX', 60)
      expect(await redis.get('aims-tls-test')).toBe('ok')
      return undefined
    } catch (err) {
      return lastError ?? (err as Error).message
    } finally {
      redis.disconnect()
    }
  }

  it('connects with the CA, the client certificate and the password file', async () => {
    expect(await attempt({})).toBeUndefined()
  })

  it('is refused with a CA that did not sign the server certificate', async () => {
    expect(await attempt({ REDIS_TLS_CA_FILE: stranger.ca })).toMatch(/certificate/i)
  })

  it('is refused without a client certificate', async () => {
    expect(await attempt({ REDIS_TLS_CERT_FILE: '', REDIS_TLS_KEY_FILE: '' })).toBeDefined()
  })

  it('is refused with a wrong password', async () => {
    const wrong = await secretFile('redis-wrong', 'not-the-password')
    expect(await attempt({ REDIS_PASSWORD_FILE: wrong })).toMatch(/WRONGPASS|NOAUTH|invalid/i)
  })
})
