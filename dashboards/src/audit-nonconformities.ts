import { getKpi } from '../../shared/kpi/catalog.js'
import {
  barchart,
  COLORS,
  customVariable,
  dashboard,
  dashboardPath,
  kpiSteps,
  type Panel,
  queryVariable,
  stat,
  table,
  timeseries,
  UIDS,
} from './grafana.js'
import {
  BU,
  daysBetween,
  daysUntilEnd,
  FINDINGS,
  kpiFilters,
  kpiSeriesAsOf,
  NC,
  OPEN_FINDING,
  STANDARD,
  TO_MS,
  varFilter,
} from './sql.js'
import { businessUnitVar, standardVar } from './variables.js'

const AUDIT_ISO =
  'ISO/IEC 27001:2022 and ISO/IEC 42001:2023 clauses 9.2 (internal audit) and 10.2 (nonconformity and corrective action)'

/** Findings (latest state at the end of the period) filtered by the variables. */
const SELECTED = `SELECT * FROM (${FINDINGS})
        WHERE ${STANDARD} AND ${BU}
          AND ${varFilter('clause', 'clause')}
          AND ${varFilter('kind', 'kind')}`

const OVERDUE = `due_at IS NOT NULL AND toUnixTimestamp64Milli(due_at) < ${TO_MS}`

const clauseLink = {
  title: 'Findings on this clause',
  url: `${dashboardPath(UIDS.audit)}?var-standard=\${__data.fields.standard}&var-clause=\${__data.fields.clause}&\${__url_time_range}`,
}

const headline: Panel[] = [
  stat({
    title: 'Open nonconformities',
    description: `Major and minor nonconformities open or in progress at the end of the period, and those past their corrective-action due date; colours are the catalog thresholds (open major NCs > 0 critical, overdue > 0 warning). Evidences ${AUDIT_ISO}.`,
    w: 12,
    h: 5,
    fields: [
      { name: 'open_major', title: 'Open major NCs', steps: kpiSteps(getKpi('audit.open_major_ncs')) },
      { name: 'open_minor', title: 'Open minor NCs', steps: kpiSteps(getKpi('audit.open_minor_ncs')) },
      { name: 'overdue', title: 'Overdue actions', steps: kpiSteps(getKpi('audit.overdue_corrective_actions')) },
    ],
    sql: `
      SELECT
        countIf(kind = 'major_nc') AS open_major,
        countIf(kind = 'minor_nc') AS open_minor,
        countIf(${OVERDUE}) AS overdue
      FROM (${SELECTED})
      WHERE ${NC} AND ${OPEN_FINDING}`,
  }),
  stat({
    title: 'Closure in the period',
    description: `Nonconformities closed during the period: how many, the share closed by their due date (catalog thresholds: < 0.9 warning, < 0.75 critical) and the mean days from raised to closed. Evidences ${AUDIT_ISO} (effectiveness of corrective actions, 10.2 d–e).`,
    w: 12,
    h: 5,
    fields: [
      { name: 'closed', title: 'Closed in period' },
      {
        name: 'on_time_closure_rate',
        title: 'Closed on time',
        unit: 'percentunit',
        steps: kpiSteps(getKpi('audit.on_time_closure_rate')),
      },
      { name: 'mean_days_to_close', title: 'Mean days to close', decimals: 1 },
    ],
    sql: `
      SELECT
        count() AS closed,
        if(countIf(due_at IS NOT NULL) = 0, NULL, countIf(due_at IS NOT NULL AND closed_at <= due_at) / countIf(due_at IS NOT NULL)) AS on_time_closure_rate,
        avg(${daysBetween('raised_at', 'closed_at')}) AS mean_days_to_close
      FROM (${SELECTED})
      WHERE ${NC} AND NOT ${OPEN_FINDING} AND closed_at IS NOT NULL AND $__timeFilter(closed_at)`,
  }),
]

const AGE_BUCKETS = `['0–30 days', '31–60 days', '61–90 days', 'over 90 days']`

