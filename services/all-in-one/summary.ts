import { registry } from '../../shared/metrics/registry.js'

/** Sum of a counter's values whose labels match `where` (0 when the metric does not exist yet). */
async function counterSum(name: string, where: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name)
  if (!metric) return 0
  const { values } = await metric.get()
  return values
    .filter((v) => Object.entries(where).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((n, v) => n + v.value, 0)
}

export interface SummaryLine {
  eventsPerSecond: number
  accepted: number
  rejected: number
  openBreaches: number
  alertsSent: number
}

/**
 * The run command's heartbeat in the terminal: events/s since the last line, KPIs in breach, alerts
 * delivered. Read from the metrics registry, so it shows exactly what /metrics shows.
 */
export function createSummary(openBreaches: () => number) {
  let lastAccepted = 0
  let lastRejected = 0
  let lastAt = performance.now()
  return async (): Promise<SummaryLine> => {
    const accepted = await counterSum('aims_collector_messages_total', { outcome: 'accepted' })
    const rejected = await counterSum('aims_collector_messages_total', { outcome: 'rejected' })
    const now = performance.now()
    const eventsPerSecond = (accepted + rejected - lastAccepted - lastRejected) / ((now - lastAt) / 1000)
    lastAccepted = accepted
    lastRejected = rejected
    lastAt = now
    return {
      eventsPerSecond,
      accepted,
      rejected,
      openBreaches: openBreaches(),
      alertsSent: await counterSum('aims_alert_deliveries_total', { outcome: 'ok' }),
    }
  }
}

export function formatSummary(s: SummaryLine): string {
  return `events ${Math.round(s.eventsPerSecond)}/s (${s.accepted} stored, ${s.rejected} dead-lettered) · KPIs in breach ${s.openBreaches} · alerts sent ${s.alertsSent}`
}
