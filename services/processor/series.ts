import type { AlertJob } from '../../shared/alerts/alert-job.js'
import type { ClickHouse } from '../../shared/clickhouse/client.js'
import { insertTabSeparated, TabSeparatedRows } from '../../shared/clickhouse/tab-separated.js'
import {
  type BreachState,
  evaluate,
  evaluateAbsent,
  fingerprint,
  type IdentifiedTransition,
  identify,
  judgeSample,
  type KpiValueRow,
  OK,
  resolvesAt,
  type Transition,
  toAlertJob,
  toKpiValueRow,
  toTransitionRow,
} from '../../shared/kpi/breach-state.js'
import type { KpiDefinition } from '../../shared/kpi/catalog.js'
import { definitionVersions } from '../../shared/kpi/definition-log.js'
import { Deadlines } from '../../shared/kpi/engine/deadlines.js'
import type { Sample } from '../../shared/kpi/engine/sample.js'
import { type EffectiveLifecycle, resolveLifecycle } from '../../shared/kpi/lifecycle.js'
import { evaluateFreshness, FRESH, type Freshness, staleFingerprint } from '../../shared/kpi/staleness.js'
import { type AimsConfig, type EffectiveThresholds, resolveThresholds } from '../../shared/kpi/thresholds.js'
import type { Logger } from '../../shared/logger.js'
import type { BreachStore, OpenBreach } from './breach-store.js'
import type { ProcessorMetrics } from './metrics.js'

/**
 * Samples → breach lifecycle, kpi_values and alert jobs, for the series this replica owns.
 *
 * Per series it keeps, in memory: the fingerprint and thresholds (computed once: a hash and a config
 * resolution are the costly part of a sample), the breach state, and the last value written. A sample
 * whose value and status are unchanged and whose series is healthy costs a map lookup.
 *
 * Breaches are shared state (BreachStore): the local state of a firing series mirrors the store, and a
 * transition is committed by compare-and-set. A replica that loses the race adopts the store's breach
 * and re-evaluates, so N replicas record exactly the transitions one would. Pending (`for`) is local:
 * after a hand-over its clock starts again (a later page, never a duplicate).
 */

/** Aggregate series are rewritten this often even when steady, so a trend always has a recent point. */
export const KPI_VALUE_HEARTBEAT_MS = 10 * 60_000

interface Series {
  kpi: KpiDefinition
  scope: Record<string, string>
  fp: string
  th: EffectiveThresholds
  /** Hysteresis and staleness (the config's `lifecycle:`). */
  lc: EffectiveLifecycle
  /** Stale or not; mirrors the store like `state` (its stale alert is a breach of its own fingerprint). */
  fresh: Freshness
  /** When its inputs last arrived (ms), null: never or not watched. */
  inputAt: number | null
  /** Entity-less series (aggregates) get heartbeat rows. */
  aggregate: boolean
  state: BreachState
  /** Whether `state` is known to mirror the store (false until loaded). */
  synced: boolean
  /** The latest sample (value and its measurement), re-judged when a pending `for` runs out. */
  last: Sample | null
  written?: { key: string; status: string; at: number }
  staleFp?: string
}

export interface SeriesDeps {
  ch: ClickHouse
  store: BreachStore
  kpis: readonly KpiDefinition[]
  config: AimsConfig | undefined
  baseUrl: string
  enqueue: (job: AlertJob) => Promise<unknown>
  log: Logger
  metrics: ProcessorMetrics
}

const ENTITY_LABELS = new Set(['incident_id', 'model_id', 'finding_id', 'clause'])

/** The stale alert the store holds for a series (none when it is not stale, or stale without an alert). */
function toOpenStale(s: Series): OpenBreach | undefined {
  return s.fresh.status === 'stale' && s.fresh.alerted
    ? {
        kpiId: s.kpi.id,
        scope: s.scope,
        startedAt: s.fresh.since.getTime(),
        severity: s.fresh.severity,
        condition: 'stale',
      }
    : undefined
}

function fromOpenStale(b: OpenBreach | undefined): Freshness {
  return b === undefined
    ? FRESH
    : { status: 'stale', since: new Date(b.startedAt), severity: b.severity, alerted: true }
}

