import { getCounter, getGauge, getHistogram } from '../../shared/metrics/registry.js'

export function processorMetrics() {
  return {
    evaluationSeconds: getHistogram({
      name: 'aims_processor_evaluation_seconds',
      help: 'Wall time of one evaluation round (a trigger batch or a sweep), by cause',
      labelNames: ['cause'] as const,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    }),
    sweepSeconds: getHistogram({
      name: 'aims_processor_sweep_seconds',
      help: 'Wall time of a full sweep of the KPI catalog',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    }),
    lastSweep: getGauge({
      name: 'aims_processor_last_sweep_timestamp_seconds',
      help: 'Unix time the last sweep finished',
    }),
    evaluations: getCounter({
      name: 'aims_processor_evaluations_total',
      help: 'KPI series evaluated',
      labelNames: ['kpi'] as const,
    }),
    transitions: getCounter({
      name: 'aims_processor_transitions_total',
      help: 'Breach transitions recorded (each enqueues one alert job)',
      labelNames: ['kpi', 'transition'] as const,
    }),
    openBreaches: getGauge({
      name: 'aims_processor_open_breaches',
      help: 'Breaches currently firing, by severity',
      labelNames: ['severity'] as const,
    }),
    responseRestored: getCounter({
      name: 'aims_processor_response_restored_total',
      help: 'Response state put back into Redis from the evidence in ClickHouse (Redis had lost it), by kind',
      labelNames: ['kind'] as const,
    }),
    samples: getCounter({
      name: 'aims_processor_samples_total',
      help: 'KPI samples judged by the breach lifecycle (unchanged healthy series included)',
    }),
    casConflicts: getCounter({
      name: 'aims_processor_breach_conflicts_total',
      help: 'Breach transitions another replica had recorded first (adopted, not duplicated)',
    }),
    outboxRedriven: getCounter({
      name: 'aims_processor_outbox_redriven_total',
      help: 'Recorded transitions whose row and alert job were written again after a crash or failure',
    }),
    areaLoadSeconds: getHistogram({
      name: 'aims_processor_area_load_seconds',
      help: 'Taking over an area: reading the entity state that can contribute and evaluating every series',
      labelNames: ['area'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    }),
    heldEntities: getGauge({
      name: 'aims_processor_held_entities',
      help: 'Entities held in memory by the areas this replica owns (those that contribute now or may)',
      labelNames: ['area'] as const,
    }),
    ownedPartitions: getGauge({
      name: 'aims_processor_owned_partitions',
      help: 'Trigger-topic partitions this replica owns (each owns its keys: an area or a set of models)',
    }),
    deadlineLagSeconds: getHistogram({
      name: 'aims_processor_deadline_lag_seconds',
      help: 'From a deadline (a clock mark, a due date, a window edge) to its evaluation being stored',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
    }),
    seriesByStatus: getGauge({
      name: 'aims_kpi_series',
      help: 'KPI series this replica evaluated last, by KPI and status (no per-series labels)',
      labelNames: ['kpi', 'status'] as const,
    }),
    triggerLatency: getHistogram({
      name: 'aims_processor_trigger_latency_seconds',
      help: 'From the collector publishing a trigger to its evaluation being stored and alerts enqueued',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
    }),
  }
}

export type ProcessorMetrics = ReturnType<typeof processorMetrics>
