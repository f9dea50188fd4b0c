import {
  type AimsEvent,
  AUDIT_FINDING_TYPE,
  type AuditFindingData,
  type AuditFindingEvent,
  type FairnessAttribute,
  MODEL_METRICS_TYPE,
  type ModelMetricsData,
  type ModelMetricsEvent,
  PRIVACY_INCIDENT_TYPE,
  type PrivacyIncidentData,
  type PrivacyIncidentEvent,
} from '../../shared/events/index.js'
import { clamp, deterministicUuid, Rng, shortTag } from './random.js'

/**
 * The demo feed's event generator: a realistic, seeded, pure (no I/O) story of an organisation running
 * an integrated ISMS + AIMS. Same seed and same `now` give the same events, ids included.
 *
 * The history holds the scenario the product's acceptance tests and the README rely on (see
 * describeScenario): a notifiable privacy incident past the GDPR 72-hour clock and one past 48 hours,
 * a resume-screening model losing accuracy and breaching the four-fifths rule on gender in its latest
 * version, an overdue corrective action and a control with two repeat findings. Everything else is
 * background: healthy models evaluated daily, incidents of every severity running their lifecycle,
 * audits whose findings are closed on time.
 */

export type DemoEvent = AimsEvent
export type Seed = number | string

export interface GenerateHistoryOptions {
  seed: Seed
  now: Date
  /** How far back the history starts, in months of 30 days: 1 to 36. */
  months: number
}

export interface LiveGeneratorOptions {
  seed: Seed
  /** The `now` the history was generated for; live events come after it. */
  now: Date
}

export interface LiveGenerator {
  /** The next live event, stamped `at` (which should not go backwards between calls). */
  next(at: Date): DemoEvent
  /** Events returned so far. */
  readonly emitted: number
}

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
const MONTH = 30 * DAY

export const demoSources = {
  privacy: 'urn:aims:demo:privacy',
  models: 'urn:aims:demo:models',
  audit: 'urn:aims:demo:audit',
} as const

export const businessUnits = ['payments', 'hr', 'marketing', 'ml-platform'] as const
type BusinessUnit = (typeof businessUnits)[number]

// ───────────────────────────── scenario ─────────────────────────────

const SCENARIO = {
  privacy: {
    /** Notifiable, detected 80 h before `now`, regulator not notified: the 72-hour clock is critical. */
    unnotifiedCritical: { incidentId: 'INC-2417', detectedHoursBeforeNow: 80, businessUnit: 'marketing' },
    /** Notifiable, detected 50 h before `now`, not notified yet: past the 48-hour warning. */
    unnotifiedWarning: { incidentId: 'INC-2421', detectedHoursBeforeNow: 50, businessUnit: 'hr' },
    /** A critical incident in the last 30 days, notified in time. */
    criticalNotified: { incidentId: 'INC-2388', detectedDaysBeforeNow: 20, businessUnit: 'payments' },
    /** The two incidents whose containment took more than 24 h. */
    slowContainment: ['INC-2301', 'INC-2342'],
  },
  models: {
    drifting: {
      modelId: 'resume-screener',
      baselineVersion: 'v1.0',
      versions: ['v1.0', 'v1.1', 'v1.2', 'v1.3'],
      latestVersion: 'v1.3',
      businessUnit: 'hr',
      /** The attribute that breaches the four-fifths rule in the latest version. */
      breachedAttribute: 'gender',
      /** The attribute that stays fair. */
      fairAttribute: 'age_band',
      baselineAccuracy: 0.91,
      latestAccuracy: 0.83,
      latestSelectionRates: { male: 0.42, female: 0.3 },
    },
    healthy: ['credit-scoring', 'fraud-detection'],
    environment: 'production',
  },
  audit: {
    internalAuditId: 'AUD-INT-01',
    certificationAuditId: 'AUD-CERT-01',
    followUpAuditId: 'AUD-INT-02',
    /** Open corrective action with dueAt 9 days before `now`. */
    overdueFinding: { findingId: 'F-CERT-06', standard: 'ISO42001', clause: 'A.6.2.6', overdueDaysAtNow: 9 },
    /** Three findings on the same control, each later one repeating the one before. */
    repeatControl: {
      standard: 'ISO27001',
      clause: 'A.8.8',
      findingIds: ['F-INT1-01', 'F-CERT-04', 'F-INT2-01'],
      repeats: 2,
    },
  },
} as const

/** The ids and facts of the scenario's notable entities, for tests and the README. */
export function describeScenario() {
  return SCENARIO
}

// ───────────────────────────── plumbing ─────────────────────────────

const sec = (ms: number) => Math.floor(ms / 1000) * 1000
const iso = (ms: number) => new Date(ms).toISOString()

function seedText(seed: Seed): string {
  return typeof seed === 'number' ? `n:${seed}` : `s:${seed}`
}

/** Collects events with their time and creation order; ids are hashed from the seed and the event's key. */
class EventSink {
  private readonly items: { at: number; order: number; event: DemoEvent }[] = []
  constructor(private readonly seed: string) {}

  add<E extends DemoEvent>(
    type: E['type'],
    source: string,
    subject: string,
    at: number,
    discriminator: string,
    data: E['data'],
  ): void {
    const event = {
      specversion: '1.0',
      id: deterministicUuid(this.seed, `${type}|${subject}|${discriminator}|${at}`),
      source,
      type,
      time: iso(at),
      subject,
      data,
    } as DemoEvent
    this.items.push({ at, order: this.items.length, event })
  }

  /** Events in time order; ties keep creation order (so one entity's steps never swap). */
  sorted(): DemoEvent[] {
    return this.items.sort((x, y) => x.at - y.at || x.order - y.order).map((x) => x.event)
  }
}

// ───────────────────────────── privacy incidents ─────────────────────────────

type Severity = PrivacyIncidentData['severity']
type Category = PrivacyIncidentData['category']

