import { getKpi, KPIS } from '../../shared/kpi/catalog.js'
import {
  type Column,
  dashboard,
  dashboardPath,
  kpiSteps,
  type Panel,
  queryVariable,
  table,
  timeseries,
  UIDS,
  xychart,
} from './grafana.js'
import {
  K,
  kpiSeriesAsOf,
  latestKpiValues,
  rankStatus,
  reasonCode,
  statusRank,
  varFilter,
  withInterval,
} from './sql.js'
import { businessUnitVar, modelVar } from './variables.js'

const FAIRNESS_ISO =
  'ISO/IEC 42001:2023 A.5.4 (assessing AI system impact on individuals or groups), A.6.2.6 (AI system operation and monitoring), A.7.4 (data quality) and clause 9.1; ISO/IEC 27001:2022 A.5.34 (the protected attributes are personal data)'
const PERFORMANCE_ISO =
  'ISO/IEC 42001:2023 A.6.2.4 (AI system verification and validation), A.6.2.6 (operation and monitoring) and clause 9.1'

/** Model, version and attribute variables applied to columns of that name. */
const MODEL_VARS = `${varFilter('model_id', 'model')}
        AND ${varFilter('model_version', 'version')}
        AND $__conditionalAll(model_id IN (SELECT model_id FROM model_metric_events WHERE business_unit IN (\${business_unit:singlequote})), $business_unit)`

/** Latest KPI values of `ids`, one row per series, with the scope labels as columns. */
function latestModelKpis(ids: string[]): string {
  return `SELECT kpi_id, scope['model_id'] AS model_id, scope['model_version'] AS model_version, scope['attribute'] AS attribute, value, status, n, ci_low, ci_high, reason
        FROM (${latestKpiValues(`kpi_id IN (${ids.map((i) => `'${i}'`).join(', ')})`)})
        WHERE ${MODEL_VARS}`
}

const kpiColumn = (name: string, id: string, title: string): Column => ({
  name,
  title,
  decimals: 3,
  steps: kpiSteps(getKpi(id)),
})

const modelLink = (title: string) => ({
  title,
  url: `${dashboardPath(UIDS.fairness)}?var-model=\${__data.fields.model_id}&var-version=\${__data.fields.model_version}&\${__url_time_range}`,
})

const FAIRNESS_IDS = [
  'model.demographic_parity_difference',
  'model.disparate_impact_ratio',
  'model.equalized_odds_difference',
  'model.accuracy_gap',
]
const PERFORMANCE_IDS = ['model.accuracy', 'model.f1', 'model.auc', 'model.accuracy_drop_points']
/** Every fairness KPI of the catalog (those a configuration turns on have series). */
const ALL_FAIRNESS_IDS = KPIS.filter((k) => k.fairness).map((k) => k.id)

