/**
 * What Grafana + grafana-clickhouse-datasource (v4) do to a panel's raw SQL before ClickHouse sees it, so
 * the tests can run every dashboard query for real. Three passes, in the plugin's order:
 *
 * 1. frontend, `applyConditionalAll`: `$__conditionalAll(cond, $var)` becomes `1=1` when "All" (or nothing)
 *    is selected, else `cond`. The arguments are split on commas at the macro's own bracket depth, and
 *    anything but exactly two arguments leaves the macro in place (ClickHouse then rejects the query).
 * 2. frontend, Grafana's template service with the plugin's format function: `$var`, `${var}`,
 *    `${var:format}`, `[[var]]`; an unformatted multi-value renders as `'a','b'`, a single value raw;
 *    built-ins `$__from`, `$__to` (`${__from:date:seconds}`), `$__interval`, `$__interval_ms`, `$__range_s`.
 *    Unknown names are left alone, as Grafana does.
 * 3. backend (pkg/macros/macros.go, through sqlds): `$__timeFilter(c)`, `$__timeFilter_ms(c)`,
 *    `$__dateFilter(c)`, `$__dateTimeFilter(d, t)` / `$__dt`, `$__fromTime`, `$__toTime`, `$__fromTime_ms`,
 *    `$__toTime_ms`, `$__timeInterval(c)`, `$__timeInterval_ms(c)`, `$__interval_s`.
 */

export interface TimeRange {
  from: Date
  to: Date
}

/** The current selection of one template variable. */
export interface VariableSelection {
  /** The selected values; for "All", every option's value (what Grafana expands All to). */
  values: string[]
  /** "All" is selected. */
  all?: boolean
  /** The variable is multi-value or has "Include All": an unformatted `${var}` renders as a list. */
  multi?: boolean
  /** The variable's custom all value, inserted verbatim (unformatted) when All is selected. */
  allValue?: string
}

export interface MacroContext {
  range: TimeRange
  /** The panel's interval ($__interval) in milliseconds. Default: {@link grafanaInterval} of the range. */
  intervalMs?: number
  variables?: Record<string, VariableSelection>
}

// ---------------------------------------------------------------------------------------------------------
// Pass 1: $__conditionalAll

const CONDITIONAL_ALL = '$__conditionalAll('

/** Splits `(a, b(c, d))` starting at the opening bracket into top-level arguments, as the plugin does. */
function macroArgs(text: string, openIndex: number): { args: string[]; end: number } | undefined {
  let depth = 0
  let argStart = openIndex + 1
  const args: string[] = []
  for (let i = openIndex; i < text.length; i++) {
    const c = text[i]
    if (c === '(') depth++
    else if (c === ')') depth--
    if (c === ',' && depth === 1) {
      args.push(text.slice(argStart, i))
      argStart = i + 1
    }
    if (depth === 0) {
      args.push(text.slice(argStart, i))
      return { args, end: i + 1 }
    }
  }
  return undefined
}

export function applyConditionalAll(sql: string, variables: Record<string, VariableSelection> = {}): string {
  let out = sql
  let at = out.lastIndexOf(CONDITIONAL_ALL)
  while (at !== -1) {
    const parsed = macroArgs(out, at + CONDITIONAL_ALL.length - 1)
    if (parsed?.args.length !== 2) {
      throw new Error(
        `$__conditionalAll needs exactly two top-level arguments (condition, $variable); the plugin would leave it unexpanded: ${out.slice(at, at + 80)}`,
      )
    }
    const [condition, varArg] = parsed.args as [string, string]
    const name = /(?<=\$\{)\w+(?=\})|(?<=\$)\w+/.exec(varArg.trim())?.[0]
    let phrase = condition
    if (name !== undefined) {
      const sel = variables[name]
      if (sel === undefined) throw new Error(`$__conditionalAll refers to unknown variable $${name}`)
      if (sel.all || sel.values.length === 0 || (sel.values.length === 1 && sel.values[0] === ''))
        phrase = '1=1'
    }
    out = out.slice(0, at) + phrase + out.slice(parsed.end)
    at = out.lastIndexOf(CONDITIONAL_ALL)
  }
  return out
}

// ---------------------------------------------------------------------------------------------------------
// Pass 2: template variables

