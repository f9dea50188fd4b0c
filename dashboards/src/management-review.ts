import { getKpi, KPIS } from '../../shared/kpi/catalog.js'
import {
  barchart,
  COLORS,
  dashboard,
  dashboardPath,
  kpiSteps,
  kpiThresholds,
  type Panel,
  stat,
  table,
  text,
  timeseries,
  UIDS,
  xychart,
} from './grafana.js'
import {
  BU,
  catalogTable,
  FINDINGS,
  hoursBetween,
  hoursUntilEnd,
  INCIDENTS,
  kpiFilters,
  kpiSeriesAsOf,
  latestKpiValues,
  NC,
  OPEN_FINDING,
  STANDARD,
  statusRank,
  rankStatus,
  reasonCode,
  scopeText,
  TO_MS,
  daysUntilEnd,
} from './sql.js'
import { businessUnitVar, modelVar, reviewUrlVar, standardVar } from './variables.js'

const REVIEW = 'ISO/IEC 27001:2022 and ISO/IEC 42001:2023 clause 9.3.2'

/** The drill-down dashboard of a KPI area (a hidden column the KPI links use). */
const drilldown = (area: string) =>
  `multiIf(${area} = 'privacy', '${dashboardPath(UIDS.privacy)}', ${area} = 'model', '${dashboardPath(UIDS.fairness)}', '${dashboardPath(UIDS.audit)}')`
const drillLink = { title: 'Open the drill-down', url: '${__data.fields.drilldown}?${__url_time_range}&${__all_variables}' }

/** One headline KPI as a stat tile, coloured by the catalog's default thresholds. */
function kpiStat(opts: {
  id: string
  title: string
  agg: 'min' | 'max' | 'sum'
  unit?: string
  decimals?: number
  match?: Record<string, string>
  description: string
}): Panel {
  const kpi = getKpi(opts.id)
  const scopeWhere = opts.match
    ? Object.entries(opts.match)
        .map(([k, v]) => ` AND scope['${k}'] = '${v}'`)
        .join('')
    : ''
  const refs = [...kpi.iso.iso27001.map((r) => `27001 ${r}`), ...kpi.iso.iso42001.map((r) => `42001 ${r}`)]
  const th = kpiThresholds(kpi, opts.match)
  return stat({
    title: opts.title,
    description: `${opts.description} KPI ${kpi.id} (${kpi.title}), latest value at the end of the period; colours are the catalog default thresholds${opts.match ? ` for ${Object.entries(opts.match).map(([k, v]) => `${k}=${v}`).join(', ')}` : ''} (breach when ${kpi.thresholds.op} ${[th.warning !== null ? `${th.warning} → warning` : '', th.critical !== null ? `${th.critical} → critical` : ''].filter(Boolean).join(', ') || 'no threshold'}). Evidences ISO/IEC ${refs.join(', ')}; input to clause 9.3.2 c).`,
    w: 4,
    h: 4,
    unit: opts.unit,
    decimals: opts.decimals,
    steps: kpiSteps(kpi, opts.match),
    fields: [{ name: 'value', title: opts.title }],
    sql: `
      SELECT ${opts.agg}(value) AS value
      FROM (${latestKpiValues(`kpi_id = '${kpi.id}'`)})
      WHERE ${kpiFilters()}${scopeWhere}`,
  })
}

const CATALOG = catalogTable()

