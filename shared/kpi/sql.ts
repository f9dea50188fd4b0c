import { factVocabulary } from './vocabulary.js'

/**
 * The SQL of the KPI catalog, composed once at module load from a few building blocks. Read the
 * contract in catalog.ts; the choices made for speed (a full sweep over ~10 M fact rows) are:
 *
 * - Event order. The latest state of an entity is its event with the greatest (event_time, event_id).
 *   argMax over that tuple compares generic tuples (about 9× slower on ClickHouse 26 than a number), so
 *   the order key is one UInt128: event_time in ms in the high 64 bits, cityHash64(event_id) in the low
 *   64 bits. Same order by time; events of one entity with the very same millisecond are ordered by the
 *   hash of their id instead of the id itself: still deterministic, and duplicates (same id) are equal.
 * - Batches. KPIs computed from the same per-entity state share one query returning one column per KPI
 *   (GROUPING SETS when their scopes differ, rows tagged by `scope_set`), so a sweep runs 5 queries for
 *   21 KPIs; each KPI's standalone `sql` selects its rows and column from the batch query (ClickHouse
 *   then drops the other columns' aggregates).
 * - Windows narrow the entities first (`id IN (SELECT id … WHERE ts in window)`), exact because the
 *   event that sets an entity's latest timestamp carries that timestamp.
 * - Model tables are sorted by (model_id, model_version, …): their GROUP BYs follow that prefix.
 */

/** The evaluation time, pinned to UTC so day arithmetic never depends on the server's time zone. */
export const NOW = `toDateTime64({now:DateTime64(3)}, 3, 'UTC')`

/** Total order of the events of one entity: (event_time, cityHash64(event_id)) as one UInt128. */
export const ORDER_KEY =
  'bitShiftLeft(toUInt128(toUnixTimestamp64Milli(event_time)), 64) + cityHash64(event_id)'
const K = ORDER_KEY

const ms = (col: string) => `toUnixTimestamp64Milli(${col})`
const hoursBetween = (from: string, to: string) => `((${ms(to)} - ${ms(from)}) / 3600000)`
const daysBetween = (from: string, to: string) => `((${ms(to)} - ${ms(from)}) / 86400000)`
const inWindow = (col: string, days: number) =>
  `(${col} > ${NOW} - INTERVAL ${days} DAY AND ${col} <= ${NOW})`
const quoteList = (values: readonly string[]) => values.map((v) => `'${v}'`).join(', ')
/** `{param:Array(String)}` restricting `col`; an empty array keeps every row. */
export const filterOn = (param: string, col: string) =>
  `(empty({${param}:Array(String)}) OR has({${param}:Array(String)}, ${col}))`

const OPEN = `status IN (${quoteList(factVocabulary.findingOpenStatuses)})`
const MAJOR = `kind = '${factVocabulary.majorNc}'`
const MINOR = `kind = '${factVocabulary.minorNc}'`
const DEADLINE_H = factVocabulary.notificationDeadlineHours

/**
 * One KPI out of a batch query: its labels and its column as `value`, from the rows of its scope set
 * when the batch returns several (column `scope_set`).
 */
export function selectColumn(
  batchSql: string,
  labels: readonly string[],
  column: string,
  scopeSet?: string,
): string {
  const cols = [...labels, `${column} AS value`].join(', ')
  const where = scopeSet === undefined ? '' : `\nWHERE scope_set = '${scopeSet}'`
  return `SELECT ${cols}\nFROM (\n${batchSql}\n)${where}`
}

// ----- privacy ---------------------------------------------------------------------------------------

/** Latest state of the privacy incidents whose events satisfy `where`; unused columns cost nothing. */
function incidentState(where: string): string {
  return `SELECT
    incident_id,
    argMax(severity, ${K}) AS severity,
    argMax(notifiable, ${K}) AS notifiable,
    argMax(detected_at, ${K}) AS detected_at,
    argMaxIf(occurred_at, ${K}, occurred_at IS NOT NULL) AS occurred_at,
    argMaxIf(contained_at, ${K}, contained_at IS NOT NULL) AS contained_at,
    argMaxIf(resolved_at, ${K}, resolved_at IS NOT NULL) AS resolved_at,
    argMaxIf(regulator_notified_at, ${K}, regulator_notified_at IS NOT NULL) AS notified_at,
    argMax(records_affected, ${K}) AS records_affected,
    max(event_time) AS last_event_at
  FROM privacy_incident_events
  WHERE ${where}
  GROUP BY incident_id`
}

