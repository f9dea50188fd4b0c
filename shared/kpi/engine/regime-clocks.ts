import {
  clockRatio,
  markTime,
  REGIME_STEP_KPIS,
  type RegimeId,
  type RegimeIncidentFacts,
  type RegimeStepKpi,
  reportSentAt,
  stepWindow,
} from '../regimes.js'
import { Deadlines } from './deadlines.js'
import type { Sample } from './sample.js'

/**
 * The regime clock KPIs (shared/kpi/regimes.ts), kept like the 72-hour clock in engine/privacy.ts: per
 * incident, the steps whose clock runs (the regime applies, the anchor has happened, the report is not
 * sent), a deadline at the next mark of any of them (each threshold in force, as a share of the time
 * allowed), and one sample per mark at the mark's own time. A clock that stops (its report arrives, the
 * regime no longer applies) reads 0 once, so an open breach resolves through a value, then its series
 * ends. Starts, due times and reports move only with events; time alone only crosses marks.
 */

export interface RegimeClockOptions {
  /** The regimes that apply to an incident (its event's list, else the config rules). */
  applicable(f: RegimeIncidentFacts): ReadonlySet<RegimeId>
  /** The thresholds in force for a series (shares of the allowed time), where marks fire. */
  marks(kpiId: string, incidentId: string): readonly number[]
}

interface Running {
  kpiId: string
  startedAt: number
  dueAt: number
}

/** The steps whose clock runs for this incident now, with their window. */
export function runningSteps(f: RegimeIncidentFacts, applicable: ReadonlySet<RegimeId>): Running[] {
  const out: Running[] = []
  for (const { kpiId, regime, step } of REGIME_STEP_KPIS as readonly RegimeStepKpi[]) {
    if (!applicable.has(regime.id)) continue
    if (reportSentAt(f, regime.id, step.id) !== null) continue
    const { startedAt, dueAt } = stepWindow(f, regime, step)
    if (startedAt === null || dueAt === null) continue
    out.push({ kpiId, startedAt, dueAt })
  }
  return out
}

export class RegimeClockArea {
  private readonly incidents = new Map<
    string,
    { facts: RegimeIncidentFacts; running: Running[]; placedAt: number }
  >()
  private readonly deadlines = new Deadlines<string>()
  /** Series owed a value, by incident: running, or stopped and owed their final 0. */
  private readonly live = new Map<string, Set<string>>()

  constructor(private readonly opts: RegimeClockOptions) {}

  /** Incidents with a running clock. */
  get held(): number {
    return this.incidents.size
  }

  /** Series restored from storage (an open breach): they get a value, 0 if their clock has stopped. */
  watch(series: readonly { kpiId: string; incidentId: string }[]): void {
    for (const s of series) {
      const kpis = this.live.get(s.incidentId) ?? new Set<string>()
      kpis.add(s.kpiId)
      this.live.set(s.incidentId, kpis)
    }
  }

  /**
   * Applies the latest state of some incidents at `now`. Returns the marks crossed before `now` (at their
   * own times), then every running clock of these incidents at `now` and a 0 for each that stopped.
   */
  upsert(states: readonly RegimeIncidentFacts[], now: number): Sample[] {
    const out = this.advanceTo(now)
    for (const f of states) {
      const running = this.place(f, now)
      const runningIds = new Set(running.map((r) => r.kpiId))
      for (const kpiId of this.live.get(f.incidentId) ?? []) {
        if (!runningIds.has(kpiId)) out.push(this.sample(kpiId, f.incidentId, 0, now))
      }
      if (runningIds.size > 0) this.live.set(f.incidentId, runningIds)
      else this.live.delete(f.incidentId)
      for (const r of running) {
        out.push(this.sample(r.kpiId, f.incidentId, clockRatio(r.startedAt, r.dueAt, now), now))
      }
    }
    return out
  }

  /** Moves time on to `now`: the samples of every mark crossed, each at its own time, in time order. */
  advanceTo(now: number): Sample[] {
    const out: Sample[] = []
    for (const id of this.deadlines.takeDue(now)) {
      const held = this.incidents.get(id)
      if (!held) continue
      for (const r of held.running) {
        for (const th of this.opts.marks(r.kpiId, id)) {
          const at = markTime(r.startedAt, r.dueAt, th)
          if (at > held.placedAt && at <= now) {
            out.push(this.sample(r.kpiId, id, clockRatio(r.startedAt, r.dueAt, at), at))
          }
        }
      }
      held.placedAt = now
      this.deadlines.schedule(id, this.nextMark(id, held.running, now))
    }
    out.sort((a, b) => a.at - b.at)
    return out
  }

  nextDeadline(): number | undefined {
    return this.deadlines.next()
  }

  private place(f: RegimeIncidentFacts, now: number): Running[] {
    const running = runningSteps(f, this.opts.applicable(f))
    if (running.length === 0) {
      this.incidents.delete(f.incidentId)
      this.deadlines.schedule(f.incidentId, undefined)
      return running
    }
    this.incidents.set(f.incidentId, { facts: f, running, placedAt: now })
    this.deadlines.schedule(f.incidentId, this.nextMark(f.incidentId, running, now))
    return running
  }

  private nextMark(incidentId: string, running: readonly Running[], now: number): number | undefined {
    let next: number | undefined
    for (const r of running) {
      for (const th of this.opts.marks(r.kpiId, incidentId)) {
        const at = markTime(r.startedAt, r.dueAt, th)
        if (at > now && (next === undefined || at < next)) next = at
      }
    }
    return next
  }

  private sample(kpiId: string, incidentId: string, value: number, at: number): Sample {
    return { kpiId, scope: { incident_id: incidentId }, value, at }
  }
}
