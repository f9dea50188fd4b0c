import { mkdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'

/**
 * Brings up the infrastructure once per test run and hands its addresses to the test files.
 * Native (default): the real Kafka broker from the official jars, embedded ClickHouse (one folder per
 * test process, see tests/helpers/infra.ts) and the Redis server at REDIS_URL.
 * TEST_INFRA=containers: the same three from testcontainers, for machines with a Docker engine.
 */

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string
    clickhouseUrl: string
    redisUrl: string
    testRoot: string
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const testRoot = join(tmpdir(), `aims-test-${process.pid}`)
  await rm(testRoot, { recursive: true, force: true })
  await mkdir(testRoot, { recursive: true })
  project.provide('testRoot', testRoot)
  const stops: (() => Promise<void>)[] = [() => rm(testRoot, { recursive: true, force: true })]

  if (process.env.TEST_INFRA === 'containers') {
    const { startContainerInfra } = await import('./container-infra.js')
    const infra = await startContainerInfra()
    project.provide('kafkaBrokers', infra.kafkaBrokers)
    project.provide('clickhouseUrl', infra.clickhouseUrl)
    project.provide('redisUrl', infra.redisUrl)
    stops.unshift(infra.stop)
  } else {
    const { startLocalKafka } = await import('../../deploy/kafka/local-broker.js')
    const started = Date.now()
    const kafka = process.env.KAFKA_BROKERS
      ? undefined
      : await startLocalKafka({ dataDir: join(testRoot, 'kafka'), port: 0 })
    const brokers = process.env.KAFKA_BROKERS ?? kafka!.brokers.join(',')
    if (kafka) {
      console.log(`[global-setup] Kafka ${brokers} ready in ${Date.now() - started} ms`)
      stops.unshift(() => kafka.stop())
    }
    project.provide('kafkaBrokers', brokers)
    project.provide('clickhouseUrl', process.env.CLICKHOUSE_URL ?? '')
    project.provide('redisUrl', process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
  }

  return async () => {
    for (const stop of stops) await stop()
  }
}
