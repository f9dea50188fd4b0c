import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { snapshotFromState } from '../../../services/processor/snapshot.js'
import { type ClickHouse, createClickHouse, queryRows } from '../../../shared/clickhouse/client.js'
import { migrate } from '../../../shared/clickhouse/migrate.js'
import { loadConfig } from '../../../shared/config/env.js'
import {
  classify,
  evaluate,
  fingerprint,
  identify,
  OPEN_BREACHES_SQL,
  reasonCodes,
  restoreStates,
  type StoredTransition,
  toClickHouseTime,
  toKpiValueRow,
  toTransitionRow,
} from '../../../shared/kpi/breach-state.js'
import { getKpi } from '../../../shared/kpi/catalog.js'
import type { Sample } from '../../../shared/kpi/engine/sample.js'
import { computeFairnessKpi } from '../../../shared/kpi/fairness/parity.js'
import { DEFAULT_FAIRNESS_KPIS, kpiName } from '../../../shared/kpi/fairness/spec.js'
import { fairnessReport, type GroupCounts } from '../../../shared/kpi/fairness.js'
import { runReference } from '../../../shared/kpi/run.js'
import { resolveThresholds } from '../../../shared/kpi/thresholds.js'
import { expectSameSamples } from './same-samples.js'

/**
 * Every KPI, two ways, on fact rows written straight into the fact tables (this tests the definitions,
 * not ingestion), with duplicate rows and out-of-order lifecycle events, at a controlled evaluation time:
 * the reference queries over the facts (shared/kpi/sql.ts) and the live path (the state tables kept by
 * ClickHouse at insert, read by the processor's queries, through the incremental engines). Every check
 * asserts both give the same series with the same values, and those values are computed by hand in the
 * comments.
 */

const dataDir = mkdtempSync(join(tmpdir(), 'aims-kpi-sql-'))
let ch: ClickHouse

const NOW = new Date('2026-03-10T12:00:00.000Z')
const H = 3_600_000
const D = 24 * H
const t = (offsetMs: number) => toClickHouseTime(new Date(NOW.getTime() + offsetMs))

let seq = 0
const nextId = (prefix: string) => `${prefix}-${String(++seq).padStart(5, '0')}`

interface Incident {
  id: string
  status: string
  severity: string
  eventTime: number
  detected: number
  notifiable: boolean
  occurred?: number
  contained?: number
  resolved?: number
  notified?: number
  records?: number
}
function incidentRow(i: Incident, eventId = nextId('pie')) {
  return {
    event_id: eventId,
    event_time: t(i.eventTime),
    source: 'test',
    incident_id: i.id,
    status: i.status,
    severity: i.severity,
    category: 'data_leak',
    business_unit: 'bu',
    occurred_at: i.occurred === undefined ? null : t(i.occurred),
    detected_at: t(i.detected),
    contained_at: i.contained === undefined ? null : t(i.contained),
    resolved_at: i.resolved === undefined ? null : t(i.resolved),
    closed_at: null,
    notifiable: i.notifiable,
    regulator_notified_at: i.notified === undefined ? null : t(i.notified),
    records_affected: i.records ?? 0,
    data_subjects_affected: 0,
    ai_system_id: '',
    controls: ['A.5.24'],
  }
}

function metricRow(
  model: string,
  version: string,
  eventTime: number,
  metrics: Record<string, number>,
  baseline = '',
  environment = 'production',
) {
  return {
    event_id: nextId('mme'),
    event_time: t(eventTime),
    source: 'test',
    model_id: model,
    model_version: version,
    environment,
    business_unit: 'bu',
    baseline_version: baseline,
    window_start: t(eventTime - D),
    window_end: t(eventTime),
    sample_size: 1000,
    metrics,
  }
}

function groupRows(
  eventId: string,
  eventTime: number,
  model: string,
  version: string,
  attribute: string,
  groups: GroupCounts[],
) {
  return groups.map((g) => ({
    event_id: eventId,
    event_time: t(eventTime),
    model_id: model,
    model_version: version,
    environment: 'production',
    attribute,
    group_name: g.group,
    tp: g.tp,
    fp: g.fp,
    tn: g.tn,
    fn: g.fn,
  }))
}

interface Finding {
  id: string
  standard: string
  clause: string
  kind: string
  status: string
  eventTime: number
  raised: number
  due?: number
  closed?: number
  repeatOf?: string
}
function findingRow(f: Finding) {
  return {
    event_id: nextId('afe'),
    event_time: t(f.eventTime),
    source: 'test',
    finding_id: f.id,
    audit_id: 'AUD-1',
    audit_type: 'internal',
    standard: f.standard,
    clause: f.clause,
    kind: f.kind,
    status: f.status,
    business_unit: 'bu',
    title: f.id,
    owner: 'owner',
    raised_at: t(f.raised),
    due_at: f.due === undefined ? null : t(f.due),
    closed_at: f.closed === undefined ? null : t(f.closed),
    repeat_of: f.repeatOf ?? '',
  }
}