const scorecard: Panel[] = [
  stat({
    title: 'KPI series by status',
    description: `How many KPI series (KPI × scope) are ok, in warning, critical, without data, or with insufficient data (a fairness KPI that cannot be estimated: never counted as ok) at the end of the period: the headline of the monitoring and measurement results (clause 9.1) for the ${REVIEW} c) 3) input.`,
    w: 8,
    h: 4,
    fields: [
      { name: 'critical', title: 'Critical', steps: [{ color: COLORS.ok, value: null }, { color: COLORS.critical, value: 1 }] },
      { name: 'warning', title: 'Warning', steps: [{ color: COLORS.ok, value: null }, { color: COLORS.warning, value: 1 }] },
      { name: 'ok', title: 'OK', steps: [{ color: COLORS.ok, value: null }] },
      { name: 'no_data', title: 'No data', steps: [{ color: 'gray', value: null }] },
      {
        name: 'insufficient_data',
        title: 'Insufficient data',
        steps: [{ color: COLORS.ok, value: null }, { color: COLORS.insufficient, value: 1 }],
      },
    ],
    sql: `
      SELECT
        countIf(status = 'critical') AS critical,
        countIf(status = 'warning') AS warning,
        countIf(status = 'ok') AS ok,
        countIf(status = 'no_data') AS no_data,
        countIf(status = 'insufficient_data') AS insufficient_data
      FROM (${latestKpiValues()})
      WHERE ${kpiFilters()}`,
  }),
  stat({
    title: 'Open breaches',
    description: `KPI breaches still firing at the end of the period (latest transition per breach is firing or escalated), by severity: nonconformities with the monitoring criteria, ISO/IEC 27001 / 42001 clauses 9.1 and 10.2, ${REVIEW} c) 2).`,
    w: 6,
    h: 4,
    fields: [
      { name: 'critical', title: 'Critical', steps: [{ color: COLORS.ok, value: null }, { color: COLORS.critical, value: 1 }] },
      { name: 'warning', title: 'Warning', steps: [{ color: COLORS.ok, value: null }, { color: COLORS.warning, value: 1 }] },
    ],
    sql: `
      SELECT countIf(severity = 'critical') AS critical, countIf(severity = 'warning') AS warning
      FROM (
        SELECT
          breach_id,
          argMax(kpi_id, (at, transition_id)) AS kpi_id,
          argMax(scope, (at, transition_id)) AS scope,
          argMax(transition, (at, transition_id)) AS last_transition,
          argMax(severity, (at, transition_id)) AS severity
        FROM breach_transitions
        WHERE at <= $__toTime
        GROUP BY breach_id
      )
      WHERE last_transition != 'resolved'
        AND ${kpiFilters()}`,
  }),
  text({
    title: 'How to use this review',
    description: `Reading guide for the ${REVIEW} management review inputs (clause 9.3.2 c): monitoring and measurement results, nonconformities, audit results).`,
    w: 10,
    h: 4,
    content: [
      'Pick the **review period** in the time picker (default: last 90 days). Values are as of the end of the period.',
      'Filter by **standard**, **business unit** and **model**; every panel says which clause or Annex A control it evidences.',
      `Drill down: [Privacy incidents](${dashboardPath(UIDS.privacy)}) · [Model fairness](${dashboardPath(UIDS.fairness)}) · [Audit nonconformities](${dashboardPath(UIDS.audit)}) · [Pipeline health](${dashboardPath(UIDS.pipeline)}).`,
    ].join('\n\n'),
  }),
  kpiStat({
    id: 'privacy.incidents_opened',
    title: 'Critical privacy incidents (30 d)',
    agg: 'sum',
    match: { severity: 'critical' },
    description: 'Critical-severity privacy incidents detected in the 30 days before the last evaluation.',
  }),
  kpiStat({
    id: 'privacy.notified_within_72h_ratio',
    title: 'Notified within 72 h',
    agg: 'min',
    unit: 'percentunit',
    description: 'Share of notifiable incidents notified to the supervisory authority within 72 h (GDPR Art. 33).',
  }),
  kpiStat({
    id: 'privacy.mttc_hours',
    title: 'Mean time to contain',
    agg: 'max',
    unit: 'h',
    decimals: 1,
    description: 'Mean hours from detection to containment (90 d).',
  }),
  kpiStat({
    id: 'privacy.notification_clock_hours',
    title: 'Longest unnotified clock',
    agg: 'max',
    unit: 'h',
    decimals: 0,
    description: 'Hours since awareness (else detection) of the longest-waiting notifiable incident not yet notified.',
  }),
  kpiStat({
    id: 'model.accuracy',
    title: 'Lowest model accuracy',
    agg: 'min',
    unit: 'percentunit',
    decimals: 1,
    description: 'The lowest accuracy over the model versions in scope.',
  }),
  kpiStat({
    id: 'model.accuracy_drop_points',
    title: 'Largest accuracy drop',
    agg: 'max',
    unit: 'none',
    decimals: 1,
    description: 'The largest drop in accuracy points of a model version against its baseline.',
  }),
  kpiStat({
    id: 'model.disparate_impact_ratio',
    title: 'Worst disparate impact ratio',
    agg: 'min',
    decimals: 2,
    description: 'The lowest min/max selection-rate ratio over models and protected attributes (four-fifths rule).',
  }),
  kpiStat({
    id: 'model.equalized_odds_difference',
    title: 'Worst equalized odds difference',
    agg: 'max',
    decimals: 3,
    description: 'The largest TPR/FPR gap between groups over models and protected attributes.',
  }),
  kpiStat({
    id: 'audit.open_major_ncs',
    title: 'Open major NCs',
    agg: 'sum',
    description: 'Major nonconformities not yet closed, all clauses.',
  }),
  kpiStat({
    id: 'audit.overdue_corrective_actions',
    title: 'Overdue corrective actions',
    agg: 'sum',
    description: 'Nonconformities open past their corrective-action due date.',
  }),
  kpiStat({
    id: 'audit.on_time_closure_rate',
    title: 'On-time closure rate (worst)',
    agg: 'min',
    unit: 'percentunit',
    description: 'The lowest on-time closure rate (90 d) over the standards in scope.',
  }),
  kpiStat({
    id: 'audit.repeat_findings',
    title: 'Most repeats on one control',
    agg: 'max',
    description: 'The most repeat findings raised against one clause or control (365 d).',
  }),
  table({
    title: 'KPI scorecard',
    description: `Every KPI series of the catalog with its latest value at the end of the period, its confidence interval and sample size where it has one (fairness KPIs), the thresholds applied by the processor (catalog defaults or per-scope overrides) and its traffic-light status, worst first; "Insufficient data" marks a value that could not be estimated and "Why" gives the reason (or uncertain_warning: beyond the threshold, interval not confirming). Clause 9.1 results (ISO/IEC 27001:2022 9.1 a–f, ISO/IEC 42001:2023 9.1) as the ${REVIEW} c) 3) input; the last column names the clauses and Annex A controls each KPI evidences.`,
    w: 24,
    h: 14,
    sql: `
      SELECT
        c.area AS area,
        c.title AS kpi,
        ${scopeText('v.scope')} AS scope_labels,
        v.value AS value,
        c.unit AS unit,
        if(v.ci_low IS NULL, '', concat('[', toString(round(v.ci_low, 3)), ', ', toString(round(v.ci_high, 3)), ']', if(v.n IS NULL, '', concat(' n=', toString(v.n))))) AS interval,
        v.warning_threshold AS warning_threshold,
        v.critical_threshold AS critical_threshold,
        v.status AS status,
        ${reasonCode('v.reason')} AS why,
        v.last_evaluated_at AS evaluated_at,
        c.iso_references AS iso_references,
        ${drilldown('c.area')} AS drilldown
      FROM (
        SELECT * FROM (${latestKpiValues()})
        WHERE ${kpiFilters()}
      ) AS v
      INNER JOIN (${CATALOG}) AS c ON c.kpi_id = v.kpi_id
      ORDER BY ${statusRank('v.status')}, area, kpi, scope_labels`,
    columns: [
      { name: 'area', title: 'Area', width: 80 },
      { name: 'kpi', title: 'KPI', width: 260, link: drillLink },
      { name: 'scope_labels', title: 'Scope', width: 260 },
      { name: 'value', title: 'Value', decimals: 3, width: 90 },
      { name: 'unit', title: 'Unit', width: 90 },
      { name: 'interval', title: 'Interval, n', width: 170 },
      { name: 'warning_threshold', title: 'Warning at', decimals: 3, width: 90 },
      { name: 'critical_threshold', title: 'Critical at', decimals: 3, width: 90 },
      { name: 'status', title: 'Status', status: true, width: 120 },
      { name: 'why', title: 'Why', width: 150 },
      { name: 'evaluated_at', title: 'Evaluated', unit: 'dateTimeAsIso', width: 170 },
      { name: 'iso_references', title: 'Evidences' },
      { name: 'drilldown', hidden: true },
    ],
  }),
]

