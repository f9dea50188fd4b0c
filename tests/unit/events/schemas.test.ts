import { describe, expect, it } from 'vitest'
import { type ParseResult, parseEvent } from '../../../shared/events/index.js'
import { sample } from './fixtures.js'

function rejection(result: ParseResult): { errorType: string; reason: string } {
  if (result.ok) throw new Error('expected the event to be rejected')
  return { errorType: result.errorType, reason: result.reason }
}

function accepted(result: ParseResult) {
  if (!result.ok) throw new Error(`expected the event to be accepted: ${result.reason}`)
  return result.event
}

describe('envelope', () => {
  it('rejects a non-object, a missing type and a missing id', () => {
    expect(rejection(parseEvent([1, 2]))).toEqual({
      errorType: 'invalid_envelope',
      reason: 'event must be a JSON object, got array',
    })
    const noType = sample('privacy-incidents')
    delete noType.type
    expect(rejection(parseEvent(noType))).toEqual({
      errorType: 'invalid_envelope',
      reason: 'type: is required',
    })
    const noId = sample('privacy-incidents')
    delete noId.id
    expect(rejection(parseEvent(noId))).toEqual({ errorType: 'invalid_envelope', reason: 'id: is required' })
  })

  it('bounds the id, the idempotency key', () => {
    const event = sample('audit-findings')
    event.id = 'x'.repeat(201)
    expect(rejection(parseEvent(event)).reason).toBe('id: must be at most 200 characters')
    event.id = ''
    expect(rejection(parseEvent(event)).reason).toBe('id: must not be empty')
  })

  it('accepts CloudEvents extension attributes and rejects other unknown attributes', () => {
    const event = sample('privacy-incidents')
    event.traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
    event.partitionkey = 'INC-2025-0142'
    event.sequence = 7
    expect(accepted(parseEvent(event))).toMatchObject({ traceparent: event.traceparent, sequence: 7 })

    event.data_base64 = 'e30='
    event.Severity = 'high'
    const { errorType, reason } = rejection(parseEvent(event))
    expect(errorType).toBe('invalid_envelope')
    expect(reason).toContain('data_base64: unknown attribute "data_base64"')
    expect(reason).toContain('Severity: unknown attribute "Severity"')
  })

  it('rejects extension values that are not string, number or boolean', () => {
    const event = sample('privacy-incidents')
    event.tags = ['a']
    expect(rejection(parseEvent(event)).reason).toBe(
      'tags: extension attribute values must be a string, number or boolean',
    )
  })

  it('requires a time zone on time and a storable date', () => {
    const event = sample('model-metrics')
    event.time = '2025-03-08T02:10:00'
    expect(rejection(parseEvent(event)).reason).toMatch(
      /^time: must be an RFC 3339 timestamp with a time zone/,
    )
    event.time = '2400-01-01T00:00:00Z'
    expect(rejection(parseEvent(event)).reason).toBe(
      'time: must lie between 1970-01-01 and 2298-12-31 (year 2400 as written)',
    )
  })

  it('reports envelope problems before data problems', () => {
    const event = sample('model-metrics')
    event.source = 'not a uri'
    event.data.sampleSize = -1
    expect(rejection(parseEvent(event))).toMatchObject({ errorType: 'invalid_envelope' })
  })

  it('fills defaults', () => {
    const event = sample('audit-findings', 4)
    delete event.data.businessUnit
    const parsed = accepted(parseEvent(event))
    expect(parsed.type === 'aims.audit_finding.v1' && parsed.data.businessUnit).toBe('')
  })
})

