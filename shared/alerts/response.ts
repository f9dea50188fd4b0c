import type { Redis } from 'ioredis'
import { type AlertJob, alertJobSchema } from './alert-job.js'
import type { EscalationPlan } from './escalation.js'
import { type Silence, silenceSchema } from './silence.js'

/**
 * The response loop's shared state in Redis (processor API and every alerter replica read and write it;
 * ClickHouse keeps the evidence: `breach_actions`, `silences`). Keys under `<prefix>:response:`:
 * - `breach:<breachId>` hash: `ack` {by, at, comment?}, `owner`, `resolved` (ms), `base` (the firing or
 *   escalated job escalations are made from), `plan` (EscalationPlan), `held` (a job), `heldAt` (ms), `heldBy` (silence id);
 * - `breach:<breachId>:sinks` set: the sinks told about the breach (an acknowledgement goes to them);
 * - `escalations` sorted set: breachId by the time its next step or reminder is due;
 * - `held` set: breaches whose delivery a silence holds;
 * - `silences` hash: id → silence.
 * Breach entries expire `ttlSec` after their last write (default 90 days).
 *
 * Every move that two replicas could make at once is a compare-and-set script, and what it guards is
 * enqueued before it with a deterministic job id: a crash between the two re-enqueues the same job,
 * which BullMQ ignores, so each step, reminder and release is delivered once.
 */

export interface Acknowledgement {
  by: string
  at: string
  comment?: string
}

export interface BreachResponse {
  ack?: Acknowledgement
  owner?: string
  resolvedAt?: number
  base?: AlertJob
  plan?: EscalationPlan
  held?: { job: AlertJob; heldAt: number; silenceId: string }
  sinks: string[]
}

