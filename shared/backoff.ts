/**
 * Exponential backoff with full jitter (a random delay between 0 and the exponential cap), the one
 * backoff of the project: the collector's ClickHouse retries and the alerter's delivery retries use it.
 * Jitter keeps many retrying clients from hammering a recovering dependency in lockstep.
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1))
  return Math.max(baseMs / 2, Math.round(cap * random()))
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}
