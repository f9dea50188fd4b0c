import { isoStandards } from '../iso/index.js'
import { AUDIT_WINDOWS } from './engine/audit.js'
import { DAY_MS, HOUR_MS } from './engine/deadlines.js'
import { modelPlan } from './engine/model.js'
import { PRIVACY_WINDOWS, SEVERITIES } from './engine/privacy.js'
import {
  type AsOf,
  fairnessGroupState,
  findingState,
  incidentState,
  modelVersionState,
  stateFromFacts,
} from './entity-state.js'
import { FAIRNESS_ROW_TYPE, fairnessKpiSql } from './fairness-sql.js'
import { regimeReferenceSql } from './regime-sql.js'
import type { ResolverConfig } from './thresholds.js'
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

/** The 72-hour clock's start over an incident's state: awareness, else detection (engine/privacy.ts). */
const CLOCK_START_MS = `ifNull(${msOf('awareness_at')}, ${msOf('detected_at')})`

export function privacyReferenceSql(axis?: Axis, config?: ResolverConfig): string {
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
    countIf(dec AND noti IS NOT NULL AND noti - aware <= ${deadline}) AS on_time
  FROM (
    SELECT *,
      ${within('det', PRIVACY_WINDOWS.opened)} AS d30,
      ${within('det', PRIVACY_WINDOWS.durations)} AS d90,
      cont IS NOT NULL AND ${within('cont', PRIVACY_WINDOWS.durations)} AS c90,
      res IS NOT NULL AND ${within('res', PRIVACY_WINDOWS.durations)} AS r90,
      notifiable AND d90 AND (noti IS NOT NULL OR __now - aware >= ${deadline}) AS dec
    FROM (
      SELECT severity, notifiable, records_affected, ${NOW_MS} AS __now,
        ${msOf('detected_at')} AS det, ${msOf('occurred_at')} AS occ, ${msOf('contained_at')} AS cont,
        ${msOf('resolved_at')} AS res, ${msOf('regulator_notified_at')} AS noti,
        ${CLOCK_START_MS} AS aware
      FROM (${state})
    )
  )
)
ARRAY JOIN [
  ${rows.join(',\n  ')}
] AS r
UNION ALL
SELECT 'privacy.notification_clock_hours' AS kpi_id, CAST(map('incident_id', incident_id), '${MAP_TYPE}') AS scope,
  CAST(greatest(0, (${NOW_MS} - ${CLOCK_START_MS}) / ${HOUR_MS}) AS Nullable(Float64)) AS value
