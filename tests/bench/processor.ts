import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { Queue } from 'bullmq'
import { Kafka, logLevel, Partitioners } from 'kafkajs'
import { startCollector } from '../../services/collector/collector.js'
import { startProcessor } from '../../services/processor/processor.js'
import { ALERTS_QUEUE, type AlertJob } from '../../shared/alerts/alert-job.js'
import { prepareStorageAndTopics } from '../../shared/bootstrap.js'
import { createClickHouse, queryRows } from '../../shared/clickhouse/client.js'
import { loadConfig } from '../../shared/config/env.js'
import { Health } from '../../shared/http/health.js'
import { HttpServer } from '../../shared/http/server.js'
import { createKafka } from '../../shared/kafka/client.js'
import { topicNames } from '../../shared/kafka/topics.js'
import { createLogger } from '../../shared/logger.js'
import { createRedis } from '../../shared/redis/client.js'
import { modelMetricsEvent } from '../helpers/events.js'
import { generateFacts } from '../integration/kpi/fact-generator.js'

export interface ProcessorBenchResult {
  facts: number
  sweepMs: number[]
  latencyP50Ms: number
  latencyP99Ms: number
  probes: number
  backgroundEventsPerSec: number
}

function percentile(sorted: number[], p: number): number {
  return (
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN
  )
}

/** A small valid privacy event for the background load (the collector ingesting at full speed). */
function loadEvent(i: number, tag: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      specversion: '1.0',
      id: `load-${tag}-${i}`,
      source: '/bench/load',
      type: 'aims.privacy_incident.v1',
      time: new Date().toISOString(),
      data: {
        incidentId: `INC-LOAD-${i % 5000}`,
        status: 'detected',
        severity: 'low',
        category: 'misdirected_email',
        detectedAt: new Date().toISOString(),
        notifiable: false,
        recordsAffected: 1,
        dataSubjectsAffected: 1,
        controls: ['ISO27001:A.5.24'],
      },
    }),
  )
}

/**
 * (1) With ~10 million facts stored, the wall time of a full sweep of the catalog over all scopes.
 * (2) While a producer floods the collector, the latency from a model-metrics event produced to its
 * alert job enqueued: probe events alternate between a four-fifths-rule breach and a healthy state, so
 * every probe makes one transition (firing or resolved) and one job; BullMQ stamps the job's add time.
 */
