import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateHistory } from '../../../services/demo/generator.js'
import { backfill, evaluateAsOf } from '../../../services/processor/history.js'
import { mountReadApi } from '../../../services/processor/read-api.js'
import { KPI_VALUE_HEARTBEAT_MS } from '../../../services/processor/series.js'
import { snapshotFromState } from '../../../services/processor/snapshot.js'
import { type ClickHouse, createClickHouse, queryRows } from '../../../shared/clickhouse/client.js'
import { migrate } from '../../../shared/clickhouse/migrate.js'
import { loadConfig } from '../../../shared/config/env.js'
import { type FactTable, toFactRows } from '../../../shared/events/fact-rows.js'
import type { AimsEvent } from '../../../shared/events/index.js'
import { Health } from '../../../shared/http/health.js'
import { HttpServer } from '../../../shared/http/server.js'
import { classify, toClickHouseTime } from '../../../shared/kpi/breach-state.js'
import { getKpi, KPIS } from '../../../shared/kpi/catalog.js'
import { kpiDefinitionVersion } from '../../../shared/kpi/definition-version.js'
import { runReference } from '../../../shared/kpi/run.js'
import { parseAimsConfig, resolveThresholds } from '../../../shared/kpi/thresholds.js'
import { createLogger } from '../../../shared/logger.js'
import { apiGet, testAuth } from '../../helpers/api.js'
import { incidentEvent } from '../../helpers/events.js'
import { allPanels, type Dashboard, expandMacros } from '../../helpers/grafana-macros.js'

/**
 * KPI history over the demo's four months (the generator the demo feed produces, written straight into
 * the fact tables with an ingest lag): a backfill's value at T equals what the processor's live path
 * computes at T from the facts that had happened by T; "known at T" leaves out a late-reported incident
 * that "happened by T" counts; a definition change splits a series' versions; a backfill resumes and a
 * run repeated changes no row.
 */

const DAY = 86_400_000
const NOW = new Date('2026-06-01T00:00:00.000Z')
const FROM = new Date(NOW.getTime() - 112 * DAY)
const STEP = 14 * DAY
/** Facts arrive this long after they happen (a collector's lag), so both axes have data. */
const INGEST_LAG_MS = 90_000
const dataDir = mkdtempSync(join(tmpdir(), 'aims-kpi-history-'))
const database = `kpi_history_${process.pid}`
let ch: ClickHouse
const FACT_TABLES = [
  'privacy_incident_events',
  'model_metric_events',
  'model_group_counts',
  'audit_finding_events',
]

const LATE_INCIDENT = 'INC-LATE-1'
/** Happened (detected) 2 days before T, reported 3 days after T. */
const T_LATE = new Date(NOW.getTime() - 28 * DAY)

function open(db: string): Promise<ClickHouse> {
  return createClickHouse(
    loadConfig({ CLICKHOUSE_DATA_DIR: dataDir, CLICKHOUSE_DATABASE: db, LOG_LEVEL: 'warn' }),
  )
}

async function insertFacts(target: ClickHouse, events: readonly AimsEvent[], ingestedAt?: Date) {
  const byTable = new Map<FactTable, Record<string, unknown>[]>()
  for (const event of events) {
    const lagged = ingestedAt ?? new Date(Date.parse(event.time) + INGEST_LAG_MS)
    for (const { table, row } of toFactRows(event)) {
      const rows = byTable.get(table) ?? []
      rows.push({ ...row, ingested_at: toClickHouseTime(lagged) })
      byTable.set(table, rows)
    }
  }
  for (const [table, values] of byTable) {
    await target.client.insert({ table, values, format: 'JSONEachRow' })
  }
}

