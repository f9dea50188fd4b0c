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
import { BU, hoursBetween, hoursUntilEnd, INCIDENTS, kpiSeriesAsOf, varFilter } from './sql.js'
import { businessUnitVar } from './variables.js'

const INCIDENT_ISO = 'ISO/IEC 27001:2022 A.5.24–A.5.28 (incident management)'
const clock = getKpi('privacy.notification_clock_hours')

/** Incidents detected in the period, latest state, filtered by the variables. */
const DETECTED = `SELECT * FROM (${INCIDENTS})
        WHERE $__timeFilter(detected_at) AND ${BU}
          AND ${varFilter('severity', 'severity')}
          AND ${varFilter('incident_id', 'incident')}`

const incidentLink = {
  title: 'This incident',
  url: `${dashboardPath(UIDS.privacy)}?var-incident=\${__value.raw}&\${__url_time_range}`,
}

const summary: Panel[] = [
  stat({
    title: 'Incidents detected in the period',
    description: `Privacy incidents detected in the period (one per incident id, latest state at the end of the period): all, critical, notifiable and still open (not resolved or closed). Evidences ${INCIDENT_ISO} and A.5.34 (privacy and protection of PII); ISO/IEC 42001:2023 A.8.4 for AI-related incidents.`,
    w: 12,
    h: 5,
    fields: [
      { name: 'incidents', title: 'Detected' },
      {
        name: 'critical',
        title: 'Critical',
        steps: [
          { color: COLORS.ok, value: null },
          { color: COLORS.critical, value: 1 },
        ],
      },
      { name: 'notifiable', title: 'Notifiable (GDPR Art. 33)' },
      {
        name: 'still_open',
        title: 'Still open',
        steps: [
          { color: COLORS.ok, value: null },
          { color: COLORS.warning, value: 1 },
        ],
      },
      { name: 'records_affected', title: 'Records affected', unit: 'short' },
    ],
    sql: `
      SELECT
        count() AS incidents,
        countIf(severity = 'critical') AS critical,
        countIf(notifiable) AS notifiable,
        countIf(status NOT IN ('resolved', 'closed')) AS still_open,
        sum(records_affected) AS records_affected
      FROM (${DETECTED})`,
  }),
  stat({
    title: 'Detection, containment and resolution times',
    description: `Mean hours from occurrence to detection (MTTD), detection to containment (MTTC) and detection to resolution (MTTR) of the incidents detected in the period; MTTC coloured by the catalog thresholds (${getKpi('privacy.mttc_hours').thresholds.warning} h warning). Evidences ${INCIDENT_ISO}, clause 9.1.`,
    w: 12,
    h: 5,
    unit: 'h',
    decimals: 1,
    fields: [
      { name: 'mttd_hours', title: 'MTTD' },
      { name: 'mttc_hours', title: 'MTTC', steps: kpiSteps(getKpi('privacy.mttc_hours')) },
      { name: 'mttr_hours', title: 'MTTR' },
    ],
    sql: `
      SELECT
        avgIf(${hoursBetween('occurred_at', 'detected_at')}, occurred_at IS NOT NULL) AS mttd_hours,
        avgIf(${hoursBetween('detected_at', 'contained_at')}, contained_at IS NOT NULL) AS mttc_hours,
        avgIf(${hoursBetween('detected_at', 'resolved_at')}, resolved_at IS NOT NULL) AS mttr_hours
      FROM (${DETECTED})`,
  }),
]

