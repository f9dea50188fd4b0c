import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs'
import { type Processor, startProcessor } from '../../services/processor/processor.js'
import { snapshotFromState } from '../../services/processor/snapshot.js'
import { prepareStorageAndTopics } from '../../shared/bootstrap.js'
import { type ClickHouse, createClickHouse, queryRows } from '../../shared/clickhouse/client.js'
import { type Config, loadConfig } from '../../shared/config/env.js'
import { Health } from '../../shared/http/health.js'
import { HttpServer } from '../../shared/http/server.js'
import { createKafka } from '../../shared/kafka/client.js'
import { topicNames } from '../../shared/kafka/topics.js'
import { runReference } from '../../shared/kpi/run.js'
import { createLogger } from '../../shared/logger.js'
import { createRedis } from '../../shared/redis/client.js'
import { spawnLocalClickHouse } from '../helpers/clickhouse-server.js'
import { incidentEvent, modelMetricsEvent } from '../helpers/events.js'
import { generateFacts } from '../integration/kpi/fact-generator.js'

/**
 * `npm run bench -- processor`: the processor's figures of issue 10, all against a ClickHouse server
 * process (the production topology), measured in one run:
 * - facts, scan_s: the generated history (BENCH_FACT_SCALE, default 8.4 ≈ 10 M rows) and the time to read
 *   every fact row once (sum of cityHash64 over all columns: a baseline of "touching all history");
 * - equivalence: the series a replica computes from state equal the reference queries over the facts;
 * - sweep_full_s: a cold processor taking over the whole catalog (state read, every series evaluated
 *   through its breach lifecycle, values written), median of 3;
 * - tick_s_scale_1 / tick_s_scale_full: one periodic tick with nothing changed, at 1/8 and at full scale;
 * - event_to_job_ms per probe kind — model trigger, incident (per-incident clock), privacy aggregate,
 *   timer deadline — with Poisson-spaced probes while a generator process floods the collector, the jobs
 *   observed from another process (BullMQ's own add timestamp); for deadlines, from the deadline;
 * - ingest_ratio_during_probes: the collector's rate while probing ÷ its rate under the same load alone.
 */

const REPO_ROOT = new URL('../../', import.meta.url).pathname
const HOUR = 3_600_000
/** Probes per kind in the quiet round (before the flood). */
const QUIET_PROBES = 50

export interface LatencyStats {
  n: number
  p50: number
  p99: number
  max: number
  missed: number
}

export interface ProcessorBenchResult {
  facts: number
  seed_s: number
  scan_s: number
  equivalence: { series: number; equal: boolean; differing: number }
  sweep_full_s: number
  sweep_full_runs_s: number[]
  first_takeover_s: number
  tick_s_scale_1: number
  tick_s_scale_full: number
  facts_scale_1: number
  /** While a generator floods the collector (the issue's condition). */
  event_to_job_ms: Record<'model_trigger' | 'incident' | 'privacy_aggregate' | 'timer_deadline', LatencyStats>
  /** The same probes before the flood starts: the path's own latency. */
  event_to_job_ms_quiet: Record<
    'model_trigger' | 'incident' | 'privacy_aggregate' | 'timer_deadline',
    LatencyStats
  >
  /** os.loadavg() at the end: 1, 5 and 15 minutes (the machine's other work shows here). */
  load_average: number[]
  ingest_rate_unloaded: number
  ingest_rate_during_probes: number
  ingest_ratio_during_probes: number
}

function percentile(sorted: number[], p: number): number {
  return (
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN
  )
}
const stats = (xs: number[], missed: number): LatencyStats => {
  const s = [...xs].sort((a, b) => a - b)
  return {
    n: s.length,
    p50: percentile(s, 50),
    p99: percentile(s, 99),
    max: s[s.length - 1] ?? Number.NaN,
    missed,
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
/** Exponential gaps: a Poisson process of the given mean interval. */
const poissonGap = (meanMs: number) => -Math.log(1 - Math.random()) * meanMs

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port
      srv.close(() => resolve(port))
    })
  })
}

interface Child {
  proc: ChildProcess
  lines: AsyncIterable<string> & { close(): void }
  stop(): Promise<void>
}