interface IncidentPlan {
  incidentId: string
  severity: Severity
  category: Category
  businessUnit: BusinessUnit
  occurredAt?: number
  detectedAt: number
  containedAt?: number
  notifiedAt?: number
  resolvedAt?: number
  closedAt?: number
  notifiable: boolean
  records: number
  subjects: number
  aiSystemId?: string
  controls: string[]
}

const categoriesByUnit: Record<BusinessUnit, readonly (readonly [Category, number])[]> = {
  payments: [
    ['unauthorised_access', 4],
    ['data_leak', 3],
    ['phishing', 3],
    ['malware', 2],
    ['insider_misuse', 1],
  ],
  hr: [
    ['misdirected_email', 5],
    ['lost_device', 3],
    ['insider_misuse', 1],
    ['data_leak', 2],
  ],
  marketing: [
    ['misdirected_email', 4],
    ['data_leak', 3],
    ['phishing', 2],
    ['other', 1],
  ],
  'ml-platform': [
    ['ai_data_exposure', 5],
    ['unauthorised_access', 2],
    ['data_leak', 2],
  ],
}

const controlsByCategory: Record<Category, readonly string[]> = {
  unauthorised_access: ['ISO27001:A.5.15', 'ISO27001:A.8.2'],
  data_leak: ['ISO27001:A.8.12'],
  lost_device: ['ISO27001:A.8.1', 'ISO27001:A.7.9'],
  misdirected_email: ['ISO27001:A.5.14', 'ISO27001:A.6.3'],
  ai_data_exposure: ['ISO42001:A.7.2', 'ISO42001:A.8.4'],
  malware: ['ISO27001:A.8.7'],
  phishing: ['ISO27001:A.6.3', 'ISO27001:A.8.7'],
  insider_misuse: ['ISO27001:A.6.4', 'ISO27001:A.8.2'],
  other: ['ISO27001:A.5.25'],
}

const aiSystems = ['resume-screener', 'fraud-detection', 'credit-scoring'] as const

function controlsFor(category: Category, notifiable: boolean): string[] {
  const out = ['ISO27001:A.5.24', 'ISO27001:A.5.26', ...controlsByCategory[category]]
  if (notifiable) out.push('ISO27001:A.5.34')
  return out
}

function recordsFor(rng: Rng, severity: Severity): number {
  switch (severity) {
    case 'low':
      return rng.chance(0.2) ? 0 : Math.round(rng.logUniform(1, 40))
    case 'medium':
      return Math.round(rng.logUniform(20, 2_000))
    case 'high':
      return Math.round(rng.logUniform(1_500, 60_000))
    case 'critical':
      return Math.round(rng.logUniform(80_000, 900_000))
  }
}

function notifiableFor(rng: Rng, severity: Severity, records: number): boolean {
  if (records === 0) return false
  const p = { low: 0.02, medium: 0.25, high: 0.8, critical: 1 }[severity]
  return rng.chance(p)
}

/** A background incident detected at `detectedAt` with a full lifecycle (truncated later at `now`). */
function planIncident(rng: Rng, incidentId: string, detectedAt: number, recentCutoff: number): IncidentPlan {
  const businessUnit = rng.weighted<BusinessUnit>([
    ['payments', 3],
    ['hr', 2],
    ['marketing', 3],
    ['ml-platform', 2],
  ])
  const category = rng.weighted(categoriesByUnit[businessUnit])
  let severity = rng.weighted<Severity>([
    ['low', 40],
    ['medium', 36],
    ['high', 20],
    ['critical', 4],
  ])
  const recent = detectedAt > recentCutoff
  // Recent background incidents are minor and not notifiable, so the only running notification clocks
  // are the scenario's.
  if (recent && (severity === 'high' || severity === 'critical')) severity = 'medium'
  const records = recordsFor(rng, severity)
  const subjects = records === 0 ? 0 : Math.max(1, Math.round(records * rng.float(0.35, 1)))
  const notifiable = !recent && notifiableFor(rng, severity, records)
  const plan: IncidentPlan = {
    incidentId,
    severity,
    category,
    businessUnit,
    detectedAt: sec(detectedAt),
    notifiable,
    records,
    subjects,
    controls: controlsFor(category, notifiable),
  }
  if (category === 'ai_data_exposure' || (businessUnit === 'ml-platform' && rng.chance(0.5))) {
    plan.aiSystemId = rng.pick(aiSystems)
  }
  if (rng.chance(0.8)) plan.occurredAt = sec(detectedAt - rng.logNormal(6, 1.2, 0.2, 240) * HOUR)
  completeLifecycle(rng, plan, rng.logNormal(4, 0.8, 0.25, 20))
  return plan
}

/**
 * Fills contained / notified / resolved / closed: containment `containHours` after detection, the
 * regulator notice (notifiable only) `notifyHours` after detection or 2-20 h after containment, always
 * inside 72 h.
 */
function completeLifecycle(rng: Rng, plan: IncidentPlan, containHours: number, notifyHours?: number): void {
  plan.containedAt = sec(plan.detectedAt + containHours * HOUR)
  let last = plan.containedAt
  if (plan.notifiable) {
    const notifyAt =
      notifyHours !== undefined
        ? plan.detectedAt + notifyHours * HOUR
        : plan.containedAt + rng.float(2, 20) * HOUR
    plan.notifiedAt = sec(Math.min(notifyAt, plan.detectedAt + 70 * HOUR))
    if (plan.notifiedAt <= plan.containedAt) plan.notifiedAt = plan.containedAt + MINUTE
    last = plan.notifiedAt
  }
  plan.resolvedAt = sec(last + rng.float(12, 8 * 24) * HOUR)
  plan.closedAt = sec(plan.resolvedAt + rng.float(1, 10) * DAY)
}

/** Emits the lifecycle steps of `plan` that happened by `now`; each step repeats the data so far. */
function emitIncident(sink: EventSink, plan: IncidentPlan, now: number): void {
  const steps: [PrivacyIncidentData['status'], number | undefined][] = [
    ['detected', plan.detectedAt],
    ['contained', plan.containedAt],
    ['notified', plan.notifiedAt],
    ['resolved', plan.resolvedAt],
    ['closed', plan.closedAt],
  ]
  for (const [status, at] of steps) {
    if (at === undefined || at > now) continue
    sink.add<PrivacyIncidentEvent>(
      PRIVACY_INCIDENT_TYPE,
      demoSources.privacy,
      plan.incidentId,
      at,
      status,
      incidentData(plan, status, at),
    )
  }
}

