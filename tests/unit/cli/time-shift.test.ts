import { describe, expect, it } from 'vitest'
import { shiftEvent, shiftLinesToNow, shiftTimestamp, shiftToNow } from '../../../services/cli/time-shift.js'
import { parseJsonlLine } from '../../../shared/events/index.js'
import { decodeOcsfMessage } from '../../../shared/events/ocsf/index.js'
import { exampleLines, MAX_BYTES, validExampleFiles } from '../events/fixtures.js'

const NOW = Date.UTC(2026, 5, 15, 12, 0, 0, 400)
const H = 3_600_000

describe('--shift-to-now', () => {
  it('moves a timestamp in its own offset and keeps its fraction digits', () => {
    expect(shiftTimestamp('2025-03-03T10:12:00+01:00', H)).toBe('2025-03-03T11:12:00+01:00')
    expect(shiftTimestamp('2025-03-03T23:30:00.25Z', 2 * H)).toBe('2025-03-04T01:30:00.25Z')
    expect(shiftTimestamp('2025-03-03T00:10:00-05:00', -H)).toBe('2025-03-02T23:10:00-05:00')
    expect(shiftTimestamp('not a time', H)).toBe('not a time')
  })

  it('shifts by whole seconds, so the latest event lands at most a second before now', () => {
    const events = [{ time: '2025-03-03T10:00:00Z' }, { time: '2025-03-05T10:00:00Z' }]
    const delta = shiftToNow(events, 'native', NOW)!
    expect(delta % 1000).toBe(0)
    const latest = Date.parse('2025-03-05T10:00:00Z') + delta
    expect(NOW - latest).toBeGreaterThanOrEqual(0)
    expect(NOW - latest).toBeLessThan(1000)
  })

  it('keeps the gaps between timestamps, in the envelope and in the data', () => {
    const event = {
      time: '2025-03-03T11:05:30Z',
      data: { detectedAt: '2025-03-03T09:40:00Z', containedAt: '2025-03-03T11:05:00Z', records: 312 },
    }
    const shifted = shiftEvent(event, 10 * 24 * H, 'native') as typeof event
    expect(shifted).toEqual({
      time: '2025-03-13T11:05:30Z',
      data: { detectedAt: '2025-03-13T09:40:00Z', containedAt: '2025-03-13T11:05:00Z', records: 312 },
    })
  })

  it('OCSF: epoch-millisecond times (time, *_time, extension *At) move; other numbers do not', () => {
    const event = {
      time: 1000,
      severity_id: 4,
      finding_info_list: [{ uid: 'x', created_time: 500 }],
      unmapped: { aims: { containedAt: 2000, recordsAffected: 300 } },
    }
    expect(shiftEvent(event, 10_000, 'ocsf')).toEqual({
      time: 11_000,
      severity_id: 4,
      finding_info_list: [{ uid: 'x', created_time: 10_500 }],
      unmapped: { aims: { containedAt: 12_000, recordsAffected: 300 } },
    })
  })

  it('every example file stays valid when shifted, and its latest event is now', () => {
    for (const file of validExampleFiles) {
      const shifted = shiftLinesToNow(exampleLines(file), 'native', NOW)
      const times = shifted.map((line, i) => {
        const r = parseJsonlLine(line, MAX_BYTES)
        expect(r.kind, `${file} line ${i + 1}`).toBe('event')
        return Date.parse(JSON.parse(line).time)
      })
      expect(NOW - Math.max(...times), file).toBeLessThan(1000)
    }
    const ocsf = shiftLinesToNow(exampleLines('ocsf-findings'), 'ocsf', NOW)
    for (const line of ocsf) expect(decodeOcsfMessage({ value: Buffer.from(line) }, MAX_BYTES).ok).toBe(true)
    expect(NOW - Math.max(...ocsf.map((l) => JSON.parse(l).time))).toBeLessThan(1000)
  })

  it('leaves lines that are not JSON alone, for the caller to report with their line number', () => {
    expect(shiftLinesToNow(['{', '{"time":"2025-01-01T00:00:00Z"}'], 'native', NOW)[0]).toBe('{')
  })
})