const rule72h: Panel[] = [
  table({
    title: 'GDPR Art. 33 notification clock',
    description: `Every notifiable incident detected in the period: hours from awareness (detection when no awareness time is given: GDPR Art. 33's anchor) to notification of the supervisory authority, or hours elapsed at the end of the period if not yet notified, coloured by the catalog clock thresholds (${clock.thresholds.warning} h warning, ${clock.thresholds.critical} h critical). Evidences ISO/IEC 27001:2022 A.5.5 (contact with authorities), A.5.26, A.5.34 and ISO/IEC 42001:2023 A.8.4.`,
    w: 14,
    h: 9,
    sql: `
      SELECT
        incident_id,
        severity,
        business_unit,
        status,
        detected_at,
        awareness_at,
        notified_at,
        round(if(notified_at IS NULL, ${hoursUntilEnd('ifNull(awareness_at, detected_at)')}, ${hoursBetween('ifNull(awareness_at, detected_at)', 'notified_at')}), 1) AS hours,
        multiIf(
          notified_at IS NOT NULL AND hours <= 72, 'notified within 72 h',
          notified_at IS NOT NULL, 'notified late',
          hours >= 72, 'overdue: not notified',
          'clock running') AS outcome
      FROM (${DETECTED})
      WHERE notifiable
      ORDER BY notified_at IS NOT NULL, hours DESC`,
    columns: [
      { name: 'incident_id', title: 'Incident', link: incidentLink },
      { name: 'severity', title: 'Severity' },
      { name: 'business_unit', title: 'Business unit' },
      { name: 'status', title: 'Status' },
      { name: 'detected_at', title: 'Detected', unit: 'dateTimeAsIso' },
      { name: 'awareness_at', title: 'Aware', unit: 'dateTimeAsIso' },
      { name: 'notified_at', title: 'Regulator notified', unit: 'dateTimeAsIso' },
      { name: 'hours', title: 'Hours', unit: 'h', steps: kpiSteps(clock) },
      { name: 'outcome', title: '72-hour rule' },
    ],
  }),
  timeseries({
    title: 'Incidents detected per interval, by severity',
    description: `Privacy incidents by detection time and current severity (one per incident). Evidences ${INCIDENT_ISO} and clause 9.1 (what is monitored and when).`,
    w: 10,
    h: 9,
    bars: true,
    stack: true,
    series: [
      { name: 'critical', title: 'Critical', color: COLORS.critical },
      { name: 'high', title: 'High', color: COLORS.warning },
      { name: 'medium', title: 'Medium', color: 'yellow' },
      { name: 'low', title: 'Low', color: COLORS.neutral },
    ],
    sql: `
      SELECT
        $__timeInterval(detected_at) AS time,
        countIf(severity = 'critical') AS critical,
        countIf(severity = 'high') AS high,
        countIf(severity = 'medium') AS medium,
        countIf(severity = 'low') AS low
      FROM (${DETECTED})
      GROUP BY time
      ORDER BY time`,
  }),
]

