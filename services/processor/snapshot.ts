import type { ClickHouse } from '../../shared/clickhouse/client.js'
import { AuditArea, type FindingFacts } from '../../shared/kpi/engine/audit.js'
import {
  type FairnessGroupFacts,
  type ModelVersionFacts,
  modelPlan,
  modelSamples,
} from '../../shared/kpi/engine/model.js'
import { type IncidentFacts, PrivacyArea } from '../../shared/kpi/engine/privacy.js'
import { RegimeClockArea } from '../../shared/kpi/engine/regime-clocks.js'
import type { Sample } from '../../shared/kpi/engine/sample.js'
import type { RegimeIncidentFacts } from '../../shared/kpi/regimes.js'
import { applicableRegimes } from '../../shared/kpi/regimes-config.js'
import type { Axis } from '../../shared/kpi/sql.js'
import type { ResolverConfig } from '../../shared/kpi/thresholds.js'
import { regimeStateReader } from './regime-state-reader.js'
import { stateReader } from './state-reader.js'

/**
 * Every KPI series at `now`, computed the way the processor computes them (the state tables read by its
 * own queries, the incremental engines loaded at `now`), without breach handling or writes. What a cold
 * replica evaluates when it takes over everything; the benchmark and the equivalence tests compare it
 * with the reference queries over the facts (shared/kpi/sql.ts). `config`: the configuration whose
 * fairness KPIs and settings apply (the same one the reference queries are built with).
 */
export async function snapshotFromState(
  ch: ClickHouse,
  now: Date,
  config?: ResolverConfig,
): Promise<Sample[]> {
  const at = now.getTime()
  const [incidents, regimeFacts, findings, models] = await Promise.all([
    stateReader.liveIncidents(ch, now, []),
    regimeStateReader.live(ch, config?.regimes, []),
    stateReader.liveFindings(ch, now),
    stateReader.models(ch, undefined),
  ])
  return samplesOf({ incidents, regimeFacts, findings, ...models }, at, config)
}

/**
 * Every KPI series at `at` as the live path would have computed them from the facts that had happened
 * (event_time) or were known (ingested_at) by `at`: the same engines, over entity state computed from the
 * facts as of `at` instead of the state tables. What KPI history (npm run backfill) records.
 */
export async function snapshotAsOf(
  ch: ClickHouse,
  at: Date,
  axis: Axis,
  config?: ResolverConfig,
): Promise<Sample[]> {
  const state = await stateReader.asOf(ch, at, axis)
  const regimeFacts = await regimeStateReader.asOf(ch, at, axis, config?.regimes)
  return samplesOf({ ...state, regimeFacts }, at.getTime(), config)
}

function samplesOf(
  state: {
    incidents: IncidentFacts[]
    regimeFacts: RegimeIncidentFacts[]
    findings: FindingFacts[]
    versions: ModelVersionFacts[]
    groups: FairnessGroupFacts[]
  },
  at: number,
  config: ResolverConfig | undefined,
): Sample[] {
  const { incidents, regimeFacts, findings, versions, groups } = state
  const privacy = new PrivacyArea({ clockMarks: () => [] })
  privacy.upsert(incidents, at)
  const regimes = new RegimeClockArea({
    applicable: (f) => applicableRegimes(f, config?.regimes),
    marks: () => [],
  })
  const audit = new AuditArea()
  audit.upsert(findings, at)
  return [
    ...privacy.aggregates(at),
    ...privacy.clockSamples(at),
    ...regimes.upsert(regimeFacts, at),
    ...audit.samples(at, true),
    ...modelSamples(versions, groups, at, modelPlan(config)),
  ]
}
