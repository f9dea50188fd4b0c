import { describe, expect, it } from 'vitest'
import {
  breachSource,
  buildNonconformityEvent,
  eventIdOf,
  findingIdOf,
} from '../../../services/processor/nonconformity/finding.js'
import { auditFindingEventSchema } from '../../../shared/events/audit-finding.js'
import { KPIS } from '../../../shared/kpi/catalog.js'
import {
  nonconformityReferences,
  primaryReference,
  resolveNonconformity,
} from '../../../shared/kpi/nonconformity.js'
import { parseAimsConfig } from '../../../shared/kpi/thresholds.js'

const kpi = (id: string) => KPIS.find((k) => k.id === id)!
const DAY = 86_400_000
const T0 = Date.parse('2026-11-30T08:00:00Z')

const episode = {
  breachId: '0123456789abcdef0123456789abcdef-1764489600000',
  fingerprint: '0123456789abcdef0123456789abcdef',
  kpiId: 'privacy.incidents_opened',
  scope: { severity: 'critical' },
  startedAt: T0 - 4 * 3_600_000,
  criticalSince: T0 - 4 * 3_600_000,
}
const settings = resolveNonconformity(kpi('privacy.incidents_opened'), { after: '4h', dueInDays: 14 })

describe('the nonconformity event of a breach', () => {
  it('is a valid v1 audit finding that names the breach and derives its ids from it', () => {
    const e = buildNonconformityEvent(kpi('privacy.incidents_opened'), episode, settings, {
      raisedAt: T0,
      openedBy: 'timer',
    })
    expect(auditFindingEventSchema.safeParse(e).success).toBe(true)
    expect(e.id).toBe(eventIdOf(episode.breachId))
    expect(e.data.findingId).toBe(findingIdOf(episode.breachId))
    expect(e.source).toBe(breachSource(episode.breachId))
    expect(e.subject).toBe(episode.breachId)
    expect(e.breachid).toBe(episode.breachId)
    expect(e.data).toMatchObject({
      auditType: 'internal',
      auditId: 'kpi-monitoring',
      kind: 'minor_nc',
      status: 'open',
      standard: 'ISO27001',
      clause: 'A.5.24',
      raisedAt: new Date(T0).toISOString(),
      dueAt: new Date(T0 + 14 * DAY).toISOString(),
    })
    expect(e.data.repeatOf).toBeUndefined()
    expect(e.data.title).toContain('critical for 4h')
    expect(e.data.title).toContain('severity=critical')
  })

  it('cites 9.1 and 10.2 of both standards, then the KPI’s own references', () => {
    const e = buildNonconformityEvent(kpi('privacy.incidents_opened'), episode, settings, {
      raisedAt: T0,
      openedBy: 'timer',
    })
    const refs = String(e.isorefs).split(' ')
    expect(refs.slice(0, 4)).toEqual(['ISO27001:9.1', 'ISO27001:10.2', 'ISO42001:9.1', 'ISO42001:10.2'])
    expect(refs).toContain('ISO27001:A.5.24')
    expect(refs).toContain('ISO42001:A.8.4')
    expect(new Set(refs).size).toBe(refs.length)
  })

  it('is the same event whoever builds it for the same episode and time', () => {
    const build = () =>
      buildNonconformityEvent(kpi('privacy.incidents_opened'), episode, settings, {
        raisedAt: T0,
        openedBy: 'timer',
      })
    expect(JSON.stringify(build())).toBe(JSON.stringify(build()))
  })

  it('marks a later episode as a repeat of the earlier finding', () => {
    const second = { ...episode, breachId: `${episode.fingerprint}-${T0 + DAY}`, startedAt: T0 + DAY }
    const e = buildNonconformityEvent(kpi('privacy.incidents_opened'), second, settings, {
      raisedAt: T0 + 2 * DAY,
      openedBy: 'timer',
      repeatOf: findingIdOf(episode.breachId),
    })
    expect(e.data.repeatOf).toBe(findingIdOf(episode.breachId))
    expect(e.data.findingId).not.toBe(e.data.repeatOf)
  })

  it('says who asked, and why, when opened on request; a long title is cut to the contract’s limit', () => {
    const e = buildNonconformityEvent(
      kpi('model.accuracy'),
      { ...episode, kpiId: 'model.accuracy', scope: { model_id: 'm'.repeat(200), model_version: '1' } },
      resolveNonconformity(kpi('model.accuracy'), undefined),
      { raisedAt: T0, openedBy: 'request', requestedBy: 'alice', reason: 'r'.repeat(300) },
    )
    expect(e.data.title).toContain('requested by alice')
    expect(e.data.title.length).toBeLessThanOrEqual(500)
    // A model KPI is filed under ISO 42001, against the control it evidences.
    expect(e.data).toMatchObject({ standard: 'ISO42001', clause: 'A.6.2.4' })
    expect(auditFindingEventSchema.safeParse(e).success).toBe(true)
  })
})

