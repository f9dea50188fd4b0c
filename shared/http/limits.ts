import type { Config } from '../config/env.js'

/** The HTTP server's limits; every one is an environment variable (shared/config/env.ts). */
export interface HttpLimits {
  bodyLimitBytes: number
  maxUrlBytes: number
  maxHeaderBytes: number
  headersTimeoutMs: number
  requestTimeoutMs: number
  keepAliveTimeoutMs: number
  maxConnections: number
  maxConcurrentRequests: number
  rateLimitPerS: number
  rateLimitBurst: number
}

export function httpLimits(cfg: Config): HttpLimits {
  return {
    bodyLimitBytes: cfg.HTTP_BODY_LIMIT_BYTES,
    maxUrlBytes: cfg.HTTP_MAX_URL_BYTES,
    maxHeaderBytes: cfg.HTTP_MAX_HEADER_BYTES,
    headersTimeoutMs: cfg.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: cfg.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: cfg.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    maxConnections: cfg.HTTP_MAX_CONNECTIONS,
    maxConcurrentRequests: cfg.HTTP_MAX_CONCURRENT_REQUESTS,
    rateLimitPerS: cfg.HTTP_RATE_LIMIT_PER_S,
    rateLimitBurst: cfg.HTTP_RATE_LIMIT_BURST,
  }
}

/**
 * Per-client token buckets, in memory: each key gets `burst` tokens, refilled at `perS` a second; a
 * request takes one. At most `maxKeys` clients are tracked: when full, the least recently seen is dropped
 * (it starts again with a full bucket, which only ever errs towards letting a request in).
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>()

  constructor(
    private readonly perS: number,
    private readonly burst: number,
    private readonly maxKeys = 10_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes a token for `key`: 0 when allowed, else the seconds until one is available. */
  take(key: string): number {
    const now = this.now()
    const b = this.buckets.get(key)
    let tokens = this.burst
    if (b) {
      tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perS)
      this.buckets.delete(key) // re-inserted below: the Map's order is least recently seen first
    } else if (this.buckets.size >= this.maxKeys) {
      const oldest = this.buckets.keys().next().value
      if (oldest !== undefined) this.buckets.delete(oldest)
    }
    if (tokens < 1) {
      this.buckets.set(key, { tokens, at: now })
      return Math.max(1, Math.ceil((1 - tokens) / this.perS))
    }
    this.buckets.set(key, { tokens: tokens - 1, at: now })
    return 0
  }

  get size(): number {
    return this.buckets.size
  }
}
