/**
 * `npm run bench [-- ingest|alerts|processor ...]`: the project's performance figures, each next to the
 * baseline or goal its issue names, measured in this run on this machine.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startLocalKafka } from '../../deploy/kafka/local-broker.js'
import { benchIngest } from './ingest.js'

const selected = new Set(process.argv.slice(2).filter((a) => !a.startsWith('-')))
const want = (name: string) => selected.size === 0 || selected.has(name)
const log = (s: string) => process.stderr.write(`[bench] ${s}\n`)
const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000)

const workDir = await mkdtemp(join(tmpdir(), 'aims-bench-'))
const kafka = process.env.KAFKA_BROKERS
  ? undefined
  : await startLocalKafka({ dataDir: join(workDir, 'kafka'), port: 0 })
const brokers = process.env.KAFKA_BROKERS?.split(',') ?? kafka!.brokers
const report: string[] = []
try {
  if (want('ingest')) {
    const r = await benchIngest(brokers, workDir, EVENTS, log)
    report.push(
      `ingest: ${r.events} events, collector ${Math.round(r.collectorRate)} events/s vs bare kafkajs consumer ${Math.round(r.bareRate)} events/s = ratio ${r.ratio.toFixed(2)} (goal >= 50000 events/s and >= 0.6), collector max RSS ${r.collectorMaxRssMb.toFixed(0)} MB (goal < 300), stored ${r.stored}/${r.events}`,
    )
  }
} finally {
  await kafka?.stop()
  await rm(workDir, { recursive: true, force: true })
}
process.stdout.write(`\n${report.join('\n')}\n`)
