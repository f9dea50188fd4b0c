import { factVocabulary } from '../vocabulary.js'
import { DAY_MS, Deadlines, earliest, HOUR_MS, inWindow, windowEdge } from './deadlines.js'
import type { Sample } from './sample.js'

/**
 * The privacy KPIs, kept incrementally: each incident contributes to the windowed aggregates according to
 * its latest state and the time; the area holds the incidents whose contribution is non-zero now or may
 * become so without a new event, the sums of their contributions, and a deadline per incident for the
 * next time its contribution changes by time alone (a window edge, the 72-hour mark, a clock mark).
 * An event costs O(log n) for the incident it changes; an idle tick costs nothing; the aggregates never
 * re-read history. Sums are exact integers (BigInt milliseconds), so the values equal the reference SQL's
 * (shared/kpi/sql.ts) bit for bit, which tests/integration/kpi/equivalence.test.ts checks.
 *
 * Invariant: an incident not held here contributes nothing at any later time until an event changes it.
 */

/** The latest state of an incident, as the KPIs need it (times in ms since the epoch). */
export interface IncidentFacts {
  incidentId: string
  severity: string
  notifiable: boolean
  detectedAt: number
  occurredAt: number | null
  containedAt: number | null
  resolvedAt: number | null
  notifiedAt: number | null
  /** When the controller became aware (null: not given, aware when detected). */
  awarenessAt: number | null
  recordsAffected: bigint
  /** When its latest event happened, never later than its arrival: the area's freshness, not a KPI input. */
  lastInputAt?: number | null
}

/** Where the 72 hours of GDPR Art. 33 run from: awareness, else detection (v1 events give no awareness). */
export const clockStart = (i: IncidentFacts): number => i.awarenessAt ?? i.detectedAt

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const

export const PRIVACY_WINDOWS = { opened: 30 * DAY_MS, durations: 90 * DAY_MS } as const
const DEADLINE = factVocabulary.notificationDeadlineHours * HOUR_MS

interface Contribution {
  /** The severity counted in incidents opened (30 d), or null. */
  opened: string | null
  records: bigint
  mttd: bigint | null
  mttc: bigint | null
  mttr: bigint | null
  /** Counted in the 72-hour ratio's denominator / numerator. */
  decided: boolean
  onTime: boolean
}

function contribution(i: IncidentFacts, now: number): Contribution {
  const opened = inWindow(i.detectedAt, PRIVACY_WINDOWS.opened, now)
  const d90 = inWindow(i.detectedAt, PRIVACY_WINDOWS.durations, now)
  const decided = i.notifiable && d90 && (i.notifiedAt !== null || now - clockStart(i) >= DEADLINE)
  return {
    opened: opened ? i.severity : null,
    records: opened ? i.recordsAffected : 0n,
    mttd: d90 && i.occurredAt !== null ? BigInt(i.detectedAt - i.occurredAt) : null,
    mttc:
      i.containedAt !== null && inWindow(i.containedAt, PRIVACY_WINDOWS.durations, now)
        ? BigInt(i.containedAt - i.detectedAt)
        : null,
    mttr:
      i.resolvedAt !== null && inWindow(i.resolvedAt, PRIVACY_WINDOWS.durations, now)
        ? BigInt(i.resolvedAt - i.detectedAt)
        : null,
    decided,
    onTime: decided && i.notifiedAt !== null && i.notifiedAt - clockStart(i) <= DEADLINE,
  }
}

/** When the incident's contribution next changes by time alone. */
function nextChange(i: IncidentFacts, now: number): number | undefined {
  return earliest(
    windowEdge(i.detectedAt, PRIVACY_WINDOWS.opened, now),
    windowEdge(i.detectedAt, PRIVACY_WINDOWS.durations, now),
    windowEdge(i.containedAt, PRIVACY_WINDOWS.durations, now),
    windowEdge(i.resolvedAt, PRIVACY_WINDOWS.durations, now),
    i.notifiable && i.notifiedAt === null && now < clockStart(i) + DEADLINE
      ? clockStart(i) + DEADLINE
      : undefined,
  )
}

function isNonZero(c: Contribution): boolean {
  return c.opened !== null || c.mttd !== null || c.mttc !== null || c.mttr !== null || c.decided
}

/** A notifiable incident not yet notified: its clock runs. */
export function clockRunning(i: IncidentFacts): boolean {
  return i.notifiable && i.notifiedAt === null
}

export const CLOCK_KPI = 'privacy.notification_clock_hours'

class Sums {
  opened = new Map<string, number>(SEVERITIES.map((s) => [s, 0]))
  records = 0n
  mttd = { sum: 0n, n: 0 }
  mttc = { sum: 0n, n: 0 }
  mttr = { sum: 0n, n: 0 }
  decided = 0
  onTime = 0

  apply(c: Contribution, sign: 1 | -1): void {
    if (c.opened !== null) this.opened.set(c.opened, (this.opened.get(c.opened) ?? 0) + sign)
    this.records += sign === 1 ? c.records : -c.records
    for (const key of ['mttd', 'mttc', 'mttr'] as const) {
      const d = c[key]
      if (d === null) continue
      this[key].sum += sign === 1 ? d : -d
      this[key].n += sign
    }
    if (c.decided) this.decided += sign
    if (c.onTime) this.onTime += sign
  }
}

const meanHours = (m: { sum: bigint; n: number }) => (m.n === 0 ? null : Number(m.sum) / m.n / HOUR_MS)

