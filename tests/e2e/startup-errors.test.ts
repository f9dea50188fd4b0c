import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, inject, it } from 'vitest'
import { waitFor } from '../helpers/infra.js'
import { REPO_ROOT, spawnService } from '../helpers/pipeline.js'

/** The run command and each service refuse to start on bad configuration, naming what is wrong. */
function start(entry: string, env: Record<string, string>) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', entry], {
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_FORMAT: 'json', HTTP_PORT: '0', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  })
  return { code: r.status, output: `${r.stdout}\n${r.stderr}` }
}

/** A port nothing listens on (held and released). */
async function closedPort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))
  const { port } = srv.address() as { port: number }
  await new Promise((r) => srv.close(r))
  return port
}

describe('start-up with bad configuration', () => {
  it.each([
    ['services/all-in-one/main.ts', 'KAFKA_BROKERS', 'not a host'],
    ['services/all-in-one/main.ts', 'COLLECTOR_MAX_BATCH_ROWS', '-5'],
    ['services/collector/main.ts', 'CLICKHOUSE_URL', 'nope'],
    ['services/processor/main.ts', 'REDIS_URL', 'localhost:6379'],
    ['services/alerter/main.ts', 'ALERTER_MAX_ATTEMPTS', '0'],
  ])('%s exits non-zero and names %s', (entry, key, value) => {
    const { code, output } = start(entry, { [key]: value })
    expect(code).toBe(2)
    expect(output).toContain(`${key}:`)
    expect(output).toContain(JSON.stringify(value))
  })

  it('a wrong config file is reported as readable lines, not one string with escaped newlines', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aims-cfg-'))
    const file = join(dir, 'aims.yaml')
    writeFileSync(file, 'kpis:\n  model.accuracy:\n    warning: "high"\n    critical: []\n')
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'services/alerter/main.ts'], {
      cwd: REPO_ROOT,
      env: { ...process.env, LOG_FORMAT: 'json', HTTP_PORT: '0', AIMS_CONFIG_FILE: file, DATA_DIR: dir },
      encoding: 'utf8',
      timeout: 60_000,
    })
    expect(r.status).toBe(2)
    // stderr is for people: one problem per line, each naming the file and the field.
    const lines = r.stderr.split('\n')
    expect(lines[0]).toBe(`alerter failed to start: Invalid configuration file ${file}:`)
    expect(lines).toContain(`  ${file}: kpis.model.accuracy.warning: expected number, got string "high"`)
    expect(lines.some((l) => l.startsWith(`  ${file}: kpis.model.accuracy.critical:`))).toBe(true)
    expect(r.stderr).not.toContain('\\n')
    rmSync(dir, { recursive: true, force: true })
  })

  it('an unreachable broker stops start-up within KAFKA_STARTUP_TIMEOUT_MS, naming the address', async () => {
    const port = await closedPort()
    const dir = mkdtempSync(join(tmpdir(), 'aims-nobroker-'))
    const started = Date.now()
    const { code, output } = start('services/collector/main.ts', {
      KAFKA_BROKERS: `127.0.0.1:${port}`,
      KAFKA_STARTUP_TIMEOUT_MS: '3000',
      DATA_DIR: dir,
    })
    const ms = Date.now() - started
    expect(code).toBe(1)
    expect(output).toMatch(
      new RegExp(
        `collector failed to start: Kafka is unreachable at 127\\.0\\.0\\.1:${port} \\(connect ECONNREFUSED [^)]*\\), tried for 3 s`,
      ),
    )
    // No minute of kafkajs retry warnings before it: the check comes first.
    expect(output).not.toContain('Failed to connect to seed broker')
    process.stderr.write(
      `[startup errors] unreachable broker: exit after ${(ms / 1000).toFixed(1)} s (timeout 3 s)\n`,
    )
    rmSync(dir, { recursive: true, force: true })
  })

  it('a second instance on the same port says where the first one runs', async () => {
    const port = await closedPort()
    const dirs = [mkdtempSync(join(tmpdir(), 'aims-first-')), mkdtempSync(join(tmpdir(), 'aims-second-'))]
    const env = (dir: string) => ({
      HTTP_PORT: String(port),
      DATA_DIR: dir,
      REDIS_URL: inject('redisUrl'),
      REDIS_PREFIX: `aims-test:second-${process.pid}`,
    })
    const first = spawnService('alerter', env(dirs[0]!))
    try {
      await waitFor(
        'the first alerter',
        async () =>
          (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok ? true : undefined,
        60_000,
        200,
      )
      const { code, output } = start('services/alerter/main.ts', env(dirs[1]!))
      expect(code).toBe(1)
      expect(output).toContain(
        `alerter failed to start: another instance is running at http://127.0.0.1:${port}/ (its /healthz answers)`,
      )
      expect(output).not.toMatch(/EADDRINUSE/)
    } finally {
      first.child.kill('SIGTERM')
      await first.exited
      for (const d of dirs) rmSync(d, { recursive: true, force: true })
    }
  })

  it('a wrong config file stops start-up with its path and the field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aims-cfg-'))
    const file = join(dir, 'aims.yaml')
    writeFileSync(file, 'kpis:\n  model.disparate_impact_ratio:\n    warning: "high"\n')
    const { code, output } = start('services/processor/main.ts', {
      AIMS_CONFIG_FILE: file,
      KAFKA_BROKERS: '127.0.0.1:1',
    })
    expect(code).not.toBe(0)
    expect(output).toContain(file)
    expect(output).toContain('kpis.model.disparate_impact_ratio.warning')
  })

  it('a split service without KAFKA_BROKERS says it needs them', () => {
    const { code, output } = start('services/collector/main.ts', { KAFKA_BROKERS: '' })
    expect(code).not.toBe(0)
    expect(output).toContain('KAFKA_BROKERS')
  })
})
