import { parseArgs } from 'node:util'
import { UserInputError } from '../../shared/errors.js'
import { parseDuration } from '../../shared/kpi/duration.js'
import type { Axis } from '../../shared/kpi/sql.js'

export const BACKFILL_USAGE = `Usage: npm run backfill -- --from 2026-01-01 [--to 2026-05-01] [--step 1d] [--known-at]

Writes KPI values for past times into kpi_history, one evaluation of every enabled KPI per step, so the
dashboards and the review page show trends over history loaded after the fact.

  --from T      First evaluation time: a date (midnight UTC) or an RFC 3339 time. Required.
  --to T        Last evaluation time (included). Default: now.
  --step D      Time between evaluations: 1d, 6h, 30m. Default 1d.
  --known-at    Count the facts known (ingested) by each time, to reproduce what was reported then.
                Default: the facts that had happened (event time) by each time, for trends.
  --help        Show this text.

Resumable and idempotent: steps finished under the same KPI definitions are skipped; a step evaluated
again replaces its values. ClickHouse, the AIMS config file (AIMS_CONFIG_FILE) and logging come from the
environment, as for the processor.
Exit status: 0 done; 2 usage or configuration error; 1 failure.`

export interface BackfillArgs {
  from: Date
  to: Date
  stepMs: number
  axis: Axis
}

function parseTime(name: string, text: string): Date {
  const date = /^\d{4}-\d{2}-\d{2}$/.test(text) ? new Date(`${text}T00:00:00.000Z`) : new Date(text)
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(date.getTime())) {
    throw new UserInputError(
      `${name}: ${JSON.stringify(text)} is not a date (2026-01-31) or an RFC 3339 time`,
    )
  }
  return date
}

/** The backfill command line; `now` is the default --to. */
export function parseBackfillArgs(argv: string[], now: Date): BackfillArgs | 'help' {
  let values: { from?: string; to?: string; step?: string; 'known-at'?: boolean; help?: boolean }
  try {
    values = parseArgs({
      args: argv,
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        step: { type: 'string' },
        'known-at': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values
  } catch (err) {
    throw new UserInputError((err as Error).message)
  }
  if (values.help) return 'help'
  if (!values.from) throw new UserInputError('--from: required')
  const from = parseTime('--from', values.from)
  const to = values.to === undefined ? now : parseTime('--to', values.to)
  if (to.getTime() < from.getTime()) {
    throw new UserInputError(`--to: ${to.toISOString()} is before --from ${from.toISOString()}`)
  }
  let stepMs: number
  try {
    stepMs = parseDuration(values.step ?? '1d')
  } catch (err) {
    throw new UserInputError(`--step: ${(err as Error).message}`)
  }
  if (stepMs < 60_000) throw new UserInputError('--step: at least 1m')
  if ((to.getTime() - from.getTime()) / stepMs > 100_000) {
    throw new UserInputError('--step: more than 100000 steps between --from and --to; take a longer step')
  }
  return { from, to, stepMs, axis: values['known-at'] ? 'ingested_at' : 'event_time' }
}
