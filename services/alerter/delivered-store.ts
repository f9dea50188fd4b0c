import type { Redis } from 'ioredis'

/**
 * What has already happened to each sink of one alert job, kept in Redis beside the queue:
 * hash `<prefix>:alerter:sinks:<jobId>`, field = sink name, value = `{ o: 'ok' | 'permanent', at, r? }`.
 *
 * A sink is marked `ok` right after it accepted the alert and before the job is acknowledged, so a retry
 * of the job (another sink failed, the worker crashed, the job stalled and was redelivered) sends only
 * to sinks not yet marked. The window left is a crash between the sink's 2xx and the HSET: then that
 * sink gets the alert again, with the same dedup identity (PagerDuty dedup_key, webhook
 * Idempotency-Key, Alertmanager label set), so it stays one notification on the receiving side.
 *
 * Entries expire after `ttlSec` (default 30 days, longer than completed jobs are kept), refreshed on
 * every write.
 */
export type SinkState = { o: 'ok' | 'permanent'; at: string; r?: string }

export class DeliveredStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSec = 30 * 24 * 3600,
  ) {}

  key(jobId: string): string {
    return `${this.prefix}:alerter:sinks:${jobId}`
  }

  async get(jobId: string): Promise<Map<string, SinkState>> {
    const raw = await this.redis.hgetall(this.key(jobId))
    const out = new Map<string, SinkState>()
    for (const [sink, value] of Object.entries(raw)) {
      try {
        out.set(sink, JSON.parse(value) as SinkState)
      } catch {
        // an unreadable entry counts as not delivered: at-least-once over at-most-once
      }
    }
    return out
  }

  async mark(jobId: string, sink: string, state: SinkState): Promise<void> {
    const key = this.key(jobId)
    await this.redis.multi().hset(key, sink, JSON.stringify(state)).expire(key, this.ttlSec).exec()
  }
}
