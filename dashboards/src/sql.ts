/**
 * SQL building blocks shared by the dashboards. Rules every panel follows (the fact tables are
 * ReplacingMergeTree: duplicates exist until a merge, events arrive out of order):
 * - the state of an entity is its latest event, argMax(col, (event_time, event_id)) GROUP BY its id,
 *   taken "as of" the end of the selected period (event_time <= $__toTime), so a past review period
 *   shows what was known then; timestamps only some lifecycle events carry are the latest non-null one
 *   (argMaxIf), as in the KPI catalog;
 * - counts are over those per-entity rows (or uniqExact of an id), never over raw fact rows;
 * - KPI values and breaches come from kpi_values / breach_transitions as written by the processor.
 * Grafana macros: $__timeFilter, $__fromTime, $__toTime, $__timeInterval, $__interval_s, and template
 * variables through $__conditionalAll(cond, $var) so "All" costs nothing.
 */

import { KPIS, type KpiDefinition } from '../../shared/kpi/catalog.js'

export const K = '(event_time, event_id)'
export const AS_OF = 'event_time <= $__toTime'

/** Unix milliseconds of the end of the period, for hour arithmetic against DateTime64 columns. */
export const TO_MS = 'toUnixTimestamp($__toTime) * 1000'
export const hoursBetween = (from: string, to: string) =>
  `((toUnixTimestamp64Milli(${to}) - toUnixTimestamp64Milli(${from})) / 3600000)`
export const hoursUntilEnd = (from: string) => `((${TO_MS} - toUnixTimestamp64Milli(${from})) / 3600000)`
export const daysUntilEnd = (from: string) => `((${TO_MS} - toUnixTimestamp64Milli(${from})) / 86400000)`
export const daysBetween = (from: string, to: string) =>
  `((toUnixTimestamp64Milli(${to}) - toUnixTimestamp64Milli(${from})) / 86400000)`

/** `$__conditionalAll(col IN (${var:singlequote}), $var)`. */
export const varFilter = (col: string, variable: string) =>
  `$__conditionalAll(${col} IN (\${${variable}:singlequote}), $${variable})`

export const BU = varFilter('business_unit', 'business_unit')
export const STANDARD = varFilter('standard', 'standard')

/** Latest state of every privacy incident as of the end of the period. */
export const INCIDENTS = `SELECT
      incident_id,
      argMax(status, ${K}) AS status,
      argMax(severity, ${K}) AS severity,
      argMax(category, ${K}) AS category,
      argMax(business_unit, ${K}) AS business_unit,
      argMax(notifiable, ${K}) AS notifiable,
      argMax(detected_at, ${K}) AS detected_at,
      argMaxIf(awareness_at, ${K}, awareness_at IS NOT NULL) AS awareness_at,
      argMaxIf(occurred_at, ${K}, occurred_at IS NOT NULL) AS occurred_at,
      argMaxIf(contained_at, ${K}, contained_at IS NOT NULL) AS contained_at,
      argMaxIf(resolved_at, ${K}, resolved_at IS NOT NULL) AS resolved_at,
      argMaxIf(closed_at, ${K}, closed_at IS NOT NULL) AS closed_at,
      argMaxIf(regulator_notified_at, ${K}, regulator_notified_at IS NOT NULL) AS notified_at,
      argMax(records_affected, ${K}) AS records_affected,
      argMax(data_subjects_affected, ${K}) AS data_subjects_affected,
      argMax(ai_system_id, ${K}) AS ai_system_id,
      argMax(controls, ${K}) AS controls
    FROM privacy_incident_events
    WHERE ${AS_OF}
    GROUP BY incident_id`

/** Latest state of every audit finding as of the end of the period. */
export const FINDINGS = `SELECT
      finding_id,
      argMax(audit_id, ${K}) AS audit_id,
      argMax(audit_type, ${K}) AS audit_type,
      argMax(standard, ${K}) AS standard,
      argMax(clause, ${K}) AS clause,
      argMax(kind, ${K}) AS kind,
      argMax(status, ${K}) AS status,
      argMax(business_unit, ${K}) AS business_unit,
      argMax(title, ${K}) AS title,
      argMax(owner, ${K}) AS owner,
      argMax(raised_at, ${K}) AS raised_at,
      argMaxIf(due_at, ${K}, due_at IS NOT NULL) AS due_at,
      argMaxIf(closed_at, ${K}, closed_at IS NOT NULL) AS closed_at,
      argMax(repeat_of, ${K}) AS repeat_of
    FROM audit_finding_events
    WHERE ${AS_OF}
    GROUP BY finding_id`