const breaches: Panel[] = [
  table({
    title: 'Open breaches',
    description: `KPI breaches not resolved at the end of the period, with the value and threshold that triggered them and how long they have been open: nonconformities and their follow-up, ISO/IEC 27001 / 42001 clause 10.2, ${REVIEW} c) 2).`,
    w: 14,
    h: 9,
    sql: `
      SELECT
        c.title AS kpi,
        ${scopeText('b.scope')} AS scope_labels,
        b.severity AS severity,
        b.last_transition AS last_transition,
        b.started_at AS since,
        round(${hoursUntilEnd('b.started_at')}, 1) AS hours_open,
        b.value AS value,
        b.threshold AS threshold,
        c.iso_references AS iso_references,
        ${drilldown('c.area')} AS drilldown
      FROM (
        SELECT * FROM (
          SELECT
            breach_id,
            argMax(kpi_id, (at, transition_id)) AS kpi_id,
            argMax(scope, (at, transition_id)) AS scope,
            argMax(transition, (at, transition_id)) AS last_transition,
            argMax(severity, (at, transition_id)) AS severity,
            min(started_at) AS started_at,
            argMax(tuple(value), (at, transition_id)).1 AS value,
            argMax(tuple(threshold), (at, transition_id)).1 AS threshold
          FROM breach_transitions
          WHERE at <= $__toTime
          GROUP BY breach_id
        )
        WHERE last_transition != 'resolved' AND ${kpiFilters()}
      ) AS b
      INNER JOIN (${CATALOG}) AS c ON c.kpi_id = b.kpi_id
      ORDER BY b.severity = 'critical' DESC, since`,
    columns: [
      { name: 'kpi', title: 'KPI', width: 220, link: drillLink },
      { name: 'scope_labels', title: 'Scope', width: 220 },
      { name: 'severity', title: 'Severity', status: true, width: 90 },
      { name: 'last_transition', title: 'Last transition', status: true, width: 110 },
      { name: 'since', title: 'Since', unit: 'dateTimeAsIso', width: 170 },
      { name: 'hours_open', title: 'Open for', unit: 'h', width: 90 },
      { name: 'value', title: 'Value', decimals: 3, width: 80 },
      { name: 'threshold', title: 'Threshold', decimals: 3, width: 90 },
      { name: 'iso_references', title: 'Evidences' },
      { name: 'drilldown', hidden: true },
    ],
  }),
  timeseries({
    title: 'Breach transitions in the period',
    description: `Breaches that started firing, escalated (warning → critical) and resolved, per interval: how the organisation reacted to nonconformities during the period (ISO/IEC 27001 / 42001 clauses 9.1 and 10.2, ${REVIEW} c) 2)).`,
    w: 10,
    h: 9,
    bars: true,
    stack: true,
    series: [
      { name: 'firing', title: 'Firing', color: COLORS.critical },
      { name: 'escalated', title: 'Escalated', color: 'dark-red' },
      { name: 'resolved', title: 'Resolved', color: COLORS.ok },
    ],
    sql: `
      SELECT
        $__timeInterval(transition_at) AS time,
        countIf(transition = 'firing') AS firing,
        countIf(transition = 'escalated') AS escalated,
        countIf(transition = 'resolved') AS resolved
      FROM (
        SELECT transition_id, any(transition) AS transition, min(at) AS transition_at, any(kpi_id) AS kpi_id, any(scope) AS scope
        FROM breach_transitions
        WHERE $__timeFilter(at)
        GROUP BY transition_id
      )
      WHERE ${kpiFilters()}
      GROUP BY time
      ORDER BY time`,
  }),
]

