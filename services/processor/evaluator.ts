import type { AlertJob } from '../../shared/alerts/alert-job.js'
import { type ClickHouse, queryRows } from '../../shared/clickhouse/client.js'
import {
  type BreachState,
  evaluate,
  evaluateAbsent,
  fingerprint,
  type IdentifiedTransition,
  identify,
  type KpiValueRow,
  OPEN_BREACHES_SQL,
  restoreStates,
  type StoredTransition,
  toAlertJob,
  toKpiValueRow,
  toTransitionRow,
} from '../../shared/kpi/breach-state.js'
import type { KpiArea, KpiDefinition } from '../../shared/kpi/catalog.js'
import { type DirtyScopes, runKpis } from '../../shared/kpi/run.js'
import { type AimsConfig, resolveThresholds } from '../../shared/kpi/thresholds.js'
import type { Logger } from '../../shared/logger.js'
import { type DirtySet, withinFilter } from './dirty-scopes.js'
import type { ProcessorMetrics } from './metrics.js'

/**
 * A series' value is written to kpi_values when it changes (value or status) and otherwise once per
 * heartbeat: the time series stays exact (readers carry the last value forward) while a sweep over
 * tens of thousands of steady series writes almost nothing.
 */
export const KPI_VALUE_HEARTBEAT_MS = 10 * 60_000

interface Written {
  value: number | null
  status: string
  at: number
}

interface Series {
  kpiId: string
  scope: Record<string, string>
  state: BreachState
}

export interface Round {
  /** Evaluation time: the `now` every KPI query runs at (tests control it; services pass the clock). */
  now: Date
  cause: 'trigger' | 'sweep'
  /** Only these areas and scopes; undefined = the whole catalog over all scopes. */
  dirty?: DirtySet
}

export interface RoundResult {
  series: number
  transitions: IdentifiedTransition[]
  ms: number
}

export interface EvaluatorDeps {
  ch: ClickHouse
  kpis: readonly KpiDefinition[]
  config: AimsConfig | undefined
  /** Base URL of the read API and review page, for the links in alerts. */
  baseUrl: string
  /** Enqueues one alert job; must be idempotent on the job's transition id. */
  enqueue: (job: AlertJob) => Promise<unknown>
  log: Logger
  metrics: ProcessorMetrics
}

/**
 * Evaluates the KPI catalog and moves each series through its breach lifecycle. Rounds run one at a
 * time (a trigger batch and the sweep never interleave). A round's new states are kept only once its
 * values and transitions are stored and its alert jobs enqueued: if any of that fails, the round is
 * retried from the old states and re-derives the same transitions (same ids, so nothing doubles).
 */
export class KpiEvaluator {
  private readonly series = new Map<string, Series>()
  private readonly written = new Map<string, Written>()
  private queue: Promise<unknown> = Promise.resolve()

  constructor(private readonly deps: EvaluatorDeps) {}

  /** Continues the firing breaches recorded before a restart. */
  async restore(): Promise<number> {
    const rows = await queryRows<StoredTransition>(this.deps.ch, OPEN_BREACHES_SQL, { kpi_ids: [] })
    for (const [fp, restored] of restoreStates(rows)) this.series.set(fp, restored)
    this.updateOpenGauge()
    return this.series.size
  }

  evaluate(round: Round): Promise<RoundResult> {
    const run = this.queue.then(() => this.runRound(round))
    this.queue = run.catch(() => undefined)
    return run
  }

  /** Open (firing) breaches held in memory, for the terminal summary. */
  openBreaches(): number {
    let n = 0
    for (const s of this.series.values()) if (s.state.status === 'firing') n++
    return n
  }

  private async runRound({ now, cause, dirty }: Round): Promise<RoundResult> {
    const started = performance.now()
    const groups: { kpis: KpiDefinition[]; filter?: DirtyScopes }[] = []
    if (!dirty) groups.push({ kpis: [...this.deps.kpis] })
    else {
      // Areas are independent: each is stored and its alerts enqueued as soon as it is evaluated, cheap
      // per-scope areas (models, audits) first, so a model's breach does not wait for privacy aggregates.
      const order: KpiArea[] = ['model', 'audit', 'privacy']
      for (const area of order) {
        const filter = dirty.get(area)
        if (filter) groups.push({ kpis: this.deps.kpis.filter((k) => k.area === area), filter })
      }
    }
    let series = 0
    const transitions: IdentifiedTransition[] = []
    for (const group of groups) {
      const result = await this.evaluateGroup(group.kpis, now, group.filter)
      series += result.series
      // Not push(...spread): a first sweep over a large history can yield more transitions than fit
      // as call arguments.
      for (const t of result.transitions) transitions.push(t)
    }
    this.updateOpenGauge()
    const ms = performance.now() - started
    this.deps.metrics.evaluationSeconds.observe({ cause }, ms / 1000)
    if (transitions.length > 0) {
      const described = transitions.map(
        (t) => `${t.kpiId} ${JSON.stringify(t.scope)} ${t.kind} ${t.severity}`,
      )
      this.deps.log.info({ cause, transitions: described }, 'breach transitions')
    }
    return { series, transitions, ms }
  }