/** The fingerprint of a series' stale alert (a hash: computed once). */
const staleFpOf = (s: Series): string => {
  s.staleFp ??= staleFingerprint(s.fp)
  return s.staleFp
}

function toOpenBreach(s: Series): OpenBreach | undefined {
  return s.state.status === 'firing'
    ? { kpiId: s.kpi.id, scope: s.scope, startedAt: s.state.startedAt.getTime(), severity: s.state.severity }
    : undefined
}

function fromOpenBreach(b: OpenBreach | undefined, current: BreachState): BreachState {
  if (b === undefined) return current.status === 'firing' ? OK : current
  if (
    current.status === 'firing' &&
    current.startedAt.getTime() === b.startedAt &&
    current.severity === b.severity
  )
    return current
  return { status: 'firing', startedAt: new Date(b.startedAt), severity: b.severity, current: b.severity }
}

const VALUE_COLUMNS: (keyof KpiValueRow)[] = [
  'evaluated_at',
  'kpi_id',
  'fingerprint',
  'scope',
  'value',
  'status',
  'warning_threshold',
  'critical_threshold',
  'n',
  'ci_low',
  'ci_high',
  'reason',
  'definition_version',
]

/**
 * Which series an evaluation covered whole: those of these KPIs (and, when given, of these models only —
 * found through an index, so a model trigger costs its own series, not every series held).
 */
export interface CompleteScope {
  kpiIds: ReadonlySet<string>
  modelIds?: ReadonlySet<string>
}

/** What a kpi_values row says beside its time: a row is written when this changes. */
const rowKey = (r: KpiValueRow) => `${r.value}|${r.status}|${r.n}|${r.ci_low}|${r.ci_high}|${r.reason}`

/** A sample to re-judge at `at` (a pending `for` ran out): the last one, or no value. */
function again(s: Series, at: number): Sample {
  return s.last ? { ...s.last, at } : { kpiId: s.kpi.id, scope: s.scope, value: null, at }
}

const toMachine = (sample: Sample) => ({ ...sample, at: new Date(sample.at) })

export interface EvaluationResult {
  transitions: IdentifiedTransition[]
  written: number
}

export class SeriesEvaluator {
  private readonly series = new Map<string, Series>()
  private readonly byId: Map<string, KpiDefinition>
  /** Each KPI's definition version, stamped on its values and transitions. */
  private readonly versions: Map<string, string>
  /** KPIs whose every open breach has been loaded from the store: an unknown series of them is ok. */
  private readonly loadedKpis = new Set<string>()
  private queue: Promise<unknown> = Promise.resolve()

  constructor(private readonly deps: SeriesDeps) {
    this.byId = new Map(deps.kpis.map((k) => [k.id, k]))
    this.versions = definitionVersions(deps.kpis, deps.config)
  }

  /** Firing breaches held by this replica, by severity. */
  openCounts(): { warning: number; critical: number } {
    return { ...this.open }
  }

  /** Firing series by severity, kept as states change (a gauge read on every evaluation). */
  private readonly open = { warning: 0, critical: 0 }

  /** Series pending a `for` (or an escalation, or a keep_firing_for): the only ones time alone can move. */
  private readonly waiting = new Set<Series>()

  /** When each watched series goes stale if no input arrives: the exact timer index, O(log n) a deadline. */
  private readonly staleDeadlines = new Deadlines<Series>()

  private setState(s: Series, next: BreachState): void {
    if (s.state.status === 'firing') this.open[s.state.severity]--
    if (next.status === 'firing') this.open[next.severity]++
    s.state = next
    if (
      next.status === 'pending' ||
      (next.status === 'firing' && next.criticalSince) ||
      resolvesAt(next, s.lc) !== undefined
    )
      this.waiting.add(s)
    else this.waiting.delete(s)
  }

  /** Series by KPI and last status written: the per-KPI gauge (no per-series labels). O(series). */
  statusCounts(): Map<string, Map<string, number>> {
    const out = new Map<string, Map<string, number>>()
    for (const s of this.series.values()) {
      const status = s.written?.status
      if (status === undefined) continue
      const byStatus = out.get(s.kpi.id) ?? new Map<string, number>()
      byStatus.set(status, (byStatus.get(status) ?? 0) + 1)
      out.set(s.kpi.id, byStatus)
    }
    return out
  }

  /** Series tracked in memory. */
  get size(): number {
    return this.series.size
  }

