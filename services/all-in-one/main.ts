import { join } from 'node:path'
import { startLocalKafka } from '../../deploy/kafka/local-broker.js'
import { prepareStorageAndTopics } from '../../shared/bootstrap.js'
import { createClickHouse } from '../../shared/clickhouse/client.js'
import { createKafka } from '../../shared/kafka/client.js'
import { topicNames } from '../../shared/kafka/topics.js'
import { loadAimsConfigFile } from '../../shared/kpi/thresholds.js'
import { createRedis } from '../../shared/redis/client.js'
import { type Running, runService } from '../../shared/service.js'
import { startAlerter } from '../alerter/alerter.js'
import { startCollector } from '../collector/collector.js'
import { runDemoFeed } from '../demo/feed.js'
import { createProgressBar } from '../demo/progress.js'
import { startProcessor } from '../processor/processor.js'
import { createSummary, formatSummary } from './summary.js'

/**
 * `npm start`: the whole pipeline in one process on embedded defaults — a local Kafka broker from the
 * official jars (unless KAFKA_BROKERS is set), embedded ClickHouse (unless CLICKHOUSE_URL is set), the
 * Redis at REDIS_URL — with the collector, processor and alerter, the review page and the demo feed.
 * One process because embedded ClickHouse binds its data folder to one process.
 */
await runService('aims', { servesApi: true }, async ({ cfg, log, health, http }) => {
  const started = performance.now()
  const say = (line: string) => process.stdout.write(`${line}\n`)
  const aimsConfig = cfg.AIMS_CONFIG_FILE ? await loadAimsConfigFile(cfg.AIMS_CONFIG_FILE) : undefined

  const localKafka = cfg.KAFKA_BROKERS
    ? undefined
    : await startLocalKafka({
        dataDir: join(cfg.DATA_DIR, 'kafka'),
        port: cfg.KAFKA_LOCAL_PORT,
        log: (msg) => log.info(msg),
      })
  const stops: (() => Promise<void>)[] = []
  let banner: Running['listening']
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((err) => log.error({ err }, 'stop failed'))
    await localKafka?.stop()
  }
  try {
    const brokers = cfg.KAFKA_BROKERS ?? localKafka!.brokers
    const kafka = createKafka(cfg, brokers, log)
    const ch = await createClickHouse(cfg)
    stops.push(() => ch.close())
    await prepareStorageAndTopics(cfg, log, kafka, ch)
    const redis = createRedis(cfg, 'worker')
    stops.push(async () => redis.disconnect())

    const alerter = await startAlerter({ cfg, log, health, alerting: aimsConfig?.alerting, clickhouse: ch })
    stops.push(() => alerter.close())
    const processor = await startProcessor({
      cfg,
      log: log.child({ component: 'processor' }),
      kafka,
      ch,
      redis,
      health,
      http,
      aimsConfig,
    })
    stops.push(() => processor.stop())
    const collector = await startCollector({
      cfg,
      log: log.child({ component: 'collector' }),
      kafka,
      ch,
      health,
    })
    stops.push(() => collector.stop())

    const base = cfg.PUBLIC_BASE_URL.replace(/\/+$/, '')
    // Printed once the HTTP server listens (runService calls `listening`).
    banner = (at) => {
      say('')
      say(`AIMS KPI pipeline ready in ${((performance.now() - started) / 1000).toFixed(1)} s`)
      say(`  review page   ${base}/`)
      if (at.localAdmin) {
        // The terminal, not the log: this link holds the admin token (kept in the file below).
        say(`  sign in       ${at.localAdmin.loginUrl}`)
        say(`                (admin token kept in ${at.localAdmin.file}; API: Authorization: Bearer <token>)`)
      }
      say(`  read API      ${base}/api/kpis   (OpenAPI: ${base}/api/openapi.json)`)
      say(`  metrics       ${base}/metrics    health: ${base}/readyz`)
      say(`  kafka         ${brokers.join(',')}${localKafka ? ' (local broker)' : ''}`)
      say(
        `  clickhouse    ${ch.mode === 'embedded' ? `embedded, ${ch.location}` : ch.location}, database ${ch.database}`,
      )
      say(`  redis         ${cfg.REDIS_URL.replace(/\/\/[^@]*@/, '//***@')} (prefix ${cfg.REDIS_PREFIX})`)
      say(`  send events   npm run produce -- shared/events/examples/model-metrics.jsonl`)
      say('Ctrl-C stops everything.')
      say('')
    }

    if (cfg.DEMO) {
      const demoAbort = new AbortController()
      const bar = createProgressBar('demo history', 1)
      const feed = runDemoFeed({
        kafka,
        topics: topicNames(cfg),
        seed: 42,
        history: true,
        months: 4,
        rate: 5,
        log: log.child({ component: 'demo' }),
        signal: demoAbort.signal,
        onProgress: (done, total, phase) => {
          if (phase === 'history') {
            bar.update(done, total)
            if (done === total) bar.done()
          }
        },
      }).catch((err) => log.error({ err }, 'demo feed stopped'))
      stops.push(async () => {
        demoAbort.abort()
        await feed
      })
    }

    if (cfg.SUMMARY_INTERVAL_S > 0) {
      const summary = createSummary(() => processor.evaluator.openBreaches())
      const timer = setInterval(() => {
        void summary().then((s) => say(`[${new Date().toISOString().slice(11, 19)}] ${formatSummary(s)}`))
      }, cfg.SUMMARY_INTERVAL_S * 1000)
      stops.push(async () => clearInterval(timer))
    }
  } catch (err) {
    await stopAll()
    throw err
  }
  return { stop: stopAll, listening: (at) => banner?.(at) }
})
