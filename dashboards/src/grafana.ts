/**
 * A small typed builder for the Grafana dashboards in dashboards/*.json. The JSON files are what Grafana
 * provisions and what is committed; they are generated from these sources (`npx tsx dashboards/build.ts`)
 * so that layout, datasource references, catalog thresholds and the SQL stay consistent, and
 * tests/static/dashboards.test.ts fails when a JSON file is out of date.
 */

import type { KpiDefinition } from '../../shared/kpi/catalog.js'

export const SCHEMA_VERSION = 39
/** Grafana version the panel options are written for (xychart v2 options need 11.3+). */
export const GRAFANA_VERSION = '11.6.0'

export const CLICKHOUSE = { type: 'grafana-clickhouse-datasource', uid: 'aims-clickhouse' } as const
export const PROMETHEUS = { type: 'prometheus', uid: 'aims-prometheus' } as const

/** Stable dashboard uids: links between dashboards and bookmarks depend on them. */
export const UIDS = {
  review: 'aims-management-review',
  privacy: 'aims-privacy-incidents',
  fairness: 'aims-model-fairness',
  audit: 'aims-audit-nonconformities',
  pipeline: 'aims-pipeline-health',
} as const

const SLUGS: Record<string, string> = {
  [UIDS.review]: 'management-review',
  [UIDS.privacy]: 'privacy-incidents',
  [UIDS.fairness]: 'model-fairness',
  [UIDS.audit]: 'audit-nonconformities',
  [UIDS.pipeline]: 'pipeline-health',
}

/** `/d/<uid>/<slug>` of one of the project's dashboards. */
export function dashboardPath(uid: string): string {
  return `/d/${uid}/${SLUGS[uid] ?? uid}`
}

type Json = Record<string, unknown>

export interface Target extends Json {
  refId: string
}

/** A ClickHouse SQL target. `format`: 0 time series, 1 table (grafana-clickhouse-datasource v4). */
export function sqlTarget(rawSql: string, kind: 'table' | 'timeseries' = 'table', refId = 'A'): Target {
  return {
    datasource: CLICKHOUSE,
    editorType: 'sql',
    format: kind === 'timeseries' ? 0 : 1,
    queryType: kind,
    pluginVersion: '4.8.2',
    rawSql: dedent(rawSql),
    refId,
  }
}

export function promTarget(expr: string, legendFormat: string, refId = 'A', instant = false): Target {
  return {
    datasource: PROMETHEUS,
    editorMode: 'code',
    expr,
    legendFormat,
    range: !instant,
    instant,
    refId,
  }
}

/** Removes the common indentation (a first line written right after the backtick does not count). */
function dedent(sql: string): string {
  const lines = sql.replace(/^\n+|\s+$/g, '').split('\n')
  const rest = lines.slice(1).filter((l) => l.trim())
  if (rest.length === 0) return lines.join('\n').trim()
  const indent = Math.min(...rest.map((l) => /^ */.exec(l)![0].length))
  const firstIndent = /^ */.exec(lines[0]!)![0].length
  return lines.map((l, i) => (i === 0 ? l.slice(Math.min(firstIndent, indent)) : l.slice(indent))).join('\n')
}

// ---------------------------------------------------------------------------------------------------------
// Thresholds

export interface Step {
  color: string
  value: number | null
}

export const COLORS = {
  ok: 'green',
  warning: 'orange',
  critical: 'red',
  neutral: 'blue',
  noData: 'text',
  /** Not estimable (a fairness KPI without enough data): neither ok nor a breach. */
  insufficient: 'purple',
} as const

/**
 * Grafana threshold steps ("value ≥ step → colour") equivalent to a catalog comparator. A breach of
 * `gt t` starts just above t, so its step sits at the next representable value above t; `gte` at t;
 * higher-is-better KPIs (`lt`, `lte`) start red and turn green at the warning threshold.
 */
