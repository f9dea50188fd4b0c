import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { reviewPackCommand } from '../../../services/review-pack/command.js'
import type { SeriesResult } from '../../../services/review-pack/content.js'
import { type Figure, knownAtSql } from '../../../services/review-pack/figures.js'
import { generatePack, loadPack, type StoredPack, verifyPack } from '../../../services/review-pack/pack.js'
import { renderPdf } from '../../../services/review-pack/pdf.js'
import { type ClickHouse, createClickHouse } from '../../../shared/clickhouse/client.js'
import { migrate } from '../../../shared/clickhouse/migrate.js'
import { loadConfig } from '../../../shared/config/env.js'
import { fingerprint } from '../../../shared/kpi/breach-state.js'
import { referenceSql } from '../../../shared/kpi/sql.js'
import { parseAimsConfig } from '../../../shared/kpi/thresholds.js'

/**
 * The review pack of 2026-Q3 on a hand-built data set written straight into the fact tables and the
 * breach and delivery log, each row with its own ingest time: the expected figures are worked out in the
 * comments. Then freezing: the stored pack verifies; a review record becomes the next pack's status of
 * actions and the next pack chains to it; changing one stored fact or one stored pack field makes
 * verification fail naming it.
 */

const run = promisify(execFile)
const dataDir = mkdtempSync(join(tmpdir(), 'aims-review-pack-'))
const outDir = mkdtempSync(join(tmpdir(), 'aims-review-pack-out-'))
let ch: ClickHouse

const T = new Date('2026-10-02T09:00:00.000Z') // the pack's time: what was known then
const at = (iso: string) => iso.replace('T', ' ').replace('Z', '')
const KNOWN = at('2026-10-01T00:00:00.000Z') // ingest time of every fact but the late one
const LATE = at('2026-10-05T00:00:00.000Z') // ingested after T: not in the pack

let seq = 0
const nextId = (p: string) => `${p}-${++seq}`

function finding(f: {
  id: string
  standard: string
  kind: string
  status: string
  auditType?: string
  eventTime: string
  raised: string
  due?: string
  closed?: string
  ingested?: string
}) {
  return {
    event_id: nextId('afe'),
    event_time: at(f.eventTime),
    ingested_at: f.ingested ?? KNOWN,
    source: 'test',
    finding_id: f.id,
    audit_id: `AUD-${f.standard}`,
    audit_type: f.auditType ?? 'internal',
    standard: f.standard,
    clause: f.standard === 'ISO27001' ? 'A.8.8' : '6.1.4',
    kind: f.kind,
    status: f.status,
    business_unit: 'bu',
    title: f.id,
    owner: 'owner',
    raised_at: at(f.raised),
    due_at: f.due ? at(f.due) : null,
    closed_at: f.closed ? at(f.closed) : null,
    repeat_of: '',
  }
}

function incident(i: {
  id: string
  severity: string
  status: string
  eventTime: string
  detected: string
  notified?: string
}) {
  return {
    event_id: nextId('pie'),
    event_time: at(i.eventTime),
    ingested_at: KNOWN,
    source: 'test',
    incident_id: i.id,
    status: i.status,
    severity: i.severity,
    category: 'data_leak',
    business_unit: 'bu',
    occurred_at: null,
    detected_at: at(i.detected),
    contained_at: null,
    resolved_at: null,
    closed_at: null,
    notifiable: true,
    regulator_notified_at: i.notified ? at(i.notified) : null,
    records_affected: 10,
    data_subjects_affected: 10,
    ai_system_id: '',
    controls: ['A.5.24'],
  }
}

const MAJOR_NC_SCOPE = { standard: 'ISO27001', clause: 'A.8.8' }
const FP = fingerprint('audit.open_major_ncs', MAJOR_NC_SCOPE)
const STARTED = '2026-08-01T00:00:00.000Z'
const BREACH_ID = `${FP}-${new Date(STARTED).getTime()}`

let pack: StoredPack
const figure = (p: StoredPack, id: string): Figure => {
  const f = p.manifest.figures.find((x) => x.id === id)
  if (!f) throw new Error(`no figure "${id}" in ${p.manifest.figures.map((x) => x.id).join('\n')}`)
  return f
}
const series = (p: StoredPack, kpiId: string, scope: string): SeriesResult => {
  const s = p.content.monitoring.find((x) => x.kpiId === kpiId && x.scope === scope)
  if (!s) throw new Error(`no series ${kpiId} ${scope}`)
  return s
}

