import crypto from 'node:crypto'
import { type AlertJob, alertJobSchema, type Severity, type TransitionKind } from '../alerts/alert-job.js'
import type { KpiDefinition } from './catalog.js'
import type { JudgedComparison, Measurement } from './engine/sample.js'
import { compare, fromFloat, toFloat } from './fairness/exact.js'
import { type Band, differenceBand, judge, ratioBand } from './fairness/judge.js'
import type { EstimableFairnessKpi } from './fairness/parity.js'
import type { EffectiveLifecycle } from './lifecycle.js'
import type { EffectiveThresholds } from './thresholds.js'

/**
 * The breach lifecycle of one KPI series (KPI + scope), as a pure state machine:
 *
 *   ok ──breaching──► pending ──held for `for`──► firing(warning|critical) ──ok──► (resolved) ok
 *    ▲                  │ ok (silent)                │ critical held for `for` while warning
 *    └──────────────────┘                            ▼
 *                                                  firing(critical)   [transition "escalated"]
 *
 * - With `for` = 0 a breaching sample fires at once (no pending step).
 * - A breach fires at the severity of the sample that completes its `for`; if it went critical while
 *   pending it fires critical directly.
 * - Escalation warning → critical is a transition ("escalated"), after the critical condition has held
 *   for `for` (same flap protection as firing).
 * - De-escalation critical → warning is NOT a transition and notifies nobody: a breach's severity is
 *   the highest it reached and never decreases; `current` records the latest level. The breach resolves
 *   only when the value leaves the breach zone entirely; re-crossing critical later does not re-page.
 * - no_data (value null) holds the state as it is: an ok stays ok, a pending keeps its start and does not
 *   fire, a firing breach keeps firing. Evidence that is missing is not evidence of recovery.
 * - insufficient_data (value null with a reason: a fairness KPI that cannot be estimated) holds the state
 *   exactly like no_data: it never counts as ok, never resolves a firing breach, never advances a pending.
 * - Comparisons are exact: a sample carrying its exact rational (fairness KPIs) is compared with the
 *   threshold as a decimal, so a ratio of exactly 4/5 is not below 0.8; fairness KPIs are judged against
 *   a tolerance band per level (|difference| <= t; t <= ratio <= 1/t) under the KPI's breach policy
 *   (`point`, or `interval`: fires only when the whole confidence interval lies beyond, otherwise the
 *   level is reported `uncertain`, shown and never paged). Other values are doubles compared as doubles.
 * - A scope that disappears from a complete result (`evaluateAbsent`) no longer exists: a pending goes
 *   back to ok, a firing breach resolves (value null). Prometheus treats a vanished series the same way.
 * - Thresholds disabled or removed: the condition is false, so a pending clears and a firing resolves.
 * - Hysteresis (`lifecycle:` in the config, shared/kpi/lifecycle.ts): a firing breach resolves only on a
 *   *clearing* sample, one whose level is ok and that no longer crosses the `clear` threshold either; and
 *   only once `resolve_after` clearing samples came in a row AND the first of them is `keep_firing_for`
 *   old. A sample between the breach threshold and `clear` (ok, not cleared) or a breaching one starts the
 *   count again. Defaults (no clear, 1, 0s): the first ok sample resolves, as before. So a value wobbling
 *   across its threshold every evaluation keeps one breach open instead of opening one per wobble.
 * - Pending is not persisted: after a restart the `for` clock starts again (a later page, never a
 *   duplicate). Firing breaches are restored from `breach_transitions` (`restoreStates`).
 *
 * Identity: fingerprint = sha256(KPI id, sorted scope labels) → 32 hex chars; breachId = fingerprint +
 * the time the breach fired; transitionId = breachId + kind + severity. All derived from data, so a
 * replay or a restarted processor that re-derives a transition produces the same ids and the
 * ReplacingMergeTree / BullMQ job id dedupe it.
 */

export type Level = 'ok' | Severity
export type SampleStatus = Level | 'no_data' | 'insufficient_data'

