import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import {
  type AimsEvent,
  appendFactRows,
  emptyFactBatch,
  type FactTable,
  factColumns,
  factTables,
  parseEvent,
  toClickHouseDateTime,
  toFactRows,
} from '../../../shared/events/index.js'
import { allValidLines, sample } from './fixtures.js'

const migration = (file: string) =>
  readFileSync(
    fileURLToPath(new URL(`../../../deploy/clickhouse/migrations/${file}`, import.meta.url)),
    'utf8',
  )

/**
 * Column name → type of every fact table, read from the migrations so a change to either side fails
 * here: the tables of 0001_facts.sql with the columns later migrations add (`ADD COLUMN IF NOT EXISTS`).
 */
function ddlColumns(): Map<string, { name: string; type: string; hasDefault: boolean }[]> {
  const sql = migration('0001_facts.sql')
  const tables = new Map<string, { name: string; type: string; hasDefault: boolean }[]>()
  for (const match of sql.matchAll(/CREATE TABLE IF NOT EXISTS (\w+) \(\n([\s\S]*?)\n\) ENGINE/g)) {
    const columns = match[2]!
      .split('\n')
      .map((line) => line.trim().replace(/,$/, ''))
      .filter((line) => line !== '' && !line.startsWith('--'))
      .map((line) => {
        const [, name, rest] = /^(\w+)\s+(.*)$/.exec(line)!
        const hasDefault = / DEFAULT /.test(rest!)
        return { name: name!, type: rest!.replace(/ DEFAULT .*$/, ''), hasDefault }
      })
    tables.set(match[1]!, columns)
  }
  const later = readdirSync(fileURLToPath(new URL('../../../deploy/clickhouse/migrations/', import.meta.url)))
    .filter((f) => f.endsWith('.sql') && f > '0001')
    .sort()
  for (const file of later) {
    for (const alter of migration(file).matchAll(/ALTER TABLE (\w+)\n((?:\s+ADD COLUMN [^\n]*\n?)+)/g)) {
      const columns = tables.get(alter[1]!)
      if (columns === undefined) continue
      // One column per line: a type may hold commas itself (DateTime64(3, 'UTC')).
      for (const add of alter[2]!.matchAll(/ADD COLUMN IF NOT EXISTS (\w+) (.*?)[,;]?$/gm)) {
        const rest = add[2]!.trim()
        columns.push({
          name: add[1]!,
          type: rest.replace(/ DEFAULT .*$/, ''),
          hasDefault: / DEFAULT /.test(rest),
        })
      }
    }
  }
  return tables
}

const DATETIME = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/

/** Whether a JSONEachRow value fits the ClickHouse column type (the types 0001_facts.sql uses). */
function fits(type: string, value: unknown): boolean {
  const nullable = /^Nullable\((.*)\)$/.exec(type)
  if (nullable) return value === null || fits(nullable[1]!, value)
  const lowCardinality = /^LowCardinality\((.*)\)$/.exec(type)
  if (lowCardinality) return fits(lowCardinality[1]!, value)
  if (type === 'String') return typeof value === 'string'
  if (type.startsWith('DateTime64')) return typeof value === 'string' && DATETIME.test(value)
  if (type === 'UInt64') return Number.isSafeInteger(value) && (value as number) >= 0
  if (type === 'Bool') return typeof value === 'boolean'
  if (type === 'Array(String)') return Array.isArray(value) && value.every((v) => typeof v === 'string')
  if (type === "Array(DateTime64(3, 'UTC'))") {
    return Array.isArray(value) && value.every((v) => typeof v === 'string' && DATETIME.test(v))
  }
  if (type === 'Map(LowCardinality(String), Float64)') {
    return (
      typeof value === 'object' &&
      value !== null &&
      Object.values(value).every((v) => typeof v === 'number' && Number.isFinite(v))
    )
  }
  throw new Error(`the test does not know ClickHouse type ${type}; teach fits() about it`)
}

function events(): AimsEvent[] {
  return allValidLines().map((line) => {
    const result = parseEvent(JSON.parse(line))
    if (!result.ok) throw new Error(result.reason)
    return result.event
  })
}

describe('toFactRows against deploy/clickhouse/migrations (0001_facts.sql and later ADD COLUMNs)', () => {
  const ddl = ddlColumns()

  it('knows every fact table of the migration', () => {
    expect(ddl.size).toBeGreaterThanOrEqual(4)
    for (const table of factTables) expect(ddl.has(table), table).toBe(true)
  })

  it('fills exactly the columns without a DEFAULT, in DDL order, with values of the column types', () => {
    const seen = new Set<FactTable>()
    for (const event of events()) {
      for (const { table, row } of toFactRows(event)) {
        seen.add(table)
        const columns = ddl.get(table)!.filter((c) => !c.hasDefault)
        expect(Object.keys(row), table).toEqual(columns.map((c) => c.name))
        expect(factColumns[table], table).toEqual(columns.map((c) => c.name))
        for (const column of columns) {
          const value = (row as Record<string, unknown>)[column.name]
          expect(fits(column.type, value), `${table}.${column.name} = ${JSON.stringify(value)}`).toBe(true)
        }
      }
    }
    expect([...seen].sort()).toEqual([...factTables].sort())
  })

  it('leaves only ingested_at to its DEFAULT', () => {
    for (const table of factTables) {
      expect(
        ddl
          .get(table)!
          .filter((c) => c.hasDefault)
          .map((c) => c.name),
      ).toEqual(['ingested_at'])
    }
  })
})