function formatValue(value: string | string[], format: string | undefined): string {
  const list = Array.isArray(value) ? value : [value]
  switch (format) {
    case undefined:
      // The ClickHouse plugin's own format function: arrays become a quoted list, scalars stay raw.
      return Array.isArray(value) ? `'${value.join("','")}'` : value
    case 'raw':
      return list.join(',')
    case 'csv':
      return list.join(',')
    case 'singlequote':
      return list.map((v) => `'${v.replace(/'/g, "\\'")}'`).join(',')
    case 'doublequote':
      return list.map((v) => `"${v.replace(/"/g, '\\"')}"`).join(',')
    case 'sqlstring':
      return list.map((v) => `'${v.replace(/'/g, "''")}'`).join(',')
    case 'pipe':
      return list.join('|')
    case 'text':
      return list.join(' + ')
    case 'regex':
      return list.length === 1
        ? list[0]!.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&')
        : `(${list.map((v) => v.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&')).join('|')})`
    default:
      throw new Error(`template variable format :${format} is not supported by the test expander`)
  }
}

function builtIns(ctx: MacroContext): Record<string, (format: string | undefined) => string> {
  const from = ctx.range.from.getTime()
  const to = ctx.range.to.getTime()
  const intervalMs = ctx.intervalMs ?? grafanaInterval(ctx.range)
  const epoch = (ms: number) => (format: string | undefined) => {
    if (format === undefined || format === 'date:ms') return String(ms)
    if (format === 'date:seconds') return String(Math.floor(ms / 1000))
    if (format === 'date' || format === 'date:iso') return new Date(ms).toISOString()
    throw new Error(`format :${format} of $__from/$__to is not supported by the test expander`)
  }
  return {
    __from: epoch(from),
    __to: epoch(to),
    __interval: () => intervalText(intervalMs),
    __interval_ms: () => String(intervalMs),
    __range_s: () => String(Math.round((to - from) / 1000)),
    __range_ms: () => String(to - from),
  }
}

const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g

export function interpolateVariables(sql: string, ctx: MacroContext): string {
  const vars = ctx.variables ?? {}
  const builtin = builtIns(ctx)
  return sql.replace(
    VARIABLE,
    (
      match,
      plain?: string,
      bracket?: string,
      bracketFmt?: string,
      braced?: string,
      _path?: string,
      fmt?: string,
    ) => {
      const name = plain ?? bracket ?? braced
      const format = bracketFmt ?? fmt
      if (name === undefined) return match
      const b = builtin[name]
      if (b) return b(format)
      const sel = vars[name]
      if (!sel) return match
      if (sel.all && sel.allValue !== undefined && format !== 'text') return sel.allValue
      const value = sel.multi || sel.all ? sel.values : (sel.values[0] ?? '')
      return formatValue(value, format)
    },
  )
}

// ---------------------------------------------------------------------------------------------------------
// Pass 3: backend macros

const seconds = (d: Date) => Math.floor(d.getTime() / 1000)
const toDateTime = (d: Date) => `toDateTime(${seconds(d)})`
const toDateTime64 = (d: Date) => `fromUnixTimestamp64Milli(${d.getTime()})`
const toDate = (d: Date) => `toDate('${d.toISOString().slice(0, 10)}')`

type Backend = (args: string[], ctx: Required<Pick<MacroContext, 'range' | 'intervalMs'>>) => string

function arity(name: string, args: string[], n: number): void {
  if (args.length !== n) throw new Error(`$__${name}: expected ${n} argument(s), received ${args.length}`)
}

const backendMacros: Record<string, Backend> = {
  fromTime: (_, { range }) => toDateTime(range.from),
  toTime: (_, { range }) => toDateTime(range.to),
  fromTime_ms: (_, { range }) => toDateTime64(range.from),
  toTime_ms: (_, { range }) => toDateTime64(range.to),
  timeFilter: (args, { range }) => {
    arity('timeFilter', args, 1)
    return `${args[0]} >= ${toDateTime(range.from)} AND ${args[0]} <= ${toDateTime(range.to)}`
  },
  timeFilter_ms: (args, { range }) => {
    arity('timeFilter_ms', args, 1)
    return `${args[0]} >= ${toDateTime64(range.from)} AND ${args[0]} <= ${toDateTime64(range.to)}`
  },
  dateFilter: (args, { range }) => {
    arity('dateFilter', args, 1)
    return `${args[0]} >= ${toDate(range.from)} AND ${args[0]} <= ${toDate(range.to)}`
  },
  dateTimeFilter: (args, { range }) => {
    arity('dateTimeFilter', args, 2)
    const [d, t] = args as [string, string]
    return `(${d} >= ${toDate(range.from)} AND ${d} <= ${toDate(range.to)}) AND (${t} >= ${toDateTime(range.from)} AND ${t} <= ${toDateTime(range.to)})`
  },
  timeInterval: (args, { intervalMs }) => {
    arity('timeInterval', args, 1)
    return `toStartOfInterval(toDateTime(${args[0]}), INTERVAL ${Math.max(Math.floor(intervalMs / 1000), 1)} second)`
  },
  timeInterval_ms: (args, { intervalMs }) => {
    arity('timeInterval_ms', args, 1)
    return `toStartOfInterval(toDateTime64(${args[0]}, 3), INTERVAL ${Math.max(Math.floor(intervalMs), 1)} millisecond)`
  },
  interval_s: (_, { intervalMs }) => String(Math.max(Math.floor(intervalMs / 1000), 1)),
}
backendMacros.dt = backendMacros.dateTimeFilter!

