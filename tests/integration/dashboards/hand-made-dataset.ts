/**
 * TEMPORARY data source of the dashboard query tests, until the lead's `loadRealisticDataset(cfg)` (demo
 * generator → Kafka → collector → processor) replaces it: a small but realistic data set written straight
 * into the tables the dashboards read.
 *
 * It is not "inserted by hand" at random: facts are generated as lifecycles (incidents detected →
 * contained → notified → resolved → closed, model versions evaluated weekly with per-group confusion
 * counts, audit findings raised → in progress → closed), replayed in time order, and at each evaluation
 * step the real KPI catalog SQL (shared/kpi/catalog.ts) computes the KPI values that go to kpi_values,
 * with a minimal breach lifecycle (firing / escalated / resolved) derived from the catalog thresholds and
 * a delivery log. Duplicate events (same event_id) are part of it on purpose.
 */

import { createHash } from 'node:crypto'
import type { ClickHouse } from '../../../shared/clickhouse/client.js'
import { KPIS, type KpiDefinition } from '../../../shared/kpi/catalog.js'
import { runKpi } from '../../../shared/kpi/run.js'

const HOUR = 3_600_000
const DAY = 24 * HOUR

type Row = Record<string, unknown>

function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const iso = (ms: number) => new Date(ms).toISOString()

interface FactRow {
  table: string
  at: number
  row: Row
}

const BUSINESS_UNITS = ['retail-banking', 'payments', 'people-ops'] as const

// ---------------------------------------------------------------------------------------------------------
// Privacy incidents

function incidents(now: number, rnd: () => number): FactRow[] {
  const out: FactRow[] = []
  const severities = ['low', 'medium', 'medium', 'high', 'high', 'critical'] as const
  const categories = [
    'unauthorised_access',
    'data_leak',
    'lost_device',
    'misdirected_email',
    'phishing',
    'ai_data_exposure',
  ]
  const controls = [
    ['ISO27001:A.5.24', 'ISO27001:A.5.26'],
    ['ISO27001:A.5.34'],
    ['ISO27001:A.8.12', 'ISO27001:A.5.24'],
    ['ISO42001:A.8.4'],
  ]
  let n = 0
  const emit = (spec: {
    detected: number
    severity: string
    notifiable: boolean
    notifyAfterH?: number
    containAfterH?: number
    resolveAfterH?: number
    bu?: string
  }) => {
    n++
    const id = `INC-${String(1000 + n)}`
    const bu = spec.bu ?? BUSINESS_UNITS[n % BUSINESS_UNITS.length]!
    const category = categories[n % categories.length]!
    const state: Row = {
      source: 'siem',
      incident_id: id,
      severity: spec.severity,
      category,
      business_unit: bu,
      occurred_at: n % 3 === 0 ? null : iso(spec.detected - (2 + rnd() * 40) * HOUR),
      detected_at: iso(spec.detected),
      contained_at: null,
      resolved_at: null,
      closed_at: null,
      notifiable: spec.notifiable,
      regulator_notified_at: null,
      records_affected: Math.round(10 + rnd() * 5000),
      data_subjects_affected: Math.round(5 + rnd() * 2000),
      ai_system_id: category === 'ai_data_exposure' ? 'cv-screening' : '',
      controls: controls[n % controls.length],
    }
    const steps: [number, string, Row][] = [[spec.detected, 'detected', {}]]
    if (spec.containAfterH !== undefined) {
      const t = spec.detected + spec.containAfterH * HOUR
      steps.push([t, 'contained', { contained_at: iso(t) }])
    }
    if (spec.notifiable && spec.notifyAfterH !== undefined) {
      const t = spec.detected + spec.notifyAfterH * HOUR
      steps.push([t, 'notified', { regulator_notified_at: iso(t) }])
    }
    if (spec.resolveAfterH !== undefined) {
      const t = spec.detected + spec.resolveAfterH * HOUR
      steps.push([t, 'resolved', { resolved_at: iso(t) }])
      const c = t + 72 * HOUR
      steps.push([c, 'closed', { closed_at: iso(c) }])
    }
    steps.sort((a, b) => a[0] - b[0])
    steps.forEach(([t, status, change], i) => {
      if (t > now) return
      Object.assign(state, change)
      // The severity of one incident is re-assessed upwards once.
      if (i === 1 && spec.severity === 'medium' && n % 4 === 0) state.severity = 'high'
      out.push({
        table: 'privacy_incident_events',
        at: t,
        row: { ...state, event_id: `${id}-e${i}`, event_time: iso(t), status },
      })
    })
  }
  for (let i = 0; i < 22; i++) {
    const detected = now - (118 - i * 5.2) * DAY - rnd() * 12 * HOUR
    const severity = severities[Math.floor(rnd() * severities.length)]!
    const notifiable = severity === 'high' || severity === 'critical' || rnd() < 0.2
    emit({
      detected,
      severity,
      notifiable,
      notifyAfterH: notifiable ? 6 + rnd() * 60 : undefined,
      containAfterH: 1 + rnd() * (severity === 'critical' ? 20 : 60),
      resolveAfterH: 48 + rnd() * 300,
    })
  }
  // The cases a management review must see.
  emit({
    detected: now - 20 * DAY,
    severity: 'high',
    notifiable: true,
    notifyAfterH: 90,
    containAfterH: 30,
    resolveAfterH: 200,
  })
  emit({
    detected: now - 12 * DAY,
    severity: 'critical',
    notifiable: true,
    notifyAfterH: 40,
    containAfterH: 30,
    bu: 'payments',
  })
  emit({
    detected: now - 100 * HOUR,
    severity: 'high',
    notifiable: true,
    containAfterH: 12,
    bu: 'retail-banking',
  })
  emit({ detected: now - 30 * HOUR, severity: 'critical', notifiable: true, bu: 'people-ops' })
  emit({ detected: now - 5 * DAY, severity: 'low', notifiable: false, containAfterH: 4 })
  return out
}