export function thresholdSteps(
  op: KpiDefinition['thresholds']['op'],
  warning: number | null,
  critical: number | null,
): Step[] {
  const above = (t: number) => (op === 'gt' ? nextUp(t) : t)
  if (op === 'gt' || op === 'gte') {
    const steps: Step[] = [{ color: warning === null && critical === null ? COLORS.neutral : COLORS.ok, value: null }]
    if (warning !== null) steps.push({ color: COLORS.warning, value: above(warning) })
    if (critical !== null) steps.push({ color: COLORS.critical, value: above(critical) })
    return steps
  }
  // lt / lte: breach below the threshold. `lte t` is ok only above t.
  const okFrom = (t: number) => (op === 'lte' ? nextUp(t) : t)
  if (warning === null && critical === null) return [{ color: COLORS.neutral, value: null }]
  const steps: Step[] = [{ color: critical !== null ? COLORS.critical : COLORS.warning, value: null }]
  if (critical !== null && warning !== null) steps.push({ color: COLORS.warning, value: okFrom(critical) })
  steps.push({ color: COLORS.ok, value: okFrom(warning ?? critical!) })
  return steps
}

/** The smallest double greater than x (so `value ≥ nextUp(t)` ⇔ `value > t`). */
function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE
  const buf = new DataView(new ArrayBuffer(8))
  buf.setFloat64(0, x)
  const bits = buf.getBigUint64(0)
  buf.setBigUint64(0, x > 0 ? bits + 1n : bits - 1n)
  return buf.getFloat64(0)
}

/** A KPI's catalog thresholds, optionally with the first per-scope override matching `match` applied. */
export function kpiThresholds(
  kpi: KpiDefinition,
  match?: Record<string, string>,
): { warning: number | null; critical: number | null } {
  let { warning, critical } = kpi.thresholds
  if (match) {
    const o = kpi.thresholds.overrides.find((ov) =>
      Object.entries(match).every(([k, v]) => {
        const m = ov.match[k]
        return Array.isArray(m) ? m.includes(v) : m === v
      }),
    )
    if (!o) throw new Error(`${kpi.id}: no catalog override matches ${JSON.stringify(match)}`)
    if (o.warning !== undefined) warning = o.warning
    if (o.critical !== undefined) critical = o.critical
  }
  return { warning, critical }
}

/** Threshold steps of a KPI's catalog defaults, optionally with one of its per-scope overrides applied. */
export function kpiSteps(kpi: KpiDefinition, match?: Record<string, string>): Step[] {
  const { warning, critical } = kpiThresholds(kpi, match)
  return thresholdSteps(kpi.thresholds.op, warning, critical)
}

export const thresholds = (steps: Step[]) => ({ mode: 'absolute', steps })

/** Value mappings for kpi_values.status (traffic light). */
export const STATUS_MAPPINGS = [
  {
    type: 'value',
    options: {
      ok: { text: 'OK', color: COLORS.ok, index: 0 },
      warning: { text: 'Warning', color: COLORS.warning, index: 1 },
      critical: { text: 'Critical', color: COLORS.critical, index: 2 },
      no_data: { text: 'No data', color: 'gray', index: 3 },
      insufficient_data: { text: 'Insufficient data', color: COLORS.insufficient, index: 7 },
      stale: { text: 'Stale', color: 'blue', index: 8 },
      firing: { text: 'Firing', color: COLORS.critical, index: 4 },
      escalated: { text: 'Escalated', color: 'dark-red', index: 5 },
      resolved: { text: 'Resolved', color: COLORS.ok, index: 6 },
    },
  },
]

// ---------------------------------------------------------------------------------------------------------
// Panels

export interface Column {
  /** Field name in the query result. */
  name: string
  title?: string
  unit?: string
  decimals?: number
  width?: number
  /** Colour the cell by these thresholds. */
  steps?: Step[]
  /** Colour the cell by the status value mapping (ok/warning/critical/insufficient_data/no_data). */
  status?: boolean
  link?: { title: string; url: string }
  hidden?: boolean
  /** Show the number as a bar (table gauge cell). */
  gauge?: { min: number; max: number }
}

export interface Panel extends Json {
  type: string
  title: string
  description: string
  gridPos?: { x: number; y: number; w: number; h: number }
}