const trends: Panel[] = [
  timeseries({
    title: 'KPI series by status over the period',
    description: `Number of KPI series critical, in warning, with insufficient data and ok at each step of the period (status in force at that instant): the trend of the clause 9.1 results asked for by ${REVIEW} c) 3).`,
    w: 12,
    h: 8,
    stack: true,
    series: [
      { name: 'critical', title: 'Critical', color: COLORS.critical },
      { name: 'warning', title: 'Warning', color: COLORS.warning },
      { name: 'insufficient_data', title: 'Insufficient data', color: COLORS.insufficient },
      { name: 'ok', title: 'OK', color: COLORS.ok },
    ],
    sql: `
      SELECT
        time,
        countIf(status = 'critical') AS critical,
        countIf(status = 'warning') AS warning,
        countIf(status = 'insufficient_data') AS insufficient_data,
        countIf(status = 'ok') AS ok
      FROM (${kpiSeriesAsOf(KPIS.map((k) => k.id), kpiFilters())})
      GROUP BY time
      ORDER BY time`,
  }),
  timeseries({
    title: 'Incident handling times',
    description:
      'Mean time to detect, contain and resolve privacy incidents (hours, 90-day windows) over the period; the dashed lines are the MTTC thresholds of the catalog. Evidences ISO/IEC 27001:2022 A.5.24–A.5.27 (incident management) and clause 9.1.',
    w: 12,
    h: 8,
    unit: 'h',
    steps: kpiSteps(getKpi('privacy.mttc_hours')),
    series: [
      { name: 'mttd_hours', title: 'MTTD' },
      { name: 'mttc_hours', title: 'MTTC' },
      { name: 'mttr_hours', title: 'MTTR' },
    ],
    sql: `
      SELECT
        time,
        maxIf(value, kpi_id = 'privacy.mttd_hours') AS mttd_hours,
        maxIf(value, kpi_id = 'privacy.mttc_hours') AS mttc_hours,
        maxIf(value, kpi_id = 'privacy.mttr_hours') AS mttr_hours
      FROM (${kpiSeriesAsOf(['privacy.mttd_hours', 'privacy.mttc_hours', 'privacy.mttr_hours'])})
      GROUP BY time
      ORDER BY time`,
  }),
  timeseries({
    title: 'Notifiable incidents notified within 72 h',
    description:
      'Share of notifiable personal-data breaches notified to the supervisory authority within 72 hours (GDPR Art. 33) over the period. Evidences ISO/IEC 27001:2022 A.5.5 (contact with authorities), A.5.26, A.5.34 and clause 9.1.',
    w: 8,
    h: 8,
    unit: 'percentunit',
    min: 0,
    max: 1,
    steps: kpiSteps(getKpi('privacy.notified_within_72h_ratio')),
    series: [{ name: 'notified_within_72h', title: 'Notified within 72 h' }],
    sql: `
      SELECT time, min(value) AS notified_within_72h
      FROM (${kpiSeriesAsOf(['privacy.notified_within_72h_ratio'])})
      GROUP BY time
      ORDER BY time`,
  }),
  timeseries({
    title: 'Open nonconformities and overdue actions',
    description:
      'Open major and minor nonconformities and overdue corrective actions at each step of the period (sum over clauses, standards filtered). Evidences ISO/IEC 27001 / 42001 clauses 9.2 and 10.2.',
    w: 8,
    h: 8,
    series: [
      { name: 'open_major', title: 'Open major NCs', color: COLORS.critical },
      { name: 'open_minor', title: 'Open minor NCs', color: COLORS.warning },
      { name: 'overdue', title: 'Overdue actions', color: 'purple' },
    ],
    sql: `
      SELECT
        time,
        sumIf(value, kpi_id = 'audit.open_major_ncs') AS open_major,
        sumIf(value, kpi_id = 'audit.open_minor_ncs') AS open_minor,
        sumIf(value, kpi_id = 'audit.overdue_corrective_actions') AS overdue
      FROM (${kpiSeriesAsOf(
        ['audit.open_major_ncs', 'audit.open_minor_ncs', 'audit.overdue_corrective_actions'],
        kpiFilters({ model: false }),
      )})
      GROUP BY time
      ORDER BY time`,
  }),
  timeseries({
    title: 'Models: lowest accuracy and worst fairness',
    description:
      'Lowest accuracy and worst fairness metrics over the model versions in scope at each step of the period. Evidences ISO/IEC 42001:2023 A.6.2.4 (verification and validation), A.6.2.6 (operation and monitoring), A.5.4 (impact on groups of individuals) and clause 9.1.',
    w: 8,
    h: 8,
    decimals: 3,
    series: [
      { name: 'lowest_accuracy', title: 'Lowest accuracy' },
      { name: 'worst_dpd', title: 'Worst demographic parity diff.' },
      { name: 'worst_eod', title: 'Worst equalized odds diff.' },
      { name: 'worst_dir', title: 'Worst disparate impact ratio' },
    ],
    sql: `
      SELECT
        time,
        minIf(value, kpi_id = 'model.accuracy') AS lowest_accuracy,
        maxIf(value, kpi_id = 'model.demographic_parity_difference') AS worst_dpd,
        maxIf(value, kpi_id = 'model.equalized_odds_difference') AS worst_eod,
        minIf(value, kpi_id = 'model.disparate_impact_ratio') AS worst_dir
      FROM (${kpiSeriesAsOf(
        ['model.accuracy', 'model.demographic_parity_difference', 'model.equalized_odds_difference', 'model.disparate_impact_ratio'],
        kpiFilters(),
      )})
      GROUP BY time
      ORDER BY time`,
  }),
]