// ---------------------------------------------------------------------------------------------------------
// Model metrics

interface VersionSpec {
  model: string
  version: string
  bu: string
  from: number
  to: number
  accuracy: number
  baseline?: string
  /** Selection rate per group of each attribute. */
  selection: Record<string, Record<string, number>>
  /** True-positive rate per group. */
  tpr: Record<string, Record<string, number>>
}

function modelEvents(now: number, rnd: () => number): FactRow[] {
  const fair = {
    sex: { female: 0.41, male: 0.43 },
    age_band: { '18-25': 0.4, '26-40': 0.42, '41-65': 0.43, '65+': 0.39 },
  }
  const fairTpr = {
    sex: { female: 0.86, male: 0.88 },
    age_band: { '18-25': 0.85, '26-40': 0.88, '41-65': 0.87, '65+': 0.84 },
  }
  const versions: VersionSpec[] = [
    {
      model: 'credit-scoring',
      version: '1.0',
      bu: 'retail-banking',
      from: now - 125 * DAY,
      to: now - 55 * DAY,
      accuracy: 0.91,
      selection: fair,
      tpr: fairTpr,
    },
    {
      model: 'credit-scoring',
      version: '1.1',
      bu: 'retail-banking',
      from: now - 60 * DAY,
      to: now,
      accuracy: 0.9,
      baseline: '1.0',
      selection: fair,
      tpr: fairTpr,
    },
    {
      model: 'credit-scoring',
      version: '2.0',
      bu: 'retail-banking',
      from: now - 21 * DAY,
      to: now,
      accuracy: 0.84,
      baseline: '1.1',
      selection: {
        sex: { female: 0.33, male: 0.45 },
        age_band: { '18-25': 0.3, '26-40': 0.44, '41-65': 0.45, '65+': 0.36 },
      },
      tpr: {
        sex: { female: 0.78, male: 0.9 },
        age_band: { '18-25': 0.76, '26-40': 0.9, '41-65': 0.89, '65+': 0.8 },
      },
    },
    {
      model: 'fraud-detection',
      version: '3.2',
      bu: 'payments',
      from: now - 125 * DAY,
      to: now - 30 * DAY,
      accuracy: 0.965,
      selection: fair,
      tpr: fairTpr,
    },
    {
      model: 'fraud-detection',
      version: '3.3',
      bu: 'payments',
      from: now - 35 * DAY,
      to: now,
      accuracy: 0.958,
      baseline: '3.2',
      selection: fair,
      tpr: fairTpr,
    },
    {
      model: 'cv-screening',
      version: '1.0',
      bu: 'people-ops',
      from: now - 125 * DAY,
      to: now - 25 * DAY,
      accuracy: 0.87,
      selection: {
        sex: { female: 0.26, male: 0.42 },
        age_band: { '18-25': 0.38, '26-40': 0.4, '41-65': 0.31, '65+': 0.22 },
      },
      tpr: {
        sex: { female: 0.7, male: 0.88 },
        age_band: { '18-25': 0.84, '26-40': 0.87, '41-65': 0.78, '65+': 0.7 },
      },
    },
    {
      model: 'cv-screening',
      version: '1.1',
      bu: 'people-ops',
      from: now - 28 * DAY,
      to: now,
      accuracy: 0.88,
      baseline: '1.0',
      selection: {
        sex: { female: 0.37, male: 0.41 },
        age_band: { '18-25': 0.39, '26-40': 0.41, '41-65': 0.37, '65+': 0.34 },
      },
      tpr: {
        sex: { female: 0.84, male: 0.87 },
        age_band: { '18-25': 0.85, '26-40': 0.87, '41-65': 0.84, '65+': 0.8 },
      },
    },
  ]
  const out: FactRow[] = []
  for (const v of versions) {
    let i = 0
    for (let t = v.from; t <= Math.min(v.to, now); t += 7 * DAY) {
      i++
      const eventId = `${v.model}-${v.version}-eval${i}`
      const jitter = (rnd() - 0.5) * 0.01
      const acc = Math.min(0.999, v.accuracy + jitter)
      const sample = 4000 + Math.round(rnd() * 4000)
      const common = { model_id: v.model, model_version: v.version, environment: 'production' }
      out.push({
        table: 'model_metric_events',
        at: t,
        row: {
          ...common,
          event_id: eventId,
          event_time: iso(t),
          source: 'ml-pipeline',
          business_unit: v.bu,
          baseline_version: v.baseline ?? '',
          window_start: iso(t - 7 * DAY),
          window_end: iso(t),
          sample_size: sample,
          metrics: {
            accuracy: acc,
            precision: acc - 0.03,
            recall: acc - 0.02,
            f1: acc - 0.025,
            auc: Math.min(0.999, acc + 0.04),
          },
        },
      })
      for (const [attribute, groups] of Object.entries(v.selection)) {
        for (const [group, sel] of Object.entries(groups)) {
          const n = 800 + Math.round(rnd() * 1200)
          const positives = Math.round(n * 0.4)
          const tp = Math.round(positives * (v.tpr[attribute]?.[group] ?? 0.85))
          const fp = Math.max(0, Math.round(n * (sel + (rnd() - 0.5) * 0.01)) - tp)
          const fn = positives - tp
          const tn = Math.max(0, n - tp - fp - fn)
          out.push({
            table: 'model_group_counts',
            at: t,
            row: {
              ...common,
              event_id: eventId,
              event_time: iso(t),
              attribute,
              group_name: group,
              tp,
              fp,
              tn,
              fn,
            },
          })
        }
      }
    }
  }
  return out
}

