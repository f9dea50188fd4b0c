import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { generated, render } from '../../dashboards/build.js'
import { kpiSteps, thresholdSteps, UIDS } from '../../dashboards/src/grafana.js'
import { getKpi, KPIS } from '../../shared/kpi/catalog.js'
import {
  allPanels,
  CLICKHOUSE_PLUGIN,
  clickHouseTargets,
  clickHouseVariables,
  type Dashboard,
  type DashboardPanel,
} from '../helpers/grafana-macros.js'

/**
 * Static checks of the Grafana dashboards (dashboards/*.json) and their provisioning. The queries
 * themselves run against ClickHouse in tests/integration/dashboards/panels.test.ts.
 */

const root = fileURLToPath(new URL('../../', import.meta.url))
const dashboardsDir = join(root, 'dashboards')
const files = readdirSync(dashboardsDir)
  .filter((f) => f.endsWith('.json'))
  .sort()
const dashboards = new Map<string, Dashboard>(
  files.map((f) => [f, JSON.parse(readFileSync(join(dashboardsDir, f), 'utf8')) as Dashboard]),
)

/** The uids are part of every link and bookmark: changing one is a breaking change. */
const STABLE_UIDS: Record<string, string> = {
  'management-review.json': 'aims-management-review',
  'privacy-incidents.json': 'aims-privacy-incidents',
  'model-fairness.json': 'aims-model-fairness',
  'audit-nonconformities.json': 'aims-audit-nonconformities',
  'pipeline-health.json': 'aims-pipeline-health',
}

const ISO_REFERENCE = /(ISO\/IEC )?(27001|42001)|clause|A\.\d/

interface ProvisionedDatasource {
  uid: string
  type: string
}
const provisioning = parse(
  readFileSync(join(root, 'deploy/grafana/provisioning/datasources/datasources.yaml'), 'utf8'),
) as { datasources: ProvisionedDatasource[] }

const each = [...dashboards.entries()]

/** Every string anywhere in a JSON value. */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value)
  else if (Array.isArray(value)) for (const v of value) strings(v, out)
  else if (value && typeof value === 'object') for (const v of Object.values(value)) strings(v, out)
  return out
}

/** Every `datasource` reference anywhere in a dashboard (panels, targets, variables, annotations). */
function datasourceRefs(
  value: unknown,
  out: { uid?: string; type?: string }[] = [],
): { uid?: string; type?: string }[] {
  if (Array.isArray(value)) for (const v of value) datasourceRefs(v, out)
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'datasource' && v && typeof v === 'object') out.push(v as { uid?: string; type?: string })
      else datasourceRefs(v, out)
    }
  }
  return out
}

describe('dashboard files', () => {
  it('are exactly the five dashboards, each with its stable uid', () => {
    expect(files).toEqual(Object.keys(STABLE_UIDS).sort())
    for (const [file, d] of each) expect(d.uid, file).toBe(STABLE_UIDS[file])
    expect(new Set(each.map(([, d]) => d.uid)).size).toBe(each.length)
    expect(Object.values(UIDS).sort()).toEqual(Object.values(STABLE_UIDS).sort())
  })

  it('are valid JSON with a schemaVersion of 39 or later, a title and no numeric id', () => {
    for (const [file, d] of each) {
      expect(d.schemaVersion, file).toBeGreaterThanOrEqual(39)
      expect(typeof d.title, file).toBe('string')
      expect(d.id ?? null, `${file}: provisioned dashboards carry no database id`).toBeNull()
    }
  })

  it('are up to date with their sources (npx tsx dashboards/build.ts)', () => {
    expect(Object.keys(generated).sort()).toEqual(files)
    for (const [file, d] of Object.entries(generated)) {
      expect(
        readFileSync(join(dashboardsDir, file), 'utf8'),
        `${file} is stale: run npx tsx dashboards/build.ts`,
      ).toBe(render(d))
    }
  })
})