export type BreachState =
  | { status: 'ok' }
  | {
      status: 'pending'
      /** When the condition started holding. */
      since: Date
      /** Level of the latest breaching sample. */
      level: Severity
    }
  | {
      status: 'firing'
      /** When the breach fired: part of its id. */
      startedAt: Date
      /** Highest severity notified for this breach; never decreases. */
      severity: Severity
      /** Level of the latest sample. */
      current: Severity
      /** While `severity` is warning: since when the value has been critical (escalation pending). */
      criticalSince?: Date
      /** Hysteresis: the first of the clearing samples in a row, and how many there were. */
      clearSince?: Date
      clearCount?: number
    }

export const OK: BreachState = Object.freeze({ status: 'ok' }) as BreachState

export type { JudgedComparison, Measurement }

export interface Sample extends Measurement {
  /** Evaluation time (the `now` the KPI SQL ran at). */
  at: Date
}

/** A lifecycle transition, identity-free (see `identify`). */
export interface Transition {
  kind: TransitionKind
  /** firing: the level fired at; escalated: critical; resolved: the breach's severity. */
  severity: Severity
  /** escalated: warning. */
  previousSeverity?: Severity
  value: number | null
  /** The threshold crossed (resolved: the one of the breach's severity). */
  threshold: number | null
  /** When the breach fired. */
  startedAt: Date
  at: Date
  /** The sample and confidence interval behind `value`, when it has them (fairness KPIs). */
  n?: number | null
  ci_low?: number | null
  ci_high?: number | null
  /** A stale alert (shared/kpi/staleness.ts), not a value breach: when inputs last came, what was expected. */
  stale?: { lastInputAt: Date | null; after: string }
}

export interface Evaluation {
  next: BreachState
  transitions: Transition[]
}

type Thresholds = Pick<EffectiveThresholds, 'enabled' | 'op' | 'warning' | 'critical' | 'forMs' | 'fairness'>

/** How a firing breach resolves (shared/kpi/lifecycle.ts). */
export type Hysteresis = Pick<EffectiveLifecycle, 'clear' | 'resolveAfter' | 'keepFiringForMs'>

export const NO_HYSTERESIS: Hysteresis = Object.freeze({ clear: null, resolveAfter: 1, keepFiringForMs: 0 })

/**
 * When a firing breach resolves without any new sample: its clearing count is reached and only
 * `keep_firing_for` is left to run (undefined: it needs a sample, or is not clearing).
 */
export function resolvesAt(state: BreachState, hy: Hysteresis): number | undefined {
  if (state.status !== 'firing' || state.clearSince === undefined) return undefined
  if ((state.clearCount ?? 0) < hy.resolveAfter || hy.keepFiringForMs <= 0) return undefined
  return state.clearSince.getTime() + hy.keepFiringForMs
}

function crosses(value: number, op: Thresholds['op'], threshold: number): boolean {
  switch (op) {
    case 'gt':
      return value > threshold
    case 'gte':
      return value >= threshold
    case 'lt':
      return value < threshold
    case 'lte':
      return value <= threshold
  }
}

/** The status of a sample, and the level its value reaches that its interval does not confirm. */
export interface Judgement {
  status: SampleStatus
  /** Interval policy only: the value lies beyond this level's band, its interval reaches back into it. */
  uncertain: Severity | null
}

const bandsCache = new WeakMap<object, { warning: Band | null; critical: Band | null }>()

/** The tolerance bands of a fairness KPI's thresholds (built once per thresholds object). */
function bandsOf(th: Thresholds): { warning: Band | null; critical: Band | null } {
  let bands = bandsCache.get(th)
  if (bands === undefined) {
    const band = (t: number | null) =>
      t === null ? null : th.fairness?.form === 'ratio' ? ratioBand(t) : differenceBand(t)
    bands = { warning: band(th.warning), critical: band(th.critical) }
    bandsCache.set(th, bands)
  }
  return bands
}

const asMeasurement = (m: Measurement | number | null): Measurement =>
  typeof m === 'number' || m === null ? { value: m } : m

/**
 * The instantaneous status of a sample (the `status` column of kpi_values): no_data without a value,
 * insufficient_data without a value but with a reason (not estimable), else the level its value reaches;
 * for fairness KPIs also the level it reaches that its interval does not confirm.
 */