/** ZSCORE equals ARGV[2] → the plan moves on (ARGV[3] the new due, '' = done), ARGV[4] the new plan. */
const ADVANCE = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) ~= tonumber(ARGV[2]) then return 0 end
if ARGV[3] == '' then redis.call('ZREM', KEYS[1], ARGV[1]) else redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1]) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[2], 'plan', ARGV[4]) end
return 1
`

/** Starts a plan unless the breach has one or is resolved: HSETNX plan + base, then ZADD. */
const START = `
if redis.call('HEXISTS', KEYS[2], 'resolved') == 1 then return 0 end
if redis.call('HSETNX', KEYS[2], 'plan', ARGV[3]) == 0 then return 0 end
redis.call('HSET', KEYS[2], 'base', ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1
`

/**
 * Removes the acknowledgement; a plan the response loop had dropped because of it is put back on the
 * schedule, due at its old time or now, whichever is later. A plan with nothing left to send is dropped
 * again at its next tick.
 */
const UNACK = `
if redis.call('HDEL', KEYS[2], 'ack') == 0 then return 0 end
if redis.call('HEXISTS', KEYS[2], 'resolved') == 1 then return 1 end
local plan = redis.call('HGET', KEYS[2], 'plan')
if plan and not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  local due = tonumber(cjson.decode(plan).due)
  local now = tonumber(ARGV[2])
  if due < now then due = now end
  redis.call('ZADD', KEYS[1], due, ARGV[1])
end
return 1
`

/** HGET held equals ARGV[1] → removed (released or dropped). */
const UNHOLD = `
if redis.call('HGET', KEYS[1], 'heldAt') ~= ARGV[1] then return 0 end
redis.call('HDEL', KEYS[1], 'held', 'heldAt', 'heldBy')
redis.call('SREM', KEYS[2], ARGV[2])
return 1
`

type Scripts = {
  aimsResponseAdvance(...args: string[]): Promise<number>
  aimsResponseStart(...args: string[]): Promise<number>
  aimsResponseUnhold(...args: string[]): Promise<number>
  aimsResponseUnack(...args: string[]): Promise<number>
}

export class ResponseState {
  private readonly root: string

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly ttlSec = 90 * 24 * 3600,
  ) {
    this.root = `${prefix}:response`
    redis.defineCommand('aimsResponseAdvance', { numberOfKeys: 2, lua: ADVANCE })
    redis.defineCommand('aimsResponseStart', { numberOfKeys: 2, lua: START })
    redis.defineCommand('aimsResponseUnhold', { numberOfKeys: 2, lua: UNHOLD })
    redis.defineCommand('aimsResponseUnack', { numberOfKeys: 2, lua: UNACK })
  }

  private get scripts(): Scripts {
    return this.redis as unknown as Scripts
  }
  private breachKey(breachId: string) {
    return `${this.root}:breach:${breachId}`
  }
  private get escalationsKey() {
    return `${this.root}:escalations`
  }
  private get heldKey() {
    return `${this.root}:held`
  }
  private get silencesKey() {
    return `${this.root}:silences`
  }

  async get(breachId: string): Promise<BreachResponse> {
    const key = this.breachKey(breachId)
    const [raw, sinks] = await Promise.all([this.redis.hgetall(key), this.redis.smembers(`${key}:sinks`)])
    const out: BreachResponse = { sinks: sinks.sort() }
    if (raw.ack) out.ack = JSON.parse(raw.ack) as Acknowledgement
    if (raw.owner) out.owner = raw.owner
    if (raw.resolved) out.resolvedAt = Number(raw.resolved)
    if (raw.base) out.base = alertJobSchema.parse(JSON.parse(raw.base))
    if (raw.plan) out.plan = JSON.parse(raw.plan) as EscalationPlan
    if (raw.held && raw.heldAt) {
      out.held = {
        job: alertJobSchema.parse(JSON.parse(raw.held)),
        heldAt: Number(raw.heldAt),
        silenceId: raw.heldBy ?? '',
      }
    }
    return out
  }

  private async write(breachId: string, fields: Record<string, string>): Promise<void> {
    const key = this.breachKey(breachId)
    await this.redis.multi().hset(key, fields).expire(key, this.ttlSec).exec()
  }

  /** Records the acknowledgement unless the breach already has one: false then. */
  async acknowledge(breachId: string, ack: Acknowledgement): Promise<boolean> {
    const key = this.breachKey(breachId)
    const [[, set] = []] = (await this.redis
      .multi()
      .hsetnx(key, 'ack', JSON.stringify(ack))
      .expire(key, this.ttlSec)
      .exec()) as [Error | null, unknown][]
    return set === 1
  }

  /** Clears the acknowledgement; the escalation goes on from where it stopped, due now at the earliest. */
  async unacknowledge(breachId: string, now: number): Promise<boolean> {
    const removed = await this.scripts.aimsResponseUnack(
      this.escalationsKey,
      this.breachKey(breachId),
      breachId,
      String(now),
    )
    return removed === 1
  }

  async setOwner(breachId: string, owner: string): Promise<void> {
    await this.write(breachId, { owner })
  }

  async addSinks(breachId: string, sinks: readonly string[]): Promise<void> {
    if (sinks.length === 0) return
    const key = `${this.breachKey(breachId)}:sinks`
    await this.redis
      .multi()
      .sadd(key, ...sinks)
      .expire(key, this.ttlSec)
      .exec()
  }

  /** The breach resolved: no more escalation. */
  async markResolved(breachId: string, at: number): Promise<void> {
    await this.write(breachId, { resolved: String(at) })
    await this.redis.zrem(this.escalationsKey, breachId)
  }

  /** Starts watching a breach for acknowledgement, once: false when it already has a plan or resolved. */
  async startEscalation(base: AlertJob, plan: EscalationPlan): Promise<boolean> {
    const ok = await this.scripts.aimsResponseStart(
      this.escalationsKey,
      this.breachKey(base.breachId),
      base.breachId,
      String(plan.due),
      JSON.stringify(plan),
      JSON.stringify(base),
      String(this.ttlSec),
    )
    return ok === 1
  }

  /** Breaches whose next step or reminder is due at `now`, with their due time. */
  async dueEscalations(now: number, limit = 500): Promise<{ breachId: string; due: number }[]> {
    const flat = await this.redis.zrangebyscore(
      this.escalationsKey,
      '-inf',
      now,
      'WITHSCORES',
      'LIMIT',
      0,
      limit,
    )
    const out: { breachId: string; due: number }[] = []
    for (let i = 0; i < flat.length; i += 2) out.push({ breachId: flat[i]!, due: Number(flat[i + 1]) })
    return out
  }

  /**
   * Moves the breach's plan on if its entry is still due at `expectedDue` (another replica has not moved
   * it): `next` undefined ends it. True when this caller moved it.
   */
  async advance(
    breachId: string,
    expectedDue: number,
    next: EscalationPlan | undefined,
    plan?: EscalationPlan,
  ): Promise<boolean> {
    const written = next ?? plan
    const ok = await this.scripts.aimsResponseAdvance(
      this.escalationsKey,
      this.breachKey(breachId),
      breachId,
      String(expectedDue),
      next ? String(next.due) : '',
      written ? JSON.stringify(written) : '',
    )
    return ok === 1
  }

  /** A silence holds this job: it replaces what the breach had held (the latest transition is released). */
  async hold(job: AlertJob, heldAt: number, silenceId: string): Promise<void> {
    await this.write(job.breachId, { held: JSON.stringify(job), heldAt: String(heldAt), heldBy: silenceId })
    await this.redis.sadd(this.heldKey, job.breachId)
  }

  /** A breach listed as held whose entry is gone (expired): off the list. */
  async forgetHeld(breachId: string): Promise<void> {
    await this.redis.srem(this.heldKey, breachId)
  }

  async heldBreaches(): Promise<string[]> {
    return this.redis.smembers(this.heldKey)
  }

  /** Removes the held job if it is still the one held at `heldAt`: true when this caller removed it. */
  async unhold(breachId: string, heldAt: number): Promise<boolean> {
    const ok = await this.scripts.aimsResponseUnhold(
      this.breachKey(breachId),
      this.heldKey,
      String(heldAt),
      breachId,
    )
    return ok === 1
  }

  /**
   * Puts back what the evidence in ClickHouse says when Redis has lost it: each field only where the
   * breach has none (what Redis holds is as new or newer). True when anything was written.
   */
  async restoreBreach(breachId: string, fields: { ack?: Acknowledgement; owner?: string }): Promise<boolean> {
    const key = this.breachKey(breachId)
    const tx = this.redis.multi()
    if (fields.ack) tx.hsetnx(key, 'ack', JSON.stringify(fields.ack))
    if (fields.owner) tx.hsetnx(key, 'owner', fields.owner)
    tx.expire(key, this.ttlSec)
    const results = (await tx.exec()) ?? []
    return results.slice(0, -1).some(([, n]) => n === 1)
  }

  /** A silence back from the evidence, unless Redis holds one with this id (true when written). */
  async restoreSilence(s: Silence): Promise<boolean> {
    return (await this.redis.hsetnx(this.silencesKey, s.id, JSON.stringify(silenceSchema.parse(s)))) === 1
  }

  async putSilence(s: Silence): Promise<void> {
    await this.redis.hset(this.silencesKey, s.id, JSON.stringify(silenceSchema.parse(s)))
  }

  async silences(): Promise<Silence[]> {
    const raw = await this.redis.hvals(this.silencesKey)
    return raw.map((r) => silenceSchema.parse(JSON.parse(r)))
  }

  async silence(id: string): Promise<Silence | undefined> {
    const raw = await this.redis.hget(this.silencesKey, id)
    return raw ? silenceSchema.parse(JSON.parse(raw)) : undefined
  }

  /** Silences that ended more than `keepMs` ago leave Redis (ClickHouse keeps them). */
  async pruneSilences(now: number, keepMs: number, end: (s: Silence) => number): Promise<void> {
    for (const s of await this.silences())
      if (end(s) < now - keepMs) await this.redis.hdel(this.silencesKey, s.id)
  }
}