function incidentData(
  plan: IncidentPlan,
  status: PrivacyIncidentData['status'],
  at: number,
): PrivacyIncidentData {
  const known = (t: number | undefined) => (t !== undefined && t <= at ? iso(t) : undefined)
  const data: PrivacyIncidentData = {
    incidentId: plan.incidentId,
    status,
    severity: plan.severity,
    category: plan.category,
    businessUnit: plan.businessUnit,
    detectedAt: iso(plan.detectedAt),
    notifiable: plan.notifiable,
    recordsAffected: plan.records,
    dataSubjectsAffected: plan.subjects,
    controls: plan.controls,
  }
  if (plan.occurredAt !== undefined) data.occurredAt = iso(plan.occurredAt)
  const contained = known(plan.containedAt)
  if (contained) data.containedAt = contained
  const notified = known(plan.notifiedAt)
  if (notified) data.regulatorNotifiedAt = notified
  if (status === 'resolved' || status === 'closed') data.resolvedAt = iso(plan.resolvedAt!)
  if (status === 'closed') data.closedAt = iso(plan.closedAt!)
  if (plan.aiSystemId !== undefined) data.aiSystemId = plan.aiSystemId
  return data
}

function planIncidents(rng: Rng, start: number, now: number): IncidentPlan[] {
  const span = now - start
  const recentCutoff = now - 5 * DAY
  const background: number[] = []
  // About 1.1 incidents a day, detected up to 12 h before now.
  for (let t = start + rng.exponential(DAY / 1.1); t < now - 12 * HOUR; t += rng.exponential(DAY / 1.1)) {
    background.push(t)
  }
  if (background.length > 1000) throw new RangeError('history too long for the incident numbering')
  const plans = background.map((t, i) => planIncident(rng, `INC-${1001 + i}`, t, recentCutoff))

  const s = SCENARIO.privacy
  const at = (hoursBeforeNow: number) => sec(Math.max(start + HOUR, now - hoursBeforeNow * HOUR))

  // A critical card-data leak in the last 30 days, notified in 30 h.
  const critical: IncidentPlan = {
    incidentId: s.criticalNotified.incidentId,
    severity: 'critical',
    category: 'data_leak',
    businessUnit: 'payments',
    occurredAt: at(s.criticalNotified.detectedDaysBeforeNow * 24 + 31),
    detectedAt: at(s.criticalNotified.detectedDaysBeforeNow * 24),
    notifiable: true,
    records: 412_880,
    subjects: 287_113,
    controls: controlsFor('data_leak', true),
  }
  completeLifecycle(rng, critical, 7.5, 30)

  // The two slow containments (> 24 h): an AI training-data exposure (notifiable) and an HR e-mail.
  const aiExposure: IncidentPlan = {
    incidentId: s.slowContainment[1],
    severity: 'high',
    category: 'ai_data_exposure',
    businessUnit: 'ml-platform',
    detectedAt: at(Math.min(33 * 24, (span / HOUR) * 0.7)),
    notifiable: true,
    records: 18_406,
    subjects: 18_406,
    aiSystemId: 'resume-screener',
    controls: [...controlsFor('ai_data_exposure', true), 'ISO42001:A.7.5'],
  }
  aiExposure.occurredAt = aiExposure.detectedAt - 50 * HOUR
  completeLifecycle(rng, aiExposure, 31, 52)

  const hrEmail: IncidentPlan = {
    incidentId: s.slowContainment[0],
    severity: 'medium',
    category: 'misdirected_email',
    businessUnit: 'hr',
    detectedAt: at(Math.min(47 * 24, (span / HOUR) * 0.85)),
    notifiable: false,
    records: 240,
    subjects: 240,
    controls: controlsFor('misdirected_email', false),
  }
  hrEmail.occurredAt = hrEmail.detectedAt - 3 * HOUR
  completeLifecycle(rng, hrEmail, 27.5)

  // The two running notification clocks: contained, regulator not (yet) notified.
  const clock = (
    incidentId: string,
    hours: number,
    businessUnit: BusinessUnit,
    category: Category,
    records: number,
  ): IncidentPlan => {
    const detectedAt = sec(now - hours * HOUR)
    return {
      incidentId,
      severity: 'high',
      category,
      businessUnit,
      occurredAt: detectedAt - 14 * HOUR,
      detectedAt,
      containedAt: detectedAt + 9 * HOUR,
      notifiable: true,
      records,
      subjects: Math.round(records * 0.93),
      controls: controlsFor(category, true),
    }
  }
  const unnotifiedCritical = clock(
    s.unnotifiedCritical.incidentId,
    s.unnotifiedCritical.detectedHoursBeforeNow,
    s.unnotifiedCritical.businessUnit,
    'data_leak',
    23_511,
  )
  const unnotifiedWarning = clock(
    s.unnotifiedWarning.incidentId,
    s.unnotifiedWarning.detectedHoursBeforeNow,
    s.unnotifiedWarning.businessUnit,
    'unauthorised_access',
    3_870,
  )
  unnotifiedWarning.containedAt = unnotifiedWarning.detectedAt + 5 * HOUR

  return [...plans, critical, aiExposure, hrEmail, unnotifiedCritical, unnotifiedWarning]
}

// ───────────────────────────── model metrics ─────────────────────────────

interface VersionSpec {
  version: string
  /** Fraction of the history span at which this version reaches production (0 = from the start). */
  from: number
  accuracy: number
  auc: number
  /** Selection (positive-prediction) rate per group of the targeted attribute. */
  selection: Record<string, number>
}