function spawnTsx(script: string, args: string[], env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  // BENCH_DEBUG=1 shows the children's own output (logs go to stdout as JSON, errors to stderr).
  if (process.env.BENCH_DEBUG) proc.stderr!.pipe(process.stderr)
  else proc.stderr!.resume()
  const lines = createInterface({ input: proc.stdout! })
  const exited = new Promise<void>((done) => proc.once('exit', () => done()))
  process.once('exit', () => proc.kill('SIGKILL'))
  return {
    proc,
    lines,
    stop: async () => {
      proc.stdin!.end()
      proc.kill('SIGTERM')
      await Promise.race([exited, sleep(10_000).then(() => proc.kill('SIGKILL'))])
    },
  }
}

function serviceEnv(cfg: Config, extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(cfg))
    if (v !== undefined) env[k] = Array.isArray(v) ? v.join(',') : String(v)
  return { ...env, LOG_FORMAT: 'json', ...extra }
}

/** The bearer token the benchmark's service processes accept on /metrics. */
const METRICS_TOKEN = randomBytes(24).toString('hex')

async function metricSum(port: number, name: string, where: string[] = []): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, {
    headers: { authorization: `Bearer ${METRICS_TOKEN}` },
  })
  if (!res.ok) throw new Error(`/metrics on ${port}: ${res.status}`)
  const text = await res.text()
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    if (!where.every((w) => line.includes(w))) continue
    sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return sum
}

async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return
    await sleep(250)
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** A configuration of its own (database, topics, Redis prefix) on the shared broker and server. */
function benchConfig(brokers: string[], clickhouseUrl: string, tag: string): Config {
  return loadConfig({
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_TOPIC_PREFIX: `bench-proc-${tag}.`,
    CLICKHOUSE_URL: clickhouseUrl,
    CLICKHOUSE_DATABASE: `bench_proc_${tag}`,
    CLICKHOUSE_REQUEST_TIMEOUT_MS: '600000',
    REDIS_PREFIX: `aims-bench:proc:${tag}`,
    PROCESSOR_GROUP_ID: `bench-proc-${tag}`,
    COLLECTOR_GROUP_ID: `bench-proc-${tag}-collector`,
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'error',
    LOG_FORMAT: 'json',
    SWEEP_INTERVAL_MS: '3600000',
  })
}

interface Dataset {
  cfg: Config
  ch: ClickHouse
  facts: number
  seedS: number
}

async function seed(brokers: string[], url: string, tag: string, scale: number, now: Date): Promise<Dataset> {
  const cfg = benchConfig(brokers, url, tag)
  const logger = createLogger(cfg)
  const ch = await createClickHouse(cfg)
  await prepareStorageAndTopics(cfg, logger, createKafka(cfg, brokers, logger), ch)
  const started = performance.now()
  const counts = await generateFacts(ch, { now, scale })
  return { cfg, ch, facts: counts.total, seedS: (performance.now() - started) / 1000 }
}

/** An in-process processor on a dataset (its own consumer group, so it is assigned every partition). */
async function processorOn(d: Dataset, group: string): Promise<Processor> {
  const cfg = { ...d.cfg, PROCESSOR_GROUP_ID: group }
  const logger = createLogger(cfg)
  const redis = createRedis(cfg, 'worker')
  const health = new Health()
  const p = await startProcessor({
    cfg,
    log: logger,
    kafka: createKafka(cfg, cfg.KAFKA_BROKERS!, logger),
    ch: d.ch,
    redis,
    health,
    http: new HttpServer(health, logger),
    aimsConfig: undefined,
    scheduleSweep: false,
  })
  await p.ready()
  return {
    ...p,
    stop: async () => {
      await p.stop()
      redis.disconnect()
    },
  }
}

async function coldTakeovers(
  d: Dataset,
  runs: number,
  ticks: number,
): Promise<{ takeoverS: number[]; tickS: number }> {
  const takeoverS: number[] = []
  const tickMs: number[] = []
  for (let i = 0; i < runs; i++) {
    const p = await processorOn(d, `${d.cfg.PROCESSOR_GROUP_ID}-cold-${i}-${randomBytes(2).toString('hex')}`)
    takeoverS.push((p.lastTakeover()?.ms ?? Number.NaN) / 1000)
    for (let t = 0; t < ticks; t++) {
      const started = performance.now()
      await p.sweepNow()
      tickMs.push(performance.now() - started)
    }
    await p.stop()
  }
  return {
    takeoverS,
    tickS:
      percentile(
        [...tickMs].sort((a, b) => a - b),
        50,
      ) / 1000,
  }
}

