import { createHash } from 'node:crypto'
import { type ClickHouse, queryRows } from '../../shared/clickhouse/client.js'
import { getKpi } from '../../shared/kpi/catalog.js'
import { canonicalJson, kpiDefinitionVersion } from '../../shared/kpi/definition-version.js'
import type { ResolverConfig } from '../../shared/kpi/thresholds.js'
import { buildContent, type PackContent, type PreviousReview } from './content.js'
import { computeFigures, type Figure, factColumnsOf, type InputSet } from './figures.js'
import { type Period, parsePeriod } from './period.js'
import { type ReviewRecord, reviewRecordSchema } from './record.js'
import { renderHtml } from './render-html.js'

/**
 * Review packs, frozen: generated once, stored append-only in `review_packs` (0016) with a manifest whose
 * sha256 chains to the previous pack's, and verified later by recomputing every figure from the stored
 * facts as known at the pack's time. Review records (0017) attach the meeting's outcome to a pack.
 */

export interface Manifest {
  packId: string
  period: { label: string; start: string; end: string }
  generatedAt: string
  prevSha256: string
  factColumns: Record<string, string[]>
  previousReview: { packId: string; recordSha256: string } | null
  figures: Figure[]
  inputs: InputSet[]
  bodyJsonSha256: string
  bodyHtmlSha256: string
}

export interface StoredPack {
  packId: string
  period: string
  generatedAt: string
  sha256: string
  prevSha256: string
  manifest: Manifest
  content: PackContent
  html: string
}

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')
const chTime = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '')
/** ClickHouse DateTime64 text (UTC) back to ISO 8601. */
const isoOf = (text: string) => new Date(`${text.replace(' ', 'T')}Z`).toISOString()

export function packIdOf(period: Period, generatedAt: Date): string {
  return `${period.label}-${generatedAt
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}`
}

interface PackRow {
  pack_id: string
  period: string
  generated_text: string
  manifest: string
  sha256: string
  prev_sha256: string
  body_json: string
  body_html: string
}

const PACK_COLUMNS =
  'pack_id, period, toString(generated_at) AS generated_text, manifest, sha256, prev_sha256'

async function latestPack(ch: ClickHouse): Promise<{ sha256: string; generated_text: string } | undefined> {
  const [row] = await queryRows<{ sha256: string; generated_text: string }>(
    ch,
    'SELECT sha256, toString(generated_at) AS generated_text FROM review_packs ORDER BY generated_at DESC, pack_id DESC LIMIT 1',
  )
  return row
}

interface RecordRow {
  pack_id: string
  record: string
  sha256: string
  recorded_text: string
}

/** The latest review record on an earlier pack, recorded before `before`: its actions are reported on. */
async function previousReviewRecord(ch: ClickHouse, before: Date): Promise<RecordRow | undefined> {
  const [row] = await queryRows<RecordRow>(
    ch,
    `SELECT pack_id, record, sha256, toString(recorded_at) AS recorded_text FROM review_records
     WHERE recorded_at <= {before:DateTime64(3)}
       AND pack_id IN (SELECT pack_id FROM review_packs WHERE generated_at < {before:DateTime64(3)})
     ORDER BY recorded_at DESC LIMIT 1`,
    { before: chTime(before) },
  )
  return row
}

function previousReviewOf(row: RecordRow, period: Period): PreviousReview {
  const record = reviewRecordSchema.parse(JSON.parse(row.record))
  return {
    packId: row.pack_id,
    heldOn: record.heldOn,
    actions: record.actions.map((a) => ({
      ...a,
      overdue:
        (a.status === 'open' || a.status === 'in_progress') &&
        a.due !== undefined &&
        new Date(a.due).getTime() < period.end.getTime(),
    })),
  }
}

export interface GenerateOptions {
  period: string
  config?: ResolverConfig
  /** The pack's time: figures are as known then. Default now; must be after the latest stored pack. */
  now?: Date
}

