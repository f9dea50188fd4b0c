import { z } from 'zod'
import { type ClickHouse, queryRows } from '../../shared/clickhouse/client.js'
import { modelEnvironments } from '../../shared/events/model-metrics.js'
import { access, areasOf } from '../../shared/http/auth/roles.js'
import { protectedErrors } from '../../shared/http/schemas.js'
import type { HttpArea, HttpServer } from '../../shared/http/server.js'
import { isIsoStandard, lookupReference, standardTitles } from '../../shared/iso/index.js'
import { formatNowParam, type KpiDefinition } from '../../shared/kpi/catalog.js'
import { findingState, incidentState, stateMergeSelect } from '../../shared/kpi/entity-state.js'
import { type AimsConfig, resolveThresholds } from '../../shared/kpi/thresholds.js'
import { factVocabulary } from '../../shared/kpi/vocabulary.js'
import { CURRENT_SERIES_SQL, uncertaintyOf } from './read-api.js'

/**
 * Read-API views for the review page (and anyone else): the scorecard, accuracy vs bias per model
 * version, notifiable incidents against the 72-hour rule, open nonconformities by standard and clause.
 * KPI-derived views read the latest value of each series (kpi_current: what the processor computed);
 * the incident and finding views read the entity state tables the KPIs are computed from
 * (shared/kpi/entity-state.ts), so they agree with the KPIs, lifecycle rules included.
 */

// ----- query parameters (also the OpenAPI parameters) ------------------------------------------------

export const scorecardQuery = z.strictObject({
  area: z.enum(['privacy', 'model', 'audit']).optional(),
})
export const modelsQuery = z.strictObject({
  model: z
    .string()
    .regex(/^[A-Za-z0-9._:/-]{1,200}$/, 'must be a model id')
    .optional(),
  /** The environment whose versions are shown; production unless asked. */
  environment: z.enum(modelEnvironments).default('production'),
})
export const incidentsQuery = z.strictObject({
  /** Notified incidents detected in the last `days` days; incidents still on the clock are always listed. */
  days: z.coerce.number().int().min(1).max(3650).default(90),
  limit: z.coerce.number().int().min(1).max(5000).default(200),
})
export const alertDeliveriesQuery = z.strictObject({
  state: z.enum(['open', 'all']).default('open'),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
})
export const nonconformitiesQuery = z.strictObject({
  standard: z.enum(['ISO27001', 'ISO42001']).optional(),
  kind: z.enum([factVocabulary.majorNc, factVocabulary.minorNc]).optional(),
})

// ----- responses: the top-level shape of each answer (keys not listed are dropped) ---------------------

/** insufficient_data (not estimable) ranks above ok: it never counts as healthy. */
const STATUSES = ['ok', 'warning', 'critical', 'no_data', 'insufficient_data', 'stale'] as const
export type Status = (typeof STATUSES)[number]

const row = z.looseObject({})
const statusCounts = z.object({
  ok: z.number(),
  warning: z.number(),
  critical: z.number(),
  no_data: z.number(),
  insufficient_data: z.number(),
  /** Series whose inputs stopped arriving (the config's lifecycle stale_after). */
  stale: z.number(),
})
export const scorecardResponse = z.object({
  generatedAt: z.string(),
  summary: statusCounts,
  kpis: z.array(
    z.looseObject({
      id: z.string(),
      title: z.string(),
      area: z.string(),
      status: z.enum(STATUSES),
      counts: statusCounts,
    }),
  ),
})
export const modelsResponse = z.object({
  generatedAt: z.string(),
  tolerance: row,
  models: z.array(z.looseObject({ modelId: z.string(), status: z.string(), versions: z.array(row) })),
})
export const incidentsResponse = z.object({
  generatedAt: z.string(),
  since: z.string(),
  deadlineHours: z.number(),
  warningHours: z.number(),
  summary: z.object({
    total: z.number(),
    notifiedOnTime: z.number(),
    notifiedLate: z.number(),
    running: z.number(),
    overdue: z.number(),
  }),
  incidents: z.array(row),
})
export const alertDeliveriesResponse = z.object({ generatedAt: z.string(), breaches: z.array(row) })
export const nonconformitiesResponse = z.object({
  generatedAt: z.string(),
  totals: z.record(z.string(), z.object({ major: z.number(), minor: z.number(), overdue: z.number() })),
  groups: z.array(row),
})

// ----- SQL -------------------------------------------------------------------------------------------

