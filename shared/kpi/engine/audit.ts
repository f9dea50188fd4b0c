import { isoStandards } from '../../iso/index.js'
import { factVocabulary } from '../vocabulary.js'
import { DAY_MS, Deadlines, earliest, inWindow, windowEdge } from './deadlines.js'
import type { Sample } from './sample.js'

/**
 * The audit KPIs, kept incrementally like the privacy ones (see privacy.ts): each finding contributes by
 * its latest state and the time; the area holds the findings that contribute now or may without a new
 * event (open nonconformities, those closed in the last 90 days, repeats raised in the last 365 days, due
 * dates to come), the sums, and a deadline per finding.
 *
 * Series: per standard (every standard of the contracts) the overdue count, mean days to close and
 * on-time rate; per (standard, clause) the open major / minor NC counts and repeat findings, present while
 * non-zero — when one drops to zero it reports 0 once (so a breach resolves through a value) and leaves.
 */

export interface FindingFacts {
  findingId: string
  standard: string
  clause: string
  kind: string
  status: string
  raisedAt: number
  dueAt: number | null
  closedAt: number | null
  repeatOf: string | null
  /** When its latest event happened, never later than its arrival: the area's freshness, not a KPI input. */
  lastInputAt?: number | null
}

export const AUDIT_WINDOWS = { closed: 90 * DAY_MS, repeats: 365 * DAY_MS } as const
const OPEN = new Set<string>(factVocabulary.findingOpenStatuses)

interface Contribution {
  pair: string
  major: boolean
  minor: boolean
  repeat: boolean
  overdue: boolean
  /** closed − raised (ms) when closed in the last 90 days. */
  closedIn: bigint | null
  /** Counted in the on-time rate: closed in 90 d with a due date; and closed by it. */
  onTimeDen: boolean
  onTimeNum: boolean
}

const pairKey = (standard: string, clause: string) => `${standard}\u0000${clause}`

function contribution(f: FindingFacts, now: number): Contribution {
  const nc = f.kind === factVocabulary.majorNc || f.kind === factVocabulary.minorNc
  const open = OPEN.has(f.status)
  const closed90 = nc && !open && f.closedAt !== null && inWindow(f.closedAt, AUDIT_WINDOWS.closed, now)
  return {
    pair: pairKey(f.standard, f.clause),
    major: open && f.kind === factVocabulary.majorNc,
    minor: open && f.kind === factVocabulary.minorNc,
    repeat: f.repeatOf !== null && inWindow(f.raisedAt, AUDIT_WINDOWS.repeats, now),
    overdue: nc && open && f.dueAt !== null && f.dueAt < now,
    closedIn: closed90 ? BigInt(f.closedAt! - f.raisedAt) : null,
    onTimeDen: closed90 && f.dueAt !== null,
    onTimeNum: closed90 && f.dueAt !== null && f.closedAt! <= f.dueAt,
  }
}

const isNonZero = (c: Contribution) => c.major || c.minor || c.repeat || c.overdue || c.closedIn !== null

function nextChange(f: FindingFacts, now: number): number | undefined {
  const nc = f.kind === factVocabulary.majorNc || f.kind === factVocabulary.minorNc
  const open = OPEN.has(f.status)
  return earliest(
    f.repeatOf !== null ? windowEdge(f.raisedAt, AUDIT_WINDOWS.repeats, now) : undefined,
    // Overdue once now > due, i.e. from due + 1 ms.
    nc && open && f.dueAt !== null && now <= f.dueAt ? f.dueAt + 1 : undefined,
    nc && !open ? windowEdge(f.closedAt, AUDIT_WINDOWS.closed, now) : undefined,
  )
}

class PerStandard {
  overdue = 0
  closedSum = 0n
  closedN = 0
  onTimeDen = 0
  onTimeNum = 0
}

export class AuditArea {
  private readonly findings = new Map<string, { facts: FindingFacts; contribution: Contribution }>()
  private readonly deadlines = new Deadlines<string>()
  private readonly standards = new Map<string, PerStandard>(isoStandards.map((s) => [s, new PerStandard()]))
  /** Per (standard, clause): [open major, open minor, repeats]. */
  private readonly pairs = new Map<string, [number, number, number]>()
  /** Pair counts reported non-zero since they were last reported: owed a value (0 included). */
  private readonly touched = new Set<string>()
  private readonly reported = new Map<string, [number, number, number]>()

