/**
 * Readiness of one process: each component (kafka consumer, clickhouse, redis ...) reports its state;
 * the process is ready while every component is. A component may also be ready but degraded (working
 * in part, e.g. one Kafka partition stalled while the others flow): the process stays ready and its
 * report says "degraded" with the component's detail. `/healthz` only says the process is alive.
 */
export interface ComponentState {
  ready: boolean
  /** Ready, but only in part; `detail` says what is wrong. */
  degraded?: boolean
  detail?: string
  since: string
}

export type HealthStatus = 'ready' | 'degraded' | 'not_ready'

export class Health {
  private readonly components = new Map<string, ComponentState>()

  set(component: string, ready: boolean, detail?: string): void {
    this.put(component, ready, false, detail)
  }

  /** Ready but degraded: /readyz stays ready, with status "degraded" and this detail. */
  degrade(component: string, detail: string): void {
    this.put(component, true, true, detail)
  }

  private put(component: string, ready: boolean, degraded: boolean, detail?: string): void {
    const prev = this.components.get(component)
    if (prev && prev.ready === ready && (prev.degraded ?? false) === degraded && prev.detail === detail)
      return
    const unchanged = prev?.ready === ready && (prev.degraded ?? false) === degraded
    this.components.set(component, {
      ready,
      ...(degraded ? { degraded } : {}),
      ...(detail ? { detail } : {}),
      since: unchanged ? prev.since : new Date().toISOString(),
    })
  }

  remove(component: string): void {
    this.components.delete(component)
  }

  report(): { ready: boolean; status: HealthStatus; components: Record<string, ComponentState> } {
    const components = Object.fromEntries(this.components)
    const states = [...this.components.values()]
    const ready = states.length > 0 && states.every((c) => c.ready)
    const status: HealthStatus = !ready ? 'not_ready' : states.some((c) => c.degraded) ? 'degraded' : 'ready'
    return { ready, status, components }
  }
}
