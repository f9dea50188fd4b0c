import { describe, expect, it } from 'vitest'
import {
  createLiveGenerator,
  type DemoEvent,
  describeScenario,
  generateHistory,
} from '../../../services/demo/generator.js'
import {
  type AimsEvent,
  type AuditFindingData,
  type FairnessAttribute,
  type ModelMetricsData,
  type PrivacyIncidentData,
  parseEvent,
} from '../../../shared/events/index.js'

const HOUR = 3_600_000
const DAY = 24 * HOUR
const now = new Date('2025-06-15T10:30:12.345Z')
const scenario = describeScenario()

/** Every event goes through the real contract, as the collector will see it (JSON round trip). */
function parseAll(events: DemoEvent[]): AimsEvent[] {
  return events.map((e) => {
    const r = parseEvent(JSON.parse(JSON.stringify(e)))
    if (!r.ok) throw new Error(`${e.type} ${e.subject}: ${r.errorType}: ${r.reason}`)
    return r.event
  })
}

function latestBy<T>(events: AimsEvent[], type: string, key: (d: T) => string): Map<string, T> {
  const out = new Map<string, T>()
  for (const e of events) if (e.type === type) out.set(key(e.data as T), e.data as T)
  return out
}

const incidentsOf = (events: AimsEvent[]) =>
  latestBy<PrivacyIncidentData>(events, 'aims.privacy_incident.v1', (d) => d.incidentId)
const findingsOf = (events: AimsEvent[]) =>
  latestBy<AuditFindingData>(events, 'aims.audit_finding.v1', (d) => d.findingId)
const evaluationsOf = (events: AimsEvent[], modelId: string, environment = 'production') =>
  events
    .filter((e) => e.type === 'aims.model_metrics.v1')
    .map((e) => e.data as ModelMetricsData)
    .filter((d) => d.modelId === modelId && d.environment === environment)

/** Per group: selection rate, TPR, FPR, accuracy, straight from the confusion counts. */
function rates(attr: FairnessAttribute) {
  return attr.groups.map((g) => {
    const n = g.tp + g.fp + g.tn + g.fn
    return {
      group: g.group,
      selection: (g.tp + g.fp) / n,
      tpr: g.tp / (g.tp + g.fn),
      fpr: g.fp / (g.fp + g.tn),
      accuracy: (g.tp + g.tn) / n,
    }
  })
}

function fairness(attr: FairnessAttribute) {
  const r = rates(attr)
  const sel = r.map((x) => x.selection)
  const spread = (xs: number[]) => Math.max(...xs) - Math.min(...xs)
  return {
    disparateImpact: Math.min(...sel) / Math.max(...sel),
    parityDifference: spread(sel),
    equalizedOdds: Math.max(spread(r.map((x) => x.tpr)), spread(r.map((x) => x.fpr))),
    accuracyGap: spread(r.map((x) => x.accuracy)),
  }
}

const attribute = (d: ModelMetricsData, name: string) => {
  const a = d.fairness.find((f) => f.attribute === name)
  if (!a) throw new Error(`${d.modelId} ${d.modelVersion}: no attribute ${name}`)
  return a
}
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length