describe('toFactRows values', () => {
  it('normalizes a privacy incident: UTC times, nulls for absent times, deduplicated controls', () => {
    const raw = sample('privacy-incidents', 2)
    raw.data.controls.push('ISO27001:A.5.24')
    const parsed = parseEvent(raw)
    if (!parsed.ok) throw new Error(parsed.reason)
    const [only, ...rest] = toFactRows(parsed.event)
    expect(rest).toEqual([])
    expect(only).toEqual({
      table: 'privacy_incident_events',
      row: {
        event_id: 'siem-7f3a-0142-3',
        event_time: '2025-03-04 15:31:02.000',
        source: '/security/siem/splunk-prod',
        incident_id: 'INC-2025-0142',
        status: 'notified',
        severity: 'high',
        category: 'misdirected_email',
        business_unit: 'retail-banking',
        occurred_at: '2025-03-03 08:12:00.000',
        detected_at: '2025-03-03 09:40:00.000',
        contained_at: '2025-03-03 11:05:00.000',
        resolved_at: null,
        closed_at: null,
        notifiable: true,
        // 16:30+01:00 in the event.
        regulator_notified_at: '2025-03-04 15:30:00.000',
        records_affected: 312,
        data_subjects_affected: 312,
        ai_system_id: '',
        controls: ['ISO27001:A.5.14', 'ISO27001:A.5.24', 'ISO27001:A.5.34'],
        // A v1 event names no regime: the clock columns are empty.
        awareness_at: null,
        classified_at: null,
        regimes: [],
        jurisdictions: [],
        report_steps: [],
        report_sent_at: [],
      },
    })
  })

  it('carries the regime fields: awareness, classification, regimes, jurisdictions and reports', () => {
    const raw = sample('privacy-incidents', 0) as { data: Record<string, unknown> }
    Object.assign(raw.data, {
      awarenessAt: '2025-03-03T10:40:00+01:00',
      classifiedAt: '2025-03-03T09:50:00Z',
      regimes: ['nis2', 'dora'],
      jurisdictions: ['EU'],
      reports: [
        { regime: 'nis2', step: 'early_warning', sentAt: '2025-03-03T20:00:00Z' },
        { regime: 'dora', step: 'initial', sentAt: '2025-03-03T12:00:00Z' },
      ],
    })
    const parsed = parseEvent(raw)
    if (!parsed.ok) throw new Error(parsed.reason)
    const row = toFactRows(parsed.event)[0]!.row as Record<string, unknown>
    expect(row).toMatchObject({
      awareness_at: '2025-03-03 09:40:00.000',
      classified_at: '2025-03-03 09:50:00.000',
      regimes: ['nis2', 'dora'],
      jurisdictions: ['EU'],
      report_steps: ['nis2/early_warning', 'dora/initial'],
      report_sent_at: ['2025-03-03 20:00:00.000', '2025-03-03 12:00:00.000'],
    })
  })

  it('turns a model evaluation into one metrics row and one row per group', () => {
    const parsed = parseEvent(sample('model-metrics', 3))
    if (!parsed.ok) throw new Error(parsed.reason)
    const rows = toFactRows(parsed.event)
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({
      table: 'model_metric_events',
      row: {
        baseline_version: '2.0.0',
        metrics: {
          accuracy: 0.871,
          precision: 0.62,
          recall: 0.71,
          f1: 0.662,
          auc: 0.913,
          log_loss: 0.314,
          latency_p95_ms: 84,
        },
      },
    })

    const withGroups = parseEvent(sample('model-metrics', 0))
    if (!withGroups.ok) throw new Error(withGroups.reason)
    const groupRows = toFactRows(withGroups.event).filter((r) => r.table === 'model_group_counts')
    expect(groupRows).toHaveLength(5)
    expect(groupRows[2]).toEqual({
      table: 'model_group_counts',
      row: {
        event_id: 'mlflow-run-8c1d2e',
        event_time: '2025-03-08 02:10:00.000',
        model_id: 'loan-approval',
        model_version: '3.1.4',
        environment: 'production',
        attribute: 'age_band',
        group_name: '18-25',
        tp: 330,
        fp: 80,
        tn: 700,
        fn: 90,
        selected: 0,
        total: 0,
        cell_attributes: [],
      },
    })
  })

  it('normalizes an audit finding with empty strings for absent text', () => {
    const parsed = parseEvent(sample('audit-findings', 5))
    if (!parsed.ok) throw new Error(parsed.reason)
    expect(toFactRows(parsed.event)[0]!.row).toMatchObject({
      finding_id: 'F-2025-033',
      standard: 'ISO42001',
      clause: '6.1.4',
      business_unit: '',
      due_at: null,
      closed_at: null,
      repeat_of: '',
    })
  })

  it('appendFactRows groups the same rows by table', () => {
    const batch = emptyFactBatch()
    const all = events()
    for (const event of all) appendFactRows(batch, event)
    const flat = all.flatMap(toFactRows)
    for (const table of factTables) {
      expect(batch[table]).toEqual(flat.filter((r) => r.table === table).map((r) => r.row))
    }
  })
})

describe('toClickHouseDateTime', () => {
  it('converts offsets to UTC and keeps milliseconds', () => {
    expect(toClickHouseDateTime('2025-03-04T16:30:00+01:00')).toBe('2025-03-04 15:30:00.000')
    expect(toClickHouseDateTime('2025-03-04T23:30:00.5-01:30')).toBe('2025-03-05 01:00:00.500')
    expect(toClickHouseDateTime('2025-03-04T16:30:00.123456Z')).toBe('2025-03-04 16:30:00.123')
    expect(toClickHouseDateTime('2025-03-04T16:30:00.07Z')).toBe('2025-03-04 16:30:00.070')
  })
})