/** Inserts rows, then the same rows again (a redelivered batch: same event ids, same content). */
async function insertTwice<T>(table: string, rows: T[]) {
  await ch.client.insert({ table, values: rows, format: 'JSONEachRow' })
  await ch.client.insert({ table, values: rows, format: 'JSONEachRow' })
}

/** An engine sample as the breach machine takes it (a Date instead of ms). */
const toMachine = (s: Sample) => ({ ...s, at: new Date(s.at) })

const sortedByScope = (samples: Sample[]) =>
  [...samples].sort((a, b) => JSON.stringify(a.scope).localeCompare(JSON.stringify(b.scope)))

type Row = { [label: string]: string | number | null; value: number | null }

/** The samples of one KPI at `now`, asserting the reference and the live path agree exactly. */
async function samples(kpiId: string, now = NOW): Promise<Sample[]> {
  const [reference, live] = await Promise.all([runReference(ch, now), snapshotFromState(ch, now)])
  const mine = (all: Sample[]) => sortedByScope(all.filter((s) => s.kpiId === kpiId))
  expectSameSamples(mine(live), mine(reference), `${kpiId} at ${now.toISOString()}: live path vs reference`)
  return mine(live)
}

/** The series of one KPI at `now` (scope labels and value), the reference and the live path agreeing. */
async function values(kpiId: string, now = NOW): Promise<Row[]> {
  return (await samples(kpiId, now)).map((s) => ({ ...s.scope, value: s.value }))
}

async function one(kpiId: string, now = NOW): Promise<number | null> {
  const rows = await values(kpiId, now)
  expect(rows).toHaveLength(1)
  return rows[0]!.value
}