export async function generatePack(ch: ClickHouse, opts: GenerateOptions): Promise<StoredPack> {
  const period = parsePeriod(opts.period)
  const generatedAt = opts.now ?? new Date()
  const previous = await latestPack(ch)
  if (previous && isoOf(previous.generated_text) >= generatedAt.toISOString()) {
    throw new PackOrderError(
      `a pack generated at ${isoOf(previous.generated_text)} already exists: a new pack must be generated after it`,
    )
  }
  const packId = packIdOf(period, generatedAt)
  const factColumns = await factColumnsOf(ch)
  const { figures, inputs } = await computeFigures(ch, {
    period,
    knownAt: generatedAt,
    config: opts.config,
    factColumns,
  })
  const record = await previousReviewRecord(ch, generatedAt)
  const content = buildContent(
    packId,
    period,
    generatedAt,
    figures,
    record ? previousReviewOf(record, period) : null,
  )
  const bodyJson = canonicalJson(content)
  const html = renderHtml(content)
  const manifest: Manifest = {
    packId,
    period: content.period,
    generatedAt: content.generatedAt,
    prevSha256: previous?.sha256 ?? '',
    factColumns,
    previousReview: record ? { packId: record.pack_id, recordSha256: record.sha256 } : null,
    figures,
    inputs,
    bodyJsonSha256: sha256(bodyJson),
    bodyHtmlSha256: sha256(html),
  }
  const manifestText = canonicalJson(manifest)
  const packSha = sha256(manifestText)
  await ch.client.insert({
    table: 'review_packs',
    format: 'JSONEachRow',
    values: [
      {
        pack_id: packId,
        period: period.label,
        period_start: chTime(period.start),
        period_end: chTime(period.end),
        generated_at: chTime(generatedAt),
        manifest: manifestText,
        sha256: packSha,
        prev_sha256: manifest.prevSha256,
        body_json: bodyJson,
        body_html: html,
      },
    ],
  })
  return {
    packId,
    period: period.label,
    generatedAt: content.generatedAt,
    sha256: packSha,
    prevSha256: manifest.prevSha256,
    manifest,
    content,
    html,
  }
}

export interface PackSummary {
  packId: string
  period: string
  generatedAt: string
  sha256: string
  reviewed: boolean
}

export async function listPacks(ch: ClickHouse, limit = 100): Promise<PackSummary[]> {
  const rows = await queryRows<{
    pack_id: string
    period: string
    generated_text: string
    sha256: string
    reviewed: number
  }>(
    ch,
    `SELECT pack_id, period, toString(generated_at) AS generated_text, sha256,
       pack_id IN (SELECT pack_id FROM review_records) AS reviewed
     FROM review_packs ORDER BY generated_at DESC, pack_id DESC LIMIT {limit:UInt32}`,
    { limit },
  )
  return rows.map((r) => ({
    packId: r.pack_id,
    period: r.period,
    generatedAt: isoOf(r.generated_text),
    sha256: r.sha256,
    reviewed: Boolean(Number(r.reviewed)),
  }))
}

/** The stored pack as it is (rows are append-only: the first stored row of an id is the pack). */
export async function readPackRow(ch: ClickHouse, packId: string): Promise<PackRow | undefined> {
  const [row] = await queryRows<PackRow>(
    ch,
    `SELECT ${PACK_COLUMNS}, body_json, body_html FROM review_packs WHERE pack_id = {id:String}
     ORDER BY generated_at LIMIT 1`,
    { id: packId },
  )
  return row
}

/** The latest record of the review of `packId`, if any. */
export async function readReviewRecord(
  ch: ClickHouse,
  packId: string,
): Promise<{ record: ReviewRecord; recordedAt: string; recordedBy: string; sha256: string } | undefined> {
  const [row] = await queryRows<{
    record: string
    recorded_text: string
    recorded_by: string
    sha256: string
  }>(
    ch,
    `SELECT record, toString(recorded_at) AS recorded_text, recorded_by, sha256 FROM review_records
     WHERE pack_id = {id:String} ORDER BY recorded_at DESC LIMIT 1`,
    { id: packId },
  )
  if (!row) return undefined
  return {
    record: reviewRecordSchema.parse(JSON.parse(row.record)),
    recordedAt: isoOf(row.recorded_text),
    recordedBy: row.recorded_by,
    sha256: row.sha256,
  }
}

export class PackNotFoundError extends Error {
  override name = 'PackNotFoundError'
}

/** Packs chain in time order: a new pack's time must be after the latest stored pack's. */
export class PackOrderError extends Error {
  override name = 'PackOrderError'
}

/** Attaches a review record (validated) to a stored pack; a later record for the same pack supersedes it. */
export async function recordReview(
  ch: ClickHouse,
  packId: string,
  input: unknown,
  recordedBy: string,
  now = new Date(),
): Promise<{ sha256: string; record: ReviewRecord }> {
  const record = reviewRecordSchema.parse(input)
  if (!(await readPackRow(ch, packId))) throw new PackNotFoundError(`no review pack "${packId}"`)
  const text = canonicalJson(record)
  const digest = sha256(text)
  await ch.client.insert({
    table: 'review_records',
    format: 'JSONEachRow',
    values: [
      { pack_id: packId, recorded_at: chTime(now), recorded_by: recordedBy, record: text, sha256: digest },
    ],
  })
  return { sha256: digest, record }
}

