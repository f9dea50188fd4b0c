import { COLORS, dashboard, type Panel, stat, table, timeseries, UIDS } from './grafana.js'

const MONITORING =
  'ISO/IEC 27001:2022 A.8.16 (monitoring activities) and clause 9.1 c) (when monitoring is performed); ISO/IEC 42001:2023 clause 9.1'
const EVIDENCE = 'ISO/IEC 27001:2022 clause 7.5 / A.5.33 (documented information, protection of records)'

const up: Panel[] = [
  stat({
    title: 'Services up',
    description: `Whether Prometheus can scrape each service (up = 1): without the collector, processor and alerter the clause 9.1 monitoring stops. Evidences ${MONITORING}.`,
    w: 8,
    h: 4,
    steps: [
      { color: COLORS.critical, value: null },
      { color: COLORS.ok, value: 1 },
    ],
    fields: [],
    promql: [{ expr: 'min by (job) (up{job=~"aims-.*"})', legend: '{{job}}' }],
  }),
  stat({
    title: 'Since the last ClickHouse insert',
    description: `Seconds since the collector last wrote a batch to ClickHouse (alert AimsCollectorStalled fires after 5 minutes while lag > 0). Evidences ${MONITORING}.`,
    w: 8,
    h: 4,
    unit: 's',
    steps: [
      { color: COLORS.ok, value: null },
      { color: COLORS.warning, value: 120 },
      { color: COLORS.critical, value: 300 },
    ],
    fields: [],
    promql: [{ expr: 'time() - max(aims_collector_last_insert_timestamp_seconds)', legend: 'collector' }],
  }),
  stat({
    title: 'Since the last sweep',
    description: `Seconds since the processor last swept the time-driven KPIs (72-hour notification clock, overdue actions); AimsProcessorSweepLate fires after 5 minutes. Evidences ${MONITORING}.`,
    w: 8,
    h: 4,
    unit: 's',
    steps: [
      { color: COLORS.ok, value: null },
      { color: COLORS.warning, value: 180 },
      { color: COLORS.critical, value: 300 },
    ],
    fields: [],
    promql: [{ expr: 'time() - max(aims_processor_last_sweep_timestamp_seconds)', legend: 'processor' }],
  }),
]

const collector: Panel[] = [
  timeseries({
    title: 'Throughput by topic and outcome',
    description: `Messages consumed per second from each event topic, accepted or rejected: the volume of security, ML and audit evidence entering the measurement. Evidences ${MONITORING}.`,
    w: 12,
    unit: 'msg/s',
    promql: [
      {
        expr: 'sum by (topic, outcome) (rate(aims_collector_messages_total[$__rate_interval]))',
        legend: '{{topic}} {{outcome}}',
      },
    ],
  }),
  timeseries({
    title: 'Consumer lag',
    description: `Messages waiting between the collector's position and the end of each topic (sum over partitions): events not yet reflected in the KPIs. AimsConsumerLagGrowing fires when it exceeds 1000 and keeps growing. Evidences ${MONITORING}.`,
    w: 12,
    promql: [{ expr: 'sum by (topic) (aims_collector_consumer_lag)', legend: '{{topic}}' }],
  }),
  timeseries({
    title: 'Dead letters',
    description: `Messages rejected to the dead-letter topic per second, by source topic and error type (nothing is dropped silently). AimsDeadLettersSpiking fires above 5 % of a topic. Evidences ${MONITORING} and A.8.15 (logging).`,
    w: 12,
    unit: 'msg/s',
    promql: [
      {
        expr: 'sum by (topic, error_type) (rate(aims_dead_letters_total[$__rate_interval]))',
        legend: '{{topic}} {{error_type}}',
      },
    ],
  }),
  timeseries({
    title: 'ClickHouse insert latency',
    description: `Latency of one batch written to ClickHouse (p50, p95, p99) and failed inserts per second (retried with backoff; offsets are committed only after success). Evidences ${MONITORING}.`,
    w: 12,
    unit: 's',
    series: [{ name: 'failures/s', title: 'failures/s', right: true, unit: 'short', color: COLORS.critical }],
    promql: [
      {
        expr: 'histogram_quantile(0.5, sum by (le) (rate(aims_collector_insert_seconds_bucket[$__rate_interval])))',
        legend: 'p50',
      },
      {
        expr: 'histogram_quantile(0.95, sum by (le) (rate(aims_collector_insert_seconds_bucket[$__rate_interval])))',
        legend: 'p95',
      },
      {
        expr: 'histogram_quantile(0.99, sum by (le) (rate(aims_collector_insert_seconds_bucket[$__rate_interval])))',
        legend: 'p99',
      },
      { expr: 'sum(rate(aims_collector_insert_failures_total[$__rate_interval]))', legend: 'failures/s' },
    ],
  }),
  timeseries({
    title: 'Rows per insert',
    description: `Average rows per ClickHouse insert, by table (batching efficiency), and KPI trigger messages published for the processor. Evidences ${MONITORING}.`,
    w: 12,
    promql: [
      {
        expr: 'sum by (table) (rate(aims_collector_insert_rows_sum[$__rate_interval])) / sum by (table) (rate(aims_collector_insert_rows_count[$__rate_interval]))',
        legend: '{{table}}',
      },
      { expr: 'sum(rate(aims_collector_triggers_total[$__rate_interval]))', legend: 'triggers/s' },
    ],
  }),
  timeseries({
    title: 'Errors by stage',
    description: `Errors counted once by the pipeline stage they happened in and their type (aims_errors_total). Evidences ${MONITORING} and A.8.15 (logging).`,
    w: 12,
    unit: 'ops',
    promql: [
      {
        expr: 'sum by (stage, error_type) (rate(aims_errors_total[$__rate_interval]))',
        legend: '{{stage}} {{error_type}}',
      },
    ],
  }),
]