describe.each(each)('%s', (file, d) => {
  const panels = allPanels(d)
  const content = panels.filter((p) => p.type !== 'row')

  it('gives every panel a unique id', () => {
    const ids = panels.map((p) => p.id)
    expect(ids.every((id) => typeof id === 'number')).toBe(true)
    expect(new Set(ids).size).toBe(ids.length)
  })

  it('describes every panel with the ISO clause or control it evidences', () => {
    for (const p of content) {
      expect(p.description ?? '', `${file} "${p.title}" has no ISO reference in its description`).toMatch(
        ISO_REFERENCE,
      )
    }
  })

  it('lays panels out on the 24-column grid without overlaps', () => {
    const boxes = panels.map((p) => ({ p, g: p.gridPos! }))
    for (const { p, g } of boxes) {
      expect(g, `${file} "${p.title}" gridPos`).toBeDefined()
      expect(
        Number.isInteger(g.x) && Number.isInteger(g.y) && Number.isInteger(g.w) && Number.isInteger(g.h),
      ).toBe(true)
      expect(g.x).toBeGreaterThanOrEqual(0)
      expect(g.y).toBeGreaterThanOrEqual(0)
      expect(g.w).toBeGreaterThanOrEqual(1)
      expect(g.h).toBeGreaterThanOrEqual(1)
      expect(g.x + g.w, `${file} "${p.title}" overflows the grid`).toBeLessThanOrEqual(24)
    }
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i]!.g
        const b = boxes[j]!.g
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h
        expect(overlap, `${file}: "${boxes[i]!.p.title}" overlaps "${boxes[j]!.p.title}"`).toBe(false)
      }
    }
  })

  it('refers only to provisioned datasources, by uid and matching type', () => {
    const known = new Map(provisioning.datasources.map((ds) => [ds.uid, ds.type]))
    for (const ref of datasourceRefs(d)) {
      if (ref.type === 'grafana' || ref.type === 'datasource') continue
      expect(ref.uid, `${file}: datasource without uid`).toBeDefined()
      expect(known.has(ref.uid!), `${file}: datasource uid ${ref.uid} is not provisioned`).toBe(true)
      expect(known.get(ref.uid!), `${file}: datasource ${ref.uid} type`).toBe(ref.type)
    }
  })

  it('links only to dashboards that exist', () => {
    const uids = new Set(each.map(([, x]) => x.uid))
    const linked = strings(d).flatMap((s) => [...s.matchAll(/\/d\/([A-Za-z0-9_-]+)/g)].map((m) => m[1]!))
    for (const uid of linked) expect(uids.has(uid), `${file} links to unknown dashboard /d/${uid}`).toBe(true)
  })

  it('uses only template variables it defines (or Grafana built-ins)', () => {
    const defined = new Set((d.templating?.list ?? []).map((v) => v.name))
    const sqls = [...clickHouseTargets(d).map((t) => t.rawSql), ...clickHouseVariables(d).map((v) => v.sql)]
    for (const sql of sqls) {
      for (const m of sql.matchAll(/\$\{(\w+)|\$(\w+)|\[\[(\w+)/g)) {
        const name = (m[1] ?? m[2] ?? m[3])!
        if (name.startsWith('__')) continue
        expect(defined.has(name), `${file} uses undefined variable $${name}`).toBe(true)
      }
    }
  })

  it('runs read-only SQL only (the Grafana user has readonly=2)', () => {
    for (const t of clickHouseTargets(d)) {
      expect(t.rawSql.trimStart(), `${file} "${t.panelTitle}"`).toMatch(/^(SELECT|WITH)\b/i)
      const code = t.rawSql.replace(/'(?:[^'\\]|\\.)*'/g, "''")
      expect(code, `${file} "${t.panelTitle}"`).not.toMatch(
        /\b(INSERT|ALTER|DROP|TRUNCATE|OPTIMIZE|CREATE|RENAME|SYSTEM|KILL|DELETE|UPDATE|GRANT)\b\s+\w/i,
      )
      expect(code.replace(/;\s*$/, ''), 'one statement').not.toContain(';')
      expect(t.rawSql, `${file} "${t.panelTitle}": use the macros, not now()`).not.toMatch(/\bnow(64)?\s*\(/i)
    }
  })
})

describe('management review', () => {
  const review = dashboards.get('management-review.json')!
  const panels = allPanels(review)
  const types = new Set(panels.map((p) => p.type))

  it('links to every drill-down dashboard and the pipeline health', () => {
    const targets = strings(review.links ?? []).join(' ')
    for (const uid of [UIDS.privacy, UIDS.fairness, UIDS.audit, UIDS.pipeline])
      expect(targets).toContain(`/d/${uid}/`)
    // and from panels (data links), not only from the header
    const panelLinks = strings(panels.map((p) => p.fieldConfig ?? {})).join(' ')
    for (const uid of [UIDS.privacy, UIDS.fairness, UIDS.audit])
      expect(panelLinks + strings(clickHouseTargets(review)).join(' ')).toContain(`/d/${uid}/`)
  })

  it('has a scorecard with traffic lights, an accuracy-vs-bias scatter and the review variables', () => {
    expect(types.has('stat')).toBe(true)
    expect(types.has('table')).toBe(true)
    expect(types.has('xychart')).toBe(true)
    expect((review.templating?.list ?? []).map((v) => v.name).sort()).toEqual([
      'business_unit',
      'model',
      'review_url',
      'standard',
    ])
    const scorecard = panels.find((p) => p.title === 'KPI scorecard')!
    expect(JSON.stringify(scorecard.fieldConfig)).toContain('"critical"')
  })

  it('every dashboard links back to the review', () => {
    for (const [file, d] of each) {
      if (d.uid === UIDS.review) continue
      expect(strings(d.links ?? []).join(' '), file).toContain(`/d/${UIDS.review}/`)
    }
  })
})

describe('thresholds come from the KPI catalog', () => {
  it('translates catalog comparators into Grafana steps', () => {
    // lower is better, > 24 warning, > 72 critical: green below, orange just above 24, red just above 72
    const mttc = thresholdSteps('gt', 24, 72)
    expect(mttc.map((s) => s.color)).toEqual(['green', 'orange', 'red'])
    expect(mttc[1]!.value).toBeGreaterThan(24)
    expect(mttc[1]!.value! - 24).toBeLessThan(1e-12)
    // >= 48 warning, >= 72 critical: the steps sit on the thresholds
    expect(thresholdSteps('gte', 48, 72)).toEqual([
      { color: 'green', value: null },
      { color: 'orange', value: 48 },
      { color: 'red', value: 72 },
    ])
    // higher is better, < 0.9 warning, < 0.75 critical
    expect(thresholdSteps('lt', 0.9, 0.75)).toEqual([
      { color: 'red', value: null },
      { color: 'orange', value: 0.75 },
      { color: 'green', value: 0.9 },
    ])
    // a count with critical > 0 only: red from the first unit above 0
    const major = thresholdSteps('gt', null, 0)
    expect(major.map((s) => s.color)).toEqual(['green', 'red'])
    expect(major[1]!.value).toBeGreaterThan(0)
    expect(major[1]!.value).toBeLessThan(1e-300)
    // no threshold at all: neutral
    expect(thresholdSteps('gt', null, null)).toEqual([{ color: 'blue', value: null }])
  })

  it('colours every single-KPI stat panel with that KPI’s catalog thresholds', () => {
    let checked = 0
    for (const [file, d] of each) {
      for (const p of allPanels(d).filter((x) => x.type === 'stat')) {
        const sql = clickHouseTargets({ ...d, panels: [p] })
          .map((t) => t.rawSql)
          .join('\n')
        const ids = [...sql.matchAll(/kpi_id = '([a-z0-9_.]+)'/g)].map((m) => m[1]!)
        if (ids.length !== 1) continue
        const match = Object.fromEntries(
          [...sql.matchAll(/scope\['(\w+)'\] = '([^']+)'/g)].map((m) => [m[1]!, m[2]!]),
        )
        const expected = kpiSteps(getKpi(ids[0]!), Object.keys(match).length > 0 ? match : undefined)
        expect(stepsOf(p), `${file} "${p.title}" (${ids[0]})`).toEqual(expected)
        checked++
      }
    }
    expect(checked).toBeGreaterThanOrEqual(10)
  })

  it('mentions only KPI ids that exist in the catalog', () => {
    const known = new Set(KPIS.map((k) => k.id))
    for (const [file, d] of each) {
      for (const t of clickHouseTargets(d)) {
        for (const m of t.rawSql.matchAll(/'((?:privacy|model|audit)\.[a-z0-9_]+)'/g)) {
          expect(known.has(m[1]!), `${file} "${t.panelTitle}" names unknown KPI ${m[1]}`).toBe(true)
        }
      }
    }
  })
})

/** The threshold steps a stat panel shows for its (single) value field. */
function stepsOf(p: DashboardPanel): unknown {
  type Property = { id: string; value?: { steps?: unknown } }
  const override = p.fieldConfig?.overrides?.find((o) => o.matcher.options === 'value')
  const fromOverride = (override?.properties as Property[] | undefined)?.find((x) => x.id === 'thresholds')
  const defaults = p.fieldConfig?.defaults?.thresholds as { steps?: unknown } | undefined
  return fromOverride?.value?.steps ?? defaults?.steps
}

describe('provisioning', () => {
  it('provisions the ClickHouse datasource read-only and Prometheus with the uids the dashboards use', () => {
    const byUid = new Map(
      provisioning.datasources.map((ds) => [ds.uid, ds as ProvisionedDatasource & Record<string, never>]),
    )
    const ch = byUid.get('aims-clickhouse') as unknown as { type: string; jsonData: Record<string, unknown> }
    expect(ch.type).toBe(CLICKHOUSE_PLUGIN)
    expect(ch.jsonData.username).toBe('grafana_ro')
    expect(ch.jsonData.defaultDatabase).toBe('aims')
    expect(byUid.get('aims-prometheus')?.type).toBe('prometheus')
    const users = readFileSync(join(root, 'deploy/clickhouse/users.d/grafana-readonly.xml'), 'utf8')
    expect(users).toMatch(/<grafana_ro>/)
    expect(users).toMatch(/<readonly>2<\/readonly>/)
    // Column grants only, never a whole table (tests/static/deploy.test.ts checks the exact columns).
    expect(users).toMatch(/GRANT SELECT\([^)]+\) ON aims\.kpi_values/)
    expect(users).not.toMatch(/GRANT SELECT ON /)
    expect(users).not.toMatch(/<password>[^<]+<\/password>/)
  })

  it('loads the dashboards folder', () => {
    const providers = parse(
      readFileSync(join(root, 'deploy/grafana/provisioning/dashboards/dashboards.yaml'), 'utf8'),
    ) as {
      providers: { type: string; options: { path: string } }[]
    }
    expect(providers.providers[0]!.type).toBe('file')
    expect(providers.providers[0]!.options.path).toBe('/etc/grafana/dashboards')
  })
})
