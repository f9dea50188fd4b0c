import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Kafka, logLevel, Partitioners } from 'kafkajs'
import { createClickHouse, queryRows } from '../../shared/clickhouse/client.js'
import { loadConfig } from '../../shared/config/env.js'
import { topicNames } from '../../shared/kafka/topics.js'
import { REPO_ROOT } from '../helpers/pipeline.js'

export interface IngestResult {
  events: number
  collectorRate: number
  bareRate: number
  ratio: number
  collectorMaxRssMb: number
  stored: number
}

/** A small, valid privacy-incident event; ids vary so every one is a distinct fact. */
function eventBytes(i: number): Buffer {
  return Buffer.from(
    JSON.stringify({
      specversion: '1.0',
      id: `bench-${i}`,
      source: '/bench',
      type: 'aims.privacy_incident.v1',
      time: '2026-11-01T10:00:00Z',
      data: {
        incidentId: `INC-B-${i % 50_000}`,
        status: 'detected',
        severity: ['low', 'medium', 'high', 'critical'][i % 4],
        category: 'misdirected_email',
        detectedAt: '2026-11-01T09:00:00Z',
        notifiable: i % 3 === 0,
        recordsAffected: i % 1000,
        dataSubjectsAffected: i % 100,
        controls: ['ISO27001:A.5.24'],
      },
    }),
  )
}

async function produceAll(
  brokers: string[],
  topic: string,
  total: number,
  log: (s: string) => void,
): Promise<void> {
  const kafka = new Kafka({ clientId: 'bench-producer', brokers, logLevel: logLevel.NOTHING })
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  const started = performance.now()
  const inFlight: Promise<unknown>[] = []
  for (let i = 0; i < total; i += 2_000) {
    const messages = []
    for (let j = i; j < Math.min(total, i + 2_000); j++)
      messages.push({ value: eventBytes(j), partition: j % 3 })
    inFlight.push(producer.send({ topic, messages, acks: 1 }))
    if (inFlight.length >= 8) await inFlight.shift()
  }
  await Promise.all(inFlight)
  await producer.disconnect()
  log(`produced ${total} events in ${((performance.now() - started) / 1000).toFixed(1)} s`)
}

function runChild(args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (b) => {
      out += b
    })
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${args[0]} exited ${code}`))))
  })
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return kb / 1024
}

/**
 * Ingest throughput: `total` events already on the topic, read by (1) a bare kafkajs consumer doing
 * nothing and (2) the collector as its own process (validation, ClickHouse inserts, triggers, commits).
 * Both are timed from their first batch/ready to the last message read/committed.
 */
export async function benchIngest(
  brokers: string[],
  workDir: string,
  total: number,
  log: (s: string) => void,
): Promise<IngestResult> {
  const cfg = loadConfig({
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_TOPIC_PREFIX: 'bench.',
    CLICKHOUSE_DATA_DIR: join(workDir, 'clickhouse-ingest'),
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
    HTTP_PORT: '0',
  })
  const topics = topicNames(cfg)
  const kafka = new Kafka({ clientId: 'bench-admin', brokers, logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  const { ensureTopics } = await import('../../shared/kafka/topics.js')
  await ensureTopics(admin, cfg)
  await produceAll(brokers, topics.privacyIncidents, total, log)

  const bare = JSON.parse(
    await runChild(
      [
        'tests/bench/bare-consumer.ts',
        '--brokers',
        brokers.join(','),
        '--topic',
        topics.privacyIncidents,
        '--count',
        String(total),
        '--group',
        'bench-bare',
      ],
      {},
    ),
  ) as { rate: number; seconds: number }
  log(`bare kafkajs consumer: ${Math.round(bare.rate)} events/s (${bare.seconds.toFixed(1)} s)`)

  const env = {
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_TOPIC_PREFIX: 'bench.',
    COLLECTOR_GROUP_ID: 'bench-collector',
    CLICKHOUSE_DATA_DIR: cfg.CLICKHOUSE_DATA_DIR,
    HTTP_PORT: '0',
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
  }
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/collector/main.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const exited = new Promise((r) => child.once('exit', r))
  let started = 0
  let maxRss = 0
  let finished = 0
  const target = total
  for (;;) {
    maxRss = Math.max(maxRss, await rssMb(child.pid!))
    const [committed] = await admin.fetchOffsets({
      groupId: 'bench-collector',
      topics: [topics.privacyIncidents],
    })
    const done = (committed?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0)
    if (started === 0 && done > 0) started = performance.now()
    if (done >= target) {
      finished = performance.now()
      break
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  child.kill('SIGTERM')
  await exited
  await admin.disconnect()
  // Timed from the first commit, so the first batch's own time is not counted: add one batch back by
  // measuring over (target - first batch) would be fussier than it is worth at 1M events.
  const seconds = (finished - started) / 1000
  const collectorRate = total / seconds

  const ch = await createClickHouse(cfg)
  const [row] = await queryRows<{ n: string }>(
    ch,
    'SELECT uniqExact(event_id) AS n FROM privacy_incident_events',
  )
  await ch.close()
  const stored = Number(row?.n ?? 0)
  log(
    `collector: ${Math.round(collectorRate)} events/s (${seconds.toFixed(1)} s), max RSS ${maxRss.toFixed(0)} MB, stored ${stored}`,
  )
  return {
    events: total,
    collectorRate,
    bareRate: bare.rate,
    ratio: collectorRate / bare.rate,
    collectorMaxRssMb: maxRss,
    stored,
  }
}