describe('generateHistory: determinism and validity', () => {
  const events = generateHistory({ seed: 42, now, months: 4 })

  it('is deterministic in (seed, now): same inputs, identical events and ids', () => {
    expect(generateHistory({ seed: 42, now, months: 4 })).toEqual(events)
    const otherSeed = generateHistory({ seed: 43, now, months: 4 })
    const ids = new Set(events.map((e) => e.id))
    expect(otherSeed.some((e) => ids.has(e.id))).toBe(false)
    const otherNow = generateHistory({ seed: 42, now: new Date(now.getTime() + HOUR), months: 4 })
    expect(otherNow.some((e) => ids.has(e.id))).toBe(false)
  })

  it('does not depend on anything but its inputs (a string seed works too)', () => {
    const a = generateHistory({ seed: 'board-demo', now, months: 2 })
    const b = generateHistory({ seed: 'board-demo', now: new Date(now.getTime()), months: 2 })
    expect(a).toEqual(b)
  })

  it('has a realistic size: ~1000 events over 4 months, all three types', () => {
    expect(events.length).toBeGreaterThan(700)
    expect(events.length).toBeLessThan(2000)
    const types = new Set(events.map((e) => e.type))
    expect([...types].sort()).toEqual([
      'aims.audit_finding.v1',
      'aims.model_metrics.v1',
      'aims.privacy_incident.v1',
    ])
  })

  it.each([
    [42, 4],
    [7, 1],
    ['x', 12],
  ])('every event passes the v1 contract (seed %s, %s months)', (seed, months) => {
    const evs = generateHistory({ seed, now, months })
    expect(parseAll(evs)).toHaveLength(evs.length)
  })

  it('events are in time order, none after now, ids unique, sources per area, subject = entity', () => {
    let last = 0
    for (const e of events) {
      const t = Date.parse(e.time)
      expect(t).toBeGreaterThanOrEqual(last)
      last = t
    }
    expect(last).toBeLessThanOrEqual(now.getTime())
    expect(Date.parse(events[0]!.time)).toBeGreaterThanOrEqual(now.getTime() - 4 * 30 * DAY)
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length)
    for (const e of events) {
      expect(e.source).toMatch(/^urn:aims:demo:(privacy|models|audit)$/)
      const key =
        e.type === 'aims.privacy_incident.v1'
          ? e.data.incidentId
          : e.type === 'aims.model_metrics.v1'
            ? e.data.modelId
            : e.data.findingId
      expect(e.subject).toBe(key)
    }
  })

  it('lifecycle updates of one entity have strictly increasing times and statuses that move forward', () => {
    const incidentOrder = ['detected', 'contained', 'notified', 'resolved', 'closed']
    const findingOrder = ['open', 'in_progress', 'closed', 'verified']
    const seen = new Map<string, { t: number; rank: number }>()
    for (const e of events) {
      if (e.type === 'aims.model_metrics.v1') continue
      const [key, rank] =
        e.type === 'aims.privacy_incident.v1'
          ? [`i:${e.data.incidentId}`, incidentOrder.indexOf(e.data.status)]
          : [`f:${e.data.findingId}`, findingOrder.indexOf(e.data.status)]
      const t = Date.parse(e.time)
      const prev = seen.get(key)
      if (prev) {
        expect(t, key).toBeGreaterThan(prev.t)
        expect(rank, key).toBeGreaterThan(prev.rank)
      }
      seen.set(key, { t, rank })
    }
  })

  it('rejects a bad months value', () => {
    expect(() => generateHistory({ seed: 1, now, months: 0 })).toThrow(/months/)
    expect(() => generateHistory({ seed: 1, now: new Date(Number.NaN), months: 2 })).toThrow(/now/)
  })
})