const clock = getKpi('privacy.notification_clock_hours')
const NOTIFIABLE = `SELECT
          incident_id, severity, business_unit, detected_at, notified_at,
          -- GDPR Art. 33's 72 hours run from awareness, else detection (as the KPI).
          ifNull(awareness_at, detected_at) AS aware_at,
          if(notified_at IS NULL, ${hoursUntilEnd('aware_at')}, ${hoursBetween('aware_at', 'notified_at')}) AS hours
        FROM (${INCIDENTS})
        WHERE notifiable AND $__timeFilter(detected_at) AND ${BU}`

const privacy: Panel[] = [
  stat({
    title: 'Notifiable incidents vs the 72-hour rule',
    description:
      'Notifiable personal-data breaches detected in the period: notified within 72 h, notified late, clock still running (< 72 h, not notified) and overdue (≥ 72 h, not notified), as of the end of the period. GDPR Art. 33; evidences ISO/IEC 27001:2022 A.5.5, A.5.26 and A.5.34.',
    w: 8,
    h: 8,
    fields: [
      { name: 'within_72h', title: 'Within 72 h', steps: [{ color: COLORS.ok, value: null }] },
      { name: 'notified_late', title: 'Notified late', steps: [{ color: COLORS.ok, value: null }, { color: COLORS.critical, value: 1 }] },
      { name: 'clock_running', title: 'Clock running', steps: [{ color: COLORS.ok, value: null }, { color: COLORS.warning, value: 1 }] },
      { name: 'overdue', title: 'Overdue', steps: [{ color: COLORS.ok, value: null }, { color: COLORS.critical, value: 1 }] },
    ],
    sql: `
      SELECT
        countIf(notified_at IS NOT NULL AND hours <= 72) AS within_72h,
        countIf(notified_at IS NOT NULL AND hours > 72) AS notified_late,
        countIf(notified_at IS NULL AND hours < 72) AS clock_running,
        countIf(notified_at IS NULL AND hours >= 72) AS overdue
      FROM (${NOTIFIABLE})`,
  }),
  barchart({
    title: 'Hours to regulator notification per notifiable incident',
    description: `For each notifiable incident detected in the period, hours from awareness (detection when no awareness time is given) to notification of the supervisory authority, or hours elapsed so far when not yet notified; dashed lines at the catalog clock thresholds (${clock.thresholds.warning} h warning, ${clock.thresholds.critical} h critical, GDPR Art. 33). Evidences ISO/IEC 27001:2022 A.5.5, A.5.26, A.5.34 and ISO/IEC 42001:2023 A.8.4.`,
    w: 16,
    h: 8,
    unit: 'h',
    x: 'incident_id',
    steps: kpiSteps(clock),
    series: [{ name: 'hours', title: 'Hours to notification (or elapsed)' }],
    sql: `
      SELECT incident_id, round(hours, 1) AS hours
      FROM (${NOTIFIABLE})
      ORDER BY detected_at`,
  }),
]

