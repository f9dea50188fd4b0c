import { describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { eventSchemas, parseEvent, parseJsonlLine } from '../../../shared/events/index.js'
import { exampleLines, MAX_BYTES, validExampleFiles } from './fixtures.js'

describe('example events', () => {
  for (const file of validExampleFiles) {
    it(`${file}.jsonl: every line is a valid event`, () => {
      const lines = exampleLines(file)
      expect(lines.length).toBeGreaterThanOrEqual(3)
      lines.forEach((line, i) => {
        const result = parseJsonlLine(line, MAX_BYTES)
        expect(result, `line ${i + 1}`).toMatchObject({ kind: 'event' })
      })
    })
  }

  it('cover every event type', () => {
    const types = new Set(validExampleFiles.flatMap(exampleLines).map((l) => JSON.parse(l).type))
    expect([...types].sort()).toEqual(Object.keys(eventSchemas).sort())
  })

  it('give the same verdict through the AOT-compiled fast path and the plain zod schema', () => {
    // parseEvent uses z.compile'd copies; a wrong "success" from the compiler would go unnoticed otherwise.
    const lines = [...validExampleFiles.flatMap(exampleLines), ...exampleLines('invalid')]
    for (const line of lines) {
      let raw: { type?: string }
      try {
        raw = JSON.parse(line)
      } catch {
        continue
      }
      const schema = (eventSchemas as Record<string, z.ZodType>)[raw.type ?? '']
      if (schema === undefined) continue
      const plain = schema.safeParse(raw)
      const fast = parseEvent(raw)
      expect(fast.ok, line.slice(0, 80)).toBe(plain.success)
      if (fast.ok && plain.success) expect(fast.event).toEqual(plain.data)
    }
  })
})

/** invalid.jsonl, line by line: the error type and a fragment the reason must contain (field path first). */
const expectedRejections = [
  { errorType: 'not_json', reason: 'value is not valid JSON' },
  { errorType: 'unknown_type', reason: 'type: unknown event type "aims.vendor_assessment.v1"' },
  { errorType: 'invalid_envelope', reason: 'specversion: must be "1.0"' },
  { errorType: 'invalid_envelope', reason: 'time: must be an RFC 3339 timestamp' },
  { errorType: 'invalid_data', reason: 'data.containedAt: is required when status is "contained"' },
  {
    errorType: 'invalid_data',
    reason: 'data.controls[0]: "A.5.99" is not a clause or Annex A control of ISO/IEC 27001:2022',
  },
  {
    errorType: 'invalid_data',
    reason: 'data.fairness[0].groups[1]: group "unknown" has no samples (tp+fp+tn+fn = 0)',
  },
  {
    errorType: 'invalid_data',
    reason: 'data.fairness[0].groups: group counts of "sex" add up to 9800, but sampleSize is 10000',
  },
  {
    errorType: 'invalid_data',
    reason: 'data.clause: "A.5.99" is not a clause or Annex A control of ISO/IEC 27001:2022',
  },
  { errorType: 'invalid_data', reason: 'data.severity: unknown field' },
] as const

describe('invalid.jsonl', () => {
  const lines = exampleLines('invalid')

  it('has one expectation per line', () => {
    expect(lines).toHaveLength(expectedRejections.length)
  })

  expectedRejections.forEach((expected, i) => {
    it(`line ${i + 1} is rejected as ${expected.errorType}`, () => {
      const result = parseJsonlLine(lines[i]!, MAX_BYTES)
      expect(result.kind).toBe('invalid')
      if (result.kind !== 'invalid') return
      expect(result.errorType).toBe(expected.errorType)
      expect(result.reason).toContain(expected.reason)
    })
  })
})
