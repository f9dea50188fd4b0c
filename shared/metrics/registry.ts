import type { CounterConfiguration, GaugeConfiguration, HistogramConfiguration } from 'prom-client'
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

/**
 * The one metrics registry of the process. In the all-in-one process the three services share it, so
 * metrics are created through the `get*` helpers: asking twice for a name returns the same metric.
 */
export const registry = new Registry()

let defaultsRegistered = false
/** Process metrics (CPU, RSS, event loop lag); called by the HTTP server, not at import time. */
export function registerDefaultMetrics(): void {
  if (defaultsRegistered) return
  defaultsRegistered = true
  collectDefaultMetrics({ register: registry })
}

function existing<T>(name: string): T | undefined {
  return registry.getSingleMetric(name) as T | undefined
}

export function getCounter<L extends string>(cfg: Omit<CounterConfiguration<L>, 'registers'>): Counter<L> {
  return existing<Counter<L>>(cfg.name) ?? new Counter({ ...cfg, registers: [registry] })
}

export function getGauge<L extends string>(cfg: Omit<GaugeConfiguration<L>, 'registers'>): Gauge<L> {
  return existing<Gauge<L>>(cfg.name) ?? new Gauge({ ...cfg, registers: [registry] })
}

export function getHistogram<L extends string>(
  cfg: Omit<HistogramConfiguration<L>, 'registers'>,
): Histogram<L> {
  return existing<Histogram<L>>(cfg.name) ?? new Histogram({ ...cfg, registers: [registry] })
}

/** Every error is counted once, by the stage it happened in and its type (Vector's habit). */
export const errorsTotal = () =>
  getCounter({
    name: 'aims_errors_total',
    help: 'Errors by the pipeline stage they happened in and their type',
    labelNames: ['stage', 'error_type'] as const,
  })