const models: Panel[] = [
  xychart({
    title: 'Models: accuracy vs bias',
    description:
      'Each point is a model version: its accuracy (x) against its worst fairness gap (y = the largest demographic parity or equalized odds difference over its protected attributes), latest values at the end of the period. Points to the left or above 0.1 are out of tolerance. Evidences ISO/IEC 42001:2023 A.5.4, A.6.2.4, A.6.2.6 and clause 9.1.',
    w: 12,
    h: 10,
    x: { name: 'accuracy', title: 'Accuracy', unit: 'percentunit', min: 0.5, max: 1 },
    y: { name: 'worst_fairness_gap', title: 'Worst fairness gap', min: 0 },
    label: 'model_version_label',
    steps: kpiSteps(getKpi('model.demographic_parity_difference')),
    sql: `
      SELECT
        concat(scope['model_id'], ' ', scope['model_version']) AS model_version_label,
        maxIf(value, kpi_id = 'model.accuracy') AS accuracy,
        maxIf(value, kpi_id IN ('model.demographic_parity_difference', 'model.equalized_odds_difference')) AS worst_fairness_gap
      FROM (${latestKpiValues(`kpi_id IN ('model.accuracy', 'model.demographic_parity_difference', 'model.equalized_odds_difference')`)})
      WHERE ${kpiFilters()}
      GROUP BY scope['model_id'], scope['model_version']
      HAVING accuracy IS NOT NULL AND worst_fairness_gap IS NOT NULL
      ORDER BY model_version_label`,
  }),
  table({
    title: 'Model versions out of tolerance',
    description:
      'Model versions with at least one performance or fairness KPI in warning or critical at the end of the period, with the worst one. Evidences ISO/IEC 42001:2023 A.6.2.4, A.6.2.6, A.5.4 and clause 9.1; input to clause 9.3.2 c).',
    w: 12,
    h: 10,
    sql: `
      SELECT
        model_id,
        model_version,
        arrayStringConcat(arraySort(groupUniqArrayIf(scope['attribute'], scope['attribute'] != '')), ', ') AS attributes,
        argMin(c.title, ${statusRank('v.status')}) AS worst_kpi,
        argMin(v.value, ${statusRank('v.status')}) AS worst_value,
        ${rankStatus(`min(${statusRank('v.status')})`)} AS status,
        countIf(v.status IN ('warning', 'critical')) AS breaching_series
      FROM (
        SELECT *, scope['model_id'] AS model_id, scope['model_version'] AS model_version
        FROM (${latestKpiValues(`startsWith(kpi_id, 'model.')`)})
        WHERE ${kpiFilters()}
      ) AS v
      INNER JOIN (${CATALOG}) AS c ON c.kpi_id = v.kpi_id
      GROUP BY model_id, model_version
      HAVING breaching_series > 0
      ORDER BY min(${statusRank('v.status')}), model_id, model_version`,
    columns: [
      {
        name: 'model_id',
        title: 'Model',
        link: {
          title: 'Fairness of this model',
          url: `${dashboardPath(UIDS.fairness)}?var-model=\${__value.raw}&\${__url_time_range}`,
        },
      },
      { name: 'model_version', title: 'Version' },
      { name: 'attributes', title: 'Protected attributes' },
      { name: 'worst_kpi', title: 'Worst KPI' },
      { name: 'worst_value', title: 'Value', decimals: 3 },
      { name: 'status', title: 'Status', status: true },
      { name: 'breaching_series', title: 'Series breaching' },
    ],
  }),
]

