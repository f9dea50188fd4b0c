import { describe, expect, it } from 'vitest'
import type { PrivacyIncidentEvent } from '../../../shared/events/index.js'
import { decodeOcsfMessage, mapOcsfFinding } from '../../../shared/events/ocsf/index.js'
import { dataSecurityFinding, H, incidentFinding } from '../../helpers/ocsf.js'

const T0 = Date.UTC(2026, 2, 2, 9, 0, 0)
const iso = (ms: number) => new Date(ms).toISOString()

function mapped(raw: unknown): PrivacyIncidentEvent {
  const r = mapOcsfFinding(raw)
  if (!r.ok) throw new Error(r.reason)
  return r.event as PrivacyIncidentEvent
}

function rejected(raw: unknown) {
  const r = mapOcsfFinding(raw)
  if (r.ok) throw new Error('expected a rejection')
  return r
}

describe('OCSF Incident Finding (2005) → privacy incident', () => {
  it('maps a Create: ids, severity, awareness from created_time, occurrence from start_time', () => {
    const e = mapped(
      incidentFinding({
        incidentId: 'SOC-77',
        time: T0 + H,
        createdTime: T0,
        startTime: T0 - 2 * H,
        severity: 5,
        suspectedBreach: true,
        eventUid: 'evt-1',
      }),
    )
    expect(e).toMatchObject({
      specversion: '1.0',
      id: 'evt-1',
      type: 'aims.privacy_incident.v1',
      source: '/ocsf/example-soar/incident-desk',
      time: iso(T0 + H),
      subject: 'SOC-77',
      data: {
        incidentId: 'SOC-77',
        status: 'detected',
        severity: 'critical',
        category: 'other',
        occurredAt: iso(T0 - 2 * H),
        detectedAt: iso(T0),
        notifiable: true,
        recordsAffected: 0,
      },
    })
  })

  it.each([
    [1, 'low'],
    [2, 'low'],
    [3, 'medium'],
    [4, 'high'],
    [5, 'critical'],
    [6, 'critical'],
  ])('severity_id %i → %s', (severityId, severity) => {
    const e = mapped(incidentFinding({ incidentId: 'S', time: T0, createdTime: T0, severity: severityId }))
    expect(e.data.severity).toBe(severity)
  })

  it('reads what OCSF lacks from unmapped.aims: containment, notification, records, category, controls', () => {
    const e = mapped(
      incidentFinding({
        incidentId: 'SOC-78',
        activity: 2,
        status: 2,
        time: T0 + 30 * H,
        createdTime: T0,
        aims: {
          detectedAt: iso(T0 + H), // awareness later than the tool's finding
          containedAt: T0 + 5 * H, // epoch ms are accepted too
          regulatorNotifiedAt: iso(T0 + 28 * H),
          notifiable: true,
          category: 'misdirected_email',
          businessUnit: 'retail',
          recordsAffected: 312,
          dataSubjectsAffected: 300,
          controls: ['ISO27001:A.5.24'],
        },
      }),
    )
    expect(e.data).toMatchObject({
      status: 'notified',
      detectedAt: iso(T0 + H),
      containedAt: iso(T0 + 5 * H),
      regulatorNotifiedAt: iso(T0 + 28 * H),
      category: 'misdirected_email',
      businessUnit: 'retail',
      recordsAffected: 312,
      dataSubjectsAffected: 300,
      controls: ['ISO27001:A.5.24'],
    })
  })

  it('reads the notification clocks from unmapped.aims: awareness, classification, regimes, reports', () => {
    const e = mapped(
      incidentFinding({
        incidentId: 'SOC-79',
        time: T0 + 30 * H,
        createdTime: T0,
        suspectedBreach: true,
        aims: {
          awarenessAt: T0 + 2 * H,
          classifiedAt: iso(T0 + 3 * H),
          regimes: ['nis2', 'dora'],
          jurisdictions: ['EU', 'DE'],
          reports: [{ regime: 'nis2', step: 'early_warning', sentAt: T0 + 20 * H }],
        },
      }),
    )
    expect(e.data).toMatchObject({
      detectedAt: iso(T0),
      awarenessAt: iso(T0 + 2 * H),
      classifiedAt: iso(T0 + 3 * H),
      regimes: ['nis2', 'dora'],
      jurisdictions: ['EU', 'DE'],
      reports: [{ regime: 'nis2', step: 'early_warning', sentAt: iso(T0 + 20 * H) }],
    })
    // The contract's rules apply, named by the OCSF attribute: no awareness before detection.
    const early = rejected(
      incidentFinding({ incidentId: 'SOC-80', time: T0, createdTime: T0, aims: { awarenessAt: T0 - H } }),
    )
    expect(early.reason).toMatch(/^unmapped\.aims\.awarenessAt \(data\.awarenessAt\): /)
    // Malformed clock fields are refused naming the attribute, never passed on or dropped.
    const bad = (aims: Record<string, unknown>) =>
      rejected(incidentFinding({ incidentId: 'SOC-81', time: T0, createdTime: T0, aims })).reason
    expect(bad({ regimes: 'nis2' })).toMatch(/unmapped\.aims\.regimes/)
    expect(bad({ regimes: ['nis9'] })).toMatch(/unmapped\.aims\.regimes/)
    expect(bad({ reports: [{ regime: 'nis2', step: 'early_warning', sentAt: 'yesterday' }] })).toMatch(
      /unmapped\.aims\.reports/,
    )
    expect(bad({ reports: [{ regime: 'nis2', step: 'early_warning', sentAt: T0, by: 'x' }] })).toMatch(
      /unmapped\.aims\.reports/,
    )
    expect(bad({ classifiedAt: -1e20 })).toMatch(/unmapped\.aims\.classifiedAt/)
  })

  it('an open incident with a containment time is contained', () => {
    const e = mapped(
      incidentFinding({
        incidentId: 'S',
        activity: 2,
        status: 2,
        time: T0 + 3 * H,
        createdTime: T0,
        aims: { containedAt: iso(T0 + 2 * H) },
      }),
    )
    expect(e.data.status).toBe('contained')
  })

  it('Resolved and Closed take their time from the event; containment falls back to the resolution', () => {
    const resolved = mapped(
      incidentFinding({ incidentId: 'S', activity: 2, status: 4, time: T0 + 10 * H, createdTime: T0 }),
    )
    expect(resolved.data).toMatchObject({
      status: 'resolved',
      resolvedAt: iso(T0 + 10 * H),
      containedAt: iso(T0 + 10 * H),
    })
    const closed = mapped(
      incidentFinding({
        incidentId: 'S',
        activity: 3,
        status: 5,
        time: T0 + 20 * H,
        createdTime: T0,
        aims: { containedAt: iso(T0 + 4 * H), resolvedAt: iso(T0 + 12 * H) },
      }),
    )
    expect(closed.data).toMatchObject({
      status: 'closed',
      containedAt: iso(T0 + 4 * H),
      resolvedAt: iso(T0 + 12 * H),
      closedAt: iso(T0 + 20 * H),
    })
  })

  it('without metadata.correlation_uid the first finding names the incident; without metadata.uid the id is derived', () => {
    const raw = incidentFinding({ incidentId: 'X', time: T0, createdTime: T0 })
    const meta = raw.metadata as Record<string, unknown>
    delete meta.correlation_uid
    delete meta.uid
    const e = mapped(raw)
    expect(e.data.incidentId).toBe('X-F1')
    expect(e.id).toBe(`ocsf-2005-X-F1-1-${T0}`)
    // The same report maps to the same id: a redelivery is stored once.
    expect(mapped(raw).id).toBe(e.id)
  })

  describe('rejections name the OCSF attribute', () => {
    it('missing required attributes', () => {
      const raw = incidentFinding({ incidentId: 'S', time: T0, createdTime: T0 })
      delete raw.finding_info_list
      delete raw.severity_id
      const r = rejected(raw)
      expect(r.errorType).toBe('invalid_data')
      expect(r.reason).toContain('severity_id: is required')
      expect(r.reason).toContain('finding_info_list: is required')
    })

    it('a base-event attribute is an envelope problem', () => {
      const raw = incidentFinding({ incidentId: 'S', time: T0, createdTime: T0 })
      delete raw.metadata
      expect(rejected(raw)).toMatchObject({ errorType: 'invalid_envelope', reason: 'metadata: is required' })
      const wrongType = {
        ...incidentFinding({ incidentId: 'S', time: T0, createdTime: T0 }),
        type_uid: 200503,
      }
      expect(rejected(wrongType).reason).toBe(
        'type_uid: must be class_uid × 100 + activity_id = 200501, got 200503',
      )
    })

    it('another OCSF class is an unknown type', () => {
      const r = rejected({
        ...incidentFinding({ incidentId: 'S', time: T0, createdTime: T0 }),
        class_uid: 4001,
      })
      expect(r.errorType).toBe('unknown_type')
      expect(r.reason).toContain('class_uid: "4001" is not an OCSF class this topic accepts')
    })

    it('no awareness time at all', () => {
      const r = rejected(incidentFinding({ incidentId: 'S', time: T0 }))
      expect(r.reason).toMatch(/^unmapped\.aims\.detectedAt \(data\.detectedAt\): is required when no/)
    })

    it('Unknown and Other have no privacy-incident equivalent', () => {
      expect(
        rejected(incidentFinding({ incidentId: 'S', time: T0, createdTime: T0, severity: 99 })).reason,
      ).toMatch(/^severity_id: 99 \(Other\) has no privacy-incident severity/)
      expect(
        rejected(incidentFinding({ incidentId: 'S', time: T0, createdTime: T0, status: 0 })).reason,
      ).toMatch(/^status_id: 0 \(Unknown\) has no privacy-incident status/)
    })

    it('contract rules are enforced and reported against the OCSF attribute', () => {
      const r = rejected(
        incidentFinding({
          incidentId: 'S',
          time: T0,
          createdTime: T0,
          startTime: T0 + H, // starts after it was found
          aims: { category: 'ai_data_exposure', controls: ['ISO27001:A.5.99'] },
        }),
      )
      expect(r.errorType).toBe('invalid_data')
      expect(r.reason).toContain('finding_info_list[].created_time (data.detectedAt): detectedAt')
      expect(r.reason).toContain(
        'unmapped.aims.aiSystemId (data.aiSystemId): is required when category is "ai_data_exposure"',
      )
      expect(r.reason).toContain('unmapped.aims.controls[0] (data.controls[0]): "A.5.99" is not a clause')
    })

    it('a misspelt extension field is refused, not ignored', () => {
      const r = rejected(
        incidentFinding({ incidentId: 'S', time: T0, createdTime: T0, aims: { containedTime: T0 } }),
      )
      expect(r.reason).toBe('unmapped.aims.containedTime: unknown field')
    })

    it('times are epoch milliseconds', () => {
      const r = rejected({
        ...incidentFinding({ incidentId: 'S', time: T0, createdTime: T0 }),
        time: '2026-03-02',
      })
      expect(r).toMatchObject({ errorType: 'invalid_envelope' })
      expect(r.reason).toMatch(/^time: must be number/)
    })
  })
})

