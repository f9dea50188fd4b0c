import type { Redis } from 'ioredis'
import type { RateLimit } from '../../shared/alerts/sink-config.js'

/**
 * Token bucket per sink, in Redis so every alerter process shares one budget (a Slack webhook allows
 * ~1 message/s whatever the number of workers). Capacity `max`, refilled at max/perSeconds tokens per
 * second, clocked by Redis `TIME` so workers' clocks don't matter. One Lua script: take a token or
 * answer how many ms until one is available.
 */
const TAKE = `
local cap = tonumber(ARGV[1])
local per_ms = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then tokens = cap; ts = now end
tokens = math.min(cap, tokens + math.max(0, now - ts) * per_ms)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / per_ms) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(cap / per_ms) + 1000)
return wait
`

export class SinkRateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** 0 when a token was taken, else the ms to wait before asking again. */
  async take(sink: string, limit: RateLimit): Promise<number> {
    const perMs = limit.max / (limit.perSeconds * 1000)
    const wait = await this.redis.eval(TAKE, 1, `${this.prefix}:alerter:bucket:${sink}`, limit.max, perMs)
    return Number(wait)
  }
}
