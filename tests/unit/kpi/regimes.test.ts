import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parseEvent } from '../../../shared/events/index.js'
import { getKpi } from '../../../shared/kpi/catalog.js'
import { regimeClockMigration } from '../../../shared/kpi/regime-state.js'
import {
  addCalendarMonths,
  clockRatio,
  getRegime,
  markTime,
  type RegimeIncidentFacts,
  regimeClocks,
  regimeKpiId,
} from '../../../shared/kpi/regimes.js'
import { applicableRegimes, regimesConfigSchema } from '../../../shared/kpi/regimes-config.js'
import { parseAimsConfig } from '../../../shared/kpi/thresholds.js'

const HOUR = 3_600_000
const t = (iso: string) => Date.parse(iso)
const iso = (ms: number) => new Date(ms).toISOString()

function facts(o: Partial<RegimeIncidentFacts> = {}): RegimeIncidentFacts {
  return {
    incidentId: 'INC-1',
    detectedAt: t('2026-03-02T10:00:00Z'),
    awarenessAt: null,
    classifiedAt: null,
    notifiable: false,
    notifiedAt: null,
    businessUnit: 'payments',
    category: 'data_leak',
    severity: 'high',
    regimes: [],
    jurisdictions: [],
    reports: new Map(),
    ...o,
  }
}

describe('calendar months', () => {
  it('clamps to the last day of a shorter month and keeps the time of day', () => {
    expect(iso(addCalendarMonths(t('2026-01-31T13:45:10.250Z'), 1))).toBe('2026-02-28T13:45:10.250Z')
    expect(iso(addCalendarMonths(t('2028-01-31T00:00:00Z'), 1))).toBe('2028-02-29T00:00:00.000Z')
    expect(iso(addCalendarMonths(t('2026-03-31T09:00:00Z'), 1))).toBe('2026-04-30T09:00:00.000Z')
    expect(iso(addCalendarMonths(t('2026-12-15T09:00:00Z'), 1))).toBe('2027-01-15T09:00:00.000Z')
    expect(iso(addCalendarMonths(t('2026-02-28T09:00:00Z'), 1))).toBe('2026-03-28T09:00:00.000Z')
  })
})

describe('NIS2 Art. 23', () => {
  const nis2 = getRegime('nis2')
  const aware = t('2026-03-02T12:00:00Z')
  const f = facts({ awarenessAt: aware, regimes: ['nis2'] })
  const step = (x: RegimeIncidentFacts, now: number, id: string) =>
    regimeClocks(x, nis2, now).find((c) => c.step === id)!

  it('early warning due 24 h and notification 72 h after awareness; the final report waits for the notification', () => {
    const now = aware + 10 * HOUR
    expect(step(f, now, 'early_warning')).toMatchObject({ state: 'running', dueAt: aware + 24 * HOUR })
    expect(step(f, now, 'notification')).toMatchObject({ state: 'running', dueAt: aware + 72 * HOUR })
    expect(step(f, now, 'final_report')).toMatchObject({ state: 'waiting', dueAt: null, startedAt: null })
    expect(step(f, aware + 24 * HOUR, 'early_warning').state).toBe('overdue')
    expect(step(f, aware + 24 * HOUR - 1, 'early_warning').state).toBe('running')
  })

  it('each report stops its step; the final report is due one calendar month after the notification', () => {
    const notified = t('2026-03-31T08:00:00Z')
    const sent = facts({
      awarenessAt: aware,
      reports: new Map([
        ['nis2/early_warning', aware + 20 * HOUR],
        ['nis2/notification', notified],
      ]),
    })
    const now = notified + HOUR
    expect(step(sent, now, 'early_warning')).toMatchObject({ state: 'sent', ratio: null })
    expect(step(sent, now, 'notification')).toMatchObject({ state: 'sent_late' })
    expect(step(sent, now, 'final_report')).toMatchObject({
      state: 'running',
      startedAt: notified,
      dueAt: t('2026-04-30T08:00:00Z'),
    })
  })

  it('awareness defaults to detection (a v1 producer)', () => {
    const v1 = facts({ regimes: ['nis2'] })
    expect(step(v1, v1.detectedAt, 'early_warning').dueAt).toBe(v1.detectedAt + 24 * HOUR)
  })
})