beforeAll(async () => {
  ch = await open(database)
  await migrate(ch)
  await insertFacts(ch, generateHistory({ seed: 42, now: NOW, months: 4 }))
  const late = incidentEvent({
    incidentId: LATE_INCIDENT,
    time: new Date(T_LATE.getTime() - 2 * DAY).toISOString(),
    status: 'detected',
    detectedAt: new Date(T_LATE.getTime() - 2 * DAY).toISOString(),
    notifiable: false,
    severity: 'critical',
  }) as unknown as AimsEvent
  await insertFacts(ch, [late], new Date(T_LATE.getTime() + 3 * DAY))
}, 300_000)

afterAll(async () => {
  await ch?.close()
  rmSync(dataDir, { recursive: true, force: true })
})

const review = JSON.parse(
  readFileSync(new URL('../../../dashboards/management-review.json', import.meta.url), 'utf8'),
) as Dashboard & { annotations: { list: { name: string; target?: { rawSql: string } }[] } }

const key = (kpiId: string, scope: Record<string, string>) =>
  `${kpiId} ${JSON.stringify(Object.entries(scope).sort())}`

interface StoredRow {
  kpi_id: string
  scope: Record<string, string>
  value: number | null
  status: string
  definition_version: string
  at: string
}

const historyAt = (at: Date, axis = 'event_time') =>
  queryRows<StoredRow>(
    ch,
    `SELECT kpi_id, scope, value, status, definition_version, toString(as_of) AS at FROM kpi_history FINAL
     WHERE axis = {axis:String} AND as_of = {at:DateTime64(3)}`,
    { axis, at: toClickHouseTime(at) },
  )