FROM (${state})
WHERE notifiable AND regulator_notified_at IS NULL
UNION ALL
SELECT kpi_id, scope, value FROM (${regimeReferenceSql(asOfOn(axis), config?.regimes)})`
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
 * Per model version and environment: accuracy, precision, recall and F1 as the latest reported value,
 * else derived from the confusion counts of the latest evaluation (the first fully labelled attribute by
 * name), with a reason code (`derived`, or `disagreement` when a reported value differs from the counts
 * beyond rounding: max(0.5 / n, half a unit of its last decimal) + 1e-9); the latest reported AUC; the
 * label coverage (labelled / predicted counts of the latest evaluation, the lowest over the attributes);
 * the accuracy drop in points against the baseline — the version its evaluations name, else the one first
 * seen before it in the same environment (by first evaluation time, then name). Per attribute (an
 * intersection is one, its cells the groups): every fairness KPI enabled by `config`
 * (shared/kpi/fairness-sql.ts), from the groups of its latest evaluation.
 * Columns beyond (kpi_id, scope, value): exact ("num/den"), n, ci_low, ci_high, reason (a code) and
 * comparisons (the reference forms' per-group comparisons), NULL / '' / [] where they do not apply.
 */
function modelReferenceParts(
  axis?: Axis,
  config?: ResolverConfig,
): { withClause: string; selects: string[] } {
  const versions = stateFromFacts(modelVersionState, { asOf: asOfOn(axis) })
  const groups = stateFromFacts(fairnessGroupState, { asOf: asOfOn(axis) })
  const scope3 = "map('model_id', model_id, 'environment', environment, 'model_version', r.1)"
  const scope4 =
    "map('model_id', model_id, 'environment', environment, 'model_version', model_version, 'attribute', attribute)"
  const mrow = (kpi: string, scope: string, value: string, reason = "''") =>
    `(${quote(kpi)}, CAST(${scope}, '${MAP_TYPE}'), CAST(tuple(CAST(${value} AS Nullable(Float64)), NULL, NULL, NULL, NULL, ${reason}, []), '${FAIRNESS_ROW_TYPE}'))`
  // Derived metric m: (numerator, denominator) over the overall confusion (tp, fp, tn, fn) = o.3 .. o.6.
  const overall: Record<string, [string, string]> = {
    accuracy: ['o.3 + o.5', 'o.3 + o.4 + o.5 + o.6'],
    precision: ['o.3', 'o.3 + o.4'],
    recall: ['o.3', 'o.3 + o.6'],
    f1: ['2 * o.3', '2 * o.3 + o.4 + o.6'],
  }
  const reconciled = Object.entries(overall).map(([m, [x, n]]) => {
    const d = `if(has_overall AND ${n} > 0, toFloat64(${x}) / toFloat64(${n}), NULL)`
    // The reported value's decimals as written (shortest round trip, as JS prints it), for its rounding.
    const text = `toString(assumeNotNull(${m}))`
    const decimals = `greatest(0, if(position(splitByChar('e', ${text})[1], '.') > 0, length(splitByChar('e', ${text})[1]) - position(splitByChar('e', ${text})[1], '.'), 0) - if(length(splitByChar('e', ${text})) > 1, toInt64(splitByChar('e', ${text})[2]), 0))`
    const rounding = `if(${m} = floor(${m}), 0., 0.5 * pow(10, -${decimals}))`
    const tolerance = `greatest(0.5 / toFloat64(${n}), ${rounding}) + 1e-9`
    return `coalesce(${m}, ${d}) AS ${m}_v,
      multiIf(${m} IS NOT NULL AND (${d}) IS NOT NULL AND abs(${m} - (${d})) > ${tolerance}, 'disagreement', ${m} IS NULL AND (${d}) IS NOT NULL, 'derived', '') AS ${m}_reason`
  })
  const plan = modelPlan(config)
  const fairness = plan.fairness.map(
    (kpi) => `SELECT ${quote(kpi.id)} AS kpi_id, CAST(${scope4}, '${MAP_TYPE}') AS scope, res
FROM (${fairnessKpiSql(kpi, 'g', config)})`,
  )
  const withClause = `WITH
g AS (
  SELECT model_id, environment, model_version, attribute,
    arraySort(c -> c.1, arrayMap(x -> x.2, arrayFilter(x -> x.1 = max(version),
      groupArray((version, (group_name, tp, fp, tn, fn, selected, total)))))) AS gs,
    argMax(cell_attributes, version) AS cells
  FROM (${groups})
  GROUP BY model_id, environment, model_version, attribute
),
gv AS (
  SELECT model_id, environment, model_version,
    arraySort(a -> a.1, groupArray((attribute, arrayAll(c -> c.2 + c.3 + c.4 + c.5 > 0, gs),
      arraySum(c -> c.2, gs), arraySum(c -> c.3, gs), arraySum(c -> c.4, gs), arraySum(c -> c.5, gs),
      arraySum(c -> c.2 + c.3 + c.4 + c.5, gs), arraySum(c -> if(c.7 > 0, c.7, c.2 + c.3 + c.4 + c.5), gs)))) AS attrs
  FROM g
  GROUP BY model_id, environment, model_version
),
v AS (
  SELECT model_id, environment, model_version, first_event_at, auc, baseline_version,
    ${reconciled.join(',\n    ')},
    if(empty(covs), NULL, arrayMin(covs)) AS coverage
  FROM (
    SELECT s.*, gv.attrs AS attrs,
      notEmpty(arrayFilter(a -> a.2, attrs)) AS has_overall,
      arrayFirst(a -> a.2, attrs) AS o,
      arrayMap(a -> a.7 / a.8, arrayFilter(a -> a.8 > 0, attrs)) AS covs
    FROM (${versions}) AS s
    LEFT JOIN gv USING (model_id, environment, model_version)
  )
)
`
  const performance = `SELECT r2.1 AS kpi_id, r2.2 AS scope, r2.3 AS res
