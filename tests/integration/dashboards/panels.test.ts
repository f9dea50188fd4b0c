import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generatePack } from '../../../services/review-pack/pack.js'
import type { ClickHouse } from '../../../shared/clickhouse/client.js'
import {
  type ClickHouseTarget,
  clickHouseTargets,
  clickHouseVariables,
  type Dashboard,
  expandMacros,
  type MacroContext,
  type VariableSelection,
} from '../../helpers/grafana-macros.js'
import { testConfig } from '../../helpers/infra.js'
import type { TestStack } from '../../helpers/pipeline.js'
import { loadRealisticDataset } from '../../helpers/realistic-dataset.js'

/**
 * Every ClickHouse query of every dashboard in dashboards/ runs against embedded ClickHouse with the
 * Grafana macros expanded as grafana-clickhouse-datasource expands them (tests/helpers/grafana-macros.ts):
 * 1. with "All" selected in every variable it returns the columns its panel reads and at least one row;
 * 2. with one value selected in every variable it still runs and returns the same columns;
 * 3. after every row of the deduplicated tables is inserted a second time (what the ReplacingMergeTree
 *    tables hold before a merge), it returns exactly the same result.
 */

const DAY = 86_400_000
const dashboardsDir = fileURLToPath(new URL('../../../dashboards/', import.meta.url))
const dashboards: Dashboard[] = readdirSync(dashboardsDir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(dashboardsDir, f), 'utf8')) as Dashboard)
const targets = dashboards.flatMap((d) => clickHouseTargets(d))
const label = (t: ClickHouseTarget) => `${t.dashboardUid} #${t.panelId} "${t.panelTitle}" (${t.refId})`

/** Tables the product dedupes on merge; duplicating their rows must not change any panel. */
const DEDUPED_TABLES = [
  'privacy_incident_events',
  'model_metric_events',
  'model_group_counts',
  'audit_finding_events',
  'dead_letters',
  'kpi_values',
  'breach_transitions',
]

interface Result {
  meta: { name: string; type: string }[]
  data: Record<string, unknown>[]
}

let ch: ClickHouse
let _dataDir: string
let range: MacroContext['range']
const selections = new Map<
  string,
  { all: Record<string, VariableSelection>; one: Record<string, VariableSelection> }
>()
const firstResults = new Map<string, Result>()

async function run(sql: string): Promise<Result> {
  const rs = await ch.client.query({ query: sql, format: 'JSON' })
  const out = (await rs.json()) as Result
  return { meta: out.meta, data: out.data }
}

/** Options of each template variable, resolved in dashboard order like Grafana does (chained queries). */
async function resolveVariables(
  d: Dashboard,
  pick: 'all' | 'one',
): Promise<Record<string, VariableSelection>> {
  const selected: Record<string, VariableSelection> = {}
  const queries = new Map(clickHouseVariables(d).map((v) => [v.name, v.sql]))
  for (const v of d.templating?.list ?? []) {
    let options: string[]
    if (v.type === 'textbox') options = [String(v.query)]
    else if (v.type === 'custom')
      options = String(v.query)
        .split(',')
        .map((s) => s.trim())
    else if (queries.has(v.name)) {
      const sql = expandMacros(queries.get(v.name)!, { range, variables: selected })
      options = (await run(sql)).data.map((row) => String(Object.values(row)[0]))
    } else throw new Error(`${d.uid}: variable ${v.name} of type ${v.type} is not handled by this test`)
    const multi = v.multi === true || v.includeAll === true
    selected[v.name] =
      pick === 'all'
        ? { values: options, all: true, multi }
        : { values: options.slice(0, 1), all: false, multi }
  }
  return selected
}

