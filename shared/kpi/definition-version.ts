import { createHash } from 'node:crypto'
import type { KpiDefinition } from './catalog.js'
import type { LifecycleConfig } from './lifecycle.js'
import { referenceSql } from './sql.js'
import type { ResolverConfig } from './thresholds.js'

/**
 * A KPI definition's version: a content hash of everything that decides its values and breaches — the
 * catalog entry (window, scope, thresholds, breach policy, references), the config file's entry for it
 * (threshold overrides, fairness settings and the fairness defaults a fairness KPI inherits) and the SQL
 * its area is computed with. Two evaluations with the same version used the same definition, so a value
 * can be traced to the definition that produced it and a change of definition splits a series' history.
 */
export interface DefinitionContent {
  definition: KpiDefinition
  config: unknown
  fairnessDefaults: unknown
  /** sha256 of the area's reference SQL (event-time axis): a change of computation changes the version. */
  sqlSha256: string
  /** The `lifecycle:` entries of its area and of itself, when there are any (absent: versions as before). */
  lifecycle?: { area: unknown; kpi: unknown }
}

/** Hex digits kept: 48 bits, far from colliding among a catalog's few hundred versions. */
const VERSION_LENGTH = 12

export function definitionContent(kpi: KpiDefinition, config?: ResolverConfig): DefinitionContent {
  return {
    definition: kpi,
    config: config?.kpis?.[kpi.id] ?? null,
    fairnessDefaults: kpi.fairness ? (config?.fairness ?? null) : null,
    sqlSha256: sha256(referenceSql[kpi.area]('event_time', config)),
    ...lifecycleContent(kpi, config),
  }
}

/** How breaches resolve and go stale decides breaches too; only present when configured. */
function lifecycleContent(kpi: KpiDefinition, config?: ResolverConfig): Pick<DefinitionContent, 'lifecycle'> {
  const lifecycle = (config as { lifecycle?: LifecycleConfig } | undefined)?.lifecycle
  const area = lifecycle?.[kpi.area] ?? null
  const own = lifecycle?.[kpi.id] ?? null
  return area === null && own === null ? {} : { lifecycle: { area, kpi: own } }
}

/** The version of `kpi` under `config`: stable across processes, key order and restarts. */
export function kpiDefinitionVersion(kpi: KpiDefinition, config?: ResolverConfig): string {
  return sha256(canonicalJson(definitionContent(kpi, config))).slice(0, VERSION_LENGTH)
}

/** JSON with object keys sorted at every level, so equal content always hashes the same. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  )
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}
