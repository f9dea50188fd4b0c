import { getCounter, getGauge, getHistogram } from '../../shared/metrics/registry.js'

/** The alerter's metrics; created on first use so the all-in-one process shares one registry. */
export function alerterMetrics() {
  return {
    deliveries: getCounter({
      name: 'aims_alert_deliveries_total',
      help: 'Alert deliveries per sink by outcome (ok, retryable, permanent, throttled, skipped) and reason',
      labelNames: ['sink', 'outcome', 'reason'] as const,
    }),
    deliverySeconds: getHistogram({
      name: 'aims_alert_delivery_seconds',
      help: 'Latency from the breach transition to its delivery, per sink',
      labelNames: ['sink'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
    }),
    queueJobs: getGauge({
      name: 'aims_alert_queue_jobs',
      help: 'Alert jobs in the queue by state (waiting, active, delayed, failed)',
      labelNames: ['state'] as const,
    }),
    failedJobs: getCounter({
      name: 'aims_alert_failed_jobs_total',
      help: 'Alert jobs that failed for good (attempts exhausted or every remaining sink failed permanently)',
    }),
    unrouted: getCounter({
      name: 'aims_alert_unrouted_total',
      help: 'Alert transitions that matched no route',
    }),
    logRowsDropped: getCounter({
      name: 'aims_alert_delivery_log_dropped_rows_total',
      help: 'Delivery-log rows dropped because ClickHouse stayed unreachable and the buffer was full',
    }),
    logWriteFailures: getCounter({
      name: 'aims_alert_delivery_log_write_failures_total',
      help: 'Failed writes of the delivery log to ClickHouse (rows are kept and retried)',
    }),
  }
}

export type AlerterMetrics = ReturnType<typeof alerterMetrics>
