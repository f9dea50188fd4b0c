import type { KpiDefinition } from './catalog.js'
import { DAY_MS, HOUR_MS } from './engine/deadlines.js'
import { factVocabulary } from './vocabulary.js'

/**
 * Regulatory notification clocks as data (issue 13 item 6). A regime is a law's reporting duty for an
 * incident: a list of steps, each with the timestamp its clock starts from (its anchor), how long it
 * allows, and the report that stops it. Adding a regime is adding an entry here; the engine
 * (engine/regime-clocks.ts), the KPIs, the read API and the page all read this list.
 *
 * Anchors:
 * - `detected`: the incident's detectedAt (DORA's 24 h cap);
 * - `awareness`: awarenessAt, else detectedAt (a v1 producer that sends no awareness time means
 *   "aware when detected"): GDPR Art. 33's 72 hours, NIS2, HIPAA;
 * - `classified`: classifiedAt (DORA: the incident classified as major); no clock before it, except
 *   that a `cap` from another anchor still bounds the step;
 * - `{ afterStep }`: the time the report of an earlier step of the same regime was sent (NIS2's final
 *   report is due one month after the notification, not after awareness).
 * Allowed time: hours, days (exact 24 h days) or calendar months in UTC, clamped to the last day of a
 * shorter month (Jan 31 + 1 month = Feb 28, or Feb 29 in a leap year); or `undue_delay`: the law sets
 * no fixed time ("without undue delay"), so the step is shown with its elapsed time and is never late.
 */

export const REGIME_IDS = ['gdpr_art33', 'gdpr_art34', 'nis2', 'dora', 'hipaa'] as const
export type RegimeId = (typeof REGIME_IDS)[number]

export type Anchor = 'detected' | 'awareness' | 'classified' | { afterStep: string }

export type Allowed = { hours: number } | { days: number } | { months: number } | { undueDelay: true }

export interface RegimeStep {
  /** snake_case, unique in the regime; part of the KPI id. */
  id: string
  title: string
  anchor: Anchor
  allowed: Allowed
  /** A second bound from another anchor; the step is due at the earlier of the two (DORA's 24 h). */
  cap?: { anchor: 'detected' | 'awareness'; hours: number }
}

export interface Regime {
  id: RegimeId
  title: string
  /** The legal text, for the page and the KPI descriptions. */
  reference: string
  steps: readonly RegimeStep[]
}

export const REGIMES: readonly Regime[] = [
  {
    id: 'gdpr_art33',
    title: 'GDPR Art. 33: notification to the supervisory authority',
    reference: 'Regulation (EU) 2016/679, Art. 33(1)',
    // The 72-hour clock (privacy.notification_clock_hours): applies to incidents marked notifiable,
    // runs from awareness (engine/privacy.ts clockStart), stopped by regulatorNotifiedAt.
    steps: [
      {
        id: 'notification',
        title: 'Notification',
        anchor: 'awareness',
        allowed: { hours: factVocabulary.notificationDeadlineHours },
      },
    ],
  },
  {
    id: 'gdpr_art34',
    title: 'GDPR Art. 34: communication to the data subjects',
    reference: 'Regulation (EU) 2016/679, Art. 34(1)',
    steps: [
      {
        id: 'communication',
        title: 'Communication to data subjects',
        anchor: 'awareness',
        allowed: { undueDelay: true },
      },
    ],
  },
  {
    id: 'nis2',
    title: 'NIS2 Art. 23: significant incident reporting',
    reference: 'Directive (EU) 2022/2555, Art. 23(4)',
    steps: [
      { id: 'early_warning', title: 'Early warning', anchor: 'awareness', allowed: { hours: 24 } },
      { id: 'notification', title: 'Incident notification', anchor: 'awareness', allowed: { hours: 72 } },
      {
        id: 'final_report',
        title: 'Final report',
        anchor: { afterStep: 'notification' },
        allowed: { months: 1 },
      },
    ],
  },
  {
    id: 'dora',
    title: 'DORA Art. 19: major ICT-related incident reporting',
    reference: 'Regulation (EU) 2022/2554, Art. 19(4); RTS on reporting timelines, Art. 5',
    steps: [
      {
        id: 'initial',
        title: 'Initial notification',
        anchor: 'classified',
        allowed: { hours: 4 },
        cap: { anchor: 'detected', hours: 24 },
      },
      {
        id: 'intermediate',
        title: 'Intermediate report',
        anchor: { afterStep: 'initial' },
        allowed: { hours: 72 },
      },
      {
        id: 'final_report',
        title: 'Final report',
        anchor: { afterStep: 'intermediate' },
        allowed: { months: 1 },
      },
    ],
  },
  {
    id: 'hipaa',
    title: 'HIPAA breach notification',
    reference: '45 CFR 164.404(b)',
    steps: [
      {
        id: 'notification',
        title: 'Notification of individuals',
        anchor: 'awareness',
        allowed: { days: 60 },
      },
    ],
  },
]

