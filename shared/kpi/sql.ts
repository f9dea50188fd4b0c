import { isoStandards } from '../iso/index.js'
import { AUDIT_WINDOWS } from './engine/audit.js'
import { DAY_MS, HOUR_MS } from './engine/deadlines.js'
import { PRIVACY_WINDOWS, SEVERITIES } from './engine/privacy.js'
import {
  type AsOf,
  fairnessGroupState,
  findingState,
  incidentState,
  modelVersionState,
  stateFromFacts,
} from './entity-state.js'
import { factVocabulary } from './vocabulary.js'

/**
 * The reference definition of every KPI, as one query per area over the fact tables: plain SQL an auditor
 * can read and run, reducing the facts to entity state with the same lifecycle rules as the state tables
 * (entity-state.ts) and computing each value with exact integer sums and the same final divisions as the
 * live engine (shared/kpi/engine/*). It is not on the live path: the processor keeps the KPIs
 * incrementally from the state tables; the tests and the benchmark check that both agree series by series
 * (value, status), and review-pack verification recomputes figures with it.
 *
 * Every query takes `{now:DateTime64(3)}` (the evaluation time; windows and clocks are relative to it)
 * and may read the facts as of `now` on one time axis: what had happened by then (event_time) or what was
 * known then (ingested_at). Output: rows (kpi_id String, scope Map(String, String), value Nullable(Float64)).
 *
 * Series present: privacy aggregates (one per severity for incidents opened) and per-standard audit KPIs
 * always; one clock per notifiable incident not yet notified; model series per (model, environment,
 * version[, attribute]) ever evaluated; per (standard, clause) NC and repeat counts while non-zero.
 */

export const NOW_MS = `toUnixTimestamp64Milli(toDateTime64({now:DateTime64(3)}, 3, 'UTC'))`

const msOf = (col: string) => `toUnixTimestamp64Milli(${col})`
/** t ∈ (now − width, now], on millisecond integers. */
const within = (msCol: string, width: number) => `(${msCol} <= __now AND ${msCol} > __now - ${width})`
const quote = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
const list = (values: readonly string[]) => values.map(quote).join(', ')
const asOfOn = (axis: 'event_time' | 'ingested_at' | undefined): AsOf =>
  axis === undefined ? undefined : { axis, param: 'now' }

const MAP_TYPE = 'Map(String, String)'
const row = (kpi: string, scope: string, value: string) =>
  `(${quote(kpi)}, CAST(${scope}, '${MAP_TYPE}'), CAST(${value} AS Nullable(Float64)))`
const mean = (sum: string, n: string, unit: number) =>
  `if(${n} = 0, NULL, toFloat64(${sum}) / ${n} / ${unit})`

export type Axis = 'event_time' | 'ingested_at'

export function privacyReferenceSql(axis?: Axis): string {
  const deadline = factVocabulary.notificationDeadlineHours * HOUR_MS
  const state = stateFromFacts(incidentState, { asOf: asOfOn(axis) })
  const rows = [
    ...SEVERITIES.map((s) =>
      row('privacy.incidents_opened', `map('severity', ${quote(s)})`, `toFloat64(opened_${s})`),
    ),
    row('privacy.records_affected', 'map()', 'toFloat64(records)'),
    row('privacy.mttd_hours', 'map()', mean('mttd_sum', 'mttd_n', HOUR_MS)),
    row('privacy.mttc_hours', 'map()', mean('mttc_sum', 'mttc_n', HOUR_MS)),
    row('privacy.mttr_hours', 'map()', mean('mttr_sum', 'mttr_n', HOUR_MS)),
    row('privacy.notified_within_72h_ratio', 'map()', 'if(decided = 0, NULL, on_time / decided)'),
  ]
  return `SELECT r.1 AS kpi_id, r.2 AS scope, r.3 AS value
FROM (
  SELECT
    ${SEVERITIES.map((s) => `countIf(d30 AND severity = ${quote(s)}) AS opened_${s}`).join(',\n    ')},
    sumIf(records_affected, d30) AS records,
    sumIf(toInt64(det - occ), d90 AND occ IS NOT NULL) AS mttd_sum, countIf(d90 AND occ IS NOT NULL) AS mttd_n,
    sumIf(toInt64(cont - det), c90) AS mttc_sum, countIf(c90) AS mttc_n,
    sumIf(toInt64(res - det), r90) AS mttr_sum, countIf(r90) AS mttr_n,
    countIf(dec) AS decided,
    countIf(dec AND noti IS NOT NULL AND noti - det <= ${deadline}) AS on_time
  FROM (
    SELECT *,
      ${within('det', PRIVACY_WINDOWS.opened)} AS d30,
      ${within('det', PRIVACY_WINDOWS.durations)} AS d90,
      cont IS NOT NULL AND ${within('cont', PRIVACY_WINDOWS.durations)} AS c90,
      res IS NOT NULL AND ${within('res', PRIVACY_WINDOWS.durations)} AS r90,
      notifiable AND d90 AND (noti IS NOT NULL OR __now - det >= ${deadline}) AS dec
    FROM (
      SELECT severity, notifiable, records_affected, ${NOW_MS} AS __now,
        ${msOf('detected_at')} AS det, ${msOf('occurred_at')} AS occ, ${msOf('contained_at')} AS cont,
        ${msOf('resolved_at')} AS res, ${msOf('regulator_notified_at')} AS noti
      FROM (${state})
    )
  )
)
ARRAY JOIN [
  ${rows.join(',\n  ')}
] AS r
UNION ALL
SELECT 'privacy.notification_clock_hours' AS kpi_id, CAST(map('incident_id', incident_id), '${MAP_TYPE}') AS scope,
  CAST(greatest(0, (${NOW_MS} - ${msOf('detected_at')}) / ${HOUR_MS}) AS Nullable(Float64)) AS value
FROM (${state})
WHERE notifiable AND regulator_notified_at IS NULL`
}

