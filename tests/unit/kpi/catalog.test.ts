import { describe, expect, it } from 'vitest'
import { isKnownReference } from '../../../shared/iso/index.js'
import {
  findKpi,
  formatNowParam,
  getKpi,
  KPIS,
  kpiDefinitionSchema,
  kpiIds,
  kpiQueryParams,
} from '../../../shared/kpi/catalog.js'
import { coveredBy, dirtyFromScopes } from '../../../shared/kpi/run.js'

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

  it('follows the SQL rules: {now}, no now(), no FINAL, declared filters', () => {
    for (const kpi of KPIS) {
      expect(kpi.sql).not.toMatch(/\bnow(64)?\s*\(/i)
      expect(kpi.sql).not.toMatch(/\bFINAL\b/)
      if (kpi.timeDriven) expect(kpi.sql).toContain('{now:DateTime64(3)}')
      for (const f of kpi.filters) expect(kpi.sql).toContain(`{${f.param}:Array(String)}`)
    }
    for (const kpi of KPIS.filter((k) => k.area === 'model')) {
      expect(kpi.filters).toEqual([{ label: 'model_id', param: 'model_ids' }])
    }
  })

  it('batches KPIs that share a source: 5 queries for the whole catalog', () => {
    const queries = new Set(KPIS.map((k) => k.batch?.sql ?? k.sql))
    expect(queries.size).toBe(5)
    const byBatch = new Map<string, Set<string>>()
    for (const k of KPIS) {
      if (!k.batch) continue
      byBatch.set(k.batch.id, (byBatch.get(k.batch.id) ?? new Set()).add(k.batch.sql))
      expect(k.sql).toContain(k.batch.sql)
    }
    for (const sqls of byBatch.values()) expect(sqls.size).toBe(1)
  })

  it('rejects an inconsistent definition', () => {
    const good = getKpi('model.accuracy')
    const bad = { ...good, thresholds: { ...good.thresholds, op: 'gt' as const } }
    expect(kpiDefinitionSchema.safeParse(bad).success).toBe(false)
    const callsNow = { ...good, sql: 'SELECT now() AS value' }
    expect(kpiDefinitionSchema.safeParse(callsNow).success).toBe(false)
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

  it('fills every declared filter, empty meaning all', () => {
    const now = new Date('2026-01-01T00:00:00.000Z')
    const acc = getKpi('model.accuracy')
    expect(kpiQueryParams(acc, now)).toEqual({ now: '1767225600.000', model_ids: [] })
    expect(kpiQueryParams(acc, now, { model_id: ['a', 'b', 'a'] })).toEqual({
      now: '1767225600.000',
      model_ids: ['a', 'b'],
    })
    expect(kpiQueryParams(getKpi('audit.open_major_ncs'), now, { model_id: ['a'] })).toEqual({
      now: '1767225600.000',
    })
  })

  it('derives dirty scopes from trigger scopes and tells which series an evaluation covered', () => {
    const { areas, dirty } = dirtyFromScopes([
      { area: 'model', modelId: 'm1', modelVersion: '2', environment: 'production', businessUnit: '' },
      { area: 'privacy', incidentId: 'INC-1', businessUnit: '' },
      {
        area: 'audit',
        standard: 'ISO27001',
        clause: 'A.5.24',
        auditId: 'A1',
        findingId: 'F1',
        businessUnit: '',
      },
    ] as Parameters<typeof dirtyFromScopes>[0])
    expect([...areas].sort()).toEqual(['audit', 'model', 'privacy'])
    expect(dirty).toEqual({ model_id: ['m1'], incident_id: ['INC-1'] })
    const acc = getKpi('model.accuracy')
    expect(coveredBy(acc, { model_id: 'm1', model_version: '1' }, dirty)).toBe(true)
    expect(coveredBy(acc, { model_id: 'm2', model_version: '1' }, dirty)).toBe(false)
    expect(coveredBy(acc, { model_id: 'm2', model_version: '1' })).toBe(true)
    expect(coveredBy(getKpi('audit.open_major_ncs'), { standard: 'ISO27001', clause: 'A.5.1' }, dirty)).toBe(
      true,
    )
  })
})