interface ModelSpec {
  modelId: string
  businessUnit: BusinessUnit
  baselineVersion: string
  baseRate: number
  /** Daily sample size range on weekdays (weekends are lighter). */
  dailySamples: [number, number]
  /** Minutes after midnight UTC when the daily evaluation job reports. */
  reportMinute: number
  targeted?: { attribute: string; groups: { group: string; share: number }[] }
  proportional: { attribute: string; groups: { group: string; share: number }[] }[]
  versions: VersionSpec[]
  latencyMs: number
}

const ageBands = [
  { group: '18-24', share: 0.13 },
  { group: '25-34', share: 0.3 },
  { group: '35-44', share: 0.26 },
  { group: '45-54', share: 0.19 },
  { group: '55+', share: 0.12 },
]

const modelSpecs: ModelSpec[] = [
  {
    modelId: 'credit-scoring',
    businessUnit: 'payments',
    baselineVersion: 'v2.3',
    baseRate: 0.58,
    dailySamples: [6_000, 11_000],
    reportMinute: 70,
    targeted: {
      attribute: 'gender',
      groups: [
        { group: 'female', share: 0.48 },
        { group: 'male', share: 0.52 },
      ],
    },
    proportional: [{ attribute: 'age_band', groups: ageBands }],
    versions: [
      { version: 'v2.3', from: 0, accuracy: 0.874, auc: 0.931, selection: { female: 0.558, male: 0.562 } },
      { version: 'v2.4', from: 0.45, accuracy: 0.877, auc: 0.934, selection: { female: 0.561, male: 0.563 } },
    ],
    latencyMs: 38,
  },
  {
    modelId: 'fraud-detection',
    businessUnit: 'payments',
    baselineVersion: 'v5.1',
    baseRate: 0.021,
    dailySamples: [120_000, 180_000],
    reportMinute: 80,
    proportional: [{ attribute: 'age_band', groups: ageBands }],
    versions: [
      { version: 'v5.1', from: 0, accuracy: 0.988, auc: 0.975, selection: { all: 0.019 } },
      { version: 'v5.2', from: 0.3, accuracy: 0.9892, auc: 0.978, selection: { all: 0.0192 } },
      { version: 'v5.3', from: 0.75, accuracy: 0.9889, auc: 0.979, selection: { all: 0.0195 } },
    ],
    latencyMs: 11,
  },
  {
    modelId: 'resume-screener',
    businessUnit: 'hr',
    baselineVersion: 'v1.0',
    baseRate: 0.37,
    dailySamples: [1_400, 2_600],
    reportMinute: 125,
    targeted: {
      attribute: 'gender',
      groups: [
        { group: 'female', share: 0.46 },
        { group: 'male', share: 0.54 },
      ],
    },
    proportional: [{ attribute: 'age_band', groups: ageBands }],
    versions: [
      { version: 'v1.0', from: 0, accuracy: 0.91, auc: 0.952, selection: { female: 0.385, male: 0.395 } },
      { version: 'v1.1', from: 0.35, accuracy: 0.895, auc: 0.944, selection: { female: 0.372, male: 0.402 } },
      { version: 'v1.2', from: 0.6, accuracy: 0.866, auc: 0.921, selection: { female: 0.355, male: 0.412 } },
      // The drift: latest version, the last ~18 days.
      { version: 'v1.3', from: -18, accuracy: 0.83, auc: 0.889, selection: { female: 0.3, male: 0.42 } },
    ],
    latencyMs: 140,
  },
]

/** When `version` reaches production: a fraction of the span, or (negative) days before now. */
function versionStart(v: VersionSpec, start: number, now: number): number {
  const span = now - start
  if (v.from < 0) return Math.max(start + 0.8 * span, now + v.from * DAY)
  return start + v.from * span
}

interface Cells {
  tp: number
  fp: number
  tn: number
  fn: number
}

/**
 * Confusion counts of `n` samples with base rate `b`, selection rate `s` and accuracy `acc`:
 * tp+fp = s·n, tp+fn = b·n, fp+fn = (1−acc)·n, so fp − fn = (s − b)·n.
 */
function cellsFor(n: number, b: number, s: number, acc: number): Cells {
  const err = 1 - acc
  const fpRate = Math.max(0, (err + (s - b)) / 2)
  const fnRate = Math.max(0, (err - (s - b)) / 2)
  const fp = Math.round(n * fpRate)
  const fn = Math.round(n * fnRate)
  const tp = Math.max(0, Math.round(n * s) - fp)
  const tn = Math.max(0, n - tp - fp - fn)
  return { tp, fp, tn, fn }
}

/** Splits totals across groups in proportion to their shares (fair by construction, tiny jitter). */
function splitProportionally(
  rng: Rng,
  totals: Cells,
  groups: readonly { group: string; share: number }[],
): FairnessAttribute['groups'] {
  // The largest group absorbs the rounding so its relative error stays the smallest.
  let absorber = 0
  groups.forEach((g, i) => {
    if (g.share > groups[absorber]!.share) absorber = i
  })
  const out = groups.map((g) => ({ group: g.group, tp: 0, fp: 0, tn: 0, fn: 0 }))
  for (const cell of ['tp', 'fp', 'tn', 'fn'] as const) {
    let left = totals[cell]
    groups.forEach((g, i) => {
      if (i === absorber) return
      const x = Math.min(left, Math.max(0, Math.round(totals[cell] * g.share * (1 + rng.normal(0, 0.006)))))
      out[i]![cell] = x
      left -= x
    })
    out[absorber]![cell] = left
  }
  return out
}

