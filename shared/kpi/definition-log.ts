import { type ClickHouse, queryRows } from '../clickhouse/client.js'
import { toClickHouseTime } from './breach-state.js'
import type { KpiDefinition } from './catalog.js'
import { canonicalJson, definitionContent, kpiDefinitionVersion } from './definition-version.js'
import type { ResolverConfig } from './thresholds.js'

/**
 * The log of KPI definition versions (table kpi_definition_changes, migration 0007): each version a KPI
 * has been evaluated with, when it was first used and which parts of the definition changed from the one
 * before. Written by whatever starts evaluating (the processor, a backfill) before it writes a value, so
 * every definition_version found in kpi_values, breach_transitions or kpi_history has its entry here.
 */

export interface DefinitionChangeRow {
  changed_at: string
  kpi_id: string
  /** '' for a KPI's first recorded version. */
  previous_version: string
  version: string
  /** Paths of the definition content that differ from the previous version's (sorted). */
  changes: string[]
  content: string
}

/** The version of each KPI under `config`, by id. */
export function definitionVersions(
  kpis: readonly KpiDefinition[],
  config: ResolverConfig,
): Map<string, string> {
  return new Map(kpis.map((k) => [k.id, kpiDefinitionVersion(k, config)]))
}

/**
 * Leaf paths where two JSON values differ: `definition.thresholds.warning`, `config.overrides[0].critical`,
 * `sqlSha256`. An array that changed length is one path (its elements are not compared one by one).
 */
export function changedPaths(before: unknown, after: unknown, path = ''): string[] {
  const isObject = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()
    return keys.flatMap((k) => changedPaths(before[k], after[k], path === '' ? k : `${path}.${k}`))
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    return before.flatMap((v, i) => changedPaths(v, after[i], `${path}[${i}]`))
  }
  return canonicalJson(before) === canonicalJson(after) ? [] : [path === '' ? '(whole)' : path]
}

interface LatestRow {
  kpi_id: string
  version: string
  content: string
}

/**
 * Records the version of each KPI that differs from the latest one logged (a first version, or a
 * change), at `at`. Returns the rows written. Idempotent: running again with the same definitions writes
 * nothing; two processes starting together write rows with the same key (one is kept).
 */
export async function recordDefinitionVersions(
  ch: ClickHouse,
  kpis: readonly KpiDefinition[],
  config: ResolverConfig,
  at: Date,
): Promise<DefinitionChangeRow[]> {
  const latest = await queryRows<LatestRow>(
    ch,
    `SELECT kpi_id, argMax(version, changed_at) AS version, argMax(content, changed_at) AS content
     FROM kpi_definition_changes
     WHERE kpi_id IN {ids:Array(String)}
     GROUP BY kpi_id`,
    { ids: kpis.map((k) => k.id) },
  )
  const byId = new Map(latest.map((r) => [r.kpi_id, r]))
  const rows: DefinitionChangeRow[] = []
  for (const kpi of kpis) {
    const version = kpiDefinitionVersion(kpi, config)
    const before = byId.get(kpi.id)
    if (before?.version === version) continue
    const content = canonicalJson(definitionContent(kpi, config))
    rows.push({
      changed_at: toClickHouseTime(at),
      kpi_id: kpi.id,
      previous_version: before?.version ?? '',
      version,
      changes: before ? changedPaths(JSON.parse(before.content), JSON.parse(content)) : [],
      content,
    })
  }
  if (rows.length > 0) {
    await ch.client.insert({ table: 'kpi_definition_changes', values: rows, format: 'JSONEachRow' })
  }
  return rows
}