// ---------------------------------------------------------------------------------------------- verify

export interface VerifyResult {
  packId: string
  ok: boolean
  figures: number
  /** Each difference, naming the figure, input or field. */
  differences: string[]
  /**
   * Figures whose KPI definition changed since the pack (a threshold, a window, the KPI's query): not
   * comparable, so not differences; each says both versions and both values. The stored inputs' hashes
   * still prove the facts behind them unchanged.
   */
  notes: string[]
}

/** Paths where two JSON values differ (at most `limit`), e.g. `monitoring[3].end: 2 ≠ 3`. */
export function jsonDifferences(stored: unknown, expected: unknown, path = '', limit = 20): string[] {
  const out: string[] = []
  const walk = (a: unknown, b: unknown, p: string) => {
    if (out.length >= limit) return
    if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
      if (Array.isArray(a) !== Array.isArray(b)) {
        out.push(`${p}: stored ${JSON.stringify(a)}, expected ${JSON.stringify(b)}`)
        return
      }
      const keys = new Set([...Object.keys(a), ...Object.keys(b)])
      for (const k of keys) {
        const child = Array.isArray(a) ? `${p}[${k}]` : p ? `${p}.${k}` : k
        walk((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], child)
      }
      return
    }
    if (canonicalJson(a) !== canonicalJson(b)) {
      out.push(`${p}: stored ${JSON.stringify(a) ?? 'nothing'}, expected ${JSON.stringify(b) ?? 'nothing'}`)
    }
  }
  walk(stored, expected, path)
  return out
}

/**
 * Recomputes the pack from the stored facts as known at its time and checks, naming each difference:
 * the manifest against its sha256, the chain to the previous pack, the stored columns against the
 * manifest, every figure's value, input rows and definition version, the previous review record, and the
 * stored JSON and HTML bodies against what the recomputed figures produce.
 */