export interface PrivacyAreaOptions {
  /**
   * Offsets from the clock's start (`clockStart`, ms) at which an incident's clock changes status (its
   * thresholds in force): the clock is sampled exactly at each, so a mark fires on time whatever the evaluation rhythm.
   */
  clockMarks(incidentId: string): readonly number[]
}

export class PrivacyArea {
  private readonly incidents = new Map<
    string,
    { facts: IncidentFacts; contribution: Contribution; placedAt: number }
  >()
  private readonly sums = new Sums()
  private readonly deadlines = new Deadlines<string>()
  /** Incidents whose clock series is live: running, or stopped and owed its final 0. */
  private readonly clocks = new Map<string, IncidentFacts>()

  constructor(private readonly opts: PrivacyAreaOptions) {}

  get held(): number {
    return this.incidents.size
  }

  /**
   * Applies the latest state of some incidents at `now` (an event, or the initial load). Returns the
   * clock samples these incidents owe: the running clocks' hours, and 0 once for a clock that stopped.
   */
  upsert(states: readonly IncidentFacts[], now: number): Sample[] {
    // Time first: marks that came before `now` are sampled at their own time, before the new state.
    const out = this.advanceTo(now)
    for (const i of states) {
      this.place(i, now)
      if (clockRunning(i)) {
        this.clocks.set(i.incidentId, i)
        out.push(this.clockSample(i, now))
      } else if (this.clocks.delete(i.incidentId)) {
        out.push({ kpiId: CLOCK_KPI, scope: { incident_id: i.incidentId }, value: 0, at: now })
      }
    }
    return out
  }

  /**
   * Makes sure these incidents' clock series get their value at the next full evaluation, even if the
   * clock has stopped (an open breach restored from storage must receive its resolving 0).
   */
  watchClocks(states: readonly IncidentFacts[]): void {
    for (const i of states) this.clocks.set(i.incidentId, i)
  }

  /**
   * Moves time on to `now`: every incident whose deadline has come is re-placed. Returns the clock samples
   * of the marks crossed, each at the mark's own time (so a breach fires at 48 h exactly, however late the
   * tick), in time order.
   */
  advanceTo(now: number): Sample[] {
    const marks: Sample[] = []
    for (const id of this.deadlines.takeDue(now)) {
      const held = this.incidents.get(id)
      if (!held) continue
      const i = held.facts
      this.place(i, now)
      if (clockRunning(i) && this.clocks.has(id)) {
        for (const mark of this.opts.clockMarks(id)) {
          const at = clockStart(i) + mark
          if (at > held.placedAt && at <= now) marks.push(this.clockSample(i, at))
        }
      }
    }
    marks.sort((a, b) => a.at - b.at)
    return marks
  }

  nextDeadline(): number | undefined {
    return this.deadlines.next()
  }

  /** The aggregate series at `now` (call after `advanceTo(now)`). */
  aggregates(now: number): Sample[] {
    const s = this.sums
    const sample = (kpiId: string, value: number | null, scope: Record<string, string> = {}): Sample => ({
      kpiId,
      scope,
      value,
      at: now,
    })
    return [
      ...SEVERITIES.map((sev) =>
        sample('privacy.incidents_opened', s.opened.get(sev) ?? 0, { severity: sev }),
      ),
      sample('privacy.records_affected', Number(s.records)),
      sample('privacy.mttd_hours', meanHours(s.mttd)),
      sample('privacy.mttc_hours', meanHours(s.mttc)),
      sample('privacy.mttr_hours', meanHours(s.mttr)),
      sample('privacy.notified_within_72h_ratio', s.decided === 0 ? null : s.onTime / s.decided),
    ]
  }

  /** Every live clock at `now`; stopped ones give their final 0 and leave. */
  clockSamples(now: number): Sample[] {
    const out: Sample[] = []
    for (const [id, i] of this.clocks) {
      if (clockRunning(i)) out.push(this.clockSample(i, now))
      else {
        out.push({ kpiId: CLOCK_KPI, scope: { incident_id: id }, value: 0, at: now })
        this.clocks.delete(id)
      }
    }
    return out
  }

  private clockSample(i: IncidentFacts, at: number): Sample {
    return {
      kpiId: CLOCK_KPI,
      scope: { incident_id: i.incidentId },
      value: Math.max(0, (at - clockStart(i)) / HOUR_MS),
      at,
    }
  }

  /** Re-derives one incident's contribution at `now` and its next deadline. */
  private place(i: IncidentFacts, now: number): void {
    const held = this.incidents.get(i.incidentId)
    if (held) this.sums.apply(held.contribution, -1)
    const c = contribution(i, now)
    const nonZero = isNonZero(c)
    let next = nextChange(i, now)
    if (clockRunning(i)) next = earliest(next, this.nextMark(i, now))
    if (!nonZero && next === undefined) {
      this.incidents.delete(i.incidentId)
      this.deadlines.schedule(i.incidentId, undefined)
      return
    }
    this.sums.apply(c, 1)
    this.incidents.set(i.incidentId, { facts: i, contribution: c, placedAt: now })
    this.deadlines.schedule(i.incidentId, next)
  }

  private nextMark(i: IncidentFacts, now: number): number | undefined {
    let next: number | undefined
    for (const mark of this.opts.clockMarks(i.incidentId)) {
      const at = clockStart(i) + mark
      if (at > now && (next === undefined || at < next)) next = at
    }
    return next
  }
}