describe('where a breach nonconformity is filed', () => {
  it('is a real clause or control of its standard for every KPI of the catalog', () => {
    for (const k of KPIS) {
      const { standard, clause } = primaryReference(k)
      const e = buildNonconformityEvent(k, { ...episode, kpiId: k.id }, settings, {
        raisedAt: T0,
        openedBy: 'timer',
      })
      expect(e.data, k.id).toMatchObject({ standard, clause })
      expect(clause, k.id).not.toBe('9.1')
      for (const r of nonconformityReferences(k)) expect(r, k.id).toMatch(/^ISO(27001|42001):/)
    }
  })
})

describe('the nonconformity section of the config file', () => {
  it('resolves the defaults, the section and a KPI entry in that order', () => {
    const config = parseAimsConfig({
      nonconformity: {
        after: '2h',
        dueInDays: 10,
        kpis: {
          'privacy.mttc_hours': { after: '30m', kind: 'major_nc' },
          'model.accuracy': { enabled: false },
        },
      },
    }).nonconformity
    expect(resolveNonconformity(kpi('privacy.mttc_hours'), config)).toMatchObject({
      byTime: true,
      afterMs: 30 * 60_000,
      dueInDays: 10,
      kind: 'major_nc',
    })
    expect(resolveNonconformity(kpi('privacy.mttd_hours'), config)).toMatchObject({
      byTime: true,
      afterMs: 2 * 3_600_000,
      kind: 'minor_nc',
    })
    expect(resolveNonconformity(kpi('model.accuracy'), config).byTime).toBe(false)
    // Audit KPIs are about findings already: off unless turned on.
    expect(resolveNonconformity(kpi('audit.open_major_ncs'), config).byTime).toBe(false)
    // Without the section nothing is opened by time.
    expect(resolveNonconformity(kpi('privacy.mttc_hours'), undefined)).toMatchObject({
      byTime: false,
      afterMs: 24 * 3_600_000,
      dueInDays: 30,
    })
  })

  it('rejects bad values naming the field', () => {
    expect(() => parseAimsConfig({ nonconformity: { after: 'soon' } }, 'aims.yaml')).toThrow(
      /aims\.yaml: nonconformity\.after: expected a duration/,
    )
    expect(() => parseAimsConfig({ nonconformity: { dueInDays: 0 } }, 'aims.yaml')).toThrow(
      /nonconformity\.dueInDays: must be at least 1 day/,
    )
    expect(() => parseAimsConfig({ nonconformity: { kpis: { 'privacy.nope': {} } } }, 'aims.yaml')).toThrow(
      /nonconformity\.kpis: unknown key "privacy\.nope"/,
    )
    expect(() => parseAimsConfig({ nonconformity: { kind: 'observation' } }, 'aims.yaml')).toThrow(
      /nonconformity\.kind/,
    )
    expect(() => parseAimsConfig({ nonconformity: { afterr: '1h' } }, 'aims.yaml')).toThrow(
      /nonconformity: unknown key "afterr"/,
    )
  })
})