beforeAll(async () => {
  ch = await createClickHouse(
    loadConfig({
      CLICKHOUSE_DATA_DIR: dataDir,
      CLICKHOUSE_DATABASE: `kpi_sql_${process.pid}`,
      LOG_LEVEL: 'warn',
    }),
  )
  await migrate(ch)

  // ----- privacy incidents (offsets from NOW) -----
  const incidents: ReturnType<typeof incidentRow>[] = [
    // A: detected 49 h ago (high), contained 9 h later and upgraded to critical; notifiable, not notified.
    // Events inserted newest first (out of order); occurred_at only on the first event.
    incidentRow({
      id: 'INC-A',
      status: 'contained',
      severity: 'critical',
      eventTime: -40 * H,
      detected: -49 * H,
      contained: -40 * H,
      notifiable: true,
      records: 100,
    }),
    incidentRow({
      id: 'INC-A',
      status: 'detected',
      severity: 'high',
      eventTime: -49 * H,
      detected: -49 * H,
      occurred: -51 * H,
      notifiable: true,
      records: 10,
    }),
    // B: detected 73 h ago, contained 3 h later, then reported back at "detected" without contained_at:
    // a reopen, which drops the containment (the lifecycle rule for stage timestamps).
    incidentRow({
      id: 'INC-B',
      status: 'detected',
      severity: 'high',
      eventTime: -73 * H,
      detected: -73 * H,
      notifiable: true,
      records: 50,
    }),
    incidentRow({
      id: 'INC-B',
      status: 'contained',
      severity: 'high',
      eventTime: -70 * H,
      detected: -73 * H,
      contained: -70 * H,
      notifiable: true,
      records: 50,
    }),
    incidentRow({
      id: 'INC-B',
      status: 'detected',
      severity: 'high',
      eventTime: -60 * H,
      detected: -73 * H,
      notifiable: true,
      records: 60,
    }),
    // C: detected 47 h ago, not notified.
    incidentRow({
      id: 'INC-C',
      status: 'detected',
      severity: 'high',
      eventTime: -47 * H,
      detected: -47 * H,
      notifiable: true,
    }),
    // D: notified 50 h after detection (on time).
    incidentRow({
      id: 'INC-D',
      status: 'detected',
      severity: 'medium',
      eventTime: -100 * H,
      detected: -100 * H,
      notifiable: true,
      records: 5,
    }),
    incidentRow({
      id: 'INC-D',
      status: 'notified',
      severity: 'medium',
      eventTime: -50 * H,
      detected: -100 * H,
      notified: -50 * H,
      notifiable: true,
      records: 5,
    }),
    // E: notified 100 h after detection (late).
    incidentRow({
      id: 'INC-E',
      status: 'detected',
      severity: 'low',
      eventTime: -200 * H,
      detected: -200 * H,
      notifiable: true,
      records: 1000,
    }),
    incidentRow({
      id: 'INC-E',
      status: 'notified',
      severity: 'low',
      eventTime: -100 * H,
      detected: -200 * H,
      notified: -100 * H,
      notifiable: true,
      records: 1000,
    }),
    // F: not notifiable; occurred 24 h before detection, contained after 12 h, resolved after 48 h.
    incidentRow({
      id: 'INC-F',
      status: 'detected',
      severity: 'low',
      eventTime: -10 * D,
      detected: -10 * D,
      occurred: -11 * D,
      notifiable: false,
      records: 7,
    }),
    incidentRow({
      id: 'INC-F',
      status: 'contained',
      severity: 'low',
      eventTime: -10 * D + 12 * H,
      detected: -10 * D,
      contained: -10 * D + 12 * H,
      notifiable: false,
      records: 7,
    }),
    incidentRow({
      id: 'INC-F',
      status: 'resolved',
      severity: 'low',
      eventTime: -8 * D,
      detected: -10 * D,
      contained: -10 * D + 12 * H,
      resolved: -8 * D,
      notifiable: false,
      records: 7,
    }),
    // G: first notifiable, then assessed as not notifiable.
    incidentRow({
      id: 'INC-G',
      status: 'detected',
      severity: 'medium',
      eventTime: -5 * D,
      detected: -5 * D,
      notifiable: true,
      records: 3,
    }),
    incidentRow({
      id: 'INC-G',
      status: 'detected',
      severity: 'medium',
      eventTime: -5 * D + H,
      detected: -5 * D,
      notifiable: false,
      records: 3,
    }),
    // H: 100 days old, critical: outside every window.
    incidentRow({
      id: 'INC-H',
      status: 'contained',
      severity: 'critical',
      eventTime: -99 * D,
      detected: -100 * D,
      contained: -99 * D,
      notifiable: false,
      records: 99_999,
    }),
    // I: notifiable, notified 39 days ago: its clock stopped.
    incidentRow({
      id: 'INC-I',
      status: 'notified',
      severity: 'low',
      eventTime: -39 * D,
      detected: -40 * D,
      notified: -39 * D,
      notifiable: true,
      records: 1,
    }),
  ]
  await insertTwice('privacy_incident_events', incidents)

  // ----- model metrics -----
  await insertTwice('model_metric_events', [
    metricRow('credit', 'v1', -30 * D, { accuracy: 0.9, f1: 0.8 }),
    metricRow('credit', 'v1', -29 * D, { accuracy: 0.91, auc: 0.95 }),
    metricRow('credit', 'v2', -9 * D, { accuracy: 0.845 }), // latest of v2, inserted first
    metricRow('credit', 'v2', -10 * D, { accuracy: 0.84, f1: 0.7 }),
    metricRow('credit', 'v3', -1 * D, { accuracy: 0.88 }, 'v1'),
    // the same version evaluated in staging, later: never moves the production series
    metricRow('credit', 'v2', -1 * D, { accuracy: 0.6 }, '', 'staging'),
    metricRow('fraud', 'v1', -2 * D, { accuracy: 0.79 }),
  ])
  const f = (group: string, tp: number, fp: number, tn: number, fn: number): GroupCounts => ({
    group,
    tp,
    fp,
    tn,
    fn,
  })
  await insertTwice('model_group_counts', [
    // credit v2 sex: an older evaluation (different counts, and a group that is gone) …
    ...groupRows('mme-old', -10 * D, 'credit', 'v2', 'sex', [
      f('f', 1, 1, 1, 1),
      f('m', 9, 0, 0, 1),
      f('gone', 5, 5, 5, 5),
    ]),
    // … and the latest one: f = B, m = A, x = C of the unit tests → DPD 0.3, DIR 0.4, EOD 45/55 − 0.5, gap 0.05.
    ...groupRows('mme-new', -9 * D, 'credit', 'v2', 'sex', [
      f('f', 10, 10, 70, 10),
      f('m', 30, 10, 50, 10),
      f('x', 45, 5, 40, 10),
    ]),
    // age only in the older evaluation: young sel 0.5, old sel 0.2 → DPD 0.3, DIR 0.4.
    ...groupRows('mme-old', -10 * D, 'credit', 'v2', 'age', [
      f('young', 20, 5, 20, 5),
      f('old', 5, 5, 35, 5),
    ]),
    // a single group: differences 0, ratio 1.
    ...groupRows('mme-v1', -29 * D, 'credit', 'v1', 'sex', [f('f', 10, 0, 10, 0)]),
    // nobody selected: DIR null, DPD 0.
    ...groupRows('mme-fraud', -2 * D, 'fraud', 'v1', 'sex', [f('g1', 0, 0, 10, 5), f('g2', 0, 0, 20, 1)]),
  ])

  // ----- audit findings -----
  const findings: Finding[] = [
    // F1: open major on ISO27001 A.5.24, due 5 days ago; the in-progress update does not repeat due_at.
    {
      id: 'F1',
      standard: 'ISO27001',
      clause: 'A.5.24',
      kind: 'major_nc',
      status: 'open',
      eventTime: -20 * D,
      raised: -20 * D,
      due: -5 * D,
    },
    {
      id: 'F1',
      standard: 'ISO27001',
      clause: 'A.5.24',
      kind: 'major_nc',
      status: 'in_progress',
      eventTime: -19 * D,
      raised: -20 * D,
    },
    // F2: major, raised 60 d ago, due 30 d ago, closed 40 d ago: on time, 20 days.
    {
      id: 'F2',
      standard: 'ISO27001',
      clause: 'A.5.24',
      kind: 'major_nc',
      status: 'open',
      eventTime: -60 * D,
      raised: -60 * D,
      due: -30 * D,
    },
    {
      id: 'F2',
      standard: 'ISO27001',
      clause: 'A.5.24',
      kind: 'major_nc',
      status: 'closed',
      eventTime: -40 * D,
      raised: -60 * D,
      due: -30 * D,
      closed: -40 * D,
    },
    // F3: open minor, due in 10 days.
    {
      id: 'F3',
      standard: 'ISO27001',
      clause: 'A.5.24',
      kind: 'minor_nc',
      status: 'open',
      eventTime: -15 * D,
      raised: -15 * D,
      due: 10 * D,
    },
    // F4: minor on A.8.8, raised 50 d ago, due 20 d ago, closed 10 d ago: late, 40 days.
    {
      id: 'F4',
      standard: 'ISO27001',
      clause: 'A.8.8',
      kind: 'minor_nc',
      status: 'closed',
      eventTime: -10 * D,
      raised: -50 * D,
      due: -20 * D,
      closed: -10 * D,
    },
    {
      id: 'F4',
      standard: 'ISO27001',
      clause: 'A.8.8',
      kind: 'minor_nc',
      status: 'open',
      eventTime: -50 * D,
      raised: -50 * D,
      due: -20 * D,
    },
    // F5: ISO42001 6.1.4 major, closed then reopened: open, no due date, not "closed" for the closure KPIs.
    {
      id: 'F5',
      standard: 'ISO42001',
      clause: '6.1.4',
      kind: 'major_nc',
      status: 'open',
      eventTime: -10 * D,
      raised: -10 * D,
    },
    {
      id: 'F5',
      standard: 'ISO42001',
      clause: '6.1.4',
      kind: 'major_nc',
      status: 'closed',
      eventTime: -5 * D,
      raised: -10 * D,
      closed: -5 * D,
    },
    {
      id: 'F5',
      standard: 'ISO42001',
      clause: '6.1.4',
      kind: 'major_nc',
      status: 'in_progress',
      eventTime: -2 * D,
      raised: -10 * D,
    },
    // F6: an observation repeating an earlier finding.
    {
      id: 'F6',
      standard: 'ISO42001',
      clause: 'A.6.2.6',
      kind: 'observation',
      status: 'open',
      eventTime: -30 * D,
      raised: -30 * D,
      repeatOf: 'F0',
    },
    // F7, F8: repeats on A.5.24 (open minor, open major); F9: a repeat older than 365 days.
    {
      id: 'F7',
      standard: 'ISO27001',
      clause: 'A.5.24',
      kind: 'minor_nc',
      status: 'open',
      eventTime: -3 * D,
      raised: -3 * D,
      repeatOf: 'F3',
    },
    {
      id: 'F8',
      standard: 'ISO27001',
      clause: 'A.5.24',
      kind: 'major_nc',
      status: 'open',
      eventTime: -1 * D,
      raised: -1 * D,
      due: 30 * D,
      repeatOf: 'F2',
    },
    {
      id: 'F9',
      standard: 'ISO27001',
      clause: 'A.5.24',
      kind: 'ofi',
      status: 'open',
      eventTime: -400 * D,
      raised: -400 * D,
      repeatOf: 'F1',
    },
    // F10: raised as major on A.5.30, downgraded to minor the next day.
    {
      id: 'F10',
      standard: 'ISO27001',
      clause: 'A.5.30',
      kind: 'major_nc',
      status: 'open',
      eventTime: -15 * D,
      raised: -15 * D,
    },
    {
      id: 'F10',
      standard: 'ISO27001',
      clause: 'A.5.30',
      kind: 'minor_nc',
      status: 'open',
      eventTime: -14 * D,
      raised: -15 * D,
    },
  ]
  await insertTwice('audit_finding_events', findings.map(findingRow))
}, 120_000)

