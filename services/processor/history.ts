import { createHash } from 'node:crypto'
import { z } from 'zod'
import { type ClickHouse, queryRows } from '../../shared/clickhouse/client.js'
import { insertTabSeparated, TabSeparatedRows } from '../../shared/clickhouse/tab-separated.js'
import { type KpiValueRow, toClickHouseTime, toKpiValueRow } from '../../shared/kpi/breach-state.js'
import { formatNowParam, type KpiDefinition } from '../../shared/kpi/catalog.js'
import { definitionVersions, recordDefinitionVersions } from '../../shared/kpi/definition-log.js'
import type { Sample } from '../../shared/kpi/engine/sample.js'
import type { Axis } from '../../shared/kpi/sql.js'
import { type AimsConfig, enabledKpis, resolveThresholds } from '../../shared/kpi/thresholds.js'
import { snapshotAsOf } from './snapshot.js'

/**
 * KPI values as of any time T, on either time axis: what had happened by T (facts by event time — trends
 * over imported history) or what was known at T (facts by ingest time — what the pipeline could have
 * reported then). Computed by the processor's own engines over entity state read from the facts as of T
 * (snapshotAsOf), so there is one implementation of each KPI; the tests hold it to the reference queries
 * (shared/kpi/sql.ts) on the same axis. Judged with the processor's thresholds, stamped with the
 * definition version.
 */

export const historyAxisSchema = z.enum(['event_time', 'ingested_at'])

/** A row of kpi_history (migration 0006). */
export interface KpiHistoryRow extends Omit<KpiValueRow, 'evaluated_at'> {
  axis: Axis
  as_of: string
  definition_version: string
  computed_at: string
}

const HISTORY_COLUMNS: (keyof KpiHistoryRow & string)[] = [
  'axis',
  'as_of',
  'kpi_id',
  'fingerprint',
  'scope',
  'value',
  'status',
  'warning_threshold',
  'critical_threshold',
  'n',
  'ci_low',
  'ci_high',
  'reason',
  'definition_version',
  'computed_at',
]

export interface AsOfOptions {
  axis: Axis
  /** The configuration file in force (thresholds, enabled and fairness KPIs), as the processor has it. */
  config?: AimsConfig | undefined
}

/** Every series of the enabled KPIs at `at`, judged, as kpi_history rows. */
export async function evaluateAsOf(
  ch: ClickHouse,
  at: Date,
  opts: AsOfOptions,
  computedAt: Date = new Date(),
): Promise<KpiHistoryRow[]> {
  const kpis = enabledKpis(opts.config)
  return judgeAll(
    await snapshotAsOf(ch, at, opts.axis, opts.config),
    new Map(kpis.map((k) => [k.id, k])),
    definitionVersions(kpis, opts.config),
    opts,
    at,
    computedAt,
  )
}

function judgeAll(
  samples: readonly Sample[],
  byId: ReadonlyMap<string, KpiDefinition>,
  versions: ReadonlyMap<string, string>,
  opts: AsOfOptions,
  at: Date,
  computedAt: Date,
): KpiHistoryRow[] {
  const asOf = toClickHouseTime(at)
  const computed = toClickHouseTime(computedAt)
  const rows: KpiHistoryRow[] = []
  for (const sample of samples) {
    const kpi = byId.get(sample.kpiId)
    if (!kpi) continue
    const th = resolveThresholds(kpi, sample.scope, opts.config)
    const { evaluated_at: _evaluated, ...row } = toKpiValueRow(kpi.id, sample.scope, { ...sample, at }, th)
    rows.push({
      ...row,
      axis: opts.axis,
      as_of: asOf,
      definition_version: versions.get(kpi.id) ?? '',
      computed_at: computed,
    })
  }
  return rows
}

/** One hash of every enabled KPI's version: a backfill step done under other definitions is done again. */
export function catalogVersion(config: AimsConfig | undefined): string {
  const versions = [...definitionVersions(enabledKpis(config), config)].sort(([a], [b]) => (a < b ? -1 : 1))
  return createHash('sha256').update(JSON.stringify(versions)).digest('hex').slice(0, 12)
}