beforeAll(async () => {
  ch = await createClickHouse(
    loadConfig({
      CLICKHOUSE_DATA_DIR: dataDir,
      CLICKHOUSE_DATABASE: `pack_${process.pid}`,
      LOG_LEVEL: 'warn',
    }),
  )
  await migrate(ch)
  const findings = [
    // ISO 27001 major NC raised 10 Jul (internal audit), due 1 Aug, closed 20 Aug: raised in July, closed in August.
    finding({
      id: 'F-1',
      standard: 'ISO27001',
      kind: 'major_nc',
      status: 'open',
      eventTime: '2026-07-10T00:00:00Z',
      raised: '2026-07-10T00:00:00Z',
      due: '2026-08-01T00:00:00Z',
    }),
    finding({
      id: 'F-1',
      standard: 'ISO27001',
      kind: 'major_nc',
      status: 'closed',
      eventTime: '2026-08-20T00:00:00Z',
      raised: '2026-07-10T00:00:00Z',
      due: '2026-08-01T00:00:00Z',
      closed: '2026-08-20T00:00:00Z',
    }),
    // ISO 42001 minor NC raised 5 Sep, due 20 Sep, still open: overdue at the end of the quarter.
    finding({
      id: 'F-2',
      standard: 'ISO42001',
      kind: 'minor_nc',
      status: 'open',
      eventTime: '2026-09-05T00:00:00Z',
      raised: '2026-09-05T00:00:00Z',
      due: '2026-09-20T00:00:00Z',
    }),
    // An external audit's observation on ISO 27001 in August.
    finding({
      id: 'F-3',
      standard: 'ISO27001',
      kind: 'observation',
      status: 'open',
      auditType: 'external',
      eventTime: '2026-08-12T00:00:00Z',
      raised: '2026-08-12T00:00:00Z',
    }),
    // Happened in September but stored on 5 Oct, after the pack: "known at T" leaves it out.
    finding({
      id: 'F-LATE',
      standard: 'ISO27001',
      kind: 'major_nc',
      status: 'open',
      eventTime: '2026-09-15T00:00:00Z',
      raised: '2026-09-15T00:00:00Z',
      ingested: LATE,
    }),
  ]
  await ch.client.insert({ table: 'audit_finding_events', values: findings, format: 'JSONEachRow' })
  // Delivered twice (same event id and content, later ingest): counted once, hashed once.
  await ch.client.insert({
    table: 'audit_finding_events',
    values: [{ ...findings[0], ingested_at: at('2026-10-01T00:05:00Z') }],
    format: 'JSONEachRow',
  })
  await ch.client.insert({
    table: 'privacy_incident_events',
    format: 'JSONEachRow',
    values: [
      // High, detected 3 Aug, notified 10 h later: on time.
      incident({
        id: 'INC-1',
        severity: 'high',
        status: 'notified',
        eventTime: '2026-08-03T10:00:00Z',
        detected: '2026-08-03T00:00:00Z',
        notified: '2026-08-03T10:00:00Z',
      }),
      // Critical, detected 10 Sep, never notified.
      incident({
        id: 'INC-2',
        severity: 'critical',
        status: 'detected',
        eventTime: '2026-09-10T00:00:00Z',
        detected: '2026-09-10T00:00:00Z',
      }),
    ],
  })
  await ch.client.insert({
    table: 'model_metric_events',
    format: 'JSONEachRow',
    values: [
      {
        event_id: 'mme-1',
        event_time: at('2026-07-15T00:00:00Z'),
        ingested_at: KNOWN,
        source: 'test',
        model_id: 'credit',
        model_version: '1.0.0',
        environment: 'production',
        business_unit: 'bu',
        baseline_version: '',
        window_start: at('2026-07-14T00:00:00Z'),
        window_end: at('2026-07-15T00:00:00Z'),
        sample_size: 1000,
        metrics: { accuracy: 0.91 },
      },
      // 0.9.0 in production at the start of the quarter, superseded by 1.0.0; a staging run, never reported.
      ...[
        ['mme-0', '0.9.0', 'production', '2026-07-01T00:00:00Z'],
        ['mme-2', '1.1.0-rc', 'staging', '2026-09-01T00:00:00Z'],
      ].map(([id, version, environment, time]) => ({
        event_id: id,
        event_time: at(time!),
        ingested_at: KNOWN,
        source: 'test',
        model_id: 'credit',
        model_version: version,
        environment,
        business_unit: 'bu',
        baseline_version: '',
        window_start: at(time!),
        window_end: at(time!),
        sample_size: 1000,
        metrics: { accuracy: 0.8 },
      })),
    ],
  })
  // The open_major_ncs breach of F-1: fired 1 Aug, resolved 2 Aug 12:00 (36 h), paged once each way.
  const transition = (kind: string, when: string, state: string) => ({
    transition_id: `${BREACH_ID}-${kind}`,
    breach_id: BREACH_ID,
    fingerprint: FP,
    kpi_id: 'audit.open_major_ncs',
    scope: MAJOR_NC_SCOPE,
    transition: kind,
    state,
    severity: 'critical',
    previous_severity: '',
    value: kind === 'resolved' ? 0 : 1,
    threshold: 0,
    started_at: at(STARTED),
    at: at(when),
    recorded_at: at(when),
  })
  await ch.client.insert({
    table: 'breach_transitions',
    format: 'JSONEachRow',
    values: [
      transition('firing', STARTED, 'firing'),
      transition('resolved', '2026-08-02T12:00:00.000Z', 'resolved'),
    ],
  })
  await ch.client.insert({
    table: 'alert_deliveries',
    format: 'JSONEachRow',
    values: [
      {
        attempted_at: at('2026-08-01T00:00:01.000Z'),
        job_id: 'j1',
        transition_id: `${BREACH_ID}-firing`,
        fingerprint: FP,
        kpi_id: 'audit.open_major_ncs',
        transition: 'firing',
        sink: 'pagerduty',
        attempt: 1,
        outcome: 'retryable',
        status_code: 503,
        reason: 'server_error',
        latency_ms: 120,
      },
      {
        attempted_at: at('2026-08-01T00:00:05.000Z'),
        job_id: 'j1',
        transition_id: `${BREACH_ID}-firing`,
        fingerprint: FP,
        kpi_id: 'audit.open_major_ncs',
        transition: 'firing',
        sink: 'pagerduty',
        attempt: 2,
        outcome: 'ok',
        status_code: 202,
        reason: '',
        latency_ms: 80,
      },
      {
        attempted_at: at('2026-08-02T12:00:02.000Z'),
        job_id: 'j2',
        transition_id: `${BREACH_ID}-resolved`,
        fingerprint: FP,
        kpi_id: 'audit.open_major_ncs',
        transition: 'resolved',
        sink: 'pagerduty',
        attempt: 1,
        outcome: 'ok',
        status_code: 202,
        reason: '',
        latency_ms: 60,
      },
    ],
  })
  pack = await generatePack(ch, { period: '2026-Q3', now: T })
}, 120_000)