describe('OCSF Data Security Finding (2006)', () => {
  it('about personal data: a data-leak privacy incident', () => {
    const e = mapped(
      dataSecurityFinding({
        findingId: 'DLP-1',
        time: T0,
        createdTime: T0,
        categoryId: 1,
        suspectedBreach: true,
      }),
    )
    expect(e.data).toMatchObject({
      incidentId: 'DLP-1',
      category: 'data_leak',
      severity: 'medium',
      notifiable: true,
      status: 'detected',
    })
  })

  it('suppressed (a false positive): closed and not notifiable', () => {
    const e = mapped(
      dataSecurityFinding({
        findingId: 'DLP-2',
        time: T0,
        createdTime: T0,
        categoryId: 1,
        status: 3,
        suspectedBreach: true,
      }),
    )
    expect(e.data).toMatchObject({ status: 'closed', notifiable: false })
  })

  it('about other data (secrets, financial): refused with the reason', () => {
    const r = rejected(dataSecurityFinding({ findingId: 'DLP-3', time: T0, createdTime: T0, categoryId: 6 }))
    expect(r.reason).toMatch(/^data_security\.category_id: 6 \(Security\) is not personal data/)
  })
})

describe('decodeOcsfMessage', () => {
  const good = Buffer.from(JSON.stringify(incidentFinding({ incidentId: 'S', time: T0, createdTime: T0 })))

  it('decodes a JSON value', () => {
    expect(decodeOcsfMessage({ value: good }, 1_000_000)).toMatchObject({ ok: true, mode: 'structured' })
  })

  it('fails like the native decoder on empty, oversized and non-JSON values', () => {
    expect(decodeOcsfMessage({ value: null }, 1000)).toMatchObject({ ok: false, errorType: 'empty' })
    expect(decodeOcsfMessage({ value: good }, 10)).toMatchObject({ ok: false, errorType: 'too_large' })
    expect(decodeOcsfMessage({ value: Buffer.from('{') }, 1000)).toMatchObject({
      ok: false,
      errorType: 'not_json',
    })
    expect(
      decodeOcsfMessage({ value: good, headers: { 'content-type': 'text/plain' } }, 1_000_000),
    ).toMatchObject({ ok: false, errorType: 'invalid_envelope' })
  })

  it('never throws on hostile input', () => {
    const hostile = [
      '[]',
      '"x"',
      'null',
      '{"class_uid":2005,"metadata":[]}',
      '{"__proto__":{"x":1},"class_uid":2006}',
    ]
    for (const v of hostile) expect(decodeOcsfMessage({ value: Buffer.from(v) }, 1000).ok).toBe(false)
  })
})