const fairness: Panel[] = [
  table({
    title: 'Fairness per model, version and protected attribute',
    description: `Latest fairness KPIs of every model version and protected attribute at the end of the period, each cell coloured by its catalog thresholds (demographic parity difference > 0.1, disparate impact ratio < 0.8 (four-fifths rule), equalized odds difference > 0.1, accuracy gap > 0.05; compared exactly). Computed by the pipeline from the group counts of the latest evaluation. An empty cell with the status "Insufficient data" could not be estimated (see the table of intervals below); the DIR column gives the disparate impact ratio with its confidence interval and n. Evidences ${FAIRNESS_ISO}.`,
    w: 24,
    h: 9,
    sql: `
      SELECT
        model_id,
        model_version,
        attribute,
        maxIf(value, kpi_id = 'model.demographic_parity_difference') AS demographic_parity_difference,
        maxIf(value, kpi_id = 'model.disparate_impact_ratio') AS disparate_impact_ratio,
        maxIf(value, kpi_id = 'model.equalized_odds_difference') AS equalized_odds_difference,
        maxIf(value, kpi_id = 'model.accuracy_gap') AS accuracy_gap,
        anyIf(${withInterval()}, kpi_id = 'model.disparate_impact_ratio') AS disparate_impact_interval,
        ${rankStatus(`min(${statusRank()})`)} AS worst_status
      FROM (${latestModelKpis(FAIRNESS_IDS)})
      WHERE ${varFilter('attribute', 'attribute')}
      GROUP BY model_id, model_version, attribute
      ORDER BY min(${statusRank()}), model_id, model_version, attribute`,
    columns: [
      { name: 'model_id', title: 'Model', link: modelLink('This model version') },
      { name: 'model_version', title: 'Version' },
      { name: 'attribute', title: 'Protected attribute' },
      kpiColumn('demographic_parity_difference', 'model.demographic_parity_difference', 'Demographic parity diff.'),
      kpiColumn('disparate_impact_ratio', 'model.disparate_impact_ratio', 'Disparate impact ratio'),
      kpiColumn('equalized_odds_difference', 'model.equalized_odds_difference', 'Equalized odds diff.'),
      kpiColumn('accuracy_gap', 'model.accuracy_gap', 'Accuracy gap'),
      { name: 'disparate_impact_interval', title: 'DIR [CI] n' },
      { name: 'worst_status', title: 'Worst status', status: true },
    ],
  }),
  table({
    title: 'Fairness with intervals and sample sizes',
    description: `Every fairness KPI series at the end of the period with what it rests on: the value and its confidence interval (95 % unless configured: Wilson per rate, Newcombe for differences, Katz for ratios), n (the samples of the groups compared), the status, and why a value is missing or uncertain. "Insufficient data" (purple) means the KPI could not be estimated (a single group, groups below the minimum sample, labels not yet known): it is neither ok nor a breach. "uncertain_warning" means the value lies beyond the threshold but its interval reaches back (interval policy: shown, not paged). Evidences ${FAIRNESS_ISO}.`,
    w: 24,
    h: 10,
    sql: `
      SELECT
        scope['model_id'] AS model_id,
        scope['model_version'] AS model_version,
        scope['attribute'] AS attribute,
        replaceOne(kpi_id, 'model.', '') AS kpi,
        value,
        ci_low,
        ci_high,
        n,
        status,
        ${reasonCode()} AS reason_code,
        reason
      FROM (${latestKpiValues(`kpi_id IN (${ALL_FAIRNESS_IDS.map((i) => `'${i}'`).join(', ')})`)})
      WHERE ${varFilter("scope['model_id']", 'model')}
        AND ${varFilter("scope['model_version']", 'version')}
        AND ${varFilter("scope['attribute']", 'attribute')}
        AND $__conditionalAll(scope['model_id'] IN (SELECT model_id FROM model_metric_events WHERE business_unit IN (\${business_unit:singlequote})), $business_unit)
      ORDER BY ${statusRank()}, model_id, model_version, attribute, kpi`,
    columns: [
      { name: 'model_id', title: 'Model', link: modelLink('This model version') },
      { name: 'model_version', title: 'Version' },
      { name: 'attribute', title: 'Protected attribute' },
      { name: 'kpi', title: 'KPI' },
      { name: 'value', title: 'Value', decimals: 3 },
      { name: 'ci_low', title: 'CI low', decimals: 3 },
      { name: 'ci_high', title: 'CI high', decimals: 3 },
      { name: 'n', title: 'n' },
      { name: 'status', title: 'Status', status: true },
      { name: 'reason_code', title: 'Why' },
      { name: 'reason', title: 'Detail' },
    ],
  }),
  table({
    title: 'Performance per model version',
    description: `Latest accuracy, F1, ROC AUC and accuracy drop (points vs. the baseline version) of every model version at the end of the period, coloured by the catalog default floors. Evidences ${PERFORMANCE_ISO}.`,
    w: 12,
    h: 9,
    sql: `
      SELECT
        model_id,
        model_version,
        maxIf(value, kpi_id = 'model.accuracy') AS accuracy,
        maxIf(value, kpi_id = 'model.f1') AS f1,
        maxIf(value, kpi_id = 'model.auc') AS auc,
        maxIf(value, kpi_id = 'model.accuracy_drop_points') AS accuracy_drop_points,
        ${rankStatus(`min(${statusRank()})`)} AS worst_status
      FROM (${latestModelKpis(PERFORMANCE_IDS)})
      GROUP BY model_id, model_version
      ORDER BY min(${statusRank()}), model_id, model_version`,
    columns: [
      { name: 'model_id', title: 'Model', link: modelLink('This model version') },
      { name: 'model_version', title: 'Version' },
      kpiColumn('accuracy', 'model.accuracy', 'Accuracy'),
      kpiColumn('f1', 'model.f1', 'F1'),
      kpiColumn('auc', 'model.auc', 'ROC AUC'),
      kpiColumn('accuracy_drop_points', 'model.accuracy_drop_points', 'Drop vs baseline (points)'),
      { name: 'worst_status', title: 'Worst status', status: true },
    ],
  }),
  xychart({
    title: 'Accuracy vs worst fairness gap per model version',
    description: `Each point is a model version: accuracy (x) against its worst fairness gap (y: the largest demographic parity or equalized odds difference over its protected attributes). Versions to the left or above the 0.1 line are out of tolerance on one of the two. Evidences ${FAIRNESS_ISO}; ${PERFORMANCE_ISO}.`,
    w: 12,
    h: 9,
    x: { name: 'accuracy', title: 'Accuracy', unit: 'percentunit', min: 0.5, max: 1 },
    y: { name: 'worst_fairness_gap', title: 'Worst fairness gap', min: 0 },
    label: 'model_version_label',
    steps: kpiSteps(getKpi('model.demographic_parity_difference')),
    sql: `
      SELECT
        concat(model_id, ' ', model_version) AS model_version_label,
        maxIf(value, kpi_id = 'model.accuracy') AS accuracy,
        maxIf(value, kpi_id IN ('model.demographic_parity_difference', 'model.equalized_odds_difference')) AS worst_fairness_gap
      FROM (${latestModelKpis(['model.accuracy', 'model.demographic_parity_difference', 'model.equalized_odds_difference'])})
      GROUP BY model_id, model_version
      HAVING accuracy IS NOT NULL AND worst_fairness_gap IS NOT NULL
      ORDER BY model_version_label`,
  }),
]

