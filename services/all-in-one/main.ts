import { createServer } from 'node:net'
import { join, relative } from 'node:path'
import { startLocalKafka } from '../../deploy/kafka/local-broker.js'
import { prepareStorageAndTopics } from '../../shared/bootstrap.js'
import { createClickHouse } from '../../shared/clickhouse/client.js'
import type { Config } from '../../shared/config/env.js'
import { createKafka } from '../../shared/kafka/client.js'
import { waitForBrokers } from '../../shared/kafka/reachable.js'
import { topicNames } from '../../shared/kafka/topics.js'
import { loadAimsConfigFile } from '../../shared/kpi/thresholds.js'
import { createLogger } from '../../shared/logger.js'
import { createRedis } from '../../shared/redis/client.js'
import { type Running, runService } from '../../shared/service.js'
import { screen } from '../../shared/terminal.js'
import { startAlerter } from '../alerter/alerter.js'
import { startCollector } from '../collector/collector.js'
import { runDemoFeed } from '../demo/feed.js'
import { startProcessor } from '../processor/processor.js'
import { backfillDemoHistory } from './demo-history.js'
import { createStartup, type Step } from './startup.js'
import { createSummary, formatSummary, storedTotals } from './summary.js'

/**
 * `npm start`: the whole pipeline in one process on embedded defaults — a local Kafka broker from the
 * official jars (unless KAFKA_BROKERS is set), embedded ClickHouse (unless CLICKHOUSE_URL is set), the
 * Redis at REDIS_URL — with the collector, processor and alerter, the review page and the demo feed.
 * One process because embedded ClickHouse binds its data folder to one process.
 *
 * Its terminal is for people: start-up steps with their elapsed time, the banner, one line per alert and
 * a summary every few seconds. On a terminal (LOG_FORMAT=auto) the full JSON log goes to
 * <DATA_DIR>/logs/aims.log and only warnings and errors reach the screen; off a terminal the log is
 * JSON on stdout as for every service.
 */

const peopleTerminal = (cfg: Config) => cfg.LOG_FORMAT === 'auto' && screen().tty
const logFile = (cfg: Config) => join(cfg.DATA_DIR, 'logs', 'aims.log')

/** A path as short as it can be said: relative to the working directory when it is under it. */
const shortPath = (path: string) => {
  const rel = relative(process.cwd(), path)
  return rel && !rel.startsWith('..') ? `./${rel}` : path
}

/** Resolves when nothing listens on 127.0.0.1:port, else rejects saying who to blame. */
function assertPortFree(port: number, variable: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', () =>
      reject(
        new Error(
          `127.0.0.1:${port} is in use (another instance's Kafka broker, or another program): stop it, or set ${variable} to a free port (0 picks one)`,
        ),
      ),
    )
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()))
  })
}