interface Common {
  title: string
  description: string
  w?: number
  h?: number
  links?: { title: string; url: string }[]
}

function base(type: string, c: Common, datasource: Json, targets: Target[]): Panel & { w: number; h: number } {
  return {
    type,
    title: c.title,
    description: c.description,
    datasource,
    targets,
    ...(c.links ? { links: c.links.map((l) => ({ ...l, targetBlank: false })) } : {}),
    w: c.w ?? 12,
    h: c.h ?? 8,
  }
}

function columnOverrides(columns: Column[]): Json[] {
  return columns.map((c) => {
    const properties: Json[] = [{ id: 'displayName', value: c.title ?? c.name }]
    if (c.unit) properties.push({ id: 'unit', value: c.unit })
    if (c.decimals !== undefined) properties.push({ id: 'decimals', value: c.decimals })
    if (c.width) properties.push({ id: 'custom.width', value: c.width })
    if (c.hidden) properties.push({ id: 'custom.hidden', value: true })
    if (c.steps) {
      properties.push({ id: 'thresholds', value: thresholds(c.steps) })
      properties.push({ id: 'color', value: { mode: 'thresholds' } })
      properties.push({ id: 'custom.cellOptions', value: { type: 'color-background', mode: 'basic' } })
    }
    if (c.status) {
      properties.push({ id: 'mappings', value: STATUS_MAPPINGS })
      properties.push({ id: 'custom.cellOptions', value: { type: 'color-background', mode: 'basic' } })
    }
    if (c.gauge) {
      properties.push({ id: 'min', value: c.gauge.min }, { id: 'max', value: c.gauge.max })
      properties.push({ id: 'custom.cellOptions', value: { type: 'gauge', mode: 'basic', valueDisplayMode: 'text' } })
    }
    if (c.link) properties.push({ id: 'links', value: [{ title: c.link.title, url: c.link.url }] })
    return { matcher: { id: 'byName', options: c.name }, properties }
  })
}

export function table(
  c: Common & { sql: string; columns: Column[]; sortBy?: { displayName: string; desc?: boolean }[] },
): Panel {
  return {
    ...base('table', c, CLICKHOUSE, [sqlTarget(c.sql)]),
    fieldConfig: {
      defaults: { custom: { align: 'auto', cellOptions: { type: 'auto' }, filterable: true }, mappings: [] },
      overrides: columnOverrides(c.columns),
    },
    options: {
      showHeader: true,
      cellHeight: 'sm',
      footer: { show: false, reducer: ['sum'], countRows: false, fields: '' },
      ...(c.sortBy ? { sortBy: c.sortBy } : {}),
    },
    pluginVersion: GRAFANA_VERSION,
  }
}

export interface StatField {
  name: string
  title?: string
  steps?: Step[]
  unit?: string
  decimals?: number
  link?: { title: string; url: string }
}

/** Stat panel over one result row; each field is one tile (colours by its own thresholds). */
export function stat(
  c: Common & {
    sql?: string
    promql?: { expr: string; legend: string }[]
    fields: StatField[]
    unit?: string
    decimals?: number
    steps?: Step[]
  },
): Panel {
  const targets = c.sql
    ? [sqlTarget(c.sql)]
    : (c.promql ?? []).map((q, i) => promTarget(q.expr, q.legend, String.fromCharCode(65 + i), true))
  return {
    ...base('stat', { h: 4, w: 6, ...c }, c.sql ? CLICKHOUSE : PROMETHEUS, targets),
    fieldConfig: {
      defaults: {
        unit: c.unit ?? 'none',
        ...(c.decimals !== undefined ? { decimals: c.decimals } : {}),
        color: { mode: 'thresholds' },
        thresholds: thresholds(c.steps ?? [{ color: COLORS.neutral, value: null }]),
        mappings: [],
        noValue: 'no data',
      },
      overrides: c.sql ? statOverrides(c.fields) : [],
    },
    options: {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      orientation: 'auto',
      textMode: 'value_and_name',
      colorMode: 'background',
      graphMode: 'none',
      justifyMode: 'auto',
      wideLayout: true,
      showPercentChange: false,
    },
    pluginVersion: GRAFANA_VERSION,
  }
}