const regimeById = new Map(REGIMES.map((r) => [r.id, r]))

export function getRegime(id: RegimeId): Regime {
  return regimeById.get(id)!
}

/** `nis2/early_warning`, the names reports and config use for a step. */
export const stepNames: readonly string[] = REGIMES.flatMap((r) => r.steps.map((s) => `${r.id}/${s.id}`))

// ----- arithmetic ------------------------------------------------------------------------------------

/**
 * `t` plus `months` calendar months in UTC, the day clamped to the target month's last day: Jan 31 + 1
 * month is Feb 28 (Feb 29 in a leap year), Mar 31 + 1 month is Apr 30; the time of day is kept.
 */
export function addCalendarMonths(t: number, months: number): number {
  const d = new Date(t)
  const y = d.getUTCFullYear()
  const m = d.getUTCMonth() + months
  const lastDay = new Date(Date.UTC(y, m + 1, 0)).getUTCDate()
  const day = Math.min(d.getUTCDate(), lastDay)
  return Date.UTC(y, m, day, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds())
}

/** When a step anchored at `anchor` is due, or null when the law sets no fixed time. */
export function addAllowed(anchor: number, allowed: Allowed): number | null {
  if ('hours' in allowed) return anchor + allowed.hours * HOUR_MS
  if ('days' in allowed) return anchor + allowed.days * DAY_MS
  if ('months' in allowed) return addCalendarMonths(anchor, allowed.months)
  return null
}

// ----- one incident's clocks ------------------------------------------------------------------------

/** What the clocks of one incident need (times in ms since the epoch). */
export interface RegimeIncidentFacts {
  incidentId: string
  detectedAt: number
  awarenessAt: number | null
  classifiedAt: number | null
  notifiable: boolean
  /** regulatorNotifiedAt: the GDPR Art. 33 report. */
  notifiedAt: number | null
  businessUnit: string
  category: string
  severity: string
  /** The regimes the event names ([] = not given: the config rules decide). */
  regimes: readonly string[]
  jurisdictions: readonly string[]
  /** Each report's earliest sending time, by `regime/step`. */
  reports: ReadonlyMap<string, number>
}

export type StepState = 'waiting' | 'running' | 'overdue' | 'sent' | 'sent_late' | 'no_deadline'

export interface StepClock {
  regime: RegimeId
  step: string
  /** When the clock started (null: its anchor has not happened yet). */
  startedAt: number | null
  /** When the report is due (null: no anchor yet, or "without undue delay"). */
  dueAt: number | null
  sentAt: number | null
  /** The state at `now`: a report sent stops the clock; "without undue delay" is never overdue. */
  state: StepState
  /** Share of the allowed time used at `now` (null without a deadline or once sent). */
  ratio: number | null
}

function anchorTime(f: RegimeIncidentFacts, anchor: 'detected' | 'awareness' | 'classified'): number | null {
  if (anchor === 'detected') return f.detectedAt
  if (anchor === 'awareness') return f.awarenessAt ?? f.detectedAt
  return f.classifiedAt
}

/** The sending time of a step's report (GDPR Art. 33 also from the v1 regulatorNotifiedAt). */
export function reportSentAt(f: RegimeIncidentFacts, regime: RegimeId, step: string): number | null {
  const reported = f.reports.get(`${regime}/${step}`) ?? null
  if (regime === 'gdpr_art33' && f.notifiedAt !== null) {
    return reported === null ? f.notifiedAt : Math.min(reported, f.notifiedAt)
  }
  return reported
}

/** Start and due time of a step, from the facts (no `now`: both move only with events). */
export function stepWindow(
  f: RegimeIncidentFacts,
  regime: Regime,
  step: RegimeStep,
): { startedAt: number | null; dueAt: number | null } {
  const a = step.anchor
  const anchored = typeof a === 'string' ? anchorTime(f, a) : reportSentAt(f, regime.id, a.afterStep)
  const due = anchored === null ? null : addAllowed(anchored, step.allowed)
  if (!step.cap) return { startedAt: anchored, dueAt: due }
  // The cap bounds the step from its own anchor: the clock runs from the earlier start to the earlier due.
  const capStart = anchorTime(f, step.cap.anchor)!
  const capDue = capStart + step.cap.hours * HOUR_MS
  return {
    startedAt: anchored === null ? capStart : Math.min(anchored, capStart),
    dueAt: due === null ? capDue : Math.min(due, capDue),
  }
}