  /** Drops everything learnt from the store (ownership moved: another replica may have changed it). */
  forget(kpiIds?: ReadonlySet<string>): void {
    for (const s of this.series.values()) {
      if (kpiIds === undefined || kpiIds.has(s.kpi.id)) {
        s.synced = false
        this.setState(s, OK)
        s.fresh = FRESH
      }
    }
    // Stale deadlines are armed again by the new owner's evaluations (the processor re-evaluates the models
    // it owns after each hand-over when staleness is configured): a deadline of a model now owned by
    // another replica must not fire here.
    if (kpiIds === undefined) this.staleDeadlines.clear()
    if (kpiIds === undefined) this.loadedKpis.clear()
    else for (const id of kpiIds) this.loadedKpis.delete(id)
  }

  /** Loads every open breach of these KPIs from the store (an area taken over). */
  async loadKpis(kpiIds: ReadonlySet<string>): Promise<Map<string, OpenBreach>> {
    const open = await this.deps.store.openFor(kpiIds)
    for (const [fp, b] of open) {
      if (b.condition === 'stale') {
        const s = this.seriesFor(b.kpiId, b.scope)
        if (s) s.fresh = fromOpenStale(b)
        continue
      }
      const s = this.seriesFor(b.kpiId, b.scope, fp)
      if (s) {
        this.setState(s, fromOpenBreach(b, s.state))
        s.synced = true
      }
    }
    for (const id of kpiIds) this.loadedKpis.add(id)
    return open
  }

  /**
   * Evaluates samples (in time order per series). `complete`: the samples cover every series it accepts,
   * so a breach of such a series missing from the samples is gone and resolves. One call at a time.
   */
  evaluate(samples: readonly Sample[], complete?: CompleteScope): Promise<EvaluationResult> {
    const run = this.queue.then(() => this.run(samples, complete))
    this.queue = run.catch(() => undefined)
    return run
  }

  /** Pending series whose `for` has run out by `now`: evaluated again with their last value. */
  duePending(now: number): Sample[] {
    const out: Sample[] = []
    for (const s of this.waiting) {
      if (s.state.status === 'pending' && s.state.since.getTime() + s.th.forMs <= now) {
        out.push(again(s, s.state.since.getTime() + s.th.forMs))
      } else if (
        s.state.status === 'firing' &&
        s.state.criticalSince &&
        s.state.criticalSince.getTime() + s.th.forMs <= now
      ) {
        out.push(again(s, s.state.criticalSince.getTime() + s.th.forMs))
      } else {
        // keep_firing_for ran out on a breach whose value has stayed clear.
        const at = resolvesAt(s.state, s.lc)
        if (at !== undefined && at <= now) out.push(again(s, at))
      }
    }
    return out
  }

  /** The earliest time a pending series may fire. */
  nextPending(): number | undefined {
    let next: number | undefined
    for (const s of this.waiting) {
      const at =
        s.state.status === 'pending'
          ? s.state.since.getTime() + s.th.forMs
          : s.state.status === 'firing' && s.state.criticalSince
            ? s.state.criticalSince.getTime() + s.th.forMs
            : resolvesAt(s.state, s.lc)
      if (at !== undefined && (next === undefined || at < next)) next = at
    }
    return next
  }

  private seriesFor(kpiId: string, scope: Record<string, string>, fp?: string): Series | undefined {
    const kpi = this.byId.get(kpiId)
    if (!kpi) return undefined
    const id = fp ?? fingerprint(kpiId, scope)
    let s = this.series.get(id)
    if (!s) {
      s = {
        kpi,
        scope,
        fp: id,
        th: resolveThresholds(kpi, scope, this.deps.config),
        lc: resolveLifecycle(kpi, scope, this.deps.config?.lifecycle),
        fresh: FRESH,
        inputAt: null,
        aggregate: !kpi.scope.some((l) => ENTITY_LABELS.has(l)),
        state: OK,
        synced: false,
        last: null,
      }
      this.series.set(id, s)
      const model = scope.model_id
      if (model !== undefined) {
        const set = this.byModel.get(model)
        if (set) set.add(s)
        else this.byModel.set(model, new Set([s]))
      }
    }
    if (fp === undefined) this.aliases.set(seriesKey(kpi, scope), s)
    return s
  }