/** Latest confusion counts per group: the latest evaluation of each (model, version, attribute). */
const LATEST_GROUPS = `SELECT model_id, model_version, attribute, group_name, c.1 AS tp, c.2 AS fp, c.3 AS tn, c.4 AS fn
        FROM (
          SELECT model_id, model_version, attribute, group_name, max(${K}) AS k, argMax((tp, fp, tn, fn), ${K}) AS c
          FROM model_group_counts
          WHERE event_time <= $__toTime
          GROUP BY model_id, model_version, attribute, group_name
        ) AS g
        INNER JOIN (
          SELECT model_id, model_version, attribute, max(${K}) AS latest
          FROM model_group_counts
          WHERE event_time <= $__toTime
          GROUP BY model_id, model_version, attribute
        ) AS l USING (model_id, model_version, attribute)
        WHERE g.k = l.latest`

const groups: Panel[] = [
  table({
    title: 'Groups of the latest evaluation: counts and rates',
    description: `Per model version, protected attribute and group, the confusion counts of the latest evaluation (duplicates never summed) and the rates the fairness KPIs are computed from: selection rate, true and false positive rates, accuracy. An auditor can recompute every fairness number from these counts. Evidences ${FAIRNESS_ISO}; ISO/IEC 42001:2023 A.6.2.4 and clause 7.5 (documented information).`,
    w: 24,
    h: 10,
    sql: `
      SELECT
        model_id, model_version, attribute, group_name,
        tp + fp + tn + fn AS samples,
        round((tp + fp) / (tp + fp + tn + fn), 4) AS selection_rate,
        round(if(tp + fn = 0, NULL, tp / (tp + fn)), 4) AS true_positive_rate,
        round(if(fp + tn = 0, NULL, fp / (fp + tn)), 4) AS false_positive_rate,
        round((tp + tn) / (tp + fp + tn + fn), 4) AS accuracy,
        tp, fp, tn, fn
      FROM (${LATEST_GROUPS})
      WHERE ${MODEL_VARS} AND ${varFilter('attribute', 'attribute')}
      ORDER BY model_id, model_version, attribute, group_name`,
    columns: [
      { name: 'model_id', title: 'Model' },
      { name: 'model_version', title: 'Version' },
      { name: 'attribute', title: 'Attribute' },
      { name: 'group_name', title: 'Group' },
      { name: 'samples', title: 'Samples' },
      { name: 'selection_rate', title: 'Selection rate', gauge: { min: 0, max: 1 } },
      { name: 'true_positive_rate', title: 'TPR', decimals: 3 },
      { name: 'false_positive_rate', title: 'FPR', decimals: 3 },
      { name: 'accuracy', title: 'Accuracy', decimals: 3 },
      { name: 'tp', title: 'TP' },
      { name: 'fp', title: 'FP' },
      { name: 'tn', title: 'TN' },
      { name: 'fn', title: 'FN' },
    ],
  }),
]