export async function benchProcessor(
  brokers: string[],
  workDir: string,
  log: (s: string) => void,
  opts: { scale?: number; probes?: number } = {},
): Promise<ProcessorBenchResult> {
  const id = randomBytes(3).toString('hex')
  const cfg = loadConfig({
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_TOPIC_PREFIX: `bench-proc-${id}.`,
    CLICKHOUSE_DATA_DIR: join(workDir, 'clickhouse-processor'),
    REDIS_PREFIX: `aims-bench:proc:${id}`,
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'error',
    LOG_FORMAT: 'json',
    SWEEP_INTERVAL_MS: '3600000',
  })
  const logger = createLogger(cfg)
  const kafka = createKafka(cfg, brokers, logger)
  const ch = await createClickHouse(cfg)
  await prepareStorageAndTopics(cfg, logger, kafka, ch)

  const seeded = performance.now()
  const counts = await generateFacts(ch, { now: new Date(), scale: opts.scale ?? 8.4 })
  log(`seeded ${counts.total} fact rows in ${((performance.now() - seeded) / 1000).toFixed(1)} s`)

  const redis = createRedis(cfg, 'worker')
  const health = new Health()
  const http = new HttpServer(health, logger)
  const processor = await startProcessor({
    cfg,
    log: logger,
    kafka,
    ch,
    redis,
    health,
    http,
    aimsConfig: undefined,
    scheduleSweep: false,
  })
  const sweepMs: number[] = []
  for (let i = 0; i < 3; i++) {
    const t = performance.now()
    await processor.sweepNow()
    sweepMs.push(performance.now() - t)
  }
  log(`full sweep of the catalog: ${sweepMs.map((s) => Math.round(s)).join(', ')} ms`)

  // The sweeps above enqueued a job per breach of the generated data; start the probes on an empty queue.
  const alerts = new Queue<AlertJob>(ALERTS_QUEUE, {
    connection: redis.duplicate(),
    prefix: cfg.REDIS_PREFIX,
  })
  await alerts.obliterate({ force: true })
  const collector = await startCollector({ cfg, log: logger, kafka, ch, health })
  const topics = topicNames(cfg)
  const raw = new Kafka({ clientId: 'bench-load', brokers, logLevel: logLevel.NOTHING })
  const loadProducer = raw.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await loadProducer.connect()
  let loading = true
  let loaded = 0
  const loadStarted = performance.now()
  const load = (async () => {
    while (loading) {
      const messages = Array.from({ length: 1000 }, (_, j) => ({ value: loadEvent(loaded + j, id) }))
      await loadProducer.send({ topic: topics.privacyIncidents, messages, acks: 1 })
      loaded += messages.length
    }
  })()

  const probeProducer = raw.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await probeProducer.connect()
  const latencies: number[] = []
  const probes = opts.probes ?? Number(process.env.BENCH_PROBES ?? 40)
  for (let i = 0; i < probes; i++) {
    const unfair = i % 2 === 0
    const producedAt = Date.now()
    const event = modelMetricsEvent({
      modelId: 'latency-probe',
      modelVersion: '1',
      time: new Date(producedAt).toISOString(),
      groups: [
        unfair ? { group: 'a', tp: 25, fp: 5, tn: 60, fn: 10 } : { group: 'a', tp: 36, fp: 4, tn: 52, fn: 8 },
        { group: 'b', tp: 40, fp: 2, tn: 50, fn: 8 },
      ],
    })
    await probeProducer.send({
      topic: topics.modelMetrics,
      messages: [{ key: 'latency-probe', value: JSON.stringify(event) }],
    })
    const expectKind = unfair ? 'firing' : 'resolved'
    const deadline = Date.now() + 10_000
    for (;;) {
      const jobs = await alerts.getJobs(['waiting', 'prioritized', 'delayed'])
      const mine = jobs.find(
        (j) =>
          j.data.kpi.id === 'model.disparate_impact_ratio' &&
          j.data.scope.model_id === 'latency-probe' &&
          j.data.kind === expectKind &&
          j.timestamp >= producedAt,
      )
      if (mine) {
        latencies.push(mine.timestamp - producedAt)
        break
      }
      if (Date.now() > deadline) {
        log(`probe ${i}: no ${expectKind} job within 10 s`)
        latencies.push(10_000)
        break
      }
      await new Promise((r) => setTimeout(r, 5))
    }
    // Let each breach change wait a little, as real evaluations are spaced out.
    await new Promise((r) => setTimeout(r, 100))
  }
  loading = false
  await load
  const backgroundEventsPerSec = loaded / ((performance.now() - loadStarted) / 1000)
  await probeProducer.disconnect()
  await loadProducer.disconnect()
  await collector.stop()
  await processor.stop()
  await alerts.obliterate({ force: true }).catch(() => undefined)
  await alerts.close()
  redis.disconnect()
  const [stored] = await queryRows<{ n: string }>(ch, 'SELECT count() AS n FROM privacy_incident_events')
  log(
    `background load: ${Math.round(backgroundEventsPerSec)} events/s produced; privacy rows now ${stored?.n}`,
  )
  await ch.close()
  const sorted = [...latencies].sort((a, b) => a - b)
  return {
    facts: counts.total,
    sweepMs,
    latencyP50Ms: percentile(sorted, 50),
    latencyP99Ms: percentile(sorted, 99),
    probes: latencies.length,
    backgroundEventsPerSec,
  }
}
