import { type ClickHouse, queryRows } from '../../shared/clickhouse/client.js'
import { formatNowParam } from '../../shared/kpi/catalog.js'
import type { AimsConfig } from '../../shared/kpi/thresholds.js'
import type { Logger } from '../../shared/logger.js'
import { backfill } from '../processor/history.js'
import type { Step } from './startup.js'

const DAY_MS = 86_400_000
/** How often the stored history is counted while the collector catches up. */
const POLL_MS = 1_000
/** The demo's ~1,000 history events are stored within seconds; past this the trends are left undone. */
const STORED_WITHIN_MS = 5 * 60_000

/**
 * The demo's history, as trends: once the collector has stored every history event the demo produced,
 * the KPI values of each day it covers are computed as `npm run backfill` does (event time, daily steps,
 * the config in force), so the review page and the dashboards show months of trends on the first start
 * instead of a series that begins today. Steps are whole UTC days, so a restart skips the days a previous
 * start finished under the same definitions.
 */
export async function backfillDemoHistory(opts: {
  ch: ClickHouse
  config: AimsConfig | undefined
  /** History events the demo produced (all valid: each is stored under its event id). */
  events: number
  /** When the demo began producing: only facts stored since count (a restart finds older ones). */
  since: Date
  months: number
  step: Step
  log: Logger
  signal: AbortSignal
}): Promise<void> {
  const { ch, step, signal } = opts
  const deadline = Date.now() + STORED_WITHIN_MS
  let stored = await storedEvents(ch, opts.since)
  while (stored < opts.events) {
    if (signal.aborted) return step.fail('stopped')
    if (Date.now() > deadline) {
      step.fail(`${stored} of ${opts.events} history events stored after ${STORED_WITHIN_MS / 60_000} min`)
      return
    }
    step.note(`waiting for the history to be stored: ${stored} of ${opts.events}`)
    await new Promise((r) => setTimeout(r, POLL_MS))
    stored = await storedEvents(ch, opts.since)
  }
  const today = Math.floor(Date.now() / DAY_MS) * DAY_MS
  const from = new Date(today - opts.months * 30 * DAY_MS)
  const result = await backfill(ch, {
    from,
    to: new Date(today),
    stepMs: DAY_MS,
    axis: 'event_time',
    config: opts.config,
    onProgress: (finished, total) => {
      if (signal.aborted) throw new DemoStopped()
      step.note(`${finished} of ${total} days`)
    },
  }).catch((err: unknown) => {
    if (err instanceof DemoStopped) return undefined
    throw err
  })
  if (!result) return step.fail('stopped')
  opts.log.info({ ...result, from: from.toISOString() }, 'demo history backfilled')
  step.done(
    `${result.steps} days from ${from.toISOString().slice(0, 10)}, ${result.rows.toLocaleString('en-US')} values`,
  )
}

class DemoStopped extends Error {}

/** Distinct events stored since `since`, over the three fact tables (a redelivered event counts once). */
async function storedEvents(ch: ClickHouse, since: Date): Promise<number> {
  const recent = 'WHERE ingested_at >= {since:DateTime64(3)}'
  const rows = await queryRows<{ n: string }>(
    ch,
    `SELECT (SELECT uniqExact(event_id) FROM privacy_incident_events ${recent})
          + (SELECT uniqExact(event_id) FROM model_metric_events ${recent})
          + (SELECT uniqExact(event_id) FROM audit_finding_events ${recent}) AS n`,
    { since: formatNowParam(since) },
  )
  return Number(rows[0]?.n ?? 0)
}