export function auditReferenceSql(axis?: Axis): string {
  const nc = `kind IN (${list([factVocabulary.majorNc, factVocabulary.minorNc])})`
  const open = `status IN (${list(factVocabulary.findingOpenStatuses)})`
  const findings = `SELECT standard, clause,
      ${nc} AS nc, ${open} AS is_open, kind, ${NOW_MS} AS __now,
      ${msOf('raised_at')} AS raised, ${msOf('due_at')} AS due, ${msOf('closed_at')} AS closed,
      repeat_of IS NOT NULL AS is_repeat
    FROM (${stateFromFacts(findingState, { asOf: asOfOn(axis) })})`
  const perStandard = [
    row('audit.overdue_corrective_actions', "map('standard', s)", 'toFloat64(overdue)'),
    row('audit.mean_days_to_close', "map('standard', s)", mean('closed_sum', 'closed_n', DAY_MS)),
    row(
      'audit.on_time_closure_rate',
      "map('standard', s)",
      'if(on_time_den = 0, NULL, on_time_num / on_time_den)',
    ),
  ]
  const perPair = [
    row('audit.open_major_ncs', "map('standard', standard, 'clause', clause)", 'toFloat64(major)'),
    row('audit.open_minor_ncs', "map('standard', standard, 'clause', clause)", 'toFloat64(minor)'),
    row('audit.repeat_findings', "map('standard', standard, 'clause', clause)", 'toFloat64(repeats)'),
  ]
  return `WITH f AS (
  SELECT *,
    nc AND NOT is_open AND closed IS NOT NULL AND ${within('closed', AUDIT_WINDOWS.closed)} AS closed90
  FROM (${findings})
)
SELECT r.1 AS kpi_id, r.2 AS scope, r.3 AS value
FROM (
  SELECT st.std AS s,
    countIf(f.nc AND f.is_open AND f.due IS NOT NULL AND f.due < f.__now) AS overdue,
    sumIf(toInt64(f.closed - f.raised), f.closed90) AS closed_sum, countIf(f.closed90) AS closed_n,
    countIf(f.closed90 AND f.due IS NOT NULL) AS on_time_den,
    countIf(f.closed90 AND f.due IS NOT NULL AND f.closed <= f.due) AS on_time_num
  FROM (SELECT arrayJoin([${list(isoStandards)}]) AS std) AS st
  LEFT JOIN f ON f.standard = st.std
  GROUP BY st.std
)
ARRAY JOIN [
  ${perStandard.join(',\n  ')}
] AS r
UNION ALL
SELECT r.1 AS kpi_id, r.2 AS scope, r.3 AS value
FROM (
  SELECT standard, clause,
    countIf(is_open AND kind = ${quote(factVocabulary.majorNc)}) AS major,
    countIf(is_open AND kind = ${quote(factVocabulary.minorNc)}) AS minor,
    countIf(is_repeat AND ${within('raised', AUDIT_WINDOWS.repeats)}) AS repeats
  FROM f
  GROUP BY standard, clause
)
ARRAY JOIN [
  ${perPair.join(',\n  ')}
] AS r
WHERE r.3 > 0`
}