describe('aims.privacy_incident.v1', () => {
  it('rejects unknown fields and wrong enum values with the field path', () => {
    const event = sample('privacy-incidents')
    event.data.severity = 'catastrophic'
    event.data.reporterEmail = 'someone@example.com'
    const { errorType, reason } = rejection(parseEvent(event))
    expect(errorType).toBe('invalid_data')
    expect(reason).toContain('data.reporterEmail: unknown field')
    expect(reason).toContain(
      'data.severity: must be one of "low", "medium", "high", "critical"; got "catastrophic"',
    )
  })

  it('enforces the lifecycle order of timestamps', () => {
    const event = sample('privacy-incidents', 1)
    event.data.containedAt = '2025-03-03T09:00:00Z'
    expect(rejection(parseEvent(event)).reason).toBe(
      'data.containedAt: containedAt (2025-03-03T09:00:00Z) is before detectedAt (2025-03-03T09:40:00Z)',
    )
    const early = sample('privacy-incidents')
    early.data.detectedAt = '2025-03-03T08:00:00Z'
    expect(rejection(parseEvent(early)).reason).toBe(
      'data.detectedAt: detectedAt (2025-03-03T08:00:00Z) is before occurredAt (2025-03-03T08:12:00Z)',
    )
  })

  it('compares timestamps across time zones', () => {
    const event = sample('privacy-incidents', 1)
    // 10:30+01:00 is 09:30Z, ten minutes before detection at 09:40Z.
    event.data.containedAt = '2025-03-03T10:30:00+01:00'
    expect(rejection(parseEvent(event)).reason).toContain('data.containedAt: containedAt')
  })

  it('requires the timestamp each status asserts', () => {
    const notified = sample('privacy-incidents', 2)
    delete notified.data.regulatorNotifiedAt
    expect(rejection(parseEvent(notified)).reason).toBe(
      'data.regulatorNotifiedAt: is required when status is "notified"',
    )
    const closed = sample('privacy-incidents', 4)
    delete closed.data.closedAt
    expect(rejection(parseEvent(closed)).reason).toBe('data.closedAt: is required when status is "closed"')
  })

  it('rejects timestamps a reopened incident must have dropped, and resolution without containment', () => {
    const reopened = sample('privacy-incidents', 4)
    reopened.data.status = 'contained'
    expect(rejection(parseEvent(reopened)).reason).toContain(
      'data.closedAt: is set but status is "contained"',
    )
    const resolved = sample('privacy-incidents', 3)
    delete resolved.data.containedAt
    expect(rejection(parseEvent(resolved)).reason).toBe(
      'data.containedAt: is required once resolvedAt is set (use the same time if both happened at once)',
    )
  })

  it('requires the AI system of an AI data exposure', () => {
    const event = sample('privacy-incidents', 5)
    delete event.data.aiSystemId
    expect(rejection(parseEvent(event)).reason).toBe(
      'data.aiSystemId: is required when category is "ai_data_exposure"',
    )
  })

  it('validates control references against the standards', () => {
    const event = sample('privacy-incidents')
    event.data.controls = ['ISO27001:A.5.24', 'ISO27001:A.6.2.6', 'A.5.24']
    const { reason } = rejection(parseEvent(event))
    expect(reason).toContain(
      'data.controls[1]: "A.6.2.6" is not a clause or Annex A control of ISO/IEC 27001:2022 (it is an ISO/IEC 42001:2023 reference)',
    )
    expect(reason).toContain('data.controls[2]: must look like "ISO27001:A.5.24" or "ISO42001:6.1.4"')
  })

  it('bounds counts', () => {
    const event = sample('privacy-incidents')
    event.data.recordsAffected = 1.5
    event.data.dataSubjectsAffected = -3
    const { reason } = rejection(parseEvent(event))
    expect(reason).toContain('data.recordsAffected: must be an integer')
    expect(reason).toContain('data.dataSubjectsAffected: must be >= 0')
  })
})