function evaluation(
  rng: Rng,
  spec: ModelSpec,
  v: VersionSpec,
  sampleSize: number,
): Omit<ModelMetricsData, 'modelId' | 'modelVersion' | 'environment' | 'businessUnit' | 'window'> {
  const acc = clamp(v.accuracy + rng.normal(0, 0.0018), 0, 1)
  const fairness: FairnessAttribute[] = []
  let totals: Cells
  let n = sampleSize
  if (spec.targeted) {
    const groups = spec.targeted.groups.map((g, i, all) => {
      const size = i === all.length - 1 ? n : Math.round(sampleSize * g.share * (1 + rng.normal(0, 0.01)))
      n -= size
      const s = clamp((v.selection[g.group] ?? 0) + rng.normal(0, 0.0018), 0, 1)
      return { group: g.group, ...cellsFor(size, spec.baseRate, s, acc) }
    })
    fairness.push({ attribute: spec.targeted.attribute, groups })
    totals = groups.reduce(
      (t, g) => ({ tp: t.tp + g.tp, fp: t.fp + g.fp, tn: t.tn + g.tn, fn: t.fn + g.fn }),
      { tp: 0, fp: 0, tn: 0, fn: 0 },
    )
  } else {
    const s = clamp((v.selection.all ?? 0) * (1 + rng.normal(0, 0.01)), 0, 1)
    totals = cellsFor(sampleSize, spec.baseRate, s, acc)
  }
  for (const attr of spec.proportional) {
    fairness.push({ attribute: attr.attribute, groups: splitProportionally(rng, totals, attr.groups) })
  }
  const total = totals.tp + totals.fp + totals.tn + totals.fn
  const precision = totals.tp / (totals.tp + totals.fp)
  const recall = totals.tp / (totals.tp + totals.fn)
  const out: ReturnType<typeof evaluation> = {
    sampleSize: total,
    metrics: {
      accuracy: (totals.tp + totals.tn) / total,
      precision,
      recall,
      f1: (2 * precision * recall) / (precision + recall),
      auc: Math.round(clamp(v.auc + rng.normal(0, 0.0012), 0, 1) * 10_000) / 10_000,
      extra: {
        log_loss: Math.round((0.08 + (1 - v.auc) * 3.2 + rng.normal(0, 0.004)) * 10_000) / 10_000,
        p95_latency_ms: Math.round(spec.latencyMs * (1 + Math.abs(rng.normal(0, 0.12)))),
      },
    },
    fairness,
  }
  if (v.version !== spec.baselineVersion) out.baselineVersion = spec.baselineVersion
  return out
}

function emitEvaluation(
  sink: EventSink,
  rng: Rng,
  spec: ModelSpec,
  v: VersionSpec,
  environment: ModelMetricsData['environment'],
  windowStart: number,
  windowEnd: number,
  at: number,
  sampleSize: number,
): void {
  const e = evaluation(rng, spec, v, sampleSize)
  const data: ModelMetricsData = {
    modelId: spec.modelId,
    modelVersion: v.version,
    environment,
    businessUnit: spec.businessUnit,
    window: { start: iso(windowStart), end: iso(windowEnd) },
    ...e,
  }
  sink.add<ModelMetricsEvent>(
    MODEL_METRICS_TYPE,
    demoSources.models,
    spec.modelId,
    at,
    `${v.version}|${environment}|${windowStart}|${windowEnd}`,
    data,
  )
}

function emitModelHistory(sink: EventSink, rng: Rng, start: number, now: number): void {
  for (const spec of modelSpecs) {
    const starts = spec.versions.map((v) => versionStart(v, start, now))
    // Staging validation of each new version the day before it is promoted.
    spec.versions.forEach((v, i) => {
      if (i === 0) return
      const promotedAt = starts[i]!
      const at = sec(promotedAt - 20 * HOUR)
      if (at > now || at < start) return
      const [lo, hi] = spec.dailySamples
      emitEvaluation(
        sink,
        rng,
        spec,
        v,
        'staging',
        promotedAt - 8 * DAY,
        promotedAt - DAY,
        at,
        rng.int(lo * 3, hi * 3),
      )
    })
    // Daily production evaluations over [midnight, next midnight), reported after the window closes.
    for (let day = Math.ceil(start / DAY) * DAY; day + DAY <= now; day += DAY) {
      const at = sec(day + DAY + (spec.reportMinute + rng.int(0, 9)) * MINUTE + rng.int(0, 59) * 1000)
      if (at > now) break
      let idx = 0
      for (let i = 0; i < starts.length; i++) if (starts[i]! <= day) idx = i
      const weekday = new Date(day).getUTCDay()
      const weekend = weekday === 0 || weekday === 6 ? 0.45 : 1
      const [lo, hi] = spec.dailySamples
      const samples = Math.round(rng.int(lo, hi) * weekend)
      emitEvaluation(sink, rng, spec, spec.versions[idx]!, 'production', day, day + DAY, at, samples)
    }
  }
}

// ───────────────────────────── audit findings ─────────────────────────────

type Kind = AuditFindingData['kind']

interface FindingPlan {
  findingId: string
  auditId: string
  auditType: AuditFindingData['auditType']
  standard: AuditFindingData['standard']
  clause: string
  kind: Kind
  title: string
  owner: string
  businessUnit: string
  raisedAt: number
  dueAt?: number
  repeatOf?: string
  /** Lifecycle: started, closed, verified (absent = does not happen). */
  startedAt?: number
  closedAt?: number
  verifiedAt?: number
}

type FindingSeed = [
  id: string,
  standard: AuditFindingData['standard'],
  clause: string,
  kind: Kind,
  title: string,
  owner: string,
  businessUnit: string,
]

const internalFindings: FindingSeed[] = [
  [
    'F-INT1-01',
    'ISO27001',
    'A.8.8',
    'minor_nc',
    'Critical patches outstanding beyond the 14-day SLA on 14 internet-facing hosts',
    'M. Keller (IT Operations)',
    'payments',
  ],
  [
    'F-INT1-02',
    'ISO27001',
    'A.5.9',
    'observation',
    'SaaS applications missing from the asset inventory',
    'S. Laine (IT Asset Management)',
    '',
  ],
  [
    'F-INT1-03',
    'ISO27001',
    'A.5.24',
    'minor_nc',
    'Incident procedure lacks a privacy-breach triage step for GDPR Art. 33 decisions',
    'R. Osei (Data Protection Officer)',
    '',
  ],
  [
    'F-INT1-04',
    'ISO27001',
    '9.2.2',
    'ofi',
    'Audit programme could weight audit frequency by risk rating',
    'J. Novak (Internal Audit)',
    '',
  ],
  [
    'F-INT1-05',
    'ISO42001',
    '6.1.4',
    'minor_nc',
    'No AI system impact assessment on record for resume-screener',
    'A. Rahman (ML Platform)',
    'ml-platform',
  ],
  [
    'F-INT1-06',
    'ISO42001',
    'A.7.4',
    'ofi',
    'Data quality checks for training data could be automated in the pipeline',
    'A. Rahman (ML Platform)',
    'ml-platform',
  ],
  [
    'F-INT1-07',
    'ISO42001',
    'A.5.2',
    'observation',
    'Impact assessment process does not define re-assessment triggers',
    'L. Fischer (AI Governance)',
    '',
  ],
  [
    'F-INT1-08',
    'ISO27001',
    'A.8.15',
    'ofi',
    'Log retention differs between payment and HR systems',
    'M. Keller (IT Operations)',
    'payments',
  ],
]