/** Notifiable incidents (latest state): those detected since `{since}` and every one not yet notified. */
export const NOTIFIABLE_INCIDENTS_SQL = `
SELECT incident_id, severity, status, category, business_unit, detected_at, awareness_at,
       regulator_notified_at AS notified_at, records_affected
FROM (${stateMergeSelect(incidentState)})
WHERE notifiable AND (detected_at >= {since:DateTime64(3)} OR regulator_notified_at IS NULL)
ORDER BY detected_at DESC, incident_id
LIMIT {limit:UInt32}`

const quote = (values: readonly string[]) => values.map((v) => `'${v}'`).join(', ')

/** Open nonconformities (latest state of each finding), one row per finding. */
export const OPEN_NCS_SQL = `
SELECT finding_id, standard, clause, kind, status, title, owner, audit_id, raised_at, due_at,
       due_at IS NOT NULL AND due_at < {now:DateTime64(3)} AS overdue
FROM (${stateMergeSelect(findingState)})
WHERE kind IN (${quote([factVocabulary.majorNc, factVocabulary.minorNc])})
  AND status IN (${quote(factVocabulary.findingOpenStatuses)})
  AND ({standard:String} = '' OR standard = {standard:String})
  AND ({kind:String} = '' OR kind = {kind:String})
ORDER BY standard, clause, kind, raised_at, finding_id`

/**
 * How delivering the alerts of each breach went, from the alerter's log (one row per attempt per sink;
 * a plain MergeTree, so exact duplicate rows are removed first). The breach id is the transition id's
 * first two parts (fingerprint-startms). Outcomes: ok (delivered), retryable / permanent (failed),
 * throttled, skipped (already delivered by an earlier attempt).
 */
export const ALERT_DELIVERIES_SQL = `
SELECT breach_id,
       countIf(outcome IN ('ok', 'delivered')) AS delivered,
       countIf(outcome IN ('retryable', 'permanent')) AS failed_attempts,
       countIf(outcome = 'throttled') AS throttled,
       argMaxIf(reason, attempted_at, outcome IN ('retryable', 'permanent')) AS last_failure,
       argMax(outcome, attempted_at) AS last_outcome,
       max(attempted_at) AS last_attempt_at,
       arraySort(groupUniqArrayIf(sink, outcome IN ('ok', 'delivered'))) AS delivered_to
FROM (
  SELECT DISTINCT attempted_at, transition_id, sink, attempt, outcome, reason,
         arrayStringConcat(arraySlice(splitByChar('-', transition_id), 1, 2), '-') AS breach_id
  FROM alert_deliveries
)
WHERE {state:String} = 'all' OR breach_id IN (
  SELECT breach_id FROM breach_transitions GROUP BY breach_id HAVING countIf(transition = 'resolved') = 0
)
GROUP BY breach_id
ORDER BY last_attempt_at DESC
LIMIT {limit:UInt32}`

// ----- shapes ----------------------------------------------------------------------------------------

const RANK: Record<Status, number> = {
  no_data: 0,
  ok: 1,
  insufficient_data: 2,
  warning: 3,
  critical: 4,
  stale: 2.5,
}
const asStatus = (s: string): Status => (s in RANK ? (s as Status) : 'no_data')
const worse = (a: Status, b: Status): Status => (RANK[b] > RANK[a] ? b : a)

export interface SeriesRow {
  kpi_id: string
  fingerprint: string
  scope: Record<string, string>
  value: number | null
  status: string
  warning_threshold: number | null
  critical_threshold: number | null
  n: string | number | null
  ci_low: number | null
  ci_high: number | null
  reason: string
  last_evaluated_at: string
}

export interface ViewsDeps {
  ch: ClickHouse
  kpis: readonly KpiDefinition[]
  config: AimsConfig | undefined
  /** How far back a series' latest value still counts as current. */
  currentWindowMs: number
  clock: () => Date
}

const HOUR = 3_600_000
/** Units whose values add up across scopes (a total means something). */
const ADDITIVE_UNITS = new Set(['incidents', 'findings', 'records'])
const chTime = (d: Date) => formatNowParam(d)
const isoOf = (t: string | null | undefined): string | null =>
  t ? new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(t) ? t : `${t.replace(' ', 'T')}Z`).toISOString() : null
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v))

