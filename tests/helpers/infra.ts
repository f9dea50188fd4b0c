import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { inject } from 'vitest'
import { type Config, loadConfig } from '../../shared/config/env.js'

/**
 * A configuration for one test file, pointing at the run's shared infrastructure and isolated from every
 * other file: its own topic prefix, Redis prefix, consumer groups and ClickHouse database, and (embedded
 * mode) a ClickHouse folder of this test process.
 */
export function testConfig(overrides: Record<string, string> = {}): Config {
  const id = `t${process.pid}_${randomBytes(3).toString('hex')}`
  const clickhouseUrl = inject('clickhouseUrl')
  return loadConfig({
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    LOG_FORMAT: 'json',
    HTTP_PORT: '0',
    KAFKA_BROKERS: inject('kafkaBrokers'),
    KAFKA_TOPIC_PREFIX: `${id}.`,
    KAFKA_CLIENT_ID: id,
    COLLECTOR_GROUP_ID: `${id}-collector`,
    PROCESSOR_GROUP_ID: `${id}-processor`,
    REDIS_URL: inject('redisUrl'),
    REDIS_PREFIX: `aims-test:${id}`,
    CLICKHOUSE_DATABASE: id,
    ...(clickhouseUrl ? { CLICKHOUSE_URL: clickhouseUrl } : {}),
    CLICKHOUSE_DATA_DIR: join(inject('testRoot'), `clickhouse-${process.pid}`),
    DEMO: 'false',
    SUMMARY_INTERVAL_S: '0',
    ...overrides,
  })
}

/** Polls `probe` until it returns a value that is not undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  while (Date.now() < deadline) {
    try {
      const v = await probe()
      if (v !== undefined) return v
    } catch (err) {
      lastError = err
    }
    await new Promise((r) => setTimeout(r, intervalMs))
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`,
  )
}