describe('DORA', () => {
  const dora = getRegime('dora')
  const detected = t('2026-03-02T10:00:00Z')
  const initial = (x: RegimeIncidentFacts, now: number) => regimeClocks(x, dora, now)[0]!

  it('the initial notification is due 4 h after classification', () => {
    const classified = detected + 2 * HOUR
    const c = initial(facts({ classifiedAt: classified }), classified + HOUR)
    expect(c).toMatchObject({ state: 'running', dueAt: classified + 4 * HOUR, startedAt: detected })
  })

  it('and at most 24 h after detection, classified or not', () => {
    expect(initial(facts(), detected + HOUR).dueAt).toBe(detected + 24 * HOUR)
    const late = facts({ classifiedAt: detected + 22 * HOUR })
    expect(initial(late, detected + 23 * HOUR).dueAt).toBe(detected + 24 * HOUR)
  })

  it('the intermediate report runs 72 h from the initial notification, the final one month from the intermediate', () => {
    const sentInitial = detected + 3 * HOUR
    const sentIntermediate = t('2026-03-04T09:00:00Z')
    const x = facts({
      classifiedAt: detected + HOUR,
      reports: new Map([
        ['dora/initial', sentInitial],
        ['dora/intermediate', sentIntermediate],
      ]),
    })
    const [a, b, c] = regimeClocks(x, dora, sentIntermediate)
    expect(a!.state).toBe('sent')
    expect(b).toMatchObject({ state: 'sent', dueAt: sentInitial + 72 * HOUR })
    expect(c).toMatchObject({ state: 'running', dueAt: t('2026-04-04T09:00:00Z') })
  })
})

describe('without undue delay', () => {
  it('is never late, however long the step stays open', () => {
    const art34 = getRegime('gdpr_art34')
    const f = facts({ regimes: ['gdpr_art34'] })
    for (const later of [0, 72 * HOUR, 365 * 24 * HOUR]) {
      const [c] = regimeClocks(f, art34, f.detectedAt + later)
      expect(c).toMatchObject({ state: 'no_deadline', dueAt: null, ratio: null })
    }
  })

  it('has no KPI (it cannot breach)', () => {
    expect(() => getKpi(regimeKpiId('gdpr_art34', 'communication'))).toThrow(/unknown KPI/)
  })
})

describe('marks', () => {
  it('fire at the first millisecond the ratio reaches the threshold', () => {
    const start = t('2026-03-02T10:00:00Z')
    const due = addCalendarMonths(start, 1)
    for (const th of [0.75, 1, 0.333, 0.9]) {
      const at = markTime(start, due, th)
      expect(clockRatio(start, due, at)).toBeGreaterThanOrEqual(th)
      expect(clockRatio(start, due, at - 1)).toBeLessThan(th)
    }
    expect(markTime(start, start + 24 * HOUR, 0.75)).toBe(start + 18 * HOUR)
    expect(markTime(start, start + 24 * HOUR, 1)).toBe(start + 24 * HOUR)
  })
})