afterAll(async () => {
  await ch?.close()
  rmSync(dataDir, { recursive: true, force: true })
})

describe('privacy KPIs', () => {
  it('counts incidents opened in 30 days by current severity, 0 for quiet severities', async () => {
    // critical: A (H is 100 days old); high: B, C; medium: D, G; low: E, F (I is 40 days old)
    expect(await values('privacy.incidents_opened')).toEqual([
      { severity: 'critical', value: 1 },
      { severity: 'high', value: 2 },
      { severity: 'low', value: 2 },
      { severity: 'medium', value: 2 },
    ])
    // 31 days later only A … G are out of the window, and every severity still reports (0)
    const later = await values('privacy.incidents_opened', new Date(NOW.getTime() + 31 * D))
    expect(later.map((r) => r.value)).toEqual([0, 0, 0, 0])
  })

  it('sums the latest records affected over 30 days', async () => {
    // A 100 (latest), B 60 (latest), C 0, D 5, E 1000, F 7, G 3 = 1175; H and I are outside the window
    expect(await one('privacy.records_affected')).toBe(1175)
  })

  it('computes MTTD, MTTC and MTTR in hours', async () => {
    expect(await one('privacy.mttd_hours')).toBeCloseTo((2 + 24) / 2, 9) // A 2 h, F 24 h
    expect(await one('privacy.mttc_hours')).toBeCloseTo((9 + 12) / 2, 9) // A 9 h, F 12 h; B was reopened
    expect(await one('privacy.mttr_hours')).toBeCloseTo(48, 9) // F
    // 200 days later nothing was contained in the window: no value
    expect(await one('privacy.mttc_hours', new Date(NOW.getTime() + 200 * D))).toBeNull()
  })

  it('computes the share of notifiable incidents notified within 72 hours', async () => {
    // decided: B (73 h, not notified: late), D (50 h: on time), E (100 h: late), I (24 h: on time);
    // A and C still within their 72 h, G no longer notifiable → 2/4
    expect(await one('privacy.notified_within_72h_ratio')).toBe(0.5)
    // 26 hours later A (75 h) and C (73 h) are late too → 2/6
    expect(await one('privacy.notified_within_72h_ratio', new Date(NOW.getTime() + 26 * H))).toBeCloseTo(
      1 / 3,
      12,
    )
  })

  it('runs the 72-hour clock per notifiable incident at 47 h, 49 h and 73 h', async () => {
    // D and E were notified, G is no longer notifiable: their clocks stopped and are not series.
    expect(await values('privacy.notification_clock_hours')).toEqual([
      { incident_id: 'INC-A', value: 49 },
      { incident_id: 'INC-B', value: 73 },
      { incident_id: 'INC-C', value: 47 },
    ])
    const th = resolveThresholds(getKpi('privacy.notification_clock_hours'), { incident_id: 'x' })
    const clocks = (await runReference(ch, NOW, { areas: ['privacy'] })).filter(
      (s) => s.kpiId === 'privacy.notification_clock_hours',
    )
    const levels = clocks.map((s) => [
      s.scope.incident_id,
      toKpiValueRow(s.kpiId, s.scope, { value: s.value, at: NOW }, th).status,
    ])
    expect(levels).toEqual(
      expect.arrayContaining([
        ['INC-A', 'warning'],
        ['INC-B', 'critical'],
        ['INC-C', 'ok'],
      ]),
    )
  })

  it('moves the clock with the evaluation time alone', async () => {
    const later = new Date(NOW.getTime() + 90 * 60_000) // +1.5 h
    expect(await values('privacy.notification_clock_hours', later)).toEqual([
      { incident_id: 'INC-A', value: 50.5 },
      { incident_id: 'INC-B', value: 74.5 },
      { incident_id: 'INC-C', value: 48.5 },
    ])
  })
})

