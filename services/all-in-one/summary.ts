import { type ClickHouse, queryRows } from '../../shared/clickhouse/client.js'
import { registry } from '../../shared/metrics/registry.js'
import { clock } from '../../shared/terminal.js'

/** Sum of a counter's values whose labels match `where` (0 when the metric does not exist yet). */
async function counterSum(name: string, where: Record<string, readonly string[]> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name)
  if (!metric) return 0
  const { values } = await metric.get()
  return values
    .filter((v) => Object.entries(where).every(([k, want]) => want.includes(String(v.labels[k]))))
    .reduce((n, v) => n + v.value, 0)
}

/** What the store held when this run started: the summary's totals continue from there. */
export interface StoredTotals {
  /** Events stored (rows of the three event tables). */
  stored: number
  /** Rejected messages kept in the dead_letters table. */
  deadLetters: number
  /** Alert deliveries that succeeded (alert_deliveries). */
  alertsDelivered: number
}

/**
 * Row counts from ClickHouse. `count()` without a condition is read from part metadata, so this costs
 * the same at a thousand rows as at ten million; rows of one event redelivered and not yet merged away
 * count twice until ClickHouse merges them.
 */
export async function storedTotals(ch: ClickHouse): Promise<StoredTotals> {
  const [row] = await queryRows<Record<keyof StoredTotals, string>>(
    ch,
    `SELECT (SELECT count() FROM privacy_incident_events) + (SELECT count() FROM model_metric_events)
              + (SELECT count() FROM audit_finding_events) AS stored,
            (SELECT count() FROM dead_letters) AS deadLetters,
            (SELECT countIf(outcome IN ('ok', 'delivered')) FROM alert_deliveries) AS alertsDelivered`,
  )
  return {
    stored: Number(row?.stored ?? 0),
    deadLetters: Number(row?.deadLetters ?? 0),
    alertsDelivered: Number(row?.alertsDelivered ?? 0),
  }
}

export interface SummaryLine extends StoredTotals {
  eventsPerSecond: number
  openBreaches: number
}

/**
 * The run command's heartbeat in the terminal. Totals are the store's at start-up plus what this run
 * added (read from the metrics registry, so they agree with /metrics), so they carry on across restarts.
 */
export function createSummary(base: StoredTotals, openBreaches: () => number) {
  let lastSeen = 0
  let lastAt = performance.now()
  return async (): Promise<SummaryLine> => {
    const accepted = await counterSum('aims_collector_messages_total', { outcome: ['accepted'] })
    const rejected = await counterSum('aims_collector_messages_total', { outcome: ['rejected'] })
    const delivered = await counterSum('aims_alert_deliveries_total', { outcome: ['ok'] })
    const now = performance.now()
    const eventsPerSecond = (accepted + rejected - lastSeen) / Math.max(0.001, (now - lastAt) / 1000)
    lastSeen = accepted + rejected
    lastAt = now
    return {
      eventsPerSecond,
      stored: base.stored + accepted,
      deadLetters: base.deadLetters + rejected,
      openBreaches: openBreaches(),
      alertsDelivered: base.alertsDelivered + delivered,
    }
  }
}

const n = (v: number) => Math.round(v).toLocaleString('en-US')

/** `03:52:01 · 5 events/s · 1,062 stored · 0 dead letters · 11 open breaches · 11 alerts delivered` */
export function formatSummary(s: SummaryLine, at = new Date()): string {
  return [
    clock(at),
    `${n(s.eventsPerSecond)} events/s`,
    `${n(s.stored)} stored`,
    `${n(s.deadLetters)} dead letter${s.deadLetters === 1 ? '' : 's'}`,
    `${n(s.openBreaches)} open breach${s.openBreaches === 1 ? '' : 'es'}`,
    `${n(s.alertsDelivered)} alert${s.alertsDelivered === 1 ? '' : 's'} delivered`,
  ].join(' · ')
}