describe('which regimes apply', () => {
  const config = regimesConfigSchema.parse({
    rules: [
      { match: { jurisdiction: ['EU'], business_unit: 'payments' }, apply: ['nis2', 'dora'] },
      { match: { category: 'data_leak', jurisdiction: 'US' }, apply: ['hipaa'] },
    ],
  })

  it('GDPR Art. 33 follows notifiable; the event names the others, else the config rules on labels', () => {
    expect([...applicableRegimes(facts({ notifiable: true }), config)]).toEqual(['gdpr_art33'])
    expect([...applicableRegimes(facts({ jurisdictions: ['EU'] }), config)]).toEqual(['nis2', 'dora'])
    expect([...applicableRegimes(facts({ jurisdictions: ['US', 'EU'] }), config)]).toEqual([
      'nis2',
      'dora',
      'hipaa',
    ])
    expect([...applicableRegimes(facts({ jurisdictions: ['EU'], businessUnit: 'retail' }), config)]).toEqual(
      [],
    )
    // The event's own list wins over the rules.
    expect([...applicableRegimes(facts({ jurisdictions: ['EU'], regimes: ['hipaa'] }), config)]).toEqual([
      'hipaa',
    ])
  })

  it('config errors name the field', () => {
    expect(() =>
      parseAimsConfig({ regimes: { rules: [{ match: {}, apply: ['nis2'] }] } }, 'aims.yaml'),
    ).toThrow(/aims.yaml: regimes.rules\[0\].match: must name at least one label/)
    expect(() =>
      parseAimsConfig(
        { regimes: { rules: [{ match: { severity: 'high' }, apply: ['gdpr_art33'] }] } },
        'a.yaml',
      ),
    ).toThrow(/regimes.rules\[0\].apply\[0\]: gdpr_art33 applies to incidents marked notifiable/)
    expect(() =>
      parseAimsConfig({ regimes: { rules: [{ match: { region: 'EU' }, apply: ['nis2'] }] } }, 'a.yaml'),
    ).toThrow(/regimes.rules\[0\].match: unknown key "region"/)
  })
})

describe('incident contract: the regime fields', () => {
  const v1 = {
    specversion: '1.0',
    id: 'e-1',
    source: '/tests',
    type: 'aims.privacy_incident.v1',
    time: '2026-03-02T12:00:00Z',
    data: {
      incidentId: 'INC-1',
      status: 'detected',
      severity: 'high',
      category: 'data_leak',
      detectedAt: '2026-03-02T10:00:00Z',
      notifiable: true,
      recordsAffected: 1,
      dataSubjectsAffected: 1,
    },
  }
  const withData = (extra: Record<string, unknown>) => ({ ...v1, data: { ...v1.data, ...extra } })

  it('keeps a v1 event valid, with nothing added', () => {
    const r = parseEvent(v1)
    expect(r.ok).toBe(true)
  })

  it('accepts awareness, classification, regimes, jurisdictions and reports', () => {
    const r = parseEvent(
      withData({
        awarenessAt: '2026-03-02T11:00:00Z',
        classifiedAt: '2026-03-02T11:30:00Z',
        regimes: ['gdpr_art33', 'nis2', 'dora'],
        jurisdictions: ['EU', 'DE'],
        reports: [{ regime: 'nis2', step: 'early_warning', sentAt: '2026-03-03T09:00:00Z' }],
      }),
    )
    expect(r.ok).toBe(true)
  })

  it('rejects an unknown step, a report before detection and gdpr_art33 on a non-notifiable incident', () => {
    const bad = parseEvent(
      withData({
        notifiable: false,
        regimes: ['gdpr_art33'],
        reports: [{ regime: 'nis2', step: 'initial', sentAt: '2026-03-01T09:00:00Z' }],
      }),
    )
    expect(bad.ok).toBe(false)
    const reason = bad.ok ? '' : bad.reason
    expect(reason).toMatch(
      /reports\[0\]\.step.*"initial" is not a step of nis2 \(steps: early_warning, notification, final_report\)/,
    )
    expect(reason).toMatch(/reports\[0\]\.sentAt.*before detectedAt/)
    expect(reason).toMatch(/regimes.*notifiable is false/)
  })
})

describe('migration 0010', () => {
  it('is exactly what shared/kpi/regime-state.ts generates', () => {
    const file = readFileSync(
      new URL('../../../deploy/clickhouse/migrations/0010_regime_clocks.sql', import.meta.url),
      'utf8',
    )
    expect(file).toBe(regimeClockMigration())
  })
})