FROM (
  SELECT model_id, environment, vs,
    arrayMap(i -> if(vs[i].6 IS NOT NULL, indexOf(arrayMap(x -> x.1, vs), assumeNotNull(vs[i].6)), i - 1), arrayEnumerate(vs)) AS b
  FROM (
    SELECT model_id, environment,
      arraySort(x -> (x.2, x.1), groupArray((model_version, first_event_at, accuracy_v, f1_v, auc, baseline_version,
        precision_v, recall_v, coverage, accuracy_reason, precision_reason, recall_reason, f1_reason))) AS vs
    FROM v
    GROUP BY model_id, environment
  )
)
ARRAY JOIN arrayMap(i -> (
  vs[i].1, vs[i].3, vs[i].4, vs[i].5,
  if(b[i] > 0 AND b[i] != i, (vs[b[i]].3 - vs[i].3) * 100, NULL),
  vs[i].7, vs[i].8, vs[i].9, vs[i].10, vs[i].11, vs[i].12, vs[i].13
), arrayEnumerate(vs)) AS r
ARRAY JOIN [
  ${mrow('model.accuracy', scope3, 'r.2', 'r.9')},
  ${mrow('model.precision', scope3, 'r.6', 'r.10')},
  ${mrow('model.recall', scope3, 'r.7', 'r.11')},
  ${mrow('model.f1', scope3, 'r.3', 'r.12')},
  ${mrow('model.auc', scope3, 'r.4')},
  ${mrow('model.label_coverage', scope3, 'r.8')},
  ${mrow('model.accuracy_drop_points', scope3, 'r.5')}
] AS r2`
  return { withClause, selects: [performance, ...fairness] }
}

const REFERENCE_FIELDS = ['value', 'exact', 'n', 'ci_low', 'ci_high', 'reason', 'comparisons']
const flatten = (inner: string) =>
  `SELECT kpi_id, scope, ${REFERENCE_FIELDS.map((f) => `tupleElement(res, '${f}') AS ${f}`).join(', ')}
FROM (
${inner}
)`

/**
 * The model area's reference as one query per part (the versions' KPIs, then each fairness KPI of the
 * configuration): the whole parity set in one statement exceeds ClickHouse's default AST limit.
 */
export function modelReferenceQueries(axis?: Axis, config?: ResolverConfig): string[] {
  const { withClause, selects } = modelReferenceParts(axis, config)
  return selects.map((select) => flatten(`${withClause}${select}`))
}

/** The model area's reference as one query (the parts of `modelReferenceQueries`, UNION ALL). */
export function modelReferenceSql(axis?: Axis, config?: ResolverConfig): string {
  const { withClause, selects } = modelReferenceParts(axis, config)
  return flatten(`${withClause}${selects.join('\nUNION ALL\n')}`)
}

/** Each area's reference query; `config` chooses the fairness KPIs and their settings (model area). */
export const referenceSql: Record<
  'privacy' | 'model' | 'audit',
  (axis?: Axis, config?: ResolverConfig) => string
> = {
  privacy: privacyReferenceSql,
  model: modelReferenceSql,
  audit: auditReferenceSql,
}
