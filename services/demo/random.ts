import { createHash } from 'node:crypto'

/**
 * Seeded randomness for the demo feed. Pure and fast: sfc32 seeded from a SHA-256 of the seed text, so
 * every named stream ("incidents", "models", ...) is independent and reproducible across platforms.
 */
export class Rng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor(seedText: string) {
    const h = createHash('sha256').update(seedText).digest()
    this.a = h.readUInt32LE(0)
    this.b = h.readUInt32LE(4)
    this.c = h.readUInt32LE(8)
    this.d = h.readUInt32LE(12) | 1
    for (let i = 0; i < 12; i++) this.next()
  }

  /** Uniform in [0, 1). */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return (t >>> 0) / 4294967296
  }

  /** Uniform in [min, max). */
  float(min: number, max: number): number {
    return min + (max - min) * this.next()
  }

  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list')
    return items[Math.floor(this.next() * items.length)] as T
  }

  /** Picks by weight: `[[value, weight], ...]`. */
  weighted<T>(entries: readonly (readonly [T, number])[]): T {
    const total = entries.reduce((s, [, w]) => s + w, 0)
    let r = this.next() * total
    for (const [value, w] of entries) {
      r -= w
      if (r < 0) return value
    }
    return entries[entries.length - 1]![0]
  }

  /** Normal(mean, sd) by Box-Muller. */
  normal(mean: number, sd: number): number {
    const u = 1 - this.next()
    const v = this.next()
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }

  /** Log-normal with the given median, clamped to [min, max]. */
  logNormal(median: number, sigma: number, min: number, max: number): number {
    return clamp(Math.exp(this.normal(Math.log(median), sigma)), min, max)
  }

  /** Log-uniform in [min, max]: spreads record counts over orders of magnitude. */
  logUniform(min: number, max: number): number {
    return Math.exp(this.float(Math.log(min), Math.log(max)))
  }

  /** Exponential with the given mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next())
  }
}

export function clamp(x: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, x))
}

/**
 * A deterministic event id: an RFC 9562 version-8 (custom) UUID made from SHA-256 of the seed and the
 * event's identifying key. Same seed and key → same id; different keys collide only with SHA-256.
 */
export function deterministicUuid(seed: string, key: string): string {
  const h = createHash('sha256').update(`aims-demo\u0000${seed}\u0000${key}`).digest()
  h[6] = (h[6]! & 0x0f) | 0x80
  h[8] = (h[8]! & 0x3f) | 0x80
  const hex = h.subarray(0, 16).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`
}

/** A short deterministic tag (uppercase hex) for naming live entities of one run. */
export function shortTag(seed: string, key: string, length = 4): string {
  return createHash('sha256')
    .update(`aims-demo-tag\u0000${seed}\u0000${key}`)
    .digest('hex')
    .slice(0, length)
    .toUpperCase()
}