/** Every step of a regime at `now`. */
export function regimeClocks(f: RegimeIncidentFacts, regime: Regime, now: number): StepClock[] {
  return regime.steps.map((step) => {
    const { startedAt, dueAt } = stepWindow(f, regime, step)
    const sentAt = reportSentAt(f, regime.id, step.id)
    const base = { regime: regime.id, step: step.id, startedAt, dueAt, sentAt }
    if (sentAt !== null) {
      return { ...base, state: dueAt !== null && sentAt > dueAt ? 'sent_late' : 'sent', ratio: null }
    }
    if (startedAt === null) return { ...base, state: 'waiting', ratio: null }
    if (dueAt === null) return { ...base, state: 'no_deadline', ratio: null }
    return { ...base, state: now >= dueAt ? 'overdue' : 'running', ratio: clockRatio(startedAt, dueAt, now) }
  })
}

/** Share of the allowed time used: 0 at the start, 1 at the due time. */
export function clockRatio(startedAt: number, dueAt: number, at: number): number {
  const allowed = dueAt - startedAt
  if (allowed <= 0) return at >= dueAt ? 1 : 0
  return Math.max(0, (at - startedAt) / allowed)
}

/**
 * The first millisecond at which the ratio reaches `threshold`: the time a mark fires, found so the
 * floating-point ratio computed at that millisecond is on the breach side, and the one before is not.
 */
export function markTime(startedAt: number, dueAt: number, threshold: number): number {
  if (threshold <= 0) return startedAt
  const allowed = dueAt - startedAt
  if (allowed <= 0) return dueAt
  let t = startedAt + Math.ceil(threshold * allowed)
  while (clockRatio(startedAt, dueAt, t) < threshold) t++
  while (t > startedAt && clockRatio(startedAt, dueAt, t - 1) >= threshold) t--
  return t
}

// ----- KPIs ------------------------------------------------------------------------------------------

/** Incident management, legal and contractual requirements (A.5.31), PII (A.5.34); AI incidents (A.8.4). */
const REGIME_ISO = {
  iso27001: ['9.1', 'A.5.24', 'A.5.26', 'A.5.31', 'A.5.34'],
  iso42001: ['9.1', 'A.8.4'],
}

/** The v1 72-hour clock is the GDPR Art. 33 step's KPI. */
export const GDPR_ART33_CLOCK_KPI = 'privacy.notification_clock_hours'

export const regimeKpiId = (regime: RegimeId, step: string) => `privacy.${regime}_${step}_clock_ratio`

/** The KPI of each step with a fixed deadline (GDPR Art. 33 keeps the v1 clock's KPI). */
export interface RegimeStepKpi {
  kpiId: string
  regime: Regime
  step: RegimeStep
}

export const REGIME_STEP_KPIS: readonly RegimeStepKpi[] = REGIMES.flatMap((regime) =>
  regime.id === 'gdpr_art33'
    ? []
    : regime.steps
        .filter((step) => !('undueDelay' in step.allowed))
        .map((step) => ({ kpiId: regimeKpiId(regime.id, step.id), regime, step })),
)

function allowedText(step: RegimeStep): string {
  const a = step.allowed
  const from =
    typeof step.anchor === 'string'
      ? { detected: 'detection', awareness: 'awareness', classified: 'classification' }[step.anchor]
      : `the ${step.anchor.afterStep.replace(/_/g, ' ')} was sent`
  const span =
    'hours' in a
      ? `${a.hours} h`
      : 'days' in a
        ? `${a.days} days`
        : 'months' in a
          ? `${a.months} calendar month${a.months === 1 ? '' : 's'}`
          : 'without undue delay'
  const cap = step.cap
    ? ` and at most ${step.cap.hours} h after ${step.cap.anchor === 'detected' ? 'detection' : 'awareness'}`
    : ''
  return `${span} after ${from}${cap}`
}

/** One catalog entry per regime step with a deadline (the catalog spreads these in). */
export function regimeKpiDefinitions(): KpiDefinition[] {
  return REGIME_STEP_KPIS.map(({ kpiId, regime, step }) => ({
    id: kpiId,
    title: `${regime.title.split(':')[0]}: ${step.title.toLowerCase()} clock`,
    description: `Per incident under ${regime.title} (${regime.reference}): the share of the time allowed for the ${step.title.toLowerCase()} (${allowedText(step)}) used while the report is outstanding: 1 = due (critical), warning at 0.75; sampled exactly at each mark. Reads 0 once the report is sent or the regime no longer applies, then the series ends.`,
    unit: 'ratio',
    direction: 'lower_is_better',
    area: 'privacy',
    scope: ['incident_id'],
    window: 'latest',
    timeDriven: true,
    thresholds: { op: 'gte', warning: 0.75, critical: 1, for: '0s', overrides: [] },
    iso: REGIME_ISO,
  }))
}