const certificationFindings: FindingSeed[] = [
  [
    'F-CERT-01',
    'ISO42001',
    '8.4',
    'major_nc',
    'resume-screener deployed to production without a completed AI system impact assessment',
    'L. Fischer (AI Governance)',
    'hr',
  ],
  [
    'F-CERT-02',
    'ISO27001',
    'A.5.34',
    'major_nc',
    'No record of processing activities for marketing customer analytics',
    'R. Osei (Data Protection Officer)',
    'marketing',
  ],
  [
    'F-CERT-03',
    'ISO27001',
    'A.5.15',
    'minor_nc',
    'Quarterly access reviews not evidenced for the payments ledger',
    'P. Duarte (Payments Engineering)',
    'payments',
  ],
  [
    'F-CERT-04',
    'ISO27001',
    'A.8.8',
    'minor_nc',
    'Vulnerability remediation SLA still missed for internet-facing hosts (repeat)',
    'M. Keller (IT Operations)',
    'payments',
  ],
  [
    'F-CERT-05',
    'ISO42001',
    '9.2',
    'minor_nc',
    'AIMS internal audit did not sample Annex A controls of the AI system life cycle',
    'J. Novak (Internal Audit)',
    '',
  ],
  [
    'F-CERT-06',
    'ISO42001',
    'A.6.2.6',
    'minor_nc',
    'Fairness monitoring thresholds for production models not defined or operated',
    'A. Rahman (ML Platform)',
    'ml-platform',
  ],
  [
    'F-CERT-07',
    'ISO27001',
    '7.2',
    'observation',
    'Competence records of on-call responders incomplete',
    'T. Berg (HR Systems)',
    'hr',
  ],
  [
    'F-CERT-08',
    'ISO42001',
    'A.9.3',
    'observation',
    'Responsible-use objectives not communicated to recruiters',
    'T. Berg (HR Systems)',
    'hr',
  ],
  [
    'F-CERT-09',
    'ISO27001',
    'A.8.16',
    'ofi',
    'Monitoring could correlate DLP alerts with privacy incident tickets',
    'M. Keller (IT Operations)',
    '',
  ],
  [
    'F-CERT-10',
    'ISO42001',
    'A.8.4',
    'ofi',
    'AI incident communication template could include affected data subjects',
    'R. Osei (Data Protection Officer)',
    '',
  ],
]

const followUpFindings: FindingSeed[] = [
  [
    'F-INT2-01',
    'ISO27001',
    'A.8.8',
    'minor_nc',
    'Vulnerability remediation SLA missed again on 6 hosts after the certification audit (second repeat)',
    'M. Keller (IT Operations)',
    'payments',
  ],
  [
    'F-INT2-02',
    'ISO42001',
    'A.6.2.8',
    'observation',
    'Inference event logs of fraud-detection kept for 7 days only',
    'A. Rahman (ML Platform)',
    'ml-platform',
  ],
  [
    'F-INT2-03',
    'ISO27001',
    'A.5.27',
    'ofi',
    'Lessons learned from privacy incidents could feed the awareness programme',
    'R. Osei (Data Protection Officer)',
    '',
  ],
]

const dueDays: Record<Kind, number | undefined> = {
  major_nc: 30,
  minor_nc: 60,
  observation: 90,
  ofi: undefined,
}

function planFinding(
  rng: Rng,
  seed: FindingSeed,
  auditId: string,
  auditType: AuditFindingData['auditType'],
  raisedAt: number,
  now: number,
): FindingPlan {
  const [findingId, standard, clause, kind, title, owner, businessUnit] = seed
  const plan: FindingPlan = {
    findingId,
    auditId,
    auditType,
    standard,
    clause,
    kind,
    title,
    owner,
    businessUnit,
    raisedAt: sec(raisedAt),
  }
  const due = dueDays[kind]
  if (due !== undefined) plan.dueAt = sec(raisedAt + due * DAY)
  plan.startedAt = sec(raisedAt + rng.float(1, 6) * DAY)
  // Closed on time: a few days to a couple of weeks before the deadline (OFIs have none: 3-10 weeks).
  const target =
    plan.dueAt !== undefined ? plan.dueAt - rng.float(2, 14) * DAY : raisedAt + rng.float(21, 70) * DAY
  plan.closedAt = sec(Math.max(plan.startedAt + DAY, target))
  if (plan.dueAt !== undefined && plan.closedAt > plan.dueAt) plan.closedAt = plan.dueAt - HOUR
  if (kind === 'major_nc' || kind === 'minor_nc')
    plan.verifiedAt = sec(plan.closedAt + rng.float(3, 12) * DAY)
  // A finding still open at `now` must not be overdue: push its deadline past `now` when needed.
  if (plan.dueAt !== undefined && plan.closedAt > now && plan.dueAt <= now) {
    plan.dueAt = sec(now + rng.float(5, 20) * DAY)
  }
  return plan
}

function emitFinding(sink: EventSink, plan: FindingPlan, now: number): void {
  const steps: [AuditFindingData['status'], number | undefined][] = [
    ['open', plan.raisedAt],
    ['in_progress', plan.startedAt],
    ['closed', plan.closedAt],
    ['verified', plan.verifiedAt],
  ]
  for (const [status, at] of steps) {
    if (at === undefined || at > now) continue
    sink.add<AuditFindingEvent>(
      AUDIT_FINDING_TYPE,
      demoSources.audit,
      plan.findingId,
      at,
      status,
      findingData(plan, status),
    )
  }
}