afterAll(async () => {
  await ch?.close()
  rmSync(dataDir, { recursive: true, force: true })
  rmSync(outDir, { recursive: true, force: true })
})

describe('review pack for 2026-Q3', () => {
  it('restricts every reference query to the facts known at T', () => {
    for (const area of ['privacy', 'audit'] as const) {
      expect(knownAtSql(referenceSql[area]('event_time'))).toContain(
        'ingested_at <= {known_at:DateTime64(3)}',
      )
    }
    expect(() => knownAtSql('SELECT 1')).toThrow(/event-time filter/)
  })

  it('reports NCs and corrective actions month by month per standard, without the late finding', () => {
    expect(pack.content.ncTrend.months).toEqual(['2026-07', '2026-08', '2026-09'])
    expect(pack.content.ncTrend.rows.ISO27001).toEqual([
      { month: '2026-07', raised: 1, closed: 0 },
      { month: '2026-08', raised: 0, closed: 1 },
    ])
    expect(pack.content.ncTrend.rows.ISO42001).toEqual([{ month: '2026-09', raised: 1, closed: 0 }])
    expect(pack.content.auditResults.ISO27001).toEqual([
      { auditType: 'external', kind: 'observation', findings: 1, audits: 1 },
      { auditType: 'internal', kind: 'major_nc', findings: 1, audits: 1 },
    ])
  })

  it('gives every KPI its start, end and change with its definition version', () => {
    const overdue = series(pack, 'audit.overdue_corrective_actions', '{standard=ISO42001}')
    expect([overdue.start, overdue.end, overdue.change]).toEqual([0, 1, 1])
    expect(overdue.definitionVersion).toMatch(/^[0-9a-f]{12}$/)
    expect(overdue.iso42001.length + overdue.iso27001.length).toBeGreaterThan(0)
    // F-LATE would make the ISO 27001 major NC count 1 at the end; as known at T it is none.
    expect(
      pack.content.monitoring.some((s) => s.kpiId === 'audit.open_major_ncs' && s.end !== null && s.end > 0),
    ).toBe(false)
    const accuracy = series(
      pack,
      'model.accuracy',
      '{environment=production, model_id=credit, model_version=1.0.0}',
    )
    expect([accuracy.start, accuracy.end]).toEqual([null, 0.91])
    expect(pack.content.models.find((m) => m.model.includes('model_id=credit'))?.accuracy).toBe(0.91)
  })

  it('shows the breach with its timeline, time in breach and delivery evidence', () => {
    const s = series(pack, 'audit.open_major_ncs', '{clause=A.8.8, standard=ISO27001}')
    expect(s.hoursInBreach).toBe(36)
    expect(s.breaches).toHaveLength(1)
    const timeline = (
      s.breaches[0]!.value as { timeline: { transition: string; deliveries: { outcome: string }[] }[] }
    ).timeline
    expect(timeline.map((t) => t.transition)).toEqual(['firing', 'resolved'])
    expect(timeline[0]!.deliveries.map((d) => d.outcome)).toEqual(['retryable', 'ok'])
    expect(figure(pack, 'alert deliveries pagerduty ok').value).toMatchObject({ attempts: 2 })
  })

  it('reports each model by its production version in use, and per-incident clocks summarised', () => {
    const versions = pack.content.monitoring
      .filter((s) => s.kpiId === 'model.accuracy')
      .map((s) => [s.scope, s.start, s.end])
    // 0.9.0 was in service at the start (evaluated 1 Jul 00:00), 1.0.0 at the end; the staging run in neither.
    expect(versions).toEqual([
      ['{environment=production, model_id=credit, model_version=0.9.0}', 0.8, null],
      ['{environment=production, model_id=credit, model_version=1.0.0}', null, 0.91],
    ])
    // INC-2 detected 10 Sep, never notified: one clock, 21 days (504 h) at the end of the quarter.
    expect(figure(pack, 'kpi privacy.notification_clock_hours {} at end').value).toEqual({
      value: 504,
      n: 1,
      ci_low: null,
      ci_high: null,
    })
  })

  it('reports incidents and their regulator notification', () => {
    expect(figure(pack, 'incidents critical').value).toMatchObject({
      detected: 1,
      notifiable: 1,
      unnotified: 1,
    })
    expect(figure(pack, 'incidents high').value).toMatchObject({
      detected: 1,
      notified_on_time: 1,
      notified_late: 0,
    })
  })

  it('records in the manifest every figure with its input rows hashed', () => {
    const inputs = new Map(pack.manifest.inputs.map((i) => [i.id, i]))
    for (const f of pack.manifest.figures) expect(inputs.has(f.input), f.id).toBe(true)
    // 4 audit facts known by the end (F-1 twice, F-2, F-3; the duplicate delivery counted once).
    expect(inputs.get('facts audit at end')).toMatchObject({ rows: 4 })
    expect(inputs.get('facts audit at end')?.sha256).toMatch(/^[0-9a-f]{64}$/)
    expect(pack.prevSha256).toBe('')
    expect(pack.html).toContain('Management review pack — 2026-Q3')
    expect(pack.html).toContain('Inputs supplied by people')
  })

  it('verifies untampered', async () => {
    const result = await verifyPack(ch, pack.packId)
    expect(result.differences).toEqual([])
    expect(result.ok).toBe(true)
  })

  it('reports a KPI whose definition changed since the pack as a note, not a difference', async () => {
    // A threshold tuned after the review: the figures of that KPI are no longer comparable, the rest are.
    const config = parseAimsConfig({ kpis: { 'privacy.mttc_hours': { warning: 12, critical: 48 } } })
    const result = await verifyPack(ch, pack.packId, config)
    expect(result.differences).toEqual([])
    expect(result.ok).toBe(true)
    expect(result.notes.length).toBeGreaterThan(0)
    for (const note of result.notes) {
      expect(note).toMatch(
        /^figure "kpi privacy\.mttc_hours .*": computed with definition [0-9a-f]+ of privacy\.mttc_hours, now [0-9a-f]+: /,
      )
    }
    expect((await verifyPack(ch, pack.packId)).notes).toEqual([])
  })

  it('prints to a PDF whose text pdftotext extracts', async () => {
    const pdf = await renderPdf(pack.html)
    const file = join(outDir, 'pack.pdf')
    writeFileSync(file, pdf)
    const info = (await run('pdfinfo', [file])).stdout
    expect(Number(/Pages:\s+(\d+)/.exec(info)?.[1])).toBeGreaterThan(0)
    const text = (await run('pdftotext', ['-layout', file, '-'])).stdout
    expect(text).toContain('Management review pack')
    expect(text).toContain('2026-Q3')
    expect(text).toContain('Monitoring and measurement results')
    // REVIEW_PACK_PDF=<file.pdf> keeps the PDF (docs/review-pack.png is its first page, by pdftoppm).
    if (process.env.REVIEW_PACK_PDF) writeFileSync(process.env.REVIEW_PACK_PDF, pdf)
  }, 120_000)

  it('attaches the review, reports its actions in the next pack and chains the packs', async () => {
    const record = join(outDir, 'review.yaml')
    writeFileSync(
      record,
      [
        'heldOn: 2026-10-10',
        'attendees: [{ name: A. Chief, role: CEO }, { name: S. Officer, role: CISO }]',
        'decisions: [Fund a second on-call rota]',
        'actions:',
        '  - { id: MR-Q3-01, title: Close F-2, owner: S. Officer, due: 2026-10-15 }',
        '  - { id: MR-Q3-02, title: Review vendor contracts, owner: Legal, due: 2026-12-01, status: done }',
      ].join('\n'),
    )
    const out: string[] = []
    const err: string[] = []
    const io = { ch, out: (l: string) => out.push(l), err: (l: string) => err.push(l) }
    expect(
      await reviewPackCommand(['--record', record, '--pack', pack.packId, '--by', 'secretary'], {
        ...io,
        now: () => new Date('2026-10-10T12:00:00.000Z'),
      }),
    ).toBe(0)
    // A bad record names the field and stores nothing.
    writeFileSync(
      join(outDir, 'bad.json'),
      JSON.stringify({ heldOn: '2026-10-10', attendees: [], decisions: [], actions: [] }),
    )
    expect(await reviewPackCommand(['--record', join(outDir, 'bad.json'), '--pack', pack.packId], io)).toBe(1)
    expect(err.join('\n')).toMatch(/attendees/)

    const now = new Date('2026-11-02T09:00:00.000Z')
    expect(
      await reviewPackCommand(['--period', '2026-10', '--out', outDir, '--no-pdf'], {
        ...io,
        now: () => now,
      }),
    ).toBe(0)
    const list: string[] = []
    await reviewPackCommand(['--list'], { ...io, out: (l) => list.push(l) })
    expect(list).toHaveLength(2)
    const next = (await loadPack(ch, list[0]!.split('\t')[0]!))!
    expect(next.prevSha256).toBe(pack.sha256)
    expect(next.content.previousReview?.packId).toBe(pack.packId)
    expect(next.content.previousReview?.actions.map((a) => [a.id, a.status, a.overdue])).toEqual([
      ['MR-Q3-01', 'open', true],
      ['MR-Q3-02', 'done', false],
    ])
    expect(readFileSync(join(outDir, `${next.packId}.html`), 'utf8')).toContain('MR-Q3-01')
    const verified: string[] = []
    expect(await reviewPackCommand(['--verify', next.packId], { ...io, out: (l) => verified.push(l) })).toBe(
      0,
    )
    expect(verified.join('\n')).toMatch(/verified/)
  }, 120_000)

  it('fails verification naming a changed pack field', async () => {
    const [, second] = (await ch.client
      .query({ query: 'SELECT pack_id FROM review_packs ORDER BY generated_at', format: 'JSONEachRow' })
      .then((r) => r.json<{ pack_id: string }>())) as { pack_id: string }[]
    await ch.client.command({
      query: `ALTER TABLE review_packs UPDATE body_json = replaceOne(body_json, '"title":"Close F-2"', '"title":"Closed F-2"')
              WHERE pack_id = {id:String}`,
      query_params: { id: second!.pack_id },
      clickhouse_settings: { mutations_sync: '2' },
    })
    const result = await verifyPack(ch, second!.pack_id)
    expect(result.ok).toBe(false)
    expect(result.differences.join('\n')).toMatch(
      /body_json previousReview\.actions\[0\]\.title: stored "Closed F-2", expected "Close F-2"/,
    )
  }, 120_000)

  it('fails verification naming the figure and input of a changed stored fact', async () => {
    await ch.client.command({
      query: "ALTER TABLE audit_finding_events UPDATE kind = 'minor_nc' WHERE finding_id = 'F-1'",
      clickhouse_settings: { mutations_sync: '2' },
    })
    const result = await verifyPack(ch, pack.packId)
    expect(result.ok).toBe(false)
    const report = result.differences.join('\n')
    expect(report).toMatch(/figure "audit results ISO27001 internal major_nc": in the pack, not recomputed/)
    expect(report).toMatch(
      /input "facts audit at end": 4 rows sha256 [0-9a-f]{16}… at the pack's time, now 4 rows/,
    )
  }, 120_000)
})