describe.each([4, 1, 12])('scenario facts hold at now (%s months of history)', (months) => {
  const events = parseAll(generateHistory({ seed: 42, now, months }))
  const t0 = now.getTime()

  describe('privacy incidents', () => {
    const incidents = incidentsOf(events)
    const hoursSinceDetection = (d: PrivacyIncidentData) => (t0 - Date.parse(d.detectedAt)) / HOUR

    it('one notifiable incident ~80 h old and unnotified (72 h clock critical)', () => {
      const s = scenario.privacy.unnotifiedCritical
      const d = incidents.get(s.incidentId)!
      expect(d.notifiable).toBe(true)
      expect(d.regulatorNotifiedAt).toBeUndefined()
      expect(hoursSinceDetection(d)).toBeGreaterThan(79.9)
      expect(hoursSinceDetection(d)).toBeLessThan(80.1)
      expect(d.status).toBe('contained')
    })

    it('one notifiable incident ~50 h old and unnotified (48 h warning)', () => {
      const d = incidents.get(scenario.privacy.unnotifiedWarning.incidentId)!
      expect(d.notifiable).toBe(true)
      expect(d.regulatorNotifiedAt).toBeUndefined()
      expect(hoursSinceDetection(d)).toBeGreaterThan(49.9)
      expect(hoursSinceDetection(d)).toBeLessThan(50.1)
    })

    it('every other notifiable incident was notified within 72 h', () => {
      const clocks: string[] = [
        scenario.privacy.unnotifiedCritical.incidentId,
        scenario.privacy.unnotifiedWarning.incidentId,
      ]
      const notifiable = [...incidents.values()].filter((d) => d.notifiable && !clocks.includes(d.incidentId))
      expect(notifiable.length).toBeGreaterThanOrEqual(2)
      for (const d of notifiable) {
        expect(d.regulatorNotifiedAt, d.incidentId).toBeDefined()
        expect((Date.parse(d.regulatorNotifiedAt!) - Date.parse(d.detectedAt)) / HOUR).toBeLessThanOrEqual(72)
      }
    })

    it('MTTC mostly under 24 h, exactly the two slow containments above', () => {
      const hours = [...incidents.values()]
        .filter((d) => d.containedAt)
        .map((d) => ({ id: d.incidentId, h: (Date.parse(d.containedAt!) - Date.parse(d.detectedAt)) / HOUR }))
      const slow = hours.filter((x) => x.h > 24).map((x) => x.id)
      expect(slow.sort()).toEqual([...scenario.privacy.slowContainment].sort())
      expect(mean(hours.map((x) => x.h))).toBeLessThan(24)
    })

    it('spans all severities and business units; records affected are reported', () => {
      const all = [...incidents.values()]
      expect(new Set(all.map((d) => d.severity))).toEqual(new Set(['low', 'medium', 'high', 'critical']))
      expect(new Set(all.map((d) => d.businessUnit))).toEqual(
        new Set(['payments', 'hr', 'marketing', 'ml-platform']),
      )
      expect(all.some((d) => d.recordsAffected > 10_000)).toBe(true)
      for (const d of all) expect(d.dataSubjectsAffected).toBeLessThanOrEqual(d.recordsAffected)
      const critical30d = all.filter(
        (d) => d.severity === 'critical' && t0 - Date.parse(d.detectedAt) < 30 * DAY,
      )
      expect(critical30d.length).toBeGreaterThan(0)
      const lifecycle = new Set(all.map((d) => d.status))
      expect(lifecycle.has('closed')).toBe(true)
    })
  })

  describe('models', () => {
    const drift = scenario.models.drifting

    it('daily production evaluations for all three models; counts consistent with metrics', () => {
      for (const modelId of [drift.modelId, ...scenario.models.healthy]) {
        const evals = evaluationsOf(events, modelId)
        expect(evals.length).toBeGreaterThanOrEqual(months * 30 - 2)
        for (const d of evals) {
          for (const attr of d.fairness) {
            const sum = attr.groups.reduce((s, g) => s + g.tp + g.fp + g.tn + g.fn, 0)
            expect(sum).toBe(d.sampleSize)
            const tp = attr.groups.reduce((s, g) => s + g.tp, 0)
            const tn = attr.groups.reduce((s, g) => s + g.tn, 0)
            expect(Math.abs((tp + tn) / d.sampleSize - d.metrics.accuracy!)).toBeLessThan(1e-12)
            for (const g of attr.groups) expect(g.tp + g.fp + g.tn + g.fn).toBeGreaterThan(0)
          }
        }
      }
    })

    it('resume-screener goes v1.0 → v1.3 and its latest version breaches the four-fifths rule on gender', () => {
      const evals = evaluationsOf(events, drift.modelId)
      const versions = [...new Set(evals.map((d) => d.modelVersion))]
      expect(versions).toEqual([...drift.versions])
      const latest = evals[evals.length - 1]!
      expect(latest.modelVersion).toBe(drift.latestVersion)
      expect(latest.baselineVersion).toBe(drift.baselineVersion)
      for (const d of evals.filter((x) => x.modelVersion === drift.latestVersion)) {
        const gender = rates(attribute(d, 'gender'))
        const male = gender.find((g) => g.group === 'male')!.selection
        const female = gender.find((g) => g.group === 'female')!.selection
        expect(female / male).toBeLessThan(0.8)
        expect(male).toBeCloseTo(0.42, 1)
        expect(female).toBeCloseTo(0.3, 1)
        expect(fairness(attribute(d, 'age_band')).disparateImpact).toBeGreaterThan(0.9)
      }
      // Earlier versions were fair on both attributes.
      for (const d of evals.filter((x) => x.modelVersion !== drift.latestVersion)) {
        expect(fairness(attribute(d, 'gender')).disparateImpact).toBeGreaterThanOrEqual(0.8)
      }
    })

    it('resume-screener accuracy drops by more than 5 points vs its baseline v1.0', () => {
      const evals = evaluationsOf(events, drift.modelId)
      const acc = (v: string) =>
        mean(evals.filter((d) => d.modelVersion === v).map((d) => d.metrics.accuracy!))
      expect(acc('v1.0')).toBeCloseTo(0.91, 2)
      expect(acc('v1.3')).toBeCloseTo(0.83, 2)
      expect(acc('v1.0') - acc('v1.3')).toBeGreaterThan(0.05)
      const latest = evals[evals.length - 1]!
      expect(acc('v1.0') - latest.metrics.accuracy!).toBeGreaterThan(0.05)
    })

    it('credit-scoring and fraud-detection stay healthy on every evaluation', () => {
      for (const modelId of scenario.models.healthy) {
        const evals = evaluationsOf(events, modelId)
        const baseline = evals.filter((d) => d.baselineVersion === undefined)
        const baseAcc = mean(baseline.map((d) => d.metrics.accuracy!))
        for (const d of [...evals, ...evaluationsOf(events, modelId, 'staging')]) {
          expect(baseAcc - d.metrics.accuracy!).toBeLessThan(0.02)
          for (const attr of d.fairness) {
            const f = fairness(attr)
            expect(f.disparateImpact, `${modelId} ${attr.attribute}`).toBeGreaterThan(0.9)
            expect(f.parityDifference).toBeLessThan(0.05)
            expect(f.equalizedOdds).toBeLessThan(0.1)
            expect(f.accuracyGap).toBeLessThan(0.05)
          }
        }
      }
    })
  })

  describe('audit findings', () => {
    const findings = findingsOf(events)
    const all = [...findings.values()]
    const isOpen = (d: AuditFindingData) => d.status === 'open' || d.status === 'in_progress'

    it('exactly one overdue corrective action: the scenario one, open, due 9 days ago', () => {
      const overdue = all.filter((d) => isOpen(d) && d.dueAt !== undefined && Date.parse(d.dueAt) < t0)
      expect(overdue.map((d) => d.findingId)).toEqual([scenario.audit.overdueFinding.findingId])
      const d = overdue[0]!
      expect(d.status).toBe('open')
      expect(d.clause).toBe(scenario.audit.overdueFinding.clause)
      expect((t0 - Date.parse(d.dueAt!)) / DAY).toBeCloseTo(9, 0)
    })

    it('one control with two repeat findings, each pointing at an earlier finding on the same clause', () => {
      const rc = scenario.audit.repeatControl
      const onControl = all.filter((d) => d.standard === rc.standard && d.clause === rc.clause)
      expect(onControl.map((d) => d.findingId).sort()).toEqual([...rc.findingIds].sort())
      const repeats = onControl.filter((d) => d.repeatOf !== undefined)
      expect(repeats.length).toBeGreaterThanOrEqual(2)
      for (const d of repeats) {
        const earlier = findings.get(d.repeatOf!)!
        expect(earlier.clause).toBe(d.clause)
        expect(Date.parse(earlier.raisedAt)).toBeLessThan(Date.parse(d.raisedAt))
      }
    })

    it('an internal audit on both standards and a certification audit with every kind of finding', () => {
      const internal = all.filter((d) => d.auditId === scenario.audit.internalAuditId)
      expect(new Set(internal.map((d) => d.standard))).toEqual(new Set(['ISO27001', 'ISO42001']))
      const cert = all.filter((d) => d.auditId === scenario.audit.certificationAuditId)
      expect(new Set(cert.map((d) => d.auditType))).toEqual(new Set(['certification']))
      expect(new Set(cert.map((d) => d.kind))).toEqual(
        new Set(['major_nc', 'minor_nc', 'observation', 'ofi']),
      )
    })

    it('closed findings were closed on time; open majors: none', () => {
      const closed = all.filter((d) => d.closedAt !== undefined)
      if (months >= 4) expect(closed.length).toBeGreaterThan(all.length / 2)
      for (const d of closed) {
        if (d.dueAt) expect(Date.parse(d.closedAt!)).toBeLessThanOrEqual(Date.parse(d.dueAt))
      }
      if (months >= 4) expect(all.filter((d) => d.kind === 'major_nc' && isOpen(d))).toEqual([])
    })
  })
})