function findingData(plan: FindingPlan, status: AuditFindingData['status']): AuditFindingData {
  const data: AuditFindingData = {
    findingId: plan.findingId,
    auditId: plan.auditId,
    auditType: plan.auditType,
    standard: plan.standard,
    clause: plan.clause,
    kind: plan.kind,
    status,
    title: plan.title,
    owner: plan.owner,
    businessUnit: plan.businessUnit,
    raisedAt: iso(plan.raisedAt),
  }
  if (plan.dueAt !== undefined) data.dueAt = iso(plan.dueAt)
  if (status === 'closed' || status === 'verified') data.closedAt = iso(plan.closedAt!)
  if (plan.repeatOf !== undefined) data.repeatOf = plan.repeatOf
  return data
}

function planAudits(rng: Rng, start: number, now: number): FindingPlan[] {
  const span = now - start
  const a = SCENARIO.audit
  const internalAt = start + 0.1 * span
  const certAt = start + 0.5 * span
  const followUpAt = now - Math.min(0.15 * span, 18 * DAY)
  const plans: FindingPlan[] = []
  // Findings of one audit are raised over its 2-3 days, in order.
  const raise = (seeds: FindingSeed[], auditId: string, type: AuditFindingData['auditType'], at: number) =>
    seeds.forEach((s, i) => {
      plans.push(planFinding(rng, s, auditId, type, at + i * 5 * HOUR + rng.int(0, 90) * MINUTE, now))
    })
  raise(internalFindings, a.internalAuditId, 'internal', internalAt)
  raise(certificationFindings, a.certificationAuditId, 'certification', certAt)
  raise(followUpFindings, a.followUpAuditId, 'internal', followUpAt)

  const byId = new Map(plans.map((p) => [p.findingId, p]))
  // The repeat chain on one control: each later finding repeats the one before.
  const chain = a.repeatControl.findingIds
  for (let i = 1; i < chain.length; i++) byId.get(chain[i]!)!.repeatOf = chain[i - 1]
  // The second repeat is fresh: work started, deadline ahead.
  const second = byId.get(chain[2])!
  second.dueAt = sec(Math.max(now + 25 * DAY, second.raisedAt + 30 * DAY))
  second.closedAt = undefined
  second.verifiedAt = undefined
  // The overdue corrective action: raised at the certification audit, still open, due 9 days ago.
  const overdue = byId.get(a.overdueFinding.findingId)!
  overdue.dueAt = sec(Math.max(overdue.raisedAt + DAY, now - a.overdueFinding.overdueDaysAtNow * DAY))
  overdue.startedAt = undefined
  overdue.closedAt = undefined
  overdue.verifiedAt = undefined
  return plans
}

// ───────────────────────────── history ─────────────────────────────

function checkOptions(seed: Seed, now: Date): number {
  if (typeof seed === 'number' && !Number.isFinite(seed)) throw new RangeError('seed must be a finite number')
  const t = now.getTime()
  if (!Number.isFinite(t)) throw new RangeError('now must be a valid Date')
  return t
}

/**
 * The demo history: every event from `months` before `now` up to `now`, in time order. Pure and
 * deterministic in (seed, now, months).
 */
export function generateHistory(opts: GenerateHistoryOptions): DemoEvent[] {
  const now = checkOptions(opts.seed, opts.now)
  if (!Number.isFinite(opts.months) || opts.months < 1 || opts.months > 36) {
    throw new RangeError(`months must be between 1 and 36, got ${opts.months}`)
  }
  const start = now - opts.months * MONTH
  const seed = seedText(opts.seed)
  // Ids hash the seed and `now` too: a history for another `now` is another story and must not collide.
  const sink = new EventSink(`${seed}|history@${now}`)
  for (const plan of planIncidents(new Rng(`${seed}|incidents`), start, now)) emitIncident(sink, plan, now)
  emitModelHistory(sink, new Rng(`${seed}|models`), start, now)
  const auditRng = new Rng(`${seed}|audit`)
  for (const plan of planAudits(auditRng, start, now)) emitFinding(sink, plan, now)
  return sink.sorted()
}

// ───────────────────────────── live ─────────────────────────────

interface LiveIncident {
  plan: IncidentPlan
  step: number
}

interface LiveFinding {
  plan: FindingPlan
  step: number
}

const MAX_OPEN_LIVE = 500

/**
 * Live events after the history: production evaluations of the three models at their latest version
 * (healthy ones stay healthy, resume-screener keeps its gender breach), new minor incidents running
 * their lifecycle, and new low-stakes audit findings with deadlines well ahead. It never touches the
 * scenario's entities, so every scenario fact stays true while it runs.
 */