export function judgeSample(sample: Measurement | number | null, th: Thresholds): Judgement {
  const m = asMeasurement(sample)
  const value = m.value
  if (value === null || !Number.isFinite(value)) {
    return { status: m.reason ? 'insufficient_data' : 'no_data', uncertain: null }
  }
  if (!th.enabled) return { status: 'ok', uncertain: null }
  if (th.fairness) {
    // The fairness module's judge, over the comparisons the value rests on (each with its interval).
    const exact = m.exact ?? fromFloat(value)
    const own = { exact, ci_low: m.ci_low ?? value, ci_high: m.ci_high ?? value }
    const comparisons = (m.comparisons ?? [own]).map((c) => ({
      measure: 'selection_rate' as const,
      group: '',
      reference: '',
      value: toFloat(c.exact),
      exact: c.exact,
      ci_low: c.ci_low,
      ci_high: c.ci_high,
      n: 0,
    }))
    const result = {
      estimable: true,
      spec: { metric: 'demographic_parity', form: th.fairness.form, reference: 'spread' },
      comparisons,
    } as unknown as EstimableFairnessKpi
    const j = judge(result, bandsOf(th), th.fairness.policy)
    return { status: j.status, uncertain: j.uncertain }
  }
  const hit = (t: number) => (m.exact ? compare(m.exact, th.op, t) : crosses(value, th.op, t))
  if (th.critical !== null && hit(th.critical)) return { status: 'critical', uncertain: null }
  if (th.warning !== null && hit(th.warning)) return { status: 'warning', uncertain: null }
  return { status: 'ok', uncertain: null }
}

/** The instantaneous level of a value or sample (also the `status` column of kpi_values). */
export function classify(sample: Measurement | number | null, th: Thresholds): SampleStatus {
  return judgeSample(sample, th).status
}

function thresholdOf(th: Thresholds, severity: Severity): number | null {
  return severity === 'critical' ? th.critical : th.warning
}

const elapsed = (from: Date, to: Date) => to.getTime() - from.getTime()

/** One evaluation of one series: the next state and the transitions to record and notify (0 or 1). */
export function evaluate(
  prev: BreachState | undefined,
  sample: Sample,
  th: Thresholds,
  hy: Hysteresis = NO_HYSTERESIS,
): Evaluation {
  const state = prev ?? OK
  const level = classify(sample, th)
  const { at, value } = sample
  if (level === 'no_data' || level === 'insufficient_data') return { next: state, transitions: [] }
  const measured = uncertaintyOf(sample)

  const fire = (severity: Severity): Evaluation => ({
    next: { status: 'firing', startedAt: at, severity, current: severity },
    transitions: [
      {
        kind: 'firing',
        severity,
        value,
        threshold: thresholdOf(th, severity),
        startedAt: at,
        at,
        ...measured,
      },
    ],
  })

  switch (state.status) {
    case 'ok':
      if (level === 'ok') return { next: state, transitions: [] }
      if (th.forMs <= 0) return fire(level)
      return { next: { status: 'pending', since: at, level }, transitions: [] }

    case 'pending':
      if (level === 'ok') return { next: OK, transitions: [] }
      if (elapsed(state.since, at) >= th.forMs) return fire(level)
      return { next: { status: 'pending', since: state.since, level }, transitions: [] }

    case 'firing': {
      if (level === 'ok') {
        const cleared = hy.clear === null || !crossesClear(sample, th, hy.clear)
        const { criticalSince: _c, clearSince: _s, clearCount: _n, ...held } = state
        // Between the breach threshold and `clear`: still firing, the clearing count starts again.
        if (!cleared) return { next: held, transitions: [] }
        const clearSince = state.clearSince ?? at
        const clearCount = (state.clearCount ?? 0) + 1
        if (clearCount >= hy.resolveAfter && elapsed(clearSince, at) >= hy.keepFiringForMs) {
          return resolve(state, value, at, th, measured)
        }
        return { next: { ...held, clearSince, clearCount }, transitions: [] }
      }
      if (state.severity === 'warning' && level === 'critical') {
        const criticalSince = state.criticalSince ?? at
        if (elapsed(criticalSince, at) >= th.forMs) {
          return {
            next: { status: 'firing', startedAt: state.startedAt, severity: 'critical', current: 'critical' },
            transitions: [
              {
                kind: 'escalated',
                severity: 'critical',
                previousSeverity: 'warning',
                value,
                threshold: th.critical,
                startedAt: state.startedAt,
                at,
                ...measured,
              },
            ],
          }
        }
        const { clearSince: _s, clearCount: _n, ...breaching } = state
        return { next: { ...breaching, current: 'critical', criticalSince }, transitions: [] }
      }
      // Still breaching at the same level, or de-escalated (critical breach, warning value): no transition.
      return {
        next: { status: 'firing', startedAt: state.startedAt, severity: state.severity, current: level },
        transitions: [],
      }
    }
  }
}

