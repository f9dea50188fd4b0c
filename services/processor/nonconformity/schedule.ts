import type { Redis } from 'ioredis'
import type { BreachEpisode } from './finding.js'

/**
 * The nonconformity timers, shared by every processor replica in Redis, and the claim that makes one
 * finding per breach episode.
 *
 * - `due`: a sorted set, breach id → the time (ms) its nonconformity is due, with the episode beside it.
 *   Scheduling is idempotent (the first time wins; a claimed episode is never scheduled again), so the
 *   replica that recorded the transition, an outbox redrive and a restart may all schedule it.
 * - Taking due timers moves each one a lease ahead in the same script: one replica takes it, and if that
 *   replica dies before finishing, the timer comes due again after the lease.
 * - `claims`: breach id → the finding, written once (HSETNX). Whoever opens the nonconformity (the timer
 *   or a request) sends the claimed finding, never its own, so a second sender repeats the same bytes.
 */

export interface Claim {
  /** The audit-finding event, as sent. */
  event: string
  openedBy: 'timer' | 'request'
  requestedBy: string
  criticalSince: number | null
}

export interface DueTimer {
  episode: BreachEpisode
  dueAt: number
}

const SCHEDULE = `
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then return 0 end
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1
`

const TAKE_DUE = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[1], ARGV[2], id)
  out[#out + 1] = redis.call('HGET', KEYS[2], id) or ''
end
return out
`

const CLAIM = `
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
return redis.call('HGET', KEYS[1], ARGV[1])
`

type Scripted = Redis & {
  aimsNcSchedule(
    due: string,
    episodes: string,
    claims: string,
    id: string,
    at: string,
    e: string,
  ): Promise<number>
  aimsNcTakeDue(
    due: string,
    episodes: string,
    now: string,
    leaseUntil: string,
    max: string,
  ): Promise<string[]>
  aimsNcClaim(claims: string, id: string, claim: string): Promise<string>
}

export class NonconformitySchedule {
  private readonly dueKey: string
  private readonly episodesKey: string
  private readonly claimsKey: string
  private readonly redis: Scripted

  constructor(redis: Redis, prefix: string) {
    this.dueKey = `${prefix}:processor:nc:due`
    this.episodesKey = `${prefix}:processor:nc:episodes`
    this.claimsKey = `${prefix}:processor:nc:claims`
    redis.defineCommand('aimsNcSchedule', { numberOfKeys: 3, lua: SCHEDULE })
    redis.defineCommand('aimsNcTakeDue', { numberOfKeys: 2, lua: TAKE_DUE })
    redis.defineCommand('aimsNcClaim', { numberOfKeys: 1, lua: CLAIM })
    this.redis = redis as Scripted
  }

  /** Sets the episode's timer unless it has one or its nonconformity is claimed. True when set now. */
  async schedule(episode: BreachEpisode, dueAt: number): Promise<boolean> {
    const set = await this.redis.aimsNcSchedule(
      this.dueKey,
      this.episodesKey,
      this.claimsKey,
      episode.breachId,
      String(dueAt),
      JSON.stringify({ episode, dueAt } satisfies DueTimer),
    )
    return set === 1
  }

  /** Takes up to `max` timers due by `now`; each is due again at `now + leaseMs` unless finished. */
  async takeDue(now: number, leaseMs: number, max = 100): Promise<DueTimer[]> {
    const raw = await this.redis.aimsNcTakeDue(
      this.dueKey,
      this.episodesKey,
      String(now),
      String(now + leaseMs),
      String(max),
    )
    return raw.filter((r) => r !== '').map((r) => JSON.parse(r) as DueTimer)
  }

  /** Drops the episode's timer (its nonconformity is sent, or the breach is no longer critical). */
  async finish(breachId: string): Promise<void> {
    await this.redis.multi().zrem(this.dueKey, breachId).hdel(this.episodesKey, breachId).exec()
  }

  /** Records `claim` for the episode unless one exists; returns the one that holds. */
  async claim(breachId: string, claim: Claim): Promise<Claim> {
    const held = await this.redis.aimsNcClaim(this.claimsKey, breachId, JSON.stringify(claim))
    return JSON.parse(held) as Claim
  }

  async claimed(breachId: string): Promise<Claim | undefined> {
    const held = await this.redis.hget(this.claimsKey, breachId)
    return held === null ? undefined : (JSON.parse(held) as Claim)
  }
}
