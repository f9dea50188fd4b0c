/**
 * Readiness of one process: each component (kafka consumer, clickhouse, redis ...) reports its state;
 * the process is ready while every component is. `/healthz` only says the process is alive.
 */
export interface ComponentState {
  ready: boolean
  detail?: string
  since: string
}

export class Health {
  private readonly components = new Map<string, ComponentState>()

  set(component: string, ready: boolean, detail?: string): void {
    const prev = this.components.get(component)
    if (prev && prev.ready === ready && prev.detail === detail) return
    this.components.set(component, {
      ready,
      ...(detail ? { detail } : {}),
      since: prev?.ready === ready ? prev.since : new Date().toISOString(),
    })
  }

  remove(component: string): void {
    this.components.delete(component)
  }

  report(): { ready: boolean; components: Record<string, ComponentState> } {
    const components = Object.fromEntries(this.components)
    const ready = this.components.size > 0 && [...this.components.values()].every((c) => c.ready)
    return { ready, components }
  }
}