  get held(): number {
    return this.findings.size
  }

  upsert(states: readonly FindingFacts[], now: number): void {
    this.advanceTo(now)
    for (const f of states) this.place(f, now)
  }

  advanceTo(now: number): void {
    for (const id of this.deadlines.takeDue(now)) {
      const held = this.findings.get(id)
      if (held) this.place(held.facts, now)
    }
  }

  nextDeadline(): number | undefined {
    return this.deadlines.next()
  }

  /**
   * The series at `now` (after `advanceTo(now)`). `all`: every live series (a full evaluation); otherwise
   * the per-standard series plus the (standard, clause) series changed since the last call.
   */
  samples(now: number, all = false): Sample[] {
    const out: Sample[] = []
    for (const [standard, s] of this.standards) {
      const scope = { standard }
      out.push(
        { kpiId: 'audit.overdue_corrective_actions', scope, value: s.overdue, at: now },
        {
          kpiId: 'audit.mean_days_to_close',
          scope,
          value: s.closedN === 0 ? null : Number(s.closedSum) / s.closedN / DAY_MS,
          at: now,
        },
        {
          kpiId: 'audit.on_time_closure_rate',
          scope,
          value: s.onTimeDen === 0 ? null : s.onTimeNum / s.onTimeDen,
          at: now,
        },
      )
    }
    const keys = all ? new Set([...this.pairs.keys(), ...this.touched]) : this.touched
    const ids = ['audit.open_major_ncs', 'audit.open_minor_ncs', 'audit.repeat_findings'] as const
    for (const key of keys) {
      const [standard = '', clause = ''] = key.split('\u0000')
      const now3 = this.pairs.get(key) ?? [0, 0, 0]
      const before = this.reported.get(key) ?? [0, 0, 0]
      ids.forEach((kpiId, k) => {
        // A series exists while non-zero; the step to zero is reported once.
        if (now3[k]! > 0 || before[k]! > 0 || (all && now3[k]! > 0)) {
          out.push({ kpiId, scope: { standard, clause }, value: now3[k]!, at: now })
        }
      })
      if (now3.some((n) => n > 0)) this.reported.set(key, [...now3])
      else this.reported.delete(key)
    }
    this.touched.clear()
    return out
  }

  private place(f: FindingFacts, now: number): void {
    const held = this.findings.get(f.findingId)
    const c = contribution(f, now)
    // A pair whose counts this finding leaves as they were is not reported again.
    const samePair =
      held !== undefined &&
      held.contribution.pair === c.pair &&
      held.contribution.major === c.major &&
      held.contribution.minor === c.minor &&
      held.contribution.repeat === c.repeat
    if (held) this.apply(held.contribution, -1, !samePair)
    const next = nextChange(f, now)
    if (!isNonZero(c) && next === undefined) {
      this.findings.delete(f.findingId)
      this.deadlines.schedule(f.findingId, undefined)
      return
    }
    this.apply(c, 1, !samePair)
    this.findings.set(f.findingId, { facts: f, contribution: c })
    this.deadlines.schedule(f.findingId, next)
  }

  private apply(c: Contribution, sign: 1 | -1, touch: boolean): void {
    if (c.major || c.minor || c.repeat) {
      const counts = this.pairs.get(c.pair) ?? [0, 0, 0]
      if (c.major) counts[0] += sign
      if (c.minor) counts[1] += sign
      if (c.repeat) counts[2] += sign
      if (counts.every((n) => n === 0)) this.pairs.delete(c.pair)
      else this.pairs.set(c.pair, counts)
      if (touch) this.touched.add(c.pair)
    }
    const standard = c.pair.split('\u0000')[0]!
    let s = this.standards.get(standard)
    if (!s) {
      s = new PerStandard()
      this.standards.set(standard, s)
    }
    if (c.overdue) s.overdue += sign
    if (c.closedIn !== null) {
      s.closedSum += sign === 1 ? c.closedIn : -c.closedIn
      s.closedN += sign
    }
    if (c.onTimeDen) s.onTimeDen += sign
    if (c.onTimeNum) s.onTimeNum += sign
  }
}