  /** seriesKey → series, so a sample finds its series without hashing. */
  private readonly aliases = new Map<string, Series>()
  /** model id → its series. */
  private readonly byModel = new Map<string, Set<Series>>()

  private lookup(sample: Sample): Series | undefined {
    const kpi = this.byId.get(sample.kpiId)
    if (!kpi) return undefined
    const key = seriesKey(kpi, sample.scope)
    return this.aliases.get(key) ?? this.seriesFor(sample.kpiId, sample.scope)
  }

  private async run(samples: readonly Sample[], complete?: CompleteScope): Promise<EvaluationResult> {
    const { metrics } = this.deps
    const touched: Series[] = []
    const seen = new Set<Series>()
    for (const sample of samples) {
      const s = this.lookup(sample)
      if (!s) continue
      if (!seen.has(s)) {
        seen.add(s)
        touched.push(s)
      }
    }
    // Breach states of series never seen against the store: fetched in one round trip.
    const unsynced = touched.filter((s) => !s.synced && !this.loadedKpis.has(s.kpi.id))
    if (unsynced.length > 0) {
      const watched = unsynced.filter((s) => s.lc.staleAfterMs !== null)
      const stored = await this.deps.store.get([...unsynced.map((s) => s.fp), ...watched.map(staleFpOf)])
      for (const s of unsynced) {
        this.setState(s, fromOpenBreach(stored.get(s.fp), s.state))
        // Only watched series hash their stale fingerprint (a stale alert of a series no longer watched is
        // loaded with its KPIs, `loadKpis`, and resolved by its next sample).
        if (s.lc.staleAfterMs !== null) s.fresh = fromOpenStale(stored.get(staleFpOf(s)))
        s.synced = true
      }
    }
    for (const s of touched) if (this.loadedKpis.has(s.kpi.id)) s.synced = true
    // What the store holds for each series before this batch: the expected value of its first CAS.
    const before = new Map<Series, OpenBreach | undefined>()
    for (const s of touched) before.set(s, toOpenBreach(s))

    const rows: KpiValueRow[] = []
    const pendingTransitions = new Map<Series, { t: Transition; sample: Sample }[]>()
    const apply = (s: Series, result: ReturnType<typeof evaluate>, sample: Sample) => {
      if (result.transitions.length > 0) {
        const list = pendingTransitions.get(s) ?? []
        for (const t of result.transitions) list.push({ t, sample })
        pendingTransitions.set(s, list)
      }
      this.setState(s, result.next)
    }
    const staleBefore = new Map<Series, OpenBreach | undefined>()
    const staleTransitions: { s: Series; t: Transition }[] = []
    for (const sample of samples) {
      const s = this.lookup(sample)
      if (!s) continue
      s.last = sample
      apply(s, evaluate(s.state, toMachine(sample), s.th, s.lc), sample)
      if (s.lc.staleAfterMs !== null || s.fresh.status === 'stale') {
        // A sample without an input time (a superseded model version) is no longer watched.
        s.inputAt = sample.inputAt === undefined ? null : Math.max(s.inputAt ?? 0, sample.inputAt)
        this.freshness(s, sample.at, staleBefore, staleTransitions)
      }
      const judgement = judgeSample(sample, s.th)
      sample.uncertain = judgement.uncertain
      const row = staleRow(s, toKpiValueRow(s.kpi.id, s.scope, toMachine(sample), s.th, s.fp, judgement))
      row.definition_version = this.versionOf(s.kpi.id)
      const key = rowKey(row)
      const w = s.written
      if (!w || w.key !== key || (s.aggregate && sample.at - w.at >= KPI_VALUE_HEARTBEAT_MS)) {
        rows.push(row)
        s.written = { key, status: row.status, at: sample.at }
      }
    }
    metrics.samples.inc(samples.length)
    if (complete) {
      const at = samples.reduce((m, x) => Math.max(m, x.at), 0) || Date.now()
      const candidates = complete.modelIds
        ? [...complete.modelIds].flatMap((id) => [...(this.byModel.get(id) ?? [])])
        : this.series.values()
      for (const s of candidates) {
        if (seen.has(s) || s.state.status === 'ok' || !complete.kpiIds.has(s.kpi.id)) continue
        before.set(s, toOpenBreach(s))
        apply(s, evaluateAbsent(s.state, new Date(at), s.th), {
          kpiId: s.kpi.id,
          scope: s.scope,
          value: null,
          at,
        })
      }
    }

    const committed = await this.commit(pendingTransitions, before)
    committed.push(...(await this.commitStale(staleTransitions, staleBefore)))
    await this.store(rows, committed)
    this.updateGauges()
    return { transitions: committed, written: rows.length }
  }