describe('history over the demo', () => {
  it('backfills the same value at T as a live evaluation at T on the facts that had happened by T', {
    timeout: 600_000,
  }, async () => {
    const result = await backfill(ch, { from: FROM, to: NOW, stepMs: STEP, axis: 'event_time' })
    expect(result).toMatchObject({ steps: 9, evaluated: 9, skipped: 0 })
    expect(result.rows).toBeGreaterThan(9 * 20)

    const compared = new Map<string, Set<string>>()
    const times = [new Date(FROM.getTime() + 4 * STEP), new Date(FROM.getTime() + 7 * STEP), NOW]
    for (const [i, at] of times.entries()) {
      // The live path on a database holding only the facts that had happened by T.
      const live = await open(`${database}_live_${i}`)
      let liveSamples: Awaited<ReturnType<typeof snapshotFromState>>
      try {
        await migrate(live)
        for (const table of FACT_TABLES) {
          await live.client.command({
            query: `INSERT INTO ${live.database}.${table} SELECT * FROM ${database}.${table} WHERE event_time <= {at:DateTime64(3)}`,
            query_params: { at: toClickHouseTime(at) },
          })
        }
        liveSamples = await snapshotFromState(live, at)
      } finally {
        await live.close()
      }
      const stored = await historyAt(at)
      const got = new Map(stored.map((r) => [key(r.kpi_id, r.scope), r]))
      const label = at.toISOString()
      expect(stored.length, label).toBeGreaterThan(20)
      expect(liveSamples.map((s) => key(s.kpiId, s.scope)).sort(), label).toEqual([...got.keys()].sort())
      // And the reference definition (SQL over the facts, as of T on the same axis) agrees series by series.
      const reference = await runReference(ch, at, { axis: 'event_time' })
      expect(reference.map((s) => key(s.kpiId, s.scope)).sort(), label).toEqual([...got.keys()].sort())
      for (const s of reference) {
        const r = got.get(key(s.kpiId, s.scope))!
        expect(r.value, `reference ${key(s.kpiId, s.scope)} at ${label}`).toBe(s.value)
        expect(r.status).toBe(classify({ ...s }, resolveThresholds(getKpi(s.kpiId), s.scope, undefined)))
      }
      for (const s of liveSamples) {
        const r = got.get(key(s.kpiId, s.scope))!
        const kpi = getKpi(s.kpiId)
        expect(r.value, `${key(s.kpiId, s.scope)} at ${label}`).toBe(s.value)
        const th = resolveThresholds(kpi, s.scope, undefined)
        expect(r.status, `${key(s.kpiId, s.scope)} at ${label}`).toBe(classify({ ...s }, th))
        expect(r.definition_version).toBe(kpiDefinitionVersion(kpi, undefined))
        if (s.value !== null) {
          const set = compared.get(kpi.area) ?? new Set<string>()
          set.add(kpi.id)
          compared.set(kpi.area, set)
        }
      }
    }
    // Several KPIs of each area had a value to compare.
    for (const area of ['privacy', 'model', 'audit']) {
      expect(compared.get(area)?.size ?? 0, area).toBeGreaterThanOrEqual(3)
    }
  })

  it('gives the management review trend panels the backfilled history (no live evaluation yet)', {
    timeout: 120_000,
  }, async () => {
    const panel = allPanels(review).find((p) => p.title === 'Incident handling times')!
    const sql = expandMacros(panel.targets![0]!.rawSql as string, {
      range: { from: FROM, to: NOW },
      intervalMs: STEP,
    })
    const points = await queryRows<{ time: string; mttc_hours: number | null }>(ch, sql)
    const mttc = points.map((p) => p.mttc_hours).filter((v): v is number => v !== null)
    expect(mttc.length).toBeGreaterThanOrEqual(8)
    // A trend, not a flat line: the demo's incidents move the mean time to contain over the months.
    expect(new Set(mttc).size).toBeGreaterThan(1)
  })

  it("serves the backfilled history through the read API the review page's trend chart reads", {
    timeout: 60_000,
  }, async () => {
    const auth = testAuth()
    const http = new HttpServer(new Health(), createLogger({ LOG_LEVEL: 'warn', LOG_FORMAT: 'json' }), {
      auth: auth.authenticator,
    })
    mountReadApi(http, {
      ch,
      kpis: KPIS,
      config: undefined,
      currentWindowMs: KPI_VALUE_HEARTBEAT_MS,
      clock: () => NOW,
    })
    try {
      const base = (await http.listen('127.0.0.1', 0)).url
      const res = await apiGet(
        base,
        `/api/kpis/privacy.mttc_hours/history?from=${FROM.toISOString()}&limit=5000`,
        auth.tokens.executive,
      )
      expect(res.status).toBe(200)
      const points = res.body.points as { evaluated_at: string; value: number | null }[]
      // No live evaluation ran: every point is a backfilled step (9 steps, one series).
      expect(points).toHaveLength(9)
      expect(points[0]!.evaluated_at).toMatch(new RegExp(`^${FROM.toISOString().slice(0, 10)}`))
      expect(points.filter((p) => p.value !== null).length).toBeGreaterThan(0)
    } finally {
      await http.close()
    }
  })

  it('"known at T" leaves out a late-reported incident that "happened by T" counts', {
    timeout: 120_000,
  }, async () => {
    const critical = (rows: Awaited<ReturnType<typeof evaluateAsOf>>) =>
      rows.find((r) => r.kpi_id === 'privacy.incidents_opened' && r.scope.severity === 'critical')?.value
    const happened = await evaluateAsOf(ch, T_LATE, { axis: 'event_time' })
    const known = await evaluateAsOf(ch, T_LATE, { axis: 'ingested_at' })
    expect(critical(happened)).toBe((critical(known) ?? 0) + 1)
    // Once it has been reported, both axes agree.
    const later = new Date(T_LATE.getTime() + 4 * DAY)
    expect(critical(await evaluateAsOf(ch, later, { axis: 'ingested_at' }))).toBe(
      critical(await evaluateAsOf(ch, later, { axis: 'event_time' })),
    )
  })

  it('resumes an interrupted backfill and writes the same rows when run again', {
    timeout: 600_000,
  }, async () => {
    const from = new Date(FROM.getTime() + 3 * DAY)
    const to = new Date(from.getTime() + 6 * DAY)
    const half = await backfill(ch, {
      from,
      to: new Date(from.getTime() + 2 * DAY),
      stepMs: DAY,
      axis: 'ingested_at',
    })
    expect(half).toMatchObject({ steps: 3, evaluated: 3, skipped: 0 })
    const whole = await backfill(ch, { from, to, stepMs: DAY, axis: 'ingested_at' })
    expect(whole).toMatchObject({ steps: 7, evaluated: 4, skipped: 3 })
    const rows = () =>
      queryRows<Record<string, unknown>>(
        ch,
        `SELECT as_of, kpi_id, fingerprint, scope, value, status, n, reason, definition_version
         FROM kpi_history FINAL WHERE axis = 'ingested_at'
         ORDER BY as_of, kpi_id, fingerprint`,
      )
    const first = await rows()
    expect(first.length).toBeGreaterThan(7 * 20)
    // Run again from scratch (no step recorded): every step evaluated again, the same rows remain.
    await ch.client.command({ query: `TRUNCATE TABLE kpi_history_steps` })
    const again = await backfill(ch, { from, to, stepMs: DAY, axis: 'ingested_at' })
    expect(again).toMatchObject({ steps: 7, evaluated: 7, skipped: 0 })
    expect(await rows()).toEqual(first)
  })

  it('splits a series by definition version when its definition changes, and records the change', {
    timeout: 600_000,
  }, async () => {
    const kpiId = 'privacy.mttc_hours'
    const before = kpiDefinitionVersion(getKpi(kpiId), undefined)
    const config = parseAimsConfig({ kpis: { [kpiId]: { warning: 6, critical: 12 } } })
    const after = kpiDefinitionVersion(getKpi(kpiId), config)
    expect(after).not.toBe(before)
    const result = await backfill(ch, {
      from: new Date(FROM.getTime() + 4 * STEP),
      to: NOW,
      stepMs: STEP,
      axis: 'event_time',
      config,
    })
    // The steps were done under the old definitions: done again under the new ones.
    expect(result).toMatchObject({ evaluated: 5, skipped: 0 })
    const versions = await queryRows<{ definition_version: string; first: string; last: string }>(
      ch,
      `SELECT definition_version, toString(min(as_of)) AS first, toString(max(as_of)) AS last
       FROM kpi_history FINAL WHERE axis = 'event_time' AND kpi_id = {kpi:String}
       GROUP BY definition_version ORDER BY first`,
      { kpi: kpiId },
    )
    expect(versions.map((v) => v.definition_version)).toEqual([before, after])
    expect(versions[0]!.last < versions[1]!.first).toBe(true)
    // Another KPI's definition did not change: one version throughout.
    const other = await queryRows<{ v: string }>(
      ch,
      `SELECT DISTINCT definition_version AS v FROM kpi_history FINAL
       WHERE axis = 'event_time' AND kpi_id = 'privacy.mttd_hours'`,
    )
    expect(other).toHaveLength(1)
    const changes = await queryRows<{ previous_version: string; version: string; changes: string[] }>(
      ch,
      `SELECT previous_version, version, changes FROM kpi_definition_changes FINAL
       WHERE kpi_id = {kpi:String} ORDER BY changed_at`,
      { kpi: kpiId },
    )
    expect(changes).toEqual([
      { previous_version: '', version: before, changes: [] },
      { previous_version: before, version: after, changes: ['config'] },
    ])
    // The management review dashboard marks the change on its trends.
    const annotation = review.annotations.list.find((a) => a.name === 'KPI definition changes')!
    const now = Date.now()
    const marks = await queryRows<{ time: string; text: string }>(
      ch,
      expandMacros(annotation.target!.rawSql, {
        range: { from: new Date(now - DAY), to: new Date(now + DAY) },
      }),
    )
    expect(marks.map((m) => m.text)).toEqual([`${kpiId}: definition ${before} → ${after} (changed: config)`])
  })
})
