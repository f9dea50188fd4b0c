import type { ClickHouse } from '../../shared/clickhouse/client.js'
import type { KpiDefinition } from '../../shared/kpi/catalog.js'
import { AuditArea } from '../../shared/kpi/engine/audit.js'
import { earliest, HOUR_MS } from '../../shared/kpi/engine/deadlines.js'
import { type ModelPlan, modelPlan, modelSamples } from '../../shared/kpi/engine/model.js'
import { CLOCK_KPI, PrivacyArea } from '../../shared/kpi/engine/privacy.js'
import { RegimeClockArea } from '../../shared/kpi/engine/regime-clocks.js'
import type { Sample } from '../../shared/kpi/engine/sample.js'
import { REGIME_STEP_KPIS } from '../../shared/kpi/regimes.js'
import { applicableRegimes } from '../../shared/kpi/regimes-config.js'
import { type AimsConfig, resolveThresholds } from '../../shared/kpi/thresholds.js'
import type { Logger } from '../../shared/logger.js'
import type { ProcessorMetrics } from './metrics.js'
import { regimeStateReader } from './regime-state-reader.js'
import { Coalescing, Serial } from './serial.js'
import type { SeriesEvaluator } from './series.js'
import { stateReader } from './state-reader.js'

/**
 * The three areas as the processor runs them. Each turns what changed (ids named by triggers, or time
 * passing) into samples for the series evaluator, and runs one operation at a time.
 * - Privacy and audit: one owner each (the replica owning the area's trigger key), holding the engine's
 *   incremental aggregates and deadlines, loaded from the state tables when the area is taken over.
 * - Models: stateless; a trigger recomputes the models it names from their state rows.
 */

interface AreaDeps {
  ch: ClickHouse
  series: SeriesEvaluator
  kpis: readonly KpiDefinition[]
  config: AimsConfig | undefined
  log: Logger
  metrics: ProcessorMetrics
}

const idsOf = (kpis: readonly KpiDefinition[], area: string) =>
  new Set(kpis.filter((k) => k.area === area).map((k) => k.id))

export interface TimedArea {
  readonly name: 'privacy' | 'audit'
  /** Resolves once the area is loaded and evaluated whole. */
  readonly ready: Promise<void>
  onTrigger(ids: readonly string[], now: number): Promise<void>
  /** Brings the area to `now`: the deadlines that came, then the aggregates. */
  tick(now: number): Promise<void>
  nextDeadline(): number | undefined
  held(): number
}

/** Samples carrying the area's latest input time (none yet: not watched). */
function withInput(samples: Sample[], inputAt: number | null): Sample[] {
  return inputAt === null ? samples : samples.map((s) => ({ ...s, inputAt }))
}

/** The later of `current` and the entities' latest inputs. */
function latestOf(
  current: number | null,
  entities: readonly { lastInputAt?: number | null }[],
): number | null {
  let out = current
  for (const e of entities) {
    const t = e.lastInputAt ?? null
    if (t !== null && (out === null || t > out)) out = t
  }
  return out
}

export class PrivacyRunner implements TimedArea {
  readonly name = 'privacy'
  readonly ready: Promise<void>
  private readonly engine: PrivacyArea
  /** The regulatory notification clocks beside the 72-hour one (shared/kpi/regimes.ts). */
  private readonly regimes: RegimeClockArea
  private readonly serial = new Serial()
  private readonly kpiIds: Set<string>
  /** The area's latest input (lifecycle stale_after watches the aggregates by it). */
  private lastInputAt: number | null = null

  constructor(
    private readonly deps: AreaDeps,
    now: number,
  ) {
    const clock = deps.kpis.find((k) => k.id === CLOCK_KPI)
    this.kpiIds = idsOf(deps.kpis, 'privacy')
    this.engine = new PrivacyArea({
      // The clock is sampled at each of its thresholds in force for the incident (hours → ms offsets).
      clockMarks: (incidentId) => {
        if (!clock) return []
        const th = resolveThresholds(clock, { incident_id: incidentId }, deps.config)
        if (!th.enabled) return []
        return [th.warning, th.critical]
          .filter((h): h is number => h !== null)
          .map((h) => Math.ceil(h * HOUR_MS))
      },
    })
    this.regimes = new RegimeClockArea({
      applicable: (f) => applicableRegimes(f, deps.config?.regimes),
      marks: (kpiId, incidentId) => {
        const kpi = deps.kpis.find((k) => k.id === kpiId)
        if (!kpi) return []
        const th = resolveThresholds(kpi, { incident_id: incidentId }, deps.config)
        if (!th.enabled) return []
        return [th.warning, th.critical].filter((r): r is number => r !== null)
      },
    })
    this.ready = this.serial.run(() => this.load(now))
  }

