// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} is Grafana's variable syntax under test
import { describe, expect, it } from 'vitest'
import {
  applyConditionalAll,
  clickHouseTargets,
  type Dashboard,
  expandMacros,
  grafanaInterval,
  interpolateVariables,
  type MacroContext,
} from '../helpers/grafana-macros.js'

/** The test expander must behave like grafana-clickhouse-datasource v4 (pkg/macros, CHDatasource.ts). */

const range = { from: new Date('2026-01-01T00:00:00.250Z'), to: new Date('2026-01-31T00:00:00.750Z') }
const FROM_S = 1767225600
const TO_S = 1769817600
const ctx = (variables: MacroContext['variables'] = {}, intervalMs = 60_000): MacroContext => ({
  range,
  intervalMs,
  variables,
})

describe('backend macros', () => {
  it('expands time filters and boundaries as the plugin does', () => {
    expect(expandMacros('WHERE $__timeFilter(event_time)', ctx())).toBe(
      `WHERE event_time >= toDateTime(${FROM_S}) AND event_time <= toDateTime(${TO_S})`,
    )
    expect(expandMacros('WHERE $__timeFilter_ms( t )', ctx())).toBe(
      `WHERE t >= fromUnixTimestamp64Milli(${FROM_S}250) AND t <= fromUnixTimestamp64Milli(${TO_S}750)`,
    )
    expect(expandMacros('$__fromTime, $__toTime', ctx())).toBe(`toDateTime(${FROM_S}), toDateTime(${TO_S})`)
    expect(expandMacros('$__fromTime_ms $__toTime_ms', ctx())).toBe(
      `fromUnixTimestamp64Milli(${FROM_S}250) fromUnixTimestamp64Milli(${TO_S}750)`,
    )
    expect(expandMacros('$__dateFilter(d)', ctx())).toBe(
      `d >= toDate('2026-01-01') AND d <= toDate('2026-01-31')`,
    )
  })

  it('expands intervals from the panel interval (at least one second)', () => {
    expect(expandMacros('$__timeInterval(at) $__interval_s', ctx({}, 300_000))).toBe(
      'toStartOfInterval(toDateTime(at), INTERVAL 300 second) 300',
    )
    expect(expandMacros('$__interval_s', ctx({}, 20))).toBe('1')
    expect(expandMacros('$__timeInterval_ms(at)', ctx({}, 20))).toBe(
      'toStartOfInterval(toDateTime64(at, 3), INTERVAL 20 millisecond)',
    )
    // 30 days over 1000 points = 43 min, rounded like Grafana's rangeutil.roundInterval
    expect(grafanaInterval(range)).toBe(1_800_000)
  })

  it('rejects a wrong argument count and leftovers', () => {
    expect(() => expandMacros('$__timeFilter(a, b)', ctx())).toThrow(/expected 1/)
    expect(() => expandMacros('$__timeFilter', ctx())).toThrow(/expected 1/)
    expect(() => expandMacros('$__unknownMacro(x)', ctx())).toThrow(/unexpanded/)
    expect(() => expandMacros('x = ${nope}', ctx())).toThrow(/unexpanded/)
  })
})

