import { describe, expect, it } from 'vitest'
import { epochMs, timestamp, toClickHouseDateTime } from '../../../shared/events/index.js'

describe('epochMs', () => {
  it('agrees with Date.parse on every admitted shape', () => {
    // Deterministic pseudo-random instants across the storable range, in several zones and precisions.
    let seed = 42
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed / 2 ** 31
    }
    const zones = ['Z', '+00:00', '+05:30', '-08:00', '+14:00', '-12:00']
    for (let i = 0; i < 2000; i++) {
      const at = Math.floor(Date.UTC(1971, 0, 1) + next() * (Date.UTC(2290, 0, 1) - Date.UTC(1971, 0, 1)))
      const base = new Date(at).toISOString().slice(0, 19)
      const fraction = ['', '.1', '.12', '.123', '.123456789'][i % 5]!
      const text = `${base}${fraction}${zones[i % zones.length]}`
      expect(timestamp.safeParse(text).success, text).toBe(true)
      expect(epochMs(text), text).toBe(Date.parse(text))
      const utc = new Date(Date.parse(text)).toISOString()
      expect(toClickHouseDateTime(text), text).toBe(`${utc.slice(0, 10)} ${utc.slice(11, 23)}`)
    }
  })

  it('returns NaN outside the admitted shape', () => {
    for (const text of [
      '',
      '2025-03-04',
      '2025-03-04 16:30:00Z',
      '2025-03-04T16:30:00',
      '2025-03-04T16:30:00+0100',
      '2025-03-04T16:30:00ZZ',
    ]) {
      expect(epochMs(text), text).toBeNaN()
    }
  })
})