const audit: Panel[] = [
  table({
    title: 'Open nonconformities by standard and clause',
    description:
      'Open (open or in progress) major and minor nonconformities and overdue corrective actions per standard and clause / Annex A control, as of the end of the period, with the age of the oldest. Evidences ISO/IEC 27001 / 42001 clauses 9.2 (internal audit) and 10.2 (nonconformity and corrective action); input to clause 9.3.2 c) 2) and 4).',
    w: 12,
    h: 10,
    sql: `
      SELECT
        standard,
        clause,
        countIf(kind = 'major_nc') AS open_major,
        countIf(kind = 'minor_nc') AS open_minor,
        countIf(due_at IS NOT NULL AND toUnixTimestamp64Milli(due_at) < ${TO_MS}) AS overdue,
        round(max(${daysUntilEnd('raised_at')}), 0) AS oldest_days
      FROM (${FINDINGS})
      WHERE ${NC} AND ${OPEN_FINDING} AND ${STANDARD} AND ${BU}
      GROUP BY standard, clause
      ORDER BY open_major DESC, overdue DESC, open_minor DESC, standard, clause`,
    columns: [
      { name: 'standard', title: 'Standard' },
      {
        name: 'clause',
        title: 'Clause / control',
        link: {
          title: 'Findings on this clause',
          url: `${dashboardPath(UIDS.audit)}?var-standard=\${__data.fields.standard}&var-clause=\${__value.raw}&\${__url_time_range}`,
        },
      },
      { name: 'open_major', title: 'Major', steps: kpiSteps(getKpi('audit.open_major_ncs')) },
      { name: 'open_minor', title: 'Minor' },
      { name: 'overdue', title: 'Overdue', steps: kpiSteps(getKpi('audit.overdue_corrective_actions')) },
      { name: 'oldest_days', title: 'Oldest (days)' },
    ],
  }),
  table({
    title: 'Overdue corrective actions',
    description:
      'Nonconformities still open past their corrective-action due date at the end of the period, most overdue first, with owner. Evidences ISO/IEC 27001 / 42001 clause 10.2 (corrective action) and clause 9.3.2 c) 2).',
    w: 12,
    h: 10,
    sql: `
      SELECT
        finding_id, standard, clause, kind, title, owner, business_unit, due_at,
        round((${TO_MS} - toUnixTimestamp64Milli(due_at)) / 86400000, 0) AS days_overdue
      FROM (${FINDINGS})
      WHERE ${NC} AND ${OPEN_FINDING} AND due_at IS NOT NULL AND toUnixTimestamp64Milli(due_at) < ${TO_MS}
        AND ${STANDARD} AND ${BU}
      ORDER BY days_overdue DESC, finding_id`,
    columns: [
      {
        name: 'finding_id',
        title: 'Finding',
        link: {
          title: 'Findings on this clause',
          url: `${dashboardPath(UIDS.audit)}?var-standard=\${__data.fields.standard}&var-clause=\${__data.fields.clause}&\${__url_time_range}`,
        },
      },
      { name: 'standard', title: 'Standard' },
      { name: 'clause', title: 'Clause / control' },
      { name: 'kind', title: 'Kind' },
      { name: 'title', title: 'Title' },
      { name: 'owner', title: 'Owner' },
      { name: 'business_unit', title: 'Business unit' },
      { name: 'due_at', title: 'Due', unit: 'dateTimeAsIso' },
      {
        name: 'days_overdue',
        title: 'Days overdue',
        steps: [
          { color: COLORS.warning, value: null },
          { color: COLORS.critical, value: 30 },
        ],
      },
    ],
  }),
]