export async function verifyPack(
  ch: ClickHouse,
  packId: string,
  config?: ResolverConfig,
): Promise<VerifyResult> {
  const row = await readPackRow(ch, packId)
  if (!row) throw new PackNotFoundError(`no review pack "${packId}"`)
  const differences: string[] = []
  let manifest: Manifest
  try {
    manifest = JSON.parse(row.manifest) as Manifest
  } catch {
    return { packId, ok: false, figures: 0, differences: ['manifest: not valid JSON'], notes: [] }
  }

  if (sha256(row.manifest) !== row.sha256) {
    differences.push(
      'manifest: its content does not match the stored sha256 (the manifest or sha256 was changed)',
    )
  }
  const fields: [string, string, string][] = [
    ['pack_id', row.pack_id, manifest.packId],
    ['period', row.period, manifest.period?.label],
    ['generated_at', isoOf(row.generated_text), manifest.generatedAt],
    ['prev_sha256', row.prev_sha256, manifest.prevSha256],
  ]
  for (const [name, stored, inManifest] of fields) {
    if (stored !== inManifest)
      differences.push(`field ${name}: stored "${stored}", manifest says "${inManifest}"`)
  }

  // The chain: the pack generated just before this one must be the one this manifest names.
  const [before] = await queryRows<{ pack_id: string; sha256: string; manifest: string }>(
    ch,
    `SELECT pack_id, sha256, manifest FROM review_packs
     WHERE (generated_at, pack_id) < ({at:DateTime64(3)}, {id:String})
     ORDER BY generated_at DESC, pack_id DESC LIMIT 1`,
    { at: row.generated_text, id: row.pack_id },
  )
  const expectedPrev = before?.sha256 ?? ''
  if (manifest.prevSha256 !== expectedPrev) {
    differences.push(
      `chain: prev_sha256 ${manifest.prevSha256 || '(none)'} but the previous pack ${before?.pack_id ?? '(none)'} has sha256 ${expectedPrev || '(none)'}`,
    )
  }
  if (before && sha256(before.manifest) !== before.sha256) {
    differences.push(`chain: the previous pack ${before.pack_id} no longer matches its sha256`)
  }

  const period = parsePeriod(manifest.period.label)
  const generatedAt = new Date(manifest.generatedAt)
  const recomputed = await computeFigures(ch, {
    period,
    knownAt: generatedAt,
    config,
    factColumns: manifest.factColumns,
  })
  const storedFigures = new Map(manifest.figures.map((f) => [f.id, f]))
  const freshFigures = new Map(recomputed.figures.map((f) => [f.id, f]))
  const notes: string[] = []
  /** Figures computed under a definition that has changed since: their stored value stands in the bodies. */
  const redefined = new Set<string>()
  for (const [id, f] of storedFigures) {
    const fresh = freshFigures.get(id)
    if (!fresh) {
      differences.push(`figure "${id}": in the pack, not recomputed from the stored facts`)
      continue
    }
    const same = canonicalJson(f.value) === canonicalJson(fresh.value)
    const now = f.kpiId ? kpiDefinitionVersion(getKpi(f.kpiId), config) : undefined
    if (f.kpiId && f.definitionVersion !== now) {
      redefined.add(id)
      notes.push(
        `figure "${id}": computed with definition ${f.definitionVersion} of ${f.kpiId}, now ${now}: ${same ? 'the same value under both' : `pack says ${canonicalJson(f.value)}, the current definition gives ${canonicalJson(fresh.value)}`}`,
      )
    } else if (!same) {
      differences.push(
        `figure "${id}": pack says ${canonicalJson(f.value)}, recomputed ${canonicalJson(fresh.value)}`,
      )
    }
  }
  for (const id of freshFigures.keys()) {
    if (!storedFigures.has(id))
      differences.push(`figure "${id}": recomputed from the stored facts, missing in the pack`)
  }
  const freshInputs = new Map(recomputed.inputs.map((i) => [i.id, i]))
  for (const input of manifest.inputs) {
    const fresh = freshInputs.get(input.id)
    if (!fresh) differences.push(`input "${input.id}": no longer found`)
    else if (fresh.sha256 !== input.sha256 || fresh.rows !== input.rows) {
      differences.push(
        `input "${input.id}": ${input.rows} rows sha256 ${input.sha256.slice(0, 16)}… at the pack's time, now ${fresh.rows} rows sha256 ${fresh.sha256.slice(0, 16)}… (stored rows known at ${manifest.generatedAt} changed)`,
      )
    }
  }

  let previousReview: PreviousReview | null = null
  if (manifest.previousReview) {
    const [rec] = await queryRows<RecordRow>(
      ch,
      `SELECT pack_id, record, sha256, toString(recorded_at) AS recorded_text FROM review_records
       WHERE pack_id = {id:String} AND sha256 = {sha:String} LIMIT 1`,
      { id: manifest.previousReview.packId, sha: manifest.previousReview.recordSha256 },
    )
    if (!rec || sha256(rec.record) !== rec.sha256) {
      differences.push(`previous review record of ${manifest.previousReview.packId}: missing or changed`)
    } else {
      previousReview = previousReviewOf(rec, period)
    }
  }

  const figures = recomputed.figures.map((f) =>
    redefined.has(f.id)
      ? {
          ...f,
          value: storedFigures.get(f.id)!.value,
          definitionVersion: storedFigures.get(f.id)!.definitionVersion,
        }
      : f,
  )
  const content = buildContent(manifest.packId, period, generatedAt, figures, previousReview)
  const bodyJson = canonicalJson(content)
  if (sha256(row.body_json) !== manifest.bodyJsonSha256) {
    let stored: unknown
    try {
      stored = JSON.parse(row.body_json)
    } catch {
      stored = undefined
    }
    const diffs = stored === undefined ? ['not valid JSON'] : jsonDifferences(stored, content)
    differences.push(...diffs.map((d) => `body_json ${d}`))
    if (diffs.length === 0) differences.push('body_json: does not match the manifest sha256')
  } else if (bodyJson !== row.body_json) {
    differences.push(...jsonDifferences(JSON.parse(row.body_json), content).map((d) => `body_json ${d}`))
  }
  if (sha256(row.body_html) !== manifest.bodyHtmlSha256) {
    differences.push('body_html: does not match the manifest sha256 (the stored HTML was changed)')
  } else if (renderHtml(content) !== row.body_html) {
    differences.push('body_html: differs from the page the recomputed figures render')
  }
  return { packId, ok: differences.length === 0, figures: manifest.figures.length, differences, notes }
}

export async function loadPack(ch: ClickHouse, packId: string): Promise<StoredPack | undefined> {
  const row = await readPackRow(ch, packId)
  if (!row) return undefined
  return {
    packId: row.pack_id,
    period: row.period,
    generatedAt: isoOf(row.generated_text),
    sha256: row.sha256,
    prevSha256: row.prev_sha256,
    manifest: JSON.parse(row.manifest) as Manifest,
    content: JSON.parse(row.body_json) as PackContent,
    html: row.body_html,
  }
}