/**
 * Per model version and environment: the latest reported accuracy, f1 and auc, and the accuracy drop in
 * points against its baseline — the version its evaluations name, else the one first seen before it in
 * the same environment (by first evaluation time, then name). Per attribute: the fairness metrics of the
 * latest evaluation's groups (Fairlearn definitions; null rules as shared/kpi/fairness.ts).
 */
export function modelReferenceSql(axis?: Axis): string {
  const versions = stateFromFacts(modelVersionState, { asOf: asOfOn(axis) })
  const groups = stateFromFacts(fairnessGroupState, { asOf: asOfOn(axis) })
  const scope3 = "map('model_id', model_id, 'environment', environment, 'model_version', r.1)"
  const scope4 =
    "map('model_id', model_id, 'environment', environment, 'model_version', model_version, 'attribute', attribute)"
  return `SELECT r2.1 AS kpi_id, r2.2 AS scope, r2.3 AS value
FROM (
  SELECT model_id, environment, vs,
    arrayMap(i -> if(vs[i].6 IS NOT NULL, indexOf(arrayMap(x -> x.1, vs), assumeNotNull(vs[i].6)), i - 1), arrayEnumerate(vs)) AS b
  FROM (
    SELECT model_id, environment,
      arraySort(x -> (x.2, x.1), groupArray((model_version, first_event_at, accuracy, f1, auc, baseline_version))) AS vs
    FROM (${versions})
    GROUP BY model_id, environment
  )
)
ARRAY JOIN arrayMap(i -> (
  vs[i].1, vs[i].3, vs[i].4, vs[i].5,
  if(b[i] > 0 AND b[i] != i, (vs[b[i]].3 - vs[i].3) * 100, NULL)
), arrayEnumerate(vs)) AS r
ARRAY JOIN [
  ${row('model.accuracy', scope3, 'r.2')},
  ${row('model.f1', scope3, 'r.3')},
  ${row('model.auc', scope3, 'r.4')},
  ${row('model.accuracy_drop_points', scope3, 'r.5')}
] AS r2
UNION ALL
SELECT r.1 AS kpi_id, r.2 AS scope, r.3 AS value
FROM (
  SELECT model_id, environment, model_version, attribute,
    if(empty(sel), NULL, arrayMax(sel) - arrayMin(sel)) AS dpd,
    if(empty(sel) OR arrayMax(sel) = 0, NULL, arrayMin(sel) / arrayMax(sel)) AS dir,
    multiIf(
      empty(tpr) AND empty(fpr), NULL,
      empty(tpr), arrayMax(fpr) - arrayMin(fpr),
      empty(fpr), arrayMax(tpr) - arrayMin(tpr),
      greatest(arrayMax(tpr) - arrayMin(tpr), arrayMax(fpr) - arrayMin(fpr))
    ) AS eod,
    if(empty(acc), NULL, arrayMax(acc) - arrayMin(acc)) AS gap
  FROM (
    SELECT model_id, environment, model_version, attribute,
      arrayFilter(c -> c.1 + c.2 + c.3 + c.4 > 0, cs) AS nonempty,
      arrayMap(c -> (c.1 + c.2) / (c.1 + c.2 + c.3 + c.4), nonempty) AS sel,
      arrayMap(c -> (c.1 + c.3) / (c.1 + c.2 + c.3 + c.4), nonempty) AS acc,
      arrayMap(c -> c.1 / (c.1 + c.4), arrayFilter(c -> c.1 + c.4 > 0, cs)) AS tpr,
      arrayMap(c -> c.2 / (c.2 + c.3), arrayFilter(c -> c.2 + c.3 > 0, cs)) AS fpr
    FROM (
      SELECT model_id, environment, model_version, attribute,
        arrayMap(g -> g.2, arrayFilter(g -> g.1 = max(version), groupArray((version, (tp, fp, tn, fn))))) AS cs
      FROM (${groups})
      GROUP BY model_id, environment, model_version, attribute
    )
  )
)
ARRAY JOIN [
  ${row('model.demographic_parity_difference', scope4, 'dpd')},
  ${row('model.disparate_impact_ratio', scope4, 'dir')},
  ${row('model.equalized_odds_difference', scope4, 'eod')},
  ${row('model.accuracy_gap', scope4, 'gap')}
] AS r`
}

export const referenceSql = {
  privacy: privacyReferenceSql,
  model: modelReferenceSql,
  audit: auditReferenceSql,
} as const