  held(): number {
    return this.engine.held + this.regimes.held
  }

  nextDeadline(): number | undefined {
    return earliest(this.engine.nextDeadline(), this.regimes.nextDeadline())
  }

  /** The aggregates, carrying the area's latest input (per-incident clocks run on their own time). */
  private aggregates(now: number): Sample[] {
    return withInput(this.engine.aggregates(now), this.lastInputAt)
  }

  private async load(now: number): Promise<void> {
    const started = performance.now()
    this.lastInputAt = await stateReader.latestInput(this.deps.ch, 'privacy')
    const open = await this.deps.series.loadKpis(this.kpiIds)
    const watched = [...open.values()]
      .filter((b) => b.kpiId === CLOCK_KPI)
      .map((b) => b.scope.incident_id ?? '')
    const incidents = await stateReader.liveIncidents(this.deps.ch, new Date(now), watched)
    const watchedSet = new Set(watched)
    this.engine.watchClocks(incidents.filter((i) => watchedSet.has(i.incidentId)))
    this.engine.upsert(incidents, now)
    const regimeKpis = new Set(REGIME_STEP_KPIS.map((k) => k.kpiId))
    const watchedRegimes = [...open.values()]
      .filter((b) => regimeKpis.has(b.kpiId))
      .map((b) => ({ kpiId: b.kpiId, incidentId: b.scope.incident_id ?? '' }))
    this.regimes.watch(watchedRegimes)
    const regimeFacts = await regimeStateReader.live(
      this.deps.ch,
      this.deps.config?.regimes,
      watchedRegimes.map((w) => w.incidentId),
    )
    const samples = [
      ...this.aggregates(now),
      ...this.engine.clockSamples(now),
      ...this.regimes.upsert(regimeFacts, now),
    ]
    await this.deps.series.evaluate(samples, { kpiIds: this.kpiIds })
    this.deps.metrics.areaLoadSeconds.observe({ area: 'privacy' }, (performance.now() - started) / 1000)
    this.deps.metrics.heldEntities.set({ area: 'privacy' }, this.engine.held)
    this.deps.log.info(
      {
        area: 'privacy',
        incidents: incidents.length,
        held: this.engine.held,
        ms: Math.round(performance.now() - started),
      },
      'area taken over',
    )
  }

  private readonly triggers = new Coalescing(this.serial, async (ids, now) => {
    const [incidents, regimeFacts] = await Promise.all([
      stateReader.incidents(this.deps.ch, ids),
      regimeStateReader.incidents(this.deps.ch, ids),
    ])
    this.lastInputAt = latestOf(this.lastInputAt, incidents)
    const clocks = this.engine.upsert(incidents, now)
    const regimeClocks = this.regimes.upsert(regimeFacts, now)
    await this.deps.series.evaluate([...clocks, ...regimeClocks, ...this.aggregates(now)])
    this.deps.metrics.heldEntities.set({ area: 'privacy' }, this.engine.held)
  })

  onTrigger(ids: readonly string[], now: number): Promise<void> {
    return this.triggers.submit(ids, now)
  }

  tick(now: number): Promise<void> {
    return this.serial.run(async () => {
      const due = this.engine.nextDeadline()
      const marks = [...this.engine.advanceTo(now), ...this.regimes.advanceTo(now)].sort(
        (a, b) => a.at - b.at,
      )
      await this.deps.series.evaluate([...marks, ...this.aggregates(now)])
      if (due !== undefined && due <= now)
        this.deps.metrics.deadlineLagSeconds.observe(Math.max(0, Date.now() - due) / 1000)
    })
  }
}

export class AuditRunner implements TimedArea {
  readonly name = 'audit'
  readonly ready: Promise<void>
  private readonly engine = new AuditArea()
  private readonly serial = new Serial()
  private readonly kpiIds: Set<string>
  /** The area's latest input (lifecycle stale_after watches the audit KPIs by it). */
  private lastInputAt: number | null = null

