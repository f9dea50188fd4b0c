/**
 * The timer index of an area: for each entity, the next time (ms) at which its contribution to a KPI
 * changes without any event (a window edge, a clock mark, a due date). A binary min-heap with lazy
 * deletion: rescheduling an entity pushes a new entry and the stale one is skipped when it surfaces.
 * Cost: O(log n) per schedule, O(log n) per due entity; nothing per idle tick.
 */
export class Deadlines<Id> {
  private heap: { at: number; id: Id }[] = []
  private readonly current = new Map<Id, number>()

  get size(): number {
    return this.current.size
  }

  /** Sets (or clears, with undefined) the entity's next deadline. */
  schedule(id: Id, at: number | undefined): void {
    if (at === undefined || !Number.isFinite(at)) {
      this.current.delete(id)
      return
    }
    if (this.current.get(id) === at) return
    this.current.set(id, at)
    this.push({ at, id })
  }

  /** The earliest live deadline, if any. */
  next(): number | undefined {
    this.dropStale()
    return this.heap[0]?.at
  }

  /** Removes and returns every entity whose deadline is at or before `now`, earliest first. */
  takeDue(now: number): Id[] {
    const due: Id[] = []
    for (;;) {
      this.dropStale()
      const top = this.heap[0]
      if (top === undefined || top.at > now) return due
      this.pop()
      this.current.delete(top.id)
      due.push(top.id)
    }
  }

  clear(): void {
    this.heap = []
    this.current.clear()
  }

  private dropStale(): void {
    for (;;) {
      const top = this.heap[0]
      if (top === undefined || this.current.get(top.id) === top.at) return
      this.pop()
    }
  }

  private push(entry: { at: number; id: Id }): void {
    const h = this.heap
    h.push(entry)
    let i = h.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (h[parent]!.at <= entry.at) break
      h[i] = h[parent]!
      i = parent
    }
    h[i] = entry
  }

  private pop(): void {
    const h = this.heap
    const last = h.pop()!
    if (h.length === 0) return
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      if (l >= h.length) break
      const r = l + 1
      const c = r < h.length && h[r]!.at < h[l]!.at ? r : l
      if (h[c]!.at >= last.at) break
      h[i] = h[c]!
      i = c
    }
    h[i] = last
  }
}

/**
 * A half-open membership window: `t` counts at `now` when t ∈ (now − width, now], i.e. for
 * now ∈ [t, t + width). The next time membership changes after `now` (undefined: never again).
 */
export function windowEdge(t: number | null, width: number, now: number): number | undefined {
  if (t === null) return undefined
  if (now < t) return t
  if (now < t + width) return t + width
  return undefined
}

export function inWindow(t: number | null, width: number, now: number): boolean {
  return t !== null && t <= now && t > now - width
}

/** The earliest of several optional times. */
export function earliest(...times: (number | undefined)[]): number | undefined {
  let out: number | undefined
  for (const t of times) if (t !== undefined && (out === undefined || t < out)) out = t
  return out
}

export const HOUR_MS = 3_600_000
export const DAY_MS = 86_400_000