function isoRefs(k: KpiDefinition) {
  const refs = (standard: 'ISO27001' | 'ISO42001', ids: readonly string[]) =>
    ids.map((id) => ({ standard, id, title: lookupReference(standard, id)?.title ?? null }))
  return [...refs('ISO27001', k.iso.iso27001), ...refs('ISO42001', k.iso.iso42001)]
}

/** "Worse" series first: higher status, then the value furthest on the bad side of the KPI's direction. */
function worstSeries(k: KpiDefinition, series: SeriesRow[]): SeriesRow | undefined {
  const badness = (s: SeriesRow) =>
    s.value === null ? -Infinity : k.direction === 'lower_is_better' ? s.value : -s.value
  return [...series].sort(
    (a, b) =>
      RANK[asStatus(b.status)] - RANK[asStatus(a.status)] ||
      badness(b) - badness(a) ||
      a.fingerprint.localeCompare(b.fingerprint),
  )[0]
}

const FAIRNESS = {
  'model.demographic_parity_difference': 'demographicParityDifference',
  'model.disparate_impact_ratio': 'disparateImpactRatio',
  'model.equalized_odds_difference': 'equalizedOddsDifference',
  'model.accuracy_gap': 'accuracyGap',
} as const
type FairnessMetric = (typeof FAIRNESS)[keyof typeof FAIRNESS]
const PERFORMANCE = {
  'model.accuracy': 'accuracy',
  'model.precision': 'precision',
  'model.recall': 'recall',
  'model.f1': 'f1',
  'model.auc': 'auc',
  'model.accuracy_drop_points': 'accuracyDropPoints',
  'model.label_coverage': 'labelCoverage',
} as const
type PerformanceMetric = (typeof PERFORMANCE)[keyof typeof PERFORMANCE]

interface Measure extends ReturnType<typeof uncertaintyOf> {
  value: number | null
  status: Status
  warning: number | null
  critical: number | null
}
const measure = (s: SeriesRow): Measure => ({
  value: s.value,
  status: asStatus(s.status),
  warning: s.warning_threshold,
  critical: s.critical_threshold,
  ...uncertaintyOf(s),
})
/** A fairness metric as a gap (0 = perfectly fair): the ratio becomes 1 − ratio. */
const gapOf = (metric: FairnessMetric, v: number | null) =>
  v === null ? null : metric === 'disparateImpactRatio' ? 1 - v : v

const versionOrder = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true })

// ----- routes ----------------------------------------------------------------------------------------