describe('model KPIs', () => {
  it('reports the latest evaluation reporting each metric, per version', async () => {
    const P = 'production'
    expect(await values('model.accuracy')).toEqual([
      { model_id: 'credit', environment: P, model_version: 'v1', value: 0.91 },
      { model_id: 'credit', environment: P, model_version: 'v2', value: 0.845 },
      { model_id: 'credit', environment: P, model_version: 'v3', value: 0.88 },
      { model_id: 'credit', environment: 'staging', model_version: 'v2', value: 0.6 }, // its own series
      { model_id: 'fraud', environment: P, model_version: 'v1', value: 0.79 },
    ])
    const f1 = await samples('model.f1')
    expect(f1.filter((r) => r.value !== null).map((r) => ({ ...r.scope, value: r.value }))).toEqual([
      { model_id: 'credit', environment: P, model_version: 'v1', value: 0.8 }, // the latest v1 event has no f1
      { model_id: 'credit', environment: P, model_version: 'v2', value: 0.7 },
      // fraud reports no F1: derived from its counts, tp = 0 so F1 = 2·0 / (0 + 0 + 6) = 0
      { model_id: 'fraud', environment: P, model_version: 'v1', value: 0 },
    ])
    // Reported values win; where the counts say otherwise beyond rounding, the reason says so. credit v1's
    // one group (10, 0, 10, 0) gives F1 = 20/20 = 1 against the reported 0.8.
    // credit v2 reports 0.7; its counts (the "age" attribute first by name: tp 25, fp 10, fn 10) give
    // 50/70 = 0.714…, within the reported value's rounding (0.05 for one decimal): no disagreement.
    expect(f1.map((r) => reasonCodes(r.reason))).toEqual([['disagreement'], [], [], [], ['derived']])
    expect(f1[0]!.reason).toMatch(
      /^disagreement: reported 0\.8, 1 derived from the confusion counts of "sex"/,
    )
    expect(
      (await values('model.auc')).find((r) => r.model_version === 'v1' && r.model_id === 'credit')?.value,
    ).toBe(0.95)
  })

  it('computes the accuracy drop against the declared or the previous version', async () => {
    const drop = await values('model.accuracy_drop_points')
    const P = 'production'
    expect(drop[0]).toEqual({ model_id: 'credit', environment: P, model_version: 'v1', value: null }) // first version: no baseline
    expect(drop[1]!.value).toBeCloseTo((0.91 - 0.845) * 100, 9) // v2 vs previous v1: 6.5 points
    expect(drop[2]!.value).toBeCloseTo((0.91 - 0.88) * 100, 9) // v3 declares baseline v1: 3 points
    // staging v2 is the first staging version: no baseline there (production's v1 is another line)
    expect(drop[3]).toEqual({ model_id: 'credit', environment: 'staging', model_version: 'v2', value: null })
    expect(drop[4]).toEqual({ model_id: 'fraud', environment: P, model_version: 'v1', value: null })
  })

  it('computes fairness from the latest evaluation only, never summing duplicates', async () => {
    const latest = [
      { group: 'f', tp: 10, fp: 10, tn: 70, fn: 10 },
      { group: 'm', tp: 30, fp: 10, tn: 50, fn: 10 },
      { group: 'x', tp: 45, fp: 5, tn: 40, fn: 10 },
    ]
    const module = (i: number) => computeFairnessKpi(latest, DEFAULT_FAIRNESS_KPIS[i]!)
    const pick = async (id: string) =>
      Object.fromEntries(
        (await samples(id)).map((r) => [
          `${r.scope.model_id}/${r.scope.model_version}/${r.scope.attribute}`,
          r,
        ]),
      )
    const dpd = await pick('model.demographic_parity_difference')
    const dir = await pick('model.disparate_impact_ratio')
    const eod = await pick('model.equalized_odds_difference')
    const gap = await pick('model.accuracy_gap')
    // Every group has 100 samples: selection rates f 0.2, m 0.4, x 0.5 → DPD 0.3, DIR 0.4, exactly as before.
    expect(dpd['credit/v2/sex']!.value).toBe(fairnessReport(latest).demographicParityDifference)
    expect(dir['credit/v2/sex']!.value).toBe(fairnessReport(latest).disparateImpactRatio)
    expect(dir['credit/v2/sex']!.value).toBeCloseTo(0.4, 12)
    expect(dir['credit/v2/sex']!.exact).toEqual({ num: 2n, den: 5n })
    expect(dir['credit/v2/sex']!.n).toBe(200)
    expect(gap['credit/v2/sex']!.value).toBeCloseTo(0.05, 12)
    // f has 20 actual positives, below the minimum of 30: its TPR is left out (listed in the reason).
    // TPR m 30/40 = 0.75, x 45/55; FPR f 10/80, m 10/60, x 5/45 → EOD = max(45/55 − 0.75, 1/6 − 1/9).
    expect(eod['credit/v2/sex']!.value).toBeCloseTo(45 / 55 - 0.75, 12)
    expect(eod['credit/v2/sex']!.value).toBe(module(2).value)
    expect(eod['credit/v2/sex']!.reason).toMatch(
      /^excluded_groups: "f" true positive rate below the minimum sample \(n=20 < 30\)/,
    )
    for (const [i, r] of [dpd, dir, eod, gap].entries()) {
      const m = module(i)
      expect([r['credit/v2/sex']!.ci_low, r['credit/v2/sex']!.ci_high], m.name).toEqual([m.ci_low, m.ci_high])
    }
    // attribute reported only by the older evaluation keeps that evaluation's values
    expect(dpd['credit/v2/age']!.value).toBeCloseTo(0.3, 12)
    expect(dir['credit/v2/age']!.value).toBeCloseTo(0.4, 12)
    // A single group cannot be assessed: no value, insufficient data, never ok (it read 0 / 1 before).
    for (const r of [dpd, dir, eod, gap]) {
      expect(r['credit/v1/sex']!.value).toBeNull()
      expect(reasonCodes(r['credit/v1/sex']!.reason)).toEqual(['too_few_groups'])
      const th = resolveThresholds(getKpi(r['credit/v1/sex']!.kpiId), r['credit/v1/sex']!.scope)
      expect(classify(toMachine(r['credit/v1/sex']!), th)).toBe('insufficient_data')
    }
    // fraud's groups have 15 and 21 samples: below the minimum, so not estimable either.
    expect(dir['fraud/v1/sex']!.value).toBeNull()
    expect(reasonCodes(dir['fraud/v1/sex']!.reason)).toEqual(['too_few_groups'])
  })

  it('equals the fairness module on random groups, and fairness.ts bit for bit with minSamples 1 (property)', async () => {
    let rng = 42
    const rand = (n: number) => {
      rng = (rng * 1_103_515_245 + 12_345) % 2_147_483_648
      return rng % n
    }
    const count = () => (rand(4) === 0 ? 0 : rand(500)) // plenty of zeros: empty groups, no positives, …
    const cases = new Map<string, GroupCounts[]>()
    const rows: Record<string, unknown>[] = []
    for (let i = 0; i < 300; i++) {
      const groups: GroupCounts[] = Array.from({ length: 1 + rand(5) }, (_, g) => ({
        group: `g${g}`,
        tp: count(),
        fp: count(),
        tn: count(),
        fn: count(),
      }))
      cases.set(`v${i}`, groups)
      // an older evaluation with other counts, then the latest one
      rows.push(
        ...groupRows(
          `prop-old-${i}`,
          -2 * D,
          'property',
          `v${i}`,
          'attr',
          groups.map((g) => ({ ...g, tp: g.tp + 7 })),
        ),
      )
      rows.push(...groupRows(`prop-new-${i}`, -1 * D, 'property', `v${i}`, 'attr', groups))
    }
    await insertTwice('model_group_counts', rows)
    await insertTwice('model_metric_events', [metricRow('property', 'v0', -3 * D, { accuracy: 0.5 })])
    const mine = (all: Sample[]) => all.filter((s) => s.scope.model_id === 'property' && s.scope.attribute)
    let notEstimable = 0
    let compared = 0
    for (const config of [undefined, { fairness: { minSamples: 1 } }]) {
      const [reference, live] = await Promise.all([
        runReference(ch, NOW, { areas: ['model'], config }),
        snapshotFromState(ch, NOW, config),
      ])
      compared += expectSameSamples(mine(live), mine(reference), `property, config ${JSON.stringify(config)}`)
      const byKpi = new Map(mine(live).map((s) => [`${s.kpiId} ${s.scope.model_version}`, s]))
      for (const [version, all] of cases) {
        // The state holds groups in name order; empty groups are stored too.
        for (const spec of DEFAULT_FAIRNESS_KPIS) {
          const kpiId = `model.${kpiName(spec)}`
          const got = byKpi.get(`${kpiId} ${version}`)!
          const want = computeFairnessKpi(all, spec, { minSamples: config?.fairness.minSamples ?? 30 })
          expect(got.value, `${kpiId} ${version} ${JSON.stringify(all)}`).toBe(want.value)
          if (want.value === null) notEstimable++
          // With minSamples 1 the module's spread forms are the old fairness.ts wherever they are estimable.
          if (config && want.estimable) {
            const old = fairnessReport(all)
            const field = {
              demographic_parity_difference: 'demographicParityDifference',
              disparate_impact_ratio: 'disparateImpactRatio',
              equalized_odds_difference: 'equalizedOddsDifference',
              accuracy_gap: 'accuracyGap',
            }[kpiName(spec)] as keyof typeof old
            expect(got.value, `${kpiId} ${version} vs fairness.ts`).toBe(old[field])
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(2000)
    expect(notEstimable).toBeGreaterThan(0) // the not-estimable rules were exercised
  })
})

describe('audit KPIs', () => {
  it('counts open major and minor NCs and repeat findings by standard and clause, while above zero', async () => {
    const row = (s: string, c: string, v: number) => ({ standard: s, clause: c, value: v })
    expect(await values('audit.open_major_ncs')).toEqual([
      row('ISO27001', 'A.5.24', 2), // F1, F8 (F10 on A.5.30 was downgraded to minor: no series)
      row('ISO42001', '6.1.4', 1), // F5 reopened
    ])
    expect(await values('audit.open_minor_ncs')).toEqual([
      row('ISO27001', 'A.5.24', 2), // F3, F7
      row('ISO27001', 'A.5.30', 1), // F10
    ])
    expect(await values('audit.repeat_findings')).toEqual([
      row('ISO27001', 'A.5.24', 2), // F7, F8 (F9 is too old)
      row('ISO42001', 'A.6.2.6', 1), // F6
    ])
  })

  it('counts overdue corrective actions and closure KPIs by standard', async () => {
    expect(await values('audit.overdue_corrective_actions')).toEqual([
      { standard: 'ISO27001', value: 1 }, // F1 due 5 days ago; F3 and F8 not yet due
      { standard: 'ISO42001', value: 0 },
    ])
    // F2 closed in 20 days (on time), F4 in 40 days (late); F5 reopened does not count
    expect(await values('audit.mean_days_to_close')).toEqual([
      { standard: 'ISO27001', value: 30 },
      { standard: 'ISO42001', value: null },
    ])
    expect(await values('audit.on_time_closure_rate')).toEqual([
      { standard: 'ISO27001', value: 0.5 },
      { standard: 'ISO42001', value: null },
    ])
    // 11 days later F3 is overdue too; 50 days later F2 closed 90 days ago left the window
    expect(
      (await values('audit.overdue_corrective_actions', new Date(NOW.getTime() + 11 * D)))[0]!.value,
    ).toBe(2)
    expect((await values('audit.on_time_closure_rate', new Date(NOW.getTime() + 51 * D)))[0]!.value).toBe(0)
  })
})

describe('the whole catalog', () => {
  it('gives the same series and values both ways at several times, every value finite or null', async () => {
    for (const offset of [0, 26 * H, 11 * D, 31 * D, 51 * D, 200 * D]) {
      const now = new Date(NOW.getTime() + offset)
      const key = (x: Sample) => `${x.kpiId} ${JSON.stringify(Object.entries(x.scope).sort())}`
      const [reference, live] = await Promise.all([runReference(ch, now), snapshotFromState(ch, now)])
      const ref = new Map(reference.map((x) => [key(x), x.value]))
      const got = new Map(live.map((x) => [key(x), x.value]))
      expect([...got.keys()].sort(), now.toISOString()).toEqual([...ref.keys()].sort())
      for (const [k, v] of ref) expect(got.get(k), `${k} at ${now.toISOString()}`).toBe(v)
      expectSameSamples(live, reference, now.toISOString())
      for (const v of ref.values()) expect(v === null || Number.isFinite(v)).toBe(true)
      if (offset === 0) expect(ref.size).toBeGreaterThan(40)
    }
  })

  it('writes kpi_values and breach_transitions rows the tables accept, and restores open breaches', async () => {
    const kpi = getKpi('privacy.notification_clock_hours')
    const samples = sortedByScope(
      (await runReference(ch, NOW, { areas: ['privacy'] })).filter((x) => x.kpiId === kpi.id),
    )
    const valueRows = []
    const transitionRows = []
    for (const s of samples) {
      const th = resolveThresholds(kpi, s.scope)
      valueRows.push(toKpiValueRow(kpi.id, s.scope, { value: s.value, at: NOW }, th))
      const r = evaluate(undefined, { value: s.value, at: NOW }, th)
      transitionRows.push(...r.transitions.map((tr) => toTransitionRow(identify(kpi.id, s.scope, tr))))
    }
    expect(transitionRows.map((r) => [r.scope.incident_id, r.severity])).toEqual([
      ['INC-A', 'warning'],
      ['INC-B', 'critical'],
    ])
    await ch.client.insert({ table: 'kpi_values', values: valueRows, format: 'JSONEachRow' })
    await insertTwice('breach_transitions', transitionRows) // a replay writes the same ids
    // INC-A resolves later (notified)
    const resolved = evaluate(
      { status: 'firing', startedAt: NOW, severity: 'warning', current: 'warning' },
      { value: 0, at: new Date(NOW.getTime() + H) },
      resolveThresholds(kpi, { incident_id: 'INC-A' }),
    ).transitions.map((tr) => toTransitionRow(identify(kpi.id, { incident_id: 'INC-A' }, tr)))
    await ch.client.insert({ table: 'breach_transitions', values: resolved, format: 'JSONEachRow' })

    const stored = await queryRows<StoredTransition>(ch, OPEN_BREACHES_SQL, { kpi_ids: [] })
    const states = restoreStates(stored)
    expect([...states.values()].map((b) => [b.scope.incident_id, b.state])).toEqual([
      ['INC-B', { status: 'firing', startedAt: NOW, severity: 'critical', current: 'critical' }],
    ])
    expect(states.has(fingerprint(kpi.id, { incident_id: 'INC-B' }))).toBe(true)
    const distinct = await queryRows<{ n: string }>(
      ch,
      'SELECT uniqExact(transition_id) AS n FROM breach_transitions',
    )
    expect(Number(distinct[0]?.n)).toBe(3)
  })
})