export function applyBackendMacros(sql: string, ctx: MacroContext): string {
  const full = { range: ctx.range, intervalMs: ctx.intervalMs ?? grafanaInterval(ctx.range) }
  // Longest names first, with a word boundary, so $__timeFilter never eats $__timeFilter_ms.
  const names = Object.keys(backendMacros).sort((a, b) => b.length - a.length)
  const re = new RegExp(`\\$__(${names.join('|')})\\b`, 'g')
  let out = ''
  let last = 0
  for (let m = re.exec(sql); m !== null; m = re.exec(sql)) {
    const name = m[1]!
    let end = re.lastIndex
    let args: string[] = []
    if (sql[end] === '(') {
      const parsed = macroArgs(sql, end)
      if (!parsed) throw new Error(`$__${name}: unbalanced brackets`)
      args = parsed.args
        .map((a) => a.trim())
        .filter((a, i, all) => !(all.length === 1 && a === '' && i === 0))
      end = parsed.end
    }
    out += sql.slice(last, m.index) + backendMacros[name]!(args, full)
    last = end
    re.lastIndex = end
  }
  return out + sql.slice(last)
}

// ---------------------------------------------------------------------------------------------------------

/** All three passes. Throws if a `$__macro` or a known-but-unexpanded `${var}` is left over. */
export function expandMacros(sql: string, ctx: MacroContext): string {
  const out = applyBackendMacros(interpolateVariables(applyConditionalAll(sql, ctx.variables), ctx), ctx)
  const leftover = /\$__\w+|\$\{\w+[^}]*\}|\[\[\w+\]\]/.exec(out)
  if (leftover) throw new Error(`unexpanded macro or variable ${leftover[0]} in:\n${out}`)
  return out
}

/** Grafana's interval: the range over the max data points, rounded to a "nice" step (rangeutil.roundInterval). */
export function grafanaInterval(range: TimeRange, maxDataPoints = 1000, minIntervalMs = 0): number {
  const raw = Math.max((range.to.getTime() - range.from.getTime()) / maxDataPoints, minIntervalMs)
  const steps: [limit: number, step: number][] = [
    [15, 10],
    [35, 20],
    [75, 50],
    [150, 100],
    [350, 200],
    [750, 500],
    [1500, 1000],
    [3500, 2000],
    [7500, 5000],
    [12500, 10000],
    [17500, 15000],
    [25000, 20000],
    [45000, 30000],
    [90000, 60000],
    [210000, 120000],
    [450000, 300000],
    [750000, 600000],
    [1050000, 900000],
    [1500000, 1200000],
    [2700000, 1800000],
    [5400000, 3600000],
    [9000000, 7200000],
    [16200000, 10800000],
    [32400000, 21600000],
    [86400000, 43200000],
    [604800000, 86400000],
    [1814400000, 604800000],
    [3628800000, 2592000000],
  ]
  for (const [limit, step] of steps) if (raw < limit) return step
  return 31536000000
}

function intervalText(ms: number): string {
  const units: [string, number][] = [
    ['y', 31536000000],
    ['w', 604800000],
    ['d', 86400000],
    ['h', 3600000],
    ['m', 60000],
    ['s', 1000],
  ]
  for (const [u, size] of units) if (ms % size === 0 && ms >= size) return `${ms / size}${u}`
  return `${ms}ms`
}

// ---------------------------------------------------------------------------------------------------------
// Dashboards: which targets run on ClickHouse, and which columns their panels read

export const CLICKHOUSE_PLUGIN = 'grafana-clickhouse-datasource'

interface DatasourceRef {
  type?: string
  uid?: string
}

export interface DashboardPanel {
  id?: number
  type: string
  title?: string
  description?: string
  datasource?: DatasourceRef | null
  targets?: Record<string, unknown>[]
  panels?: DashboardPanel[]
  gridPos?: { x: number; y: number; w: number; h: number }
  fieldConfig?: {
    defaults?: Record<string, unknown>
    overrides?: { matcher: { id: string; options?: unknown }; properties: unknown[] }[]
  }
  options?: Record<string, unknown>
  transformations?: { id: string; options?: Record<string, unknown> }[]
  links?: { url?: string; title?: string }[]
}

export interface Dashboard {
  uid: string
  title: string
  panels: DashboardPanel[]
  templating?: { list: TemplateVariable[] }
  [key: string]: unknown
}