const register: Panel[] = [
  table({
    title: 'Incident register',
    description: `Latest state of every incident detected in the period (latest event per incident id, as of the end of the period): lifecycle timestamps, notification, records and data subjects affected, related AI system and controls. The documented evidence of ${INCIDENT_ISO}, A.5.34 and ISO/IEC 42001:2023 A.8.4 (clause 7.5 documented information).`,
    w: 24,
    h: 10,
    sql: `
      SELECT
        incident_id, status, severity, category, business_unit, detected_at, contained_at, resolved_at, closed_at,
        notifiable, notified_at, records_affected, data_subjects_affected, ai_system_id,
        arrayStringConcat(controls, ', ') AS control_refs
      FROM (${DETECTED})
      ORDER BY detected_at DESC`,
    columns: [
      { name: 'incident_id', title: 'Incident', link: incidentLink },
      { name: 'status', title: 'Status' },
      { name: 'severity', title: 'Severity' },
      { name: 'category', title: 'Category' },
      { name: 'business_unit', title: 'Business unit' },
      { name: 'detected_at', title: 'Detected', unit: 'dateTimeAsIso' },
      { name: 'contained_at', title: 'Contained', unit: 'dateTimeAsIso' },
      { name: 'resolved_at', title: 'Resolved', unit: 'dateTimeAsIso' },
      { name: 'closed_at', title: 'Closed', unit: 'dateTimeAsIso' },
      { name: 'notifiable', title: 'Notifiable' },
      { name: 'notified_at', title: 'Regulator notified', unit: 'dateTimeAsIso' },
      { name: 'records_affected', title: 'Records' },
      { name: 'data_subjects_affected', title: 'Data subjects' },
      { name: 'ai_system_id', title: 'AI system' },
      { name: 'control_refs', title: 'Controls' },
    ],
  }),
  barchart({
    title: 'Incidents and records affected by category',
    description: `Incidents detected in the period and the records they affected, per category. Evidences ${INCIDENT_ISO} (A.5.27 learning from incidents) and A.5.34.`,
    w: 12,
    h: 9,
    x: 'category',
    series: [
      { name: 'incidents', title: 'Incidents' },
      { name: 'records_affected_k', title: 'Records affected (thousands)' },
    ],
    sql: `
      SELECT category, count() AS incidents, round(sum(records_affected) / 1000, 1) AS records_affected_k
      FROM (${DETECTED})
      GROUP BY category
      ORDER BY incidents DESC, category`,
  }),
  table({
    title: 'Incidents by control reference',
    description:
      'How many incidents of the period relate to each ISO/IEC 27001 / ISO/IEC 42001 control or clause named by the producers (the controls field): where the controls failed or were exercised, an input to risk treatment review (ISO/IEC 27001:2022 6.1.3, A.5.27).',
    w: 12,
    h: 9,
    sql: `
      SELECT control_ref, count() AS incidents, countIf(severity IN ('high', 'critical')) AS high_or_critical
      FROM (${DETECTED})
      ARRAY JOIN controls AS control_ref
      GROUP BY control_ref
      ORDER BY incidents DESC, control_ref`,
    columns: [
      { name: 'control_ref', title: 'Control' },
      { name: 'incidents', title: 'Incidents' },
      { name: 'high_or_critical', title: 'High or critical' },
    ],
  }),
  timeseries({
    title: 'Privacy KPIs over the period',
    description:
      'The privacy KPIs as evaluated by the pipeline (kpi_values), at each step of the period: critical incidents opened (30 d) and records affected (30 d). Evidences ISO/IEC 27001:2022 clause 9.1 and A.5.24–A.5.28.',
    w: 24,
    h: 8,
    series: [
      { name: 'critical_incidents_30d', title: 'Critical incidents (30 d)', color: COLORS.critical },
      { name: 'records_affected_30d', title: 'Records affected (30 d)', right: true },
    ],
    sql: `
      SELECT
        time,
        sumIf(value, kpi_id = 'privacy.incidents_opened' AND scope['severity'] = 'critical') AS critical_incidents_30d,
        sumIf(value, kpi_id = 'privacy.records_affected') AS records_affected_30d
      FROM (${kpiSeriesAsOf(['privacy.incidents_opened', 'privacy.records_affected'])})
      GROUP BY time
      ORDER BY time`,
  }),
]

export const privacyIncidents = dashboard({
  uid: UIDS.privacy,
  title: 'AIMS / ISMS privacy incidents',
  description:
    'Drill-down of the management review: privacy incidents, the GDPR Art. 33 72-hour notification rule, handling times (ISO/IEC 27001:2022 A.5.24–A.5.28, A.5.34; ISO/IEC 42001:2023 A.8.4).',
  tags: ['aims', 'iso27001', 'iso42001', 'privacy', 'drill-down'],
  variables: [
    businessUnitVar,
    customVariable('severity', 'Severity', ['low', 'medium', 'high', 'critical'], 'Current severity of the incident.'),
    queryVariable(
      'incident',
      'Incident',
      `SELECT DISTINCT incident_id FROM privacy_incident_events
      WHERE $__timeFilter(detected_at)
      ORDER BY incident_id`,
      'Incidents detected in the period (links from the review select one).',
    ),
  ],
  links: [
    { title: 'Management review', uid: UIDS.review, tooltip: 'Back to the management review' },
    { title: 'Model fairness', uid: UIDS.fairness, tooltip: 'Per model, protected attribute and version' },
    { title: 'Audit nonconformities', uid: UIDS.audit, tooltip: 'Aging, clauses and controls, repeats' },
  ],
  rows: [
    { title: 'Incidents in the period', panels: summary },
    { title: 'The 72-hour notification rule (GDPR Art. 33)', panels: rule72h },
    { title: 'Register, categories and controls', panels: register },
  ],
})
