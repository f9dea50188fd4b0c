/** How an area orders its work: one operation at a time, and triggers gathered into rounds. */

/** One operation at a time, in order; a failed one does not stop the next. */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve()
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn)
    this.tail = next.catch(() => undefined)
    return next
  }
}

/**
 * Triggers that arrive while a round runs wait for the next round together: one round for all of them,
 * not one each. Partitions are consumed concurrently and each hands over its batch at once; evaluated
 * one by one behind a busy area, they would queue (seen: seconds of event → alert latency at 40 events/s),
 * while one round of many ids costs about what a round of one does (one state query, one write).
 * Each caller's promise settles with the round that evaluated its ids.
 */
export class Coalescing {
  private next: { ids: Set<string>; now: number; done: Promise<void> } | undefined

  constructor(
    private readonly serial: Serial,
    private readonly round: (ids: string[], now: number) => Promise<void>,
  ) {}

  submit(ids: readonly string[], now: number): Promise<void> {
    const waiting = this.next
    if (waiting) {
      for (const id of ids) waiting.ids.add(id)
      waiting.now = Math.max(waiting.now, now)
      return waiting.done
    }
    const batch = { ids: new Set(ids), now, done: Promise.resolve() }
    batch.done = this.serial.run(() => {
      // From here on the batch is running: later triggers start the round after it.
      if (this.next === batch) this.next = undefined
      return this.round([...batch.ids], batch.now)
    })
    this.next = batch
    return batch.done
  }
}
