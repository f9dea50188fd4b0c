import { type ClickHouse, queryRows } from '../../shared/clickhouse/client.js'
import { access, areasOf, type Principal } from '../../shared/http/auth/roles.js'
import { BadRequestError, ForbiddenError, NotFoundError } from '../../shared/http/errors.js'
import { protectedErrors } from '../../shared/http/schemas.js'
import type { HttpArea, HttpServer } from '../../shared/http/server.js'
import type { KpiDefinition } from '../../shared/kpi/catalog.js'
import { type AimsConfig, resolveThresholds } from '../../shared/kpi/thresholds.js'
import {
  breachesQuery,
  breachesResponse,
  breachIdParams,
  breachResponse,
  deadLettersQuery,
  deadLettersResponse,
  historyQuery,
  historyResponse,
  kpiIdParams,
  kpiListQuery,
  kpiListResponse,
  kpiQuery,
  kpiResponse,
} from './api-schemas.js'
import { nonconformityOf } from './nonconformity/link.js'

/**
 * The read API: JSON over the processor's HTTP server, for the review page, Grafana-less operators and
 * scripts. Every route declares its parameters (validated: a bad one is a 400 naming it), the roles it
 * accepts, and its place in the OpenAPI document (`/api/openapi.json`, generated from these declarations).
 * KPI-shaped answers hold only the areas the caller's roles cover.
 */

const toChTime = (iso: string) => new Date(iso).toISOString().replace('T', ' ').replace('Z', '')

export interface ReadApiDeps {
  ch: ClickHouse
  kpis: readonly KpiDefinition[]
  config: AimsConfig | undefined
  /** How far back a series' latest value still counts as current (a few sweep intervals). */
  currentWindowMs: number
  clock: () => Date
  /** Raw payload bytes per dead letter shown to admins (HTTP_DEAD_LETTER_PAYLOAD_BYTES). Default 2048. */
  deadLetterPayloadBytes?: number
}