  constructor(
    private readonly deps: AreaDeps,
    now: number,
  ) {
    this.kpiIds = idsOf(deps.kpis, 'audit')
    this.ready = this.serial.run(() => this.load(now))
  }

  held(): number {
    return this.engine.held
  }

  nextDeadline(): number | undefined {
    return this.engine.nextDeadline()
  }

  private async load(now: number): Promise<void> {
    const started = performance.now()
    this.lastInputAt = await stateReader.latestInput(this.deps.ch, 'audit')
    await this.deps.series.loadKpis(this.kpiIds)
    const findings = await stateReader.liveFindings(this.deps.ch, new Date(now))
    this.engine.upsert(findings, now)
    await this.deps.series.evaluate(withInput(this.engine.samples(now, true), this.lastInputAt), {
      kpiIds: this.kpiIds,
    })
    this.deps.metrics.areaLoadSeconds.observe({ area: 'audit' }, (performance.now() - started) / 1000)
    this.deps.metrics.heldEntities.set({ area: 'audit' }, this.engine.held)
    this.deps.log.info(
      { area: 'audit', findings: findings.length, ms: Math.round(performance.now() - started) },
      'area taken over',
    )
  }

  private readonly triggers = new Coalescing(this.serial, async (ids, now) => {
    const findings = await stateReader.findings(this.deps.ch, ids)
    this.lastInputAt = latestOf(this.lastInputAt, findings)
    this.engine.upsert(findings, now)
    await this.deps.series.evaluate(withInput(this.engine.samples(now), this.lastInputAt))
    this.deps.metrics.heldEntities.set({ area: 'audit' }, this.engine.held)
  })

  onTrigger(ids: readonly string[], now: number): Promise<void> {
    return this.triggers.submit(ids, now)
  }

  tick(now: number): Promise<void> {
    return this.serial.run(async () => {
      const due = this.engine.nextDeadline()
      this.engine.advanceTo(now)
      await this.deps.series.evaluate(withInput(this.engine.samples(now), this.lastInputAt))
      if (due !== undefined && due <= now)
        this.deps.metrics.deadlineLagSeconds.observe(Math.max(0, Date.now() - due) / 1000)
    })
  }
}

export class ModelRunner {
  private readonly serial = new Serial()
  private readonly kpiIds: Set<string>
  private readonly plan: ModelPlan

  constructor(private readonly deps: AreaDeps) {
    this.kpiIds = idsOf(deps.kpis, 'model')
    this.plan = modelPlan(deps.config)
  }

  private readonly triggers = new Coalescing(this.serial, async (modelIds, now) => {
    const { versions, groups } = await stateReader.models(this.deps.ch, modelIds)
    await this.deps.series.evaluate(modelSamples(versions, groups, now, this.plan), {
      kpiIds: this.kpiIds,
      modelIds: new Set(modelIds),
    })
  })

  /** Recomputes these models: every series of theirs, and their breaches that no longer have a series. */
  onTrigger(modelIds: readonly string[], now: number): Promise<void> {
    return this.triggers.submit(modelIds, now)
  }

  /** Every model this replica owns, from state (a start-up, or a configuration change). */
  evaluateAll(owns: (modelId: string) => boolean, now: number): Promise<number> {
    return this.serial.run(async () => {
      const started = performance.now()
      const open = await this.deps.series.loadKpis(this.kpiIds)
      const all = await stateReader.models(this.deps.ch, undefined)
      const versions = all.versions.filter((v) => owns(v.modelId))
      const groups = all.groups.filter((g) => owns(g.modelId))
      const samples: Sample[] = modelSamples(versions, groups, now, this.plan)
      const owned = new Set([...versions.map((v) => v.modelId), ...groups.map((g) => g.modelId)])
      // Breaches of owned models that have no series any more (a model gone, a scope that changed).
      for (const b of open.values()) {
        const id = b.scope.model_id
        if (id !== undefined && owns(id)) owned.add(id)
      }
      await this.deps.series.evaluate(samples, { kpiIds: this.kpiIds, modelIds: owned })
      this.deps.metrics.areaLoadSeconds.observe({ area: 'model' }, (performance.now() - started) / 1000)
      return samples.length
    })
  }
}