const processor: Panel[] = [
  timeseries({
    title: 'KPI evaluations and breach transitions',
    description: `KPI evaluations per second by KPI, and breach transitions (firing, escalated, resolved) per second: the measurement and evaluation of clause 9.1 d) happening. Evidences ${MONITORING}.`,
    w: 12,
    unit: 'ops',
    promql: [
      { expr: 'sum by (kpi) (rate(aims_processor_evaluations_total[$__rate_interval]))', legend: '{{kpi}}' },
      {
        expr: 'sum by (transition) (rate(aims_processor_transitions_total[$__rate_interval]))',
        legend: 'transition {{transition}}',
      },
    ],
  }),
  timeseries({
    title: 'Sweep duration',
    description: `Duration of the processor's sweep over the time-driven KPIs (p50, p95). Evidences ${MONITORING}.`,
    w: 12,
    unit: 's',
    promql: [
      {
        expr: 'histogram_quantile(0.5, sum by (le) (rate(aims_processor_sweep_seconds_bucket[$__rate_interval])))',
        legend: 'p50',
      },
      {
        expr: 'histogram_quantile(0.95, sum by (le) (rate(aims_processor_sweep_seconds_bucket[$__rate_interval])))',
        legend: 'p95',
      },
    ],
  }),
]

const alerter: Panel[] = [
  timeseries({
    title: 'Alert deliveries by sink and outcome',
    description: `Delivery attempts per second to each sink (PagerDuty, Slack, webhook, Alertmanager) by outcome: ok, retryable, permanent, throttled. AimsAlertDeliveryFailing fires when over half fail. Evidences ${MONITORING} and ISO/IEC 27001:2022 A.5.25 / A.6.8 (event reporting reaches on-call).`,
    w: 12,
    unit: 'ops',
    promql: [
      {
        expr: 'sum by (sink, outcome) (rate(aims_alert_deliveries_total[$__rate_interval]))',
        legend: '{{sink}} {{outcome}}',
      },
    ],
  }),
  timeseries({
    title: 'Alert delivery latency and queue',
    description: `Time from the breach transition to its delivery (p95 per sink), alert jobs by queue state, and jobs failed for good (AimsAlertJobsFailed). Evidences ${MONITORING} and ISO/IEC 27001:2022 A.5.25.`,
    w: 12,
    unit: 's',
    series: [
      { name: 'failed for good (15m)', title: 'failed for good (15m)', right: true, unit: 'short', color: COLORS.critical },
    ],
    promql: [
      {
        expr: 'histogram_quantile(0.95, sum by (le, sink) (rate(aims_alert_delivery_seconds_bucket[$__rate_interval])))',
        legend: 'p95 {{sink}}',
      },
      { expr: 'sum by (state) (aims_alert_queue_jobs)', legend: 'queue {{state}}' },
      { expr: 'sum(increase(aims_alert_failed_jobs_total[15m]))', legend: 'failed for good (15m)' },
    ],
  }),
]

// Dead letters are counted from Prometheus above, never read from the dead_letters table: Grafana's
// ClickHouse user has no right on it (their reasons and payloads are on the review page, admin role).
const evidence: Panel[] = [
  table({
    title: 'Breach notifications delivered',
    description: `Per breach transition and sink in the period: attempts, final outcome and time to deliver, from the alerter's delivery log: the evidence that on-call was told about each nonconformity with the KPI criteria. Evidences ISO/IEC 27001 / 42001 clause 9.1 and 10.2, ISO/IEC 27001:2022 A.5.25 and ${EVIDENCE}.`,
    w: 12,
    h: 9,
    sql: `
      SELECT
        kpi_id,
        transition,
        sink,
        max(attempt) AS attempts,
        argMax(outcome, (attempted_at, attempt)) AS last_outcome,
        max(attempted_at) AS last_attempt_at,
        round(argMax(latency_ms, (attempted_at, attempt)), 0) AS last_latency_ms
      FROM alert_deliveries
      WHERE $__timeFilter(attempted_at)
      GROUP BY transition_id, kpi_id, transition, sink
      ORDER BY last_attempt_at DESC
      LIMIT 200`,
    columns: [
      { name: 'kpi_id', title: 'KPI' },
      { name: 'transition', title: 'Transition', status: true },
      { name: 'sink', title: 'Sink' },
      { name: 'attempts', title: 'Attempts' },
      { name: 'last_outcome', title: 'Outcome' },
      { name: 'last_attempt_at', title: 'Last attempt', unit: 'dateTimeAsIso' },
      { name: 'last_latency_ms', title: 'Latency', unit: 'ms' },
    ],
  }),
]

export const pipelineHealth = dashboard({
  uid: UIDS.pipeline,
  title: 'AIMS pipeline health',
  description:
    'Is the monitoring itself working? Throughput, consumer lag, dead letters, ClickHouse insert latency, KPI evaluation and alert delivery (ISO/IEC 27001:2022 A.8.16 monitoring activities; clause 9.1).',
  tags: ['aims', 'operations', 'prometheus'],
  variables: [],
  time: { from: 'now-6h', to: 'now' },
  refresh: '1m',
  links: [{ title: 'Management review', uid: UIDS.review, tooltip: 'Back to the management review' }],
  rows: [
    { title: 'Up and fresh', panels: up },
    { title: 'Collector: Kafka → ClickHouse', panels: collector },
    { title: 'Processor: KPI evaluation', panels: processor },
    { title: 'Alerter: notifications', panels: alerter },
    { title: 'Evidence in ClickHouse: alert deliveries', panels: evidence },
  ],
})
