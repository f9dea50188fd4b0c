import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { hashToken, parseTokensFile } from '../../shared/http/auth/tokens.js'
import { apiGet, bearer, testAuth } from '../helpers/api.js'
import { waitFor } from '../helpers/infra.js'
import { REPO_ROOT } from '../helpers/pipeline.js'

/**
 * The process around the HTTP server, on real processes: secure by default off loopback, and what an
 * error nothing caught does (a lost promise: logged, counted, the process goes on; an uncaught
 * exception: one fatal line and exit 70 for the supervisor).
 */

/** The environment of a child, without anything of this run that configures auth or HTTP. */
function childEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(HTTP_|OIDC_|METRICS_TOKEN|LOG_|NODE_OPTIONS|VITEST)/.test(k)) env[k] = v
  }
  return { ...env, LOG_FORMAT: 'json', ...extra }
}

describe('secure by default: a non-loopback bind without authentication does not start', () => {
  it.each([
    ['services/processor/main.ts', ['HTTP_TOKENS_FILE', 'OIDC_ISSUER']],
    ['services/all-in-one/main.ts', ['HTTP_TOKENS_FILE', 'OIDC_ISSUER']],
    ['services/collector/main.ts', ['METRICS_TOKEN', 'HTTP_TOKENS_FILE']],
  ])('%s exits 2 naming %j', (entry, names) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', entry], {
      cwd: REPO_ROOT,
      env: childEnv({
        HTTP_HOST: '0.0.0.0',
        HTTP_PORT: '0',
        KAFKA_BROKERS: '127.0.0.1:1',
        DATA_DIR: tmpdir(),
      }),
      encoding: 'utf8',
      timeout: 60_000,
    })
    const output = `${r.stdout}\n${r.stderr}`
    expect(r.status, output).toBe(2)
    expect(output).toContain('HTTP_HOST: 0.0.0.0 is not a loopback address')
    for (const name of names) expect(output).toContain(name)
  })
})

describe('errors nothing caught', () => {
  const auth = testAuth()
  const dir = mkdtempSync(join(tmpdir(), 'aims-fault-'))
  const metricsToken = `metrics-${'q'.repeat(30)}`
  let child: ChildProcess | undefined
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })

  it('a failed request and a lost promise leave the process up; an uncaught exception ends it with 70', async () => {
    writeFileSync(join(dir, 'tokens'), auth.tokensFile)
    child = spawn(process.execPath, ['--import', 'tsx', 'tests/helpers/fault-service.ts'], {
      cwd: REPO_ROOT,
      env: childEnv({
        HTTP_PORT: '0',
        HTTP_TOKENS_FILE: join(dir, 'tokens'),
        METRICS_TOKEN: metricsToken,
        DATA_DIR: dir,
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString()
    })
    child.stderr!.on('data', (b: Buffer) => {
      out += b.toString()
    })
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)))
    const base = await waitFor('the service to listen', () => /"url":"(http:[^"]+)"/.exec(out)?.[1], 60_000)
    const admin = bearer(auth.tokens.admin)

    const failed = await fetch(`${base}/fault/handler`, { method: 'POST', headers: admin })
    expect(failed.status).toBe(500)
    expect(await failed.json()).toEqual({ error: 'internal error' })

    expect((await fetch(`${base}/fault/rejection`, { method: 'POST', headers: admin })).status).toBe(200)
    const metrics = await waitFor('the rejection counted', async () => {
      const m = await apiGet(base, '/metrics', metricsToken)
      return /aims_unhandled_rejections_total 1\b/.test(m.body) ? m.body : undefined
    })
    expect(metrics).toContain('aims_unhandled_rejections_total 1')
    expect((await apiGet(base, '/healthz')).status).toBe(200)
    expect(out).toContain('unhandled promise rejection (logged and counted; the process keeps running)')
    expect(out).toContain('a promise nobody awaited')
    expect(child.exitCode).toBeNull()

    await fetch(`${base}/fault/exception`, { method: 'POST', headers: admin }).catch(() => undefined)
    expect(await exited).toBe(70)
    const fatal = out.split('\n').filter((l) => l.includes('"level":60'))
    expect(fatal, out.slice(-2000)).toHaveLength(1)
    expect(fatal[0]).toContain('uncaught exception, exiting with code 70')
    expect(fatal[0]).toContain('thrown outside any request')
  })
})

describe('npm run token', () => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'services/cli/token.ts', ...args], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    })

  it('prints a new token once, and the tokens-file line holding only its hash', () => {
    const r = run('--name', 'grafana-ops', '--role', 'auditor,ml')
    expect(r.status, r.stderr).toBe(0)
    const token = /^ {2}(aims_\S+)$/m.exec(r.stdout)?.[1]
    const line = /^ {2}(grafana-ops \S+ [0-9a-f]{64})$/m.exec(r.stdout)?.[1]
    expect(token).toBeDefined()
    expect(line).toBeDefined()
    expect(parseTokensFile(line!, 'tokens')).toEqual([
      { name: 'grafana-ops', roles: ['auditor', 'ml'], sha256: hashToken(token!) },
    ])
    expect(line).not.toContain(token!)
  })

  it('refuses a bad name or role with exit 2, naming the option', () => {
    const r = run('--name', 'a b', '--role', 'boss')
    expect(r.status).toBe(2)
    expect(r.stderr).toContain('--name: ')
    expect(r.stderr).toContain('--role: unknown role "boss"')
  })
})
