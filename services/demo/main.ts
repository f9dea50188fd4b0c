import { type Config, loadConfig } from '../../shared/config/env.js'
import { ConfigError, errorMessage } from '../../shared/errors.js'
import { createKafka } from '../../shared/kafka/client.js'
import { ensureTopics, topicNames } from '../../shared/kafka/topics.js'
import { createLogger } from '../../shared/logger.js'
import { DEMO_USAGE, type DemoArgs, parseDemoArgs, UsageError } from './cli-args.js'
import { type DemoFeedResult, type FeedPhase, runDemoFeed } from './feed.js'
import { createProgressBar, type ProgressBar } from './progress.js'

/**
 * `npm run demo -- --rate 500 --duration 60s`: the demo feed against a running broker. Ctrl-C stops the
 * live phase cleanly (in-flight batch finished, producer disconnected) and still prints the summary.
 */

function fail(code: number, message: string): never {
  process.stderr.write(`demo: ${message}\n`)
  process.exit(code)
}

let args: DemoArgs
let cfg: Config
try {
  const parsed = parseDemoArgs(process.argv.slice(2))
  if (parsed === 'help') {
    process.stdout.write(`${DEMO_USAGE}\n`)
    process.exit(0)
  }
  args = parsed
  cfg = loadConfig()
} catch (err) {
  if (err instanceof UsageError) fail(2, `${err.message}\n\n${DEMO_USAGE}`)
  if (err instanceof ConfigError) fail(2, err.message)
  throw err
}

const log = createLogger(cfg).child({ service: 'demo' })
const brokers = args.brokers ?? cfg.KAFKA_BROKERS ?? [`127.0.0.1:${cfg.KAFKA_LOCAL_PORT}`]
const kafka = createKafka(cfg, brokers, log)
const topics = topicNames(cfg)

const abort = new AbortController()
let interrupts = 0
const onSignal = (signal: NodeJS.Signals) => {
  interrupts++
  if (interrupts > 1) fail(130, 'interrupted twice, exiting without waiting')
  process.stderr.write(`\ndemo: ${signal}, stopping after the batch in flight (again to force)\n`)
  abort.abort()
}
process.on('SIGINT', onSignal)
process.on('SIGTERM', onSignal)

const fmt = (n: number) => Math.round(n).toLocaleString('en-US')

function summary(r: DemoFeedResult): string {
  const parts: string[] = []
  if (args.history) {
    const rate = r.historyMs > 0 ? (r.history * 1000) / r.historyMs : 0
    parts.push(`history ${fmt(r.history)} events in ${(r.historyMs / 1000).toFixed(1)} s (${fmt(rate)}/s)`)
  }
  if (args.rate > 0) {
    parts.push(`live ${fmt(r.live)} events in ${(r.liveMs / 1000).toFixed(1)} s (${fmt(r.liveRate)}/s)`)
  }
  parts.push(`total ${fmt(r.total)}`)
  const by = Object.entries(r.byType)
    .map(([type, n]) => `${type.replace(/^aims\./, '').replace(/\.v1$/, '')} ${fmt(n)}`)
    .join(', ')
  return `demo: ${parts.join(', ')} [${by}]${r.aborted ? ' (stopped)' : ''}`
}

try {
  const admin = kafka.admin()
  await admin.connect()
  try {
    await ensureTopics(admin, cfg)
  } finally {
    await admin.disconnect()
  }
  log.info({ brokers, seed: args.seed, months: args.months, rate: args.rate }, 'demo feed starting')

  const bars: Partial<Record<FeedPhase, ProgressBar>> = {}
  const result = await runDemoFeed({
    kafka,
    topics,
    seed: args.seed,
    history: args.history,
    months: args.months,
    rate: args.rate,
    durationMs: args.durationMs,
    log,
    signal: abort.signal,
    onProgress(done, total, phase) {
      if (phase === 'live') bars.history?.done()
      let bar = bars[phase]
      if (!bar) {
        bar = createProgressBar(phase === 'history' ? 'history' : 'live   ', total)
        bars[phase] = bar
      }
      bar.update(done, total)
    },
  })
  bars.history?.done()
  bars.live?.done()
  process.stdout.write(`${summary(result)}\n`)
  log.flush()
  process.exit(0)
} catch (err) {
  log.error({ err: errorMessage(err) }, 'demo feed failed')
  log.flush()
  fail(3, `Kafka error: ${errorMessage(err)} (brokers ${brokers.join(',')})`)
}