const isNumeric = (type: string) => /^(Nullable\()?(U?Int|Float|Decimal)/.test(type)
const isTime = (type: string) => /^(Nullable\()?DateTime/.test(type)

function checkShape(t: ClickHouseTarget, result: Result): void {
  const names = result.meta.map((m) => m.name)
  for (const c of t.expectedColumns) expect(names, `${label(t)} reads column ${c}`).toContain(c)
  if (t.needsTime)
    expect(isTime(result.meta[0]?.type ?? ''), `${label(t)}: first column must be a time`).toBe(true)
  if (t.needsNumber)
    expect(
      result.meta.some((m) => isNumeric(m.type)),
      `${label(t)}: needs a number`,
    ).toBe(true)
}

/** Rows in a canonical order with floats rounded, so equal results compare equal. */
function canonical(result: Result): string[] {
  const norm = (v: unknown): unknown =>
    typeof v === 'number' && !Number.isInteger(v)
      ? Number(v.toPrecision(9))
      : Array.isArray(v)
        ? v.map(norm)
        : v
  return result.data
    .map((row) => JSON.stringify(Object.fromEntries(Object.entries(row).map(([k, v]) => [k, norm(v)]))))
    .sort()
}

let stack: TestStack | undefined

beforeAll(async () => {
  // The data set is produced through the pipeline (demo feed → Kafka → collector → processor → alerter),
  // not inserted by hand: the panels are checked against what the product really writes.
  stack = await loadRealisticDataset(testConfig())
  ch = stack.ch
  // A review pack of last month, frozen the way `npm run review-pack` does, for the packs panel.
  const lastMonth = new Date(Date.now() - 30 * DAY).toISOString().slice(0, 7)
  await generatePack(ch, { period: lastMonth })
  const now = Date.now() + 1000
  range = { from: new Date(now - 120 * DAY), to: new Date(now) }
  for (const d of dashboards) {
    selections.set(d.uid, { all: await resolveVariables(d, 'all'), one: await resolveVariables(d, 'one') })
  }
}, 600_000)

afterAll(async () => {
  await stack?.close()
})

describe('dashboards under test', () => {
  it('has ClickHouse panel queries in every SQL dashboard', () => {
    expect(dashboards.length).toBeGreaterThanOrEqual(5)
    for (const uid of [
      'aims-management-review',
      'aims-privacy-incidents',
      'aims-model-fairness',
      'aims-audit-nonconformities',
    ]) {
      expect(targets.filter((t) => t.dashboardUid === uid).length, uid).toBeGreaterThan(3)
    }
  })

  it('resolves every ClickHouse template variable to at least one option', () => {
    for (const d of dashboards) {
      for (const v of clickHouseVariables(d)) {
        expect(selections.get(d.uid)!.all[v.name]!.values.length, `${d.uid} $${v.name}`).toBeGreaterThan(0)
      }
    }
  })
})

describe('every ClickHouse panel query, "All" selected', () => {
  it.each(targets.map((t) => [label(t), t] as const))(
    '%s returns its columns and rows',
    async (_, t) => {
      const sql = expandMacros(t.rawSql, { range, variables: selections.get(t.dashboardUid)!.all })
      const result = await run(sql)
      checkShape(t, result)
      expect(result.data.length, `${label(t)} returned no row:\n${sql}`).toBeGreaterThan(0)
      firstResults.set(label(t), result)
    },
    60_000,
  )
})

describe('every ClickHouse panel query, one value selected in each variable', () => {
  it.each(targets.map((t) => [label(t), t] as const))(
    '%s runs and keeps its columns',
    async (_, t) => {
      const sql = expandMacros(t.rawSql, { range, variables: selections.get(t.dashboardUid)!.one })
      checkShape(t, await run(sql))
    },
    60_000,
  )
})

describe('every ClickHouse panel query with every fact row duplicated', () => {
  beforeAll(async () => {
    const before = await run('SELECT count() AS n FROM privacy_incident_events')
    for (const table of DEDUPED_TABLES) {
      await ch.client.command({ query: `SYSTEM STOP MERGES ${table}` }).catch(() => undefined)
      await ch.client.command({ query: `INSERT INTO ${table} SELECT * FROM ${table}` })
    }
    const after = await run('SELECT count() AS n FROM privacy_incident_events')
    expect(Number(after.data[0]!.n)).toBe(2 * Number(before.data[0]!.n))
  }, 120_000)

  it.each(targets.map((t) => [label(t), t] as const))(
    '%s gives the same result',
    async (_, t) => {
      const first = firstResults.get(label(t))
      expect(first, `${label(t)} did not run in the first pass`).toBeDefined()
      const sql = expandMacros(t.rawSql, { range, variables: selections.get(t.dashboardUid)!.all })
      expect(canonical(await run(sql))).toEqual(canonical(first!))
    },
    60_000,
  )
})
