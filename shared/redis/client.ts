import { Redis, type RedisOptions } from 'ioredis'
import type { Config } from '../config/env.js'
import { readSecret, readTlsFiles } from '../config/files.js'

export type RedisConfig = Pick<
  Config,
  | 'REDIS_URL'
  | 'REDIS_USERNAME'
  | 'REDIS_PASSWORD'
  | 'REDIS_PASSWORD_FILE'
  | 'REDIS_TLS_CA_FILE'
  | 'REDIS_TLS_CERT_FILE'
  | 'REDIS_TLS_KEY_FILE'
>

/**
 * Credentials and TLS from the configuration: a password (inline or from a file) and user name override
 * those in REDIS_URL; a rediss:// URL is TLS, with a CA (default: Node's public roots) and optionally a
 * client certificate for servers with `tls-auth-clients yes`.
 */
export function redisConnectionOptions(cfg: RedisConfig): RedisOptions {
  const options: RedisOptions = {}
  const password = readSecret(cfg.REDIS_PASSWORD, 'REDIS_PASSWORD_FILE', cfg.REDIS_PASSWORD_FILE)
  if (password !== undefined) options.password = password
  if (cfg.REDIS_USERNAME !== undefined) options.username = cfg.REDIS_USERNAME
  if (cfg.REDIS_URL.startsWith('rediss://')) {
    const files = readTlsFiles(
      { ca: 'REDIS_TLS_CA_FILE', cert: 'REDIS_TLS_CERT_FILE', key: 'REDIS_TLS_KEY_FILE' },
      { ca: cfg.REDIS_TLS_CA_FILE, cert: cfg.REDIS_TLS_CERT_FILE, key: cfg.REDIS_TLS_KEY_FILE },
    )
    options.tls = { ...files }
  }
  return options
}

/**
 * The one Redis factory. BullMQ workers need `maxRetriesPerRequest: null` so a Redis restart pauses
 * them instead of failing the job in hand; producers (queue.add) keep a bounded retry so a caller
 * waiting on them learns of an outage.
 */
export function createRedis(cfg: RedisConfig, role: 'worker' | 'producer', extra: RedisOptions = {}): Redis {
  return new Redis(cfg.REDIS_URL, {
    maxRetriesPerRequest: role === 'worker' ? null : 3,
    enableReadyCheck: true,
    lazyConnect: false,
    ...redisConnectionOptions(cfg),
    ...extra,
  })
}