/** Whether the sample still lies beyond the hysteresis threshold (compared exactly when it is exact). */
function crossesClear(m: Measurement, th: Thresholds, clear: number): boolean {
  if (th.fairness || m.value === null) return false
  return m.exact ? compare(m.exact, th.op, clear) : crosses(m.value, th.op, clear)
}

/** The n and interval of a sample, for a transition (nothing when it has none). */
function uncertaintyOf(m: Measurement): Pick<Transition, 'n' | 'ci_low' | 'ci_high'> {
  if (m.ci_low === undefined && m.n === undefined) return {}
  return { n: m.n ?? null, ci_low: m.ci_low ?? null, ci_high: m.ci_high ?? null }
}

function resolve(
  state: Extract<BreachState, { status: 'firing' }>,
  value: number | null,
  at: Date,
  th: Thresholds,
  measured: Pick<Transition, 'n' | 'ci_low' | 'ci_high'> = {},
): Evaluation {
  return {
    next: OK,
    transitions: [
      {
        kind: 'resolved',
        severity: state.severity,
        value,
        threshold: thresholdOf(th, state.severity),
        startedAt: state.startedAt,
        at,
        ...measured,
      },
    ],
  }
}

/**
 * The series is missing from a complete evaluation of its KPI (or of the dirty scopes it belongs to):
 * the scope no longer exists. Pending → ok; firing → resolved with value null.
 */
export function evaluateAbsent(prev: BreachState | undefined, at: Date, th: Thresholds): Evaluation {
  const state = prev ?? OK
  if (state.status === 'firing') return resolve(state, null, at, th)
  return { next: OK, transitions: [] }
}

// ----- identity ----------------------------------------------------------------------------------------

/** One-shot hashing (Node ≥ 20.12) is several times faster than a Hash object for short inputs. */
const sha256Hex: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'hex')
    : (text) => crypto.createHash('sha256').update(text).digest('hex')

/** Stable id of a series: sha256 over the KPI id and the scope labels sorted by name; 32 hex chars. */
export function fingerprint(kpiId: string, scope: Readonly<Record<string, string>>): string {
  const labels = Object.keys(scope)
    .sort()
    .map((k) => [k, scope[k]])
  return sha256Hex(JSON.stringify([kpiId, labels])).slice(0, 32)
}

/** Id of one breach episode: the fingerprint and the time it fired (ms since epoch). */
export function breachId(fp: string, startedAt: Date): string {
  return `${fp}-${startedAt.getTime()}`
}

/** Deterministic id of a transition (also the BullMQ job id and webhook idempotency key). */
export function transitionId(fp: string, startedAt: Date, kind: TransitionKind, severity: Severity): string {
  return `${breachId(fp, startedAt)}-${kind}-${severity}`
}

export interface IdentifiedTransition extends Transition {
  kpiId: string
  scope: Record<string, string>
  fingerprint: string
  breachId: string
  transitionId: string
}

export function identify(
  kpiId: string,
  scope: Readonly<Record<string, string>>,
  t: Transition,
  /** The series' fingerprint when the caller has it cached (it is a hash: not free on a hot path). */
  fp: string = fingerprint(kpiId, scope),
): IdentifiedTransition {
  return {
    ...t,
    kpiId,
    scope: { ...scope },
    fingerprint: fp,
    breachId: breachId(fp, t.startedAt),
    transitionId: transitionId(fp, t.startedAt, t.kind, t.severity),
  }
}