  /** Moves a series' freshness to `at` (its inputAt set), collecting its stale transition and arming its deadline. */
  private freshness(
    s: Series,
    at: number,
    before: Map<Series, OpenBreach | undefined>,
    out: { s: Series; t: Transition }[],
  ): void {
    if (!before.has(s)) before.set(s, toOpenStale(s))
    const result = evaluateFreshness(s.fresh, s.inputAt, at, s.lc)
    s.fresh = result.next
    this.staleDeadlines.schedule(s, result.deadline)
    for (const t of result.transitions) out.push({ s, t })
  }

  /**
   * Series whose inputs have not arrived for their stale interval by `now`: taken from the deadline
   * index (nothing is scanned), marked stale, a kpi_values row each and their stale alerts.
   */
  evaluateStale(now: number): Promise<EvaluationResult> {
    const run = this.queue.then(() => this.runStale(now))
    this.queue = run.catch(() => undefined)
    return run
  }

  /** The earliest stale deadline armed. */
  nextStale(): number | undefined {
    return this.staleDeadlines.next()
  }

  private async runStale(now: number): Promise<EvaluationResult> {
    const due = this.staleDeadlines.takeDue(now)
    if (due.length === 0) return { transitions: [], written: 0 }
    const unsynced = due.filter((s) => !s.synced && !this.loadedKpis.has(s.kpi.id))
    if (unsynced.length > 0) {
      const stored = await this.deps.store.get([...unsynced.map((s) => s.fp), ...unsynced.map(staleFpOf)])
      for (const s of unsynced) {
        this.setState(s, fromOpenBreach(stored.get(s.fp), s.state))
        s.fresh = fromOpenStale(stored.get(staleFpOf(s)))
        s.synced = true
      }
    }
    const before = new Map<Series, OpenBreach | undefined>()
    const transitions: { s: Series; t: Transition }[] = []
    const rows: KpiValueRow[] = []
    for (const s of due) {
      this.freshness(s, now, before, transitions)
      if (s.fresh.status !== 'stale') continue
      // The series' row says stale from the deadline on, with its last value.
      const sample = again(s, s.fresh.since.getTime())
      const row = staleRow(s, toKpiValueRow(s.kpi.id, s.scope, toMachine(sample), s.th, s.fp))
      const key = rowKey(row)
      if (s.written?.key === key) continue
      rows.push(row)
      s.written = { key, status: row.status, at: sample.at }
    }
    const committed = await this.commitStale(transitions, before)
    await this.store(rows, committed)
    return { transitions: committed, written: rows.length }
  }

  /** CAS each stale transition on the series' stale fingerprint; a lost race adopts what the store holds. */
  private async commitStale(
    list: readonly { s: Series; t: Transition }[],
    before: Map<Series, OpenBreach | undefined>,
  ): Promise<IdentifiedTransition[]> {
    const out: IdentifiedTransition[] = []
    for (const { s, t } of list) {
      const fp = staleFpOf(s)
      const next: OpenBreach | undefined =
        t.kind === 'resolved'
          ? undefined
          : {
              kpiId: s.kpi.id,
              scope: s.scope,
              startedAt: t.startedAt.getTime(),
              severity: t.severity,
              condition: 'stale',
            }
      const identified = identify(s.kpi.id, s.scope, t, fp)
      const result = await this.deps.store.transition(fp, before.get(s), next, {
        row: toTransitionRow(identified),
        job: toAlertJob(s.kpi, identified, this.deps.baseUrl),
        recordedAt: Date.now(),
      })
      if (result.ok) {
        out.push(identified)
        before.set(s, next)
      } else {
        this.deps.metrics.casConflicts.inc()
        s.fresh = fromOpenStale(result.current)
        before.set(s, result.current)
      }
    }
    return out
  }