export const OPEN_FINDING = `status IN ('open', 'in_progress')`
export const NC = `kind IN ('major_nc', 'minor_nc')`

// ---------------------------------------------------------------------------------------------------------
// KPI values

const quote = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`

/** The KPI catalog as an inline table: id, area, title, unit, direction and the ISO references. */
export function catalogTable(kpis: readonly KpiDefinition[] = KPIS): string {
  const rows = kpis.map((k) => {
    const refs = [
      ...k.iso.iso27001.map((r) => `ISO/IEC 27001 ${r}`),
      ...k.iso.iso42001.map((r) => `ISO/IEC 42001 ${r}`),
    ].join(', ')
    return `(${[k.id, k.area, k.title, k.unit, k.direction, refs].map(quote).join(', ')}, ${k.iso.iso27001.length > 0 ? 1 : 0}, ${k.iso.iso42001.length > 0 ? 1 : 0})`
  })
  return `SELECT * FROM values(
      'kpi_id String, area String, title String, unit String, direction String, iso_references String, iso27001 UInt8, iso42001 UInt8',
      ${rows.join(',\n      ')})`
}

/** `kpi_id` is one of the KPIs evidencing a standard (non-empty references in the catalog), written short. */
function evidences(std: 'iso27001' | 'iso42001'): string {
  const yes = KPIS.filter((k) => k.iso[std].length > 0).map((k) => quote(k.id))
  const no = KPIS.filter((k) => k.iso[std].length === 0).map((k) => quote(k.id))
  if (no.length === 0) return '1'
  if (yes.length === 0) return '0'
  return no.length < yes.length ? `kpi_id NOT IN (${no.join(', ')})` : `kpi_id IN (${yes.join(', ')})`
}

/**
 * Filters on (kpi_id, scope) rows for the standard, business unit and model variables. A series scoped by
 * standard (audit KPIs) follows its own standard; other KPIs follow the standards they evidence. Business
 * unit reaches the KPIs scoped by model or incident (through the facts); organisation-wide KPIs are not
 * filtered by it.
 */
export function kpiFilters(opts: { model?: boolean } = {}): string {
  const std = `$__conditionalAll(if(mapContains(scope, 'standard'), scope['standard'] IN (\${standard:singlequote}), (has([\${standard:singlequote}], 'ISO27001') AND ${evidences('iso27001')}) OR (has([\${standard:singlequote}], 'ISO42001') AND ${evidences('iso42001')})), $standard)`
  const bu = `$__conditionalAll(multiIf(mapContains(scope, 'model_id'), scope['model_id'] IN (SELECT model_id FROM model_metric_events WHERE business_unit IN (\${business_unit:singlequote})), mapContains(scope, 'incident_id'), scope['incident_id'] IN (SELECT incident_id FROM privacy_incident_events WHERE business_unit IN (\${business_unit:singlequote})), 1), $business_unit)`
  const parts = [std, bu]
  if (opts.model !== false) {
    parts.push(`$__conditionalAll(NOT mapContains(scope, 'model_id') OR scope['model_id'] IN (\${model:singlequote}), $model)`)
  }
  return parts.join('\n      AND ')
}

/**
 * The latest value of every KPI series (last_evaluated_at) (kpi_id, fingerprint) as of the end of the period, among the series
 * evaluated during the period. Nullable columns go through a tuple so a NULL latest value stays NULL
 * (argMax alone would skip it and return an older value).
 */
export function latestKpiValues(where = '1'): string {
  return `SELECT
        kpi_id,
        fingerprint,
        argMax(scope, evaluated_at) AS scope,
        argMax(tuple(value), evaluated_at).1 AS value,
        argMax(status, evaluated_at) AS status,
        argMax(tuple(warning_threshold), evaluated_at).1 AS warning_threshold,
        argMax(tuple(critical_threshold), evaluated_at).1 AS critical_threshold,
        argMax(tuple(n), evaluated_at).1 AS n,
        argMax(tuple(ci_low), evaluated_at).1 AS ci_low,
        argMax(tuple(ci_high), evaluated_at).1 AS ci_high,
        argMax(reason, evaluated_at) AS reason,
        max(evaluated_at) AS last_evaluated_at
      FROM kpi_values
      WHERE evaluated_at <= $__toTime AND ${where}
      GROUP BY kpi_id, fingerprint
      HAVING max(evaluated_at) >= $__fromTime`
}

export const inList = (ids: readonly string[]) => ids.map(quote).join(', ')

/**
 * The evaluations of `kpiIds` up to the end of the period: the live ones (kpi_values) and the values
 * `npm run backfill` computed for past times from the facts that had happened by then (kpi_history,
 * event-time axis; FINAL: a step evaluated again replaces its row).
 */
function kpiPoints(kpiIds: readonly string[]): string {
  return `(
            SELECT kpi_id, fingerprint, evaluated_at, scope, value, status
            FROM kpi_values
            WHERE kpi_id IN (${inList(kpiIds)}) AND evaluated_at <= $__toTime
            UNION ALL
            SELECT kpi_id, fingerprint, as_of AS evaluated_at, scope, value, status
            FROM kpi_history FINAL
            WHERE axis = 'event_time' AND kpi_id IN (${inList(kpiIds)}) AND as_of <= $__toTime
          )`
}

/**
 * Every KPI series of `kpiIds` sampled at each step of the period ($__interval_s): the value and status in
 * force at that instant (the last evaluation at or before it, ASOF JOIN), so a series that was not
 * re-evaluated in a step keeps its value instead of vanishing from sums. The end of the period is always a
 * sample, so a pipeline deployed minutes ago already shows its latest values. The evaluations are the live
 * ones and the backfilled history (kpiPoints), so history loaded after the fact still has its trend.
 */
export function kpiSeriesAsOf(kpiIds: readonly string[], where = '1'): string {
  return `SELECT s.time AS time, s.kpi_id AS kpi_id, s.fingerprint AS fingerprint, s.scope AS scope, k.value AS value, k.status AS status
      FROM (
        SELECT f.kpi_id AS kpi_id, f.fingerprint AS fingerprint, f.scope AS scope, t.time AS time
        FROM (
          SELECT kpi_id, fingerprint, argMax(scope, evaluated_at) AS scope
          FROM ${kpiPoints(kpiIds)}
          GROUP BY kpi_id, fingerprint
        ) AS f
        CROSS JOIN (
          SELECT toDateTime64(arrayJoin(arrayDistinct(arrayConcat(range(toUInt32(toStartOfInterval($__fromTime, INTERVAL $__interval_s second)), toUInt32($__toTime) + 1, $__interval_s), [toUInt32($__toTime)]))), 3, 'UTC') AS time
        ) AS t
        WHERE ${where}
      ) AS s
      ASOF INNER JOIN (
        SELECT kpi_id, fingerprint, evaluated_at, value, status
        FROM ${kpiPoints(kpiIds)}
      ) AS k
      ON s.kpi_id = k.kpi_id AND s.fingerprint = k.fingerprint AND s.time >= k.evaluated_at`
}

/**
 * Status rank, worst first: critical, warning, insufficient_data (not estimable: never counted as ok),
 * stale (inputs stopped arriving: never ok either), ok, no_data (no data never hides a known value).
 */
export const statusRank = (col = 'status') =>
  `multiIf(${col} = 'critical', 0, ${col} = 'warning', 1, ${col} = 'insufficient_data', 2, ${col} = 'stale', 3, ${col} = 'ok', 4, 5)`
/** The status of a rank (0-based) from {@link statusRank}. */
export const rankStatus = (rank: string) =>
  `arrayElement(['critical', 'warning', 'insufficient_data', 'stale', 'ok', 'no_data'], toUInt8(${rank}) + 1)`

/** "0.71 [0.62, 0.80] n=2000" of a value with an interval; the value alone otherwise; '' without one. */
export const withInterval = (value = 'value') =>
  `if(${value} IS NULL, '', concat(toString(round(${value}, 3)), if(ci_low IS NULL, '', concat(' [', toString(round(ci_low, 3)), ', ', toString(round(ci_high, 3)), ']')), if(n IS NULL, '', concat(' n=', toString(n)))))`

/** The code of the first line of a reason (`too_few_groups`, `uncertain_warning`, …), '' without one. */
export const reasonCode = (col = 'reason') => `splitByChar(':', splitByChar('\\n', ${col})[1])[1]`

/** `k=v, k=v` of a scope map. */
export const scopeText = (col = 'scope') =>
  `arrayStringConcat(arrayMap((label_key, label_value) -> concat(label_key, '=', label_value), mapKeys(${col}), mapValues(${col})), ', ')`