/**
 * The privacy KPIs over incidents detected, contained or resolved in the last 90 days, in one pass:
 * rows with scope_set 'severity' (one per severity ever seen):
 * - incidents_opened: incidents detected in the last 30 days with that current severity (0 if none);
 * and one row with scope_set '' (global):
 * - records_affected: sum of the latest records_affected of incidents detected in the last 30 days;
 * - mttd_hours: mean detected − occurred of incidents detected in 90 d (occurrence known);
 * - mttc_hours / mttr_hours: mean contained / resolved − detected of incidents contained / resolved in 90 d;
 * - notified_within_72h_ratio: of the notifiable incidents detected in 90 d whose outcome is known
 *   (notified, or 72 h passed), the share notified within 72 h of detection.
 * An empty window gives NULL (no value), except counts and sums (0).
 */
export const PRIVACY_SQL = `SELECT u.severity AS severity, u.scope_set AS scope_set,
  CAST(if(u.scope_set = 'severity', ifNull(a.opened, 0), NULL) AS Nullable(Float64)) AS incidents_opened,
  CAST(if(u.scope_set = '', ifNull(a.records, 0), NULL) AS Nullable(Float64)) AS records_affected,
  CAST(a.mttd AS Nullable(Float64)) AS mttd_hours,
  CAST(a.mttc AS Nullable(Float64)) AS mttc_hours,
  CAST(a.mttr AS Nullable(Float64)) AS mttr_hours,
  CAST(a.ratio AS Nullable(Float64)) AS notified_within_72h_ratio
FROM (
  SELECT DISTINCT toString(severity) AS severity, 'severity' AS scope_set FROM privacy_incident_events
  UNION ALL SELECT '' AS severity, '' AS scope_set
) AS u
LEFT JOIN (
  SELECT
    if(grouping(severity) = 1, '', toString(severity)) AS a_severity,
    if(grouping(severity) = 1, '', 'severity') AS a_scope_set,
    countIf(opened_30d) AS opened,
    sumIf(records_affected, opened_30d) AS records,
    avgOrNullIf(${hoursBetween('occurred_at', 'detected_at')}, ${inWindow('detected_at', 90)} AND occurred_at IS NOT NULL) AS mttd,
    avgOrNullIf(${hoursBetween('detected_at', 'contained_at')}, ${inWindow('contained_at', 90)}) AS mttc,
    avgOrNullIf(${hoursBetween('detected_at', 'resolved_at')}, ${inWindow('resolved_at', 90)}) AS mttr,
    if(countIf(decided) = 0, NULL,
      countIf(decided AND notified_at IS NOT NULL AND ${hoursBetween('detected_at', 'notified_at')} <= ${DEADLINE_H}) / countIf(decided)
    ) AS ratio
  FROM (
    SELECT *,
      ${inWindow('detected_at', 30)} AS opened_30d,
      notifiable AND ${inWindow('detected_at', 90)}
        AND (notified_at IS NOT NULL OR ${hoursBetween('detected_at', NOW)} >= ${DEADLINE_H}) AS decided
    FROM (${incidentState(
      `incident_id IN (SELECT incident_id FROM privacy_incident_events
        WHERE ${inWindow('detected_at', 90)} OR ${inWindow('contained_at', 90)} OR ${inWindow('resolved_at', 90)})`,
    )})
  )
  GROUP BY GROUPING SETS ((severity), ())
) AS a ON a.a_severity = u.severity AND a.a_scope_set = u.scope_set
ORDER BY scope_set, severity`

/**
 * Per notifiable incident: hours since detection while not notified (GDPR Art. 33 clock), else 0.
 * Listed: every incident still on the clock, and those whose clock stopped (notified, or no longer
 * notifiable) for 30 days after their last event, so an open breach gets its resolving value.
 */
export const NOTIFICATION_CLOCK_SQL = `SELECT incident_id,
  CAST(if(notifiable AND notified_at IS NULL, greatest(0, ${hoursBetween('detected_at', NOW)}), 0) AS Nullable(Float64)) AS value
FROM (${incidentState(
  `incident_id IN (SELECT incident_id FROM privacy_incident_events WHERE notifiable) AND ${filterOn('incident_ids', 'incident_id')}`,
)})
WHERE (notifiable AND notified_at IS NULL) OR last_event_at > ${NOW} - INTERVAL 30 DAY
ORDER BY incident_id`

// ----- model -----------------------------------------------------------------------------------------

const metricOf = (name: string) =>
  `argMaxIf(toNullable(metrics['${name}']), ${K}, mapContains(metrics, '${name}'))`

/**
 * Per model version: latest reported accuracy, f1, auc (NULL if never reported) and the accuracy drop
 * in points against its baseline: (baseline accuracy − accuracy) × 100. Baseline = the latest non-empty
 * baseline_version of the version's events; if none, the model's version first seen (min event_time,
 * then name) just before this one. No baseline or no accuracy on either side → NULL.
 */