function statOverrides(fields: StatField[]): Json[] {
  return fields.map((f) => {
    const properties: Json[] = [{ id: 'displayName', value: f.title ?? f.name }]
    if (f.steps) properties.push({ id: 'thresholds', value: thresholds(f.steps) })
    if (f.unit) properties.push({ id: 'unit', value: f.unit })
    if (f.decimals !== undefined) properties.push({ id: 'decimals', value: f.decimals })
    if (f.link) properties.push({ id: 'links', value: [f.link] })
    return { matcher: { id: 'byName', options: f.name }, properties }
  })
}

export interface Series {
  name: string
  title?: string
  color?: string
  unit?: string
  /** Draw on the right axis. */
  right?: boolean
}

/**
 * Time series panel. SQL results: a `time` column first, then one numeric column per series (or long
 * format: time, label columns, value, which the plugin pivots). PromQL: one target per query.
 */
export function timeseries(
  c: Common & {
    sql?: string
    promql?: { expr: string; legend: string }[]
    series?: Series[]
    unit?: string
    decimals?: number
    stack?: boolean
    bars?: boolean
    min?: number
    max?: number
    /** Threshold lines drawn on the chart. */
    steps?: Step[]
  },
): Panel {
  const targets = c.sql
    ? [sqlTarget(c.sql, 'timeseries')]
    : (c.promql ?? []).map((q, i) => promTarget(q.expr, q.legend, String.fromCharCode(65 + i)))
  return {
    ...base('timeseries', c, c.sql ? CLICKHOUSE : PROMETHEUS, targets),
    fieldConfig: {
      defaults: {
        unit: c.unit ?? 'short',
        ...(c.decimals !== undefined ? { decimals: c.decimals } : {}),
        ...(c.min !== undefined ? { min: c.min } : {}),
        ...(c.max !== undefined ? { max: c.max } : {}),
        color: { mode: 'palette-classic' },
        thresholds: thresholds(c.steps ?? [{ color: COLORS.ok, value: null }]),
        custom: {
          drawStyle: c.bars ? 'bars' : 'line',
          lineWidth: 2,
          fillOpacity: c.stack || c.bars ? 60 : 10,
          lineInterpolation: 'stepAfter',
          showPoints: 'auto',
          spanNulls: true,
          stacking: { mode: c.stack ? 'normal' : 'none', group: 'A' },
          axisSoftMin: 0,
          thresholdsStyle: { mode: c.steps ? 'dashed' : 'off' },
        },
      },
      overrides: (c.series ?? []).map((s) => {
        const properties: Json[] = [{ id: 'displayName', value: s.title ?? s.name }]
        if (s.color) properties.push({ id: 'color', value: { mode: 'fixed', fixedColor: s.color } })
        if (s.unit) properties.push({ id: 'unit', value: s.unit })
        if (s.right) properties.push({ id: 'custom.axisPlacement', value: 'right' })
        return { matcher: { id: 'byName', options: s.name }, properties }
      }),
    },
    options: {
      legend: { showLegend: true, displayMode: 'list', placement: 'bottom', calcs: [] },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
    pluginVersion: GRAFANA_VERSION,
  }
}

/** Bar chart: the first string column is the x axis, every numeric column a bar group. */
export function barchart(
  c: Common & { sql: string; x: string; series: Series[]; unit?: string; stack?: boolean; steps?: Step[] },
): Panel {
  return {
    ...base('barchart', c, CLICKHOUSE, [sqlTarget(c.sql)]),
    fieldConfig: {
      defaults: {
        unit: c.unit ?? 'short',
        color: { mode: 'palette-classic' },
        thresholds: thresholds(c.steps ?? [{ color: COLORS.ok, value: null }]),
        custom: {
          fillOpacity: 80,
          lineWidth: 1,
          gradientMode: 'none',
          axisSoftMin: 0,
          thresholdsStyle: { mode: c.steps ? 'dashed' : 'off' },
        },
      },
      overrides: [
        { matcher: { id: 'byName', options: c.x }, properties: [{ id: 'displayName', value: c.x }] },
        ...c.series.map((s) => {
          const properties: Json[] = [{ id: 'displayName', value: s.title ?? s.name }]
          if (s.color) properties.push({ id: 'color', value: { mode: 'fixed', fixedColor: s.color } })
          return { matcher: { id: 'byName', options: s.name }, properties }
        }),
      ],
    },
    options: {
      xField: c.x,
      orientation: 'auto',
      stacking: c.stack ? 'normal' : 'none',
      showValue: 'auto',
      groupWidth: 0.7,
      barWidth: 0.9,
      xTickLabelRotation: -30,
      xTickLabelSpacing: 0,
      legend: { showLegend: true, displayMode: 'list', placement: 'bottom', calcs: [] },
      tooltip: { mode: 'multi', sort: 'none' },
    },
    pluginVersion: GRAFANA_VERSION,
  }
}

/** XY (scatter) chart, Grafana 11.3+ options: one series of points, x and y fields by name. */
export function xychart(
  c: Common & {
    sql: string
    x: { name: string; title: string; unit?: string; min?: number; max?: number }
    y: { name: string; title: string; unit?: string; min?: number; max?: number }
    label: string
    steps?: Step[]
  },
): Panel {
  return {
    ...base('xychart', c, CLICKHOUSE, [sqlTarget(c.sql)]),
    fieldConfig: {
      defaults: {
        color: { mode: 'thresholds' },
        thresholds: thresholds(c.steps ?? [{ color: COLORS.neutral, value: null }]),
        custom: { show: 'points', pointSize: { fixed: 9 }, pointShape: 'circle', axisPlacement: 'auto' },
      },
      overrides: [
        {
          matcher: { id: 'byName', options: c.x.name },
          properties: [
            { id: 'displayName', value: c.x.title },
            ...(c.x.unit ? [{ id: 'unit', value: c.x.unit }] : []),
            ...(c.x.min !== undefined ? [{ id: 'min', value: c.x.min }] : []),
            ...(c.x.max !== undefined ? [{ id: 'max', value: c.x.max }] : []),
          ],
        },
        {
          matcher: { id: 'byName', options: c.y.name },
          properties: [
            { id: 'displayName', value: c.y.title },
            ...(c.y.unit ? [{ id: 'unit', value: c.y.unit }] : []),
            ...(c.y.min !== undefined ? [{ id: 'min', value: c.y.min }] : []),
            ...(c.y.max !== undefined ? [{ id: 'max', value: c.y.max }] : []),
          ],
        },
        { matcher: { id: 'byName', options: c.label }, properties: [{ id: 'displayName', value: 'Model version' }] },
      ],
    },
    options: {
      mapping: 'manual',
      series: [
        {
          frame: { matcher: { id: 'byIndex', options: 0 } },
          x: { matcher: { id: 'byName', options: c.x.name } },
          y: { matcher: { id: 'byName', options: c.y.name } },
          color: { matcher: { id: 'byName', options: c.y.name } },
          name: { fixed: c.title },
        },
      ],
      legend: { showLegend: false, displayMode: 'list', placement: 'bottom', calcs: [] },
      tooltip: { mode: 'single', sort: 'none' },
    },
    pluginVersion: GRAFANA_VERSION,
  }
}

export function text(c: Common & { content: string }): Panel {
  return {
    type: 'text',
    title: c.title,
    description: c.description,
    options: { mode: 'markdown', content: c.content, code: { language: 'plaintext', showLineNumbers: false } },
    w: c.w ?? 24,
    h: c.h ?? 3,
  }
}

// ---------------------------------------------------------------------------------------------------------
// Variables

export interface Variable extends Json {
  name: string
  type: string
}

const ALL = { selected: true, text: ['All'], value: ['$__all'] }

/** A multi-value ClickHouse query variable with "All" (the default). */
export function queryVariable(name: string, label: string, sql: string, description: string): Variable {
  return {
    name,
    label,
    description,
    type: 'query',
    datasource: CLICKHOUSE,
    definition: dedent(sql),
    query: { editorType: 'sql', rawSql: dedent(sql), format: 1, queryType: 'table' },
    refresh: 2,
    multi: true,
    includeAll: true,
    current: ALL,
    options: [],
    sort: 1,
    hide: 0,
    skipUrlSync: false,
    regex: '',
  }
}

export function customVariable(name: string, label: string, values: readonly string[], description: string): Variable {
  return {
    name,
    label,
    description,
    type: 'custom',
    query: values.join(','),
    multi: true,
    includeAll: true,
    current: ALL,
    options: [
      { selected: true, text: 'All', value: '$__all' },
      ...values.map((v) => ({ selected: false, text: v, value: v })),
    ],
    hide: 0,
    skipUrlSync: false,
  }
}

/**
 * A free-text variable with a default, set per installation in the URL (`var-<name>=...`) or the
 * dashboard settings: an address Grafana cannot know, such as where the review page is served.
 */
export function textboxVariable(name: string, label: string, value: string, description: string): Variable {
  return {
    name,
    label,
    description,
    type: 'textbox',
    query: value,
    current: { selected: false, text: value, value },
    options: [{ selected: true, text: value, value }],
    hide: 0,
    skipUrlSync: false,
  }
}

// ---------------------------------------------------------------------------------------------------------
// Dashboards

export interface Row {
  title: string
  panels: Panel[]
}

export interface DashboardSpec {
  uid: string
  title: string
  description: string
  tags: string[]
  variables: Variable[]
  rows: Row[]
  links: { title: string; uid?: string; url?: string; tooltip: string }[]
  time?: { from: string; to: string }
  refresh?: string
  /** ClickHouse annotation queries (columns time, text, tags), after Grafana's built-in one. */
  annotations?: { name: string; color: string; sql: string }[]
}

/** Lays the panels out left to right in rows of 24 columns and numbers them. */
export function dashboard(spec: DashboardSpec): Json {
  let id = 0
  let y = 0
  const panels: Json[] = []
  for (const row of spec.rows) {
    panels.push({
      type: 'row',
      title: row.title,
      collapsed: false,
      id: ++id,
      gridPos: { x: 0, y, w: 24, h: 1 },
      panels: [],
    })
    y += 1
    let x = 0
    let lineHeight = 0
    for (const p of row.panels) {
      const { w, h, ...panel } = p as Panel & { w: number; h: number }
      if (x + w > 24) {
        y += lineHeight
        x = 0
        lineHeight = 0
      }
      panels.push({ id: ++id, ...panel, gridPos: { x, y, w, h } })
      x += w
      lineHeight = Math.max(lineHeight, h)
    }
    y += lineHeight
  }
  return {
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: spec.tags,
    editable: false,
    graphTooltip: 1,
    schemaVersion: SCHEMA_VERSION,
    version: 1,
    timezone: 'utc',
    fiscalYearStartMonth: 0,
    liveNow: false,
    refresh: spec.refresh ?? '',
    time: spec.time ?? { from: 'now-90d', to: 'now' },
    timepicker: { refresh_intervals: ['1m', '5m', '15m', '1h'] },
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
        ...(spec.annotations ?? []).map((a) => ({
          datasource: CLICKHOUSE,
          enable: true,
          hide: false,
          iconColor: a.color,
          name: a.name,
          target: { ...sqlTarget(a.sql, 'table', 'Anno'), limit: 100, matchAny: false, tags: [], type: 'dashboard' },
        })),
      ],
    },
    links: spec.links.map((l) => ({
      title: l.title,
      tooltip: l.tooltip,
      type: 'link',
      url: l.url ?? dashboardPath(l.uid!),
      icon: 'dashboard',
      asDropdown: false,
      includeVars: true,
      keepTime: true,
      targetBlank: false,
      tags: [],
    })),
    templating: { list: spec.variables },
    panels,
  }
}
