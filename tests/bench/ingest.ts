import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type Admin, Kafka, logLevel, Partitioners } from 'kafkajs'
import { createClickHouse, queryRows } from '../../shared/clickhouse/client.js'
import { type Config, loadConfig } from '../../shared/config/env.js'
import { ensureTopics, topicNames } from '../../shared/kafka/topics.js'
import { spawnLocalClickHouse } from '../helpers/clickhouse-server.js'
import { REPO_ROOT } from '../helpers/pipeline.js'

/**
 * Where the collector's ClickHouse runs:
 * - server: the project's local ClickHouse server (deploy/clickhouse/serve.ts) in its own process, the
 *   collector talking HTTP to it: the production topology (docker-compose, k8s), so the collector's RSS
 *   is the collector's alone;
 * - embedded: chDB inside the collector process (CLICKHOUSE_URL unset), the single-process mode.
 */
export type ClickHouseMode = 'server' | 'embedded'

export interface IngestRun {
  clickhouse: ClickHouseMode
  /** Events per second the collector committed, end to end (read, validated, inserted, committed). */
  rate: number
  seconds: number
  collectorMaxRssMb: number
  /** Of the ClickHouse server process (server mode only). */
  serverMaxRssMb?: number
  /** CPU seconds the collector process (and the server process) used over the whole run. */
  collectorCpuS: number
  serverCpuS?: number
  /** Distinct event ids stored, and rows stored: both equal the events produced when each is stored once. */
  distinct: number
  rows: number
}

export interface IngestResult {
  events: number
  bareRate: number
  runs: IngestRun[]
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

/** User + system CPU seconds a process has used so far (its threads included). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th overall.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / 100
}

/**
 * One collector process over the whole topic, from an empty ClickHouse to every event committed. Timed
 * between the first and the last observed commit, counting only the events committed in between, so
 * neither start-up nor the first batch distorts the rate; the bare consumer is timed the same way.
 */
async function runCollector(
  mode: ClickHouseMode,
  brokers: string[],
  workDir: string,
  admin: Admin,
  topic: string,
  total: number,
  log: (s: string) => void,
): Promise<IngestRun> {
  const dataDir = join(workDir, `clickhouse-${mode}`)
  const server = mode === 'server' ? await spawnLocalClickHouse(dataDir) : undefined
  const groupId = `bench-collector-${mode}`
  const env: Record<string, string> = {
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_TOPIC_PREFIX: 'bench.',
    COLLECTOR_GROUP_ID: groupId,
    CLICKHOUSE_DATA_DIR: dataDir,
    ...(server ? { CLICKHOUSE_URL: server.url } : {}),
    HTTP_PORT: '0',
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
  }
  const cfg: Config = loadConfig(env)
  try {
    // BENCH_COLLECTOR_NODE_ARGS: extra node flags for the collector, e.g. "--cpu-prof --cpu-prof-dir=DIR".
    const nodeArgs = process.env.BENCH_COLLECTOR_NODE_ARGS?.split(' ').filter(Boolean) ?? []
    const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'services/collector/main.ts'], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    })
    const exited = new Promise((r) => child.once('exit', r))
    let start: { at: number; done: number } | undefined
    let finished = 0
    let collectorMaxRssMb = 0
    let serverMaxRssMb = 0
    let collectorCpuS = 0
    for (;;) {
      collectorMaxRssMb = Math.max(collectorMaxRssMb, await rssMb(child.pid!))
      if (server) serverMaxRssMb = Math.max(serverMaxRssMb, await rssMb(server.pid))
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] })
      const done = (committed?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0)
      const now = performance.now()
      if (start === undefined && done > 0) start = { at: now, done }
      if (done >= total) {
        finished = now
        collectorCpuS = await cpuSeconds(child.pid!)
        break
      }
      if (child.exitCode !== null) throw new Error(`the collector exited (${child.exitCode}) before the end`)
      await new Promise((r) => setTimeout(r, 100))
    }
    const serverCpuS = server ? await cpuSeconds(server.pid) : undefined
    child.kill('SIGTERM')
    await exited
    const seconds = (finished - start!.at) / 1000
    const rate = (total - start!.done) / seconds

    const ch = await createClickHouse(cfg)
    const [row] = await queryRows<{ distinct: string; rows: string }>(
      ch,
      'SELECT uniqExact(event_id) AS distinct, count() AS rows FROM privacy_incident_events',
    )
    await ch.close()
    const run: IngestRun = {
      clickhouse: mode,
      rate,
      seconds,
      collectorMaxRssMb,
      collectorCpuS,
      distinct: Number(row?.distinct ?? 0),
      rows: Number(row?.rows ?? 0),
      ...(server ? { serverMaxRssMb, serverCpuS } : {}),
    }
    log(
      `collector (ClickHouse ${mode}): ${Math.round(rate)} events/s (${seconds.toFixed(1)} s), max RSS ${collectorMaxRssMb.toFixed(0)} MB, CPU ${collectorCpuS.toFixed(1)} s` +
        (server ? `; server max RSS ${serverMaxRssMb.toFixed(0)} MB, CPU ${serverCpuS!.toFixed(1)} s` : '') +
        `; stored ${run.distinct} distinct events in ${run.rows} rows`,
    )
    return run
  } finally {
    await server?.stop()
  }
}

/**
 * Ingest throughput: `total` events already on the topic, read by (1) a bare kafkajs consumer doing
 * nothing and (2) the collector as its own process (validation, ClickHouse inserts, triggers, commits),
 * once per ClickHouse mode asked for. Every run must store each event exactly once.
 */
export async function benchIngest(
  brokers: string[],
  workDir: string,
  total: number,
  log: (s: string) => void,
  modes: readonly ClickHouseMode[] = ['server'],
): Promise<IngestResult> {
  const cfg = loadConfig({ KAFKA_BROKERS: brokers.join(','), KAFKA_TOPIC_PREFIX: 'bench.' })
  const topic = topicNames(cfg).privacyIncidents
  const kafka = new Kafka({ clientId: 'bench-admin', brokers, logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  try {
    await ensureTopics(admin, cfg)
    await produceAll(brokers, topic, total, log)

    const bare = JSON.parse(
      await runChild(
        [
          'tests/bench/bare-consumer.ts',
          '--brokers',
          brokers.join(','),
          '--topic',
          topic,
          '--count',
          String(total),
          '--group',
          'bench-bare',
        ],
        {},
      ),
    ) as { rate: number; seconds: number; maxRssMb: number }
    log(
      `bare kafkajs consumer: ${Math.round(bare.rate)} events/s (${bare.seconds.toFixed(1)} s), max RSS ${bare.maxRssMb.toFixed(0)} MB`,
    )

    const runs: IngestRun[] = []
    for (const mode of modes) {
      const run = await runCollector(mode, brokers, workDir, admin, topic, total, log)
      if (run.distinct !== total || run.rows !== total) {
        throw new Error(
          `collector (ClickHouse ${mode}) stored ${run.distinct} distinct events in ${run.rows} rows; expected each of the ${total} events exactly once`,
        )
      }
      runs.push(run)
    }
    return { events: total, bareRate: bare.rate, runs }
  } finally {
    await admin.disconnect()
  }
}