const trends: Panel[] = [
  timeseries({
    title: 'Accuracy per model version over time',
    description: `Accuracy reported by each evaluation (one point per evaluation event, duplicates collapsed by event id), per model version: drift and the effect of each release. Evidences ${PERFORMANCE_ISO}.`,
    w: 12,
    h: 9,
    unit: 'percentunit',
    steps: kpiSteps(getKpi('model.accuracy')),
    sql: `
      SELECT time, concat(model_id, ' ', model_version) AS model_version_label, accuracy
      FROM (
        SELECT
          event_id,
          any(event_time) AS time,
          any(model_id) AS model_id,
          any(model_version) AS model_version,
          any(business_unit) AS business_unit,
          any(metrics['accuracy']) AS accuracy
        FROM model_metric_events
        WHERE $__timeFilter(event_time) AND mapContains(metrics, 'accuracy')
        GROUP BY event_id
      )
      WHERE ${MODEL_VARS}
      ORDER BY time`,
  }),
  timeseries({
    title: 'Worst fairness gap per model over time',
    description: `The largest demographic parity or equalized odds difference over the versions and protected attributes of each model, as evaluated by the pipeline, at each step of the period; dashed lines at the catalog thresholds. Evidences ${FAIRNESS_ISO}.`,
    w: 12,
    h: 9,
    decimals: 3,
    steps: kpiSteps(getKpi('model.demographic_parity_difference')),
    sql: `
      SELECT time, model_id, max(value) AS worst_fairness_gap
      FROM (
        SELECT time, scope['model_id'] AS model_id, scope['model_version'] AS model_version, scope['attribute'] AS attribute, value
        FROM (${kpiSeriesAsOf(['model.demographic_parity_difference', 'model.equalized_odds_difference'])})
      )
      WHERE ${MODEL_VARS} AND ${varFilter('attribute', 'attribute')}
      GROUP BY time, model_id
      ORDER BY time, model_id`,
  }),
  table({
    title: 'Model versions, environments and baselines',
    description: `Every model version evaluated up to the end of the period: environment, business unit, first and last evaluation, number of evaluations (distinct event ids), latest sample size and the baseline it is compared with. The inventory behind ISO/IEC 42001:2023 A.6.2.4 / A.6.2.6 and A.4.2 (resource documentation).`,
    w: 24,
    h: 8,
    sql: `
      SELECT
        model_id,
        model_version,
        argMax(environment, ${K}) AS environment,
        argMax(business_unit, ${K}) AS business_unit,
        min(event_time) AS first_evaluated,
        max(event_time) AS last_evaluated,
        uniqExact(event_id) AS evaluations,
        argMax(sample_size, ${K}) AS latest_sample_size,
        argMaxIf(baseline_version, ${K}, baseline_version != '') AS baseline_version
      FROM model_metric_events
      WHERE event_time <= $__toTime AND ${MODEL_VARS}
      GROUP BY model_id, model_version
      ORDER BY model_id, first_evaluated`,
    columns: [
      { name: 'model_id', title: 'Model', link: modelLink('This model version') },
      { name: 'model_version', title: 'Version' },
      { name: 'environment', title: 'Environment' },
      { name: 'business_unit', title: 'Business unit' },
      { name: 'first_evaluated', title: 'First evaluated', unit: 'dateTimeAsIso' },
      { name: 'last_evaluated', title: 'Last evaluated', unit: 'dateTimeAsIso' },
      { name: 'evaluations', title: 'Evaluations' },
      { name: 'latest_sample_size', title: 'Latest sample size' },
      { name: 'baseline_version', title: 'Baseline' },
    ],
  }),
]

export const modelFairness = dashboard({
  uid: UIDS.fairness,
  title: 'AIMS model accuracy and fairness',
  description:
    'Drill-down of the management review: per model, protected attribute and version, the accuracy and fairness KPIs and the confusion counts behind them (ISO/IEC 42001:2023 A.5.4, A.6.2.4, A.6.2.6, A.7.4, clause 9.1).',
  tags: ['aims', 'iso42001', 'fairness', 'drill-down'],
  variables: [
    businessUnitVar,
    modelVar,
    queryVariable(
      'version',
      'Version',
      `SELECT DISTINCT model_version FROM model_metric_events
      WHERE $__conditionalAll(model_id IN (\${model:singlequote}), $model)
      ORDER BY model_version`,
      'Versions of the selected models.',
    ),
    queryVariable(
      'attribute',
      'Protected attribute',
      `SELECT DISTINCT attribute FROM model_group_counts
      WHERE $__conditionalAll(model_id IN (\${model:singlequote}), $model)
      ORDER BY attribute`,
      'Protected attributes reported for the selected models.',
    ),
  ],
  links: [
    { title: 'Management review', uid: UIDS.review, tooltip: 'Back to the management review' },
    { title: 'Privacy incidents', uid: UIDS.privacy, tooltip: 'Privacy incidents and the 72-hour rule' },
    { title: 'Audit nonconformities', uid: UIDS.audit, tooltip: 'Aging, clauses and controls, repeats' },
  ],
  rows: [
    { title: 'Fairness and performance at the end of the period', panels: fairness },
    { title: 'Groups: the counts behind the fairness metrics', panels: groups },
    { title: 'Over time', panels: trends },
  ],
})
