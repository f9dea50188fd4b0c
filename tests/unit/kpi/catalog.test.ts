import { describe, expect, it } from 'vitest'
import { isKnownReference } from '../../../shared/iso/index.js'
import {
  findKpi,
  formatNowParam,
  getKpi,
  KPIS,
  kpiDefinitionSchema,
  kpiIds,
} from '../../../shared/kpi/catalog.js'
import { referenceSql } from '../../../shared/kpi/sql.js'
import { resolveThresholds } from '../../../shared/kpi/thresholds.js'

describe('KPI catalog', () => {
  it('holds the minimum set of the design, each a valid definition', () => {
    for (const id of [
      'privacy.incidents_opened',
      'privacy.records_affected',
      'privacy.mttd_hours',
      'privacy.mttc_hours',
      'privacy.mttr_hours',
      'privacy.notified_within_72h_ratio',
      'privacy.notification_clock_hours',
      'model.accuracy',
      'model.f1',
      'model.auc',
      'model.accuracy_drop_points',
      'model.demographic_parity_difference',
      'model.disparate_impact_ratio',
      'model.equalized_odds_difference',
      'model.accuracy_gap',
      'audit.open_major_ncs',
      'audit.open_minor_ncs',
      'audit.overdue_corrective_actions',
      'audit.mean_days_to_close',
      'audit.on_time_closure_rate',
      'audit.repeat_findings',
    ]) {
      expect(findKpi(id), id).toBeDefined()
    }
    expect(new Set(kpiIds).size).toBe(KPIS.length)
    for (const kpi of KPIS) expect(kpiDefinitionSchema.safeParse(kpi).success, kpi.id).toBe(true)
  })

  it('cites only clauses and Annex A controls that exist', () => {
    for (const kpi of KPIS) {
      for (const id of kpi.iso.iso27001)
        expect(isKnownReference('ISO27001', id), `${kpi.id} ISO27001 ${id}`).toBe(true)
      for (const id of kpi.iso.iso42001)
        expect(isKnownReference('ISO42001', id), `${kpi.id} ISO42001 ${id}`).toBe(true)
      expect(kpi.iso.iso27001.length + kpi.iso.iso42001.length).toBeGreaterThan(0)
    }
    expect(getKpi('privacy.mttc_hours').iso.iso27001).toEqual(
      expect.arrayContaining(['A.5.24', 'A.5.25', 'A.5.26', 'A.5.27', 'A.5.28', 'A.5.34']),
    )
    expect(getKpi('model.disparate_impact_ratio').iso.iso42001).toEqual(
      expect.arrayContaining(['A.5.4', 'A.6.2.6', 'A.7.4']),
    )
    expect(getKpi('audit.open_major_ncs').iso.iso27001).toEqual(expect.arrayContaining(['9.2', '10.2']))
  })

  it('has default thresholds consistent with the design', () => {
    const t = (id: string) => getKpi(id).thresholds
    expect(t('privacy.mttc_hours')).toMatchObject({ op: 'gt', warning: 24 })
    expect(t('privacy.notified_within_72h_ratio')).toMatchObject({ op: 'lt', warning: 1 })
    expect(t('privacy.notification_clock_hours')).toMatchObject({ op: 'gte', warning: 48, critical: 72 })
    expect(t('model.disparate_impact_ratio')).toMatchObject({ op: 'lt', warning: 0.8 })
    expect(t('model.demographic_parity_difference')).toMatchObject({ op: 'gt', warning: 0.1 })
    expect(t('model.equalized_odds_difference')).toMatchObject({ op: 'gt', warning: 0.1 })
    expect(t('model.accuracy_gap')).toMatchObject({ op: 'gt', warning: 0.05 })
    expect(t('model.accuracy_drop_points')).toMatchObject({ op: 'gt', warning: 5 })
    expect(t('audit.open_major_ncs')).toMatchObject({ op: 'gt', critical: 0 })
    expect(t('audit.overdue_corrective_actions')).toMatchObject({ op: 'gt', warning: 0 })
    expect(t('audit.on_time_closure_rate')).toMatchObject({ op: 'lt', warning: 0.9 })
    expect(t('audit.repeat_findings')).toMatchObject({ op: 'gte', warning: 2 })
    expect(getKpi('privacy.notification_clock_hours').timeDriven).toBe(true)
    expect(getKpi('audit.overdue_corrective_actions').timeDriven).toBe(true)
    expect(getKpi('model.accuracy').timeDriven).toBe(false)
  })

  it('has reference queries that take {now}, never call now() or read FINAL, and cover every KPI', () => {
    for (const [area, build] of Object.entries(referenceSql)) {
      for (const axis of [undefined, 'event_time', 'ingested_at'] as const) {
        const sql = build(axis)
        // Model KPIs do not change with time; as of a time, they read the facts known by then.
        if (area !== 'model' || axis) expect(sql, area).toContain('{now:DateTime64(3)}')
        expect(sql, area).not.toMatch(/\bnow(64)?\s*\(/i)
        expect(sql, area).not.toMatch(/\bFINAL\b/)
        if (axis) expect(sql, area).toContain(`${axis} <= {now:DateTime64(3)}`)
      }
      // Every KPI of the area once the configuration enables it (the parity set beyond the default is opt-in).
      const all = { kpis: Object.fromEntries(KPIS.map((k) => [k.id, { enabled: true }])) }
      for (const kpi of KPIS.filter((k) => k.area === area))
        expect(build(undefined, all), kpi.id).toContain(`'${kpi.id}'`)
    }
  })

  it('scopes model KPIs by environment and pages for production only unless configured', () => {
    for (const kpi of KPIS.filter((k) => k.area === 'model')) expect(kpi.scope).toContain('environment')
    const acc = getKpi('model.accuracy')
    const prod = { model_id: 'm', environment: 'production', model_version: '1' }
    expect(resolveThresholds(acc, prod).enabled).toBe(true)
    expect(resolveThresholds(acc, { ...prod, environment: 'staging' }).enabled).toBe(false)
    const config = {
      kpis: {
        'model.accuracy': { overrides: [{ match: { environment: 'staging' }, enabled: true, warning: 0.7 }] },
      },
    }
    expect(resolveThresholds(acc, { ...prod, environment: 'staging' }, config)).toMatchObject({
      enabled: true,
      warning: 0.7,
    })
  })

  it('rejects an inconsistent definition', () => {
    const good = getKpi('model.accuracy')
    const bad = { ...good, thresholds: { ...good.thresholds, op: 'gt' as const } }
    expect(kpiDefinitionSchema.safeParse(bad).success).toBe(false)
    const unknownField = { ...good, sql: 'SELECT 1 AS value' }
    expect(kpiDefinitionSchema.safeParse(unknownField).success).toBe(false)
    const badMatch = {
      ...good,
      thresholds: { ...good.thresholds, overrides: [{ match: { severity: 'x' }, warning: 1 }] },
    }
    expect(kpiDefinitionSchema.safeParse(badMatch).success).toBe(false)
  })
})

describe('query parameters', () => {
  it('formats now as unix seconds with milliseconds, whatever the time zone', () => {
    expect(formatNowParam(new Date('2026-01-01T00:00:00.123Z'))).toBe('1767225600.123')
    expect(formatNowParam(new Date('2026-01-01T00:00:00.000Z'))).toBe('1767225600.000')
    expect(formatNowParam(new Date(1_767_225_600_007))).toBe('1767225600.007')
    expect(() => formatNowParam(new Date(-1))).toThrow()
    expect(() => formatNowParam(new Date(Number.NaN))).toThrow()
  })
})
