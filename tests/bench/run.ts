/**
 * `npm run bench [-- ingest|alerts|processor|review-pack|backfill ...]`: the project's performance figures, each next to the
 * baseline or goal its issue names, measured in this run on this machine.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startLocalKafka } from '../../deploy/kafka/local-broker.js'
import { benchAlertLatency } from './alert-latency.js'
import { benchBackfill, formatBackfillBench } from './backfill.js'
import { benchIngest } from './ingest.js'
import { benchProcessor, formatProcessorBench } from './processor.js'
import { benchReviewPack, formatReviewPackBench } from './review-pack.js'

const selected = new Set(process.argv.slice(2).filter((a) => !a.startsWith('-')))
const want = (name: string) => selected.size === 0 || selected.has(name)
const log = (s: string) => process.stderr.write(`[bench] ${s}\n`)
const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000)

const workDir = await mkdtemp(join(tmpdir(), 'aims-bench-'))
// The backfill bench reads ClickHouse only: no broker started for it alone.
const needsKafka = ['ingest', 'processor', 'alerts'].some(want)
const kafka =
  process.env.KAFKA_BROKERS || !needsKafka
    ? undefined
    : await startLocalKafka({ dataDir: join(workDir, 'kafka'), port: 0 })
const brokers = process.env.KAFKA_BROKERS?.split(',') ?? kafka?.brokers ?? []
const report: string[] = []
const resultsDir = new URL('../../bench-results/', import.meta.url)
/** Each benchmark's figures as JSON in bench-results/, beside the printed report. */
async function save(name: string, data: unknown): Promise<void> {
  await mkdir(resultsDir, { recursive: true })
  const body = { measuredAt: new Date().toISOString(), node: process.version, ...(data as object) }
  await writeFile(new URL(`${name}.json`, resultsDir), `${JSON.stringify(body, null, 2)}\n`)
}
let failed = false
try {
  if (want('ingest')) {
    // BENCH_CLICKHOUSE=server (default: a ClickHouse server process, the production topology),
    // embedded (chDB inside the collector) or both.
    const mode = process.env.BENCH_CLICKHOUSE ?? 'server'
    if (!['server', 'embedded', 'both'].includes(mode)) throw new Error(`BENCH_CLICKHOUSE=${mode}?`)
    const modes = mode === 'both' ? (['server', 'embedded'] as const) : [mode as 'server' | 'embedded']
    const r = await benchIngest(brokers, workDir, EVENTS, log, modes)
    await save('ingest', r)
    for (const run of r.runs) {
      report.push(
        `ingest (ClickHouse ${run.clickhouse}): ${r.events} events, collector ${Math.round(run.rate)} events/s vs bare kafkajs consumer ${Math.round(r.bareRate)} events/s = ratio ${(run.rate / r.bareRate).toFixed(2)} (goal >= 50000 events/s and >= 0.6), collector max RSS ${run.collectorMaxRssMb.toFixed(0)} MB (goal < 300)${run.serverMaxRssMb === undefined ? '' : `, server max RSS ${run.serverMaxRssMb.toFixed(0)} MB`}, each event stored exactly once (${run.distinct} distinct in ${run.rows} rows)`,
      )
    }
  }
  if (want('processor')) {
    const r = await benchProcessor(brokers, workDir, log, {
      scale: Number(process.env.BENCH_FACT_SCALE ?? 8.4),
      probesPerKind: Number(process.env.BENCH_PROBES ?? 300),
    })
    await save('processor', r)
    report.push(...formatProcessorBench(r))
  }
  if (want('alerts')) {
    const r = await benchAlertLatency({})
    await save('alerts', r)
    report.push(
      `alerts: breach transition → delivered at a webhook, p50 ${Math.round(r.p50Ms)} ms, p99 ${Math.round(r.p99Ms)} ms over ${r.n} alerts (goal p99 < 500 ms), ${r.received} requests received`,
    )
  }
  if (want('review-pack')) {
    const r = await benchReviewPack(workDir, log, { scale: Number(process.env.BENCH_PACK_SCALE ?? 1) })
    await save('review-pack', r)
    report.push(formatReviewPackBench(r))
  }
  if (want('backfill')) {
    // BENCH_BACKFILL_FACTS: fact rows generated (the issue's figure: 10000000); BENCH_BACKFILL_DAYS: steps.
    const r = await benchBackfill(workDir, log, {
      facts: Number(process.env.BENCH_BACKFILL_FACTS ?? 120_000),
      days: Number(process.env.BENCH_BACKFILL_DAYS ?? 120),
    })
    await save('backfill', r)
    report.push(formatBackfillBench(r))
  }
} catch (err) {
  failed = true
  log(`failed: ${(err as Error).stack ?? String(err)}`)
} finally {
  await kafka?.stop()
  await rm(workDir, { recursive: true, force: true })
}
process.stdout.write(`\n${report.join('\n')}\n`)
// Clients left open by a benchmark (queues, pools) must not keep the process alive: the run is over.
process.exit(failed ? 1 : 0)