export const MODEL_METRICS_SQL = `SELECT
  model_id,
  r.1 AS model_version,
  r.2 AS accuracy,
  r.3 AS f1,
  r.4 AS auc,
  CAST(r.5 AS Nullable(Float64)) AS accuracy_drop_points
FROM (
  SELECT model_id, vs,
    arrayMap(i -> if(vs[i].6 != '', indexOf(arrayMap(x -> x.1, vs), vs[i].6), i - 1), arrayEnumerate(vs)) AS b
  FROM (
    SELECT model_id,
      arraySort(x -> (x.2, x.1), groupArray((model_version, first_seen, accuracy, f1, auc, baseline))) AS vs
    FROM (
      SELECT
        model_id,
        model_version,
        min(event_time) AS first_seen,
        ${metricOf('accuracy')} AS accuracy,
        ${metricOf('f1')} AS f1,
        ${metricOf('auc')} AS auc,
        argMaxIf(baseline_version, ${K}, baseline_version != '') AS baseline
      FROM model_metric_events
      WHERE ${filterOn('model_ids', 'model_id')}
      GROUP BY model_id, model_version
    )
    GROUP BY model_id
  )
)
ARRAY JOIN arrayMap(i -> (
  vs[i].1, vs[i].3, vs[i].4, vs[i].5,
  if(b[i] > 0 AND b[i] != i, (vs[b[i]].3 - vs[i].3) * 100, NULL)
), arrayEnumerate(vs)) AS r
ORDER BY model_id, model_version`

/**
 * Fairness per (model, version, protected attribute) from the group confusion counts of the LATEST
 * evaluation event reporting that attribute (a later evaluation without fairness data does not blank
 * it). Rows are first narrowed to the latest events (cheap), then per group its latest counts and key,
 * then only the groups whose key is the attribute's latest: duplicates are never summed and a group
 * absent from the latest evaluation is left out. Math identical to fairness.ts (null rules included).
 */
export const FAIRNESS_SQL = `SELECT
  model_id, model_version, attribute,
  CAST(if(empty(sel), NULL, arrayMax(sel) - arrayMin(sel)) AS Nullable(Float64)) AS demographic_parity_difference,
  CAST(if(empty(sel) OR arrayMax(sel) = 0, NULL, arrayMin(sel) / arrayMax(sel)) AS Nullable(Float64)) AS disparate_impact_ratio,
  CAST(multiIf(
    empty(tpr) AND empty(fpr), NULL,
    empty(tpr), arrayMax(fpr) - arrayMin(fpr),
    empty(fpr), arrayMax(tpr) - arrayMin(tpr),
    greatest(arrayMax(tpr) - arrayMin(tpr), arrayMax(fpr) - arrayMin(fpr))
  ) AS Nullable(Float64)) AS equalized_odds_difference,
  CAST(if(empty(acc), NULL, arrayMax(acc) - arrayMin(acc)) AS Nullable(Float64)) AS accuracy_gap
FROM (
  SELECT
    model_id, model_version, attribute,
    arrayFilter(c -> c.1 + c.2 + c.3 + c.4 > 0, cs) AS nonempty,
    arrayMap(c -> (c.1 + c.2) / (c.1 + c.2 + c.3 + c.4), nonempty) AS sel,
    arrayMap(c -> (c.1 + c.3) / (c.1 + c.2 + c.3 + c.4), nonempty) AS acc,
    arrayMap(c -> c.1 / (c.1 + c.4), arrayFilter(c -> c.1 + c.4 > 0, cs)) AS tpr,
    arrayMap(c -> c.2 / (c.2 + c.3), arrayFilter(c -> c.2 + c.3 > 0, cs)) AS fpr
  FROM (
    SELECT model_id, model_version, attribute,
      arrayMap(g -> g.2, arrayFilter(g -> g.1 = max(k), groupArray((k, c)))) AS cs
    FROM (
      SELECT model_id, model_version, attribute, group_name,
        max(${K}) AS k,
        argMax((tp, fp, tn, fn), ${K}) AS c
      FROM model_group_counts
      WHERE ${filterOn('model_ids', 'model_id')}
        AND event_id IN (
          SELECT argMax(event_id, ${K})
          FROM model_group_counts
          WHERE ${filterOn('model_ids', 'model_id')}
          GROUP BY model_id, model_version, attribute
        )
      GROUP BY model_id, model_version, attribute, group_name
    )
    GROUP BY model_id, model_version, attribute
  )
)
ORDER BY model_id, model_version, attribute`

