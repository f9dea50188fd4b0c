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
    kpiValue: getGauge({
      name: 'aims_kpi_value',
      help: 'Latest value of each aggregate KPI series (per-entity series such as one incident clock are left out)',
      labelNames: ['kpi', 'fingerprint'] as const,
    }),
    triggerLatency: getHistogram({
      name: 'aims_processor_trigger_latency_seconds',
      help: 'From the collector publishing a trigger to its evaluation being stored and alerts enqueued',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
    }),
  }
}

export type ProcessorMetrics = ReturnType<typeof processorMetrics>
