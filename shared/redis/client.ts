import { Redis, type RedisOptions } from 'ioredis'
import type { Config } from '../config/env.js'

/**
 * The one Redis factory. BullMQ workers need `maxRetriesPerRequest: null` so a Redis restart pauses
 * them instead of failing the job in hand; producers (queue.add) keep a bounded retry so a caller
 * waiting on them learns of an outage.
 */
export function createRedis(
  cfg: Pick<Config, 'REDIS_URL'>,
  role: 'worker' | 'producer',
  extra: RedisOptions = {},
): Redis {
  return new Redis(cfg.REDIS_URL, {
    maxRetriesPerRequest: role === 'worker' ? null : 3,
    enableReadyCheck: true,
    lazyConnect: false,
    ...extra,
  })
}
