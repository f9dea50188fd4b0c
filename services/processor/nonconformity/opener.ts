import type { Redis } from 'ioredis'
import { type Kafka, Partitioners, type Producer } from 'kafkajs'
import type { AlertJob } from '../../../shared/alerts/alert-job.js'
import { type ClickHouse, queryRows } from '../../../shared/clickhouse/client.js'
import type { Config } from '../../../shared/config/env.js'
import { errorMessage } from '../../../shared/errors.js'
import { type AuditFindingEvent, auditFindingEventSchema } from '../../../shared/events/audit-finding.js'
import { encodeKafkaMessage } from '../../../shared/events/encode.js'
import { topicNames } from '../../../shared/kafka/topics.js'
import { parseClickHouseTime, toClickHouseTime } from '../../../shared/kpi/breach-state.js'
import { KPIS, type KpiDefinition } from '../../../shared/kpi/catalog.js'
import { resolveNonconformity } from '../../../shared/kpi/nonconformity.js'
import type { AimsConfig } from '../../../shared/kpi/thresholds.js'
import type { Logger } from '../../../shared/logger.js'
import { getCounter } from '../../../shared/metrics/registry.js'
import type { BreachStore } from '../breach-store.js'
import { type BreachEpisode, buildNonconformityEvent, type OpenRequest } from './finding.js'
import { type NonconformityLink, nonconformityOf, PREVIOUS_FINDING_SQL, toLink, toLinkRow } from './link.js'
import { type Claim, type DueTimer, NonconformitySchedule } from './schedule.js'

/**
 * Breach → nonconformity. A breach that turns critical gets a timer `after` ahead (the KPI's setting under
 * `nonconformity:`); when it comes due and the same episode is still open and critical, the finding is
 * claimed, sent to aims.audit-findings.v1 (so the collector stores it and the NC KPIs count it like any
 * auditor's finding) and linked to the breach in `breach_nonconformities`. A request opens one at once.
 *
 * Once per episode: the timer is shared and leased (NonconformitySchedule), the claim is written once and
 * is what every sender sends, and the ids derive from the breach id, so a resend after a crash is the same
 * event and the collector keeps one. A later episode of the same KPI and scope names the previous finding
 * as `repeatOf`.
 */

/** The breach's KPI is no longer in the catalog: nothing says where its finding would be filed. */
export class KpiGoneError extends Error {
  override readonly name = 'KpiGoneError'
  constructor(readonly kpiId: string) {
    super(`the breach's KPI ${kpiId} is no longer in the catalog`)
  }
}

/** A taken timer is due again after this unless its finding was sent (the taker died or failed). */
export const NC_LEASE_MS = 30_000

export interface NonconformityDeps {
  cfg: Pick<Config, 'REDIS_PREFIX' | 'KAFKA_TOPIC_PREFIX'>
  ch: ClickHouse
  redis: Redis
  kafka: Kafka
  store: BreachStore
  kpis: readonly KpiDefinition[]
  config: AimsConfig | undefined
  clock: () => Date
  log: Logger
}

/** The breach episodes still open and critical, with since when they have been critical. */
const CRITICAL_OPEN_SQL = `
SELECT breach_id, any(fingerprint) AS fingerprint, any(kpi_id) AS kpi_id, any(scope) AS scope,
       min(started_at) AS started_at,
       minIf(at, severity = 'critical' AND transition IN ('firing', 'escalated')) AS critical_since
FROM breach_transitions
WHERE breach_id NOT IN (SELECT breach_id FROM breach_nonconformities)
GROUP BY breach_id
HAVING countIf(transition = 'resolved') = 0
   AND countIf(severity = 'critical' AND transition IN ('firing', 'escalated')) > 0`

/** One breach episode as recorded, for a request. */
const EPISODE_SQL = `
SELECT breach_id, any(fingerprint) AS fingerprint, any(kpi_id) AS kpi_id, any(scope) AS scope,
       min(started_at) AS started_at,
       countIf(severity = 'critical' AND transition IN ('firing', 'escalated')) > 0 AS was_critical,
       minIf(at, severity = 'critical' AND transition IN ('firing', 'escalated')) AS critical_since
FROM breach_transitions
WHERE breach_id = {id:String}
GROUP BY breach_id`