export async function benchProcessor(
  brokers: string[],
  workDir: string,
  log: (s: string) => void,
  opts: { scale?: number; probesPerKind?: number } = {},
): Promise<ProcessorBenchResult> {
  const scale = opts.scale ?? 8.4
  const probesPerKind = opts.probesPerKind ?? 300
  const server = await spawnLocalClickHouse(join(workDir, 'clickhouse-processor'))
  const children: Child[] = []
  const now = new Date()
  const tag = randomBytes(3).toString('hex')
  try {
    // ----- history at 1/8 and at full scale -------------------------------------------------------------
    const small = await seed(brokers, server.url, `${tag}_s1`, scale / 8, now)
    log(`seeded ${small.facts} fact rows (scale ${(scale / 8).toFixed(2)}) in ${small.seedS.toFixed(1)} s`)
    const full = await seed(brokers, server.url, `${tag}_full`, scale, now)
    log(`seeded ${full.facts} fact rows (scale ${scale}) in ${full.seedS.toFixed(1)} s`)

    let scanS = 0
    for (const table of [
      'privacy_incident_events',
      'model_metric_events',
      'model_group_counts',
      'audit_finding_events',
    ]) {
      const started = performance.now()
      await queryRows(full.ch, `SELECT sum(cityHash64(*)) AS h FROM ${table}`)
      scanS += (performance.now() - started) / 1000
    }
    log(`scan of every fact row: ${scanS.toFixed(2)} s`)

    // ----- equivalence gate ---------------------------------------------------------------------------------
    const [reference, live] = await Promise.all([runReference(full.ch, now), snapshotFromState(full.ch, now)])
    const key = (s: { kpiId: string; scope: Record<string, string> }) =>
      `${s.kpiId} ${JSON.stringify(Object.entries(s.scope).sort())}`
    const ref = new Map(reference.map((s) => [key(s), s.value]))
    const got = new Map(live.map((s) => [key(s), s.value]))
    let differing = Math.abs(ref.size - got.size)
    for (const [k, v] of ref) if (!got.has(k) || !Object.is(got.get(k), v)) differing++
    const equivalence = { series: ref.size, equal: differing === 0, differing }
    log(`equivalence gate: ${ref.size} series, ${differing} differing`)

    // ----- take-over and tick -------------------------------------------------------------------------------
    // The first replica records every breach the generated history holds (each a CAS, a row and a job):
    // a one-off, reported apart. Later cold replicas find them in the shared breach store.
    const first = await processorOn(full, `${full.cfg.PROCESSOR_GROUP_ID}-first`)
    const firstTakeoverS = (first.lastTakeover()?.ms ?? Number.NaN) / 1000
    await first.stop()
    log(`first take-over (records the history's breaches): ${firstTakeoverS.toFixed(1)} s`)
    const firstSmall = await processorOn(small, `${small.cfg.PROCESSOR_GROUP_ID}-first`)
    await firstSmall.stop()
    const fullRuns = await coldTakeovers(full, 3, 10)
    const smallRuns = await coldTakeovers(small, 1, 10)
    const sweepRuns = fullRuns.takeoverS
    const sweepFullS = percentile(
      [...sweepRuns].sort((a, b) => a - b),
      50,
    )
    log(`cold take-over of the whole catalog: ${sweepRuns.map((s) => s.toFixed(2)).join(', ')} s`)
    log(
      `tick with no changes: ${(smallRuns.tickS * 1000).toFixed(1)} ms at 1/8, ${(fullRuns.tickS * 1000).toFixed(1)} ms at full scale`,
    )

    // ----- latency under load -------------------------------------------------------------------------------
    const cfg = full.cfg
    const topics = topicNames(cfg)
    const configFile = join(workDir, 'processor-bench.yaml')
    // The privacy aggregate probe flips records affected (30 d) across a critical threshold of 10^12.
    await writeFile(configFile, 'kpis:\n  privacy.records_affected:\n    critical: 1000000000000\n')
    const collectorPort = await freePort()
    const processorPort = await freePort()
    const common = {
      AIMS_CONFIG_FILE: configFile,
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'error',
      SWEEP_INTERVAL_MS: '60000',
      METRICS_TOKEN,
    }
    const collector = spawnTsx(
      'services/collector/main.ts',
      [],
      serviceEnv(cfg, { ...common, HTTP_PORT: String(collectorPort) }),
    )
    children.push(collector)
    const processor = spawnTsx(
      'services/processor/main.ts',
      [],
      serviceEnv(cfg, {
        ...common,
        HTTP_PORT: String(processorPort),
        PROCESSOR_GROUP_ID: `${cfg.PROCESSOR_GROUP_ID}-latency`,
      }),
    )
    children.push(processor)
    if (process.env.BENCH_DEBUG) {
      for (const c of [collector, processor]) {
        void (async () => {
          for await (const line of c.lines) process.stderr.write(`${line.slice(0, 400)}\n`)
        })()
      }
    }
    const observer = spawnTsx('tests/bench/job-observer.ts', [cfg.REDIS_URL, cfg.REDIS_PREFIX])
    children.push(observer)
    const jobs: { timestamp: number; kpi: string; kind: string; scope: Record<string, string> }[] = []
    let observerReady = false
    void (async () => {
      for await (const line of observer.lines) {
        const m = JSON.parse(line)
        if (m.ready) observerReady = true
        else jobs.push(m)
      }
    })()
    await waitUntil('the observer', async () => observerReady, 60_000)
    await waitUntil(
      'the latency processor to take over',
      async () =>
        (await metricSum(processorPort, 'aims_processor_area_load_seconds_count', ['area="model"'])) >= 1,
      600_000,
    )
    await waitUntil(
      'the collector to consume',
      async () => (await metricSum(collectorPort, 'aims_collector_messages_total')) >= 0,
      120_000,
    )
    const accepted = () => metricSum(collectorPort, 'aims_collector_messages_total', ['outcome="accepted"'])

    const kafka = new Kafka({ clientId: `bench-probe-${tag}`, brokers, logLevel: logLevel.NOTHING })
    const producer: Producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
    const iso = (t: number) => new Date(t).toISOString()
    const unfair = [
      { group: 'a', tp: 25, fp: 5, tn: 60, fn: 10 },
      { group: 'b', tp: 40, fp: 2, tn: 50, fn: 8 },
    ]
    const findJob = (pred: (j: (typeof jobs)[number]) => boolean) => jobs.find(pred)
    const waitJob = async (pred: (j: (typeof jobs)[number]) => boolean, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const j = findJob(pred)
        if (j) return j
        if (Date.now() > deadline) return undefined
        await sleep(5)
      }
    }
    /** One round of Poisson-spaced probes of every kind, `round` naming its ids apart from other rounds'. */
    const probeRound = async (round: string, probesPerKind: number) => {
      const latencies: Record<keyof ProcessorBenchResult['event_to_job_ms'], number[]> = {
        model_trigger: [],
        incident: [],
        privacy_aggregate: [],
        timer_deadline: [],
      }
      const missed: Record<keyof ProcessorBenchResult['event_to_job_ms'], number> = {
        model_trigger: 0,
        incident: 0,
        privacy_aggregate: 0,
        timer_deadline: 0,
      }
      const TIMEOUT = 10_000
      const LEAD_MS = 3_000
      const meanGapMs = Number(process.env.BENCH_PROBE_GAP_MS ?? 100)
      const openLoop = async (
        kind: 'model_trigger' | 'incident' | 'timer_deadline',
        send: (k: number) => Promise<{ expectAt: number; match: (j: (typeof jobs)[number]) => boolean }>,
      ) => {
        const pending: Promise<void>[] = []
        for (let k = 0; k < probesPerKind; k++) {
          await sleep(poissonGap(meanGapMs))
          const probe = await send(k)
          pending.push(
            waitJob(probe.match, TIMEOUT + LEAD_MS).then((j) => {
              if (j) latencies[kind].push(j.timestamp - probe.expectAt)
              else missed[kind]++
            }),
          )
        }
        await Promise.all(pending)
      }
      const probeModel = async (k: number) => {
        const id = `probe-model-${tag}-${round}-${k}`
        const sentAt = Date.now()
        await producer.send({
          topic: topics.modelMetrics,
          messages: [
            {
              key: id,
              value: JSON.stringify(
                modelMetricsEvent({ modelId: id, modelVersion: '1', time: iso(sentAt), groups: unfair }),
              ),
            },
          ],
        })
        return {
          expectAt: sentAt,
          match: (j: (typeof jobs)[number]) =>
            j.kpi === 'model.disparate_impact_ratio' && j.scope.model_id === id,
        }
      }
      const incidentMessage = (
        id: string,
        detectedAt: number,
        t: number,
        extra: Record<string, unknown> = {},
      ) => {
        const e = incidentEvent({
          incidentId: id,
          status: 'detected',
          time: iso(t),
          detectedAt: iso(detectedAt),
          notifiable: true,
        })
        Object.assign(e.data, extra)
        return { key: id, value: JSON.stringify(e), partition: 0 }
      }
      const probeIncident = async (k: number) => {
        const id = `INC-PROBE-C-${tag}-${round}-${k}`
        const sentAt = Date.now()
        await producer.send({
          topic: topics.privacyIncidents,
          messages: [incidentMessage(id, sentAt - 73 * HOUR, sentAt)],
        })
        return {
          expectAt: sentAt,
          match: (j: (typeof jobs)[number]) =>
            j.kpi === 'privacy.notification_clock_hours' && j.scope.incident_id === id && j.kind === 'firing',
        }
      }
      const probeTimer = async (k: number) => {
        const id = `INC-PROBE-T-${tag}-${round}-${k}`
        const sentAt = Date.now()
        const mark = sentAt + LEAD_MS
        await producer.send({
          topic: topics.privacyIncidents,
          messages: [incidentMessage(id, mark - 48 * HOUR, sentAt)],
        })
        return {
          expectAt: mark,
          match: (j: (typeof jobs)[number]) =>
            j.kpi === 'privacy.notification_clock_hours' && j.scope.incident_id === id && j.kind === 'firing',
        }
      }
      const aggregateLoop = async () => {
        const id = `INC-PROBE-AGG-${tag}-${round}`
        for (let k = 0; k < probesPerKind; k++) {
          await sleep(poissonGap(meanGapMs))
          const fire = k % 2 === 0
          const recordsJobs = () => jobs.filter((j) => j.kpi === 'privacy.records_affected')
          const before = recordsJobs().length
          const sentAt = Date.now()
          await producer.send({
            topic: topics.privacyIncidents,
            messages: [
              incidentMessage(id, sentAt - HOUR, sentAt, {
                notifiable: false,
                recordsAffected: fire ? 1_000_000_000_000 : 0,
              }),
            ],
          })
          const want = fire ? 'firing' : 'resolved'
          const deadline = Date.now() + TIMEOUT
          let j: (typeof jobs)[number] | undefined
          while (!j && Date.now() < deadline) {
            j = recordsJobs()
              .slice(before)
              .find((x) => x.kind === want && x.timestamp >= sentAt)
            if (!j) await sleep(5)
          }
          if (j) latencies.privacy_aggregate.push(j.timestamp - sentAt)
          else missed.privacy_aggregate++
        }
      }
      await Promise.all([
        openLoop('model_trigger', probeModel),
        openLoop('incident', probeIncident),
        openLoop('timer_deadline', probeTimer),
        aggregateLoop(),
      ])
      const kinds = Object.keys(latencies) as (keyof typeof latencies)[]
      return Object.fromEntries(
        kinds.map((k) => [k, stats(latencies[k], missed[k])]),
      ) as ProcessorBenchResult['event_to_job_ms']
    }
    // Quiet: the path's own latency, nothing else running.
    const quiet = await probeRound('quiet', Math.min(probesPerKind, QUIET_PROBES))

    // Load on partitions 1..n-1 of the incidents topic; probes travel on partition 0, as a low-volume
    // producer's events would beside a flood.
    const load = spawnTsx('tests/bench/processor-load.ts', [
      brokers.join(','),
      topics.privacyIncidents,
      '1,2',
      tag,
    ])
    children.push(load)
    void (async () => {
      for await (const _ of load.lines);
    })()
    await sleep(10_000) // warm-up: the collector reaches its steady rate
    const a0 = await accepted()
    const t0 = performance.now()
    await sleep(15_000)
    const unloaded = ((await accepted()) - a0) / ((performance.now() - t0) / 1000)
    log(`collector under load alone: ${Math.round(unloaded)} events/s`)
    const p0 = await accepted()
    const probeStarted = performance.now()
    const loaded = await probeRound('load', probesPerKind)
    const during = ((await accepted()) - p0) / ((performance.now() - probeStarted) / 1000)
    log(`collector while probing: ${Math.round(during)} events/s`)
    await producer.disconnect()

    const result: ProcessorBenchResult = {
      facts: full.facts,
      seed_s: full.seedS,
      scan_s: scanS,
      equivalence,
      sweep_full_s: sweepFullS,
      sweep_full_runs_s: sweepRuns,
      first_takeover_s: firstTakeoverS,
      tick_s_scale_1: smallRuns.tickS,
      tick_s_scale_full: fullRuns.tickS,
      facts_scale_1: small.facts,
      event_to_job_ms: loaded,
      event_to_job_ms_quiet: quiet,
      load_average: loadavg(),
      ingest_rate_unloaded: unloaded,
      ingest_rate_during_probes: during,
      ingest_ratio_during_probes: during / unloaded,
    }
    await small.ch.close()
    await full.ch.close()
    return result
  } finally {
    for (const c of children.reverse()) await c.stop()
    await server.stop()
  }
}

