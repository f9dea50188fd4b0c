import { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import type { Kafka } from 'kafkajs'
import type { AlertJob } from '../../shared/alerts/alert-job.js'
import { createAlertQueue, enqueueAlert } from '../../shared/alerts/queue.js'
import { ResponseState } from '../../shared/alerts/response.js'
import { type ClickHouse, createClickHouse, queryRows } from '../../shared/clickhouse/client.js'
import type { Config } from '../../shared/config/env.js'
import { errorMessage } from '../../shared/errors.js'
import { type KpiScope, triggerKeyOf } from '../../shared/events/index.js'
import type { Health } from '../../shared/http/health.js'
import type { HttpServer } from '../../shared/http/server.js'
import { partitionForKey } from '../../shared/kafka/partition.js'
import { topicNames } from '../../shared/kafka/topics.js'
import { OPEN_BREACHES_SQL, type StoredTransition } from '../../shared/kpi/breach-state.js'
import { recordDefinitionVersions } from '../../shared/kpi/definition-log.js'
import { staleAfterConfigured } from '../../shared/kpi/lifecycle.js'
import { type AimsConfig, enabledKpis } from '../../shared/kpi/thresholds.js'
import type { Logger } from '../../shared/logger.js'
import { mountReviewPackApi, packSyncWaitMs } from '../review-pack/api.js'
import { AuditRunner, ModelRunner, PrivacyRunner, type TimedArea } from './areas.js'
import { BreachStore } from './breach-store.js'
import { processorMetrics } from './metrics.js'
import { mountNonconformityApi } from './nonconformity/api.js'
import { NonconformityOpener } from './nonconformity/opener.js'
import { mountReadApi } from './read-api.js'
import { restoreResponseState } from './response/restore.js'
import { mountResponseApi } from './response/routes.js'
import { mountReviewPage } from './review-page/mount.js'
import { SeriesEvaluator } from './series.js'
import { startTriggerConsumer, type TriggerRouter } from './trigger-consumer.js'

export interface ProcessorDeps {
  cfg: Config
  log: Logger
  kafka: Kafka
  /** ClickHouse for the read API and review page. */
  ch: ClickHouse
  /** A `createRedis(cfg, 'worker')` connection (alerts queue, shared breach state). */
  redis: Redis
  health: Health
  http: HttpServer
  aimsConfig: AimsConfig | undefined
  /** Evaluation time; tests move it instead of sleeping. */
  clock?: () => Date
  /** Off in tests that drive time themselves with `sweepNow()`. Default on. */
  scheduleSweep?: boolean
}

export interface Processor {
  evaluator: { openBreaches(): number }
  /** Brings every owned area to the clock's time now (deadlines, aggregates, pending `for`). */
  sweepNow(): Promise<void>
  /** Resolves once the areas this replica owns are loaded. */
  ready(): Promise<void>
  /** The latest take-over: from the assignment to every owned area and model evaluated whole. */
  lastTakeover(): { ms: number; partitions: number } | undefined
  stop(): Promise<void>
}

/** How often the deadline index is checked: a deadline is evaluated within this (plus the work) of its time. */
export const TICK_MS = 200
/** Outbox entries older than this are written again (their writer crashed or failed)... */
const OUTBOX_GRACE_MS = 30_000
/** ...looked for this often, by every replica. */
const OUTBOX_INTERVAL_MS = 10_000
/** How often the response state is checked against its evidence (response/restore.ts). */
const RESTORE_INTERVAL_MS = 60_000
/** Series read as current however old their latest value: they are written when they change. */
const CURRENT_FOREVER_MS = 50 * 365 * 24 * 3600_000

/**
 * Triggers and time → KPI values, breach transitions and alert jobs; plus the read API.
 *
 * Ownership: the trigger topic is keyed by owner (`area:privacy`, `area:audit`, `model:<id>`), so the
 * partitions Kafka assigns this replica are the series it evaluates. The owner of an area loads the
 * area's entity state from ClickHouse when it takes the area over and then keeps its KPIs incrementally,
 * firing each deadline from its index within a tick; model triggers recompute the models they name.
 * Breaches are shared state with compare-and-set (BreachStore), so replicas racing through a hand-over
 * still record each transition once.
 */
export async function startProcessor(deps: ProcessorDeps): Promise<Processor> {
  const { cfg, log, kafka, redis, health, http, aimsConfig } = deps
  const clock = deps.clock ?? (() => new Date())
  const metrics = processorMetrics()
  const kpis = enabledKpis(aimsConfig)
  const alerts = createAlertQueue(cfg, redis)
  // Evaluation reads and writes on its own ClickHouse session: never queued behind ingest or the read API.
  const ch = await createClickHouse(cfg, 'evaluate')
  // Before any value is written: every definition version a value carries has its entry in the log.
  const changed = await recordDefinitionVersions(ch, kpis, aimsConfig, clock())
  const changes = changed.filter((c) => c.previous_version !== '')
  if (changes.length > 0) {
    log.info(
      {
        kpis: changes.map((c) => `${c.kpi_id} ${c.previous_version}→${c.version} (${c.changes.join(', ')})`),
      },
      'KPI definitions changed',
    )
  }
  const store = new BreachStore(redis, cfg.REDIS_PREFIX)
  const nonconformities = await NonconformityOpener.start({
    cfg,
    ch,
    redis,
    kafka,
    store,
    kpis,
    config: aimsConfig,
    clock,
    log,
  })
  const enqueue = async (job: AlertJob) => {
    await enqueueAlert(alerts, job)
    await nonconformities.onTransition(job)
  }
  const restored = await store.restoreOnce(() =>
    queryRows<StoredTransition>(ch, OPEN_BREACHES_SQL, { kpi_ids: [] }),
  )
  if (restored > 0) log.info({ openBreaches: restored }, 'open breaches restored from ClickHouse')
  await removeLegacySweepSchedule(cfg, redis, log)

  const series = new SeriesEvaluator({
    ch,
    store,
    kpis,
    config: aimsConfig,
    baseUrl: cfg.PUBLIC_BASE_URL,
    enqueue,
    log,
    metrics,
  })
  const areaDeps = { ch, series, kpis, config: aimsConfig, log, metrics }
  const models = new ModelRunner(areaDeps)
  const watchesStaleness = staleAfterConfigured(aimsConfig)

  const topic = topicNames(cfg).kpiTriggers
  const partitionCount = await topicPartitions(kafka, topic)
  let owned = new Set<number>()
  const owns = (key: string) => owned.has(partitionForKey(topic, key, partitionCount))
  let areas: TimedArea[] = []
  let assignments = 0
  let ready: Promise<unknown> = Promise.resolve()
  let takeover: { ms: number; partitions: number } | undefined

  const router: TriggerRouter = {
    assigned(partitions) {
      owned = new Set(partitions)
      metrics.ownedPartitions.set(owned.size)
      // Whatever this replica knew of the breach store may have been changed by the previous owners.
      series.forget()
      const now = clock().getTime()
      areas = []
      if (owns('area:privacy')) areas.push(new PrivacyRunner(areaDeps, now))
      if (owns('area:audit')) areas.push(new AuditRunner(areaDeps, now))
      for (const area of ['privacy', 'audit']) {
        if (!areas.some((a) => a.name === area)) metrics.heldEntities.set({ area }, 0)
      }
      const loads: Promise<unknown>[] = areas.map((a) => a.ready)
      // The first assignment of this process evaluates every model it owns: thresholds or the catalog may
      // have changed while it was down. Later ones take over from a replica that kept them current, unless
      // staleness is watched: its deadlines live in memory, armed by evaluating the models owned now.
      if (assignments++ === 0 || watchesStaleness)
        loads.push(models.evaluateAll((id) => owns(`model:${id}`), now))
      const started = performance.now()
      ready = Promise.all(loads).then(
        () => {
          takeover = { ms: performance.now() - started, partitions: owned.size }
          log.info({ partitions: [...owned], ms: Math.round(takeover.ms) }, 'trigger partitions taken over')
        },
        (err) => {
          health.set('evaluation', false, errorMessage(err))
          log.error({ err: errorMessage(err) }, 'taking over the assigned partitions failed')
        },
      )
    },
    async route(_partition, scopes, now) {
      const incidents: string[] = []
      const findings: string[] = []
      const modelIds = new Set<string>()
      for (const s of scopes as KpiScope[]) {
        if (!owns(triggerKeyOf(s))) continue
        if (s.area === 'privacy') incidents.push(s.incidentId)
        else if (s.area === 'audit') findings.push(s.findingId)
        else modelIds.add(s.modelId)
      }
      const work: Promise<unknown>[] = []
      const privacy = areas.find((a) => a.name === 'privacy')
      const audit = areas.find((a) => a.name === 'audit')
      if (privacy && incidents.length > 0) work.push(privacy.onTrigger(incidents, now))
      if (audit && findings.length > 0) work.push(audit.onTrigger(findings, now))
      if (modelIds.size > 0) work.push(models.onTrigger([...modelIds], now))
      await Promise.all(work)
    },
  }

  mountReadApi(http, {
    ch: deps.ch,
    kpis,
    config: aimsConfig,
    deadLetterPayloadBytes: cfg.HTTP_DEAD_LETTER_PAYLOAD_BYTES,
    currentWindowMs: CURRENT_FOREVER_MS,
    clock,
  })
  mountResponseApi(http, { ch: deps.ch, redis, cfg, kpis, config: aimsConfig, clock })
  mountReviewPackApi(http, {
    ch: deps.ch,
    config: aimsConfig,
    clock,
    redis,
    redisPrefix: cfg.REDIS_PREFIX,
    log,
    syncWaitMs: packSyncWaitMs(cfg),
  })
  mountReviewPage(http, {
    ch: deps.ch,
    kpis,
    config: aimsConfig,
    currentWindowMs: CURRENT_FOREVER_MS,
    clock,
    log,
  })
  mountNonconformityApi(http, { opener: nonconformities, kpis })

  const redriveOutbox = async () => {
    for (const entry of await store.pending(Date.now() - OUTBOX_GRACE_MS)) {
      await ch.client.insert({ table: 'breach_transitions', values: [entry.row], format: 'JSONEachRow' })
      await enqueue(entry.job)
      await store.done(entry.row.transition_id)
      metrics.outboxRedriven.inc()
    }
  }

  /** One pass: deadlines that came, pending `for`s that ran out; with `all`, every area (heartbeats). */
  const pass = async (all: boolean) => {
    const now = clock().getTime()
    const current = areas
    await Promise.all(
      current.map((a) => {
        const due = a.nextDeadline()
        return all || (due !== undefined && due <= now) ? a.tick(now) : undefined
      }),
    )
    const pending = series.duePending(now)
    if (pending.length > 0) await series.evaluate(pending)
    const stale = series.nextStale()
    if (stale !== undefined && stale <= now) await series.evaluateStale(now)
    await nonconformities.tick()
  }

  const responseState = new ResponseState(redis, cfg.REDIS_PREFIX)
  const restoreResponse = async () => {
    try {
      const r = await restoreResponseState(ch, responseState, clock())
      for (const [kind, n] of Object.entries(r)) if (n > 0) metrics.responseRestored.inc({ kind }, n)
      if (r.silences + r.acknowledgements + r.owners > 0) {
        log.warn(r, 'response state restored into Redis from ClickHouse: Redis had lost it')
      }
    } catch (err) {
      // Not the evaluation's health: the next interval tries again.
      log.warn({ err: errorMessage(err) }, 'restoring the response state from ClickHouse failed')
    }
  }

  let lastSweep = 0
  let lastOutbox = Date.now()
  let lastRestore = 0
  let ticking = false
  const tick = async () => {
    if (ticking) return
    ticking = true
    try {
      await ready
      const sweep = Date.now() - lastSweep >= cfg.SWEEP_INTERVAL_MS
      const started = performance.now()
      await pass(sweep)
      if (Date.now() - lastOutbox >= OUTBOX_INTERVAL_MS) {
        lastOutbox = Date.now()
        await redriveOutbox()
      }
      if (Date.now() - lastRestore >= RESTORE_INTERVAL_MS) {
        lastRestore = Date.now()
        await restoreResponse()
      }
      if (sweep) {
        lastSweep = Date.now()
        metrics.seriesByStatus.reset()
        for (const [kpi, byStatus] of series.statusCounts()) {
          for (const [status, n] of byStatus) metrics.seriesByStatus.set({ kpi, status }, n)
        }
        metrics.sweepSeconds.observe((performance.now() - started) / 1000)
        metrics.lastSweep.set(Date.now() / 1000)
        health.set('sweep', true)
      }
      health.set('evaluation', true)
    } catch (err) {
      health.set('evaluation', false, errorMessage(err))
      log.warn({ err: errorMessage(err) }, 'timed evaluation failed; the next tick retries')
    } finally {
      ticking = false
    }
  }
  const timer = deps.scheduleSweep === false ? undefined : setInterval(() => void tick(), TICK_MS)

  const triggers = await startTriggerConsumer({ cfg, log, kafka, health, metrics, clock, router })
  log.info({ kpis: kpis.length, triggerPartitions: partitionCount }, 'processor started')

  return {
    evaluator: {
      openBreaches: () => {
        const c = series.openCounts()
        return c.warning + c.critical
      },
    },
    async sweepNow() {
      await ready
      await pass(true)
      await redriveOutbox()
    },
    async ready() {
      await ready
    },
    lastTakeover: () => takeover,
    async stop() {
      if (timer) clearInterval(timer)
      await triggers.stop()
      await ready.catch(() => undefined)
      await alerts.close()
      await nonconformities.stop()
      await ch.close()
      health.remove('sweep')
      health.remove('evaluation')
    },
  }
}

async function topicPartitions(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const meta = await admin.fetchTopicMetadata({ topics: [topic] })
    const n = meta.topics[0]?.partitions.length ?? 0
    if (n === 0) throw new Error(`topic ${topic} has no partitions`)
    return n
  } finally {
    await admin.disconnect()
  }
}

/** Versions before 0.2 swept on a BullMQ job scheduler; its schedule would keep adding jobs nobody takes. */
async function removeLegacySweepSchedule(cfg: Config, redis: Redis, log: Logger): Promise<void> {
  const queue = new Queue('aims-sweep', { connection: redis, prefix: cfg.REDIS_PREFIX })
  try {
    if (await queue.removeJobScheduler('kpi-sweep')) {
      await queue.obliterate({ force: true })
      log.info('removed the legacy sweep schedule')
    }
  } catch (err) {
    log.warn({ err: errorMessage(err) }, 'could not remove the legacy sweep schedule')
  } finally {
    await queue.close()
  }
}
