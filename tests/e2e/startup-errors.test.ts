import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { REPO_ROOT } from '../helpers/pipeline.js'

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
