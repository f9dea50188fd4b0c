import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { type Kafka, type Message, Partitioners } from 'kafkajs'
import { startCollector } from '../../services/collector/collector.js'
import { type ProcessorDeps, startProcessor } from '../../services/processor/processor.js'
import { prepareStorageAndTopics } from '../../shared/bootstrap.js'
import { type ClickHouse, createClickHouse, queryRows } from '../../shared/clickhouse/client.js'
import type { Config } from '../../shared/config/env.js'
import { Health } from '../../shared/http/health.js'
import { createKafka } from '../../shared/kafka/client.js'
import { createLogger, type Logger } from '../../shared/logger.js'

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

export interface TestStack {
  cfg: Config
  log: Logger
  kafka: Kafka
  ch: ClickHouse
  health: Health
  close(): Promise<void>
}

/** Kafka client, ClickHouse (migrated) and topics for one test file's configuration. */
export async function openStack(cfg: Config): Promise<TestStack> {
  const log = createLogger(cfg)
  const kafka = createKafka(cfg, cfg.KAFKA_BROKERS!, log)
  const ch = await createClickHouse(cfg)
  await prepareStorageAndTopics(cfg, log, kafka, ch)
  return { cfg, log, kafka, ch, health: new Health(), close: () => ch.close() }
}

export async function startTestCollector(stack: TestStack) {
  return startCollector({
    cfg: stack.cfg,
    log: stack.log,
    kafka: stack.kafka,
    ch: stack.ch,
    health: stack.health,
  })
}

/** A processor on the stack's config, Kafka, ClickHouse and health; the test brings its Redis and HTTP server. */
export async function startTestProcessor(
  stack: TestStack,
  deps: Pick<ProcessorDeps, 'redis' | 'http'> &
    Partial<Pick<ProcessorDeps, 'aimsConfig' | 'clock' | 'scheduleSweep'>>,
) {
  return startProcessor({
    cfg: stack.cfg,
    log: stack.log,
    kafka: stack.kafka,
    ch: stack.ch,
    health: stack.health,
    aimsConfig: undefined,
    ...deps,
  })
}

export function readExampleLines(name: string): string[] {
  return readFileSync(`${REPO_ROOT}shared/events/examples/${name}`, 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0)
}

export async function produce(kafka: Kafka, topic: string, messages: Message[]): Promise<void> {
  // Idempotent: a send retried after a lost acknowledgement must not write the message twice at a new
  // offset, or a test that counts dead letters per message sees one it never produced (seen in CI).
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
  })
  await producer.connect()
  try {
    for (let i = 0; i < messages.length; i += 5_000) {
      await producer.send({ topic, messages: messages.slice(i, i + 5_000), acks: -1 })
    }
  } finally {
    await producer.disconnect()
  }
}

export async function count(
  ch: ClickHouse,
  sql: string,
  params: Record<string, unknown> = {},
): Promise<number> {
  const rows = await queryRows<{ n: string }>(ch, sql, params)
  return Number(rows[0]?.n ?? 0)
}

/** Committed offsets of a group minus the topic's end offsets: 0 when everything is committed. */
export async function uncommitted(kafka: Kafka, groupId: string, topic: string): Promise<number> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const ends = await admin.fetchTopicOffsets(topic)
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] })
    let behind = 0
    for (const end of ends) {
      const c = committed?.partitions.find((p) => p.partition === end.partition)
      const at = c && Number(c.offset) >= 0 ? Number(c.offset) : 0
      behind += Number(end.high) - at
    }
    return behind
  } finally {
    await admin.disconnect()
  }
}

/** Runs a service's main.ts as its own process, as docker-compose and k8s do. */
export function spawnService(
  service: 'collector' | 'processor' | 'alerter',
  env: Record<string, string>,
): { child: ChildProcess; output: () => string; exited: Promise<number | NodeJS.Signals> } {
  const child = spawn(process.execPath, ['--import', 'tsx', `services/${service}/main.ts`], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env, LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-20_000)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = new Promise<number | NodeJS.Signals>((done) =>
    child.once('exit', (code, signal) => done(signal ?? code ?? 0)),
  )
  process.once('exit', () => child.kill('SIGKILL'))
  return { child, output: () => out, exited }
}

/** The configuration as environment variables, for a child process. */
export function configEnv(cfg: Config): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(cfg)) {
    if (v === undefined) continue
    env[k] = Array.isArray(v) ? v.join(',') : String(v)
  }
  return env
}