// ---------------------------------------------------------------------------------------------------------
// Audit findings

function findings(now: number, rnd: () => number): FactRow[] {
  const clauses = {
    ISO27001: ['A.5.15', 'A.8.8', 'A.5.24', '9.2.2', '7.2', 'A.8.13', '6.1.2'],
    ISO42001: ['6.1.4', 'A.6.2.4', 'A.7.4', '9.2.2', 'A.5.4', '8.4'],
  } as const
  const kinds = ['major_nc', 'minor_nc', 'minor_nc', 'minor_nc', 'observation', 'observation', 'ofi'] as const
  const owners = ['ciso-office', 'ml-platform', 'data-protection', 'it-ops', 'hr-systems']
  const out: FactRow[] = []
  let n = 0
  const emit = (spec: {
    raised: number
    standard: 'ISO27001' | 'ISO42001'
    clause: string
    kind: string
    dueDays?: number
    progressAfterDays?: number
    closeAfterDays?: number
    repeatOf?: string
  }): string => {
    n++
    const id = `F-${String(100 + n)}`
    const isNc = spec.kind === 'major_nc' || spec.kind === 'minor_nc'
    const state: Row = {
      source: 'audit-tool',
      finding_id: id,
      audit_id: `AUD-${new Date(spec.raised).getUTCFullYear()}-${String(Math.floor(n / 6) + 1).padStart(2, '0')}`,
      audit_type: n % 5 === 0 ? 'certification' : n % 3 === 0 ? 'external' : 'internal',
      standard: spec.standard,
      clause: spec.clause,
      kind: spec.kind,
      business_unit: BUSINESS_UNITS[n % BUSINESS_UNITS.length],
      title: `${spec.kind === 'major_nc' ? 'Major' : spec.kind === 'minor_nc' ? 'Minor' : 'Note'}: ${spec.clause} not fully implemented (${id})`,
      owner: owners[n % owners.length],
      raised_at: iso(spec.raised),
      due_at: isNc && spec.dueDays !== undefined ? iso(spec.raised + spec.dueDays * DAY) : null,
      closed_at: null,
      repeat_of: spec.repeatOf ?? '',
    }
    const steps: [number, string, Row][] = [[spec.raised, 'open', {}]]
    if (spec.progressAfterDays !== undefined)
      steps.push([spec.raised + spec.progressAfterDays * DAY, 'in_progress', {}])
    if (spec.closeAfterDays !== undefined) {
      const t = spec.raised + spec.closeAfterDays * DAY
      steps.push([t, 'closed', { closed_at: iso(t) }])
      steps.push([t + 10 * DAY, 'verified', {}])
    }
    steps.forEach(([t, status, change], i) => {
      if (t > now) return
      Object.assign(state, change)
      out.push({
        table: 'audit_finding_events',
        at: t,
        row: { ...state, event_id: `${id}-e${i}`, event_time: iso(t), status },
      })
    })
    return id
  }
  for (let i = 0; i < 26; i++) {
    const standard = i % 2 === 0 ? 'ISO27001' : 'ISO42001'
    const list = clauses[standard]
    const raised = now - (200 - i * 7.5) * DAY
    const kind = kinds[Math.floor(rnd() * kinds.length)]!
    const isNc = kind === 'major_nc' || kind === 'minor_nc'
    const dueDays = kind === 'major_nc' ? 30 : 60
    const age = (now - raised) / DAY
    const closes = age > 70 && rnd() < 0.8
    emit({
      raised,
      standard,
      clause: list[i % list.length]!,
      kind,
      dueDays: isNc ? dueDays : undefined,
      progressAfterDays: 3 + rnd() * 10,
      closeAfterDays: closes ? dueDays * (0.5 + rnd() * 0.8) : undefined,
    })
  }
  // Repeats on one control, an open major NC and an overdue corrective action.
  const first = emit({
    raised: now - 300 * DAY,
    standard: 'ISO27001',
    clause: 'A.8.8',
    kind: 'minor_nc',
    dueDays: 60,
    closeAfterDays: 40,
  })
  const second = emit({
    raised: now - 150 * DAY,
    standard: 'ISO27001',
    clause: 'A.8.8',
    kind: 'minor_nc',
    dueDays: 60,
    closeAfterDays: 70,
    repeatOf: first,
  })
  emit({
    raised: now - 40 * DAY,
    standard: 'ISO27001',
    clause: 'A.8.8',
    kind: 'major_nc',
    dueDays: 30,
    progressAfterDays: 5,
    repeatOf: second,
  })
  emit({
    raised: now - 15 * DAY,
    standard: 'ISO42001',
    clause: 'A.6.2.4',
    kind: 'major_nc',
    dueDays: 30,
    progressAfterDays: 2,
  })
  emit({
    raised: now - 95 * DAY,
    standard: 'ISO42001',
    clause: 'A.7.4',
    kind: 'minor_nc',
    dueDays: 45,
    progressAfterDays: 10,
  })
  return out
}