describe('template variables', () => {
  const bu = { values: ['retail', "o'neil"], all: false, multi: true }
  it('formats like Grafana with the plugin format function', () => {
    expect(interpolateVariables('IN (${bu})', ctx({ bu }))).toBe(`IN ('retail','o'neil')`)
    expect(interpolateVariables('IN (${bu:singlequote})', ctx({ bu }))).toBe(`IN ('retail','o\\'neil')`)
    expect(interpolateVariables('IN (${bu:sqlstring})', ctx({ bu }))).toBe(`IN ('retail','o''neil')`)
    expect(interpolateVariables('${bu:csv} $bu [[bu]]', ctx({ bu }))).toBe(
      `retail,o'neil 'retail','o'neil' 'retail','o'neil'`,
    )
    // a single-value variable is inserted raw
    expect(interpolateVariables('= $one', ctx({ one: { values: ['x'] } }))).toBe('= x')
    expect(interpolateVariables('${__from:date:seconds} $__to', ctx())).toBe(`${FROM_S} ${TO_S}750`)
    expect(interpolateVariables('$__interval $__interval_ms', ctx())).toBe('1m 60000')
    // unknown names and backend macros are left alone
    expect(interpolateVariables('$__timeFilter(t) $other $__interval_s', ctx())).toBe(
      '$__timeFilter(t) $other $__interval_s',
    )
  })

  it('uses the custom all value verbatim', () => {
    const v = { values: ['a', 'b'], all: true, multi: true, allValue: '.*' }
    expect(interpolateVariables('${v:singlequote}', ctx({ v }))).toBe('.*')
  })
})

describe('$__conditionalAll', () => {
  const sql = 'WHERE $__conditionalAll(business_unit IN (${bu:singlequote}), $bu) AND x'
  it('is 1=1 when All is selected, the condition otherwise', () => {
    expect(applyConditionalAll(sql, { bu: { values: ['a', 'b'], all: true, multi: true } })).toBe(
      'WHERE 1=1 AND x',
    )
    expect(expandMacros(sql, ctx({ bu: { values: ['a'], all: false, multi: true } }))).toBe(
      "WHERE business_unit IN ('a') AND x",
    )
  })

  it('keeps commas nested in brackets inside the condition, and handles several macros', () => {
    const nested =
      "$__conditionalAll(if(mapContains(m, 'k'), m['k'] IN (${v:singlequote}), 1), ${v}) OR $__conditionalAll(y = 1, $w)"
    expect(
      expandMacros(
        nested,
        ctx({ v: { values: ['p'], multi: true }, w: { values: ['q'], all: true, multi: true } }),
      ),
    ).toBe("if(mapContains(m, 'k'), m['k'] IN ('p'), 1) OR 1=1")
  })

  it('rejects a top-level comma in the condition (the plugin would leave the macro unexpanded)', () => {
    expect(() => applyConditionalAll('$__conditionalAll(a, b, $v)', { v: { values: ['x'] } })).toThrow(
      /exactly two/,
    )
  })
})

describe('listing ClickHouse targets', () => {
  it('finds ClickHouse targets in rows and nested panels, skips other datasources', () => {
    const ds = { type: 'grafana-clickhouse-datasource', uid: 'aims-clickhouse' }
    const d: Dashboard = {
      uid: 'x',
      title: 'x',
      panels: [
        {
          type: 'row',
          id: 1,
          panels: [
            {
              type: 'timeseries',
              id: 2,
              title: 'in row',
              datasource: ds,
              targets: [{ refId: 'A', rawSql: 'SELECT 1', format: 0 }],
              fieldConfig: { overrides: [{ matcher: { id: 'byName', options: 'n' }, properties: [] }] },
            },
          ],
        },
        {
          type: 'table',
          id: 3,
          title: 'table',
          datasource: ds,
          targets: [{ refId: 'A', rawSql: 'SELECT 2' }],
          fieldConfig: {
            defaults: { links: [{ url: '/d/y?var-a=${__data.fields.incident_id}' }] },
            overrides: [],
          },
        },
        {
          type: 'stat',
          id: 4,
          title: 'prom',
          datasource: { type: 'prometheus', uid: 'p' },
          targets: [{ refId: 'A', expr: 'up' }],
        },
      ],
    }
    const targets = clickHouseTargets(d)
    expect(targets.map((t) => [t.panelId, t.rawSql, t.needsTime])).toEqual([
      [2, 'SELECT 1', true],
      [3, 'SELECT 2', false],
    ])
    expect(targets[0]!.expectedColumns).toEqual(['n'])
    expect(targets[1]!.expectedColumns).toEqual(['incident_id'])
  })
})