// ----- storage and alert mapping ------------------------------------------------------------------------

/** ClickHouse DateTime64(3) text in UTC, accepted by every date_time_input_format. */
export function toClickHouseTime(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '')
}

/** A row of `breach_transitions` (0002_kpis_and_breaches.sql), without the defaulted recorded_at. */
export interface BreachTransitionRow {
  transition_id: string
  breach_id: string
  fingerprint: string
  kpi_id: string
  scope: Record<string, string>
  transition: TransitionKind
  /** State after the transition: firing or resolved. */
  state: 'firing' | 'resolved'
  severity: Severity
  /** '' unless escalated. */
  previous_severity: Severity | ''
  value: number | null
  threshold: number | null
  started_at: string
  at: string
  /** 'stale': the series' stale alert (migration 0012); absent: a value breach. */
  condition?: 'stale'
  /** The KPI definition version the transition was judged with (migration 0006); absent: ''. */
  definition_version?: string
}

export function toTransitionRow(t: IdentifiedTransition, definitionVersion?: string): BreachTransitionRow {
  return {
    transition_id: t.transitionId,
    breach_id: t.breachId,
    fingerprint: t.fingerprint,
    kpi_id: t.kpiId,
    scope: t.scope,
    transition: t.kind,
    state: t.kind === 'resolved' ? 'resolved' : 'firing',
    severity: t.severity,
    previous_severity: t.previousSeverity ?? '',
    value: t.value,
    threshold: t.threshold,
    started_at: toClickHouseTime(t.startedAt),
    at: toClickHouseTime(t.at),
    ...(t.stale ? { condition: 'stale' as const } : {}),
    ...(definitionVersion === undefined ? {} : { definition_version: definitionVersion }),
  }
}

/** A row of `kpi_values` (0002, with n, ci_low, ci_high and reason from 0005). */
export interface KpiValueRow {
  evaluated_at: string
  kpi_id: string
  fingerprint: string
  scope: Record<string, string>
  value: number | null
  /** stale: the series' inputs stopped arriving (shared/kpi/staleness.ts); never ok. */
  status: SampleStatus | 'stale'
  warning_threshold: number | null
  critical_threshold: number | null
  n: number | null
  ci_low: number | null
  ci_high: number | null
  /** Lines of `code: detail`: not estimable, uncertain, excluded groups, derived, disagreement; '' if none. */
  reason: string
  /** The KPI definition version the value was computed with (migration 0006); absent: ''. */
  definition_version?: string
}

/** The `code` of each `code: detail` line of a reason (what machines read; the detail is for people). */
export function reasonCodes(reason: string | null | undefined): string[] {
  if (!reason) return []
  return reason.split('\n').map((line) => line.split(':', 1)[0]!.trim())
}

/** The reason column: an `uncertain_<level>` line when the interval does not confirm a level, then the sample's. */
export function rowReason(sample: Measurement, judgement: Judgement): string {
  const lines: string[] = []
  if (judgement.uncertain !== null && sample.value !== null) {
    lines.push(
      `uncertain_${judgement.uncertain}: ${formatNumber(sample.value)} lies beyond the ${judgement.uncertain} band, but its confidence interval [${formatNumber(sample.ci_low ?? null)}, ${formatNumber(sample.ci_high ?? null)}] reaches back into it (interval policy: shown, not paged)`,
    )
  }
  if (sample.reason) lines.push(sample.reason)
  return lines.join('\n')
}

export function toKpiValueRow(
  kpiId: string,
  scope: Readonly<Record<string, string>>,
  sample: Sample,
  th: Thresholds,
  /** The series' fingerprint when the caller already has it (it is a hash: not free on a hot path). */
  fp: string = fingerprint(kpiId, scope),
  /** The sample's judgement when the caller already has it. */
  judgement: Judgement = judgeSample(sample, th),
): KpiValueRow {
  return {
    evaluated_at: toClickHouseTime(sample.at),
    kpi_id: kpiId,
    fingerprint: fp,
    scope: { ...scope },
    value: sample.value,
    status: judgement.status,
    warning_threshold: th.enabled ? th.warning : null,
    critical_threshold: th.enabled ? th.critical : null,
    n: sample.n ?? null,
    ci_low: sample.ci_low ?? null,
    ci_high: sample.ci_high ?? null,
    reason: rowReason(sample, judgement),
  }
}

