import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { configKeys, loadConfig } from '../../../shared/config/env.js'
import { ConfigError } from '../../../shared/errors.js'

function failure(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env)
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
  throw new Error('expected loadConfig to fail')
}

describe('loadConfig', () => {
  it('gives safe local defaults for an empty environment', () => {
    const cfg = loadConfig({})
    expect(cfg.KAFKA_BROKERS).toBeUndefined()
    expect(cfg.CLICKHOUSE_URL).toBeUndefined()
    expect(cfg.CLICKHOUSE_DATA_DIR).toBe('./data/clickhouse')
    expect(cfg.REDIS_URL).toBe('redis://127.0.0.1:6379')
    expect(cfg.COLLECTOR_MAX_BATCH_ROWS).toBe(20_000)
    expect(cfg.DEMO).toBe(true)
  })

  it('parses a broker list and coerces numbers and flags', () => {
    const cfg = loadConfig({ KAFKA_BROKERS: 'a:9092, b.example.com:19092', HTTP_PORT: '0', DEMO: 'false' })
    expect(cfg.KAFKA_BROKERS).toEqual(['a:9092', 'b.example.com:19092'])
    expect(cfg.HTTP_PORT).toBe(0)
    expect(cfg.DEMO).toBe(false)
  })

  it('treats an empty value as unset', () => {
    expect(loadConfig({ KAFKA_BROKERS: '', CLICKHOUSE_URL: ' ' }).KAFKA_BROKERS).toBeUndefined()
  })

  it.each([
    ['KAFKA_BROKERS', 'not a host'],
    ['KAFKA_BROKERS', 'host:99999'],
    ['COLLECTOR_MAX_BATCH_ROWS', '-5'],
    ['COLLECTOR_MAX_BATCH_ROWS', 'many'],
    ['CLICKHOUSE_URL', 'not a url'],
    ['REDIS_URL', 'http://localhost:6379'],
    ['LOG_LEVEL', 'loud'],
    ['DEMO', 'maybe'],
    ['CLICKHOUSE_DATABASE', 'drop table;'],
  ])('names %s when it is %j', (key, value) => {
    const err = failure({ [key]: value })
    expect(err.issues).toHaveLength(1)
    expect(err.issues[0]).toMatch(new RegExp(`^${key}: `))
    expect(err.message).toContain(JSON.stringify(value))
  })

  it('reports every bad variable at once', () => {
    const err = failure({ KAFKA_BROKERS: 'x', HTTP_PORT: '-1' })
    expect(err.issues.map((i) => i.split(':')[0]).sort()).toEqual(['HTTP_PORT', 'KAFKA_BROKERS'])
  })

  it('ignores variables it does not know', () => {
    expect(() => loadConfig({ PATH: '/bin', SOMETHING_ELSE: '1' })).not.toThrow()
  })
})

describe('.env.example', () => {
  it('lists exactly the variables of the config schema', () => {
    const listed = readFileSync(new URL('../../../.env.example', import.meta.url), 'utf8')
      .split('\n')
      .filter((l) => /^[A-Z0-9_]+=/.test(l))
      .map((l) => l.split('=')[0])
    expect([...listed].sort()).toEqual([...configKeys].sort())
  })
})