describe('createLiveGenerator', () => {
  const run = (n: number, seed: number | string = 42) => {
    const live = createLiveGenerator({ seed, now })
    const out: DemoEvent[] = []
    for (let i = 0; i < n; i++) out.push(live.next(new Date(now.getTime() + 1000 + i * 5)))
    return { live, out }
  }

  it('is deterministic and every live event passes the contract', () => {
    const a = run(3000)
    expect(run(3000).out).toEqual(a.out)
    expect(a.live.emitted).toBe(3000)
    expect(parseAll(a.out)).toHaveLength(3000)
    expect(new Set(a.out.map((e) => e.id)).size).toBe(3000)
    const history = new Set(generateHistory({ seed: 42, now, months: 4 }).map((e) => e.id))
    expect(a.out.some((e) => history.has(e.id))).toBe(false)
  })

  it('mixes all three types and stamps events with the time given', () => {
    const { out } = run(2000)
    const counts: Record<string, number> = {}
    for (const e of out) counts[e.type] = (counts[e.type] ?? 0) + 1
    expect(counts['aims.model_metrics.v1']).toBeGreaterThan(700)
    expect(counts['aims.privacy_incident.v1']).toBeGreaterThan(500)
    expect(counts['aims.audit_finding.v1']).toBeGreaterThan(100)
    out.forEach((e, i) => {
      expect(Date.parse(e.time)).toBe(now.getTime() + 1000 + i * 5)
    })
  })

  it('keeps the scenario true: no scenario entity touched, drift persists, healthy stay healthy', () => {
    const events = parseAll(run(4000).out)
    const incidents = incidentsOf(events)
    const findings = findingsOf(events)
    expect(incidents.has(scenario.privacy.unnotifiedCritical.incidentId)).toBe(false)
    expect(incidents.has(scenario.privacy.unnotifiedWarning.incidentId)).toBe(false)
    for (const id of [scenario.audit.overdueFinding.findingId, ...scenario.audit.repeatControl.findingIds]) {
      expect(findings.has(id)).toBe(false)
    }
    for (const d of findings.values()) expect(d.kind).not.toBe('major_nc')
    for (const d of findings.values()) {
      if (d.dueAt) expect(Date.parse(d.dueAt)).toBeGreaterThan(now.getTime() + 20 * DAY)
      expect(d.repeatOf).toBeUndefined()
    }
    const drift = evaluationsOf(events, scenario.models.drifting.modelId)
    expect(drift.length).toBeGreaterThan(100)
    for (const d of drift) {
      expect(d.modelVersion).toBe(scenario.models.drifting.latestVersion)
      expect(fairness(attribute(d, 'gender')).disparateImpact).toBeLessThan(0.8)
      expect(fairness(attribute(d, 'age_band')).disparateImpact).toBeGreaterThan(0.85)
      expect(0.91 - d.metrics.accuracy!).toBeGreaterThan(0.05)
    }
    for (const modelId of scenario.models.healthy) {
      const evals = evaluationsOf(events, modelId)
      expect(evals.length).toBeGreaterThan(100)
      for (const d of evals)
        for (const a of d.fairness) expect(fairness(a).disparateImpact).toBeGreaterThan(0.85)
    }
    // Notifiable live incidents are notified within the run, far inside 72 h.
    for (const d of incidents.values()) {
      if (d.regulatorNotifiedAt) {
        expect(Date.parse(d.regulatorNotifiedAt) - Date.parse(d.detectedAt)).toBeLessThan(72 * HOUR)
      }
    }
  })

  it('never lets lifecycle times go backwards even if the clock does', () => {
    const live = createLiveGenerator({ seed: 1, now })
    const times: number[] = []
    for (let i = 0; i < 500; i++) {
      const at = new Date(now.getTime() + 10_000 - (i % 7) * 100 + i * 10)
      times.push(Date.parse(live.next(at).time))
    }
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThanOrEqual(times[i - 1]!)
  })
})