await runService(
  'aims',
  {
    servesApi: true,
    // On a terminal, the screen is for people and the full log goes to a file.
    logger: (cfg) => (peopleTerminal(cfg) ? createLogger(cfg, { file: logFile(cfg) }) : createLogger(cfg)),
  },
  async ({ cfg, log, health, http }) => {
    const out = screen()
    const say = (line: string) => out.line(line)
    const startup = createStartup(out)
    const forPeople = peopleTerminal(cfg)
    say(
      `AIMS KPI pipeline starting: data in ${shortPath(cfg.DATA_DIR)}${forPeople ? `, full log in ${shortPath(logFile(cfg))}` : ''}`,
    )
    const aimsConfig = cfg.AIMS_CONFIG_FILE ? await loadAimsConfigFile(cfg.AIMS_CONFIG_FILE) : undefined

    let step: Step | undefined
    let banner: Running['listening']
    const stops: (() => Promise<void>)[] = []
    let stopKafka: (() => Promise<void>) | undefined
    let closeClickHouse: (() => Promise<void>) | undefined
    const stopAll = async () => {
      const stopping = performance.now()
      say('Stopping…')
      const failed = (err: unknown) => log.error({ err }, 'stop failed')
      // The components first, newest first: they leave their consumer groups through the broker.
      for (const stop of stops.reverse()) await stop().catch(failed)
      // Then ClickHouse and the broker, which no longer depend on each other, side by side.
      await Promise.all([closeClickHouse?.().catch(failed), stopKafka?.().catch(failed)])
      say(`Stopped in ${((performance.now() - stopping) / 1000).toFixed(1)} s.`)
    }
    try {
      let brokers = cfg.KAFKA_BROKERS
      let localBroker = false
      if (brokers) {
        // Before anything slower: a wrong address or a broker that is down is said within seconds.
        step = startup.step(`Kafka at ${brokers.join(',')}`)
        await waitForBrokers(cfg, brokers, cfg.KAFKA_STARTUP_TIMEOUT_MS)
        step.done()
      } else {
        step = startup.step('Kafka broker (local, from the official jars)', [
          { afterMs: 5_000, text: 'the first run downloads the jars with Maven, about a minute' },
        ])
        if (cfg.KAFKA_LOCAL_PORT !== 0) await assertPortFree(cfg.KAFKA_LOCAL_PORT, 'KAFKA_LOCAL_PORT')
        const kafka = await startLocalKafka({
          dataDir: join(cfg.DATA_DIR, 'kafka'),
          port: cfg.KAFKA_LOCAL_PORT,
          log: (msg) => {
            log.info(msg)
            step?.note(msg.replace(/ in \/\S+/, '').replace(/ into \S+/, ''))
          },
        })
        stopKafka = () => kafka.stop()
        brokers = kafka.brokers
        localBroker = true
        step.done(brokers.join(','))
      }
      const kafka = createKafka(cfg, brokers, log)

      step = startup.step('ClickHouse and Kafka topics')
      step.note(cfg.CLICKHOUSE_URL ? `connecting to ${cfg.CLICKHOUSE_URL}` : 'opening embedded ClickHouse')
      const ch = await createClickHouse(cfg)
      closeClickHouse = () => ch.close()
      step.note('migrations and topics')
      await prepareStorageAndTopics(cfg, log, kafka, ch)
      const base = await storedTotals(ch)
      step.done(ch.mode === 'embedded' ? `embedded, ${shortPath(ch.location)}` : ch.location)
      const redis = createRedis(cfg, 'worker')
      stops.push(async () => redis.disconnect())

      step = startup.step('alerter')
      const alerter = await startAlerter({ cfg, log, health, alerting: aimsConfig?.alerting, clickhouse: ch })
      stops.push(() => alerter.close())
      step.done()

      // A consumer that left its group uncleanly (Ctrl-C during a rebalance, a crash) keeps its place
      // until Kafka's session timeout expires: joining then waits up to 30 s, which the hint explains.
      const groupWait = {
        afterMs: 5_000,
        text: 'waiting for Kafka to let go of the previous run\u2019s consumer, up to 30 s',
      }
      step = startup.step('processor (KPIs and breaches)', [groupWait])
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
      const open = processor.evaluator.openBreaches()
      step.done(`${open} open breach${open === 1 ? '' : 'es'} restored`)

      step = startup.step('collector', [groupWait])
      const collector = await startCollector({
        cfg,
        log: log.child({ component: 'collector' }),
        kafka,
        ch,
        health,
      })
      stops.push(() => collector.stop())
      step.done()
      step = undefined

      const pub = cfg.PUBLIC_BASE_URL.replace(/\/+$/, '')
      // Printed once the HTTP server listens (runService calls `listening`).
      banner = (at) => {
        say('')
        say(`AIMS KPI pipeline ready in ${startup.elapsedS().toFixed(1)} s`)
        say(`  review page   ${pub}/`)
        if (at.localAdmin) {
          // The terminal, not the log: this link holds the admin token (kept in the file below).
          say(`  sign in       ${at.localAdmin.loginUrl}`)
          say(
            `                (admin token in ${shortPath(at.localAdmin.file)}; API: Authorization: Bearer <token>)`,
          )
        }
        say(`  read API      ${pub}/api/kpis`)
        say(`  OpenAPI       ${pub}/api/openapi.json`)
        say(`  metrics       ${pub}/metrics   health ${pub}/readyz`)
        say(`  kafka         ${brokers!.join(',')}${localBroker ? ' (local broker)' : ''}`)
        say(
          `  clickhouse    ${ch.mode === 'embedded' ? `embedded, ${shortPath(ch.location)}` : ch.location}, database ${ch.database}`,
        )
        say(`  redis         ${cfg.REDIS_URL.replace(/\/\/[^@]*@/, '//***@')} (prefix ${cfg.REDIS_PREFIX})`)
        say(`  send events   npm run produce -- --shift-to-now shared/events/examples/model-metrics.jsonl`)
        say('Ctrl-C stops everything.')
        say('')
      }

      if (cfg.DEMO) {
        const demoAbort = new AbortController()
        const demo = startup.step('demo feed: history')
        const months = 4
        const since = new Date()
        let trends: Promise<void> | undefined
        const feed = runDemoFeed({
          kafka,
          topics: topicNames(cfg),
          seed: 42,
          history: true,
          months,
          rate: 5,
          log: log.child({ component: 'demo' }),
          signal: demoAbort.signal,
          onProgress: (done, total, phase) => {
            if (phase !== 'history' || trends) return
            demo.note(`${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} events`)
            if (done < total) return
            demo.done(`${total.toLocaleString('en-US')} events; live events follow at 5/s`)
            const step = startup.step('demo history: daily KPI trends')
            trends = backfillDemoHistory({
              ch,
              config: aimsConfig,
              events: total,
              since,
              months,
              step,
              log: log.child({ component: 'demo-history' }),
              signal: demoAbort.signal,
            }).catch((err) => {
              step.fail()
              log.error({ err }, 'demo history backfill failed')
            })
          },
        }).catch((err) => {
          demo.fail()
          log.error({ err }, 'demo feed stopped')
        })
        stops.push(async () => {
          demoAbort.abort()
          await feed
          await trends
        })
      }

      if (cfg.SUMMARY_INTERVAL_S > 0) {
        const summary = createSummary(base, () => processor.evaluator.openBreaches())
        const timer = setInterval(() => {
          void summary().then((s) => say(formatSummary(s)))
        }, cfg.SUMMARY_INTERVAL_S * 1000)
        stops.push(async () => clearInterval(timer))
      }
    } catch (err) {
      step?.fail()
      await stopAll()
      throw err
    }
    return { stop: stopAll, listening: (at) => banner?.(at) }
  },
)