interface SeriesRow {
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

/**
 * What a value rests on: its sample size and confidence interval (fairness KPIs), why it has none
 * (status insufficient_data) or what else to know (`reason`: lines of `code: detail`), and the level its
 * value reaches that its interval does not confirm (interval policy: shown, not paged).
 */
export function uncertaintyOf(r: Pick<SeriesRow, 'n' | 'ci_low' | 'ci_high' | 'reason'>) {
  const codes = r.reason ? r.reason.split('\n').map((l) => l.split(':', 1)[0]!.trim()) : []
  const uncertain = codes.includes('uncertain_critical')
    ? 'critical'
    : codes.includes('uncertain_warning')
      ? 'warning'
      : null
  return {
    n: r.n === null || r.n === undefined ? null : Number(r.n),
    ciLow: r.ci_low ?? null,
    ciHigh: r.ci_high ?? null,
    reason: r.reason || null,
    uncertain,
  }
}

/**
 * The latest value of every KPI series evaluated since `{since}`, from kpi_current (one row per series
 * once merged). The aggregate's alias must not be a column name used in WHERE (ClickHouse would
 * substitute the aggregate there), hence `last_evaluated_at`; nullable values go through a tuple so a
 * latest NULL stays NULL.
 */
export const CURRENT_SERIES_SQL = `
SELECT kpi_id, fingerprint,
       argMax(scope, evaluated_at) AS scope,
       argMax(tuple(value), evaluated_at).1 AS value,
       argMax(status, evaluated_at) AS status,
       argMax(tuple(warning_threshold), evaluated_at).1 AS warning_threshold,
       argMax(tuple(critical_threshold), evaluated_at).1 AS critical_threshold,
       argMax(tuple(n), evaluated_at).1 AS n,
       argMax(tuple(ci_low), evaluated_at).1 AS ci_low,
       argMax(tuple(ci_high), evaluated_at).1 AS ci_high,
       argMax(reason, evaluated_at) AS reason,
       max(evaluated_at) AS last_evaluated_at
FROM kpi_current
WHERE evaluated_at >= {since:DateTime64(3)}
GROUP BY kpi_id, fingerprint
ORDER BY kpi_id, fingerprint`

/**
 * One row per breach episode, its latest state, and how delivering its alerts went. `{kpis}` is a
 * comma-separated list of the KPI ids the caller may see ('' = all).
 */
export const BREACHES_SQL = `
SELECT b.*, d.delivered, d.failed_attempts, d.last_failure
FROM (
  SELECT breach_id,
         any(fingerprint) AS fingerprint,
         any(kpi_id) AS kpi_id,
         any(scope) AS scope,
         min(started_at) AS started_at,
         argMax(transition, (at, multiIf(transition = 'resolved', 3, transition = 'escalated', 2, 1))) AS last_transition,
         max(severity) AS severity_rank_text,
         maxIf(at, transition = 'resolved') AS resolved_at_raw,
         countIf(transition = 'resolved') > 0 AS resolved,
         argMax(value, at) AS value,
         argMax(threshold, at) AS threshold,
         groupArray((transition, severity, at)) AS transitions,
         any(condition) AS condition
  FROM (SELECT DISTINCT transition_id, breach_id, fingerprint, kpi_id, scope, transition, severity, value, threshold, started_at, at, condition
        FROM breach_transitions
        WHERE ({kpi:String} = '' OR kpi_id = {kpi:String})
          AND ({kpis:String} = '' OR has(splitByChar(',', {kpis:String}), kpi_id)))
  GROUP BY breach_id
) AS b
LEFT JOIN (
  SELECT splitByChar('-', transition_id)[1] || '-' || splitByChar('-', transition_id)[2] AS breach_id,
         countIf(outcome = 'ok') AS delivered,
         countIf(outcome IN ('retryable', 'permanent')) AS failed_attempts,
         argMaxIf(reason, attempted_at, outcome IN ('retryable', 'permanent')) AS last_failure
  FROM alert_deliveries
  GROUP BY breach_id
) AS d USING (breach_id)
WHERE started_at >= {since:DateTime64(3)}
  AND ({state:String} = 'all' OR ({state:String} = 'open') = NOT resolved)
ORDER BY started_at DESC
LIMIT {limit:UInt32}`

/**
 * Dead letters, newest first, one row per Kafka offset. Large columns are cut in ClickHouse so that a
 * megabyte payload never leaves it whole: the value to `{cap}` bytes, the reason and key to a few KB,
 * the headers to 16 entries. Non-admins get no value and no headers (`{raw}` = 0).
 */
export const DEAD_LETTERS_SQL = `
SELECT received_at, topic, partition, toString(offset) AS offset,
       if(key IS NULL, NULL, substringUTF8(assumeNotNull(key), 1, 256)) AS key,
       error_type, substringUTF8(reason, 1, 2000) AS reason,
       length(tryBase64Decode(value_base64)) AS value_bytes,
       if({raw:UInt8} = 1, base64Encode(substring(tryBase64Decode(value_base64), 1, {cap:UInt32})), '') AS value_head,
       if({raw:UInt8} = 1,
          mapFromArrays(arrayMap(k -> substringUTF8(k, 1, 128), arraySlice(mapKeys(headers), 1, 16)),
                        arrayMap(v -> substringUTF8(v, 1, 512), arraySlice(mapValues(headers), 1, 16))),
          map()) AS headers_head
FROM dead_letters
WHERE received_at >= {since:DateTime64(3)}
  AND ({topic:String} = '' OR topic = {topic:String})
  AND ({error_type:String} = '' OR error_type = {error_type:String})
ORDER BY received_at DESC, topic, partition, offset
LIMIT 1 BY topic, partition, offset
LIMIT {limit:UInt32}`

export function describeKpi(k: KpiDefinition) {
  return {
    id: k.id,
    title: k.title,
    description: k.description,
    unit: k.unit,
    direction: k.direction,
    area: k.area,
    scope: k.scope,
    window: k.window,
    thresholds: {
      op: k.thresholds.op,
      warning: k.thresholds.warning,
      critical: k.thresholds.critical,
      for: k.thresholds.for,
    },
    iso: k.iso,
  }
}

const readApi: HttpArea<ReadApiDeps> = async (app, deps) => {
  const { ch } = deps
  const byId = new Map(deps.kpis.map((k) => [k.id, k]))
  const visible = (p: Principal | undefined) => {
    const areas = areasOf(p)
    return deps.kpis.filter((k) => areas.has(k.area))
  }
  /** The KPI named in the path, if the caller may see its area. */
  const kpiFor = (id: string, p: Principal | undefined): KpiDefinition => {
    const kpi = byId.get(id)
    if (!kpi) throw new NotFoundError('unknown KPI')
    if (!areasOf(p).has(kpi.area)) throw new ForbiddenError(`KPIs of area ${kpi.area} are not for your role`)
    return kpi
  }

  const currentSeries = async (): Promise<SeriesRow[]> =>
    queryRows<SeriesRow>(ch, CURRENT_SERIES_SQL, {
      since: toChTime(new Date(deps.clock().getTime() - deps.currentWindowMs).toISOString()),
    })

  app.get(
    '/api/openapi.json',
    { schema: { querystring: kpiQuery }, config: { access: access.anyReader } },
    async () => app.swagger(),
  )

  app.get(
    '/api/kpis',
    {
      schema: {
        summary: 'Every KPI of the catalog with its current series',
        tags: ['kpis'],
        querystring: kpiListQuery,
        response: { 200: kpiListResponse, ...protectedErrors },
      },
      config: { access: access.anyReader },
    },
    async (req) => {
      const q = req.query
      const series = await currentSeries()
      const kpis = visible(req.auth?.principal)
        .filter((k) => !q.area || k.area === q.area)
        .map((k) => ({
          ...describeKpi(k),
          series: series
            .filter((s) => s.kpi_id === k.id && (!q.status || s.status === q.status))
            .map((s) => ({
              fingerprint: s.fingerprint,
              scope: s.scope,
              value: s.value,
              status: s.status,
              ...uncertaintyOf(s),
              thresholds: resolveThresholdsFor(k, s.scope, deps.config),
              evaluatedAt: s.last_evaluated_at,
            })),
        }))
      return { generatedAt: deps.clock().toISOString(), kpis }
    },
  )

  app.get(
    '/api/kpis/:id/history',
    {
      schema: {
        summary: 'Values of a KPI over a time range',
        tags: ['kpis'],
        params: kpiIdParams,
        querystring: historyQuery,
        response: { 200: historyResponse, ...protectedErrors },
      },
      config: { access: access.anyReader },
    },
    async (req) => {
      const kpi = kpiFor(req.params.id, req.auth?.principal)
      const q = req.query
      const to = q.to ?? deps.clock().toISOString()
      const from = q.from ?? new Date(Date.parse(to) - 30 * 24 * 3600 * 1000).toISOString()
      if (Date.parse(from) > Date.parse(to)) throw new BadRequestError(['from: must not be after to'])
      const points = await queryRows<Record<string, unknown>>(
        ch,
        // Live values and the backfilled history (npm run backfill, event-time axis) form one trend.
        `SELECT DISTINCT evaluated_at, fingerprint, scope, value, status, n, ci_low, ci_high, reason
         FROM (
           SELECT evaluated_at, fingerprint, scope, value, status, n, ci_low, ci_high, reason
           FROM kpi_values
           WHERE kpi_id = {kpi:String} AND evaluated_at BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)}
             AND ({fp:String} = '' OR fingerprint = {fp:String})
           UNION ALL
           SELECT as_of AS evaluated_at, fingerprint, scope, value, status, n, ci_low, ci_high, reason
           FROM kpi_history FINAL
           WHERE axis = 'event_time' AND kpi_id = {kpi:String}
             AND as_of BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)}
             AND ({fp:String} = '' OR fingerprint = {fp:String})
         )
         ORDER BY evaluated_at DESC, fingerprint LIMIT {limit:UInt32}`,
        {
          kpi: kpi.id,
          from: toChTime(from),
          to: toChTime(to),
          fp: q.fingerprint ?? '',
          limit: q.limit,
        },
      )
      return { kpi: describeKpi(kpi), from, to, points: points.reverse() }
    },
  )

  app.get(
    '/api/kpis/:id',
    {
      schema: {
        summary: 'One KPI and its current series',
        tags: ['kpis'],
        params: kpiIdParams,
        querystring: kpiQuery,
        response: { 200: kpiResponse, ...protectedErrors },
      },
      config: { access: access.anyReader },
    },
    async (req) => {
      const kpi = kpiFor(req.params.id, req.auth?.principal)
      const series = (await currentSeries()).filter((s) => s.kpi_id === kpi.id)
      return { ...describeKpi(kpi), series: series.map((s) => ({ ...s })) }
    },
  )

  app.get(
    '/api/breaches',
    {
      schema: {
        summary: 'Breaches (open, resolved or all) with transitions and delivery status',
        tags: ['breaches'],
        querystring: breachesQuery,
        response: { 200: breachesResponse, ...protectedErrors },
      },
      config: { access: access.anyReader },
    },
    async (req) => {
      const q = req.query
      const mine = visible(req.auth?.principal)
      const rows = await queryRows<Record<string, unknown>>(ch, BREACHES_SQL, {
        kpi: q.kpi ?? '',
        kpis: mine.length === deps.kpis.length ? '' : mine.map((k) => k.id).join(',') || '-',
        state: q.state,
        since: toChTime(q.since ?? '1970-01-01T00:00:00Z'),
        limit: q.limit,
      })
      return { breaches: rows.map((r) => presentBreach(r, byId)) }
    },
  )

  app.get(
    '/api/breaches/:id',
    {
      schema: {
        summary: 'One breach: its transitions and every alert delivery attempt',
        tags: ['breaches'],
        params: breachIdParams,
        querystring: kpiQuery,
        response: { 200: breachResponse, ...protectedErrors },
      },
      config: { access: access.anyReader },
    },
    async (req) => {
      const id = req.params.id
      const transitions = await queryRows<Record<string, unknown> & { kpi_id: string }>(
        ch,
        `SELECT DISTINCT transition_id, kpi_id, scope, transition, severity, previous_severity, value, threshold, started_at, at
         FROM breach_transitions WHERE breach_id = {id:String} ORDER BY at`,
        { id },
      )
      if (transitions.length === 0) throw new NotFoundError('unknown breach')
      const kpi = byId.get(transitions[0]!.kpi_id)
      const area = kpi?.area ?? transitions[0]!.kpi_id.split('.')[0]
      if (!(areasOf(req.auth?.principal) as ReadonlySet<string>).has(area ?? '')) {
        throw new ForbiddenError(`breaches of area ${area} are not for your role`)
      }
      const deliveries = await queryRows<Record<string, unknown>>(
        ch,
        `SELECT attempted_at, transition_id, sink, attempt, outcome, status_code, reason, latency_ms
         FROM alert_deliveries WHERE startsWith(transition_id, {prefix:String}) ORDER BY attempted_at`,
        { prefix: `${id}-` },
      )
      return { breachId: id, transitions, deliveries, nonconformity: await nonconformityOf(ch, id) }
    },
  )

  const payloadCap = deps.deadLetterPayloadBytes ?? 2048
  app.get(
    '/api/dead-letters',
    {
      schema: {
        summary:
          'Rejected events with their reason, newest first; the raw value and headers (cut per row) for admins only',
        tags: ['dead letters'],
        querystring: deadLettersQuery,
        response: { 200: deadLettersResponse, ...protectedErrors },
      },
      config: { access: access.deadLetters },
    },
    async (req) => {
      const q = req.query
      const raw = req.auth?.principal.roles.has('admin') === true
      const rows = await queryRows<Record<string, unknown>>(ch, DEAD_LETTERS_SQL, {
        since: toChTime(q.since ?? '1970-01-01T00:00:00Z'),
        topic: q.topic ?? '',
        error_type: q.error_type ?? '',
        limit: q.limit,
        raw: raw ? 1 : 0,
        cap: payloadCap,
      })
      return {
        deadLetters: rows.map((r) => {
          const base = {
            received_at: String(r.received_at),
            topic: String(r.topic),
            partition: Number(r.partition),
            offset: String(r.offset),
            key: r.key === null || r.key === undefined ? null : String(r.key),
            error_type: String(r.error_type),
            reason: String(r.reason),
          }
          if (!raw) return base
          const bytes = Number(r.value_bytes)
          return {
            ...base,
            value_bytes: bytes,
            value_truncated: bytes > payloadCap,
            value_base64: String(r.value_head),
            headers: r.headers_head as Record<string, string>,
          }
        }),
      }
    },
  )
}

export function mountReadApi(http: HttpServer, deps: ReadApiDeps): void {
  http.register(readApi, deps)
}

function resolveThresholdsFor(
  k: KpiDefinition,
  scope: Record<string, string>,
  config: AimsConfig | undefined,
) {
  const th = resolveThresholds(k, scope, config)
  return { enabled: th.enabled, op: th.op, warning: th.warning, critical: th.critical, for: th.for }
}

function presentBreach(r: Record<string, unknown>, byId: Map<string, KpiDefinition>) {
  const transitions = (r.transitions as [string, string, string][]).map(([transition, severity, at]) => ({
    transition,
    severity,
    at,
  }))
  transitions.sort((a, b) => a.at.localeCompare(b.at))
  const severity = transitions.some((t) => t.severity === 'critical') ? 'critical' : 'warning'
  const kpi = byId.get(String(r.kpi_id))
  return {
    breachId: String(r.breach_id),
    fingerprint: r.fingerprint,
    kpi: { id: r.kpi_id, title: kpi?.title ?? String(r.kpi_id), unit: kpi?.unit ?? '', iso: kpi?.iso },
    scope: r.scope,
    state: r.resolved ? ('resolved' as const) : ('open' as const),
    severity: severity as 'warning' | 'critical',
    startedAt: r.started_at,
    resolvedAt: r.resolved ? r.resolved_at_raw : null,
    value: r.value,
    threshold: r.threshold,
    transitions,
    /** stale: the series' inputs stopped arriving (its own alert); value: the value crossed a threshold. */
    condition: r.condition === 'stale' ? ('stale' as const) : ('value' as const),
    delivery: {
      delivered: Number(r.delivered ?? 0),
      failedAttempts: Number(r.failed_attempts ?? 0),
      lastFailure: r.last_failure || null,
    },
  }
}