export function createLiveGenerator(opts: LiveGeneratorOptions): LiveGenerator {
  const nowMs = checkOptions(opts.seed, opts.now)
  const seed = `${seedText(opts.seed)}|live@${nowMs}`
  const rng = new Rng(seed)
  const tag = shortTag(seedText(opts.seed), String(nowMs))
  const incidents: LiveIncident[] = []
  const findings: LiveFinding[] = []
  let emitted = 0
  let incidentCount = 0
  let findingCount = 0
  let lastAt = nowMs

  function emit(build: (sink: EventSink, at: number) => void, at: number): DemoEvent {
    // The sequence number keeps ids unique even when many events share one millisecond.
    const sink = new EventSink(`${seed}#${emitted}`)
    build(sink, at)
    const [event] = sink.sorted()
    if (!event) throw new Error('live generator produced no event')
    emitted++
    return event
  }

  function modelEvent(sink: EventSink, at: number): void {
    const spec = rng.weighted<ModelSpec>([
      [modelSpecs[1]!, 4],
      [modelSpecs[0]!, 3],
      [modelSpecs[2]!, 3],
    ])
    const v = spec.versions[spec.versions.length - 1]!
    // Hourly-ish rolling evaluations; enough samples that rounding never blurs a group's rate.
    const [lo, hi] = spec.dailySamples
    const samples = Math.max(600, Math.round(rng.int(lo, hi) / 12))
    const windowMinutes = spec.modelId === 'resume-screener' ? 360 : 60
    emitEvaluation(sink, rng, spec, v, 'production', at - windowMinutes * MINUTE, at, at, samples)
  }

  function newIncident(sink: EventSink, at: number): void {
    incidentCount++
    const businessUnit = rng.pick(businessUnits)
    const category = rng.weighted(categoriesByUnit[businessUnit])
    const severity = rng.weighted<Severity>([
      ['low', 55],
      ['medium', 37],
      ['high', 7],
      ['critical', 1],
    ])
    const records = recordsFor(rng, severity)
    const notifiable = records > 0 && (severity === 'critical' || (severity === 'high' && rng.chance(0.3)))
    const detectedAt = at - rng.int(1, 30) * MINUTE
    const plan: IncidentPlan = {
      incidentId: `INC-L${tag}-${incidentCount}`,
      severity,
      category,
      businessUnit,
      occurredAt: detectedAt - rng.int(5, 720) * MINUTE,
      detectedAt: sec(detectedAt),
      notifiable,
      records,
      subjects: records === 0 ? 0 : Math.max(1, Math.round(records * rng.float(0.35, 1))),
      controls: controlsFor(category, notifiable),
    }
    if (category === 'ai_data_exposure') plan.aiSystemId = rng.pick(aiSystems)
    incidents.push({ plan, step: 0 })
    sink.add<PrivacyIncidentEvent>(
      PRIVACY_INCIDENT_TYPE,
      demoSources.privacy,
      plan.incidentId,
      at,
      'detected',
      incidentData(plan, 'detected', at),
    )
  }

  function advanceIncident(sink: EventSink, at: number): void {
    // Oldest first, so notifiable ones are notified within seconds of containment.
    const i = rng.next() < 0.7 ? 0 : rng.int(0, incidents.length - 1)
    const live = incidents[i]!
    const p = live.plan
    const order: PrivacyIncidentData['status'][] = p.notifiable
      ? ['contained', 'notified', 'resolved', 'closed']
      : ['contained', 'resolved', 'closed']
    const status = order[live.step]!
    const t = Math.max(at, p.detectedAt + 1000)
    if (status === 'contained') p.containedAt = t
    else if (status === 'notified') p.notifiedAt = t
    else if (status === 'resolved') p.resolvedAt = t
    else p.closedAt = t
    live.step++
    if (live.step >= order.length) incidents.splice(i, 1)
    sink.add<PrivacyIncidentEvent>(
      PRIVACY_INCIDENT_TYPE,
      demoSources.privacy,
      p.incidentId,
      at,
      status,
      incidentData(p, status, t),
    )
  }

  function newFinding(sink: EventSink, at: number): void {
    findingCount++
    const kind = rng.weighted<Kind>([
      ['minor_nc', 2],
      ['observation', 4],
      ['ofi', 4],
    ])
    const [standard, clause, title] = rng.pick<[AuditFindingData['standard'], string, string]>([
      ['ISO27001', 'A.8.9', 'Configuration baseline drift on build agents'],
      ['ISO27001', 'A.5.23', 'Cloud service exit plan not reviewed this year'],
      ['ISO27001', 'A.8.13', 'Backup restore test evidence older than 6 months'],
      ['ISO27001', 'A.6.3', 'Phishing simulation completion below target in one team'],
      ['ISO42001', 'A.6.2.4', 'Validation report missing sign-off for a minor model release'],
      ['ISO42001', 'A.7.5', 'Data provenance record incomplete for one feature source'],
      ['ISO42001', 'A.10.3', 'Supplier AI questionnaire pending for a labelling vendor'],
    ])
    const due = dueDays[kind]
    const plan: FindingPlan = {
      findingId: `F-L${tag}-${findingCount}`,
      auditId: `AUD-CONT-${tag}`,
      auditType: 'internal',
      standard,
      clause,
      kind,
      title,
      owner: rng.pick(['M. Keller (IT Operations)', 'A. Rahman (ML Platform)', 'J. Novak (Internal Audit)']),
      businessUnit: rng.pick(businessUnits),
      raisedAt: at,
      ...(due !== undefined ? { dueAt: sec(at + due * DAY) } : {}),
    }
    findings.push({ plan, step: 0 })
    sink.add<AuditFindingEvent>(
      AUDIT_FINDING_TYPE,
      demoSources.audit,
      plan.findingId,
      at,
      'open',
      findingData(plan, 'open'),
    )
  }

  function advanceFinding(sink: EventSink, at: number): void {
    const i = rng.int(0, findings.length - 1)
    const live = findings[i]!
    const p = live.plan
    const status = (['in_progress', 'closed', 'verified'] as const)[live.step]!
    if (status === 'in_progress') p.startedAt = at
    else if (status === 'closed') p.closedAt = at
    else p.verifiedAt = at
    live.step++
    if (live.step >= 3) findings.splice(i, 1)
    sink.add<AuditFindingEvent>(
      AUDIT_FINDING_TYPE,
      demoSources.audit,
      p.findingId,
      at,
      status,
      findingData(p, status),
    )
  }

  return {
    get emitted() {
      return emitted
    },
    next(atDate: Date): DemoEvent {
      let at = atDate.getTime()
      if (!Number.isFinite(at)) throw new RangeError('at must be a valid Date')
      // Lifecycle times must not go backwards for an entity; clamp a clock that stepped back.
      if (at < lastAt) at = lastAt
      lastAt = at
      const r = rng.next()
      if (r < 0.5) return emit(modelEvent, at)
      if (r < 0.88) {
        const advance = incidents.length > 0 && (incidents.length >= MAX_OPEN_LIVE || rng.chance(0.62))
        return emit(advance ? advanceIncident : newIncident, at)
      }
      const advance = findings.length > 0 && (findings.length >= MAX_OPEN_LIVE || rng.chance(0.6))
      return emit(advance ? advanceFinding : newFinding, at)
    },
  }
}