  /** Evaluates some KPIs, stores values and transitions, enqueues the alerts, and only then moves the states. */
  private async evaluateGroup(
    kpis: readonly KpiDefinition[],
    now: Date,
    filter: DirtyScopes | undefined,
  ): Promise<{ series: number; transitions: IdentifiedTransition[] }> {
    const { ch, metrics } = this.deps
    const next = new Map<string, Series>()
    const values: KpiValueRow[] = []
    const transitions: IdentifiedTransition[] = []
    {
      const samples = await runKpis(ch, kpis, now, filter)
      for (const kpi of kpis) {
        const seen = new Set<string>()
        for (const sample of samples.get(kpi.id) ?? []) {
          const fp = fingerprint(kpi.id, sample.scope)
          seen.add(fp)
          const th = resolveThresholds(kpi, sample.scope, this.deps.config)
          const prev = this.series.get(fp)?.state
          const result = evaluate(prev, { value: sample.value, at: now }, th)
          next.set(fp, { kpiId: kpi.id, scope: sample.scope, state: result.next })
          const row = toKpiValueRow(kpi.id, sample.scope, { value: sample.value, at: now }, th, fp)
          const last = this.written.get(fp)
          if (
            !last ||
            last.value !== row.value ||
            last.status !== row.status ||
            now.getTime() - last.at >= KPI_VALUE_HEARTBEAT_MS
          ) {
            values.push(row)
          }
          for (const t of result.transitions) transitions.push(identify(kpi.id, sample.scope, t))
          if (!kpi.scope.includes('incident_id') && sample.value !== null) {
            metrics.kpiValue.set({ kpi: kpi.id, fingerprint: fp }, sample.value)
          }
        }
        metrics.evaluations.inc({ kpi: kpi.id }, seen.size)
        // A series we track that the (complete, within this filter) result no longer has: it is gone.
        const filterLabels = kpi.filters.map((f) => f.label)
        for (const [fp, s] of this.series) {
          if (s.kpiId !== kpi.id || seen.has(fp) || !withinFilter(s.scope, filterLabels, filter)) continue
          const th = resolveThresholds(kpi, s.scope, this.deps.config)
          const result = evaluateAbsent(s.state, now, th)
          next.set(fp, { ...s, state: result.next })
          for (const t of result.transitions) transitions.push(identify(kpi.id, s.scope, t))
          metrics.kpiValue.remove({ kpi: kpi.id, fingerprint: fp })
          this.written.delete(fp)
        }
      }
    }

    await this.store(values, transitions)
    for (const row of values) {
      this.written.set(row.fingerprint, { value: row.value, status: row.status, at: now.getTime() })
    }
    for (const [fp, s] of next) {
      if (s.state.status === 'ok') this.series.delete(fp)
      else this.series.set(fp, s)
    }
    return { series: values.length, transitions }
  }

  private async store(values: KpiValueRow[], transitions: IdentifiedTransition[]): Promise<void> {
    const { ch } = this.deps
    const writes: Promise<unknown>[] = []
    if (values.length > 0)
      writes.push(ch.client.insert({ table: 'kpi_values', values, format: 'JSONEachRow' }))
    if (transitions.length > 0) {
      writes.push(
        ch.client.insert({
          table: 'breach_transitions',
          values: transitions.map(toTransitionRow),
          format: 'JSONEachRow',
        }),
      )
    }
    await Promise.all(writes)
    // Enqueued only once the transition rows are stored: the alert links point at them.
    const byId = new Map(this.deps.kpis.map((k) => [k.id, k]))
    await Promise.all(
      transitions.map((t) => {
        this.deps.metrics.transitions.inc({ kpi: t.kpiId, transition: t.kind })
        return this.deps.enqueue(toAlertJob(byId.get(t.kpiId)!, t, this.deps.baseUrl))
      }),
    )
  }

  private updateOpenGauge(): void {
    const counts = { warning: 0, critical: 0 }
    for (const s of this.series.values()) if (s.state.status === 'firing') counts[s.state.severity]++
    this.deps.metrics.openBreaches.set({ severity: 'warning' }, counts.warning)
    this.deps.metrics.openBreaches.set({ severity: 'critical' }, counts.critical)
  }
}