const aging: Panel[] = [
  barchart({
    title: 'Aging of open nonconformities',
    description: `Open major and minor nonconformities by age (days since raised, at the end of the period): old open NCs show corrective actions not taken "without undue delay". Evidences ${AUDIT_ISO}.`,
    w: 10,
    h: 9,
    x: 'age',
    stack: true,
    series: [
      { name: 'major', title: 'Major', color: COLORS.critical },
      { name: 'minor', title: 'Minor', color: COLORS.warning },
    ],
    sql: `
      SELECT u.age AS age, b.major AS major, b.minor AS minor
      FROM (SELECT arrayJoin([1, 2, 3, 4]) AS i, ${AGE_BUCKETS}[i] AS age) AS u
      LEFT JOIN (
        SELECT
          toUInt8(multiIf(d <= 30, 1, d <= 60, 2, d <= 90, 3, 4)) AS i,
          countIf(kind = 'major_nc') AS major,
          countIf(kind = 'minor_nc') AS minor
        FROM (SELECT kind, ${daysUntilEnd('raised_at')} AS d FROM (${SELECTED}) WHERE ${NC} AND ${OPEN_FINDING})
        GROUP BY i
      ) AS b USING (i)
      ORDER BY i`,
  }),
  table({
    title: 'Open findings by clause / Annex A control',
    description: `Open findings per standard and clause or Annex A control at the end of the period: major and minor NCs, observations and opportunities for improvement, overdue actions, age of the oldest. Evidences ${AUDIT_ISO}; the clause column names the requirement or control each finding is against.`,
    w: 14,
    h: 9,
    sql: `
      SELECT
        standard,
        clause,
        countIf(kind = 'major_nc') AS major,
        countIf(kind = 'minor_nc') AS minor,
        countIf(kind = 'observation') AS observations,
        countIf(kind = 'ofi') AS improvements,
        countIf(${NC} AND ${OVERDUE}) AS overdue,
        round(max(${daysUntilEnd('raised_at')}), 0) AS oldest_days
      FROM (${SELECTED})
      WHERE ${OPEN_FINDING}
      GROUP BY standard, clause
      ORDER BY major DESC, overdue DESC, minor DESC, standard, clause`,
    columns: [
      { name: 'standard', title: 'Standard' },
      { name: 'clause', title: 'Clause / control', link: clauseLink },
      { name: 'major', title: 'Major', steps: kpiSteps(getKpi('audit.open_major_ncs')) },
      { name: 'minor', title: 'Minor' },
      { name: 'observations', title: 'Observations' },
      { name: 'improvements', title: 'OFIs' },
      { name: 'overdue', title: 'Overdue', steps: kpiSteps(getKpi('audit.overdue_corrective_actions')) },
      { name: 'oldest_days', title: 'Oldest (days)' },
    ],
  }),
]