const OP_TEXT = { gt: '>', gte: '≥', lt: '<', lte: '≤' } as const

function formatNumber(v: number | null): string {
  if (v === null) return 'no value'
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)))
}

function formatScope(scope: Readonly<Record<string, string>>): string {
  const entries = Object.entries(scope)
  return entries.length === 0 ? 'overall' : entries.map(([k, v]) => `${k}=${v}`).join(', ')
}

/**
 * The alert job of a transition (validated by `alertJobSchema`). Links point at the processor's read
 * API and review page: `<base>/api/breaches/<breachId>` and `<base>/review/breaches/<breachId>`.
 */
export function toAlertJob(kpi: KpiDefinition, t: IdentifiedTransition, baseUrl: string): AlertJob {
  const base = baseUrl.replace(/\/+$/, '')
  const unit = kpi.unit === 'ratio' || kpi.unit === 'score' || kpi.unit === 'difference' ? '' : ` ${kpi.unit}`
  const interval =
    t.ci_low !== undefined && t.ci_low !== null && t.ci_high !== undefined && t.ci_high !== null
      ? ` [CI ${formatNumber(t.ci_low)}–${formatNumber(t.ci_high)}${t.n !== undefined && t.n !== null ? `, n=${t.n}` : ''}]`
      : t.n !== undefined && t.n !== null
        ? ` [n=${t.n}]`
        : ''
  const value = `${formatNumber(t.value)}${t.value === null ? '' : `${unit}${interval}`}`
  const limit =
    t.threshold === null
      ? ''
      : kpi.fairness?.form === 'ratio'
        ? ` (tolerance ${formatNumber(t.threshold)}–${formatNumber(1 / t.threshold)})`
        : kpi.fairness
          ? ` (tolerance |difference| ≤ ${formatNumber(t.threshold)})`
          : ` (threshold ${OP_TEXT[kpi.thresholds.op]} ${formatNumber(t.threshold)})`
  const where = formatScope(t.scope)
  let summary: string
  switch (t.kind) {
    case 'firing':
      summary = `[${t.severity.toUpperCase()}] ${kpi.title}: ${value}${limit}, ${where}`
      break
    case 'escalated':
      summary = `[CRITICAL] ${kpi.title} escalated from warning: ${value}${limit}, ${where}`
      break
    case 'resolved':
      summary = `[RESOLVED] ${kpi.title}: ${t.value === null ? 'scope gone' : `back to ${value}`}, ${where}`
      break
  }
  if (t.stale) {
    const since = t.stale.lastInputAt ? t.stale.lastInputAt.toISOString() : 'never'
    summary =
      t.kind === 'resolved'
        ? `[RESOLVED] ${kpi.title}: inputs arriving again (stale since ${t.startedAt.toISOString()}), ${where}`
        : `[${t.severity.toUpperCase()}] ${kpi.title}: stale, no input since ${since} (expected within ${t.stale.after}), ${where}`
  }
  const iso = [
    kpi.iso.iso27001.length > 0 ? `ISO/IEC 27001: ${kpi.iso.iso27001.join(', ')}` : '',
    kpi.iso.iso42001.length > 0 ? `ISO/IEC 42001: ${kpi.iso.iso42001.join(', ')}` : '',
  ].filter((s) => s !== '')
  const job: AlertJob = {
    transitionId: t.transitionId,
    breachId: t.breachId,
    fingerprint: t.fingerprint,
    kind: t.kind,
    severity: t.severity,
    ...(t.previousSeverity ? { previousSeverity: t.previousSeverity } : {}),
    kpi: { id: kpi.id, title: kpi.title, unit: kpi.unit, direction: kpi.direction, area: kpi.area },
    scope: { ...t.scope },
    value: t.value,
    threshold: t.threshold,
    ...(t.n !== undefined || t.ci_low !== undefined
      ? { uncertainty: { n: t.n ?? null, ciLow: t.ci_low ?? null, ciHigh: t.ci_high ?? null } }
      : {}),
    iso: { iso27001: [...kpi.iso.iso27001], iso42001: [...kpi.iso.iso42001] },
    startsAt: t.startedAt.toISOString(),
    at: t.at.toISOString(),
    ...(t.stale
      ? { stale: { lastInputAt: t.stale.lastInputAt?.toISOString() ?? null, expectedWithin: t.stale.after } }
      : {}),
    summary,
    description: `${kpi.description}${iso.length > 0 ? ` Evidence for ${iso.join('; ')}.` : ''}`,
    links: {
      review: `${base}/review/breaches/${encodeURIComponent(t.breachId)}`,
      api: `${base}/api/breaches/${encodeURIComponent(t.breachId)}`,
    },
  }
  return alertJobSchema.parse(job)
}

