import { getCounter, getGauge, getHistogram } from '../../shared/metrics/registry.js'

/** The collector's metrics; created on first use so the all-in-one process shares one registry. */
export function collectorMetrics() {
  return {
    messages: getCounter({
      name: 'aims_collector_messages_total',
      help: 'Messages consumed from event topics, by outcome (accepted, rejected) and reject reason',
      labelNames: ['topic', 'outcome', 'reason'] as const,
    }),
    deadLetters: getCounter({
      name: 'aims_dead_letters_total',
      help: 'Messages sent to the dead-letter topic, by source topic and error type',
      labelNames: ['topic', 'error_type'] as const,
    }),
    insertRows: getHistogram({
      name: 'aims_collector_insert_rows',
      help: 'Rows per ClickHouse insert',
      labelNames: ['table'] as const,
      buckets: [1, 10, 100, 500, 1000, 5000, 10_000, 50_000],
    }),
    insertSeconds: getHistogram({
      name: 'aims_collector_insert_seconds',
      help: 'Latency of one batch written to ClickHouse (all tables)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    }),
    insertFailures: getCounter({
      name: 'aims_collector_insert_failures_total',
      help: 'Failed ClickHouse batch writes (each is retried with backoff)',
    }),
    lastInsert: getGauge({
      name: 'aims_collector_last_insert_timestamp_seconds',
      help: 'Unix time of the last successful ClickHouse insert',
    }),
    lag: getGauge({
      name: 'aims_collector_consumer_lag',
      help: "Messages between the group's committed offset and the partition's end offset, per assigned partition (read from the broker)",
      labelNames: ['topic', 'partition'] as const,
    }),
    committedOffset: getGauge({
      name: 'aims_collector_committed_offset',
      help: "The consumer group's committed offset, per assigned partition (read from the broker)",
      labelNames: ['topic', 'partition'] as const,
    }),
    stalledSeconds: getGauge({
      name: 'aims_collector_partition_stalled_seconds',
      help: 'Seconds an assigned partition has had lag without its committed offset advancing (0 while it advances or has no lag)',
      labelNames: ['topic', 'partition'] as const,
    }),
    paused: getGauge({
      name: 'aims_collector_partition_paused',
      help: 'Whether fetching of a partition is paused (1) while its lane waits for a delivery, so the others go on',
      labelNames: ['topic', 'partition'] as const,
    }),
    unwritable: getCounter({
      name: 'aims_collector_unwritable_total',
      help: 'Rejected messages that could not be written to the dead-letter topic or table after bounded retries, recorded and skipped',
      labelNames: ['topic', 'stage'] as const,
    }),
    triggers: getCounter({
      name: 'aims_collector_triggers_total',
      help: 'KPI trigger messages published for the processor',
    }),
  }
}

export type CollectorMetrics = ReturnType<typeof collectorMetrics>