// ---------------------------------------------------------------------------------------------------------
// KPI evaluation and breaches (a minimal stand-in for the processor)

function fingerprintOf(kpiId: string, scope: Record<string, string>): string {
  const labels = Object.keys(scope)
    .sort()
    .map((k) => `${k}=${scope[k]}`)
    .join(',')
  return createHash('sha256').update(`${kpiId}{${labels}}`).digest('hex').slice(0, 16)
}

function thresholdsFor(
  kpi: KpiDefinition,
  scope: Record<string, string>,
): { warning: number | null; critical: number | null } {
  let { warning, critical } = kpi.thresholds
  for (const o of kpi.thresholds.overrides) {
    const hit = Object.entries(o.match).every(([k, v]) =>
      Array.isArray(v) ? v.includes(scope[k] ?? '') : v === scope[k],
    )
    if (!hit) continue
    if (o.warning !== undefined) warning = o.warning
    if (o.critical !== undefined) critical = o.critical
  }
  return { warning, critical }
}

function breaches(op: KpiDefinition['thresholds']['op'], value: number, t: number | null): boolean {
  if (t === null) return false
  switch (op) {
    case 'gt':
      return value > t
    case 'gte':
      return value >= t
    case 'lt':
      return value < t
    case 'lte':
      return value <= t
  }
}

