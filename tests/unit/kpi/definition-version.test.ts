import { describe, expect, it } from 'vitest'
import { getKpi } from '../../../shared/kpi/catalog.js'
import { canonicalJson, kpiDefinitionVersion } from '../../../shared/kpi/definition-version.js'
import { parseAimsConfig } from '../../../shared/kpi/thresholds.js'

describe('KPI definition version', () => {
  const kpi = getKpi('privacy.mttc_hours')

  it('is stable for the same definition and config, whatever the key order', () => {
    expect(kpiDefinitionVersion(kpi)).toBe(kpiDefinitionVersion({ ...kpi }))
    expect(kpiDefinitionVersion(kpi)).toMatch(/^[0-9a-f]{12}$/)
    expect(canonicalJson({ b: 1, a: { d: 2, c: 3 } })).toBe(canonicalJson({ a: { c: 3, d: 2 }, b: 1 }))
  })

  it('changes when a threshold changes, in the catalog or in the config file', () => {
    const base = kpiDefinitionVersion(kpi)
    const edited = { ...kpi, thresholds: { ...kpi.thresholds, critical: 48 } }
    expect(kpiDefinitionVersion(edited)).not.toBe(base)
    const config = parseAimsConfig({ kpis: { 'privacy.mttc_hours': { critical: 12 } } })
    expect(kpiDefinitionVersion(kpi, config)).not.toBe(base)
  })

  it("does not change when the config changes another KPI's entry", () => {
    const config = parseAimsConfig({ kpis: { 'audit.open_major_ncs': { critical: 3 } } })
    expect(kpiDefinitionVersion(kpi, config)).toBe(kpiDefinitionVersion(kpi))
  })
})
