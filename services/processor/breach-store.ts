import type { Redis } from 'ioredis'
import type { AlertJob, Severity } from '../../shared/alerts/alert-job.js'
import type { BreachTransitionRow, StoredTransition } from '../../shared/kpi/breach-state.js'
import { parseClickHouseTime } from '../../shared/kpi/breach-state.js'

/**
 * The open breaches, shared by every processor replica, in Redis: fingerprint → the breach in force
 * (when it fired, at which severity). A transition is recorded by compare-and-set against the breach the
 * evaluator started from, together with an outbox entry (its ClickHouse row and alert job) in one atomic
 * script. So two replicas that evaluate the same series at once (an ownership hand-over, a zombie
 * consumer) cannot both open a breach: the second finds the first's breach and takes it as its own
 * state. The outbox makes the rest at-least-once and idempotent: the row and job are written after the
 * script, and whoever finds an entry older than a grace period writes them again (same transition id, so
 * ClickHouse's ReplacingMergeTree and BullMQ's job id keep one).
 */

export interface OpenBreach {
  kpiId: string
  scope: Record<string, string>
  startedAt: number
  severity: Severity
  /** 'stale': the series' stale alert, under its own fingerprint (shared/kpi/staleness.ts). */
  condition?: 'stale'
}

export interface OutboxEntry {
  row: BreachTransitionRow
  job: AlertJob
  /** When the transition was recorded (ms). */
  recordedAt: number
}

/** The token compared by the CAS: which breach episode at which severity (or none). */
export const tokenOf = (b: OpenBreach | undefined) => (b === undefined ? '' : `${b.startedAt}:${b.severity}`)

const CAS = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local tok = ''
if cur then tok = string.sub(cur, 1, string.find(cur, '\\n', 1, true) - 1) end
if tok ~= ARGV[2] then return {0, cur or ''} end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
return {1, ''}
`

function encode(b: OpenBreach | undefined): string {
  return b === undefined ? '' : `${tokenOf(b)}\n${JSON.stringify(b)}`
}

function decode(text: string | null | undefined): OpenBreach | undefined {
  if (!text) return undefined
  const at = text.indexOf('\n')
  return JSON.parse(text.slice(at + 1)) as OpenBreach
}

export type CasResult = { ok: true } | { ok: false; current: OpenBreach | undefined }

export class BreachStore {
  private readonly stateKey: string
  private readonly outboxKey: string
  private readonly restoredKey: string

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.stateKey = `${prefix}:processor:open-breaches`
    this.outboxKey = `${prefix}:processor:outbox`
    this.restoredKey = `${prefix}:processor:open-breaches-restored`
    redis.defineCommand('aimsBreachCas', { numberOfKeys: 2, lua: CAS })
  }

  async get(fingerprints: readonly string[]): Promise<Map<string, OpenBreach>> {
    const out = new Map<string, OpenBreach>()
    for (let i = 0; i < fingerprints.length; i += 10_000) {
      const part = fingerprints.slice(i, i + 10_000)
      const values = await this.redis.hmget(this.stateKey, ...part)
      part.forEach((fp, j) => {
        const b = decode(values[j])
        if (b) out.set(fp, b)
      })
    }
    return out
  }

  /** Every open breach of these KPIs. */
  async openFor(kpiIds: ReadonlySet<string>): Promise<Map<string, OpenBreach>> {
    const out = new Map<string, OpenBreach>()
    let cursor = '0'
    do {
      const [next, flat] = await this.redis.hscan(this.stateKey, cursor, 'COUNT', 5000)
      cursor = next
      for (let i = 0; i < flat.length; i += 2) {
        const b = decode(flat[i + 1])
        if (b && kpiIds.has(b.kpiId)) out.set(flat[i]!, b)
      }
    } while (cursor !== '0')
    return out
  }

  /**
   * Moves the series from `expected` to `next` and records the transition in the outbox, if the store
   * still holds `expected`; otherwise returns what it holds.
   */
  async transition(
    fingerprint: string,
    expected: OpenBreach | undefined,
    next: OpenBreach | undefined,
    entry: OutboxEntry,
  ): Promise<CasResult> {
    const [ok, current] = (await (
      this.redis as unknown as {
        aimsBreachCas(...args: string[]): Promise<[number, string]>
      }
    ).aimsBreachCas(
      this.stateKey,
      this.outboxKey,
      fingerprint,
      tokenOf(expected),
      encode(next),
      entry.row.transition_id,
      JSON.stringify(entry),
    )) as [number, string]
    return ok === 1 ? { ok: true } : { ok: false, current: decode(current) }
  }

  async done(transitionId: string): Promise<void> {
    await this.redis.hdel(this.outboxKey, transitionId)
  }

  /** Outbox entries recorded before `olderThan` (ms): their writes may not have happened. */
  async pending(olderThan: number): Promise<OutboxEntry[]> {
    const out: OutboxEntry[] = []
    let cursor = '0'
    do {
      const [next, flat] = await this.redis.hscan(this.outboxKey, cursor, 'COUNT', 1000)
      cursor = next
      for (let i = 1; i < flat.length; i += 2) {
        const e = JSON.parse(flat[i]!) as OutboxEntry
        if (e.recordedAt < olderThan) out.push(e)
      }
    } while (cursor !== '0')
    return out
  }

  /**
   * First start against this Redis (or after it lost its data): the open breaches recorded in ClickHouse
   * become the shared state. HSETNX never overwrites what a running replica already holds.
   */
  async restoreOnce(load: () => Promise<StoredTransition[]>): Promise<number> {
    if ((await this.redis.exists(this.restoredKey)) === 1) return 0
    const rows = await load()
    let restored = 0
    for (const row of rows) {
      if (row.transition === 'resolved') continue
      const breach: OpenBreach = {
        kpiId: row.kpi_id,
        scope: { ...row.scope },
        startedAt: parseClickHouseTime(row.started_at).getTime(),
        severity: row.severity === 'critical' ? 'critical' : 'warning',
        ...(row.condition === 'stale' ? { condition: 'stale' as const } : {}),
      }
      restored += await this.redis.hsetnx(this.stateKey, row.fingerprint, encode(breach))
    }
    await this.redis.set(this.restoredKey, String(Date.now()))
    return restored
  }
}