interface Open {
  breachId: string
  startedAt: number
  severity: 'warning' | 'critical'
}

async function insert(ch: ClickHouse, table: string, values: Row[]): Promise<void> {
  if (values.length > 0) await ch.client.insert({ table, values, format: 'JSONEachRow' })
}

/** Writes the data set; evaluation steps every `stepDays` days over the last 120 days, then at `now`. */
export async function insertHandMadeDataset(ch: ClickHouse, now = new Date(), stepDays = 6): Promise<void> {
  const end = now.getTime()
  const rnd = prng(42)
  const facts = [...incidents(end, rnd), ...modelEvents(end, rnd), ...findings(end, rnd)].sort(
    (a, b) => a.at - b.at,
  )
  // Producers retry: some events arrive twice (same event_id), the later copy ingested later.
  for (let i = 0; i < facts.length; i += 9) facts.push({ ...facts[i]!, at: facts[i]!.at + HOUR })
  facts.sort((a, b) => a.at - b.at)

  const steps: number[] = []
  for (let t = end - 120 * DAY; t < end; t += stepDays * DAY) steps.push(t)
  steps.push(end)

  const open = new Map<string, Open>()
  const kpiRows: Row[] = []
  const transitions: Row[] = []
  const deliveries: Row[] = []
  let next = 0
  for (const at of steps) {
    const batch = new Map<string, Row[]>()
    while (next < facts.length && facts[next]!.at <= at) {
      const f = facts[next++]!
      batch.set(f.table, [...(batch.get(f.table) ?? []), f.row])
    }
    for (const [table, rows] of batch) await insert(ch, table, rows)
    for (const kpi of KPIS) {
      for (const sample of await runKpi(ch, kpi, new Date(at))) {
        const fp = fingerprintOf(kpi.id, sample.scope)
        const th = thresholdsFor(kpi, sample.scope)
        const v = sample.value
        const status =
          v === null
            ? 'no_data'
            : breaches(kpi.thresholds.op, v, th.critical)
              ? 'critical'
              : breaches(kpi.thresholds.op, v, th.warning)
                ? 'warning'
                : 'ok'
        kpiRows.push({
          evaluated_at: iso(at),
          kpi_id: kpi.id,
          fingerprint: fp,
          scope: sample.scope,
          value: v,
          status,
          warning_threshold: th.warning,
          critical_threshold: th.critical,
        })
        if (status === 'no_data') continue
        const current = open.get(fp)
        const record = (
          transition: string,
          severity: string,
          breachId: string,
          startedAt: number,
          prev = '',
        ) => {
          const transitionId = `${breachId}:${transition}:${at}`
          transitions.push({
            transition_id: transitionId,
            breach_id: breachId,
            fingerprint: fp,
            kpi_id: kpi.id,
            scope: sample.scope,
            transition,
            state: transition === 'resolved' ? 'resolved' : 'firing',
            severity,
            previous_severity: prev,
            value: v,
            threshold: severity === 'critical' ? th.critical : th.warning,
            started_at: iso(startedAt),
            at: iso(at),
          })
          const sink = severity === 'critical' ? 'pagerduty' : 'slack'
          const flaky = transitions.length % 7 === 0
          if (flaky) {
            deliveries.push({
              attempted_at: iso(at + 2000),
              job_id: transitionId,
              transition_id: transitionId,
              fingerprint: fp,
              kpi_id: kpi.id,
              transition,
              sink,
              attempt: 1,
              outcome: 'retryable',
              status_code: 503,
              reason: 'server_error',
              latency_ms: 1200,
            })
          }
          deliveries.push({
            attempted_at: iso(at + (flaky ? 32_000 : 1500)),
            job_id: transitionId,
            transition_id: transitionId,
            fingerprint: fp,
            kpi_id: kpi.id,
            transition,
            sink,
            attempt: flaky ? 2 : 1,
            outcome: 'ok',
            status_code: 202,
            reason: '',
            latency_ms: 150 + (transitions.length % 10) * 40,
          })
        }
        if (status === 'ok') {
          if (current) {
            record('resolved', current.severity, current.breachId, current.startedAt)
            open.delete(fp)
          }
        } else if (!current) {
          const breachId = `${fp}:${at}`
          open.set(fp, { breachId, startedAt: at, severity: status })
          record('firing', status, breachId, at)
        } else if (current.severity === 'warning' && status === 'critical') {
          current.severity = 'critical'
          record('escalated', 'critical', current.breachId, current.startedAt, 'warning')
        }
      }
    }
  }
  await insert(ch, 'kpi_values', kpiRows)
  await insert(ch, 'breach_transitions', transitions)
  await insert(ch, 'alert_deliveries', deliveries)

  const errorTypes = ['schema', 'json', 'unknown_type', 'schema', 'too_large', 'schema']
  const topics = ['aims.privacy-incidents.v1', 'aims.model-metrics.v1', 'aims.audit-findings.v1']
  await insert(
    ch,
    'dead_letters',
    errorTypes.map((errorType, i) => ({
      received_at: iso(end - (i * 9 + 1) * DAY),
      topic: topics[i % topics.length],
      partition: i % 3,
      offset: 1000 + i,
      key: null,
      value_base64: Buffer.from(`{"bad":${i}}`).toString('base64'),
      headers: { 'content-type': 'application/json' },
      error_type: errorType,
      reason: `${errorType}: example rejection ${i}`,
    })),
  )
}