// ----- audit -----------------------------------------------------------------------------------------

/**
 * Latest state of the audit findings whose events satisfy `where`. nc_kind: 1 major NC, 2 minor NC, 0 any
 * other kind (small integers aggregate faster than strings).
 */
function findingState(where = '1'): string {
  return `SELECT
    finding_id,
    argMax(standard, ${K}) AS standard,
    argMax(clause, ${K}) AS clause,
    argMax(multiIf(${MAJOR}, 1, ${MINOR}, 2, 0), ${K}) AS nc_kind,
    argMax(${OPEN}, ${K}) AS is_open,
    argMax(raised_at, ${K}) AS raised_at,
    argMaxIf(due_at, ${K}, due_at IS NOT NULL) AS due_at,
    argMaxIf(closed_at, ${K}, closed_at IS NOT NULL) AS closed_at,
    argMax(repeat_of != '', ${K}) AS is_repeat
  FROM audit_finding_events
  WHERE ${where}
  GROUP BY finding_id`
}

/**
 * The audit KPIs in one pass over the latest state of every finding. Rows with scope_set
 * 'standard,clause', one per (standard, clause) that ever had a nonconformity or a repeat finding:
 * - open_major_ncs / open_minor_ncs: nonconformities whose latest status is open or in progress;
 * - repeat_findings: findings raised in the last 365 days that repeat an earlier one (repeat_of set);
 * rows with scope_set 'standard', one per standard ever seen, over nonconformities (major or minor):
 * - overdue_corrective_actions: open / in progress with due_at < now;
 * - mean_days_to_close: mean closed − raised of those closed in the last 90 days (NULL if none);
 * - on_time_closure_rate: of those closed in 90 d with a due date, the share closed by it (NULL if none).
 * "Closed" = latest status not open, with a closed_at. Counts are 0, never NULL.
 */
export const AUDIT_SQL = `SELECT u.standard AS standard, u.clause AS clause, u.scope_set AS scope_set,
  CAST(if(u.scope_set = 'standard,clause', ifNull(a.open_major, 0), NULL) AS Nullable(Float64)) AS open_major_ncs,
  CAST(if(u.scope_set = 'standard,clause', ifNull(a.open_minor, 0), NULL) AS Nullable(Float64)) AS open_minor_ncs,
  CAST(if(u.scope_set = 'standard,clause', ifNull(a.repeats, 0), NULL) AS Nullable(Float64)) AS repeat_findings,
  CAST(if(u.scope_set = 'standard', ifNull(a.overdue, 0), NULL) AS Nullable(Float64)) AS overdue_corrective_actions,
  CAST(a.mean_days AS Nullable(Float64)) AS mean_days_to_close,
  CAST(a.on_time AS Nullable(Float64)) AS on_time_closure_rate
FROM (
  SELECT DISTINCT toString(standard) AS standard, toString(clause) AS clause, 'standard,clause' AS scope_set
  FROM audit_finding_events WHERE ${MAJOR} OR ${MINOR} OR repeat_of != ''
  UNION ALL
  SELECT DISTINCT toString(standard) AS standard, '' AS clause, 'standard' AS scope_set FROM audit_finding_events
) AS u
LEFT JOIN (
  SELECT
    toString(standard) AS a_standard,
    if(grouping(clause) = 1, '', toString(clause)) AS a_clause,
    if(grouping(clause) = 1, 'standard', 'standard,clause') AS a_scope_set,
    countIf(is_open AND nc_kind = 1) AS open_major,
    countIf(is_open AND nc_kind = 2) AS open_minor,
    countIf(is_repeat AND ${inWindow('raised_at', 365)}) AS repeats,
    countIf(nc AND is_open AND due_at IS NOT NULL AND due_at < ${NOW}) AS overdue,
    avgOrNullIf(${daysBetween('raised_at', 'closed_at')}, closed_90d) AS mean_days,
    if(countIf(closed_90d AND due_at IS NOT NULL) = 0, NULL,
      countIf(closed_90d AND due_at IS NOT NULL AND closed_at <= due_at) / countIf(closed_90d AND due_at IS NOT NULL)
    ) AS on_time
  FROM (
    SELECT *,
      nc_kind != 0 AS nc,
      nc AND NOT is_open AND closed_at IS NOT NULL AND ${inWindow('closed_at', 90)} AS closed_90d
    FROM (${findingState()})
  )
  GROUP BY GROUPING SETS ((standard, clause), (standard))
) AS a ON a.a_standard = u.standard AND a.a_clause = u.clause AND a.a_scope_set = u.scope_set
ORDER BY scope_set, standard, clause`