interface EpisodeRow {
  breach_id: string
  fingerprint: string
  kpi_id: string
  scope: Record<string, string>
  started_at: string
  critical_since: string
  was_critical?: boolean | number
}

const toEpisode = (r: EpisodeRow, critical: boolean): BreachEpisode => ({
  breachId: r.breach_id,
  fingerprint: r.fingerprint,
  kpiId: r.kpi_id,
  scope: { ...r.scope },
  startedAt: parseClickHouseTime(r.started_at).getTime(),
  criticalSince: critical ? parseClickHouseTime(r.critical_since).getTime() : null,
})

const opened = () =>
  getCounter({
    name: 'aims_processor_nonconformities_opened_total',
    help: 'Nonconformities opened from breaches (audit findings sent), by what opened them',
    labelNames: ['opened_by'] as const,
  })

export interface OpenResult {
  /** False when the episode already had its nonconformity (this call sent nothing new). */
  created: boolean
  link: NonconformityLink
}

export class NonconformityOpener {
  private readonly schedule: NonconformitySchedule
  private readonly producer: Producer
  private readonly byId: Map<string, KpiDefinition>
  private readonly topic: string
  private readonly counter = opened()

  private constructor(private readonly deps: NonconformityDeps) {
    this.schedule = new NonconformitySchedule(deps.redis, deps.cfg.REDIS_PREFIX)
    // The whole catalog: a breach recorded before its KPI was turned off may still be given its finding.
    this.byId = new Map(KPIS.map((k) => [k.id, k]))
    this.topic = topicNames(deps.cfg).auditFindings
    // Not idempotent on purpose (as the collector's): a resent finding is the same event id, which the
    // collector deduplicates, and kafkajs's idempotent mode would retry forever through a shutdown.
    this.producer = deps.kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    })
  }

  /** Connects the producer and sets the timers of critical breaches recorded before (a first start, a lost Redis). */
  static async start(deps: NonconformityDeps): Promise<NonconformityOpener> {
    const opener = new NonconformityOpener(deps)
    await opener.producer.connect()
    const byTime = deps.kpis.some((k) => resolveNonconformity(k, deps.config?.nonconformity).byTime)
    if (!byTime) return opener
    const rows = await queryRows<EpisodeRow>(deps.ch, CRITICAL_OPEN_SQL)
    let set = 0
    for (const r of rows) if (await opener.scheduleEpisode(toEpisode(r, true))) set++
    if (set > 0) deps.log.info({ timers: set }, 'nonconformity timers set for open critical breaches')
    return opener
  }

  private settingsOf(kpiId: string) {
    const kpi = this.byId.get(kpiId)
    return kpi ? { kpi, settings: resolveNonconformity(kpi, this.deps.config?.nonconformity) } : undefined
  }

  private async scheduleEpisode(episode: BreachEpisode): Promise<boolean> {
    const found = this.settingsOf(episode.kpiId)
    if (!found?.settings.byTime || episode.criticalSince === null) return false
    return this.schedule.schedule(episode, episode.criticalSince + found.settings.afterMs)
  }

  /** Every recorded transition passes here (also when the outbox writes one again). */
  async onTransition(job: AlertJob): Promise<void> {
    const critical = (job.kind === 'firing' && job.severity === 'critical') || job.kind === 'escalated'
    if (critical) {
      await this.scheduleEpisode({
        breachId: job.breachId,
        fingerprint: job.fingerprint,
        kpiId: job.kpi.id,
        scope: { ...job.scope },
        startedAt: Date.parse(job.startsAt),
        criticalSince: Date.parse(job.at),
      })
    } else if (job.kind === 'resolved') {
      await this.schedule.finish(job.breachId)
    }
  }

  /** Opens the nonconformities whose time has come (called on every processor tick). */
  async tick(): Promise<number> {
    const due = await this.schedule.takeDue(this.deps.clock().getTime(), NC_LEASE_MS)
    let sent = 0
    for (const timer of due) {
      try {
        if (await this.fire(timer)) sent++
      } catch (err) {
        // The lease brings the timer back; the claim (if written) makes the retry send the same finding.
        this.deps.log.warn(
          { breachId: timer.episode.breachId, err: errorMessage(err) },
          'opening a nonconformity failed; retried after the lease',
        )
      }
    }
    return sent
  }

  private async fire({ episode, dueAt }: DueTimer): Promise<boolean> {
    const held = await this.schedule.claimed(episode.breachId)
    if (held) {
      await this.deliver(episode, held)
      return false
    }
    const [open] = (await this.deps.store.get([episode.fingerprint])).values()
    if (!open || open.startedAt !== episode.startedAt || open.severity !== 'critical') {
      // The episode resolved (or was replaced) before its time: no nonconformity.
      await this.schedule.finish(episode.breachId)
      return false
    }
    const result = await this.openFor(episode, { raisedAt: dueAt, openedBy: 'timer' })
    return result.created
  }

  /** The recorded breach episode with this id, or undefined. */
  async episode(breachId: string): Promise<BreachEpisode | undefined> {
    const [row] = await queryRows<EpisodeRow>(this.deps.ch, EPISODE_SQL, { id: breachId })
    if (!row) return undefined
    return toEpisode(row, row.was_critical === true || Number(row.was_critical) === 1)
  }

  /** Opens the episode's nonconformity now (a request), or returns the one it has. */
  async openOnRequest(
    episode: BreachEpisode,
    requestedBy: string,
    reason: string | undefined,
  ): Promise<OpenResult> {
    return this.openFor(episode, {
      raisedAt: this.deps.clock().getTime(),
      openedBy: 'request',
      requestedBy,
      ...(reason !== undefined ? { reason } : {}),
    })
  }

  private async openFor(episode: BreachEpisode, request: OpenRequest): Promise<OpenResult> {
    const held = await this.schedule.claimed(episode.breachId)
    if (held) {
      // Linked means sent: nothing to send again. Claimed but not linked: its sender stopped half-way.
      const linked = await nonconformityOf(this.deps.ch, episode.breachId)
      return { created: false, link: linked ?? (await this.deliver(episode, held)) }
    }
    const found = this.settingsOf(episode.kpiId)
    if (!found) throw new KpiGoneError(episode.kpiId)
    const [previous] = await queryRows<{ finding_id: string }>(this.deps.ch, PREVIOUS_FINDING_SQL, {
      fingerprint: episode.fingerprint,
      breach_id: episode.breachId,
      before: toClickHouseTime(new Date(request.raisedAt)),
    })
    const event = buildNonconformityEvent(found.kpi, episode, found.settings, {
      ...request,
      ...(previous ? { repeatOf: previous.finding_id } : {}),
    })
    const mine: Claim = {
      event: JSON.stringify(event),
      openedBy: request.openedBy,
      requestedBy: request.requestedBy ?? '',
      criticalSince: episode.criticalSince,
    }
    // A safety net set before the claim: if this process stops before the finding is sent, the timer
    // (due now, or its own earlier time) sends the claimed finding from whichever replica takes it.
    await this.schedule.schedule(episode, request.raisedAt)
    const claim = await this.schedule.claim(episode.breachId, mine)
    const link = await this.deliver(episode, claim)
    const created = claim.event === mine.event
    if (created) {
      this.counter.inc({ opened_by: request.openedBy })
      this.deps.log.info(
        {
          breachId: episode.breachId,
          findingId: link.findingId,
          repeatOf: link.repeatOf,
          openedBy: claim.openedBy,
        },
        'nonconformity opened from a breach',
      )
    }
    return { created, link }
  }

  /** Sends the claimed finding, records the link, drops the timer. Safe to repeat. */
  private async deliver(episode: BreachEpisode, claim: Claim): Promise<NonconformityLink> {
    const event: AuditFindingEvent = auditFindingEventSchema.parse(JSON.parse(claim.event))
    const message = encodeKafkaMessage(event)
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: [{ key: message.key, value: message.value, headers: message.headers }],
    })
    const row = toLinkRow(episode, event, claim)
    await this.deps.ch.client.insert({
      table: 'breach_nonconformities',
      values: [row],
      format: 'JSONEachRow',
    })
    await this.schedule.finish(episode.breachId)
    return toLink(row)
  }

  async stop(): Promise<void> {
    await this.producer.disconnect()
  }
}