export interface TemplateVariable {
  name: string
  type: string
  datasource?: DatasourceRef | null
  query?: unknown
  definition?: string
  multi?: boolean
  includeAll?: boolean
  allValue?: string | null
  [key: string]: unknown
}

export interface ClickHouseTarget {
  dashboardUid: string
  panelId: number
  panelTitle: string
  panelType: string
  refId: string
  rawSql: string
  /** grafana-clickhouse-datasource format: 0 time series, 1 table, 2 logs, 3 traces, 4 auto. */
  format: number | undefined
  /** Columns the panel reads by name (overrides, transformations, x/y mappings, data links). */
  expectedColumns: string[]
  /** The panel needs a time column first (time series panels). */
  needsTime: boolean
  /** The panel plots numbers: at least one numeric column. */
  needsNumber: boolean
}

/** Every panel, rows' nested panels included, in dashboard order. */
export function allPanels(dashboard: Pick<Dashboard, 'panels'>): DashboardPanel[] {
  const out: DashboardPanel[] = []
  const walk = (panels: DashboardPanel[] | undefined) => {
    for (const p of panels ?? []) {
      out.push(p)
      walk(p.panels)
    }
  }
  walk(dashboard.panels)
  return out
}

function isClickHouse(ref: DatasourceRef | null | undefined): boolean {
  return ref?.type === CLICKHOUSE_PLUGIN
}

/** Field names a panel refers to, read from its configuration (what must exist in the query result). */
export function referencedColumns(panel: DashboardPanel): string[] {
  const names = new Set<string>()
  for (const o of panel.fieldConfig?.overrides ?? []) {
    if (o.matcher.id === 'byName' && typeof o.matcher.options === 'string') names.add(o.matcher.options)
  }
  for (const t of panel.transformations ?? []) {
    if (t.id === 'organize') {
      for (const k of Object.keys((t.options?.renameByName as Record<string, string>) ?? {})) names.add(k)
      for (const k of Object.keys((t.options?.indexByName as Record<string, number>) ?? {})) names.add(k)
    }
  }
  if (typeof panel.options?.xField === 'string') names.add(panel.options.xField)
  const series = panel.options?.series as { x?: unknown; y?: unknown }[] | undefined
  for (const s of series ?? []) {
    for (const dim of [s.x, s.y]) {
      // Grafana 10.x stores xychart dimensions as a field name; 11.x as { matcher: { options: name } }.
      if (typeof dim === 'string') names.add(dim)
      const opt = (dim as { matcher?: { options?: unknown } } | undefined)?.matcher?.options
      if (typeof opt === 'string') names.add(opt)
    }
  }
  const links = JSON.stringify([panel.fieldConfig?.defaults?.links ?? [], panel.fieldConfig?.overrides ?? []])
  for (const m of links.matchAll(/__data\.fields(?:\[\\"([^\\]+)\\"\]|\.(\w+))/g)) names.add((m[1] ?? m[2])!)
  return [...names]
}

/** Every ClickHouse query of a dashboard: one entry per target, panels in rows included. */
export function clickHouseTargets(dashboard: Dashboard): ClickHouseTarget[] {
  const out: ClickHouseTarget[] = []
  for (const panel of allPanels(dashboard)) {
    if (panel.type === 'row') continue
    for (const t of panel.targets ?? []) {
      const ds = (t.datasource as DatasourceRef | undefined) ?? panel.datasource
      if (!isClickHouse(ds)) continue
      if (t.hide === true) continue
      out.push({
        dashboardUid: dashboard.uid,
        panelId: panel.id ?? -1,
        panelTitle: panel.title ?? '',
        panelType: panel.type,
        refId: String(t.refId ?? 'A'),
        rawSql: String(t.rawSql ?? ''),
        format: typeof t.format === 'number' ? t.format : undefined,
        expectedColumns: referencedColumns(panel),
        needsTime: panel.type === 'timeseries' || panel.type === 'state-timeline',
        needsNumber: ['timeseries', 'stat', 'gauge', 'bargauge', 'barchart', 'piechart', 'xychart'].includes(
          panel.type,
        ),
      })
    }
  }
  return out
}

/** Template variables whose options come from a ClickHouse query, with that query. */
export function clickHouseVariables(
  dashboard: Dashboard,
): { name: string; sql: string; variable: TemplateVariable }[] {
  return (dashboard.templating?.list ?? [])
    .filter((v) => v.type === 'query' && isClickHouse(v.datasource))
    .map((v) => {
      const q = v.query
      const sql =
        typeof q === 'string'
          ? q
          : String((q as { rawSql?: string } | undefined)?.rawSql ?? v.definition ?? '')
      return { name: v.name, sql, variable: v }
    })
}