// ----- restore after a restart ----------------------------------------------------------------------------

/**
 * The latest transition of every series whose latest transition is not a resolve: the open breaches.
 * Correct with duplicate rows (same transition_id). Optional `{kpi_ids:Array(String)}` (empty = all).
 */
export const OPEN_BREACHES_SQL = `SELECT fingerprint, kpi_id, scope, transition, severity, started_at, at, condition
FROM (
  SELECT
    fingerprint,
    argMax(kpi_id, k) AS kpi_id,
    argMax(scope, k) AS scope,
    argMax(transition, k) AS transition,
    argMax(severity, k) AS severity,
    argMax(started_at, k) AS started_at,
    argMax(condition, k) AS condition,
    max(k).1 AS at
  FROM (
    SELECT *, (at, multiIf(transition = 'resolved', 3, transition = 'escalated', 2, 1)) AS k
    FROM breach_transitions
    WHERE empty({kpi_ids:Array(String)}) OR has({kpi_ids:Array(String)}, kpi_id)
  )
  GROUP BY fingerprint
)
WHERE transition != 'resolved'`

/** A row as read back from ClickHouse (times as text). */
export interface StoredTransition {
  fingerprint: string
  kpi_id: string
  scope: Record<string, string>
  transition: string
  severity: string
  started_at: string
  at: string
  /** 'stale' for a stale alert (migration 0012); '' or absent for a value breach. */
  condition?: string
}

export interface RestoredBreach {
  kpiId: string
  scope: Record<string, string>
  state: BreachState
}

const RANK: Record<string, number> = { firing: 1, escalated: 2, resolved: 3 }

/** ClickHouse returns DateTime64 as ISO-8601 (pinned setting) or 'YYYY-MM-DD hh:mm:ss.sss' (UTC). */
export function parseClickHouseTime(text: string): Date {
  const iso = text.includes('T') ? text : `${text.replace(' ', 'T')}Z`
  const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`)
  if (Number.isNaN(d.getTime())) throw new Error(`not a ClickHouse time: ${text}`)
  return d
}

/**
 * The breach states to continue from, by fingerprint, from breach_transitions rows (the result of
 * OPEN_BREACHES_SQL, or any set of rows: the latest per fingerprint wins). Resolved series are left
 * out (state ok = no entry).
 */
export function restoreStates(rows: readonly StoredTransition[]): Map<string, RestoredBreach> {
  const latest = new Map<string, { row: StoredTransition; at: number; rank: number }>()
  for (const row of rows) {
    // A stale alert is not the value's breach (staleness is restored through the breach store).
    if (row.condition === 'stale') continue
    const at = parseClickHouseTime(row.at).getTime()
    const rank = RANK[row.transition] ?? 0
    const seen = latest.get(row.fingerprint)
    if (!seen || at > seen.at || (at === seen.at && rank > seen.rank))
      latest.set(row.fingerprint, { row, at, rank })
  }
  const out = new Map<string, RestoredBreach>()
  for (const [fp, { row }] of latest) {
    if (row.transition === 'resolved') continue
    const severity: Severity = row.severity === 'critical' ? 'critical' : 'warning'
    out.set(fp, {
      kpiId: row.kpi_id,
      scope: { ...row.scope },
      state: {
        status: 'firing',
        startedAt: parseClickHouseTime(row.started_at),
        severity,
        current: severity,
      },
    })
  }
  return out
}