const repeats: Panel[] = [
  table({
    title: 'Repeat findings per control',
    description: `Findings raised in the 365 days before the end of the period that repeat an earlier finding (repeat_of), per standard and clause / control, coloured by the catalog thresholds (≥ 2 warning, ≥ 3 critical): corrective actions that did not eliminate the cause. Evidences ${AUDIT_ISO} (10.2 b: cause elimination) and ISO/IEC 27001:2022 10.1.`,
    w: 12,
    h: 8,
    sql: `
      SELECT
        standard,
        clause,
        count() AS repeats,
        arrayStringConcat(arraySort(groupArray(finding_id)), ', ') AS findings,
        arrayStringConcat(arraySort(groupUniqArray(repeat_of)), ', ') AS repeat_of_findings
      FROM (${SELECTED})
      WHERE repeat_of != '' AND toUnixTimestamp64Milli(raised_at) > ${TO_MS} - 365 * 86400000
      GROUP BY standard, clause
      ORDER BY repeats DESC, standard, clause`,
    columns: [
      { name: 'standard', title: 'Standard' },
      { name: 'clause', title: 'Clause / control', link: clauseLink },
      { name: 'repeats', title: 'Repeats', steps: kpiSteps(getKpi('audit.repeat_findings')) },
      { name: 'findings', title: 'Findings' },
      { name: 'repeat_of_findings', title: 'Repeat of' },
    ],
  }),
  timeseries({
    title: 'Nonconformities raised and closed',
    description: `Major and minor nonconformities raised and closed per interval of the period (one per finding id): whether corrective action keeps pace with audit results. Evidences ${AUDIT_ISO}.`,
    w: 12,
    h: 8,
    bars: true,
    series: [
      { name: 'raised', title: 'Raised', color: COLORS.warning },
      { name: 'closed', title: 'Closed', color: COLORS.ok },
    ],
    sql: `
      SELECT time, sum(raised) AS raised, sum(closed) AS closed
      FROM (
        SELECT $__timeInterval(raised_at) AS time, 1 AS raised, 0 AS closed
        FROM (${SELECTED})
        WHERE ${NC} AND $__timeFilter(raised_at)
        UNION ALL
        SELECT $__timeInterval(closed_at) AS time, 0 AS raised, 1 AS closed
        FROM (${SELECTED})
        WHERE ${NC} AND closed_at IS NOT NULL AND NOT ${OPEN_FINDING} AND $__timeFilter(closed_at)
      )
      GROUP BY time
      ORDER BY time`,
  }),
  timeseries({
    title: 'Audit KPIs over the period',
    description: `The audit KPIs as evaluated by the pipeline at each step of the period (sum over clauses of the selected standards): open major and minor NCs, overdue corrective actions. Evidences ${AUDIT_ISO} and clause 9.1.`,
    w: 24,
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
]

const register: Panel[] = [
  table({
    title: 'Findings register',
    description: `Every finding (latest state at the end of the period) of the selected standards, clauses and kinds: audit, kind, status, owner, raised / due / closed, age and days overdue, repeat-of. The documented evidence of audit results and corrective actions required by ${AUDIT_ISO} (clause 7.5).`,
    w: 24,
    h: 10,
    sql: `
      SELECT
        finding_id, audit_id, audit_type, standard, clause, kind, status, title, owner, business_unit,
        raised_at, due_at, closed_at,
        round(if(closed_at IS NULL OR ${OPEN_FINDING}, ${daysUntilEnd('raised_at')}, ${daysBetween('raised_at', 'closed_at')}), 0) AS age_days,
        if(${OPEN_FINDING} AND ${OVERDUE}, round((${TO_MS} - toUnixTimestamp64Milli(due_at)) / 86400000, 0), 0) AS days_overdue,
        repeat_of
      FROM (${SELECTED})
      ORDER BY ${OPEN_FINDING} DESC, days_overdue DESC, raised_at DESC`,
    columns: [
      { name: 'finding_id', title: 'Finding' },
      { name: 'audit_id', title: 'Audit' },
      { name: 'audit_type', title: 'Audit type' },
      { name: 'standard', title: 'Standard' },
      { name: 'clause', title: 'Clause / control', link: clauseLink },
      { name: 'kind', title: 'Kind' },
      { name: 'status', title: 'Status' },
      { name: 'title', title: 'Title' },
      { name: 'owner', title: 'Owner' },
      { name: 'business_unit', title: 'Business unit' },
      { name: 'raised_at', title: 'Raised', unit: 'dateTimeAsIso' },
      { name: 'due_at', title: 'Due', unit: 'dateTimeAsIso' },
      { name: 'closed_at', title: 'Closed', unit: 'dateTimeAsIso' },
      { name: 'age_days', title: 'Age (days)' },
      {
        name: 'days_overdue',
        title: 'Days overdue',
        steps: [
          { color: 'transparent', value: null },
          { color: COLORS.warning, value: 1 },
          { color: COLORS.critical, value: 30 },
        ],
      },
      { name: 'repeat_of', title: 'Repeat of' },
    ],
  }),
]

export const auditNonconformities = dashboard({
  uid: UIDS.audit,
  title: 'AIMS / ISMS audit nonconformities',
  description:
    'Drill-down of the management review: audit findings and corrective actions by standard and clause / Annex A control, aging, repeats (ISO/IEC 27001:2022 and ISO/IEC 42001:2023 clauses 9.2 and 10.2).',
  tags: ['aims', 'iso27001', 'iso42001', 'audit', 'drill-down'],
  variables: [
    standardVar,
    businessUnitVar,
    queryVariable(
      'clause',
      'Clause / control',
      `SELECT DISTINCT clause FROM audit_finding_events
      WHERE $__conditionalAll(standard IN (\${standard:singlequote}), $standard)
      ORDER BY clause`,
      'Clauses and Annex A controls with findings, for the selected standards.',
    ),
    customVariable(
      'kind',
      'Kind',
      ['major_nc', 'minor_nc', 'observation', 'ofi'],
      'Major / minor nonconformity, observation, opportunity for improvement.',
    ),
  ],
  links: [
    { title: 'Management review', uid: UIDS.review, tooltip: 'Back to the management review' },
    { title: 'Privacy incidents', uid: UIDS.privacy, tooltip: 'Privacy incidents and the 72-hour rule' },
    { title: 'Model fairness', uid: UIDS.fairness, tooltip: 'Per model, protected attribute and version' },
  ],
  rows: [
    { title: 'Nonconformities at the end of the period', panels: headline },
    { title: 'Aging and clauses / controls', panels: aging },
    { title: 'Repeats and throughput', panels: repeats },
    { title: 'Register', panels: register },
  ],
})