/**
 * The frozen management review packs (npm run review-pack): which packs exist for which period, the hash
 * chain that `--verify` checks, and a link to each pack on the review page (the pack itself is served
 * there, behind its sign-in; Grafana reads only these columns of review_packs, never the pack bodies).
 */
const packs: Panel[] = [
  table({
    title: 'Review packs',
    description:
      'Management review packs generated for a period (clause 9.3.2 inputs of ISO/IEC 27001 and 42001, frozen with a manifest of input hashes). Each pack chains to the previous one by sha256; `npm run review-pack -- --verify <pack>` recomputes every figure. Newest first; opens on the review page (set the Review page variable to its address).',
    w: 24,
    h: 8,
    sql: `
      SELECT pack_id, period, period_start, period_end, generated_at,
        substring(sha256, 1, 16) AS manifest_sha256, substring(prev_sha256, 1, 16) AS previous_sha256
      FROM review_packs
      ORDER BY generated_at DESC
      LIMIT 100`,
    columns: [
      {
        name: 'pack_id',
        title: 'Pack',
        link: { title: 'Open the pack', url: '${review_url}/api/review-packs/${__value.raw}?format=html' },
      },
      { name: 'period', title: 'Period' },
      { name: 'period_start', title: 'From', unit: 'dateTimeAsIso' },
      { name: 'period_end', title: 'To', unit: 'dateTimeAsIso' },
      { name: 'generated_at', title: 'Frozen at', unit: 'dateTimeAsIso' },
      { name: 'manifest_sha256', title: 'Manifest sha256' },
      { name: 'previous_sha256', title: 'Previous pack sha256' },
    ],
  }),
]

/**
 * A change of a KPI's definition (threshold, window, SQL, fairness settings) marked on every trend: values
 * before and after it were computed differently (kpi_definition_changes, written when a processor or a
 * backfill first runs with a new version; a KPI's first version is not a change).
 */
export const DEFINITION_CHANGES = {
  name: 'KPI definition changes',
  color: 'purple',
  sql: `
    SELECT
      changed_at AS time,
      concat(kpi_id, ': definition ', previous_version, ' → ', version,
        if(empty(changes), '', concat(' (changed: ', arrayStringConcat(changes, ', '), ')'))) AS text
    FROM kpi_definition_changes FINAL
    WHERE previous_version != '' AND $__timeFilter(changed_at)
    ORDER BY time`,
}

export const managementReview = dashboard({
  uid: UIDS.review,
  title: 'AIMS / ISMS management review',
  description:
    'Management review inputs (ISO/IEC 27001:2022 and ISO/IEC 42001:2023 clause 9.3.2): KPI scorecard, breaches, trends, privacy incidents vs the 72-hour rule, models accuracy vs bias, open nonconformities. The time picker selects the review period.',
  tags: ['aims', 'iso27001', 'iso42001', 'management-review', 'clause-9.3'],
  variables: [standardVar, businessUnitVar, modelVar, reviewUrlVar],
  links: [
    { title: 'Privacy incidents', uid: UIDS.privacy, tooltip: 'Drill-down: privacy incidents and the 72-hour rule' },
    { title: 'Model fairness', uid: UIDS.fairness, tooltip: 'Drill-down: per model, protected attribute and version' },
    { title: 'Audit nonconformities', uid: UIDS.audit, tooltip: 'Drill-down: aging, clauses and controls, repeats' },
    { title: 'Pipeline health', uid: UIDS.pipeline, tooltip: 'Is the monitoring itself working?' },
  ],
  rows: [
    { title: 'KPI scorecard (clause 9.1 results)', panels: scorecard },
    { title: 'Breaches (nonconformities with the monitoring criteria)', panels: breaches },
    { title: 'Trends over the review period', panels: trends },
    { title: 'Privacy incidents vs the 72-hour rule', panels: privacy },
    { title: 'AI models: accuracy vs bias', panels: models },
    { title: 'Audit: open nonconformities and corrective actions', panels: audit },
    { title: 'Management review packs (frozen, verifiable)', panels: packs },
  ],
  annotations: [DEFINITION_CHANGES],
})