const views: HttpArea<ViewsDeps> = async (app, deps) => {
  const { ch } = deps
  const byId = new Map(deps.kpis.map((k) => [k.id, k]))

  const latestSeries = (now: Date): Promise<SeriesRow[]> =>
    queryRows<SeriesRow>(ch, CURRENT_SERIES_SQL, {
      since: chTime(new Date(now.getTime() - deps.currentWindowMs)),
    })

  const defaults = (id: string) => {
    const k = byId.get(id)
    return k ? resolveThresholds(k, {}, deps.config) : undefined
  }

  app.get(
    '/api/views/scorecard',
    {
      schema: {
        summary:
          "One entry per KPI: its worst current status (ok, warning, critical, no_data), worst series, thresholds and ISO references with titles; only the areas of the caller's roles",
        tags: ['views'],
        querystring: scorecardQuery,
        response: { 200: scorecardResponse, ...protectedErrors },
      },
      config: { access: access.anyReader },
    },
    async (req) => {
      const q = req.query
      const now = deps.clock()
      const series = await latestSeries(now)
      const areas = areasOf(req.auth?.principal)
      const kpis = deps.kpis
        .filter((k) => areas.has(k.area) && (!q.area || k.area === q.area))
        .map((k) => {
          const mine = series.filter((s) => s.kpi_id === k.id)
          const counts: Record<Status, number> = {
            ok: 0,
            warning: 0,
            critical: 0,
            no_data: 0,
            insufficient_data: 0,
            stale: 0,
          }
          let status: Status = 'no_data'
          for (const s of mine) {
            const st = asStatus(s.status)
            counts[st]++
            status = worse(status, st)
          }
          const worst = worstSeries(k, mine)
          const additive = ADDITIVE_UNITS.has(k.unit) && k.scope.length > 0
          const values = mine.map((s) => s.value).filter((v): v is number => v !== null)
          const th = resolveThresholds(k, worst?.scope ?? {}, deps.config)
          return {
            id: k.id,
            title: k.title,
            description: k.description,
            area: k.area,
            unit: k.unit,
            direction: k.direction,
            window: k.window,
            status,
            counts,
            series: mine.length,
            /** For counts split by scope (incidents by severity, NCs by clause): the sum over the series. */
            total: additive && values.length ? values.reduce((a, b) => a + b, 0) : null,
            worst: worst
              ? {
                  scope: worst.scope,
                  value: worst.value,
                  status: asStatus(worst.status),
                  ...uncertaintyOf(worst),
                  evaluatedAt: isoOf(worst.last_evaluated_at),
                }
              : null,
            thresholds: {
              op: k.thresholds.op,
              warning: worst ? worst.warning_threshold : th.warning,
              critical: worst ? worst.critical_threshold : th.critical,
            },
            iso: isoRefs(k),
          }
        })
      const overall: Record<Status, number> = {
        ok: 0,
        warning: 0,
        critical: 0,
        no_data: 0,
        insufficient_data: 0,
        stale: 0,
      }
      for (const k of kpis) overall[k.status]++
      return { generatedAt: now.toISOString(), summary: overall, kpis }
    },
  )

  app.get(
    '/api/views/models',
    {
      schema: {
        summary:
          'Per model and version: accuracy, the fairness metrics per protected attribute, the worst fairness gap (1 − disparate impact ratio counted as a gap) and whether the version is out of tolerance',
        tags: ['views'],
        querystring: modelsQuery,
        response: { 200: modelsResponse, ...protectedErrors },
      },
      config: { access: access.models },
    },
    async (req) => {
      const q = req.query
      const now = deps.clock()
      const series = (await latestSeries(now)).filter(
        (s) =>
          (Object.hasOwn(FAIRNESS, s.kpi_id) || Object.hasOwn(PERFORMANCE, s.kpi_id)) &&
          byId.has(s.kpi_id) &&
          s.scope.model_id &&
          s.scope.model_version &&
          (s.scope.environment ?? 'production') === q.environment &&
          (!q.model || s.scope.model_id === q.model),
      )
      type Version = {
        modelVersion: string
        performance: Partial<Record<PerformanceMetric, Measure>>
        attributes: Map<string, Partial<Record<FairnessMetric, Measure>>>
      }
      const models = new Map<string, Map<string, Version>>()
      for (const s of series) {
        const modelId = s.scope.model_id!
        const modelVersion = s.scope.model_version!
        const versions = models.get(modelId) ?? new Map<string, Version>()
        models.set(modelId, versions)
        const v: Version = versions.get(modelVersion) ?? {
          modelVersion,
          performance: {},
          attributes: new Map(),
        }
        versions.set(modelVersion, v)
        if (Object.hasOwn(PERFORMANCE, s.kpi_id)) {
          v.performance[PERFORMANCE[s.kpi_id as keyof typeof PERFORMANCE]] = measure(s)
        } else {
          const attribute = s.scope.attribute ?? ''
          const a: Partial<Record<FairnessMetric, Measure>> = v.attributes.get(attribute) ?? {}
          v.attributes.set(attribute, a)
          a[FAIRNESS[s.kpi_id as keyof typeof FAIRNESS]] = measure(s)
        }
      }

      const present = (v: Version) => {
        let worstFairness: { attribute: string; metric: FairnessMetric; gap: number } | null = null
        let disparateImpact: { attribute: string; ratio: number; gap: number } | null = null
        let fairnessStatus: Status = 'no_data'
        const breachedMetrics: string[] = []
        /** Not estimable (status insufficient_data) and beyond a level without the interval confirming it. */
        const insufficientMetrics: string[] = []
        const uncertainMetrics: string[] = []
        const attributes = [...v.attributes.entries()]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([attribute, metrics]) => {
            let status: Status = 'no_data'
            let worst: { metric: FairnessMetric; gap: number } | null = null
            for (const metric of Object.values(FAIRNESS)) {
              const m = metrics[metric]
              if (!m) continue
              status = worse(status, m.status)
              if (RANK[m.status] >= RANK.warning) breachedMetrics.push(`${metric}:${attribute}`)
              if (m.status === 'insufficient_data') insufficientMetrics.push(`${metric}:${attribute}`)
              if (m.uncertain) uncertainMetrics.push(`${metric}:${attribute}`)
              const gap = gapOf(metric, m.value)
              if (gap !== null && (!worst || gap > worst.gap)) worst = { metric, gap }
            }
            fairnessStatus = worse(fairnessStatus, status)
            if (worst && (!worstFairness || worst.gap > worstFairness.gap))
              worstFairness = { attribute, ...worst }
            const dir = metrics.disparateImpactRatio?.value
            if (dir !== undefined && dir !== null && (!disparateImpact || dir < disparateImpact.ratio)) {
              disparateImpact = { attribute, ratio: dir, gap: 1 - dir }
            }
            return { attribute, status, worstGap: worst, ...metrics }
          })
        let performanceStatus: Status = 'no_data'
        const breachedPerformance: string[] = []
        for (const metric of Object.values(PERFORMANCE)) {
          const m = v.performance[metric]
          if (!m) continue
          performanceStatus = worse(performanceStatus, m.status)
          if (RANK[m.status] >= RANK.warning) breachedPerformance.push(metric)
        }
        breachedMetrics.unshift(...breachedPerformance)
        const status = worse(performanceStatus, fairnessStatus)
        return {
          modelVersion: v.modelVersion,
          ...v.performance,
          attributes,
          worstFairness,
          disparateImpact,
          performanceStatus,
          fairnessStatus,
          status,
          outOfTolerance: RANK[status] >= RANK.warning,
          breachedMetrics,
          insufficientMetrics,
          uncertainMetrics,
        }
      }

      const acc = defaults('model.accuracy')
      const dir = defaults('model.disparate_impact_ratio')
      const body = {
        generatedAt: now.toISOString(),
        tolerance: {
          accuracy: { warning: acc?.warning ?? null, critical: acc?.critical ?? null },
          disparateImpactRatio: { warning: dir?.warning ?? null, critical: dir?.critical ?? null },
          /** The largest tolerated 1 − disparate impact ratio (four-fifths rule: 0.2). */
          disparateImpactGap:
            dir?.warning === null || dir?.warning === undefined
              ? null
              : Math.round((1 - dir.warning) * 1e9) / 1e9,
        },
        models: [...models.entries()]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([modelId, versions]) => {
            const list = [...versions.values()].sort((a, b) => versionOrder(a.modelVersion, b.modelVersion))
            const presented = list.map(present)
            const latest = presented[presented.length - 1]
            return {
              modelId,
              latestVersion: latest?.modelVersion ?? null,
              status: latest?.status ?? 'no_data',
              versions: presented,
            }
          }),
      }
      return body
    },
  )

  app.get(
    '/api/views/incidents',
    {
      schema: {
        summary:
          'Notifiable privacy incidents against the GDPR Art. 33 72-hour rule: detected, aware and notified times, hours to notify or hours open from awareness (detection when no awareness time is given; latest state per incident)',
        tags: ['views'],
        querystring: incidentsQuery,
        response: { 200: incidentsResponse, ...protectedErrors },
      },
      config: { access: access.incidents },
    },
    async (req) => {
      const q = req.query
      const now = deps.clock()
      const since = new Date(now.getTime() - q.days * 24 * HOUR)
      const rows = await queryRows<Record<string, string | null>>(ch, NOTIFIABLE_INCIDENTS_SQL, {
        since: chTime(since),
        limit: q.limit,
      })
      const deadline = factVocabulary.notificationDeadlineHours
      const clockKpi = byId.get('privacy.notification_clock_hours')
      const clockTh = clockKpi ? resolveThresholds(clockKpi, {}, deps.config) : undefined
      const warningHours = clockTh?.warning ?? 48
      const summary = { total: 0, notifiedOnTime: 0, notifiedLate: 0, running: 0, overdue: 0 }
      const incidents = rows.reverse().map((r) => {
        const detectedAt = isoOf(r.detected_at)!
        const awarenessAt = isoOf(r.awareness_at)
        const notifiedAt = isoOf(r.notified_at)
        // The clock's start as the KPI has it (shared/kpi/engine/privacy.ts clockStart).
        const start = Date.parse(awarenessAt ?? detectedAt)
        const hoursToNotify = notifiedAt ? (Date.parse(notifiedAt) - start) / HOUR : null
        const hoursOpen = notifiedAt ? null : Math.max(0, (now.getTime() - start) / HOUR)
        const clockHours = (hoursToNotify ?? hoursOpen)!
        const state =
          hoursToNotify !== null
            ? hoursToNotify <= deadline
              ? 'notified_on_time'
              : 'notified_late'
            : clockHours >= deadline
              ? 'overdue'
              : 'running'
        const level: Status =
          state === 'notified_on_time'
            ? 'ok'
            : state === 'notified_late' || state === 'overdue'
              ? 'critical'
              : clockHours >= warningHours
                ? 'warning'
                : 'ok'
        summary.total++
        summary[
          (
            {
              notified_on_time: 'notifiedOnTime',
              notified_late: 'notifiedLate',
              running: 'running',
              overdue: 'overdue',
            } as const
          )[state]
        ]++
        return {
          incidentId: r.incident_id,
          severity: r.severity,
          status: r.status,
          category: r.category,
          businessUnit: r.business_unit,
          recordsAffected: num(r.records_affected),
          detectedAt,
          awarenessAt,
          notifiedAt,
          hoursToNotify,
          hoursOpen,
          clockHours,
          state,
          level,
        }
      })
      return {
        generatedAt: now.toISOString(),
        since: since.toISOString(),
        deadlineHours: deadline,
        warningHours,
        summary,
        incidents,
      }
    },
  )

  app.get(
    '/api/views/alert-deliveries',
    {
      schema: {
        summary:
          "Per breach, how delivering its alerts went: attempts delivered, failed, throttled, the sinks reached and the last failure's reason",
        tags: ['views'],
        querystring: alertDeliveriesQuery,
        response: { 200: alertDeliveriesResponse, ...protectedErrors },
      },
      config: { access: access.review },
    },
    async (req) => {
      const q = req.query
      const rows = await queryRows<Record<string, string | number | string[] | null>>(
        ch,
        ALERT_DELIVERIES_SQL,
        {
          state: q.state,
          limit: q.limit,
        },
      )
      return {
        generatedAt: deps.clock().toISOString(),
        breaches: rows.map((r) => ({
          breachId: r.breach_id,
          delivered: Number(r.delivered),
          failedAttempts: Number(r.failed_attempts),
          throttled: Number(r.throttled),
          lastFailure: r.last_failure || null,
          lastOutcome: r.last_outcome,
          lastAttemptAt: isoOf(r.last_attempt_at as string),
          deliveredTo: r.delivered_to,
        })),
      }
    },
  )

  app.get(
    '/api/views/nonconformities',
    {
      schema: {
        summary: 'Open nonconformities by standard, clause or Annex A control and kind, with their findings',
        tags: ['views'],
        querystring: nonconformitiesQuery,
        response: { 200: nonconformitiesResponse, ...protectedErrors },
      },
      config: { access: access.review },
    },
    async (req) => {
      const q = req.query
      const now = deps.clock()
      const rows = await queryRows<Record<string, string | number | boolean | null>>(ch, OPEN_NCS_SQL, {
        now: chTime(now),
        standard: q.standard ?? '',
        kind: q.kind ?? '',
      })
      type Group = {
        standard: string
        standardTitle: string | null
        clause: string
        clauseTitle: string | null
        kind: string
        open: number
        overdue: number
        findings: unknown[]
      }
      const groups = new Map<string, Group>()
      const totals: Record<string, { major: number; minor: number; overdue: number }> = {}
      for (const r of rows) {
        const standard = String(r.standard)
        const clause = String(r.clause)
        const kind = String(r.kind)
        const key = `${standard}\u0000${clause}\u0000${kind}`
        const g = groups.get(key) ?? {
          standard,
          standardTitle: isIsoStandard(standard) ? standardTitles[standard] : null,
          clause,
          clauseTitle: lookupReference(standard, clause)?.title ?? null,
          kind,
          open: 0,
          overdue: 0,
          findings: [],
        }
        groups.set(key, g)
        const overdue = Boolean(Number(r.overdue))
        g.open++
        if (overdue) g.overdue++
        g.findings.push({
          findingId: r.finding_id,
          title: r.title,
          owner: r.owner,
          auditId: r.audit_id,
          status: r.status,
          raisedAt: isoOf(r.raised_at as string),
          dueAt: isoOf(r.due_at as string | null),
          overdue,
        })
        const t = totals[standard] ?? { major: 0, minor: 0, overdue: 0 }
        totals[standard] = t
        if (kind === factVocabulary.majorNc) t.major++
        else t.minor++
        if (overdue) t.overdue++
      }
      return { generatedAt: now.toISOString(), totals, groups: [...groups.values()] }
    },
  )
}

export function mountViews(http: HttpServer, deps: ViewsDeps): void {
  http.register(views, deps)
}