/** The table printed by `npm run bench -- processor`, each figure beside its goal. */
export function formatProcessorBench(r: ProcessorBenchResult): string[] {
  const met = (ok: boolean) => (ok ? 'met' : 'NOT met')
  const lines = [
    `processor over ${r.facts} facts (seeded in ${r.seed_s.toFixed(0)} s; equivalence with the reference queries: ${r.equivalence.series} series, ${r.equivalence.differing} differing)`,
    `  scan of every fact row (baseline)      ${r.scan_s.toFixed(2)} s`,
    `  sweep_full_s (cold take-over, median)  ${r.sweep_full_s.toFixed(2)} s   goal < 2: ${met(r.sweep_full_s < 2)}   (runs ${r.sweep_full_runs_s.map((s) => s.toFixed(2)).join(', ')}; first take-over recording the history's breaches ${r.first_takeover_s.toFixed(1)} s)`,
    `  tick, no changes: 1/8 scale (${r.facts_scale_1} facts) ${(r.tick_s_scale_1 * 1000).toFixed(1)} ms, full ${(r.tick_s_scale_full * 1000).toFixed(1)} ms   goal ≤ 1.5×: ${met(r.tick_s_scale_full <= 1.5 * r.tick_s_scale_1)} (ratio ${(r.tick_s_scale_full / r.tick_s_scale_1).toFixed(2)})`,
  ]
  for (const [kind, s] of Object.entries(r.event_to_job_ms_quiet)) {
    lines.push(
      `  event → job, quiet ${kind.padEnd(18)} p50 ${s.p50.toFixed(0)} ms, p99 ${s.p99.toFixed(0)} ms, max ${s.max.toFixed(0)} ms over ${s.n} probes${s.missed ? ` (${s.missed} missed)` : ''}`,
    )
  }
  for (const [kind, s] of Object.entries(r.event_to_job_ms)) {
    lines.push(
      `  event → job, flood ${kind.padEnd(18)} p50 ${s.p50.toFixed(0)} ms, p99 ${s.p99.toFixed(0)} ms, max ${s.max.toFixed(0)} ms over ${s.n} probes${s.missed ? ` (${s.missed} missed)` : ''}   goal p99 < 1000: ${met(s.p99 < 1000 && s.missed === 0)}`,
    )
  }
  lines.push(
    `  load average at the end (1/5/15 min): ${r.load_average.map((x) => x.toFixed(1)).join(' / ')} on ${cpus().length} cores`,
    `  ingest during probes ${Math.round(r.ingest_rate_during_probes)} events/s vs ${Math.round(r.ingest_rate_unloaded)} under the load alone = ${r.ingest_ratio_during_probes.toFixed(2)}   goal ≥ 0.9: ${met(r.ingest_ratio_during_probes >= 0.9)}`,
  )
  return lines
}