describe('aims.model_metrics.v1', () => {
  it('names attribute and group of an empty group', () => {
    const event = sample('model-metrics')
    event.data.fairness[1].groups[2] = { group: '46+', tp: 0, fp: 0, tn: 0, fn: 0 }
    const { errorType, reason } = rejection(parseEvent(event))
    expect(errorType).toBe('invalid_data')
    expect(reason).toContain('data.fairness[1].groups[2]: group "46+" has no samples (tp+fp+tn+fn = 0)')
  })

  it('shows both numbers when groups do not add up to sampleSize', () => {
    const event = sample('model-metrics')
    event.data.sampleSize = 12000
    const { reason } = rejection(parseEvent(event))
    expect(reason).toContain(
      'data.fairness[0].groups: group counts of "sex" add up to 10000, but sampleSize is 12000',
    )
    expect(reason).toContain(
      'data.fairness[1].groups: group counts of "age_band" add up to 10000, but sampleSize is 12000',
    )
  })

  it('rejects duplicate groups and attributes', () => {
    const event = sample('model-metrics')
    event.data.fairness[0].groups[1].group = 'female'
    event.data.fairness[1].attribute = 'sex'
    const { reason } = rejection(parseEvent(event))
    expect(reason).toContain('data.fairness[0].groups[1].group: duplicate group "female" (also at groups[0])')
    expect(reason).toContain('data.fairness[1].attribute: duplicate attribute "sex" (also at fairness[0])')
  })

  it('rejects negative or fractional confusion counts', () => {
    const event = sample('model-metrics')
    event.data.fairness[0].groups[0].fp = -1
    event.data.fairness[0].groups[1].tn = 2.5
    const { reason } = rejection(parseEvent(event))
    expect(reason).toContain('data.fairness[0].groups[0].fp: must be >= 0')
    expect(reason).toContain('data.fairness[0].groups[1].tn: must be an integer')
  })

  it('keeps ratios in [0, 1] and extra metrics finite, named and distinct', () => {
    const event = sample('model-metrics', 3)
    event.data.metrics.auc = 1.01
    event.data.metrics.extra = { accuracy: 0.5, 'Bad Name': 1 }
    const { reason } = rejection(parseEvent(event))
    expect(reason).toContain('data.metrics.auc: must be between 0 and 1')
    expect(reason).toContain('data.metrics.extra["Bad Name"]')
  })

  it('rejects an extra metric that repeats a named one', () => {
    const event = sample('model-metrics', 3)
    event.data.metrics.extra = { accuracy: 0.5 }
    expect(rejection(parseEvent(event)).reason).toBe(
      'data.metrics.extra.accuracy: duplicates metrics.accuracy; give it there',
    )
  })

  it('requires window.end after window.start, a positive sample and some content', () => {
    const event = sample('model-metrics', 3)
    event.data.window.end = event.data.window.start
    expect(rejection(parseEvent(event)).reason).toMatch(/^data\.window\.end: must be after window\.start/)

    const empty = sample('model-metrics', 3)
    empty.data.metrics = {}
    expect(rejection(parseEvent(empty)).reason).toBe('data: carries neither metrics nor fairness counts')

    const zero = sample('model-metrics', 3)
    zero.data.sampleSize = 0
    expect(rejection(parseEvent(zero)).reason).toBe('data.sampleSize: must be > 0')
  })

  it('rejects a baseline equal to the evaluated version', () => {
    const event = sample('model-metrics', 1)
    event.data.baselineVersion = event.data.modelVersion
    expect(rejection(parseEvent(event)).reason).toBe('data.baselineVersion: must differ from modelVersion')
  })
})

describe('aims.audit_finding.v1', () => {
  it('validates the clause against the finding standard and names the bad id', () => {
    const event = sample('audit-findings')
    event.data.clause = 'A.6.2.6'
    expect(rejection(parseEvent(event))).toEqual({
      errorType: 'invalid_data',
      reason:
        'data.clause: "A.6.2.6" is not a clause or Annex A control of ISO/IEC 27001:2022 (it is an ISO/IEC 42001:2023 reference)',
    })
    event.data.standard = 'ISO42001'
    expect(accepted(parseEvent(event)).type).toBe('aims.audit_finding.v1')
  })

  it('accepts clauses as well as Annex A controls', () => {
    const event = sample('audit-findings')
    event.data.clause = '9.2.2'
    accepted(parseEvent(event))
  })

  it('requires closedAt exactly when the finding is closed or verified', () => {
    const closed = sample('audit-findings', 2)
    delete closed.data.closedAt
    expect(rejection(parseEvent(closed)).reason).toBe('data.closedAt: is required when status is "closed"')
    const reopened = sample('audit-findings', 3)
    reopened.data.status = 'in_progress'
    expect(rejection(parseEvent(reopened)).reason).toBe(
      'data.closedAt: is set but status is "in_progress" (only closed or verified findings have closedAt)',
    )
  })

  it('keeps due and close dates after the finding was raised', () => {
    const event = sample('audit-findings', 2)
    event.data.closedAt = '2025-01-01T00:00:00Z'
    expect(rejection(parseEvent(event)).reason).toBe(
      'data.closedAt: closedAt (2025-01-01T00:00:00Z) is before raisedAt (2025-02-10T14:00:00Z)',
    )
  })

  it('rejects a finding that repeats itself and an unknown kind', () => {
    const event = sample('audit-findings', 6)
    event.data.repeatOf = event.data.findingId
    event.data.kind = 'critical_nc'
    expect(rejection(parseEvent(event)).reason).toBe(
      'data.kind: must be one of "major_nc", "minor_nc", "observation", "ofi"; got "critical_nc"',
    )
    event.data.kind = 'minor_nc'
    expect(rejection(parseEvent(event)).reason).toBe(
      'data.repeatOf: must name an earlier finding, not this one',
    )
  })
})