  /** CAS each series' transitions in order; a lost race adopts the store's breach and re-evaluates once. */
  private async commit(
    pending: Map<Series, { t: Transition; sample: Sample }[]>,
    before: Map<Series, OpenBreach | undefined>,
  ): Promise<IdentifiedTransition[]> {
    const out: IdentifiedTransition[] = []
    await Promise.all(
      [...pending].map(async ([s, list]) => {
        let expected = before.get(s)
        for (const { t } of list) {
          const next = openAfter(s, t)
          const identified = identify(s.kpi.id, s.scope, t, s.fp)
          const job = toAlertJob(s.kpi, identified, this.deps.baseUrl)
          const result = await this.deps.store.transition(s.fp, expected, next, {
            row: toTransitionRow(identified, this.versionOf(s.kpi.id)),
            job,
            recordedAt: Date.now(),
          })
          if (result.ok) {
            out.push(identified)
            expected = next
            continue
          }
          // Another replica moved this series first: its breach is ours now; judge the latest value again.
          this.deps.metrics.casConflicts.inc()
          const adopted = fromOpenBreach(result.current, OK)
          const last = list[list.length - 1]!.sample
          const retry = evaluate(adopted, toMachine(last), s.th, s.lc)
          this.setState(s, retry.next)
          for (const t2 of retry.transitions) {
            const id2 = identify(s.kpi.id, s.scope, t2, s.fp)
            const r2 = await this.deps.store.transition(s.fp, result.current, openAfter(s, t2), {
              row: toTransitionRow(id2, this.versionOf(s.kpi.id)),
              job: toAlertJob(s.kpi, id2, this.deps.baseUrl),
              recordedAt: Date.now(),
            })
            if (r2.ok) out.push(id2)
            else this.setState(s, fromOpenBreach(r2.current, OK))
          }
          return
        }
      }),
    )
    return out
  }

  private async store(rows: KpiValueRow[], transitions: IdentifiedTransition[]): Promise<void> {
    const { ch, metrics, store } = this.deps
    const writes: Promise<unknown>[] = []
    if (rows.length > 0) {
      const tsv = new TabSeparatedRows<KpiValueRow>(VALUE_COLUMNS)
      for (const r of rows) tsv.push(r)
      writes.push(insertTabSeparated(ch.client, 'kpi_values', tsv))
    }
    if (transitions.length > 0) {
      writes.push(
        ch.client.insert({
          table: 'breach_transitions',
          values: transitions.map((t) => toTransitionRow(t, this.versionOf(t.kpiId))),
          format: 'JSONEachRow',
        }),
      )
    }
    await Promise.all(writes)
    // Enqueued once the rows are stored: the alert links point at them. The outbox covers a crash here.
    await Promise.all(
      transitions.map(async (t) => {
        metrics.transitions.inc({ kpi: t.kpiId, transition: t.kind })
        await this.deps.enqueue(toAlertJob(this.byId.get(t.kpiId)!, t, this.deps.baseUrl))
        await store.done(t.transitionId)
      }),
    )
  }

  private versionOf(kpiId: string): string {
    return this.versions.get(kpiId) ?? ''
  }

  private updateGauges(): void {
    const counts = this.openCounts()
    this.deps.metrics.openBreaches.set({ severity: 'warning' }, counts.warning)
    this.deps.metrics.openBreaches.set({ severity: 'critical' }, counts.critical)
  }
}

/** A stale series' row: status stale (never ok), the reason saying since when; its value the last one known. */
function staleRow(s: Series, row: KpiValueRow): KpiValueRow {
  if (s.fresh.status !== 'stale') return row
  const since = s.inputAt === null ? 'never' : new Date(s.inputAt).toISOString()
  const line = `stale: no input since ${since} (expected within ${s.lc.staleAfter ?? 'its stale interval'})`
  return { ...row, status: 'stale', reason: row.reason ? `${line}\n${row.reason}` : line }
}

function seriesKey(kpi: KpiDefinition, scope: Readonly<Record<string, string>>): string {
  let key = kpi.id
  for (const label of kpi.scope) key += `\u0001${scope[label] ?? ''}`
  return key
}

function openAfter(s: Series, t: Transition): OpenBreach | undefined {
  if (t.kind === 'resolved') return undefined
  return { kpiId: s.kpi.id, scope: s.scope, startedAt: t.startedAt.getTime(), severity: t.severity }
}