export interface BackfillOptions extends AsOfOptions {
  from: Date
  to: Date
  stepMs: number
  /** Called after each step (and once before the first) with steps finished (done or skipped) of total. */
  onProgress?: (finished: number, total: number) => void
  /** Stamped on the rows as computed_at and on recorded definition versions. Default: the wall clock. */
  clock?: () => Date
}

export interface BackfillResult {
  /** Steps between from and to. */
  steps: number
  /** Steps evaluated by this run. */
  evaluated: number
  /** Steps a previous run had finished under the same definitions. */
  skipped: number
  /** Rows written. */
  rows: number
}

/** The evaluation times from `from` to `to` inclusive, every `stepMs`. */
export function backfillSteps(from: Date, to: Date, stepMs: number): Date[] {
  const start = from.getTime()
  const end = to.getTime()
  if (!Number.isFinite(start) || !Number.isFinite(end))
    throw new RangeError('from and to must be valid times')
  if (end < start) throw new RangeError(`to (${to.toISOString()}) is before from (${from.toISOString()})`)
  if (!Number.isInteger(stepMs) || stepMs < 1000) throw new RangeError('step must be at least 1 s')
  const out: Date[] = []
  for (let t = start; t <= end; t += stepMs) out.push(new Date(t))
  return out
}

/**
 * Writes kpi_history for every step from `from` to `to`. Resumable: a step's marker is written after its
 * values, and steps marked under the same definitions (catalogVersion) are skipped, so an interrupted run
 * continues where it stopped. Idempotent: a step evaluated again writes the same keys, which replace the
 * earlier rows (ReplacingMergeTree on axis, series, as_of).
 */
export async function backfill(ch: ClickHouse, opts: BackfillOptions): Promise<BackfillResult> {
  const clock = opts.clock ?? (() => new Date())
  const steps = backfillSteps(opts.from, opts.to, opts.stepMs)
  const kpis = enabledKpis(opts.config)
  await recordDefinitionVersions(ch, kpis, opts.config, clock())
  const catalog = catalogVersion(opts.config)
  const done = new Set(
    (
      await queryRows<{ at_ms: string }>(
        ch,
        `SELECT toString(toUnixTimestamp64Milli(as_of)) AS at_ms FROM kpi_history_steps FINAL
         WHERE axis = {axis:String} AND catalog_version = {catalog:String}
           AND as_of >= {from:DateTime64(3)} AND as_of <= {to:DateTime64(3)}`,
        {
          axis: opts.axis,
          catalog,
          from: formatNowParam(opts.from),
          to: formatNowParam(opts.to),
        },
      )
    ).map((r) => Number(r.at_ms)),
  )
  const byId = new Map(kpis.map((k) => [k.id, k]))
  const versions = definitionVersions(kpis, opts.config)
  const result: BackfillResult = { steps: steps.length, evaluated: 0, skipped: 0, rows: 0 }
  opts.onProgress?.(0, steps.length)
  for (const [i, at] of steps.entries()) {
    if (done.has(at.getTime())) {
      result.skipped++
    } else {
      const computedAt = clock()
      const samples = await snapshotAsOf(ch, at, opts.axis, opts.config)
      const rows = judgeAll(samples, byId, versions, opts, at, computedAt)
      const tsv = new TabSeparatedRows<KpiHistoryRow>(HISTORY_COLUMNS)
      for (const r of rows) tsv.push(r)
      await insertTabSeparated(ch.client, 'kpi_history', tsv)
      await ch.client.insert({
        table: 'kpi_history_steps',
        values: [
          {
            axis: opts.axis,
            as_of: toClickHouseTime(at),
            catalog_version: catalog,
            series: rows.length,
            computed_at: toClickHouseTime(computedAt),
          },
        ],
        format: 'JSONEachRow',
      })
      result.evaluated++
      result.rows += rows.length
    }
    opts.onProgress?.(i + 1, steps.length)
  }
  return result
}
