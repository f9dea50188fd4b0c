import { type ClickHouse, queryRows } from '../../shared/clickhouse/client.js'
import { parseQuery } from '../../shared/http/query.js'
import type { HttpServer } from '../../shared/http/server.js'
import type { KpiDefinition } from '../../shared/kpi/catalog.js'
import { type AimsConfig, resolveThresholds } from '../../shared/kpi/thresholds.js'
import { breachesQuery, deadLettersQuery, historyQuery, kpiListQuery } from './api-schemas.js'
import { openApiDocument } from './openapi.js'

/**
 * The read API: JSON over the processor's HTTP server, for the review page, Grafana-less operators and
 * scripts. Every query parameter is validated; a bad one gets 400 and the reason.
 */

const toChTime = (iso: string) => new Date(iso).toISOString().replace('T', ' ').replace('Z', '')

export interface ReadApiDeps {
  ch: ClickHouse
  kpis: readonly KpiDefinition[]
  config: AimsConfig | undefined
  /** How far back a series' latest value still counts as current (a few sweep intervals). */
  currentWindowMs: number
  clock: () => Date
}

interface SeriesRow {
  kpi_id: string
  fingerprint: string
  scope: Record<string, string>
  value: number | null
  status: string
  warning_threshold: number | null
  critical_threshold: number | null
  last_evaluated_at: string
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
       max(evaluated_at) AS last_evaluated_at
FROM kpi_current
WHERE evaluated_at >= {since:DateTime64(3)}
GROUP BY kpi_id, fingerprint
ORDER BY kpi_id, fingerprint`

/** One row per breach episode, its latest state, and how delivering its alerts went. */
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
         groupArray((transition, severity, at)) AS transitions
  FROM (SELECT DISTINCT transition_id, breach_id, fingerprint, kpi_id, scope, transition, severity, value, threshold, started_at, at
        FROM breach_transitions
        WHERE ({kpi:String} = '' OR kpi_id = {kpi:String}))
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

export function mountReadApi(http: HttpServer, deps: ReadApiDeps): void {
  const { ch } = deps
  const byId = new Map(deps.kpis.map((k) => [k.id, k]))
  const describe = (k: KpiDefinition) => ({
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
  })

  const currentSeries = async (): Promise<SeriesRow[]> =>
    queryRows<SeriesRow>(ch, CURRENT_SERIES_SQL, {
      since: toChTime(new Date(deps.clock().getTime() - deps.currentWindowMs).toISOString()),
    })

  http.route('GET', '/api/openapi.json', () => ({ status: 200, body: openApiDocument() }))

  http.route('GET', '/api/kpis', async (req) => {
    const q = parseQuery(kpiListQuery, req)
    if (!q.ok) return q.res
    const series = await currentSeries()
    const kpis = deps.kpis
      .filter((k) => !q.value.area || k.area === q.value.area)
      .map((k) => ({
        ...describe(k),
        series: series
          .filter((s) => s.kpi_id === k.id && (!q.value.status || s.status === q.value.status))
          .map((s) => ({
            fingerprint: s.fingerprint,
            scope: s.scope,
            value: s.value,
            status: s.status,
            thresholds: resolveThresholdsFor(k, s.scope, deps.config),
            evaluatedAt: s.last_evaluated_at,
          })),
      }))
    return { status: 200, body: { generatedAt: deps.clock().toISOString(), kpis } }
  })

  http.route('GET', '/api/kpis/:id/history', async (req) => {
    const kpi = byId.get(req.params.id ?? '')
    if (!kpi) return { status: 404, body: { error: `unknown KPI ${req.params.id}` } }
    const q = parseQuery(historyQuery, req)
    if (!q.ok) return q.res
    const to = q.value.to ?? deps.clock().toISOString()
    const from = q.value.from ?? new Date(Date.parse(to) - 30 * 24 * 3600 * 1000).toISOString()
    if (Date.parse(from) > Date.parse(to))
      return { status: 400, body: { error: 'bad request', reasons: ['from: must not be after to'] } }
    const points = await queryRows(
      ch,
      `SELECT DISTINCT evaluated_at, fingerprint, scope, value, status
       FROM kpi_values
       WHERE kpi_id = {kpi:String} AND evaluated_at BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)}
         AND ({fp:String} = '' OR fingerprint = {fp:String})
       ORDER BY evaluated_at DESC, fingerprint LIMIT {limit:UInt32}`,
      {
        kpi: kpi.id,
        from: toChTime(from),
        to: toChTime(to),
        fp: q.value.fingerprint ?? '',
        limit: q.value.limit,
      },
    )
    return { status: 200, body: { kpi: describe(kpi), from, to, points: points.reverse() } }
  })

  http.route('GET', '/api/kpis/:id', async (req) => {
    const kpi = byId.get(req.params.id ?? '')
    if (!kpi) return { status: 404, body: { error: `unknown KPI ${req.params.id}` } }
    const series = (await currentSeries()).filter((s) => s.kpi_id === kpi.id)
    return { status: 200, body: { ...describe(kpi), series } }
  })

  http.route('GET', '/api/breaches', async (req) => {
    const q = parseQuery(breachesQuery, req)
    if (!q.ok) return q.res
    const rows = await queryRows<Record<string, unknown>>(ch, BREACHES_SQL, {
      kpi: q.value.kpi ?? '',
      state: q.value.state,
      since: toChTime(q.value.since ?? '1970-01-01T00:00:00Z'),
      limit: q.value.limit,
    })
    return { status: 200, body: { breaches: rows.map((r) => presentBreach(r, byId)) } }
  })

  http.route('GET', '/api/breaches/:id', async (req) => {
    const id = req.params.id ?? ''
    const transitions = await queryRows(
      ch,
      `SELECT DISTINCT transition_id, kpi_id, scope, transition, severity, previous_severity, value, threshold, started_at, at
       FROM breach_transitions WHERE breach_id = {id:String} ORDER BY at`,
      { id },
    )
    if (transitions.length === 0) return { status: 404, body: { error: `unknown breach ${id}` } }
    const deliveries = await queryRows(
      ch,
      `SELECT attempted_at, transition_id, sink, attempt, outcome, status_code, reason, latency_ms
       FROM alert_deliveries WHERE startsWith(transition_id, {prefix:String}) ORDER BY attempted_at`,
      { prefix: `${id}-` },
    )
    return { status: 200, body: { breachId: id, transitions, deliveries } }
  })

  http.route('GET', '/api/dead-letters', async (req) => {
    const q = parseQuery(deadLettersQuery, req)
    if (!q.ok) return q.res
    const rows = await queryRows(
      ch,
      `SELECT DISTINCT received_at, topic, partition, offset, key, error_type, reason, value_base64, headers
       FROM dead_letters
       WHERE received_at >= {since:DateTime64(3)}
         AND ({topic:String} = '' OR topic = {topic:String})
         AND ({error_type:String} = '' OR error_type = {error_type:String})
       ORDER BY received_at DESC LIMIT {limit:UInt32}`,
      {
        since: toChTime(q.value.since ?? '1970-01-01T00:00:00Z'),
        topic: q.value.topic ?? '',
        error_type: q.value.error_type ?? '',
        limit: q.value.limit,
      },
    )
    return { status: 200, body: { deadLetters: rows } }
  })
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
    breachId: r.breach_id,
    fingerprint: r.fingerprint,
    kpi: { id: r.kpi_id, title: kpi?.title ?? String(r.kpi_id), unit: kpi?.unit ?? '', iso: kpi?.iso },
    scope: r.scope,
    state: r.resolved ? 'resolved' : 'open',
    severity,
    startedAt: r.started_at,
    resolvedAt: r.resolved ? r.resolved_at_raw : null,
    value: r.value,
    threshold: r.threshold,
    transitions,
    delivery: {
      delivered: Number(r.delivered ?? 0),
      failedAttempts: Number(r.failed_attempts ?? 0),
      lastFailure: r.last_failure || null,
    },
  }
}
